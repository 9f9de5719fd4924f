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
	core/control.c core/control.h \
	core/journal.c core/journal.h \
	core/agentconf.c core/agentconf.h
libaether_core_la_CFLAGS = $(AM_CFLAGS) $(INIH_CFLAGS) $(JANSSON_CFLAGS)
libaether_core_la_LIBADD = $(LTDL_LIBS) $(INIH_LIBS) $(JANSSON_LIBS)
# aether serve / remote: a program of their own, so that the launcher
# and the VM supervisors do not load librabbitmq and OpenSSL.
if BUILD_AGENT
noinst_LTLIBRARIES += libaether-agent.la
libaether_agent_la_SOURCES = core/broker.c core/broker.h \
	core/agent.c core/agent.h core/remote.c \
	core/agent-req.c core/agent-req.h
libaether_agent_la_CFLAGS = $(AM_CFLAGS) $(INIH_CFLAGS) $(AMQP_CFLAGS)
libaether_agent_la_LIBADD = libaether-core.la $(AMQP_LIBS)
pkglibexec_PROGRAMS = aether-agent
aether_agent_SOURCES = core/agent-main.c
aether_agent_LDADD = libaether-agent.la
endif

bin_PROGRAMS += aether
aether_SOURCES = core/main.c
aether_LDADD = libaether-core.la

# The host agent's system unit (aether serve); shipped, not enabled.
if BUILD_AGENT
systemdsystemunitdir = $(prefix)/lib/systemd/system
systemdsystemunit_DATA = data/systemd/aether-serve.service
endif
EXTRA_DIST += data/systemd/aether-serve.service
