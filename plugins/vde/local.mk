# plugins/vde/local.mk - the VDE backend (user-mode switching with a managed
# vde_switch), its tests, benchmark and systemd user unit.

EXTRA_DIST += data/systemd/aether-vde.service \
	tests/vde-e2e.sh tests/vde-fake-systemctl.sh bench/vde-bench.sh

if BUILD_PLUGIN_VDE
plugin_LTLIBRARIES += plugins/vde/vde.la
plugins_vde_vde_la_SOURCES = plugins/vde/vde.c plugins/vde/vde.h \
	plugins/vde/switch.c plugins/vde/switch.h
plugins_vde_vde_la_CFLAGS = $(AM_CFLAGS) -pthread
plugins_vde_vde_la_LDFLAGS = $(PLUGIN_LDFLAGS) -pthread
plugins_vde_vde_la_LIBADD = $(VDEPLUG_LIBS)

# The systemd user unit that runs the managed switch (systemd = yes).
systemduserunitdir = $(prefix)/lib/systemd/user
systemduserunit_DATA = data/systemd/aether-vde.service

if HAVE_CHECK
check_PROGRAMS += tests/check_vde
tests_check_vde_SOURCES = tests/check_vde.c tests/asan-vdeplug.h
tests_check_vde_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) -Wno-format-truncation
tests_check_vde_LDADD = libaether-core.la $(VDEPLUG_LIBS) $(CHECK_LIBS)
TESTS += tests/check_vde
unit_tests += tests/check_vde
endif

TESTS += tests/vde-e2e.sh

# make bench: attach latency (cold/warm switch) and frame rates.
check_PROGRAMS += bench/vde-bench
bench_vde_bench_SOURCES = bench/vde-bench.c
bench_vde_bench_LDADD = libaether-core.la $(VDEPLUG_LIBS)
bench_scripts += bench/vde-bench.sh
endif
