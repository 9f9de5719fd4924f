#!/bin/sh
# End to end with the passt backend, as root (QEMU and passt then run as
# the unprivileged VM user), in private network, mount and pid namespaces
# whose "host network" is a veth with 192.0.2.2/24 and 2001:db8::2/64 and
# default routes via .1 and ::1 (passt mirrors the host: the guest gets
# the host's addresses, and the gateway address reaches the host's
# loopback).
#   p6: a DHCP lease, a SLAAC IPv6 address, the guest reaches a server on
#       the host's ::1 through the IPv6 gateway, a forwarded port (tcp =)
#       reaches the guest over 127.0.0.1 and ::1, a run-time forward is
#       refused naming the option, passt runs as the VM's user, then
#       kill -9 of the supervisor and `aether gc`: no passt left, no state,
#       and a passt gc did not start is left alone.
#   p4: the guest reaches a server on the host's 127.0.0.1 through the IPv4
#       gateway; passt killed: the supervisor's check logs that it died.
#   Bad options: check-config refuses each, naming file, line and key.
. "${top_srcdir:-.}/tests/lib.sh"

[ "$(id -u)" = 0 ] || skip "needs root (a private network namespace with a host network of its own)"
need qemu-system-x86_64 passt python3 ip unshare
in_namespaces || reexec_in_namespaces "$@"
make_work
guest
RUN=$WORK/run
export AETHER_RUNTIME_DIR=$RUN

# --- this namespace's host network -----------------------------------------
ip link set lo up
ip link add pt0 type veth peer name pt1 || fail "cannot make a veth pair"
ip link set pt1 up
ip link set pt0 up
ip addr add 192.0.2.2/24 dev pt0
ip -6 addr add 2001:db8::2/64 dev pt0 nodad
ip route add default via 192.0.2.1 dev pt0
ip -6 route add default via 2001:db8::1 dev pt0 ||
	fail "cannot add the IPv6 default route"

if getent passwd aether-qemu >/dev/null 2>&1; then
	QUSER=aether-qemu
else
	QUSER=nobody
fi
QUID=$(id -u "$QUSER") || skip "no user $QUSER"

start_tcp_echo
# A server on ::1: answers "host6-says <line>".
python3 - "$WORK/port6" "$WORK/server6.log" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("::1", 0))
s.listen(8)
open(sys.argv[1] + ".tmp", "w").write("%d\n" % s.getsockname()[1])
import os; os.rename(sys.argv[1] + ".tmp", sys.argv[1])
while True:
    c, peer = s.accept()
    line = c.makefile().readline().strip()
    open(sys.argv[2], "a").write(line + "\n")
    c.sendall(("host6-says " + line + "\n").encode())
    c.close()
PY
SRV6=$!
at_exit "kill $SRV6 2>/dev/null"
wait_for "$WORK/port6" '^[0-9]+$' 10 || fail "the ::1 server did not start"
PORT6=$(cat "$WORK/port6")

# connect HOST PORT: the first line the guest answers, or "refused"
connect() {
	python3 - "$1" "$2" <<'PY'
import socket, sys
try:
    s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)
    s.sendall(b"hello-from-host\n")
    print(s.makefile().readline().strip() or "empty")
except ConnectionRefusedError:
    print("refused")
except Exception as e:
    print("error %s" % e)
PY
}

vm_conf() { # NAME APPEND [network.passt] LINES
	cat >"$WORK/$1.conf" <<EOT
# written by $TEST_NAME
[vm]
name = $1
memory = 256
accel = tcg
reboot = no
stop_timeout = 10
check_interval = 1
kernel = $GUEST_KERNEL
initrd = $GUEST_INITRD
append = console=ttyS0 quiet panic=-1 $2
console = file:$WORK/$1.log

[network]
backend = passt

[network.passt]
dns = 192.0.2.53
$3
EOT
}

FP=$(free_port) || exit 1
vm_conf p6 "aether.ipv6 aether.listen=8080 aether.tcp=2001:db8::1:$PORT6 aether.hold=forever" "tcp = $FP:8080"
# p4: a store VM (aether create, start, status, stop)
need qemu-img
export AETHER_STORE_DIR=$WORK/store
qemu-img create -q -f qcow2 "$WORK/base.qcow2" 16M || fail "qemu-img"
"$AETHER" -c none create p4 --image "$WORK/base.qcow2" --backend passt \
	--kernel "$GUEST_KERNEL" --initrd "$GUEST_INITRD" \
	--append "console=ttyS0 quiet panic=-1 aether.tcp=192.0.2.1:$PORT aether.hold=forever" \
	>"$WORK/out" 2>&1 || { cat "$WORK/out" >&2; fail "create p4"; }
P4DIR=$WORK/store/vms/p4
sed -i "s/^\[vm\]$/[vm]\naccel = tcg\nmemory = 256\ncheck_interval = 1\nstop_timeout = 10/" "$P4DIR/vm.conf"
printf '\n[network.passt]\ndns = 192.0.2.53\nipv6 = no\nmtu = 1500\n' >>"$P4DIR/vm.conf"
for v in p6; do
	"$AETHER" -c none check-config "$WORK/$v.conf" >"$WORK/out" 2>&1 ||
		{ cat "$WORK/out" >&2; fail "check-config rejected $v.conf"; }
done
pass "check-config accepts both VM files"

"$AETHER" -c none -v run "$WORK/p6.conf" 2>"$WORK/p6.err" &
APID6=$!
at_exit "kill -9 $APID6 2>/dev/null"
"$AETHER" -c none start p4 >"$WORK/p4.start" 2>&1 ||
	{ cat "$WORK/p4.start" "$P4DIR/supervisor.log" >&2; fail "aether start p4 failed"; }
at_exit "'$AETHER' -c none stop p4 --force >/dev/null 2>&1"

# --- p6: lease, IPv6, the host's ::1, forwards --------------------------------
wait_for_or_exit "$WORK/p6.log" 'AETHER-GUEST: (tcp-reply|tcp-fail)' 240 $APID6 ||
	{ cat "$WORK/p6.log" "$WORK/p6.err" >&2; fail "p6: the guest did not come up"; }
QPID6=$(cat "$RUN/vms/p6/qemu.pid")
at_exit "kill -9 $QPID6 2>/dev/null"
expect "$WORK/p6.log" 'AETHER-GUEST: lease ip=192\.0\.2\.2 router=192\.0\.2\.1 mask=255\.255\.255\.0 dns=192\.0\.2\.53' \
	"p6: the guest's lease mirrors the host (192.0.2.2 via 192.0.2.1, the DNS server set)"
expect "$WORK/p6.log" 'AETHER-GUEST: ipv6 addr=2001:db8::[0-9a-f:]+/64 router=fe80::' \
	"p6: the guest has an IPv6 address in the host's prefix and a route"
expect "$WORK/p6.log" 'AETHER-GUEST: listening 8080' "p6: the guest listens on 8080"
expect "$WORK/p6.log" 'AETHER-GUEST: tcp-reply host6-says hello-from-guest 192\.0\.2\.2' \
	"p6: the guest reached the server on the host's ::1 through the IPv6 gateway"
expect "$WORK/server6.log" '^hello-from-guest 192\.0\.2\.2$' "p6: the ::1 server saw the guest's line"

pidf=$RUN/plugins/passt/p6@0.pid
[ -s "$pidf" ] || fail "no $pidf"
PPID6=$(awk '{print $1}' "$pidf")
alive "$PPID6" || fail "passt pid $PPID6 of p6 is not running"
at_exit "kill -9 $PPID6 2>/dev/null"
uids=$(awk '/^Uid:/ {print $2 "/" $3}' "/proc/$PPID6/status")
[ "$uids" = "$QUID/$QUID" ] || fail "passt runs as uid $uids, want $QUSER ($QUID)"
tr '\0' ' ' <"/proc/$PPID6/cmdline" | grep -q -- "-t $FP:8080" ||
	fail "passt's argv has no -t $FP:8080: $(tr '\0' ' ' <"/proc/$PPID6/cmdline")"
pass "p6: passt runs as the VM's user $QUSER with the forward on its command line"
qcmd=$(tr '\0' ' ' <"/proc/$QPID6/cmdline")
echo "$qcmd" | grep -Eq -- '-netdev stream,id=net0,server=off,addr.type=fd,addr.str=[0-9]+' ||
	fail "QEMU has no stream netdev on an fd: $qcmd"
pass "p6: QEMU is connected to passt by a stream netdev on an fd"

reply=$(connect 127.0.0.1 "$FP")
[ "$reply" = "guest-says 192.0.2.2" ] || fail "127.0.0.1:$FP got '$reply', want 'guest-says 192.0.2.2'"
pass "p6: the forwarded port reaches the guest from 127.0.0.1"
reply=$(connect ::1 "$FP")
[ "$reply" = "guest-says 192.0.2.2" ] || fail "[::1]:$FP got '$reply', want 'guest-says 192.0.2.2'"
pass "p6: the forwarded port reaches the guest over IPv6 from ::1"

rc=0; "$AETHER" -c none forward add p6 tcp 127.0.0.1:$(free_port) 8080 >"$WORK/fwd.out" 2>&1 || rc=$?
[ $rc -ne 0 ] && grep -q EOPNOTSUPP "$WORK/fwd.out" ||
	{ cat "$WORK/fwd.out" >&2; fail "a run-time forward was not refused with EOPNOTSUPP (rc $rc)"; }
grep -q 'set tcp = in \[network.passt\]' "$WORK/p6.err" ||
	{ cat "$WORK/p6.err" >&2; fail "the refusal does not name the option to set"; }
pass "p6: a run-time forward is refused (EOPNOTSUPP), naming tcp = in [network.passt]"

# --- p4: the host's 127.0.0.1 over IPv4; addresses; passt dies ------------
wait_for "$P4DIR/console.log" 'AETHER-GUEST: (tcp-reply|tcp-fail)' 240 ||
	{ cat "$P4DIR/console.log" "$P4DIR/supervisor.log" >&2; fail "p4: the guest did not come up"; }
expect "$P4DIR/console.log" 'AETHER-GUEST: lease ip=192\.0\.2\.2 router=192\.0\.2\.1' "p4: the guest's lease mirrors the host"
expect "$P4DIR/console.log" 'AETHER-GUEST: tcp-reply host-says hello-from-guest 192\.0\.2\.2' \
	"p4: the guest reached the server on the host's 127.0.0.1 through the gateway"
expect "$WORK/server.log" '^hello-from-guest 192\.0\.2\.2$' "p4: the 127.0.0.1 server saw the guest's line"
"$AETHER" -c none status p4 >"$WORK/status.out" 2>&1 ||
	{ cat "$WORK/status.out" >&2; fail "aether status p4 failed"; }
cat "$WORK/status.out" >&2
expect "$WORK/status.out" '^address.*192\.0\.2\.2' "p4: aether status shows the address passt assigns (the host's)"
! grep '^address' "$WORK/status.out" | grep -q ':.*:' || fail "p4: an IPv6 address shown with ipv6 = no"
PPID4=$(awk '{print $1}' "$RUN/plugins/passt/p4@0.pid")
tr '\0' ' ' <"/proc/$PPID4/cmdline" | grep -q -- ' -4 ' || fail "p4: ipv6 = no did not give passt -4"
kill -9 "$PPID4"
wait_for "$P4DIR/supervisor.log" "passt pid $PPID4 of VM p4 NIC 0 has exited" 20 ||
	{ cat "$P4DIR/supervisor.log" >&2; fail "p4: the supervisor did not log that passt died"; }
expect "$P4DIR/supervisor.log" "p4: network check failed" "p4: passt killed: the check says so and the supervisor logs it"
"$AETHER" -c none stop p4 >"$WORK/out" 2>&1 || { cat "$WORK/out" >&2; fail "stop p4"; }
[ ! -e "$RUN/plugins/passt/p4@0.pid" ] || fail "p4: state left after stop"
[ ! -e "$RUN/vms/p4" ] || fail "p4: runtime dir left after stop"
pass "p4: stopped, nothing left"

# --- kill -9 of p6's supervisor, then gc ------------------------------------
# (the plugin's own gc: a passt left running, stopped so that it cannot exit
# on its own when gc kills QEMU)
# a passt gc did not start, under a state file of a dead VM: left alone
passt -f -s "$WORK/decoy.sock" -l "$WORK/decoy.log" >/dev/null 2>&1 &
DECOY=$!
at_exit "kill -9 $DECOY 2>/dev/null"
sleep 0.5
alive $DECOY || fail "the decoy passt did not start"
printf '%s %s\n' "$DECOY" "$(awk '/^Uid:/ {print $2}' /proc/$DECOY/status)" >"$RUN/plugins/passt/ghost@0.pid"
printf 'passt\0-f\0--fd\0003\0' >"$RUN/plugins/passt/ghost@0.argv"

kill -9 $APID6
wait $APID6 2>/dev/null
alive "$PPID6" || fail "passt died with its supervisor (nothing for gc to do)"
# passt (--fd) exits by itself once QEMU, which gc kills first, is gone: a
# stopped passt cannot, so it is the plugin's gc that must end it
kill -STOP "$PPID6"
"$AETHER" -c none gc >"$WORK/gc.out" 2>&1 || { cat "$WORK/gc.out" >&2; fail "aether gc failed"; }
cat "$WORK/gc.out" >&2
i=0
while alive "$PPID6" && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
alive "$PPID6" && fail "passt pid $PPID6 survived aether gc"
grep -q "gc: stopping passt pid $PPID6 of VM p6 NIC 0" "$WORK/gc.out" || fail "gc did not say it stopped passt"
alive $DECOY || fail "gc killed a passt it did not start"
[ -z "$(ls -A "$RUN/plugins/passt" 2>/dev/null)" ] ||
	fail "state left after gc: $(ls -A "$RUN/plugins/passt")"
[ ! -e "$RUN/vms/p6" ] || fail "p6's runtime dir (passt's log) left after gc"
for p in $(pgrep -x passt; pgrep -x passt.avx2); do
	[ "$p" = "$DECOY" ] || ! alive "$p" || fail "a passt is left after gc: pid $p: $(tr '\0' ' ' <"/proc/$p/cmdline")"
done
pass "kill -9 of the supervisor, then aether gc: its passt stopped, no state or log left, another passt untouched"

# --- passt that does not come up: a clear error, nothing left --------------
mkdir "$WORK/fake"
printf '#!/bin/sh\necho "fake passt: cannot start: $*" >&2\nexit 1\n' >"$WORK/fake/passt"
chmod 0755 "$WORK/fake/passt"
vm_conf pf "" ""
rc=0; PATH=$WORK/fake:$PATH "$AETHER" -c none run "$WORK/pf.conf" >"$WORK/pf.err" 2>&1 || rc=$?
[ $rc -eq 3 ] || { cat "$WORK/pf.err" >&2; fail "a passt that exits: aether run exited $rc, want 3"; }
grep -q 'passt for VM pf NIC 0 exited before it answered; its output: fake passt: cannot start: -f --fd' "$WORK/pf.err" ||
	{ cat "$WORK/pf.err" >&2; fail "a passt that exits: no clear error with its last line"; }
pass "a passt that exits at start: aether run fails (3) with passt's last line"
printf '#!/bin/sh\necho "fake passt: waiting" >&2\nexec sleep 537\n' >"$WORK/fake/passt"
vm_conf pf "" "start_timeout_ms = 500"
rc=0; PATH=$WORK/fake:$PATH "$AETHER" -c none run "$WORK/pf.conf" >"$WORK/pf.err" 2>&1 || rc=$?
[ $rc -eq 3 ] || { cat "$WORK/pf.err" >&2; fail "a passt that does not answer: aether run exited $rc, want 3"; }
grep -q 'passt for VM pf NIC 0 did not answer within 500 ms: Connection timed out; its output: fake passt: waiting' "$WORK/pf.err" ||
	{ cat "$WORK/pf.err" >&2; fail "a passt that does not answer: no clear error"; }
pgrep -f 'sleep 537' >/dev/null && fail "a passt that does not answer was left running"
[ -z "$(ls -A "$RUN/plugins/passt" 2>/dev/null)" ] || fail "state left after a failed start: $(ls -A "$RUN/plugins/passt")"
[ ! -e "$RUN/vms/pf" ] || fail "runtime dir left after a failed start"
pass "a passt that does not answer: stopped after start_timeout_ms, a clear error, nothing left"

# --- bad options: check-config names file, line and key ---------------------
bad() { # KEY-LINE WHAT
	vm_conf bad "" "$1"
	rc=0
	"$AETHER" -c none check-config "$WORK/bad.conf" >"$WORK/out" 2>&1 || rc=$?
	key=${1%% =*}
	line=$(grep -nxF "$1" "$WORK/bad.conf" | cut -d: -f1)
	# the plugin's own checks: "FILE:LINE: [network.passt] KEY = VALUE: ...";
	# the option table's (type, range): "FILE:LINE: KEY: ..."
	[ $rc -ne 0 ] && { grep -qF "$WORK/bad.conf:$line: [network.passt] $key = " "$WORK/out" ||
		grep -qF "$WORK/bad.conf:$line: $key: " "$WORK/out"; } ||
		{ cat "$WORK/out" >&2; fail "check-config did not refuse '$1' with file:$line and key (rc $rc)"; }
	pass "refused at check-config: $1 ($2)"
}
bad "address = 192.0.2.300" "not an IPv4 address"
bad "gateway = 2001:db8::1" "an IPv6 gateway as IPv4"
bad "address6 = ff02::1" "multicast"
bad "gateway6 = fe80::1::2" "not an address"
bad "dns = resolver.example" "not an address"
bad "mtu = 1000" "IPv6 needs 1280"
bad "mtu = 65521" "above 65520"
bad "tcp = 22:23-24" "target range longer"
bad "tcp = 0" "port 0"
bad "tcp = 80-22" "range high to low"
bad "udp = ~53:54" "exclusion with a target"
bad "tcp = 192.0.2.1/" "address without ports"
bad "tcp = 22;23" "bad separator"
bad "ipv6 = maybe" "not a boolean"
vm_conf bad "" "ipv6 = no
address6 = 2001:db8::5"
rc=0; "$AETHER" -c none check-config "$WORK/bad.conf" >"$WORK/out" 2>&1 || rc=$?
line=$(grep -nx "address6 = 2001:db8::5" "$WORK/bad.conf" | cut -d: -f1)
[ $rc -ne 0 ] && grep -qF "bad.conf:$line: [network.passt] address6 = 2001:db8::5: IPv6 is off" "$WORK/out" ||
	{ cat "$WORK/out" >&2; fail "address6 with ipv6 = no not refused"; }
pass "refused at check-config: an IPv6 address with ipv6 = no"
vm_conf good "" "tcp = 2222:22
tcp = 192.0.2.2%pt0/8000-8010:9000-9010,~8005
udp = 5353
udp = all
tcp = ::1/443"
"$AETHER" -c none check-config "$WORK/good.conf" >"$WORK/out" 2>&1 ||
	{ cat "$WORK/out" >&2; fail "check-config refused valid forward specs"; }
pass "valid forward specs pass check-config"
exit 0
