#!/bin/sh
# Plugin find + load + validate time, per plugin built here.
set -eu
b=${top_builddir:-.}
plugins=
for p in slirp tap vde; do
	ls "$b/plugins/$p/$p.la" >/dev/null 2>&1 && plugins="$plugins $p"
done
exec "$b/bench/load-bench" $plugins
