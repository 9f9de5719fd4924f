#!/bin/sh
# agent-requests.sh - what a client may ask of the host agents through the
# broker, and what it may not: a create-vm with every option (its child's
# argv is longer than any fixed array), the default limits of a host
# (its memory and CPUs) and stop timeouts, the forward policy (loopback,
# unprivileged ports), request ids (a reused id is refused, not answered
# with another request's reply; ids that are no file names are refused),
# the agent's own headers sent by a client (x-aether-forwarded does not
# skip the same-name check), console output that is not UTF-8 or longer
# than the agent keeps, and the aether program the agent runs requests
# with.  Every check runs, then the test fails if any did.
#
# AETHER_SERVE=/path/to/older/aether runs the agents from another build
# (the client stays this one) to see which checks fail without the fixes.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
. "$top_srcdir/tests/agent-lib.sh"
ag_enter "$@"
ag_setup
# Host a keeps every [agent] default; host b is the usual test host.
AG_HOST_DEFAULTS=1 ag_host a
ag_host b
for h in a b; do
	cp "$WORK/base.qcow2" "$WORK/$h/images/vmlinuz"
	cp "$WORK/base.qcow2" "$WORK/$h/images/initrd.img"
done
ag_serve a
ag_serve b

missed=0
miss() { log "FAIL: $*"; missed=$((missed + 1)); }
check() { # FILE PATTERN WHAT
	if grep -Eq "$2" "$1" 2>/dev/null; then
		pass "$3"
	else
		log "--- $1 ---"; cat "$1" >&2 2>/dev/null; log "---"
		miss "$3 (no /$2/ in $(basename "$1"))"
	fi
}
alive() {
	kill -0 "$(cat "$WORK/$1/agent.pid")" 2>/dev/null ||
		{ tail -20 "$WORK/$1/agent.log" >&2; fail "the agent of host $1 died"; }
}
R() { rem --timeout 30 "$@"; }

# 1. Every create-vm option at once: 29 arguments for the child.
printf '#!/bin/sh\necho hi\n' >"$WORK/s.sh"
R --host host-b create full1 --image base.qcow2 --backend slirp --memory 64 \
	--cpus 1 --mac 52:54:00:aa:bb:01 --init-script "$WORK/s.sh" \
	--kernel vmlinuz --initrd initrd.img --append console=ttyS0 \
	--no-start >"$WORK/full1" 2>&1
check "$WORK/full1" '^full1: created on host host-b$' "create-vm with every option"
alive b
check "$WORK/b/store/vms/full1/vm.conf" "^kernel = .*/vmlinuz$" "full1: its kernel from image_dir"
check "$WORK/b/store/vms/full1/vm.conf" "append = console=ttyS0" "full1: its append"
R --host host-b create vm2 --image base.qcow2 --no-start >"$WORK/vm2" 2>&1 || miss "create vm2: $(cat "$WORK/vm2")"

# 5. Limits default to the host's capacity: host a has no max_* keys.
grep -Eq 'limits: [1-9][0-9]* VMs, [1-9][0-9]* MiB, [1-9][0-9]* vCPUs' "$WORK/a/agent.log" &&
	pass "host a's default limits are its own capacity" ||
	miss "host a's default limits: $(grep 'limits:' "$WORK/a/agent.log")"
R --host host-a create huge --image base.qcow2 --memory 1048576 --no-start >"$WORK/huge" 2>&1 &&
	miss "a 1 TiB VM was accepted with the default limits"
check "$WORK/huge" 'huge: no host has capacity for it \(1048576 MiB' "a VM larger than every host is refused by default"
[ -z "$(vms_of a)" ] || miss "host a made VMs: $(vms_of a)"
R stop vm2 --timeout 3600 >"$WORK/stop3600" 2>&1 && miss "stop --timeout 3600 was accepted"
check "$WORK/stop3600" "timeout 3600 s is over this host's limit of 300 s \(\[agent\] max_stop_timeout\); refused" \
	"stop-vm timeout over max_stop_timeout: refused, naming the limit"

# 4. Forward policy: loopback and unprivileged ports by default.
R forward add vm2 tcp 0.0.0.0:25 22 >"$WORK/fwd-any" 2>&1 && miss "forward of 0.0.0.0:25 accepted"
check "$WORK/fwd-any" 'host address 0.0.0.0 is not allowed on this host \(\[agent\] forward_addresses = 127.0.0.1 ::1\)' \
	"forward on every address: refused, naming the policy"
R forward add vm2 tcp :8080 22 >"$WORK/fwd-noaddr" 2>&1 && miss "forward of :8080 accepted"
check "$WORK/fwd-noaddr" 'forward_addresses' "forward without an address (every address): refused"
R forward add vm2 tcp 127.0.0.1:25 22 >"$WORK/fwd-port" 2>&1 && miss "forward of port 25 accepted"
check "$WORK/fwd-port" 'host port 25 is not allowed on this host \(\[agent\] forward_ports = 1024-65535\)' \
	"forward of a privileged port: refused, naming the policy"
printf '[agent]\nhost = n1\nforward_ports = 0-80\n' >"$WORK/h3.conf"
"$AETHER" check-config "$WORK/h3.conf" >"$WORK/cc3" 2>&1 && miss "check-config took forward_ports = 0-80"
check "$WORK/cc3" "$WORK/h3.conf:3: \\[agent\\] forward_ports: '0-80' is not a port" \
	"check-config: a bad forward_ports, naming file and line"
printf '[agent]\nhost = n1\nforward_addresses = 127.0.0.1 anywhere\n' >"$WORK/h4.conf"
"$AETHER" check-config "$WORK/h4.conf" >"$WORK/cc4" 2>&1 && miss "check-config took forward_addresses = anywhere"
check "$WORK/cc4" "$WORK/h4.conf:3: \\[agent\\] forward_addresses: 'anywhere' is not an IPv4 or IPv6" \
	"check-config: a bad forward_addresses, naming file and line"

# 2. Request ids.
st='{"command": "status-vm", "options": {"name": "vm2"}}'
R raw --to vm:vm2 --id same-1 "$st" >"$WORK/id1" 2>&1 || miss "status with id same-1: $(cat "$WORK/id1")"
R raw --to vm:vm2 --id same-1 "$st" >"$WORK/id1b" 2>&1 || miss "the same status again (a re-send) was refused: $(cat "$WORK/id1b")"
R raw --to vm:vm2 --id same-1 '{"command": "delete-vm", "options": {"name": "vm2"}}' >"$WORK/id2" 2>&1 &&
	miss "a delete-vm reusing the id of a status-vm got a success reply: $(cat "$WORK/id2")"
check "$WORK/id2" 'request id same-1 was already used for another request \(delete-vm\)' \
	"an id reused for another request: error reply"
[ -d "$WORK/b/store/vms/vm2" ] || miss "vm2 is gone"
# An id in use by a running request: one of the two is refused, none hangs.
R raw --to host:host-b --id run-1 \
	'{"command": "create-vm", "options": {"name": "r1", "image": "base.qcow2", "start": false}}' \
	>"$WORK/run1" 2>&1 &
p1=$!
R raw --to host:host-b --id run-1 '{"command": "list-vms"}' >"$WORK/run2" 2>&1
wait $p1
n=$(cat "$WORK/run1" "$WORK/run2" | grep -c 'request id run-1 was already used')
[ "$n" = 1 ] && pass "an id shared by a running and a new request: one error reply, no hang" ||
	miss "id shared by a create and a list: $(cat "$WORK/run1" "$WORK/run2")"
# Ids name journal files: X.reply would be the reply file of request X.
R raw --to host:host-b --id J1 \
	'{"command": "create-vm", "options": {"name": "j1", "image": "base.qcow2", "start": false}}' \
	>"$WORK/j1" 2>&1 || miss "create j1: $(cat "$WORK/j1")"
R raw --to host:host-b --id J1.reply \
	'{"command": "create-vm", "options": {"name": "j2", "image": "base.qcow2", "start": false}}' \
	>"$WORK/j2" 2>&1 && miss "a create with id J1.reply was accepted"
check "$WORK/j2" "request id 'J1.reply' \(the message_id\) is not 1 to 128 of" "an id that is no safe file name: refused"
check "$WORK/b/store/requests/J1.reply" '"name":"j1"' "request J1's saved reply is intact"
[ -d "$WORK/b/store/vms/j2" ] && miss "j2 was made"

# 3. x-aether-forwarded from a client: the same-name check still runs
# (full1 is host b's; host a must send it there, not make a second one).
R raw --to host:host-a --header x-aether-forwarded:host-b \
	'{"command": "create-vm", "options": {"name": "full1", "image": "base.qcow2", "start": false}}' \
	>"$WORK/fwdhdr" 2>&1 && miss "a create of full1 on host a with a forged x-aether-forwarded succeeded"
check "$WORK/fwdhdr" 'VM full1 already exists on host host-b' "a client's x-aether-forwarded does not skip the same-name check"
[ -d "$WORK/a/store/vms/full1" ] && miss "host a made a second full1"
R raw --to host:host-a --header x-aether-hops:9223372036854775807 \
	--header 'x-aether-declined:a/b,,' \
	'{"command": "create-vm", "options": {"name": "h1", "image": "base.qcow2", "memory": 1048576, "start": false}}' \
	>"$WORK/hops" 2>&1 && miss "a create over every host's capacity succeeded"
check "$WORK/hops" 'h1: no host has capacity' "bad x-aether-hops/declined values: ignored, the request still ends"
alive a

# 6. Console output that is not UTF-8, and longer than the agent keeps.
R --host host-b create c1 --image base.qcow2 --no-start >"$WORK/c1" 2>&1 || miss "create c1: $(cat "$WORK/c1")"
printf 'boot \377\376 ok\n' >"$WORK/b/store/vms/c1/console.log"
R --json console c1 >"$WORK/con" 2>&1 || miss "console c1: $(cat "$WORK/con")"
check "$WORK/con" '"status":"success"' "console with a 0xff byte: success"
check "$WORK/con" "\"output\":\"boot $(printf '\357\277\275\357\277\275') ok" \
	"console with a 0xff byte: the output, with U+FFFD for each bad byte"
{ i=0; while [ $i -lt 1600 ]; do head -c 1023 /dev/zero | tr '\0' x; echo; i=$((i + 1)); done
  printf '\303\251END-OF-LOG\n'; } >"$WORK/b/store/vms/c1/console.log"
R console c1 >"$WORK/con2" 2>&1 || miss "console c1 (1.6 MiB): $(tail -c 300 "$WORK/con2")"
tail -n 1 "$WORK/con2" | grep -q "$(printf '\303\251')END-OF-LOG" &&
	pass "a console log over 1 MiB: the newest part is returned" ||
	miss "a long console log: its end is missing ($(tail -c 100 "$WORK/con2"))"
[ "$(wc -c <"$WORK/con2")" -le 1048576 ] || miss "console reply over 1 MiB"
alive b

# 7. The aether program the agent runs requests with.
agent_bin=$(dirname "${AETHER_SERVE:-$AETHER_BIN}")/aether-agent
mkdir -p "$WORK/x"
cp "${AETHER_SERVE:-$AETHER}" "$WORK/x/aether"
chmod 777 "$WORK/x/aether"
AETHER_STORE_DIR=$WORK/x/store AETHER_BINARY=$WORK/x/aether timeout 5 \
	"$agent_bin" -c "$WORK/b/host.conf" serve --host host-x >"$WORK/bin1" 2>&1
check "$WORK/bin1" "AETHER_BINARY $WORK/x/aether: refused for an agent running as root" \
	"a world-writable AETHER_BINARY is refused for root"
(cd "$WORK/x" && chmod 755 aether && AETHER_STORE_DIR=$WORK/x/store AETHER_BINARY=aether \
	timeout 5 "$agent_bin" -c "$WORK/b/host.conf" serve --host host-x) >"$WORK/bin2" 2>&1
check "$WORK/bin2" "AETHER_BINARY 'aether' is not an absolute path" "a relative AETHER_BINARY is refused"

ag_stop a
ag_stop b
[ "$missed" = 0 ] || fail "$missed checks failed"
