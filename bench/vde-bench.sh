#!/bin/sh
# bench/vde-bench.sh - VDE backend benchmark (make bench).
#  - attach latency until a switch port is usable: cold (aether starts
#    vde_switch) and warm (the switch already runs)
#  - frames per second between two ports of one switch through libvdeplug,
#    64- and 1500-byte frames, beside the same traffic sent through a
#    vde_plug process
set -eu
: "${top_builddir:=.}"
B=$top_builddir/bench/vde-bench
command -v vde_switch >/dev/null || { echo "vde-bench: vde_switch not installed, skipped"; exit 77; }
command -v vde_plug >/dev/null || { echo "vde-bench: vde_plug not installed, skipped"; exit 77; }
ROUNDS=${VDE_BENCH_ROUNDS:-10}
SECS=${VDE_BENCH_SECONDS:-2}

W=$(mktemp -d "${TMPDIR:-/tmp}/aether-vde-bench.XXXXXX")
trap 'rm -rf "$W"' EXIT
export AETHER_RUNTIME_DIR=$W/run

"$B" attach "$ROUNDS" >"$W/attach.out"
for s in 64 1500; do "$B" frames $s "$SECS" >"$W/frames-$s.out"; done
cat "$W"/*.out >"$W/all"
v() { awk -v k="$1" '$1 == k { print $2 }' "$W/all"; }

printf '\nVDE backend: attach until a switch port is usable (%s rounds, ms)\n' "$ROUNDS"
printf '  %-22s %10s %10s %10s\n' "" median min max
printf '  %-22s %10s %10s %10s\n' "cold (starts switch)" "$(v attach_cold_median_ms)" "$(v attach_cold_min_ms)" "$(v attach_cold_max_ms)"
printf '  %-22s %10s %10s %10s\n' "warm (switch running)" "$(v attach_warm_median_ms)" "$(v attach_warm_min_ms)" "$(v attach_warm_max_ms)"

printf '\nVDE backend: frames between two ports of one switch (%ss each)\n' "$SECS"
printf '  %-6s %-26s %12s %12s %10s %8s\n' size path sent received "frames/s" Mbit/s
for s in 64 1500; do
	for p in libvdeplug vde_plug; do
		label=$p
		[ $p = libvdeplug ] && label="libvdeplug -> libvdeplug"
		[ $p = vde_plug ] && label="vde_plug -> libvdeplug"
		printf '  %-6s %-26s %12s %12s %10s %8s\n' "$s" "$label" \
			"$(v ${p}_${s}_sent)" "$(v ${p}_${s}_received)" \
			"$(v ${p}_${s}_fps)" "$(v ${p}_${s}_mbps)"
	done
	a=$(v libvdeplug_${s}_fps) b=$(v vde_plug_${s}_fps)
	awk -v a="$a" -v b="$b" -v s="$s" 'BEGIN { if (b > 0) printf "  %-6s libvdeplug/vde_plug ratio: %.2f\n", s, a / b }'
done
