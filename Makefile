# coapsim: GNU Make build.
#   make          build build/coapsim
#   make test     unit + scenario tests (Criterion) and golden outputs, installs missing deps first
#   make golden   rewrite tests/golden/*.sha256 (a deliberate change of results)
#   make keys-doc rewrite the key tables of docs/scenario.md from coapsim keys --markdown
#   make test-nohints  the golden outputs on a build without the speed tricks
#   make test-heap     engine tests and golden outputs on the plain heap (SCHED=heap)
#   make demo     run scenarios/coap-vs-mqtt.ini
#   make asan     build and run the tests under AddressSanitizer + UBSan
#   make fuzz     libFuzzer targets (FUZZ_SECONDS each, default 60)
#   make bench    benchmarks (exchanges per wall second, peak memory)
#   make validate coapsim against libcoap, paho and mosquitto over coapsim link (root, ~30 min)
#   make deps     install the Debian packages the project uses (as root)

CC      ?= cc
CSTD    := -std=c11 -D_GNU_SOURCE
WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
# Link-time optimisation lets the per-packet calls across modules (random
# draws, timer arming, codec helpers) inline: 7% fewer instructions a run.
# -O3 over -O2: 1.9% fewer instructions (callgrind, 10k endpoints x 10 min),
# and results identical (no -ffast-math: floating point is not reordered).
OPT     ?= -O3 -g -flto=auto
# gcc-ar: archives of LTO objects need the plugin (plain objects are fine too).
ifneq ($(shell command -v gcc-ar),)
AR      := gcc-ar
endif
# Open MPI (sweeps spread over a cluster: sim/cluster) is built in when it is
# installed (libopenmpi-dev); only a run started by mpirun or srun
# initialises it, so a plain run pays nothing for it.
MPI     ?= $(shell command -v mpicc >/dev/null 2>&1 && echo yes || echo no)
ifeq ($(MPI),yes)
MPI_CFLAGS := -DCOAPSIM_MPI $(shell mpicc --showme:compile)
MPI_LIBS   := $(shell mpicc --showme:link)
endif
CFLAGS  += $(CSTD) $(WARN) $(OPT) $(MPI_CFLAGS) -MMD -MP
LDLIBS  = $(LDLIBS_NS3) $(MPI_LIBS) -lpcap -linih -ljansson -lmbedtls -lmbedx509 -lmbedcrypto \
          -lpthread -lm

BUILD   ?= build
# The event queue: the timing wheel (sim/engine/engine.c), or with
# SCHED=heap a plain binary heap (sim/engine/engine_heap.c) with the same
# semantics, which the tests and golden outputs check the wheel against.
SCHED   ?= wheel
ifeq ($(SCHED),heap)
SCHED_OUT := sim/engine/engine.c
CFLAGS  += -DSIM_SCHED_HEAP
else
SCHED_OUT := sim/engine/engine_heap.c
endif
SRCS    := $(shell find sim -name '*.c' ! -path 'sim/cli/main.c' ! -path 'sim/ns3/*' \
             ! -path '$(SCHED_OUT)' | sort)
OBJS    := $(SRCS:%.c=$(BUILD)/obj/%.o)

# The ns-3 backend (sim/ns3/ns3.cc) is built when Debian's ns-3 is installed
# (libns3-dev; its pkg-config files are broken in 3.37, so the libraries are
# listed here).  Without it, sim/ns3/ns3_absent.c says so at run time.
NS3     ?= $(shell test -f /usr/include/ns3/core-module.h && echo yes || echo no)
NS3_LIBS := -lns3-lr-wpan -lns3-sixlowpan -lns3-spectrum -lns3-propagation -lns3-antenna \
            -lns3-mobility -lns3-csma -lns3-point-to-point -lns3-internet -lns3-bridge \
            -lns3-traffic-control -lns3-network -lns3-stats -lns3-core
CXX     ?= c++
CXXFLAGS += -std=c++17 $(OPT) -Wall -Wextra -Werror -MMD -MP
ifeq ($(NS3),yes)
OBJS    += $(BUILD)/obj/sim/ns3/ns3.o
LINK    := $(CXX)
LDLIBS_NS3 := $(NS3_LIBS)
else
OBJS    += $(BUILD)/obj/sim/ns3/ns3_absent.o
LINK    := $(CC)
endif
MAIN    := $(BUILD)/obj/sim/cli/main.o
TSRCS   := $(sort $(wildcard tests/test_*.c))
TOBJS   := $(TSRCS:%.c=$(BUILD)/obj/%.o)
LIB     := $(BUILD)/libcoapsim.a
BIN     := $(BUILD)/coapsim
TESTBIN := $(BUILD)/unit_tests

# Debian packages: header or tool each one provides.
DEB_PKGS := libpcap-dev libinih-dev librandom123-dev libcriterion-dev libjansson-dev \
            gnuplot-nox tshark pkg-config clang libclang-rt-14-dev valgrind time \
            libxml2-utils libns3-dev libgsl-dev libcoap3-bin mosquitto iproute2 \
            python3-paho-mqtt libopenmpi-dev openmpi-bin libmbedtls-dev
DEPS_OK  := $(shell test -f /usr/include/pcap/pcap.h && test -f /usr/include/ini.h && \
              test -f /usr/include/Random123/philox.h && test -f /usr/include/criterion/criterion.h && \
              test -f /usr/include/jansson.h && test -f /usr/include/mbedtls/ssl.h && \
              command -v tshark >/dev/null && \
              command -v gnuplot >/dev/null && command -v xmllint >/dev/null && \
              command -v coap-server-notls >/dev/null && command -v mosquitto >/dev/null && \
              test -f /usr/include/ns3/core-module.h && command -v mpicc >/dev/null && echo yes)

.PHONY: all test demo asan fuzz bench validate validate-short deps clean check-deps format golden test-nohints \
        test-heap \
        keys-doc

all: $(BIN)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/obj/%.o: %.cc
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -c $< -o $@

$(LIB): $(OBJS)
	@rm -f $@
	$(AR) rcs $@ $^

$(BIN): $(MAIN) $(LIB)
	$(LINK) $(OPT) $(LDFLAGS) $^ -o $@ $(LDLIBS)

$(TESTBIN): $(TOBJS) $(LIB)
	$(LINK) $(OPT) $(LDFLAGS) $^ -o $@ $(LDLIBS) -lcriterion

check-deps:
ifneq ($(DEPS_OK),yes)
	@$(MAKE) --no-print-directory deps
endif

deps:
	@if [ "$$(id -u)" = 0 ]; then \
	  echo "Installing Debian packages: $(DEB_PKGS)"; \
	  apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(DEB_PKGS) >/dev/null; \
	else \
	  echo "coapsim needs Debian packages; run as root:"; \
	  echo "  sudo apt-get install -y $(DEB_PKGS)"; exit 1; \
	fi

# The test command CI runs (see README).  TEST_JOBS limits Criterion workers.
test: check-deps
	@$(MAKE) --no-print-directory $(BIN) $(TESTBIN)
	COAPSIM=$(abspath $(BIN)) $(TESTBIN) --jobs $${TEST_JOBS:-2}
	$(BIN) check scenarios/regress --quiet --out $(BUILD)/regress --junit $(BUILD)/regress-junit.xml
	COAPSIM=$(abspath $(BIN)) tests/golden.sh check
	@$(MAKE) --no-print-directory test-nohints test-heap

# The speed tricks change speed only: a build without them (prefetches,
# the engine's hints and deferred arming, non-temporal stores: sim/core/hw.h)
# must give the same golden outputs.  It also has the debug checks
# (SIM_CHECKS: no random stream taken twice, identities against slots).
# make test runs it.
test-nohints: check-deps
	@$(MAKE) --no-print-directory BUILD=build/nohints OPT="-O2 -g -DSIM_NO_HINTS -DSIM_CHECKS" NS3=no \
	  build/nohints/coapsim
	COAPSIM=$(abspath build/nohints/coapsim) tests/golden.sh check

# The plain heap scheduler: the engine's tests and the golden outputs must
# come out as with the wheel.  make test runs it.
test-heap: check-deps
	@$(MAKE) --no-print-directory BUILD=build/heap SCHED=heap OPT="-O2 -g" NS3=no \
	  build/heap/coapsim build/heap/engine_tests
	build/heap/engine_tests
	COAPSIM=$(abspath build/heap/coapsim) tests/golden.sh check

# tests/test_engine.c alone, against this build's scheduler.
$(BUILD)/engine_tests: $(BUILD)/obj/tests/test_engine.o $(LIB)
	$(LINK) $(OPT) $(LDFLAGS) $^ -o $@ $(LDLIBS) -lcriterion

# Rewrite tests/golden/*.sha256 from this build: a deliberate change of
# results, to be explained in its commit.
golden: check-deps
	@$(MAKE) --no-print-directory $(BIN)
	COAPSIM=$(abspath $(BIN)) tests/golden.sh update

# docs/scenario.md's key tables are generated (tests/test_keys.c checks them).
keys-doc:
	@$(MAKE) --no-print-directory $(BIN)
	COAPSIM=$(abspath $(BIN)) tests/keys_doc.sh

demo: check-deps
	@$(MAKE) --no-print-directory $(BIN)
	$(BIN) run scenarios/coap-vs-mqtt.ini

asan: check-deps
	@$(MAKE) --no-print-directory BUILD=build/asan CC=clang CXX=clang++ \
	  OPT="-O1 -g -DSIM_CHECKS -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
	  LDFLAGS="-fsanitize=address,undefined" build/asan/coapsim build/asan/unit_tests
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  COAPSIM=$(abspath build/asan/coapsim) build/asan/unit_tests --jobs 1

FUZZ_SECONDS ?= 60
FUZZ_TARGETS := $(patsubst tests/fuzz/%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
fuzz: check-deps
	@$(MAKE) --no-print-directory BUILD=build/fuzz CC=clang NS3=no \
	  OPT="-O1 -g -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all" build/fuzz/libcoapsim.a
	@for t in $(FUZZ_TARGETS); do \
	  clang $(CSTD) $(WARN) -O1 -g -fsanitize=fuzzer,address,undefined tests/fuzz/$$t.c \
	    build/fuzz/libcoapsim.a -o build/fuzz/$$t $(LDLIBS) || exit 1; \
	  mkdir -p build/fuzz/corpus-$$t; \
	  seeds=; [ -d tests/fuzz/seeds/$$t ] && seeds=tests/fuzz/seeds/$$t; \
	  echo "== $$t for $(FUZZ_SECONDS)s"; \
	  build/fuzz/$$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	    build/fuzz/corpus-$$t $$seeds || exit 1; \
	done

bench: check-deps
	@$(MAKE) --no-print-directory $(BIN)
	tests/bench/run.sh

# coapsim against real stacks over coapsim link (root; real time, about
# 30 minutes; not part of make test): (a) libcoap, (b) paho and mosquitto.
# validate-short is the CI-sized version (one loss rate each, ~3 minutes).
validate: check-deps
	@$(MAKE) --no-print-directory $(BIN)
	@/usr/bin/python3 -c 'import paho.mqtt.client' 2>/dev/null || $(MAKE) --no-print-directory deps
	tests/validate/run.sh
	tests/validate/mqtt.sh

validate-short: check-deps
	@$(MAKE) --no-print-directory $(BIN)
	@/usr/bin/python3 -c 'import paho.mqtt.client' 2>/dev/null || $(MAKE) --no-print-directory deps
	VALIDATE_N=200 VALIDATE_BATCH=100 VALIDATE_LOSSES=10% tests/validate/run.sh
	VALIDATE_MQTT_N=120 VALIDATE_MQTT_POINTS=100ms:5% VALIDATE_MQTT_DRAIN=60 tests/validate/mqtt.sh

format:
	clang-format -i $$(find sim tests -name '*.[ch]')

clean:
	rm -rf build

-include $(OBJS:.o=.d) $(MAIN:.o=.d) $(TOBJS:.o=.d)
