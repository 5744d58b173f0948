#!/usr/bin/env bash
# cli.sh PDP -- end-to-end checks of `pdp compile`, `eval`, `test` and
# `bundle` on the fixture mesh: exit codes, outputs, signatures, tampering.
# Prints `N passed, N failed`.
set -u
PDP=${1:-build/pdp}
MESH=tests/unit/fixtures/mesh
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; }
check() { local name=$1; shift; if "$@"; then ok "$name"; else bad "$name"; fi; }

REQ='{"subject":{"id":"u-1","domain":"finance","groups":["finance-analysts"]},"action":"read","resource":{"product":"orders.order_events","columns":["event_id","customer_email"]},"context":{"purpose":"billing"}}'

# compile
"$PDP" compile "$MESH" -o "$T/b" >"$T/out" 2>"$T/err"
check "compile exits 0" test $? = 0
check "compile prints the revision" grep -q '^revision sha256:[0-9a-f]\{64\}$' "$T/out"
check "compile writes no temp files" test "$(ls "$T" | grep -c tmp)" = 0
"$PDP" compile "$MESH" -o "$T/b2" >/dev/null 2>&1
check "compile is deterministic" cmp -s "$T/b" "$T/b2"

# a policy with errors: exit 1, every error, no bundle
cp -r "$MESH" "$T/broken"
sed -i 's/version: 2.1.0/version: two/; s/group: finance-analysts/group: nobody-at-all/' \
	"$T/broken/domains/orders/products/order_events.yaml"
"$PDP" compile "$T/broken" -o "$T/nb" >/dev/null 2>"$T/err"
check "compile with errors exits 1" test $? = 1
check "compile reports all errors with positions" \
	test "$(grep -c 'order_events.yaml:[0-9]*:[0-9]*: error:' "$T/err")" -ge 2
check "compile with errors writes no bundle" test ! -e "$T/nb"

# a grant with `actions: []` is only a warning for check, so compile must
# accept it too (it never matches)
cp -r "$MESH" "$T/noact"
cat >> "$T/noact/domains/orders/products/order_events.yaml" <<'YAML'
  - to: {group: finance-analysts}
    actions: []
    columns: [event_id]
YAML
sed -i 's/^deny:/deny_tmp:/' "$T/noact/domains/orders/products/order_events.yaml"
python3 - "$T/noact/domains/orders/products/order_events.yaml" <<'PY'
import sys
p = sys.argv[1]
s = open(p).read()
# move the appended grant into the grants list (before deny_tmp:)
tail = s[s.rindex("  - to: {group: finance-analysts}\n    actions: []"):]
s = s[: s.rindex(tail)]
s = s.replace("deny_tmp:", tail + "deny:", 1)
open(p, "w").write(s)
PY
"$PDP" compile "$T/noact" -o "$T/noact.bundle" >/dev/null 2>"$T/err"
check "a grant with no actions compiles (check warns)" test $? = 0
check "and check said so" grep -q 'no actions' "$T/err"

# eval: one request, JSON lines, rejected requests, time
out=$(echo "$REQ" | "$PDP" eval --bundle "$T/b" --time 2026-06-01 -)
check "eval answers allow" grep -q '"decision":"allow"' <<<"$out"
check "eval masks across domains" grep -q '"customer_email":{"access":"mask","mask":"hash"}' <<<"$out"
out=$(echo "$REQ" | "$PDP" eval --bundle "$T/b" --time 2025-06-01 -)
check "eval --time before not_before denies" grep -q '"decision":"deny"' <<<"$out"
printf '%s\n%s\n{"bad json\n%s\n' "$REQ" "$REQ" "$REQ" >"$T/lines"
"$PDP" eval --bundle "$T/b" --time 2026-06-01 "$T/lines" >"$T/out"
rc=$?
check "eval JSON lines: one line per request" test "$(wc -l <"$T/out")" = 4
check "eval JSON lines: bad line answered with an error" \
	test "$(sed -n 3p "$T/out" | grep -c '"code":"bad_json"')" = 1
check "eval with a rejected request exits 1" test $rc = 1
printf '{\n  "subject": {"id": "u"},\n  "action": "read",\n  "resource": {"product": "nope.x"}\n}\n' >"$T/pretty"
check "eval reads one pretty-printed request" grep -q 'unknown_product' <("$PDP" eval --bundle "$T/b" "$T/pretty")
"$PDP" eval --bundle "$T/b" --time 2026-06-01 --explain - <<<"$REQ" >/dev/null 2>"$T/explain"
check "eval --explain says which grant matched" grep -q 'grants\[0\]: to group finance-analysts, MATCHES' "$T/explain"
"$PDP" eval --bundle "$T/missing" - <<<"$REQ" >/dev/null 2>&1
check "eval with a missing bundle exits 2" test $? = 2

# bundles: signatures and tampering
openssl genpkey -algorithm ed25519 -out "$T/k.pem" 2>/dev/null
openssl pkey -in "$T/k.pem" -pubout -out "$T/k.pub"
openssl genpkey -algorithm ed25519 -out "$T/k2.pem" 2>/dev/null
openssl pkey -in "$T/k2.pem" -pubout -out "$T/k2.pub"
"$PDP" compile "$MESH" -o "$T/s" --sign "$T/k.pem" >/dev/null 2>&1
check "bundle verify: signed by the key" "$PDP" bundle verify "$T/s" --pubkey "$T/k.pub"
"$PDP" bundle verify "$T/s" --pubkey "$T/k2.pub" >/dev/null 2>&1
check "bundle verify: another key is refused" test $? = 1
"$PDP" bundle verify "$T/b" --pubkey "$T/k.pub" >/dev/null 2>&1
check "bundle verify: unsigned is refused when a key is required" test $? = 1
cp "$T/b" "$T/t"
printf '\x01' | dd of="$T/t" bs=1 seek=200 conv=notrunc 2>/dev/null
"$PDP" bundle verify "$T/t" 2>"$T/err" >/dev/null
check "bundle verify: a flipped byte is refused" test $? = 1
check "bundle verify: says it is corrupt" grep -q 'corrupt' "$T/err"
head -c 300 "$T/b" >"$T/trunc"
"$PDP" eval --bundle "$T/trunc" - <<<"$REQ" >/dev/null 2>"$T/err"
check "eval refuses a truncated bundle" grep -q 'truncated' "$T/err"

# pdp test: a failing case is shown and counted
cat >"$T/cases.yaml" <<'YAML'
time: 2026-06-01
cases:
  - name: finance billing
    request:
      subject: {id: u-1, domain: finance, groups: [finance-analysts]}
      action: read
      resource: {product: orders.order_events, columns: [event_id]}
      context: {purpose: billing}
    expect: {decision: allow, columns: {event_id: allow}, row_filter: "(region = 'EU')",
             reasons: ["orders.order_events#grants[0]"]}
  - name: wrong on purpose
    request:
      subject: {id: u-1, domain: finance, groups: [finance-analysts]}
      action: read
      resource: {product: orders.order_events, columns: [event_id]}
    expect: {decision: allow}
  - name: unknown action
    request: {subject: {id: u-1}, action: fly, resource: {product: orders.order_events}}
    expect: {error: true}
YAML
"$PDP" test "$MESH" "$T/cases.yaml" >"$T/out" 2>&1
rc=$?
check "pdp test exits 1 on a failing case" test $rc = 1
check "pdp test names the failing case and the difference" \
	grep -q 'decision: expected allow, got deny' "$T/out"
check "pdp test closing line" grep -q '^2 passed, 1 failed$' "$T/out"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
