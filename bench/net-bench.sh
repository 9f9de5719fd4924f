#!/bin/sh
# bench/net-bench.sh - managed networks: the time `aether net start` takes
# to bring a network up (bridge, dnsmasq, nft rules; median of N, each
# followed by `aether net stop`), against bringing a bare bridge up with
# `ip` (link add, address, up) measured the same way; and the address pool
# (bench/net-bench.c): reserving and releasing addresses for 1000 VMs,
# 1000 reserve/release cycles on a /24 that holds 200 VMs, against the
# floor of one atomic file rewrite per change.  In private network, mount
# and pid namespaces.  By hand (root):
#   top_builddir=. AETHER=$PWD/aether sh bench/net-bench.sh [N] [VMS]
set -u
b=${top_builddir:-.}
prog="$b/bench/net-bench"
: "${AETHER:=$b/aether}"
: "${AETHER_PLUGIN_PATH:=$b/plugins/tap}"
export AETHER AETHER_PLUGIN_PATH
skip() { echo "net-bench: SKIP: $*" >&2; exit 77; }
[ -x "$prog" ] || { echo "net-bench: $prog not built" >&2; exit 1; }
[ -x "$AETHER" ] || { echo "net-bench: $AETHER not built" >&2; exit 1; }
[ "$(id -u)" = 0 ] || skip "needs root (a bridge and nft rules in a network namespace)"
command -v unshare >/dev/null 2>&1 || skip "unshare(1) not found"
command -v ip >/dev/null 2>&1 || skip "ip(8) not found (iproute2), needed for the baseline"
command -v dnsmasq >/dev/null 2>&1 || skip "dnsmasq not found (dnsmasq-base)"

if [ "${NB_INNER:-}" != 1 ]; then
	NB_INNER=1 exec unshare -n -m -p -f --mount-proc -- /bin/sh "$0" "$@"
fi
N=${1:-11}
VMS=${2:-1000}
. "${srcdir:-$(dirname "$0")/..}/bench/verdict.sh"
w=$(mktemp -d /tmp/net-bench.XXXXXX)
trap 'rm -rf "$w"' EXIT
ip link set lo up
AETHER_STORE_DIR=$w/store
export AETHER_STORE_DIR
cat >"$w/host.conf" <<EOC
[aether]
runtime_dir = $w/run
[net.bn]
subnet = 10.66.0.0/24
ipv6 = fd42:66:0:1::/64
nat = yes
EOC
a() { "$AETHER" --plugin-path "$AETHER_PLUGIN_PATH" -q -c "$w/host.conf" "$@"; }
ns() { date +%s%N; }
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR) printf "%.1f\n", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# --- network up -----------------------------------------------------------
: >"$w/up" ; : >"$w/base"
i=0
while [ $i -lt "$N" ]; do
	t0=$(ns)
	a net start bn >"$w/err" 2>&1 || { cat "$w/err"; echo "net-bench: aether net start failed"; exit 1; }
	t1=$(ns)
	echo "$(( (t1 - t0) / 1000 ))" >>"$w/up"
	a net stop bn >"$w/err" 2>&1 || { cat "$w/err"; echo "net-bench: aether net stop failed"; exit 1; }
	ip link show aenbn >/dev/null 2>&1 && { echo "net-bench: aenbn left after net stop"; exit 1; }
	t0=$(ns)
	ip link add brb type bridge && ip addr add 10.67.0.1/24 dev brb &&
		ip link set brb up || { echo "net-bench: ip could not bring up a bridge"; exit 1; }
	t1=$(ns)
	echo "$(( (t1 - t0) / 1000 ))" >>"$w/base"
	ip link del brb
	i=$((i + 1))
done
up=$(awk '{ print $1 / 1000 }' "$w/up" | median)
base=$(awk '{ print $1 / 1000 }' "$w/base" | median)
ratio=$(awk -v u="$up" -v b="$base" 'BEGIN { if (b > 0) printf "%.1f\n", u / b }')
echo "net-bench: network up, median of $N (ms): aether net start $up, bare bridge with ip $base, ratio $ratio"
verdict "network up (aether net start, median)" "$up" "<" 500 ms

# --- the address pool -------------------------------------------------------
mkdir -p "$w/pool"
r=$("$prog" "$w/pool" "$VMS")
rc=$?
if [ $rc = 77 ]; then
	echo "net-bench: the address pool part cannot run in this build"
	exit 77
fi
[ $rc = 0 ] || { echo "net-bench: bench/net-bench failed ($rc)"; exit 1; }
set -- $r
res=$1 rel=$2 cyc=$3 bl=$4 exhausted=$5 wrong=$6
both=$(awk -v a="$res" -v b="$rel" 'BEGIN { printf "%.1f\n", a + b }')
per=$(awk -v a="$both" -v n="$VMS" 'BEGIN { printf "%.1f\n", a * 1000 / (2 * n) }')
pr=$(awk -v a="$res" -v b="$bl" 'BEGIN { if (b > 0) printf "%.1f\n", a / b }')
echo "net-bench: address pool, $VMS VMs (ms): reserve $res, release $rel ($per us a change);"
echo "  $VMS reserve/release cycles on a /24 holding 200: $cyc ms, -ENOSPC $exhausted times;"
echo "  floor (one atomic rewrite of the same file per change): $bl ms; reserve/floor $pr"
# Against the floor measured here, so that a slow or busy machine does not
# decide: the pool's lock, read and parse on top of the rewrite.
fr=$(awk -v a="$both" -v b="$bl" 'BEGIN { if (b > 0) printf "%.1f\n", a / (2 * b) }')
echo "  (reserve + release) / (2 x floor): $fr"
verdict "reserve + release for $VMS VMs against the floor" "$fr" "<" 10 x
verdict "$VMS cycles on a /24 without exhaustion (-ENOSPC)" "$exhausted" "<=" 0
verdict "addresses not distinct or not the lowest free" "$wrong" "<=" 0
exit $bench_status
