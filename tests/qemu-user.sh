#!/bin/sh
# qemu-user.sh - as root, QEMU never runs as root unless the VM says
# user = root: without a user key it runs as the package's user
# (aether-qemu) or nobody, under -sandbox with elevateprivileges=deny, and
# the real test guest still boots and gets its DHCP lease - both through
# `aether run` and through `aether start` (disk overlay in the store, which
# that user cannot open by name).  A user that does not exist is a
# configuration error naming the file and line.
. "${top_srcdir:-.}/tests/lib.sh"

[ "$(id -u)" = 0 ] || skip "needs root (the privilege drop is a root thing)"
need qemu-system-x86_64 qemu-img timeout
make_work
guest
RUN=$WORK/run
export AETHER_RUNTIME_DIR=$RUN
start_tcp_echo

if getent passwd aether-qemu >/dev/null 2>&1; then
	QUSER=aether-qemu
else
	QUSER=nobody
fi
QUID=$(id -u "$QUSER") || skip "no user $QUSER"
SANDBOX='-sandbox on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny'

vm_conf() { # NAME EXTRA-[vm]-LINES
	cat >"$WORK/$1.conf" <<EOT
[vm]
name = $1
memory = 256
accel = tcg
reboot = no
stop_timeout = 20
kernel = $GUEST_KERNEL
initrd = $GUEST_INITRD
append = console=ttyS0 quiet panic=-1 aether.tcp=10.0.2.2:$PORT aether.hold=forever
console = file:$WORK/$1.log
$2
[network]
backend = slirp
EOT
}

# QEMU's pid of VM $1 once it runs (from its runtime dir).
qemu_pid_of() {
	i=0
	while [ $i -lt 300 ]; do
		p=$(cat "$RUN/vms/$1/qemu.pid" 2>/dev/null)
		[ -n "$p" ] && [ -d "/proc/$p" ] && { echo "$p"; return 0; }
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}
uid_of() { awk '/^Uid:/ {print $2 "/" $3 "/" $4 "/" $5}' "/proc/$1/status"; }
cmdline_of() { tr '\0' ' ' <"/proc/$1/cmdline"; }

# --- 1. aether run, no user key: the unprivileged user, sandboxed ----------
vm_conf u-run ""
"$AETHER" -c none check-config "$WORK/u-run.conf" || fail "check-config rejected u-run"
"$AETHER" -c none run "$WORK/u-run.conf" 2>"$WORK/u-run.err" &
APID=$!
at_exit "kill -9 $APID 2>/dev/null"
qpid=$(qemu_pid_of u-run) || { cat "$WORK/u-run.err" >&2; fail "QEMU of u-run did not start"; }
[ "$(uid_of "$qpid")" = "$QUID/$QUID/$QUID/$QUID" ] ||
	fail "QEMU runs as uid $(uid_of "$qpid"), not $QUSER ($QUID)"
cmdline_of "$qpid" | grep -q -- "$SANDBOX" || fail "no $SANDBOX on QEMU's command line: $(cmdline_of "$qpid")"
cmdline_of "$qpid" | grep -q -- "-runas" && fail "QEMU got -runas"
grep -q NoNewPrivs:.1 "/proc/$qpid/status" || fail "QEMU without no_new_privs"
wait_for "$WORK/u-run.log" 'AETHER-GUEST: tcp-reply' 150 ||
	{ cat "$WORK/u-run.log" "$WORK/u-run.err" >&2; fail "u-run: the guest did not come up"; }
# (QEMU installs its filter while it starts: looked at once the guest runs)
grep -q '^Seccomp:.2' "/proc/$qpid/status" || fail "QEMU without a seccomp filter"
expect "$WORK/u-run.log" 'AETHER-GUEST: lease ip=10\.0\.2\.15' "aether run: the guest of an unprivileged QEMU got its lease"
kill -TERM $APID
wait $APID
pass "aether run as root: QEMU runs as $QUSER (uid $QUID) with $SANDBOX and no_new_privs"

# --- 2. user = root, explicitly -------------------------------------------
vm_conf u-root "user = root"
"$AETHER" -c none run "$WORK/u-root.conf" 2>"$WORK/u-root.err" &
APID=$!
at_exit "kill -9 $APID 2>/dev/null"
qpid=$(qemu_pid_of u-root) || { cat "$WORK/u-root.err" >&2; fail "QEMU of u-root did not start"; }
[ "$(uid_of "$qpid")" = "0/0/0/0" ] || fail "user = root: QEMU runs as $(uid_of "$qpid")"
cmdline_of "$qpid" | grep -q -- "$SANDBOX" || fail "user = root: no -sandbox"
kill -TERM $APID
wait $APID
pass "user = root is honoured (and QEMU is still sandboxed)"

# --- 3. a user that does not exist: file:line -----------------------------
vm_conf u-bad "user = no-such-user-aether"
"$AETHER" -c none check-config "$WORK/u-bad.conf" >"$WORK/out" 2>&1 &&
	fail "check-config accepted a nonexistent user"
grep -q "$WORK/u-bad.conf:11: user: no user 'no-such-user-aether'" "$WORK/out" ||
	fail "no file:line for the user: $(cat "$WORK/out")"
rc=0
"$AETHER" -c none run "$WORK/u-bad.conf" >"$WORK/out" 2>&1 || rc=$?
[ $rc = 1 ] || fail "run with a nonexistent user exited $rc, want 1"
grep -q "u-bad.conf:11: user: no user" "$WORK/out" || fail "run: $(cat "$WORK/out")"
pass "a nonexistent user is a configuration error naming file:line"

# --- 4. aether start: a store VM (qcow2 overlay and base the user cannot open)
export AETHER_STORE_DIR=$WORK/store
# the base image where QEMU's user cannot go (like /var/lib/aether/images)
mkdir -m 0700 "$WORK/images"
qemu-img create -q -f qcow2 "$WORK/images/base.qcow2" 16M || fail "qemu-img"
"$AETHER" -c none create u-start --image "$WORK/images/base.qcow2" \
	--kernel "$GUEST_KERNEL" --initrd "$GUEST_INITRD" \
	--append "console=ttyS0 quiet aether.tcp=10.0.2.2:$PORT aether.hold=forever" \
	>"$WORK/out" 2>&1 || fail "create: $(cat "$WORK/out")"
sed -i "s/^\[vm\]$/[vm]\naccel = tcg\nmemory = 256/" "$WORK/store/vms/u-start/vm.conf"
"$AETHER" -c none start u-start >"$WORK/out" 2>&1 || fail "start: $(cat "$WORK/out")"
at_exit "'$AETHER' -c none stop u-start --force >/dev/null 2>&1"
qpid=$(cat "$RUN/vms/u-start/qemu.pid")
[ "$(uid_of "$qpid")" = "$QUID/$QUID/$QUID/$QUID" ] ||
	fail "aether start: QEMU runs as uid $(uid_of "$qpid"), not $QUSER"
cmdline_of "$qpid" | grep -q -- "$SANDBOX" || fail "aether start: no -sandbox"
con=$WORK/store/vms/u-start/console.log
wait_for "$con" 'AETHER-GUEST: tcp-reply' 150 ||
	{ cat "$con" "$WORK/store/vms/u-start/supervisor.log" >&2; fail "u-start: the guest did not come up"; }
expect "$con" 'AETHER-GUEST: lease ip=10\.0\.2\.15' "aether start: the guest got its lease"
"$AETHER" -c none stop u-start >"$WORK/out" 2>&1 || fail "stop: $(cat "$WORK/out")"
"$AETHER" -c none delete u-start >/dev/null 2>&1 || fail "delete"
pass "aether start as root: QEMU runs as $QUSER, sandboxed, on a disk and backing file it got as descriptors"
exit 0
