#!/bin/sh
# parallel-start.sh - 20 stub VMs (kernel-less: QEMU waits in its firmware)
# created at once and started at once with the tap backend: 20 distinct
# MACs, UUIDs, indexes, TAP devices and QMP sockets, no lost update; two
# concurrent creates asking for the same MAC: exactly one wins.  Then all
# are stopped at once and nothing is left.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
. "$top_srcdir/tests/lifecycle-lib.sh"
lc_enter "$@"
lc_setup
cd "$WORK" || fail cd
N=${PARALLEL_VMS:-20}

i=1
while [ $i -le $N ]; do
	ae create "p$i" --image base.qcow2 >"$WORK/create.$i" 2>&1 &
	i=$((i + 1))
done
wait
[ "$(ls "$WORK/store/vms" | wc -l)" = "$N" ] ||
	fail "$(ls "$WORK/store/vms" | wc -l) VMs in the store after $N creates: $(cat "$WORK"/create.*)"
ae create dupa --image base.qcow2 --mac 52:54:00:aa:bb:cc >"$WORK/dup.a" 2>&1 &
ae create dupb --image base.qcow2 --mac 52:54:00:aa:bb:cc >"$WORK/dup.b" 2>&1 &
wait
won=$(ls "$WORK/store/vms" | grep -c '^dup')
[ "$won" = 1 ] || fail "$won of two creates with the same MAC succeeded"
grep -q 'already used by VM dup' "$WORK/dup.a" "$WORK/dup.b" ||
	fail "the losing create did not say why: $(cat "$WORK/dup.a" "$WORK/dup.b")"
ae delete "$(ls "$WORK/store/vms" | grep '^dup')" >/dev/null || fail "delete dup"
pass "$N parallel creates; same-MAC race: one wins, the other is told why"

t0=$(date +%s)
i=1
while [ $i -le $N ]; do
	ae start "p$i" >"$WORK/start.$i" 2>&1 &
	i=$((i + 1))
done
wait
bad=$(grep -L 'running (supervisor pid' "$WORK"/start.*)
[ -z "$bad" ] || fail "starts failed: $(cat $bad)"
pass "$N parallel starts in $(( $(date +%s) - t0 )) s"

ae list --json >"$WORK/list.json" || fail "list"
running=$(grep -o '"state":"running"' "$WORK/list.json" | wc -l)
[ "$running" = "$N" ] || fail "$running of $N running: $(cat "$WORK/list.json")"
for key in mac uuid index pid qemu_pid; do
	vals=$(grep -o "\"$key\":[^,]*" "$WORK/list.json" | sort)
	[ "$(echo "$vals" | wc -l)" = "$N" ] || fail "$key: wrong count"
	[ "$(echo "$vals" | uniq | wc -l)" = "$N" ] ||
		fail "$key values are not unique: $(echo "$vals" | uniq -d)"
done
taps=$(ip -o link show master "$LC_BR" | awk -F': ' '{print $2}' | sed 's/@.*//' | grep "^$LC_PREFIX" | sort -u | wc -l)
[ "$taps" = "$N" ] || fail "$taps TAP devices on the bridge, expected $N"
socks=$(find "$WORK/run/vms" -name qmp.sock -type s | wc -l)
[ "$socks" = "$N" ] || fail "$socks QMP sockets, expected $N"
pass "$N distinct MACs, UUIDs, indexes, pids, TAP devices and QMP sockets"

i=1
while [ $i -le $N ]; do
	ae stop "p$i" --force >"$WORK/stop.$i" 2>&1 &
	i=$((i + 1))
done
wait
bad=$(grep -L 'stopped' "$WORK"/stop.*)
[ -z "$bad" ] || fail "stops failed: $(cat $bad)"
lc_assert_clean "after $N parallel stops"
exit 0
