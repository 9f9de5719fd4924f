/* tcp-conv.c - the "guest NIC" of bench/tcp-bench.sh: moves Ethernet
 * frames between a TAP device (in a private network namespace, where a
 * real kernel TCP stack runs iperf3) and a user-mode network backend, in
 * the framing the backend speaks:
 *   --stream  QEMU's -netdev stream / passt: a 4-byte big-endian length
 *             before each frame on a stream socket
 *   --dgram   QEMU's -netdev dgram / aether's relay socketpair: one frame
 *             per datagram
 * The backend is an inherited fd (--fd N) or a unix socket path to connect
 * to (--connect PATH).  --netns PATH enters that network namespace (e.g.
 * /run/netns/NAME) before the TAP device is opened.
 *
 * Two threads, one per direction.  Guest to backend: the TAP fd is read
 * until it runs dry (up to BATCH frames) and the frames go out with one
 * writev per --batch frames (stream, default 1 as QEMU does) or sendmmsg
 * (dgram).  Backend to guest: the socket is read in large chunks (stream)
 * or with recvmmsg (dgram) and each frame is written to the TAP.
 *
 * --vnet: the TAP carries a virtio-net header (IFF_VNET_HDR); frames to
 * the guest are marked checksum-valid.  --tso (implies --vnet): the TAP
 * offers checksum offload and TSO, so the guest kernel hands 64 KiB TCP
 * segments, which are cut into MTU-sized frames (checksums filled) here,
 * as a NIC would; towards the guest, back-to-back full-sized segments of
 * one IPv4 TCP flow are merged into one super-frame (what the guest's GRO
 * does with a virtio NIC).  Either way the backend sees the same frames;
 * only the guest kernel's per-packet work shrinks.
 *
 * usage: tcp-conv [--netns PATH] [--vnet|--tso] [--batch N] --tap IFNAME
 *                 (--stream|--dgram) (--fd N|--connect PATH)
 * Runs until the backend closes the connection or a signal ends it. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#define FRAME_MAX 65550u /* MTU 65520 + Ethernet header, with margin */
#define BATCH 64
#define VNET_LEN 10 /* struct virtio_net_hdr */

static int tap_fd = -1, net_fd = -1, stream, vnet, tso;
static unsigned stream_batch = 1;

static void die(const char *what)
{
	fprintf(stderr, "tcp-conv: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* ---- guest -> backend ---- */

/* Frames waiting to go out, copied into one slab: flushed when it is full
 * and whenever the TAP runs dry. */
#define OUT_BYTES (8u << 20)
#define OUT_MAX 2048
static uint8_t out_buf[OUT_BYTES];
static size_t out_used;
static unsigned out_n;
static uint8_t out_len[OUT_MAX][4];
static struct iovec out_iov[OUT_MAX][2];
static struct mmsghdr out_mm[OUT_MAX];

static void flush_out(void)
{
	unsigned i, done = 0;

	if (stream) {
		/* stream_batch frames per writev (default 1, as QEMU's
		 * stream netdev sends them: passt's 2023 snapshot loses
		 * frames when one write carries several); finish a
		 * partial one. */
		struct iovec *v = &out_iov[0][0];
		unsigned cnt = 2 * out_n;

		while (cnt) {
			unsigned k = cnt > 2 * stream_batch ? 2 * stream_batch : cnt;
			ssize_t w = writev(net_fd, v, (int)k);
			if (w < 0) {
				if (errno == EINTR)
					continue;
				exit(0); /* the backend went away */
			}
			while (cnt && (size_t)w >= v->iov_len) {
				w -= (ssize_t)v->iov_len;
				v++;
				cnt--;
			}
			if (cnt) {
				v->iov_base = (uint8_t *)v->iov_base + w;
				v->iov_len -= (size_t)w;
			}
		}
	} else {
		for (i = 0; i < out_n; i++) {
			memset(&out_mm[i], 0, sizeof out_mm[i]);
			out_mm[i].msg_hdr.msg_iov = &out_iov[i][1];
			out_mm[i].msg_hdr.msg_iovlen = 1;
		}
		while (done < out_n) {
			unsigned k = out_n - done > 1024 ? 1024 : out_n - done;
			int s = sendmmsg(net_fd, out_mm + done, k, 0);
			if (s < 0) {
				if (errno == EINTR)
					continue;
				if (errno == ENOBUFS) { /* drop it */
					done++;
					continue;
				}
				exit(0);
			}
			done += (unsigned)s;
		}
	}
	out_n = 0;
	out_used = 0;
}

/* Room for one frame of len bytes in the slab. */
static uint8_t *out_frame(size_t len)
{
	uint8_t *p;

	if (out_n == OUT_MAX || out_used + len > OUT_BYTES)
		flush_out();
	p = out_buf + out_used;
	out_used += len;
	out_len[out_n][0] = (uint8_t)(len >> 24);
	out_len[out_n][1] = (uint8_t)(len >> 16);
	out_len[out_n][2] = (uint8_t)(len >> 8);
	out_len[out_n][3] = (uint8_t)len;
	out_iov[out_n][0].iov_base = out_len[out_n];
	out_iov[out_n][0].iov_len = 4;
	out_iov[out_n][1].iov_base = p;
	out_iov[out_n][1].iov_len = len;
	out_n++;
	return p;
}

/* Internet checksum over raw bytes in host order (byte-order neutral as
 * long as the result is stored back the same way).  The bulk goes 32
 * bytes at a time as 64-bit words into two 128-bit sums (the carries
 * collect in the high half: the ones' complement sum is then high + low
 * with the end-around carry), about twice the speed of 32-bit words: the
 * guest kernel's own checksum is that fast, and at MTU 65520 this loop
 * was the converter's largest cost. */
static uint64_t sum_raw(const uint8_t *p, size_t len, uint64_t s)
{
	uint32_t w;
	uint16_t h = 0;

	if (len >= 32) {
		unsigned __int128 a = 0, b = 0;
		uint64_t q[4], lo, hi, t;

		for (; len >= 32; p += 32, len -= 32) {
			memcpy(q, p, 32);
			a += q[0];
			b += q[1];
			a += q[2];
			b += q[3];
		}
		a += b;
		lo = (uint64_t)a;
		hi = (uint64_t)(a >> 64);
		t = lo + hi;
		t += t < hi;
		s += (t & 0xffffffffu) + (t >> 32);
	}
	for (; len >= 4; p += 4, len -= 4) {
		memcpy(&w, p, 4);
		s += w;
	}
	if (len >= 2) {
		memcpy(&h, p, 2);
		s += h;
		p += 2;
		len -= 2;
	}
	if (len) {
		h = 0;
		memcpy(&h, p, 1);
		s += h;
	}
	return s;
}

static void put_csum(uint8_t *at, uint64_t s)
{
	uint16_t c;

	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	c = (uint16_t)~s;
	memcpy(at, &c, 2);
}

/* The IPv4 TCP pseudo-header's sum (addresses at ip + 12, protocol 6,
 * TCP length tl), unfolded. */
static uint64_t sum_pseudo4(const uint8_t *ip, size_t tl)
{
	uint8_t ph[4] = {0, 6, (uint8_t)(tl >> 8), (uint8_t)tl};

	return sum_raw(ph, 4, sum_raw(ip + 12, 8, 0));
}

/* struct virtio_net_hdr, as the TAP gives it (host byte order). */
struct vnet_hdr {
	uint8_t flags, gso_type;
	uint16_t hdr_len, gso_size, csum_start, csum_offset;
};
#define F_NEEDS_CSUM 1
#define GSO_TCPV4 1
#define GSO_TCPV6 4

/* Cut a TCP super-frame into gso_size segments (headers copied, sequence
 * numbers, lengths, IDs and checksums fixed), as a NIC with TSO would. */
static int segment(const uint8_t *f, size_t len, const struct vnet_hdr *h)
{
	size_t th = h->csum_start, thl, hl, plen, off, mss = h->gso_size;
	int v6 = (h->gso_type & 0x7f) == GSO_TCPV6;
	uint32_t seq0;
	uint16_t id0 = 0;
	unsigned i;

	if (th + 20 > len || th < 14 + (v6 ? 40u : 20u) || !mss)
		return -1;
	thl = (size_t)(f[th + 12] >> 4) * 4;
	hl = th + thl;
	if (thl < 20 || hl > len)
		return -1;
	plen = len - hl;
	seq0 = (uint32_t)f[th + 4] << 24 | (uint32_t)f[th + 5] << 16 |
	       (uint32_t)f[th + 6] << 8 | f[th + 7];
	if (!v6)
		id0 = (uint16_t)(f[18] << 8 | f[19]);
	for (off = 0, i = 0; off < plen || (!plen && !i); off += mss, i++) {
		size_t seg = plen - off < mss ? plen - off : mss;
		uint8_t *o = out_frame(hl + seg), *ip = o + 14, *t = o + th;
		uint32_t seq = seq0 + (uint32_t)off;
		size_t tl = thl + seg;
		uint8_t ph[8];
		uint64_t s;

		memcpy(o, f, hl);
		memcpy(o + hl, f + hl + off, seg);
		t[4] = (uint8_t)(seq >> 24);
		t[5] = (uint8_t)(seq >> 16);
		t[6] = (uint8_t)(seq >> 8);
		t[7] = (uint8_t)seq;
		if (off + seg < plen)
			t[13] &= (uint8_t)~0x09; /* FIN, PSH: last only */
		if (off)
			t[13] &= (uint8_t)~0x80; /* CWR: first only */
		if (v6) {
			size_t pl = hl + seg - 14 - 40;
			ip[4] = (uint8_t)(pl >> 8);
			ip[5] = (uint8_t)pl;
			s = sum_raw(ip + 8, 32, 0);
			ph[0] = (uint8_t)(tl >> 24);
			ph[1] = (uint8_t)(tl >> 16);
			ph[2] = (uint8_t)(tl >> 8);
			ph[3] = (uint8_t)tl;
			ph[4] = ph[5] = ph[6] = 0;
			ph[7] = 6;
			s = sum_raw(ph, 8, s);
		} else {
			size_t ihl = (size_t)(ip[0] & 15) * 4, tot = hl + seg - 14;
			uint16_t id = (uint16_t)(id0 + i);
			ip[2] = (uint8_t)(tot >> 8);
			ip[3] = (uint8_t)tot;
			ip[4] = (uint8_t)(id >> 8);
			ip[5] = (uint8_t)id;
			ip[10] = ip[11] = 0;
			put_csum(ip + 10, sum_raw(ip, ihl, 0));
			s = sum_pseudo4(ip, tl);
		}
		t[16] = t[17] = 0;
		put_csum(t + 16, sum_raw(t, tl, s));
		if (!plen)
			break;
	}
	return 0;
}

/* One frame read from the TAP (after its vnet header, if any). */
static void from_tap(uint8_t *f, size_t len, const struct vnet_hdr *h)
{
	if (h && (h->gso_type & 0x7f)) {
		if ((h->gso_type & 0x7f) == GSO_TCPV4 ||
		    (h->gso_type & 0x7f) == GSO_TCPV6)
			if (!segment(f, len, h))
				return;
		return; /* what we did not offer: dropped */
	}
	if (h && (h->flags & F_NEEDS_CSUM)) {
		size_t cs = h->csum_start, at = cs + h->csum_offset;
		if (at + 2 > len)
			return;
		put_csum(f + at, sum_raw(f + cs, len - cs, 0));
	}
	memcpy(out_frame(len), f, len);
}

static void *up_thread(void *arg)
{
	static uint8_t buf[VNET_LEN + 65536 + 64];
	(void)arg;

	for (;;) {
		struct pollfd p = {tap_fd, POLLIN, 0};
		int n;

		if (poll(&p, 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			die("poll(tap)");
		}
		for (n = 0; n < BATCH; n++) {
			ssize_t r = read(tap_fd, buf, sizeof buf);
			struct vnet_hdr h;

			if (r < 0) {
				if (errno == EAGAIN || errno == EINTR)
					break;
				die("read(tap)");
			}
			if (!vnet) {
				from_tap(buf, (size_t)r, NULL);
				continue;
			}
			if (r <= VNET_LEN)
				continue;
			memcpy(&h, buf, sizeof h);
			from_tap(buf + VNET_LEN, (size_t)r - VNET_LEN, &h);
		}
		if (out_n)
			flush_out();
	}
	return NULL;
}

/* ---- backend -> guest ---- */

/* One frame to the TAP. */
static void tap_write(const uint8_t *vh, const uint8_t *f, size_t len)
{
	/* flags = VIRTIO_NET_HDR_F_DATA_VALID (2) */
	static const uint8_t valid[VNET_LEN] = {2};
	struct iovec v[2] = {{(void *)(vh ? vh : valid), VNET_LEN},
			     {(void *)f, len}};

	if (vnet)
		(void)writev(tap_fd, v, 2); /* a full queue drops, as a NIC */
	else
		(void)write(tap_fd, f, len);
}

/* With --tso, consecutive full-sized segments of one IPv4 TCP flow are
 * merged into one super-frame for the TAP (what the guest's GRO would do
 * with them), until a short or PSH segment, another frame or the end of
 * what the backend has sent so far. */
static uint8_t gro[65536 + 64];
static size_t gro_len, gro_mss, gro_hl;
static unsigned gro_segs;
static uint32_t gro_next;

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static void gro_flush(void)
{
	struct vnet_hdr h = {0};
	uint8_t *ip = gro + 14, *t = gro + 34;
	size_t tot = gro_len - 14, tl = gro_len - 34;
	uint64_t s;
	uint16_t c;

	if (!gro_len)
		return;
	if (gro_segs == 1) {
		tap_write(NULL, gro, gro_len);
		gro_len = 0;
		return;
	}
	ip[2] = (uint8_t)(tot >> 8);
	ip[3] = (uint8_t)tot;
	ip[10] = ip[11] = 0;
	put_csum(ip + 10, sum_raw(ip, 20, 0));
	/* The TCP checksum field holds the pseudo-header sum (not
	 * inverted), as for a partial checksum. */
	s = sum_pseudo4(ip, tl);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	c = (uint16_t)s;
	memcpy(t + 16, &c, 2);
	h.flags = F_NEEDS_CSUM;
	h.gso_type = GSO_TCPV4;
	h.hdr_len = (uint16_t)gro_hl;
	h.gso_size = (uint16_t)gro_mss;
	h.csum_start = 34;
	h.csum_offset = 16;
	tap_write((const uint8_t *)&h, gro, gro_len);
	gro_len = 0;
}

static void to_tap(const uint8_t *f, size_t len)
{
	size_t tot, thl, hl, plen;
	uint8_t fl;

	if (!tso) {
		tap_write(NULL, f, len);
		return;
	}
	/* Plain IPv4 (no options, not a fragment) carrying TCP with only
	 * ACK (and PSH) set and some payload? */
	if (len < 54 || f[12] != 8 || f[13] != 0 || f[14] != 0x45 ||
	    (f[20] & 0x3f) || f[21] || f[23] != 6)
		goto plain;
	tot = (size_t)f[16] << 8 | f[17];
	thl = (size_t)(f[46] >> 4) * 4;
	hl = 34 + thl;
	fl = f[47];
	if (tot + 14 > len || thl < 20 || hl >= tot + 14 ||
	    (fl & (uint8_t)~0x18) || !(fl & 0x10))
		goto plain;
	plen = tot + 14 - hl;
	if (gro_len && hl == gro_hl && plen <= gro_mss &&
	    gro_len - 14 + plen <= 65535 && be32(f + 38) == gro_next &&
	    !memcmp(f, gro, 14) && f[15] == gro[15] &&
	    !memcmp(f + 26, gro + 26, 12) &&  /* addresses, ports */
	    !memcmp(f + 42, gro + 42, 4) &&   /* ack */
	    !memcmp(f + 48, gro + 48, 2) &&   /* window */
	    !memcmp(f + 54, gro + 54, thl - 20)) { /* options */
		memcpy(gro + gro_len, f + hl, plen);
		gro_len += plen;
		gro_next += (uint32_t)plen;
		gro_segs++;
		if (fl & 0x08)
			gro[47] |= 0x08;
		if ((fl & 0x08) || plen < gro_mss)
			gro_flush();
		return;
	}
	gro_flush();
	if ((fl & 0x08) || tot + plen > 65535) { /* nothing could follow */
		tap_write(NULL, f, tot + 14);
		return;
	}
	memcpy(gro, f, tot + 14);
	gro_len = tot + 14;
	gro_hl = hl;
	gro_mss = plen;
	gro_segs = 1;
	gro_next = be32(f + 38) + (uint32_t)plen;
	return;
plain:
	gro_flush();
	tap_write(NULL, f, len);
}

static void down_stream(void)
{
	static uint8_t buf[4 << 20];
	size_t have = 0, off = 0;

	for (;;) {
		ssize_t r;

		/* Hand out every whole frame in the buffer. */
		for (;;) {
			size_t len;

			if (have - off < 4)
				break;
			len = (size_t)buf[off] << 24 | (size_t)buf[off + 1] << 16 |
			      (size_t)buf[off + 2] << 8 | buf[off + 3];
			if (len > FRAME_MAX) {
				fprintf(stderr, "tcp-conv: frame of %zu bytes "
						"from the backend\n", len);
				exit(1);
			}
			if (have - off < 4 + len)
				break;
			to_tap(buf + off + 4, len);
			off += 4 + len;
		}
		if (off) {
			memmove(buf, buf + off, have - off);
			have -= off;
			off = 0;
		}
		gro_flush(); /* nothing more at hand */
		r = read(net_fd, buf + have, sizeof buf - have);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return;
		have += (size_t)r;
	}
}

static void down_dgram(void)
{
	static uint8_t buf[BATCH][FRAME_MAX];
	struct mmsghdr mm[BATCH];
	struct iovec iov[BATCH];
	int i, n;

	for (;;) {
		for (i = 0; i < BATCH; i++) {
			iov[i].iov_base = buf[i];
			iov[i].iov_len = sizeof buf[i];
			memset(&mm[i], 0, sizeof mm[i]);
			mm[i].msg_hdr.msg_iov = &iov[i];
			mm[i].msg_hdr.msg_iovlen = 1;
		}
		n = recvmmsg(net_fd, mm, BATCH, MSG_DONTWAIT, NULL);
		if (n < 0 && errno == EAGAIN) {
			gro_flush(); /* nothing more at hand */
			n = recvmmsg(net_fd, mm, BATCH, MSG_WAITFORONE, NULL);
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		for (i = 0; i < n; i++)
			if (mm[i].msg_len)
				to_tap(buf[i], mm[i].msg_len);
		gro_flush();
	}
}

static void usage(void)
{
	fprintf(stderr, "usage: tcp-conv [--netns PATH] [--vnet|--tso] "
			"[--batch N] --tap IFNAME (--stream|--dgram) "
			"(--fd N|--connect PATH)\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *netns = NULL, *tap = NULL, *path = NULL;
	int framing = -1, i;
	struct ifreq ifr;
	pthread_t t;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--stream") || !strcmp(a, "--dgram")) {
			framing = !strcmp(a, "--stream");
			continue;
		}
		if (!strcmp(a, "--vnet")) {
			vnet = 1;
			continue;
		}
		if (!strcmp(a, "--tso")) {
			vnet = tso = 1;
			continue;
		}
		if (!v)
			usage();
		if (!strcmp(a, "--netns"))
			netns = v;
		else if (!strcmp(a, "--tap"))
			tap = v;
		else if (!strcmp(a, "--connect"))
			path = v;
		else if (!strcmp(a, "--fd"))
			net_fd = atoi(v);
		else if (!strcmp(a, "--batch"))
			stream_batch = (unsigned)atoi(v);
		else
			usage();
		i++;
	}
	if (!tap || framing < 0 || (net_fd < 0) == !path ||
	    strlen(tap) >= IFNAMSIZ)
		usage();
	stream = framing;
	if (stream_batch < 1 || stream_batch > 512)
		usage();
	signal(SIGPIPE, SIG_IGN);

	if (netns) {
		int fd = open(netns, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || setns(fd, CLONE_NEWNET) < 0)
			die(netns);
		close(fd);
	}
	tap_fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
	if (tap_fd < 0)
		die("/dev/net/tun");
	memset(&ifr, 0, sizeof ifr);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | (vnet ? IFF_VNET_HDR : 0);
	snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", tap);
	if (ioctl(tap_fd, TUNSETIFF, &ifr) < 0)
		die(tap);
	if (vnet) {
		int hl = VNET_LEN;
		if (ioctl(tap_fd, TUNSETVNETHDRSZ, &hl) < 0 ||
		    ioctl(tap_fd, TUNSETOFFLOAD,
			  tso ? TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 : 0) < 0)
			die("vnet header");
	}

	if (path) {
		struct sockaddr_un sa = {.sun_family = AF_UNIX};
		if (strlen(path) >= sizeof sa.sun_path) {
			fprintf(stderr, "tcp-conv: %s: path too long\n", path);
			return 1;
		}
		strcpy(sa.sun_path, path);
		net_fd = socket(AF_UNIX, stream ? SOCK_STREAM : SOCK_DGRAM, 0);
		if (net_fd < 0 ||
		    connect(net_fd, (struct sockaddr *)&sa, sizeof sa) < 0)
			die(path);
	}
	/* Socket buffers stay as they are: QEMU does not size them either,
	 * and the backend's side is the backend's business. */
	if (pthread_create(&t, NULL, up_thread, NULL))
		die("pthread_create");
	if (stream)
		down_stream();
	else
		down_dgram();
	return 0;
}
