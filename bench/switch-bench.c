/*
 * switch-bench - what a switchable VM costs, and what a switch takes.
 *
 *   switch-bench frames [SECONDS]
 *     In a private network namespace (it unshares one), frames/s of 64
 *     and 1400 bytes through a TAP fd used directly, as QEMU uses the fd
 *     it is given (-netdev tap,fd=N), against the same TAP carried by the
 *     relay's TAP port, as for a switchable VM (QEMU -> socketpair ->
 *     relay -> TAP).  Both directions: to-net (written to the TAP, the
 *     kernel drops the frames) and to-guest (sent on the TAP's interface
 *     by a packet socket, read at the guest's end).  The "guest" side is a
 *     thread of this program doing what QEMU does per frame: one write()
 *     or send().  Methods are interleaved, 3 runs each, the median kept.
 *     Prints one "frames DIR SIZE direct=N relay=N ratio=R" line per case.
 *
 *   switch-bench switch SOCKET N BACKEND[:KEY=VALUE,...] BACKEND...
 *     N switches of a running switchable VM through its control socket,
 *     cycling through the backends given; prints the time from request
 *     to reply of each, then "switch median=MS max=MS".
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "control.h"
#include "relay.h"
#include "relay-port.h"
#include "util.h"

#define ETYPE 0x88b5
#define RUNS 3

static int tapfd = -1, pkt = -1;
static volatile int stop;
static struct ae_relay *relay;

static void die(const char *what)
{
	fprintf(stderr, "switch-bench: %s: %s\n", what, strerror(errno));
	exit(1);
}

static size_t frame(uint8_t *f, size_t len)
{
	memset(f, 0xa5, len);
	memset(f, 0xff, 6);
	memcpy(f + 6, "\x52\x54\x00\x00\x00\x01", 6);
	f[12] = ETYPE >> 8;
	f[13] = ETYPE & 0xff;
	return len;
}

static void setup(void)
{
	struct ifreq ifr;
	struct sockaddr_ll sll = {.sll_family = AF_PACKET};
	int s;

	if (unshare(CLONE_NEWNET) < 0)
		die("unshare(CLONE_NEWNET)");
	tapfd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (tapfd < 0)
		die("/dev/net/tun");
	memset(&ifr, 0, sizeof ifr);
	snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "swb0");
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	if (ioctl(tapfd, TUNSETIFF, &ifr) < 0)
		die("TUNSETIFF");
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		die("SIOCGIFFLAGS");
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
		die("SIOCSIFFLAGS");
	close(s);
	pkt = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (pkt < 0)
		die("AF_PACKET");
	sll.sll_ifindex = (int)if_nametoindex("swb0");
	sll.sll_protocol = htons(ETYPE);
	if (bind(pkt, (struct sockaddr *)&sll, sizeof sll) < 0)
		die("bind AF_PACKET");
	fcntl(tapfd, F_SETFL, fcntl(tapfd, F_GETFL) | O_NONBLOCK);
}

static void *relay_thread(void *arg)
{
	(void)arg;
	while (!stop)
		ae_relay_run_once(relay, 20);
	return NULL;
}

static size_t cur_len;
static void *source_thread(void *arg)
{
	uint8_t f[2048];
	size_t l = frame(f, cur_len);

	(void)arg;
	while (!stop)
		(void)!send(pkt, f, l, 0);
	return NULL;
}

/* One measurement: frames/s. to_net: 1 guest -> TAP, 0 TAP -> guest. */
static double measure(int use_relay, int to_net, size_t len, double secs)
{
	struct ae_relay_port *port = NULL;
	struct aether_attachment att;
	pthread_t rt, st;
	uint8_t f[2048], hdr[10] = {0};
	uint64_t t0, end, n = 0;
	int hv = -1, k;
	char err[256];

	stop = 0;
	cur_len = len;
	frame(f, len);
	if (use_relay) {
		int dup_fd = fcntl(tapfd, F_DUPFD_CLOEXEC, 3);
		if (ae_relay_new(&relay, NULL, err, sizeof err) < 0) {
			fprintf(stderr, "switch-bench: %s\n", err);
			exit(1);
		}
		memset(&att, 0, sizeof att);
		for (k = 0; k < AETHER_MAX_QUEUES; k++)
			att.tap.fds[k] = att.tap.vhostfds[k] = -1;
		att.kind = AETHER_ATTACH_TAP;
		att.tap.queues = 1;
		att.tap.vnet_hdr = 1;
		att.tap.fds[0] = dup_fd;
		snprintf(att.tap.ifname, sizeof att.tap.ifname, "swb0");
		if (ae_relay_port_open(relay, &att, &port, err, sizeof err) < 0) {
			fprintf(stderr, "switch-bench: %s\n", err);
			exit(1);
		}
		ae_relay_port_use(relay, port);
		hv = ae_relay_hv_fd(relay);
		pthread_create(&rt, NULL, relay_thread, NULL);
	}
	/* drain what is left of the last run */
	while (read(tapfd, f + 0, 0) > 0)
		;
	if (!to_net)
		pthread_create(&st, NULL, source_thread, NULL);
	t0 = ae_now_ns();
	end = t0 + (uint64_t)(secs * 1e9);
	if (to_net) {
		struct iovec iov[2] = {{hdr, sizeof hdr}, {f, len}};
		while (ae_now_ns() < end) {
			for (k = 0; k < 64; k++) {
				if (use_relay)
					n += send(hv, f, len, 0) == (ssize_t)len;
				else
					n += writev(tapfd, iov, 2) > 0;
			}
		}
	} else {
		uint8_t buf[4096];
		int fd = use_relay ? hv : tapfd;
		struct pollfd p = {fd, POLLIN, 0};
		while (ae_now_ns() < end) {
			ssize_t r = use_relay ? recv(fd, buf, sizeof buf,
						     MSG_DONTWAIT)
					      : read(fd, buf, sizeof buf);
			if (r > 0) {
				size_t want = use_relay ? len : len + 10;
				n += (size_t)r == want;
				continue;
			}
			poll(&p, 1, 10);
		}
	}
	stop = 1;
	{
		double el = (double)(ae_now_ns() - t0) / 1e9;
		if (!to_net)
			pthread_join(st, NULL);
		if (use_relay) {
			struct ae_relay_stats s;
			pthread_join(rt, NULL);
			ae_relay_get_stats(relay, &s);
			if (to_net) /* what reached the TAP */
				n = s.frames[AE_RELAY_TO_NET] -
				    ae_relay_port_errors(port);
			ae_relay_port_use(relay, NULL);
			ae_relay_port_close(port);
			ae_relay_free(relay);
			relay = NULL;
		}
		{ /* empty the TAP's queue */
			uint8_t d[4096];
			while (read(tapfd, d, sizeof d) > 0)
				;
		}
		return (double)n / el;
	}
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static int frames_main(double secs)
{
	size_t sizes[] = {64, 1400};
	int dir, s, i;

	setup();
	for (dir = 1; dir >= 0; dir--)
		for (s = 0; s < 2; s++) {
			double d[RUNS], r[RUNS];
			for (i = 0; i < RUNS; i++) {
				d[i] = measure(0, dir, sizes[s], secs);
				r[i] = measure(1, dir, sizes[s], secs);
			}
			qsort(d, RUNS, sizeof *d, cmp_d);
			qsort(r, RUNS, sizeof *r, cmp_d);
			printf("frames %s %zu direct=%.0f relay=%.0f ratio=%.3f\n",
			       dir ? "to-net" : "to-guest", sizes[s],
			       d[RUNS / 2], r[RUNS / 2],
			       d[RUNS / 2] > 0 ? r[RUNS / 2] / d[RUNS / 2] : 0);
			fflush(stdout);
		}
	return 0;
}

/* "tap:bridge=br0,ifname=x" -> "network switch tap bridge=br0 ifname=x" */
static char *switch_request(const char *spec)
{
	char *copy = ae_xstrdup(spec), *colon = strchr(copy, ':');
	char *req, *tok, *save = NULL;

	if (colon)
		*colon = '\0';
	req = ae_xasprintf("network switch %s", copy);
	if (colon)
		for (tok = strtok_r(colon + 1, ",", &save); tok;
		     tok = strtok_r(NULL, ",", &save)) {
			char *eq = strchr(tok, '='), *pair, *n;
			char err[128];
			if (!eq)
				continue;
			*eq = '\0';
			pair = ae_control_format_pair(tok, eq + 1, err, sizeof err);
			if (!pair)
				continue;
			n = ae_xasprintf("%s %s", req, pair);
			free(pair);
			free(req);
			req = n;
		}
	free(copy);
	return req;
}

static int switch_main(const char *sock, int n, char **specs, int nspecs)
{
	double *ms = ae_xcalloc((size_t)n, sizeof *ms);
	int i, failed = 0;

	for (i = 0; i < n; i++) {
		char *req = switch_request(specs[i % nspecs]), *reply = NULL;
		char err[512];
		uint64_t t0 = ae_now_ns();
		int rc = ae_control_request(sock, req, &reply, err, sizeof err);

		ms[i] = (double)(ae_now_ns() - t0) / 1e6;
		printf("switch %d %s: %.1f ms%s%s", i + 1, specs[i % nspecs],
		       ms[i], rc ? ": " : "\n", rc ? (reply ? reply : err) : "");
		if (rc && !(reply && strchr(reply, '\n')))
			printf("\n");
		failed |= rc != 0;
		free(reply);
		free(req);
	}
	qsort(ms, (size_t)n, sizeof *ms, cmp_d);
	printf("switch median=%.1f max=%.1f\n", ms[n / 2], ms[n - 1]);
	free(ms);
	return failed;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "frames"))
		return frames_main(argc > 2 ? atof(argv[2]) : 1.0);
	if (argc >= 5 && !strcmp(argv[1], "switch"))
		return switch_main(argv[2], atoi(argv[3]) > 0 ? atoi(argv[3]) : 1,
				   argv + 4, argc - 4);
	fprintf(stderr, "usage: switch-bench frames [SECONDS] | switch SOCKET "
			"N BACKEND[:K=V,...]...\n");
	return 2;
}
