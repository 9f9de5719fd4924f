#!/bin/sh
# gc-roots.sh - `aether gc` removes what is its own and nothing else.
#   - Two runtime roots (two users, or two runtime_dir) share one network:
#     gc in root A leaves root B's TAP device (and B's VM) alone.
#   - gc run in a loop while VMs start in parallel: no live VM loses its
#     TAP device (gc holds the runtime lock a start claims under).
#   - Orphaned QEMUs are killed by exact identity: a process whose argv
#     names another root's path that merely contains ours, or that names
#     our QMP socket outside a -chardev option, or that runs as another
#     user, is left alone; the real orphan goes.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
. "$top_srcdir/tests/lifecycle-lib.sh"
lc_enter "$@"
lc_setup
cd "$WORK" || fail cd

# --- root B: another runtime root and store on the same bridge -------------
mkdir -p "$WORK/b" && chmod 0755 "$WORK/b"
sed -e "s|^runtime_dir = .*|runtime_dir = $WORK/b/run|" \
	-e "s|^prefix = .*|prefix = lcb|" "$WORK/host.conf" >"$WORK/b/host.conf"
aeb() { AETHER_STORE_DIR=$WORK/b/store "$AETHER" -c "$WORK/b/host.conf" "$@"; }
aeb create b1 --image "$WORK/base.qcow2" >"$WORK/b.out" 2>&1 || { cat "$WORK/b.out" >&2; fail "create b1 in root B"; }
aeb start b1 >"$WORK/b.out" 2>&1 || { cat "$WORK/b.out" >&2; fail "start b1 in root B"; }
tapb=$(ip -o link show master "$LC_BR" | awk -F': ' '{print $2}' | sed 's/@.*//' | grep '^lcb')
[ -n "$tapb" ] || fail "root B's VM has no TAP device"
alias=$(ip -o link show dev "$tapb" | sed -n 's/.* alias \([^ \\]*\).*/\1/p')
case $alias in
aether-tap:????????????:b1) pass "B's device $tapb carries its root's id: $alias" ;;
*) fail "B's device $tapb has alias '$alias'" ;;
esac

ae gc >"$WORK/gc.out" 2>&1 || { cat "$WORK/gc.out" >&2; fail "gc in root A failed"; }
ip link show dev "$tapb" >/dev/null 2>&1 || { cat "$WORK/gc.out" >&2; fail "gc in root A deleted root B's device $tapb"; }
aeb status b1 >/dev/null 2>&1 || fail "root B's VM b1 is not running after gc in root A"
pass "gc in root A leaves root B's TAP device and VM"

# and B's own gc keeps it while b1 lives, and removes it once b1 is gone
aeb gc >"$WORK/gcb.out" 2>&1 || { cat "$WORK/gcb.out" >&2; fail "gc in root B failed"; }
ip link show dev "$tapb" >/dev/null 2>&1 || fail "gc in root B deleted its live VM's device"
aeb stop b1 --force >/dev/null 2>&1 || fail "stop b1"
pass "gc in root B keeps its live VM's device"

# --- gc in a loop against parallel starts ---------------------------------
N=${GC_RACE_VMS:-8}
i=1
while [ $i -le $N ]; do
	ae create "r$i" --image base.qcow2 >"$WORK/create.$i" 2>&1 || fail "create r$i: $(cat "$WORK/create.$i")"
	i=$((i + 1))
done
: >"$WORK/gc.stop"
( while [ -e "$WORK/gc.stop" ]; do ae gc >>"$WORK/gcloop.out" 2>&1; done ) &
gcloop=$!
i=1 starts=
while [ $i -le $N ]; do
	ae start "r$i" >"$WORK/start.$i" 2>&1 &
	starts="$starts $!"
	i=$((i + 1))
done
for f in $starts; do wait "$f" || :; done
rm -f "$WORK/gc.stop"
wait "$gcloop" 2>/dev/null || :
bad=$(grep -L 'running (supervisor pid' "$WORK"/start.*)
[ -z "$bad" ] || fail "starts failed: $(cat $bad)"
ae gc >>"$WORK/gcloop.out" 2>&1 # one more after the last start
i=1
while [ $i -le $N ]; do
	q=$(cat "$WORK/run/vms/r$i/qemu.pid" 2>/dev/null) || fail "r$i has no QEMU pid"
	kill -0 "$q" 2>/dev/null || fail "r$i: its QEMU (pid $q) was killed"
	i=$((i + 1))
done
taps=$(ip -o link show master "$LC_BR" | awk -F': ' '{print $2}' | sed 's/@.*//' | grep -c "^$LC_PREFIX")
[ "$taps" = "$N" ] || fail "$taps TAP devices for $N live VMs after gc ran during their starts: $(cat "$WORK/gcloop.out")"
pass "gc in a loop during $N parallel starts: every live VM keeps its QEMU and TAP device"
i=1
while [ $i -le $N ]; do
	ae stop "r$i" --force >/dev/null 2>&1 &
	i=$((i + 1))
done
wait

# --- orphaned QEMUs: exact identity, our user -------------------------------
# Decoys: sh loops whose argv is what gc looks at.
decoy() { # NAME ARGS...: a process with that argv; its pid in $WORK/NAME.pid
	_n=$1; shift
	sh -c 'while :; do sleep 1; done' "decoy-$_n" "$@" &
	echo $! >"$WORK/$_n.pid"
}
A=$WORK/run
mkdir -p "$WORK/other$A/vms/x"
decoy longer -chardev "socket,id=qmp0,path=$WORK/other$A/vms/x/qmp.sock,server=on,wait=off"
decoy loose "$A/vms/x/qmp.sock"
OTHER=nobody
id -u "$OTHER" >/dev/null 2>&1 || OTHER=aether-test2
id -u "$OTHER" >/dev/null 2>&1 || useradd -r -M -s /usr/sbin/nologin "$OTHER" ||
	skip "no second user"
setpriv --reuid="$(id -u "$OTHER")" --regid="$(id -g "$OTHER")" --clear-groups -- \
	sh -c 'while :; do sleep 1; done' decoy-theirs -chardev "socket,id=qmp0,path=$A/vms/x/qmp.sock,server=on" &
echo $! >"$WORK/theirs.pid"
decoy orphan -name "guest=x,process=aether-x" -chardev "socket,id=qmp0,path=$A/vms/x/qmp.sock,server=on,wait=off"
sleep 0.3
for d in longer loose theirs orphan; do
	kill -0 "$(cat "$WORK/$d.pid")" || fail "decoy $d did not start"
done
ae gc >"$WORK/gc2.out" 2>&1 || { cat "$WORK/gc2.out" >&2; fail "gc failed"; }
cat "$WORK/gc2.out" >&2
kill -0 "$(cat "$WORK/longer.pid")" 2>/dev/null ||
	fail "gc killed a process of another runtime root whose path contains ours ($WORK/other$A)"
pass "a process naming $WORK/other$A/vms/... is not root $A's QEMU"
kill -0 "$(cat "$WORK/loose.pid")" 2>/dev/null ||
	fail "gc killed a process that names the QMP socket outside -chardev"
pass "a process that merely names our QMP socket path is left alone"
kill -0 "$(cat "$WORK/theirs.pid")" 2>/dev/null ||
	fail "gc killed $OTHER's process"
expect "$WORK/gc2.out" "runs as uid $(id -u "$OTHER"): left alone" "another user's look-alike is left alone, and gc says so"
sleep 0.2
if kill -0 "$(cat "$WORK/orphan.pid")" 2>/dev/null &&
   [ "$(sed 's/^.*) //' "/proc/$(cat "$WORK/orphan.pid")/stat" | cut -c1)" != Z ]; then
	fail "gc did not kill the orphaned QEMU of VM x"
fi
pass "the real orphan (our QMP socket in -chardev, VM not live) is killed"
for d in longer loose theirs; do kill "$(cat "$WORK/$d.pid")" 2>/dev/null; done
wait 2>/dev/null
exit 0
