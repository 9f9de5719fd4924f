#!/bin/sh
# fake-systemd-run.sh - stand-in for "systemd-run --user" and "systemctl
# --user stop" in tests/lifecycle-systemd.sh, where no systemd user manager
# runs.  Installed under both names (the name it is called by decides).
# Every call is logged to $AETHER_TEST_SYSTEMD_LOG, one argument a line,
# then "--end--".
#
# systemd-run: checks the call the way aether must make it (--user, a
# --unit=aether-vm-NAME.service, the command after "--" an absolute path
# to an executable, not a shell), then runs the command the way a transient
# unit would: a new session, an environment holding only PATH, HOME and the
# --setenv variables, stdin /dev/null, output appended to the file of
# --property=StandardOutput=append:FILE.  It returns without waiting, and
# keeps the command's pid in $AETHER_TEST_SYSTEMD_DIR/UNIT.pid for
# "systemctl --user stop UNIT".  With $AETHER_TEST_SYSTEMD_FAIL set it
# prints that and exits 1 instead, like systemd-run without a user bus.
set -u
log=${AETHER_TEST_SYSTEMD_LOG:?}
dir=${AETHER_TEST_SYSTEMD_DIR:?}
for a in "$@"; do printf '%s\n' "$a"; done >>"$log"
echo "--end--" >>"$log"
me=$(basename "$0")
die() { echo "fake $me: $*" >&2; exit 2; }
[ "${1:-}" = --user ] || die "not called with --user first: $*"
shift

case $me in
systemctl)
	[ "${1:-}" = stop ] || die "only 'stop' is known: $*"
	unit=${2:-}
	[ -f "$dir/$unit.pid" ] || exit 0 # gone already (--collect)
	pid=$(cat "$dir/$unit.pid")
	kill -TERM "$pid" 2>/dev/null
	i=0
	while kill -0 "$pid" 2>/dev/null && ! grep -q ') Z ' "/proc/$pid/stat" 2>/dev/null; do
		i=$((i + 1)); [ $i -lt 200 ] || { kill -KILL "$pid"; break; }
		sleep 0.05
	done
	rm -f "$dir/$unit.pid"
	exit 0
	;;
systemd-run) ;;
*) die "unknown name" ;;
esac

if [ -n "${AETHER_TEST_SYSTEMD_FAIL:-}" ]; then
	echo "$AETHER_TEST_SYSTEMD_FAIL" >&2
	exit 1
fi
unit= out=/dev/null
envs=
while [ $# -gt 0 ]; do
	case $1 in
	--unit=*) unit=${1#--unit=} ;;
	--property=StandardOutput=append:*) out=${1#--property=StandardOutput=append:} ;;
	--setenv=*) envs="$envs
${1#--setenv=}" ;;
	--collect|--quiet|--property=*|--description=*) ;;
	--) shift; break ;;
	*) die "unexpected option $1" ;;
	esac
	shift
done
case $unit in
aether-vm-*.service) ;;
*) die "unit name '$unit' is not aether-vm-NAME.service" ;;
esac
[ $# -gt 0 ] || die "no command after --"
case $1 in
/*) ;;
*) die "command '$1' is not an absolute path" ;;
esac
case $(basename "$1") in
sh|bash|dash|env) die "command is a shell: $*" ;;
esac
[ -x "$1" ] || die "$1 is not executable"
if [ -f "$dir/$unit.pid" ]; then # a unit lives as long as its process
	old=$(cat "$dir/$unit.pid")
	if kill -0 "$old" 2>/dev/null && ! grep -q ') Z ' "/proc/$old/stat" 2>/dev/null; then
		echo "Failed to start transient service unit: Unit $unit was already loaded or has a fragment file." >&2
		exit 1
	fi
fi
# The unit's environment: PATH, HOME and the --setenv variables only.
set -- env -i PATH="$PATH" HOME="${HOME:-/}" $(printf '%s' "$envs" | tr '\n' ' ') "$@"
setsid "$@" </dev/null >>"$out" 2>&1 &
echo $! >"$dir/$unit.pid"
exit 0
