#!/bin/sh
# abi-compat-cli.sh - the aether commands with a plugin of ABI 1.0 as the
# backend: abi10 (abi/plugin-1.0.c built against the frozen 1.0 header),
# installed alone in a temporary plugin directory.  check-config reads its
# 1.0 option table; run boots the real test guest on its STREAM attachment;
# create, start, status, list and stop run a kernel-less stub VM whose QEMU
# must hold the plugin's stream socket; forward answers that the backend
# cannot change forwards; gc calls the plugin's gc with the live VMs.
# Runs as root in private network, mount and pid namespaces: whatever it
# leaks dies with it.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
. "$top_srcdir/tests/lifecycle-lib.sh"

if ! in_namespaces; then
	[ "$(id -u)" = 0 ] || skip "needs root (namespaces)"
	need unshare qemu-img timeout
	command -v "${QEMU:-qemu-system-x86_64}" >/dev/null 2>&1 ||
		skip "qemu-system-x86_64 not found"
	[ -f "$top_builddir/abi/.libs/abi10.so" ] ||
		fail "abi/abi10.la not built (make check builds it)"
	# built outside the namespace: the first build downloads a kernel
	make_work
	guest
	export GUEST_KERNEL GUEST_INITRD
	reexec_in_namespaces "$@"
fi
make_work
ip link set lo up

# The 1.0 plugin "installed": its shared object alone in a plugin dir
# (root's, 0755, as the loader wants it).
mkdir -p "$WORK/plugins"
cp "$top_builddir/abi/.libs/abi10.so" "$WORK/plugins/abi10.so"
AETHER_PLUGIN_PATH=$WORK/plugins
export AETHER_PLUGIN_PATH
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
[network]
backend = abi10
[network.abi10]
label = from-host-conf
tag = x
tag = y
tag = z
seconds = 600
EOC
PLUGRUN=$WORK/run/plugins/abi10

# The helper pids the plugin logged in FILE ("attach VM: ... helper PID").
helper_pids() { sed -n 's/.*abi10: attach .*helper \([0-9][0-9]*\)$/\1/p' "$1"; }
no_helper_left() { # FILE WHAT
	hp=$(helper_pids "$1")
	[ -n "$hp" ] || fail "$2: no helper pid logged in $(basename "$1")"
	for p in $hp; do
		if kill -0 "$p" 2>/dev/null &&
		   [ "$(sed 's/^.*) //' "/proc/$p/stat" | cut -c1)" != Z ]; then
			fail "$2: the plugin's helper $p still runs"
		fi
	done
	left=$(find "$PLUGRUN" -name '*.abi10' 2>/dev/null)
	[ -z "$left" ] || fail "$2: the plugin's state left: $left"
	pass "$2: helper stopped and state file removed by detach"
}

# --- check-config: the 1.0 option table -----------------------------------
guest_conf() { # NAME [SECONDS [EXTRA [network.abi10] LINES]]
	cat >"$WORK/$1.conf" <<EOT
[vm]
name = $1
memory = 256
accel = tcg
reboot = no
kernel = $GUEST_KERNEL
initrd = $GUEST_INITRD
append = console=ttyS0 quiet panic=-1 aether.ip=10.9.0.2/24
console = file:$WORK/$1-console.log

[network]
backend = abi10
[network.abi10]
label = guest-label
tag = only
seconds = ${2:-900}
${3:-}
EOT
}
guest_conf r1
ae_expect 0 '' check-config "$WORK/r1.conf"
expect "$WORK/out" "r1.conf: OK" "check-config accepts a VM file with the 1.0 backend and its options"
grep -q 'abi10' "$WORK/out" "$WORK/err" ||
	{ cat "$WORK/out" "$WORK/err" >&2; fail "check-config does not name the backend abi10"; }
pass "check-config names the 1.0 backend"
guest_conf bad 0
ae_expect 1 'seconds' check-config "$WORK/bad.conf"
grep -Eq '1\.\.3600|between 1 and 3600|range' "$WORK/err" ||
	{ cat "$WORK/err" >&2; fail "check-config: the out-of-range error does not give abi10's bounds"; }
pass "check-config refuses seconds = 0 with the 1.0 table's bounds"
guest_conf bad 900 'nosuchkey = 1'
ae_expect 1 'nosuchkey' check-config "$WORK/bad.conf"
pass "check-config refuses a key the 1.0 table does not have"

# --- run: the real guest on the 1.0 plugin's stream socket ------------------
rc=0
timeout 300 "$AETHER" -c "$WORK/host.conf" -vv run "$WORK/r1.conf" \
	>"$WORK/run.out" 2>"$WORK/run.err" || rc=$?
if [ $rc -ne 0 ]; then
	cat "$WORK/run.err" "$WORK/r1-console.log" >&2
	fail "aether run with the 1.0 backend: exit $rc, expected 0 (guest shut down)"
fi
expect "$WORK/run.err" 'abi10: init: ABI 1\.0 plugin in a 1\.[0-9]+ host' "run: init of the 1.0 plugin"
expect "$WORK/run.err" 'abi10: attach r1: label guest-label, 1 tag\(s\), helper [1-9]' "run: attach with the VM file's options"
expect "$WORK/run.err" 'argv\[[0-9]+\] = stream,id=net0,server=off,addr\.type=fd,addr\.str=[0-9]+' "run: QEMU got the STREAM attachment as -netdev stream on an fd"
mac=$(grep -a -o 'argv\[[0-9]*\] = [^ ]*mac=[0-9a-f:]*' "$WORK/run.err" | head -n 1 | sed 's/.*mac=//')
[ -n "$mac" ] || { cat "$WORK/run.err" >&2; fail "run: no mac= in QEMU's argv"; }
expect "$WORK/r1-console.log" "AETHER-GUEST: static ip=10\.9\.0\.2 .*iface=eth0 mac=$mac" "run: the guest booted with its NIC ($mac) on the 1.0 backend"
expect "$WORK/r1-console.log" 'AETHER-GUEST: done' "run: the guest powered off"
expect "$WORK/run.err" 'abi10: detach r1' "run: detach called when the guest ended"
no_helper_left "$WORK/run.err" "run"

# --- the store: create, start, status, list, forward, gc, stop --------------
qemu-img create -q -f qcow2 "$WORK/base.qcow2" 16M || fail "qemu-img create failed"
ae_expect 0 'created' create s1 --image "$WORK/base.qcow2" --backend abi10
grep -q '^backend = abi10$' "$WORK/store/vms/s1/vm.conf" ||
	fail "create: vm.conf does not select abi10: $(cat "$WORK/store/vms/s1/vm.conf")"
pass "create: a stored VM with the 1.0 backend"

ae_expect 0 '^s1: running .*backend abi10' start s1
SUPLOG=$WORK/store/vms/s1/supervisor.log
expect "$SUPLOG" 'abi10: init: ABI 1\.0 plugin in a 1\.[0-9]+ host' "start: the supervisor initialised the 1.0 plugin"
expect "$SUPLOG" 'abi10: attach s1: label from-host-conf, 3 tag\(s\), helper [1-9]' "start: attach with the host config's [network.abi10]"
pid=$(sed -n 's/^s1: running .*QEMU pid \([0-9][0-9]*\).*/\1/p' "$WORK/out")
[ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] ||
	fail "start: no running QEMU pid (out: $(cat "$WORK/out"))"
tr '\0' '\n' <"/proc/$pid/cmdline" >"$WORK/qemu.argv"
expect "$WORK/qemu.argv" '^stream,id=net0,server=off,addr\.type=fd,addr\.str=[0-9]+$' "start: QEMU's argv has the 1.0 plugin's stream attachment"
nfd=$(sed -n 's/^stream,.*addr\.str=\([0-9]*\)$/\1/p' "$WORK/qemu.argv")
case $(readlink "/proc/$pid/fd/$nfd") in
socket:*) pass "start: QEMU holds the plugin's stream socket (fd $nfd)" ;;
*) fail "start: QEMU's fd $nfd is '$(readlink "/proc/$pid/fd/$nfd")', not a socket" ;;
esac
[ -n "$(find "$PLUGRUN" -name 's1.abi10')" ] || fail "start: no state file of the plugin for s1"

ae_expect 0 '' status s1
cp "$WORK/out" "$WORK/status.out"
expect "$WORK/status.out" '^state: *running' "status: running"
expect "$WORK/status.out" '^backend: *abi10' "status: backend abi10"
expect "$WORK/status.out" "^pid: *[0-9]+ \\(QEMU $pid, index 0\\)\$" "status: QEMU's pid"
# the 1.0 plugin has no addresses verb: status asks (-EOPNOTSUPP) and shows none
! grep -q '^address' "$WORK/status.out" ||
	fail "status: an address shown for a backend that cannot know one"
pass "status: no address from a backend without the addresses verb"

ae_expect 0 '' list
cp "$WORK/out" "$WORK/list.out"
expect "$WORK/list.out" '^s1 +running +abi10 ' "list: s1 running on abi10"

# forward: the 1.0 plugin has no forward verb and its attachment is not
# QEMU's user network: nothing can change forwards at run time.
ae_expect 0 '' forward list s1
[ ! -s "$WORK/out" ] || fail "forward list: forwards listed for a backend that has none: $(cat "$WORK/out")"
pass "forward list: no forwards"
port=$(free_port)
ae_expect 1 'EOPNOTSUPP' forward add s1 tcp "127.0.0.1:$port" 22
expect "$WORK/err" 'cannot change forwards at run time' "forward add: the backend cannot change forwards (EOPNOTSUPP)"
ae_expect 0 '' forward list s1
[ ! -s "$WORK/out" ] || fail "forward list after a refused add: $(cat "$WORK/out")"
pass "forward list: the refused forward was not recorded"

# gc with s1 live: the plugin's gc is told of it
ae_expect 0 '' -v gc abi10
expect "$WORK/err" 'abi10: gc: 1 live VM\(s\)' "gc: the plugin's gc called with the live VM"
expect "$WORK/err" 'gc: backend abi10: done' "gc: the backend reported done"
ae_expect 0 'running' status s1
pass "gc: the live VM kept running"

ae_expect 0 'stopped' stop s1 --timeout 1
pass "stop: s1 stopped"
expect "$SUPLOG" 'abi10: detach s1' "stop: the supervisor detached the 1.0 plugin"
ae_expect 3 '' status s1
expect "$WORK/out" '^state: *(stopped|not running)' "stop: status says s1 is not running"
no_helper_left "$SUPLOG" "stop"
[ -z "$(procs 'qemu-system')" ] || fail "stop: QEMU still runs: $(procs 'qemu-system')"
pass "stop: no QEMU left"
ae_expect 0 '' list
expect "$WORK/out" '^s1 +stopped +abi10 ' "list: s1 stopped on abi10"

ae_expect 0 '' -v gc
expect "$WORK/err" 'abi10: gc: 0 live VM\(s\)' "gc (every backend): the 1.0 plugin's gc called with no VM live"
