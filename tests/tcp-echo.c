/* tcp-echo.c - a loopback TCP server for end-to-end tests.
 *
 * Listens on 127.0.0.1 (port 0: any free port), writes the port to the
 * file given with -p, then for each connection reads one line, appends it
 * to the log file (-l) and answers "host-says <line>".  Exits after -n
 * connections or when killed.
 *
 * With -o it only binds 127.0.0.1 port 0, prints the port the kernel
 * picked and exits: a candidate for a port some other program must bind
 * (tests/lib.sh free_port), which that program must be ready to find
 * taken (EADDRINUSE) by then.
 *
 * With -6 it listens on ::1 instead of 127.0.0.1 (IPv6 only). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	const char *portfile = NULL, *logfile = NULL;
	struct sockaddr_in sa = {.sin_family = AF_INET};
	struct sockaddr_in6 sa6 = {.sin6_family = AF_INET6};
	struct sockaddr *sp = (struct sockaddr *)&sa;
	socklen_t sl = sizeof sa;
	int ch, fd, one = 1, count = -1, port = 0, print_only = 0, v6 = 0;

	while ((ch = getopt(argc, argv, "p:l:n:P:o6")) != -1) {
		switch (ch) {
		case 'p': portfile = optarg; break;
		case 'l': logfile = optarg; break;
		case 'n': count = atoi(optarg); break;
		case 'P': port = atoi(optarg); break;
		case 'o': print_only = 1; break;
		case '6': v6 = 1; break;
		default:
			fprintf(stderr, "usage: tcp-echo -p PORTFILE [-l LOG] "
					"[-n COUNT] [-P PORT] [-6]\n"
					"       tcp-echo -o\n");
			return 2;
		}
	}
	fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons((unsigned short)port);
	if (v6) {
		sa6.sin6_addr = in6addr_loopback;
		sa6.sin6_port = htons((unsigned short)port);
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
		sp = (struct sockaddr *)&sa6;
		sl = sizeof sa6;
	}
	if (fd < 0 || bind(fd, sp, sl) < 0 ||
	    listen(fd, 8) < 0 || getsockname(fd, sp, &sl) < 0) {
		perror("tcp-echo");
		return 1;
	}
	if (v6)
		sa.sin_port = sa6.sin6_port;
	if (print_only) {
		if (printf("%u\n", ntohs(sa.sin_port)) < 0 || fflush(stdout)) {
			perror("tcp-echo: stdout");
			return 1;
		}
		return 0;
	}
	if (portfile) {
		FILE *f = fopen(portfile, "w");
		if (!f) {
			perror(portfile);
			return 1;
		}
		fprintf(f, "%u\n", ntohs(sa.sin_port));
		fclose(f);
	}
	while (count != 0) {
		char line[512], reply[600];
		ssize_t n = 0, r;
		int c = accept(fd, NULL, NULL);

		if (c < 0) {
			if (errno == EINTR)
				continue;
			perror("accept");
			return 1;
		}
		while (n < (ssize_t)sizeof line - 1 &&
		       (r = read(c, line + n, sizeof line - 1 - (size_t)n)) > 0) {
			n += r;
			if (memchr(line, '\n', (size_t)n))
				break;
		}
		line[n > 0 ? n : 0] = '\0';
		line[strcspn(line, "\r\n")] = '\0';
		if (logfile) {
			FILE *f = fopen(logfile, "a");
			if (f) {
				fprintf(f, "%s\n", line);
				fclose(f);
			}
		}
		snprintf(reply, sizeof reply, "host-says %s\n", line);
		if (write(c, reply, strlen(reply)) < 0)
			perror("write");
		close(c);
		if (count > 0)
			count--;
	}
	return 0;
}
