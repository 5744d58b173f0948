#!/usr/bin/env bash
# run.sh PDP -- the grant export end to end on examples/mesh:
#   1. `pdp grants export` in the three formats (and its notes) and `pdp
#      grants diff` against a changed copy of the mesh, compared byte for
#      byte with tests/golden/grants/ (UPDATE_GOLDEN=1 rewrites them);
#   2. every Lake Formation request body and IAM document through AWS's own
#      API models (tests/grants/validate.js with aws-sdk v2 from npm,
#      installed into build/npm on first use), after a self-test showing
#      that broken documents are refused;
#   3. the CLI's exit codes and errors.
# Prints `N passed, N failed`.
set -u
PDP=${1:-build/pdp}
GOLDEN=tests/golden/grants
NPM_DIR=build/npm
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; }
check() { local name=$1; shift; if "$@"; then ok "$name"; else bad "$name"; fi; }

# the same options everywhere, so the output is reproducible
OPTS=(--time 2026-06-01 --catalog-id 123456789012 --region eu-west-1)

golden() { # golden NAME FILE: compare (or update) byte for byte
	if [ -n "${UPDATE_GOLDEN:-}" ]; then
		mkdir -p "$GOLDEN" && cp "$2" "$GOLDEN/$1" && ok "golden $1 updated"
		return
	fi
	if cmp -s "$2" "$GOLDEN/$1"; then
		ok "golden $1"
	else
		bad "golden $1 differs (UPDATE_GOLDEN=1 make test-grants rewrites it after review)"
		diff -u "$GOLDEN/$1" "$2" | head -40
	fi
}

"$PDP" compile examples/mesh -o "$T/mesh.bundle" >/dev/null 2>"$T/err"
check "examples/mesh compiles" test $? = 0

for f in lakeformation iam json; do
	"$PDP" grants export --bundle "$T/mesh.bundle" --format "$f" "${OPTS[@]}" >"$T/$f.json" 2>"$T/$f.notes"
	check "export --format $f exits 0" test $? = 0
	golden "$f.json" "$T/$f.json"
	golden "$f.notes" "$T/$f.notes"
	"$PDP" grants export --bundle "$T/mesh.bundle" --format "$f" "${OPTS[@]}" -o "$T/$f.again" 2>/dev/null
	check "export --format $f is deterministic (-o writes the same bytes)" cmp -s "$T/$f.json" "$T/$f.again"
done

# a changed copy of the mesh: a wider filter, a column more and one less
cp -r examples/mesh "$T/changed"
ev="$T/changed/domains/orders/products/order_events.yaml"
pr="$T/changed/domains/customer/products/profiles.yaml"
sed -i 's/row_filter: "order_total_cents > 100000"/row_filter: "order_total_cents > 50000"/;
        s/columns: \[event_id, order_total_cents, region\]/columns: [event_id, order_total_cents, region, placed_at]/' "$ev"
sed -i 's/columns: \[customer_id, email, country, signup_date, loyalty_tier\]/columns: [customer_id, email, country, loyalty_tier]/' "$pr"
check "the changed mesh has the edits" grep -q '50000' "$ev"
check "the changed mesh has the edits (2)" bash -c "! grep -q 'signup_date, loyalty_tier\]' '$pr'"
"$PDP" compile "$T/changed" -o "$T/changed.bundle" >/dev/null 2>&1
"$PDP" grants diff "$T/mesh.bundle" "$T/changed.bundle" --time 2026-06-01 >"$T/diff.txt" 2>&1
check "diff exits 1 when access changes" test $? = 1
golden "diff.txt" "$T/diff.txt"
"$PDP" grants diff "$T/mesh.bundle" "$T/mesh.bundle" --time 2026-06-01 >"$T/same.txt" 2>&1
check "diff exits 0 without changes" test $? = 0
check "diff says so" grep -qx 'no change in access' "$T/same.txt"

# AWS's API models
if [ ! -f "$NPM_DIR/node_modules/aws-sdk/package.json" ]; then
	npm install --prefix "$NPM_DIR" --no-audit --no-fund --loglevel=error aws-sdk@2 >"$T/npm.log" 2>&1 ||
		{ cat "$T/npm.log"; bad "npm install aws-sdk@2"; }
fi
node tests/grants/validate.js "$NPM_DIR/node_modules/aws-sdk" --self-test "$T/lakeformation.json" "$T/iam.json" >"$T/validate.txt" 2>&1
vrc=$?
cat "$T/validate.txt"
line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$T/validate.txt" | tail -1)
if [ -n "$line" ]; then
	pass=$((pass + ${line%% passed*}))
	vf=${line##*, }; fail=$((fail + ${vf%% failed}))
fi
check "validate.js exits 0" test "$vrc" = 0

# the CLI
"$PDP" grants export --bundle "$T/mesh.bundle" --format ranger >/dev/null 2>"$T/err"
check "unknown format exits 2" test $? = 2
check "unknown format is named" grep -q "unknown format 'ranger'" "$T/err"
"$PDP" grants export --bundle "$T/mesh.bundle" --format lakeformation --time 2026-06-01 >"$T/out" 2>"$T/err"
check "row filters without --catalog-id exit 2" test $? = 2
check "... and say why" grep -q 'need the catalog id' "$T/err"
check "... and write nothing" test ! -s "$T/out"
"$PDP" grants export --bundle "$T/nope.bundle" --format json >/dev/null 2>"$T/err"
check "missing bundle exits 2" test $? = 2
"$PDP" grants export --bundle "$T/mesh.bundle" --format json --time yesterday >/dev/null 2>"$T/err"
check "bad --time exits 2" test $? = 2
"$PDP" grants diff "$T/mesh.bundle" >/dev/null 2>&1
check "diff needs two bundles" test $? = 2
"$PDP" grants --help >"$T/out" 2>&1
check "--help exits 0" test $? = 0
check "--help names both subcommands" grep -q 'pdp grants diff OLD_BUNDLE NEW_BUNDLE' "$T/out"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
