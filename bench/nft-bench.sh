#!/bin/sh
# bench/nft-bench.sh - managed networks' nftables rules (make bench): one
# network's transaction (two base chains, four rules, masquerade for IPv4
# and IPv6) applied through libnftables, as aether does, against running
# `nft -f FILE` with the same text; and the JSON read-back that verifies
# it.  In a private network namespace.  Target: libnftables is not slower
# than nft -f (ratio <= 1.0).
# By hand: top_builddir=. srcdir=.. sh ../bench/nft-bench.sh [ROUNDS]
set -u
b=${top_builddir:-.}
prog=$b/bench/nft-bench
. "${srcdir:-.}/bench/verdict.sh"
ROUNDS=${1:-${NFT_BENCH_ROUNDS:-50}}
if [ ! -x "$prog" ]; then
	echo "nft-bench: $prog not built (configure without managed networks?), skipped" >&2
	exit 77
fi
if [ "$(id -u)" != 0 ]; then
	echo "nft-bench: SKIP: needs root for a private network namespace" >&2
	exit 77
fi
command -v unshare >/dev/null 2>&1 || { echo "nft-bench: SKIP: unshare(1) not found (util-linux)" >&2; exit 77; }
nft=$(command -v nft 2>/dev/null || { [ -x /usr/sbin/nft ] && echo /usr/sbin/nft; })
[ -n "$nft" ] || { echo "nft-bench: SKIP: nft(8) not found (nftables), needed for the comparison" >&2; exit 77; }

out=$(mktemp "${TMPDIR:-/tmp}/aether-nft-bench.XXXXXX") || exit 1
trap 'rm -f "$out"' EXIT
rc=0
unshare -n -- "$prog" "$ROUNDS" "$nft" >"$out" || rc=$?
[ $rc -eq 0 ] || { cat "$out"; echo "nft-bench: $prog failed ($rc)"; exit "$rc"; }
v() { awk -v k="$1" '$1 == k { print $2 }' "$out"; }

printf '\nnftables: one network applied (%s rounds, ms)\n' "$(v rounds)"
printf '  %-26s %10s %10s %10s\n' "" median min max
for k in libnftables nft_f verify; do
	case $k in
	libnftables) label="libnftables (ae_nft_apply)" ;;
	nft_f) label="nft -f FILE (same text)" ;;
	verify) label="verify (JSON read-back)" ;;
	esac
	printf '  %-26s %10s %10s %10s\n' "$label" "$(v ${k}_median_ms)" \
		"$(v ${k}_min_ms)" "$(v ${k}_max_ms)"
done
ratio=$(awk -v a="$(v libnftables_median_ms)" -v b="$(v nft_f_median_ms)" \
	'BEGIN { if (b > 0 && a != "") printf "%.3f", a / b }')
printf '  libnftables / nft -f median ratio: %s\n' "${ratio:-?}"
verdict "libnftables/nft-f apply time ratio" "$ratio" "<=" 1.0
exit $bench_status
