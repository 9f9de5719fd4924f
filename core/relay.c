/* relay.c - relay Ethernet frames between the hypervisor's datagram
 * socket and a frame-port plugin (see relay.h).
 *
 * Guest to network: recvmmsg() straight into a batch of receive buffers,
 * each frame handed to the plugin's input() in place (no copy).  Network
 * to guest: output() copies the frame once into a bounded queue (the
 * plugin's buffer is only valid during the call), flushed with sendmmsg()
 * after every round or whenever a batch is full.  When the hypervisor's
 * socket is full the queue waits for POLLOUT (no send is tried before);
 * frames are dropped (and counted) only when the queue itself is full, a
 * frame cannot be sent at all, or QEMU is gone (then output() says
 * -EPIPE).
 *
 * The socket buffers, not net.unix.max_dgram_qlen, bound what QEMU can
 * queue: that limit does not apply between the two ends of a socketpair.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "relay.h"
#include "util.h"

#define BATCH AE_RELAY_BATCH /* frames per recvmmsg/sendmmsg */
#define RX_BUF 65536        /* the largest frame QEMU sends */
/* Receive buffers lie RX_STRIDE apart, 2 KiB more than RX_BUF: with a
 * stride of exactly 64 KiB the frames of a batch all map to the same
 * cache sets and evict each other before the port reads them; this way
 * they spread as 2 KiB buffers side by side would. */
#define RX_STRIDE (RX_BUF + 2048)
#define TXQ AE_RELAY_TXQ    /* frames queued towards the guest */
#define RX_ROUNDS 16        /* recvmmsg calls per wake-up (fairness) */
#define MAX_PORT_FDS 1024

_Static_assert(sizeof(struct aether_pollfd) == sizeof(struct pollfd) &&
		       offsetof(struct aether_pollfd, revents) ==
			       offsetof(struct pollfd, revents),
	       "struct aether_pollfd must match struct pollfd");

struct txslot {
	uint8_t *buf;
	size_t cap, len;
};

struct ae_relay {
	int fd, hv_fd;
	int dead; /* the hypervisor side hung up */
	void *port;
	const struct aether_frame_ops *ops;
	struct ae_relay_stats st;
	uint8_t *rxmem;
	struct mmsghdr rxm[BATCH];
	struct iovec rxv[BATCH];
	struct txslot tx[TXQ];
	unsigned tx_head, tx_n;
	int tx_blocked; /* the socket was full: no sends until POLLOUT */
	struct mmsghdr txm[BATCH];
	struct iovec txv[BATCH];
	int tx_error_logged;
};

/* A send error saying that the hypervisor's end is closed.  A datagram
 * socketpair reports no POLLHUP when its peer closes: the first send
 * after it fails with ECONNREFUSED, later ones with ENOTCONN. */
static int peer_gone(int e)
{
	return e == ECONNREFUSED || e == ENOTCONN || e == EPIPE ||
	       e == ECONNRESET;
}

/* Drop the n oldest queued frames, counting them. */
static void tx_drop(struct ae_relay *r, unsigned n)
{
	r->st.drops[AE_RELAY_TO_GUEST] += n;
	r->tx_head = (r->tx_head + n) % TXQ;
	r->tx_n -= n;
}

/* Send the queue in order, BATCH frames per sendmmsg, until it is empty
 * or the socket is full (then tx_blocked: wait for POLLOUT).  Frames
 * leave the queue only once sent (counted in frames/bytes) or dropped
 * (counted in drops). */
static void flush(struct ae_relay *r)
{
	while (r->tx_n) {
		unsigned k = r->tx_n < BATCH ? r->tx_n : BATCH, i;
		int sent;

		for (i = 0; i < k; i++) {
			struct txslot *s = &r->tx[(r->tx_head + i) % TXQ];
			r->txv[i].iov_base = s->buf;
			r->txv[i].iov_len = s->len;
			memset(&r->txm[i].msg_hdr, 0, sizeof r->txm[i].msg_hdr);
			r->txm[i].msg_hdr.msg_iov = &r->txv[i];
			r->txm[i].msg_hdr.msg_iovlen = 1;
		}
		sent = sendmmsg(r->fd, r->txm, k, MSG_DONTWAIT);
		if (sent < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == ENOBUFS) {
				r->tx_blocked = 1; /* wait for POLLOUT */
				return;
			}
			if (!r->tx_error_logged++)
				ae_debug("relay: send to the hypervisor: %s",
					 strerror(errno));
			if (peer_gone(errno)) {
				if (!r->dead)
					ae_debug("relay: the hypervisor side "
						 "is gone");
				r->dead = 1;
				tx_drop(r, r->tx_n);
				return;
			}
			tx_drop(r, 1); /* this frame only: send the rest */
			continue;
		}
		for (i = 0; i < (unsigned)sent; i++) {
			r->st.frames[AE_RELAY_TO_GUEST]++;
			r->st.bytes[AE_RELAY_TO_GUEST] +=
				r->tx[(r->tx_head + i) % TXQ].len;
		}
		r->tx_head = (r->tx_head + (unsigned)sent) % TXQ;
		r->tx_n -= (unsigned)sent;
		if ((unsigned)sent < k) {
			/* The socket is full (or the next frame fails: the
			 * send after POLLOUT says so). */
			r->tx_blocked = 1;
			return;
		}
	}
	r->tx_blocked = 0;
}

static int relay_output(void *sink, const void *frame, size_t len)
{
	struct ae_relay *r = sink;
	struct txslot *s;

	if (!r || !frame)
		return -EINVAL;
	if (r->dead || len > RX_BUF) {
		r->st.drops[AE_RELAY_TO_GUEST]++;
		return r->dead ? -EPIPE : -EMSGSIZE;
	}
	if (r->tx_n == TXQ) {
		flush(r);
		if (r->tx_n == TXQ) {
			r->st.drops[AE_RELAY_TO_GUEST]++;
			return -EAGAIN;
		}
	}
	s = &r->tx[(r->tx_head + r->tx_n) % TXQ];
	if (s->cap < len) {
		size_t cap = len < 2048 ? 2048 : len;
		uint8_t *b = realloc(s->buf, cap);
		if (!b) {
			r->st.drops[AE_RELAY_TO_GUEST]++;
			return -ENOMEM;
		}
		s->buf = b;
		s->cap = cap;
	}
	memcpy(s->buf, frame, len);
	s->len = len;
	if (++r->tx_n >= BATCH && !r->tx_blocked)
		flush(r);
	return 0;
}

int ae_relay_new(struct ae_relay **out, struct aether_attachment *att,
		 char *err, size_t errlen)
{
	struct ae_relay *r;
	int sv[2], i, sz = 4 << 20;

	*out = NULL;
	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv) < 0)
		return ae_seterr(err, errlen, errno, "relay: socketpair: %s",
				 strerror(errno));
	r = ae_xcalloc(1, sizeof *r);
	r->fd = sv[0];
	r->hv_fd = sv[1];
	fcntl(r->fd, F_SETFL, fcntl(r->fd, F_GETFL) | O_NONBLOCK);
	for (i = 0; i < 2; i++) {
		/* Bigger buffers absorb bursts; FORCE works as root only. */
		if (setsockopt(sv[i], SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof sz))
			setsockopt(sv[i], SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
		if (setsockopt(sv[i], SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof sz))
			setsockopt(sv[i], SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
	}
	r->rxmem = ae_xmalloc((size_t)BATCH * RX_STRIDE);
	for (i = 0; i < BATCH; i++) {
		r->rxv[i].iov_base = r->rxmem + (size_t)i * RX_STRIDE;
		r->rxv[i].iov_len = RX_BUF;
		r->rxm[i].msg_hdr.msg_iov = &r->rxv[i];
		r->rxm[i].msg_hdr.msg_iovlen = 1;
	}
	if (att) {
		att->frame.output = relay_output;
		att->frame.sink = r;
	}
	*out = r;
	return 0;
}

void ae_relay_hooks(struct ae_relay *r, struct aether_attachment *att)
{
	att->frame.output = relay_output;
	att->frame.sink = r;
}

void ae_relay_set_port(struct ae_relay *r, void *port,
		       const struct aether_frame_ops *ops)
{
	r->port = ops ? port : NULL;
	r->ops = ops;
}

int ae_relay_check_frame(struct ae_relay *r,
			 const struct aether_attachment *att, char *err,
			 size_t errlen)
{
	const struct aether_frame_ops *ops = att->frame.ops;

	if (att->kind != AETHER_ATTACH_FRAME)
		return ae_seterr(err, errlen, EINVAL,
				 "relay: attachment is not a frame port");
	if (!ops || ops->struct_size < offsetof(struct aether_frame_ops,
						 dispatch) + sizeof ops->dispatch ||
	    ops->reserved || !ops->input || !ops->fill || !ops->dispatch)
		return ae_seterr(err, errlen, EPROTO,
				 "frame port without input, fill and dispatch "
				 "operations");
	if (att->frame.output != relay_output || att->frame.sink != r)
		return ae_seterr(err, errlen, EPROTO,
				 "plugin changed the frame port's output/sink");
	return 0;
}

int ae_relay_bind(struct ae_relay *r, const struct aether_attachment *att,
		  char *err, size_t errlen)
{
	int rc = ae_relay_check_frame(r, att, err, errlen);

	if (rc < 0)
		return rc;
	ae_relay_set_port(r, att->frame.port, att->frame.ops);
	return 0;
}

int ae_relay_hv_fd(const struct ae_relay *r)
{
	return r ? r->hv_fd : -1;
}

void ae_relay_close_hv_fd(struct ae_relay *r)
{
	if (r && r->hv_fd >= 0) {
		close(r->hv_fd);
		r->hv_fd = -1;
	}
}

unsigned ae_relay_fill(struct ae_relay *r, struct pollfd *fds, unsigned max,
		       int *timeout_ms)
{
	unsigned n = 0;
	int k;

	if (max < 1)
		return 0;
	fds[0].fd = r->dead ? -1 : r->fd;
	fds[0].events = (short)(POLLIN | (r->tx_n ? POLLOUT : 0));
	fds[0].revents = 0;
	n = 1;
	if (r->ops) {
		unsigned m = max - 1 < MAX_PORT_FDS ? max - 1 : MAX_PORT_FDS;
		k = r->ops->fill(r->port, (struct aether_pollfd *)(fds + 1), m,
				 timeout_ms);
		if (k > 0)
			n += (unsigned)k > m ? m : (unsigned)k;
		if (r->tx_n && !r->tx_blocked)
			flush(r); /* the port may have sent from fill */
	}
	return n;
}

static void receive(struct ae_relay *r)
{
	int round, got, i;

	for (round = 0; round < RX_ROUNDS; round++) {
		for (i = 0; i < BATCH; i++)
			r->rxm[i].msg_hdr.msg_flags = 0;
		got = recvmmsg(r->fd, r->rxm, BATCH, MSG_DONTWAIT, NULL);
		if (got <= 0)
			return;
		for (i = 0; i < got; i++) {
			unsigned len = r->rxm[i].msg_len;
			if ((r->rxm[i].msg_hdr.msg_flags & MSG_TRUNC) || !len ||
			    !r->ops) {
				r->st.drops[AE_RELAY_TO_NET]++;
				continue;
			}
			r->st.frames[AE_RELAY_TO_NET]++;
			r->st.bytes[AE_RELAY_TO_NET] += len;
			r->ops->input(r->port, r->rxv[i].iov_base, len);
		}
		/* A full batch: QEMU likely queued more while we worked,
		 * read on (up to RX_ROUNDS, for fairness).  A short one
		 * drained the socket: the next poll says when more came,
		 * without a recvmmsg that finds nothing. */
		if (got < BATCH)
			return;
	}
}

void ae_relay_dispatch(struct ae_relay *r, struct pollfd *fds, unsigned n)
{
	if (n < 1)
		return;
	if (fds[0].revents & POLLOUT) {
		r->tx_blocked = 0;
		flush(r);
	}
	if (fds[0].revents & POLLIN)
		receive(r);
	if ((fds[0].revents & (POLLHUP | POLLERR | POLLNVAL)) &&
	    !(fds[0].revents & POLLIN)) {
		if (!r->dead)
			ae_debug("relay: the hypervisor side hung up");
		r->dead = 1;
	}
	if (r->ops)
		r->ops->dispatch(r->port, (struct aether_pollfd *)(fds + 1),
				 n - 1);
	if (!r->tx_blocked)
		flush(r);
}

int ae_relay_run_once(struct ae_relay *r, int timeout_ms)
{
	struct pollfd fds[1024];
	unsigned n;
	int rc;

	n = ae_relay_fill(r, fds, AE_ARRAY_SIZE(fds), &timeout_ms);
	rc = poll(fds, n, timeout_ms);
	if (rc < 0 && errno != EINTR)
		return -errno;
	if (rc < 0)
		for (unsigned i = 0; i < n; i++)
			fds[i].revents = 0;
	ae_relay_dispatch(r, fds, n);
	return rc < 0 ? 0 : rc;
}

void ae_relay_get_stats(const struct ae_relay *r, struct ae_relay_stats *s)
{
	*s = r->st;
}

void ae_relay_format_stats(const struct ae_relay *r, char *buf, size_t len)
{
	const struct ae_relay_stats *s = &r->st;

	snprintf(buf, len,
		 "to-net frames=%llu bytes=%llu drops=%llu; "
		 "to-guest frames=%llu bytes=%llu drops=%llu",
		 (unsigned long long)s->frames[0],
		 (unsigned long long)s->bytes[0],
		 (unsigned long long)s->drops[0],
		 (unsigned long long)s->frames[1],
		 (unsigned long long)s->bytes[1],
		 (unsigned long long)s->drops[1]);
}

void ae_relay_free(struct ae_relay *r)
{
	unsigned i;

	if (!r)
		return;
	if (r->fd >= 0)
		close(r->fd);
	ae_relay_close_hv_fd(r);
	for (i = 0; i < TXQ; i++)
		free(r->tx[i].buf);
	free(r->rxmem);
	free(r);
}
