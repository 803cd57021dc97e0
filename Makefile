# anycast-probe. `make` builds build/anycast-probe; see README.md.
PREFIX ?= /usr/local
DESTDIR ?=
CC ?= cc
PKG_CONFIG ?= pkg-config
VERSION := 0.1.0

WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wformat=2 -Werror=implicit
ifdef CI
WARN += -Werror
endif
CFLAGS ?= -O2 -g
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE -DVERSION='"$(VERSION)"' -Iinclude $(WARN) \
	$(shell $(PKG_CONFIG) --cflags ldns inih libseccomp 2>/dev/null) $(CFLAGS) $(EXTRA_CFLAGS)
LDLIBS_DEPS = $(shell $(PKG_CONFIG) --libs ldns inih libseccomp 2>/dev/null)
LDFLAGS ?=
# DNS over TLS and HTTPS (tls.c, tr_https.c)
ALL_CFLAGS += $(shell $(PKG_CONFIG) --cflags openssl libnghttp2 2>/dev/null)
LDLIBS_DEPS += $(shell $(PKG_CONFIG) --libs openssl libnghttp2 2>/dev/null)

B ?= build
SRCS := $(wildcard src/*.c)
LIB_SRCS := $(filter-out src/main.c,$(SRCS))
LIB_OBJS := $(LIB_SRCS:src/%.c=$(B)/obj/%.o)
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(B)/tests/%)
HEADERS := $(wildcard include/*.h src/*.h)

.PHONY: all check unit deps deps-build asan fuzz bench run install uninstall clean format telegraf

all: $(B)/anycast-probe

$(B)/obj/%.o: src/%.c $(HEADERS) | $(B)/obj
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(B)/libprobe.a: $(LIB_OBJS)
	rm -f $@
	ar rcs $@ $^

$(B)/anycast-probe: $(B)/obj/main.o $(B)/libprobe.a
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS_DEPS)

$(B)/tests/%: tests/unit/%.c $(B)/libprobe.a $(HEADERS) | $(B)/tests
	$(CC) $(ALL_CFLAGS) -DFIXTURES='"$(CURDIR)/tests/fixtures"' $(LDFLAGS) \
		-o $@ $< $(B)/libprobe.a $(LDLIBS_DEPS) -lcmocka

# Small programs the .t tests run (they drive one module directly).
DRIVER_SRCS := $(wildcard tests/unit/drive_*.c)
DRIVER_BINS := $(DRIVER_SRCS:tests/unit/%.c=$(B)/tests/%)
$(B)/tests/drive_%: tests/unit/drive_%.c $(B)/libprobe.a $(HEADERS) | $(B)/tests
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(B)/libprobe.a $(LDLIBS_DEPS)

$(B)/obj $(B)/tests:
	mkdir -p $@

# Installs missing Debian packages (needs root), then builds and runs every
# test. Prints one line per test and a closing "N passed, N failed" line.
check: deps telegraf
	$(MAKE) all unit
	B=$(B) tests/run-tests.sh

unit: $(UNIT_BINS) $(DRIVER_BINS)

deps:
	tests/lib/deps.sh test

deps-build:
	tests/lib/deps.sh build

# The real Telegraf (v1.39.3, a custom build with only the plugins the tests
# use) for tests/integration/telegraf-real.t and prometheus.t, built once
# into /var/cache/anycast-probe (root) or ~/.cache/anycast-probe. Needs Go
# 1.26 or later (Debian 12's is 1.19); without it the tests say they skipped
# (.ci/run sets REQUIRE_REAL_TELEGRAF=1, which turns the skip into a failure).
telegraf:
	@tests/lib/telegraf.sh build >/dev/null || { rc=$$?; [ $$rc -eq 3 ] || exit $$rc; \
		echo "make telegraf: SKIPPED: no Go 1.26+, the real-Telegraf tests will be skipped" >&2; }

asan:
	$(MAKE) B=build/asan CC=clang \
		EXTRA_CFLAGS='-O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all' \
		LDFLAGS='-fsanitize=address,undefined' all unit
	SANITIZED=1 ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		B=build/asan tests/run-tests.sh

# libFuzzer targets, one per parser: tests/fuzz/fuzz_NAME.c, seeds in
# tests/fuzz/corpus/NAME/. Each runs FUZZ_SECONDS.
FUZZ_SECONDS ?= 60
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS := $(FUZZ_SRCS:tests/fuzz/%.c=build/fuzz/%)
FUZZ_FLAGS = -std=c11 -D_GNU_SOURCE -DVERSION='"$(VERSION)"' -Iinclude -Itests/unit -g -O1 \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all

build/fuzz/%: tests/fuzz/%.c $(LIB_SRCS) $(HEADERS)
	@mkdir -p build/fuzz
	clang $(FUZZ_FLAGS) -o $@ $< $(LIB_SRCS) $(LDLIBS_DEPS)

fuzz: $(FUZZ_BINS)
	@for f in $(FUZZ_BINS); do \
		n=$${f#build/fuzz/fuzz_}; mkdir -p build/fuzz/corpus-$$n; \
		seeds=; [ -d tests/fuzz/corpus/$$n ] && seeds=tests/fuzz/corpus/$$n; \
		echo "fuzz: $$n for $(FUZZ_SECONDS) s"; \
		if ! $$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
			-artifact_prefix=build/fuzz/$$n- \
			build/fuzz/corpus-$$n $$seeds > build/fuzz/$$n.log 2>&1; then \
			tail -40 build/fuzz/$$n.log; echo "fuzz: $$n FAILED"; exit 1; \
		fi; \
		grep -E '^Done|number_of_executed_units' build/fuzz/$$n.log; \
	done

# Throughput, CPU and timing against dnsperf on the same Knot (root:
# network namespace). BENCH_SIZES="1000 10000 50000" by default; the other
# knobs are in tests/bench/bench.sh. BENCH_BASELINE=BINARY measures a second
# binary in the same run, side by side.
BENCH_BASELINE ?=
bench: deps all
	tests/bench/bench.sh $(B)/anycast-probe $(BENCH_BASELINE)

run:
	tests/lib/deps.sh demo
	$(MAKE) all
	tests/lab/demo.sh $(B)/anycast-probe

DOCDIR = $(DESTDIR)$(PREFIX)/share/doc/anycast-probe
MANDIR = $(DESTDIR)$(PREFIX)/share/man/man1

# The installed man page and Telegraf configs name the real PREFIX (the
# ones in conf/ say /usr/local, the default).
install: all
	install -D -m 0755 $(B)/anycast-probe $(DESTDIR)$(PREFIX)/bin/anycast-probe
	install -d $(MANDIR) $(DOCDIR)
	sed 's|PREFIX/|$(PREFIX)/|g' src/anycast-probe.1 >$(MANDIR)/anycast-probe.1
	chmod 0644 $(MANDIR)/anycast-probe.1
	install -m 0644 README.md LICENSE $(filter-out conf/telegraf%,$(wildcard conf/*)) $(DOCDIR)/
	for f in conf/telegraf*.conf; do \
		sed 's|/usr/local/bin/anycast-probe|$(PREFIX)/bin/anycast-probe|g' $$f \
			>$(DOCDIR)/$${f#conf/} && chmod 0644 $(DOCDIR)/$${f#conf/} || exit 1; \
	done

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/anycast-probe $(MANDIR)/anycast-probe.1
	rm -rf $(DOCDIR)

format:
	clang-format -i src/*.c include/*.h tests/unit/*.c tests/unit/*.h tests/fuzz/*.c tests/bench/*.c tests/perf/*.c

clean:
	rm -rf build

# The report hot path in instructions per line (callgrind counts them, so
# the number holds on a busy machine): 100,000 rows written as lines.
$(B)/perf/%: tests/perf/%.c $(B)/libprobe.a $(HEADERS)
	@mkdir -p $(B)/perf
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(B)/libprobe.a $(LDLIBS_DEPS)

.PHONY: perf-report
perf-report: $(B)/perf/report_lines
	$(B)/perf/report_lines 100000
	valgrind --tool=callgrind --toggle-collect='write_rows*' \
		--callgrind-out-file=$(B)/perf/callgrind.out \
		$(B)/perf/report_lines 100000 2>&1 | grep Collected

# A long run in the anycast lab while it misbehaves (root; not in check):
# a million queries or SOAK_SECONDS (default 300), RSS, descriptors and
# rows per round checked flat. tests/soak/soak.sh.
.PHONY: soak
soak: deps all
	tests/soak/soak.sh $(B)/anycast-probe
