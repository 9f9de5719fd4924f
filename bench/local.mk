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
