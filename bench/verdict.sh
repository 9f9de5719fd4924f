# bench/verdict.sh - sourced by the benchmark scripts: one verdict per
# target, so that `make bench` can say which target was missed.
#
#   verdict LABEL VALUE OP LIMIT [UNIT]    OP: < <= > >=
#
# prints "  target LABEL: VALUE OP LIMIT UNIT: ok" (or MISSED).  A VALUE
# that is empty or not a number is MISSED ("no measurement"): a benchmark
# that measured nothing never passes.  bench_status is 1 once a target was
# missed; end a script with `exit $bench_status`.
bench_status=0
verdict() {
	_l=$1 _v=$2 _op=$3 _lim=$4 _u=${5:-}
	if awk -v v="$_v" 'BEGIN { exit !(v ~ /^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$/) }'; then
		if awk -v v="$_v" -v l="$_lim" -v op="$_op" 'BEGIN {
			if (op == "<") ok = v + 0 < l + 0; else if (op == "<=") ok = v + 0 <= l + 0;
			else if (op == ">") ok = v + 0 > l + 0; else if (op == ">=") ok = v + 0 >= l + 0;
			else ok = 0
			exit !ok }'; then
			echo "  target $_l: $_v $_op $_lim${_u:+ $_u}: ok"
			return 0
		fi
		echo "  target $_l: $_v, wanted $_op $_lim${_u:+ $_u}: MISSED"
	else
		echo "  target $_l: no measurement ('$_v'), wanted $_op $_lim${_u:+ $_u}: MISSED"
	fi
	bench_status=1
	return 0
}
