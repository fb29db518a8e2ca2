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
# apps/ and drivers/ see only the public headers (tests/tools/check-layers.sh
# holds the rest of the layering).
PUB_CFLAGS := $(filter-out -Istack,$(ALL_CFLAGS))
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
	check-corpus check-install check-examples demo bench fuzz coverage install clean deps replay-record soak
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

$(BUILD)/obj/apps/%.o: apps/%.c
	@mkdir -p $(dir $@)
	$(call say,CC,$<)
	$(Q)$(CC) $(PUB_CFLAGS) -c -o $@ $<

$(BUILD)/obj/drivers/%.o: drivers/%.c
	@mkdir -p $(dir $@)
	$(call say,CC,$<)
	$(Q)$(CC) $(PUB_CFLAGS) -c -o $@ $<

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
	$(MAKE) check-unit check-sim check-replay check-corpus check-install check-examples check-draw
	$(MAKE) check-layers
	$(MAKE) check-host

# The layering rules of docs/architecture.md, and a test that the check
# fails on planted violations.
.PHONY: check-layers
check-layers:
	@tests/tools/check-layers.sh
	@tests/tools/check-layers-selftest.sh

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

# The no-root example (apps/loopback.c) runs, and twice gives one capture.
check-examples: apps
	@tests/tools/check-loopback.sh $(BUILD)

check-host: apps
	@tests/host/run.sh $(BUILD)

demo: deps
	$(MAKE) apps
	@apps/demo/demo.sh $(BUILD)

bench: deps
	$(MAKE) all
	@tests/bench/run.sh $(BUILD)
	@tests/preload/bench.sh $(BUILD)

FUZZ_SECONDS ?= 60
fuzz: deps
	@tests/fuzz/run.sh $(FUZZ_SECONDS)

# fuzz-long: each target FUZZ_LONG_SECONDS (default 3 h), its corpus kept
# between runs in FUZZ_CORPUS (default tests/fuzz/corpus-long, ignored by
# git); prints the executions of each target at the end.
FUZZ_LONG_SECONDS ?= 10800
FUZZ_CORPUS ?= tests/fuzz/corpus-long
.PHONY: fuzz-long
fuzz-long: deps
	@FUZZ_CORPUS=$(FUZZ_CORPUS) tests/fuzz/run.sh $(FUZZ_LONG_SECONDS)

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
FUZZ_COMMON := tests/fuzz/harness.c tests/fuzz/targets.c tests/fuzz/api.c
FUZZ_LIB_OBJS := $(LIB_SRCS:%.c=$(FUZZ_BUILD)/obj/%.o)
FUZZ_COMMON_OBJS := $(FUZZ_COMMON:%.c=$(FUZZ_BUILD)/obj/%.o)
FUZZ_REGRESS_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,tests/fuzz/regress.c $(FUZZ_COMMON))

# ustack-replay is apps/replay.c plus its parts in apps/replay/.
REPLAY_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(sort $(wildcard apps/replay/*.c)))
$(BUILD)/bin/ustack-replay: $(BUILD)/obj/apps/replay.o $(REPLAY_OBJS) $(APPLIB_OBJS) $(LIB_OBJS)
	@mkdir -p $(dir $@)
	$(call say,LD,$@)
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $< $(REPLAY_OBJS) $(APPLIB_OBJS) $(LIB_OBJS) $(LIBS)

# ustack-httpd is apps/httpd.c plus its parts in apps/httpd/; the live page
# (apps/httpd/live.html) becomes a C string at build time.
HTTPD_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(sort $(wildcard apps/httpd/*.c))) \
	$(BUILD)/obj/gen/httpd_live.o
$(BUILD)/gen/httpd_live.c: apps/httpd/live.html
	@mkdir -p $(dir $@)
	$(call say,GEN,$@)
	$(Q){ echo 'extern const char httpd_live_html[];'; \
	  echo 'const char httpd_live_html[] ='; \
	  sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/"/' -e 's/$$/\\n"/' $<; \
	  echo ';'; } >$@
$(BUILD)/obj/gen/httpd_live.o: $(BUILD)/gen/httpd_live.c
	@mkdir -p $(dir $@)
	$(call say,CC,$<)
	$(Q)$(CC) $(ALL_CFLAGS) -c -o $@ $<
$(BUILD)/bin/ustack-httpd: $(BUILD)/obj/apps/httpd.o $(HTTPD_OBJS) $(APPLIB_OBJS) $(LIB_OBJS)
	@mkdir -p $(dir $@)
	$(call say,LD,$@)
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $< $(HTTPD_OBJS) $(APPLIB_OBJS) $(LIB_OBJS) $(LIBS)
-include $(HTTPD_OBJS:.o=.d)
# ustack-draw is apps/draw.c plus its parts in apps/draw/ (owner: draw).
DRAW_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(sort $(wildcard apps/draw/*.c)))
$(BUILD)/bin/ustack-draw: $(BUILD)/obj/apps/draw.o $(DRAW_OBJS) $(APPLIB_OBJS) $(LIB_OBJS)
	@mkdir -p $(dir $@)
	$(call say,LD,$@)
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $< $(DRAW_OBJS) $(APPLIB_OBJS) $(LIB_OBJS) $(LIBS) -lm
-include $(DRAW_OBJS:.o=.d)

# draw_mkcap: captures and traces for tests/draw/run.sh, no root needed.
$(BUILD)/tests/draw_mkcap: $(BUILD)/obj/tests/draw/mkcap.o $(LIB_OBJS)
	@mkdir -p $(dir $@)
	$(call say,LD,$@)
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LIBS)
-include $(BUILD)/obj/tests/draw/mkcap.d
tests: $(BUILD)/tests/draw_mkcap

# check-draw: ustack-draw's pictures (tests/draw/run.sh); draw-golden
# rewrites its golden files and docs/img/tcp-states.* (look at them first).
.PHONY: check-draw draw-golden
check-draw: $(BUILD)/bin/ustack-draw $(BUILD)/tests/draw_mkcap
	@tests/draw/run.sh $(BUILD)

draw-golden: $(BUILD)/bin/ustack-draw $(BUILD)/tests/draw_mkcap
	@DRAW_GOLDEN=1 tests/draw/run.sh $(BUILD)

.PHONY: fuzz-build valgrind
fuzz-build: $(FUZZ_BUILD)/fuzz_frame $(FUZZ_BUILD)/fuzz_seq $(FUZZ_BUILD)/fuzz_api

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

# bench_synflood too (SYN flooder and connect timer of run.sh's flood row).
$(BUILD)/tests/bench_synflood: $(BUILD)/obj/tests/bench/bench_synflood.o
	@mkdir -p $(dir $@)
	$(call say,LD,$@)
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $^

# bench_syn: the stack's cost per SYN-flood frame (the library and the
# tests' frame builders, tests/lib/pkt.c; no Check).
$(BUILD)/tests/bench_syn: $(BUILD)/obj/tests/bench/bench_syn.o \
		$(BUILD)/obj/tests/lib/pkt.o $(LIB_OBJS)
	@mkdir -p $(dir $@)
	$(call say,LD,$@)
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LIBS)

# bench_tcp needs only the library (not the test helpers or Check).
$(BUILD)/tests/bench_tcp: $(BUILD)/obj/tests/bench/bench_tcp.o $(LIB_OBJS)
	@mkdir -p $(dir $@)
	$(call say,LD,$@)
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LIBS)

# ---- preload: libustack-preload.so and ustack-run (owner: preload) ---------
# The library puts an unmodified program's IPv4 sockets on a ustack inside
# the process (docs/preload.md). It is linked from position-independent
# copies of the stack, the drivers and apps/lib (obj-pic/), without the
# sanitizer and coverage flags (a preloaded library can not bring its own
# ASan runtime), with every symbol hidden except the libc calls it
# replaces. `make check-programs` runs the long program tests.
PRELOAD_SRCS := $(sort $(wildcard preload/*.c))
PRELOAD_APPLIB := apps/lib/app.c apps/lib/ctl.c apps/lib/report.c \
	apps/lib/fault.c apps/lib/signals.c
PRELOAD_PIC_OBJS := $(patsubst %.c,$(BUILD)/obj-pic/%.o,$(LIB_SRCS) \
	$(PRELOAD_APPLIB) $(PRELOAD_SRCS))
PRELOAD_LIB := $(BUILD)/lib/libustack-preload.so
PIC_CFLAGS := $(filter-out $(SAN_FLAGS),$(ALL_CFLAGS)) -fPIC -fvisibility=hidden

.PHONY: preload check-programs
preload: $(PRELOAD_LIB)
all: preload
apps: $(PRELOAD_LIB)

$(BUILD)/obj-pic/%.o: %.c
	@mkdir -p $(dir $@)
	$(call say,PICCC,$<)
	$(Q)$(CC) $(PIC_CFLAGS) -c -o $@ $<

$(PRELOAD_LIB): $(PRELOAD_PIC_OBJS)
	@mkdir -p $(dir $@)
	$(call say,LD,$@)
	$(Q)$(CC) -shared -Wl,--no-undefined -Wl,-z,defs -o $@ $^ $(LDFLAGS) \
		$(PCAP_LIBS) -ldl -lpthread

install: install-preload
.PHONY: install-preload
install-preload: $(PRELOAD_LIB)
	install -d $(DESTDIR)$(PREFIX)/lib
	install -m 755 $(PRELOAD_LIB) $(DESTDIR)$(PREFIX)/lib/

# A plain Linux program (no ustack headers) that test_preload_mixed runs
# under ustack-run; built without sanitizers like the library it loads
# (an ASan program must have its runtime before any preloaded library).
tests: $(BUILD)/tests/preload_mixed
$(BUILD)/tests/preload_mixed: tests/preload/mixed.c
	@mkdir -p $(dir $@)
	$(call say,CCLD,$@)
	$(Q)$(CC) $(filter-out $(SAN_FLAGS) -MMD -MP,$(ALL_CFLAGS)) $(LDFLAGS) -o $@ $< -lpthread

# The long runs (redis, nginx, iperf3, ...): tests/host/test_preload_prog_*,
# which skip themselves unless USTACK_LONG=1.
check-programs: apps
	@USTACK_LONG=1 tests/host/run.sh $(BUILD) $(patsubst tests/host/%.sh,%,$(wildcard tests/host/test_preload_prog_*.sh))

# Programs on ustack against the same programs on the kernel (root).
.PHONY: bench-preload
bench-preload: apps
	@tests/preload/bench.sh $(BUILD)

-include $(PRELOAD_PIC_OBJS:.o=.d)
