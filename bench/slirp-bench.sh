#!/bin/sh
# UDP frames/s from the VM side to a host loopback sink (64- and 1400-byte
# payloads) through
#   (a) aether's relay + the slirp plugin in mode = libslirp,
#   (b) libslirp driven directly in one process without the relay: the
#       same VM thread and socketpair, a plain recv + slirp_input loop
#       ("direct"; the relay's overhead is relay against this), and, for
#       reference, libslirp fed from memory with no socket ("inproc"),
#   (c) passt, fed the way QEMU's stream netdev feeds it (-F socketpair),
# the median of $BENCH_REPS (3) runs of $BENCH_SECONDS (2) each.  Prints
# frames/s, the relay's overhead against (b) (target: at most 15 %) and
# aether against passt.
set -u
: "${top_builddir:=.}"
. "${top_srcdir:-.}/bench/verdict.sh"
B=$top_builddir/bench/slirp-bench
: "${AETHER_PLUGIN_PATH:=$top_builddir/plugins/slirp}"
export AETHER_PLUGIN_PATH
REPS=${BENCH_REPS:-3}
SECS=${BENCH_SECONDS:-2}
[ -x "$B" ] || { echo "slirp-bench: not built (libslirp missing?): skipped"; exit 77; }

passt_ok=yes
if ! command -v passt >/dev/null 2>&1; then
	passt_ok="no (passt is not installed: apt-get install passt)"
else
	# passt takes the guest's address and gateway from the default route
	# and maps the gateway to the host's loopback.
	set -- $(ip -4 route show default 2>/dev/null | head -n 1)
	if [ "${1:-}" = default ] && [ "${2:-}" = via ]; then
		BENCH_PASST_GW=$3
		dev=$(ip -4 route show default | sed -n 's/.* dev \([^ ]*\).*/\1/p' | head -n 1)
		BENCH_PASST_ADDR=$(ip -4 -o addr show dev "$dev" | sed -n 's/.* inet \([0-9.]*\)\/.*/\1/p' | head -n 1)
		export BENCH_PASST_GW BENCH_PASST_ADDR
	else
		passt_ok="no (no IPv4 default route for passt to use)"
	fi
fi

median() { sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
run() { # MODE PAYLOAD -> median frames/s received by the sink
	i=0
	while [ $i -lt "$REPS" ]; do
		"$B" "$1" "$2" "$SECS" 2>/dev/null | awk '{print $3}'
		i=$((i + 1))
	done | median
}

printf '%-8s %10s %10s %10s %10s %10s %10s %11s\n' payload relay direct inproc \
	passt relay/dir relay/inp relay/passt
for size in 64 1400; do
	a=$(run relay $size)
	b=$(run direct $size)
	d=$(run inproc $size)
	if [ "$passt_ok" = yes ]; then c=$(run passt $size); else c=0; fi
	printf '%-8s %10s %10s %10s %10s %10s %10s %11s\n' "$size" "$a" "$b" "$d" "$c" \
		"$(awk -v a="$a" -v b="$b" 'BEGIN{printf "%.2f", b ? a/b : 0}')" \
		"$(awk -v a="$a" -v d="$d" 'BEGIN{printf "%.2f", d ? a/d : 0}')" \
		"$(awk -v a="$a" -v c="$c" 'BEGIN{if (c) printf "%.2f", a/c; else print "-"}')"
	over=$(awk -v a="$a" -v b="$b" 'BEGIN{printf "%.1f", b ? (1 - a/b) * 100 : 100}')
	[ -n "$a" ] && [ -n "$b" ] && [ "$b" != 0 ] || over=
	verdict "relay overhead against direct libslirp, $size bytes" "$over" "<=" 15 %
done
[ "$passt_ok" = yes ] || echo "  passt: $passt_ok"
exit $bench_status
