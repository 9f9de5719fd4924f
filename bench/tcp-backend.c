/* tcp-backend.c - the user-mode network side of bench/tcp-bench.sh, for
 * the paths that run inside an aether process (or a bare libslirp one).
 * It starts bench/tcp-conv (the guest's NIC: a TAP device in the network
 * namespace NETNS) on the backend's end and serves until SIGTERM or until
 * the converter exits.
 *
 *   tcp-backend direct MTU NETNS TAP CONV [CONV-ARGS...]
 *       libslirp driven directly: a poll loop of its own around a
 *       SOCK_DGRAM socketpair (the converter's dgram framing), no relay;
 *       10.0.2.0/24, host 10.0.2.2 (the host's loopback), MTU/MRU = MTU.
 *   tcp-backend aether BACKEND OPTIONS NETNS TAP CONV [CONV-ARGS...]
 *       the plugin BACKEND loaded through the core library
 *       (AETHER_PLUGIN_PATH) with OPTIONS (INI text) and attached to a VM:
 *       a frame port (slirp in mode = libslirp) is served through the
 *       core's relay, whose hypervisor end goes to the converter (dgram
 *       framing, as QEMU's -netdev dgram gets it); a stream attachment
 *       (passt) is handed to the converter as QEMU's -netdev stream gets it.
 *   tcp-backend loop --stream|--dgram NETNS TAP NETNS2 TAP2 CONV [ARGS...]
 *       no backend: two converters back to back on a socketpair of that
 *       framing, joining TAP in NETNS to TAP2 in NETNS2 (the converter's
 *       own ceiling).
 * Prints "ready" on stdout once the converter runs. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <slirp/libslirp.h>

#include "instance.h"
#include "relay.h"
#include "util.h"

static volatile sig_atomic_t done;
static pid_t conv_pid = -1, conv2_pid = -1;

static void on_signal(int s)
{
	(void)s;
	done = 1;
}

/* Start the converter on fd (or on a socket path), in NETNS, on TAP. */
static void start_conv(char **conv, int nconv, const char *netns,
		       const char *tap, const char *framing, int fd,
		       const char *path)
{
	char fdarg[16];
	const char *argv[32];
	int n = 0, i;

	snprintf(fdarg, sizeof fdarg, "%d", fd);
	argv[n++] = conv[0];
	argv[n++] = "--netns";
	argv[n++] = netns;
	argv[n++] = "--tap";
	argv[n++] = tap;
	argv[n++] = framing;
	argv[n++] = path ? "--connect" : "--fd";
	argv[n++] = path ? path : fdarg;
	for (i = 1; i < nconv && n < 31; i++)
		argv[n++] = conv[i];
	argv[n] = NULL;
	conv_pid = fork();
	if (conv_pid < 0) {
		perror("fork");
		exit(1);
	}
	if (conv_pid == 0) {
		if (fd >= 0)
			fcntl(fd, F_SETFD, 0);
		execv(argv[0], (char *const *)argv);
		fprintf(stderr, "tcp-backend: %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	printf("ready\n");
	fflush(stdout);
}

static void big_buffers(int fd)
{
	int sz = 8 << 20;

	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof sz))
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof sz))
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
}

static int conv_alive(void)
{
	return waitpid(conv_pid, NULL, WNOHANG) == 0;
}

/* ---- libslirp directly ---- */

struct d_timer {
	SlirpTimerCb cb;
	void *opaque;
	int64_t expire; /* ms, -1: off */
	struct d_timer *next;
};
static struct d_timer *timers;
static int d_fd = -1;
static struct pollfd pfds[1024];
static int npfds;

static int64_t d_clock(void *o)
{
	(void)o;
	return (int64_t)ae_now_ns();
}
static ssize_t d_send(const void *buf, size_t len, void *o)
{
	(void)o;
	/* Blocking: a full socket waits for the converter, as QEMU's
	 * dgram netdev would. */
	while (send(d_fd, buf, len, 0) < 0) {
		if (errno == EINTR)
			continue;
		return -1;
	}
	return (ssize_t)len;
}
static void d_err(const char *m, void *o)
{
	(void)o;
	fprintf(stderr, "tcp-backend: libslirp: %s\n", m);
}
static void *d_tnew(SlirpTimerCb cb, void *cbo, void *o)
{
	struct d_timer *t = calloc(1, sizeof *t);
	(void)o;
	if (!t)
		abort();
	t->cb = cb;
	t->opaque = cbo;
	t->expire = -1;
	t->next = timers;
	timers = t;
	return t;
}
static void d_tfree(void *tp, void *o)
{
	struct d_timer **p;
	(void)o;
	for (p = &timers; *p; p = &(*p)->next)
		if (*p == tp) {
			*p = ((struct d_timer *)tp)->next;
			free(tp);
			return;
		}
}
static void d_tmod(void *tp, int64_t expire_ms, void *o)
{
	(void)o;
	((struct d_timer *)tp)->expire = expire_ms;
}
static void d_reg(int fd, void *o)
{
	(void)fd;
	(void)o;
}
static void d_notify(void *o)
{
	(void)o;
}
static int d_add(int fd, int ev, void *o)
{
	(void)o;
	if (npfds >= (int)(sizeof pfds / sizeof pfds[0]))
		return -1;
	pfds[npfds].fd = fd;
	pfds[npfds].events = (short)((ev & SLIRP_POLL_IN ? POLLIN : 0) |
				     (ev & SLIRP_POLL_OUT ? POLLOUT : 0) |
				     (ev & SLIRP_POLL_PRI ? POLLPRI : 0));
	pfds[npfds].revents = 0;
	return npfds++;
}
static int d_rev(int idx, void *o)
{
	short r;
	(void)o;
	if (idx < 0 || idx >= npfds)
		return 0;
	r = pfds[idx].revents;
	return (r & POLLIN ? SLIRP_POLL_IN : 0) |
	       (r & POLLOUT ? SLIRP_POLL_OUT : 0) |
	       (r & POLLPRI ? SLIRP_POLL_PRI : 0) |
	       (r & POLLERR ? SLIRP_POLL_ERR : 0) |
	       (r & POLLHUP ? SLIRP_POLL_HUP : 0);
}

static int run_direct(int mtu, char **conv, int nconv, const char *netns,
		      const char *tap)
{
	static const SlirpCb cb = {
		.send_packet = d_send, .guest_error = d_err,
		.clock_get_ns = d_clock, .timer_new = d_tnew,
		.timer_free = d_tfree, .timer_mod = d_tmod,
		.register_poll_fd = d_reg, .unregister_poll_fd = d_reg,
		.notify = d_notify,
	};
	static uint8_t frame[65536];
	SlirpConfig cfg = {0};
	Slirp *s;
	int sv[2];

	cfg.version = 4;
	cfg.in_enabled = true;
	inet_pton(AF_INET, "10.0.2.0", &cfg.vnetwork);
	inet_pton(AF_INET, "255.255.255.0", &cfg.vnetmask);
	inet_pton(AF_INET, "10.0.2.2", &cfg.vhost);
	inet_pton(AF_INET, "10.0.2.15", &cfg.vdhcp_start);
	inet_pton(AF_INET, "10.0.2.3", &cfg.vnameserver);
	cfg.if_mtu = (size_t)mtu;
	cfg.if_mru = (size_t)mtu;
	s = slirp_new(&cfg, &cb, NULL);
	if (!s || socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv) < 0) {
		fprintf(stderr, "tcp-backend: libslirp setup failed\n");
		return 1;
	}
	big_buffers(sv[0]);
	big_buffers(sv[1]);
	d_fd = sv[0];
	start_conv(conv, nconv, netns, tap, "--dgram", sv[1], NULL);
	close(sv[1]);
	while (!done && conv_alive()) {
		uint32_t to = 100;
		int64_t now = (int64_t)(ae_now_ns() / 1000000);
		struct d_timer *t;
		int i;

		for (t = timers; t; t = t->next) {
			if (t->expire < 0)
				continue;
			if (t->expire <= now) {
				t->expire = -1;
				t->cb(t->opaque);
				break; /* the list may have changed */
			}
			if ((uint32_t)(t->expire - now) < to)
				to = (uint32_t)(t->expire - now);
		}
		npfds = 0;
		d_add(d_fd, SLIRP_POLL_IN, NULL);
		slirp_pollfds_fill(s, &to, d_add, NULL);
		if (poll(pfds, (nfds_t)npfds, (int)to) < 0 && errno != EINTR)
			break;
		/* Guest frames first, a batch at most, then the sockets. */
		if (pfds[0].revents & POLLIN)
			for (i = 0; i < 64; i++) {
				ssize_t got = recv(d_fd, frame, sizeof frame,
						   MSG_DONTWAIT);
				if (got <= 0)
					break;
				slirp_input(s, frame, (int)got);
			}
		slirp_pollfds_poll(s, 0, d_rev, NULL);
	}
	close(d_fd);
	slirp_cleanup(s);
	return 0;
}

/* ---- a plugin through the core ---- */

static int run_aether(const char *backend, const char *opts, char **conv,
		      int nconv, const char *netns, const char *tap)
{
	struct ae_instance *inst;
	struct ae_relay *relay = NULL;
	struct aether_attachment att = {0};
	struct aether_vm vm;
	void *st = NULL;
	char err[512] = "", dir[] = "/tmp/aether-tcpbench.XXXXXX";
	int rc = 0;

	ae_log_level = 3;
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	ae_vm_init(&vm, "tcpbench", 0, dir);
	if (ae_instance_open_text(backend, NULL, opts, "tcp-bench", &inst, err,
				  sizeof err) < 0) {
		fprintf(stderr, "tcp-backend: %s: %s\n", backend, err);
		rmdir(dir);
		return 1;
	}
	if (ae_relay_new(&relay, &att, err, sizeof err) < 0 ||
	    ae_instance_attach(inst, &vm, &att, &st) < 0) {
		fprintf(stderr, "tcp-backend: %s: attach failed%s%s\n", backend,
			*err ? ": " : "", err);
		rc = 1;
		goto out;
	}
	if (att.kind == AETHER_ATTACH_FRAME) {
		if (ae_relay_bind(relay, &att, err, sizeof err) < 0) {
			fprintf(stderr, "tcp-backend: relay: %s\n", err);
			rc = 1;
			goto out_detach;
		}
		start_conv(conv, nconv, netns, tap, "--dgram",
			   ae_relay_hv_fd(relay), NULL);
		ae_relay_close_hv_fd(relay);
		while (!done && conv_alive())
			ae_relay_run_once(relay, 100);
	} else if (att.kind == AETHER_ATTACH_STREAM) {
		start_conv(conv, nconv, netns, tap, "--stream", att.stream.fd,
			   att.stream.fd < 0 ? att.stream.path : NULL);
		if (att.stream.fd >= 0) {
			close(att.stream.fd);
			att.stream.fd = -1;
		}
		while (!done && conv_alive()) {
			if (ae_instance_check(inst, &vm, st) < 0) {
				fprintf(stderr, "tcp-backend: %s: check "
						"failed\n", backend);
				rc = 1;
				break;
			}
			usleep(200000);
		}
	} else {
		fprintf(stderr, "tcp-backend: %s: attachment kind %u is not a "
				"frame port or a stream\n", backend, att.kind);
		rc = 1;
	}
out_detach:
	ae_instance_detach(inst, &vm, st);
out:
	if (relay)
		ae_relay_free(relay);
	ae_instance_close(inst);
	rmdir(dir);
	return rc;
}

/* ---- two converters back to back ---- */

static int run_loop(const char *framing, char **conv, int nconv,
		    const char *ns1, const char *tap1, const char *ns2,
		    const char *tap2)
{
	int sv[2], dgram = !strcmp(framing, "--dgram");

	if ((!dgram && strcmp(framing, "--stream")) ||
	    socketpair(AF_UNIX, (dgram ? SOCK_DGRAM : SOCK_STREAM) |
			       SOCK_CLOEXEC, 0, sv) < 0) {
		fprintf(stderr, "tcp-backend: loop %s: %s\n", framing,
			dgram || !strcmp(framing, "--stream") ? strerror(errno)
							       : "not a framing");
		return 1;
	}
	start_conv(conv, nconv, ns2, tap2, framing, sv[1], NULL);
	conv2_pid = conv_pid;
	start_conv(conv, nconv, ns1, tap1, framing, sv[0], NULL);
	close(sv[0]);
	close(sv[1]);
	while (!done && conv_alive() &&
	       waitpid(conv2_pid, NULL, WNOHANG) == 0)
		usleep(200000);
	if (waitpid(conv2_pid, NULL, WNOHANG) == 0) {
		kill(conv2_pid, SIGTERM);
		waitpid(conv2_pid, NULL, 0);
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct sigaction sa;
	int rc;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (argc >= 6 && !strcmp(argv[1], "direct"))
		rc = run_direct(atoi(argv[2]), argv + 5, argc - 5, argv[3],
				argv[4]);
	else if (argc >= 8 && !strcmp(argv[1], "loop"))
		rc = run_loop(argv[2], argv + 7, argc - 7, argv[3], argv[4],
			      argv[5], argv[6]);
	else if (argc >= 7 && !strcmp(argv[1], "aether"))
		rc = run_aether(argv[2], argv[3], argv + 6, argc - 6, argv[4],
				argv[5]);
	else {
		fprintf(stderr, "usage: tcp-backend direct MTU NETNS TAP CONV "
				"[ARGS...]\n"
				"       tcp-backend aether BACKEND OPTIONS NETNS "
				"TAP CONV [ARGS...]\n"
				"       tcp-backend loop --stream|--dgram NETNS "
				"TAP NETNS2 TAP2 CONV [ARGS...]\n");
		return 2;
	}
	if (conv_pid > 0) {
		kill(conv_pid, SIGTERM);
		waitpid(conv_pid, NULL, 0);
	}
	return rc;
}
