# mk/audit.mk -- the audit log (issue 4): the writer driver, the Python
# verifier suite (tests/audit/) and `make bench-audit`.
#
#   make test-audit    driver + independent Python verifier + tampering +
#                      kill -9 at the writer level (part of `make test`)
#   make bench-audit   writer records/s per fsync mode, verify records/s

DEB_PKGS += python3-cryptography

AUDIT_DRIVER := $(O)/tests/audit_driver
AUDIT_PY := /usr/bin/python3

$(AUDIT_DRIVER): $(O)/obj/tests/audit/driver.o $(LIBPDPD) $(LIBPOLICY)
	@mkdir -p $(dir $@)
	$(CC) $(FINAL_LDFLAGS) -o $@ $^ $(FINAL_LIBS)

TEST_TARGETS += test-audit
BENCH_TARGETS += bench-audit
.PHONY: test-audit bench-audit

test-audit: $(PDP) $(AUDIT_DRIVER)
	@tests/run_suite.sh audit-py $(AUDIT_PY) tests/audit/test_audit.py \
		--pdp $(PDP) --driver $(AUDIT_DRIVER)

bench-audit: $(PDP) $(AUDIT_DRIVER)
	@$(AUDIT_PY) tests/audit/bench_audit.py --pdp $(PDP) --driver $(AUDIT_DRIVER)
