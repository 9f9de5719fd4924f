# tests/rabbitmq-lib.sh - a private RabbitMQ broker for tests and benchmarks
# (sourced, after tests/lib.sh in tests; it also works on its own).
#
#   rmq_start DIR    start a broker whose files all live under DIR: loopback
#                    only, private node name, AMQP/distribution/EPMD ports,
#                    Erlang cookie (HOME=DIR/home), no plugins.  Exports
#                    RMQ_PORT, RMQ_URL (amqp://127.0.0.1:PORT/%2f: the "/"
#                    vhost; a bare trailing "/" means the empty vhost to
#                    librabbitmq), RMQ_URL_AUTH (same with credentials),
#                    RMQ_USER, RMQ_PASS, RMQ_VHOST, RMQ_NODE, RMQ_DIR.
#                    Returns 77 only when RabbitMQ (or erl, epmd,
#                    amqp-publish) is not installed; any other failure
#                    (the broker crashes, is not ready in
#                    RMQ_START_TIMEOUT s, its ports are taken, its
#                    directory cannot be written) returns 1 with the log
#                    tail on stderr.  (A new broker whose freshly chosen
#                    ports were taken before it bound them is started
#                    again on other ports, up to 3 attempts.)  A test
#                    must fail on 1, not skip:
#                        rmq_start "$WORK/rmq"; case $? in 0) ;;
#                        77) skip "no RabbitMQ" ;; *) fail "broker" ;; esac
#                    Starting again on a DIR that held a broker reuses its
#                    node name, ports, credentials, certificates and data.
#   RMQ_TLS=1 rmq_start DIR
#                    the same plus an AMQP-over-TLS listener on another
#                    loopback port, with a private CA and a server
#                    certificate for 127.0.0.1 and localhost made by
#                    openssl under DIR/tls (no client certificate asked
#                    for).  Also exports RMQ_TLS_PORT, RMQ_TLS_URL
#                    (amqps://127.0.0.1:PORT/%2f) and RMQ_CACERT (the CA's
#                    PEM file); startup waits for both listeners.  77 when
#                    openssl is not installed.  A DIR once started with TLS keeps
#                    it; without TLS those three are empty.
#   rmq_make_ca DIR NAME
#                    a self-signed CA in DIR/ca.pem (key DIR/ca.key),
#                    e.g. an unrelated CA to check that verification fails.
#   rmq_stop         stop the current broker cleanly (SIGKILL after
#                    RMQ_STOP_TIMEOUT s); nothing of it stays (beam, epmd,
#                    erl_child_setup).  Safe to call twice or with none.
#   rmq_restart      rmq_stop + rmq_start on the same DIR (durable queues and
#                    persistent messages survive).
#   rmq_ctl ARGS     rabbitmqctl against the current broker.
#   rmq_use DIR      make the broker of DIR (started by this shell) current.
#   rmq_cleanup      stop every broker this shell started.
#
# Cleanup: a guard process kills the broker if the shell that started it
# dies without stopping it (SIGKILL, timeout); set RMQ_DETACH=1 for a broker
# meant to outlive its script (stop it later with rmq_use DIR; rmq_stop).
# rmq_start also registers rmq_cleanup with at_exit (tests/lib.sh) the
# first time, so a failing test never leaves a broker behind.  Scripts
# without tests/lib.sh set their own trap, e.g.
#     trap 'rmq_cleanup; rm -rf "$w"' EXIT; trap 'exit 130' INT TERM
# rmq_stop and rmq_cleanup must run in the shell that called rmq_start (they
# reap the broker with `wait`): do not call rmq_start in $(...) or a pipe.
#
# Each broker and each rabbitmqctl runs in its own PID namespace when
# `unshare --pid` works (root, or unprivileged user namespaces): the kernel
# then kills and reaps everything the Erlang VM spawned, even on SIGKILL,
# which matters where PID 1 does not reap orphans.

RMQ_SBIN=${RMQ_SBIN:-/usr/lib/rabbitmq/bin}
RMQ_START_TIMEOUT=${RMQ_START_TIMEOUT:-60}
RMQ_STOP_TIMEOUT=${RMQ_STOP_TIMEOUT:-30}
RMQ_DIR=
RMQ_PID=
RMQ_TLS_PORT=
RMQ_CACERT=
_rmq_dirs=
_rmq_wrap=unset
_rmq_registered=

_rmq_log() { printf '%s: rabbitmq: %s\n' "${TEST_NAME:-${0##*/}}" "$*" >&2; }

# Non-zombie process PID exists.
_rmq_alive() {
	_s=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
	case $_s in Z*|"") return 1 ;; esac
	return 0
}

# How to run an Erlang program so that all it spawns dies and is reaped
# with it: sets _rmq_wrap (empty when no PID namespace is available).
_rmq_pick_wrap() {
	[ "$_rmq_wrap" != unset ] && return 0
	_rmq_wrap=
	command -v unshare >/dev/null 2>&1 || return 0
	for _w in "unshare --pid --fork --kill-child --mount-proc" \
	    "unshare --user --map-root-user --pid --fork --kill-child --mount-proc"; do
		if $_w true >/dev/null 2>&1; then
			_rmq_wrap=$_w
			return 0
		fi
	done
}

# N distinct free TCP ports on loopback, one per line.
_rmq_ports() {
	python3 -c '
import socket, sys
ss = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    ss.append(s)
for s in ss:
    print(s.getsockname()[1])' "$1" 2>/dev/null && return 0
	# No python3: random ports not listed as listening in /proc/net/tcp*.
	awk -v n="$1" -v seed="$$" 'BEGIN {
		srand(seed + systime())
		while ((getline l < "/proc/net/tcp") > 0) used[l] = 1
		while ((getline l < "/proc/net/tcp6") > 0) used[l] = 1
		for (k in used) { split(k, f, " "); split(f[2], a, ":")
			busy[a[2]] = 1 }
		while (c < n) {
			p = 20000 + int(rand() * 30000)
			h = sprintf("%04X", p)
			if (h in busy || p in got) continue
			got[p] = 1; print p; c++
		}
	}'
}

_rmq_random() { od -An -tx1 -N16 /dev/urandom | tr -d ' \n'; }

# Environment of the broker and of rabbitmqctl (run in a subshell only:
# it changes HOME).
_rmq_env() {
	export HOME="$RMQ_DIR/home"
	export RABBITMQ_NODENAME="$RMQ_NODE"
	export RABBITMQ_CONF_ENV_FILE="$RMQ_DIR/rabbitmq-env.conf"
	export RABBITMQ_CONFIG_FILE="$RMQ_DIR/rabbitmq.conf"
	export RABBITMQ_ADVANCED_CONFIG_FILE="$RMQ_DIR/advanced.config"
	export RABBITMQ_ENABLED_PLUGINS_FILE="$RMQ_DIR/enabled_plugins"
	export RABBITMQ_LOG_BASE="$RMQ_DIR/log"
	export RABBITMQ_MNESIA_BASE="$RMQ_DIR/mnesia"
	export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
	export RABBITMQ_NODE_PORT="$RMQ_PORT"
	export RABBITMQ_DIST_PORT="$RMQ_DIST_PORT"
	export ERL_EPMD_PORT="$RMQ_EPMD_PORT"
	export ERL_EPMD_ADDRESS=127.0.0.1
	export ERL_CRASH_DUMP="$RMQ_DIR/erl_crash.dump"
	# Distribution on loopback; the CLI takes any free port.
	export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-start_epmd false -kernel inet_dist_use_interface {127,0,0,1}"
	export RABBITMQ_CTL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
	export RABBITMQ_CTL_DIST_PORT_MIN=0 RABBITMQ_CTL_DIST_PORT_MAX=0
	unset RABBITMQ_ENV_LOADED RABBITMQ_PID_FILE RABBITMQ_MNESIA_DIR \
		RABBITMQ_LOGS RABBITMQ_USE_LONGNAME RABBITMQ_ALLOW_INPUT \
		NOTIFY_SOCKET 2>/dev/null || true
}

_rmq_export() {
	RMQ_URL="amqp://127.0.0.1:$RMQ_PORT/%2f"
	RMQ_URL_AUTH="amqp://$RMQ_USER:$RMQ_PASS@127.0.0.1:$RMQ_PORT/%2f"
	RMQ_VHOST=/
	RMQ_TLS_URL=
	[ -n "$RMQ_TLS_PORT" ] && RMQ_TLS_URL="amqps://127.0.0.1:$RMQ_TLS_PORT/%2f"
	export RMQ_DIR RMQ_NODE RMQ_PORT RMQ_DIST_PORT RMQ_EPMD_PORT \
		RMQ_USER RMQ_PASS RMQ_URL RMQ_URL_AUTH RMQ_VHOST \
		RMQ_TLS_PORT RMQ_TLS_URL RMQ_CACERT
}

# The state of the broker of DIR (variables absent from an older rmq.env
# must not leak from the broker that was current before).
_rmq_load() {
	RMQ_TLS_PORT= RMQ_CACERT=
	. "$1/rmq.env"
}

# rmq_use DIR: make the broker of DIR current.
rmq_use() {
	[ -f "$1/rmq.env" ] || { _rmq_log "no broker state in $1"; return 1; }
	_rmq_load "$1"
	RMQ_PID=$(cat "$1/rmq.pid" 2>/dev/null || true)
	_rmq_export
}

_rmq_lines() { [ -f "$1" ] && wc -l <"$1" || echo 0; }

# What this start attempt wrote to the broker's output and log: the first
# errors (the cause) and the last lines.
_rmq_log_tail() {
	set -- "$RMQ_DIR/server.out" "$_rmq_out0" \
		"$RMQ_DIR/log/$RMQ_NODE.log" "$_rmq_log0"
	while [ $# -ge 2 ]; do
		if [ -s "$1" ] && [ "$(_rmq_lines "$1")" -gt "$2" ]; then
			_rmq_log "--- $1: first errors ---"
			tail -n +$(($2 + 1)) "$1" | grep -i -m 15 -E 'error|fail' >&2
			_rmq_log "--- $1: last lines ---"
			tail -n +$(($2 + 1)) "$1" | tail -n 15 >&2
		fi
		shift 2
	done
}

# Write the configuration of a new broker in RMQ_DIR.
_rmq_configure() {
	_p=$(_rmq_ports 3) || return 1
	set -- $_p
	[ $# -eq 3 ] || return 1
	RMQ_PORT=$1 RMQ_DIST_PORT=$2 RMQ_EPMD_PORT=$3
	RMQ_NODE="aether-test-$$-$RMQ_PORT@localhost"
	RMQ_USER=aether
	RMQ_PASS=$(_rmq_random)
	mkdir -p "$RMQ_DIR/home" "$RMQ_DIR/log" "$RMQ_DIR/mnesia" || return 1
	(umask 077 && _rmq_random >"$RMQ_DIR/home/.erlang.cookie") || return 1
	chmod 0400 "$RMQ_DIR/home/.erlang.cookie"
	: >"$RMQ_DIR/rabbitmq-env.conf"
	echo '[].' >"$RMQ_DIR/enabled_plugins"
	echo '[].' >"$RMQ_DIR/advanced.config"
	(umask 077 && cat >"$RMQ_DIR/rabbitmq.conf" <<-EOF
	listeners.tcp.default = 127.0.0.1:$RMQ_PORT
	default_vhost = /
	default_user = $RMQ_USER
	default_pass = $RMQ_PASS
	default_permissions.configure = .*
	default_permissions.read = .*
	default_permissions.write = .*
	log.console = false
	log.file.level = info
	disk_free_limit.absolute = 1MB
	EOF
	) || return 1
	(umask 077 && cat >"$RMQ_DIR/rmq.env" <<-EOF
	RMQ_DIR='$RMQ_DIR'
	RMQ_NODE='$RMQ_NODE'
	RMQ_PORT=$RMQ_PORT
	RMQ_DIST_PORT=$RMQ_DIST_PORT
	RMQ_EPMD_PORT=$RMQ_EPMD_PORT
	RMQ_USER=$RMQ_USER
	RMQ_PASS=$RMQ_PASS
	EOF
	)
}

# rmq_make_ca DIR NAME: a self-signed CA, DIR/ca.pem and DIR/ca.key.
rmq_make_ca() {
	command -v openssl >/dev/null 2>&1 ||
		{ _rmq_log "openssl: not installed"; return 77; }
	mkdir -p "$1" || return 1
	(umask 077 && openssl req -x509 -newkey ec \
		-pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
		-subj "/CN=$2" -keyout "$1/ca.key" -out "$1/ca.pem" \
		-addext basicConstraints=critical,CA:TRUE \
		-addext keyUsage=critical,keyCertSign,cRLSign) \
		>"$1/openssl.log" 2>&1 ||
		{ cat "$1/openssl.log" >&2; _rmq_log "$1: cannot make a CA"; return 1; }
	chmod 0644 "$1/ca.pem"
}

# Add a TLS listener to the configuration in RMQ_DIR: a private CA, a
# server certificate for 127.0.0.1 and localhost, a free port.  The
# address is also a DNS name in the certificate: librabbitmq 0.11 checks
# the URL's host against the DNS names only, never against IP entries.
_rmq_configure_tls() {
	_t=$RMQ_DIR/tls
	rmq_make_ca "$_t" "aether test CA $RMQ_NODE" || return $?
	printf '%s\n' \
		'basicConstraints = critical,CA:FALSE' \
		'keyUsage = critical,digitalSignature,keyEncipherment' \
		'extendedKeyUsage = serverAuth' \
		'subjectAltName = IP:127.0.0.1,DNS:127.0.0.1,DNS:localhost' >"$_t/server.ext"
	(umask 077 && openssl req -new -newkey ec \
		-pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=localhost \
		-keyout "$_t/server.key" -out "$_t/server.csr" &&
		openssl x509 -req -in "$_t/server.csr" -CA "$_t/ca.pem" \
		-CAkey "$_t/ca.key" -CAcreateserial -days 3650 \
		-extfile "$_t/server.ext" -out "$_t/server.pem") \
		>"$_t/openssl.log" 2>&1 ||
		{ cat "$_t/openssl.log" >&2; _rmq_log "$_t: cannot make the server certificate"; return 1; }
	# A port none of the broker's others.
	for _p in $(_rmq_ports 4); do
		case " $RMQ_PORT $RMQ_DIST_PORT $RMQ_EPMD_PORT " in
		*" $_p "*) ;;
		*) RMQ_TLS_PORT=$_p; break ;;
		esac
	done
	[ -n "$RMQ_TLS_PORT" ] || return 1
	RMQ_CACERT=$_t/ca.pem
	cat >>"$RMQ_DIR/rabbitmq.conf" <<-EOF || return 1
	listeners.ssl.default = 127.0.0.1:$RMQ_TLS_PORT
	ssl_options.cacertfile = $_t/ca.pem
	ssl_options.certfile = $_t/server.pem
	ssl_options.keyfile = $_t/server.key
	ssl_options.verify = verify_none
	ssl_options.fail_if_no_peer_cert = false
	EOF
	cat >>"$RMQ_DIR/rmq.env" <<-EOF
	RMQ_TLS_PORT=$RMQ_TLS_PORT
	RMQ_CACERT='$RMQ_CACERT'
	EOF
}

# The broker accepts an AMQP login and a channel (an unroutable publish
# to amq.direct, which leaves nothing behind), over TLS too when it has a
# TLS listener (certificate checked against its CA).
_rmq_ready() {
	amqp-publish -u "$RMQ_URL_AUTH" -e amq.direct -r aether-probe \
		-b probe >/dev/null 2>&1 || return 1
	[ -n "$RMQ_TLS_PORT" ] || return 0
	amqp-publish -u "amqps://$RMQ_USER:$RMQ_PASS@127.0.0.1:$RMQ_TLS_PORT/%2f" \
		--cacert "$RMQ_CACERT" -e amq.direct -r aether-probe \
		-b probe >/dev/null 2>&1
}

# True when the start that just failed in RMQ_DIR lost one of its ports to
# another program (_rmq_ports chooses them free, but they can be taken
# before the broker binds them).
_rmq_collided() {
	grep -qiE 'eaddrinuse|epmd did not start' "$RMQ_DIR/server.out" \
		"$RMQ_DIR/log/"*.log 2>/dev/null
}

# A new broker (no DIR/rmq.env yet) whose ports were taken meanwhile starts
# again on other ports (3 attempts); any other failure, or a collision of
# a broker that had ports (a restart keeps them), is returned.
rmq_start() {
	[ $# -eq 1 ] || { _rmq_log "usage: rmq_start DIR"; return 2; }
	_rmq_new=1
	[ -f "$1/rmq.env" ] && _rmq_new=0
	_rmq_try=1
	while :; do
		_rmq_rc=0
		_rmq_start1 "$1" || _rmq_rc=$?
		[ $_rmq_rc -eq 1 ] && [ $_rmq_new = 1 ] && [ $_rmq_try -lt 3 ] &&
			_rmq_collided || return $_rmq_rc
		_rmq_log "a port of the new broker was taken meanwhile: again on other ports"
		rm -rf "$RMQ_DIR" || return 1
		_rmq_try=$((_rmq_try + 1))
	done
}

_rmq_start1() {
	for _c in "$RMQ_SBIN/rabbitmq-server" "$RMQ_SBIN/rabbitmqctl"; do
		[ -x "$_c" ] || { _rmq_log "$_c: not installed"; return 77; }
	done
	for _c in erl epmd amqp-publish; do
		command -v "$_c" >/dev/null 2>&1 ||
			{ _rmq_log "$_c: not installed"; return 77; }
	done
	case $1 in /*) RMQ_DIR=$1 ;; *) RMQ_DIR=$(pwd)/$1 ;; esac
	case $RMQ_DIR in *"'"*|*" "*)
		_rmq_log "$RMQ_DIR: quote or space in the broker directory"
		return 2 ;;
	esac
	mkdir -p "$RMQ_DIR" || { _rmq_log "$RMQ_DIR: cannot create"; return 1; }
	if [ -f "$RMQ_DIR/rmq.env" ]; then
		_rmq_load "$RMQ_DIR"
	else
		RMQ_TLS_PORT= RMQ_CACERT=
		_rmq_configure || { _rmq_log "$RMQ_DIR: cannot configure"; return 1; }
	fi
	if [ "${RMQ_TLS:-}" = 1 ] && [ -z "$RMQ_TLS_PORT" ]; then
		_rc=0
		_rmq_configure_tls || _rc=$?
		if [ $_rc -ne 0 ]; then
			_rmq_log "$RMQ_DIR: cannot configure TLS"
			# 77: openssl is not installed; anything else is an error.
			[ $_rc -eq 77 ] && return 77
			return 1
		fi
	fi
	_rmq_export
	_rmq_pick_wrap
	if [ -z "$_rmq_registered" ] && command -v at_exit >/dev/null 2>&1; then
		at_exit rmq_cleanup
		_rmq_registered=1
	fi
	case " $_rmq_dirs " in *" $RMQ_DIR "*) ;; *) _rmq_dirs="$_rmq_dirs $RMQ_DIR" ;; esac

	_rmq_out0=$(_rmq_lines "$RMQ_DIR/server.out")
	_rmq_log0=$(_rmq_lines "$RMQ_DIR/log/$RMQ_NODE.log")
	# Our own EPMD (on the private port) then the broker, in one PID
	# namespace when available: its end takes EPMD and all with it.
	(
		_rmq_env
		cd "$RMQ_DIR" || exit 1
		exec $_rmq_wrap sh -c '
			epmd -port "$ERL_EPMD_PORT" -address 127.0.0.1 &
			i=0
			until epmd -names >/dev/null 2>&1; do
				i=$((i + 1))
				[ $i -lt 100 ] || { echo "epmd did not start on port $ERL_EPMD_PORT"; exit 1; }
				sleep 0.1
			done
			exec "$1/rabbitmq-server"' rmq-node "$RMQ_SBIN"
	) </dev/null >>"$RMQ_DIR/server.out" 2>&1 &
	RMQ_PID=$!
	echo "$RMQ_PID" >"$RMQ_DIR/rmq.pid"
	if [ -z "${RMQ_DETACH:-}" ]; then
		: >"$RMQ_DIR/rmq.watch"
		_rmq_watch "$$" "$RMQ_PID" "$RMQ_DIR" </dev/null >/dev/null 2>&1 &
		echo $! >"$RMQ_DIR/rmq.watch"
	fi

	_i=0
	while :; do
		if _rmq_ready; then
			return 0
		fi
		if ! _rmq_alive "$RMQ_PID"; then
			_rmq_log "broker $RMQ_NODE exited during startup"
			break
		fi
		_i=$((_i + 1))
		if [ $_i -ge $((RMQ_START_TIMEOUT * 5)) ]; then
			_rmq_log "broker $RMQ_NODE not accepting AMQP on port $RMQ_PORT${RMQ_TLS_PORT:+ and AMQP over TLS on port $RMQ_TLS_PORT} after ${RMQ_START_TIMEOUT}s"
			break
		fi
		sleep 0.2
	done
	_rmq_log_tail
	rmq_stop
	return 1
}

rmq_ctl() {
	[ -n "$RMQ_DIR" ] || { _rmq_log "rmq_ctl: no broker"; return 1; }
	_rmq_pick_wrap
	(_rmq_env && cd "$RMQ_DIR" &&
		exec $_rmq_wrap "$RMQ_SBIN/rabbitmqctl" -n "$RMQ_NODE" "$@") </dev/null
}

# PIDs of the processes under $1 (not $1), from ps.
_rmq_tree() {
	ps -eo pid=,ppid= | awk -v root="$1" '
		{ parent[$1] = $2 }
		END {
			for (p in parent) {
				q = p
				for (n = 0; n < 64 && q != "" && q > 1; n++) {
					q = parent[q]
					if (q == root) { print p; break }
				}
			}
		}'
}

# The EPMD of the current broker, if still running.
_rmq_epmd_pids() {
	ps -eo pid=,stat=,args= | awk -v port="$RMQ_EPMD_PORT" '
		$2 !~ /^Z/ && $3 ~ /(^|\/)epmd$/ {
			for (i = 4; i < NF; i++)
				if ($i == "-port" && $(i + 1) == port) print $1
		}'
}

# Background guard of a broker: kill it if the shell that started it ($1)
# dies without rmq_stop (SIGKILL, ...); rmq_stop ends it by removing
# DIR/rmq.watch.
_rmq_watch() {
	trap '' INT HUP
	while [ -f "$3/rmq.watch" ] && kill -0 "$1" 2>/dev/null; do sleep 0.5; done
	[ -f "$3/rmq.watch" ] || exit 0
	_t=$(_rmq_tree "$2")
	kill -KILL "$2" $_t 2>/dev/null
	_rmq_load "$3"
	for _p in $(_rmq_epmd_pids); do kill -KILL "$_p" 2>/dev/null; done
	rm -f "$3/rmq.watch" "$3/rmq.pid"
}

rmq_stop() {
	[ -n "$RMQ_PID" ] || return 0
	_pid=$RMQ_PID
	_wpid=$(cat "$RMQ_DIR/rmq.watch" 2>/dev/null || true)
	rm -f "$RMQ_DIR/rmq.watch"
	if _rmq_alive "$_pid"; then
		_tree=$(_rmq_tree "$_pid")
		rmq_ctl stop >/dev/null 2>&1 &
		_ctl=$!
		_i=0
		while _rmq_alive "$_pid" && [ $_i -lt $((RMQ_STOP_TIMEOUT * 10)) ]; do
			sleep 0.1
			_i=$((_i + 1))
		done
		if _rmq_alive "$_pid"; then
			_rmq_log "broker $RMQ_NODE still running after ${RMQ_STOP_TIMEOUT}s: killing it"
			_tree="$_tree $(_rmq_tree "$_pid")"
			kill -KILL "$_pid" $_tree 2>/dev/null
		fi
		# The CLI returns once the node is down; do not let it linger.
		_i=0
		while _rmq_alive "$_ctl" && [ $_i -lt 50 ]; do sleep 0.1; _i=$((_i + 1)); done
		_rmq_alive "$_ctl" && kill -KILL "$_ctl" $(_rmq_tree "$_ctl") 2>/dev/null
		wait "$_ctl" 2>/dev/null
		# Without a PID namespace, what the node spawned may outlive it.
		for _p in $_tree; do
			_rmq_alive "$_p" && kill -KILL "$_p" 2>/dev/null
		done
	fi
	wait "$_pid" 2>/dev/null
	for _p in $(_rmq_epmd_pids); do kill -TERM "$_p" 2>/dev/null; done
	_i=0
	while [ -n "$(_rmq_epmd_pids)" ] && [ $_i -lt 50 ]; do sleep 0.1; _i=$((_i + 1)); done
	for _p in $(_rmq_epmd_pids); do kill -KILL "$_p" 2>/dev/null; done
	[ -n "$_wpid" ] && wait "$_wpid" 2>/dev/null
	RMQ_PID=
	rm -f "$RMQ_DIR/rmq.pid"
	return 0
}

rmq_restart() {
	[ -n "$RMQ_DIR" ] || { _rmq_log "rmq_restart: no broker"; return 1; }
	_rdir=$RMQ_DIR
	rmq_stop
	rmq_start "$_rdir"
}

rmq_cleanup() {
	for _d in $_rmq_dirs; do
		[ -f "$_d/rmq.pid" ] || continue
		rmq_use "$_d" && rmq_stop
	done
	return 0
}
