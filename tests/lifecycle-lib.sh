# tests/lifecycle-lib.sh - shared setup of the VM store tests (sourced after
# tests/lib.sh).  Each test runs as root in private network, mount and pid
# namespaces (unshare -nmpf --mount-proc): its TAP devices, bridge and
# processes cannot touch the host's, and whatever it leaks dies with it.
# Inside: a bridge $LC_BR, a temp store ($AETHER_STORE_DIR), a temp runtime
# dir and a host config selecting the tap backend on that bridge.

LC_BR=br-lc
LC_PREFIX=lct

# Re-run this script inside fresh namespaces (or skip saying why).
lc_enter() {
	in_namespaces && return 0
	[ "$(id -u)" = 0 ] || skip "needs root (TAP devices in a network namespace)"
	need unshare ip qemu-img timeout
	command -v "${QEMU:-qemu-system-x86_64}" >/dev/null 2>&1 ||
		skip "qemu-system-x86_64 not found"
	[ -x "$AETHER" ] || fail "aether binary not found at $AETHER (make first)"
	[ -c /dev/net/tun ] || skip "/dev/net/tun missing (modprobe tun)"
	reexec_in_namespaces "$@"
}

# Network, store, runtime dir, host config; $1: extra [vm] lines.
lc_setup() {
	make_work
	ip link set lo up
	ip link add "$LC_BR" type bridge || fail "cannot create bridge $LC_BR"
	ip addr add 10.77.0.1/24 dev "$LC_BR"
	ip link set "$LC_BR" up
	AETHER_STORE_DIR=$WORK/store
	export AETHER_STORE_DIR
	unset AETHER_RUNTIME_DIR XDG_RUNTIME_DIR
	cat >"$WORK/host.conf" <<EOC
[aether]
runtime_dir = $WORK/run
[vm]
accel = tcg
memory = 32
stop_timeout = 5
${1:-}
[network]
backend = tap
[network.tap]
bridge = $LC_BR
prefix = $LC_PREFIX
EOC
	qemu-img create -q -f qcow2 "$WORK/base.qcow2" 16M ||
		fail "qemu-img create failed"
}

ae() { "$AETHER" -c "$WORK/host.conf" "$@"; }

# Expect exit status $1 from `aether ARGS...` and stderr matching $2.
ae_expect() {
	want=$1 pat=$2
	shift 2
	ae "$@" >"$WORK/out" 2>"$WORK/err"
	got=$?
	if [ "$got" != "$want" ]; then
		cat "$WORK/out" "$WORK/err" >&2
		fail "aether $*: exit $got, expected $want"
	fi
	if [ -n "$pat" ] && ! grep -Eq "$pat" "$WORK/err" "$WORK/out"; then
		cat "$WORK/out" "$WORK/err" >&2
		fail "aether $*: no /$pat/ in its output"
	fi
}

# Live processes (zombies excluded) whose command line matches $1.
procs() {
	for d in /proc/[0-9]*; do
		[ -r "$d/cmdline" ] || continue
		st=$(sed 's/^.*) //' "$d/stat" 2>/dev/null | cut -c1)
		[ "$st" = Z ] && continue
		[ "$st" = "" ] && continue
		if tr '\0' ' ' <"$d/cmdline" 2>/dev/null | grep -q -- "$1"; then
			echo "${d#/proc/}"
		fi
	done
}

# Nothing of any VM may be left: QEMU, supervisors, TAP devices, runtime
# dirs, sockets, interrupted store operations.
lc_assert_clean() {
	what=$1
	q=$(procs 'qemu-system' | tr '\n' ' ')
	[ -z "$q" ] || fail "$what: QEMU processes left: $q"
	s=$(procs "${AETHER_BIN:-$AETHER}.* \(run\|start\) " | tr '\n' ' ')
	[ -z "$s" ] || fail "$what: supervisors left: $s"
	t=$(ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' |
		grep "^$LC_PREFIX" | tr '\n' ' ')
	[ -z "$t" ] || fail "$what: TAP devices left: $t"
	if [ -d "$WORK/run/vms" ]; then
		r=$(ls -A "$WORK/run/vms")
		[ -z "$r" ] || fail "$what: runtime dirs left: $r"
	fi
	k=$(find "$WORK/run" -type s 2>/dev/null | tr '\n' ' ')
	[ -z "$k" ] || fail "$what: sockets left: $k"
	n=$(ls -A "$WORK/store/vms" 2>/dev/null | grep '^\.' | tr '\n' ' ')
	[ -z "$n" ] || fail "$what: interrupted store operations left: $n"
	pass "$what: no QEMU, supervisor, TAP, runtime dir or socket left"
}
