/* bench/start-bench.c - the launcher's own start overhead.
 *
 *   start-bench AETHER HOSTCONF NAME TRIALS
 *
 * For the store VM NAME (tap backend), alternately:
 *   qemu:   QEMU alone with the very argv aether builds for that VM (the
 *           TAP fd opened here beforehand), timed from fork until QMP
 *           answers query-status;
 *   aether: `aether -c HOSTCONF start NAME`, timed from fork until it
 *           returns (it returns once QEMU answers on QMP with the network
 *           attached).
 *   start-bench --pause QMPSOCK...   pauses those VMs' vCPUs (QMP stop).
 * The order of the two alternates from trial to trial.  QEMU's own start
 * varies by several ms, so the difference of the medians is noisy; aether's
 * own time is also measured directly, independent of QEMU: from the fork of
 * `aether start` until the supervisor spawns QEMU, plus from QEMU's first
 * QMP answer until `aether start` has returned (the supervisor reports both
 * instants, CLOCK_MONOTONIC, through AETHER_START_TIMES).
 * Prints, in ms: the medians of qemu and aether, their difference, the
 * median and minimum of aether's own time, and the median time QEMU took
 * inside the aether trials (spawn to QMP answer).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "helper.h"
#include "qemu-argv.h"
#include "qmp.h"
#include "util.h"
#include "vmconf.h"

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static int open_tap(const char *name)
{
	struct ifreq ifr;
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return -1;
	memset(&ifr, 0, sizeof ifr);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", name);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static uint64_t time_qemu(const struct ae_vmconf *c, const char *qmp)
{
	struct aether_attachment att;
	struct ae_argv a = {0};
	char err[512];
	uint64_t t0, t;
	pid_t pid;
	int i;

	memset(&att, 0, sizeof att);
	att.struct_size = sizeof att;
	att.kind = AETHER_ATTACH_TAP;
	for (i = 0; i < AETHER_MAX_QUEUES; i++)
		att.tap.fds[i] = att.tap.vhostfds[i] = -1;
	att.tap.queues = 1;
	att.tap.vnet_hdr = 1;
	att.tap.fds[0] = open_tap("benchq0");
	if (att.tap.fds[0] < 0) {
		perror("start-bench: tap");
		exit(1);
	}
	unlink(qmp);
	if (ae_qemu_build(&a, c, &att, qmp, err, sizeof err) < 0) {
		fprintf(stderr, "start-bench: %s\n", err);
		exit(1);
	}
	t0 = ae_now_ns();
	if (ae_spawn((const char *const *)a.v, NULL, "/dev/null", 0, a.keep_fds,
		     a.n_keep, &pid, err, sizeof err) < 0) {
		fprintf(stderr, "start-bench: %s\n", err);
		exit(1);
	}
	/* the same readiness test the supervisor uses */
	while (ae_qmp_execute(qmp, "{\"execute\":\"query-status\"}", NULL, 0,
			      2000) < 0) {
		struct timespec ts = {0, 200000};
		if (waitpid(pid, NULL, WNOHANG) == pid) {
			fprintf(stderr, "start-bench: QEMU exited\n");
			exit(1);
		}
		nanosleep(&ts, NULL);
	}
	t = ae_now_ns() - t0;
	close(att.tap.fds[0]);
	ae_qmp_execute(qmp, "{\"execute\":\"quit\"}", NULL, 0, 2000);
	waitpid(pid, NULL, 0);
	ae_argv_free(&a);
	return t;
}

static int run(const char *const *argv, uint64_t *t_end)
{
	char err[512];
	pid_t pid;
	int st;

	if (ae_spawn(argv, NULL, "/dev/null", 0, NULL, 0, &pid, err,
		     sizeof err) < 0) {
		fprintf(stderr, "start-bench: %s\n", err);
		exit(1);
	}
	waitpid(pid, &st, 0);
	if (t_end)
		*t_end = ae_now_ns();
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

/* The last "SPAWN READY" line of the times file. */
static int last_times(const char *path, uint64_t *spawn, uint64_t *ready)
{
	unsigned long long a = 0, b = 0;
	char line[128];
	FILE *f = fopen(path, "r");
	int ok = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof line, f))
		ok = sscanf(line, "%llu %llu", &a, &b) == 2;
	fclose(f);
	*spawn = a;
	*ready = b;
	return ok && a && b ? 0 : -1;
}

#define MS(x) ((double)(x) / 1e6)

int main(int argc, char **argv)
{
	struct ae_vmconf *c;
	char err[1024], *vmfile, *qmp, *times, tmp[] = "/tmp/start-bench.XXXXXX";
	const char *store = getenv("AETHER_STORE_DIR");
	uint64_t *tq, *ta, *own, *inq;
	int n, i;

	if (argc > 1 && !strcmp(argv[1], "--pause")) {
		/* pause the vCPUs of already running VMs: they stay running
		 * (supervisor, QEMU, TAP) but leave the CPUs to the trials */
		for (i = 2; i < argc; i++)
			if (ae_qmp_execute(argv[i], "{\"execute\":\"stop\"}",
					   NULL, 0, 5000) < 0)
				fprintf(stderr, "start-bench: cannot pause %s\n",
					argv[i]);
		return 0;
	}
	if (argc != 5 || !store) {
		fprintf(stderr, "usage: AETHER_STORE_DIR=... start-bench AETHER "
				"HOSTCONF NAME TRIALS\n");
		return 2;
	}
	n = atoi(argv[4]);
	if (n < 1)
		n = 1;
	vmfile = ae_xasprintf("%s/vms/%s/vm.conf", store, argv[3]);
	if (ae_vmconf_load(vmfile, argv[2], &c, err, sizeof err) < 0) {
		fprintf(stderr, "start-bench: %s\n", err);
		return 1;
	}
	if (!mkdtemp(tmp)) {
		perror("mkdtemp");
		return 1;
	}
	qmp = ae_xasprintf("%s/qmp.sock", tmp);
	times = ae_xasprintf("%s/times", tmp);
	setenv("AETHER_START_TIMES", times, 1);
	tq = ae_xcalloc((size_t)n, sizeof *tq);
	ta = ae_xcalloc((size_t)n, sizeof *ta);
	own = ae_xcalloc((size_t)n, sizeof *own);
	inq = ae_xcalloc((size_t)n, sizeof *inq);
	for (i = 0; i < n; i++) {
		const char *start[] = {argv[1], "-q", "-c", argv[2], "start",
				       argv[3], NULL};
		const char *stop[] = {argv[1], "-q", "-c", argv[2], "stop",
				      argv[3], "--force", NULL};
		uint64_t t0, t1, spawn, ready;

		if (i % 2 == 0)
			tq[i] = time_qemu(c, qmp);
		t0 = ae_now_ns();
		if (run(start, &t1) != 0) {
			fprintf(stderr, "start-bench: aether start failed\n");
			return 1;
		}
		ta[i] = t1 - t0;
		if (last_times(times, &spawn, &ready) < 0 || spawn < t0 ||
		    ready < spawn || t1 < ready) {
			fprintf(stderr, "start-bench: no start times from "
					"aether in %s\n", times);
			return 1;
		}
		own[i] = (spawn - t0) + (t1 - ready);
		inq[i] = ready - spawn;
		if (run(stop, NULL) != 0) {
			fprintf(stderr, "start-bench: aether stop failed\n");
			return 1;
		}
		if (i % 2 == 1)
			tq[i] = time_qemu(c, qmp);
	}
	qsort(tq, (size_t)n, sizeof *tq, cmp_u64);
	qsort(ta, (size_t)n, sizeof *ta, cmp_u64);
	qsort(own, (size_t)n, sizeof *own, cmp_u64);
	qsort(inq, (size_t)n, sizeof *inq, cmp_u64);
	printf("%8.2f %8.2f %8.2f %8.2f %8.2f %8.2f\n", MS(tq[n / 2]),
	       MS(ta[n / 2]), MS((int64_t)ta[n / 2] - (int64_t)tq[n / 2]),
	       MS(own[n / 2]), MS(own[0]), MS(inq[n / 2]));
	unlink(qmp);
	unlink(times);
	rmdir(tmp);
	return 0;
}
