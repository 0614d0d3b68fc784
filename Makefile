# schedtest: plain make, pkg-config for every library, all outputs under build/.
#
#   make            install missing Debian packages, build build/schedtest
#   make test       build and run every suite; ends with "N passed, N failed"
#   make test SANITIZE=1   the same under ASan + UBSan (outputs in build/san)
#   make demo       perf-delta catching a real scheduler regression, end to end
#   make bench      benchmarks, each figure a ratio against a same-run baseline
#   make install PREFIX=/usr/local
#   make deps       install the Debian packages the project needs (idempotent)

VERSION := $(shell git describe --always --dirty 2>/dev/null || echo 0.0.0)
PREFIX  ?= /usr/local

# Every Debian package needed at build, test or run time.  `make deps`
# installs the missing ones; keep this list the single source of truth.
DEB_PACKAGES := build-essential pkg-config git \
	liblua5.4-dev lua5.4 lua-cjson lua-busted \
	libgit2-dev libgsl-dev libreadline-dev libcmocka-dev \
	qemu-system-x86 python3 zlib1g-dev time clang \
	linux-source-6.12 dwarves clang-16 llvm-16 libelf-dev libssl-dev \
	flex bison bc cpio libzstd-dev zstd xz-utils python3-scipy chromium

PKGS      := lua5.4 libgit2 gsl readline zlib
CORE_PKGS := libgit2 gsl zlib

ifeq ($(SANITIZE),1)
BUILD    := build/san
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer \
            -fno-sanitize-recover=undefined
else
BUILD    := build
SANFLAGS :=
endif

CC      ?= cc
WARN    := -Wall -Wextra -Werror -Wshadow -Wundef -Wmissing-prototypes \
           -Wstrict-prototypes -Wpointer-arith -Wformat=2
CFLAGS  ?= -O2 -g
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE $(WARN) $(CFLAGS) $(SANFLAGS) -MMD -MP \
             -Iinclude -Isrc -DST_VERSION='"$(VERSION)"'
PKG_CFLAGS  = $(shell pkg-config --cflags $(PKGS))
PKG_LIBS    = $(shell pkg-config --libs $(PKGS))
CORE_LIBS   = $(shell pkg-config --libs $(CORE_PKGS)) -lm -lpthread
CMOCKA_LIBS = $(shell pkg-config --libs cmocka)

CORE_SRC := $(sort $(wildcard src/core/*.c))
BIND_SRC := $(sort $(wildcard src/lua/*.c))
HOST_SRC := src/main.c src/repl.c
CTEST_SRC := $(sort $(wildcard tests/c/test_*.c))

CORE_OBJ := $(CORE_SRC:%.c=$(BUILD)/obj/%.o)
BIND_OBJ := $(BIND_SRC:%.c=$(BUILD)/obj/%.o)
HOST_OBJ := $(HOST_SRC:%.c=$(BUILD)/obj/%.o)
CTEST_BIN := $(CTEST_SRC:tests/c/%.c=$(BUILD)/tests/%)

BIN      := $(BUILD)/schedtest
# The guest agent: PID 1 inside every VM, static so the initramfs needs
# nothing else (glibc's libc.a comes with build-essential).
AGENT     := $(BUILD)/schedtest-agent
# scenario.c is shared with the core: the agent reads the scenario with
# the very parser the host's writer is tested against.
AGENT_SRC := $(sort $(wildcard src/guest/*.c)) src/core/scenario.c
AGENT_HDR := $(sort $(wildcard src/guest/*.h)) include/schedtest/scenario.h
CORE_LIB := $(BUILD)/libschedtest-core.a
DEPS_STAMP := build/.deps-ok

.PHONY: all deps test test-c test-lua test-e2e bench demo install uninstall clean
.DEFAULT_GOAL := all

all: $(BIN) $(AGENT)

# ---- dependencies ---------------------------------------------------------
# The stamp depends on the Makefile, where the package list lives, so adding
# a package re-runs the check; every object waits for it (order-only).
deps:
	@DEB_PACKAGES="$(DEB_PACKAGES)" sh tools/deps.sh

$(DEPS_STAMP): Makefile tools/deps.sh
	@DEB_PACKAGES="$(DEB_PACKAGES)" sh tools/deps.sh
	@mkdir -p $(dir $@) && touch $@

# ---- build ----------------------------------------------------------------
$(BUILD)/obj/%.o: %.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	@echo "CC $<"
	@$(CC) $(ALL_CFLAGS) $(PKG_CFLAGS) -c $< -o $@

$(CORE_LIB): $(CORE_OBJ)
	@echo "AR $@"
	@rm -f $@ && ar rcs $@ $^

$(BIN): $(HOST_OBJ) $(BIND_OBJ) $(CORE_LIB)
	@echo "LD $@"
	@$(CC) $(CFLAGS) $(SANFLAGS) -o $@ $(HOST_OBJ) $(BIND_OBJ) $(CORE_LIB) \
		$(PKG_LIBS) $(CORE_LIBS)

$(AGENT): $(AGENT_SRC) $(AGENT_HDR) | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	@echo "LD $@ (static)"
	@$(CC) -static -std=gnu11 -D_GNU_SOURCE $(WARN) -O2 -g -Iinclude -Isrc \
		-o $@ $(AGENT_SRC)

# C unit tests link the core and its libraries, never Lua: that keeps the
# "core modules are plain C" boundary honest.
$(BUILD)/tests/%: tests/c/%.c $(CORE_LIB) | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	@echo "CC $<"
	@$(CC) $(ALL_CFLAGS) $(shell pkg-config --cflags $(CORE_PKGS) cmocka) \
		-o $@ $< $(CORE_LIB) $(CORE_LIBS) $(CMOCKA_LIBS)

# ---- tests ----------------------------------------------------------------
test: $(BIN) $(AGENT) $(CTEST_BIN)
	@BUILD=$(BUILD) SCHEDTEST=$(BIN) SANITIZE=$(SANITIZE) sh tests/run.sh all

test-c: $(CTEST_BIN)
	@BUILD=$(BUILD) SCHEDTEST=$(BIN) sh tests/run.sh c

test-lua: $(BIN)
	@BUILD=$(BUILD) SCHEDTEST=$(BIN) sh tests/run.sh lua

test-e2e: $(BIN) $(AGENT)
	@BUILD=$(BUILD) SCHEDTEST=$(BIN) sh tests/run.sh e2e

# The README's main command: perf-delta catching a real regression.
demo: $(BIN) $(AGENT)
	@$(BIN) demo

bench: $(BIN) $(AGENT)
	@BUILD=$(BUILD) SCHEDTEST=$(BIN) sh bench/run.sh

# ---- install --------------------------------------------------------------
# Layout: PREFIX/bin/schedtest finds PREFIX/share/schedtest/{lua,scripts}.
DATADIR = $(DESTDIR)$(PREFIX)/share/schedtest

install: $(BIN) $(AGENT)
	install -d $(DESTDIR)$(PREFIX)/bin $(DATADIR)
	install -m 755 $(BIN) $(DESTDIR)$(PREFIX)/bin/schedtest
	install -d $(DESTDIR)$(PREFIX)/lib/schedtest
	install -m 755 $(AGENT) $(DESTDIR)$(PREFIX)/lib/schedtest/schedtest-agent
	cp -R lua scripts kernel $(DATADIR)/
	find $(DATADIR) -type d -exec chmod 755 {} + -o -type f -exec chmod 644 {} +

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/schedtest
	rm -rf $(DESTDIR)$(PREFIX)/lib/schedtest
	rm -rf $(DATADIR)

clean:
	rm -rf build

-include $(CORE_OBJ:.o=.d) $(BIND_OBJ:.o=.d) $(HOST_OBJ:.o=.d)

# ---- fuzzing (not part of `make test`) -------------------------------------
# libFuzzer target for the sidecar parser and writer, built with Debian's
# clang; runs FUZZ_SECONDS (default 300) from the fixture corpus.
FUZZ_SECONDS ?= 300
FUZZ_CC      ?= clang
FUZZ_BIN     := build/fuzz/fuzz_sidecar
FUZZ_SRC     := tests/fuzz/fuzz_sidecar.c src/core/json.c src/core/sidecar.c \
                src/core/error.c src/core/fs.c

.PHONY: fuzz
$(FUZZ_BIN): $(FUZZ_SRC) include/schedtest/json.h include/schedtest/sidecar.h | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	@echo "CLANG $@"
	@$(FUZZ_CC) -std=c11 -D_GNU_SOURCE -g -O1 -Iinclude \
		-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
		-o $@ $(FUZZ_SRC) -lm -lpthread

fuzz: $(FUZZ_BIN)
	@mkdir -p build/fuzz/corpus
	@cp -n tests/fixtures/sidecars-good/*.json build/fuzz/corpus/ 2>/dev/null || true
	@for f in tests/fixtures/sidecars-bad/*/*.json; do \
		cp -n "$$f" build/fuzz/corpus/ 2>/dev/null || true; done
	$(FUZZ_BIN) -max_total_time=$(FUZZ_SECONDS) -max_len=16384 \
		-print_final_stats=1 build/fuzz/corpus
