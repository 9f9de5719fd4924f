# core/local.mk - the launcher and the core library tests link against.
noinst_LTLIBRARIES += libaether-core.la
libaether_core_la_SOURCES = \
	core/util.c core/util.h \
	core/conffile.c core/conffile.h \
	core/options.c core/options.h \
	core/loader.c core/loader.h \
	core/helper.c core/helper.h \
	core/instance.c core/instance.h \
	core/mac.c core/mac.h \
	core/runtime.c core/runtime.h \
	core/vmconf.c core/vmconf.h \
	core/qemu-argv.c core/qemu-argv.h \
	core/qmp.c core/qmp.h \
	core/qga.c core/qga.h \
	core/ready.c core/ready.h \
	core/supervisor.c core/supervisor.h core/exitcodes.h \
	core/store.c core/store.h \
	core/lifecycle.h \
	core/vmref.c core/vmref.h \
	core/seed.c core/seed.h \
	core/vm-create.c \
	core/vm-start.c \
	core/vm-info.c \
	core/json.c core/json.h \
	core/relay.c core/relay.h \
	core/control.c core/control.h
libaether_core_la_CFLAGS = $(AM_CFLAGS) $(INIH_CFLAGS) $(JANSSON_CFLAGS)
# The host agent's config and create journal (agent/local.mk): aether
# check-config validates [agent], aether gc rolls back interrupted creates.
libaether_core_la_LIBADD = libaether-agentcore.la $(LTDL_LIBS) $(INIH_LIBS) \
	$(JANSSON_LIBS)

bin_PROGRAMS += aether
aether_SOURCES = core/main.c
aether_LDADD = libaether-core.la

