#!/bin/sh
# bench/start-bench.sh - `aether start` to "QEMU running with the network
# attached" minus what QEMU alone takes to reach the same point with the
# same argv (bench/start-bench.c), with 0, 1, 10, 25 and 50 other VMs
# already running (their vCPUs paused).  Tap backend, kernel-less stub VMs, in private network,
# mount and pid namespaces.  Target: overhead < 5 ms, flat in the number of
# running VMs; the "own" column (aether's time measured apart from QEMU's,
# see bench/start-bench.c) is the robust one.  By hand (root):
#   top_builddir=. AETHER=$PWD/aether AETHER_PLUGIN_PATH=$PWD/plugins/tap \
#     sh bench/start-bench.sh [TRIALS] [COUNTS...]
set -u
b=${top_builddir:-.}
prog="$b/bench/start-bench"
: "${AETHER:=$b/aether}"
: "${AETHER_PLUGIN_PATH:=$b/plugins/tap}"
export AETHER AETHER_PLUGIN_PATH
skip() { echo "start-bench: SKIP: $*" >&2; exit 77; }
[ -x "$prog" ] || { echo "start-bench: $prog not built" >&2; exit 1; }
[ "$(id -u)" = 0 ] || skip "needs root (TAP devices in a network namespace)"
command -v unshare >/dev/null 2>&1 || skip "unshare(1) not found"
command -v qemu-system-x86_64 >/dev/null 2>&1 || skip "qemu-system-x86_64 not found"
command -v qemu-img >/dev/null 2>&1 || skip "qemu-img not found"

if [ "${SB_INNER:-}" != 1 ]; then
	SB_INNER=1 exec unshare -n -m -p -f --mount-proc -- /bin/sh "$0" "$@"
fi
TRIALS=${1:-15}
[ $# -gt 0 ] && shift
COUNTS=${*:-0 1 10 25 50}
w=$(mktemp -d /tmp/start-bench.XXXXXX)
trap 'rm -rf "$w"' EXIT
ip link set lo up
ip link add br-sb type bridge && ip link set br-sb up
AETHER_STORE_DIR=$w/store
export AETHER_STORE_DIR
cat >"$w/host.conf" <<EOC
[aether]
runtime_dir = $w/run
plugin_dir = $AETHER_PLUGIN_PATH
[vm]
accel = tcg
memory = 32
[network]
backend = tap
[network.tap]
bridge = br-sb
prefix = sb
EOC
qemu-img create -q -f qcow2 "$w/base.qcow2" 16M
a() { "$AETHER" -q -c "$w/host.conf" "$@"; }
a create bench --image "$w/base.qcow2" >/dev/null || exit 1
max=0
for n in $COUNTS; do [ "$n" -gt "$max" ] && max=$n; done
i=1
while [ $i -le "$max" ]; do
	a create "bg$i" --image "$w/base.qcow2" >/dev/null || exit 1
	i=$((i + 1))
done
echo "start-bench: $TRIALS trials each; times in ms (medians; own-min: minimum)"
echo "  overhead = aether-start - qemu-alone (noisy: QEMU's own start varies);"
echo "  own = aether's own time, measured without QEMU's: fork of aether start"
echo "  -> QEMU spawned, + QEMU answered on QMP -> aether start returned;"
echo "  qemu-in-aether = QEMU's spawn -> QMP answer inside the aether trials"
printf '%-8s %10s %12s %9s %7s %8s %14s\n' running qemu-alone aether-start overhead own own-min qemu-in-aether
running=0
rc=0
for n in $COUNTS; do
	while [ $running -lt "$n" ]; do
		running=$((running + 1))
		a start "bg$running" >/dev/null || exit 1
	done
	# The stubs' firmware spins (TCG): pause their vCPUs so the running
	# VMs (supervisor, QEMU, TAP each) do not eat the CPUs of the trials.
	[ "$n" -gt 0 ] && "$prog" --pause "$w"/run/vms/bg*/qmp.sock
	r=$("$prog" "$AETHER" "$w/host.conf" bench "$TRIALS") || { rc=1; break; }
	set -- $r
	printf '%-8s %10s %12s %9s %7s %8s %14s\n' "$n" "$1" "$2" "$3" "$4" "$5" "$6"
done
i=1
while [ $i -le $running ]; do
	a stop "bg$i" --force >/dev/null &
	i=$((i + 1))
done
wait
exit $rc
