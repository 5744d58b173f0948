#!/usr/bin/env bash
# sanitized.sh PDP LOADGEN -- the server's integration suites and the CLI suites,
# run against a pdp built with SANITIZER=address,undefined (`make
# test-sanitized`, part of `make test`); with SAN_MODE=thread, the suites
# where threads meet (server, abuse, load: workers handing connections and
# the right to write the audit log to each other, reloads, the drain)
# against a pdp built with SANITIZER=thread (`make test-tsan`, also part of
# `make test`).
#
# Every pdp process the suites start (the server and each CLI call) writes
# its sanitizer reports to its own file under a scratch directory
# (ASAN_OPTIONS/UBSAN_OPTIONS log_path: both must be set with the combined
# runtime; TSAN_OPTIONS log_path for TSan). A report of any kind -- memory
# error, undefined behaviour (-fno-sanitize-recover: the process aborts), a
# leak found at exit, a data race or lock-order inversion -- counts as one
# failed check and is printed, besides the suites' own checks.
#
# test_reload.py runs with a 16 MB quarantine instead of ASan's default
# 256 MB: freed memory is held in the quarantine (that is how use-after-free
# is caught), which shows up in the RSS the suite measures; the suite adds
# the quarantine size to its RSS allowance and says so.
# Prints `N passed, N failed`.
set -u
PDP=$(realpath "${1:?usage: sanitized.sh PDP LOADGEN}")
LOADGEN=$(realpath "${2:?usage: sanitized.sh PDP LOADGEN}") # a plain build: only the server is under test
REPORTS=$(mktemp -d)
trap 'rm -rf "$REPORTS"' EXIT
pass=0 fail=0
OPTS="log_path=$REPORTS/san:detect_leaks=1:abort_on_error=0:print_stacktrace=1"
TOPTS="log_path=$REPORTS/san:halt_on_error=0:second_deadlock_stack=1"
MODE=${SAN_MODE:-address}
LABEL=ASan+UBSan
[ "$MODE" = thread ] && LABEL=TSan

# run_one NAME EXTRA_ASAN_OPTIONS CMD... -- one suite; adds its counts.
run_one() {
	local name=$1 extra=$2
	shift 2
	echo "== $name ($LABEL)"
	local out rc
	if [ "$MODE" = thread ]; then
		out=$(TSAN_OPTIONS="$TOPTS" "$@" 2>&1)
	else
		out=$(ASAN_OPTIONS="$OPTS${extra:+:$extra}" UBSAN_OPTIONS="$OPTS" "$@" 2>&1)
	fi
	rc=$?
	echo "$out" | grep -E '^FAIL' || true
	local line p f
	line=$(echo "$out" | grep -E '^([A-Za-z-]+: )?[0-9]+ passed, [0-9]+ failed' | tail -1)
	if [ -z "$line" ]; then
		echo "   $name printed no summary (exit $rc)"
		echo "$out" | tail -20
		fail=$((fail + 1))
		return
	fi
	p=$(sed -E 's/^([A-Za-z-]+: )?([0-9]+) passed.*/\2/' <<<"$line")
	f=$(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$line")
	pass=$((pass + p)) fail=$((fail + f))
	if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
		echo "   $name exited $rc with no failed check"
		fail=$((fail + 1))
	fi
	echo "   $line"
}

PY=/usr/bin/python3
run_one server "" $PY tests/integration/test_server.py "$PDP"
run_one abuse "" $PY tests/integration/test_abuse.py "$PDP"
run_one load "" $PY tests/integration/test_load.py "$PDP" "$LOADGEN"
[ "$MODE" = thread ] || {
	run_one reload "quarantine_size_mb=16" $PY tests/integration/test_reload.py "$PDP"
	run_one backpressure "" $PY tests/integration/test_backpressure.py "$PDP"
	run_one crash "" $PY tests/integration/test_crash.py "$PDP"
	run_one masks-postgres "" $PY tests/integration/test_masks_pg.py "$PDP"
	run_one cli "" tests/cli/cli.sh "$PDP"
	run_one check-cli "" env PDP="$PDP" tests/check/cli.sh
}

# each sanitizer report is a failure
reports=0
for r in "$REPORTS"/san.*; do
	[ -e "$r" ] || continue
	reports=$((reports + 1))
	echo "FAIL sanitizer report $(basename "$r"): $(grep -m1 -E 'ERROR|WARNING|runtime error' "$r")"
	head -60 "$r"
done
if [ "$reports" = 0 ]; then
	pass=$((pass + 1))
	echo "ok   no sanitizer report from any pdp process"
else
	fail=$((fail + reports))
fi
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
