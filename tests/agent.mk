# tests/agent.mk - the host agent (aether serve / remote) against a real,
# private RabbitMQ broker (issue: many hosts).
AGENT_TESTS = tests/agent-fleet.sh tests/agent-faults.sh \
	tests/agent-badinput.sh tests/agent-tls.sh tests/rabbitmq-harness.sh \
	tests/agent-guest.sh
TESTS += $(AGENT_TESTS)
dist_noinst_SCRIPTS += $(AGENT_TESTS) tests/agent-lib.sh \
	tests/rabbitmq-lib.sh
