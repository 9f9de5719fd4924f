#!/bin/sh
# strict.sh - runs one test (its command line is "$@") for the automake
# harness.  Outside CI a test that cannot run here exits 77 and is shown
# as SKIP with its reason.  With AETHER_TEST_STRICT=1, which .ci/run sets,
# a skip is a failure: what CI is meant to test must be tested.
"$@"
rc=$?
if [ "$rc" -eq 77 ] && [ "${AETHER_TEST_STRICT:-0}" = 1 ]; then
	echo "FAIL: the test skipped (exit 77) and AETHER_TEST_STRICT=1 is set:" \
		"in strict mode a test that cannot run fails (reason above)" >&2
	exit 1
fi
exit "$rc"
