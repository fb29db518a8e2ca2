# ustack - one entry point: all, check, demo, bench, fuzz, install, clean.
#
#   make                 library, apps (build/bin/), tests
#   make SANITIZE=1      everything with ASan+UBSan (in build-san/)
#   make check           every test: unit, simulation, replay, host (root)
#   make demo            the demo in a network namespace (root)
#   make bench           throughput/latency against the kernel (root)
#   make fuzz            libFuzzer targets (clang), FUZZ_SECONDS each
#   make coverage        line/branch coverage of stack/ and drivers/
#   make install PREFIX=/usr/local
#
# Several builds can share the tree: BUILD=dir picks the output directory.

CC ?= cc
ifeq ($(CC),)
CC := cc
endif
PREFIX ?= /usr/local
SANITIZE ?= 0
COVERAGE ?= 0

# V=1 shows the commands.
ifeq ($(V),1)
Q :=
say = @true
else
Q := @
say = @printf '  %-6s %s\n' $(1) $(2)
endif

ifeq ($(SANITIZE),1)
BUILD ?= build-san
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer \
	     -fno-sanitize-recover=undefined
else ifeq ($(COVERAGE),1)
BUILD ?= build-cov
SAN_FLAGS := --coverage -O0
else
BUILD ?= build
SAN_FLAGS :=
endif

WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	-Wno-missing-field-initializers -Wformat=2 -Wvla
CFLAGS ?= -O2 -g
ALL_CFLAGS := -std=gnu11 $(CFLAGS) $(WARN) -fno-strict-aliasing $(SAN_FLAGS) \
	      -Istack/include -Istack -MMD -MP
LDFLAGS_ALL := $(SAN_FLAGS) $(LDFLAGS)

PCAP_LIBS := -lpcap
CHECK_CFLAGS := $(shell pkg-config --cflags check 2>/dev/null)
CHECK_LIBS := $(shell pkg-config --libs check 2>/dev/null || echo -lcheck -lsubunit -lm -lrt -lpthread)
LIBS := $(PCAP_LIBS) -lpthread

# ---- library: stack/ and drivers/ --------------------------------------
LIB_SRCS := $(sort $(wildcard stack/*/*.c drivers/*.c))
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
LIB := $(BUILD)/lib/libustack.a

# ---- apps: apps/lib/*.c shared, apps/<name>.c -> bin/ustack-<name> -------
APPLIB_SRCS := $(sort $(wildcard apps/lib/*.c))
APPLIB_OBJS := $(APPLIB_SRCS:%.c=$(BUILD)/obj/%.o)
APP_SRCS := $(sort $(wildcard apps/*.c))
APPS := $(patsubst apps/%.c,$(BUILD)/bin/ustack-%,$(APP_SRCS))

# ---- tests: tests/unit/check_*.c -> one Check binary each ----------------
TLIB_SRCS := $(sort $(wildcard tests/lib/*.c))
TLIB_OBJS := $(TLIB_SRCS:%.c=$(BUILD)/obj/%.o)
UNIT_SRCS := $(sort $(wildcard tests/unit/check_*.c))
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRCS))
SIM_SRCS := $(sort $(wildcard tests/sim/sim_*.c))
SIM_BINS := $(patsubst tests/sim/%.c,$(BUILD)/tests/%,$(SIM_SRCS))
BENCH_SRCS := $(sort $(wildcard tests/bench/bench_*.c))
BENCH_BINS := $(patsubst tests/bench/%.c,$(BUILD)/tests/%,$(BENCH_SRCS))

.PHONY: all lib apps tests check check-unit check-sim check-replay check-host \
	check-corpus check-install demo bench fuzz coverage install clean deps replay-record soak
.DEFAULT_GOAL := all
# Keep object files that pattern rules make on the way (no rebuilds).
.SECONDARY:

all: lib apps tests

lib: $(LIB)
apps: $(APPS)
tests: $(UNIT_BINS) $(SIM_BINS) $(BENCH_BINS)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(call say,CC,$<)
	$(Q)$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/obj/tests/%.o: tests/%.c
	@mkdir -p $(dir $@)
	$(call say,CC,$<)
	$(Q)$(CC) $(ALL_CFLAGS) $(CHECK_CFLAGS) -Itests -c -o $@ $<

$(LIB): $(LIB_OBJS)
	@mkdir -p $(dir $@)
	$(call say,AR,$@)
	$(Q)rm -f $@
	$(Q)$(AR) rcs $@ $^

# Programs link the library's objects directly (the archive is for install).
$(BUILD)/bin/ustack-%: $(BUILD)/obj/apps/%.o $(APPLIB_OBJS) $(LIB_OBJS)
	@mkdir -p $(dir $@)
	$(call say,LD,$@)
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $< $(APPLIB_OBJS) $(LIB_OBJS) $(LIBS)

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(TLIB_OBJS) $(LIB_OBJS)
	@mkdir -p $(dir $@)
	$(call say,LD,$@)
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $< $(TLIB_OBJS) $(LIB_OBJS) $(CHECK_LIBS) $(LIBS)

$(BUILD)/tests/sim_%: $(BUILD)/obj/tests/sim/sim_%.o $(TLIB_OBJS) $(LIB_OBJS)
	@mkdir -p $(dir $@)
	$(call say,LD,$@)
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $< $(TLIB_OBJS) $(LIB_OBJS) $(CHECK_LIBS) $(LIBS)

$(BUILD)/tests/bench_%: $(BUILD)/obj/tests/bench/bench_%.o $(TLIB_OBJS) $(LIB_OBJS)
	@mkdir -p $(dir $@)
	$(call say,LD,$@)
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $< $(TLIB_OBJS) $(LIB_OBJS) $(CHECK_LIBS) $(LIBS)

# ---- running ------------------------------------------------------------
# Missing Debian packages are installed first when running as root.
deps:
	@tests/tools/deps.sh

check: deps
	$(MAKE) all
	$(MAKE) check-unit check-sim check-replay check-corpus check-install
	$(MAKE) check-host

# check_corpus is the corpus run (check-corpus), not a unit suite.
check-unit: $(UNIT_BINS)
	@tests/tools/run-unit.sh $(filter-out %/check_corpus,$(UNIT_BINS))

# Simulation sizes (tests/sim/sim_tcp.c): check-sim runs the defaults (100
# seeds, 10 MiB each way, 5% loss/duplication/reordering/corruption: ~10 s);
# the sanitizer build (CI) a quarter of the seeds and sim_wrap 256 MiB. `make soak` is the long
# run: SOAK_SEEDS seeds at 5% from seed 1000, then a quarter as many at 10%.
ifeq ($(SANITIZE),1)
SIM_ENV ?= SIM_SEEDS=25 SIM_WRAP_BYTES=268435456
endif
SOAK_SEEDS ?= 2000

check-sim: $(SIM_BINS)
	@$(SIM_ENV) tests/tools/run-unit.sh $(SIM_BINS)

soak: $(SIM_BINS)
	@SIM_FIRST=1000 SIM_SEEDS=$(SOAK_SEEDS) tests/tools/run-unit.sh $(SIM_BINS)
	@SIM_FIRST=100000 SIM_SEEDS=$$(($(SOAK_SEEDS) / 4)) SIM_LOSS=100000 \
		SIM_BYTES=3000000 tests/tools/run-unit.sh $(SIM_BINS)

check-replay: apps
	@tests/tools/run-replay.sh $(BUILD)

check-corpus: apps
	+@tests/tools/run-corpus.sh $(BUILD)

# make install into a scratch prefix; build apps/hello.c with pkg-config.
check-install: lib apps
	+@tests/tools/check-install.sh $(BUILD)

check-host: apps
	@tests/host/run.sh $(BUILD)

demo: deps
	$(MAKE) apps
	@apps/demo/demo.sh $(BUILD)

bench: deps
	$(MAKE) all
	@tests/bench/run.sh $(BUILD)

FUZZ_SECONDS ?= 60
fuzz: deps
	@tests/fuzz/run.sh $(FUZZ_SECONDS)

coverage: deps
	@tests/tools/coverage.sh

replay-record: deps
	$(MAKE) apps
	@tests/replay/record.sh $(BUILD)

install: lib apps
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include/ustack \
		$(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 644 $(LIB) $(DESTDIR)$(PREFIX)/lib/
	install -m 644 stack/include/ustack/*.h $(DESTDIR)$(PREFIX)/include/ustack/
	install -m 755 $(APPS) $(DESTDIR)$(PREFIX)/bin/
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(shell sed -n 's/^#define USTACK_VERSION "\(.*\)"/\1/p' stack/include/ustack/ustack.h)|g' \
		stack/ustack.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/ustack.pc

clean:
	rm -rf build build-san build-cov build-fuzz build-*

# ---- replay, fuzzing and valgrind (owner: replay) --------------------------
# `make fuzz` runs tests/fuzz/run.sh, which builds the libFuzzer targets with
# `fuzz-build`: clang, ASan+UBSan, in $(FUZZ_BUILD)/. fuzz_regress is the
# same target code as a normal program in every build; check-replay runs it
# over tests/fuzz/regressions/.
FUZZ_CC ?= clang
FUZZ_BUILD ?= build-fuzz
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_CFLAGS := -std=gnu11 -g -O1 -fno-omit-frame-pointer \
	$(filter-out -Werror,$(WARN)) -fno-strict-aliasing $(FUZZ_SAN) \
	-Istack/include -Istack -Itests -MMD -MP
FUZZ_COMMON := tests/fuzz/harness.c tests/fuzz/targets.c
FUZZ_LIB_OBJS := $(LIB_SRCS:%.c=$(FUZZ_BUILD)/obj/%.o)
FUZZ_COMMON_OBJS := $(FUZZ_COMMON:%.c=$(FUZZ_BUILD)/obj/%.o)
FUZZ_REGRESS_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,tests/fuzz/regress.c $(FUZZ_COMMON))

# ustack-replay is apps/replay.c plus its parts in apps/replay/.
REPLAY_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(sort $(wildcard apps/replay/*.c)))
$(BUILD)/bin/ustack-replay: $(BUILD)/obj/apps/replay.o $(REPLAY_OBJS) $(APPLIB_OBJS) $(LIB_OBJS)
	@mkdir -p $(dir $@)
	$(call say,LD,$@)
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $< $(REPLAY_OBJS) $(APPLIB_OBJS) $(LIB_OBJS) $(LIBS)

.PHONY: fuzz-build valgrind
fuzz-build: $(FUZZ_BUILD)/fuzz_frame $(FUZZ_BUILD)/fuzz_seq

$(FUZZ_BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(call say,FUZZCC,$<)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

$(FUZZ_BUILD)/fuzz_%: $(FUZZ_BUILD)/obj/tests/fuzz/fuzz_%.o $(FUZZ_COMMON_OBJS) $(FUZZ_LIB_OBJS)
	$(call say,LD,$@)
	$(Q)$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ $(LIBS)

$(BUILD)/tests/fuzz_regress: $(FUZZ_REGRESS_OBJS) $(LIB_OBJS)
	@mkdir -p $(dir $@)
	$(call say,LD,$@)
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LIBS)

tests: $(BUILD)/tests/fuzz_regress
check-replay: $(BUILD)/tests/fuzz_regress
# (intermediate objects are kept by the bare .SECONDARY: at the top; naming
# some here would turn that back into "only these")

valgrind: all
	@tests/tools/valgrind.sh $(BUILD)

-include $(FUZZ_REGRESS_OBJS:.o=.d) $(FUZZ_LIB_OBJS:.o=.d) $(FUZZ_COMMON_OBJS:.o=.d) \
	$(REPLAY_OBJS:.o=.d)

-include $(LIB_OBJS:.o=.d) $(APPLIB_OBJS:.o=.d) $(TLIB_OBJS:.o=.d) \
	$(patsubst %.c,$(BUILD)/obj/%.d,$(APP_SRCS) $(UNIT_SRCS) $(SIM_SRCS) $(BENCH_SRCS))

# ---- benchmarks (owner: perf) ----------------------------------------------
# bench-callgrind: instruction counts of tests/bench/bench_tcp (two stacks
# over memlink in virtual time) under callgrind: numbers that do not wobble.
# BENCH_MB / BENCH_CONNS size the runs; BENCH_OFFLOAD=0 skips the TSO run.
.PHONY: bench-callgrind bench-tcp
bench-callgrind: $(BUILD)/tests/bench_tcp
	@tests/bench/callgrind.sh $(BUILD)

bench-tcp: $(BUILD)/tests/bench_tcp
	@$(BUILD)/tests/bench_tcp

# bench_peer is a plain kernel-socket program (the kernel side of run.sh).
$(BUILD)/tests/bench_peer: $(BUILD)/obj/tests/bench/bench_peer.o
	@mkdir -p $(dir $@)
	$(call say,LD,$@)
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $^

# bench_tcp needs only the library (not the test helpers or Check).
$(BUILD)/tests/bench_tcp: $(BUILD)/obj/tests/bench/bench_tcp.o $(LIB_OBJS)
	@mkdir -p $(dir $@)
	$(call say,LD,$@)
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LIBS)
