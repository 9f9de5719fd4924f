#!/bin/sh
# Port forwards changed at run time: `aether forward` talks to the running
# `aether run` over <vmdir>/control.sock.  For each slirp mode (libslirp:
# the plugin's forward verb; qemu: QMP hostfwd_add/remove), with the test
# guest listening on 8080: add a forward, connect through it, list it, see
# the errors (duplicate, port in use, bad syntax, no such forward), remove
# it and see the connection refused.
. "${top_srcdir:-.}/tests/lib.sh"

need qemu-system-x86_64 python3
make_work
guest
RUN=$WORK/run
export AETHER_RUNTIME_DIR=$RUN

# connect HOST PORT: prints the guest's reply line, or "refused"
connect() {
	python3 - "$1" "$2" <<'PY'
import socket, sys
try:
    s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)
    s.sendall(b"hello-from-host\n")
    print(s.makefile().readline().strip())
except ConnectionRefusedError:
    print("refused")
except Exception as e:
    print("error %s" % e)
PY
}

modes="qemu"
has=$(slirp_has_libslirp) || exit 1
[ "$has" = yes ] && modes="libslirp qemu"
log "slirp modes tested: $modes"

for mode in $modes; do
	name=fwd-$mode
	cat >"$WORK/$name.conf" <<EOT
[vm]
name = $name
memory = 256
accel = tcg
reboot = no
stop_timeout = 10
kernel = $GUEST_KERNEL
initrd = $GUEST_INITRD
append = console=ttyS0 quiet panic=-1 aether.listen=8080 aether.hold=forever
console = file:$WORK/$name.log

[network]
backend = slirp

[network.slirp]
mode = $mode
EOT
	"$AETHER" -c none run "$WORK/$name.conf" 2>"$WORK/$name.err" &
	APID=$!
	at_exit "kill -9 $APID 2>/dev/null"
	wait_for "$WORK/$name.log" 'AETHER-GUEST: listening 8080' 120 ||
		{ cat "$WORK/$name.log" "$WORK/$name.err" >&2; fail "$mode: guest did not start listening"; }
	# if the test fails, do not leave QEMU behind the killed supervisor
	QPID=$(cat "$RUN/vms/$name/qemu.pid")
	at_exit "kill -9 $QPID 2>/dev/null"
	[ "$(stat -c %a "$RUN/vms/$name/control.sock")" = 600 ] || fail "$mode: control socket is not 0600"

	# slirp binds the new forward's host port: a candidate the kernel
	# gave out a moment ago (free_port), taken again if someone got it
	# first (EADDRINUSE), at most PORT_TRIES times
	try=1
	while :; do
		P=$(free_port) || exit 1
		rc=0; "$AETHER" -c none forward add $name tcp 127.0.0.1:$P 8080 2>"$WORK/e0" || rc=$?
		cat "$WORK/e0" >&2
		[ $rc -eq 0 ] && break
		port_in_use_error "$WORK/e0" "$P" && [ $try -lt $PORT_TRIES ] ||
			fail "$mode: forward add failed (exit $rc, port $P, try $try)"
		log "$mode: port $P was taken before slirp bound it: again with another ($try/$PORT_TRIES)"
		try=$((try + 1))
	done
	reply=$(connect 127.0.0.1 $P)
	[ "$reply" = "guest-says 10.0.2.15" ] ||
		fail "$mode: through the new forward got '$reply', want 'guest-says 10.0.2.15'"
	pass "$mode: forward added at run time reaches the guest"
	"$AETHER" -c none forward list $name >"$WORK/list" || fail "$mode: forward list failed"
	grep -qx "tcp 127.0.0.1:$P 8080" "$WORK/list" || { cat "$WORK/list" >&2; fail "$mode: list does not show the forward"; }
	pass "$mode: forward list shows it"

	rc=0; "$AETHER" -c none forward add $name tcp 127.0.0.1:$P 8080 2>"$WORK/e1" || rc=$?
	[ $rc -ne 0 ] && grep -q 'already forwarded' "$WORK/e1" || { cat "$WORK/e1" >&2; fail "$mode: duplicate add not refused"; }
	# a port someone else holds
	# (tcp-echo binds port 0, listens and reports the port it got)
	"$top_builddir/tests/tcp-echo" -p "$WORK/busy" &
	BPID=$!
	at_exit "kill $BPID 2>/dev/null"
	wait_for "$WORK/busy" '^[0-9]+$' 10 || fail "busy listener did not start"
	rc=0; "$AETHER" -c none forward add $name tcp 127.0.0.1:$(cat "$WORK/busy") 8080 2>"$WORK/e2" || rc=$?
	[ $rc -ne 0 ] && grep -q 'EADDRINUSE' "$WORK/e2" || { cat "$WORK/e2" >&2; fail "$mode: busy port not reported as in use"; }
	kill $BPID 2>/dev/null; rm -f "$WORK/busy"
	rc=0; "$AETHER" -c none forward add $name tcp 127.0.0.1:notaport 8080 2>"$WORK/e3" || rc=$?
	[ $rc -eq 2 ] && grep -q 'not a port' "$WORK/e3" || { cat "$WORK/e3" >&2; fail "$mode: bad syntax not reported (rc $rc)"; }
	pass "$mode: duplicate, port in use and bad syntax come back as errors"

	"$AETHER" -c none forward remove $name tcp 127.0.0.1:$P || fail "$mode: forward remove failed"
	reply=$(connect 127.0.0.1 $P)
	[ "$reply" = refused ] || fail "$mode: after remove got '$reply', want refused"
	rc=0; "$AETHER" -c none forward remove $name tcp 127.0.0.1:$P 2>"$WORK/e4" || rc=$?
	[ $rc -ne 0 ] && grep -q 'ENOENT' "$WORK/e4" || { cat "$WORK/e4" >&2; fail "$mode: removing a missing forward not reported"; }
	pass "$mode: forward removed at run time, connection refused"

	# the control socket: stats, and other users refused even when the
	# directory and socket modes would let them in (the server answers
	# such a client at once and closes, so it only reads)
	sock=$RUN/vms/$name/control.sock
	ctl() { python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(sys.argv[2].encode()+b"\n"); s.shutdown(1); print(s.makefile().read(), end="")' "$@"; }
	ctl "$sock" stats >"$WORK/stats" || fail "$mode: stats request failed"
	if [ $mode = libslirp ]; then
		grep -Eq '^relay to-net frames=[1-9][0-9]* bytes=[1-9][0-9]* drops=[0-9]+; to-guest frames=[1-9]' "$WORK/stats" ||
			{ cat "$WORK/stats" >&2; fail "$mode: no relay counters from stats"; }
		pass "$mode: relay counters through the control socket"
	fi
	# Another user is needed: as root, nobody; not root, the check cannot
	# run (a skip, which fails in strict mode, never a silent pass).
	if [ "$(id -u)" != 0 ]; then
		peer_skip="the control socket's peer-credential check needs root (to be another user)"
	else
		command -v setpriv >/dev/null 2>&1 ||
			fail "setpriv (util-linux) is needed for the peer-credential check"
		[ -x /usr/bin/python3 ] ||
			fail "/usr/bin/python3 is needed for the peer-credential check"

		chmod 0711 "$RUN" "$RUN/vms" "$RUN/vms/$name"; chmod 0666 "$sock"
		out=$(setpriv --reuid=65534 --regid=65534 --clear-groups sh -c "/usr/bin/python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); print(s.makefile().read(), end=\"\")' $sock" 2>&1)
		chmod 0700 "$RUN/vms/$name"; chmod 0600 "$sock"
		case "$out" in
		"error EPERM"*) pass "$mode: another user is refused by the control socket" ;;
		*) fail "$mode: another user got '$out' from the control socket" ;;
		esac
	fi

	kill -TERM $APID
	rc=0; wait $APID || rc=$?
	[ $rc -eq 143 ] || { cat "$WORK/$name.err" >&2; fail "$mode: aether run exited $rc after SIGTERM, want 143"; }
	grep -q "forward added" "$WORK/$name.err" || { cat "$WORK/$name.err" >&2; fail "$mode: no log of the forward change"; }
	[ ! -e "$RUN/vms/$name" ] || fail "$mode: runtime dir left behind"
	pass "$mode: stopped cleanly"
done
[ -z "${peer_skip:-}" ] || skip "$peer_skip (every other check passed)"
exit 0
