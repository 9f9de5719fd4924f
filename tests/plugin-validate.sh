#!/bin/sh
# The validate verb (ABI 1.2): values a plugin parses itself are checked by
# `aether check-config` and, in `aether run`, before the backend is
# initialised or attached; the error names the file, the line, the section
# and the key.  Here with slirp: net, host, dhcpstart, dns, hostfwd, mtu,
# and IPv6 (ipv6, net6, host6, dns6, IPv6 forwards; what mode = qemu cannot
# do).
# No QEMU: run must fail before it would start one.
. "${top_srcdir:-.}/tests/lib.sh"

make_work
export AETHER_RUNTIME_DIR=$WORK/run
[ -f "$top_builddir/plugins/slirp/slirp.la" ] || skip "slirp plugin not built"
: >"$WORK/vmlinuz" # never booted: run stops before QEMU

# vm_conf NAME LINES...: a VM file whose [network.slirp] section holds
# LINES, one option a line, the first on line 9.
vm_conf() {
	f=$WORK/$1.conf
	shift
	{
		printf '[vm]\nname = val\nmemory = 64\nkernel = %s\n' "$WORK/vmlinuz"
		printf 'accel = tcg\n[network]\nbackend = slirp\n[network.slirp]\n'
		for l in "$@"; do printf '%s\n' "$l"; done
	} >"$f"
}

# bad NAME KEY LINE LINES...: check-config and run both refuse the file
# with "FILE:LINE: [network.slirp] KEY = ..." and nothing is attached.
bad() {
	name=$1 key=$2 line=$3
	shift 3
	vm_conf "$name" "$@"
	rc=0
	"$AETHER" -c none check-config "$WORK/$name.conf" >"$WORK/out" 2>&1 || rc=$?
	[ $rc -ne 0 ] || { cat "$WORK/out" >&2; fail "check-config accepted $name"; }
	expect "$WORK/out" "$name\\.conf:$line: \\[network\\.slirp\\] $key = " "check-config: $name refused, naming file, line $line and key $key"
	! grep -q ': OK' "$WORK/out" || fail "check-config: $name said OK"
	rc=0
	"$AETHER" -c none -vv run "$WORK/$name.conf" >"$WORK/run.out" 2>&1 || rc=$?
	[ $rc -ne 0 ] || { cat "$WORK/run.out" >&2; fail "run accepted $name"; }
	expect "$WORK/run.out" "$name\\.conf:$line: \\[network\\.slirp\\] $key = " "run: $name refused the same way (exit $rc)"
	if grep -Eq 'user networking on|libslirp frame port on|could not attach|argv\[0\]' "$WORK/run.out"; then
		cat "$WORK/run.out" >&2
		fail "run: $name got as far as attaching or starting QEMU"
	fi
	pass "run: $name refused before anything was attached"
}

bad net-prefix net 10 'mode = qemu' 'net = 10.0.2.0/33'
bad net-addr net 10 'mode = qemu' 'net = 300.1.2.0/24'
bad net-hostbits net 10 'mode = qemu' 'net = 10.0.2.1/24'
bad host-outside host 11 'mode = qemu' 'net = 10.0.2.0/24' 'host = 10.0.3.2'
bad dhcp-outside dhcpstart 10 'mode = qemu' 'dhcpstart = 192.168.1.15'
bad dns-garbage dns 10 'mode = qemu' 'dns = ten.0.2.3'
bad hostfwd-port hostfwd 11 'mode = qemu' 'hostfwd = tcp::2222-:22' 'hostfwd = tcp::99999-:22'
bad hostfwd-proto hostfwd 10 'mode = qemu' 'hostfwd = sctp::2222-:22'
bad mtu-qemu mtu 10 'mode = qemu' 'mtu = 9000'
bad mode mode 9 'mode = kernel'
bad net6-noipv6 net6 10 'mode = qemu' 'net6 = fec0::/64'
expect "$WORK/out" 'net6 = fec0::/64: needs ipv6 = yes' "net6 without ipv6 = yes: the message says so"
bad net6-len net6 11 'mode = qemu' 'ipv6 = yes' 'net6 = fd00::/48'
bad net6-hostbits net6 11 'mode = qemu' 'ipv6 = yes' 'net6 = fd00::1/64'
bad net6-linklocal net6 11 'mode = qemu' 'ipv6 = yes' 'net6 = fe80::/64'
bad host6-outside host6 11 'mode = qemu' 'ipv6 = yes' 'host6 = fd00::2'
bad dns6-garbage dns6 11 'mode = qemu' 'ipv6 = yes' 'dns6 = fec0::zz'
bad net6-qemu net6 11 'mode = qemu' 'ipv6 = yes' 'net6 = fd00:1::/64'
expect "$WORK/out" "mode = qemu has QEMU's fixed IPv6 addresses only .*use mode = libslirp" "mode = qemu: another net6 is refused, naming mode = libslirp"
bad hostfwd6-qemu hostfwd 11 'mode = qemu' 'ipv6 = yes' 'hostfwd = tcp:[::1]:2222-:22'
expect "$WORK/out" "forwards IPv4 addresses only; use mode = libslirp" "mode = qemu: an IPv6 hostfwd is refused, naming mode = libslirp"
bad hostfwd6-noipv6 hostfwd 10 'mode = qemu' 'hostfwd = tcp:[::1]:2222-:22'
bad hostfwd6-mixed hostfwd 11 'mode = qemu' 'ipv6 = yes' 'hostfwd = tcp:[::1]:2222-10.0.2.15:22'
bad hostfwd6-bracket hostfwd 11 'mode = qemu' 'ipv6 = yes' 'hostfwd = tcp:[::1:2222-:22'

# A value from the host config is reported with the host config's line.
vm_conf fromhost 'mode = qemu'
printf '[aether]\n[network.slirp]\n\nhostfwd = tcp::70000-:22\n' >"$WORK/host.conf"
rc=0
"$AETHER" -c "$WORK/host.conf" check-config "$WORK/fromhost.conf" >"$WORK/out" 2>&1 || rc=$?
[ $rc -ne 0 ] || { cat "$WORK/out" >&2; fail "check-config accepted a bad hostfwd from the host config"; }
expect "$WORK/out" 'host\.conf:4: \[network\.slirp\] hostfwd = tcp::70000-:22: ' "a bad value from the host config names the host config's file and line"

# The host config alone, checked by check-config.
rc=0
"$AETHER" -c none check-config "$WORK/host.conf" >"$WORK/out" 2>&1 || rc=$?
[ $rc -ne 0 ] || { cat "$WORK/out" >&2; fail "check-config of the host config accepted a bad hostfwd"; }
expect "$WORK/out" 'host\.conf:4: \[network\.slirp\] hostfwd = ' "check-config of a host config runs validate too"

# Good values still pass.
vm_conf good 'mode = qemu' 'net = 10.0.5.0/24' 'host = 10.0.5.2' \
	'dhcpstart = 10.0.5.20' 'dns = 10.0.5.3' 'hostfwd = tcp:127.0.0.1:2222-:22' \
	'hostfwd = udp::5353-10.0.5.20:53' 'mtu = 1500'
rc=0
"$AETHER" -c none check-config "$WORK/good.conf" >"$WORK/out" 2>&1 || rc=$?
[ $rc -eq 0 ] || { cat "$WORK/out" >&2; fail "check-config refused good slirp options"; }
expect "$WORK/out" 'good\.conf: OK' "good slirp options pass check-config"

# IPv6: QEMU's own addresses pass in mode = qemu ...
vm_conf good6 'mode = qemu' 'ipv6 = yes' 'net6 = fec0::/64' 'host6 = fec0::2' \
	'dns6 = fec0::3' 'hostfwd = tcp:127.0.0.1:2222-:22'
rc=0
"$AETHER" -c none check-config "$WORK/good6.conf" >"$WORK/out" 2>&1 || rc=$?
[ $rc -eq 0 ] || { cat "$WORK/out" >&2; fail "check-config refused QEMU's IPv6 addresses in mode = qemu"; }
expect "$WORK/out" 'good6\.conf: OK' "mode = qemu: ipv6 with QEMU's own addresses passes check-config"
# ... and mode = libslirp takes another prefix and IPv6 forwards.
has=$(slirp_has_libslirp) || exit 1
if [ "$has" = yes ]; then
	vm_conf good6l 'mode = libslirp' 'ipv6 = yes' 'net6 = fd00:1::/64' \
		'host6 = fd00:1::9' 'dns6 = fd00:1::53' \
		'hostfwd = tcp:[::1]:2222-:22' 'hostfwd = udp::5353-[fd00:1::5]:53'
	rc=0
	"$AETHER" -c none check-config "$WORK/good6l.conf" >"$WORK/out" 2>&1 || rc=$?
	[ $rc -eq 0 ] || { cat "$WORK/out" >&2; fail "check-config refused good IPv6 options in mode = libslirp"; }
	expect "$WORK/out" 'good6l\.conf: OK' "mode = libslirp: net6, host6, dns6 and IPv6 forwards pass check-config"
else
	log "no libslirp in this build: mode = libslirp's IPv6 options not checked"
fi
