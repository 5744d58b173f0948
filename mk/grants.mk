# mk/grants.mk -- the grant export (SPEC 6, docs/grant-export.md).
#
#   make test-grants     golden files for examples/mesh (three formats, notes,
#                        diff), every request body through AWS's API models
#                        (aws-sdk v2 from npm, installed into build/npm), the
#                        CLI (part of `make test`)
#   make golden-grants   rewrite tests/golden/grants/ (review the diff!)
#
# Unit tests: tests/unit/test_export.c (picked up by the main Makefile).
#
# Node.js and npm: Debian's nodejs and npm, unless an npm is already there
# (NodeSource's nodejs carries npm and conflicts with Debian's package).

DEB_PKGS += nodejs $(if $(shell command -v npm 2>/dev/null),,npm)
TEST_TARGETS += test-grants

.PHONY: test-grants golden-grants
test-grants: $(PDP)
	@tests/run_suite.sh grants tests/grants/run.sh $(PDP)

golden-grants: $(PDP)
	@UPDATE_GOLDEN=1 tests/grants/run.sh $(PDP)
