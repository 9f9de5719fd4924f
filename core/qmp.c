/* qmp.c - a minimal blocking QMP client: enough to ask a guest to power
 * down and to wait for QEMU to answer. */
#include "config.h"

#include <errno.h>
#include <poll.h>
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

static int send_all(int fd, const char *s)
{
	size_t len = strlen(s);

	while (len) {
		ssize_t w = send(fd, s, len, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		s += w;
		len -= (size_t)w;
	}
	return 0;
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
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		rc = -errno;
		goto out;
	}
	if ((rc = read_reply(fd, buf, sizeof buf, timeout_ms, 0)) < 0)
		goto out;
	if (!strstr(buf, "\"QMP\"")) {
		rc = -EPROTO;
		goto out;
	}
	if ((rc = send_all(fd, "{\"execute\":\"qmp_capabilities\"}\n")) < 0 ||
	    (rc = read_reply(fd, buf, sizeof buf, timeout_ms, 1)) < 0)
		goto out;
	if ((rc = send_all(fd, command)) < 0 || (rc = send_all(fd, "\n")) < 0 ||
	    (rc = read_reply(fd, buf, sizeof buf, timeout_ms, 1)) < 0)
		goto out;
	if (reply)
		snprintf(reply, reply_len, "%s", buf);
	rc = strstr(buf, "\"error\"") ? -EPROTO : 0;
out:
	close(fd);
	return rc;
}
