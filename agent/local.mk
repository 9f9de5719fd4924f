# agent/local.mk - the host agent: aether serve / remote (aether-agent).

# Its config ([amqp], [agent]) and create journal, also linked into aether
# (libaether-core.la): aether check-config validates [agent], aether gc
# rolls back interrupted creates.  No broker library here.
noinst_LTLIBRARIES += libaether-agentcore.la
libaether_agentcore_la_SOURCES = \
	agent/journal.c agent/journal.h \
	agent/agentconf.c agent/agentconf.h
libaether_agentcore_la_CFLAGS = $(AM_CFLAGS) $(INIH_CFLAGS)

# aether serve / remote: a program of their own, so that the launcher
# and the VM supervisors do not load librabbitmq and OpenSSL.
if BUILD_AGENT
noinst_LTLIBRARIES += libaether-agent.la
libaether_agent_la_SOURCES = agent/broker.c agent/broker.h \
	agent/agent.c agent/agent.h agent/serve.h \
	agent/serve-conn.c agent/serve-dispatch.c agent/serve-create.c \
	agent/serve-jobs.c agent/serve-reply.c agent/serve-fleet.c \
	agent/remote.c \
	agent/agent-req.c agent/agent-req.h
libaether_agent_la_CFLAGS = $(AM_CFLAGS) $(INIH_CFLAGS) $(AMQP_CFLAGS)
libaether_agent_la_LIBADD = libaether-core.la $(AMQP_LIBS)
pkglibexec_PROGRAMS = aether-agent
aether_agent_SOURCES = agent/agent-main.c
aether_agent_LDADD = libaether-agent.la
endif

# The host agent's system unit (aether serve); shipped, not enabled.
if BUILD_AGENT
systemdsystemunitdir = $(prefix)/lib/systemd/system
systemdsystemunit_DATA = data/systemd/aether-serve.service
endif
EXTRA_DIST += data/systemd/aether-serve.service
