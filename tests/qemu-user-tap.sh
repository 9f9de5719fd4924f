#!/bin/sh
# qemu-user-tap.sh - as root with the tap backend: QEMU runs as the
# unprivileged user and the backends are told so (struct aether_vm uid and
# gid), so the VM's TAP device is owned by QEMU's user, which may then
# change its queues itself.  Stub VM (no kernel: QEMU waits in its
# firmware), private namespaces.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
. "$top_srcdir/tests/lifecycle-lib.sh"
lc_enter "$@"
lc_setup
cd "$WORK" || fail cd
if getent passwd aether-qemu >/dev/null 2>&1; then
	QUSER=aether-qemu
else
	QUSER=nobody
fi
QUID=$(id -u "$QUSER") || skip "no user $QUSER"

ae_expect 0 created create t1 --image base.qcow2
ae_expect 0 running start t1
qpid=$(cat "$WORK/run/vms/t1/qemu.pid")
uid=$(awk '/^Uid:/ {print $2}' "/proc/$qpid/status")
[ "$uid" = "$QUID" ] || fail "QEMU runs as uid $uid, not $QUSER ($QUID)"
tap=$(ip -o link show master "$LC_BR" | awk -F': ' '{print $2}' | sed 's/@.*//' | grep "^$LC_PREFIX" | head -n 1)
[ -n "$tap" ] || fail "no TAP device on $LC_BR"
# this network namespace's sysfs (the mount namespace is private)
mount -t sysfs sysfs /sys || fail "cannot mount sysfs"
owner=$(cat "/sys/class/net/$tap/owner" 2>/dev/null)
[ "$owner" = "$QUID" ] || fail "TAP $tap is owned by uid '$owner', not QEMU's $QUID"
ae_expect 0 stopped stop t1 --force
ae_expect 0 deleted delete t1
lc_assert_clean "tap VM with an unprivileged QEMU"
pass "tap: QEMU runs as $QUSER and owns its TAP device $tap"
exit 0
