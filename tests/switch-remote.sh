#!/bin/sh
# switch-remote.sh - the live backend switch through the broker: `aether
# remote network switch|show` reach the VM's owner only and run there as
# the local command.  Two hosts (a and b) serve; a switchable guest made on
# host a (slirp, mode = libslirp) pings its gateway every 100 ms
# (aether.follow).  Checked:
#   - remote network switch to slirp with --set net=10.0.3.0/24 --persist:
#     the guest takes a lease on the new subnet, the forward added before
#     is carried over (remote forward list), host a's VM file now says
#     net = 10.0.3.0/24; only host a's agent ran the request;
#   - remote network show: the backend, the new option, the attachment;
#   - a backend no host has and a value with a newline (sent raw) are
#     refused with errors naming them; the guest is still on 10.0.3.0/24.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
. "$top_srcdir/tests/agent-lib.sh"
ag_enter "$@"
ag_setup
[ "$(slirp_has_libslirp)" = yes ] ||
	skip "the slirp plugin has no libslirp (mode = libslirp): a switchable VM cannot use it"
guest
for h in a b; do
	ag_host "$h" '' 'switchable = yes'
	sed -i 's/^mode = qemu$/mode = libslirp/' "$WORK/$h/host.conf"
	cp "$GUEST_KERNEL" "$WORK/$h/images/vmlinuz"
	cp "$GUEST_INITRD" "$WORK/$h/images/initrd.img"
	ag_serve "$h"
done
CON=$WORK/a/store/vms/web1/console.log

rem --host host-a create web1 --image base.qcow2 --memory 128 --kernel vmlinuz \
	--initrd initrd.img --append "console=ttyS0 quiet panic=-1 aether.follow=forever" \
	>"$WORK/create" 2>&1 || fail "remote create: $(cat "$WORK/create")"
expect "$WORK/create" '^web1: running on host host-a$' "remote create boots web1 on host a"
wait_for "$CON" 'AETHER-GUEST: follow ping gw=10\.0\.2\.2 replies=[1-9]' 150 ||
	fail "the guest did not come up on slirp: $(grep -a GUEST "$CON" | tail -5)"
mac=$(grep -a -o 'follow start iface=[^ ]* mac=[0-9a-f:]*' "$CON" | head -n 1 | sed 's/.*mac=//')
[ -n "$mac" ] || fail "no follow start line with the MAC: $(grep -a GUEST "$CON" | tail -5)"
PORT=$(free_port)
rem forward add web1 tcp "127.0.0.1:$PORT" 22 >"$WORK/fwd" 2>&1 ||
	fail "remote forward add: $(cat "$WORK/fwd")"

# The switch, through the broker to the owner.
grep -c 'network' "$WORK/b/agent.log" >"$WORK/b.before"
n=$(wc -l <"$CON")
rem network switch web1 slirp --set net=10.0.3.0/24 --persist >"$WORK/switch" 2>&1 ||
	fail "remote network switch: $(cat "$WORK/switch")"
expect "$WORK/switch" 'web1: now on backend slirp' "remote network switch ran on the owner"
expect "$WORK/switch" 'host-a' "the reply names host a"
grep -q 'dropped' "$WORK/switch" && fail "the forward was dropped in a slirp to slirp switch: $(cat "$WORK/switch")"
i=0
until tail -n "+$((n + 1))" "$CON" | grep -aEq "AETHER-GUEST: lease ip=10\.0\.3\.[0-9]+ .*mac=$mac"; do
	i=$((i + 1))
	[ $i -lt 1200 ] || fail "no lease in 10.0.3.0/24 after the switch: $(grep -a GUEST "$CON" | tail -8)"
	sleep 0.1
done
pass "the guest took a lease on 10.0.3.0/24 with its MAC $mac"
rem forward list web1 >"$WORK/fwdlist" 2>&1 || fail "remote forward list: $(cat "$WORK/fwdlist")"
expect "$WORK/fwdlist" "tcp 127\.0\.0\.1:$PORT 22" "the forward was carried over to the new slirp"
grep -q 'network web1: done' "$WORK/a/agent.log" ||
	{ cat "$WORK/a/agent.log" >&2; fail "host a's agent did not run the switch"; }
[ "$(grep -c 'network' "$WORK/b/agent.log")" = "$(cat "$WORK/b.before")" ] ||
	{ cat "$WORK/b/agent.log" >&2; fail "host b's agent saw the switch of host a's VM"; }
pass "only the owner (host a) ran the switch"
grep -Eq '^net *= *10\.0\.3\.0/24' "$WORK/a/store/vms/web1/vm.conf" ||
	{ cat "$WORK/a/store/vms/web1/vm.conf" >&2; fail "--persist did not write net = 10.0.3.0/24 into the VM file"; }
pass "--persist through the broker rewrote host a's VM file"

rem network show web1 >"$WORK/show" 2>&1 || fail "remote network show: $(cat "$WORK/show")"
expect "$WORK/show" '^backend slirp' "remote network show: the backend"
expect "$WORK/show" '^option net 10\.0\.3\.0/24' "remote network show: the new option"
expect "$WORK/show" '^attachment frame ' "remote network show: the attachment"

# Refused: a backend nobody has; a value with a newline.
rem network switch web1 nosuch >"$WORK/nosuch" 2>&1 && fail "a switch to backend nosuch succeeded"
expect "$WORK/nosuch" "nosuch" "a switch to an unknown backend is refused naming it"
rem raw '{"command": "network", "options": {"name": "web1", "action": "switch", "backend": "slirp", "set": ["net=10.0.4.0/24\nx"]}}' \
	--to vm:web1 >"$WORK/nl" 2>&1 && grep -q '"success"' "$WORK/nl" && fail "a value with a newline was taken: $(cat "$WORK/nl")"
expect "$WORK/nl" 'control character' "a value with a newline is refused"
n=$(wc -l <"$CON")
i=0
until tail -n "+$((n + 1))" "$CON" | grep -aq 'AETHER-GUEST: follow ping gw=10\.0\.3\.2 replies=[1-9]'; do
	i=$((i + 1))
	[ $i -lt 600 ] || fail "the guest stopped pinging 10.0.3.2 after the refused requests"
	sleep 0.1
done
pass "the guest still pings 10.0.3.2"

rem stop web1 --force >/dev/null 2>&1 || fail "remote stop"
rem delete web1 >/dev/null 2>&1 || fail "remote delete"
