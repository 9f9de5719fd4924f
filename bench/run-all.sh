#!/bin/sh
# bench/run-all.sh - `make bench`: runs every benchmark script given, shows
# its figures, and ends with a summary.  Exit 1 when a target was MISSED or
# a benchmark failed; a benchmark that cannot run here exits 77 and is
# listed as skipped (a failure too under AETHER_TEST_STRICT=1).
missed= failed= skipped=
out=$(mktemp "${TMPDIR:-/tmp}/aether-bench.XXXXXX") || exit 1
trap 'rm -f "$out"' EXIT
for b in "$@"; do
	echo "== $b"
	rc=0
	$SHELL "$srcdir/$b" >"$out" 2>&1 || rc=$?
	cat "$out"
	if [ $rc -eq 77 ]; then
		skipped="$skipped $b"
	elif grep -q 'MISSED' "$out"; then
		missed="$missed$(grep 'MISSED' "$out" | sed "s|^ *|  $b: |")
"
	elif [ $rc -ne 0 ]; then
		failed="$failed $b(exit $rc)"
	fi
done
echo "== make bench summary"
st=0
[ -z "$missed" ] || { echo "targets MISSED:"; printf '%s' "$missed"; st=1; }
[ -z "$failed" ] || { echo "benchmarks failed:$failed"; st=1; }
if [ -n "$skipped" ]; then
	echo "benchmarks that could not run here (no verdict):$skipped"
	[ "${AETHER_TEST_STRICT:-0}" = 1 ] && st=1
fi
[ $st -eq 0 ] && echo "every target met"
exit $st
