# tests/frames.mk - frame ports: the relay, slirp's libslirp mode and
# run-time forwards (issue 5).
if HAVE_CHECK
if HAVE_LIBSLIRP
check_PROGRAMS += tests/check_relay
tests_check_relay_SOURCES = tests/check_relay.c tests/check-main.h \
	tests/asan-vdeplug.h
tests_check_relay_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_check_relay_LDADD = libaether-core.la $(VDEPLUG_LIBS) $(CHECK_LIBS)
TESTS += tests/check_relay
unit_tests += tests/check_relay
endif
endif

TESTS += tests/slirp-libslirp-e2e.sh tests/forward-e2e.sh tests/slirp6-e2e.sh
dist_noinst_SCRIPTS += tests/slirp-libslirp-e2e.sh tests/forward-e2e.sh \
	tests/slirp6-e2e.sh

# make bench: bench/slirp-bench.sh (relay vs libslirp alone vs passt).
if HAVE_LIBSLIRP
check_PROGRAMS += bench/slirp-bench
bench_slirp_bench_SOURCES = bench/slirp-bench.c
bench_slirp_bench_CFLAGS = $(AM_CFLAGS) $(SLIRP_CFLAGS) -pthread
bench_slirp_bench_LDADD = libaether-core.la $(SLIRP_LIBS) -lpthread
endif
bench_scripts += bench/slirp-bench.sh
dist_noinst_SCRIPTS += bench/slirp-bench.sh
