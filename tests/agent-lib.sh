# tests/agent-lib.sh - shared setup of the host agent tests (sourced after
# tests/lib.sh).  Each test runs as root in private network, mount and pid
# namespaces: a private RabbitMQ broker on the namespace's loopback
# (tests/rabbitmq-lib.sh), and one `aether serve` per simulated host, each
# with its own host config, VM store, runtime dir and image directory.
# Every process a test starts dies with its pid namespace.

. "$top_srcdir/tests/rabbitmq-lib.sh"
# Already in a private pid namespace with its own /proc (ag_enter).
_rmq_wrap=

# Re-run this script inside fresh namespaces (or skip saying why).
ag_enter() {
	in_namespaces && return 0
	[ "$(id -u)" = 0 ] || skip "needs root (private namespaces, the broker's user)"
	need unshare qemu-img timeout
	[ -x "$AETHER" ] || fail "aether binary not found at $AETHER (make first)"
	# Whether the agent is built is configure's answer (config.h), not
	# whether it runs: built but broken is a failure.
	[ -f "$top_builddir/config.h" ] ||
		fail "no $top_builddir/config.h: cannot tell whether the host agent was built"
	grep -q '^#define AE_HAVE_AGENT 1' "$top_builddir/config.h" ||
		skip "this aether was configured without the host agent (librabbitmq-dev, libjansson-dev)"
	_o=$("$AETHER" remote --help 2>&1) ||
		fail "the host agent was built but \`aether remote --help\` fails: $_o"
	case $_o in *"usage: aether remote"*) ;;
	*) fail "the host agent was built but \`aether remote --help\` prints no usage: $_o" ;;
	esac
	[ -x "${RMQ_SBIN:-/usr/lib/rabbitmq/bin}/rabbitmq-server" ] ||
		skip "rabbitmq-server is not installed (Debian package rabbitmq-server)"
	command -v "${QEMU:-qemu-system-x86_64}" >/dev/null 2>&1 ||
		skip "qemu-system-x86_64 not found"
	reexec_in_namespaces "$@"
}

# rmq_start DIR, failing the test when the broker does not start: a skip
# only when RabbitMQ is not installed (77).
ag_rmq_start() {
	_rc=0
	rmq_start "$1" || _rc=$?
	case $_rc in
	0) ;;
	77) skip "RabbitMQ is not installed (see above)" ;;
	*) fail "cannot start a private RabbitMQ broker in $1 (rmq_start: $_rc, see above)" ;;
	esac
}

# The broker and a client config.
ag_setup() {
	make_work
	ip link set lo up
	unset AETHER_RUNTIME_DIR XDG_RUNTIME_DIR AETHER_STORE_DIR
	ag_rmq_start "$WORK/rmq"
	printf 'username = %s\npassword = %s\n' "$RMQ_USER" "$RMQ_PASS" >"$WORK/cred"
	chmod 600 "$WORK/cred"
	cat >"$WORK/client.conf" <<EOC
[amqp]
url = $RMQ_URL
credentials = $WORK/cred
EOC
}

# ag_host NAME [AGENT-LINES] [VM-LINES]: host NAME's files under $WORK/NAME.
# The simulated hosts have 64 vCPUs (the default limit is this machine's
# CPU count) unless AGENT-LINES say otherwise; AG_HOST_DEFAULTS=1 keeps
# every [agent] default.
ag_host() {
	_h=$WORK/$1
	_cpus="max_cpus = 64"
	case "${2:-}" in *max_cpus*) _cpus= ;; esac
	[ "${AG_HOST_DEFAULTS:-}" = 1 ] && _cpus=
	mkdir -p "$_h/images" || fail "mkdir $_h"
	[ -f "$WORK/base.qcow2" ] ||
		qemu-img create -q -f qcow2 "$WORK/base.qcow2" 16M || fail "qemu-img"
	cp "$WORK/base.qcow2" "$_h/images/base.qcow2"
	cp "$WORK/cred" "$_h/cred"
	# plugin_dir: one quoted piece per directory on continuation lines
	# (a deep build tree, as in distcheck, makes the list longer than
	# the config's line limit); the pieces are concatenated.
	_pd=$(printf '%s\n' "$AETHER_PLUGIN_PATH" | tr ':' '\n' |
		sed '1s/.*/plugin_dir = "&"/; 1!s/.*/\t":&"/')
	cat >"$_h/host.conf" <<EOC
[aether]
runtime_dir = $_h/run
$_pd
[vm]
accel = tcg
memory = 32
stop_timeout = 3
${3:-}
[network]
backend = slirp
[network.slirp]
mode = qemu
[amqp]
url = $RMQ_URL
credentials = $_h/cred
heartbeat = 5
[agent]
host = host-$1
image_dir = $_h/images
$_cpus
${2:-}
EOC
}

# Start host NAME's agent in the background (its pid in
# $WORK/NAME/agent.pid); does not wait.
ag_spawn() {
	_h=$WORK/$1
	: >>"$_h/agent.log"
	# AETHER_SERVE: another aether for the agents than for the client
	# (e.g. an older build, to see a test fail without a fix).
	AETHER_STORE_DIR=$_h/store "${AETHER_SERVE:-$AETHER}" -v \
		-c "$_h/host.conf" serve \
		>>"$_h/agent.log" 2>&1 &
	echo $! >"$_h/agent.pid"
}

# Times host NAME's agent has said it serves (connected to the broker).
ag_served() {
	[ -f "$WORK/$1/agent.log" ] || { echo 0; return 0; }
	grep -c 'serving amqp' "$WORK/$1/agent.log" || true
}

# Wait until host NAME's agent serves more than N times (bounded: SECS,
# default 30); fails when it exits or does not.
ag_wait_serving() {
	_h=$WORK/$1
	_i=0
	while [ "$(ag_served "$1")" -le "$2" ]; do
		_i=$((_i + 1))
		[ $_i -gt $((${3:-30} * 10)) ] && { cat "$_h/agent.log" >&2; fail "agent $1 did not (re)connect in ${3:-30} s"; }
		kill -0 "$(cat "$_h/agent.pid")" 2>/dev/null ||
			{ cat "$_h/agent.log" >&2; fail "agent $1 exited"; }
		sleep 0.1
	done
}

# Start host NAME's agent in the background; wait until it serves.
ag_serve() {
	_n=$(ag_served "$1")
	ag_spawn "$1"
	ag_wait_serving "$1" "$_n"
}

# Stop host NAME's agent: SIGTERM (graceful) or the signal given.
ag_stop() {
	_p=$(cat "$WORK/$1/agent.pid")
	kill -"${2:-TERM}" "$_p" 2>/dev/null
	_i=0
	while kill -0 "$_p" 2>/dev/null && [ "$(ps -o stat= -p "$_p")" != Z ]; do
		_i=$((_i + 1))
		[ $_i -gt 300 ] && fail "agent $1 (pid $_p) does not exit"
		sleep 0.1
	done
	wait "$_p" 2>/dev/null
	return 0
}

# ag_gate_qemu FILE GATE: FILE becomes a QEMU that waits until the file
# GATE exists, then runs the real one: a create is held in "starting" until
# the test opens the gate (`: >GATE`).  Bounded: with no gate in 120 s it
# exits 1 (the start fails) instead of waiting for ever.
ag_gate_qemu() {
	cat >"$1" <<EOS
#!/bin/sh
i=0
while [ ! -e '$2' ]; do
	i=\$((i + 1))
	[ \$i -le 1200 ] || { echo "$1: no $2 in 120 s" >&2; exit 1; }
	sleep 0.1
done
exec ${QEMU:-qemu-system-x86_64} "\$@"
EOS
	chmod +x "$1" || fail "chmod $1"
}

# The client, and the local CLI of host NAME.
rem() { "$AETHER" -c "$WORK/client.conf" remote "$@"; }
on() {
	_h=$WORK/$1
	shift
	AETHER_STORE_DIR=$_h/store "$AETHER" -c "$_h/host.conf" "$@"
}

# VMs in host NAME's store, one per line.
vms_of() { ls "$WORK/$1/store/vms" 2>/dev/null | grep -v '^\.' ; }

# Messages waiting in queue Q.
queue_depth() {
	rmq_ctl list_queues -q name messages 2>/dev/null |
		awk -v q="$1" '$1 == q { print $2 }'
}
