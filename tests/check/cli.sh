#!/usr/bin/env bash
# cli.sh -- `pdp check` as a user runs it: exit status (0 clean or only
# warnings, 1 errors, 2 usage / unreadable dir), diagnostics on stderr sorted
# by file:line:col, the summary line, --help. Ends with "N passed, N failed".
set -u
pdp=${PDP:-build/pdp}
pass=0 fail=0
tmp=$(mktemp -d /tmp/pdp-check-cli.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; [ -n "${2:-}" ] && echo "$2" | sed 's/^/     /'; }

# expect NAME STATUS STDERR_EXPECTED ARGS... (stderr compared exactly)
expect() {
	local name=$1 want_rc=$2 want_err=$3; shift 3
	local err rc
	err=$("$pdp" check "$@" 2>&1 >/dev/null); rc=$?
	if [ "$rc" != "$want_rc" ]; then bad "$name: exit $rc, want $want_rc" "$err"; return; fi
	if [ "$err" != "$want_err" ]; then bad "$name: stderr" "$(diff <(echo "$want_err") <(echo "$err"))"; return; fi
	ok "$name"
}

mkpolicy() { # DIR
	mkdir -p "$1/domains/orders/products"
	cat > "$1/mesh.yaml" <<'Y'
apiVersion: meshpdp/v1
kind: Mesh
classifications: [public, internal]
purposes: [billing]
groups:
  - {name: orders-analysts, domain: orders}
pii:
  categories: {email: hash}
  detect: [email]
bounds: {max_grant_days: 30}
Y
	cat > "$1/domains/orders/domain.yaml" <<'Y'
apiVersion: meshpdp/v1
kind: Domain
name: orders
owner: squad
members: [orders-analysts]
Y
	cat > "$1/domains/orders/products/events.yaml" <<'Y'
apiVersion: meshpdp/v1
kind: DataProduct
metadata: {name: orders.events, domain: orders, owner: squad, version: 1.0.0}
classification: internal
schema:
  columns:
    - {name: id, type: string}
    - {name: email, type: string, pii: email}
Y
}

mkpolicy "$tmp/good"
expect "valid policy" 0 "0 errors, 0 warnings" "$tmp/good"

mkpolicy "$tmp/warn"
cat >> "$tmp/warn/domains/orders/products/events.yaml" <<'Y'
grants:
  - to: {group: orders-analysts}
    actions: [read]
    columns: [id]
Y
expect "warnings only" 0 "$tmp/warn/domains/orders/products/events.yaml:10:5: warning: grant has no expires: bounds.max_grant_days (30) does not limit it
0 errors, 1 warnings" "$tmp/warn"

mkpolicy "$tmp/bad"
cat >> "$tmp/bad/domains/orders/products/events.yaml" <<'Y'
    - {name: user_email, type: string}
grants:
  - to: {group: orders-analyst}
    actions: [read]
    columns: [id]
    expires: 2999-01-01
Y
printf 'apiVersion: meshpdp/v1\nkind: Domain\nname: order\nowner: squad\n' > "$tmp/bad/domains/orders/domain.yaml"
expect "errors in two files, sorted" 1 "$tmp/bad/domains/orders/domain.yaml:3:7: error: domain name 'order' does not match its directory domains/orders/
$tmp/bad/domains/orders/products/events.yaml:3:41: error: unknown domain 'orders' (no domains/orders/domain.yaml)
$tmp/bad/domains/orders/products/events.yaml:9:14: error: column 'user_email' matches pii.detect 'email' but has no pii: tag (pii: <category>, or pii: none with a reason)
$tmp/bad/domains/orders/products/events.yaml:11:17: error: unknown group 'orders-analyst' (not in mesh.groups)
$tmp/bad/domains/orders/products/events.yaml:14:14: error: grant lasts $(( ( $(date -u -d 2999-01-01 +%s) - $(date -u -d "$(date -u +%F)" +%s) ) / 86400 )) days (from today), longer than bounds.max_grant_days 30
$tmp/bad/mesh.yaml:6:37: error: group 'orders-analysts': unknown domain 'orders' (no domains/orders/domain.yaml)
6 errors, 0 warnings" "$tmp/bad"

expect "missing directory" 2 "$tmp/nope: error: cannot read policy directory: No such file or directory
1 errors, 0 warnings" "$tmp/nope"

out=$("$pdp" check 2>&1); rc=$?
[ "$rc" = 2 ] && grep -q '^usage: pdp check POLICY_DIR' <<<"$out" && ok "no argument: usage, exit 2" || bad "no argument" "$out"
out=$("$pdp" check a b 2>&1); rc=$?
[ "$rc" = 2 ] && ok "two arguments: exit 2" || bad "two arguments: exit $rc"
out=$("$pdp" check --frobnicate 2>&1); rc=$?
[ "$rc" = 2 ] && ok "unknown option: exit 2" || bad "unknown option: exit $rc"
out=$("$pdp" check --help 2>/dev/null); rc=$?
[ "$rc" = 0 ] && grep -q 'Exit status: 0 no errors' <<<"$out" && ok "--help on stdout, exit 0" || bad "--help" "$out"

echo "check-cli: $pass passed, $fail failed"
[ "$fail" = 0 ]
