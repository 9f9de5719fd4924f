# tests/e2e.mk - end-to-end tests: aether run boots the real test guest.
check_PROGRAMS += tests/tcp-echo
tests_tcp_echo_SOURCES = tests/tcp-echo.c

TESTS += tests/slirp-e2e.sh tests/cli.sh tests/signals.sh
dist_noinst_SCRIPTS += tests/slirp-e2e.sh tests/cli.sh tests/signals.sh tests/lib.sh \
	tests/guest/build-guest.sh tests/guest/init tests/guest/udhcpc.script
EXTRA_DIST += tests/guest/README
TEST_EXTENSIONS = .sh
SH_LOG_COMPILER = $(SHELL) $(srcdir)/tests/strict.sh $(SHELL)

# The guest is built once per build tree (its kernel comes from Debian).
clean-local: clean-guest
clean-guest:
	-rm -rf tests/guest/out
.PHONY: clean-guest

# QEMU's user and sandbox (root), and the bounded console log.
TESTS += tests/qemu-user.sh tests/qemu-user-tap.sh tests/console-cap.sh
dist_noinst_SCRIPTS += tests/qemu-user.sh tests/qemu-user-tap.sh \
	tests/console-cap.sh

# The supervisor's periodic network health check (tap, namespaces).
TESTS += tests/supervisor-health.sh
dist_noinst_SCRIPTS += tests/supervisor-health.sh
