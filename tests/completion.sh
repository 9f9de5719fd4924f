#!/bin/sh
# Bash completion (data/bash-completion/aether): sourced in a
# non-interactive bash with bash-completion loaded, its function is called
# as readline would (COMP_WORDS, COMP_CWORD) and COMPREPLY is checked:
# commands, VM names of a store, backends, options and files.
. "${top_srcdir:-.}/tests/lib.sh"

command -v bash >/dev/null 2>&1 || skip "no bash"
make_work
COMPLETION=$top_srcdir/data/bash-completion/aether
[ -f "$COMPLETION" ] || fail "no $COMPLETION"
BASH_COMPLETION=${BASH_COMPLETION:-/usr/share/bash-completion/bash_completion}
if [ ! -f "$BASH_COMPLETION" ]; then
	soft_skip "bash-completion is not installed: its _init_completion and _filedir stubbed"
	BASH_COMPLETION=
fi

# the aether being completed is found on PATH, as a user's would be
mkdir -p "$WORK/bin" "$WORK/store/vms/web1" "$WORK/store/vms/db2" \
	"$WORK/store/vms/.new-tmp3.1" "$WORK/files"
ln -s "$AETHER" "$WORK/bin/aether"
: >"$WORK/files/web1.conf"
: >"$WORK/files/other.conf"
"$AETHER" --help >"$WORK/usage.out" 2>&1 || fail "aether --help fails"
sed -n '/^Commands:/,/^$/s/^  \([a-z][a-z-]*\).*/\1/p' "$WORK/usage.out" |
	sort -u >"$WORK/commands.want"
[ -s "$WORK/commands.want" ] || fail "no commands in aether --help"

cat >"$WORK/driver.bash" <<'EOT'
set -u
if [[ -n $BASH_COMPLETION ]]; then
	. "$BASH_COMPLETION"
else
	_init_completion() {
		cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
		words=("${COMP_WORDS[@]}") cword=$COMP_CWORD split=false
	}
	_filedir() { COMPREPLY+=($(compgen -f -- "$cur")); }
fi
set +u
. "$COMPLETION"
# comp WORD...: complete the last WORD; COMPREPLY one a line, sorted
comp() {
	COMP_WORDS=("$@")
	COMP_CWORD=$(($# - 1))
	COMP_LINE="$*"
	COMP_POINT=${#COMP_LINE}
	COMPREPLY=()
	_aether aether "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
	printf '%s\n' "${COMPREPLY[@]}" | sed '/^$/d' | sort
}
n=0
# check WANT WORD...: the completions are exactly WANT (one a line)
check() {
	local want=$1 got
	shift
	n=$((n + 1))
	got=$(comp "$@")
	if [[ $got != "$want" ]]; then
		printf 'completion: FAIL: %s<TAB>:\n--- want\n%s\n--- got\n%s\n' \
			"$*" "$want" "$got" >&2
		exit 1
	fi
}
# has WANT WORD...: the completions include WANT
has() {
	local want=$1 got
	shift
	n=$((n + 1))
	got=$(comp "$@")
	if ! grep -qxF -- "$want" <<<"$got"; then
		printf 'completion: FAIL: %s<TAB>: no %s in:\n%s\n' \
			"$*" "$want" "$got" >&2
		exit 1
	fi
}
check "$(cat "$WORK/commands.want")" aether ""
check "$(printf 'start\nstatus\nstop')" aether st
check "$(cat "$WORK/commands.want")" aether -v -c /dev/null ""
check "$(printf 'check-config\nconsole\ncreate')" aether help c
check "$(printf 'db2\nweb1')" aether start ""
check web1 aether status w
check "$(printf 'db2\nweb1')" aether -c none console ""
check "" aether stop web1 ""
check "$(printf 'db2\nweb1')" aether forward add ""
check "$(printf 'tcp\nudp')" aether forward add web1 ""
check "$(printf -- '--help\n--json\n--names')" aether list --
check --image aether create vm1 --ima
has slirp aether create vm1 --backend ""
has tap aether create vm1 --image /x --backend ""
has vde aether gc ""
check slirp aether plugins show sl
check show aether plugins ""
check "" aether create vm1 --append ""
check "$(printf 'show\nswitch')" aether network ""
check "$(printf 'db2\nweb1')" aether network switch ""
has vde aether network switch web1 ""
check "" aether network show web1 ""
check "$(printf -- '--help\n--persist\n--set')" aether network switch web1 tap --
check "$(printf -- '--help\n--json')" aether network show web1 --
# --set: the option names of the backend named, from aether plugins show
has bridge= aether network switch web1 tap --set ""
has create_bridge= aether network switch web1 tap --set ""
check "$(printf 'persistent=\nprefix=')" aether network switch web1 tap --set p
check "$(printf 'persistent=\nprefix=')" aether network switch web1 --set mtu=0 tap --set p
has socket= aether network switch web1 vde --set ""
check "" aether network switch web1 vde --set bridge
check "" aether network switch web1 tap --set bridge=
check "$WORK/files/web1.conf" aether run "$WORK/files/w"
has "$WORK/files/other.conf" aether check-config "$WORK/files/"
check "" aether run "$WORK/files/web1.conf" ""
echo "$n completions checked"
EOT
out=$(PATH=$WORK/bin:$PATH AETHER_STORE_DIR=$WORK/store \
	BASH_COMPLETION=$BASH_COMPLETION COMPLETION=$COMPLETION WORK=$WORK \
	bash "$WORK/driver.bash" 2>&1) || { printf '%s\n' "$out" >&2; fail "bash completion"; }
pass "bash completion: $out (commands, VM names, backends, options, files)"
