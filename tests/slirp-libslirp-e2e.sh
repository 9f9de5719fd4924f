#!/bin/sh
# End to end with slirp in mode = libslirp: the plugin runs libslirp as a
# frame port and `aether run` relays the frames to QEMU over a socketpair
# (-netdev dgram, fd).  The guest takes its lease, reaches a TCP server on
# the host's loopback through 10.0.2.2, powers off; the relay's counters
# are logged at exit and the runtime directory is left empty.
. "${top_srcdir:-.}/tests/lib.sh"

need qemu-system-x86_64
make_work
# configure decides (a failing `aether plugins show slirp` is a failure)
has=$(slirp_has_libslirp) || exit 1
[ "$has" = yes ] ||
	skip "configure did not find libslirp (>= 4.1; Debian: libslirp-dev): the slirp plugin has no mode = libslirp"
pass "the slirp plugin was built with libslirp (configure and the plugin agree)"
guest
RUN=$WORK/run
export AETHER_RUNTIME_DIR=$RUN

start_tcp_echo

slirp_vm_conf e2e-libslirp '[network.slirp]
mode = libslirp'
rc=0
timeout 240 "$AETHER" -c none -v run "$WORK/vm.conf" 2>"$WORK/aether.err" || rc=$?
cat "$WORK/aether.err" >&2
[ $rc -eq 0 ] || { cat "$WORK/console.log" >&2; fail "aether run exited $rc, want 0"; }
pass "aether run exited 0 after the guest powered off"
expect "$WORK/console.log" 'AETHER-GUEST: lease ip=10\.0\.2\.15 router=10\.0\.2\.2' "guest got a DHCP lease from libslirp"
expect "$WORK/console.log" "AETHER-GUEST: tcp-reply host-says hello-from-guest 10\.0\.2\.15" "guest reached the host loopback server"
expect "$WORK/server.log" '^hello-from-guest 10\.0\.2\.15$' "host server saw the guest's request"
expect "$WORK/aether.err" 'relay to-net frames=[1-9][0-9]* bytes=[1-9][0-9]* drops=0; to-guest frames=[1-9]' "relay counters logged at exit"
[ -z "$(ls -A "$RUN/vms" 2>/dev/null)" ] || fail "runtime dir left behind: $(ls -R "$RUN/vms")"
pass "runtime directory cleaned"
