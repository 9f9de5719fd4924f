#!/bin/sh
# ABI stability, checked rather than promised (see abi/README):
#  1. abi10, abi11 and abi12, plugins built against the frozen 1.0, 1.1
#     and 1.2 headers, load into this aether and every verb works through the
#     current core; the verbs later minors appended answer -EOPNOTSUPP (or
#     are not called) without the host reading past the short descriptor,
#     no frame port appears, and their 1.0 gc reads the whole live array;
#     their sources still compile against the current header;
#  2. each baseline abi/abi-X.Y.xml still matches its frozen header;
#  3. abidiff between each baseline and the current header accepts only
#     members appended to the structures that carry their size and
#     enumerators added to enums (read fail-closed); the structures used as
#     array elements ($FROZEN) are frozen in 1.x: any change is refused;
#  4. every AETHER_* macro of each baseline keeps its value; the minor
#     version only grows, and grows whenever something was added;
#  5. the checker refuses known-bad changes (an insertion, a retyped verb,
#     an append to each frozen structure) and accepts known-good ones.
# Parts 2-5 need libabigail's abidw/abidiff (Debian: abigail-tools); without
# them the test runs part 1 and then skips.
#
# Usage: tests/abi-check.sh                         (make check)
#        tests/abi-check.sh --write-baseline X.Y    (at an ABI release:
#            writes abi/abi-X.Y.xml from abi/X.Y/aether/plugin.h)
. "${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}/tests/lib.sh"

CC=${CC:-cc}
ABI=$top_srcdir/abi
# Structures that carry their size: they may grow at the end.  aether_vm
# only because the host never hands it over as an array (gc_v2 takes
# pointers; the 1.0 gc gets a packed copy of AETHER_VM_SIZE_1_0 bytes each).
EXTENSIBLE="aether_plugin aether_host aether_vm aether_attachment aether_helper_spec"
# Structures used as array elements, indexed with the sizeof of whoever
# built the array: frozen in 1.x, no change at all (appending included).
FROZEN="aether_option aether_addr aether_pollfd"
for f in $FROZEN; do
	case " $EXTENSIBLE " in
	*" $f "*) fail "struct $f is both frozen and extensible" ;;
	esac
	grep -q "^struct $f {" "$top_srcdir/include/aether/plugin.h" ||
		fail "frozen struct $f is not in include/aether/plugin.h"
done

# abi_xml INCLUDE_DIR OUT.xml: abidw of abi/abi-types.c built against the
# <aether/plugin.h> found in INCLUDE_DIR.
abi_xml() {
	d=$(mktemp -d "$WORK/abi.XXXXXX")
	cp "$ABI/abi-types.c" "$d/" || return 1
	(cd "$d" && $CC -g -O0 -fPIC -shared -I"$1" -o abi-types.so abi-types.c) ||
		return 1
	abidw --no-corpus-path --no-comp-dir-path --no-show-locs \
		--no-architecture --out-file "$2" "$d/abi-types.so"
}

# classify OLD.xml NEW.xml REPORT: sets VERDICT to same, additions,
# incompatible or error; abidiff's report goes to REPORT, the reasons for
# "incompatible" to stderr.
classify() {
	rc=0
	abidiff --leaf-changes-only --harmless --no-show-locs "$1" "$2" \
		>"$3" 2>&1 || rc=$?
	if [ $((rc & 3)) -ne 0 ]; then
		VERDICT=error
		return
	fi
	if [ $rc -eq 0 ]; then
		VERDICT=same
		return
	fi
	VERDICT=$(awk -v ext="$EXTENSIBLE" -v frozen="$FROZEN" '
	function violation(why) {
		printf "abi-check: %s: %s\n", why, $0 > "/dev/stderr"
		bad = 1
	}
	BEGIN {
		n = split(ext, e, " ")
		for (i = 1; i <= n; i++)
			grows[e[i]] = 1
		n = split(frozen, e, " ")
		for (i = 1; i <= n; i++)
			frozen_[e[i]] = 1
		bad = 0; adds = 0
	}
	/^$/ || /^Leaf changes summary:/ || /^Changed leaf types summary:/ { next }
	/^Removed\/Changed\/Added (functions|variables) summary: 0 Removed, 0 Changed, 0 Added/ { next }
	/^Removed\/Changed\/Added/ { violation("functions or variables changed"); next }
	/^\047struct [A-Za-z0-9_]+\047 changed:$/ {
		name = $2; gsub(/\047/, "", name)
		kind = "struct"; mode = ""; oldsize = -1
		if (name in frozen_)
			violation("struct " name " is frozen in 1.x (an array element): no member may be appended, inserted or changed")
		else if (!(name in grows))
			violation("a structure without struct_size changed")
		next
	}
	/^\047enum [A-Za-z0-9_]+\047 changed:$/ { kind = "enum"; mode = ""; next }
	/^  type size changed from [0-9]+ to [0-9]+ \(in bits\)$/ {
		if (kind != "struct")
			violation("size change")
		oldsize = $5 + 0
		if ($7 + 0 < oldsize)
			violation("structure shrank")
		next
	}
	/^  type size hasn.t changed$/ { next }
	/^  [0-9]+ data member insertions?:$/ {
		if (kind != "struct")
			violation("unexpected member insertion")
		mode = "member"; next
	}
	/^  [0-9]+ enumerator insertions?:$/ {
		if (kind != "enum")
			violation("unexpected enumerator insertion")
		mode = "enum"; next
	}
	mode == "member" && /^    \047.*\047, at offset [0-9]+ \(in bits\)$/ {
		off = $(NF - 2) + 0
		if (oldsize < 0)
			violation("member added without growing the structure")
		else if (off < oldsize)
			violation("member inserted before the end")
		else
			adds++
		next
	}
	mode == "enum" && /^    \047.*\047 value \047-?[0-9]+\047$/ { adds++; next }
	{ violation("change not allowed by the ABI rules") }
	END { print bad ? "incompatible" : (adds ? "additions" : "same") }
	' "$3")
}

# The AETHER_* macros a header defines, one "#define NAME VALUE" a line.
macros() {
	printf '#include <aether/plugin.h>\n' |
		$CC -E -dM -I"$1" -x c - | grep '^#define AETHER_' |
		sed 's/[[:space:]][[:space:]]*/ /g' | sort
}
minor_of() { sed -n 's/^#define AETHER_ABI_MINOR \([0-9][0-9]*\)$/\1/p' "$1"; }

make_work

if [ "${1:-}" = "--write-baseline" ]; then
	v=${2:?usage: $0 --write-baseline X.Y}
	need abidw
	[ -f "$ABI/$v/aether/plugin.h" ] || fail "no $ABI/$v/aether/plugin.h"
	abi_xml "$ABI/$v" "$ABI/abi-$v.xml" || fail "abidw failed"
	log "wrote $ABI/abi-$v.xml"
	exit 0
fi

# --- 1. a plugin of the oldest ABI loads and runs ---------------------------
[ -f "$top_builddir/abi/abi10.la" ] || fail "abi/abi10.la not built (make check builds it)"
export AETHER_PLUGIN_PATH="$top_builddir/abi"
"$AETHER" -c none plugins show abi10 >"$WORK/show.out" 2>&1 ||
	{ cat "$WORK/show.out" >&2; fail "aether plugins show abi10 failed"; }
expect "$WORK/show.out" '^  ABI: +1\.0 \(this aether: 1\.[0-9]+\)' "plugin built against the 1.0 header loads"
expect "$WORK/show.out" '^    seconds +integer 1\.\.3600' "its 1.0 option table reads back"

export AETHER_RUNTIME_DIR="$WORK/run"
rc=0
"$top_builddir/abi/drive" abi10 "label = frozen
tag = a
tag = b
seconds = 120" >"$WORK/drive.out" 2>"$WORK/drive.err" || rc=$?
cat "$WORK/drive.out" "$WORK/drive.err" >&2
[ $rc -eq 0 ] || fail "driving the 1.0 plugin failed (exit $rc)"
expect "$WORK/drive.out" '^load rc=0 abi=1\.0 size=' "descriptor of ABI 1.0 accepted"
expect "$WORK/drive.err" 'abi10: init: ABI 1\.0 plugin in a 1\.[0-9]+ host' "init got a host table it understands"
expect "$WORK/drive.out" '^attach rc=0 kind=stream fd=open$' "attach: STREAM attachment with a live fd"
expect "$WORK/drive.err" 'abi10: attach drive-a: label frozen, 2 tag\(s\), helper [1-9]' "options of 1.0 (string, repeat, int, bool) and a helper"
expect "$WORK/drive.out" '^frame rc=0 port=none ops=none output=kept$' "no frame port from a 1.0 plugin; the host's frame sink kept across attach"
expect "$WORK/drive.out" '^addresses rc=-95 attached out=untouched$' "1.1 verb addresses on the 1.0 descriptor: -EOPNOTSUPP, buffer untouched"
expect "$WORK/drive.out" '^addresses rc=-95 no-att-state out=untouched$' "addresses without attachment state (status from another process): -EOPNOTSUPP"
expect "$WORK/drive.out" '^forward rc=-95 add$' "1.1 verb forward (add) on the 1.0 descriptor: -EOPNOTSUPP"
expect "$WORK/drive.out" '^forward rc=-95 remove$' "1.1 verb forward (remove) on the 1.0 descriptor: -EOPNOTSUPP"
expect "$WORK/drive.out" '^beyond rc=0 (trapped=[1-9][0-9]* trap-calls=0|asan-redzone)$' "nothing past the 1.0 descriptor read or called (traps laid past its end, or ASan's redzone)"
expect "$WORK/drive.out" '^validate rc=0$' "1.2 verb validate on the 1.0 descriptor: not called, 0"
expect "$WORK/drive.out" '^check rc=0 after-gc-live$' "check and gc with the VM live"
expect "$WORK/drive.err" 'abi10: gc: 2 live VM\(s\): drive-b drive-a$' "the 1.0 gc reads every element of the live array at its own stride"
expect "$WORK/drive.out" '^check rc=-32 after-gc-none$' "check sees the host close its end of the stream"
expect "$WORK/drive.out" '^detach rc=0$' "detach"
hpid=$(sed -n 's/.*helper \([0-9][0-9]*\)$/\1/p' "$WORK/drive.err" | head -n 1)
[ -n "$hpid" ] || fail "no helper pid in the log"
if kill -0 "$hpid" 2>/dev/null; then
	kill "$hpid"
	fail "helper $hpid still runs after detach"
fi
pass "helper process stopped by detach"
[ -z "$(find "$WORK/run/plugins/abi10" -type f 2>/dev/null)" ] ||
	fail "state left in the plugin's runtime dir: $(ls "$WORK/run/plugins/abi10")"
pass "nothing left in the plugin's runtime dir"

# --- 1b. a plugin of ABI 1.1: its 1.1 verbs work, its gc is the 1.0 one --
[ -f "$top_builddir/abi/abi11.la" ] || fail "abi/abi11.la not built (make check builds it)"
"$AETHER" -c none plugins show abi11 >"$WORK/show11.out" 2>&1 ||
	{ cat "$WORK/show11.out" >&2; fail "aether plugins show abi11 failed"; }
expect "$WORK/show11.out" '^  ABI: +1\.1 \(this aether: 1\.[0-9]+\)' "plugin built against the 1.1 header loads"
rc=0
"$top_builddir/abi/drive" abi11 "label = frozen11
tag = a" >"$WORK/drive11.out" 2>"$WORK/drive11.err" || rc=$?
cat "$WORK/drive11.out" "$WORK/drive11.err" >&2
[ $rc -eq 0 ] || fail "driving the 1.1 plugin failed (exit $rc)"
expect "$WORK/drive11.out" '^load rc=0 abi=1\.1 size=' "descriptor of ABI 1.1 accepted"
expect "$WORK/drive11.err" 'abi11: init: ABI 1\.1 plugin in a 1\.[0-9]+ host' "init got a host table it understands"
expect "$WORK/drive11.out" '^attach rc=0 kind=stream fd=open$' "attach: STREAM attachment with a live fd"
expect "$WORK/drive11.err" 'abi11: attach drive-a: label frozen11, 1 tag\(s\)' "options of 1.1"
expect "$WORK/drive11.out" '^addresses rc=1 attached out=written$' "1.1 verb addresses answers"
expect "$WORK/drive11.out" '^addresses rc=1 no-att-state out=written$' "addresses without attachment state"
expect "$WORK/drive11.out" '^forward rc=0 add$' "1.1 verb forward (add)"
expect "$WORK/drive11.out" '^validate rc=0$' "1.2 verb validate on the 1.1 descriptor: not called, 0"
expect "$WORK/drive11.out" '^forward rc=0 remove$' "1.1 verb forward (remove)"
expect "$WORK/drive11.err" 'abi11: gc: 2 live VM\(s\): drive-b drive-a$' "the 1.0 gc of a 1.1 plugin reads every element of the live array"
expect "$WORK/drive11.out" '^check rc=0 after-gc-live$' "gc kept the state of drive-a, the second element of the live array"
expect "$WORK/drive11.err" 'abi11: gc: removed drive-a\.abi11' "gc with no VM live removed the state"
expect "$WORK/drive11.out" '^check rc=-2 after-gc-none$' "check sees what gc removed"
expect "$WORK/drive11.out" '^beyond rc=0 (trapped=[1-9][0-9]* trap-calls=0|asan-redzone|descriptor-complete)$' "nothing past the 1.1 descriptor read or called"
expect "$WORK/drive11.out" '^detach rc=0$' "detach"
[ -z "$(find "$WORK/run/plugins/abi11" -type f 2>/dev/null)" ] ||
	fail "state left in the plugin's runtime dir: $(ls "$WORK/run/plugins/abi11")"
pass "nothing left in the 1.1 plugin's runtime dir"

# --- 1c. a plugin of ABI 1.2: gc_v2, validate, a helper spec of 1.2 size ---
[ -f "$top_builddir/abi/abi12.la" ] || fail "abi/abi12.la not built (make check builds it)"
"$AETHER" -c none plugins show abi12 >"$WORK/show12.out" 2>&1 ||
	{ cat "$WORK/show12.out" >&2; fail "aether plugins show abi12 failed"; }
expect "$WORK/show12.out" '^  ABI: +1\.2 \(this aether: 1\.[0-9]+\)' "plugin built against the 1.2 header loads"
rc=0
"$top_builddir/abi/drive" abi12 "label = frozen12
tag = a
tag = b" >"$WORK/drive12.out" 2>"$WORK/drive12.err" || rc=$?
cat "$WORK/drive12.out" "$WORK/drive12.err" >&2
[ $rc -eq 0 ] || fail "driving the 1.2 plugin failed (exit $rc)"
expect "$WORK/drive12.out" '^load rc=0 abi=1\.2 size=' "descriptor of ABI 1.2 accepted"
expect "$WORK/drive12.err" 'abi12: init: ABI 1\.2 plugin in a 1\.[0-9]+ host' "init got a host table it understands"
expect "$WORK/drive12.err" 'abi12: attach drive-a: helper inherited descriptor [0-9]+ \(inherited\)' "a helper spec of the 1.2 size: the helper inherits a descriptor that is not close-on-exec, as before"
expect "$WORK/drive12.out" '^attach rc=0 kind=stream fd=open$' "attach: STREAM attachment with a live fd"
expect "$WORK/drive12.err" 'abi12: attach drive-a: label frozen12, 2 tag\(s\)' "options of 1.2"
expect "$WORK/drive12.out" '^addresses rc=1 attached out=written$' "1.1 verb addresses answers"
expect "$WORK/drive12.out" '^forward rc=0 add$' "1.1 verb forward (add)"
expect "$WORK/drive12.out" '^validate rc=0$' "1.2 verb validate accepts good options"
expect "$WORK/drive12.out" '^forward rc=0 remove$' "1.1 verb forward (remove)"
expect "$WORK/drive12.err" 'abi12: gc_v2: 2 live VM\(s\): drive-b drive-a$' "gc_v2 of a 1.2 plugin gets every live VM"
expect "$WORK/drive12.out" '^check rc=0 after-gc-live$' "gc_v2 kept the state of drive-a"
expect "$WORK/drive12.err" 'abi12: gc_v2: removed drive-a\.abi12' "gc_v2 with no VM live removed the state"
expect "$WORK/drive12.out" '^check rc=-2 after-gc-none$' "check sees what gc_v2 removed"
expect "$WORK/drive12.out" '^beyond rc=0 (trapped=[1-9][0-9]* trap-calls=0|asan-redzone|descriptor-complete)$' "nothing past the 1.2 descriptor read or called"
expect "$WORK/drive12.out" '^detach rc=0$' "detach"
[ -z "$(find "$WORK/run/plugins/abi12" -type f 2>/dev/null)" ] ||
	fail "state left in the plugin's runtime dir: $(ls "$WORK/run/plugins/abi12")"
pass "nothing left in the 1.2 plugin's runtime dir"
rc=0
"$top_builddir/abi/drive" abi12 "label = a/b" >"$WORK/drive12bad.out" 2>"$WORK/drive12bad.err" || rc=$?
[ $rc -ne 0 ] || { cat "$WORK/drive12bad.out" "$WORK/drive12bad.err" >&2; fail "the 1.2 plugin's validate let a bad label through"; }
expect "$WORK/drive12bad.out" '^load rc=-22' "the 1.2 verb validate refuses a bad label"
expect "$WORK/drive12bad.err" 'label = a/b: must be non-empty' "its opt_error names the key and value"

# Source compatibility: the 1.0, 1.1 and 1.2 plugins build, warning-free,
# against the current header, in C and the header alone in C++.
for v in 1.0 1.1 1.2; do
	$CC -std=gnu11 -Wall -Wextra -Werror -fsyntax-only -I"$top_srcdir/include" \
		"$ABI/plugin-$v.c" || fail "the $v plugin no longer compiles against include/aether/plugin.h"
	pass "the $v plugin compiles against the current header"
done
if command -v c++ >/dev/null 2>&1; then
	printf '#include <aether/plugin.h>\nint main() { return sizeof(aether_plugin) == 0; }\n' |
		c++ -x c++ -Wall -Wextra -Werror -fsyntax-only -I"$top_srcdir/include" - ||
		fail "include/aether/plugin.h does not compile as C++"
	pass "the header compiles as C++"
fi

# The 1.0 gc's array: the host packs it with AETHER_VM_SIZE_1_0, which must
# be sizeof(struct aether_vm) as the 1.0, 1.1 and 1.2 headers define it.
cat >"$WORK/vmsize.c" <<'EOC'
#include <stdio.h>
#include <aether/plugin.h>
int main(void) { printf("%zu\n", sizeof(struct aether_vm)); return 0; }
EOC
printf '#include <stdio.h>\n#include <aether/plugin.h>\nint main(void) { printf("%%zu\\n", (size_t)AETHER_VM_SIZE_1_0); return 0; }\n' >"$WORK/vmsize-now.c"
$CC -I"$top_srcdir/include" -o "$WORK/vmsize-now" "$WORK/vmsize-now.c" ||
	fail "AETHER_VM_SIZE_1_0 does not compile"
now=$("$WORK/vmsize-now")
for v in 1.0 1.1 1.2; do
	$CC -I"$ABI/$v" -o "$WORK/vmsize-$v" "$WORK/vmsize.c" || fail "cannot build against the $v header"
	old=$("$WORK/vmsize-$v")
	[ "$old" = "$now" ] || fail "AETHER_VM_SIZE_1_0 is $now but struct aether_vm of $v is $old bytes"
done
pass "AETHER_VM_SIZE_1_0 ($now) is the size of struct aether_vm in 1.0, 1.1 and 1.2"

# --- 2-5. the ABI itself -----------------------------------------------------
if ! command -v abidw >/dev/null 2>&1 || ! command -v abidiff >/dev/null 2>&1; then
	skip "abidw/abidiff not installed (Debian: abigail-tools): the ABI baseline comparison did not run"
fi

abi_xml "$top_srcdir/include" "$WORK/current.xml" || fail "abidw of the current header failed"
macros "$top_srcdir/include" >"$WORK/current.macros"
cur_minor=$(minor_of "$WORK/current.macros")
[ -n "$cur_minor" ] || fail "no AETHER_ABI_MINOR in the current header"

nbase=0
for base in "$ABI"/abi-*.xml; do
	[ -f "$base" ] || continue
	v=$(basename "$base" .xml); v=${v#abi-}
	hdr="$ABI/$v"
	[ -f "$hdr/aether/plugin.h" ] || fail "baseline $v has no frozen header $hdr/aether/plugin.h"
	nbase=$((nbase + 1))

	# 2. the stored XML describes the frozen header
	abi_xml "$hdr" "$WORK/frozen-$v.xml" || fail "abidw of the frozen $v header failed"
	classify "$base" "$WORK/frozen-$v.xml" "$WORK/frozen-$v.diff"
	[ "$VERDICT" = same ] || { cat "$WORK/frozen-$v.diff" >&2; fail "abi/abi-$v.xml does not match abi/$v/aether/plugin.h ($VERDICT)"; }
	pass "baseline $v matches its frozen header"

	# 3. layout and types
	classify "$base" "$WORK/current.xml" "$WORK/current-$v.diff"
	case $VERDICT in
	same) pass "ABI identical to the $v baseline" ;;
	additions) cat "$WORK/current-$v.diff" >&2
		pass "ABI compatible with the $v baseline (members or enumerators appended)" ;;
	*) cat "$WORK/current-$v.diff" >&2
		fail "incompatible change against the $v baseline (abidiff report above)" ;;
	esac
	added=$VERDICT

	# 4. macros: every baseline macro unchanged, the minor only grows
	macros "$hdr" >"$WORK/base-$v.macros"
	base_minor=$(minor_of "$WORK/base-$v.macros")
	grep -v '^#define AETHER_ABI_MINOR ' "$WORK/base-$v.macros" >"$WORK/b"
	grep -v '^#define AETHER_ABI_MINOR ' "$WORK/current.macros" >"$WORK/c"
	gone=$(comm -23 "$WORK/b" "$WORK/c")
	[ -z "$gone" ] || { printf '%s\n' "$gone" >&2; fail "macros of the $v baseline removed or changed (above)"; }
	[ "$cur_minor" -ge "$base_minor" ] || fail "AETHER_ABI_MINOR went down from $base_minor to $cur_minor"
	pass "the $v baseline's macros keep their values"

	# 5. additions need a new minor
	if [ -n "$(comm -13 "$WORK/b" "$WORK/c")" ]; then
		added=additions
		log "macros added since $v:"; comm -13 "$WORK/b" "$WORK/c" >&2
	fi
	if [ "$added" = additions ] && [ "$cur_minor" -le "$base_minor" ]; then
		fail "the ABI grew since $v but AETHER_ABI_MINOR is still $cur_minor: bump it and add a changelog entry to the header"
	fi
done
[ $nbase -gt 0 ] || fail "no baseline abi/abi-*.xml"

# --- 6. the checker catches what it must --------------------------------------
mutate() { # NAME SED-EXPRESSION [X.Y]: a copy of the X.Y (1.0) header, changed
	mv=${3:-1.0}
	mkdir -p "$WORK/$1/aether"
	sed "$2" "$ABI/$mv/aether/plugin.h" >"$WORK/$1/aether/plugin.h"
	cmp -s "$ABI/$mv/aether/plugin.h" "$WORK/$1/aether/plugin.h" &&
		fail "self-test mutation $1 did not apply"
	abi_xml "$WORK/$1" "$WORK/$1.xml" || fail "abidw of mutation $1 failed"
	classify "$ABI/abi-$mv.xml" "$WORK/$1.xml" "$WORK/$1.diff" 2>"$WORK/$1.why"
}
mutate inserted 's|^\tuint16_t nic; .*$|\tuint16_t extra;\n&|'
[ "$VERDICT" = incompatible ] || fail "self-test: a member inserted in struct aether_vm was judged '$VERDICT'"
mutate retyped 's|^\tvoid (\*fini)(void \*state);|\tint (*fini)(void *state);|'
[ "$VERDICT" = incompatible ] || fail "self-test: a verb's changed type was judged '$VERDICT'"
mutate grown 's|^\tint64_t min, max; .*$|&\n\tint extra;|'
[ "$VERDICT" = incompatible ] || fail "self-test: struct aether_option growing was judged '$VERDICT'"
grep -q 'struct aether_option is frozen' "$WORK/grown.why" ||
	{ cat "$WORK/grown.why" >&2; fail "self-test: the append to struct aether_option was not refused as a frozen structure"; }
# Appends to the frozen structures of 1.1 (array elements of addresses and
# of the frame ports' fill/dispatch), against the 1.1 baseline.
mutate addr-appended 's|^\tconst char \*source; .*$|&\n\tuint32_t flags;|' 1.1
[ "$VERDICT" = incompatible ] && grep -q 'struct aether_addr is frozen' "$WORK/addr-appended.why" ||
	{ cat "$WORK/addr-appended.diff" "$WORK/addr-appended.why" >&2; fail "self-test: a member appended to the frozen struct aether_addr was judged '$VERDICT'"; }
mutate pollfd-appended 's|^\tshort revents;$|&\n\tint extra;|' 1.1
[ "$VERDICT" = incompatible ] && grep -q 'struct aether_pollfd is frozen' "$WORK/pollfd-appended.why" ||
	{ cat "$WORK/pollfd-appended.diff" "$WORK/pollfd-appended.why" >&2; fail "self-test: a member appended to the frozen struct aether_pollfd was judged '$VERDICT'"; }
mutate appended 's|^\tvoid \*host_data; .*$|&\n\tint (*new_service)(const struct aether_host *h);|'
[ "$VERDICT" = additions ] || { cat "$WORK/appended.why" >&2; fail "self-test: a member appended to struct aether_host was judged '$VERDICT'"; }
mutate vm-appended 's|^\tconst char \*runtime_dir; .*$|&\n\tuint32_t numa_node;|'
[ "$VERDICT" = additions ] || { cat "$WORK/vm-appended.why" >&2; fail "self-test: a member appended to struct aether_vm (extensible by pointer) was judged '$VERDICT'"; }
pass "self-test: insertions, retyped verbs, appends to frozen structures refused; appending to aether_host and aether_vm accepted"
