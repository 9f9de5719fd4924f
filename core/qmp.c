/* qmp.c - a minimal QMP client: enough to ask a guest to power down and
 * to wait for QEMU to answer.  Every step is bounded by the caller's
 * timeout, connect included: a QEMU that hangs or is stopped (its QMP
 * socket's backlog full, nobody accepting) must not hang its caller. */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "qmp.h"
#include "util.h"

/* Read one '\n'-terminated line, skipping asynchronous events. */
static int read_reply(int fd, char *buf, size_t len, int timeout_ms,
		      int skip_events)
{
	size_t n = 0;

	for (;;) {
		struct pollfd p = {fd, POLLIN, 0};
		ssize_t r;
		char c;

		if (poll(&p, 1, timeout_ms) <= 0)
			return -ETIMEDOUT;
		r = read(fd, &c, 1);
		if (r <= 0)
			return r == 0 ? -ECONNRESET : -errno;
		if (c != '\n') {
			if (n + 1 < len)
				buf[n++] = c;
			continue;
		}
		buf[n] = '\0';
		if (skip_events && strstr(buf, "\"event\"")) {
			n = 0;
			continue;
		}
		return 0;
	}
}

static int send_all(int fd, const char *s, int timeout_ms)
{
	size_t len = strlen(s);

	while (len) {
		ssize_t w = send(fd, s, len, MSG_NOSIGNAL);
		if (w < 0) {
			struct pollfd p = {fd, POLLOUT, 0};
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				return -errno;
			if (poll(&p, 1, timeout_ms) <= 0)
				return -ETIMEDOUT;
			continue;
		}
		s += w;
		len -= (size_t)w;
	}
	return 0;
}

/* connect(2) on a non-blocking unix socket says EAGAIN while the
 * listener's backlog is full: retry until timeout_ms has passed. */
static int connect_bounded(int fd, const struct sockaddr_un *sa,
			   int timeout_ms)
{
	uint64_t end = ae_now_ns() + (uint64_t)timeout_ms * 1000000ull;

	for (;;) {
		if (connect(fd, (const struct sockaddr *)sa, sizeof *sa) == 0)
			return 0;
		if (errno == EINTR)
			continue;
		if (errno == EINPROGRESS) {
			struct pollfd p = {fd, POLLOUT, 0};
			int err = 0;
			socklen_t l = sizeof err;
			if (poll(&p, 1, timeout_ms) <= 0)
				return -ETIMEDOUT;
			getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l);
			return -err;
		}
		if (errno != EAGAIN)
			return -errno;
		if (ae_now_ns() >= end)
			return -ETIMEDOUT;
		usleep(10000);
	}
}

int ae_qmp_execute(const char *sock_path, const char *command, char *reply,
		   size_t reply_len, int timeout_ms)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char buf[4096];
	int fd, rc;

	if (strlen(sock_path) >= sizeof sa.sun_path)
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, sock_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if ((rc = connect_bounded(fd, &sa, timeout_ms)) < 0)
		goto out;
	if ((rc = read_reply(fd, buf, sizeof buf, timeout_ms, 0)) < 0)
		goto out;
	if (!strstr(buf, "\"QMP\"")) {
		rc = -EPROTO;
		goto out;
	}
	if ((rc = send_all(fd, "{\"execute\":\"qmp_capabilities\"}\n",
			    timeout_ms)) < 0 ||
	    (rc = read_reply(fd, buf, sizeof buf, timeout_ms, 1)) < 0)
		goto out;
	if ((rc = send_all(fd, command, timeout_ms)) < 0 ||
	    (rc = send_all(fd, "\n", timeout_ms)) < 0 ||
	    (rc = read_reply(fd, buf, sizeof buf, timeout_ms, 1)) < 0)
		goto out;
	if (reply)
		snprintf(reply, reply_len, "%s", buf);
	rc = strstr(buf, "\"error\"") ? -EPROTO : 0;
out:
	close(fd);
	return rc;
}
