# plugins/tap/local.mk - per-VM TAP devices on a bridge (libnl-route-3).
if BUILD_PLUGIN_TAP
plugin_LTLIBRARIES += plugins/tap/tap.la
plugins_tap_tap_la_SOURCES = plugins/tap/tap.c plugins/tap/tap.h \
	plugins/tap/netlink.c plugins/tap/netlink.h \
	plugins/tap/tapname.c plugins/tap/tapname.h
plugins_tap_tap_la_CFLAGS = $(AM_CFLAGS) $(LIBNL_CFLAGS)
plugins_tap_tap_la_LIBADD = $(LIBNL_LIBS)
plugins_tap_tap_la_LDFLAGS = $(PLUGIN_LDFLAGS)

# Tests: unit + kernel tests (root, private netns) and the end-to-end boot.
if HAVE_CHECK
check_PROGRAMS += tests/check_tap
tests_check_tap_SOURCES = tests/check_tap.c plugins/tap/tapname.c
tests_check_tap_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/plugins/tap
tests_check_tap_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(LIBNL_CFLAGS)
tests_check_tap_LDADD = libaether-core.la $(LIBNL_LIBS) $(CHECK_LIBS)
TESTS += tests/check_tap
unit_tests += tests/check_tap
endif
TESTS += tests/tap-e2e.sh
dist_noinst_SCRIPTS += tests/tap-e2e.sh

# Benchmark: make bench runs bench/tap-bench.sh (private netns).
check_PROGRAMS += bench/tap-bench
bench_tap_bench_SOURCES = bench/tap-bench.c
bench_tap_bench_CFLAGS = $(AM_CFLAGS) $(LIBNL_CFLAGS)
bench_tap_bench_LDADD = libaether-core.la $(LIBNL_LIBS)
bench_scripts += bench/tap-bench.sh
dist_noinst_SCRIPTS += bench/tap-bench.sh
endif
