#!/bin/sh
# lifecycle-guest.sh - the real test guest through the VM store: create
# (qcow2 overlay on a base the test makes, kernel + initrd), start, status
# shows the address the guest uses (tap backend: the bridge's neighbour
# table; the guest takes a DHCP lease from dnsmasq and pings the bridge),
# stop gracefully (ACPI power button), and a second guest that ignores the
# power button (aether.noacpi) is stopped by the fallback; delete leaves
# nothing behind.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
. "$top_srcdir/tests/lifecycle-lib.sh"
if ! in_namespaces; then
	need dnsmasq
	# built outside the namespace: the first build downloads a kernel
	make_work
	guest
	export GUEST_KERNEL GUEST_INITRD
fi
lc_enter "$@"
lc_setup
sed -i "s/^memory = 32/memory = 256/" "$WORK/host.conf"

dnsmasq --no-daemon --conf-file=/dev/null --interface="$LC_BR" \
	--except-interface=lo --bind-interfaces --port=0 \
	--dhcp-range=10.77.0.50,10.77.0.99,255.255.255.0,1h \
	--no-ping --leasefile-ro --log-dhcp --log-facility="$WORK/dnsmasq.log" \
	>"$WORK/dnsmasq.out" 2>&1 &
dpid=$!
at_exit "kill $dpid 2>/dev/null"
wait_for "$WORK/dnsmasq.log" 'DHCP, sockets bound' 10 ||
	fail "dnsmasq did not start: $(cat "$WORK/dnsmasq.out")"

cmdline="console=ttyS0 aether.ping=10.77.0.1 aether.hold=forever"
ae_expect 0 created create g1 --image "$WORK/base.qcow2" \
	--kernel "$GUEST_KERNEL" --initrd "$GUEST_INITRD" --append "$cmdline"
ae_expect 0 created create g2 --image "$WORK/base.qcow2" \
	--kernel "$GUEST_KERNEL" --initrd "$GUEST_INITRD" \
	--append "$cmdline aether.noacpi"
ae_expect 0 'running' start g1
ae_expect 0 'running' start g2
for g in g1 g2; do
	con=$WORK/store/vms/$g/console.log
	wait_for "$con" 'AETHER-GUEST: (holding forever|lease-fail|ping-fail)' 150 ||
		{ cat "$con" >&2; fail "$g did not come up in 150 s"; }
	expect "$con" "AETHER-GUEST: ping-ok 10.77.0.1" "$g: DHCP lease and ping"
done
lease1=$(grep -a -o 'AETHER-GUEST: lease ip=[0-9.]*' "$WORK/store/vms/g1/console.log" |
	head -n 1 | sed 's/.*ip=//')
lease2=$(grep -a -o 'AETHER-GUEST: lease ip=[0-9.]*' "$WORK/store/vms/g2/console.log" |
	head -n 1 | sed 's/.*ip=//')
[ -n "$lease1" ] && [ "$lease1" != "$lease2" ] ||
	fail "leases '$lease1' and '$lease2' are not two distinct addresses"
pass "two guests from one base image got distinct leases ($lease1, $lease2)"

# status and list show the address, learned from the backend
ae_expect 0 '' status g1
grep -q "^address: *$lease1(neigh)" "$WORK/out" ||
	fail "status g1 does not show $lease1: $(cat "$WORK/out")"
ae_expect 0 '' list --json
grep -q "\"address\":\"$lease2\",\"source\":\"neigh\"" "$WORK/out" ||
	fail "list --json does not show $lease2: $(cat "$WORK/out")"
pass "status/list show the guests' addresses"

# graceful stop: the guest handles the ACPI power button
ae_expect 0 'stopped \(guest powered off\)' stop g1 --timeout 60
expect "$WORK/store/vms/g1/console.log" 'AETHER-GUEST: acpi-power-button' \
	"g1 powered off on the ACPI power button"
# a guest that ignores it: QMP quit after the timeout
ae_expect 0 'stopped \(QEMU quit\)' stop g2 --timeout 3
grep -aq 'acpi-power-button' "$WORK/store/vms/g2/console.log" &&
	fail "g2 should have ignored the power button"
pass "stop: graceful power-down, and the fallback for a guest that ignores it"
ae_expect 0 '' console g1 --no-follow
grep -q 'AETHER-GUEST: done' "$WORK/out" || fail "console g1 misses the end"
ae_expect 0 deleted delete g1
ae_expect 0 deleted delete g2
[ -z "$(ls -A "$WORK/store/vms")" ] || fail "store not empty after delete"
lc_assert_clean "guest lifecycle"
exit 0
