# tests/net.mk - managed networks ([net.NAME], aether net): the end-to-end
# test (real guests, private network namespaces, an upstream namespace
# behind NAT) and the benchmark.  tests/net-nftcheck.c reads aether's
# nftables table back through libnftables; the test builds it itself
# (cc, pkg-config libnftables jansson) inside its scratch directory.
# tests/net-upstream is the TCP server of the test's upstream namespace.
check_PROGRAMS += tests/net-upstream
tests_net_upstream_SOURCES = tests/net-upstream.c
TESTS += tests/net-e2e.sh
dist_noinst_SCRIPTS += tests/net-e2e.sh tests/net-lib.sh
EXTRA_DIST += tests/net-nftcheck.c

bench_scripts += bench/net-bench.sh
dist_noinst_SCRIPTS += bench/net-bench.sh
# The address pool under load (core/addrpool.c), for bench/net-bench.sh.
noinst_PROGRAMS += bench/net-bench
bench_net_bench_SOURCES = bench/net-bench.c
bench_net_bench_LDADD = libaether-core.la
