# tests/kit.mk - the third-party plugin kit and the static build:
#  - abi/: the released ABI's baseline (libabigail XML of abi/abi-types.c
#    built against each frozen header abi/1.N/aether/plugin.h), checked by
#    tests/abi-check.sh, which also loads and drives abi/abi10.la,
#    abi/abi11.la and abi/abi12.la, plugins built against the frozen 1.0,
#    1.1 and 1.2 headers;
#    tests/abi-compat-cli.sh runs the
#    aether commands with abi10 as the backend;
#  - examples/mynet: an out-of-tree plugin, installed under $(docdir) and
#    built against a staged install by tests/example-plugin.sh;
#  - ./configure --disable-shared: the plugins are linked into aether and
#    preloaded (tests/static-build.sh, run by scripts/test).

# ---------------------------------------------------------------------
# ABI baseline and a plugin of the oldest supported ABI

EXTRA_DIST += abi/README abi/abi-1.0.xml abi/abi-types.c \
	abi/1.0/aether/plugin.h abi/abi-1.1.xml abi/1.1/aether/plugin.h \
	abi/abi-1.2.xml abi/1.2/aether/plugin.h

# Built against the frozen header only: its own CPPFLAGS replace
# AM_CPPFLAGS, so include/ is not on the path.  Never installed (-rpath
# makes libtool build a shared module, not a convenience archive).
check_LTLIBRARIES += abi/abi10.la
abi_abi10_la_SOURCES = abi/plugin-1.0.c
abi_abi10_la_CPPFLAGS = -I$(srcdir)/abi/1.0
abi_abi10_la_LDFLAGS = -module -avoid-version -shared -no-undefined \
	-rpath /nowhere

# A plugin of ABI 1.1 (the 1.1 verbs addresses and forward, the 1.0 gc),
# built against the frozen 1.1 header the same way.
check_LTLIBRARIES += abi/abi11.la
abi_abi11_la_SOURCES = abi/plugin-1.1.c
abi_abi11_la_CPPFLAGS = -I$(srcdir)/abi/1.1
abi_abi11_la_LDFLAGS = -module -avoid-version -shared -no-undefined \
	-rpath /nowhere

# A plugin of ABI 1.2 (gc_v2, validate with opt_error, a helper spec of the
# 1.2 size that hands its helper a descriptor by inheritance), built
# against the frozen 1.2 header the same way.
check_LTLIBRARIES += abi/abi12.la
abi_abi12_la_SOURCES = abi/plugin-1.2.c
abi_abi12_la_CPPFLAGS = -I$(srcdir)/abi/1.2
abi_abi12_la_LDFLAGS = -module -avoid-version -shared -no-undefined \
	-rpath /nowhere

# Runs every verb of a plugin through the core (see abi/drive.c).
check_PROGRAMS += abi/drive
abi_drive_SOURCES = abi/drive.c
abi_drive_CFLAGS = $(AM_CFLAGS) $(INIH_CFLAGS)
abi_drive_LDADD = libaether-core.la

TESTS += tests/abi-check.sh
dist_noinst_SCRIPTS += tests/abi-check.sh
# The aether commands with abi10 as the backend (a real guest, QEMU).
TESTS += tests/abi-compat-cli.sh
dist_noinst_SCRIPTS += tests/abi-compat-cli.sh

# No QEMU: run again under the sanitizers, where ASan's redzone after the
# 1.0 descriptor catches any read past it.
unit_tests += tests/abi-check.sh

# The validate verb (1.2): check-config and run refuse what a plugin would
# refuse, naming file, line and key (slirp's options; no QEMU).
TESTS += tests/plugin-validate.sh
dist_noinst_SCRIPTS += tests/plugin-validate.sh
unit_tests += tests/plugin-validate.sh

# ---------------------------------------------------------------------
# The example out-of-tree plugin, shipped with the documentation.

mynetexampledir = $(docdir)/examples/mynet
dist_mynetexample_DATA = examples/mynet/README examples/mynet/Makefile \
	examples/mynet/mynet.c

TESTS += tests/example-plugin.sh
dist_noinst_SCRIPTS += tests/example-plugin.sh

# ---------------------------------------------------------------------
# Static build (./configure --disable-shared): each plugin is a static
# libtool module linked into aether with -dlpreopen; main() registers the
# table (LTDL_SET_PRELOADED_SYMBOLS) and the loader finds a plugin by name
# when no file on the plugin path has it.  The static archives are not
# installed: a preloaded plugin needs no file.  Checked by
# tests/static-build.sh (a configure and build of its own, so it is run by
# scripts/test, not by make check).

dist_noinst_SCRIPTS += tests/static-build.sh

if PRELOADED_PLUGINS
if BUILD_PLUGIN_SLIRP
aether_LDADD += -dlpreopen plugins/slirp/slirp.la
endif
if BUILD_PLUGIN_TAP
aether_LDADD += -dlpreopen plugins/tap/tap.la
endif
if BUILD_PLUGIN_VDE
aether_LDADD += -dlpreopen plugins/vde/vde.la
endif
kit_preloaded = yes
else
kit_preloaded = no
endif

# plugindir is a data directory for automake (install-data).
install-data-hook:
	@if test "$(kit_preloaded)" = yes; then \
	  for p in $(plugin_LTLIBRARIES); do \
	    b=`basename "$$p" .la`; \
	    echo " rm -f $(DESTDIR)$(plugindir)/$$b.a $(DESTDIR)$(plugindir)/$$b.la (preloaded into aether)"; \
	    rm -f "$(DESTDIR)$(plugindir)/$$b.a" "$(DESTDIR)$(plugindir)/$$b.la"; \
	  done; \
	fi
