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

int ae_qmp_execute(const char *sock_path, const char *command, char *reply,
		   size_t reply_len, int timeout_ms)
{
	char buf[4096];
	int fd, rc;

	fd = ae_unix_connect(sock_path, timeout_ms);
	if (fd < 0)
		return fd;
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
