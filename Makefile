# meshpdp -- one non-recursive Makefile. Each area adds its sources, tests
# and Debian packages in mk/<area>.mk (included below).
#
#   make run     install deps, build, make dev certs, compile examples, serve
#   make test    install deps, build, run every test suite (+ ASan/UBSan, valgrind)
#   make asan    build and run the unit tests under ASan + UBSan
#   make bench   all benchmarks (bench-eval, bench-server, ...)
#   make fuzz    libFuzzer on each target for a bounded time
#
# SANITIZER=address,undefined builds into build-asan/.

SHELL := /bin/bash
comma := ,
SANITIZER ?=
ifeq ($(SANITIZER),)
O ?= build
else
O ?= build-$(subst $(comma),-,$(SANITIZER))
endif
CC ?= cc
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# Debian packages: what building needs (docker uses `make deps-build`), and
# what the tests and tools need; areas append theirs in mk/*.mk.
BUILD_DEB_PKGS := build-essential pkg-config libevent-dev libssl-dev libjansson-dev \
	libyaml-dev openssl
DEB_PKGS := $(BUILD_DEB_PKGS) libcmocka-dev valgrind curl python3 clang libclang-rt-14-dev bc

PKGS := libevent libevent_openssl libevent_pthreads jansson yaml-0.1 openssl
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN := -Wall -Wextra -Werror -Wshadow -Wwrite-strings -Wformat=2 -Wpointer-arith \
	-Wno-missing-field-initializers
OPT ?= -O2
FINAL_CFLAGS := -std=c11 -D_GNU_SOURCE $(OPT) -g -fstack-protector-strong $(WARN) \
	-Iinclude -Ipolicy -Ipdp -MMD -MP $(PKG_CFLAGS) $(CFLAGS)
FINAL_LDFLAGS := $(LDFLAGS)
FINAL_LIBS := $(PKG_LIBS) -lpthread -lm
ifneq ($(SANITIZER),)
FINAL_CFLAGS += -fsanitize=$(SANITIZER) -fno-omit-frame-pointer -fno-sanitize-recover=all
FINAL_LDFLAGS += -fsanitize=$(SANITIZER)
endif

POLICY_SRCS := $(sort $(wildcard policy/*.c))
PDP_SRCS := $(sort $(filter-out pdp/main.c,$(wildcard pdp/*.c)))
POLICY_OBJS := $(POLICY_SRCS:%.c=$(O)/obj/%.o)
PDP_OBJS := $(PDP_SRCS:%.c=$(O)/obj/%.o)
LIBPOLICY := $(O)/libpdppolicy.a
LIBPDPD := $(O)/libpdpd.a
PDP := $(O)/pdp

UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(O)/tests/%)

RESULTS := build/test-results
# Suites add phony targets to TEST_TARGETS (run after the unit tests).
TEST_TARGETS :=
BENCH_TARGETS :=
FUZZ_TARGETS :=


.PHONY: banned all deps deps-build run test test-run unit unit-run asan valgrind bench fuzz clean \
	format certs examples

all: $(PDP)

# keep intermediate objects (no "rm" after the test summary)
.SECONDARY:

-include mk/*.mk

# V=1 shows the full commands.
ifeq ($(V),1)
Q :=
else
Q := @
endif

$(O)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(FINAL_CFLAGS) -c $< -o $@

$(LIBPOLICY): $(POLICY_OBJS)
	@rm -f $@
	$(Q)ar rcs $@ $^

$(LIBPDPD): $(PDP_OBJS)
	@rm -f $@
	$(Q)ar rcs $@ $^

$(PDP): $(O)/obj/pdp/main.o $(LIBPDPD) $(LIBPOLICY) | banned
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(FINAL_LDFLAGS) -o $@ $^ $(FINAL_LIBS)

$(O)/tests/test_%: $(O)/obj/tests/unit/test_%.o $(LIBPDPD) $(LIBPOLICY)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(FINAL_LDFLAGS) -o $@ $^ $(FINAL_LIBS) -lcmocka

# haproxy-style: unbounded string functions break the build.
banned:
	@if grep -nE '\b(strcpy|strcat|sprintf|vsprintf|gets)[[:space:]]*\(' \
		$$(git ls-files '*.c' '*.h' 2>/dev/null; ls policy/*.c pdp/*.c include/pdp/*.h 2>/dev/null) \
		| grep -v '^[^:]*:[0-9]*:[[:space:]]*\*'; then \
		echo "error: banned string function (use snprintf / pdp_buf)"; exit 1; fi

# ---- dependencies -----------------------------------------------------
deps: PKGS_WANTED = $(DEB_PKGS)
deps-build: PKGS_WANTED = $(BUILD_DEB_PKGS)
deps deps-build:
	@missing=$$(for p in $(PKGS_WANTED); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; \
	done); \
	if [ -n "$$missing" ]; then \
		echo "deps: installing" $$missing; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	else echo "deps: all Debian packages present"; fi

# ---- tests --------------------------------------------------------------
# `make test` = deps, then a fresh make (so pkg-config sees the packages).
test: deps
	@$(MAKE) --no-print-directory test-run

test-run: all $(UNIT_BINS)
	@rm -rf $(RESULTS); mkdir -p $(RESULTS)
	@status=0; \
	$(MAKE) --no-print-directory unit-run || status=1; \
	for t in $(TEST_TARGETS); do $(MAKE) --no-print-directory $$t || status=1; done; \
	$(MAKE) --no-print-directory SANITIZER=address,undefined unit-run || status=1; \
	$(MAKE) --no-print-directory valgrind || status=1; \
	tests/summary.sh $(RESULTS) || status=1; \
	exit $$status

unit: $(UNIT_BINS)
unit-run: $(UNIT_BINS)
	@status=0; for t in $(UNIT_BINS); do \
		tests/run_suite.sh "unit$(if $(findstring thread,$(SANITIZER)),-tsan,$(if $(SANITIZER),-asan)):$$(basename $$t)" $$t || status=1; \
	done; exit $$status

asan:
	@$(MAKE) --no-print-directory SANITIZER=address,undefined unit-run

valgrind: $(UNIT_BINS)
	@status=0; for t in $(UNIT_BINS); do \
		tests/run_suite.sh "valgrind:$$(basename $$t)" valgrind -q --error-exitcode=99 \
			--leak-check=full --errors-for-leak-kinds=definite,indirect $$t || status=1; \
	done; exit $$status

bench: all
	@for t in $(BENCH_TARGETS); do $(MAKE) --no-print-directory $$t || exit 1; done

fuzz:
	@for t in $(FUZZ_TARGETS); do $(MAKE) --no-print-directory $$t || exit 1; done

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build build-*

-include $(shell find build* -name '*.d' 2>/dev/null)
