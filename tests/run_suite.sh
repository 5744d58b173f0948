#!/usr/bin/env bash
# run_suite.sh NAME CMD... -- run one test suite, show its output, and record
# its counts in $RESULTS (default build/test-results) as "NAME P F".
# Understands cmocka's summary lines and the plain "N passed, N failed" line;
# a suite that prints neither counts as 1 passed or 1 failed by exit status.
set -u
name=$1; shift
results=${RESULTS:-build/test-results}
mkdir -p "$results"
out=$(mktemp)
"$@" 2>&1 | tee "$out"
rc=${PIPESTATUS[0]}
passed=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$out" | tail -1)
failed=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$out" | tail -1)
if [ -z "$passed" ]; then
	line=$(grep -E '^([A-Za-z-]+: )?[0-9]+ passed, [0-9]+ failed' "$out" | tail -1)
	if [ -n "$line" ]; then
		passed=$(sed -E 's/^([A-Za-z-]+: )?([0-9]+) passed.*/\2/' <<<"$line")
		failed=$(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$line")
	fi
fi
if [ -z "$passed" ] && [ -z "$failed" ]; then
	if [ "$rc" = 0 ]; then passed=1; failed=0; else passed=0; failed=1; fi
fi
passed=${passed:-0}; failed=${failed:-0}
# a non-zero exit with no failure counted is still a failure
if [ "$rc" != 0 ] && [ "$failed" = 0 ]; then failed=1; fi
echo "$name $passed $failed" >> "$results/suites.txt"
rm -f "$out"
[ "$rc" = 0 ] && [ "$failed" = 0 ]
