#!/bin/sh
# plugin-trust.sh - whose code aether loads.  A plugin runs with every
# privilege aether has, so:
#   - plugin files and directories owned by another user, or writable by
#     group or others, are refused with the file or directory named;
#   - as root, $AETHER_PLUGIN_PATH and $AETHER_CONFIG are ignored (sudo -E
#     passes a user's environment): --plugin-path and -c are the way;
#   - an aether with file capabilities (cap_net_admin=ep) run by an
#     unprivileged user never loads that user's AETHER_PLUGIN_PATH code
#     (AT_SECURE): a constructor that writes a marker file does not run.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

[ "$(id -u)" = 0 ] || skip "needs root (other users' files, setcap)"
need cc
BIN=$AETHER_BIN
FIX=$top_builddir/tests/fixtures/.libs/good.so
[ -f "$FIX" ] || skip "no fixture plugin $FIX (make check builds it)"
make_work
# another user: nobody, or a system user made for the tests
OTHER=nobody
id -u "$OTHER" >/dev/null 2>&1 || OTHER=aether-test2
id -u "$OTHER" >/dev/null 2>&1 || useradd -r -M -s /usr/sbin/nologin "$OTHER" ||
	skip "no second user"
OUID=$(id -u "$OTHER")
OGID=$(id -g "$OTHER")

good_in() { # DIR: the good fixture as DIR/good.so, root's, 0755 dir
	mkdir -p "$1" && chmod 0755 "$1" && cp "$FIX" "$1/good.so" &&
		chmod 0644 "$1/good.so" || fail "cannot stage $1"
}
show() { # DIR: aether --plugin-path DIR plugins show good, output in show.out
	"$BIN" --plugin-path "$1" -c none plugins show good >"$WORK/show.out" 2>&1
}

# --- 0. a trusted directory loads -----------------------------------------
good_in "$WORK/ok"
show "$WORK/ok" || { cat "$WORK/show.out" >&2; fail "the fixture does not load from a root-owned directory"; }
expect "$WORK/show.out" "file: +$WORK/ok/good\\.so" "a root-owned plugin in a root-owned directory loads"

# --- 1. another user's directory or file ----------------------------------
good_in "$WORK/theirs"
chown "$OUID:$OGID" "$WORK/theirs"
show "$WORK/theirs" && fail "a plugin in $OTHER's directory was loaded"
expect "$WORK/show.out" "$WORK/theirs: refusing plugin directory owned by uid $OUID" \
	"a directory owned by another user is refused, named"

good_in "$WORK/theirfile"
chown "$OUID:$OGID" "$WORK/theirfile/good.so"
show "$WORK/theirfile" && fail "$OTHER's plugin file was loaded"
expect "$WORK/show.out" "$WORK/theirfile/good\\.so: refusing plugin file owned by uid $OUID" \
	"a file owned by another user is refused, named"

# --- 2. writable by others ------------------------------------------------
good_in "$WORK/ww"
chmod 0777 "$WORK/ww"
show "$WORK/ww" && fail "a plugin in a world-writable directory was loaded"
expect "$WORK/show.out" "$WORK/ww: refusing plugin directory writable by others \\(mode 0777\\)" \
	"a world-writable directory is refused, named"
chmod 1777 "$WORK/ww" # sticky does not help the plugin's own directory
show "$WORK/ww" && fail "a plugin in a sticky world-writable directory was loaded"
expect "$WORK/show.out" "$WORK/ww: refusing plugin directory writable by others" \
	"... sticky or not"

good_in "$WORK/wf"
chmod 0666 "$WORK/wf/good.so"
show "$WORK/wf" && fail "a world-writable plugin file was loaded"
expect "$WORK/show.out" "$WORK/wf/good\\.so: refusing plugin file writable by others \\(mode 0666\\)" \
	"a world-writable file is refused, named"
chmod 0664 "$WORK/wf/good.so"
chgrp "$OGID" "$WORK/wf/good.so"
show "$WORK/wf" && fail "a plugin file writable by another group was loaded"
expect "$WORK/show.out" "$WORK/wf/good\\.so: refusing plugin file writable by its group" \
	"a file writable by another group is refused, named"
# group root (a tree unpacked as root keeps 0775/0664 modes): root's own
chgrp 0 "$WORK/wf/good.so"
show "$WORK/wf" || { cat "$WORK/show.out" >&2; fail "a plugin file writable by group root was refused"; }
pass "a file writable by group root loads"

# a directory above the plugin's that others may write (not sticky)
mkdir -p "$WORK/open" && chmod 0777 "$WORK/open"
good_in "$WORK/open/sub"
show "$WORK/open/sub" && fail "a plugin under a world-writable directory was loaded"
expect "$WORK/show.out" "$WORK/open: refusing plugin directory writable by others" \
	"a world-writable directory above is refused, named"

# --- 3. root ignores AETHER_PLUGIN_PATH and AETHER_CONFIG ------------------
good_in "$WORK/env"
AETHER_PLUGIN_PATH=$WORK/env "$BIN" -c none plugins show good >"$WORK/env.out" 2>&1 &&
	fail "root loaded a plugin from AETHER_PLUGIN_PATH: $(cat "$WORK/env.out")"
expect "$WORK/env.out" "AETHER_PLUGIN_PATH is ignored: running as root" \
	"root ignores AETHER_PLUGIN_PATH and says so"
expect "$WORK/env.out" "backend 'good' not found" "... and the plugin is not found"
[ "$(grep -c 'AETHER_PLUGIN_PATH is ignored' "$WORK/env.out")" = 1 ] ||
	fail "the notice is not said exactly once: $(cat "$WORK/env.out")"
AETHER_PLUGIN_PATH=$WORK/env "$BIN" -q -c none plugins show good >"$WORK/envq.out" 2>&1
grep -q 'is ignored' "$WORK/envq.out" && fail "-q still says it: $(cat "$WORK/envq.out")"
pass "... not under -q"
# the option is the way
"$BIN" --plugin-path "$WORK/env" -c none plugins show good >"$WORK/opt.out" 2>&1 ||
	{ cat "$WORK/opt.out" >&2; fail "--plugin-path did not load the plugin"; }
grep -q 'is ignored' "$WORK/opt.out" && fail "a notice although --plugin-path was given"
pass "--plugin-path loads it, quietly"

cat >"$WORK/host.conf" <<EOT
[aether]
plugin_dir = $WORK/env
EOT
cat >"$WORK/vm.conf" <<EOT
[vm]
name = t
kernel = $WORK/host.conf
[network]
backend = good
EOT
AETHER_CONFIG=$WORK/host.conf "$BIN" check-config "$WORK/vm.conf" >"$WORK/cfg.out" 2>&1 &&
	fail "root used the host config AETHER_CONFIG named: $(cat "$WORK/cfg.out")"
expect "$WORK/cfg.out" "AETHER_CONFIG is ignored: running as root" "root ignores AETHER_CONFIG and says so"
expect "$WORK/cfg.out" "backend 'good' not found" "... and so its plugin_dir"
"$BIN" -c "$WORK/host.conf" check-config "$WORK/vm.conf" >"$WORK/cfg2.out" 2>&1 ||
	{ cat "$WORK/cfg2.out" >&2; fail "-c FILE is not used"; }
pass "-c FILE is the way"

# AETHER_AGENT (the program serve and remote run) likewise
if [ -x "$top_builddir/aether-agent" ]; then
	printf '#!/bin/sh\n: >"%s/agent-ran"\n' "$WORK" >"$WORK/fake-agent"
	chmod 0755 "$WORK/fake-agent"
	AETHER_AGENT=$WORK/fake-agent "$BIN" remote --help >"$WORK/agent.out" 2>&1 || :
	[ -e "$WORK/agent-ran" ] && fail "root ran the program AETHER_AGENT named"
	expect "$WORK/agent.out" "AETHER_AGENT is ignored: running as root" "root ignores AETHER_AGENT"
fi

# nor does the agent that serve and remote run read AETHER_CONFIG for it
if [ -x "$top_builddir/aether-agent" ]; then
	printf '[amqp]\nurl = amqp://127.0.0.1:1/\n' >"$WORK/amqp.conf"
	AETHER_CONFIG=$WORK/amqp.conf timeout 30 "$BIN" remote list >"$WORK/remote.out" 2>&1 || :
	grep -q '127\.0\.0\.1:1/' "$WORK/remote.out" &&
		fail "aether remote (as root) used the config AETHER_CONFIG named: $(cat "$WORK/remote.out")"
	pass "aether serve/remote (as root) hand their agent no AETHER_CONFIG"
fi

# --- 4. file capabilities: AT_SECURE --------------------------------------
# An unprivileged user's constructor must not run with CAP_NET_ADMIN.
mkdir -p "$WORK/user/pl" "$WORK/mark" && chmod 0755 "$WORK/user" "$WORK/user/pl"
chown "$OUID:$OGID" "$WORK/user/pl" "$WORK/mark"
cat >"$WORK/evil.c" <<EOT
#include <fcntl.h>
#include <unistd.h>
__attribute__((constructor)) static void mark(void)
{
	int fd = open("$WORK/mark/ran", O_WRONLY | O_CREAT, 0644);
	if (fd >= 0)
		close(fd);
}
EOT
cc -shared -fPIC -o "$WORK/user/pl/evil.so" "$WORK/evil.c" || fail "cannot build the marker plugin"
chown "$OUID:$OGID" "$WORK/user/pl/evil.so"
as_other() { setpriv --reuid="$OUID" --regid="$OGID" --clear-groups -- "$@"; }
# the marker works: the user's own aether (no privileges) loads its code
# (a copy: the user may not be able to reach the build tree, e.g. under
# /root)
mkdir -p "$WORK/plain" && chmod 0755 "$WORK/plain"
cp "$BIN" "$WORK/plain/aether" && chmod 0755 "$WORK/plain/aether" ||
	fail "cannot copy $BIN"
as_other env AETHER_PLUGIN_PATH="$WORK/user/pl" "$WORK/plain/aether" -c none plugins show evil >"$WORK/u.out" 2>&1 || :
[ -e "$WORK/mark/ran" ] || { cat "$WORK/u.out" >&2; fail "the marker plugin's constructor does not run even unprivileged"; }
rm -f "$WORK/mark/ran"
pass "an unprivileged aether runs its user's plugin (the marker works)"

mkdir -p "$WORK/cap" && chmod 0755 "$WORK/cap"
cp "$BIN" "$WORK/cap/aether"
how=
if command -v setcap >/dev/null 2>&1 &&
   setcap cap_net_admin=ep "$WORK/cap/aether" 2>"$WORK/setcap.err"; then
	how="file capability cap_net_admin=ep"
else
	# no setcap (libcap2-bin) or no xattrs here: setuid is AT_SECURE too
	log "setcap unusable ($(cat "$WORK/setcap.err" 2>/dev/null)): using a setuid copy"
	chmod 4755 "$WORK/cap/aether"
	how="setuid root"
fi
as_other env AETHER_PLUGIN_PATH="$WORK/user/pl" "$WORK/cap/aether" -c none plugins show evil >"$WORK/cap.out" 2>&1 || :
[ -e "$WORK/mark/ran" ] &&
	fail "aether with $how ran the user's AETHER_PLUGIN_PATH constructor: $(cat "$WORK/cap.out")"
expect "$WORK/cap.out" "AETHER_PLUGIN_PATH is ignored" "aether with $how ignores the user's AETHER_PLUGIN_PATH"
as_other "$WORK/cap/aether" --plugin-path "$WORK/user/pl" -c none plugins show evil >"$WORK/cap2.out" 2>&1 &&
	fail "aether with $how accepted --plugin-path from its caller"
[ -e "$WORK/mark/ran" ] && fail "aether with $how ran the user's --plugin-path constructor"
expect "$WORK/cap2.out" "error: --plugin-path $WORK/user/pl: refused" "... and refuses --plugin-path"
# nor through a host config of the user's (its plugin_dir is the user's)
cat >"$WORK/user/host.conf" <<EOT
[aether]
plugin_dir = $WORK/user/pl
EOT
cat >"$WORK/user/vm.conf" <<EOT
[vm]
name = t
kernel = $WORK/user/host.conf
[network]
backend = evil
EOT
chown "$OUID:$OGID" "$WORK/user/host.conf" "$WORK/user/vm.conf"
as_other env AETHER_CONFIG="$WORK/user/host.conf" "$WORK/cap/aether" check-config "$WORK/user/vm.conf" >"$WORK/cap3.out" 2>&1 || :
[ -e "$WORK/mark/ran" ] && fail "aether with $how ran code from AETHER_CONFIG's plugin_dir"
expect "$WORK/cap3.out" "AETHER_CONFIG is ignored" "... ignores the user's AETHER_CONFIG"
as_other "$WORK/cap/aether" -c "$WORK/user/host.conf" check-config "$WORK/user/vm.conf" >"$WORK/cap4.out" 2>&1 || :
[ -e "$WORK/mark/ran" ] && fail "aether with $how ran code from the plugin_dir of a user's -c FILE"
expect "$WORK/cap4.out" "$WORK/user/pl: refusing plugin directory owned by uid $OUID" \
	"... and a user's host config cannot point it at the user's plugins"
exit 0
