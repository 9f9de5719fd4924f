#!/bin/sh
# The command line: help, version, plugin listing, check-config messages
# with file:line, exit statuses, and bad input leaving nothing behind.
. "${top_srcdir:-.}/tests/lib.sh"

make_work
export AETHER_RUNTIME_DIR=$WORK/run

# run CMD...: sets RC, OUT (stdout+stderr in $WORK/out)
run() { RC=0; "$@" >"$WORK/out" 2>&1 || RC=$?; }
want_rc() { [ "$RC" -eq "$1" ] || { cat "$WORK/out" >&2; fail "$2: exit $RC, want $1"; }; }

run "$AETHER" --help
want_rc 0 "--help"
expect "$WORK/out" '^Usage: aether' "--help prints usage"
expect "$WORK/out" 'check-config FILE' "--help lists check-config"
run "$AETHER" --version
want_rc 0 "--version"
expect "$WORK/out" '^aether [0-9.]+ \(plugin ABI 1\.[0-9]+\)' "--version names the ABI"
run "$AETHER" frobnicate
want_rc 2 "unknown command"
expect "$WORK/out" "unknown command 'frobnicate'" "unknown command named"
run "$AETHER" --no-such-option
want_rc 2 "unknown option"

run "$AETHER" plugins
want_rc 0 "plugins"
expect "$WORK/out" "^slirp +1\.[0-9]+ +ABI 1\.[0-9]+" "plugins lists slirp with version and ABI"
run "$AETHER" plugins show slirp
want_rc 0 "plugins show slirp"
expect "$WORK/out" 'hostfwd +string, repeatable' "plugins show documents options"
run "$AETHER" plugins show nosuch
want_rc 1 "plugins show nosuch"
expect "$WORK/out" "backend 'nosuch' not found: no nosuch.so or nosuch.la in" "missing backend named with the search path"

# A good file, then one broken thing at a time, each with file:line.
K=$WORK/vmlinuz
: >"$K"
good() {
	cat <<EOT
[vm]
name = cli-vm
memory = 128
accel = tcg
kernel = $K
console = none

[network]
backend = slirp

[network.slirp]
hostfwd = tcp:127.0.0.1:2222-:22
EOT
}
good >"$WORK/good.conf"
run "$AETHER" -c none check-config "$WORK/good.conf"
want_rc 0 "check-config good file"
expect "$WORK/out" 'OK \(VM cli-vm, backend slirp\)' "good file accepted"

# bad SED-EXPR LINE MESSAGE-REGEX
bad() {
	good | sed "$1" >"$WORK/bad.conf"
	run "$AETHER" -c none check-config "$WORK/bad.conf"
	want_rc 1 "check-config with $1"
	expect "$WORK/out" "bad\.conf:$2: $3" "error for '$1' at line $2"
}
bad 's/^memory = 128/memory = lots/' 3 "memory: 'lots' is not an integer"
bad 's/^accel = tcg/accel = warp/' 4 "accel: 'warp' is not one of auto, kvm, tcg"
bad 's/^console = none/colour = blue/' 6 "unknown key 'colour' in \[vm\]"
bad 's/^\[network\]$/[netwerk]/' 8 'unknown section \[netwerk\]'
bad 's/^hostfwd = .*/hostfwd = tcp:127.0.0.1:2222-:22\nbogus = 1/' 13 "unknown key 'bogus' for backend slirp"
bad 's/^name = cli-vm/name = ..\/evil/' 2 "name: '../evil' is not a valid VM name"
bad 's|^kernel = .*|kernel = /nonexistent/vmlinuz|' 5 'kernel: /nonexistent/vmlinuz: No such file or directory'
bad 's/^memory = 128/memory = 128\nmemory = 256/' 4 "key 'memory' given twice in \[vm\] \(first on line 3\)"
bad 's/^backend = slirp/backend = tap/' 11 "section \[network.slirp\] does not match the selected backend 'tap'"

# A bad value only the plugin can judge: attach fails, nothing is left.
good | sed 's/^hostfwd = .*/hostfwd = tcp:nonsense/' >"$WORK/badfwd.conf"
run "$AETHER" -c none run "$WORK/badfwd.conf"
want_rc 3 "run with a bad hostfwd"
expect "$WORK/out" "slirp: hostfwd: 'tcp:nonsense' is not" "plugin error carries the plugin name"
[ -z "$(ls -A "$WORK/run/vms" 2>/dev/null)" ] || fail "failed run left a runtime dir"
pass "failed attach leaves no runtime dir"

# A backend that is not installed.
good | sed -e 's/^backend = slirp/backend = nosuch/' -e '/^\[network.slirp\]/,$d' >"$WORK/nob.conf"
run "$AETHER" -c none run "$WORK/nob.conf"
want_rc 3 "run with a missing backend"
expect "$WORK/out" "backend 'nosuch' not found" "missing backend reported"

# QEMU that cannot start: exit 4, network detached, nothing left.
good | sed 's/^accel = tcg/accel = tcg\nqemu = \/bin\/false/' >"$WORK/noq.conf"
run "$AETHER" -c none run "$WORK/noq.conf"
want_rc 4 "run with a failing QEMU"
expect "$WORK/out" 'network detached' "network detached after QEMU failed"
[ -z "$(ls -A "$WORK/run/vms" 2>/dev/null)" ] || fail "failed QEMU left a runtime dir"

# Host config: defaults for VMs, and its own errors.
cat >"$WORK/host.conf" <<EOT
[aether]
plugin_dir = /nonexistent/plugins

[network.slirp]
net = 10.9.0.0/24
EOT
run "$AETHER" check-config "$WORK/host.conf"
want_rc 0 "check-config host file"
printf '[network.slirp]\nnet = 10.9.0.0/24\nspeed = 9\n' >"$WORK/badhost.conf"
run "$AETHER" check-config "$WORK/badhost.conf"
want_rc 1 "check-config bad host file"
expect "$WORK/out" "badhost\.conf:3: unknown key 'speed' for backend slirp" "host file backend key checked"
run "$AETHER" -c "$WORK/nonexistent.conf" check-config "$WORK/good.conf"
want_rc 1 "missing host config"
expect "$WORK/out" 'nonexistent\.conf: No such file or directory' "missing host config named"

# gc: a runtime dir whose supervisor is dead goes, a live one stays.
mkdir -p "$WORK/run/vms/ghost" "$WORK/run/vms/alive"
sh -c 'echo $$' >"$WORK/run/vms/ghost/pid"   # a pid that has exited
echo 3 >"$WORK/run/vms/ghost/index"
echo $$ >"$WORK/run/vms/alive/pid"
echo 4 >"$WORK/run/vms/alive/index"
run "$AETHER" -c none gc slirp
want_rc 0 "gc"
[ ! -e "$WORK/run/vms/ghost" ] || fail "gc left the dead VM's runtime dir"
[ -d "$WORK/run/vms/alive" ] || fail "gc removed a live VM's runtime dir"
pass "gc removes stale runtime dirs only"
run "$AETHER" -c none gc nosuch
want_rc 1 "gc of a missing backend"
expect "$WORK/out" "gc: backend 'nosuch' not found" "gc names a missing backend"
