/*
 * tap-bench - cost of making bridge ports for VMs, and of removing them.
 *
 * Runs in a private network namespace (it unshares one itself; the
 * script also starts it under `unshare -n`).  For N = 10, 100, 1000
 * ports it measures, per port:
 *   bare    the kernel's own minimum: open /dev/net/tun, TUNSETIFF,
 *           SIOCGIFINDEX, SIOCBRADDIF, SIOCGIFFLAGS/SIOCSIFFLAGS(UP),
 *           in a tight loop in this program;
 *   plugin  the tap backend's attach (through libaether-core, as the
 *           launcher calls it);
 *   ip      the old way: `ip tuntap add`, `ip link set up`, `ip link set
 *           master`, three processes per port.
 * Methods are interleaved and repeated; the median run is reported.
 *
 * Teardown at N = 200 (configurable): deleting ports one by one (one
 * RTM_DELLINK per device, each paying an RCU grace period in the kernel)
 * against the plugin's gc, which deletes them in one request by link
 * group; both for leftover persistent devices and for devices whose fds
 * are still open (running VMs).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/if.h>
#include <linux/if_tun.h>
#include <linux/rtnetlink.h>
#include <linux/sockios.h>

#include <netlink/netlink.h>
#include <netlink/msg.h>
#include <netlink/attr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/bridge.h>

#include <aether/plugin.h>
#include "instance.h"

#define BRIDGE "brbench"
#define CLEAN_GROUP 31337u
#define MAXN 4096
#define MAXRUNS 15

static struct nl_sock *sk;
static int iosk = -1;
static int fds[MAXN][AETHER_MAX_QUEUES];

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static char rtdir[64];
static int run_cmd(char *const argv[]);

static void remove_rtdir(void)
{
	if (rtdir[0]) {
		char *rm[] = {"rm", "-rf", rtdir, NULL};
		run_cmd(rm);
		rtdir[0] = '\0';
	}
}

static void die(const char *what, int err)
{
	fprintf(stderr, "tap-bench: %s: %s\n", what, strerror(err));
	exit(1);
}

/* Let the kernel finish deferred work of the previous phase (RCU
 * callbacks, kobject release, linkwatch) before timing the next one. */
static void settle(void)
{
	struct timespec ts = {0, 400 * 1000 * 1000};
	nanosleep(&ts, NULL);
}

/* ---- netlink helpers (the benchmark's own, for setup/cleanup) ---- */

static int nl_req(int type, int ifindex, int attr, uint32_t val)
{
	struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC, .ifi_index = ifindex};
	struct nl_msg *m = nlmsg_alloc_simple(type, 0);
	int r;

	nlmsg_append(m, &ifi, sizeof ifi, NLMSG_ALIGNTO);
	if (attr)
		nla_put_u32(m, attr, val);
	r = nl_send_auto(sk, m);
	nlmsg_free(m);
	if (r < 0)
		return r;
	return nl_wait_for_ack(sk);
}

static int ifindex_of(const char *name)
{
	struct ifreq ifr;
	memset(&ifr, 0, sizeof ifr);
	snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", name);
	if (ioctl(iosk, SIOCGIFINDEX, &ifr) < 0)
		return -errno;
	return ifr.ifr_ifindex;
}

/* Remove every device named prefix0..prefix(n-1), fast: tag them with a
 * group and delete the group.  Not timed. */
static void cleanup(const char *prefix, int n)
{
	char name[IFNAMSIZ];
	int i, idx, tagged = 0;

	for (i = 0; i < n; i++) {
		snprintf(name, sizeof name, "%s%d", prefix, i);
		idx = ifindex_of(name);
		if (idx > 0 && nl_req(RTM_SETLINK, idx, IFLA_GROUP,
				      CLEAN_GROUP) == 0)
			tagged++;
	}
	if (tagged)
		nl_req(RTM_DELLINK, 0, IFLA_GROUP, CLEAN_GROUP);
	for (i = 0; i < n; i++)
		for (int q = 0; q < AETHER_MAX_QUEUES; q++)
			if (fds[i][q] >= 0) {
				close(fds[i][q]);
				fds[i][q] = -1;
			}
	settle();
}

static void make_bridge(void)
{
	struct rtnl_link *l = rtnl_link_bridge_alloc(), *got = NULL, *ch;
	int r;

	rtnl_link_set_name(l, BRIDGE);
	r = rtnl_link_add(sk, l, NLM_F_CREATE | NLM_F_EXCL);
	if (r < 0) {
		fprintf(stderr, "tap-bench: create bridge: %s\n",
			nl_geterror(r));
		exit(1);
	}
	rtnl_link_put(l);
	rtnl_link_get_kernel(sk, 0, BRIDGE, &got);
	ch = rtnl_link_alloc();
	rtnl_link_set_flags(ch, IFF_UP);
	rtnl_link_change(sk, got, ch, 0);
	rtnl_link_put(ch);
	rtnl_link_put(got);
}

/* ---- the three ways to make a port ---- */

static double run_bare(int n)
{
	int br = ifindex_of(BRIDGE);
	double t0 = now();

	for (int i = 0; i < n; i++) {
		struct ifreq ifr;
		int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
		if (fd < 0)
			die("open /dev/net/tun", errno);
		memset(&ifr, 0, sizeof ifr);
		snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "bk%d", i);
		ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
		if (ioctl(fd, TUNSETIFF, &ifr) < 0)
			die("TUNSETIFF", errno);
		fds[i][0] = fd;
		if (ioctl(iosk, SIOCGIFINDEX, &ifr) < 0)
			die("SIOCGIFINDEX", errno);
		int idx = ifr.ifr_ifindex;
		memset(&ifr, 0, sizeof ifr);
		snprintf(ifr.ifr_name, sizeof ifr.ifr_name, BRIDGE);
		ifr.ifr_ifindex = idx;
		if (ioctl(iosk, SIOCBRADDIF, &ifr) < 0)
			die("SIOCBRADDIF", errno);
		memset(&ifr, 0, sizeof ifr);
		snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "bk%d", i);
		if (ioctl(iosk, SIOCGIFFLAGS, &ifr) < 0)
			die("SIOCGIFFLAGS", errno);
		ifr.ifr_flags |= IFF_UP;
		if (ioctl(iosk, SIOCSIFFLAGS, &ifr) < 0)
			die("SIOCSIFFLAGS", errno);
	}
	(void)br;
	return now() - t0;
}

static struct ae_instance *open_plugin(const char *opts)
{
	struct ae_instance *inst = NULL;
	char err[512];
	if (ae_instance_open_text("tap", NULL, opts, "tap-bench", &inst, err,
				  sizeof err) < 0) {
		fprintf(stderr, "tap-bench: open tap plugin: %s\n", err);
		exit(1);
	}
	return inst;
}

static char vmnames[MAXN][16];
static struct aether_vm vms[MAXN];
static void *vmst[MAXN];

static double run_plugin(struct ae_instance *inst, int n, int first)
{
	struct aether_attachment att;
	double t0 = now();

	for (int i = first; i < first + n; i++) {
		int r = ae_instance_attach(inst, &vms[i], &att, &vmst[i]);
		if (r < 0)
			die("plugin attach", -r);
		memcpy(fds[i - first], att.tap.fds, sizeof att.tap.fds);
	}
	return now() - t0;
}

/* The devices are gone (cleanup or gc): detach only frees the
 * plugin's per-attachment state. */
static void forget(struct ae_instance *inst, int n)
{
	for (int i = 0; i < n; i++)
		if (vmst[i]) {
			ae_instance_detach(inst, &vms[i], vmst[i]);
			vmst[i] = NULL;
		}
}

static int run_cmd(char *const argv[])
{
	pid_t pid = fork();
	int st;

	if (pid < 0)
		die("fork", errno);
	if (pid == 0) {
		execvp(argv[0], argv);
		_exit(127);
	}
	if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st))
		return -1;
	return 0;
}

static double run_ip(int n)
{
	char name[IFNAMSIZ];
	double t0 = now();

	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof name, "ip%d", i);
		char *a1[] = {"ip", "tuntap", "add", "dev", name, "mode", "tap",
			      "vnet_hdr", NULL};
		char *a2[] = {"ip", "link", "set", name, "up", NULL};
		char *a3[] = {"ip", "link", "set", name, "master", BRIDGE, NULL};
		if (run_cmd(a1) || run_cmd(a2) || run_cmd(a3)) {
			fprintf(stderr, "tap-bench: ip failed for %s\n", name);
			exit(1);
		}
	}
	return now() - t0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* ---- teardown ---- */

static double delete_one_by_one(const char *prefix, int n)
{
	char name[IFNAMSIZ];
	int idx[MAXN];
	double t0;

	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof name, "%s%d", prefix, i);
		idx[i] = ifindex_of(name);
	}
	t0 = now();
	for (int i = 0; i < n; i++)
		if (idx[i] > 0)
			nl_req(RTM_DELLINK, idx[i], 0, 0);
	return now() - t0;
}

static int count_prefix(const char *prefix, int n)
{
	char name[IFNAMSIZ];
	int c = 0;
	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof name, "%s%d", prefix, i);
		if (ifindex_of(name) > 0)
			c++;
	}
	return c;
}

int main(int argc, char **argv)
{
	int ns[8] = {10, 100, 1000}, nn = 3, tear = 200, i, k, missed = 0;
	double per[3][8];
	char rt[] = "/tmp/tap-bench.XXXXXX";
	struct rlimit rl = {8192, 8192};

	if (argc > 1) {
		nn = 0;
		for (i = 1; i < argc && nn < 8; i++) {
			if (strncmp(argv[i], "--teardown=", 11) == 0)
				tear = atoi(argv[i] + 11);
			else
				ns[nn++] = atoi(argv[i]);
		}
	}
	for (i = 0; i < nn; i++)
		if (ns[i] < 1 || ns[i] > 2000)
			die("N must be 1..2000", EINVAL);
	if (tear < 1 || tear > 2000)
		die("teardown N must be 1..2000", EINVAL);
	if (geteuid() != 0) {
		fprintf(stderr, "tap-bench: SKIP: needs root\n");
		return 77;
	}
	if (unshare(CLONE_NEWNET) < 0) {
		fprintf(stderr, "tap-bench: SKIP: unshare(CLONE_NEWNET): %s\n",
			strerror(errno));
		return 77;
	}
	setrlimit(RLIMIT_NOFILE, &rl);
	if (!getenv("AETHER_PLUGIN_PATH")) {
		/* run by hand from the build tree: bench/../plugins/tap */
		char path[4096], *slash;
		snprintf(path, sizeof path, "%s", argv[0]);
		slash = strrchr(path, '/');
		if (slash) {
			snprintf(slash, sizeof path - (size_t)(slash - path),
				 "/../plugins/tap");
			setenv("AETHER_PLUGIN_PATH", path, 1);
		}
	}
	if (!mkdtemp(rt))
		die("mkdtemp", errno);
	snprintf(rtdir, sizeof rtdir, "%s", rt);
	atexit(remove_rtdir);
	setenv("AETHER_RUNTIME_DIR", rt, 1);
	{
		/* IPv6 autoconf on 1000 new links is noise for every method */
		int fd = open("/proc/sys/net/ipv6/conf/default/disable_ipv6",
			      O_WRONLY);
		if (fd >= 0) {
			if (write(fd, "1", 1) != 1)
				perror("disable_ipv6");
			close(fd);
		}
	}
	memset(fds, -1, sizeof fds);
	sk = nl_socket_alloc();
	if (!sk || nl_connect(sk, NETLINK_ROUTE) < 0)
		die("netlink", EIO);
	iosk = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (iosk < 0)
		die("socket", errno);
	make_bridge();
	for (i = 0; i < MAXN; i++) {
		snprintf(vmnames[i], sizeof vmnames[i], "vm%d", i);
		ae_vm_init(&vms[i], vmnames[i], (unsigned)i, rt);
	}

	struct ae_instance *inst = open_plugin("bridge = " BRIDGE "\nprefix = pb\n");

	printf("tap-bench: private network namespace, bridge %s, %ld CPUs\n",
	       BRIDGE, sysconf(_SC_NPROCESSORS_ONLN));
	printf("\nattach: create a TAP port, bring it up, add it to the bridge"
	       " (per port, median of runs)\n");
	printf("%-34s", "");
	for (k = 0; k < nn; k++)
		printf("  N=%-8d", ns[k]);
	printf("\n");
	fflush(stdout);

	for (k = 0; k < nn; k++) {
		int n = ns[k];
		int runs = n <= 10 ? 15 : n <= 100 ? 9 : 3;
		int ipruns = n <= 10 ? 5 : n <= 100 ? 3 : 1;
		double tb[MAXRUNS], tp[MAXRUNS], ti[MAXRUNS];
		for (int r = 0; r < runs; r++) {
			/* alternate the order to cancel drift */
			if (r % 2) {
				tp[r] = run_plugin(inst, n, 0);
				cleanup("pb", n);
				tb[r] = run_bare(n);
				cleanup("bk", n);
			} else {
				tb[r] = run_bare(n);
				cleanup("bk", n);
				tp[r] = run_plugin(inst, n, 0);
				cleanup("pb", n);
			}
			forget(inst, n);
			if (r < ipruns) {
				ti[r] = run_ip(n);
				cleanup("ip", n);
			}
		}
		per[0][k] = median(tb, runs) / n * 1e6;
		per[1][k] = median(tp, runs) / n * 1e6;
		per[2][k] = median(ti, ipruns) / n * 1e6;
	}

	const char *rows[3] = {"bare kernel ioctl loop (us/port)",
			       "tap plugin attach (us/port)",
			       "ip, 3 processes/port (us/port)"};
	for (int m = 0; m < 3; m++) {
		printf("%-34s", rows[m]);
		for (k = 0; k < nn; k++)
			printf("  %-10.1f", per[m][k]);
		printf("\n");
	}
	printf("%-34s", "plugin / bare (target <= 1.3)");
	for (k = 0; k < nn; k++)
		printf("  %-10.2f", per[1][k] / per[0][k]);
	printf("\n");
	for (k = 0; k < nn; k++) {
		double r = per[1][k] / per[0][k];
		int ok = per[0][k] > 0 && r <= 1.3;
		printf("  target plugin / bare at N=%d: %.2f, wanted <= 1.3: %s\n",
		       ns[k], r, ok ? "ok" : "MISSED");
		missed |= !ok;
	}
	printf("%-34s", "ip / plugin (reference, ~15)");
	for (k = 0; k < nn; k++)
		printf("  %-10.1f", per[2][k] / per[1][k]);
	printf("\n");
	if (nn > 1) {
		printf("per-port growth N=%d vs N=%d: bare %.2fx, plugin %.2fx, "
		       "ip %.2fx\n", ns[nn - 1], ns[0],
		       per[0][nn - 1] / per[0][0], per[1][nn - 1] / per[1][0],
		       per[2][nn - 1] / per[2][0]);
	}
	fflush(stdout);

	/* ---- teardown ---- */
	printf("\nteardown of N=%d ports\n", tear);
	struct ae_instance *pers =
		open_plugin("bridge = " BRIDGE "\nprefix = pb\npersistent = yes\n");
	double t1, t2, t3, t4;

	/* (a) leftovers of crashed VMs: persistent devices, no fds */
	run_plugin(pers, tear, 0);
	for (i = 0; i < tear; i++) {
		for (int q = 0; q < AETHER_MAX_QUEUES; q++)
			if (fds[i][q] >= 0) {
				close(fds[i][q]);
				fds[i][q] = -1;
			}
	}
	settle();
	t1 = delete_one_by_one("pb", tear);
	if (count_prefix("pb", tear))
		die("one-by-one left devices", EIO);
	forget(pers, tear);
	settle();
	run_plugin(pers, tear, 0);
	for (i = 0; i < tear; i++)
		for (int q = 0; q < AETHER_MAX_QUEUES; q++)
			if (fds[i][q] >= 0) {
				close(fds[i][q]);
				fds[i][q] = -1;
			}
	settle();
	t2 = now();
	if (ae_instance_gc(pers, NULL, 0) < 0)
		die("gc", EIO);
	t2 = now() - t2;
	if (count_prefix("pb", tear))
		die("gc left devices", EIO);
	forget(pers, tear);
	settle();

	/* (b) running VMs (fds open): stop them one by one (each close
	 * deletes its device), against gc then closing the fds */
	run_plugin(inst, tear, 0);
	settle();
	t3 = now();
	for (i = 0; i < tear; i++)
		close(fds[i][0]), fds[i][0] = -1;
	t3 = now() - t3;
	if (count_prefix("pb", tear))
		die("closing fds left devices", EIO);
	forget(inst, tear);
	settle();
	run_plugin(inst, tear, 0);
	settle();
	t4 = now();
	if (ae_instance_gc(inst, NULL, 0) < 0)
		die("gc", EIO);
	for (i = 0; i < tear; i++)
		close(fds[i][0]), fds[i][0] = -1;
	t4 = now() - t4;
	if (count_prefix("pb", tear))
		die("gc left devices", EIO);
	forget(inst, tear);

	/* (c) gc while half the VMs live on (doomed ports move to the
	 * batch group first) */
	settle();
	run_plugin(pers, tear, 0);
	for (i = 0; i < tear; i++)
		close(fds[i][0]), fds[i][0] = -1;
	settle();
	double t5 = now();
	if (ae_instance_gc(pers, vms, (size_t)tear / 2) < 0)
		die("gc", EIO);
	t5 = now() - t5;
	if (count_prefix("pb", tear) != tear / 2)
		die("partial gc removed the wrong devices", EIO);
	ae_instance_gc(pers, NULL, 0);
	forget(pers, tear);

	printf("%-46s %9.1f ms  (%7.0f us/port)\n",
	       "persistent leftovers, one RTM_DELLINK each", t1 * 1e3,
	       t1 / tear * 1e6);
	printf("%-46s %9.1f ms  (%7.0f us/port)\n",
	       "persistent leftovers, plugin gc (batched)", t2 * 1e3,
	       t2 / tear * 1e6);
	printf("%-46s %9.1f x   (target >= 20)\n", "  speedup", t1 / t2);
	printf("  target gc speedup: %.1f, wanted >= 20: %s\n", t1 / t2,
	       t2 > 0 && t1 / t2 >= 20 ? "ok" : "MISSED");
	missed |= !(t2 > 0 && t1 / t2 >= 20);
	printf("%-46s %9.1f ms  (%7.0f us/port)\n",
	       "running VMs, close fds one by one", t3 * 1e3, t3 / tear * 1e6);
	printf("%-46s %9.1f ms  (%7.0f us/port)\n",
	       "running VMs, plugin gc then close fds", t4 * 1e3,
	       t4 / tear * 1e6);
	printf("%-46s %9.1f x\n", "  speedup", t3 / t4);
	printf("%-46s %9.1f ms  (%7.0f us/port removed)\n",
	       "half alive: plugin gc of the other half", t5 * 1e3,
	       t5 / (tear - tear / 2) * 1e6);

	ae_instance_close(pers);
	ae_instance_close(inst);
	return missed ? 1 : 0;
}
