/*
 * nft-bench - time to apply one managed network's rules: through
 * libnftables (ae_nft_apply, as the launcher does it) against running
 * `nft -f FILE` (fork + exec, argv, no shell) with the same transaction
 * text (ae_nft_apply_text).  The two are interleaved, ROUNDS times each;
 * the median, minimum and maximum are printed as "key value" lines for
 * bench/nft-bench.sh.  Also times ae_nft_verify (the JSON read-back).
 *
 * Runs in a private network namespace (it unshares one itself; the
 * script also starts it under `unshare -n`): the host's ruleset is never
 * touched.
 *
 * Usage: nft-bench ROUNDS NFT-BINARY
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "nft.h"

#define MAXROUNDS 1000

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void report(const char *key, double *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, cmp_d);
	printf("%s_median_ms %.3f\n", key,
	       n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2);
	printf("%s_min_ms %.3f\n", key, v[0]);
	printf("%s_max_ms %.3f\n", key, v[n - 1]);
}

/* nft -f path, no shell; 0 when it exited 0. */
static int run_nft(const char *nft, const char *path)
{
	char *argv[] = {(char *)nft, "-f", (char *)path, NULL};
	pid_t pid = fork();
	int st;

	if (pid < 0)
		return -1;
	if (pid == 0) {
		execv(nft, argv);
		_exit(127);
	}
	if (waitpid(pid, &st, 0) < 0)
		return -1;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
	static double tlib[MAXROUNDS], tnft[MAXROUNDS], tver[MAXROUNDS];
	const struct ae_nft_net n = {
		.name = "bench", .bridge = "aebr-bench",
		.subnet4 = "192.168.100.0/24", .subnet6 = "fd42:1:2:3::/64",
		.nat = 1,
	};
	char text[4096], err[1024], path[] = "/tmp/aether-nft-bench.XXXXXX";
	int rounds, i, fd;
	double t;

	if (argc != 3 || (rounds = atoi(argv[1])) < 1 || rounds > MAXROUNDS) {
		fprintf(stderr, "usage: nft-bench ROUNDS(1..%d) NFT-BINARY\n",
			MAXROUNDS);
		return 2;
	}
	if (unshare(CLONE_NEWNET) != 0) {
		fprintf(stderr, "nft-bench: unshare(CLONE_NEWNET): %s\n",
			strerror(errno));
		return 77;
	}
	if (ae_nft_apply_text(&n, text, sizeof text, err, sizeof err) < 0) {
		fprintf(stderr, "nft-bench: %s\n", err);
		return 1;
	}
	fd = mkstemp(path);
	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text) ||
	    close(fd) < 0) {
		fprintf(stderr, "nft-bench: %s: %s\n", path, strerror(errno));
		return 1;
	}
	/* warm up both ways, and check that both apply */
	if (ae_nft_apply(&n, err, sizeof err) < 0 ||
	    ae_nft_verify(&n, err, sizeof err) < 0) {
		fprintf(stderr, "nft-bench: libnftables: %s\n", err);
		goto fail;
	}
	if (run_nft(argv[2], path) < 0 || ae_nft_verify(&n, err, sizeof err)) {
		fprintf(stderr, "nft-bench: %s -f %s failed%s%s\n", argv[2],
			path, err[0] ? ": " : "", err);
		goto fail;
	}
	for (i = 0; i < rounds; i++) {
		t = now_ms();
		if (ae_nft_apply(&n, err, sizeof err) < 0) {
			fprintf(stderr, "nft-bench: %s\n", err);
			goto fail;
		}
		tlib[i] = now_ms() - t;
		t = now_ms();
		if (run_nft(argv[2], path) < 0) {
			fprintf(stderr, "nft-bench: %s -f %s failed\n", argv[2],
				path);
			goto fail;
		}
		tnft[i] = now_ms() - t;
		t = now_ms();
		if (ae_nft_verify(&n, err, sizeof err) < 0) {
			fprintf(stderr, "nft-bench: %s\n", err);
			goto fail;
		}
		tver[i] = now_ms() - t;
	}
	unlink(path);
	printf("rounds %d\n", rounds);
	report("libnftables", tlib, rounds);
	report("nft_f", tnft, rounds);
	report("verify", tver, rounds);
	return 0;
fail:
	unlink(path);
	return 1;
}
