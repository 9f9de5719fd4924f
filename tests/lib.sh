# tests/lib.sh - shared helpers for the shell tests (sourced).
# Environment from the Makefile: AETHER, top_srcdir, top_builddir,
# AETHER_PLUGIN_PATH.
set -u

: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
: "${AETHER:=$top_builddir/aether}"

# As root aether ignores AETHER_PLUGIN_PATH (sudo -E would hand it a
# user's): the tests hand it their plugin directories with --plugin-path.
# $AETHER becomes a script that does that; AETHER_BIN stays the program.
: "${AETHER_BIN:=$AETHER}"
if [ "$(id -u)" = 0 ] && [ "$AETHER" = "$AETHER_BIN" ] &&
   [ -d "$top_builddir/tests" ] && [ -w "$top_builddir/tests" ]; then
	_aw=$top_builddir/tests/aether-as-root
	printf '#!/bin/sh\n# made by tests/lib.sh\nexec %s --plugin-path "${AETHER_PLUGIN_PATH:-}" "$@"\n' \
		"'$AETHER_BIN'" >"$_aw.$$" && chmod 0755 "$_aw.$$" &&
		mv -f "$_aw.$$" "$_aw" && AETHER=$_aw
fi
export AETHER AETHER_BIN

TEST_NAME=$(basename "$0" .sh)
WORK=
_cleanups=

log() { printf '%s: %s\n' "$TEST_NAME" "$*" >&2; }
skip() { log "SKIP: $*"; exit 77; }
fail() { log "FAIL: $*"; exit 1; }
pass() { log "PASS: $*"; }
# A part of a test that cannot run here: noted, and the rest goes on; a
# failure under AETHER_TEST_STRICT=1 (CI), where everything must run.
soft_skip() {
	[ "${AETHER_TEST_STRICT:-0}" != 1 ] || fail "cannot run (AETHER_TEST_STRICT=1): $*"
	log "SKIP (part): $*"
}

# Register a command to run at exit (last registered runs first).
at_exit() { _cleanups="$*; $_cleanups"; }
_run_cleanups() {
	rc=$?
	set +e
	eval "$_cleanups"
	[ -n "$WORK" ] && [ -z "${KEEP_WORK:-}" ] && rm -rf "$WORK"
	exit $rc
}
trap _run_cleanups EXIT
trap 'exit 130' INT TERM

make_work() {
	WORK=$(mktemp -d "${TMPDIR:-/tmp}/aether-$TEST_NAME.XXXXXX") ||
		fail "mktemp"
	chmod 0755 "$WORK"
}

# The Debian package that has a program need() looks for ("" if unknown).
debian_package() {
	case $1 in
	qemu-system-x86_64) echo qemu-system-x86 ;;
	qemu-img) echo qemu-utils ;;
	python3) echo python3 ;;
	busybox) echo busybox ;;
	vde_switch) echo vde-switch ;;
	vde_plug) echo vdeplug ;;
	setpriv | setsid | unshare) echo util-linux ;;
	timeout | env) echo coreutils ;;
	ip | ss) echo iproute2 ;;
	dnsmasq) echo dnsmasq-base ;;
	bash) echo bash ;;
	perl) echo perl-base ;;
	make) echo make ;;
	cc) echo gcc ;;
	pkg-config) echo pkgconf ;;
	abidw) echo abigail-tools ;;
	erl | epmd) echo erlang-base ;;
	amqp-declare-queue | amqp-get | amqp-publish) echo amqp-tools ;;
	mkfs.vfat) echo dosfstools ;;
	mcopy) echo mtools ;;
	socat) echo socat ;;
	*) echo "" ;;
	esac
}

# need PROGRAM...: a test that cannot run without them skips (exit 77; a
# failure under AETHER_TEST_STRICT=1, tests/strict.sh), naming the Debian
# package to install where known.
need() {
	for p in "$@"; do
		command -v "$p" >/dev/null 2>&1 && continue
		_pkg=$(debian_package "$p")
		if [ -n "$_pkg" ]; then
			skip "$p is not installed (Debian package: $_pkg; apt-get install $_pkg)"
		else
			skip "$p is not installed"
		fi
	done
}

# Build (or reuse) the test guest; sets GUEST_KERNEL and GUEST_INITRD.
guest() {
	# AETHER_GUEST_DIR lets several build trees (distcheck) share one.
	out=${AETHER_GUEST_DIR:-$top_builddir/tests/guest/out}
	# A guest that cannot be built (no kernel package to download, no
	# static busybox) is a failure, never a skip: every QEMU end-to-end
	# test depends on it.  The build log says why.
	if ! "$top_srcdir/tests/guest/build-guest.sh" "$out" >"$WORK/guest-build.log" 2>&1; then
		log "--- guest build log ($top_srcdir/tests/guest/build-guest.sh $out) ---"
		cat "$WORK/guest-build.log" >&2
		log "---"
		fail "cannot build the test guest in $out (build log above)"
	fi
	[ -s "$out/initrd.img" ] && { [ -s "$out/vmlinuz" ] || [ -s "$out/vmlinux" ]; } ||
		fail "the guest build succeeded but $out has no kernel and initrd.img"
	GUEST_KERNEL=$out/vmlinuz
	[ -f "$out/vmlinux" ] && GUEST_KERNEL=$out/vmlinux
	GUEST_INITRD=$out/initrd.img
}

# True inside the namespaces reexec_in_namespaces made.
in_namespaces() { [ "${AETHER_TEST_NS:-}" = 1 ]; }

# Re-run this test in private network, mount and pid namespaces with their
# own /proc: its devices and processes cannot touch the host's, and
# whatever it leaks dies with it.  Skips when namespaces are unavailable.
reexec_in_namespaces() {
	unshare -n -m -p -f --mount-proc true 2>/dev/null ||
		skip "cannot create network/mount/pid namespaces (unshare)"
	trap - EXIT
	[ -n "$WORK" ] && rm -rf "$WORK"
	WORK=
	AETHER_TEST_NS=1 exec unshare -n -m -p -f --mount-proc -- /bin/sh "$0" "$@"
	fail "cannot exec unshare"
}

# Start tests/tcp-echo on loopback, its files in DIR (default $WORK);
# sets ECHO_PID and PORT, and stops it at exit.
start_tcp_echo() {
	_d=${1:-$WORK}
	"$top_builddir/tests/tcp-echo" -p "$_d/port" -l "$_d/server.log" &
	ECHO_PID=$!
	at_exit "kill $ECHO_PID 2>/dev/null"
	wait_for "$_d/port" '^[0-9]+$' 10 || fail "tcp-echo did not start"
	PORT=$(cat "$_d/port")
}

# A VM file $WORK/vm.conf for the test guest with the slirp backend, whose
# guest sends a line to the tcp-echo server on PORT: NAME [EXTRA-LINES
# appended after [network]].
slirp_vm_conf() {
	cat >"$WORK/vm.conf" <<EOT
# written by $TEST_NAME
[vm]
name = $1
memory = 256
accel = tcg
reboot = no
kernel = $GUEST_KERNEL
initrd = $GUEST_INITRD
append = console=ttyS0 quiet panic=-1 aether.tcp=10.0.2.2:$PORT
console = file:$WORK/console.log

[network]
backend = slirp
${2:-}
EOT
}

# Was the slirp plugin built with libslirp (mode = libslirp)?  Prints yes
# or no.  What configure found (the HAVE_LIBSLIRP conditional recorded in
# config.status) decides; the built plugin must agree (its mode option
# defaults to libslirp exactly when it has libslirp).  Anything else,
# including a failing `aether plugins show slirp`, is a failure.  Needs
# $WORK.
slirp_has_libslirp() {
	_cs=$top_builddir/config.status
	[ -f "$_cs" ] || fail "no $_cs: cannot tell whether configure found libslirp"
	if grep -q '^S\["HAVE_LIBSLIRP_TRUE"\]=""' "$_cs"; then
		_cf=yes
	elif grep -q '^S\["HAVE_LIBSLIRP_TRUE"\]="#"' "$_cs"; then
		_cf=no
	else
		fail "$_cs does not say whether configure found libslirp (HAVE_LIBSLIRP)"
	fi
	"$AETHER" plugins show slirp >"$WORK/slirp-show" 2>&1 ||
		{ cat "$WORK/slirp-show" >&2; fail "aether plugins show slirp failed"; }
	_mode=$(awk '/^    mode /{m=1; next} m && $1 == "default:" {print $2; exit}
		m && /^    [a-z]/ {exit}' "$WORK/slirp-show")
	case "$_cf/$_mode" in
	yes/libslirp) echo yes ;;
	no/qemu) echo no ;;
	*) cat "$WORK/slirp-show" >&2
	   fail "configure found libslirp: $_cf, but the slirp plugin's mode defaults to '$_mode' (want libslirp with, qemu without)" ;;
	esac
}

# Wait until FILE contains PATTERN (grep -E) or SECONDS pass.
wait_for() {
	file=$1 pattern=$2 secs=$3
	i=0
	while [ $i -lt $((secs * 10)) ]; do
		grep -Eq "$pattern" "$file" 2>/dev/null && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

# Assert FILE contains PATTERN, showing the file when it does not.
expect() {
	file=$1 pattern=$2 what=$3
	if grep -Eq "$pattern" "$file" 2>/dev/null; then
		pass "$what"
	else
		log "--- $file ---"; cat "$file" >&2 2>/dev/null; log "---"
		fail "$what (no /$pattern/ in $(basename "$file"))"
	fi
}

# A TCP port on 127.0.0.1 that the kernel gave out a moment ago (tcp-echo -o
# binds port 0 and exits).  Only a candidate, for a port that another
# program (QEMU, libslirp) must bind itself: by the time it does, someone
# may have taken it, so the caller must recognise "address in use"
# (port_in_use_error) and try again with a new candidate.  A component the
# tests run themselves binds port 0 and reports its port instead (tcp-echo
# -p FILE).  Fails (in the caller's $(...): check it) when no port can be
# had.
free_port() {
	"$top_builddir/tests/tcp-echo" -o ||
		fail "tests/tcp-echo -o could not get a port on 127.0.0.1"
}

# How many candidate ports a test tries before giving up.
PORT_TRIES=5

# Does FILE report that binding 127.0.0.1:PORT failed because it is in use?
# (libslirp in the plugin and `aether forward` say EADDRINUSE / "Address
# already in use"; QEMU's own slirp only says the rule could not be set
# up, and with a rule the test wrote, the port is the only thing that can
# be wrong.)
port_in_use_error() {
	grep -Eq "Address already in use|EADDRINUSE|Could not set up host forwarding rule 'tcp:127\.0\.0\.1:$2-" "$1"
}

# Is PID alive (a zombie, exited but not yet waited for, is not)?
alive() {
	_st=$(sed -n 's/^.*) \(.\).*/\1/p' "/proc/$1/stat" 2>/dev/null)
	[ -n "$_st" ] && [ "$_st" != Z ] && [ "$_st" != X ]
}

# Wait up to 5 s for each PID to end (after a kill -9): fail naming WHAT
# (e.g. "solo4's QEMU") and the pid when one is still alive.
# usage: wait_dead WHAT PID...
wait_dead() {
	_what=$1
	shift
	for _p in "$@"; do
		_i=0
		while alive "$_p"; do
			_i=$((_i + 1))
			[ $_i -lt 100 ] || fail "$_what (pid $_p) survived kill -9"
			sleep 0.05
		done
	done
}

# Wait until FILE contains PATTERN (0), PID has ended (2) or SECONDS pass
# (1).
wait_for_or_exit() {
	file=$1 pattern=$2 secs=$3 pid=$4
	i=0
	while [ $i -lt $((secs * 10)) ]; do
		grep -Eq "$pattern" "$file" 2>/dev/null && return 0
		alive "$pid" || {
			grep -Eq "$pattern" "$file" 2>/dev/null && return 0
			return 2
		}
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}
