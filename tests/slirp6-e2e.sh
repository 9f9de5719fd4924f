#!/bin/sh
# IPv6 through the slirp backend, in each mode this build has.  The guest
# (aether.ipv6) configures an address by SLAAC from slirp's router adverts
# and reaches a TCP server on the host's ::1 through the host6 address:
# slirp hands a guest connection to any address of net6 but dns6 to the
# host's loopback, ::1.
#   mode = libslirp: a prefix of our own (net6, host6, dns6) and an IPv6
#     host forward, tcp:[::1]:PORT-:8080, into the guest's listener (the
#     empty guest address is the address slirp learned from the guest).
#   mode = qemu: QEMU's fixed fec0::/64 with host fec0::2; QEMU 7.2's user
#     netdev forwards IPv4 only, so check-config refuses an IPv6 hostfwd.
. "${top_srcdir:-.}/tests/lib.sh"

need qemu-system-x86_64 python3
make_work
guest
RUN=$WORK/run
export AETHER_RUNTIME_DIR=$RUN

# connect6 PORT: a line to [::1]:PORT, prints the first line of the answer.
connect6() {
	python3 - "$1" <<'PY'
import socket, sys
try:
    s = socket.create_connection(("::1", int(sys.argv[1])), timeout=10)
    s.sendall(b"hello-from-host6\n")
    print(s.makefile().readline().strip())
except ConnectionRefusedError:
    print("refused")
except Exception as e:
    print("error %s" % e)
PY
}

python3 -c 'import socket; s = socket.socket(socket.AF_INET6); s.bind(("::1", 0))' 2>/dev/null ||
	skip "the host has no IPv6 loopback (::1)"
"$top_builddir/tests/tcp-echo" -6 -p "$WORK/port6" -l "$WORK/server6.log" &
ECHO_PID=$!
at_exit "kill $ECHO_PID 2>/dev/null"
wait_for "$WORK/port6" '^[0-9]+$' 10 || fail "tcp-echo -6 did not start"
PORT6=$(cat "$WORK/port6")

modes="qemu"
has=$(slirp_has_libslirp) || exit 1
[ "$has" = yes ] && modes="libslirp qemu"
log "slirp modes tested: $modes"

# vm6 NAME APPEND-EXTRA SLIRP-LINES: $WORK/NAME.conf.
vm6() {
	cat >"$WORK/$1.conf" <<EOT
# written by $TEST_NAME
[vm]
name = $1
memory = 256
accel = tcg
reboot = no
stop_timeout = 10
kernel = $GUEST_KERNEL
initrd = $GUEST_INITRD
append = console=ttyS0 quiet panic=-1 aether.ipv6=60 $2
console = file:$WORK/$1.log

[network]
backend = slirp

[network.slirp]
$3
EOT
}

for mode in $modes; do
	name=v6-$mode
	if [ $mode = libslirp ]; then
		pfx=fd00:ae:6:1
		host6=$pfx::9
		HP=$("$top_builddir/tests/tcp-echo" -6 -o) ||
			fail "tests/tcp-echo -6 -o could not get a port on ::1"
		vm6 $name "aether.listen=8080 aether.tcp=[$host6]:$PORT6 aether.hold=forever" \
"mode = libslirp
ipv6 = yes
net6 = $pfx::/64
host6 = $host6
dns6 = $pfx::53
hostfwd = tcp:[::1]:$HP-:8080"
	else
		pfx=fec0:0:0:0
		host6=fec0::2
		vm6 $name "aether.tcp=[$host6]:$PORT6" "mode = qemu
ipv6 = yes"
	fi
	"$AETHER" -c none check-config "$WORK/$name.conf" >"$WORK/$name.cc" 2>&1 ||
		{ cat "$WORK/$name.cc" >&2; fail "$mode: check-config refused the IPv6 VM"; }
	"$AETHER" -c none -vv run "$WORK/$name.conf" 2>"$WORK/$name.err" &
	APID=$!
	at_exit "kill -9 $APID 2>/dev/null"
	wait_for_or_exit "$WORK/$name.log" 'AETHER-GUEST: (tcp-reply|tcp-fail)' 240 $APID ||
		{ cat "$WORK/$name.log" "$WORK/$name.err" >&2; fail "$mode: the guest did not get as far as its TCP request"; }

	# The address: inside the prefix, from SLAAC (EUI-64 of the MAC), with
	# a default route through slirp's link-local router address.
	expect "$WORK/$name.log" "AETHER-GUEST: ipv6 addr=${pfx%:0:0:0}:[0-9a-f:]*/64 router=fe80::[0-9a-f:]* iface=eth0" \
		"$mode: the guest took an address in the prefix by SLAAC and a default route"
	if [ $mode = qemu ]; then
		grep -Eq '= user,id=net0,.*ipv4=on,ipv6=on' "$WORK/$name.err" ||
			{ cat "$WORK/$name.err" >&2; fail "$mode: QEMU's netdev was not given ipv4=on,ipv6=on"; }
		pass "$mode: -netdev user has ipv4=on,ipv6=on (ipv6=on alone turns IPv4 off)"
	fi
	expect "$WORK/$name.log" 'AETHER-GUEST: tcp-reply host-says hello-from-guest 10\.0\.2\.15' \
		"$mode: the guest reached the host's ::1 server through [$host6]"
	n=$(grep -c '^hello-from-guest 10\.0\.2\.15$' "$WORK/server6.log")
	want=1
	[ $mode = qemu ] && [ "$modes" != qemu ] && want=2
	[ "$n" = $want ] || fail "$mode: the ::1 server logged $n requests, want $want"
	pass "$mode: the ::1 server (IPv6 only) saw the guest's request"

	if [ $mode = libslirp ]; then
		wait_for "$WORK/$name.log" 'AETHER-GUEST: listening 8080' 30 ||
			fail "$mode: the guest did not listen"
		reply=$(connect6 $HP)
		[ "$reply" = "guest-says 10.0.2.15" ] ||
			{ cat "$WORK/$name.err" >&2; fail "$mode: through [::1]:$HP got '$reply', want 'guest-says 10.0.2.15'"; }
		wait_for "$WORK/$name.log" 'AETHER-GUEST: listen-got hello-from-host6' 15 ||
			fail "$mode: the guest did not log the host's line"
		pass "$mode: the IPv6 host forward [::1]:$HP reached the guest's port 8080"
		kill -TERM $APID
		rc=0; wait $APID || rc=$?
		[ $rc -eq 143 ] || { cat "$WORK/$name.err" >&2; fail "$mode: aether run exited $rc after SIGTERM, want 143"; }
		reply=$(connect6 $HP)
		[ "$reply" = refused ] || fail "$mode: after stop [::1]:$HP answered '$reply'"
		pass "$mode: stopped; the forward's socket is gone"
	else
		rc=0; wait $APID || rc=$?
		[ $rc -eq 0 ] || { cat "$WORK/$name.err" >&2; fail "$mode: aether run exited $rc, want 0"; }
		pass "$mode: the guest powered off, aether run exited 0"
	fi
	[ ! -e "$RUN/vms/$name" ] || fail "$mode: runtime dir left behind"
done

# What mode = qemu cannot do is refused by check-config, naming the line.
vm6 refuse "" "mode = qemu
ipv6 = yes
hostfwd = tcp:[::1]:2222-:22"
rc=0
"$AETHER" -c none check-config "$WORK/refuse.conf" >"$WORK/refuse.out" 2>&1 || rc=$?
[ $rc -ne 0 ] || fail "check-config accepted an IPv6 hostfwd in mode = qemu"
expect "$WORK/refuse.out" 'refuse\.conf:19: \[network\.slirp\] hostfwd = tcp:\[::1\]:2222-:22: .*mode = qemu.*IPv4 .*use mode = libslirp' \
	"mode = qemu: check-config refuses an IPv6 hostfwd, naming the alternative"
exit 0
