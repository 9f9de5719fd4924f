#!/bin/sh
# agent-fleet.sh - two `aether serve` agents on one private broker act as two
# hosts (own names, stores, runtime dirs; stub VMs that QEMU starts and
# keeps in its firmware).  Creates spread over both; a full host hands the
# request to the other; with both full the client is told so and nothing is
# made; status, stop, start and delete reach only the owner; an unknown VM
# is refused at once; list gathers both hosts and returns as soon as both
# answered (and, with one host frozen, waits for it until its timeout and
# says so).
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
. "$top_srcdir/tests/agent-lib.sh"
ag_enter "$@"
ag_setup
ag_host a "max_vms = 1"
ag_host b "max_vms = 3"
ag_serve a
ag_serve b

# Four creates: round-robin delivery gives host a one, a full host a
# declines, so b ends up with three.
for i in 1 2 3 4; do
	rem create "v$i" --image base.qcow2 >"$WORK/create.$i" 2>&1 ||
		fail "create v$i: $(cat "$WORK/create.$i")"
	grep -Eq "^v$i: running on host host-[ab]$" "$WORK/create.$i" ||
		fail "create v$i: unexpected output: $(cat "$WORK/create.$i")"
done
[ "$(vms_of a | wc -l)" = 1 ] || fail "host a holds $(vms_of a | tr '\n' ' '), want 1 VM"
[ "$(vms_of b | wc -l)" = 3 ] || fail "host b holds $(vms_of b | tr '\n' ' '), want 3 VMs"
pass "4 creates spread over both hosts: a $(vms_of a | tr '\n' ' '), b $(vms_of b | tr '\n' ' ')"
grep -q 'host full (1 of 1 VMs): declined' "$WORK/a/agent.log" ||
	fail "host a never declined a create (it got none while full?): $(cat "$WORK/a/agent.log")"
pass "a full host handed a create back and the other host made it"
for i in 1 2 3 4; do
	h=$(sed -n 's/.* on host host-\(.\)$/\1/p' "$WORK/create.$i")
	on "$h" status "v$i" >/dev/null || fail "v$i is not running on host $h"
done
pass "each VM runs on the host its reply named"

# Both full: refused with the reason, nothing half made anywhere.
if rem create v5 --image base.qcow2 >"$WORK/create.5" 2>&1; then
	fail "a create with both hosts full succeeded: $(cat "$WORK/create.5")"
fi
expect "$WORK/create.5" 'no host has capacity for it .*declined by host-.,host-.' \
	"both hosts full: the client is told no host has capacity"
[ "$(vms_of a | wc -l)$(vms_of b | wc -l)" = 13 ] || fail "v5 was half made somewhere"

# Owner routing: the request reaches the owner, the other host never sees it.
va=$(vms_of a)
for cmd in status stop start; do
	rem "$cmd" "$va" >"$WORK/$cmd.out" 2>&1 || fail "remote $cmd $va: $(cat "$WORK/$cmd.out")"
	grep -q "host host-a" "$WORK/$cmd.out" || [ "$cmd" = status ] ||
		fail "remote $cmd $va: answered by the wrong host: $(cat "$WORK/$cmd.out")"
done
grep -q '"state": "running"' "$WORK/status.out" || fail "status: $(cat "$WORK/status.out")"
grep -q "stopped (host host-a)" "$WORK/stop.out" || fail "stop: $(cat "$WORK/stop.out")"
grep -q "running (host host-a)" "$WORK/start.out" || fail "start: $(cat "$WORK/start.out")"
grep -q "$va" "$WORK/b/agent.log" && fail "host b saw requests for $va: $(grep "$va" "$WORK/b/agent.log")"
[ "$(grep -c "status-vm $va: done\|stop-vm $va: done\|start-vm $va: done" "$WORK/a/agent.log")" = 3 ] ||
	fail "host a did not serve status, stop and start of $va once each"
pass "status, stop and start of $va reached host a only"

# forward goes to the owner too (slirp mode = qemu: QMP hostfwd).
# A port another process takes between free_port and the add makes the
# add fail saying so: then the next port (bounded), any other error fails.
n=0
while :; do
	port=$(free_port)
	rem forward add "$va" tcp "127.0.0.1:$port" 22 >"$WORK/fwd" 2>&1 && break
	grep -q "cannot bind tcp 127.0.0.1:$port: Address already in use" "$WORK/fwd" ||
		fail "forward add: $(cat "$WORK/fwd")"
	n=$((n + 1))
	[ $n -lt 10 ] || fail "forward add: 10 ports in a row were taken: $(cat "$WORK/fwd")"
	log "port $port was taken meanwhile: trying another"
done
rem forward list "$va" >"$WORK/fwdl" 2>&1 || fail "forward list: $(cat "$WORK/fwdl")"
expect "$WORK/fwdl" "tcp.*127.0.0.1:$port.*22" "forward add/list of $va through its owner"
if rem forward add "$va" tcp "127.0.0.1:$port" 22 >"$WORK/fwd2" 2>&1; then fail "a duplicate forward succeeded"; fi
grep -q "host-a: $va: " "$WORK/fwd2" || fail "duplicate forward: no owner-named error: $(cat "$WORK/fwd2")"

if rem status nosuch >"$WORK/nosuch" 2>&1; then fail "status of an unknown VM succeeded"; fi
expect "$WORK/nosuch" 'no host owns VM nosuch' "an unknown VM is refused at once"
if rem create v2 --image base.qcow2 >"$WORK/dup" 2>&1; then fail "a duplicate create succeeded"; fi
expect "$WORK/dup" 'VM v2 already exists on host host-.' "a duplicate name in the fleet is refused"

# list: both hosts, returned as soon as both answered (not at the timeout).
rem --timeout 60 list >"$WORK/list" 2>&1 || fail "list: $(cat "$WORK/list")"
grep -q 'hosts answered' "$WORK/list" && fail "list waited for its timeout: $(cat "$WORK/list")"
for i in 1 2 3 4; do
	grep -Eq "^v$i +host-[ab] +running" "$WORK/list" || fail "list misses v$i: $(cat "$WORK/list")"
done
pass "list gathered the 4 VMs of both hosts and returned when both answered"
rem --json list >"$WORK/list.json" 2>&1 || fail "list --json"
[ "$(grep -c '"command":"list-vms"' "$WORK/list.json")" = 2 ] ||
	fail "list --json: want one reply per host: $(cat "$WORK/list.json")"

# A live but unresponsive host: list waits for it until its timeout, says
# so, and still shows what the other host answered.
kill -STOP "$(cat "$WORK/b/agent.pid")"
rem --timeout 3 list >"$WORK/list2" 2>&1
rc=$?
kill -CONT "$(cat "$WORK/b/agent.pid")"
[ $rc = 0 ] || fail "list with a frozen host: exit $rc: $(cat "$WORK/list2")"
expect "$WORK/list2" 'only 1 of 2 hosts answered in 3 s \(host-a\)' "list with a frozen host says who is missing"
grep -q "^$va " "$WORK/list2" || fail "list with b frozen lost host a's VM: $(cat "$WORK/list2")"

# Deletes reach the owners; afterwards no host owns the names.
for i in 1 2 3 4; do
	rem delete --force "v$i" >"$WORK/del.$i" 2>&1 || fail "delete v$i: $(cat "$WORK/del.$i")"
done
[ -z "$(vms_of a)$(vms_of b)" ] || fail "VMs left after delete: $(vms_of a) $(vms_of b)"
if rem status v1 >"$WORK/gone" 2>&1; then fail "status of a deleted VM succeeded"; fi
expect "$WORK/gone" 'no host owns VM v1' "deleted VMs are no longer routed to anyone"
# b answers the list it got while frozen before it is stopped: its queue
# empty, nothing unacknowledged (bounded).
# (each look runs rabbitmqctl, which takes a while: bounded by the clock)
end=$(($(date +%s) + 60))
until [ "$(queue_depth aether.host.host-b)" = 0 ]; do
	[ "$(date +%s)" -le $end ] || fail "host b did not consume its queue in 60 s: $(queue_depth aether.host.host-b) messages"
	sleep 0.2
done
ag_stop a
ag_stop b
[ "$(queue_depth aether.create)" = 0 ] || fail "requests left in aether.create"
[ "$(queue_depth aether.dead)" = 0 ] || fail "good requests were dead-lettered"
pass "nothing left in the queues, nothing dead-lettered"
