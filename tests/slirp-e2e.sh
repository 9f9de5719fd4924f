#!/bin/sh
# End to end with the slirp backend: `aether run` boots the real test
# guest under TCG; the guest takes a DHCP lease from slirp and reaches a
# TCP server the test runs on the host's loopback through 10.0.2.2.  Then
# a forward into the guest, SIGTERM handling and a QEMU crash, each of
# which must leave the runtime directory empty.
. "${top_srcdir:-.}/tests/lib.sh"

need qemu-system-x86_64 busybox
make_work
guest
RUN=$WORK/run
export AETHER_RUNTIME_DIR=$RUN

# --- 1. lease and a TCP round trip to a host loopback server -------------
start_tcp_echo

slirp_vm_conf e2e-slirp
"$AETHER" -c none check-config "$WORK/vm.conf" || fail "check-config rejected a good file"

rc=0
timeout 240 "$AETHER" -c none run "$WORK/vm.conf" 2>"$WORK/aether.err" || rc=$?
cat "$WORK/aether.err" >&2
[ $rc -eq 0 ] || { cat "$WORK/console.log" >&2; fail "aether run exited $rc, want 0 (guest poweroff)"; }
pass "aether run exited 0 after the guest powered off"
expect "$WORK/console.log" 'AETHER-GUEST: lease ip=10\.0\.2\.15 router=10\.0\.2\.2' "guest got a DHCP lease from slirp"
expect "$WORK/console.log" "AETHER-GUEST: tcp-reply host-says hello-from-guest 10\.0\.2\.15" "guest reached the host server through 10.0.2.2"
expect "$WORK/server.log" '^hello-from-guest 10\.0\.2\.15$' "host server saw the guest's request"
expect "$WORK/aether.err" 'network detached' "network detached after poweroff"
[ -z "$(ls -A "$RUN/vms" 2>/dev/null)" ] || fail "runtime dir left behind: $(ls "$RUN/vms")"
pass "runtime directory cleaned"

# --- 2. a host forward into the guest, then SIGTERM -----------------------
# slirp (libslirp in the plugin, or QEMU's) binds the forward's host port
# as the VM starts.  The port is a candidate the kernel gave out a moment
# ago (free_port): if it was taken since, the VM fails to start saying so,
# and it is started again on a new candidate (at most PORT_TRIES times).
try=1
APID=
at_exit 'kill -9 $APID 2>/dev/null'   # the latest attempt's
while :; do
	FWD=$(free_port) || exit 1
	cat >"$WORK/vm2.conf" <<EOT
[vm]
name = e2e-slirp-fwd
memory = 256
accel = tcg
reboot = no
stop_timeout = 20
kernel = $GUEST_KERNEL
initrd = $GUEST_INITRD
append = console=ttyS0 quiet panic=-1 aether.listen=8080 aether.hold=forever
console = file:$WORK/console2.log

[network]
backend = slirp

[network.slirp]
hostfwd = tcp:127.0.0.1:$FWD-:8080
EOT
	rm -f "$WORK/console2.log"
	"$AETHER" -c none run "$WORK/vm2.conf" 2>"$WORK/aether2.err" &
	APID=$!
	rc=0; wait_for_or_exit "$WORK/console2.log" 'AETHER-GUEST: listening 8080' 120 $APID || rc=$?
	[ $rc -eq 0 ] && break
	if [ $rc -eq 2 ] && port_in_use_error "$WORK/aether2.err" "$FWD" &&
	   [ $try -lt $PORT_TRIES ]; then
		wait $APID
		cat "$WORK/aether2.err" >&2
		log "port $FWD was taken before slirp bound it: again with another ($try/$PORT_TRIES)"
		try=$((try + 1))
		continue
	fi
	cat "$WORK/console2.log" "$WORK/aether2.err" >&2
	fail "guest did not start listening (forward port $FWD, try $try)"
done
reply=$(printf 'hello-from-host\n' | timeout 10 busybox nc 127.0.0.1 "$FWD" | head -n 1 | tr -d '\r')
case "$reply" in
"guest-says 10.0.2.15") pass "host reached the guest through hostfwd" ;;
*) fail "forward: got '$reply', want 'guest-says 10.0.2.15'" ;;
esac
[ -S "$RUN/vms/e2e-slirp-fwd/qmp.sock" ] || fail "no QMP socket in the VM's runtime dir"
[ "$(stat -c %a "$RUN/vms/e2e-slirp-fwd")" = 700 ] || fail "VM runtime dir is not 0700"
pass "QMP socket in a private (0700) runtime dir"
QPID=$(cat "$RUN/vms/e2e-slirp-fwd/qemu.pid")
kill -TERM $APID
rc=0; wait $APID || rc=$?
cat "$WORK/aether2.err" >&2
[ $rc -eq 143 ] || fail "aether run after SIGTERM exited $rc, want 143"
expect "$WORK/console2.log" 'AETHER-GUEST: acpi-power-button' "SIGTERM powered the guest down through ACPI"
kill -0 "$QPID" 2>/dev/null && fail "QEMU (pid $QPID) still running after SIGTERM"
[ -z "$(ls -A "$RUN/vms" 2>/dev/null)" ] || fail "runtime dir left behind after SIGTERM"
pass "SIGTERM: guest stopped, QEMU gone, runtime dir cleaned, exit 143"

# --- 3. QEMU crashes: aether reports it and still cleans up --------------
sed -e 's/e2e-slirp-fwd/e2e-slirp-crash/' -e "s|console2|console3|" \
	-e "/hostfwd/d" "$WORK/vm2.conf" >"$WORK/vm3.conf"
"$AETHER" -c none run "$WORK/vm3.conf" 2>"$WORK/aether3.err" &
APID=$!
wait_for "$WORK/console3.log" 'AETHER-GUEST: (holding forever|lease-fail)' 120 ||
	fail "crash guest did not come up"
kill -KILL "$(cat "$RUN/vms/e2e-slirp-crash/qemu.pid")"
rc=0; wait $APID || rc=$?
cat "$WORK/aether3.err" >&2
[ $rc -eq 5 ] || fail "aether run after QEMU was killed exited $rc, want 5"
expect "$WORK/aether3.err" 'killed by signal 9' "crash reported with the signal"
expect "$WORK/aether3.err" 'network detached' "network detached after the crash"
[ -z "$(ls -A "$RUN/vms" 2>/dev/null)" ] || fail "runtime dir left behind after crash"
pass "QEMU crash: exit 5, detached, runtime dir cleaned"
