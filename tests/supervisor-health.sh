#!/bin/sh
# supervisor-health.sh - the supervisor's periodic network health check,
# against a real QEMU (a kernel-less stub VM) on the tap backend, in
# private network, mount and pid namespaces:
#   1. [vm] check_interval is validated (an integer, 1..86400);
#   2. with check_interval = 1, the TAP device taken down while the VM runs
#      is reported once ("network check failed"), not at every check,
#      while the VM keeps running;
#   3. brought up again: "network healthy again", once;
#   4. the running supervisor's control socket: 8 idle clients hold its
#      slots, a 9th and `aether forward list` are answered busy, the idle
#      ones are dropped at the client timeout, then forward list works;
#   5. a second failure is reported again (the state was reset), and the
#      VM still stops cleanly.
# Every check is logged at debug level ("network check: ok" or the
# error), which is how the test knows checks ran without a fixed sleep.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

if ! in_namespaces; then
	[ "$(id -u)" = 0 ] || skip "needs root (a TAP device in a network namespace)"
	need unshare ip qemu-img qemu-system-x86_64
	[ -c /dev/net/tun ] || skip "/dev/net/tun missing (modprobe tun)"
	[ -x "$AETHER_BIN" ] || fail "aether binary not found at $AETHER_BIN (make first)"
	reexec_in_namespaces "$@"
fi

LC_ALL=C # the log has strerror's text
export LC_ALL
BR=br-hc
PREFIX=hct
make_work
export AETHER_RUNTIME_DIR="$WORK/run"
ip link set lo up
ip link add "$BR" type bridge || fail "cannot create bridge $BR"
ip link set "$BR" up
qemu-img create -q -f qcow2 "$WORK/disk.qcow2" 16M || fail "qemu-img create"
chmod 0644 "$WORK/disk.qcow2"

conf() { # NAME EXTRA-[vm]-LINES
	cat >"$WORK/$1.conf" <<EOT
[vm]
name = $1
memory = 32
accel = tcg
disk = $WORK/disk.qcow2
stop_timeout = 1
console = none
$2

[network]
backend = tap

[network.tap]
bridge = $BR
prefix = $PREFIX
EOT
}

# How many lines of FILE match PATTERN (grep -E).
count() { grep -Ec "$2" "$1" 2>/dev/null || true; }

# Wait until at least N lines of FILE match PATTERN, or SECONDS pass.
wait_count() { # FILE PATTERN N SECONDS
	i=0
	while [ $i -lt $(($4 * 10)) ]; do
		[ "$(count "$1" "$2")" -ge "$3" ] && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

ERR=$WORK/hc.err
show() { log "--- aether run's log ---"; cat "$ERR" >&2; fail "$*"; }

# --- 1. check_interval is validated -----------------------------------------
for bad in 0 -1 86401 abc; do
	conf "bad" "check_interval = $bad"
	if "$AETHER" -c none check-config "$WORK/bad.conf" >/dev/null 2>"$WORK/bad.err"; then
		fail "check_interval = $bad was accepted"
	fi
	grep -q "bad.conf:[0-9]*: check_interval: '$bad' is not an integer in 1..86400" "$WORK/bad.err" ||
		{ cat "$WORK/bad.err" >&2; fail "check_interval = $bad: no file:line message"; }
done
conf "good" "check_interval = 1"
"$AETHER" -c none check-config "$WORK/good.conf" >/dev/null ||
	fail "check_interval = 1 was refused"
pass "check_interval: 1..86400 accepted, 0, -1, 86401 and abc refused with file:line"

# --- 2. the TAP device goes down: one failure message -------------------------
conf hc "check_interval = 1"
"$AETHER" -c none -v -v run "$WORK/hc.conf" 2>"$ERR" &
APID=$!
at_exit "kill -9 $APID 2>/dev/null"
wait_for "$ERR" 'QEMU running \(pid [0-9]+' 60 || show "QEMU did not start"
QPID=$(sed -n 's/.*QEMU running (pid \([0-9]*\).*/\1/p' "$ERR" | head -n 1)
TAP=$(ip -o link show master "$BR" | awk -F': ' '{print $2}' | sed 's/@.*//' |
	grep "^$PREFIX" | head -n 1)
[ -n "$TAP" ] || show "no TAP device on $BR"

OK='hc: network check: ok'
DOWN='hc: network check: Network is down'
FAILED='hc: network check failed'
HEALTHY='hc: network healthy again'
# a passing check first: the interval is the configured one, not 30 s
wait_count "$ERR" "$OK" 1 20 || show "no passing health check within 20 s (check_interval = 1)"
[ "$(count "$ERR" "$FAILED")" = 0 ] || show "a healthy TAP device was reported as failing"

ip link set dev "$TAP" down || fail "cannot take $TAP down"
wait_for "$ERR" "$FAILED: Network is down" 20 || show "the TAP device went down, no 'network check failed'"
# three failing checks: still one message
wait_count "$ERR" "$DOWN" 3 30 || show "fewer than 3 failing checks within 30 s"
n=$(count "$ERR" "$FAILED")
[ "$n" = 1 ] || show "'network check failed' logged $n times over 3 failing checks, want once"
grep -q "TAP device $TAP is down" "$ERR" || show "the backend did not say what is wrong"
kill -0 "$APID" 2>/dev/null || show "aether run ended on a failed check"
kill -0 "$QPID" 2>/dev/null || show "QEMU ended on a failed check"
pass "TAP device down: 'network check failed' logged once over 3 failing checks, the VM runs on"

# --- 3. back up: healthy again, once ----------------------------------------------
ok_before=$(count "$ERR" "$OK")
ip link set dev "$TAP" up || fail "cannot bring $TAP up"
wait_for "$ERR" "$HEALTHY" 20 || show "the TAP device is up again, no 'network healthy again'"
wait_count "$ERR" "$OK" $((ok_before + 3)) 30 || show "fewer than 3 passing checks within 30 s"
n=$(count "$ERR" "$HEALTHY")
[ "$n" = 1 ] || show "'network healthy again' logged $n times over 3 passing checks, want once"
n=$(count "$ERR" "$FAILED")
[ "$n" = 1 ] || show "'network check failed' logged again ($n) while healthy"
pass "TAP device up: 'network healthy again' logged once over 3 passing checks"

# --- 4. the control socket of the running VM: busy limit, client timeout -------
# 8 clients that send nothing hold the supervisor's 8 slots: a 9th and
# `aether forward list` are answered "busy", the VM's checks go on, the 8
# are dropped after the 5 s client timeout, then forward list works.  The
# 5 s run from the accept: a round in which a holder was dropped before
# the busy answers were in is not counted (tried again, 3 rounds at most).
if command -v python3 >/dev/null 2>&1; then
	ok_before=$(count "$ERR" "$OK")
	python3 - "$WORK/run/vms/hc/control.sock" "$AETHER" -c none forward list hc \
		>"$WORK/ctl.out" 2>"$WORK/ctl.err" <<'EOP'
import socket, subprocess, sys

path, fwd = sys.argv[1], sys.argv[2:]

def gone(s):  # closed by the server (or answered: not idle)
    s.setblocking(False)
    try:
        s.recv(100)
        return True
    except BlockingIOError:
        return False
    except ConnectionResetError:
        return True

def read_all(s):
    got = b""
    s.settimeout(30)
    try:
        while True:
            d = s.recv(4096)
            if not d:
                break
            got += d
    except ConnectionResetError:
        pass
    return got

for attempt in range(3):
    held = []
    for i in range(8):
        s = socket.socket(socket.AF_UNIX)
        s.connect(path)
        held.append(s)
    n = socket.socket(socket.AF_UNIX)
    n.connect(path)
    try:  # the server may have answered busy and closed already
        n.sendall(b"stats\n")
    except (BrokenPipeError, ConnectionResetError):
        pass
    ninth = read_all(n)
    n.close()
    p = subprocess.run(fwd, capture_output=True, text=True, timeout=60)
    if any(gone(s) for s in held):
        for s in held:
            s.close()
        print("round %d: a holder was dropped early, again" % attempt,
              file=sys.stderr)
        continue
    print("ninth: " + ninth.decode().strip())
    print("forward: %d %s" % (p.returncode, p.stderr.strip()))
    for s in held:
        s.setblocking(True)
        try:
            got = read_all(s)
        except socket.timeout:
            print("a holder was not dropped within 30 s")
            sys.exit(1)
        if got:
            print("a holder got an answer")
            sys.exit(1)
    print("dropped: %d" % len(held))
    sys.exit(0)
sys.exit(2)
EOP
	rc=$?
	[ "$rc" = 0 ] || { cat "$WORK/ctl.out" "$WORK/ctl.err" >&2; show "the control socket client script failed ($rc)"; }
	grep -qx 'ninth: error EIO busy, try again' "$WORK/ctl.out" ||
		{ cat "$WORK/ctl.out" >&2; show "a 9th client was not answered busy"; }
	grep -q '^forward: 1 .*busy, try again' "$WORK/ctl.out" ||
		{ cat "$WORK/ctl.out" >&2; show "aether forward list did not say busy (exit 1)"; }
	grep -qx 'dropped: 8' "$WORK/ctl.out" ||
		{ cat "$WORK/ctl.out" >&2; show "the idle clients were not dropped"; }
	"$AETHER" -c none forward list hc >"$WORK/fl.out" 2>"$WORK/fl.err" ||
		{ cat "$WORK/fl.err" >&2; show "aether forward list failed after the idle clients were dropped"; }
	wait_count "$ERR" "$OK" $((ok_before + 1)) 30 || show "no health check while the control socket was busy"
	kill -0 "$QPID" 2>/dev/null || show "QEMU ended"
	pass "control socket: 8 idle clients make a 9th and aether forward busy, are dropped at the timeout, then forward list works"
else
	soft_skip "python3 missing: the control socket's limits on a running VM"
fi

# --- 5. a second failure is reported again; the VM stops cleanly ---------------------
ip link set dev "$TAP" down || fail "cannot take $TAP down"
wait_count "$ERR" "$FAILED" 2 20 || show "the second failure was not reported"
kill -TERM "$APID"
rc=0
wait "$APID" || rc=$?
[ "$rc" = 143 ] || show "aether run exited $rc after SIGTERM, want 143"
grep -q 'hc: network detached' "$ERR" || show "the network was not detached"
[ ! -e "$WORK/run/vms/hc" ] || fail "the runtime directory was left"
ip -o link show | grep -q ": $PREFIX" && fail "TAP devices left: $(ip -o link show | grep ": $PREFIX")"
pass "a second failure is reported again; SIGTERM stops the VM, nothing left"
exit 0
