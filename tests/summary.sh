#!/usr/bin/env bash
# summary.sh DIR -- add up the suites recorded by run_suite.sh and print the
# closing line "total: N passed, N failed"; exit 1 if anything failed.
set -u
f=${1:-build/test-results}/suites.txt
[ -f "$f" ] || { echo "total: 0 passed, 1 failed (no suites ran)"; exit 1; }
awk '{ p += $2; fl += $3; if ($3 > 0) bad = bad "  failed: " $1 "\n" }
     END { printf "%s", bad; printf "total: %d passed, %d failed\n", p, fl; exit (fl > 0) }' "$f"
