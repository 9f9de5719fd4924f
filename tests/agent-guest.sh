#!/bin/sh
# agent-guest.sh - a real Linux guest through the broker: `aether remote
# create` (kernel and initrd named from the host's image directory, an
# init script delivered by cloud-init seed), the guest boots under the
# host agent and takes its DHCP lease from slirp; `aether remote status`
# shows the address, `aether remote console` its serial log; a graceful
# remote stop powers it off by ACPI; delete leaves nothing.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
. "$top_srcdir/tests/agent-lib.sh"
ag_enter "$@"
ag_setup
guest
ag_host g
cp "$GUEST_KERNEL" "$WORK/g/images/vmlinuz"
cp "$GUEST_INITRD" "$WORK/g/images/initrd.img"
ag_serve g
printf '#!/bin/sh\necho hello from the init script\n' >"$WORK/init.sh"

rem create web1 --image base.qcow2 --memory 128 --kernel vmlinuz --initrd initrd.img \
	--append "console=ttyS0 aether.hold=forever" --init-script "$WORK/init.sh" \
	>"$WORK/create" 2>&1 || fail "remote create: $(cat "$WORK/create")"
expect "$WORK/create" '^web1: running on host host-g$' "remote create boots web1 on host g"
expect "$WORK/create" 'web1: accepted by host host-g' "the create was acknowledged before it ran"
wait_for "$WORK/g/store/vms/web1/console.log" 'AETHER-GUEST: (holding|lease-fail)' 150 ||
	fail "the guest did not come up: $(tail -5 "$WORK/g/store/vms/web1/console.log")"

rem console web1 >"$WORK/console" 2>&1 || fail "remote console: $(cat "$WORK/console")"
expect "$WORK/console" 'AETHER-GUEST: lease ip=10\.0\.2\.15' "remote console: the guest's DHCP lease on its serial log"
rem status web1 >"$WORK/status" 2>&1 || fail "remote status: $(cat "$WORK/status")"
expect "$WORK/status" '"address": "10\.0\.2\.15"' "remote status shows the guest's address"
expect "$WORK/status" '"state": "running"' "remote status: running"
[ -f "$WORK/g/store/vms/web1/seed.img" ] || fail "no cloud-init seed made for --init-script"
mcopy -i "$WORK/g/store/vms/web1/seed.img" ::user-data - 2>/dev/null | grep -q 'hello from the init script' ||
	fail "the seed does not carry the init script"
pass "the init script travelled in the request into the VM's cloud-init seed"

con=$WORK/g/store/vms/web1/console.log
grep -q 'acpi-power-button\|reboot: Power down' "$con" &&
	fail "web1 powered off before the stop: $(tail -5 "$con")"
rem stop web1 --timeout 60 >"$WORK/stop" 2>&1 || fail "remote stop: $(cat "$WORK/stop")"
expect "$WORK/stop" 'web1: stopped \(host host-g\)' "remote stop"
# The stop was the guest powering itself off on the ACPI power button:
# its acpid handler says acpi-power-button (a guest that ignores the
# button, stopped by QEMU quit after the timeout, never does), then its
# kernel powers the machine off (a QEMU quit leaves no such line).
expect "$con" 'AETHER-GUEST: acpi-power-button' "the guest saw the ACPI power button"
expect "$con" 'reboot: Power down' "the guest's kernel powered the machine off"
expect "$WORK/g/store/vms/web1/state" '^state=stopped$' "web1 is recorded stopped"
rem delete web1 >"$WORK/delete" 2>&1 || fail "remote delete: $(cat "$WORK/delete")"
[ -z "$(vms_of g)" ] || fail "VMs left: $(vms_of g)"
[ -z "$(ls "$WORK/g/run/vms" 2>/dev/null)" ] || fail "runtime dirs left: $(ls "$WORK/g/run/vms")"
pass "remote stop and delete leave nothing"
ag_stop g
