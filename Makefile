# tp0 — Lotería Nacional. One non-recursive Makefile: every program's sources are found by
# wildcard, so adding a file to a folder needs no edit here.
#
#   make                 build every program into $(BUILD)/bin
#   make check           build, run the cmocka unit tests and the native integration tests
#   make check SANITIZE=1  the same, built with ASan+UBSan into build-asan/
#   make valgrind        unit tests and the integration tests under valgrind (leaks, fds)
#                        (every test binary and pytest run has a time limit: see "tests" below)
#   make e2e             docker compose end-to-end tests (needs a Docker engine);
#                        TP0_E2E_REPEAT=10 runs each merged-log order scenario 10 times (default 2)
#   make swarm-up        the lottery as the stack tp0 on a swarm (one node unless joined); swarm-down
#   make check-debian13  unit + integration tests inside Debian 13 (nng 1.10.1), via docker
#   make bench           throughput and memory benchmark, numbers for the README
#   make bench-compose   the same in docker compose (course dataset and 10x): up to the last exit
#   make mutants         the mutation campaign (tests/mutants/*.toml, tools/mutants): each
#                        mutant applied in a scratch copy, its tests run; MUTANTS_JOBS (2)
#   make fuzz            libFuzzer harnesses (tests/fuzz, built with clang into build-fuzz/),
#                        each run for FUZZ_SECONDS (60) on a copy of its seed corpus
#   make install         PREFIX=/usr/local DESTDIR=  honoured
#   make compile_commands.json   (uses bear)

PKG_CONFIG ?= pkg-config
# The first python3 that has pytest (a pyenv python3 may shadow Debian's python3-pytest).
PYTHON     ?= $(or $(shell for p in python3 /usr/bin/python3; do \
                $$p -c 'import pytest' 2>/dev/null && { command -v $$p; break; }; done),python3)
PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
CFLAGS     ?= -O2 -g
WERROR     ?= -Werror

ifeq ($(SANITIZE),1)
BUILD      ?= build-asan
SAN_FLAGS  := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
else
BUILD      ?= build
SAN_FLAGS  :=
endif

# nng ships no pkg-config file in Debian (only CMake files): fall back to the plain flags.
NNG_CFLAGS := $(shell $(PKG_CONFIG) --cflags nng 2>/dev/null)
NNG_LIBS   := $(shell $(PKG_CONFIG) --libs nng 2>/dev/null || echo -lnng) -pthread
YAML_CFLAGS := $(shell $(PKG_CONFIG) --cflags yaml-0.1)
YAML_LIBS   := $(shell $(PKG_CONFIG) --libs yaml-0.1)
INIH_CFLAGS := $(shell $(PKG_CONFIG) --cflags inih)
INIH_LIBS   := $(shell $(PKG_CONFIG) --libs inih)
ZLIB_CFLAGS := $(shell $(PKG_CONFIG) --cflags zlib)
ZLIB_LIBS   := $(shell $(PKG_CONFIG) --libs zlib)
SODIUM_CFLAGS := $(shell $(PKG_CONFIG) --cflags libsodium)
SODIUM_LIBS   := $(shell $(PKG_CONFIG) --libs libsodium)
CMOCKA_CFLAGS := $(shell $(PKG_CONFIG) --cflags cmocka 2>/dev/null)
CMOCKA_LIBS   := $(shell $(PKG_CONFIG) --libs cmocka 2>/dev/null || echo -lcmocka)

WARNINGS := -Wall -Wextra $(WERROR) -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
            -Wformat=2 -Wvla -Wpointer-arith -Wcast-qual -Wundef
ALL_CPPFLAGS := -std=c11 -D_POSIX_C_SOURCE=200809L -Ilib $(NNG_CFLAGS) $(YAML_CFLAGS) \
                $(INIH_CFLAGS) $(ZLIB_CFLAGS) $(SODIUM_CFLAGS) $(CPPFLAGS)
ALL_CFLAGS   := $(WARNINGS) $(SAN_FLAGS) -MMD -MP $(CFLAGS)
ALL_LDFLAGS  := $(SAN_FLAGS) $(LDFLAGS)
EXT_LIBS     := $(NNG_LIBS) $(YAML_LIBS) $(INIH_LIBS) $(ZLIB_LIBS) $(SODIUM_LIBS) $(LDLIBS)

PROGRAMS := supervisor acceptor storage client
TOOLS    := agency-gen

LIB_SRC  := $(wildcard lib/*.c)
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
LIB_A    := $(BUILD)/lib/libtp0.a

# Each program folder is split into its main.c and an archive of the rest, so unit tests can
# link a program's modules without its main().
# Each archive is made afresh (rm -f): ar only adds and replaces members, so the object of a
# source renamed or removed would stay in it and could be linked instead of the new one.
define program_rules
$(1)_SRC  := $$(filter-out $(1)/main.c,$$(wildcard $(1)/*.c))
$(1)_OBJ  := $$($(1)_SRC:%.c=$$(BUILD)/obj/%.o)
$(1)_A    := $$(BUILD)/lib/lib$(1).a
$$($(1)_A): $$($(1)_OBJ)
	@mkdir -p $$(@D)
	@rm -f $$@
	$$(AR) rcs $$@ $$^
$$(BUILD)/bin/$(1): $$(BUILD)/obj/$(1)/main.o $$($(1)_A) $$(LIB_A)
	@mkdir -p $$(@D)
	$$(CC) $$(ALL_LDFLAGS) -o $$@ $$^ $$(EXT_LIBS)
endef
$(foreach p,$(PROGRAMS),$(eval $(call program_rules,$(p))))

PROGRAM_ARCHIVES := $(foreach p,$(PROGRAMS),$($(p)_A))
BINARIES := $(PROGRAMS:%=$(BUILD)/bin/%) $(TOOLS:%=$(BUILD)/bin/%)

UNIT_SRC   := $(wildcard tests/unit/test_*.c)
UNIT_BINS  := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
# Fault injection for the integration tests: one LD_PRELOAD shim per tests/fault/*.c, never
# linked into a program. Built without the sanitizers: their runtime must be the first library.
FAULT_SRC  := $(wildcard tests/fault/*.c)
FAULT_LIBS := $(FAULT_SRC:tests/fault/%.c=$(BUILD)/tests/lib%.so)
# Keep the test objects: they are intermediates of a pattern rule, which make would delete.
.SECONDARY: $(UNIT_SRC:%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/tools/agency_gen.o

.PHONY: all build check check-debian13 unit integration e2e bench bench-compose valgrind install uninstall clean deps \
        fuzz fuzz-build docker-image compose-file docker-compose-up docker-compose-down \
        docker-compose-logs format swarm-up swarm-down compile_commands.json tests-build mutants
.DEFAULT_GOAL := all

all: $(BINARIES)
build: all

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) -c -o $@ $<

$(LIB_A): $(LIB_OBJ)
	@mkdir -p $(@D)
	@rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/bin/agency-gen: $(BUILD)/obj/tools/agency_gen.o $(LIB_A)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(EXT_LIBS)

$(BUILD)/obj/tests/unit/%.o: tests/unit/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CPPFLAGS) $(CMOCKA_CFLAGS) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/tests/lib%.so: tests/fault/%.c
	@mkdir -p $(@D) $(BUILD)/obj/tests/fault
	$(CC) $(ALL_CPPFLAGS) $(WARNINGS) -MMD -MP -MF $(BUILD)/obj/tests/fault/$*.d -MT $@ \
		$(CFLAGS) -fPIC -shared -o $@ $< -ldl

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(PROGRAM_ARCHIVES) $(LIB_A)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(CMOCKA_LIBS) $(EXT_LIBS)

# ---------------------------------------------------------------------------------------------
# tests
#
# Every test binary and every pytest run goes through tools/with-timeout: a hang becomes a
# failure that names what hung, instead of a CI run that never ends. Limits in seconds (0: none),
# far above a normal run (a test binary takes about a second, a few under valgrind; the
# integration tests 20 s, a few minutes under valgrind); raise one on a slow machine, e.g.
# `make valgrind VALGRIND_UNIT_TIMEOUT=600`. A pytest test still running after TEST_DUMP_AFTER
# seconds gets every thread's traceback printed (pytest's faulthandler_timeout): the name of a
# stuck test, even before the run's limit stops it.
UNIT_TIMEOUT                 ?= 60
VALGRIND_UNIT_TIMEOUT        ?= 300
INTEGRATION_TIMEOUT          ?= 480
VALGRIND_INTEGRATION_TIMEOUT ?= 1200
E2E_TIMEOUT                  ?= 1200
MUTANTS_TIMEOUT              ?= 900
TEST_DUMP_AFTER              ?= 60
VALGRIND_TEST_DUMP_AFTER     ?= 300
WITH_TIMEOUT := tools/with-timeout
PYTEST        = $(PYTHON) -m pytest -q -o faulthandler_timeout=$(1)

check: unit integration

# Everything the tests run, built but not run (tools/mutants rebuilds it after each mutation).
tests-build: $(BINARIES) $(UNIT_BINS) $(FAULT_LIBS)

MUTANTS_JOBS ?= 2
mutants:
	PYTHON=$(PYTHON) $(WITH_TIMEOUT) -n "mutation campaign" $(MUTANTS_TIMEOUT) \
		tools/mutants -j $(MUTANTS_JOBS) $(MUTANTS)

# A known leak of nng 1.5.2, not ours, in one test: see tests/unit/nng-leak.supp.
unit: $(UNIT_BINS)
	@set -e; for t in $(UNIT_BINS); do echo "== $$t"; \
		LSAN_OPTIONS=suppressions=$(abspath tests/unit/nng-leak.supp) \
		$(WITH_TIMEOUT) $(UNIT_TIMEOUT) $$t; done

# TP0_SANITIZE tells the tests that preload a shim to skip: LD_PRELOAD and ASan do not mix.
integration: $(BINARIES) $(FAULT_LIBS)
	TP0_BIN=$(abspath $(BUILD)/bin) TP0_FAULT_DIR=$(abspath $(BUILD)/tests) \
	TP0_SANITIZE=$(if $(filter 1,$(SANITIZE)),1,0) $(WITH_TIMEOUT) -n "integration tests" \
		$(INTEGRATION_TIMEOUT) $(call PYTEST,$(TEST_DUMP_AFTER)) tests/integration

VALGRIND := valgrind --quiet --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect \
            --errors-for-leak-kinds=definite,indirect --track-fds=yes --child-silent-after-fork=yes \
            --suppressions=$(abspath tests/unit/nng-leak.valgrind)
valgrind: $(UNIT_BINS) $(BINARIES)
	@set -e; for t in $(UNIT_BINS); do echo "== valgrind $$t"; \
		$(WITH_TIMEOUT) -n "valgrind $$t" $(VALGRIND_UNIT_TIMEOUT) $(VALGRIND) $$t; done
	TP0_BIN=$(abspath $(BUILD)/bin) TP0_VALGRIND=1 \
		$(WITH_TIMEOUT) -n "integration under valgrind" $(VALGRIND_INTEGRATION_TIMEOUT) \
		$(call PYTEST,$(VALGRIND_TEST_DUMP_AFTER)) tests/integration

e2e:
	$(WITH_TIMEOUT) -n "e2e tests" $(E2E_TIMEOUT) $(call PYTEST,$(TEST_DUMP_AFTER)) tests/e2e

# The same unit and integration tests on Debian 13 (nng 1.10.1, as in the images).
check-debian13:
	docker build --force-rm -f compose/test.Dockerfile -t tp0-test:trixie .

bench: $(BINARIES)
	TP0_BIN=$(abspath $(BUILD)/bin) $(PYTHON) tests/bench/bench.py

# The same in docker compose: `up` to the last agency's exit, the server container's CPU (needs
# the images: make docker-image).
bench-compose: $(BINARIES)
	$(PYTHON) tests/bench/compose_bench.py

# ---------------------------------------------------------------------------------------------
# fuzzing
#
# One libFuzzer harness per tests/fuzz/fuzz_*.c, built with clang (CLANG) and ASan + UBSan into
# $(FUZZ_BUILD)/bin, the library beside it instrumented for coverage. `make fuzz` runs each for
# FUZZ_SECONDS on a copy of tests/fuzz/corpus/<harness> (tools/run-fuzz): what it finds is kept
# in $(FUZZ_BUILD)/artifacts, and the repo's corpus grows only by hand.
CLANG        ?= clang
FUZZ_SECONDS ?= 60
FUZZ_BUILD   ?= build-fuzz
FUZZ_SAN     := address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS  := $(WARNINGS) -MMD -MP -O1 -g -fsanitize=fuzzer-no-link,$(FUZZ_SAN)
FUZZ_SRC     := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_NAMES   := $(FUZZ_SRC:tests/fuzz/%.c=%)
FUZZ_BINS    := $(FUZZ_NAMES:%=$(FUZZ_BUILD)/bin/%)
FUZZ_LIB_A   := $(FUZZ_BUILD)/lib/libtp0.a
.SECONDARY: $(FUZZ_SRC:%.c=$(FUZZ_BUILD)/obj/%.o)

$(FUZZ_BUILD)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CLANG) $(ALL_CPPFLAGS) $(FUZZ_CFLAGS) -c -o $@ $<

$(FUZZ_LIB_A): $(LIB_SRC:%.c=$(FUZZ_BUILD)/obj/%.o)
	@mkdir -p $(@D)
	@rm -f $@
	$(AR) rcs $@ $^

$(FUZZ_BUILD)/bin/%: $(FUZZ_BUILD)/obj/tests/fuzz/%.o $(FUZZ_LIB_A)
	@mkdir -p $(@D)
	$(CLANG) -fsanitize=fuzzer,$(FUZZ_SAN) $(LDFLAGS) -o $@ $^ $(EXT_LIBS)

fuzz-build: $(FUZZ_BINS)

fuzz: $(FUZZ_BINS)
	tools/run-fuzz $(FUZZ_SECONDS) $(FUZZ_BUILD) $(FUZZ_NAMES)

# ---------------------------------------------------------------------------------------------
# docker (the course's target names)
#
#   make docker-image                     build server:latest and client:latest
#   make docker-compose-up                up -d with $(COMPOSE_FILE) (written by generar-compose.sh
#                                         with AGENCIES_DEFAULT clients in CLIENT_MODE when missing
#                                         or made for other values); agency files made by
#                                         tools/prepare-data. Config files are mounted, so editing
#                                         them needs only a new `up`, never a rebuild.
#   make docker-compose-down              stop with a grace period, then remove everything
#   make docker-compose-logs              follow the logs
#   make swarm-up                         build the images, make this engine a one-node swarm if
#                                         it is in none, write $(SWARM_FILE) (generar-compose.sh
#                                         --swarm, placed by the node labels that exist) and
#                                         docker stack deploy it as stack tp0 (tools/swarm)
#   make swarm-down                       docker stack rm tp0, wait until its tasks and network
#                                         are gone, remove its volume (SWARM_KEEP_DATA=1 keeps
#                                         it), leave the swarm if swarm-up created it

COMPOSE_FILE     ?= docker-compose-dev.yaml
AGENCIES_DEFAULT ?= 5
CLIENT_MODE      ?= lottery
DOCKER_COMPOSE   ?= docker compose

docker-image:
	docker build --force-rm -f compose/server.Dockerfile -t server:latest .
	docker build --force-rm -f compose/client.Dockerfile -t client:latest .

# The compose file is written when it is missing, and written again when it was made for another
# number of agencies or another mode than asked for now (its first line says what it was made
# for), so a stale file is never reused. prepare-data is given the number of client services the
# compose file really has.
compose-file:
	@if ! head -n 1 $(COMPOSE_FILE) 2>/dev/null | \
		grep -q -- ' $(AGENCIES_DEFAULT) $(CLIENT_MODE);'; then \
		./generar-compose.sh $(COMPOSE_FILE) $(AGENCIES_DEFAULT) $(CLIENT_MODE); fi

docker-compose-up: docker-image compose-file
	@if grep -q 'CLI_MODE: "lottery"' $(COMPOSE_FILE); then \
		./tools/prepare-data $$(grep -c '^  client[0-9][0-9]*:$$' $(COMPOSE_FILE)); fi
	$(DOCKER_COMPOSE) -f $(COMPOSE_FILE) up -d

docker-compose-down:
	$(DOCKER_COMPOSE) -f $(COMPOSE_FILE) stop -t 10
	$(DOCKER_COMPOSE) -f $(COMPOSE_FILE) down --remove-orphans

docker-compose-logs:
	$(DOCKER_COMPOSE) -f $(COMPOSE_FILE) logs -f

SWARM_FILE ?= docker-stack.yaml

# Written again on every swarm-up: the node labels and the config files' hashes may have changed.
swarm-up: docker-image
	AGENCIES=$(AGENCIES_DEFAULT) MODE=$(CLIENT_MODE) SWARM_FILE=$(SWARM_FILE) tools/swarm up

swarm-down:
	tools/swarm down

# ---------------------------------------------------------------------------------------------

install: $(BINARIES)
	install -d $(DESTDIR)$(BINDIR)
	install -m 0755 $(BINARIES) $(DESTDIR)$(BINDIR)

uninstall:
	rm -f $(addprefix $(DESTDIR)$(BINDIR)/,$(PROGRAMS) $(TOOLS))

deps:
	./tools/install-deps

compile_commands.json:
	$(MAKE) clean && bear -- $(MAKE) all $(UNIT_BINS)

format:
	clang-format -i $(wildcard */*.c */*.h tests/unit/*.c)

clean:
	rm -rf build build-asan $(FUZZ_BUILD)

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
-include $(shell find $(FUZZ_BUILD)/obj -name '*.d' 2>/dev/null)
