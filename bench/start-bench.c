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
 * Prints the medians and minimums and the overhead (aether - qemu).
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
		struct timespec ts = {0, 1000000};
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

static int run(const char *const *argv)
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
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

int main(int argc, char **argv)
{
	struct ae_vmconf *c;
	char err[1024], *vmfile, *qmp, tmp[] = "/tmp/start-bench.XXXXXX";
	const char *store = getenv("AETHER_STORE_DIR");
	uint64_t *tq, *ta;
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
	tq = ae_xcalloc((size_t)n, sizeof *tq);
	ta = ae_xcalloc((size_t)n, sizeof *ta);
	for (i = 0; i < n; i++) {
		const char *start[] = {argv[1], "-q", "-c", argv[2], "start",
				       argv[3], NULL};
		const char *stop[] = {argv[1], "-q", "-c", argv[2], "stop",
				      argv[3], "--force", NULL};
		uint64_t t0;

		tq[i] = time_qemu(c, qmp);
		t0 = ae_now_ns();
		if (run(start) != 0) {
			fprintf(stderr, "start-bench: aether start failed\n");
			return 1;
		}
		ta[i] = ae_now_ns() - t0;
		if (run(stop) != 0) {
			fprintf(stderr, "start-bench: aether stop failed\n");
			return 1;
		}
	}
	qsort(tq, (size_t)n, sizeof *tq, cmp_u64);
	qsort(ta, (size_t)n, sizeof *ta, cmp_u64);
	printf("%8.2f %8.2f %8.2f %8.2f %8.2f\n", tq[n / 2] / 1e6,
	       ta[n / 2] / 1e6, (double)((int64_t)ta[n / 2] - (int64_t)tq[n / 2]) / 1e6,
	       tq[0] / 1e6, ta[0] / 1e6);
	unlink(qmp);
	rmdir(tmp);
	return 0;
}
