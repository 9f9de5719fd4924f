/* net-bench.c - the address pool of managed networks (core/addrpool.c)
 * under load, for bench/net-bench.sh.
 *
 *   net-bench DIR N
 *
 * In scratch directory DIR (a pool of its own, nothing else touched):
 *   reserve   N VMs reserved one by one on a pool big enough for them all
 *   release   the same N released one by one
 *   cycle     N reserve+release cycles on a /24 pool that already holds
 *             200 VMs: never -ENOSPC, each time the lowest free address
 *   baseline  the floor of any store that rewrites one file atomically per
 *             change: N atomic rewrites (ae_write_file) of a file of the
 *             same lines as the pool's, growing as in "reserve"
 * Prints one line "reserve_ms release_ms cycle_ms baseline_ms exhausted
 * wrong" (wrong: addresses that were not distinct or not the lowest free;
 * exhausted: -ENOSPC in the cycles).  Exit 1 on any other error. */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if defined(__has_include)
#if __has_include("addrpool.h")
#define HAVE_ADDRPOOL 1
#endif
#endif

#ifdef HAVE_ADDRPOOL
#include "addrpool.h"
#include "util.h"

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void mac_of(unsigned i, uint8_t mac[6])
{
	mac[0] = 0x52, mac[1] = 0x54, mac[2] = 0x00;
	mac[3] = 0x42, mac[4] = (uint8_t)(i >> 8), mac[5] = (uint8_t)i;
}

int main(int argc, char **argv)
{
	char err[512], dir[4096], name[65];
	uint32_t base = (10u << 24) | (64u << 16); /* 10.64.0.0 */
	uint32_t a, *got;
	unsigned n, i, wrong = 0, exhausted = 0;
	double t0, reserve_ms, release_ms, cycle_ms, baseline_ms;
	uint8_t mac[6];
	int changed, rc;
	struct ae_resv *v;
	size_t nv;

	if (argc != 3 || (n = (unsigned)atoi(argv[2])) < 1 || n > 4000) {
		fprintf(stderr, "usage: net-bench DIR N (1..4000)\n");
		return 2;
	}
	got = calloc(n, sizeof *got);
	if (!got)
		return 1;

	/* reserve, then release: a pool of first .. first + 2n */
	snprintf(dir, sizeof dir, "%s/big", argv[1]);
	if (ae_mkdir_private(dir, 0700) < 0) {
		perror(dir);
		return 1;
	}
	t0 = now_ms();
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof name, "vm%u", i);
		mac_of(i, mac);
		rc = ae_pool_reserve(dir, base + 2, base + 2 + 2 * n, name, mac,
				     &got[i], &changed, err, sizeof err);
		if (rc < 0) {
			fprintf(stderr, "net-bench: reserve %s: %s\n", name, err);
			return 1;
		}
	}
	reserve_ms = now_ms() - t0;
	for (i = 0; i < n; i++)
		if (got[i] != base + 2 + i) /* lowest free, so distinct */
			wrong++;
	t0 = now_ms();
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof name, "vm%u", i);
		if (ae_pool_release(dir, name, &changed, err, sizeof err) < 0) {
			fprintf(stderr, "net-bench: release %s: %s\n", name, err);
			return 1;
		}
		if (!changed)
			wrong++;
	}
	release_ms = now_ms() - t0;
	if (ae_pool_read(dir, &v, &nv, err, sizeof err) < 0) {
		fprintf(stderr, "net-bench: %s\n", err);
		return 1;
	}
	wrong += (unsigned)nv; /* every reservation must be gone */
	free(v);

	/* cycles on a /24 (pool .2 .. .254) that holds 200 VMs */
	snprintf(dir, sizeof dir, "%s/small", argv[1]);
	if (ae_mkdir_private(dir, 0700) < 0) {
		perror(dir);
		return 1;
	}
	for (i = 0; i < 200; i++) {
		snprintf(name, sizeof name, "held%u", i);
		mac_of(0x8000 + i, mac);
		if (ae_pool_reserve(dir, base + 2, base + 254, name, mac, &a,
				    &changed, err, sizeof err) < 0) {
			fprintf(stderr, "net-bench: reserve %s: %s\n", name, err);
			return 1;
		}
	}
	t0 = now_ms();
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof name, "cyc%u", i);
		mac_of(0x4000 + i, mac);
		rc = ae_pool_reserve(dir, base + 2, base + 254, name, mac, &a,
				     &changed, err, sizeof err);
		if (rc == -ENOSPC) {
			exhausted++;
			continue;
		}
		if (rc < 0) {
			fprintf(stderr, "net-bench: reserve %s: %s\n", name, err);
			return 1;
		}
		if (a != base + 2 + 200)
			wrong++;
		if (ae_pool_release(dir, name, &changed, err, sizeof err) < 0) {
			fprintf(stderr, "net-bench: release %s: %s\n", name, err);
			return 1;
		}
	}
	cycle_ms = now_ms() - t0;

	/* baseline: one atomic rewrite per change of the same lines */
	{
		size_t cap = (size_t)n * 48 + 1, len = 0;
		char *buf = malloc(cap), path[4200], line[64], ip[16];

		if (!buf)
			return 1;
		snprintf(path, sizeof path, "%s/baseline", argv[1]);
		t0 = now_ms();
		for (i = 0; i < n; i++) {
			ae_pool_fmt(base + 2 + i, ip);
			mac_of(i, mac);
			len += (size_t)snprintf(line, sizeof line,
				"vm%u %02x:%02x:%02x:%02x:%02x:%02x %s\n", i,
				mac[0], mac[1], mac[2], mac[3], mac[4], mac[5], ip);
			if (len >= cap)
				return 1;
			memcpy(buf + len - strlen(line), line, strlen(line));
			if (ae_write_file(path, buf, len, 0600) < 0) {
				perror(path);
				return 1;
			}
		}
		baseline_ms = now_ms() - t0;
		free(buf);
	}
	printf("%.1f %.1f %.1f %.1f %u %u\n", reserve_ms, release_ms,
	       cycle_ms, baseline_ms, exhausted, wrong);
	free(got);
	return fflush(stdout) ? 1 : 0;
}
#else
int main(void)
{
	fprintf(stderr, "net-bench: this build has no address pool "
			"(core/addrpool.h)\n");
	return 77;
}
#endif
