#!/bin/sh
# End to end with the VDE backend, as an ordinary user (nobody when run as
# root): `aether run` boots the real test guest on a VDE switch whose DHCP
# server is libvdeplug's slirp module plugged in with vde_plug; the guest
# takes a lease and reaches a TCP server on the host's loopback through
# 10.0.2.2.
#   1. cold: aether starts the switch itself (managed), slirp is plugged in
#      as soon as the switch exists, and the switch is stopped and its
#      directory removed when the VM leaves.
#   2. warm: a switch somebody else runs is reused, and left running.
. "${top_srcdir:-.}/tests/lib.sh"

need qemu-system-x86_64 vde_switch vde_plug setpriv
for d in /usr/lib/*/vdeplug /usr/lib/vdeplug /usr/local/lib/vdeplug; do
	[ -f "$d/libvdeplug_slirp.so" ] && SLIRP_MOD=$d/libvdeplug_slirp.so
done
[ -n "${SLIRP_MOD:-}" ] || skip "libvdeplug's slirp module is not installed (libvdeplug-slirp)"

# As root, the test runs as nobody, who must see the build tree.  A clone
# under /root (0700) is shown to nobody through bind mounts in a private
# mount namespace: this stage runs as root inside it.
if [ "${VDE_E2E_STAGE:-}" = mount ]; then
	W=$VDE_E2E_WORK # not WORK: that one the outer part removes
	mount --make-rprivate / || fail "mount --make-rprivate /"
	mkdir -p "$W/src" "$W/bld"
	mount --bind "$top_srcdir" "$W/src" || fail "bind mount $top_srcdir"
	mount --bind "$top_builddir" "$W/bld" || fail "bind mount $top_builddir"
	# the program itself: nobody needs no root wrapper (tests/lib.sh)
	AETHER=$W/bld/${AETHER_BIN#"$top_builddir"/}
	pp=
	for d in $(echo "$AETHER_PLUGIN_PATH" | tr ':' ' '); do
		pp=$pp${pp:+:}$W/bld/${d#"$top_builddir"/}
	done
	exec setpriv --reuid=nobody --regid=nogroup --clear-groups \
		env VDE_E2E_STAGE= VDE_E2E_INNER=1 top_srcdir="$W/src" top_builddir="$W/bld" \
		AETHER="$AETHER" AETHER_BIN="$AETHER" AETHER_PLUGIN_PATH="$pp" \
		U="$U" GUEST_KERNEL="$GUEST_KERNEL" GUEST_INITRD="$GUEST_INITRD" \
		HOME="$U" XDG_RUNTIME_DIR="$U/xdg" /bin/sh "$W/src/tests/vde-e2e.sh"
fi

if [ "${VDE_E2E_INNER:-}" != 1 ]; then
	make_work
	guest
	U=$WORK/user
	mkdir -p "$U"
	chmod 0700 "$U"
	run_as=
	if [ "$(id -u)" = 0 ]; then
		chown nobody:nogroup "$U"
		run_as="setpriv --reuid=nobody --regid=nogroup --clear-groups"
		# nobody's own copy of the guest
		cp "$GUEST_KERNEL" "$U/kernel" && cp "$GUEST_INITRD" "$U/initrd.img" ||
			fail "cannot copy the test guest to $U"
		chown nobody:nogroup "$U/kernel" "$U/initrd.img"
		GUEST_KERNEL=$U/kernel GUEST_INITRD=$U/initrd.img
		if ! $run_as test -r "$top_builddir/plugins/vde/.libs/vde.so" -a \
		     -x "$AETHER_BIN" -a -r "$top_srcdir/tests/lib.sh"; then
			need unshare
			log "nobody cannot read the build tree: bind-mounting it"
			rc=0
			VDE_E2E_WORK=$WORK U=$U GUEST_KERNEL=$GUEST_KERNEL GUEST_INITRD=$GUEST_INITRD \
				VDE_E2E_STAGE=mount unshare -m /bin/sh "$0" || rc=$?
			for p in $(pgrep -f "$U" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
			exit $rc
		fi
	fi
	rc=0
	$run_as env VDE_E2E_INNER=1 U="$U" GUEST_KERNEL="$GUEST_KERNEL" \
		GUEST_INITRD="$GUEST_INITRD" HOME="$U" XDG_RUNTIME_DIR="$U/xdg" \
		/bin/sh "$0" || rc=$?
	# whatever the inner part left behind (it runs as another user)
	for p in $(pgrep -f "$U" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
	exit $rc
fi

# ------------------------------------------------------------------ inner
WORK=  # the outer part removes it
unset AETHER_RUNTIME_DIR
mkdir -p "$XDG_RUNTIME_DIR"
chmod 0700 "$XDG_RUNTIME_DIR"
log "running as $(id -un) (uid $(id -u)), XDG_RUNTIME_DIR=$XDG_RUNTIME_DIR"
SW=$XDG_RUNTIME_DIR/aether/plugins/vde/switch

start_tcp_echo "$U"

write_conf() { # name console extra-network-lines
	cat >"$U/$1.conf" <<EOT
[vm]
name = $1
memory = 256
accel = tcg
reboot = no
kernel = $GUEST_KERNEL
initrd = $GUEST_INITRD
append = console=ttyS0 quiet panic=-1 aether.tcp=10.0.2.2:$PORT aether.ping=10.0.2.2
console = file:$U/$1.console

[network]
backend = vde

[network.vde]
$3
EOT
}

switch_pids() { # sock
	for d in /proc/[0-9]*; do
		cmd=$(tr '\0' ' ' <"$d/cmdline" 2>/dev/null) || continue
		case $cmd in "vde_switch "*" -s $1 "*) echo "${d#/proc/}" ;; esac
	done
}

check_guest() { # name
	expect "$U/$1.console" 'AETHER-GUEST: lease ip=10\.0\.2\.15 router=10\.0\.2\.2' \
		"$1: guest got a DHCP lease from slirp through the VDE switch"
	expect "$U/$1.console" 'AETHER-GUEST: ping-ok 10\.0\.2\.2' "$1: guest pinged the gateway"
	expect "$U/$1.console" "AETHER-GUEST: tcp-reply host-says hello-from-guest 10\.0\.2\.15" \
		"$1: guest reached the host's loopback server"
}

# --- 1. cold: aether starts the switch and stops it after the VM ----------
write_conf vde-cold x ""
"$AETHER" -c none check-config "$U/vde-cold.conf" || fail "check-config rejected a good file"
[ -z "$(switch_pids "$SW")" ] || fail "a switch runs before the test"
timeout 300 "$AETHER" -c none run "$U/vde-cold.conf" 2>"$U/aether1.err" &
APID=$!
at_exit "kill -9 $APID 2>/dev/null"
i=0
while [ ! -S "$SW/ctl" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
[ -S "$SW/ctl" ] || { cat "$U/aether1.err" >&2; fail "aether did not start a switch at $SW"; }
SWPID=$(switch_pids "$SW")
[ -n "$SWPID" ] || fail "no vde_switch process serves $SW"
pass "aether started vde_switch (pid $SWPID) at $SW"
vde_plug "vde://$SW" slirp:// </dev/null >"$U/plug1.log" 2>&1 &
PLUG=$!
at_exit "kill $PLUG 2>/dev/null"
rc=0; wait $APID || rc=$?
cat "$U/aether1.err" >&2
[ $rc -eq 0 ] || { cat "$U/vde-cold.console" >&2; fail "aether run exited $rc, want 0"; }
pass "aether run exited 0 after the guest powered off"
check_guest vde-cold
expect "$U/aether1.err" 'network detached' "network detached after poweroff"
i=0
while [ -n "$(switch_pids "$SW")" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
[ -z "$(switch_pids "$SW")" ] || fail "the managed switch still runs after the last VM left"
[ ! -e "$SW" ] || fail "the switch directory $SW was left behind"
pass "the last VM leaving stopped the switch and removed $SW"
i=0
while kill -0 $PLUG 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
kill -0 $PLUG 2>/dev/null && fail "vde_plug did not notice the switch stopping"

# --- 2. warm: a switch the user runs is reused and left running -----------
OWN=$U/own-switch
vde_switch -d -f /dev/null -s "$OWN" -p "$U/own.pid" || fail "vde_switch"
at_exit "kill \$(cat $U/own.pid) 2>/dev/null"
vde_plug "vde://$OWN" slirp:// </dev/null >"$U/plug2.log" 2>&1 &
PLUG2=$!
at_exit "kill $PLUG2 2>/dev/null"
write_conf vde-warm x "socket = $OWN"
rc=0
timeout 300 "$AETHER" -c none run "$U/vde-warm.conf" 2>"$U/aether2.err" || rc=$?
cat "$U/aether2.err" >&2
[ $rc -eq 0 ] || { cat "$U/vde-warm.console" >&2; fail "aether run exited $rc, want 0"; }
check_guest vde-warm
[ "$(switch_pids "$OWN")" = "$(cat "$U/own.pid")" ] ||
	fail "the user's own switch was stopped or replaced"
kill -0 $PLUG2 2>/dev/null || fail "vde_plug on the user's switch died"
pass "a switch aether did not start is reused and left running"
[ -z "$(ls -A "$XDG_RUNTIME_DIR/aether/vms" 2>/dev/null)" ] || fail "VM runtime dirs left behind"
pass "runtime directory cleaned"
