# mk/server.mk -- `pdp serve`: dev PKI, `make run`, the integration suites.

DEB_PKGS += prometheus
CERTS := certs/out

.PHONY: certs run run-serve test-server
certs:
	@certs/gen.sh $(CERTS)

# `make run`: deps, then a fresh make (pkg-config sees the packages), certs,
# the example mesh compiled and signed, and the server in the foreground.
run: deps
	@$(MAKE) --no-print-directory run-serve

run-serve: all certs
	@$(PDP) compile examples/mesh -o build/mesh.bundle --sign $(CERTS)/signing.pem
	@echo
	@echo "Try, in another shell:"
	@echo "  curl --cacert $(CERTS)/ca.pem --cert $(CERTS)/gateway.pem --key $(CERTS)/gateway.key \\"
	@echo "    -H 'Content-Type: application/json' https://127.0.0.1:8443/v1/decision \\"
	@echo "    -d '{\"subject\":{\"id\":\"u-1842\",\"domain\":\"finance\",\"groups\":[\"finance-analysts\"]},\"action\":\"read\",\"resource\":{\"product\":\"orders.order_events\",\"columns\":[\"event_id\",\"customer_email\"]},\"context\":{\"purpose\":\"billing\",\"dialect\":\"postgres\"}}'"
	@echo
	exec $(PDP) serve -c examples/pdp.yaml

TEST_TARGETS += test-server
test-server: $(PDP)
	@tests/run_suite.sh server /usr/bin/python3 tests/integration/test_server.py $(PDP)

DEB_PKGS += postgresql
TEST_TARGETS += test-masks-pg
.PHONY: test-masks-pg
test-masks-pg: $(PDP)
	@tests/run_suite.sh masks-postgres /usr/bin/python3 tests/integration/test_masks_pg.py $(PDP)

# The server benchmark: the PDP against nginx answering a fixed JSON body
# over the same mutual TLS, in one run.
DEB_PKGS += nginx-light
BENCH_TARGETS += bench-server
.PHONY: bench-server
$(O)/bench/loadgen: $(O)/obj/tests/bench/loadgen.o $(LIBPOLICY)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(FINAL_LDFLAGS) -o $@ $^ $(FINAL_LIBS)

bench-server: $(PDP) $(O)/bench/loadgen certs
	@tests/bench/bench_server.sh $(PDP) $(O)/bench/loadgen

TEST_TARGETS += test-crash
.PHONY: test-crash
test-crash: $(PDP)
	@tests/run_suite.sh crash /usr/bin/python3 tests/integration/test_crash.py $(PDP)

TEST_TARGETS += test-backpressure
.PHONY: test-backpressure
test-backpressure: $(PDP)
	@tests/run_suite.sh backpressure /usr/bin/python3 tests/integration/test_backpressure.py $(PDP)

TEST_TARGETS += test-reload
BENCH_TARGETS += bench-reload
.PHONY: test-reload bench-reload
test-reload: $(PDP)
	@tests/run_suite.sh reload /usr/bin/python3 tests/integration/test_reload.py $(PDP)

bench-reload: $(PDP) $(O)/bench/loadgen certs
	@tests/bench/bench_reload.sh $(PDP) $(O)/bench/loadgen

# Connection-level abuse: hang-ups before the reply, pipelining, garbage on
# the TLS port, abandoned handshakes, the connection cap, SIGTERM under fire.
TEST_TARGETS += test-abuse
.PHONY: test-abuse
test-abuse: $(PDP)
	@tests/run_suite.sh abuse /usr/bin/python3 tests/integration/test_abuse.py $(PDP)

# The integration and CLI suites again, against pdp built with ASan+UBSan;
# any sanitizer report (leaks at exit included) is a failure.
SAN_PDP := build-address-undefined/pdp
TEST_TARGETS += test-sanitized
.PHONY: test-sanitized
test-sanitized: $(O)/bench/loadgen
	@$(MAKE) --no-print-directory SANITIZER=address,undefined all
	@tests/run_suite.sh sanitized tests/integration/sanitized.sh $(SAN_PDP) $(O)/bench/loadgen

# The unit tests and the suites where threads meet, against pdp built with
# TSan; any report (a data race, a lock-order inversion) is a failure.
TSAN_PDP := build-thread/pdp
TEST_TARGETS += test-tsan
.PHONY: test-tsan
test-tsan: $(O)/bench/loadgen
	@$(MAKE) --no-print-directory SANITIZER=thread all
	@$(MAKE) --no-print-directory SANITIZER=thread unit-run
	@SAN_MODE=thread tests/run_suite.sh tsan tests/integration/sanitized.sh $(TSAN_PDP) $(O)/bench/loadgen

# 64 connections (single and batch) while SIGHUP alternates two revisions.
TEST_TARGETS += test-load
.PHONY: test-load
test-load: $(PDP) $(O)/bench/loadgen
	@tests/run_suite.sh load /usr/bin/python3 tests/integration/test_load.py $(PDP) $(O)/bench/loadgen
