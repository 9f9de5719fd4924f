# tests/local.mk - check suites for the core (config, MAC, QEMU argv,
# loader), the fixture plugins the loader suite loads, and the config
# fuzzer (libFuzzer target + a standalone driver that replays the corpus).

# ---------------------------------------------------------------------
# Unit suites (libcheck, fork mode: CK_FORK=yes from AM_TESTS_ENVIRONMENT)

if HAVE_CHECK
CORE_CHECK_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(INIH_CFLAGS)
CORE_CHECK_LDADD = libaether-core.la $(CHECK_LIBS)

check_PROGRAMS += tests/check_config tests/check_mac tests/check_argv \
	tests/check_loader
TESTS += tests/check_config tests/check_mac tests/check_argv \
	tests/check_loader

tests_check_config_SOURCES = tests/check_config.c tests/check-main.h
tests_check_config_CFLAGS = $(CORE_CHECK_CFLAGS)
tests_check_config_LDADD = $(CORE_CHECK_LDADD)

tests_check_mac_SOURCES = tests/check_mac.c tests/check-main.h
tests_check_mac_CFLAGS = $(CORE_CHECK_CFLAGS)
tests_check_mac_LDADD = $(CORE_CHECK_LDADD)

tests_check_argv_SOURCES = tests/check_argv.c tests/check-main.h
tests_check_argv_CFLAGS = $(CORE_CHECK_CFLAGS)
tests_check_argv_LDADD = $(CORE_CHECK_LDADD)

# The plugins configure builds: check_loader asserts that each is found on
# AETHER_PLUGIN_PATH and loads.
LOADER_EXPECT_PLUGINS =
if BUILD_PLUGIN_SLIRP
LOADER_EXPECT_PLUGINS += slirp
endif
if BUILD_PLUGIN_TAP
LOADER_EXPECT_PLUGINS += tap
endif
if BUILD_PLUGIN_VDE
LOADER_EXPECT_PLUGINS += vde
endif
tests_check_loader_SOURCES = tests/check_loader.c tests/check-main.h
tests_check_loader_CPPFLAGS = $(AM_CPPFLAGS) \
	-DAE_EXPECT_PLUGINS='"$(LOADER_EXPECT_PLUGINS)"'
tests_check_loader_CFLAGS = $(CORE_CHECK_CFLAGS)
tests_check_loader_LDADD = $(CORE_CHECK_LDADD)
endif

# ---------------------------------------------------------------------
# Fixture plugins for check_loader: one source, one ABI rule broken per
# module (see tests/fixtures/fixture.c).  Shared modules that are never
# installed: -rpath makes libtool build a .so instead of a convenience
# archive.  check_loader finds them through AETHER_FIXTURE_PATH.

FIXTURE_LDFLAGS = -module -avoid-version -shared -no-undefined \
	-rpath /nowhere
FIXTURE_SRC = tests/fixtures/fixture.c

check_LTLIBRARIES += tests/fixtures/good.la tests/fixtures/wrongmajor.la \
	tests/fixtures/toosmall.la tests/fixtures/nosymbol.la \
	tests/fixtures/unknowncap.la tests/fixtures/reserved.la \
	tests/fixtures/badmagic.la tests/fixtures/baddefault.la \
	tests/fixtures/initfail.la tests/fixtures/initpos.la \
	tests/fixtures/mismatch.la tests/fixtures/shortsym.la

tests_fixtures_shortsym_la_SOURCES = $(FIXTURE_SRC)
tests_fixtures_shortsym_la_CPPFLAGS = $(AM_CPPFLAGS) -DFX_NAME=shortsym \
	-DFX_SHORTSYM
tests_fixtures_shortsym_la_LDFLAGS = $(FIXTURE_LDFLAGS)

tests_fixtures_good_la_SOURCES = $(FIXTURE_SRC)
tests_fixtures_good_la_CPPFLAGS = $(AM_CPPFLAGS) -DFX_NAME=good -DFX_GOOD
tests_fixtures_good_la_LDFLAGS = $(FIXTURE_LDFLAGS)

tests_fixtures_wrongmajor_la_SOURCES = $(FIXTURE_SRC)
tests_fixtures_wrongmajor_la_CPPFLAGS = $(AM_CPPFLAGS) -DFX_NAME=wrongmajor \
	-DFX_WRONGMAJOR
tests_fixtures_wrongmajor_la_LDFLAGS = $(FIXTURE_LDFLAGS)

tests_fixtures_toosmall_la_SOURCES = $(FIXTURE_SRC)
tests_fixtures_toosmall_la_CPPFLAGS = $(AM_CPPFLAGS) -DFX_NAME=toosmall \
	-DFX_TOOSMALL
tests_fixtures_toosmall_la_LDFLAGS = $(FIXTURE_LDFLAGS)

tests_fixtures_nosymbol_la_SOURCES = $(FIXTURE_SRC)
tests_fixtures_nosymbol_la_CPPFLAGS = $(AM_CPPFLAGS) -DFX_NAME=nosymbol \
	-DFX_NOSYMBOL
tests_fixtures_nosymbol_la_LDFLAGS = $(FIXTURE_LDFLAGS)

tests_fixtures_unknowncap_la_SOURCES = $(FIXTURE_SRC)
tests_fixtures_unknowncap_la_CPPFLAGS = $(AM_CPPFLAGS) -DFX_NAME=unknowncap \
	-DFX_UNKNOWNCAP
tests_fixtures_unknowncap_la_LDFLAGS = $(FIXTURE_LDFLAGS)

tests_fixtures_reserved_la_SOURCES = $(FIXTURE_SRC)
tests_fixtures_reserved_la_CPPFLAGS = $(AM_CPPFLAGS) -DFX_NAME=reserved \
	-DFX_RESERVED
tests_fixtures_reserved_la_LDFLAGS = $(FIXTURE_LDFLAGS)

tests_fixtures_badmagic_la_SOURCES = $(FIXTURE_SRC)
tests_fixtures_badmagic_la_CPPFLAGS = $(AM_CPPFLAGS) -DFX_NAME=badmagic \
	-DFX_BADMAGIC
tests_fixtures_badmagic_la_LDFLAGS = $(FIXTURE_LDFLAGS)

tests_fixtures_baddefault_la_SOURCES = $(FIXTURE_SRC)
tests_fixtures_baddefault_la_CPPFLAGS = $(AM_CPPFLAGS) -DFX_NAME=baddefault \
	-DFX_BADDEFAULT
tests_fixtures_baddefault_la_LDFLAGS = $(FIXTURE_LDFLAGS)

tests_fixtures_initfail_la_SOURCES = $(FIXTURE_SRC)
tests_fixtures_initfail_la_CPPFLAGS = $(AM_CPPFLAGS) -DFX_NAME=initfail \
	-DFX_INITFAIL
tests_fixtures_initfail_la_LDFLAGS = $(FIXTURE_LDFLAGS)

tests_fixtures_initpos_la_SOURCES = $(FIXTURE_SRC)
tests_fixtures_initpos_la_CPPFLAGS = $(AM_CPPFLAGS) -DFX_NAME=initpos \
	-DFX_INITPOS
tests_fixtures_initpos_la_LDFLAGS = $(FIXTURE_LDFLAGS)

tests_fixtures_mismatch_la_SOURCES = $(FIXTURE_SRC)
tests_fixtures_mismatch_la_CPPFLAGS = $(AM_CPPFLAGS) -DFX_NAME=mismatch \
	-DFX_MISMATCH
tests_fixtures_mismatch_la_LDFLAGS = $(FIXTURE_LDFLAGS)

# ---------------------------------------------------------------------
# Config fuzzer.  The standalone driver replays the seed corpus (and any
# reproducer dropped into it) as a normal test under any compiler.

EXTRA_DIST += tests/fuzz/corpus tests/fuzz/config.dict

check_PROGRAMS += tests/fuzz/fuzz-config-run
TESTS += tests/fuzz/fuzz-config-run
tests_fuzz_fuzz_config_run_SOURCES = tests/fuzz/standalone.c \
	tests/fuzz/fuzz-config.c
tests_fuzz_fuzz_config_run_CFLAGS = $(AM_CFLAGS) $(INIH_CFLAGS)
tests_fuzz_fuzz_config_run_LDADD = libaether-core.la

# With ./configure --enable-fuzzer CC=clang: the libFuzzer binary.  It
# compiles the core files it reaches itself, so that they carry the
# coverage instrumentation (libaether-core.la is built without it).
FUZZ_FLAGS = -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=undefined -fno-omit-frame-pointer -g
FUZZ_SECONDS = 60
FUZZ_WORKDIR = $(abs_top_builddir)/tests/fuzz/work

if FUZZER
noinst_PROGRAMS += tests/fuzz/fuzz-config
tests_fuzz_fuzz_config_SOURCES = tests/fuzz/fuzz-config.c \
	core/util.c core/conffile.c core/options.c core/vmconf.c core/mac.c \
	core/qemu-argv.c core/relay.c core/netconf.c core/addrpool.c core/store.c
tests_fuzz_fuzz_config_CFLAGS = $(AM_CFLAGS) $(INIH_CFLAGS) $(FUZZ_FLAGS)
tests_fuzz_fuzz_config_LDFLAGS = $(FUZZ_FLAGS)
tests_fuzz_fuzz_config_LDADD = $(INIH_LIBS)

# make fuzz [FUZZ_SECONDS=n]: new inputs and crash artifacts go to
# $(FUZZ_WORKDIR); the seed corpus in the source tree is only read.
fuzz: tests/fuzz/fuzz-config
	@mkdir -p $(FUZZ_WORKDIR)/corpus
	./tests/fuzz/fuzz-config -max_total_time=$(FUZZ_SECONDS) \
		-print_final_stats=1 -dict=$(srcdir)/tests/fuzz/config.dict \
		-artifact_prefix=$(FUZZ_WORKDIR)/ \
		$(FUZZ_WORKDIR)/corpus $(srcdir)/tests/fuzz/corpus
else
fuzz:
	@echo "make fuzz needs ./configure --enable-fuzzer CC=clang" >&2; exit 1
endif
.PHONY: fuzz

# The suites scripts/test runs again under ASan/UBSan.
unit_tests += tests/check_config tests/check_mac tests/check_argv \
	tests/check_loader tests/fuzz/fuzz-config-run

# ---------------------------------------------------------------------
# What aether trusts on the host: private directories made as root and
# the processes gc may kill (check_host); plugin files and directories
# (plugin-trust.sh); gc across runtime roots (gc-roots.sh).
if HAVE_CHECK
check_PROGRAMS += tests/check_host
TESTS += tests/check_host
unit_tests += tests/check_host
tests_check_host_SOURCES = tests/check_host.c tests/check-main.h
tests_check_host_CFLAGS = $(CORE_CHECK_CFLAGS)
tests_check_host_LDADD = $(CORE_CHECK_LDADD)
endif

# The control socket server (aether forward, stats): limits and timeouts,
# driven directly on a temp socket, no QEMU.
if HAVE_CHECK
check_PROGRAMS += tests/check_control
TESTS += tests/check_control
unit_tests += tests/check_control
tests_check_control_SOURCES = tests/check_control.c tests/check-main.h
tests_check_control_CFLAGS = $(CORE_CHECK_CFLAGS) -pthread
tests_check_control_LDADD = $(CORE_CHECK_LDADD) -lpthread
endif
TESTS += tests/plugin-trust.sh
dist_noinst_SCRIPTS += tests/plugin-trust.sh
TESTS += tests/gc-roots.sh
dist_noinst_SCRIPTS += tests/gc-roots.sh
# tests/lib.sh writes it: aether with the tests' --plugin-path, for root
CLEANFILES += tests/aether-as-root
