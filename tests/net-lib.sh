# tests/net-lib.sh - shared setup of the managed-network tests and benchmark
# (sourced after tests/lib.sh).  Everything happens in the private network
# namespace the test runs in (reexec_in_namespaces) and in an "upstream"
# namespace it makes itself: never in the host's.
#
#   upstream ns (a holder process, no file under /run/netns)
#     upl1 172.31.99.2/24, a TCP server (tests/net-upstream) on
#     172.31.99.2:$NET_UP_PORT that answers "upstream-saw PEER" and logs
#     "PEER LINE" to $WORK/upstream.log
#   test ns
#     upl0 172.31.99.1/24, default route via 172.31.99.2
# The upstream has no route back to any managed subnet: a guest reaches it
# only through the NAT, and the upstream sees 172.31.99.1.

NET_UPLINK=upl0
NET_UPLINK_ADDR=172.31.99.1
NET_UP_ADDR=172.31.99.2
NET_UP_PORT=7777
NET_UP_PID=

# Run a command in the upstream namespace.
in_upstream() { nsenter -t "$NET_UP_PID" -n -- "$@"; }

net_upstream_setup() {
	ip link set lo up
	unshare -n -- sleep 100000 &
	NET_UP_PID=$!
	at_exit "kill $NET_UP_PID 2>/dev/null"
	# Wait until unshare has made its namespace.
	_i=0
	while [ "$(readlink "/proc/$NET_UP_PID/ns/net" 2>/dev/null)" = "$(readlink /proc/self/ns/net)" ]; do
		_i=$((_i + 1))
		[ $_i -lt 100 ] || fail "the upstream namespace holder did not start"
		sleep 0.05
	done
	ip link add "$NET_UPLINK" type veth peer name upl1 ||
		fail "cannot create the veth pair $NET_UPLINK/upl1"
	ip link set upl1 netns "$NET_UP_PID" || fail "cannot move upl1 to the upstream namespace"
	ip addr add "$NET_UPLINK_ADDR/24" dev "$NET_UPLINK"
	ip link set "$NET_UPLINK" up
	in_upstream ip link set lo up
	in_upstream ip addr add "$NET_UP_ADDR/24" dev upl1
	in_upstream ip link set upl1 up
	ip route add default via "$NET_UP_ADDR" dev "$NET_UPLINK" ||
		fail "cannot route the default route via the upstream"
	# The server (tests/net-upstream), in the upstream namespace.
	: >"$WORK/upstream.log"
	rm -f "$WORK/upstream.ready"
	in_upstream "$top_builddir/tests/net-upstream" -a "$NET_UP_ADDR" -P "$NET_UP_PORT" \
		-l "$WORK/upstream.log" -r "$WORK/upstream.ready" 2>"$WORK/upstream.err" &
	_sp=$!
	at_exit "kill $_sp 2>/dev/null"
	wait_for_or_exit "$WORK/upstream.ready" ready 10 "$_sp" ||
		fail "the upstream server did not start: $(cat "$WORK/upstream.err")"
	# The route works from here, without NAT: the upstream answers this
	# namespace's own address.
	_r=$(echo probe | timeout 10 busybox nc -w 5 "$NET_UP_ADDR" "$NET_UP_PORT" 2>&1)
	[ "$_r" = "upstream-saw $NET_UPLINK_ADDR" ] ||
		fail "the upstream server answered '$_r' to this namespace (want 'upstream-saw $NET_UPLINK_ADDR')"
	: >"$WORK/upstream.log"
}

# Build tests/net-nftcheck.c (libnftables + jansson) into $WORK; sets
# NFTCHECK.  The reading goes through libnftables' JSON output, never the
# text of `nft list`.
net_nftcheck_build() {
	NFTCHECK=$WORK/net-nftcheck
	# shellcheck disable=SC2046
	${CC:-cc} -O2 -Wall -o "$NFTCHECK" "$top_srcdir/tests/net-nftcheck.c" \
		$(pkg-config --cflags --libs libnftables jansson) >"$WORK/nftcheck.log" 2>&1 ||
		fail "cannot build tests/net-nftcheck.c (libnftables-dev, libjansson-dev): $(cat "$WORK/nftcheck.log")"
}

# What aether's table holds now (see tests/net-nftcheck.c), into FILE.
net_nft_dump() {
	"$NFTCHECK" >"$1" 2>&1 || { cat "$1" >&2; fail "net-nftcheck failed"; }
}

# Rules or chains of aether's table that name network NAME, its bridge or
# its subnet (printed; empty when there are none).
net_nft_traces() {
	_f=$WORK/nft.now
	net_nft_dump "$_f"
	grep -E "^(chain [a-z]+_$1 |rule [a-z]+_$1 |rule .*[ =]$2( |$)|rule .*[=!]=$3( |$))" "$_f"
}
