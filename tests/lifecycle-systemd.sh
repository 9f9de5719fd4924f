#!/bin/sh
# lifecycle-systemd.sh - `aether start` with supervisor = systemd: the
# supervisor is started through `systemd-run --user` (argv, no shell) as
# `aether run VMFILE` in a transient unit, and reports readiness through a
# FIFO.  No systemd runs here: tests/fake-systemd-run.sh stands in for
# systemd-run and systemctl (first in PATH), checks how it is called and
# runs the command detached with only the unit's environment.  Also: the
# VM file overrides the host default; systemd-run failing or missing, and a
# supervisor failing in its unit, give clear errors and leave nothing.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
. "$top_srcdir/tests/lifecycle-lib.sh"
lc_enter "$@"
lc_setup "supervisor = systemd"
need setsid env

mkdir -p "$WORK/bin" "$WORK/units" "$WORK/empty"
ln -s "$top_srcdir/tests/fake-systemd-run.sh" "$WORK/bin/systemd-run"
ln -s "$top_srcdir/tests/fake-systemd-run.sh" "$WORK/bin/systemctl"
AETHER_TEST_SYSTEMD_LOG=$WORK/systemd.log
AETHER_TEST_SYSTEMD_DIR=$WORK/units
export AETHER_TEST_SYSTEMD_LOG AETHER_TEST_SYSTEMD_DIR
PATH=$WORK/bin:$PATH
export PATH
: >"$AETHER_TEST_SYSTEMD_LOG"
calls() { grep -c -- '^--end--$' "$AETHER_TEST_SYSTEMD_LOG"; }
aether_real=$(readlink -f "${AETHER_BIN:-$AETHER}")

cd "$WORK" || fail "cd $WORK"
ae_expect 0 created create sd1 --image base.qcow2

# --- start goes through systemd-run, and the VM runs ------------------------
ae_expect 0 'running \(supervisor pid' start sd1
[ "$(calls)" = 1 ] || fail "start did not call systemd-run once: $(cat "$AETHER_TEST_SYSTEMD_LOG")"
args=$(sed -n '1,/^--end--$/p' "$AETHER_TEST_SYSTEMD_LOG")
for want in --user --unit=aether-vm-sd1.service --collect -- "$aether_real" run \
	"$WORK/store/vms/sd1/vm.conf" "--setenv=AETHER_RUNTIME_DIR=$WORK/run" \
	"--setenv=AETHER_STORE_DIR=$WORK/store"; do
	printf '%s\n' "$args" | grep -qxF -- "$want" ||
		fail "systemd-run was not given '$want': $args"
done
[ "$(printf '%s\n' "$args" | sed -n 1p)" = --user ] || fail "--user is not first: $args"
sup=$(cat "$WORK/run/vms/sd1/pid")
[ "$(cat "$WORK/units/aether-vm-sd1.service.pid")" = "$sup" ] ||
	fail "the supervisor (pid $sup) is not the process systemd-run started"
tr '\0' ' ' <"/proc/$sup/cmdline" | grep -q " run $WORK/store/vms/sd1/vm.conf \$" ||
	fail "the supervisor is not 'aether run VMFILE': $(tr '\0' ' ' <"/proc/$sup/cmdline")"
[ "$(awk '{print $6}' "/proc/$sup/stat")" = "$sup" ] ||
	fail "the supervisor does not lead its own session"
qpid=$(cat "$WORK/run/vms/sd1/qemu.pid")
grep -q qemu-system "/proc/$qpid/cmdline" || fail "QEMU pid $qpid does not run"
grep -q 'QEMU running' "$WORK/store/vms/sd1/supervisor.log" ||
	fail "no supervisor log in the VM's directory: $(cat "$WORK/store/vms/sd1/supervisor.log")"
[ ! -e "$WORK/store/vms/sd1/start.fifo" ] || fail "the readiness FIFO is left"
ae_expect 0 '' status sd1
grep -q '^state: *running' "$WORK/out" || fail "status: $(cat "$WORK/out")"
ae_expect 0 '' list --json
grep -q '"name":"sd1","state":"running"' "$WORK/out" || fail "list: $(cat "$WORK/out")"
ae_expect 1 'already running' start sd1
[ "$(calls)" = 1 ] || fail "a refused start called systemd-run"
pass "supervisor = systemd: start runs 'aether run' through systemd-run --user; status, list"

ae_expect 0 'stopped' stop sd1 --force
ae_expect 3 '' status sd1
grep -q '^state: *stopped' "$WORK/out" || fail "status after stop: $(cat "$WORK/out")"
lc_assert_clean "systemd unit stopped by aether stop"

# --- the VM file overrides the host default ----------------------------------
ae_expect 0 created create sd2 --image base.qcow2
echo "supervisor = fork" >>"$WORK/store/vms/sd2/vm.conf"
n=$(calls)
ae_expect 0 running start sd2
[ "$(calls)" = "$n" ] || fail "supervisor = fork in the VM file still used systemd-run"
ae_expect 0 stopped stop sd2 --force
sed -i "s/^supervisor = fork\$/supervisor = nonsense/" "$WORK/store/vms/sd2/vm.conf"
ae_expect 1 "vm.conf:[0-9]+: supervisor: 'nonsense' is not one of fork, systemd" start sd2
pass "supervisor = fork in a VM file wins over the host's systemd; bad values named"

# --- systemd-run fails: its message, state stopped, nothing left -------------
AETHER_TEST_SYSTEMD_FAIL="Failed to connect to bus: No medium found"
export AETHER_TEST_SYSTEMD_FAIL
ae_expect 1 'Failed to connect to bus: No medium found' start sd1
unset AETHER_TEST_SYSTEMD_FAIL
ae_expect 3 '' status sd1
grep -q '^state: *stopped' "$WORK/out" || fail "status after a failed systemd-run: $(cat "$WORK/out")"
[ ! -e "$WORK/store/vms/sd1/start.fifo" ] || fail "the readiness FIFO is left"
[ -z "$(ls -A "$WORK/run/vms" 2>/dev/null)" ] || fail "runtime dir left: $(ls -A "$WORK/run/vms")"
lc_assert_clean "systemd-run failed"

# --- no systemd-run at all ------------------------------------------------------
PATH=$WORK/empty "$AETHER" -c "$WORK/host.conf" start sd1 >"$WORK/out" 2>"$WORK/err"
rc=$?
[ $rc = 1 ] && grep -q 'systemd-run.*not found' "$WORK/err" ||
	fail "start without systemd-run: exit $rc, $(cat "$WORK/out" "$WORK/err")"
ae_expect 3 '' status sd1
grep -q '^state: *stopped' "$WORK/out" || fail "status without systemd-run: $(cat "$WORK/out")"
pass "systemd-run missing or failing: its message, state stopped"

# --- the supervisor fails inside its unit: EOF on the FIFO, unit stopped -------
sed -i 's/^\[vm\]$/[vm]\nqemu = \/nonexistent\/qemu-system-x86_64/' "$WORK/store/vms/sd1/vm.conf"
n=$(calls)
ae_expect 4 'qemu-system-x86_64: (No such file|program not found)' start sd1
grep -q 'failed to start' "$WORK/err" || fail "no 'failed to start': $(cat "$WORK/err")"
tail -5 "$AETHER_TEST_SYSTEMD_LOG" | tr '\n' ' ' | grep -q -- '--user stop aether-vm-sd1.service --end--' ||
	fail "the failed unit was not stopped: $(tail -5 "$AETHER_TEST_SYSTEMD_LOG")"
ae_expect 3 '' status sd1
grep -q '^state: *stopped' "$WORK/out" || fail "status after a failed supervisor: $(cat "$WORK/out")"
lc_assert_clean "supervisor failed in its unit"
pass "a supervisor failing in its unit: its error, unit stopped, state stopped"
ae_expect 0 deleted delete sd1
ae_expect 0 deleted delete sd2 --force
exit 0
