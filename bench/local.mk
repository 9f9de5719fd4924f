# bench/local.mk - `make bench` (see the bench target in Makefile.am).
noinst_PROGRAMS += bench/load-bench
bench_load_bench_SOURCES = bench/load-bench.c
bench_load_bench_LDADD = libaether-core.la $(LTDL_LIBS)
bench_scripts += bench/load-bench.sh bench/rss-bench.sh
dist_noinst_SCRIPTS += bench/load-bench.sh bench/rss-bench.sh

# make bench: bench/agent-bench.sh (aether serve / remote round trips and
# creates per second through a private RabbitMQ broker).
if BUILD_AGENT
noinst_PROGRAMS += bench/agent-bench
bench_agent_bench_SOURCES = bench/agent-bench.c
bench_agent_bench_CFLAGS = $(AM_CFLAGS) $(AMQP_CFLAGS)
bench_agent_bench_LDADD = libaether-agent.la
endif
bench_scripts += bench/agent-bench.sh
dist_noinst_SCRIPTS += bench/agent-bench.sh

# make bench: bench/nft-bench.sh (one network's rules applied through
# libnftables against `nft -f` with the same text, in a private netns).
if MANAGED_NETWORKS
check_PROGRAMS += bench/nft-bench
bench_nft_bench_SOURCES = bench/nft-bench.c
bench_nft_bench_CFLAGS = $(AM_CFLAGS) $(NFT_CFLAGS)
bench_nft_bench_LDADD = libaether-core.la $(NFT_LIBS)
endif
bench_scripts += bench/nft-bench.sh
dist_noinst_SCRIPTS += bench/nft-bench.sh

# make bench: bench/switch-bench.sh (the cost of switchable = yes: frames/s
# through a TAP fd directly and through the relay's TAP port; the time of
# a live backend switch with the test guest).
check_PROGRAMS += bench/switch-bench
bench_switch_bench_SOURCES = bench/switch-bench.c
bench_switch_bench_CFLAGS = $(AM_CFLAGS) -pthread
bench_switch_bench_LDFLAGS = -pthread
bench_switch_bench_LDADD = libaether-core.la
bench_scripts += bench/switch-bench.sh
dist_noinst_SCRIPTS += bench/switch-bench.sh

# make bench: bench/tcp-bench.sh (iperf3 from a network namespace through
# every user-mode path; bench/tcp-conv is the namespace's NIC,
# bench/tcp-backend runs libslirp and aether's plugins for it).
check_PROGRAMS += bench/tcp-conv
bench_tcp_conv_SOURCES = bench/tcp-conv.c
bench_tcp_conv_CFLAGS = $(AM_CFLAGS) -pthread
bench_tcp_conv_LDADD = -lpthread
if HAVE_LIBSLIRP
check_PROGRAMS += bench/tcp-backend
bench_tcp_backend_SOURCES = bench/tcp-backend.c
bench_tcp_backend_CFLAGS = $(AM_CFLAGS) $(SLIRP_CFLAGS)
bench_tcp_backend_LDADD = libaether-core.la $(SLIRP_LIBS)
endif
bench_scripts += bench/tcp-bench.sh
dist_noinst_SCRIPTS += bench/tcp-bench.sh
