# mk/check.mk -- the policy loader and governance checks (`pdp check`).
#
#   make check-cli     `pdp check` exit codes and output (part of `make test`)
#   make bench-check   time `pdp check` over 10,000 generated product files
#
# Unit tests: tests/unit/test_yaml.c, test_load.c, test_check.c (picked up by
# the main Makefile; run plain, under ASan+UBSan and under valgrind).

TEST_TARGETS += check-cli
BENCH_TARGETS += bench-check

.PHONY: check-cli bench-check

check-cli: $(PDP)
	@PDP=$(PDP) tests/run_suite.sh check-cli tests/check/cli.sh

bench-check: $(PDP)
	@PDP=$(PDP) tests/bench/check_bench.sh 10000
