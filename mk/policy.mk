# mk/policy.mk -- the policy core: fuzz targets (replayed in `make test`,
# run by libFuzzer in `make fuzz`) and the evaluator benchmark.

FUZZ_NAMES := yaml bundle request http json
FUZZ_REPLAYS := $(FUZZ_NAMES:%=$(O)/fuzz/%_replay)
TEST_TARGETS += test-fuzz-replay
FUZZ_TARGETS += $(FUZZ_NAMES:%=fuzz-%)
BENCH_TARGETS += bench-eval
FUZZ_SECONDS ?= 60

$(O)/fuzz/%_replay: $(O)/obj/tests/fuzz/%_fuzz.o $(O)/obj/tests/fuzz/fuzz_main.o $(LIBPOLICY)
	@mkdir -p $(dir $@)
	$(CC) $(FINAL_LDFLAGS) -o $@ $(filter %.o,$^) $(filter %.a,$^) $(FINAL_LIBS)

.PHONY: test-fuzz-replay fuzz-replay-run bench-eval
# Replays every corpus entry under ASan + UBSan.
test-fuzz-replay:
	@$(MAKE) --no-print-directory SANITIZER=address,undefined fuzz-replay-run

fuzz-replay-run: $(FUZZ_REPLAYS)
	@status=0; for t in $(FUZZ_NAMES); do \
		tests/run_suite.sh "fuzz-replay:$$t" $(O)/fuzz/$${t}_replay tests/fuzz/corpus/$$t || status=1; \
	done; exit $$status

# libFuzzer, FUZZ_SECONDS per target, on a scratch copy of the corpus.
FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined \
	-Iinclude -Ipolicy $(PKG_CFLAGS)
build-fuzz/%_fuzz: tests/fuzz/%_fuzz.c $(POLICY_SRCS)
	@mkdir -p build-fuzz
	clang $(FUZZ_CFLAGS) -Ipdp -o $@ $< $(filter pdp/%.c,$^) $(POLICY_SRCS) $(FINAL_LIBS)

# the HTTP parser lives with the server (pdp/) but needs only the core
$(O)/fuzz/http_replay: $(O)/obj/pdp/http_parse.o
build-fuzz/http_fuzz: pdp/http_parse.c

fuzz-%: build-fuzz/%_fuzz
	@mkdir -p build-fuzz/corpus/$*
	@cp -n tests/fuzz/corpus/$*/* build-fuzz/corpus/$*/ 2>/dev/null || true
	$< -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -timeout=10 \
		-artifact_prefix=build-fuzz/$*- build-fuzz/corpus/$* tests/fuzz/corpus/$*
	@echo "fuzz-$*: no crash in $(FUZZ_SECONDS) s (new inputs kept in build-fuzz/corpus/$*)"

$(O)/bench/bench_eval: $(O)/obj/tests/bench/bench_eval.o $(LIBPOLICY)
	@mkdir -p $(dir $@)
	$(CC) $(FINAL_LDFLAGS) -o $@ $^ $(FINAL_LIBS)

bench-eval: $(PDP) $(O)/bench/bench_eval
	@tests/bench/bench_eval.sh $(PDP) $(O)/bench/bench_eval

# The policy CLI end to end (compile, eval, test, bundle).
TEST_TARGETS += test-cli
.PHONY: test-cli
test-cli: $(PDP)
	@tests/run_suite.sh cli tests/cli/cli.sh $(PDP)

# The sample mesh must check clean and pass its policy tests.
TEST_TARGETS += test-examples
.PHONY: test-examples
test-examples: $(PDP)
	@$(PDP) check examples/mesh >/dev/null 2>build/examples-check.txt || \
		{ cat build/examples-check.txt; echo "examples/mesh does not pass pdp check"; exit 1; }
	@tests/run_suite.sh examples $(PDP) test examples/mesh $(sort $(wildcard examples/tests/*.yaml))

# pdp eval against a naive, independently written reference of SPEC 3
# (tests/reference/pdp_ref.py) on the sample mesh and generated meshes.
DEB_PKGS += python3-yaml
TEST_TARGETS += test-diff
.PHONY: test-diff
test-diff: $(PDP)
	@tests/run_suite.sh reference-diff /usr/bin/python3 tests/reference/difftest.py $(PDP)
