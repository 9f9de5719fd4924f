#!/bin/sh
# lifecycle-cli.sh - the VM store commands with kernel-less stub VMs (QEMU
# sits in its firmware): bad input gives clear errors and leaves nothing
# half made; create/start/status/list/stop/delete; stop falls back to QMP
# quit when the guest ignores the power button; MAC collisions are refused.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
. "$top_srcdir/tests/lifecycle-lib.sh"
lc_enter "$@"
lc_setup

store_is() { # the names in the store, space separated
	got=$(ls -A "$WORK/store/vms" | tr '\n' ' ')
	[ "$got" = "$1" ] || fail "store holds '$got', expected '$1' ($2)"
}

# --- bad input: clear errors, nothing made -------------------------------
ae_expect 2 'usage' create
ae_expect 2 'usage' create only-a-name
ae_expect 2 "invalid option -- 'x'" create -x --image "$WORK/base.qcow2"
for bad in '../evil' 'a/b' '.hidden' '-x' 'sp ace' '' \
	'0123456789012345678901234567890123456789012345678901234567890123456789'; do
	# "--": the name itself must be refused, not taken for an option
	ae_expect 2 'is not a valid VM name' create --image "$WORK/base.qcow2" -- "$bad"
	grep -qF "'$bad' is not a valid VM name" "$WORK/err" ||
		fail "the error does not name '$bad': $(cat "$WORK/err")"
done
mkdir -p "$WORK/sub"
cd "$WORK/sub" || fail "cd"
ae_expect 1 "'\.\.' components" create t1 --image ../base.qcow2
ae_expect 1 "'\.\.' components" create t1 --image "$WORK/sub/../base.qcow2"
ae_expect 1 'No such file' create t1 --image "$WORK/missing.qcow2"
ae_expect 1 'not a regular file' create t1 --image "$WORK/sub"
ae_expect 1 'not a regular file' create t1 --image /dev/null
cd "$WORK" || fail "cd"
ae_expect 2 'not a unicast MAC' create t1 --image base.qcow2 --mac 01:00:5e:00:00:01
ae_expect 2 'not a unicast MAC' create t1 --image base.qcow2 --mac zz
ae_expect 2 'MiB' create t1 --image base.qcow2 --memory 1
ae_expect 2 'not a backend name' create t1 --image base.qcow2 --backend ../x
ae_expect 1 'nosuch' create t1 --image base.qcow2 --backend nosuch
ae_expect 1 'No such file' create t1 --image base.qcow2 --init-script "$WORK/nope"
store_is "" "after bad input"
pass "bad names, traversal, missing base, bad options: refused, nothing made"

# --- create ----------------------------------------------------------------
ae_expect 0 'created' create s1 --image base.qcow2
cp "$WORK/store/vms/s1/vm.conf" "$WORK/s1.conf"
ae_expect 1 'already exists' create s1 --image base.qcow2 --memory 64
cmp -s "$WORK/s1.conf" "$WORK/store/vms/s1/vm.conf" ||
	fail "a refused duplicate create changed the existing VM"
mac1=$(sed -n 's/^mac = //p' "$WORK/store/vms/s1/vm.conf")
ae_expect 1 'already used by VM s1' create s2 --image base.qcow2 --mac "$mac1"
store_is "s1 " "after the duplicates"
qemu-img info "$WORK/store/vms/s1/disk.qcow2" | grep -q "backing file: $WORK/base.qcow2" ||
	fail "disk.qcow2 is not an overlay on the base"
ae_expect 0 'created' create s2 --image base.qcow2
mac2=$(sed -n 's/^mac = //p' "$WORK/store/vms/s2/vm.conf")
u1=$(sed -n 's/^uuid = //p' "$WORK/store/vms/s1/vm.conf")
u2=$(sed -n 's/^uuid = //p' "$WORK/store/vms/s2/vm.conf")
[ "$mac1" != "$mac2" ] && [ "$u1" != "$u2" ] && [ -n "$u1" ] ||
	fail "MACs ($mac1 $mac2) or UUIDs ($u1 $u2) not unique"
pass "create: overlay, unique MAC and UUID, duplicates refused"

# cloud-init seed (when the tools are there)
if command -v mkfs.vfat >/dev/null && command -v mcopy >/dev/null; then
	printf '#!/bin/sh\necho hello\n' >"$WORK/init.sh"
	ae_expect 0 'cloud-init seed' create c1 --image base.qcow2 --init-script init.sh
	seed=$WORK/store/vms/c1/seed.img
	MTOOLS_SKIP_CHECK=1 mdir -i "$seed" :: >"$WORK/mdir" 2>&1 || fail "mdir: $(cat "$WORK/mdir")"
	grep -qi 'CIDATA' "$WORK/mdir" || fail "seed label is not cidata: $(cat "$WORK/mdir")"
	MTOOLS_SKIP_CHECK=1 mtype -i "$seed" ::meta-data >"$WORK/md" || fail "no meta-data"
	c1u=$(sed -n 's/^uuid = //p' "$WORK/store/vms/c1/vm.conf")
	grep -q "^instance-id: i-$c1u\$" "$WORK/md" || fail "instance-id: $(cat "$WORK/md")"
	grep -q '^local-hostname: c1$' "$WORK/md" || fail "local-hostname: $(cat "$WORK/md")"
	MTOOLS_SKIP_CHECK=1 mtype -i "$seed" ::user-data | grep -q 'echo hello' || fail "user-data"
	ae_expect 0 deleted delete c1
	pass "cloud-init NoCloud seed: label cidata, unique instance-id, hostname"
else
	soft_skip "no mkfs.vfat/mcopy (dosfstools, mtools): seed check not run"
fi

# --- start, status, list -------------------------------------------------------
ae_expect 1 'not running' stop s1
ae_expect 0 'running \(supervisor pid' start s1
ae_expect 1 'already running' start s1
ae_expect 0 '' status s1
grep -q '^state: *running' "$WORK/out" || fail "status: $(cat "$WORK/out")"
ae_expect 0 '' list --json
grep -q '"name":"s1","state":"running"' "$WORK/out" || fail "list --json: $(cat "$WORK/out")"
grep -q '"name":"s2","state":"created"' "$WORK/out" || fail "list --json: $(cat "$WORK/out")"
if command -v python3 >/dev/null 2>&1; then # strict: UTF-8, no raw controls
	strict_json='import json,sys; json.loads(sys.stdin.buffer.read().decode("utf-8"))'
	python3 -c "$strict_json" <"$WORK/out" || fail "list --json is not JSON: $(cat "$WORK/out")"
	ae_expect 0 '' status s1 --json
	python3 -c "$strict_json" <"$WORK/out" || fail "status --json is not JSON: $(cat "$WORK/out")"
fi

# --- addresses: only observed ones carry their source --------------------
# A slirp VM whose guest (firmware only) never asks for an address: the
# one slirp's DHCP would hand out is shown as expected, not as observed.
ae_expect 0 'created' create e1 --image base.qcow2 --backend slirp
ae_expect 0 'running \(supervisor pid' start e1
ae_expect 0 '' status e1
grep -qx 'address: *10\.0\.2\.15(expected)' "$WORK/out" ||
	fail "status: slirp's address not shown as expected: $(cat "$WORK/out")"
ae_expect 0 '' list
grep -Eq '^e1 .* 10\.0\.2\.15\(expected\)$' "$WORK/out" ||
	fail "list: slirp's address not shown as expected: $(cat "$WORK/out")"
ae_expect 0 '' status e1 --json
grep -q '"addresses":\[{"address":"10\.0\.2\.15","source":"expected"}\]' "$WORK/out" ||
	fail "status --json: slirp's address not expected: $(cat "$WORK/out")"
ae_expect 0 '' list --json
if grep -q 'slirp-dhcp' "$WORK/out"; then
	fail "list --json labels an address nobody observed: $(cat "$WORK/out")"
fi
ae_expect 0 'stopped' stop e1 --timeout 0
ae_expect 0 'deleted' delete e1
pass "addresses nobody observed are labelled expected (text and JSON)"

ae_expect 1 'is running' delete s1
qpid=$(cat "$WORK/run/vms/s1/qemu.pid")
tr '\0' '\n' <"/proc/$qpid/cmdline" >"$WORK/cmdline"
grep -qx "$u1" "$WORK/cmdline" && grep -qx "type=1,serial=aether-$u1" "$WORK/cmdline" ||
	fail "QEMU does not get the VM's SMBIOS UUID/serial: $(cat "$WORK/cmdline")"
[ -d "$WORK/store/vms/s1" ] || fail "delete of a running VM removed it"
pass "start, status, list; a running VM is not deleted without --force"

# --- stop: the stub ignores the power button: QMP quit after the timeout ----
ae_expect 0 'stopped \(QEMU quit\)' stop s1 --timeout 1
ae_expect 3 '' status s1
grep -q '^state: *stopped' "$WORK/out" || fail "status after stop: $(cat "$WORK/out")"
ae_expect 1 'not running' stop s1
pass "stop falls back to QMP quit; stopping a stopped VM is an error"

# --- as root, QEMU runs as the configured user ---------------------------------
if ! id nobody >/dev/null 2>&1; then
	soft_skip "no user 'nobody': the user-drop check not run"
else
	ae_expect 0 created create u1 --image base.qcow2 --user nobody
	ae_expect 0 running start u1
	qpid=$(cat "$WORK/run/vms/u1/qemu.pid")
	quid=$(awk '/^Uid:/ {print $2}' "/proc/$qpid/status")
	[ "$quid" = "$(id -u nobody)" ] || fail "QEMU runs as uid $quid, not nobody"
	ae_expect 0 stopped stop u1 --force
	ae_expect 0 deleted delete u1
	pass "user = nobody: QEMU drops to that user"
fi

# --- guest agent channel: asked with a short timeout when the guest has none ---
# (s2 was made without --backend: its file ends in [vm])
echo "guest_agent = yes" >>"$WORK/store/vms/s2/vm.conf"
ae_expect 0 running start s2
tr '\0' '\n' <"/proc/$(cat "$WORK/run/vms/s2/qemu.pid")/cmdline" |
	grep -q 'name=org.qemu.guest_agent.0' || fail "no guest agent channel"
rc=0
timeout 60 "$AETHER" -c "$WORK/host.conf" status s2 >"$WORK/out" 2>&1 || rc=$?
[ $rc -eq 0 ] || { cat "$WORK/out" >&2; fail "status with an absent guest agent: exit $rc (124: it hung)"; }
ae_expect 0 stopped stop s2 --force
pass "guest_agent = yes: agent channel; status does not hang without an agent"

# --- crashes: the record is checked against what runs ---------------------------
ae_expect 0 running start s1
kill -9 "$(cat "$WORK/run/vms/s1/qemu.pid")"
i=0
until ae status s1 >"$WORK/out" 2>&1; grep -Eq '^state: *(crashed|stopped)' "$WORK/out"; do
	i=$((i + 1)); [ $i -lt 100 ] || fail "status still running after QEMU was killed"
	sleep 0.05
done
grep -q '^state: *crashed (QEMU was killed)' "$WORK/out" || fail "after kill -9 of QEMU: $(cat "$WORK/out")"
ae_expect 0 running start s1
sup=$(cat "$WORK/run/vms/s1/pid")
kill -9 "$sup"
# kill(2) returns before the process is gone: wait until it is dead (a
# zombie or reaped), so list is asked about a supervisor that really died.
i=0
while [ -e "/proc/$sup" ] && ! grep -q ') [ZX] ' "/proc/$sup/stat" 2>/dev/null; do
	i=$((i + 1)); [ $i -lt 100 ] || fail "supervisor $sup survived kill -9"
	sleep 0.05
done
ae_expect 0 '' list
grep -q '^s1 *crashed' "$WORK/out" || fail "list after kill -9 of the supervisor: $(cat "$WORK/out")"
ae_expect 3 'supervisor died, QEMU pid [0-9]+ still runs' status s1
ae_expect 0 'cleaned up after a crashed supervisor' stop s1
ae_expect 3 '' status s1
lc_assert_clean "after kill -9 of QEMU, then of the supervisor, and stop"

# --- force paths ---------------------------------------------------------------
ae_expect 0 running start s1
ae_expect 0 'stopped' stop s1 --force
ae_expect 0 running start s2
ae_expect 0 deleted delete s2 --force
ae_expect 0 deleted delete s1
ae_expect 1 'no VM named s1' delete s1
ae_expect 1 'no VM named' start nosuch
store_is "" "after deleting everything"
lc_assert_clean "lifecycle"
exit 0
