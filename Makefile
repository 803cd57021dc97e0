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
	$(shell $(PKG_CONFIG) --cflags ldns inih 2>/dev/null) $(CFLAGS) $(EXTRA_CFLAGS)
LDLIBS_DEPS = $(shell $(PKG_CONFIG) --libs ldns inih 2>/dev/null)
LDFLAGS ?=

B ?= build
SRCS := $(wildcard src/*.c)
LIB_SRCS := $(filter-out src/main.c,$(SRCS))
LIB_OBJS := $(LIB_SRCS:src/%.c=$(B)/obj/%.o)
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(B)/tests/%)
HEADERS := $(wildcard include/*.h)

.PHONY: all check unit deps asan fuzz bench run install uninstall clean format

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

$(B)/obj $(B)/tests:
	mkdir -p $@

# Installs missing Debian packages (needs root), then builds and runs every
# test. Prints one line per test and a closing "N passed, N failed" line.
check: deps
	$(MAKE) all unit
	B=$(B) tests/run-tests.sh

unit: $(UNIT_BINS)

deps:
	tests/lib/deps.sh

asan:
	$(MAKE) B=build/asan CC=clang \
		EXTRA_CFLAGS='-O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all' \
		LDFLAGS='-fsanitize=address,undefined' all unit
	B=build/asan tests/run-tests.sh

run: deps all
	tests/lab/demo.sh $(B)/anycast-probe

DOCDIR = $(DESTDIR)$(PREFIX)/share/doc/anycast-probe
MANDIR = $(DESTDIR)$(PREFIX)/share/man/man1

install: all
	install -D -m 0755 $(B)/anycast-probe $(DESTDIR)$(PREFIX)/bin/anycast-probe
	install -D -m 0644 src/anycast-probe.1 $(MANDIR)/anycast-probe.1
	install -d $(DOCDIR)
	install -m 0644 README.md LICENSE $(wildcard conf/*) $(DOCDIR)/

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/anycast-probe $(MANDIR)/anycast-probe.1
	rm -rf $(DOCDIR)

format:
	clang-format -i src/*.c include/*.h tests/unit/*.c

clean:
	rm -rf build
