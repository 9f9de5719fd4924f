# tests/switch.mk - the live backend switch (aether network switch|show)
# end to end: a real guest moved slirp -> tap -> vde -> slirp while it
# pings and fetches, a failed attach, kill -9 during a switch, --persist;
# and the same command through the broker to the VM's owner.
TESTS += tests/switch-e2e.sh tests/switch-remote.sh
dist_noinst_SCRIPTS += tests/switch-e2e.sh tests/switch-remote.sh
