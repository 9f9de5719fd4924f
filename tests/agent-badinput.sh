#!/bin/sh
# agent-badinput.sh - what the host agent does with requests it cannot
# carry out: malformed JSON, an unknown command, missing, unknown or
# wrong-typed options, a path as image name, an oversized message, a VM
# command sent to the create queue, a message without reply_to.  Each gets
# an error reply naming the problem (when it has a reply_to) and is
# dead-lettered to aether.dead; the agent keeps serving.  Also: secrets
# never on the command line, credentials files only their owner can read.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
. "$top_srcdir/tests/agent-lib.sh"
ag_enter "$@"
ag_setup
ag_host a "max_message = 4096
max_memory = 100
max_cpus = 2"
ag_serve a
pid=$(cat "$WORK/a/agent.pid")

n=0
bad() {
	what=$1 pattern=$2
	shift 2
	n=$((n + 1))
	if rem --timeout 20 raw "$@" >"$WORK/bad.$n" 2>&1; then
		fail "$what: the agent accepted it: $(cat "$WORK/bad.$n")"
	fi
	expect "$WORK/bad.$n" "$pattern" "$what: error reply"
}
bad "malformed JSON" 'host-a: bad JSON at line 1' '{"command": "create-vm", "options": {'
bad "not an object" 'is \{"command": STRING' '[1, 2, 3]'
bad "unknown command" "unknown command 'format-disk'" '{"command": "format-disk", "options": {}}'
bad "options not an object" 'options must be an object' '{"command": "create-vm", "options": "x"}'
bad "missing option" "create-vm: option 'image' is missing" '{"command": "create-vm", "options": {"name": "x"}}'
bad "wrong-typed option" "option 'memory' must be an integer" \
	'{"command": "create-vm", "options": {"image": "base.qcow2", "memory": "lots"}}'
bad "unknown option" "unknown option 'colour'" \
	'{"command": "create-vm", "options": {"image": "base.qcow2", "colour": "red"}}'
bad "path as image" "image '../../etc/passwd' must be the name of a file" \
	'{"command": "create-vm", "options": {"image": "../../etc/passwd"}}'
bad "bad VM name" "name 'a/b' is not a valid VM name" \
	'{"command": "create-vm", "options": {"image": "base.qcow2", "name": "a/b"}}'
bad "out-of-range option" "option 'cpus' must be 1..255" \
	'{"command": "create-vm", "options": {"image": "base.qcow2", "cpus": 100000}}'
big=$(head -c 6000 /dev/zero | tr '\0' 'x')
bad "oversized message" "message of 6[0-9]{3} bytes is over this host's limit of 4096" \
	"{\"command\": \"list-vms\", \"options\": {\"pad\": \"$big\"}}"
bad "VM command on the create queue" "status-vm goes to the VM's owner" \
	--to create '{"command": "status-vm", "options": {"name": "x"}}'
bad "duplicate keys" 'duplicate object key' \
	'{"command": "list-vms", "command": "create-vm"}'

# No reply_to (and not even JSON): nobody to answer, still dead-lettered.
cred_url=$(echo "$RMQ_URL" | sed "s|amqp://|amqp://$RMQ_USER:$RMQ_PASS@|")
if command -v amqp-publish >/dev/null 2>&1; then
	amqp-publish --url="$cred_url" -e aether -r create -b 'not json at all' ||
		fail "amqp-publish"
	n=$((n + 1))
fi
i=0
while [ "$(queue_depth aether.dead)" != "$n" ] && [ $i -lt 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
[ "$(queue_depth aether.dead)" = "$n" ] ||
	fail "aether.dead holds $(queue_depth aether.dead) messages, want $n"
pass "all $n bad requests were dead-lettered to aether.dead"
[ "$(queue_depth aether.create)" = 0 ] || fail "bad requests left in aether.create"
rmq_ctl list_queues -q name messages_unacknowledged | awk '$1 != "name" && $2 != 0 { bad = 1 } END { exit bad }' ||
	fail "unacked messages left: $(rmq_ctl list_queues -q name messages_unacknowledged)"
pass "nothing left unacked"

# The agent is still there and serving.
kill -0 "$pid" || fail "the agent died"
rem create ok1 --image base.qcow2 --no-start >"$WORK/ok" 2>&1 || fail "create after bad input: $(cat "$WORK/ok")"
expect "$WORK/ok" '^ok1: created on host host-a$' "the agent keeps serving after bad input"
# Capacity in memory and vCPUs, not only VM count (one host: it declines,
# every live host has, so the client is told).
if rem create big1 --image base.qcow2 --memory 128 --no-start >"$WORK/cap1" 2>&1; then fail "a create over max_memory succeeded"; fi
expect "$WORK/cap1" 'big1: no host has capacity for it \(128 MiB, 1 vCPUs\); declined by host-a; here: 32 of 100 MiB memory in use, 128 asked' \
	"max_memory: a create that does not fit is refused"
if rem create big2 --image base.qcow2 --cpus 2 --no-start >"$WORK/cap2" 2>&1; then fail "a create over max_cpus succeeded"; fi
expect "$WORK/cap2" 'here: 1 of 2 vCPUs in use, 2 asked' "max_cpus: a create that does not fit is refused"
[ "$(vms_of a)" = ok1 ] || fail "store after refused creates: $(vms_of a)"
# A missing image is an error reply (a valid request that failed), not a
# dead letter, and leaves nothing behind.
if rem create ok2 --image nosuch.qcow2 >"$WORK/noimg" 2>&1; then fail "create from a missing image succeeded"; fi
expect "$WORK/noimg" "ok2: image $WORK/a/images/nosuch.qcow2: No such file" "a missing image: error naming it"
[ "$(vms_of a)" = ok1 ] || fail "store after the failed create: $(vms_of a)"
[ "$(queue_depth aether.dead)" = "$n" ] || fail "a failed valid request was dead-lettered"

# Secrets: no password in a URL, credentials files private to their owner.
if rem --amqp "$cred_url" list >"$WORK/urlpw" 2>&1; then fail "a password in --amqp was accepted"; fi
expect "$WORK/urlpw" 'a password in the URL is refused' "a password on the command line is refused"
chmod 644 "$WORK/cred"
if rem list >"$WORK/credperm" 2>&1; then fail "a world-readable credentials file was accepted"; fi
expect "$WORK/credperm" "credentials file $WORK/cred: must be .*mode 0644" \
	"a credentials file readable by others is refused, naming it"
chmod 600 "$WORK/cred"
printf 'user = x\n' >"$WORK/cred2"
chmod 600 "$WORK/cred2"
if rem --credentials "$WORK/cred2" list >"$WORK/credbad" 2>&1; then fail "a bad credentials file was accepted"; fi
expect "$WORK/credbad" "$WORK/cred2:1: unknown key 'user'" "a bad credentials file: file, line and key"
printf 'username = %s\npassword = wrong\n' "$RMQ_USER" >"$WORK/cred3"
chmod 600 "$WORK/cred3"
if rem --credentials "$WORK/cred3" list >"$WORK/credwrong" 2>&1; then fail "a wrong password was accepted"; fi
expect "$WORK/credwrong" 'login as aether' "a wrong password: the login error"
if AETHER_STORE_DIR=$WORK/a/store "$AETHER" -c "$WORK/a/host.conf" serve --host 'bad/host' >"$WORK/badhost" 2>&1; then
	fail "serve with a bad host name started"
fi
expect "$WORK/badhost" "host name 'bad/host' is not" "a bad host name is refused before connecting"
# check-config validates [amqp] and [agent], naming file, line and key.
printf '[amqp]\nurl = %s\n' "$cred_url" >"$WORK/h1.conf"
if "$AETHER" check-config "$WORK/h1.conf" >"$WORK/cc1" 2>&1; then fail "check-config took a URL with a password"; fi
expect "$WORK/cc1" "$WORK/h1.conf:2: \\[amqp\\] url: a password in the URL is refused" "check-config: password in [amqp] url"
printf '[agent]\nhost = n1\nmax_memory = -5\n' >"$WORK/h2.conf"
if "$AETHER" check-config "$WORK/h2.conf" >"$WORK/cc2" 2>&1; then fail "check-config took max_memory = -5"; fi
expect "$WORK/cc2" "$WORK/h2.conf:3: \\[agent\\] max_memory: '-5' is not 0" "check-config: bad [agent] limit"
"$AETHER" check-config "$WORK/a/host.conf" >"$WORK/cc3" 2>&1 || fail "check-config of a good host config: $(cat "$WORK/cc3")"
# One agent per store.
if AETHER_STORE_DIR=$WORK/a/store "$AETHER" -c "$WORK/a/host.conf" serve --host other >"$WORK/second" 2>&1; then
	fail "a second agent on the same store started"
fi
expect "$WORK/second" "another aether serve serves this VM store" "a second agent on one store is refused"
grep -q "its pid: $pid" "$WORK/second" || fail "the refusal does not name the running agent: $(cat "$WORK/second")"
ag_stop a
