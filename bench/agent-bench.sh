#!/bin/sh
# bench/agent-bench.sh - the host agent through a broker: round trips per
# second and p50/p99 latency of status-vm and list-vms against one and two
# agents (`aether serve`), and creates per second with start = false and
# with stub VMs that start at once (QEMU with no kernel, vCPUs paused by
# -S).  The baseline is a plain echo through the same broker
# (bench/agent-bench.c): the same persistent, confirmed request and reply
# and a responder that does no work.  "x echo" is a request's p50 latency
# over the echo's (one at a time; "K x echo": with K outstanding), "2/1"
# the throughput with K outstanding of two agents over one.
# A private broker (tests/rabbitmq-lib.sh) in a private network namespace,
# and agents, each with its own host config, store, runtime and image
# dirs, in private pid and mount namespaces within; everything is stopped
# and deleted at the end.  By hand (root):
#   top_builddir=. top_srcdir=. AETHER=$PWD/aether \
#     AETHER_PLUGIN_PATH=$PWD/plugins/slirp sh bench/agent-bench.sh [N [K [C]]]
# N round trips per figure (default 200), K outstanding in the concurrent
# runs (default 8), C creates per figure (default 20).  A request over 1 s
# is told on stderr (request id and time).
set -u
b=${top_builddir:-.}
src=${top_srcdir:-$(dirname "$0")/..}
prog="$b/bench/agent-bench"
: "${AETHER:=$b/aether}"
: "${AETHER_PLUGIN_PATH:=$b/plugins/slirp}"
: "${RMQ_SBIN:=/usr/lib/rabbitmq/bin}"
export AETHER AETHER_PLUGIN_PATH RMQ_SBIN
case $AETHER in /*) ;; *) AETHER=$(pwd)/$AETHER ;; esac
case $prog in /*) ;; *) prog=$(pwd)/$prog ;; esac
skip() { echo "agent-bench: SKIP: $*" >&2; exit 77; }
die() { echo "agent-bench: $*" >&2; exit 1; }
[ -x "$prog" ] ||
	skip "$prog not built (the host agent needs librabbitmq-dev and libjansson-dev)"
[ "$(id -u)" = 0 ] || skip "needs root (private namespaces, the broker's files)"
[ -x "$RMQ_SBIN/rabbitmq-server" ] ||
	skip "rabbitmq-server is not installed ($RMQ_SBIN/rabbitmq-server)"
for c in unshare ip qemu-system-x86_64 qemu-img; do
	command -v $c >/dev/null 2>&1 || skip "$c not found"
done
"$AETHER" remote --help >/dev/null 2>&1 ||
	skip "$AETHER was built without the host agent"

# Three stages: this one checks and enters a private network namespace;
# there the broker runs, and the agents and their VMs run in private pid
# and mount namespaces within, so that nothing they spawn outlives the run
# (not even a zombie: our pid 1 does not reap orphans).  The broker stays
# out of those: tests/rabbitmq-lib.sh gives it a pid namespace of its own
# without its own /proc, and under a /proc that lacks its pid its memory
# monitor fails and it does not start.
case ${AB_INNER:-} in
"")
	unshare -n true 2>/dev/null ||
		skip "cannot create a network namespace (unshare -n)"
	unshare -p -f -m --mount-proc true 2>/dev/null ||
		skip "cannot create pid/mount namespaces (unshare -p -m)"
	AB_INNER=1 exec unshare -n -- /bin/sh "$0" "$@"
	die "cannot exec unshare" ;;
1)
	. "$src/tests/rabbitmq-lib.sh"
	w=$(mktemp -d /tmp/agent-bench.XXXXXX) || die "mktemp"
	trap 'rmq_cleanup; rm -rf "$w"' EXIT
	trap 'exit 130' INT TERM
	ip link set lo up || die "ip link set lo up"
	rmq_start "$w/rmq" ||
		skip "cannot start a private RabbitMQ broker (see above)"
	(umask 077 && printf 'username = %s\npassword = %s\n' "$RMQ_USER" \
		"$RMQ_PASS" >"$w/cred") || die "cannot write $w/cred"
	AB_INNER=2 AB_WORK=$w unshare -p -f -m --mount-proc -- /bin/sh "$0" "$@"
	exit $? ;;
esac

# Stage 2: the agents, their VMs and the measures.
N=${1:-200}
K=${2:-8}
C=${3:-20}
w=$AB_WORK
hosts=
# Agents first (they finish their requests), then the VMs of every store
# (stopped and deleted).
cleanup() {
	for h in $hosts; do
		p=$(cat "$w/$h/agent.pid" 2>/dev/null) || continue
		kill -TERM "$p" 2>/dev/null
	done
	for h in $hosts; do
		p=$(cat "$w/$h/agent.pid" 2>/dev/null) || continue
		i=0
		while kill -0 "$p" 2>/dev/null && [ "$(ps -o stat= -p "$p")" != Z ] &&
			[ $i -lt 300 ]; do
			sleep 0.1
			i=$((i + 1))
		done
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	for h in $hosts; do delete_all "$h"; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Host H's local CLI, and the deletion of the VMs PREFIX* (default: all)
# of its store.
on() {
	h=$1
	shift
	AETHER_STORE_DIR=$w/$h/store "$AETHER" -q -c "$w/$h/host.conf" "$@"
}
delete_all() {
	pids=
	for v in "$w/$1/store/vms/${2:-}"*; do
		[ -d "$v" ] || continue
		on "$1" delete --force "${v##*/}" >/dev/null 2>&1 &
		pids="$pids $!"
	done
	for p in $pids; do wait "$p"; done
	for v in "$w/$1/store/vms/${2:-}"*; do
		[ -d "$v" ] && echo "agent-bench: host $1: not deleted: ${v##*/}" >&2
	done
	return 0
}

cat >"$w/client.conf" <<EOC
[amqp]
url = $RMQ_URL
credentials = $w/cred
EOC
# The stub: the real QEMU with no kernel and its vCPUs never started, so
# the running VMs cost no CPU; it answers QMP like any VM.
cat >"$w/qemu-stub" <<'EOS'
#!/bin/sh
exec qemu-system-x86_64 -S "$@"
EOS
chmod 755 "$w/qemu-stub"
qemu-img create -q -f qcow2 "$w/base.qcow2" 16M || die "qemu-img create"

# host_setup H: files of host H; serve H: start its agent, wait for it.
host_setup() {
	d=$w/$1
	mkdir -p "$d/images" || die "mkdir $d"
	cp "$w/base.qcow2" "$d/images/base.qcow2"
	(umask 077 && cp "$w/cred" "$d/cred")
	cat >"$d/host.conf" <<EOC
[aether]
runtime_dir = $d/run
plugin_dir = $AETHER_PLUGIN_PATH
[vm]
accel = tcg
memory = 32
qemu = $w/qemu-stub
stop_timeout = 3
[network]
backend = slirp
[network.slirp]
mode = qemu
[amqp]
url = $RMQ_URL
credentials = $d/cred
[agent]
host = bench-$1
image_dir = $d/images
EOC
}
serve() {
	host_setup "$1"
	d=$w/$1
	AETHER_STORE_DIR=$d/store "$AETHER" -c "$d/host.conf" serve \
		>"$d/agent.log" 2>&1 &
	echo $! >"$d/agent.pid"
	hosts="$hosts $1"
	i=0
	until grep -q 'serving amqp' "$d/agent.log"; do
		i=$((i + 1))
		kill -0 "$(cat "$d/agent.pid")" 2>/dev/null ||
			{ cat "$d/agent.log" >&2; die "agent $1 exited"; }
		[ $i -lt 300 ] || { cat "$d/agent.log" >&2; die "agent $1 did not start"; }
		sleep 0.1
	done
}
# The VM status-vm asks about: on host H, started (stub), through the agent.
status_vm() {
	"$AETHER" -q -c "$w/client.conf" remote --host "bench-$1" \
		create "st-$1" --image base.qcow2 >/dev/null ||
		{ cat "$w/$1/agent.log" >&2; die "remote create st-$1 failed"; }
}

# expect STATE COUNT PREFIX: COUNT VMs named PREFIX-* over all stores,
# each in STATE (as `aether list` says): the creates really happened.
expect() {
	n=0
	for h in $hosts; do
		k=$(on "$h" list --json | grep -o "\"name\":\"$3-[0-9]*\",\"state\":\"$1\"" |
			wc -l)
		n=$((n + k))
	done
	[ "$n" = "$2" ] || {
		for h in $hosts; do on "$h" list >&2; done
		die "$n VMs $3-* $1, expected $2"
	}
}

res=$w/results
: >"$res"
# measure LABEL AGENTS ARGS...: one line of results.
measure() {
	label=$1 agents=$2
	shift 2
	r=$("$prog" -v -c "$w/client.conf" "$@" 2>"$w/stderr") || {
		cat "$w/stderr" >&2
		for h in $hosts; do tail -n 20 "$w/$h/agent.log" >&2; done
		die "$label with $agents agent(s) failed"
	}
	sed "s/^/$label, $agents agent(s): /" "$w/stderr" >&2
	echo "$label $agents $r" >>"$res"
}

measure echo 0 -n "$N" -k "$K" echo
serve a
status_vm a
measure status-vm 1 -n "$N" -k "$K" status st-a
measure list-vms 1 -n "$N" -k "$K" list
measure create-nostart 1 -n "$C" -k "$K" -w 1 create c1n base.qcow2 nostart
expect created $((2 * C + 1)) c1n
delete_all a c1n-
measure create-start 1 -n "$C" -k "$K" -w 1 create c1s base.qcow2
expect running $((2 * C + 1)) c1s
delete_all a c1s-
serve b
status_vm b
measure status-vm 2 -n "$N" -k "$K" status st-a st-b
measure list-vms 2 -n "$N" -k "$K" list
measure create-nostart 2 -n "$C" -k "$K" -w 1 create c2n base.qcow2 nostart
expect created $((2 * C + 1)) c2n
delete_all a c2n-
delete_all b c2n-
measure create-start 2 -n "$C" -k "$K" -w 1 create c2s base.qcow2
expect running $((2 * C + 1)) c2s

echo "agent-bench: $N round trips (creates: $C) one at a time, then with $K outstanding;"
echo "  ms p50/p99 and requests/s; x echo = p50 over the broker echo's, 2/1 = req/s"
echo "  with 2 agents over 1 (concurrent).  Stub VMs: QEMU -S, no kernel, slirp (qemu)."
awk '
	{ key[NR] = $1; ag[NR] = $2; s50[NR] = $5; s99[NR] = $6; srps[NR] = $7
	  c50[NR] = $8; c99[NR] = $9; crps[NR] = $10
	  if ($1 == "echo") { e50 = $5; ec50 = $8 }
	  if ($2 == 1) one[$1] = $10 }
	END {
		printf "%-15s %6s | %8s %8s %8s | %8s %8s %8s | %7s %7s %6s\n",
			"request", "agents", "p50", "p99", "req/s", "K-p50",
			"K-p99", "K-req/s", "x echo", "K x ech", "2/1"
		for (i = 1; i <= NR; i++) {
			ratio = "-"
			if (ag[i] == 2 && one[key[i]] > 0)
				ratio = sprintf("%.2f", crps[i] / one[key[i]])
			printf "%-15s %6s | %8.2f %8.2f %8.1f | %8.2f %8.2f %8.1f | %7.1f %7.1f %6s\n",
				key[i], ag[i] ? ag[i] : "-", s50[i], s99[i], srps[i],
				c50[i], c99[i], crps[i], e50 > 0 ? s50[i] / e50 : 0,
				ec50 > 0 ? c50[i] / ec50 : 0, ratio
		}
		if (!(e50 > 0 && ec50 > 0))
			print "agent-bench: the broker echo baseline was not measured: no ratios"
	}' "$res"
grep -q '^echo ' "$res" || { echo "agent-bench: no echo baseline in $res" >&2; exit 1; }
exit 0
