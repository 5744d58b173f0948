#!/usr/bin/env bash
# difftest_spec.sh -- differential test: meshpdp's C evaluator (`pdp eval`) against
# the independent Python reference (tests/reference/spec_ref.py).
#
# usage: tests/reference/difftest_spec.sh [PDP] [SEED...]
#        (PDP defaults to build/pdp; SEEDs to 1 2 3 4, or $DIFF_SEEDS)
#
# For each seed: meshgen.py --variety writes a policy directory (the shape
# varies with the seed) and 3,000 requests; the directory must pass
# `pdp check` with no error; `pdp compile` bundles it; both evaluators answer
# every request three times -- at each request's own context.time, and at two
# fixed --time instants -- and compare.py compares every answer (decision,
# columns with masks, row filter, reasons). Then the same on examples/mesh:
# the requests of the examples/tests cases (at the cases' times) and 3,000
# seeded random requests (reqgen.py); and the hand-made edge-case mesh and
# requests of tests/reference/edge/ (empty lists, empty except, describe
# corner cases, tied rule masks, request validation, time formats).
#
# Prints every mismatch (up to $DIFF_SHOW per run, default 10: the request
# and both answers) and a closing `N passed, N failed` line, one count per
# request and time. Exit 1 on any mismatch or failed step. The scratch
# directory is removed on success and kept (its path printed) on failure.
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
pdp=${1:-$root/build/pdp}
[ $# -gt 0 ] && shift
seeds=${*:-${DIFF_SEEDS:-1 2 3 4}}
show=${DIFF_SHOW:-10}
py=${PYTHON:-python3}
case $pdp in /*) ;; *) pdp=$PWD/$pdp ;; esac
[ -x "$pdp" ] || { echo "difftest_spec: $pdp is not executable (make first)"; echo "0 passed, 1 failed"; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/difftest_spec.XXXXXX")
passed=0
failed=0

fail() { echo "difftest_spec: $*"; failed=$((failed + 1)); }

# compare LABEL POLICY_DIR BUNDLE REQUESTS [--time T]
compare() {
	local label=$1 dir=$2 bundle=$3 reqs=$4; shift 4
	local out=$work/$(echo "$label" | tr -c 'A-Za-z0-9_.\n-' '_')
	"$pdp" eval --bundle "$bundle" "$@" "$reqs" >"$out.pdp" 2>"$out.pdp.err"
	local rc=$?
	if [ $rc -gt 1 ]; then
		fail "$label: pdp eval exited $rc: $(head -3 "$out.pdp.err")"
		return
	fi
	"$py" "$here/spec_ref.py" eval "$dir" "$@" "$reqs" >"$out.ref" 2>"$out.ref.err"
	rc=$?
	if [ $rc -gt 1 ]; then
		fail "$label: spec_ref.py exited $rc: $(tail -3 "$out.ref.err")"
		return
	fi
	"$py" "$here/compare.py" --label "$label" --show "$show" "$reqs" "$out.pdp" "$out.ref" >"$out.cmp"
	grep -v -E '^[0-9]+ passed, [0-9]+ failed$' "$out.cmp"
	local line p f
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$out.cmp" | tail -1)
	if [ -z "$line" ]; then
		fail "$label: compare.py printed no result"
		return
	fi
	p=${line%% passed*}
	f=${line##*passed, }; f=${f%% failed}
	passed=$((passed + p))
	failed=$((failed + f))
	echo "$label: $p agree, $f differ"
}

# check_compile LABEL DIR BUNDLE: pdp check with no error, then compile.
check_compile() {
	local label=$1 dir=$2 bundle=$3
	if ! "$pdp" check "$dir" >"$work/check.out" 2>&1; then
		fail "$label: pdp check found errors:"
		grep -E 'error' "$work/check.out" | head -10
		return 1
	fi
	if ! "$pdp" compile "$dir" -o "$bundle" >"$work/compile.out" 2>&1; then
		fail "$label: pdp compile failed:"
		head -10 "$work/compile.out"
		return 1
	fi
}

# Mesh shapes, picked by seed: products domains groups/domain columns grants/product rules
shapes=("40 5 4 10 6 8" "60 8 3 14 10 12" "20 3 2 6 3 4" "120 10 4 20 12 10")
for seed in $seeds; do
	set -- ${shapes[$((seed % ${#shapes[@]}))]}
	m=$work/mesh$seed
	if ! "$py" "$root/tests/bench/meshgen.py" --variety --seed "$seed" --out "$m" \
		--products "$1" --domains "$2" --groups-per-domain "$3" --columns "$4" \
		--grants-per-product "$5" --rules "$6" --requests 3000 --requests-out "$m.jsonl"; then
		fail "seed $seed: meshgen.py failed"
		continue
	fi
	check_compile "seed $seed" "$m" "$m.bundle" || continue
	compare "seed $seed, context.time" "$m" "$m.bundle" "$m.jsonl"
	compare "seed $seed, --time 2026-06-01" "$m" "$m.bundle" "$m.jsonl" --time 2026-06-01
	compare "seed $seed, --time 2027-01-01T00:00:00Z" "$m" "$m.bundle" "$m.jsonl" \
		--time 2027-01-01T00:00:00Z
done

ex=$root/examples/mesh
if check_compile examples "$ex" "$work/examples.bundle"; then
	if "$py" "$here/reqgen.py" cases "$root"/examples/tests/*.yaml >"$work/cases.jsonl"; then
		compare "examples/tests cases" "$ex" "$work/examples.bundle" "$work/cases.jsonl"
	else
		fail "reqgen.py cases failed"
	fi
	if "$py" "$here/reqgen.py" random "$ex" 3000 --seed "${seeds%% *}" >"$work/random.jsonl"; then
		compare "examples/mesh random" "$ex" "$work/examples.bundle" "$work/random.jsonl"
	else
		fail "reqgen.py random failed"
	fi
fi

edge=$here/edge
if check_compile edge "$edge/mesh" "$work/edge.bundle"; then
	compare "edge cases, context.time" "$edge/mesh" "$work/edge.bundle" "$edge/requests.jsonl"
	compare "edge cases, --time 2026-06-01" "$edge/mesh" "$work/edge.bundle" \
		"$edge/requests.jsonl" --time 2026-06-01
fi

if [ "$failed" = 0 ]; then
	rm -rf "$work"
else
	echo "difftest_spec: inputs and answers kept in $work"
fi
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
