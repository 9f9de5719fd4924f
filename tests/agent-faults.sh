#!/bin/sh
# agent-faults.sh - the host agents under faults, with a real broker.
#  1. The broker restarts in the middle of a burst of creates (it stops
#     while the hosts hold taken creates, their QEMU waiting for a gate;
#     clients and agents reconnect): every request ends exactly once: each VM is made
#     on one host, each client gets one final reply, no request is left in
#     a queue or half made in a journal.
#  2. An agent is killed (SIGKILL) in the middle of a create: the request
#     is redelivered to the other host, which makes the VM; the half-made
#     VM on the dead host is removed by `aether gc` there, with its
#     supervisor and QEMU.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
. "$top_srcdir/tests/agent-lib.sh"
ag_enter "$@"
ag_setup
# The burst's creates are held in "starting" (their QEMU waits for
# $WORK/gate1) until the broker is down: the restart hits requests in
# flight for certain.
ag_gate_qemu "$WORK/gateqemu1" "$WORK/gate1"
ag_host a "" "qemu = $WORK/gateqemu1"
ag_host b "" "qemu = $WORK/gateqemu1"
ag_serve a
ag_serve b
N=${AGENT_BURST:-8}

# Live processes (not zombies) whose command line mentions $1.
procs_with() {
	for d in /proc/[0-9]*; do
		[ -r "$d/cmdline" ] || continue
		tr '\0' ' ' <"$d/cmdline" 2>/dev/null | grep -q -- "$1" || continue
		st=$(awk '{ print $3 }' "$d/stat" 2>/dev/null)
		[ "$st" = Z ] || echo "${d#/proc/}"
	done
}

# --- 1. broker restart during a burst -------------------------------------
i=1
pids=
while [ $i -le $N ]; do
	rem --json --timeout 240 create "b$i" --image base.qcow2 >"$WORK/burst.$i" 2>"$WORK/burst.$i.err" &
	pids="$pids $!"
	i=$((i + 1))
done
# Until the hosts hold as many creates of the burst as they take at once
# (prefetch 4 each), all held by the gate: their clients' publishes were
# confirmed.
taken() { cat "$WORK/a/agent.log" "$WORK/b/agent.log" | grep -Ec 'create-vm b[0-9]+: accepted'; }
want=$((N < 8 ? N : 8))
i=0
until [ "$(taken)" -ge $want ]; do
	i=$((i + 1))
	[ $i -le 600 ] || fail "the hosts took $(taken) creates of the burst in 60 s, want $want"
	sleep 0.1
done
rmq_dir=$RMQ_DIR
rmq_stop
grep -Eq 'create-vm b[0-9]+: done' "$WORK/a/agent.log" "$WORK/b/agent.log" &&
	fail "test error: a create of the burst was done before the broker stopped"
log "broker stopped with $(taken) creates taken and none done"
: >"$WORK/gate1"
ag_rmq_start "$rmq_dir"
i=1
for p in $pids; do
	wait "$p" || fail "client b$i: exit $?: $(cat "$WORK/burst.$i" "$WORK/burst.$i.err")"
	i=$((i + 1))
done
grep -q 'reconnect' "$WORK/a/agent.log" "$WORK/b/agent.log" ||
	fail "no agent noticed the broker restart (the burst ended before it?)"
i=1
while [ $i -le $N ]; do
	[ "$(grep -v '"progress":true' "$WORK/burst.$i" | grep -c '"status":"success"')" = 1 ] ||
		fail "client b$i: want one final reply: $(cat "$WORK/burst.$i")"
	in=0
	for h in a b; do vms_of $h | grep -qx "b$i" && in=$((in + 1)); done
	[ $in = 1 ] || fail "b$i is in $in stores"
	done_n=$(cat "$WORK/a/agent.log" "$WORK/b/agent.log" | grep -c "create-vm b$i: done")
	[ "$done_n" = 1 ] || fail "b$i was completed $done_n times: $(grep "b$i" "$WORK"/*/agent.log)"
	i=$((i + 1))
done
[ "$(($(vms_of a | wc -l) + $(vms_of b | wc -l)))" = $N ] ||
	fail "stores hold $(vms_of a | tr '\n' ' ') / $(vms_of b | tr '\n' ' '), want $N VMs"
for h in a b; do
	for v in $(vms_of $h); do
		on $h status "$v" >/dev/null || fail "$v on $h is not running"
	done
done
grep -l '^state=accepted' "$WORK"/*/store/requests/* 2>/dev/null &&
	fail "requests left accepted in a journal"
i=0
while [ "$(queue_depth aether.create)" != 0 ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
[ "$(queue_depth aether.create)" = 0 ] || fail "requests left in aether.create"
pass "broker restarted during $N creates: each made once, on one host, replied once, running"
for h in a b; do
	for v in $(vms_of $h); do on $h delete --force "$v" >/dev/null || fail "delete $v"; done
done

# --- 2. an agent killed in the middle of a create -------------------------
ag_stop a
ag_stop b
# Host c's QEMU waits for $WORK/gate2, which never opens: k1 stays half
# made on c until c is killed (no sleep decides it).
ag_gate_qemu "$WORK/gateqemu2" "$WORK/gate2"
ag_host c "" "qemu = $WORK/gateqemu2"
ag_serve c
rem --json --timeout 120 create k1 --image base.qcow2 >"$WORK/k1" 2>"$WORK/k1.err" &
cpid=$!
wait_for "$WORK/c/agent.log" 'create-vm k1: accepted' 30 || fail "host c did not take k1"
# Until the VM is in c's store and its supervisor waits for the slow QEMU.
wait_for "$WORK/c/store/vms/k1/state" 'starting' 30 || fail "k1 did not get to starting on c"
# Long work does not block the agent: c answers a list meanwhile.
rem --timeout 20 list >"$WORK/busy" 2>&1 || fail "list during a create: $(cat "$WORK/busy")"
grep -Eq '^k1 +host-c +starting' "$WORK/busy" ||
	fail "list during the create of k1 does not show it starting: $(cat "$WORK/busy")"
grep -q 'create-vm k1: done' "$WORK/c/agent.log" && fail "k1 was done before the list was answered"
pass "host c answered a list while its create of k1 was still running"
ag_serve b
ag_stop c KILL
log "killed host c's agent with k1 half made"
wait "$cpid" || fail "client k1: exit $?: $(cat "$WORK/k1" "$WORK/k1.err")"
grep -q '"status":"success".*"host":"host-b"' "$WORK/k1" ||
	fail "k1 was not made by host b: $(cat "$WORK/k1")"
vms_of b | grep -qx k1 || fail "k1 is not in b's store"
pass "the create was redelivered to host b, which made k1"
vms_of c | grep -qx k1 || fail "host c's half-made k1 vanished by itself (test did not catch it mid-create)"
grep -q '^state=accepted' "$WORK"/c/store/requests/* ||
	fail "host c's journal does not show the interrupted request"
on c gc >"$WORK/gc.c" 2>&1 || fail "aether gc on c: $(cat "$WORK/gc.c")"
expect "$WORK/gc.c" 'deleting the half-made VM k1' "aether gc on c says what it rolls back"
[ -z "$(vms_of c)" ] || fail "host c still holds $(vms_of c) after gc"
[ -z "$(procs_with "$WORK/c/")" ] ||
	fail "processes of host c left after gc: $(for p in $(procs_with "$WORK/c/"); do tr '\0' ' ' </proc/$p/cmdline; echo; done)"
ls "$WORK/c/store/requests" | grep -q . && fail "journal records left on c: $(ls "$WORK/c/store/requests")"
[ -z "$(ls "$WORK/c/run/vms" 2>/dev/null)" ] || fail "runtime dirs left on c: $(ls "$WORK/c/run/vms")"
pass "aether gc on the dead host removed its half-made k1: no VM, process, record or runtime dir left"
rem delete --force k1 >/dev/null 2>&1 || fail "delete k1"
ag_stop b
