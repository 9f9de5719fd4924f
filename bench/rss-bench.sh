#!/bin/sh
# Resident memory of an `aether run` supervisor beside its QEMU, and of a
# bare qemu-system-x86_64 started with the same arguments, in one script.
# Target: the supervisor under 4 MiB.  The comparison uses slirp's
# mode = qemu (QEMU does the networking, so a bare QEMU can run the very
# same argv); the supervisor running libslirp itself is measured too.
. "${top_srcdir:-.}/tests/lib.sh"
. "${top_srcdir:-.}/bench/verdict.sh"
TEST_NAME=rss-bench
need qemu-system-x86_64
make_work
guest
export AETHER_RUNTIME_DIR=$WORK/run
cat >"$WORK/vm.conf" <<EOT
[vm]
name = bench-rss
memory = 256
accel = tcg
reboot = no
kernel = $GUEST_KERNEL
initrd = $GUEST_INITRD
append = console=ttyS0 quiet aether.hold=forever
console = file:$WORK/console.log

[network.slirp]
mode = qemu
EOT
rss() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

# The supervisor when it runs libslirp and relays the frames itself.
sed -e 's/^mode = qemu/mode = libslirp/' -e 's/bench-rss/bench-rss-ls/' \
	-e 's/console.log/console-ls.log/' "$WORK/vm.conf" >"$WORK/vm-ls.conf"
"$AETHER" -c none run "$WORK/vm-ls.conf" 2>"$WORK/aether-ls.err" &
LPID=$!
at_exit "kill -9 $LPID 2>/dev/null"
wait_for "$WORK/console-ls.log" 'holding forever' 120 || fail "libslirp guest did not come up"
sleep 2
L=$(rss $LPID)
kill -TERM $LPID; wait $LPID 2>/dev/null
"$AETHER" -c none -vv run "$WORK/vm.conf" 2>"$WORK/aether.err" &
APID=$!
at_exit "kill -9 $APID 2>/dev/null"
wait_for "$WORK/console.log" 'holding forever' 120 || fail "guest did not come up"
QPID=$(cat "$WORK/run/vms/bench-rss/qemu.pid")
sleep 2
A=$(rss $APID); Q=$(rss $QPID)
# The same argv without aether: taken from aether's debug output.
sed -n 's/^aether: debug: argv\[[0-9]*\] = //p' "$WORK/aether.err" >"$WORK/argv"
kill -TERM $APID; wait $APID 2>/dev/null
# aether hands QEMU descriptors (kernel, initrd, console, QMP socket);
# the bare QEMU gets the same things by path.
sed -i -e "s|^/proc/self/fd/[0-9]*\$|@FD@|" \
	-e "s|^socket,id=con0,fd=[0-9]*\$|file,id=con0,path=$WORK/console-bare.log|" \
	-e "s|^socket,id=qmp0,fd=[0-9]*,|socket,id=qmp0,path=$WORK/qmp-bare.sock,|" "$WORK/argv"
set --
prev= fds=0
while IFS= read -r arg; do
	if [ "$arg" = -add-fd ]; then prev=skip; continue; fi
	[ "$prev" = skip ] && { prev=; continue; }
	if [ "$arg" = @FD@ ]; then
		case $prev in
		-kernel) arg=$GUEST_KERNEL ;;
		-initrd) arg=$GUEST_INITRD ;;
		*) fail "unexpected descriptor argument after $prev" ;;
		esac
	fi
	set -- "$@" "$arg"
	prev=$arg
done <"$WORK/argv"
case " $* " in *"/proc/self/fd/"*|*"fd="*|*"fdset"*)
	fail "bare QEMU argv still refers to aether's descriptors: $*" ;;
esac
"$@" >/dev/null 2>&1 &
BPID=$!
at_exit "kill -9 $BPID 2>/dev/null"
wait_for "$WORK/console-bare.log" 'holding forever' 120 || fail "bare QEMU guest did not come up"
sleep 2
B=$(rss $BPID)
kill -9 $BPID; wait $BPID 2>/dev/null
printf '%-34s %10s\n' "process" "RSS (KiB)"
printf '%-34s %10s\n' "aether run supervisor" "$A"
printf '%-34s %10s\n' "aether run, libslirp in process" "$L"
printf '%-34s %10s\n' "QEMU under aether" "$Q"
printf '%-34s %10s\n' "bare QEMU, same arguments" "$B"
awk -v a="$A" -v q="$Q" -v b="$B" 'BEGIN { if (b > 0)
	printf "supervisor / bare QEMU: %.3f   QEMU under aether / bare QEMU: %.3f\n", a / b, q / b }'
verdict "supervisor RSS" "$A" "<" 4096 KiB
exit $bench_status
