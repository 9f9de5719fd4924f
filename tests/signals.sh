#!/bin/sh
# signals.sh - how `aether run` ends on each stop signal, against a real
# QEMU (a kernel-less stub VM on the slirp backend):
#   1. SIGINT: exit 130; SIGHUP: exit 129;
#   2. a second SIGTERM while the first stop runs (timeout(1) sends two,
#      impatient users press Ctrl-C twice): the stop still completes;
#   3. QEMU ignores SIGTERM (it is stopped): SIGKILL after 5 s;
#   4. a SIGTERM already pending when the supervisor starts: QEMU is never
#      started.
# Every time: exit 128+N, the network detached, QEMU gone, the VM's
# runtime directory removed.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

need qemu-system-x86_64 qemu-img perl
make_work
export AETHER_RUNTIME_DIR="$WORK/run"
qemu-img create -q -f qcow2 "$WORK/disk.qcow2" 16M || fail "qemu-img create"
chmod 0644 "$WORK/disk.qcow2"

conf() { # NAME
	cat >"$WORK/$1.conf" <<EOT
[vm]
name = $1
memory = 32
accel = tcg
disk = $WORK/disk.qcow2
stop_timeout = 1
console = none

[network]
backend = slirp

[network.slirp]
mode = qemu
EOT
}

# Start VM NAME under `aether run`; APID, QPID once QEMU runs.
start_vm() {
	conf "$1"
	"$AETHER" -c none run "$WORK/$1.conf" 2>"$WORK/$1.err" &
	APID=$!
	at_exit "kill -9 $APID 2>/dev/null"
	wait_for "$WORK/$1.err" 'QEMU running \(pid [0-9]+' 60 ||
		{ cat "$WORK/$1.err" >&2; fail "$1: QEMU did not start"; }
	QPID=$(sed -n 's/.*QEMU running (pid \([0-9]*\).*/\1/p' "$WORK/$1.err" | head -n 1)
}

# aether run of VM NAME ended with status WANT, and left nothing.
ended() { # NAME WANT WHAT
	rc=0
	wait "$APID" || rc=$?
	[ "$rc" = "$2" ] || { cat "$WORK/$1.err" >&2; fail "$3: aether run exited $rc, want $2"; }
	grep -q "$1: network detached" "$WORK/$1.err" ||
		{ cat "$WORK/$1.err" >&2; fail "$3: the network was not detached"; }
	if [ -n "${QPID:-}" ] && [ -e "/proc/$QPID" ] &&
	   ! grep -q '^State:[[:space:]]*Z' "/proc/$QPID/status" 2>/dev/null; then
		fail "$3: QEMU pid $QPID still runs"
	fi
	[ ! -e "$WORK/run/vms/$1" ] || fail "$3: the runtime directory $WORK/run/vms/$1 was left"
	pass "$3"
}

# --- 1. SIGINT, SIGHUP -----------------------------------------------------
start_vm sigint
kill -INT "$APID"
ended sigint 130 "SIGINT: exit 130, everything cleaned up"

start_vm sighup
kill -HUP "$APID"
ended sighup 129 "SIGHUP: exit 129, everything cleaned up"

# --- 2. a second SIGTERM during the stop -------------------------------------
start_vm twice
kill -TERM "$APID"
wait_for "$WORK/twice.err" 'asked the guest to power down|stopping QEMU' 30 ||
	{ cat "$WORK/twice.err" >&2; fail "twice: the stop did not begin"; }
kill -TERM "$APID"
ended twice 143 "a second SIGTERM during the stop: the stop completes"

# --- 3. QEMU that ignores SIGTERM ------------------------------------------------
start_vm stuck
kill -STOP "$QPID"
kill -TERM "$APID"
ended stuck 143 "QEMU that ignores SIGTERM is killed"
grep -q 'ignored SIGTERM: killing it' "$WORK/stuck.err" ||
	{ cat "$WORK/stuck.err" >&2; fail "stuck: no SIGKILL escalation logged"; }
pass "the escalation to SIGKILL is logged"

# --- 4. a stop signal before QEMU starts ------------------------------------------
# The signal is made pending and blocked before aether runs (a blocked
# signal stays pending across exec): deterministic, no race to win.
conf early
QPID=
APID=
rc=0
perl -MPOSIX -e '
	sigprocmask(SIG_BLOCK, POSIX::SigSet->new(SIGTERM)) or die "sigprocmask: $!";
	kill("TERM", $$) or die "kill: $!";
	exec(@ARGV) or die "exec: $!";' -- \
	"$AETHER" -c none run "$WORK/early.conf" 2>"$WORK/early.err" || rc=$?
[ "$rc" = 143 ] || { cat "$WORK/early.err" >&2; fail "early: aether run exited $rc, want 143"; }
grep -q 'before QEMU was started: not starting it' "$WORK/early.err" ||
	{ cat "$WORK/early.err" >&2; fail "early: the pending signal was not seen before QEMU"; }
! grep -q 'QEMU running' "$WORK/early.err" ||
	{ cat "$WORK/early.err" >&2; fail "early: QEMU was started although a stop signal was pending"; }
grep -q 'early: network detached' "$WORK/early.err" ||
	{ cat "$WORK/early.err" >&2; fail "early: the network was not detached"; }
[ ! -e "$WORK/run/vms/early" ] || fail "early: the runtime directory was left"
pass "a stop signal pending before QEMU starts: QEMU is never started, nothing left"
exit 0
