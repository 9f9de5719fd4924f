#!/bin/sh
# console-cap.sh - the console log is bounded: a "guest" writing far more
# than console_max leaves at most console_max * (console_keep + 1) bytes on
# disk, the newest output in console.log; and console targets that are not
# log files (/proc, devices, symlinks as root) are refused by check-config
# and by run, naming the file and line.  The guest is a stand-in QEMU (qemu =
# a script) that writes to the serial socket aether hands it, so the
# supervisor's writer is what is tested.
. "${top_srcdir:-.}/tests/lib.sh"

need bash
make_work
RUN=$WORK/run
export AETHER_RUNTIME_DIR=$RUN
mkdir "$WORK/logs"
chmod 0755 "$WORK/logs"

# The stand-in: finds "-chardev socket,id=con0,fd=N", writes $BYTES bytes
# of numbered lines there, then a last line, and exits 0 (a guest that
# powered off).  It runs as whatever user aether gives QEMU.
cat >"$WORK/fakeqemu" <<'EOS'
#!/bin/bash
fd= prev=
for a in "$@"; do
	[ "$prev" = -chardev ] && case $a in socket,id=con0,fd=*) fd=${a#socket,id=con0,fd=} ;; esac
	prev=$a
done
[ -n "$fd" ] || { echo "fakeqemu: no console fd in $*" >&2; exit 3; }
i=0
line=$(printf '%0100d' 0)
while [ $i -lt 3000 ]; do       # 3000 * 108 bytes = 324000
	printf 'l%06d %s\n' $i "$line"
	i=$((i + 1))
done >&"$fd"
echo "NEWEST-OUTPUT-MARKER" >&"$fd"
exit 0
EOS
chmod 0755 "$WORK/fakeqemu"
: >"$WORK/kernel"
chmod 0644 "$WORK/kernel"

vm() { # NAME CONSOLE [EXTRA]
	cat >"$WORK/$1.conf" <<EOT
[vm]
name = $1
accel = tcg
kernel = $WORK/kernel
qemu = $WORK/fakeqemu
console = $2
${3:-}
[network]
backend = slirp
[network.slirp]
mode = qemu
EOT
}

size() { stat -c %s "$1" 2>/dev/null || echo 0; }

# --- 1. cap 64K, one rotation: at most 128K on disk ----------------------
# a big log from an earlier run is rotated too
head -c 100000 /dev/zero >"$WORK/logs/c1.log"
vm c1 "file:$WORK/logs/c1.log" "console_max = 64K
console_keep = 1"
"$AETHER" -c none check-config "$WORK/c1.conf" >/dev/null ||
	fail "check-config rejected c1"
timeout 60 "$AETHER" -c none run "$WORK/c1.conf" 2>"$WORK/c1.err" ||
	{ cat "$WORK/c1.err" >&2; fail "run c1 failed"; }
total=0
for f in "$WORK"/logs/c1.log*; do
	s=$(size "$f")
	[ "$s" -le 65536 ] || fail "$(basename "$f") has $s bytes, more than console_max (65536)"
	total=$((total + s))
done
[ "$total" -le $((65536 * 2)) ] || fail "$total bytes of console logs, more than 2 * 64K"
[ -f "$WORK/logs/c1.log.1" ] || fail "no console.log.1 after rotation"
[ ! -e "$WORK/logs/c1.log.2" ] || fail "console_keep = 1 but c1.log.2 exists"
tail -n 1 "$WORK/logs/c1.log" | grep -q '^NEWEST-OUTPUT-MARKER$' ||
	fail "the newest output is not at the end of the current log"
grep -q '^l002999 ' "$WORK/logs/c1.log" || fail "the last numbered line is not in the current log"
pass "324K of console output under console_max = 64K, keep 1: $total bytes on disk, newest in c1.log"

# --- 2. keep 3 and keep 0 -------------------------------------------------
vm c3 "file:$WORK/logs/c3.log" "console_max = 32K
console_keep = 3"
timeout 60 "$AETHER" -c none run "$WORK/c3.conf" 2>"$WORK/c3.err" ||
	{ cat "$WORK/c3.err" >&2; fail "run c3 failed"; }
total=0 n=0
for f in "$WORK"/logs/c3.log*; do
	s=$(size "$f")
	[ "$s" -le 32768 ] || fail "$(basename "$f") has $s bytes"
	total=$((total + s)) n=$((n + 1))
done
[ $n = 4 ] || fail "$n c3 logs, want console.log and .1 .. .3: $(ls "$WORK/logs")"
[ "$total" -le $((32768 * 4)) ] || fail "$total bytes, more than 4 * 32K"
tail -n 1 "$WORK/logs/c3.log" | grep -q NEWEST-OUTPUT-MARKER || fail "c3: newest output missing"
# the rotated files are in order: .1 holds what came just before
first() { grep -a -m1 -o '^l[0-9]\{6\} ' "$1"; }
l1=$(first "$WORK/logs/c3.log.1") l2=$(first "$WORK/logs/c3.log.2")
[ -n "$l1" ] && [ -n "$l2" ] && [ "$l2" \< "$l1" ] ||
	fail "rotation order: .2 starts with '$l2', .1 with '$l1'"
vm c0 "file:$WORK/logs/c0.log" "console_max = 16K
console_keep = 0"
timeout 60 "$AETHER" -c none run "$WORK/c0.conf" 2>"$WORK/c0.err" ||
	{ cat "$WORK/c0.err" >&2; fail "run c0 failed"; }
[ "$(ls "$WORK/logs" | grep -c '^c0')" = 1 ] || fail "console_keep = 0 left rotated files"
[ "$(size "$WORK/logs/c0.log")" -le 16384 ] || fail "c0.log is larger than 16K"
tail -n 1 "$WORK/logs/c0.log" | grep -q NEWEST-OUTPUT-MARKER || fail "c0: newest output missing"
pass "console_keep 3 and 0: at most cap * (keep + 1) bytes, newest output kept"

# --- 3. targets that are not log files ------------------------------------
for target in /proc/self/mem /dev/null /sys/kernel/notes "$WORK/logs"; do
	vm bad "file:$target"
	"$AETHER" -c none check-config "$WORK/bad.conf" >"$WORK/bad.out" 2>&1 &&
		fail "check-config accepted console = file:$target"
	grep -q "$WORK/bad.conf:6: console: " "$WORK/bad.out" ||
		fail "check-config did not name file:line for $target: $(cat "$WORK/bad.out")"
	rc=0
	timeout 30 "$AETHER" -c none run "$WORK/bad.conf" >"$WORK/bad.out" 2>&1 || rc=$?
	[ $rc = 1 ] || fail "run with console = file:$target exited $rc, want 1"
	grep -q "$WORK/bad.conf:6: console: " "$WORK/bad.out" ||
		fail "run did not name file:line for $target: $(cat "$WORK/bad.out")"
done
if [ "$(id -u)" = 0 ]; then
	ln -s /dev/null "$WORK/logs/link.log"
	vm bad "file:$WORK/logs/link.log"
	"$AETHER" -c none check-config "$WORK/bad.conf" >"$WORK/bad.out" 2>&1 &&
		fail "check-config (root) accepted a symlink as console"
	grep -q "symbolic link" "$WORK/bad.out" || fail "no reason for the symlink: $(cat "$WORK/bad.out")"
fi
pass "/proc, /dev, /sys, directories and (as root) symlinks are refused with file:line"
# --- 4. aether console follows the log across rotations -------------------
# A store VM run by `aether run`, whose stand-in writes 2000 lines slowly;
# `aether console` must print every one once, in order, and the last line.
sed -e 's/^while \[ \$i -lt 3000 \]; do.*/while [ $i -lt 2000 ]; do/' \
    -e 's/^	i=\$((i + 1))$/	i=$((i + 1)); [ $((i % 100)) = 0 ] \&\& sleep 0.2/' \
	"$WORK/fakeqemu" >"$WORK/slowqemu"
chmod 0755 "$WORK/slowqemu"
grep -q 'sleep 0.2' "$WORK/slowqemu" || fail "cannot make the slow stand-in"
export AETHER_STORE_DIR=$WORK/store
mkdir -p "$WORK/store/vms/cf"
cat >"$WORK/store/vms/cf/vm.conf" <<EOT
[vm]
name = cf
accel = tcg
kernel = $WORK/kernel
qemu = $WORK/slowqemu
console = file:console.log
console_max = 16K
console_keep = 1
[network]
backend = slirp
[network.slirp]
mode = qemu
EOT
"$AETHER" -c none run "$WORK/store/vms/cf/vm.conf" 2>"$WORK/cf.err" &
RPID=$!
at_exit "kill $RPID 2>/dev/null"
wait_for "$RUN/vms/cf/pid" '[0-9]' 20 || fail "the cf supervisor did not start"
timeout 60 "$AETHER" -c none console cf >"$WORK/cf.out" 2>"$WORK/cf.cerr" ||
	fail "aether console cf failed: $(cat "$WORK/cf.cerr")"
wait $RPID || fail "run cf failed: $(cat "$WORK/cf.err")"
[ -f "$WORK/store/vms/cf/console.log.1" ] || fail "cf's log was not rotated"
grep -a -o '^l[0-9]\{6\} ' "$WORK/cf.out" | tr -d ' l' >"$WORK/cf.nums"
seq -f '%06g' 0 1999 >"$WORK/cf.want"
cmp -s "$WORK/cf.nums" "$WORK/cf.want" ||
	fail "aether console lost or repeated lines across rotations: $(diff "$WORK/cf.want" "$WORK/cf.nums" | head -5)"
tail -n 1 "$WORK/cf.out" | grep -q NEWEST-OUTPUT-MARKER || fail "aether console missed the last line"
pass "aether console follows the log across rotations: 2000 lines, in order, none lost"
exit 0
