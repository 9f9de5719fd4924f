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
expect "$WORK/out" "^slirp +[0-9]+\.[0-9.]+ +ABI 1\.[0-9]+" "plugins lists slirp with version and ABI"
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

# A bad value only the plugin can judge: its validate verb refuses it
# before anything is attached, naming file, line, section and key.
good | sed 's/^hostfwd = .*/hostfwd = tcp:nonsense/' >"$WORK/badfwd.conf"
run "$AETHER" -c none run "$WORK/badfwd.conf"
want_rc 3 "run with a bad hostfwd"
expect "$WORK/out" "badfwd\.conf:12: \[network\.slirp\] hostfwd = tcp:nonsense: " "plugin error names file, line, section and key"
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

# --- aether create writes values that come back exactly ---------------------
# (kernel command lines longer than a config line, with ';', '#', '"', '\';
# long paths with ' ;' in them); a fake QEMU records the argv it is given.
if command -v qemu-img >/dev/null 2>&1; then
	export AETHER_STORE_DIR=$WORK/store
	qemu-img create -q -f qcow2 "$WORK/base.qcow2" 16M || fail "qemu-img create"
	# As root the fake runs as QEMU's unprivileged user: its output
	# directory is writable by all.  Files aether hands over as
	# descriptors (/proc/self/fd/N) are recorded as the paths they are.
	mkdir -p "$WORK/fq"
	chmod 1777 "$WORK/fq"
	cat >"$WORK/fakeqemu" <<EOS
#!/bin/sh
# one argument per record, NUL-terminated
for a; do
	case "\$a" in /proc/self/fd/*) a=\$(readlink "\$a") ;; esac
	printf '%s\\0' "\$a"
done >"$WORK/fq/argv"
exit 1
EOS
	chmod 0755 "$WORK/fakeqemu"
	printf '[vm]\nqemu = %s\nconsole = none\n' "$WORK/fakeqemu" >"$WORK/fq.conf"
	# the argument after $1 in the recorded argv, byte for byte
	argv_after() {
		awk -v RS='\0' -v k="$1" 'f { printf "%s", $0; exit } $0 == k { f = 1 }' \
			"$WORK/fq/argv"
	}
	kdir=$WORK/k$(printf '%0150d' 0)/'boot ;x #y "z" \w'
	mkdir -p "$kdir"
	: >"$kdir/vmlinuz"
	: >"$kdir/initrd ;1"
	cp "$WORK/base.qcow2" "$kdir/base.qcow2"
	long=
	i=0
	while [ $i -lt 40 ]; do
		long="${long}opt$i=$(printf '%040d' $i) "
		i=$((i + 1))
	done
	for app in "${long}end" 'console=ttyS0 ;init=/bin/sh # not a "comment" \ here' \
		'  spaces at both ends  ' "caf$(printf '\303\251') $(printf '\t')tab"; do
		printf '%s' "$app" >"$WORK/want"
		rm -rf "$WORK/store/vms/ap"
		run "$AETHER" -c "$WORK/fq.conf" create ap --image "$kdir/base.qcow2" \
			--kernel "$kdir/vmlinuz" --initrd "$kdir/initrd ;1" --append "$app"
		want_rc 0 "create with a ${#app}-character --append"
		awk 'length($0) > 198 { exit 1 }' "$WORK/store/vms/ap/vm.conf" ||
			fail "vm.conf has a line over 198 characters"
		rm -f "$WORK/fq/argv"
		run "$AETHER" -c "$WORK/fq.conf" run "$WORK/store/vms/ap/vm.conf"
		want_rc 4 "run with the fake QEMU"
		[ -s "$WORK/fq/argv" ] || fail "the fake QEMU recorded no argv"
		argv_after -append >"$WORK/got"
		cmp -s "$WORK/want" "$WORK/got" ||
			fail "QEMU got -append '$(cat "$WORK/got")', not '$app'"
		[ "$(argv_after -kernel)" = "$kdir/vmlinuz" ] &&
			[ "$(argv_after -initrd)" = "$kdir/initrd ;1" ] ||
			fail "QEMU got -kernel '$(argv_after -kernel)' -initrd '$(argv_after -initrd)'"
	done
	pass "create: long --append with ; # \" \\, spaces, long paths with ' ;' reach QEMU unchanged"
	rm -rf "$WORK/store/vms/ap"
	run "$AETHER" -c "$WORK/fq.conf" create ap --image "$WORK/base.qcow2" \
		--kernel "$kdir/vmlinuz" --append "$(printf 'a\nb')"
	want_rc 2 "create with a newline in --append"
	expect "$WORK/out" 'error: --append: contains a newline' "newline in --append refused"
	[ ! -e "$WORK/store/vms/ap" ] || fail "a refused create left the VM"

	# --- JSON output stays valid whatever bytes paths hold ------------------
	# A base image whose name is not UTF-8 (0xff, a lone continuation byte,
	# a truncated sequence) and has a DEL: the state's reason names it.
	bad=$WORK/$(printf 'img-\377-\200-\303-\177-"q"\\b.qcow2')
	cp "$WORK/base.qcow2" "$bad"
	run "$AETHER" -c "$WORK/fq.conf" create jb --image "$bad"
	want_rc 0 "create from an image whose name is not UTF-8"
	# and a VM whose file does not load, in a store directory not UTF-8
	json_ok() { # $1: what; the output must parse with a strict parser
		if command -v python3 >/dev/null 2>&1; then
			python3 -c '
import json, sys
d = json.loads(sys.stdin.buffer.read().decode("utf-8", "strict"))
for v in (d if isinstance(d, list) else [d]):
    if v["name"] == "jb" and "img-\ufffd-\ufffd-\ufffd-\x7f-\"q\"\\b.qcow2" not in v["reason"]:
        sys.exit("reason: %r" % v["reason"])
' <"$WORK/out" || { cat "$WORK/out" >&2; fail "$1: not valid JSON"; }
		else
			log "no python3: JSON of $1 not parsed (check_store checks the writer)"
		fi
	}
	run "$AETHER" -c "$WORK/fq.conf" list --json
	want_rc 0 "list --json"
	json_ok "list --json"
	run "$AETHER" -c "$WORK/fq.conf" status jb --json
	want_rc 3 "status --json"
	json_ok "status --json"
	st=$WORK/$(printf 'st\377ore')
	mkdir -p "$st/vms/br"
	printf '[vm]\nname = br\nbogus = 1\n' >"$st/vms/br/vm.conf"
	AETHER_STORE_DIR=$st run "$AETHER" -c "$WORK/fq.conf" list --json
	want_rc 0 "list --json of a broken VM"
	grep -q '"state":"broken"' "$WORK/out" || fail "broken VM: $(cat "$WORK/out")"
	json_ok "list --json with a broken VM"
	pass "list/status --json: valid UTF-8 JSON from paths that are not"
else
	log "no qemu-img: create tests skipped"
fi

# COMMAND --help, COMMAND -h and help COMMAND: the command's help on
# stdout, exit 0, nothing on stderr, for every command aether --help lists
# (and those must include all of these).
"$AETHER" --help >"$WORK/usage.out" 2>&1 || fail "aether --help fails"
help_cmds=$(sed -n '/^Commands:/,/^$/s/^  \([a-z][a-z-]*\).*/\1/p' \
	"$WORK/usage.out" | uniq | tr '\n' ' ')
for c in run check-config plugins gc create start stop delete list status \
	console forward serve remote help; do
	case " $help_cmds " in
	*" $c "*) ;;
	*) fail "aether --help does not list $c (lists: $help_cmds)" ;;
	esac
done
# help_is CMD WHAT ARG...: `aether ARG...` printed CMD's help
help_is() {
	hc=$1 what=$2
	shift 2
	RC=0
	"$AETHER" "$@" >"$WORK/h.out" 2>"$WORK/h.err" || RC=$?
	[ "$RC" -eq 0 ] || { cat "$WORK/h.out" "$WORK/h.err" >&2; fail "$what: exit $RC, want 0"; }
	[ -s "$WORK/h.err" ] && { cat "$WORK/h.err" >&2; fail "$what: wrote to stderr"; }
	grep -Eiq "^usage: aether $hc( |\$)" "$WORK/h.out" ||
		{ cat "$WORK/h.out" >&2; fail "$what: no synopsis of $hc on stdout"; }
}
for c in $help_cmds; do
	help_is "$c" "$c --help" "$c" --help
	help_is "$c" "$c -h" "$c" -h
	help_is "$c" "help $c" help "$c"
done
pass "COMMAND --help, COMMAND -h and help COMMAND for: $help_cmds"
# after arguments and options, as long as it is not an option's value
help_is create "create NAME --image B --help" create vm1 --image "$WORK/nobase" --help
help_is stop "stop NAME --timeout 5 --help" stop vm1 --timeout 5 --help
help_is forward "forward add VM --help" forward add vm1 --help
help_is plugins "plugins show --help" plugins show --help
help_is help "help --help" help --help
[ -e "$WORK/nobase" ] && fail "create --help made something"
pass "--help after a command's arguments and options"
# the value of --append (or of its abbreviation), or after --: not help
for a in --append --app; do
	RC=0
	AETHER_STORE_DIR=$WORK/help-store "$AETHER" create vm1 $a --help \
		>"$WORK/h.out" 2>"$WORK/h.err" || RC=$?
	[ "$RC" -eq 2 ] || { cat "$WORK/h.out" "$WORK/h.err" >&2; fail "create vm1 $a --help: exit $RC, want 2 (no --image)"; }
	grep -Eiq '^usage: aether create' "$WORK/h.out" &&
		fail "create vm1 $a --help printed the help: --help is the value of $a"
	grep -q 'usage' "$WORK/h.err" || { cat "$WORK/h.err" >&2; fail "create vm1 $a --help: no usage error"; }
done
RC=0
"$AETHER" gc -- --help >"$WORK/h.out" 2>"$WORK/h.err" || RC=$?
[ "$RC" -ne 0 ] && grep -q "invalid backend name '--help'" "$WORK/h.err" ||
	{ cat "$WORK/h.out" "$WORK/h.err" >&2; fail "gc -- --help: --help after -- is an argument"; }
pass "an option's value --help and --help after -- are arguments"
run "$AETHER" frobnicate --help
want_rc 2 "unknown command --help"
expect "$WORK/out" "unknown command 'frobnicate'" "unknown command --help: still unknown"
run "$AETHER" help frobnicate
want_rc 2 "help of an unknown command"
expect "$WORK/out" "unknown command 'frobnicate'" "help of an unknown command named"
