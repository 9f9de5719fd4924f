/* frame.c - mode = libslirp: libslirp driven by the plugin, frames moved
 * by the host's relay (ABI 1.1 frame port).  Everything runs in the
 * host's event loop thread: input() feeds a guest frame to slirp_input,
 * fill()/dispatch() wrap slirp_pollfds_fill/_poll and run the timers,
 * and slirp's send_packet goes straight to the host's output(). */
#include "config.h"

#include <errno.h>
#include <arpa/inet.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <slirp/libslirp.h>

#include "frame.h"

struct ls_timer {
	SlirpTimerCb cb;
	void *cb_opaque;
	int64_t expire_ms; /* -1: not armed */
	struct ls_timer *next;
};

struct ls_port {
	const struct aether_host *host;
	Slirp *slirp;
	int (*output)(void *sink, const void *frame, size_t len);
	void *sink;
	struct ls_timer *timers;
	struct aether_frame_ops ops;
	/* during fill / dispatch */
	struct aether_pollfd *fds;
	const struct aether_pollfd *rfds;
	unsigned n, max;
};

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- libslirp callbacks ---- */

static ssize_t cb_send_packet(const void *buf, size_t len, void *opaque)
{
	struct ls_port *p = opaque;

	/* -EAGAIN: dropped and counted by the host; TCP retransmits. */
	p->output(p->sink, buf, len);
	return (ssize_t)len;
}

static void cb_guest_error(const char *msg, void *opaque)
{
	struct ls_port *p = opaque;

	AETHER_DEBUG(p->host, "guest error: %s", msg);
}

static int64_t cb_clock_get_ns(void *opaque)
{
	return now_ns();
}

static void *cb_timer_new(SlirpTimerCb cb, void *cb_opaque, void *opaque)
{
	struct ls_port *p = opaque;
	struct ls_timer *t = calloc(1, sizeof *t);

	if (!t)
		return NULL;
	t->cb = cb;
	t->cb_opaque = cb_opaque;
	t->expire_ms = -1;
	t->next = p->timers;
	p->timers = t;
	return t;
}

static void cb_timer_free(void *timer, void *opaque)
{
	struct ls_port *p = opaque;
	struct ls_timer **pp;

	for (pp = &p->timers; *pp; pp = &(*pp)->next)
		if (*pp == timer) {
			*pp = ((struct ls_timer *)timer)->next;
			free(timer);
			return;
		}
}

static void cb_timer_mod(void *timer, int64_t expire_ms, void *opaque)
{
	((struct ls_timer *)timer)->expire_ms = expire_ms;
}

static void cb_register_poll_fd(int fd, void *opaque) {}
static void cb_unregister_poll_fd(int fd, void *opaque) {}
static void cb_notify(void *opaque) {}

static const SlirpCb callbacks = {
	.send_packet = cb_send_packet,
	.guest_error = cb_guest_error,
	.clock_get_ns = cb_clock_get_ns,
	.timer_new = cb_timer_new,
	.timer_free = cb_timer_free,
	.timer_mod = cb_timer_mod,
	.register_poll_fd = cb_register_poll_fd,
	.unregister_poll_fd = cb_unregister_poll_fd,
	.notify = cb_notify,
};

/* ---- frame ops ---- */

static void op_input(void *port, const void *frame, size_t len)
{
	struct ls_port *p = port;

	slirp_input(p->slirp, frame, (int)len);
}

static int add_poll(int fd, int events, void *opaque)
{
	struct ls_port *p = opaque;
	short ev = 0;

	if (p->n >= p->max)
		return -1; /* not watched this round */
	if (events & SLIRP_POLL_IN)
		ev |= POLLIN;
	if (events & SLIRP_POLL_OUT)
		ev |= POLLOUT;
	if (events & SLIRP_POLL_PRI)
		ev |= POLLPRI;
	p->fds[p->n].fd = fd;
	p->fds[p->n].events = ev;
	p->fds[p->n].revents = 0;
	return (int)p->n++;
}

static int op_fill(void *port, struct aether_pollfd *fds, unsigned max,
		   int *timeout_ms)
{
	struct ls_port *p = port;
	uint32_t to = UINT32_MAX;
	int64_t now_ms = now_ns() / 1000000;
	struct ls_timer *t;

	p->fds = fds;
	p->max = max;
	p->n = 0;
	slirp_pollfds_fill(p->slirp, &to, add_poll, p);
	for (t = p->timers; t; t = t->next)
		if (t->expire_ms >= 0) {
			int64_t left = t->expire_ms - now_ms;
			if (left < 0)
				left = 0;
			if (left < to)
				to = (uint32_t)left;
		}
	if (to != UINT32_MAX && (*timeout_ms < 0 || (uint32_t)*timeout_ms > to))
		*timeout_ms = (int)to;
	return (int)p->n;
}

static int get_revents(int idx, void *opaque)
{
	struct ls_port *p = opaque;
	short rev;
	int ev = 0;

	if (idx < 0 || (unsigned)idx >= p->n)
		return 0;
	rev = p->rfds[idx].revents;
	if (rev & POLLIN)
		ev |= SLIRP_POLL_IN;
	if (rev & POLLOUT)
		ev |= SLIRP_POLL_OUT;
	if (rev & POLLPRI)
		ev |= SLIRP_POLL_PRI;
	if (rev & POLLERR)
		ev |= SLIRP_POLL_ERR;
	if (rev & POLLHUP)
		ev |= SLIRP_POLL_HUP;
	return ev;
}

static void run_timers(struct ls_port *p)
{
	int64_t now_ms = now_ns() / 1000000;
	struct ls_timer *t;

again:
	for (t = p->timers; t; t = t->next)
		if (t->expire_ms >= 0 && t->expire_ms <= now_ms) {
			t->expire_ms = -1;
			t->cb(t->cb_opaque); /* may free or add timers */
			goto again;
		}
}

static void op_dispatch(void *port, const struct aether_pollfd *fds,
			unsigned n)
{
	struct ls_port *p = port;

	p->rfds = fds;
	if (n < p->n)
		p->n = n;
	slirp_pollfds_poll(p->slirp, 0, get_revents, p);
	p->n = 0;
	run_timers(p);
}

/* ---- public ---- */

int ls_port_new(const struct aether_host *h, const struct ls_config *c,
		struct aether_attachment *att, struct ls_port **out)
{
	SlirpConfig cfg;
	struct ls_port *p;

	*out = NULL;
	if (att->struct_size < offsetof(struct aether_attachment, frame) +
				       sizeof att->frame ||
	    !att->frame.output) {
		AETHER_ERR(h, "mode = libslirp needs a host with frame ports (ABI "
		       "1.1); use mode = qemu");
		return -EOPNOTSUPP;
	}
	p = calloc(1, sizeof *p);
	if (!p)
		return -ENOMEM;
	p->host = h;
	p->output = att->frame.output;
	p->sink = att->frame.sink;
	memset(&cfg, 0, sizeof cfg);
	cfg.version = 4;
	cfg.restricted = c->restrict_;
	cfg.in_enabled = true;
	cfg.vnetwork = c->net;
	cfg.vnetmask = c->mask;
	cfg.vhost = c->host;
	cfg.in6_enabled = c->ipv6;
	if (c->ipv6) { /* checked by the plugin: a /64 holding both */
		cfg.vprefix_addr6 = c->net6;
		cfg.vprefix_len = 64;
		cfg.vhost6 = c->host6;
		cfg.vnameserver6 = c->dns6;
	}
	cfg.vhostname = c->hostname;
	cfg.vdhcp_start = c->dhcpstart;
	cfg.vnameserver = c->dns;
	cfg.vdomainname = c->domain;
	cfg.if_mtu = c->mtu;
	cfg.if_mru = c->mtu;
	p->slirp = slirp_new(&cfg, &callbacks, p);
	if (!p->slirp) {
		AETHER_ERR(h, "libslirp: slirp_new failed");
		free(p);
		return -EINVAL;
	}
	p->ops.struct_size = sizeof p->ops;
	p->ops.input = op_input;
	p->ops.fill = op_fill;
	p->ops.dispatch = op_dispatch;
	att->kind = AETHER_ATTACH_FRAME;
	att->mtu = c->mtu;
	att->frame.port = p;
	att->frame.ops = &p->ops;
	*out = p;
	return 0;
}

void ls_port_free(struct ls_port *p)
{
	struct ls_timer *t;

	if (!p)
		return;
	slirp_cleanup(p->slirp); /* frees its timers through timer_free */
	while ((t = p->timers)) {
		p->timers = t->next;
		free(t);
	}
	free(p);
}

int ls_port_forward(struct ls_port *p, int is_udp, struct in_addr host,
		    unsigned host_port, struct in_addr guest,
		    unsigned guest_port, int add)
{
	if (!add)
		return slirp_remove_hostfwd(p->slirp, is_udp, host,
					    (int)host_port) < 0 ? -ENOENT : 0;
	errno = 0;
	if (slirp_add_hostfwd(p->slirp, is_udp, host, (int)host_port, guest,
			      (int)guest_port) < 0)
		return errno == EACCES || errno == EADDRNOTAVAIL ? -errno
								 : -EADDRINUSE;
	return 0;
}

#ifdef SLIRP_HOSTFWD_V6ONLY
#define LS_HAVE_HOSTXFWD 1
#else
#define LS_HAVE_HOSTXFWD 0
#endif

int ls_have_hostxfwd(void)
{
	return LS_HAVE_HOSTXFWD;
}

int ls_port_forward6(struct ls_port *p, int is_udp,
		     const struct in6_addr *host, unsigned host_port,
		     const struct in6_addr *guest, unsigned guest_port,
		     int add)
{
#if LS_HAVE_HOSTXFWD
	struct sockaddr_in6 h = {.sin6_family = AF_INET6};
	struct sockaddr_in6 g = {.sin6_family = AF_INET6};
	int flags = SLIRP_HOSTFWD_V6ONLY | (is_udp ? SLIRP_HOSTFWD_UDP : 0);

	h.sin6_addr = *host;
	h.sin6_port = htons((uint16_t)host_port);
	if (!add)
		return slirp_remove_hostxfwd(p->slirp, (struct sockaddr *)&h,
					     sizeof h, flags) < 0 ? -ENOENT : 0;
	g.sin6_addr = *guest;
	g.sin6_port = htons((uint16_t)guest_port);
	errno = 0;
	if (slirp_add_hostxfwd(p->slirp, (struct sockaddr *)&h, sizeof h,
			       (struct sockaddr *)&g, sizeof g, flags) < 0)
		return errno == EACCES || errno == EADDRNOTAVAIL ? -errno
								 : -EADDRINUSE;
	return 0;
#else
	return -EOPNOTSUPP;
#endif
}
