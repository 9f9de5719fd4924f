/* relay-port.c - TAP and VDE ports (and plugin frame ports) on the
 * network side of the relay, for switchable VMs (see relay-port.h).
 *
 * Each kind is a struct aether_frame_ops the relay drives like a plugin's
 * frame port: input() gets a frame the guest sent, fill()/dispatch() poll
 * the device and hand what it reads to the relay's output hook.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>
#ifdef AE_HAVE_VDEPLUG
#include <libvdeplug.h>
#endif

#include "relay-port.h"
#include "relay.h"
#include "util.h"

#define PORT_BUF 65536 + 16 /* the largest frame, with a vnet header */
#define PORT_READS 64       /* frames read per wake-up (fairness) */
#define VNET_HDR_MAX 16

struct ae_relay_port {
	uint32_t kind;
	struct aether_frame_ops ops; /* TAP/VDE: ours */
	int (*output)(void *sink, const void *frame, size_t len);
	void *sink;
	/* FRAME */
	void *fport;
	const struct aether_frame_ops *fops;
	/* TAP */
	int fd;
	size_t vhdr; /* bytes of virtio-net header on the fd, 0: none */
	/* VDE */
	void *vde;
	int vde_fd;
	/* STREAM: 4-byte big-endian length, then the frame (QEMU's stream
	 * netdev framing); partial reads and writes are kept here */
	size_t in_len;
	uint8_t *out;
	size_t out_len, out_off;
	uint8_t *buf;
	uint64_t errors;
	char detail[256];
};

const char *ae_relay_port_refusal(uint32_t kind)
{
	switch (kind) {
	case AETHER_ATTACH_FRAME:
	case AETHER_ATTACH_TAP:
	case AETHER_ATTACH_STREAM:
#ifdef AE_HAVE_VDEPLUG
	case AETHER_ATTACH_VDE:
#endif
		return NULL;
#ifndef AE_HAVE_VDEPLUG
	case AETHER_ATTACH_VDE:
		return "this aether was built without libvdeplug, so its relay "
		       "cannot carry a VDE port";
#endif
	case AETHER_ATTACH_USER:
		return "the backend is QEMU's built-in user network, which the "
		       "relay cannot carry (use slirp mode = libslirp)";
	case AETHER_ATTACH_VHOST_USER:
		return "a vhost-user backend talks to QEMU directly, which the "
		       "relay cannot carry";
	default:
		return "the relay cannot carry this attachment kind";
	}
}

/* ---- TAP ----------------------------------------------------------- */

static void tap_input(void *port, const void *frame, size_t len)
{
	struct ae_relay_port *p = port;
	static const uint8_t zero[VNET_HDR_MAX];
	struct iovec iov[2] = {{(void *)zero, p->vhdr},
			       {(void *)frame, len}};
	ssize_t w;

	do
		w = writev(p->fd, p->vhdr ? iov : iov + 1, p->vhdr ? 2 : 1);
	while (w < 0 && errno == EINTR);
	if (w < 0)
		p->errors++; /* EAGAIN: the device queue is full; EIO: down */
}

static int fd_fill(void *port, struct aether_pollfd *fds, unsigned max,
		   int *timeout_ms)
{
	struct ae_relay_port *p = port;

	(void)timeout_ms;
	if (max < 1)
		return 0;
	fds[0].fd = p->kind == AETHER_ATTACH_VDE ? p->vde_fd : p->fd;
	fds[0].events = (short)(POLLIN | (p->out_len ? POLLOUT : 0));
	fds[0].revents = 0;
	return 1;
}

static void tap_dispatch(void *port, const struct aether_pollfd *fds,
			 unsigned n)
{
	struct ae_relay_port *p = port;
	int i;

	if (n < 1 || !(fds[0].revents & POLLIN))
		return;
	for (i = 0; i < PORT_READS; i++) {
		ssize_t got = read(p->fd, p->buf, PORT_BUF);

		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			return;
		if ((size_t)got <= p->vhdr) {
			p->errors++;
			continue;
		}
		p->output(p->sink, p->buf + p->vhdr, (size_t)got - p->vhdr);
	}
}

static int tap_open(struct ae_relay_port *p, struct aether_attachment *att,
		    char *err, size_t errlen)
{
	int fd = att->tap.fds[0], sz = 0;

	if (att->tap.queues > 1)
		return ae_seterr(err, errlen, EINVAL,
				 "tap %s has %u queues: a switchable VM's "
				 "relay carries one (set queues = 1)",
				 att->tap.ifname, att->tap.queues);
	if (fd < 0)
		return ae_seterr(err, errlen, EINVAL,
				 "tap attachment without a TAP fd");
	if (att->tap.vnet_hdr) {
		/* The size the fd was given (10 unless TUNSETVNETHDRSZ); no
		 * offloads are on, so the header we read is all zero but
		 * its place. */
		if (ioctl(fd, TUNGETVNETHDRSZ, &sz) < 0 || sz < 10 ||
		    sz > VNET_HDR_MAX)
			sz = 10;
		ioctl(fd, TUNSETOFFLOAD, 0);
	}
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0)
		return ae_seterr(err, errlen, errno, "tap %s: %s",
				 att->tap.ifname, strerror(errno));
	att->tap.fds[0] = -1; /* ours now */
	p->fd = fd;
	p->vhdr = (size_t)sz;
	p->ops.input = tap_input;
	p->ops.fill = fd_fill;
	p->ops.dispatch = tap_dispatch;
	snprintf(p->detail, sizeof p->detail, "tap %s",
		 att->tap.ifname[0] ? att->tap.ifname : "(unnamed)");
	return 0;
}

/* ---- STREAM --------------------------------------------------------- */

#define STREAM_OUT_MAX (1u << 20) /* bytes queued towards the socket */

static void stream_flush(struct ae_relay_port *p)
{
	while (p->out_off < p->out_len) {
		ssize_t w = send(p->fd, p->out + p->out_off,
				 p->out_len - p->out_off,
				 MSG_DONTWAIT | MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			if (w < 0 && errno != EAGAIN) { /* gone: drop it all */
				p->errors++;
				p->out_off = p->out_len = 0;
			}
			return;
		}
		p->out_off += (size_t)w;
	}
	p->out_off = p->out_len = 0;
}

static void stream_input(void *port, const void *frame, size_t len)
{
	struct ae_relay_port *p = port;
	uint8_t hdr[4] = {(uint8_t)(len >> 24), (uint8_t)(len >> 16),
			  (uint8_t)(len >> 8), (uint8_t)len};

	if (p->out_len + 4 + len > STREAM_OUT_MAX) {
		stream_flush(p);
		if (p->out_len + 4 + len > STREAM_OUT_MAX) {
			p->errors++; /* the peer does not read: drop */
			return;
		}
	}
	if (p->out_off && p->out_off == p->out_len)
		p->out_off = p->out_len = 0;
	memcpy(p->out + p->out_len, hdr, 4);
	memcpy(p->out + p->out_len + 4, frame, len);
	p->out_len += 4 + len;
	stream_flush(p);
}

static void stream_dispatch(void *port, const struct aether_pollfd *fds,
			    unsigned n)
{
	struct ae_relay_port *p = port;
	int i;

	if (n < 1)
		return;
	if (fds[0].revents & POLLOUT)
		stream_flush(p);
	if (!(fds[0].revents & (POLLIN | POLLHUP | POLLERR)))
		return;
	for (i = 0; i < PORT_READS; i++) {
		ssize_t got = recv(p->fd, p->buf + p->in_len,
				   PORT_BUF - p->in_len, MSG_DONTWAIT);
		size_t off = 0;

		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			return;
		p->in_len += (size_t)got;
		while (p->in_len - off >= 4) {
			const uint8_t *h = p->buf + off;
			size_t flen = (size_t)h[0] << 24 | (size_t)h[1] << 16 |
				      (size_t)h[2] << 8 | h[3];
			if (flen > PORT_BUF - 4) { /* garbage: start over */
				p->errors++;
				off = p->in_len;
				break;
			}
			if (p->in_len - off < 4 + flen)
				break;
			p->output(p->sink, h + 4, flen);
			off += 4 + flen;
		}
		memmove(p->buf, p->buf + off, p->in_len - off);
		p->in_len -= off;
	}
}

static int stream_open(struct ae_relay_port *p, struct aether_attachment *att,
		       char *err, size_t errlen)
{
	int fd = att->stream.fd;

	if (fd >= 0) {
		att->stream.fd = -1; /* ours now */
		snprintf(p->detail, sizeof p->detail, "stream fd");
	} else {
		struct sockaddr_un sa = {.sun_family = AF_UNIX};
		const char *path = att->stream.path;
		int e;

		if (!path || !ae_valid_abs_path(path) ||
		    strlen(path) >= sizeof sa.sun_path)
			return ae_seterr(err, errlen, EINVAL,
					 "stream attachment needs an fd or an "
					 "absolute socket path");
		strcpy(sa.sun_path, path);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0 ||
		    connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
			e = errno;
			if (fd >= 0)
				close(fd);
			return ae_seterr(err, errlen, e, "stream %s: %s", path,
					 strerror(e));
		}
		snprintf(p->detail, sizeof p->detail, "stream %s", path);
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	p->fd = fd;
	p->out = ae_xmalloc(STREAM_OUT_MAX);
	p->ops.input = stream_input;
	p->ops.fill = fd_fill;
	p->ops.dispatch = stream_dispatch;
	return 0;
}

/* ---- VDE ----------------------------------------------------------- */

#ifdef AE_HAVE_VDEPLUG
static void vde_input(void *port, const void *frame, size_t len)
{
	struct ae_relay_port *p = port;

	if (vde_send(p->vde, frame, len, 0) < 0)
		p->errors++;
}

static void vde_dispatch(void *port, const struct aether_pollfd *fds,
			 unsigned n)
{
	struct ae_relay_port *p = port;
	int i;

	if (n < 1 || !(fds[0].revents & POLLIN))
		return;
	for (i = 0; i < PORT_READS; i++) {
		ssize_t got = vde_recv(p->vde, p->buf, PORT_BUF, MSG_DONTWAIT);

		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			return;
		if (got < 14) /* a switch's control message, not a frame */
			continue;
		p->output(p->sink, p->buf, (size_t)got);
	}
}

static int vde_port_open(struct ae_relay_port *p,
			 const struct aether_attachment *att, char *err,
			 size_t errlen)
{
	struct vde_open_args a = {0};
	char *url;
	int e;

	if (!att->vde.sock || !ae_valid_abs_path(att->vde.sock))
		return ae_seterr(err, errlen, EINVAL,
				 "vde attachment without an absolute socket "
				 "path");
	if (att->vde.port < 0 || att->vde.mode > 0777)
		return ae_seterr(err, errlen, EINVAL,
				 "vde attachment with port %d mode 0%o",
				 (int)att->vde.port, (unsigned)att->vde.mode);
	a.port = att->vde.port;
	a.group = (char *)att->vde.group;
	a.mode = att->vde.mode;
	url = ae_xstrdup(att->vde.sock);
	errno = 0;
	p->vde = vde_open(url, "aether", &a);
	e = errno ? errno : ECONNREFUSED;
	free(url);
	if (!p->vde)
		return ae_seterr(err, errlen, e, "vde switch %s port %d: %s",
				 att->vde.sock, (int)att->vde.port,
				 strerror(e));
	p->vde_fd = vde_datafd(p->vde);
	if (p->vde_fd < 0) {
		vde_close(p->vde);
		p->vde = NULL;
		return ae_seterr(err, errlen, EIO, "vde switch %s: no data fd",
				 att->vde.sock);
	}
	fcntl(p->vde_fd, F_SETFL, fcntl(p->vde_fd, F_GETFL) | O_NONBLOCK);
	p->ops.input = vde_input;
	p->ops.fill = fd_fill;
	p->ops.dispatch = vde_dispatch;
	if (att->vde.port > 0)
		snprintf(p->detail, sizeof p->detail, "vde %s port %d",
			 att->vde.sock, (int)att->vde.port);
	else
		snprintf(p->detail, sizeof p->detail, "vde %s", att->vde.sock);
	return 0;
}
#endif

/* ---- ports --------------------------------------------------------- */

int ae_relay_port_open(struct ae_relay *r, struct aether_attachment *att,
		       struct ae_relay_port **out, char *err, size_t errlen)
{
	struct ae_relay_port *p;
	const char *no = ae_relay_port_refusal(att->kind);
	int rc = 0;

	*out = NULL;
	if (no)
		return ae_seterr(err, errlen, EOPNOTSUPP, "%s", no);
	p = ae_xcalloc(1, sizeof *p);
	p->kind = att->kind;
	p->fd = p->vde_fd = -1;
	p->ops.struct_size = sizeof p->ops;
	{ /* the relay's output hook, as a frame port gets it */
		struct aether_attachment hooks;
		memset(&hooks, 0, sizeof hooks);
		ae_relay_hooks(r, &hooks);
		p->output = hooks.frame.output;
		p->sink = hooks.frame.sink;
	}
	switch (att->kind) {
	case AETHER_ATTACH_FRAME:
		rc = ae_relay_check_frame(r, att, err, errlen);
		p->fport = att->frame.port;
		p->fops = att->frame.ops;
		snprintf(p->detail, sizeof p->detail, "frame");
		break;
	case AETHER_ATTACH_TAP:
		p->buf = ae_xmalloc(PORT_BUF);
		rc = tap_open(p, att, err, errlen);
		break;
	case AETHER_ATTACH_STREAM:
		p->buf = ae_xmalloc(PORT_BUF);
		rc = stream_open(p, att, err, errlen);
		break;
#ifdef AE_HAVE_VDEPLUG
	case AETHER_ATTACH_VDE:
		p->buf = ae_xmalloc(PORT_BUF);
		rc = vde_port_open(p, att, err, errlen);
		break;
#endif
	}
	if (rc < 0) {
		ae_relay_port_close(p);
		return rc;
	}
	*out = p;
	return 0;
}

void ae_relay_port_use(struct ae_relay *r, struct ae_relay_port *p)
{
	if (!p)
		ae_relay_set_port(r, NULL, NULL);
	else if (p->kind == AETHER_ATTACH_FRAME)
		ae_relay_set_port(r, p->fport, p->fops);
	else
		ae_relay_set_port(r, p, &p->ops);
}

const char *ae_relay_port_describe(const struct ae_relay_port *p)
{
	return p ? p->detail : "none";
}

uint32_t ae_relay_port_kind(const struct ae_relay_port *p)
{
	return p ? p->kind : AETHER_ATTACH_NONE;
}

uint64_t ae_relay_port_errors(const struct ae_relay_port *p)
{
	return p ? p->errors : 0;
}

void ae_relay_port_close(struct ae_relay_port *p)
{
	if (!p)
		return;
	if (p->fd >= 0)
		close(p->fd);
#ifdef AE_HAVE_VDEPLUG
	if (p->vde)
		vde_close(p->vde);
#endif
	free(p->buf);
	free(p->out);
	free(p);
}
