# bench/local.mk - `make bench` (see the bench target in Makefile.am).
noinst_PROGRAMS += bench/load-bench
bench_load_bench_SOURCES = bench/load-bench.c
bench_load_bench_LDADD = libaether-core.la $(LTDL_LIBS)
bench_scripts += bench/load-bench.sh bench/rss-bench.sh
dist_noinst_SCRIPTS += bench/load-bench.sh bench/rss-bench.sh
