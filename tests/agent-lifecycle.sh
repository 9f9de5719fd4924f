#!/bin/sh
# agent-lifecycle.sh - the host agent's life around the broker and signals,
# with a real broker:
#  1. The agent starts while the broker is down: it retries with a growing
#     backoff (200, 400, 800 ms ...), and serves once the broker is up.
#  2. Heartbeat loss: the broker is frozen (SIGSTOP: its TCP connections
#     stay open, so only the AMQP heartbeat can tell): the agent says the
#     connection is lost for want of heartbeats, and reconnects and serves
#     once the broker runs again (SIGCONT).
#  3. The client's deadline: a request nobody answers (its host frozen)
#     ends with "no reply in N s (request ID)" and a non-zero exit.
#  4. SIGTERM drains: the agent stops taking requests, finishes the one it
#     is running (its client gets the reply), then exits 0.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
. "$top_srcdir/tests/agent-lib.sh"
ag_enter "$@"
ag_setup
rmq_dir=$RMQ_DIR
ag_host a
# Bound for waits on the agent: its backoff is at most 10 s, heartbeats
# are lost after 2 intervals (heartbeat = 5 in ag_host).
BOUND=60

# --- 1. the broker is down when the agent starts ---------------------------
rmq_stop
ag_spawn a
for ms in 200 400 800; do
	wait_for "$WORK/a/agent.log" "broker: .*cannot connect.*; retrying in $ms ms" $BOUND ||
		{ cat "$WORK/a/agent.log" >&2; fail "the agent did not retry in $ms ms"; }
done
kill -0 "$(cat "$WORK/a/agent.pid")" || fail "the agent exited while the broker was down"
[ "$(ag_served a)" = 0 ] || fail "the agent says it serves with no broker"
pass "no broker: the agent keeps retrying with a growing backoff (200, 400, 800 ms)"
ag_rmq_start "$rmq_dir"
ag_wait_serving a 0 $BOUND
timeout $BOUND "$AETHER" -c "$WORK/client.conf" remote --timeout 30 \
	create l1 --image base.qcow2 --no-start >"$WORK/l1" 2>&1 ||
	fail "create once the broker is up: $(cat "$WORK/l1")"
expect "$WORK/l1" '^l1: created on host host-a$' "the broker came up: the agent serves (create l1)"

# --- 2. heartbeat loss: the broker frozen -----------------------------------
broker_procs() { echo "$RMQ_PID"; _rmq_tree "$RMQ_PID"; }
frozen=$(broker_procs)
at_exit "kill -CONT $(echo $frozen) 2>/dev/null"
n=$(ag_served a)
lost0=$(grep -c 'broker connection lost' "$WORK/a/agent.log")
kill -STOP $frozen || fail "cannot stop the broker"
log "broker frozen (SIGSTOP of $(echo $frozen))"
i=0
while [ "$(grep -c 'broker connection lost' "$WORK/a/agent.log")" -le "$lost0" ]; do
	i=$((i + 1))
	[ $i -le $((BOUND * 10)) ] ||
		{ cat "$WORK/a/agent.log" >&2; kill -CONT $frozen; fail "the agent did not notice the frozen broker in $BOUND s (heartbeats not checked?)"; }
	sleep 0.1
done
grep 'broker connection lost' "$WORK/a/agent.log" | tail -n 1 | grep -qi 'heartbeat' ||
	{ kill -CONT $frozen; fail "the connection was lost, but not for want of heartbeats: $(grep 'broker connection lost' "$WORK/a/agent.log" | tail -n 1)"; }
kill -0 "$(cat "$WORK/a/agent.pid")" || fail "the agent exited when heartbeats stopped"
pass "frozen broker: the agent saw the heartbeats stop and dropped the connection"
kill -CONT $frozen
ag_wait_serving a "$n" $BOUND
timeout $BOUND "$AETHER" -c "$WORK/client.conf" remote --timeout 30 \
	status l1 >"$WORK/st" 2>&1 || fail "status after the broker resumed: $(cat "$WORK/st")"
expect "$WORK/st" '"state": "created"' "broker resumed: the agent reconnected and serves (status l1)"

# --- 3. the client's deadline: nobody answers -------------------------------
apid=$(cat "$WORK/a/agent.pid")
kill -STOP "$apid"
at_exit "kill -CONT $apid 2>/dev/null"
rc=0
timeout $BOUND "$AETHER" -c "$WORK/client.conf" remote --timeout 2 \
	status l1 >"$WORK/dl" 2>&1 || rc=$?
kill -CONT "$apid"
[ $rc != 124 ] || fail "the client ran past its deadline (killed by timeout $BOUND): $(cat "$WORK/dl")"
[ $rc != 0 ] || fail "a request nobody answered succeeded: $(cat "$WORK/dl")"
expect "$WORK/dl" 'remote: no reply in 2 s \(request [0-9a-f-]{36}\)' \
	"a request nobody answers: the deadline error, exit $rc"

# --- 4. SIGTERM: finish the running request, then exit ----------------------
ag_stop a
# A QEMU that waits for $WORK/gate: the create is held mid-way.
ag_gate_qemu "$WORK/gateqemu" "$WORK/gate"
ag_host d "" "qemu = $WORK/gateqemu"
ag_serve d
dpid=$(cat "$WORK/d/agent.pid")
"$AETHER" -c "$WORK/client.conf" remote --json --timeout 120 \
	create d1 --image base.qcow2 >"$WORK/d1" 2>"$WORK/d1.err" &
cpid=$!
wait_for "$WORK/d/agent.log" 'create-vm d1: accepted' $BOUND || fail "host d did not take d1"
wait_for "$WORK/d/store/vms/d1/state" 'starting' $BOUND || fail "d1 did not get to starting on d"
consumes() {
	rmq_ctl list_consumers -q queue_name consumer_tag 2>/dev/null |
		grep -Eq '^(aether\.create|aether\.host\.host-d)[[:space:]]'
}
consumes || fail "host d does not consume aether.create: $(rmq_ctl list_consumers -q queue_name consumer_tag)"
kill -TERM "$dpid"
wait_for "$WORK/d/agent.log" 'signal 15: finishing the running requests, then exiting' $BOUND ||
	{ cat "$WORK/d/agent.log" >&2; fail "the agent did not say it drains"; }
# It no longer takes requests: its consumers of aether.create and of its
# own queue are cancelled (while d1 is still held by the gate).
# (each look runs rabbitmqctl, which takes a while: bounded by the clock)
end=$(($(date +%s) + BOUND))
while consumes; do
	[ "$(date +%s)" -le $end ] || fail "the draining agent still consumes requests: $(rmq_ctl list_consumers -q queue_name consumer_tag)"
	sleep 0.5
done
[ ! -e "$WORK/gate" ] || fail "test error: the gate is open"
kill -0 "$dpid" 2>/dev/null && [ "$(ps -o stat= -p "$dpid")" != Z ] ||
	fail "the agent exited on SIGTERM with create d1 still running"
grep -q 'create-vm d1: done' "$WORK/d/agent.log" && fail "d1 was done before the gate opened"
pass "SIGTERM: the agent stops taking requests and stays for its running create"
: >"$WORK/gate"
wait "$cpid" || fail "client d1: exit $?: $(cat "$WORK/d1" "$WORK/d1.err")"
grep -q '"status":"success".*"host":"host-d"' "$WORK/d1" ||
	fail "d1's client got no success reply from host d: $(cat "$WORK/d1" "$WORK/d1.err")"
i=0
while kill -0 "$dpid" 2>/dev/null && [ "$(ps -o stat= -p "$dpid")" != Z ]; do
	i=$((i + 1))
	[ $i -le $((BOUND * 10)) ] || fail "the agent did not exit after its last request"
	sleep 0.1
done
rc=0
wait "$dpid" || rc=$?
[ $rc = 0 ] || fail "the drained agent exited $rc: $(tail -5 "$WORK/d/agent.log")"
expect "$WORK/d/agent.log" 'create-vm d1: done' "the running create finished"
grep -l '^state=accepted' "$WORK"/d/store/requests/* 2>/dev/null &&
	fail "a request is left accepted in d's journal"
on d status d1 >"$WORK/d1.st" 2>&1 || fail "d1 is not running after the drain: $(cat "$WORK/d1.st")"
pass "SIGTERM drained: create d1 replied, the VM runs, the agent exited 0"
on d delete --force d1 >/dev/null 2>&1 || fail "delete d1"
