#!/bin/sh
# The private RabbitMQ broker of tests/rabbitmq-lib.sh: loopback only, own
# ports and files, durable data across rmq_restart, two brokers side by
# side, startup failure reported as 77, nothing left running after rmq_stop.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/rabbitmq-lib.sh"

[ -x "$RMQ_SBIN/rabbitmq-server" ] ||
	skip "rabbitmq-server is not installed ($RMQ_SBIN/rabbitmq-server)"
need erl epmd amqp-declare-queue amqp-publish amqp-get ss
make_work

# OS pids of the broker's processes (the node's process tree).
tree_of() { _rmq_tree "$RMQ_PID"; }
beam_of() {
	for p in $(tree_of); do
		case $(ps -o comm= -p "$p" 2>/dev/null) in beam*) echo "$p" ;; esac
	done
}
# Listening TCP sockets on port $1, as "address:port" lines.
listeners() { ss -Hltn "sport = :$1" | awk '{ print $4 }'; }
# Every listener of the broker is on loopback and owned by it.
check_listeners() {
	what=$1
	for p in "$RMQ_PORT" "$RMQ_DIST_PORT" "$RMQ_EPMD_PORT"; do
		l=$(listeners "$p")
		[ -n "$l" ] || fail "$what: nothing listens on port $p"
		for a in $l; do
			case $a in
			127.0.0.1:"$p"|"[::1]:$p") ;;
			*) fail "$what: port $p listens on $a, not loopback only" ;;
			esac
		done
	done
	beam=$(beam_of)
	[ -n "$beam" ] || fail "$what: no beam process under $RMQ_PID"
	ports=$(ss -Hltnp | awk -v pid="pid=$beam," 'index($0, pid) {
		n = split($4, a, ":"); print a[n] }' | sort -n | tr '\n' ' ')
	want=$(printf '%s\n' "$RMQ_PORT" "$RMQ_DIST_PORT" | sort -n | tr '\n' ' ')
	[ "$ports" = "$want" ] ||
		fail "$what: node listens on ports '$ports', expected '$want' (plugins enabled?)"
	pass "$what: AMQP $RMQ_PORT, distribution $RMQ_DIST_PORT, EPMD $RMQ_EPMD_PORT on loopback only"
}
# No process of the broker in directory $1 (pids $2) remains, not even a zombie.
check_gone() {
	what=$1 dir=$2 pids=$3
	for p in $pids; do
		if ps -p "$p" >/dev/null 2>&1; then
			ps -o pid,ppid,stat,args -p "$p" >&2
			fail "$what: process $p of the broker is still there"
		fi
	done
	left=$(ps -eo pid=,stat=,args= | grep -F "$dir/" | grep -v grep || true)
	[ -z "$left" ] || { log "$left"; fail "$what: processes still use $dir"; }
	for p in ${4:-}; do
		[ -z "$(listeners "$p")" ] || fail "$what: port $p still in use"
	done
	pass "$what: no beam/epmd/erl_child_setup left"
}
amqp() { cmd=$1; shift; "amqp-$cmd" -u "$RMQ_URL_AUTH" "$@"; }
queue_count() { # queue -> messages (from rabbitmqctl)
	rmq_ctl -q list_queues name messages | awk -v q="$1" '$1 == q { print $2 }'
}

# --- broker A ---
rc=0
rmq_start "$WORK/a" || rc=$?
case $rc in
0) ;;
77) skip "RabbitMQ is not installed (see above)" ;;
*) fail "cannot start a RabbitMQ broker: rmq_start returned $rc (see above)" ;;
esac
a_dir=$RMQ_DIR
for v in RMQ_PORT RMQ_URL RMQ_USER RMQ_PASS; do
	eval "val=\${$v:-}"
	[ -n "$val" ] || fail "rmq_start did not set $v"
done
[ "$RMQ_URL" = "amqp://127.0.0.1:$RMQ_PORT/%2f" ] || fail "RMQ_URL is $RMQ_URL"
a_port=$RMQ_PORT a_dist=$RMQ_DIST_PORT a_epmd=$RMQ_EPMD_PORT a_pass=$RMQ_PASS
check_listeners "broker A"
[ -s "$a_dir/log/$RMQ_NODE.log" ] || fail "no log in $a_dir/log"
[ -d "$a_dir/mnesia/$RMQ_NODE" ] || fail "no data in $a_dir/mnesia"
[ -s "$a_dir/home/.erlang.cookie" ] || fail "no private cookie in $a_dir/home"
# The broker logs this just after it starts accepting connections.
wait_for "$a_dir/log/$RMQ_NODE.log" "Server startup complete" 30
expect "$a_dir/log/$RMQ_NODE.log" 'Server startup complete; 0 plugins' "broker A runs without plugins"

# Credentials are enforced.
amqp-declare-queue -u "amqp://$RMQ_USER:wrong@127.0.0.1:$RMQ_PORT/%2f" \
	-q x >/dev/null 2>&1 && fail "a wrong password was accepted"
pass "a wrong password is refused"

q=aether.harness
body="persistent-$$-$(_rmq_random)"
[ "$(amqp declare-queue -d -q "$q")" = "$q" ] || fail "declare durable queue $q"
amqp publish -r "$q" -p -b "$body" || fail "publish persistent message"
amqp publish -r "$q" -b "transient-$$" || fail "publish transient message"
n=$(queue_count "$q")
[ "$n" = 2 ] || fail "queue $q holds '$n' messages before restart, expected 2"
pass "durable queue $q holds a persistent and a transient message"

# --- restart A: same port and credentials, data kept ---
old_beam=$(beam_of)
old_tree=$(tree_of)
rmq_restart || fail "rmq_restart"
[ "$RMQ_PORT" = "$a_port" ] && [ "$RMQ_PASS" = "$a_pass" ] &&
	[ "$RMQ_DIST_PORT" = "$a_dist" ] && [ "$RMQ_EPMD_PORT" = "$a_epmd" ] ||
	fail "rmq_restart changed port or credentials"
check_gone "restart" /nonexistent "$old_tree $old_beam"
new_beam=$(beam_of)
[ -n "$new_beam" ] && [ "$new_beam" != "$old_beam" ] ||
	fail "rmq_restart: node process $old_beam -> '$new_beam'"
n=$(queue_count "$q")
[ "$n" = 1 ] || fail "queue $q holds '$n' messages after restart, expected 1 (the persistent one)"
got=$(amqp get -q "$q") || fail "amqp-get $q after restart"
[ "$got" = "$body" ] || fail "after restart got '$got', expected '$body'"
amqp get -q "$q" >/dev/null 2>&1 && fail "queue $q not empty after reading its message"
pass "restart keeps port, credentials, durable queue and persistent message"

# --- broker B beside A ---
rmq_start "$WORK/b" || fail "cannot start a second broker beside the first"
b_dir=$RMQ_DIR
for p in "$RMQ_PORT" "$RMQ_DIST_PORT" "$RMQ_EPMD_PORT"; do
	case " $a_port $a_dist $a_epmd " in *" $p "*) fail "broker B reuses port $p of A" ;; esac
done
check_listeners "broker B"
amqp declare-queue -q "$q" >/dev/null || fail "declare $q on B"
amqp publish -r "$q" -b "on-b" || fail "publish on B"
rmq_use "$a_dir"
[ "$(queue_count "$q")" = 0 ] || fail "message published on B is on A"
amqp publish -r "$q" -p -b "on-a" || fail "publish on A while B runs"
rmq_use "$b_dir"
[ "$(amqp get -q "$q")" = on-b ] || fail "B did not keep its message"
rmq_use "$a_dir"
[ "$(amqp get -q "$q")" = on-a ] || fail "A did not keep its message"
pass "two brokers run side by side, each with its own data"

# --- stop B, A unaffected; then stop A ---
rmq_use "$b_dir"
b_tree="$(tree_of) $RMQ_PID"
rmq_stop
check_gone "stop B" "$b_dir" "$b_tree" "$RMQ_PORT $RMQ_DIST_PORT $RMQ_EPMD_PORT"
rmq_stop # twice is harmless
rmq_use "$a_dir"
amqp publish -r "$q" -b still-up || fail "A died with B"
a_tree="$(tree_of) $RMQ_PID"
rmq_stop
check_gone "stop A" "$a_dir" "$a_tree" "$a_port $a_dist $a_epmd"

# --- a broker that cannot start: 1 (a failure, not 77: RabbitMQ is
# installed), its log on stderr, nothing left ---
sed -i 's/^listeners.tcp.default = .*/listeners.tcp.default = not-an-address/' \
	"$a_dir/rabbitmq.conf"
rc=0
RMQ_START_TIMEOUT=30 rmq_start "$a_dir" 2>"$WORK/fail.err" || rc=$?
[ $rc -eq 1 ] || { cat "$WORK/fail.err" >&2; fail "broken broker: rmq_start returned $rc, expected 1"; }
expect "$WORK/fail.err" 'last lines' "broken broker: log tail on stderr"
check_gone "broken broker" "$a_dir" "" "$a_port $a_dist $a_epmd"
# Only a RabbitMQ that is not installed is 77 (a skip).
rc=0
RMQ_SBIN=$WORK/no-rabbitmq rmq_start "$WORK/n" 2>"$WORK/noinst.err" || rc=$?
[ $rc -eq 77 ] || fail "RabbitMQ not installed: rmq_start returned $rc, expected 77"
expect "$WORK/noinst.err" 'no-rabbitmq/rabbitmq-server: not installed' \
	"RabbitMQ not installed: 77, saying what is missing"

# --- a new broker whose AMQP port another program took after it was
# chosen: started again on other ports (the first attempt's eaddrinuse) ---
python3 -c 'import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0))
open(sys.argv[1], "w").write("%d\n" % s.getsockname()[1]); time.sleep(600)' \
	"$WORK/held" &
held_pid=$!
at_exit "kill $held_pid 2>/dev/null"
wait_for "$WORK/held" '^[0-9]+$' 30 || fail "cannot hold a port"
held=$(cat "$WORK/held")
# The first ports chosen: the held one first.
_rmq_ports() {
	_n=$1
	if [ ! -e "$WORK/held.used" ]; then
		: >"$WORK/held.used"
		echo "$held"
		_n=$((_n - 1))
	fi
	python3 -c 'import socket, sys
ss = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in ss: s.bind(("127.0.0.1", 0))
for s in ss: print(s.getsockname()[1])' "$_n"
}
rc=0
rmq_start "$WORK/c" 2>"$WORK/collide.err" || rc=$?
kill "$held_pid"
[ $rc -eq 0 ] || { cat "$WORK/collide.err" >&2; fail "a taken port: rmq_start returned $rc, expected a start on other ports"; }
[ -e "$WORK/held.used" ] || fail "test error: the held port was never offered"
expect "$WORK/collide.err" 'a port of the new broker was taken meanwhile: again on other ports' \
	"a port taken before the new broker bound it: started again on other ports"
[ "$RMQ_PORT" != "$held" ] || fail "the broker says it listens on the held port $held"
amqp publish -r nowhere -b after-collision || fail "the broker started after a collision does not work"
rmq_stop

# --- the shell that started a broker is killed: its guard kills the broker ---
# (the killed shell's broker process stays a zombie where PID 1 does not
# reap orphans)
g_dir=$WORK/g
log "killing the shell of broker G on purpose (\"Killed\" below)"
sh -c '. "$1/tests/rabbitmq-lib.sh"
	rmq_start "$2" >/dev/null 2>&1 || exit 77
	echo "$RMQ_PORT $RMQ_DIST_PORT $RMQ_EPMD_PORT" >"$2/ports"
	kill -KILL $$' guard "$top_srcdir" "$g_dir"
[ -s "$g_dir/ports" ] || fail "guard: the broker did not start"
# Busy: a live process of the broker or a listener on one of its ports.
g_busy() {
	ps -eo stat=,args= | grep -F "$g_dir/" | grep -v -e grep -e '^Z' && return 0
	for p in $(cat "$g_dir/ports"); do
		[ -z "$(listeners "$p")" ] || { echo "port $p in use"; return 0; }
	done
	return 1
}
i=0
while g_busy >"$WORK/g_busy"; do
	i=$((i + 1))
	[ $i -lt 100 ] || { cat "$WORK/g_busy" >&2; fail "guard: broker still there 10 s after its shell was killed"; }
	sleep 0.1
done
pass "guard: a broker dies with the shell that started it"
