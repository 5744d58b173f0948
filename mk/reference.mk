# mk/reference.mk -- a second reference evaluator (tests/reference/spec_ref.py),
# written from SPEC 3/3.1 alone by another author than the C evaluator and
# than tests/reference/pdp_ref.py (whose suite, test-diff, is in mk/policy.mk).
#
#   make test-ref-cases   spec_ref.py against the hand-worked policy cases of
#                         examples/tests
#   make test-diff-spec   `pdp eval` against spec_ref.py on seeded
#                         meshgen.py --variety meshes, on examples/mesh and on
#                         the edge cases of tests/reference/edge/
#                         (DIFF_SEEDS="1 2 3 4" by default; DIFF_SHOW
#                         mismatches shown per run)
# Both are part of `make test`; docs/reference-evaluator.md.

DEB_PKGS += python3-yaml
TEST_TARGETS += test-ref-cases test-diff-spec
.PHONY: test-ref-cases test-diff-spec

test-ref-cases:
	@tests/run_suite.sh ref-cases /usr/bin/python3 tests/reference/run_cases.py \
		examples/mesh $(sort $(wildcard examples/tests/*.yaml))

test-diff-spec: $(PDP)
	@tests/run_suite.sh diff-spec tests/reference/difftest_spec.sh $(PDP)
