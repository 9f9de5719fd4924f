# tests/lifecycle.mk - the VM store commands (issue 6): unit suite, CLI and
# guest lifecycle, parallel start, crash torture; the start benchmark.
if HAVE_CHECK
check_PROGRAMS += tests/check_store
TESTS += tests/check_store
unit_tests += tests/check_store
tests_check_store_SOURCES = tests/check_store.c tests/check-main.h
tests_check_store_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(INIH_CFLAGS) \
	$(JANSSON_CFLAGS)
tests_check_store_LDADD = libaether-core.la $(CHECK_LIBS)
check_PROGRAMS += tests/check_ready
TESTS += tests/check_ready
unit_tests += tests/check_ready
tests_check_ready_SOURCES = tests/check_ready.c tests/check-main.h
tests_check_ready_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(INIH_CFLAGS)
tests_check_ready_LDADD = libaether-core.la $(CHECK_LIBS)
endif

LIFECYCLE_TESTS = tests/lifecycle-cli.sh tests/lifecycle-guest.sh \
	tests/parallel-start.sh tests/crash-torture.sh \
	tests/lifecycle-systemd.sh
TESTS += $(LIFECYCLE_TESTS)
dist_noinst_SCRIPTS += $(LIFECYCLE_TESTS) tests/lifecycle-lib.sh \
	tests/fake-systemd-run.sh

# make bench: the launcher's start overhead (bench/start-bench.sh).
noinst_PROGRAMS += bench/start-bench
bench_start_bench_SOURCES = bench/start-bench.c
bench_start_bench_CFLAGS = $(AM_CFLAGS) $(INIH_CFLAGS)
bench_start_bench_LDADD = libaether-core.la
bench_scripts += bench/start-bench.sh
dist_noinst_SCRIPTS += bench/start-bench.sh
