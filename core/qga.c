/* qga.c - a client of the QEMU guest agent (its socket in the VM's
 * runtime directory): the addresses the guest reports. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "qga.h"
#include "util.h"

/* Read from fd until `want` appears in what was read (or timeout). */
static int qga_read_until(int fd, char *buf, size_t len, const char *want,
			  uint64_t end)
{
	size_t got = 0;

	buf[0] = '\0';
	while (!strstr(buf, want)) {
		int64_t left = (int64_t)(end - ae_now_ns()) / 1000000;
		struct pollfd pf = {fd, POLLIN, 0};
		ssize_t r;

		if (left <= 0 || got + 1 >= len ||
		    poll(&pf, 1, (int)left) <= 0)
			return -ETIMEDOUT;
		r = read(fd, buf + got, len - 1 - got);
		if (r <= 0)
			return -EPIPE;
		got += (size_t)r;
		buf[got] = '\0';
	}
	return 0;
}

/* Addresses the QEMU guest agent reports (guest-network-get-interfaces),
 * when the VM has an agent channel and the guest runs the agent.  Short
 * timeout: a guest without agent just does not answer. */
int ae_qga_addresses(const char *rtdir,
		     char out[][INET6_ADDRSTRLEN + 16], int max)
{
	static const char sync[] =
		"{\"execute\":\"guest-sync\",\"arguments\":{\"id\":4711}}\n";
	static const char ifs[] =
		"{\"execute\":\"guest-network-get-interfaces\"}\n";
	uint64_t end = ae_now_ns() + 500000000ull;
	char *path = ae_xasprintf("%s/qga.sock", rtdir), *buf, *p;
	int fd, k = 0;

	fd = ae_unix_connect(path, 500);
	free(path);
	if (fd < 0)
		return 0;
	buf = ae_xmalloc(1 << 16);
	if (write(fd, sync, sizeof sync - 1) != (ssize_t)sizeof sync - 1 ||
	    qga_read_until(fd, buf, 1 << 16, "4711", end) < 0 ||
	    write(fd, ifs, sizeof ifs - 1) != (ssize_t)sizeof ifs - 1 ||
	    qga_read_until(fd, buf, 1 << 16, "\n", end) < 0)
		goto out;
	/* ..."ip-address-type": "ipv4", "ip-address": "10.0.0.5", ... */
	for (p = buf; k < max && (p = strstr(p, "\"ip-address\"")); ) {
		char addr[INET6_ADDRSTRLEN], *q;
		size_t n;

		p += strlen("\"ip-address\"");
		while (*p == ' ' || *p == ':')
			p++;
		if (*p++ != '"' || !(q = strchr(p, '"')))
			continue;
		n = (size_t)(q - p);
		if (n == 0 || n >= sizeof addr)
			continue;
		memcpy(addr, p, n);
		addr[n] = '\0';
		p = q;
		{
			unsigned char bin[16];
			if (inet_pton(AF_INET, addr, bin) != 1 &&
			    inet_pton(AF_INET6, addr, bin) != 1)
				continue;
		}
		if (!strncmp(addr, "127.", 4) || !strcmp(addr, "::1") ||
		    !strncmp(addr, "fe80:", 5))
			continue;
		snprintf(out[k++], INET6_ADDRSTRLEN + 16, "%s(agent)", addr);
	}
out:
	free(buf);
	close(fd);
	return k;
}
