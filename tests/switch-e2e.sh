#!/bin/sh
# switch-e2e.sh - the live backend switch end to end: `aether network
# switch|show` on a real guest (switchable = yes) that pings its gateway
# every 100 ms and fetches from a server on its network once a second
# (the test guest's aether.follow and aether.fetch), in private network,
# mount and pid namespaces.  The networks:
#   slirp  libslirp (mode = libslirp): the server is reached at 10.0.2.2,
#          i.e. the namespace's loopback;
#   tap    a bridge swbr (10.123.0.1/24) with a dnsmasq the test runs,
#          joined with --set bridge=swbr;
#   vde    a switch aether starts (managed) with a TAP port swvde
#          (10.88.0.1/24) on which the test runs a dnsmasq.
# One server (socat, every address, port $SPORT) answers "server-at ADDR"
# with the address it was reached at, so a reply names the network.
# Checked:
#   - slirp -> tap -> vde -> slirp: after each switch the guest takes a
#     lease on the new network and reaches the server there; its MAC and
#     interface name never change; network show (text and --json) names the
#     backend, its options and the attachment;
#   - a switch whose attach fails (tap on a bridge that does not exist):
#     exit 1 with the plugin's error naming the bridge, the guest keeps
#     pinging and fetching on slirp, no link down, nothing of the attempt
#     left (no TAP device, no runtime record of it);
#   - a forward on slirp is reported dropped by the switch to tap;
#   - a switch onto a managed network ([net.lab], --set network=lab) and
#     back: lease of the reserved address, net stop refused while on it;
#   - --persist rewrites the VM file (backend and [network.tap]); without it
#     the file is byte for byte the same; the next start uses the file;
#   - kill -9 of the supervisor while a switch to vde is under way (once
#     network.next, the record of a switch in progress, exists), then
#     aether gc: no QEMU, supervisor, TAP device, vde_switch, runtime dir,
#     socket or record left.
# Needs root, unshare, ip, dnsmasq, socat, vde_switch, qemu, qemu-img and
# the slirp plugin built with libslirp.  KEEP_WORK=1 keeps the scratch
# directory.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
. "$top_srcdir/tests/lifecycle-lib.sh"
LC_PREFIX=swt    # the TAP devices lc_assert_clean looks for
SPORT=7807

if ! in_namespaces; then
	need dnsmasq socat vde_switch
	make_work
	"$AETHER" network --help >"$WORK/help" 2>&1 ||
		fail "this aether has no 'aether network': $(cat "$WORK/help")"
	[ "$(slirp_has_libslirp)" = yes ] ||
		skip "the slirp plugin has no libslirp (mode = libslirp): a switchable VM cannot use it"
	guest
	export GUEST_KERNEL GUEST_INITRD
fi
lc_enter "$@"

make_work
ip link set lo up
RUN=$WORK/run
AETHER_STORE_DIR=$WORK/store
export AETHER_STORE_DIR
unset AETHER_RUNTIME_DIR XDG_RUNTIME_DIR
VM=sw1
CON=$WORK/store/vms/$VM/console.log
VMFILE=$WORK/store/vms/$VM/vm.conf

# dnsmasq NAME SUBNET-PREFIX: DHCP on device NAME, gateway PREFIX.1.
run_dnsmasq() {
	dnsmasq -k --conf-file=/dev/null --interface="$1" --bind-dynamic \
		--except-interface=lo --port=0 --user=root \
		--dhcp-range="$2.10,$2.50,255.255.255.0,1h" \
		--dhcp-option=option:router,"$2.1" \
		--dhcp-leasefile="$WORK/$1.leases" --pid-file="$WORK/$1.pid" \
		--log-facility="$WORK/$1-dnsmasq.log" 2>"$WORK/$1-dnsmasq.err" &
	at_exit "kill $! 2>/dev/null"
}
# The tap network: a bridge and its dnsmasq.
ip link add swbr type bridge || fail "cannot create the bridge swbr"
ip addr add 10.123.0.1/24 dev swbr
ip link set swbr up
run_dnsmasq swbr 10.123.0
# The vde network: a TAP device the managed switch plugs in, and dnsmasq.
ip tuntap add dev swvde mode tap || fail "cannot create the TAP device swvde"
ip addr add 10.88.0.1/24 dev swvde
ip link set swvde up
run_dnsmasq swvde 10.88.0
# The server on every network.
socat TCP-LISTEN:$SPORT,fork,reuseaddr \
	SYSTEM:'echo server-at $SOCAT_SOCKADDR' 2>"$WORK/socat.err" &
SOCAT=$!
at_exit "kill $SOCAT 2>/dev/null"

cat >"$WORK/host.conf" <<EOC
[aether]
runtime_dir = $RUN
[vm]
accel = tcg
memory = 256
stop_timeout = 5
switchable = yes
[network]
backend = slirp
[network.slirp]
mode = libslirp
[network.tap]
prefix = $LC_PREFIX
[network.vde]
managed = yes
tap = swvde
[net.lab]
subnet = 10.77.0.0/24
nat = no
EOC
qemu-img create -q -f qcow2 "$WORK/base.qcow2" 16M || fail "qemu-img create failed"

# Console lines after line $1 (the count before an action).
since() { tail -n "+$(($1 + 1))" "$CON" 2>/dev/null | tr -d '\r'; }
# Wait until a console line after line $1 matches $2 (grep -E), $3 s.
wait_since() {
	_i=0
	while [ $_i -lt $(($3 * 10)) ]; do
		since "$1" | grep -Eq "$2" && return 0
		sleep 0.1
		_i=$((_i + 1))
	done
	return 1
}
lines() { wc -l <"$CON" | tr -d ' '; }
guest_log() {
	log "--- guest console ---"; grep -a 'GUEST\|guest' "$CON" | tr -d '\r' >&2
	log "--- supervisor.log ---"; tail -n 30 "$WORK/store/vms/$VM/supervisor.log" >&2
	log "---"
}
# The guest keeps working from line $1 on: a second with ping replies
# from gateway $2 and a reply of the server at $3.
assert_working() {
	wait_since "$1" "AETHER-GUEST: follow ping gw=$2 replies=[1-9]" 60 ||
		{ guest_log; fail "$4: no ping replies from $2"; }
	wait_since "$1" "AETHER-GUEST: fetch [0-9.]+:$SPORT server-at $3\$" 60 ||
		{ guest_log; fail "$4: no reply from the server at $3"; }
}

ae_expect 0 created create "$VM" --backend slirp --image "$WORK/base.qcow2" \
	--kernel "$GUEST_KERNEL" --initrd "$GUEST_INITRD" \
	--append "console=ttyS0 quiet panic=-1 aether.follow=forever aether.fetch=$SPORT"
ae_expect 0 '' start "$VM"
wait_for "$CON" 'AETHER-GUEST: (follow start|lease-fail|done)' 180 ||
	{ guest_log; fail "$VM did not come up in 180 s"; }
start=$(grep -a 'AETHER-GUEST: follow start' "$CON" | head -n 1 | tr -d '\r')
MAC=$(echo "$start" | sed -n 's/.* mac=\([0-9a-f:]*\).*/\1/p')
IFACE=$(echo "$start" | sed -n 's/.* iface=\([^ ]*\).*/\1/p')
[ -n "$MAC" ] && [ -n "$IFACE" ] || { guest_log; fail "no 'follow start iface=IF mac=MAC' line"; }
assert_working 0 10.0.2.2 127.0.0.1 "on slirp"
pass "$VM runs on slirp: $IFACE $MAC pings 10.0.2.2 and reaches the server"

# network show: the contract's lines.
show() {
	ae_expect 0 '' network show "$VM"
	cp "$WORK/out" "$WORK/show"
	grep -qx "backend $1" "$WORK/show" ||
		{ cat "$WORK/show" >&2; fail "network show: no line 'backend $1'"; }
	grep -Eq "^attachment $2( |\$)" "$WORK/show" ||
		{ cat "$WORK/show" >&2; fail "network show: no line 'attachment $2 ...' on $1"; }
	[ "$(grep -c '^backend ' "$WORK/show")" = 1 ] && [ "$(grep -c '^attachment ' "$WORK/show")" = 1 ] ||
		{ cat "$WORK/show" >&2; fail "network show: not one backend and one attachment line"; }
	bad=$(grep -Ev '^(backend|option|attachment|address) ' "$WORK/show")
	[ -z "$bad" ] || { cat "$WORK/show" >&2; fail "network show: lines outside the contract: $bad"; }
	ae_expect 0 '' network show "$VM" --json
	grep -q "\"backend\":\"$1\"" "$WORK/out" && grep -q "\"kind\":\"$2\"" "$WORK/out" ||
		{ cat "$WORK/out" >&2; fail "network show --json: not backend $1 with attachment kind $2"; }
}
show slirp frame
grep -qx 'option mode libslirp' "$WORK/show" ||
	{ cat "$WORK/show" >&2; fail "network show: no 'option mode libslirp'"; }

# Every lease the guest took so far has the NIC's MAC and interface name.
same_nic() {
	bad=$(grep -a 'AETHER-GUEST: lease ' "$CON" | tr -d '\r' |
		grep -v " iface=$IFACE mac=$MAC\$")
	[ -z "$bad" ] || { guest_log; fail "$1: a lease on another NIC: $bad"; }
}

# ---------------------------------------------------------------------
# A switch whose attach fails: tap on a bridge that does not exist.
cp "$VMFILE" "$WORK/vm.conf.before"
n=$(lines)
ae_expect 1 'nonexistent0' network switch "$VM" tap --set bridge=nonexistent0 --persist
log "failed switch: $(head -n 1 "$WORK/err")"
cmp -s "$VMFILE" "$WORK/vm.conf.before" || fail "failed switch: the VM file changed"
[ -e "$RUN/vms/$VM/network.next" ] && fail "failed switch: $RUN/vms/$VM/network.next is left"
t=$(ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | grep "^$LC_PREFIX")
[ -z "$t" ] || fail "failed switch: TAP device left: $t"
ip link show nonexistent0 >/dev/null 2>&1 && fail "failed switch: the bridge nonexistent0 was made"
show slirp frame
assert_working "$(lines)" 10.0.2.2 127.0.0.1 "after the failed switch"
since "$n" | grep -q 'AETHER-GUEST: follow carrier' &&
	{ guest_log; fail "failed switch: the guest saw its link go down"; }
pass "a failed attach: exit 1 naming nonexistent0, the guest on slirp untouched, nothing left"

# ---------------------------------------------------------------------
# slirp -> tap -> vde -> slirp.
# switch_to LINE-COUNT BACKEND KIND LEASE-RE GATEWAY SERVER ARGS...
switch_to() {
	b=$1 kind=$2 lease=$3 gw=$4 srv=$5
	shift 5
	n=$(lines)
	ae_expect 0 "now on backend $b" network switch "$VM" "$b" "$@"
	cp "$WORK/out" "$WORK/switch.out"
	wait_since "$n" "AETHER-GUEST: lease ip=$lease " 120 ||
		{ guest_log; fail "after the switch to $b: no lease in $lease"; }
	assert_working "$n" "$gw" "$srv" "on $b"
	same_nic "on $b"
	show "$b" "$kind"
	[ -e "$RUN/vms/$VM/network.next" ] && fail "on $b: network.next is left after the switch"
	pass "switched to $b: lease in $lease, pings $gw, server at $srv reached, same NIC ($IFACE $MAC)"
}
# A forward on slirp, which tap has no forwards for: reported dropped.
FPORT=$(free_port)
ae_expect 0 '' forward add "$VM" tcp "127.0.0.1:$FPORT" 22
switch_to tap tap '10\.123\.0\.[0-9]+' 10.123.0.1 10.123.0.1 --set bridge=swbr --persist
grep -qx "$VM: forward tcp 127.0.0.1:$FPORT 22 dropped: backend tap did not take it" "$WORK/switch.out" ||
	{ cat "$WORK/switch.out" >&2; fail "the switch to tap did not report the slirp forward 127.0.0.1:$FPORT dropped"; }
pass "the switch to tap reported the forward 127.0.0.1:$FPORT dropped"
grep -qx 'option bridge swbr' "$WORK/show" ||
	{ cat "$WORK/show" >&2; fail "network show on tap: no 'option bridge swbr'"; }
grep -Eq "^attachment tap $LC_PREFIX[0-9]+" "$WORK/show" ||
	{ cat "$WORK/show" >&2; fail "network show on tap: the attachment is not a $LC_PREFIX* device"; }
# --persist: the file names tap and bridge = swbr, and still loads.
awk '/^\[/ { s = $0 } s == "[network]" && /^backend *= *tap *$/ { b = 1 }
	s == "[network.tap]" && /^bridge *= *swbr *$/ { n = 1 } END { exit !(b && n) }' "$VMFILE" ||
	{ cat "$VMFILE" >&2; fail "--persist: the VM file does not say backend = tap with [network.tap] bridge = swbr"; }
ae_expect 0 OK check-config "$VMFILE"
pass "--persist: the VM file now names tap on swbr"

cp "$VMFILE" "$WORK/vm.conf.tap"
switch_to vde vde '10\.88\.0\.[0-9]+' 10.88.0.1 10.88.0.1
grep -Eq '^attachment vde ' "$WORK/show" || fail "network show on vde: no vde attachment"
cmp -s "$VMFILE" "$WORK/vm.conf.tap" || { diff "$WORK/vm.conf.tap" "$VMFILE" >&2; fail "a switch without --persist changed the VM file"; }
switch_to slirp frame '10\.0\.2\.[0-9]+' 10.0.2.2 127.0.0.1
cmp -s "$VMFILE" "$WORK/vm.conf.tap" || fail "a switch without --persist changed the VM file"
t=$(ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | grep "^$LC_PREFIX")
[ -z "$t" ] || fail "back on slirp: TAP device of the tap attachment left: $t"
pass "without --persist the VM file is unchanged"

# Onto a managed network: --set network=lab brings lab up, reserves the
# VM's address and joins lab's bridge, as a start does; off it again, the
# network no longer counts the VM as a user.
switch_to tap tap '10\.77\.0\.[0-9]+' 10.77.0.1 10.77.0.1 --set network=lab
ae_expect 0 '' net show lab
grep -Eq "^reservation: $VM [0-9a-f:]+ 10\.77\.0\.[0-9]+ " "$WORK/out" ||
	{ cat "$WORK/out" >&2; fail "net show lab: no reservation of $VM"; }
ae_expect 1 "$VM" net stop lab
switch_to slirp frame '10\.0\.2\.[0-9]+' 10.0.2.2 127.0.0.1
# status names the backend the VM runs on now, not its file's (tap)
ae_expect 0 '^backend: +slirp$' status "$VM"
ae_expect 0 '' net stop lab
pass "a switch onto the managed network lab and off it again"

# ---------------------------------------------------------------------
# kill -9 of the supervisor during a switch to vde, then aether gc.
sup=$(cat "$RUN/vms/$VM/pid" 2>/dev/null)
[ -n "$sup" ] && alive "$sup" || fail "no live supervisor pid in $RUN/vms/$VM/pid"
ae network switch "$VM" vde >"$WORK/kill.out" 2>&1 &
swpid=$!
# In the switch: once network.next (written before the attach) exists.
i=0
while [ ! -e "$RUN/vms/$VM/network.next" ] && [ $i -lt 3000 ]; do
	i=$((i + 1))
	sleep 0.01
done
if [ -e "$RUN/vms/$VM/network.next" ]; then
	log "network.next seen: killing the supervisor in the switch"
else
	log "network.next never seen: killing the supervisor anyway"
fi
kill -9 "$sup"
wait $swpid
log "the switch command said: $(tr '\n' ' ' <"$WORK/kill.out")"
wait_dead "the supervisor" "$sup"
ae_expect 0 '' gc
lc_assert_clean "kill -9 during a switch, then gc"
sw=$(procs '^\(/usr/bin/\)\?vde_switch ' | tr '\n' ' ')
[ -z "$sw" ] || fail "vde_switch left after gc: $sw"
pl=$(procs '^\(/usr/bin/\)\?vde_plug ' | tr '\n' ' ')
[ -z "$pl" ] || fail "vde_plug left after gc: $pl"
# (the backend's lock file stays: it is the directory's, not a VM's)
[ -z "$(ls -A "$RUN/plugins/vde" 2>/dev/null | grep -vx 'lock')" ] ||
	{ ls -lR "$RUN/plugins/vde" >&2; fail "runtime files of the vde backend left after gc"; }
pass "kill -9 during a switch, then gc: nothing left"

# ---------------------------------------------------------------------
# The next start uses the file: tap on swbr (persisted above).
mv "$CON" "$WORK/console.first" 2>/dev/null
n=0
ae_expect 0 '' start "$VM"
wait_since "$n" 'AETHER-GUEST: lease ip=10\.123\.0\.[0-9]+ ' 180 ||
	{ guest_log; fail "the next start: no lease on swbr (the persisted tap)"; }
show tap tap
same_nic "after the restart"
pass "the next start used the persisted backend tap"
ae_expect 0 '' stop "$VM" --force
lc_assert_clean "after stop"
