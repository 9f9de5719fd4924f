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
 * until it runs dry (up to BATCH frames) and the batch goes out in one
 * write (stream) or one sendmmsg (dgram).  Backend to guest: the socket is
 * read in large chunks (stream) or with recvmmsg (dgram) and each frame is
 * written to the TAP.  With --vnet the TAP carries a virtio-net header
 * (IFF_VNET_HDR) and frames to the guest are marked checksum-valid, so the
 * guest kernel does not verify them again.
 *
 * usage: tcp-conv [--netns PATH] [--vnet] --tap IFNAME
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

static int tap_fd = -1, net_fd = -1, stream, vnet;

static void die(const char *what)
{
	fprintf(stderr, "tcp-conv: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* Guest -> backend. */
static void *up_thread(void *arg)
{
	/* Stream: frames packed as [len][frame][len][frame]...;
	 * dgram: one slot per frame. */
	static uint8_t buf[BATCH][4 + VNET_LEN + FRAME_MAX];
	static struct mmsghdr mm[BATCH];
	static struct iovec iov[BATCH][2];
	static uint8_t lens[BATCH][4];
	(void)arg;

	for (;;) {
		struct pollfd p = {tap_fd, POLLIN, 0};
		int n = 0, i;

		if (poll(&p, 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			die("poll(tap)");
		}
		while (n < BATCH) {
			ssize_t r = read(tap_fd, buf[n], sizeof buf[n]);
			uint8_t *f = buf[n];
			size_t len;

			if (r < 0) {
				if (errno == EAGAIN || errno == EINTR)
					break;
				die("read(tap)");
			}
			if (vnet) {
				if (r <= VNET_LEN)
					continue;
				f += VNET_LEN; /* no offloads: header is zero */
				r -= VNET_LEN;
			}
			len = (size_t)r;
			lens[n][0] = (uint8_t)(len >> 24);
			lens[n][1] = (uint8_t)(len >> 16);
			lens[n][2] = (uint8_t)(len >> 8);
			lens[n][3] = (uint8_t)len;
			iov[n][0].iov_base = lens[n];
			iov[n][0].iov_len = 4;
			iov[n][1].iov_base = f;
			iov[n][1].iov_len = len;
			n++;
		}
		if (!n)
			continue;
		if (stream) {
			/* One writev per frame, as QEMU's stream netdev sends
			 * them; finish a partial one. */
			for (i = 0; i < n; i++) {
				struct iovec *v = iov[i];
				int cnt = 2;

				while (cnt) {
					ssize_t w = writev(net_fd, v, cnt);
					if (w < 0) {
						if (errno == EINTR)
							continue;
						return NULL;
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
			}
		} else {
			int done = 0;

			for (i = 0; i < n; i++) {
				memset(&mm[i], 0, sizeof mm[i]);
				mm[i].msg_hdr.msg_iov = &iov[i][1];
				mm[i].msg_hdr.msg_iovlen = 1;
			}
			while (done < n) {
				int s = sendmmsg(net_fd, mm + done,
						 (unsigned)(n - done), 0);
				if (s < 0) {
					if (errno == EINTR)
						continue;
					if (errno == ENOBUFS) { /* drop it */
						done++;
						continue;
					}
					return NULL;
				}
				done += s;
			}
		}
	}
}

/* Backend -> guest: one frame to the TAP. */
static void to_tap(const uint8_t *f, size_t len)
{
	/* flags = VIRTIO_NET_HDR_F_DATA_VALID (2) */
	static const uint8_t vh[VNET_LEN] = {2};
	struct iovec v[2] = {{(void *)vh, VNET_LEN}, {(void *)f, len}};

	if (vnet)
		(void)writev(tap_fd, v, 2); /* a full queue drops, as a NIC */
	else
		(void)write(tap_fd, f, len);
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
		n = recvmmsg(net_fd, mm, BATCH, MSG_WAITFORONE, NULL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		for (i = 0; i < n; i++)
			if (mm[i].msg_len)
				to_tap(buf[i], mm[i].msg_len);
	}
}

static void usage(void)
{
	fprintf(stderr, "usage: tcp-conv [--netns PATH] [--vnet] --tap IFNAME "
			"(--stream|--dgram) (--fd N|--connect PATH)\n");
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
		else
			usage();
		i++;
	}
	if (!tap || framing < 0 || (net_fd < 0) == !path ||
	    strlen(tap) >= IFNAMSIZ)
		usage();
	stream = framing;
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
		    ioctl(tap_fd, TUNSETOFFLOAD, 0) < 0)
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
