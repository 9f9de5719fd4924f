#!/bin/sh
# bench/switch-bench.sh - the cost of switchable = yes and the time of a
# live backend switch (issue: switch a running VM's backend).
#   1. frames/s of 64 and 1400 bytes through a TAP fd used directly (as
#      QEMU uses -netdev tap,fd=N) against the same TAP carried by the
#      relay's TAP port (a switchable VM), both directions, one run, in a
#      private network namespace; target: relay >= 0.85 x direct.
#   2. with the test guest (tests/guest) under `aether run`, switchable,
#      20 switches tap <-> slirp through the control socket: the time from
#      request to reply, median and max; target: median < 600 ms (the
#      guest's link is held down 500 ms of it: SWITCH_LINK_DOWN_MS in
#      core/supervisor.c, so that its driver sees the change at all).
# Run by `make bench` (environment from AM_TESTS_ENVIRONMENT); by hand:
#   top_builddir=. top_srcdir=.. AETHER_GUEST_DIR=... sh bench/switch-bench.sh
set -u
b=${top_builddir:-.}
s=${top_srcdir:-.}
. "$s/bench/verdict.sh"
prog="$b/bench/switch-bench"
[ -x "$prog" ] || { echo "switch-bench: $prog not built (make check builds it)" >&2; exit 1; }
if [ "$(id -u)" != 0 ] || ! command -v unshare >/dev/null 2>&1; then
	echo "switch-bench: SKIP: needs root and unshare(1) for a private network namespace" >&2
	exit 77
fi
: "${AETHER_PLUGIN_PATH:=$b/plugins/slirp:$b/plugins/tap}"
export AETHER_PLUGIN_PATH
SECS=${SWITCH_BENCH_SECONDS:-1}

echo "switch-bench: frames/s, TAP fd direct vs the relay's TAP port ($SECS s a run, median of 3)"
out=$(unshare -n -- "$prog" frames "$SECS") || { echo "$out"; echo "switch-bench: the frames measurement failed" >&2; exit 1; }
echo "$out" | sed 's/^/  /'
echo "$out" | while read -r _ dir size rest; do
	ratio=${rest##*ratio=}
	verdict "relay/direct $dir $size B" "$ratio" ">=" 0.85 "x"
done | tee "${TMPDIR:-/tmp}/switch-bench.$$"
grep -q MISSED "${TMPDIR:-/tmp}/switch-bench.$$" && bench_status=1
rm -f "${TMPDIR:-/tmp}/switch-bench.$$"

# 2. switch time with a real guest (skipped without QEMU or the guest)
g=${AETHER_GUEST_DIR:-$b/tests/guest/out}
kernel=$g/vmlinux
[ -f "$kernel" ] || kernel=$g/vmlinuz
if ! command -v qemu-system-x86_64 >/dev/null 2>&1 || [ ! -s "$g/initrd.img" ] || [ ! -s "$kernel" ]; then
	echo "switch-bench: no QEMU or no test guest in $g: switch time not measured"
	verdict "switch median" "" "<" 600 ms
	exit $bench_status
fi
w=$(mktemp -d "${TMPDIR:-/tmp}/switch-bench.XXXXXX")
chmod 755 "$w"
trap 'rm -rf "$w"' EXIT
cat >"$w/host.conf" <<EOT
[network.tap]
bridge = swbr0
EOT
cat >"$w/vm.conf" <<EOT
[vm]
name = swbench
memory = 256
accel = tcg
reboot = no
switchable = yes
kernel = $kernel
initrd = $g/initrd.img
append = console=ttyS0 quiet panic=-1 aether.ip=10.0.2.15/24,10.0.2.2 aether.listen=7000 aether.hold=forever
console = file:$w/console.log
[network]
backend = slirp
[network.slirp]
mode = libslirp
EOT
N=${SWITCH_BENCH_SWITCHES:-20}
unshare -n -- sh -c '
	w=$1 b=$2 prog=$3 n=$4
	ip link set lo up
	ip link add swbr0 type bridge && ip link set swbr0 up
	AETHER_RUNTIME_DIR=$w/run "$b/aether" --plugin-path "$AETHER_PLUGIN_PATH" \
		-c "$w/host.conf" run "$w/vm.conf" 2>"$w/aether.err" &
	pid=$!
	i=0
	while [ $i -lt 180 ] && ! grep -q "AETHER-GUEST: listening" "$w/console.log" 2>/dev/null; do
		sleep 1; i=$((i + 1))
	done
	"$prog" switch "$w/run/vms/swbench/control.sock" "$n" tap slirp
	rc=$?
	kill -TERM $pid; wait $pid
	exit $rc' sh "$w" "$b" "$prog" "$N" >"$w/switch.out" 2>&1
sed 's/^/  /' "$w/switch.out"
med=$(sed -n 's/^switch median=\([0-9.]*\) .*/\1/p' "$w/switch.out")
max=$(sed -n 's/^switch median=[0-9.]* max=\([0-9.]*\)/\1/p' "$w/switch.out")
echo "switch-bench: $N switches tap <-> slirp, request to reply: median $med ms, max $max ms"
grep "network switched" "$w/aether.err" | sed 's/^/  /' | tail -4
verdict "switch median" "$med" "<" 600 ms
exit $bench_status
