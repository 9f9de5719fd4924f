#!/bin/sh
# net-e2e.sh - managed networks end to end ([net.NAME], aether net, the tap
# backend's `network = NAME`), with real QEMU guests, in private network,
# mount and pid namespaces and a second "upstream" namespace behind a veth
# pair (tests/net-lib.sh).  The host config declares [net.lab] (subnet,
# ipv6, nat); the VMs are made with `aether create --backend tap` and
# [network.tap] network = lab.  Checked:
#   - bad input is refused naming the key or device, leaving nothing: two
#     overlapping subnets, a subnet already routed here, a bridge name
#     taken by a foreign device;
#   - two clones of one base get two reservations, the lowest free ones;
#   - each guest's DHCP lease is its reservation (aether net show), and
#     aether list shows it leased;
#   - a guest resolves the other by name (VMNAME.lab.aether);
#   - a guest reaches the upstream server through the NAT, and the
#     upstream sees the uplink's address, not the guest's;
#   - a guest gets a SLAAC address in the ipv6 prefix;
#   - aether's nft table (read back through libnftables' JSON by
#     tests/net-nftcheck.c) has lab's forward and masquerade rules;
#   - deleting a VM frees its address and its dnsmasq lease: the next one
#     created gets the address and, started, its lease at once; a
#     stopped store VM keeps it;
#   - a VM file outside the store run with `aether run` (its guest powers
#     off by itself, or QEMU fails to start) leaves no reservation and no
#     dnsmasq lease: the next one gets the address and its lease at once;
#     the store VMs' reservations on the same network stay; one whose
#     supervisor was killed is released by aether gc;
#   - kill -9 of the supervisor, dnsmasq and QEMU, then aether gc and
#     aether net stop: no bridge, no rules, no dnsmasq, no runtime files.
# Needs root, unshare, nsenter, ip, busybox (nc), dnsmasq, qemu, qemu-img,
# cc + pkg-config + libnftables-dev + libjansson-dev (the nft reader).
# KEEP_WORK=1 keeps the scratch directory.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
. "$top_srcdir/tests/lifecycle-lib.sh"
. "$top_srcdir/tests/net-lib.sh"
LC_PREFIX=nte    # the TAP devices lc_assert_clean looks for

if ! in_namespaces; then
	need dnsmasq busybox nsenter cc pkg-config
	pkg-config --exists libnftables jansson ||
		skip "libnftables or jansson development files missing (apt-get install libnftables-dev libjansson-dev)"
	# built outside the namespace: the first build downloads a kernel
	make_work
	"$AETHER" -c none net list >"$WORK/net-list" 2>&1 ||
		fail "this aether has no working 'aether net': $(cat "$WORK/net-list")"
	guest
	export GUEST_KERNEL GUEST_INITRD
fi
lc_enter "$@"

make_work
net_nftcheck_build
net_upstream_setup
AETHER_STORE_DIR=$WORK/store
export AETHER_STORE_DIR
unset AETHER_RUNTIME_DIR XDG_RUNTIME_DIR
RUN=$WORK/run
NETDIR=$RUN/net/lab
BR=aenlab
SUB4=10.123.0.0/24
SUB6=fd42:123:0:1::/64
PREFIX=$LC_PREFIX

host_conf() {
	cat <<EOC
[aether]
runtime_dir = $RUN
[vm]
accel = tcg
memory = 256
stop_timeout = 5
[network]
backend = tap
[network.tap]
network = lab
prefix = $PREFIX
[net.lab]
subnet = $SUB4
ipv6 = $SUB6
nat = yes
EOC
}
host_conf >"$WORK/host.conf"
qemu-img create -q -f qcow2 "$WORK/base.qcow2" 16M || fail "qemu-img create failed"

# Live dnsmasq processes (zombies excluded).
dnsmasqs() { procs '^dnsmasq \|/dnsmasq ' | tr '\n' ' '; }

# Nothing of network NAME (bridge BRIDGE, subnet SUBNET) may exist: no
# device, no rules in aether's table, no runtime files.  $1 names the case.
assert_no_net() {
	what=$1 name=$2 bridge=$3 subnet=$4
	if ip link show "$bridge" >/dev/null 2>&1; then
		ip -d link show "$bridge" >&2
		fail "$what: device $bridge is left"
	fi
	t=$(net_nft_traces "$name" "$bridge" "$subnet")
	[ -z "$t" ] || { cat "$WORK/nft.now" >&2; fail "$what: nft rules of $name are left: $t"; }
	if [ -d "$RUN/net/$name" ]; then
		r=$(ls -A "$RUN/net/$name")
		[ -z "$r" ] || fail "$what: runtime files left in $RUN/net/$name: $r"
	fi
	pass "$what: no $bridge, no rules, no runtime files of $name"
}
assert_no_dnsmasq() {
	d=$(dnsmasqs)
	[ -z "$d" ] || { ps -o pid,args -p "$(echo $d | tr ' ' ',')" >&2; fail "$1: dnsmasq left: $d"; }
}

# ---------------------------------------------------------------------
# Bad input: refused naming the key or the device, nothing left behind.

# Overlapping subnets.
{ host_conf; cat <<EOC
[net.ovl]
subnet = 10.123.0.128/25
EOC
} >"$WORK/overlap.conf"
# The lines of the two subnet keys: the error must name one of them.
ovl_line=$(grep -n '^subnet = 10.123.0.128/25' "$WORK/overlap.conf" | cut -d: -f1)
lab_line=$(grep -n "^subnet = $SUB4" "$WORK/overlap.conf" | cut -d: -f1)
"$AETHER" -c "$WORK/overlap.conf" net start ovl >"$WORK/out" 2>"$WORK/err"
rc=$?
[ $rc = 1 ] || { cat "$WORK/out" "$WORK/err" >&2; fail "overlapping subnets: net start exited $rc, expected 1"; }
grep -Eq "overlap\.conf:($ovl_line|$lab_line)\b.*subnet" "$WORK/err" ||
	{ cat "$WORK/err" >&2; fail "overlapping subnets: the error does not name overlap.conf, line $ovl_line or $lab_line, and the key subnet"; }
log "overlap refused: $(head -n 1 "$WORK/err")"
"$AETHER" -c "$WORK/overlap.conf" net start lab >"$WORK/out" 2>"$WORK/err" &&
	fail "overlapping subnets: net start lab succeeded with a config whose networks overlap"
assert_no_net "overlapping subnets" ovl aenovl 10.123.0.128/25
assert_no_net "overlapping subnets" lab "$BR" "$SUB4"
assert_no_dnsmasq "overlapping subnets"

# A subnet already routed in this namespace (through the uplink).
ip route add 10.124.0.0/24 via "$NET_UP_ADDR" dev "$NET_UPLINK" ||
	fail "cannot add the route 10.124.0.0/24"
{ host_conf; cat <<EOC
[net.routed]
subnet = 10.124.0.0/24
[net.taken]
subnet = 10.125.0.0/24
EOC
} >"$WORK/bad.conf"
"$AETHER" -c "$WORK/bad.conf" net start routed >"$WORK/out" 2>"$WORK/err"
rc=$?
[ $rc = 1 ] || { cat "$WORK/out" "$WORK/err" >&2; fail "routed subnet: net start exited $rc, expected 1"; }
grep -Eq "$NET_UPLINK|10\.124\.0\.0/24" "$WORK/err" ||
	{ cat "$WORK/err" >&2; fail "routed subnet: the error names neither $NET_UPLINK nor 10.124.0.0/24"; }
log "routed subnet refused: $(head -n 1 "$WORK/err")"
assert_no_net "routed subnet" routed aenrouted 10.124.0.0/24
assert_no_dnsmasq "routed subnet"
ip route show 10.124.0.0/24 | grep -q "dev $NET_UPLINK" ||
	fail "routed subnet: the existing route 10.124.0.0/24 is gone"

# A bridge name taken by a device that is not aether's: a bridge someone
# else made (no aether-net alias), with an address of its own.
ip link add aentaken type bridge || fail "cannot create the bridge aentaken"
ip addr add 10.126.0.1/24 dev aentaken
"$AETHER" -c "$WORK/bad.conf" net start taken >"$WORK/out" 2>"$WORK/err"
rc=$?
[ $rc = 1 ] || { cat "$WORK/out" "$WORK/err" >&2; fail "taken bridge name: net start exited $rc, expected 1"; }
grep -q 'aentaken' "$WORK/err" ||
	{ cat "$WORK/err" >&2; fail "taken bridge name: the error does not name aentaken"; }
log "taken bridge name refused: $(head -n 1 "$WORK/err")"
ip -d link show aentaken >"$WORK/taken" 2>&1 || fail "taken bridge name: the foreign aentaken was removed"
grep -q 'alias' "$WORK/taken" && { cat "$WORK/taken" >&2; fail "taken bridge name: aentaken was given an alias"; }
ip -4 addr show dev aentaken | grep -q 'inet 10.126.0.1/24' && ! ip -4 addr show dev aentaken | grep -q 10.125 ||
	{ ip addr show dev aentaken >&2; fail "taken bridge name: the addresses of aentaken changed"; }
t=$(net_nft_traces taken aentaken 10.125.0.0/24)
[ -z "$t" ] || fail "taken bridge name: nft rules left: $t"
[ -z "$(ls -A "$RUN/net/taken" 2>/dev/null)" ] ||
	fail "taken bridge name: runtime files left: $(ls -A "$RUN/net/taken")"
assert_no_dnsmasq "taken bridge name"
ip link del aentaken
pass "taken bridge name: refused, the foreign device untouched, nothing made"
ip route del 10.124.0.0/24

# ---------------------------------------------------------------------
# Two clones of one base: two reservations, the lowest free addresses.

# The address network lab reserves for VM $1 (from aether net show).
resv() {
	ae net show lab >"$WORK/show" 2>&1 || { cat "$WORK/show" >&2; fail "aether net show lab failed"; }
	awk -v vm="$1" '$1 == "reservation:" && $2 == vm { print $4 }' "$WORK/show"
}

up="aether.tcp=$NET_UP_ADDR:$NET_UP_PORT"
ae_expect 0 created create g1 --backend tap --image "$WORK/base.qcow2" \
	--kernel "$GUEST_KERNEL" --initrd "$GUEST_INITRD" \
	--append "console=ttyS0 quiet panic=-1 aether.ipv6 $up aether.dns=g2.lab.aether aether.hold=forever"
ae_expect 0 created create g2 --backend tap --image "$WORK/base.qcow2" \
	--kernel "$GUEST_KERNEL" --initrd "$GUEST_INITRD" \
	--append "console=ttyS0 quiet panic=-1 aether.dns=g1.lab.aether aether.hold=forever"
ip1=$(resv g1) ip2=$(resv g2)
[ -n "$ip1" ] && [ -n "$ip2" ] ||
	{ cat "$WORK/show" >&2; fail "aether net show lab lists no reservation for g1 ('$ip1') or g2 ('$ip2')"; }
[ "$ip1" != "$ip2" ] || { cat "$WORK/show" >&2; fail "clones g1 and g2 share $ip1"; }
# The pool starts at the second host address; each takes the lowest free.
[ "$ip1" = 10.123.0.2 ] && [ "$ip2" = 10.123.0.3 ] ||
	{ cat "$WORK/show" >&2; fail "reservations g1=$ip1 g2=$ip2, expected the lowest free 10.123.0.2 and 10.123.0.3"; }
pass "clones of one base reserved different addresses: g1 $ip1, g2 $ip2"
ae_expect 0 '' list
grep -q "$ip1(reserved)" "$WORK/out" ||
	{ cat "$WORK/out" >&2; fail "aether list does not show $ip1(reserved)"; }

# ---------------------------------------------------------------------
# Both guests on the network, which their first start brings up.
ae_expect 0 '' net show lab
grep -q '^state: *down' "$WORK/out" || { cat "$WORK/out" >&2; fail "net show lab: up before any VM started"; }
ip link show "$BR" >/dev/null 2>&1 && fail "$BR exists before any VM started"
ae_expect 0 running start g1
ae_expect 0 running start g2
ae_expect 0 '' net show lab
grep -q '^state: *up' "$WORK/out" || { cat "$WORK/out" >&2; fail "net show lab: not up after starting g1"; }
dpid=$(sed -n 's/^dnsmasq: *\([0-9][0-9]*\).*/\1/p' "$WORK/out")
[ -n "$dpid" ] && alive "$dpid" || { cat "$WORK/out" >&2; fail "net show lab: no live dnsmasq pid"; }
# The detectors the cleanup checks rely on see what runs now.
case " $(dnsmasqs) " in
*" $dpid "*) ;;
*) fail "the dnsmasq finder does not see dnsmasq $dpid: '$(dnsmasqs)'" ;;
esac
[ -n "$(net_nft_traces lab "$BR" "$SUB4")" ] ||
	{ cat "$WORK/nft.now" >&2; fail "no nft rules of lab found while it is up"; }
ip -d link show "$BR" | grep -q bridge || fail "no bridge $BR"
ae_expect 0 '' net list
awk -v br="$BR" -v s="$SUB4" -v s6="$SUB6" '$1 == "lab" && $2 == "up" && $3 == br &&
	$4 == s && $5 == s6 && $6 == 2 { ok = 1 } END { exit !ok }' "$WORK/out" ||
	{ cat "$WORK/out" >&2; fail "net list: no line 'lab up $BR $SUB4 $SUB6 2'"; }
for g in g1 g2; do
	con=$WORK/store/vms/$g/console.log
	wait_for "$con" 'AETHER-GUEST: (holding forever|lease-fail|done)' 180 ||
		{ grep -a 'GUEST' "$con" >&2; fail "$g did not come up in 180 s"; }
done
c1=$WORK/store/vms/g1/console.log c2=$WORK/store/vms/g2/console.log
lease_of() { grep -a -o 'AETHER-GUEST: lease ip=[0-9.]*' "$1" | head -n 1 | sed 's/.*ip=//'; }
l1=$(lease_of "$c1") l2=$(lease_of "$c2")
[ "$l1" = "$ip1" ] || { grep -a GUEST "$c1" >&2; fail "g1 leased '$l1', its reservation is $ip1"; }
[ "$l2" = "$ip2" ] || { grep -a GUEST "$c2" >&2; fail "g2 leased '$l2', its reservation is $ip2"; }
pass "each guest's DHCP lease is its reservation (g1 $l1, g2 $l2)"

# Name resolution through the network's dnsmasq.
expect "$c1" "AETHER-GUEST: dns g2\.lab\.aether ([0-9a-f.:,]*,)?${ip2}(,|.?$)" \
	"g1 resolves g2.lab.aether to $ip2"
expect "$c2" "AETHER-GUEST: dns g1\.lab\.aether ([0-9a-f.:,]*,)?${ip1}(,|.?$)" \
	"g2 resolves g1.lab.aether to $ip1"

# The upstream through the NAT.
expect "$c1" "AETHER-GUEST: tcp-reply upstream-saw $NET_UPLINK_ADDR" \
	"g1 reached the upstream server, which saw the uplink address"
grep -q "^$NET_UPLINK_ADDR hello-from-guest $ip1" "$WORK/upstream.log" ||
	{ cat "$WORK/upstream.log" >&2; fail "the upstream log has no connection from $NET_UPLINK_ADDR for $ip1"; }
grep -q "^$ip1 " "$WORK/upstream.log" &&
	fail "the upstream saw the guest's own address $ip1: not masqueraded"
pass "the upstream saw $NET_UPLINK_ADDR, not $ip1"

# IPv6: SLAAC in the network's /64.
a6=$(grep -a -o 'AETHER-GUEST: ipv6 addr=[0-9a-f:/]*' "$c1" | head -n 1 | sed 's/.*addr=//')
case $a6 in
fd42:123:0:1:*/64) pass "g1 has IPv6 address $a6 in $SUB6" ;;
*) grep -a 'GUEST\|guest' "$c1" >&2; fail "g1's IPv6 address '$a6' is not in $SUB6" ;;
esac

# aether list shows the addresses as leased once dnsmasq recorded them.
i=0
until ae list >"$WORK/out" 2>&1 && grep -q "$ip1(leased)" "$WORK/out" &&
	grep -q "$ip2(leased)" "$WORK/out"; do
	i=$((i + 1))
	[ $i -lt 50 ] || { cat "$WORK/out" >&2; fail "aether list does not show $ip1(leased) and $ip2(leased)"; }
	sleep 0.2
done
ae_expect 0 '' status g1 --json
grep -q "\"address\":\"$ip1\",\"source\":\"leased\"" "$WORK/out" ||
	{ cat "$WORK/out" >&2; fail "status g1 --json does not show $ip1 leased"; }
pass "aether list and status show the leased addresses"

# The rules, read back through libnftables.
net_nft_dump "$WORK/nft.up"
chk_rule() {
	awk -v want="$1" '$1 == "rule" {
		n = split(want, w, " "); ok = 1
		for (i = 1; i <= n; i++) {
			hit = 0
			for (j = 3; j <= NF; j++) if ($j == w[i]) hit = 1
			if (!hit) ok = 0
		}
		if (ok) found = 1
	} END { exit !found }' "$WORK/nft.up" ||
		{ cat "$WORK/nft.up" >&2; fail "aether's table has no rule with: $1 ($2)"; }
}
grep -q '^table inet aether$' "$WORK/nft.up" || { cat "$WORK/nft.up" >&2; fail "no table inet aether"; }
chk_rule "ip.saddr==$SUB4 ip.daddr!=$SUB4 masquerade" "IPv4 masquerade"
chk_rule "ip6.saddr==$SUB6 ip6.daddr!=$SUB6 masquerade" "IPv6 masquerade"
chk_rule "iifname==$BR accept" "forward from the bridge"
chk_rule "oifname==$BR accept" "forward back to the bridge"
grep -Eq '^chain [a-z]+_lab type=nat hook=postrouting' "$WORK/nft.up" ||
	{ cat "$WORK/nft.up" >&2; fail "no postrouting nat chain of lab"; }
pass "aether's nft table holds lab's forward and masquerade rules"

# ---------------------------------------------------------------------
# A VM file outside the store, run with `aether run`: its address is
# reserved for the run and released when it ends, also when its start
# fails; g1 and g2 (in the store, running) keep theirs.

# solo_file NAME MAC [VM KEY LINES]: a VM file outside the store on lab.
solo_file() {
	cat <<EOC
[vm]
name = $1
mac = $2
kernel = $GUEST_KERNEL
initrd = $GUEST_INITRD
append = console=ttyS0 quiet panic=-1
console = file:$WORK/$1.console
${3:-}
[network]
backend = tap
[network.tap]
network = lab
prefix = $PREFIX
EOC
}
# The address `aether run` logged reserving for VM $1 (log file $2).
run_resv() {
	sed -n "s/^.*$1: network lab (bridge $BR), address \([0-9.]*\) reserved.*/\1/p" "$2" | head -n 1
}
solo_mac=52:54:00:5e:a1:01
solo_file solo "$solo_mac" >"$WORK/solo.conf"
[ ! -e "$WORK/store/vms/solo" ] || fail "solo is in the store"
# The guest takes its lease and powers off by itself.
timeout 240 "$AETHER" -c "$WORK/host.conf" -v run "$WORK/solo.conf" >"$WORK/solo.log" 2>&1
rc=$?
[ $rc = 0 ] || { cat "$WORK/solo.log" >&2; grep -a GUEST "$WORK/solo.console" >&2; fail "aether run solo.conf exited $rc"; }
sip=$(run_resv solo "$WORK/solo.log")
[ -n "$sip" ] || { cat "$WORK/solo.log" >&2; fail "aether run solo.conf logged no reservation on lab"; }
sl=$(lease_of "$WORK/solo.console")
[ "$sl" = "$sip" ] || { grep -a GUEST "$WORK/solo.console" >&2; fail "solo leased '$sl', its reservation was $sip"; }
[ -z "$(resv solo)" ] || { cat "$WORK/show" >&2; fail "aether run of solo.conf (not in the store) left its reservation $sip"; }
[ "$(resv g1)" = "$ip1" ] && [ "$(resv g2)" = "$ip2" ] ||
	{ cat "$WORK/show" >&2; fail "g1 or g2 lost its reservation ($ip1, $ip2) when solo's run ended"; }
grep -q "solo: address $sip on network lab released (not in the store)" "$WORK/solo.log" ||
	{ cat "$WORK/solo.log" >&2; fail "aether run solo.conf did not log the release of $sip"; }
grep -qi "$solo_mac" "$NETDIR/dhcp-hosts" &&
	{ cat "$NETDIR/dhcp-hosts" >&2; fail "dnsmasq's dhcp-hosts still has solo's entry ($solo_mac)"; }
pass "aether run of a VM outside the store: $sip leased, released at its end; g1 and g2 keep $ip1 and $ip2"

# Another VM outside the store (another name and MAC) right after: it
# gets the address solo gave back, and its lease at once (solo's lease
# went with its reservation: dnsmasq offers no configured address that is
# leased to another MAC).
solo_file solo3 52:54:00:5e:a1:03 >"$WORK/solo3.conf"
timeout 240 "$AETHER" -c "$WORK/host.conf" -v run "$WORK/solo3.conf" >"$WORK/solo3.log" 2>&1
rc=$?
[ $rc = 0 ] || { cat "$WORK/solo3.log" >&2; grep -a GUEST "$WORK/solo3.console" >&2; fail "aether run solo3.conf exited $rc"; }
sip3=$(run_resv solo3 "$WORK/solo3.log")
[ "$sip3" = "$sip" ] || { cat "$WORK/solo3.log" >&2; fail "solo3 reserved '$sip3', not $sip that solo gave back (the lowest free)"; }
sl3=$(lease_of "$WORK/solo3.console")
[ "$sl3" = "$sip" ] ||
	{ grep -a GUEST "$WORK/solo3.console" >&2; grep -a "$sip\|5e:a1:0" "$NETDIR/dnsmasq.log" >&2; fail "solo3 leased '$sl3', not its reservation $sip (solo's lease kept?)"; }
[ -z "$(resv solo3)" ] || { cat "$WORK/show" >&2; fail "aether run of solo3.conf left its reservation $sip"; }
pass "the next VM outside the store got $sip and its lease at once; released again"

# The same when QEMU does not start: the reservation made goes again.
solo_file solo2 52:54:00:5e:a1:02 "qemu = $WORK/no-such-qemu" >"$WORK/solo2.conf"
timeout 120 "$AETHER" -c "$WORK/host.conf" -v run "$WORK/solo2.conf" >"$WORK/solo2.log" 2>&1
rc=$?
[ $rc != 0 ] && [ $rc != 124 ] || { cat "$WORK/solo2.log" >&2; fail "aether run solo2.conf (no QEMU) exited $rc, expected a failure"; }
sip2=$(run_resv solo2 "$WORK/solo2.log")
[ -n "$sip2" ] || { cat "$WORK/solo2.log" >&2; fail "aether run solo2.conf logged no reservation on lab before QEMU failed"; }
[ -z "$(resv solo2)" ] || { cat "$WORK/show" >&2; fail "the failed run of solo2.conf left its reservation $sip2"; }
[ "$(resv g1)" = "$ip1" ] && [ "$(resv g2)" = "$ip2" ] ||
	{ cat "$WORK/show" >&2; fail "g1 or g2 lost its reservation ($ip1, $ip2) when solo2's run failed"; }
pass "a failed aether run (QEMU did not start) released $sip2 too"

# A VM outside the store whose supervisor and QEMU are killed (kill -9)
# cannot release its address itself: aether gc does, and only that one
# (g1 and g2 are in the store and running).
solo_file solo4 52:54:00:5e:a1:04 |
	sed 's/^append = .*/& aether.hold=forever/' >"$WORK/solo4.conf"
"$AETHER" -c "$WORK/host.conf" -v run "$WORK/solo4.conf" >"$WORK/solo4.log" 2>&1 &
s4=$!
wait_for "$WORK/solo4.console" 'AETHER-GUEST: (holding forever|lease-fail|done)' 180 ||
	{ cat "$WORK/solo4.log" >&2; grep -a GUEST "$WORK/solo4.console" >&2; fail "solo4 did not come up in 180 s"; }
sip4=$(run_resv solo4 "$WORK/solo4.log")
[ -n "$sip4" ] && [ "$(resv solo4)" = "$sip4" ] ||
	{ cat "$WORK/show" "$WORK/solo4.log" >&2; fail "solo4 holds no reservation while it runs ('$sip4')"; }
q4=$(cat "$RUN/vms/solo4/qemu.pid" 2>/dev/null)
[ -n "$q4" ] || fail "no QEMU pid for solo4"
kill -9 "$s4" "$q4"
wait "$s4" 2>/dev/null
wait_dead "solo4's QEMU" "$q4"
[ "$(resv solo4)" = "$sip4" ] ||
	{ cat "$WORK/show" >&2; fail "solo4's reservation went before aether gc (nothing should release it)"; }
"$AETHER" -c "$WORK/host.conf" -v gc >"$WORK/gc4.log" 2>&1 ||
	{ cat "$WORK/gc4.log" >&2; fail "aether gc failed after solo4 was killed"; }
[ -z "$(resv solo4)" ] || { cat "$WORK/show" "$WORK/gc4.log" >&2; fail "aether gc left the reservation $sip4 of solo4 (killed, not in the store)"; }
grep -q "solo4: address $sip4 on network lab released (gc: not in the store and not running)" "$WORK/gc4.log" ||
	{ cat "$WORK/gc4.log" >&2; fail "aether gc did not log the release of solo4's $sip4"; }
[ "$(resv g1)" = "$ip1" ] && [ "$(resv g2)" = "$ip2" ] ||
	{ cat "$WORK/show" >&2; fail "aether gc took g1's or g2's reservation ($ip1, $ip2)"; }
pass "aether gc released $sip4 of solo4 (killed, not in the store); g1 and g2 keep theirs"

# ---------------------------------------------------------------------
# Deleting a VM frees its address for the next one created.
resv g1 >/dev/null
mac1=$(awk '$1 == "reservation:" && $2 == "g1" { print $3 }' "$WORK/show")
[ -n "$mac1" ] || { cat "$WORK/show" >&2; fail "net show lab gives no MAC for g1"; }
grep -qi "$mac1" "$NETDIR/dhcp-hosts" ||
	{ cat "$NETDIR/dhcp-hosts" >&2; fail "dnsmasq's dhcp-hosts has no entry for g1 ($mac1)"; }
ae_expect 0 stopped stop g1 --timeout 30
# A store VM keeps its address across a stop (its next start gets it).
[ "$(resv g1)" = "$ip1" ] || { cat "$WORK/show" >&2; fail "stopping g1 lost its reservation $ip1"; }
ae_expect 0 deleted delete g1
[ -z "$(resv g1)" ] || { cat "$WORK/show" >&2; fail "delete g1 left its reservation"; }
ae_expect 0 created create g3 --backend tap --image "$WORK/base.qcow2" \
	--kernel "$GUEST_KERNEL" --initrd "$GUEST_INITRD" \
	--append "console=ttyS0 quiet panic=-1 aether.hold=forever"
ip3=$(resv g3)
[ "$ip3" = "$ip1" ] || { cat "$WORK/show" >&2; fail "g3 reserved '$ip3', not g1's freed $ip1 (the lowest free)"; }
grep -qi "$mac1" "$NETDIR/dhcp-hosts" &&
	{ cat "$NETDIR/dhcp-hosts" >&2; fail "dnsmasq's dhcp-hosts still has g1's entry ($mac1)"; }
pass "deleting g1 freed $ip1; g3 got it"
# g1's lease went with it: g3 (another MAC) is offered $ip1 at once
# (dnsmasq never offers a configured address leased to another client).
ae_expect 0 running start g3
c3=$WORK/store/vms/g3/console.log
wait_for "$c3" 'AETHER-GUEST: (holding forever|lease-fail|done)' 180 ||
	{ grep -a 'GUEST' "$c3" >&2; fail "g3 did not come up in 180 s"; }
l3=$(lease_of "$c3")
[ "$l3" = "$ip1" ] || { grep -a GUEST "$c3" >&2; tail -n 20 "$NETDIR/dnsmasq.log" >&2 2>/dev/null; fail "g3 leased '$l3', not its reservation $ip1 (g1's lease kept by dnsmasq?)"; }
pass "g3 leased g1's freed $ip1 at once: the delete gave g1's lease back"
ae_expect 0 stopped stop g3 --timeout 30
ae_expect 0 deleted delete g3

# ---------------------------------------------------------------------
# kill -9 of g2's supervisor, dnsmasq and QEMU; aether gc; net stop.
sup=$(cat "$RUN/vms/g2/pid" 2>/dev/null)
qpid=$(cat "$RUN/vms/g2/qemu.pid" 2>/dev/null)
dpid=$(cat "$NETDIR/dnsmasq.pid" 2>/dev/null)
[ -n "$sup" ] && [ -n "$qpid" ] && [ -n "$dpid" ] ||
	fail "missing pid: supervisor '$sup', QEMU '$qpid', dnsmasq '$dpid'"
kill -9 "$sup" "$dpid" "$qpid"
wait_dead "g2's supervisor, dnsmasq or QEMU" "$sup" "$dpid" "$qpid"
ae_expect 0 '' gc
# gc takes down a network whose dnsmasq died; net stop then finds nothing.
ae_expect 0 '' net show lab
grep -q '^state: *down' "$WORK/out" || { cat "$WORK/out" >&2; fail "net show lab after gc: not down (its dnsmasq was killed)"; }
ip link show "$BR" >/dev/null 2>&1 && fail "aether gc left the bridge $BR of a network whose dnsmasq died"
pass "aether gc took down lab, whose dnsmasq had died"
ae_expect 0 '' net stop lab
assert_no_net "after kill -9, gc and net stop" lab "$BR" "$SUB4"
assert_no_dnsmasq "after kill -9, gc and net stop"
# No network is up any more: aether's table is gone with its last one.
grep -qx absent "$WORK/nft.now" ||
	{ cat "$WORK/nft.now" >&2; fail "table inet aether is left with no network up"; }
ae_expect 0 '' net show lab
grep -q '^state: *down' "$WORK/out" || { cat "$WORK/out" >&2; fail "net show lab: not down"; }
grep -q '^dnsmasq: *-' "$WORK/out" || { cat "$WORK/out" >&2; fail "net show lab: still names a dnsmasq"; }
ae_expect 0 deleted delete g2 --force
lc_assert_clean "managed network"
exit 0
