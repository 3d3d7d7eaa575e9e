# portcullis - build, test, bench, demo, install.  `make help` lists targets.
.DELETE_ON_ERROR:
.SUFFIXES:

PREFIX    ?= /usr/local
DESTDIR   ?=
BUILD     := build
CC        ?= gcc
CLANG     ?= clang
BPFTOOL   ?= bpftool
N         ?= 1000000

PKGS      := libbpf libxdp libelf zlib jansson libmicrohttpd
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

CFLAGS    ?= -O2 -g
CFLAGS    += -Wall -Wextra -Werror -std=gnu11 -D_GNU_SOURCE -I$(BUILD) -I. $(PKG_CFLAGS) -MMD -MP
LDLIBS    += $(PKG_LIBS)

ARCH      := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
MULTIARCH := $(shell $(CC) -print-multiarch 2>/dev/null)
BPF_CFLAGS := -g -O2 -target bpf -mcpu=v3 -Wall -Werror -D__TARGET_ARCH_$(ARCH) \
	      -I. -idirafter /usr/include/$(MULTIARCH) -MMD -MP

# BPF objects: bpf/*.bpf.c (product) and tests/bench/*.bpf.c (bench helpers)
BPF_SRCS  := $(wildcard bpf/*.bpf.c)
BPF_OBJS  := $(patsubst bpf/%.bpf.c,$(BUILD)/%.bpf.o,$(BPF_SRCS))
SKELS     := $(patsubst bpf/%.bpf.c,$(BUILD)/%.skel.h,$(BPF_SRCS))
BENCH_BPF_SRCS := $(wildcard tests/bench/*.bpf.c)
BENCH_BPF_OBJS := $(patsubst tests/bench/%.bpf.c,$(BUILD)/bench/%.bpf.o,$(BENCH_BPF_SRCS))
# tests/bpf/*.bpf.c: BPF helpers of the tests, next to the test programs
TEST_BPF_SRCS := $(wildcard tests/bpf/*.bpf.c)
TEST_BPF_OBJS := $(patsubst tests/%.bpf.c,$(BUILD)/tests/%.bpf.o,$(TEST_BPF_SRCS))

LIB_SRCS  := $(wildcard loader/*.c)
LIB_OBJS  := $(patsubst %.c,$(BUILD)/%.o,$(LIB_SRCS))
LIB       := $(BUILD)/libportcullis.a
CLI_SRCS  := $(wildcard cli/*.c)
CLI_OBJS  := $(patsubst %.c,$(BUILD)/%.o,$(CLI_SRCS))
CLI       := $(BUILD)/portcullis

# tests/lib/*.c: shared test code (packet builder, reference classifier);
# every tests/{unit,bpf,bench}/*.c is one program linked with it.
TLIB_SRCS := $(wildcard tests/lib/*.c)
TLIB_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(TLIB_SRCS))
TLIB      := $(BUILD)/libpctest.a
TEST_SRCS := $(filter-out %.bpf.c,$(wildcard tests/unit/*.c tests/bpf/*.c))
TEST_BINS := $(patsubst tests/%.c,$(BUILD)/tests/%,$(TEST_SRCS))
BENCH_SRCS := $(filter-out %.bpf.c,$(wildcard tests/bench/*.c))
BENCH_BINS := $(patsubst tests/%.c,$(BUILD)/tests/%,$(BENCH_SRCS))

# the policy fuzzer (fuzz-policy below): the parser and compiler alone
POLICY_FUZZ := $(BUILD)/fuzz/policy_fuzz
POLICY_FUZZ_SRCS := tests/fuzz/policy_fuzz.c loader/policy.c loader/policy_replies.c \
	loader/policy_limits.c loader/compile.c loader/trie.c

.PHONY: all test test-kernel sanitize check-test bench fuzz fuzz-policy demo deps install uninstall clean help

all: $(CLI) $(TEST_BINS) $(BENCH_BINS) $(BENCH_BPF_OBJS) $(TEST_BPF_OBJS)

$(BUILD)/%.bpf.o: bpf/%.bpf.c
	@mkdir -p $(@D)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/bench/%.bpf.o: tests/bench/%.bpf.c
	@mkdir -p $(@D)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/tests/%.bpf.o: tests/%.bpf.c
	@mkdir -p $(@D)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/%.skel.h: $(BUILD)/%.bpf.o
	$(BPFTOOL) gen skeleton $< name $(subst -,_,$*)_bpf > $@

$(BUILD)/%.o: %.c $(SKELS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(TLIB): $(TLIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(CLI): $(CLI_OBJS) $(LIB)
	$(CC) $(CFLAGS) -o $@ $(CLI_OBJS) $(LIB) $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/tests/%.o $(TLIB) $(LIB)
	$(CC) $(CFLAGS) -o $@ $< $(TLIB) $(LIB) $(LDLIBS) -lcmocka -lpthread

# unit tests of CLI logic link the CLI objects they test
SERIES_OBJS := $(BUILD)/cli/series.o $(BUILD)/cli/counters.o
$(BUILD)/tests/unit/test_series: $(BUILD)/tests/unit/test_series.o $(SERIES_OBJS) $(TLIB) $(LIB)
	$(CC) $(CFLAGS) -o $@ $< $(SERIES_OBJS) $(TLIB) $(LIB) $(LDLIBS) -lcmocka -lpthread

test: all $(POLICY_FUZZ)
	tests/run.sh

# sanitize: the same tests with the CLI, library and test programs built
# under AddressSanitizer and UndefinedBehaviorSanitizer (in $(SAN_BUILD)/);
# any report fails the test that triggered it.
SAN_BUILD := $(BUILD)/sanitize
SAN_CC    := $(CC) -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
sanitize: all $(POLICY_FUZZ)
	$(MAKE) --no-print-directory BUILD=$(SAN_BUILD) CC="$(SAN_CC)" all
	TEST_BUILD=$(SAN_BUILD) tests/run.sh

# test-kernel: the tests where kernels differ most, again on Debian 12's
# stock kernel (Linux 6.1) booted under QEMU (KVM where the CPU allows,
# else emulated: several minutes): there the loader picks
# portcullis_compat, libxdp's dispatcher attaches, egress falls back to
# a clsact filter, and an older verifier checks the program.
# A second boot counts 64 CPUs as possible (two online), as a busy host
# does: the counter rows of every CPU read exactly, and status's memory.
KERNEL_TESTS := test_datapath fuzz_diff test_traffic test_hosts_jumbo test_lifecycle
KERNEL_CPU_TESTS := test_counters_read test_status_memory
KERNEL_POSSIBLE_CPUS := 64
test-kernel: all
	tests/kernels/run-on-kernel.sh --tcg -- env TESTS="$(KERNEL_TESTS)" tests/run.sh
	tests/kernels/run-on-kernel.sh --tcg --mem 3G --append possible_cpus=$(KERNEL_POSSIBLE_CPUS) \
		-- env TESTS="$(KERNEL_CPU_TESTS)" tests/run.sh

fuzz: all
	$(BUILD)/tests/bpf/fuzz_diff $(N)

# fuzz-policy: libFuzzer on the policy parser and compiler, under ASan and
# UBSan, for FUZZ_SECONDS, from the examples and tests/fuzz/seeds (the
# corpus grows in $(BUILD)/fuzz/corpus and is kept between runs). make test
# builds the fuzzer and runs a short fixed-seed pass (tests/fuzz/smoke.sh),
# so that its list of sources cannot fall behind the parser's again.
FUZZ_SECONDS ?= 60
$(POLICY_FUZZ): $(POLICY_FUZZ_SRCS) $(wildcard loader/*.h) bpf/abi.h
	@mkdir -p $(@D)
	$(CLANG) -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
		-std=gnu11 -D_GNU_SOURCE -Wall -Werror -I. $(POLICY_FUZZ_SRCS) -o $@
fuzz-policy: $(POLICY_FUZZ)
	@mkdir -p $(BUILD)/fuzz/corpus
	cp -n examples/*.policy tests/fuzz/seeds/*.policy $(BUILD)/fuzz/corpus/
	cd $(BUILD)/fuzz && ./policy_fuzz -max_total_time=$(FUZZ_SECONDS) -max_len=4096 \
		-timeout=10 -print_final_stats=1 corpus

bench: all
	tests/bench/run.sh

demo: deps
	$(MAKE) all
	scripts/demo.sh

deps:
	scripts/install-deps.sh

install: $(CLI)
	install -D -m 0755 $(CLI) $(DESTDIR)$(PREFIX)/sbin/portcullis
	install -d -m 0755 $(DESTDIR)$(PREFIX)/share/portcullis/examples
	install -m 0644 examples/*.policy $(DESTDIR)$(PREFIX)/share/portcullis/examples/
	@if [ -d dist ]; then $(MAKE) -s install-dist; fi

# install-dist: systemd units and the man page (called by install).
# Units go to /lib/systemd/system when PREFIX is /usr, else
# PREFIX/lib/systemd/system (systemd searches /usr/local/lib/systemd/system);
# UNITDIR overrides. @SBINDIR@ in the units becomes the installed binary's dir.
UNITDIR ?= $(if $(filter /usr,$(PREFIX)),/lib/systemd/system,$(PREFIX)/lib/systemd/system)
.PHONY: install-dist
install-dist:
	install -d -m 0755 $(DESTDIR)$(UNITDIR) $(DESTDIR)$(PREFIX)/share/man/man8
	for u in dist/*.service; do \
		sed 's|@SBINDIR@|$(PREFIX)/sbin|g' $$u > $(DESTDIR)$(UNITDIR)/$${u##*/}.tmp && \
		chmod 0644 $(DESTDIR)$(UNITDIR)/$${u##*/}.tmp && \
		mv $(DESTDIR)$(UNITDIR)/$${u##*/}.tmp $(DESTDIR)$(UNITDIR)/$${u##*/} || exit 1; \
	done
	install -m 0644 dist/portcullis.8 $(DESTDIR)$(PREFIX)/share/man/man8/portcullis.8

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/sbin/portcullis
	rm -rf $(DESTDIR)$(PREFIX)/share/portcullis

clean:
	rm -rf $(BUILD)

help:
	@echo "make            build the XDP object, skeleton, library, CLI and tests"
	@echo "make test       run unit, BPF, fuzz and system tests (root, BPF kernel)"
	@echo "make sanitize   the same tests, built with ASan and UBSan"
	@echo "make test-kernel  some of the tests on Debian 12's Linux 6.1, under QEMU"
	@echo "make fuzz N=..  differential fuzz with N frames"
	@echo "make fuzz-policy FUZZ_SECONDS=..  libFuzzer on the policy parser and compiler"
	@echo "make bench      benchmarks (docs/BENCHMARKS.md)"
	@echo "make demo       install deps, build, run the namespace lab demo"
	@echo "make deps       install the Debian packages portcullis needs"
	@echo "make install    install (PREFIX=$(PREFIX) DESTDIR=$(DESTDIR))"
	@echo "make clean      remove $(BUILD)/"

-include $(wildcard $(BUILD)/*.d $(BUILD)/*/*.d $(BUILD)/*/*/*.d $(BUILD)/*/*/*/*.d)
