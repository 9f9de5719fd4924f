#!/bin/sh
# The third-party plugin kit, end to end, as a plugin writer sees it:
#  1. `make install DESTDIR=...` stages this build (binary, plugins,
#     header, aether-plugin.pc, man pages, the example), then the .la files
#     are deleted as distributions do;
#  2. the example plugin (examples/mynet, as installed under docdir) is
#     built out of tree with nothing but the staged header, found through
#     `pkg-config --cflags aether-plugin`, and installed into the staged
#     plugindir (`pkg-config --variable=plugindir`);
#  3. the staged aether lists it (`aether plugins`, `plugins show`), checks
#     a VM file's [network.mynet] section against its option table, and
#     `aether run` boots the test guest on it: the plugin logs the attach
#     and the detach, its per-VM state exists while the guest runs and is
#     gone afterwards, and the guest's DHCP lease comes from the network
#     the plugin's options chose (10.0.3.20, not slirp's 10.0.2.15).
. "${top_srcdir:-.}/tests/lib.sh"

need cc make pkg-config qemu-system-x86_64
make_work
DEST=$WORK/dest

# --- 1. staged install --------------------------------------------------
# (MAKEFLAGS: this runs under make check; do not inherit its jobserver)
env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL "${MAKE:-make}" -C "$top_builddir" \
	install DESTDIR="$DEST" >"$WORK/install.log" 2>&1 ||
	{ tail -n 30 "$WORK/install.log" >&2; fail "make install DESTDIR=... failed"; }
BIN=$(find "$DEST" -path '*/bin/aether' -type f | head -n 1)
PC=$(find "$DEST" -name aether-plugin.pc | head -n 1)
HDR=$(find "$DEST" -path '*/include/aether/plugin.h' | head -n 1)
EXDIR=$(find "$DEST" -path '*/examples/mynet/mynet.c' | head -n 1)
[ -x "$BIN" ] || fail "no bin/aether installed"
[ -f "$PC" ] || fail "no aether-plugin.pc installed"
[ -f "$HDR" ] || fail "no include/aether/plugin.h installed"
[ -f "$EXDIR" ] || fail "the example is not installed under docdir"
EXDIR=$(dirname "$EXDIR")
for m in man1/aether.1 man5/aether.conf.5 man7/aether-plugin.7; do
	[ -n "$(find "$DEST" -path "*/man/$m")" ] || fail "man page $m not installed"
done
[ -n "$(find "$DEST" -path '*/doc/*/aether.conf.example')" ] || fail "example config not installed under docdir"
pass "staged install: bin, header, .pc, man pages, example config and plugin"

PKG_CONFIG_PATH=$(dirname "$PC")
export PKG_CONFIG_PATH PKG_CONFIG_SYSROOT_DIR="$DEST"
unset PKG_CONFIG_LIBDIR
PLUGINDIR=$(pkg-config --variable=plugindir aether-plugin)
case $PLUGINDIR in "$DEST"/*) ;; *) fail "plugindir '$PLUGINDIR' is not in the staged tree" ;; esac
[ -d "$PLUGINDIR" ] || fail "pkg-config's plugindir $PLUGINDIR does not exist in the staged install"
# What distributions do: ship the modules, not the libtool archives.
find "$DEST" -name '*.la' -delete
[ -n "$(find "$PLUGINDIR" -name '*.so')" ] || fail "no plugin .so in $PLUGINDIR"

# --- 2. the example, out of tree ------------------------------------------
cp -R "$EXDIR" "$WORK/mynet"
CFLAGS_KIT=$(pkg-config --cflags aether-plugin)
case $CFLAGS_KIT in *"-I$DEST"/*) ;; *) fail "pkg-config --cflags gave '$CFLAGS_KIT', not the staged include dir" ;; esac
# Strict flags: the header and the example must be clean C99 for plugin
# writers, whatever they compile with.  No include path but pkg-config's.
make -C "$WORK/mynet" CPATH= C_INCLUDE_PATH= \
	CFLAGS="-std=c99 -pedantic -O2 -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wmissing-prototypes -Wstrict-prototypes" \
	>"$WORK/build.log" 2>&1 || { cat "$WORK/build.log" >&2; fail "the example does not build against the staged kit"; }
grep -q -- "-I$DEST" "$WORK/build.log" || fail "the example was not compiled with the staged header"
pass "example plugin built with nothing but the installed header and pkg-config"
nm -D --defined-only "$WORK/mynet/mynet.so" | grep -q ' mynet_LTX_aether_plugin$' ||
	fail "mynet.so does not export mynet_LTX_aether_plugin"
make -C "$WORK/mynet" install >>"$WORK/build.log" 2>&1 || fail "make install of the example failed"
[ -f "$PLUGINDIR/mynet.so" ] || fail "the example did not install into $PLUGINDIR"
pass "example plugin installed into pkg-config's plugindir"

# --- 3. the staged aether loads and runs it -------------------------------
export AETHER_PLUGIN_PATH="$PLUGINDIR"
"$BIN" --plugin-path "$PLUGINDIR" -c none plugins >"$WORK/plugins.out" 2>&1 || { cat "$WORK/plugins.out" >&2; fail "aether plugins failed"; }
cat "$WORK/plugins.out" >&2
expect "$WORK/plugins.out" '^mynet +1\.0 +ABI 1\.[0-9]+ +example out-of-tree backend' "aether plugins lists the example"
expect "$WORK/plugins.out" "file: $PLUGINDIR/mynet\\.so" "... loaded from the staged plugindir"
grep -q UNUSABLE "$WORK/plugins.out" && fail "a staged plugin is unusable without its .la file"
for p in "$top_builddir"/plugins/*/*.la; do
	[ -f "$p" ] || continue
	b=$(basename "$p" .la)
	expect "$WORK/plugins.out" "file: $PLUGINDIR/$b\\.so" "installed plugin $b loads without its .la"
done
"$BIN" --plugin-path "$PLUGINDIR" -c none plugins show mynet >"$WORK/show.out" 2>&1 || fail "aether plugins show mynet failed"
expect "$WORK/show.out" '^    dhcp_first +integer 4\.\.250' "its option table is shown"

# The compiled-in plugin directory is the one pkg-config tells plugin
# writers to install into.
REAL_PLUGINDIR=${PLUGINDIR#"$DEST"}
AETHER_PLUGIN_PATH='' "$BIN" -c none plugins >"$WORK/nopath.out" 2>&1 || :
if grep -q '^no plugins found in ' "$WORK/nopath.out"; then
	expect "$WORK/nopath.out" "^no plugins found in ($REAL_PLUGINDIR)\$" "aether's built-in plugin dir is pkg-config's plugindir"
else
	grep 'file: ' "$WORK/nopath.out" | grep -qv "file: $REAL_PLUGINDIR/" &&
		fail "plugins found outside $REAL_PLUGINDIR: $(cat "$WORK/nopath.out")"
	pass "aether's built-in plugin dir is pkg-config's plugindir (a real install is present)"
fi

guest
RUN=$WORK/run
export AETHER_RUNTIME_DIR="$RUN"
cat >"$WORK/bad.conf" <<EOT
[vm]
name = kit-bad
kernel = $GUEST_KERNEL
initrd = $GUEST_INITRD
[network]
backend = mynet
[network.mynet]
dhcp_first = 999
EOT
if "$BIN" --plugin-path "$PLUGINDIR" -c none check-config "$WORK/bad.conf" 2>"$WORK/bad.err"; then
	fail "check-config accepted dhcp_first = 999 (max 250)"
fi
cat "$WORK/bad.err" >&2
expect "$WORK/bad.err" 'bad\.conf:8: dhcp_first: 999 is out of range 4\.\.250' "an out-of-range option is refused with file and line"
# A value only the plugin can judge: its validate verb (ABI 1.2).
sed 's|^dhcp_first = 999$|net = 10.0.3.0/28|' "$WORK/bad.conf" >"$WORK/badnet.conf"
if "$BIN" --plugin-path "$PLUGINDIR" -c none check-config "$WORK/badnet.conf" 2>"$WORK/badnet.err"; then
	fail "check-config accepted net = 10.0.3.0/28 (prefix 8..24)"
fi
cat "$WORK/badnet.err" >&2
expect "$WORK/badnet.err" 'badnet\.conf:8: \[network\.mynet\] net = 10\.0\.3\.0/28: not ADDRESS/PREFIX' "the plugin's own check (validate) names file, line and key in check-config"

cat >"$WORK/vm.conf" <<EOT
# written by $TEST_NAME
[vm]
name = kit-mynet
memory = 256
accel = tcg
reboot = no
kernel = $GUEST_KERNEL
initrd = $GUEST_INITRD
append = console=ttyS0 quiet panic=-1 aether.hold=forever
console = file:$WORK/console.log

[network]
backend = mynet

[network.mynet]
net = 10.0.3.0/24
dhcp_first = 20
EOT
"$BIN" --plugin-path "$PLUGINDIR" -c none check-config "$WORK/vm.conf" || fail "check-config rejected a good file"
timeout 120 "$BIN" --plugin-path "$PLUGINDIR" -c none run "$WORK/vm.conf" 2>"$WORK/aether.err" &
APID=$!
at_exit "kill $APID 2>/dev/null"
# The guest holds until told to stop: no time window to hit.
wait_for "$WORK/console.log" 'AETHER-GUEST: (holding forever|lease-fail)' 90 ||
	{ cat "$WORK/aether.err" "$WORK/console.log" >&2; fail "the guest did not come up"; }
MARK=$(find "$RUN/plugins/mynet" -name '*.attached' 2>/dev/null | head -n 1)
[ -n "$MARK" ] || fail "no per-VM state in the plugin's runtime dir while the guest runs"
grep -q '^kit-mynet 10\.0\.3\.0/24$' "$MARK" || fail "unexpected state file content: $(cat "$MARK")"
pass "attach left its per-VM state while the guest runs"
kill -TERM $APID
rc=0; wait $APID || rc=$?
cat "$WORK/aether.err" >&2
[ $rc -eq 143 ] || { cat "$WORK/console.log" >&2; fail "aether run exited $rc after SIGTERM, want 143"; }
expect "$WORK/aether.err" 'mynet: attached VM kit-mynet \(NIC 0, MAC [0-9a-f:]{17}\) to 10\.0\.3\.0/24, DHCP from 10\.0\.3\.20' "the plugin logged the attach"
expect "$WORK/console.log" 'AETHER-GUEST: lease ip=10\.0\.3\.20 router=10\.0\.3\.2 ' "the guest's lease comes from the plugin's network"
expect "$WORK/aether.err" 'mynet: detached VM kit-mynet' "the plugin logged the detach"
expect "$WORK/aether.err" 'kit-mynet: network detached' "aether detached the network"
[ -z "$(find "$RUN/plugins/mynet" -type f 2>/dev/null)" ] || fail "detach left state behind: $(ls "$RUN/plugins/mynet")"
[ -z "$(ls -A "$RUN/vms" 2>/dev/null)" ] || fail "runtime dir left behind: $(ls "$RUN/vms")"
pass "attach/detach cycle of an out-of-tree plugin, nothing left behind"

# Crash recovery: state a dead run left behind is collected by `aether gc`.
mkdir -p "$RUN/plugins/mynet"
echo "ghost 10.0.3.0/24" >"$RUN/plugins/mynet/ghost.attached"
"$BIN" --plugin-path "$PLUGINDIR" -c none gc mynet 2>"$WORK/gc.err" || { cat "$WORK/gc.err" >&2; fail "aether gc mynet failed"; }
cat "$WORK/gc.err" >&2
expect "$WORK/gc.err" 'mynet: gc: removed the marker of VM id ghost' "the plugin's gc ran through aether gc"
[ ! -e "$RUN/plugins/mynet/ghost.attached" ] || fail "aether gc left the dead VM's state"
pass "aether gc collected a crashed run's state"
