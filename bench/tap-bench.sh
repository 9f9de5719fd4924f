#!/bin/sh
# bench/tap-bench.sh - tap backend: attach cost against the bare kernel and
# `ip`, and batched teardown, in a private network namespace.
# Run by `make bench` (environment from AM_TESTS_ENVIRONMENT); by hand:
#   top_builddir=. AETHER_PLUGIN_PATH=$PWD/plugins/tap sh bench/tap-bench.sh [N...]
# Arguments (optional): the N values (default 10 100 1000), --teardown=N.
set -u
b=${top_builddir:-.}
prog="$b/bench/tap-bench"
if [ ! -x "$prog" ]; then
	echo "tap-bench: $prog not built (make check builds it)" >&2
	exit 1
fi
if [ "$(id -u)" != 0 ]; then
	echo "tap-bench: SKIP: needs root for a private network namespace and TAP devices" >&2
	exit 77
fi
if ! command -v unshare >/dev/null 2>&1; then
	echo "tap-bench: SKIP: unshare(1) not found (util-linux)" >&2
	exit 77
fi
if ! command -v ip >/dev/null 2>&1; then
	echo "tap-bench: SKIP: ip(8) not found (iproute2), needed for the comparison" >&2
	exit 77
fi
: "${AETHER_PLUGIN_PATH:=$b/plugins/tap}"
export AETHER_PLUGIN_PATH
# The program unshares a network namespace itself too; unshare -n keeps
# even its setup away from the host's namespace.
# 77: cannot run here (reported by run-all.sh); 1: a target was MISSED.
exec unshare -n -- "$prog" "$@"
