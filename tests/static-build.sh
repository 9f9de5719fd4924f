#!/bin/sh
# A static aether: ./configure --disable-shared links the plugins into the
# binary and preloads them (libtool -dlpreopen + LTDL_SET_PRELOADED_SYMBOLS).
# Configures and builds a tree of its own in a temporary directory (about a
# minute), installs it into a temporary prefix and checks that:
#  - no plugin is a shared object, and none is installed as a file;
#  - `aether plugins` lists every configured plugin as preloaded, with no
#    plugin path at all, and `plugins show` reads their option tables;
#  - an out-of-tree plugin (.so) still loads next to them through the path;
#  - `aether run` boots the test guest on the preloaded slirp backend.
# Not part of make check (it re-runs configure); scripts/test runs it.
# Usage: tests/static-build.sh [CONFIGURE-ARGS...]
. "${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}/tests/lib.sh"

need cc make pkg-config
make_work
SRC=$(cd "$top_srcdir" && pwd)
[ -x "$SRC/configure" ] || fail "$SRC/configure missing: run autoreconf -fi first"
jobs=$(nproc 2>/dev/null || echo 2)

# A source tree configured in place cannot host a VPATH build: use a copy.
if [ -f "$SRC/config.status" ]; then
	mkdir "$WORK/src"
	(cd "$SRC" && tar --exclude=.git --exclude='*.o' --exclude='*.lo' \
		--exclude='*.la' --exclude=.libs --exclude=.deps \
		--exclude=./build --exclude=./build-san --exclude=./tests/guest/out \
		-cf - .) | tar -C "$WORK/src" -xf -
	(cd "$WORK/src" && rm -f config.status config.h config.log libtool \
		stamp-h1 Makefile include/aether-plugin.pc)
	SRC=$WORK/src
fi

mkdir "$WORK/build" || fail "mkdir"
cd "$WORK/build" || fail "cd"
log "configure --disable-shared (log: $WORK/build/configure.out)"
"$SRC/configure" --disable-shared --prefix="$WORK/prefix" "$@" \
	>configure.out 2>&1 || { tail -n 30 configure.out >&2; fail "configure --disable-shared failed"; }
grep -q '^  plugins preloaded \.* yes$' configure.out ||
	{ tail -n 20 configure.out >&2; fail "configure did not switch to preloaded plugins"; }
log "make -j$jobs"
env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -j"$jobs" >make.out 2>&1 ||
	{ tail -n 40 make.out >&2; fail "the static build failed"; }
pass "configure --disable-shared && make"

PLUGINS=
for la in plugins/*/*.la; do
	[ -f "$la" ] && PLUGINS="$PLUGINS $(basename "$la" .la)"
done
[ -n "$PLUGINS" ] || fail "no plugin was configured"
log "configured plugins:$PLUGINS"
[ -z "$(find plugins -name '*.so')" ] || fail "shared plugin objects in a --disable-shared build"
for p in $PLUGINS; do
	nm aether | grep -q " ${p}_LTX_aether_plugin\$" ||
		fail "$p's descriptor is not linked into aether"
done
pass "every plugin is linked into the aether binary"

env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make install >install.out 2>&1 ||
	{ tail -n 30 install.out >&2; fail "make install failed"; }
BIN=$WORK/prefix/bin/aether
PLUGINDIR=$WORK/prefix/lib/aether/plugins
[ -z "$(find "$PLUGINDIR" -type f 2>/dev/null)" ] ||
	fail "plugin files installed by a static build: $(ls "$PLUGINDIR")"
pass "nothing installed in $PLUGINDIR"

unset AETHER_PLUGIN_PATH
"$BIN" -c none plugins >plugins.out 2>&1 || { cat plugins.out >&2; fail "aether plugins failed"; }
cat plugins.out >&2
grep -q UNUSABLE plugins.out && fail "a preloaded plugin is unusable"
for p in $PLUGINS; do
	expect plugins.out "^$p +[^ ]+ +ABI 1\\." "$p listed"
	expect plugins.out "file: $p \\(preloaded into aether\\)" "$p is preloaded"
	"$BIN" -c none plugins show "$p" >show.out 2>&1 ||
		{ cat show.out >&2; fail "aether plugins show $p failed"; }
	expect show.out "^  options \\(\\[network\\.$p\\]\\):" "plugins show $p reads its option table"
done

# A third-party shared plugin loads into the static aether too.
export PKG_CONFIG_PATH="$WORK/prefix/lib/pkgconfig"
cp -R "$SRC/examples/mynet" "$WORK/mynet"
make -C "$WORK/mynet" >mynet.out 2>&1 || { cat mynet.out >&2; fail "the example plugin does not build"; }
"$BIN" --plugin-path "$WORK/mynet" -c none plugins >plugins2.out 2>&1 ||
	{ cat plugins2.out >&2; fail "aether plugins with the example failed"; }
expect plugins2.out "file: $WORK/mynet/mynet\\.so" "an out-of-tree .so loads into the static aether"
first=${PLUGINS# }; first=${first%% *}
expect plugins2.out "file: $first \\(preloaded" "... next to the preloaded plugins"

case " $PLUGINS " in
*" slirp "*) ;;
*) pass "slirp not configured: no boot test"; exit 0 ;;
esac
need qemu-system-x86_64
guest
export AETHER_RUNTIME_DIR="$WORK/run"
cat >vm.conf <<EOT
[vm]
name = static-slirp
memory = 256
accel = tcg
reboot = no
kernel = $GUEST_KERNEL
initrd = $GUEST_INITRD
append = console=ttyS0 quiet panic=-1
console = file:$WORK/console.log
[network]
backend = slirp
[network.slirp]
restrict = yes
EOT
rc=0
timeout 120 "$BIN" -c none run vm.conf 2>run.err || rc=$?
cat run.err >&2
[ $rc -eq 0 ] || { cat "$WORK/console.log" >&2; fail "aether run exited $rc"; }
expect "$WORK/console.log" 'AETHER-GUEST: lease ip=10\.0\.2\.15' "the guest got a lease from the preloaded slirp backend"
expect run.err 'static-slirp: network detached' "network detached"
