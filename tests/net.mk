# tests/net.mk - managed networks ([net.NAME], aether net): the end-to-end
# test (real guests, private network namespaces, an upstream namespace
# behind NAT) and the benchmark.  tests/net-nftcheck reads aether's
# nftables table back through libnftables, independently of core/nft.c.
# tests/net-upstream is the TCP server of the test's upstream namespace.
dist_noinst_SCRIPTS += tests/net-e2e.sh tests/net-lib.sh bench/net-bench.sh
if MANAGED_NETWORKS
check_PROGRAMS += tests/net-upstream tests/net-nftcheck
tests_net_upstream_SOURCES = tests/net-upstream.c
tests_net_nftcheck_SOURCES = tests/net-nftcheck.c
tests_net_nftcheck_CFLAGS = $(AM_CFLAGS) $(NFT_CFLAGS)
tests_net_nftcheck_LDADD = $(NFT_LIBS)
TESTS += tests/net-e2e.sh
bench_scripts += bench/net-bench.sh
# The address pool under load (core/addrpool.c), for bench/net-bench.sh.
check_PROGRAMS += bench/net-bench
bench_net_bench_SOURCES = bench/net-bench.c
bench_net_bench_LDADD = libaether-core.la
endif
