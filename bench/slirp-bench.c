/* slirp-bench.c - UDP frames per second from the VM side to a host
 * loopback sink, through:
 *   relay   aether's relay + the slirp plugin in mode = libslirp (the VM
 *           is a thread sending one frame per send(), as QEMU's dgram
 *           netdev does, on the relay's socketpair)
 *   direct  libslirp driven in one process without the relay: the same VM
 *           thread and socketpair, read as the relay reads it (a batch
 *           per recvmmsg) straight into slirp_input() (the relay's
 *           overhead is the difference to relay)
 *   inproc  libslirp alone: frames fed to slirp_input() from memory, no
 *           socket at all (the ceiling of libslirp itself)
 *   passt   passt -F FD on a SOCK_STREAM socketpair with QEMU's framing
 *           (4-byte length + frame, one sendmsg per frame, as QEMU's
 *           stream netdev does)
 * usage: slirp-bench relay|direct|inproc|passt PAYLOAD SECONDS
 * prints: "MODE PAYLOAD frames/s sent/s CPU-ns/frame sleeps/frame": the CPU
 * time and the voluntary context switches (waits in poll or recvmmsg) of
 * the thread running the relay and libslirp, or libslirp alone, per frame
 * it handled; 0 for passt, which runs in its own process.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <slirp/libslirp.h>

#include "instance.h"
#include "relay.h"
#include "util.h"

static atomic_int stop;
static atomic_ullong received, sent;
static int sink_fd, sink_port;

static void *sink_thread(void *arg)
{
	static uint8_t bufs[64][2048];
	struct mmsghdr m[64];
	struct iovec v[64];
	int i;

	for (i = 0; i < 64; i++) {
		v[i].iov_base = bufs[i];
		v[i].iov_len = sizeof bufs[i];
		memset(&m[i], 0, sizeof m[i]);
		m[i].msg_hdr.msg_iov = &v[i];
		m[i].msg_hdr.msg_iovlen = 1;
	}
	while (!atomic_load(&stop)) {
		struct pollfd p = {sink_fd, POLLIN, 0};
		int n;
		if (poll(&p, 1, 50) <= 0)
			continue;
		n = recvmmsg(sink_fd, m, 64, MSG_DONTWAIT, NULL);
		if (n > 0)
			atomic_fetch_add(&received, (unsigned long long)n);
	}
	return NULL;
}

static void sink_open(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t sl = sizeof sa;
	int sz = 16 << 20;

	sink_fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (setsockopt(sink_fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof sz))
		setsockopt(sink_fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(sink_fd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
	    getsockname(sink_fd, (struct sockaddr *)&sa, &sl) < 0) {
		perror("sink");
		exit(1);
	}
	sink_port = ntohs(sa.sin_port);
}

static uint16_t csum(const uint8_t *p, size_t len)
{
	uint32_t sum = 0;

	for (; len > 1; p += 2, len -= 2)
		sum += (uint32_t)(p[0] << 8 | p[1]);
	if (len)
		sum += (uint32_t)p[0] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* Ethernet + IPv4 + UDP frame of `payload` bytes to dst:port. */
static size_t make_frame(uint8_t *f, const char *src, const char *dst,
			 int port, size_t payload)
{
	static const uint8_t gmac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
	uint8_t *ip = f + 14, *u = f + 34;
	struct in_addr s, d;
	uint16_t c;
	size_t l = 20 + 8 + payload;

	memset(f, 0, 14 + l);
	memset(f, 0xff, 6); /* slirp and passt take any destination MAC */
	f[0] = 0x52; f[1] = 0x55; f[2] = 0x0a; f[3] = 0; f[4] = 2; f[5] = 2;
	memcpy(f + 6, gmac, 6);
	f[12] = 8;
	inet_pton(AF_INET, src, &s);
	inet_pton(AF_INET, dst, &d);
	ip[0] = 0x45;
	ip[2] = (uint8_t)(l >> 8);
	ip[3] = (uint8_t)l;
	ip[6] = 0x40; /* DF */
	ip[8] = 64;
	ip[9] = 17;
	memcpy(ip + 12, &s, 4);
	memcpy(ip + 16, &d, 4);
	c = csum(ip, 20);
	ip[10] = (uint8_t)(c >> 8);
	ip[11] = (uint8_t)c;
	u[0] = 0x13; u[1] = 0x88; /* 5000 */
	u[2] = (uint8_t)(port >> 8);
	u[3] = (uint8_t)port;
	u[4] = (uint8_t)((8 + payload) >> 8);
	u[5] = (uint8_t)(8 + payload);
	memset(u + 8, 'x', payload);
	return 14 + l;
}

/* ---- (a) relay ---- */

struct gen {
	int fd, framed;
	uint8_t frame[2048];
	size_t len;
};

static void *gen_thread(void *arg)
{
	struct gen *g = arg;
	uint32_t be = htonl((uint32_t)g->len);
	struct iovec v[2] = {{&be, 4}, {g->frame, g->len}};
	struct msghdr mh = {0};

	mh.msg_iov = g->framed ? v : v + 1;
	mh.msg_iovlen = g->framed ? 2 : 1;
	while (!atomic_load(&stop)) {
		if (sendmsg(g->fd, &mh, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN || errno == ENOBUFS)
				continue;
			break;
		}
		atomic_fetch_add(&sent, 1);
	}
	return NULL;
}

static double now_s(void)
{
	return (double)ae_now_ns() / 1e9;
}

/* CPU seconds (user + system) of the calling thread: the one that runs
 * the relay and libslirp, or libslirp alone. */
static long nvcsw; /* the thread's voluntary context switches (sleeps) */

static double cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_THREAD, &ru);
	nvcsw = ru.ru_nvcsw;
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* CPU nanoseconds and sleeps per frame handled in the measured interval. */
static double cpu_ns, sleeps;

static void run_relay(size_t payload, double secs, unsigned long long *rx,
		      unsigned long long *tx)
{
	struct ae_instance *inst;
	struct ae_relay *relay;
	struct aether_attachment att = {0};
	struct aether_vm vm;
	void *st;
	char err[512];
	struct gen g = {0};
	pthread_t t;
	double t0, t1 = 0, c1 = 0;
	unsigned long long r0 = 0, s0 = 0;
	struct ae_relay_stats rs;
	uint64_t f0 = 0;

	ae_log_level = 3;
	ae_vm_init(&vm, "bench", 0, "/tmp");
	if (ae_instance_open_text("slirp", NULL, "mode = libslirp\n", "bench",
				  &inst, err, sizeof err) < 0 ||
	    ae_relay_new(&relay, &att, err, sizeof err) < 0 ||
	    ae_instance_attach(inst, &vm, &att, &st) < 0 ||
	    ae_relay_bind(relay, &att, err, sizeof err) < 0) {
		fprintf(stderr, "relay setup: %s\n", err);
		exit(1);
	}
	g.fd = ae_relay_hv_fd(relay);
	g.len = make_frame(g.frame, "10.0.2.15", "10.0.2.2", sink_port, payload);
	pthread_create(&t, NULL, gen_thread, &g);
	t0 = now_s();
	while (now_s() - t0 < secs + 0.3) {
		ae_relay_run_once(relay, 10);
		if (!t1 && now_s() - t0 >= 0.3) { /* after a warm-up */
			t1 = now_s();
			c1 = cpu_s();
			ae_relay_get_stats(relay, &rs);
			f0 = rs.frames[AE_RELAY_TO_NET];
			r0 = atomic_load(&received);
			s0 = atomic_load(&sent);
		}
	}
	ae_relay_get_stats(relay, &rs);
	if (rs.frames[AE_RELAY_TO_NET] > f0) {
		double f = (double)(rs.frames[AE_RELAY_TO_NET] - f0);
		long w0 = nvcsw;

		cpu_ns = (cpu_s() - c1) * 1e9 / f;
		sleeps = (double)(nvcsw - w0) / f;
	}
	*rx = atomic_load(&received) - r0;
	*tx = atomic_load(&sent) - s0;
	secs = now_s() - t1;
	*rx = (unsigned long long)(*rx / secs);
	*tx = (unsigned long long)(*tx / secs);
	atomic_store(&stop, 1);
	shutdown(g.fd, SHUT_RDWR);
	ae_relay_close_hv_fd(relay);
	pthread_join(t, NULL);
	ae_instance_detach(inst, &vm, st);
	ae_relay_free(relay);
	ae_instance_close(inst);
}

/* ---- (b) libslirp directly ---- */

static ssize_t d_send(const void *buf, size_t len, void *o) { return (ssize_t)len; }
static void d_err(const char *m, void *o) {}
static int64_t d_clock(void *o) { return (int64_t)ae_now_ns(); }
static void *d_tnew(SlirpTimerCb cb, void *cbo, void *o) { return calloc(1, 1); }
static void d_tfree(void *t, void *o) { free(t); }
static void d_tmod(void *t, int64_t e, void *o) {}
static void d_reg(int fd, void *o) {}
static void d_notify(void *o) {}
static struct pollfd dfds[256];
static int dn;
static int d_add(int fd, int ev, void *o)
{
	if (dn >= 256)
		return -1;
	dfds[dn].fd = fd;
	dfds[dn].events = (short)((ev & SLIRP_POLL_IN ? POLLIN : 0) |
				  (ev & SLIRP_POLL_OUT ? POLLOUT : 0));
	dfds[dn].revents = 0;
	return dn++;
}
static int d_rev(int idx, void *o)
{
	short r = dfds[idx].revents;
	return (r & POLLIN ? SLIRP_POLL_IN : 0) | (r & POLLOUT ? SLIRP_POLL_OUT : 0) |
	       (r & POLLERR ? SLIRP_POLL_ERR : 0) | (r & POLLHUP ? SLIRP_POLL_HUP : 0);
}

static void run_direct(size_t payload, double secs, unsigned long long *rx,
		       unsigned long long *tx, int from_socket)
{
	static const SlirpCb cb = {
		.send_packet = d_send, .guest_error = d_err,
		.clock_get_ns = d_clock, .timer_new = d_tnew,
		.timer_free = d_tfree, .timer_mod = d_tmod,
		.register_poll_fd = d_reg, .unregister_poll_fd = d_reg,
		.notify = d_notify,
	};
	SlirpConfig cfg = {0};
	Slirp *s;
	uint8_t frame[2048];
	size_t len = make_frame(frame, "10.0.2.15", "10.0.2.2", sink_port,
				payload);
	unsigned long long n = 0, r0 = 0, n0 = 0;
	double t0, t1 = 0, c1 = 0;
	struct gen g = {0};
	pthread_t t;
	int sfd = -1, i;
	static uint8_t dbuf[AE_RELAY_BATCH][2048];
	struct mmsghdr dm[AE_RELAY_BATCH];
	struct iovec dv[AE_RELAY_BATCH];

	memset(dm, 0, sizeof dm);
	for (i = 0; i < AE_RELAY_BATCH; i++) {
		dv[i].iov_base = dbuf[i];
		dv[i].iov_len = sizeof dbuf[i];
		dm[i].msg_hdr.msg_iov = &dv[i];
		dm[i].msg_hdr.msg_iovlen = 1;
	}
	cfg.version = 4;
	cfg.in_enabled = true;
	inet_pton(AF_INET, "10.0.2.0", &cfg.vnetwork);
	inet_pton(AF_INET, "255.255.255.0", &cfg.vnetmask);
	inet_pton(AF_INET, "10.0.2.2", &cfg.vhost);
	inet_pton(AF_INET, "10.0.2.15", &cfg.vdhcp_start);
	inet_pton(AF_INET, "10.0.2.3", &cfg.vnameserver);
	s = slirp_new(&cfg, &cb, NULL);
	if (from_socket) {
		int sv[2], sz = 4 << 20, j;
		socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
		for (j = 0; j < 2; j++) { /* sized as the relay sizes them */
			if (setsockopt(sv[j], SOL_SOCKET, SO_SNDBUFFORCE, &sz,
				       sizeof sz))
				setsockopt(sv[j], SOL_SOCKET, SO_SNDBUF, &sz,
					   sizeof sz);
			if (setsockopt(sv[j], SOL_SOCKET, SO_RCVBUFFORCE, &sz,
				       sizeof sz))
				setsockopt(sv[j], SOL_SOCKET, SO_RCVBUF, &sz,
					   sizeof sz);
		}
		g.fd = sv[1];
		memcpy(g.frame, frame, len);
		g.len = len;
		sfd = sv[0];
		pthread_create(&t, NULL, gen_thread, &g);
	}
	t0 = now_s();
	for (;;) {
		uint32_t to = 0;

		if (from_socket) {
			/* As the relay reads: a batch per recvmmsg, blocking
			 * for the first frame only. */
			int got = recvmmsg(sfd, dm, AE_RELAY_BATCH,
					   MSG_WAITFORONE, NULL);
			for (i = 0; i < got; i++) {
				slirp_input(s, dv[i].iov_base,
					    (int)dm[i].msg_len);
				n++;
			}
		} else {
			for (i = 0; i < AE_RELAY_BATCH; i++, n++)
				slirp_input(s, frame, (int)len);
		}
		dn = 0;
		slirp_pollfds_fill(s, &to, d_add, NULL);
		poll(dfds, (nfds_t)dn, 0);
		slirp_pollfds_poll(s, 0, d_rev, NULL);
		if (!t1 && now_s() - t0 >= 0.3) {
			t1 = now_s();
			c1 = cpu_s();
			r0 = atomic_load(&received);
			n0 = n;
		}
		if (t1 && now_s() - t1 >= secs)
			break;
	}
	if (n > n0) {
		long w0 = nvcsw;

		cpu_ns = (cpu_s() - c1) * 1e9 / (double)(n - n0);
		sleeps = (double)(nvcsw - w0) / (double)(n - n0);
	}
	secs = now_s() - t1;
	*rx = (unsigned long long)((atomic_load(&received) - r0) / secs);
	*tx = (unsigned long long)((n - n0) / secs);
	if (from_socket) {
		atomic_store(&stop, 1);
		shutdown(g.fd, SHUT_RDWR);
		close(sfd);
		pthread_join(t, NULL);
	}
	slirp_cleanup(s);
}

/* ---- (c) passt ---- */

static void run_passt(size_t payload, double secs, unsigned long long *rx,
		      unsigned long long *tx)
{
	int sv[2];
	char fdarg[16];
	pid_t pid;
	struct gen g = {0};
	pthread_t t;
	unsigned long long r0, s0;
	double t1;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) {
		perror("socketpair");
		exit(1);
	}
	snprintf(fdarg, sizeof fdarg, "%d", sv[1]);
	pid = fork();
	if (pid == 0) {
		close(sv[0]);
		execlp("passt", "passt", "-f", "-q", "-4", "-F", fdarg,
		       (char *)NULL);
		_exit(127);
	}
	close(sv[1]);
	usleep(300000);
	g.fd = sv[0];
	g.framed = 1;
	/* passt maps the gateway to the host's loopback; its guest gets the
	 * host's address.  Both come from the host's default route. */
	{
		const char *gw = getenv("BENCH_PASST_GW");
		const char *me = getenv("BENCH_PASST_ADDR");
		g.len = make_frame(g.frame, me ? me : "192.0.2.2",
				   gw ? gw : "192.0.2.1", sink_port, payload);
	}
	pthread_create(&t, NULL, gen_thread, &g);
	usleep(300000);
	r0 = atomic_load(&received);
	s0 = atomic_load(&sent);
	t1 = now_s();
	usleep((useconds_t)(secs * 1e6));
	t1 = now_s() - t1;
	*rx = (unsigned long long)((atomic_load(&received) - r0) / t1);
	*tx = (unsigned long long)((atomic_load(&sent) - s0) / t1);
	atomic_store(&stop, 1);
	kill(pid, SIGTERM);
	shutdown(sv[0], SHUT_RDWR);
	pthread_join(t, NULL);
	waitpid(pid, NULL, 0);
	close(sv[0]);
}

int main(int argc, char **argv)
{
	pthread_t sink;
	unsigned long long rx = 0, tx = 0;
	size_t payload;
	double secs;

	if (argc != 4) {
		fprintf(stderr, "usage: slirp-bench relay|direct|inproc|passt "
				"PAYLOAD "
				"SECONDS\n");
		return 2;
	}
	payload = (size_t)atoi(argv[2]);
	secs = atof(argv[3]);
	if (payload < 1 || payload > 1472 || secs <= 0)
		return 2;
	signal(SIGPIPE, SIG_IGN);
	sink_open();
	pthread_create(&sink, NULL, sink_thread, NULL);
	if (!strcmp(argv[1], "relay"))
		run_relay(payload, secs, &rx, &tx);
	else if (!strcmp(argv[1], "direct"))
		run_direct(payload, secs, &rx, &tx, 1);
	else if (!strcmp(argv[1], "inproc"))
		run_direct(payload, secs, &rx, &tx, 0);
	else if (!strcmp(argv[1], "passt"))
		run_passt(payload, secs, &rx, &tx);
	else
		return 2;
	atomic_store(&stop, 1);
	pthread_join(sink, NULL);
	printf("%s %zu %llu %llu %.0f %.3f\n", argv[1], payload, rx, tx, cpu_ns,
	       sleeps);
	return 0;
}
