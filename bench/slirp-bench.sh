#!/bin/sh
# UDP frames/s from the VM side to a host loopback sink (64- and 1400-byte
# payloads) through
#   (a) aether's relay + the slirp plugin in mode = libslirp,
#   (b) libslirp driven directly in one process without the relay: the
#       same VM thread and socketpair (sized alike), read in batches with
#       recvmmsg into slirp_input ("direct"; the relay's overhead is relay
#       against this), and, for reference, libslirp fed from memory with
#       no socket ("inproc"),
#   (c) passt, fed the way QEMU's stream netdev feeds it (-F socketpair),
# $BENCH_REPS (5) trials of $BENCH_SECONDS (2) each.  relay and direct
# run in alternate order in each trial, and relay/direct is the median of
# the trials' own ratios, so that a noisy, shared machine shifts both
# alike.  Prints the median frames/s of each path and the ratios, and the
# CPU time per frame of the thread running libslirp (with the relay, or
# without), relay against direct; target: relay at least 0.98 x direct's
# frames/s at both sizes.
set -u
: "${top_builddir:=.}"
. "${top_srcdir:-.}/bench/verdict.sh"
B=$top_builddir/bench/slirp-bench
: "${AETHER_PLUGIN_PATH:=$top_builddir/plugins/slirp}"
export AETHER_PLUGIN_PATH
REPS=${BENCH_REPS:-5}
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
# once MODE PAYLOAD -> "frames/s CPU-ns/frame"
once() { "$B" "$1" "$2" "$SECS" 2>/dev/null | awk '{print $3, $5}'; }
run() { # MODE PAYLOAD -> median frames/s received by the sink
	i=0
	while [ $i -lt "$REPS" ]; do
		once "$1" "$2" | awk '{print $1}'
		i=$((i + 1))
	done | median
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{if (a != "" && b + 0 > 0) printf "%.2f", a/b}'; }

tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
printf '%-8s %10s %10s %10s %10s %10s %10s %11s\n' payload relay direct inproc \
	passt relay/dir relay/inp relay/passt
for size in 64 1400; do
	: >"$tmp/a"; : >"$tmp/b"; : >"$tmp/r"; : >"$tmp/c"
	i=0
	while [ $i -lt "$REPS" ]; do # paired trials, alternating order
		if [ $((i % 2)) = 0 ]; then
			x=$(once relay $size); y=$(once direct $size)
		else
			y=$(once direct $size); x=$(once relay $size)
		fi
		set -- $x $y # relay fps, relay ns, direct fps, direct ns
		echo "${1:-}" >>"$tmp/a"; echo "${3:-}" >>"$tmp/b"
		ratio "${1:-}" "${3:-}" >>"$tmp/r"; echo >>"$tmp/r"
		ratio "${2:-}" "${4:-}" >>"$tmp/c"; echo >>"$tmp/c"
		i=$((i + 1))
	done
	a=$(median <"$tmp/a"); b=$(median <"$tmp/b")
	r=$(grep . "$tmp/r" | median)
	[ "$(grep -c . "$tmp/r")" = "$REPS" ] || r= # a trial measured nothing
	d=$(run inproc $size)
	if [ "$passt_ok" = yes ]; then c=$(run passt $size); else c=0; fi
	printf '%-8s %10s %10s %10s %10s %10s %10s %11s\n' "$size" "$a" "$b" "$d" "$c" \
		"${r:--}" "$(ratio "$a" "$d")" \
		"$(if [ "$c" != 0 ]; then ratio "$a" "$c"; else echo -; fi)"
	echo "  relay/direct per trial: $(grep . "$tmp/r" | tr '\n' ' ')"
	echo "  CPU per frame of the libslirp thread, relay/direct: median" \
		"$(grep . "$tmp/c" | median) (per trial: $(grep . "$tmp/c" | tr '\n' ' '))"
	verdict "relay against direct libslirp, $size bytes" "$r" ">=" 0.98 x
done
[ "$passt_ok" = yes ] || echo "  passt: $passt_ok"
exit $bench_status
