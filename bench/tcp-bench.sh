#!/bin/sh
# TCP throughput (iperf3, Gbit/s) between a real kernel TCP stack and a
# server on the host's loopback, through every user-mode network path.
#
# The "guest" is a private network namespace whose TAP device is turned
# into QEMU's framing by bench/tcp-conv (the same converter for every
# path): stream (4-byte length + frame, as -netdev stream and passt use)
# or dgram (one frame per datagram, as -netdev dgram and aether's relay
# use).  iperf3 runs from the namespace to the host ("up") and back with
# -R ("down"), at MTU 1500 and 65520, through
#   qemu-slirp    QEMU's own slirp: qemu-system-x86_64 -M none (no guest),
#                 -netdev user joined by a hub (-netdev hubport) to a
#                 -netdev stream server the converter connects to.  QEMU's
#                 user netdev has no MTU option: its link stays at 1500
#                 bytes, whatever the guest's MTU (TCP's MSS follows);
#   aether-slirp  aether's relay + the slirp plugin in mode = libslirp,
#                 loaded through the core library (bench/tcp-backend
#                 aether slirp), the relay's hypervisor end on the converter;
#   libslirp      libslirp driven directly, no relay (tcp-backend direct);
#   passt         bare passt, its socket in a private directory;
#   aether-passt  aether's passt plugin through the core (tcp-backend
#                 aether passt), when it is built: "not built" otherwise,
#                 and its targets are then MISSED;
# and, for reference, the converter's own ceiling in each framing: two
# converters back to back on a socketpair between two namespaces
# (ceiling-stream, ceiling-dgram).
# Targets: aether-passt >= 0.95 x passt (mean of up and down, each MTU);
# aether's fastest rootless path >= 4 x aether-slirp at MTU 65520.
# The converter runs with --tso by default: the guest kernel hands it
# 64 KiB TCP segments that it cuts into MTU-sized frames, and it merges
# back-to-back segments towards the guest, so that the guest's per-packet
# cost does not cap the faster paths (every backend still sees MTU-sized
# frames); BENCH_CONV_ARGS= (empty) turns that off.
# BENCH_SECONDS (3) per iperf3 run, BENCH_REPS (5) paired trials (median);
# BENCH_TCP_PATHS picks paths; BENCH_PASST_OPTIONS replaces the passt
# plugin's options ("mtu = MTU").
# Needs root (network namespaces, TAP), iperf3, ip; exit 77 otherwise.
set -u
: "${top_builddir:=.}"
. "${top_srcdir:-.}/bench/verdict.sh"
B=$(cd "$top_builddir" && pwd)
CONV=$B/bench/tcp-conv
BACK=$B/bench/tcp-backend
SECS=${BENCH_SECONDS:-3}
REPS=${BENCH_REPS:-5}
CONV_ARGS=${BENCH_CONV_ARGS---tso}
AETHER_PLUGIN_PATH=${AETHER_PLUGIN_PATH:-$B/plugins/slirp}
case ":$AETHER_PLUGIN_PATH:" in
*":$B/plugins/passt:"*) ;;
*) AETHER_PLUGIN_PATH=$AETHER_PLUGIN_PATH:$B/plugins/passt ;;
esac
export AETHER_PLUGIN_PATH

skip() { echo "tcp-bench: $*: skipped"; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root (network namespaces and a TAP device)"
command -v iperf3 >/dev/null 2>&1 || skip "iperf3 is not installed (apt-get install iperf3)"
command -v ip >/dev/null 2>&1 || skip "ip (iproute2) is not installed"
[ -c /dev/net/tun ] || skip "/dev/net/tun is missing"
[ -x "$CONV" ] || skip "bench/tcp-conv is not built"

NS=aether-tcpb-$$
NS2=aether-tcpb2-$$
TAP=aeb0
DIR=$(mktemp -d "${TMPDIR:-/tmp}/aether-tcpbench.XXXXXX") || exit 1
chmod 711 "$DIR" # passt (as nobody) reaches its own directory below
pids= srv=
cleanup() {
	for p in $pids $srv; do kill "$p" 2>/dev/null; done
	for p in $pids $srv; do wait "$p" 2>/dev/null; done
	ip netns del "$NS" 2>/dev/null
	ip netns del "$NS2" 2>/dev/null
	rm -rf "$DIR"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP PIPE

ip netns add "$NS" && ip -n "$NS" link set lo up &&
	ip -n "$NS" tuntap add dev $TAP mode tap ||
	skip "cannot make a network namespace with a TAP device"

# The host's iperf3 server, on loopback only.
for try in 0 1 2 3 4; do
	PORT=$((20000 + ($$ + try * 997) % 20000))
	iperf3 -s -B 127.0.0.1 -p $PORT >"$DIR/iperf3-server.log" 2>&1 &
	srv=$!
	sleep 0.3
	kill -0 $srv 2>/dev/null && break
	wait $srv 2>/dev/null
	srv=
done
[ -n "$srv" ] || { cat "$DIR/iperf3-server.log"; echo "tcp-bench: iperf3 server did not start"; exit 1; }

# passt maps its gateway to the host's loopback and gives the guest the
# host's address: both come from the host's default route.
set -- $(ip -4 route show default 2>/dev/null | head -n 1)
PASST_GW= PASST_ADDR=
if [ "${1:-}" = default ] && [ "${2:-}" = via ]; then
	PASST_GW=$3
	dev=$(ip -4 route show default | sed -n 's/.* dev \([^ ]*\).*/\1/p' | head -n 1)
	PASST_ADDR=$(ip -4 -o addr show dev "$dev" | sed -n 's/.* inet \([0-9.]*\/[0-9]*\).*/\1/p' | head -n 1)
fi

# guest ADDR/PREFIX GATEWAY MTU: the namespace's link.
guest() {
	ip -n "$NS" link set $TAP down
	ip -n "$NS" addr flush dev $TAP
	ip -n "$NS" link set $TAP mtu "$3" up &&
		ip -n "$NS" addr add "$1" dev $TAP &&
		ip -n "$NS" route replace default via "$2" dev $TAP
}

# wait_sock PATH: up to 10 s for a listening unix socket.
wait_sock() {
	i=0
	while [ ! -S "$1" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	[ -S "$1" ]
}

# wait_ready FILE PID: the backend printed "ready" (or died).
wait_ready() {
	i=0
	while ! grep -q ready "$1" 2>/dev/null && kill -0 "$2" 2>/dev/null &&
		[ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	grep -q ready "$1" 2>/dev/null
}

stop_path() {
	for p in $pids; do kill "$p" 2>/dev/null; done
	for p in $pids; do wait "$p" 2>/dev/null; done
	pids=
}

# start_path PATH MTU: start the backend and its converter; sets GW (the
# address the guest reaches the host's loopback at) and returns 0, or
# prints why not and returns 1.
start_path() {
	log=$DIR/$1-$2.log
	: >"$log"
	case $1 in
	qemu-slirp)
		command -v qemu-system-x86_64 >/dev/null 2>&1 || { why="qemu-system-x86_64 is not installed"; return 1; }
		guest 10.0.2.15/24 10.0.2.2 "$2" || { why="guest link setup"; return 1; }
		GW=10.0.2.2
		rm -f "$DIR/qemu.sock"
		qemu-system-x86_64 -M none -nodefaults -display none \
			-monitor none -serial none \
			-netdev user,id=u,net=10.0.2.0/24 \
			-netdev stream,id=s,server=on,addr.type=unix,addr.path="$DIR/qemu.sock" \
			-netdev hubport,id=h0,hubid=0,netdev=u \
			-netdev hubport,id=h1,hubid=0,netdev=s >"$log" 2>&1 &
		pids=$!
		wait_sock "$DIR/qemu.sock" || { why="QEMU did not listen: $(tail -n 1 "$log")"; return 1; }
		ip netns exec "$NS" "$CONV" $CONV_ARGS --tap $TAP --stream \
			--connect "$DIR/qemu.sock" >>"$log" 2>&1 &
		pids="$pids $!"
		;;
	aether-slirp|libslirp)
		[ -x "$BACK" ] || { why="bench/tcp-backend is not built (libslirp missing?)"; return 1; }
		guest 10.0.2.15/24 10.0.2.2 "$2" || { why="guest link setup"; return 1; }
		GW=10.0.2.2
		if [ "$1" = libslirp ]; then
			"$BACK" direct "$2" "/run/netns/$NS" $TAP "$CONV" $CONV_ARGS >"$log" 2>&1 &
		else
			"$BACK" aether slirp "mode = libslirp
mtu = $2
" "/run/netns/$NS" $TAP "$CONV" $CONV_ARGS >"$log" 2>&1 &
		fi
		pids=$!
		wait_ready "$log" $pids || { why="$(grep -v '^ready' "$log" | tail -n 1)"; return 1; }
		;;
	passt)
		command -v passt >/dev/null 2>&1 || { why="passt is not installed"; return 1; }
		[ -n "$PASST_GW" ] && [ -n "$PASST_ADDR" ] || { why="no IPv4 default route for passt to use"; return 1; }
		guest "$PASST_ADDR" "$PASST_GW" "$2" || { why="guest link setup"; return 1; }
		GW=$PASST_GW
		# passt started as root runs as nobody, who binds the socket.
		mkdir -p "$DIR/passt" && chown nobody "$DIR/passt" && chmod 700 "$DIR/passt"
		rm -f "$DIR/passt/passt.sock"
		passt -f -q -4 -m "$2" -s "$DIR/passt/passt.sock" >"$log" 2>&1 &
		pids=$!
		wait_sock "$DIR/passt/passt.sock" || { why="passt did not listen: $(grep -v syslog "$log" | tail -n 1)"; return 1; }
		ip netns exec "$NS" "$CONV" $CONV_ARGS --tap $TAP --stream \
			--connect "$DIR/passt/passt.sock" >>"$log" 2>&1 &
		pids="$pids $!"
		;;
	aether-passt)
		[ -x "$BACK" ] || { why="bench/tcp-backend is not built"; return 1; }
		found=
		for f in "$B"/plugins/passt/.libs/passt.so "$B"/plugins/passt/passt.so; do
			[ -e "$f" ] && found=$f
		done
		# Or a passt plugin found through AETHER_PLUGIN_PATH.
		for d in $(echo "$AETHER_PLUGIN_PATH" | tr : ' '); do
			[ -e "$d/.libs/passt.so" ] || [ -e "$d/passt.so" ] && found=$d
		done
		[ -n "$found" ] || { why="not built (no plugins/passt)"; return 1; }
		[ -n "$PASST_GW" ] && [ -n "$PASST_ADDR" ] || { why="no IPv4 default route for passt to use"; return 1; }
		guest "$PASST_ADDR" "$PASST_GW" "$2" || { why="guest link setup"; return 1; }
		GW=$PASST_GW
		"$BACK" aether passt "${BENCH_PASST_OPTIONS:-mtu = $2}
" "/run/netns/$NS" $TAP "$CONV" $CONV_ARGS >"$log" 2>&1 &
		pids=$!
		wait_ready "$log" $pids || { why="$(grep -v '^ready' "$log" | tail -n 1)"; return 1; }
		;;
	ceiling-stream|ceiling-dgram)
		[ -x "$BACK" ] || { why="bench/tcp-backend is not built"; return 1; }
		ip netns del "$NS2" 2>/dev/null
		{ ip netns add "$NS2" && ip -n "$NS2" link set lo up &&
			ip -n "$NS2" tuntap add dev $TAP mode tap &&
			ip -n "$NS2" link set $TAP mtu "$2" up &&
			ip -n "$NS2" addr add 10.9.0.2/24 dev $TAP &&
			guest 10.9.0.1/24 10.9.0.2 "$2"; } || { why="second namespace setup"; return 1; }
		GW=10.9.0.2
		"$BACK" loop --${1#ceiling-} "/run/netns/$NS2" $TAP "/run/netns/$NS" $TAP "$CONV" $CONV_ARGS >"$log" 2>&1 &
		pids=$!
		ip netns exec "$NS2" iperf3 -s -B 10.9.0.2 -p $PORT >>"$log" 2>&1 &
		pids="$pids $!"
		wait_ready "$log" "${pids%% *}" || { why="$(grep -v '^ready' "$log" | tail -n 1)"; return 1; }
		;;
	esac
	sleep 0.3
	return 0
}

# measure [-R]: Gbit/s received in one iperf3 run from the namespace
# (empty when it gave no figure).
measure() {
	timeout $((SECS + 20)) ip netns exec "$NS" iperf3 -c "$GW" -p $PORT \
		-t "$SECS" -f g "$@" 2>&1 | tee -a "$log" |
		awk '/receiver/ { for (i = 1; i <= NF; i++) if ($i == "Gbits/sec") v = $(i - 1) }
		     END { if (v != "") print v }'
}

PATHS=${BENCH_TCP_PATHS:-qemu-slirp aether-slirp libslirp passt aether-passt ceiling-stream ceiling-dgram}
RPATHS=$(for p in $PATHS; do echo "$p"; done | sed -n '1!G;h;$p')
# t_PATH_MTU_DIR_TRIAL: Gbit/s of one trial, empty when not measured.
# Each trial starts every path afresh and runs them back to back, in the
# listed order in odd trials and reversed in even ones, so that a shared,
# noisy machine shifts the paths compared alike; ratios are the median of
# the trials' own ratios.
for m in 1500 65520; do
	t=1
	while [ $t -le "$REPS" ]; do
		if [ $((t % 2)) = 1 ]; then order=$PATHS; else order=$RPATHS; fi
		for p in $order; do
			why=
			v=$(echo "$p" | tr - _)
			if start_path "$p" $m; then
				eval "t_${v}_${m}_up_$t=\$(measure)"
				eval "t_${v}_${m}_down_$t=\$(measure -R)"
				eval "[ -n \"\${t_${v}_${m}_up_$t:-}\${t_${v}_${m}_down_$t:-}\" ]" ||
					why="no iperf3 result: $(grep -iE 'error|tcp-' "$log" | tail -n 1)"
			fi
			stop_path
			case $p in ceiling-*) ip netns del "$NS2" 2>/dev/null; esac
			[ -z "$why" ] || eval "why_${v}=\"\$why\""
		done
		t=$((t + 1))
	done
done

# trials PATH MTU DIR: that path's figures, one per trial (empty: none)
trials() {
	t=1
	while [ $t -le "$REPS" ]; do
		eval "echo \${t_$(echo "$1" | tr - _)_$2_$3_$t:-}"
		t=$((t + 1))
	done
}
median() { sort -n | awk 'NF { v[++n] = $1 } END { if (n) print v[int((n + 1) / 2)] }'; }
get() { trials "$1" "$2" "$3" | median; }
# pmean PATH MTU TRIAL: mean of up and down in that trial (empty if either is missing)
pmean() {
	v=$(echo "$1" | tr - _)
	eval "a=\${t_${v}_$2_up_$3:-} b=\${t_${v}_$2_down_$3:-}"
	awk -v a="$a" -v b="$b" 'BEGIN { if (a != "" && b != "") printf "%.3f\n", (a + b) / 2 }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a != "" && b != "" && b > 0) printf "%.2f", a / b }'; }
# pratios A B MTU: the per-trial ratios of A's mean against B's (A may be
# "best", aether's faster rootless path in that trial)
pratios() {
	t=1
	while [ $t -le "$REPS" ]; do
		if [ "$1" = best ]; then
			a=$(for p in aether-slirp aether-passt; do pmean $p "$3" $t; done | sort -n | tail -n 1)
		else
			a=$(pmean "$1" "$3" $t)
		fi
		ratio "$a" "$(pmean "$2" "$3" $t)"
		echo
		t=$((t + 1))
	done
}
pratio() { pratios "$@" | median; }

echo "TCP Gbit/s, iperf3 -t $SECS, median of $REPS paired trials, namespace -> host"
echo "loopback (up) and back (down); converter: tcp-conv ${CONV_ARGS:-(no offloads)}"
echo "ratio: median of the trials' ratios (mean of up and down) against"
echo "aether-slirp in the same trial and MTU;"
echo "ceiling-*: two converters back to back, two guest stacks (a lower bound)"
printf '%-14s %8s %8s %6s %8s %8s %6s\n' path 1500up 1500down ratio 65520up 65520down ratio
for p in $PATHS; do
	line=$(printf '%-14s' "$p")
	for m in 1500 65520; do
		line="$line$(printf ' %8s %8s %6s' "$(get "$p" $m up)" "$(get "$p" $m down)" \
			"$(pratio "$p" aether-slirp $m)")"
	done
	echo "$line"
	for m in 1500 65520; do
		for d in up down; do
			k=$(trials "$p" $m $d | grep -c .)
			[ "$k" = 0 ] || [ "$k" = "$REPS" ] ||
				echo "  $p: $k of $REPS trials gave a figure at MTU $m $d"
		done
	done
	w=$(eval "echo \${why_$(echo "$p" | tr - _):-}")
	[ -z "$w" ] || echo "  $p: $w"
done
echo "  (qemu-slirp's link is 1500 bytes at both MTUs: -netdev user has no MTU option)"

for m in 1500 65520; do
	echo "  aether-passt/passt per trial, MTU $m: $(pratios aether-passt passt $m | tr '\n' ' ')"
	verdict "aether-passt against bare passt, MTU $m (mean of up and down)" \
		"$(pratio aether-passt passt $m)" ">=" 0.95 x
done
echo "  fastest/aether-slirp per trial, MTU 65520: $(pratios best aether-slirp 65520 | tr '\n' ' ')"
verdict "aether's fastest rootless path against aether-slirp, MTU 65520" \
	"$(pratio best aether-slirp 65520)" ">=" 4 x
exit $bench_status
