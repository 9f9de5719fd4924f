#!/bin/sh
# tap-e2e.sh - end to end: `aether run` boots the test guest with the tap
# backend on a bridge, in a private network namespace where dnsmasq serves
# DHCP.  The guest must get a lease from the range and ping the bridge
# address; afterwards no TAP device may be left.
#
# Needs root (network namespace, TAP, bridge), unshare, ip, dnsmasq,
# timeout, qemu-system-x86_64 and the test guest (tests/guest/build-guest.sh).
# Anything missing: exit 77 (SKIP) saying what.  TAP_E2E_KEEP=1 keeps the
# scratch directory (VM file, console, aether and dnsmasq logs);
# TAP_E2E_OPTS adds lines to [network.tap] (e.g. "queues = 2").  Uses `ip` to build the
# test network only; the product under test never does.
set -u

me=tap-e2e
skip() { echo "SKIP: $me: $*" >&2; exit 77; }
fail() { echo "FAIL: $me: $*" >&2; exit 1; }

srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
builddir=${top_builddir:-$srcdir}
AETHER=${AETHER:-$builddir/aether}

BR=br-ae
NET=10.77.0
PREFIX=aet

if [ "${TAP_E2E_INNER:-}" != 1 ]; then
	# ---- outside: check what we need, then re-run in a new netns ----
	[ "$(id -u)" = 0 ] ||
		skip "needs root (CAP_NET_ADMIN and a private network namespace)"
	for t in unshare ip dnsmasq timeout; do
		command -v "$t" >/dev/null 2>&1 || skip "'$t' not found"
	done
	command -v "${QEMU:-qemu-system-x86_64}" >/dev/null 2>&1 ||
		skip "qemu-system-x86_64 not found"
	[ -x "$AETHER" ] || fail "aether binary not found at $AETHER (make first)"
	[ -c /dev/net/tun ] || skip "/dev/net/tun missing (modprobe tun)"
	unshare -n true 2>/dev/null ||
		skip "cannot create a network namespace (unshare -n failed)"

	out=${AETHER_GUEST_DIR:-$builddir/tests/guest/out}
	glog=$(mktemp "${TMPDIR:-/tmp}/$me-guest.XXXXXX")
	if ! "$srcdir/tests/guest/build-guest.sh" "$out" >"$glog" 2>&1; then
		msg=$(tail -n 5 "$glog")
		rm -f "$glog"
		skip "test guest could not be built: $msg"
	fi
	rm -f "$glog"
	[ -s "$out/vmlinuz" ] && [ -s "$out/initrd.img" ] ||
		skip "test guest missing in $out"

	GUEST_OUT=$out TAP_E2E_INNER=1 exec unshare -n -- /bin/sh "$0" "$@"
	fail "cannot exec unshare"
fi

# ---- inside the private network namespace ----
out=$GUEST_OUT
tmp=$(mktemp -d "${TMPDIR:-/tmp}/$me.XXXXXX") || fail "mktemp"
dpid=
cleanup() {
	[ -n "$dpid" ] && kill "$dpid" 2>/dev/null && wait "$dpid" 2>/dev/null
	if [ -n "${TAP_E2E_KEEP:-}" ]; then
		echo "$me: kept $tmp" >&2
	else
		rm -rf "$tmp"
	fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

ip link set lo up
ip link add "$BR" type bridge || fail "cannot create bridge $BR"
ip addr add "$NET.1/24" dev "$BR"
ip link set "$BR" up

dnsmasq --no-daemon --conf-file=/dev/null --interface="$BR" \
	--except-interface=lo --bind-interfaces --port=0 \
	--dhcp-range="$NET.50,$NET.99,255.255.255.0,1h" \
	--dhcp-option=option:router,"$NET.1" \
	--leasefile-ro --log-dhcp \
	--log-facility="$tmp/dnsmasq.log" >"$tmp/dnsmasq.out" 2>&1 &
dpid=$!
# --no-daemon writes no pid file: wait until it says its socket is bound.
i=0
until grep -q 'DHCP, sockets bound' "$tmp/dnsmasq.log" 2>/dev/null; do
	kill -0 "$dpid" 2>/dev/null ||
		fail "dnsmasq did not start: $(cat "$tmp/dnsmasq.out" "$tmp/dnsmasq.log" 2>/dev/null)"
	i=$((i + 1))
	[ $i -lt 100 ] || fail "dnsmasq did not bind its DHCP socket in 10 s"
	sleep 0.1
done

cat >"$tmp/vm.conf" <<EOF
[vm]
name = tape2e
memory = 256
cpus = 1
accel = tcg
kernel = $out/vmlinuz
initrd = $out/initrd.img
append = console=ttyS0 aether.ping=$NET.1
console = file:$tmp/console.log

[network]
backend = tap

[network.tap]
bridge = $BR
prefix = $PREFIX
${TAP_E2E_OPTS:-}
EOF

mkdir -p "$tmp/run"
AETHER_RUNTIME_DIR=$tmp/run timeout 180 "$AETHER" --plugin-path "$AETHER_PLUGIN_PATH" -c none -v run "$tmp/vm.conf" \
	>"$tmp/aether.log" 2>&1
rc=$?

show() {
	echo "---- aether ($rc) ----" >&2
	cat "$tmp/aether.log" >&2
	echo "---- console ----" >&2
	grep -a 'AETHER-GUEST\|aether-guest' "$tmp/console.log" >&2 2>/dev/null
	echo "---- dnsmasq ----" >&2
	cat "$tmp/dnsmasq.log" >&2 2>/dev/null
}

[ $rc = 124 ] && { show; fail "aether run timed out after 180 s"; }
[ $rc = 0 ] || { show; fail "aether run exited $rc"; }
[ -f "$tmp/console.log" ] || { show; fail "no console log"; }

lease=$(grep -a -o 'AETHER-GUEST: lease ip=[0-9.]*' "$tmp/console.log" |
	head -n 1 | sed 's/.*ip=//')
[ -n "$lease" ] || { show; fail "the guest got no DHCP lease"; }
case $lease in
$NET.*) host=${lease##*.} ;;
*) show; fail "lease $lease is not in $NET.0/24" ;;
esac
if [ "$host" -lt 50 ] || [ "$host" -gt 99 ]; then
	show
	fail "lease $lease is outside the dnsmasq range $NET.50-$NET.99"
fi
grep -aq "DHCPACK($BR) $lease" "$tmp/dnsmasq.log" ||
	{ show; fail "dnsmasq did not log DHCPACK for $lease"; }
grep -aq "AETHER-GUEST: ping-ok $NET.1" "$tmp/console.log" ||
	{ show; fail "the guest could not ping $NET.1"; }

# Nothing left behind: no TAP device with our prefix, no port on the bridge.
left=$(ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' |
	grep "^$PREFIX" || true)
[ -z "$left" ] || { show; fail "TAP device(s) left behind: $left"; }
ports=$(ip -o link show master "$BR" 2>/dev/null || true)
[ -z "$ports" ] || { show; fail "bridge $BR still has ports: $ports"; }

echo "PASS: $me: lease $lease, ping-ok $NET.1, no device left" >&2
exit 0
