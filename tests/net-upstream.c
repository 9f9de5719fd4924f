/* net-upstream.c - the "upstream" TCP server of tests/net-e2e.sh, run in
 * the test's upstream network namespace.
 *
 *   net-upstream -a ADDR -P PORT -l LOG -r READYFILE
 *
 * Listens on IPv4 ADDR:PORT, writes "ready" to READYFILE once listening,
 * then for each connection reads one line (2 s at most), appends
 * "PEER LINE" to LOG and answers "upstream-saw PEER", PEER being the
 * address the connection came from as this side sees it (after any NAT
 * on the way).  Runs until killed. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void serve(int c, const char *logfile)
{
	struct sockaddr_in peer;
	socklen_t pl = sizeof peer;
	char ip[INET_ADDRSTRLEN], line[256], reply[64];
	size_t got = 0;
	struct pollfd p = {.fd = c, .events = POLLIN};
	FILE *f;
	int n;

	if (getpeername(c, (struct sockaddr *)&peer, &pl) < 0 ||
	    !inet_ntop(AF_INET, &peer.sin_addr, ip, sizeof ip))
		return;
	while (got < sizeof line - 1 && poll(&p, 1, 2000) == 1) {
		ssize_t r = read(c, line + got, sizeof line - 1 - got);

		if (r <= 0)
			break;
		got += (size_t)r;
		if (memchr(line, '\n', got))
			break;
	}
	line[got] = '\0';
	line[strcspn(line, "\r\n")] = '\0';
	f = fopen(logfile, "a");
	if (f) {
		fprintf(f, "%s %s\n", ip, line);
		fclose(f);
	}
	n = snprintf(reply, sizeof reply, "upstream-saw %s\n", ip);
	if (n > 0 && write(c, reply, (size_t)n) < 0)
		perror("net-upstream: write");
}

int main(int argc, char **argv)
{
	const char *addr = NULL, *logfile = NULL, *ready = NULL;
	struct sockaddr_in sa = {.sin_family = AF_INET};
	int ch, fd, one = 1, port = 0;
	FILE *f;

	while ((ch = getopt(argc, argv, "a:P:l:r:")) != -1) {
		switch (ch) {
		case 'a': addr = optarg; break;
		case 'P': port = atoi(optarg); break;
		case 'l': logfile = optarg; break;
		case 'r': ready = optarg; break;
		default: goto usage;
		}
	}
	if (!addr || !logfile || !ready || port <= 0 || port > 65535 ||
	    inet_pton(AF_INET, addr, &sa.sin_addr) != 1)
		goto usage;
	sa.sin_port = htons((unsigned short)port);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 16) < 0) {
		perror("net-upstream");
		return 1;
	}
	f = fopen(ready, "w");
	if (!f || fputs("ready\n", f) < 0 || fclose(f)) {
		perror(ready);
		return 1;
	}
	for (;;) {
		int c = accept(fd, NULL, NULL);

		if (c < 0)
			continue;
		serve(c, logfile);
		close(c);
	}
usage:
	fprintf(stderr, "usage: net-upstream -a ADDR -P PORT -l LOG -r READYFILE\n");
	return 2;
}
