.POSIX:

VERSION = 0.1.0
PREFIX = /usr/local
BINDIR = $(PREFIX)/bin
MANPREFIX = $(PREFIX)/share/man

CC = cc
# Built for size: an idle supervisor maps all of its code (the kernel maps
# a fault's neighbours too), and its size is what it costs beside each
# service.  The unwind tables are for C++ exceptions; C has none.
CFLAGS = -Os -fno-asynchronous-unwind-tables
# Our warnings live apart from CFLAGS, so that CFLAGS=... keeps them.
WARNINGS = -std=c11 -Wall -Wextra -Wpedantic -Werror -Wshadow \
	-Wstrict-prototypes -Wmissing-prototypes -Wformat=2 -Wwrite-strings \
	-Wvla -Wundef -Wcast-qual
# Feature-test macros are set here, once, for every file.
DEFS = -D_GNU_SOURCE -DVERSION='"$(VERSION)"'
# Bind every symbol at start-up, once, in the launcher: otherwise each of
# the three processes resolves the functions it calls first, writing to
# copy-on-write pages after every fork (about 4% of a launch here).  The
# table is then read-only, too.
LINK = -Wl,-z,now -Wl,-z,relro
SANITIZE = -fsanitize=address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer -g

# Everything but main(): the program, and the fuzz harnesses' library.
PARTS = options.c launch.c supervise.c control.c spawn.c creds.c ready.c \
	pidfile.c proc.c logsend.c relay.c msg.c fmt.c
SRC = main.c $(PARTS)
HDR = options.h launch.h supervise.h control.h spawn.h creds.h ready.h \
	pidfile.h proc.h logsend.h relay.h msg.h fmt.h
TESTBINS = daemonize-close-proc daemonize-close-loop daemonize-no-pidfd \
	daemonize-hooks

all: daemonize

daemonize: $(SRC) $(HDR)
	$(CC) $(WARNINGS) $(DEFS) $(CPPFLAGS) $(CFLAGS) $(LINK) $(LDFLAGS) -o $@ $(SRC)

# The same program, forced onto each close_range(2) fallback.
daemonize-close-proc: $(SRC) $(HDR)
	$(CC) $(WARNINGS) $(DEFS) -DCLOSE_FDS_FALLBACK=1 $(CPPFLAGS) $(CFLAGS) \
	    $(LINK) $(LDFLAGS) -o $@ $(SRC)

daemonize-close-loop: $(SRC) $(HDR)
	$(CC) $(WARNINGS) $(DEFS) -DCLOSE_FDS_FALLBACK=2 $(CPPFLAGS) $(CFLAGS) \
	    $(LINK) $(LDFLAGS) -o $@ $(SRC)

# The same program, without pidfds, as on kernels before 5.3.
daemonize-no-pidfd: $(SRC) $(HDR)
	$(CC) $(WARNINGS) $(DEFS) -DNO_PIDFD=1 $(CPPFLAGS) $(CFLAGS) \
	    $(LINK) $(LDFLAGS) -o $@ $(SRC)

# The same program, stopping itself where DAEMONIZE_TEST_PAUSE says.
daemonize-hooks: $(SRC) $(HDR)
	$(CC) $(WARNINGS) $(DEFS) -DTEST_HOOKS=1 $(CPPFLAGS) $(CFLAGS) \
	    $(LINK) $(LDFLAGS) -o $@ $(SRC)

# A unit test: fmt.c against the C library's printf (test/fmt.bats).
fmt-check: test/fmt-check.c fmt.c fmt.h
	$(CC) $(WARNINGS) $(DEFS) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ \
	    test/fmt-check.c fmt.c

daemonize-san: $(SRC) $(HDR)
	$(CC) $(WARNINGS) $(DEFS) $(SANITIZE) $(CPPFLAGS) $(CFLAGS) \
	    $(LINK) $(LDFLAGS) -o $@ $(SRC)

# Static builds: with musl where musl-gcc is installed, else glibc -static.
# Built for size: a static binary is for containers and small systems, and
# what an idle supervisor maps of it is all its own (no library shares it).
static: daemonize-static
STATIC = -static -Os -fno-asynchronous-unwind-tables -ffunction-sections \
	-fdata-sections -Wl,--gc-sections

daemonize-static: $(SRC) $(HDR)
	cc=$$(command -v musl-gcc || echo $(CC)); \
	$$cc $(WARNINGS) $(DEFS) $(CPPFLAGS) $(CFLAGS) $(STATIC) $(LINK) \
	    $(LDFLAGS) -o $@ $(SRC)

bench/floor: bench/floor.c
	$(CC) $(WARNINGS) $(CPPFLAGS) $(CFLAGS) $(LINK) $(LDFLAGS) -o $@ \
	    bench/floor.c

bench/floor-static: bench/floor.c
	cc=$$(command -v musl-gcc || echo $(CC)); \
	$$cc $(WARNINGS) $(CPPFLAGS) $(CFLAGS) $(LINK) $(LDFLAGS) -static \
	    -o $@ bench/floor.c

# The crash loop's worker: static, so that each restart costs no loader.
bench/crash: bench/crash.c
	cc=$$(command -v musl-gcc || echo $(CC)); \
	$$cc $(WARNINGS) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -static -o $@ \
	    bench/crash.c

bench/timer: bench/timer.c
	$(CC) $(WARNINGS) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ bench/timer.c

bench/lines: bench/lines.c
	$(CC) $(WARNINGS) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ bench/lines.c

bench/copy: bench/copy.c
	$(CC) $(WARNINGS) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ bench/copy.c

bench: daemonize daemonize-static bench/floor bench/floor-static bench/timer \
	bench/lines bench/copy bench/crash
	bench/run.sh

# The soak alone (about 2 minutes; bench/README.md), its tables printed.
soak: daemonize daemonize-static bench/crash
	bench/soak.sh

# Each test's time is printed, to keep the five runs of CI short.
BATS = BATS_TEST_TIMEOUT=60 bats --timing

check: daemonize $(TESTBINS) fmt-check
	mandoc -Tlint -W warning daemonize.1
	$(BATS) test/

# The whole suite again, against an ASan + UBSan build.
sanitize: daemonize-san $(TESTBINS) fmt-check
	ASAN_OPTIONS=abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1 \
	    DAEMONIZE="$$PWD/daemonize-san" $(BATS) test/

# daemonize, its TESTBINS and fmt-check again, all in the target's directory, for the
# suites against other builds: the tests look for the TESTBINS next to
# $DAEMONIZE.  The shell variables cc and flags give the compiler and the
# flags put after CFLAGS; the -D of each TESTBIN is the one its rule has.
BUILD_IN_DIR = mkdir -p $(@D) && for bin in daemonize $(TESTBINS); do \
	case $$bin in \
	*-close-proc) d=-DCLOSE_FDS_FALLBACK=1 ;; \
	*-close-loop) d=-DCLOSE_FDS_FALLBACK=2 ;; \
	*-no-pidfd) d=-DNO_PIDFD=1 ;; \
	*-hooks) d=-DTEST_HOOKS=1 ;; \
	*) d= ;; \
	esac; \
	$$cc $(WARNINGS) $(DEFS) $$d $(CPPFLAGS) $(CFLAGS) $$flags $(LINK) \
	    $(LDFLAGS) -o $(@D)/$$bin $(SRC) || exit 1; \
	done; \
	$$cc $(WARNINGS) $(DEFS) $(CPPFLAGS) $(CFLAGS) $$flags $(LDFLAGS) \
	    -o $(@D)/fmt-check test/fmt-check.c fmt.c

CLANG = clang

build/clang/daemonize: $(SRC) $(HDR)
	cc=$(CLANG) flags=; $(BUILD_IN_DIR)

build/static/daemonize: $(SRC) $(HDR)
	cc=$$(command -v musl-gcc || echo $(CC)) flags='$(STATIC)'; \
	    $(BUILD_IN_DIR)

# The whole suite against a clang build, and against a static one (musl
# where musl-gcc is installed).  The command-line fuzz makes its 1500 runs
# in check and sanitize; these and coverage make 300 of them, to keep CI
# short.
check-clang: build/clang/daemonize
	DAEMONIZE="$$PWD/build/clang/daemonize" FUZZ_RUNS=300 $(BATS) test/

check-static: build/static/daemonize
	DAEMONIZE="$$PWD/build/static/daemonize" FUZZ_RUNS=300 $(BATS) test/

# Line coverage of the whole suite, per C file.  Each build leaves its
# notes and counts in cov/, named after it (cov/daemonize-no-pidfd-ready.gcda),
# and every process adds its counts to them, under a lock, when it calls
# exit().  A process that leaves by _exit() or exec would write none, so
# COVERAGE=1 makes the children write theirs first (coverage_flush).
cov/daemonize: $(SRC) $(HDR)
	cc=$(CC) flags='--coverage -O0 -g -DCOVERAGE=1'; $(BUILD_IN_DIR)

# Some tests run daemonize as nobody: each build first writes its counts
# as root, under umask 0, into files that anyone may then add to.
coverage: cov/daemonize
	rm -f cov/*.gcda
	umask 0; for bin in daemonize $(TESTBINS); do \
	    cov/$$bin -V >/dev/null || exit 1; done
	rc=0; DAEMONIZE="$$PWD/cov/daemonize" DAEMONIZE_COVERAGE=1 \
	    FUZZ_RUNS=300 $(BATS) test/ || \
	    rc=$$?; gcovr -r . --object-directory cov --exclude test/ --txt; exit $$rc

# libFuzzer harnesses of test/fuzz/ (clang only), each linked with every
# C file but main.c.  The relay's longest line is 32 bytes there instead
# of 16 MiB, so that small inputs reach the cut.
FUZZ = build/fuzz/options build/fuzz/pidfile build/fuzz/notify \
	build/fuzz/relay
FUZZ_FLAGS = -g -O1 -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=all -DRELAY_LINE_MAX=32
FUZZ_BUILD = mkdir -p $(@D) && $(CLANG) $(WARNINGS) $(DEFS) $(FUZZ_FLAGS) \
	$(CPPFLAGS) -o $@ test/fuzz/$(@F).c $(PARTS)
FUZZ_SECONDS = 60

fuzz: $(FUZZ)

build/fuzz/options: test/fuzz/options.c $(PARTS) $(HDR)
	$(FUZZ_BUILD)

build/fuzz/pidfile: test/fuzz/pidfile.c $(PARTS) $(HDR)
	$(FUZZ_BUILD)

build/fuzz/notify: test/fuzz/notify.c $(PARTS) $(HDR)
	$(FUZZ_BUILD)

build/fuzz/relay: test/fuzz/relay.c $(PARTS) $(HDR)
	$(FUZZ_BUILD)

# Each harness once on each input of its committed corpus: the inputs
# that once found a defect, among others.
fuzz-check: $(FUZZ)
	for f in $(FUZZ); do $$f test/fuzz/$${f##*/}/* || exit 1; done

# Each harness for FUZZ_SECONDS, two at a time; nonzero on any finding.
fuzz-run: $(FUZZ)
	test/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ)

lint: analyze
	mandoc -Tlint -W warning daemonize.1
	shellcheck -S warning .ci/run test/helpers.bash test/relay-helpers.bash \
	    test/fuzz/run.sh bench/run.sh bench/supervise.sh bench/relay.sh \
	    bench/soak.sh \
	    examples/init.d/exampled examples/init.d/exampled-supervised \
	    examples/container/entrypoint.sh
	shellcheck -S warning test/*.bats

# Three static analyzers, each to be clean: gcc's, clang's and cppcheck.
analyze:
	for f in $(SRC); do \
	    gcc $(WARNINGS) $(DEFS) -fanalyzer -c $$f -o /dev/null || exit 1; \
	done
	for f in $(SRC); do \
	    clang --analyze -Xanalyzer -analyzer-werror $(WARNINGS) $(DEFS) \
	    $$f -o /dev/null || exit 1; \
	done
	cppcheck --quiet --enable=warning,portability --std=c11 \
	    -D_GNU_SOURCE -DVERSION='"$(VERSION)"' --error-exitcode=1 $(SRC)

install: daemonize
	mkdir -p $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANPREFIX)/man1
	cp -f daemonize $(DESTDIR)$(BINDIR)/daemonize
	chmod 0755 $(DESTDIR)$(BINDIR)/daemonize
	cp -f daemonize.1 $(DESTDIR)$(MANPREFIX)/man1/daemonize.1
	chmod 0644 $(DESTDIR)$(MANPREFIX)/man1/daemonize.1

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/daemonize \
	    $(DESTDIR)$(MANPREFIX)/man1/daemonize.1

clean:
	rm -f daemonize daemonize-san daemonize-static $(TESTBINS) fmt-check \
	    bench/floor bench/floor-static bench/timer bench/lines bench/copy \
	    bench/crash
	rm -rf build cov

.PHONY: all static bench soak check sanitize analyze check-clang check-static \
	coverage fuzz fuzz-check fuzz-run lint install uninstall clean
