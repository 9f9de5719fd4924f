#!/bin/sh
# vde-fake-systemctl.sh - a stand-in for "systemctl --user" used by
# check_vde where no systemd user manager runs.  It understands only
# "--user start|stop aether-vde.service", logs its arguments to
# $AETHER_TEST_SYSTEMCTL_LOG, and runs the ExecStart line of the shipped
# unit ($AETHER_TEST_UNIT) with the environment file the unit names, the
# way systemd would expand it (${VAR}: one word, $VAR: split on spaces).
set -eu
log=${AETHER_TEST_SYSTEMCTL_LOG:?}
unit=${AETHER_TEST_UNIT:?}
echo "$*" >>"$log"
[ "$1" = --user ] || { echo "fake systemctl: only --user" >&2; exit 2; }
[ "$3" = aether-vde.service ] || { echo "fake systemctl: unknown unit $3" >&2; exit 5; }

envfile=$(sed -n 's/^EnvironmentFile=//p' "$unit")
envfile=$(printf '%s' "$envfile" | sed "s|%t|${XDG_RUNTIME_DIR:?}|")
[ -f "$envfile" ] || { echo "fake systemctl: $envfile missing" >&2; exit 1; }
# The file holds plain KEY=value lines written by aether.
AETHER_VDE_SOCK= AETHER_VDE_MGMT= AETHER_VDE_ARGS=
while IFS='=' read -r k v; do
	case $k in
	AETHER_VDE_SOCK|AETHER_VDE_MGMT|AETHER_VDE_ARGS) eval "$k=\$v" ;;
	esac
done <"$envfile"

case $2 in
start)
	exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
	set --
	for w in $exec_start; do
		case $w in
		'${AETHER_VDE_SOCK}') set -- "$@" "$AETHER_VDE_SOCK" ;;
		'${AETHER_VDE_MGMT}') set -- "$@" "$AETHER_VDE_MGMT" ;;
		'$AETHER_VDE_ARGS') set -- "$@" $AETHER_VDE_ARGS ;;
		*) set -- "$@" "$w" ;;
		esac
	done
	# Type=forking: the command daemonizes and we return.
	"$@" </dev/null
	;;
stop)
	for d in /proc/[0-9]*; do
		cmd=$(tr '\0' ' ' <"$d/cmdline" 2>/dev/null) || continue
		case $cmd in
		"vde_switch "*" -s $AETHER_VDE_SOCK "*) kill "${d#/proc/}" ;;
		esac
	done
	;;
*) echo "fake systemctl: unknown verb $2" >&2; exit 2 ;;
esac
