# tests/agent.mk - the host agent (aether serve / remote) against a real,
# private RabbitMQ broker (issue: many hosts).
AGENT_TESTS = tests/agent-fleet.sh tests/agent-faults.sh \
	tests/agent-badinput.sh tests/agent-tls.sh tests/rabbitmq-harness.sh \
	tests/agent-guest.sh tests/agent-requests.sh tests/agent-lifecycle.sh
TESTS += $(AGENT_TESTS)
dist_noinst_SCRIPTS += $(AGENT_TESTS) tests/agent-lib.sh \
	tests/rabbitmq-lib.sh

# The agent's requests without a broker (agent/agent-req.c): a unit suite,
# run again under the sanitizers (unit_tests), and a fuzzer of message
# bodies and header values with a standalone driver that replays its
# corpus under any compiler.
if BUILD_AGENT
if HAVE_CHECK
check_PROGRAMS += tests/check_agent
TESTS += tests/check_agent
tests_check_agent_SOURCES = tests/check_agent.c tests/check-main.h
tests_check_agent_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(INIH_CFLAGS) \
	$(AMQP_CFLAGS)
tests_check_agent_LDADD = libaether-agent.la $(CHECK_LIBS)
unit_tests += tests/check_agent
endif

EXTRA_DIST += tests/fuzz/agent-corpus tests/fuzz/agent.dict
check_PROGRAMS += tests/fuzz/fuzz-agent-run
TESTS += tests/fuzz/fuzz-agent-run
tests_fuzz_fuzz_agent_run_SOURCES = tests/fuzz/standalone.c \
	tests/fuzz/fuzz-agent.c
tests_fuzz_fuzz_agent_run_CPPFLAGS = $(AM_CPPFLAGS) \
	-DFUZZ_NAME='"fuzz-agent-run"' -DFUZZ_CORPUS='"tests/fuzz/agent-corpus"'
tests_fuzz_fuzz_agent_run_CFLAGS = $(AM_CFLAGS) $(INIH_CFLAGS) $(AMQP_CFLAGS)
tests_fuzz_fuzz_agent_run_LDADD = libaether-agent.la
unit_tests += tests/fuzz/fuzz-agent-run

if FUZZER
noinst_PROGRAMS += tests/fuzz/fuzz-agent
tests_fuzz_fuzz_agent_SOURCES = tests/fuzz/fuzz-agent.c agent/agent-req.c \
	agent/agentconf.c core/util.c core/conffile.c core/qemu-argv.c \
	core/vmconf.c core/options.c core/mac.c core/relay.c core/netconf.c core/addrpool.c core/store.c
tests_fuzz_fuzz_agent_CFLAGS = $(AM_CFLAGS) $(INIH_CFLAGS) $(AMQP_CFLAGS) \
	$(FUZZ_FLAGS)
tests_fuzz_fuzz_agent_LDFLAGS = $(FUZZ_FLAGS)
tests_fuzz_fuzz_agent_LDADD = $(INIH_LIBS) $(AMQP_LIBS)

# make fuzz-agent [FUZZ_SECONDS=n]: like make fuzz, for the agent.
fuzz-agent: tests/fuzz/fuzz-agent
	@mkdir -p $(FUZZ_WORKDIR)/agent-corpus
	./tests/fuzz/fuzz-agent -max_total_time=$(FUZZ_SECONDS) \
		-print_final_stats=1 -dict=$(srcdir)/tests/fuzz/agent.dict \
		-artifact_prefix=$(FUZZ_WORKDIR)/agent- \
		$(FUZZ_WORKDIR)/agent-corpus $(srcdir)/tests/fuzz/agent-corpus
else
fuzz-agent:
	@echo "make fuzz-agent needs ./configure --enable-fuzzer CC=clang" >&2; exit 1
endif
endif
.PHONY: fuzz-agent
