#!/usr/bin/env bash
# bench_eval.sh PDP BENCH_EVAL -- the evaluator benchmark (`make bench-eval`).
# Generates seeded meshes with 2,000 and 100,000 grants (meshgen.py), times
# `pdp compile` of each (the large one is 10,000 products), then runs the
# in-process benchmark on both with the same kind of 10-column requests and
# prints the ratio. Prints figures; asserts nothing about time.
set -euo pipefail
PDP=$1
BENCH=$2
W=${BENCH_DIR:-build/bench/work}
rm -rf "$W"; mkdir -p "$W"
gen() { python3 tests/bench/meshgen.py --seed 7 --out "$W/$1" --products "$2" \
	--grants-per-product 10 --requests 5000 --requests-out "$W/$1.jsonl"; }
gen small 200
gen large 10000
for m in small large; do
	start=$(date +%s.%N)
	"$PDP" compile "$W/$m" -o "$W/$m.bundle" >/dev/null
	end=$(date +%s.%N)
	printf 'compile %-5s: %s products in %.2f s\n' "$m" \
		"$(find "$W/$m/domains" -name '*.yaml' -path '*/products/*' | wc -l)" \
		"$(echo "$end - $start" | bc -l)"
done
echo "--- 2,000 grants"
"$BENCH" "$W/small.bundle" "$W/small.jsonl" 1000000 | tee "$W/small.out"
echo "--- 100,000 grants"
"$BENCH" "$W/large.bundle" "$W/large.jsonl" 1000000 | tee "$W/large.out"
p50() { sed -n 's/.*p50 \([0-9.]*\) us.*/\1/p' "$1"; }
printf 'p50 ratio 100,000 / 2,000 grants: %.2fx (target <= 1.5x)\n' \
	"$(echo "$(p50 "$W/large.out") / $(p50 "$W/small.out")" | bc -l)"
