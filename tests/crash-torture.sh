#!/bin/sh
# crash-torture.sh - 50 cycles of `aether start` and a kill -9 of QEMU or of
# the supervisor at a random moment (tap backend, private namespaces,
# kernel-less stub VM).  After every kill `aether status` must not claim the
# VM runs; the next start recovers by itself; every few cycles `aether gc`
# runs instead.  A bystander VM runs throughout and must survive every gc.
# At the end: aether gc, and zero leaked QEMU, supervisors, TAP devices,
# sockets or runtime directories.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
. "$top_srcdir/tests/lifecycle-lib.sh"
lc_enter "$@"
lc_setup
cd "$WORK" || fail cd
CYCLES=${TORTURE_CYCLES:-50}

rnd() { # 0 .. $1-1
	echo $(( $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % $1 ))
}
state_of() {
	ae status "$1" 2>/dev/null | sed -n 's/^state: *\([a-z]*\).*/\1/p'
}

ae create ct --image base.qcow2 >/dev/null || fail "create ct"
ae create bystander --image base.qcow2 >/dev/null || fail "create bystander"
ae start bystander >/dev/null || fail "start bystander"
by_pid=$(cat "$WORK/run/vms/bystander/qemu.pid")

killed_qemu=0 killed_sup=0 c=1
while [ $c -le $CYCLES ]; do
	ae start ct >"$WORK/start.log" 2>&1 &
	spid=$!
	sleep "0.$(printf %03d "$(rnd 250)")"
	target=qemu
	[ "$(rnd 2)" = 1 ] && target=supervisor
	victim= i=0
	while [ -z "$victim" ] && [ $i -lt 400 ]; do
		if [ $target = qemu ]; then
			victim=$(procs 'guest=ct,' | head -n 1)
		else
			victim=$(cat "$WORK/run/vms/ct/pid" 2>/dev/null)
			[ -n "$victim" ] && ! kill -0 "$victim" 2>/dev/null && victim=
		fi
		[ -n "$victim" ] || sleep 0.005
		i=$((i + 1))
	done
	[ -n "$victim" ] || { cat "$WORK/start.log" >&2; fail "cycle $c: no $target to kill"; }
	kill -9 "$victim" 2>/dev/null
	if [ $target = qemu ]; then
		killed_qemu=$((killed_qemu + 1))
	else
		killed_sup=$((killed_sup + 1))
	fi
	wait $spid
	i=0
	while st=$(state_of ct); [ "$st" != crashed ] && [ "$st" != stopped ]; do
		i=$((i + 1))
		[ $i -lt 100 ] || fail "cycle $c ($target killed): status says '$st'"
		sleep 0.05
	done
	if [ $((c % 5)) = 0 ]; then
		ae -q gc || fail "cycle $c: aether gc failed"
	fi
	c=$((c + 1))
done
pass "$CYCLES cycles ($killed_qemu QEMU kills, $killed_sup supervisor kills): status never claimed a dead VM runs"

ae -q gc || fail "aether gc failed"
[ "$(state_of bystander)" = running ] || fail "the bystander VM does not run any more"
[ "$(cat "$WORK/run/vms/bystander/qemu.pid")" = "$by_pid" ] ||
	fail "the bystander's QEMU changed"
ip link show master "$LC_BR" | grep -q "$LC_PREFIX" ||
	fail "the bystander's TAP device is gone"
pass "the bystander survived every gc"
ae start ct >/dev/null 2>&1 || fail "ct does not start after the torture"
ae stop ct --force >/dev/null || fail "stop ct"
ae stop bystander --force >/dev/null || fail "stop bystander"
ae -q gc || fail "aether gc failed"
lc_assert_clean "after $CYCLES crash cycles and gc"
exit 0
