# mk/reference.mk -- the independent reference evaluator (tests/reference/).
#
#   make test-ref-cases  pdp_ref.py (Python, written from SPEC 3/3.1 alone)
#                        against the hand-worked policy cases of examples/tests
#   make test-diff       differential test: `pdp eval` against pdp_ref.py on
#                        seeded meshgen.py --variety meshes and on examples/mesh
#                        (DIFF_SEEDS="1 2 3 4" by default; DIFF_SHOW mismatches
#                        shown per run)
# Both are part of `make test`.

DEB_PKGS += python3-yaml
TEST_TARGETS += test-ref-cases test-diff
.PHONY: test-ref-cases test-diff

test-ref-cases:
	@tests/run_suite.sh ref-cases python3 tests/reference/run_cases.py \
		examples/mesh $(sort $(wildcard examples/tests/*.yaml))

test-diff: $(PDP)
	@tests/run_suite.sh difftest tests/reference/difftest.sh $(PDP)
