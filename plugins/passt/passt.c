/*
 * passt.c - the passt backend: user-mode networking by passt(1), one passt
 * per VM NIC, no privileges needed.
 *
 * passt maps the guest's TCP, UDP and ICMP onto host sockets; the guest
 * shares the host's addresses and routes by default.  The plugin starts
 * passt through the host's helper service (argv only, no shell) with one
 * end of a socketpair as its tap-side connection (--fd) and hands the
 * other end to QEMU as a connected stream socket (AETHER_ATTACH_STREAM,
 * -netdev stream,addr.type=fd).  No socket file is made: QEMU's user
 * (which, as root, is not root) and passt's user (--runas, the VM's user)
 * never need to reach a path in the private runtime directory.
 *
 * Readiness: attach sends an ARP request on the connection and returns
 * once passt answered it (bounded by start_timeout_ms); a failure says
 * why with passt's last log line, stops passt and leaves nothing behind.
 *
 * State: passt's log (option log, default <VM runtime dir>/passt-<nic>.log)
 * and, in the plugin's runtime dir, <vm id>@<nic>.pid ("PID UID") and
 * <vm id>@<nic>.argv (the argv as /proc shows it) for gc, which stops a
 * passt whose VM is gone only when its owner and exact argv match.
 */
#include "config.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <aether/plugin.h>

#include "../plugin-util.h"

/* Each end of the socketpair: what passt sets on a tap socket it accepts
 * itself (8 MiB, seen with ss -xm), so that --fd costs nothing. */
#define PASST_SOCK_BUF (8 << 20)
#define PASST_PROG "passt"
#define MAX_FWD 32   /* tcp / udp values each */
#define MAX_DNS 4
#define MAX_ARGS (40 + 2 * (2 * MAX_FWD + MAX_DNS))

static const struct aether_option passt_options[] = {
	{.key = "address", .type = AETHER_OPT_STRING,
	 .help = "IPv4 address passt assigns the guest by DHCP (default: the "
		 "host's, from the interface with the default route)"},
	{.key = "gateway", .type = AETHER_OPT_STRING,
	 .help = "IPv4 gateway handed to the guest (default: the host's); "
		 "with map_gw the guest reaches the host's loopback there"},
	{.key = "address6", .type = AETHER_OPT_STRING,
	 .help = "IPv6 address passt assigns by DHCPv6 (default: the host's)"},
	{.key = "gateway6", .type = AETHER_OPT_STRING,
	 .help = "IPv6 gateway (router) for the guest (default: the host's)"},
	{.key = "dns", .type = AETHER_OPT_STRING, .flags = AETHER_OPTF_REPEAT,
	 .help = "DNS server address given to the guest (IPv4 or IPv6; "
		 "repeatable), or none (default: /etc/resolv.conf's)"},
	{.key = "mtu", .type = AETHER_OPT_INT, .def = "65520",
	 .min = 68, .max = 65520,
	 .help = "MTU assigned by DHCP and NDP (at least 1280 with ipv6)"},
	{.key = "tcp", .type = AETHER_OPT_STRING, .flags = AETHER_OPTF_REPEAT,
	 .help = "TCP forwards into the guest, passt -t SPEC: [ADDR/]PORT"
		 "[-PORT][:GPORT[-GPORT]][,...], ~ to exclude, all or none"},
	{.key = "udp", .type = AETHER_OPT_STRING, .flags = AETHER_OPTF_REPEAT,
	 .help = "UDP forwards into the guest, passt -u SPEC (as tcp)"},
	{.key = "ipv6", .type = AETHER_OPT_BOOL, .def = "yes",
	 .help = "offer IPv6 (NDP, DHCPv6); no: passt -4"},
	{.key = "map_gw", .type = AETHER_OPT_BOOL, .def = "yes",
	 .help = "connections to the gateway address reach the host's "
		 "loopback (no: passt --no-map-gw)"},
	{.key = "log", .type = AETHER_OPT_PATH,
	 .help = "passt's log file (default: passt-<nic>.log in the VM's "
		 "runtime directory)"},
	{.key = "start_timeout_ms", .type = AETHER_OPT_INT, .def = "5000",
	 .min = 100, .max = 60000,
	 .help = "how long passt may take to answer after it started"},
	{.key = NULL},
};

/* Every option, parsed and checked: validate and init share it. */
struct passt_cfg {
	char address[INET_ADDRSTRLEN], gateway[INET_ADDRSTRLEN];
	char address6[INET6_ADDRSTRLEN], gateway6[INET6_ADDRSTRLEN];
	char dns[MAX_DNS][INET6_ADDRSTRLEN];
	unsigned n_dns;
	int dns_none;
	char *tcp[MAX_FWD], *udp[MAX_FWD];
	unsigned n_tcp, n_udp;
	int64_t mtu, start_timeout_ms;
	int ipv6, map_gw;
	char *log; /* NULL: in the VM's runtime dir */
};

struct passt_state {
	const struct aether_host *host;
	char *rundir;
	struct passt_cfg cfg;
};

struct passt_att {
	struct aether_helper *helper;
	pid_t pid;
	char log[PATH_MAX], err[PATH_MAX];
	char pidf[PATH_MAX], argvf[PATH_MAX];
	int own_log; /* the log is in the VM's runtime dir: ours to remove */
	struct aether_addr addrs[2];
	int n_addrs;
	int dead_told;
};

/* ------------------------------------------------------------------ */
/* Small utilities.                                                   */

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Read up to len - 1 bytes of path; the count, or -errno. */
static ssize_t read_file(const char *path, char *buf, size_t len)
{
	ssize_t n, tot = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0)
		return -errno;
	while ((size_t)tot < len - 1 &&
	       (n = read(fd, buf + tot, len - 1 - (size_t)tot)) > 0)
		tot += n;
	close(fd);
	buf[tot] = '\0';
	return tot;
}

/* The last non-empty line of a file, "" if none. */
static void last_line(const char *path, char *out, size_t len)
{
	static char buf[16384];
	ssize_t n;
	char *p, *e;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	off_t size;

	out[0] = '\0';
	if (fd < 0)
		return;
	size = lseek(fd, 0, SEEK_END);
	if (size > (off_t)sizeof buf - 1)
		lseek(fd, size - (off_t)sizeof buf + 1, SEEK_SET);
	else
		lseek(fd, 0, SEEK_SET);
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	e = buf + n;
	while (e > buf && (e[-1] == '\n' || e[-1] == '\r' || e[-1] == ' '))
		*--e = '\0';
	p = strrchr(buf, '\n');
	p = p ? p + 1 : buf;
	snprintf(out, len, "%.*s", (int)(len - 1), p);
}

/* ------------------------------------------------------------------ */
/* Forward specs, as passt(1) documents -t and -u:                     */
/*   none | all | [ADDR[%IFNAME]/]ITEM[,ITEM...]                       */
/*   ITEM = [~]PORT[-PORT][:PORT[-PORT]]  (no target on an exclusion)  */

/* A port 1..65535 at *p (decimal, no sign); advances *p. */
static int spec_port(const char **p)
{
	long v = 0;
	int n = 0;

	while (**p >= '0' && **p <= '9' && n < 6) {
		v = v * 10 + (**p - '0');
		(*p)++;
		n++;
	}
	return (n == 0 || n > 5 || v < 1 || v > 65535) ? -1 : (int)v;
}

/* PORT[-PORT] at *p into lo, hi. */
static int spec_range(const char **p, int *lo, int *hi)
{
	if ((*lo = spec_port(p)) < 0)
		return -1;
	*hi = *lo;
	if (**p == '-') {
		(*p)++;
		if ((*hi = spec_port(p)) < 0 || *hi < *lo)
			return -1;
	}
	return 0;
}

/* 0 when spec is a forward spec passt takes; else -1 and why. */
static int passt_check_spec(const char *spec, char *why, size_t whylen)
{
	const char *slash, *p;
	char addr[INET6_ADDRSTRLEN + 16 + 2];
	unsigned char bin[16];
	int items = 0, incl = 0;

	if (!strcmp(spec, "none") || !strcmp(spec, "all"))
		return 0;
	if (!*spec) {
		snprintf(why, whylen, "empty (use none)");
		return -1;
	}
	slash = strchr(spec, '/');
	p = spec;
	if (slash) {
		size_t l = (size_t)(slash - spec);
		char *pct;

		if (l == 0 || l >= sizeof addr) {
			snprintf(why, whylen, "bad address before '/'");
			return -1;
		}
		memcpy(addr, spec, l);
		addr[l] = '\0';
		if ((pct = strchr(addr, '%'))) {
			size_t il = strlen(pct + 1);
			const char *c;

			if (il == 0 || il > 15) {
				snprintf(why, whylen,
					 "bad interface name after '%%'");
				return -1;
			}
			for (c = pct + 1; *c; c++)
				if (*c == '/' || *c == ',' || *c == ' ' ||
				    *c == ':') {
					snprintf(why, whylen,
						 "bad interface name after "
						 "'%%'");
					return -1;
				}
			*pct = '\0';
		}
		if (inet_pton(AF_INET, addr, bin) != 1 &&
		    inet_pton(AF_INET6, addr, bin) != 1) {
			snprintf(why, whylen, "'%s' is not an IPv4 or IPv6 "
				 "address", addr);
			return -1;
		}
		p = slash + 1;
	}
	for (;;) {
		int lo, hi, tlo, thi, excl = 0;

		if (*p == '~') {
			excl = 1;
			p++;
		}
		if (spec_range(&p, &lo, &hi) < 0) {
			snprintf(why, whylen, "item %d: not PORT[-PORT] with "
				 "ports 1..65535, low to high", items + 1);
			return -1;
		}
		if (*p == ':') {
			if (excl) {
				snprintf(why, whylen, "item %d: an exclusion "
					 "(~) has no target port", items + 1);
				return -1;
			}
			p++;
			if (spec_range(&p, &tlo, &thi) < 0) {
				snprintf(why, whylen, "item %d: target not "
					 "PORT[-PORT] with ports 1..65535",
					 items + 1);
				return -1;
			}
			if (thi - tlo != hi - lo) {
				snprintf(why, whylen, "item %d: the target "
					 "range is not as long as the port "
					 "range", items + 1);
				return -1;
			}
		}
		items++;
		incl |= !excl;
		if (*p == '\0')
			break;
		if (*p != ',') {
			snprintf(why, whylen, "unexpected '%c' in item %d", *p,
				 items);
			return -1;
		}
		p++;
	}
	(void)incl;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Options.                                                           */

static void cfg_free(struct passt_cfg *c)
{
	unsigned i;

	for (i = 0; i < c->n_tcp; i++)
		free(c->tcp[i]);
	for (i = 0; i < c->n_udp; i++)
		free(c->udp[i]);
	free(c->log);
	memset(c, 0, sizeof *c);
}

/* An address option of family af into out (canonical text). */
static int addr_opt(const struct aether_host *h, const char *key, int af,
		    char *out, size_t len)
{
	const char *v = h->opt_get(h, key, 0);
	unsigned char bin[16];

	out[0] = '\0';
	if (!v || !*v)
		return 0;
	if (inet_pton(af, v, bin) != 1) {
		aether_opt_report(h, key, 0, "'%s' is not an %s address", v,
			af == AF_INET ? "IPv4" : "IPv6");
		return -EINVAL;
	}
	if ((af == AF_INET && (bin[0] == 0 || bin[0] == 127 ||
			       bin[0] >= 224)) ||
	    (af == AF_INET6 && (IN6_IS_ADDR_UNSPECIFIED((struct in6_addr *)bin) ||
				IN6_IS_ADDR_LOOPBACK((struct in6_addr *)bin) ||
				IN6_IS_ADDR_MULTICAST((struct in6_addr *)bin)))) {
		aether_opt_report(h, key, 0, "%s is not a unicast address a guest can "
			"use", v);
		return -EINVAL;
	}
	inet_ntop(af, bin, out, (socklen_t)len);
	return 0;
}

static int fwd_opts(const struct aether_host *h, const char *key,
		    char **out, unsigned *n)
{
	const char *v;
	unsigned i;
	int bad = 0;

	for (i = 0; (v = h->opt_get(h, key, i)); i++) {
		char why[160];

		if (i >= MAX_FWD) {
			aether_opt_report(h, key, i, "at most %d %s values", MAX_FWD,
				key);
			return -EINVAL;
		}
		if (passt_check_spec(v, why, sizeof why) < 0) {
			aether_opt_report(h, key, i, "not a passt forward spec "
				"([ADDR/]PORT[-PORT][:GUESTPORT[-GUESTPORT]]"
				"[,...], ~PORT to exclude, all, none): %s",
				why);
			bad = 1;
			continue;
		}
		if (!(out[*n] = strdup(v)))
			return -ENOMEM;
		(*n)++;
	}
	return bad ? -EINVAL : 0;
}

/* Every option value this plugin uses, checked once: by validate (from
 * check-config and before init) and by init, which keeps the result.
 * Reports every bad value; -EINVAL if there was one. */
static int parse_options(const struct aether_host *h, struct passt_cfg *c)
{
	const char *v;
	unsigned i;
	int b, bad = 0, rc;

	memset(c, 0, sizeof *c);
	bad |= addr_opt(h, "address", AF_INET, c->address,
			sizeof c->address) < 0;
	bad |= addr_opt(h, "gateway", AF_INET, c->gateway,
			sizeof c->gateway) < 0;
	bad |= addr_opt(h, "address6", AF_INET6, c->address6,
			sizeof c->address6) < 0;
	bad |= addr_opt(h, "gateway6", AF_INET6, c->gateway6,
			sizeof c->gateway6) < 0;
	if (!bad && c->address[0] && c->gateway[0] &&
	    !strcmp(c->address, c->gateway)) {
		aether_opt_report(h, "gateway", 0, "the gateway cannot be the guest's "
			"address");
		bad = 1;
	}
	for (i = 0; (v = h->opt_get(h, "dns", i)); i++) {
		unsigned char bin[16];

		if (!strcmp(v, "none")) {
			c->dns_none = 1;
			continue;
		}
		if (inet_pton(AF_INET, v, bin) != 1 &&
		    inet_pton(AF_INET6, v, bin) != 1) {
			aether_opt_report(h, "dns", i, "'%s' is not an IPv4 or IPv6 "
				"address (or none)", v);
			bad = 1;
			continue;
		}
		if (c->n_dns >= MAX_DNS) {
			aether_opt_report(h, "dns", i, "at most %d DNS servers", MAX_DNS);
			bad = 1;
			continue;
		}
		snprintf(c->dns[c->n_dns++], sizeof c->dns[0], "%s", v);
	}
	if (c->dns_none && c->n_dns) {
		aether_opt_report(h, "dns", 0, "none cannot go with DNS addresses");
		bad = 1;
	}
	c->ipv6 = !(h->opt_bool(h, "ipv6", &b) == 0 && !b);
	c->map_gw = !(h->opt_bool(h, "map_gw", &b) == 0 && !b);
	if (!c->ipv6 && (c->address6[0] || c->gateway6[0])) {
		aether_opt_report(h, c->address6[0] ? "address6" : "gateway6", 0,
			"IPv6 is off (ipv6 = no)");
		bad = 1;
	}
	if (!c->ipv6)
		for (i = 0; i < c->n_dns; i++)
			if (strchr(c->dns[i], ':')) {
				aether_opt_report(h, "dns", i, "an IPv6 DNS server, but "
					"IPv6 is off (ipv6 = no)");
				bad = 1;
			}
	c->mtu = 65520;
	if (h->opt_int(h, "mtu", &c->mtu) == -EINVAL) {
		aether_opt_report(h, "mtu", 0, "not an integer");
		bad = 1;
	} else if (c->ipv6 && c->mtu < 1280) {
		aether_opt_report(h, "mtu", 0, "IPv6 needs an MTU of at least 1280 (or "
			"set ipv6 = no)");
		bad = 1;
	}
	c->start_timeout_ms = 5000;
	if (h->opt_int(h, "start_timeout_ms", &c->start_timeout_ms) ==
	    -EINVAL) {
		aether_opt_report(h, "start_timeout_ms", 0, "not an integer");
		bad = 1;
	}
	v = h->opt_get(h, "log", 0);
	if (v && *v && !(c->log = strdup(v)))
		return -ENOMEM;
	rc = fwd_opts(h, "tcp", c->tcp, &c->n_tcp);
	if (rc == -ENOMEM)
		return rc;
	bad |= rc < 0;
	rc = fwd_opts(h, "udp", c->udp, &c->n_udp);
	if (rc == -ENOMEM)
		return rc;
	bad |= rc < 0;
	return bad ? -EINVAL : 0;
}

static int passt_validate(const struct aether_host *h)
{
	struct passt_cfg c;
	int rc = parse_options(h, &c);

	cfg_free(&c);
	return rc;
}

static int passt_init(const struct aether_host *host, void **state)
{
	struct passt_state *st;
	int rc;

	if (!host->runtime_dir || !host->helper_start || !host->helper_alive ||
	    !host->helper_stop || !host->helper_pid)
		return -ENOSYS;
	st = calloc(1, sizeof *st);
	if (!st)
		return -ENOMEM;
	st->host = host;
	rc = parse_options(host, &st->cfg);
	if (rc == 0 && !(st->rundir = strdup(host->runtime_dir)))
		rc = -ENOMEM;
	if (rc) {
		cfg_free(&st->cfg);
		free(st);
		return rc;
	}
	*state = st;
	return 0;
}

static void passt_fini(void *state)
{
	struct passt_state *st = state;

	if (!st)
		return;
	cfg_free(&st->cfg);
	free(st->rundir);
	free(st);
}

/* ------------------------------------------------------------------ */
/* Readiness: an ARP request on the tap-side connection, answered.    */

/* passt's tap framing on a stream socket: a 32-bit big-endian length,
 * then the Ethernet frame. */
static int send_arp_probe(int fd, const uint8_t mac[6])
{
	uint8_t buf[4 + 60];
	uint8_t *f = buf + 4;

	memset(buf, 0, sizeof buf);
	buf[3] = 60;
	memset(f, 0xff, 6);             /* broadcast */
	memcpy(f + 6, mac, 6);
	f[12] = 0x08, f[13] = 0x06;     /* ARP */
	f[14] = 0x00, f[15] = 0x01;     /* Ethernet */
	f[16] = 0x08, f[17] = 0x00;     /* IPv4 */
	f[18] = 6, f[19] = 4;
	f[20] = 0x00, f[21] = 0x01;     /* request */
	memcpy(f + 22, mac, 6);         /* sender: the guest's MAC, 0.0.0.0 */
	/* target: 169.254.0.1, an address passt never hands a guest */
	f[38] = 169, f[39] = 254, f[40] = 0, f[41] = 1;
	return send(fd, buf, sizeof buf, MSG_NOSIGNAL) == (ssize_t)sizeof buf
		       ? 0 : -errno;
}

/* Wait for passt's ARP reply on fd (consumed: every frame read before it
 * too).  0, -ESRCH when passt exited, -ETIMEDOUT. */
static int wait_arp_reply(struct passt_state *st, struct passt_att *a,
			  int fd, const uint8_t mac[6])
{
	uint64_t end = now_ms() + (uint64_t)st->cfg.start_timeout_ms;
	uint8_t buf[4 + 2048];
	size_t have = 0;

	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		uint64_t now = now_ms();
		int r;

		if (!st->host->helper_alive(st->host, a->helper))
			return -ESRCH;
		if (now >= end)
			return -ETIMEDOUT;
		r = poll(&p, 1, (int)(end - now < 50 ? end - now : 50));
		if (r < 0 && errno != EINTR)
			return -errno;
		if (r <= 0)
			continue;
		if (p.revents & (POLLHUP | POLLERR) && !(p.revents & POLLIN))
			return -ESRCH;
		r = (int)recv(fd, buf + have, sizeof buf - have, MSG_DONTWAIT);
		if (r == 0)
			return -ESRCH;
		if (r < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			/* its end is closed: it exited */
			return errno == ECONNRESET ? -ESRCH : -errno;
		}
		have += (size_t)r;
		while (have >= 4) {
			uint32_t len = (uint32_t)buf[0] << 24 |
				       (uint32_t)buf[1] << 16 |
				       (uint32_t)buf[2] << 8 | buf[3];
			const uint8_t *f = buf + 4;

			if (len > sizeof buf - 4)
				return -EPROTO;
			if (have < 4 + len)
				break;
			if (len >= 42 && f[12] == 0x08 && f[13] == 0x06 &&
			    f[20] == 0x00 && f[21] == 0x02 &&
			    !memcmp(f, mac, 6))
				return 0;
			memmove(buf, buf + 4 + len, have - 4 - len);
			have -= 4 + len;
		}
	}
}

/* ------------------------------------------------------------------ */
/* What passt assigns, from the configuration it logs at start:       */
/*   DHCP:\n  assign: A\n  mask: M ... NDP/DHCPv6:\n  assign: B         */

static int parse_assigned(const char *log, struct aether_addr addrs[2])
{
	static char buf[16384];
	char *line, *save = NULL;
	int section = 0; /* 4: DHCP, 6: NDP/DHCPv6 */
	int n = 0;

	if (read_file(log, buf, sizeof buf) <= 0)
		return 0;
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *p;

		if (strstr(line, "info:") == NULL)
			continue;
		if (strstr(line, " DHCP:"))
			section = 4;
		else if (strstr(line, "NDP/DHCPv6:"))
			section = 6;
		else if (strstr(line, "DNS") || strstr(line, "MAC:") ||
			 strstr(line, "socket"))
			section = 0;
		p = strstr(line, "assign: ");
		if (p && section && n < 2) {
			struct aether_addr *ad = &addrs[n];
			char txt[INET6_ADDRSTRLEN];

			p += 8;
			snprintf(txt, sizeof txt, "%.*s",
				 (int)strcspn(p, " \r"), p);
			memset(ad, 0, sizeof *ad);
			ad->family = section == 4 ? AF_INET : AF_INET6;
			if (inet_pton(ad->family, txt, ad->addr) == 1) {
				ad->source = section == 4 ? "dhcp" : "dhcpv6";
				ad->prefix = section == 4 ? 0 : 64;
				n++;
			}
		}
		p = strstr(line, "mask: ");
		if (p && section == 4 && n > 0 &&
		    addrs[n - 1].family == AF_INET) {
			struct in_addr m;
			char txt[INET_ADDRSTRLEN];

			p += 6;
			snprintf(txt, sizeof txt, "%.*s",
				 (int)strcspn(p, " \r"), p);
			if (inet_pton(AF_INET, txt, &m) == 1)
				addrs[n - 1].prefix =
					(uint8_t)__builtin_popcount(m.s_addr);
		}
	}
	return n;
}

/* ------------------------------------------------------------------ */
/* The argv.                                                          */

struct argv_buf {
	const char *v[MAX_ARGS + 1];
	int n;
	char fd[16], mtu[16], runas[48];
};

static void add(struct argv_buf *b, const char *s)
{
	if (b->n < MAX_ARGS)
		b->v[b->n++] = s;
	b->v[b->n] = NULL;
}

static void build_argv(struct passt_state *st, const struct aether_vm *vm,
		       struct passt_att *a, int fd, struct argv_buf *b)
{
	const struct passt_cfg *c = &st->cfg;
	unsigned i;

	b->n = 0;
	add(b, PASST_PROG);
	add(b, "-f"); /* the helper service supervises it */
	snprintf(b->fd, sizeof b->fd, "%d", fd);
	add(b, "--fd");
	add(b, b->fd);
	add(b, "-l");
	add(b, a->log);
	if (geteuid() == 0) {
		/* passt drops to nobody by default: the VM's user instead */
		snprintf(b->runas, sizeof b->runas, "%lu:%lu",
			 (unsigned long)vm->uid, (unsigned long)vm->gid);
		add(b, "--runas");
		add(b, b->runas);
	}
	snprintf(b->mtu, sizeof b->mtu, "%lld", (long long)c->mtu);
	add(b, "-m");
	add(b, b->mtu);
	if (c->address[0]) {
		add(b, "-a");
		add(b, c->address);
	}
	if (c->address6[0]) {
		add(b, "-a");
		add(b, c->address6);
	}
	if (c->gateway[0]) {
		add(b, "-g");
		add(b, c->gateway);
	}
	if (c->gateway6[0]) {
		add(b, "-g");
		add(b, c->gateway6);
	}
	if (c->dns_none) {
		add(b, "-D");
		add(b, "none");
	}
	for (i = 0; i < c->n_dns; i++) {
		add(b, "-D");
		add(b, c->dns[i]);
	}
	for (i = 0; i < c->n_tcp; i++) {
		add(b, "-t");
		add(b, c->tcp[i]);
	}
	for (i = 0; i < c->n_udp; i++) {
		add(b, "-u");
		add(b, c->udp[i]);
	}
	if (!c->ipv6)
		add(b, "-4");
	if (!c->map_gw)
		add(b, "--no-map-gw");
}

/* The argv as /proc/PID/cmdline shows it (NUL-separated). */
static size_t join_argv(const struct argv_buf *b, char *out, size_t len)
{
	size_t n = 0;
	int i;

	for (i = 0; i < b->n; i++) {
		size_t l = strlen(b->v[i]) + 1;
		if (n + l > len)
			return 0;
		memcpy(out + n, b->v[i], l);
		n += l;
	}
	return n;
}

/* ------------------------------------------------------------------ */
/* Verbs.                                                             */

static int valid_id(const char *s)
{
	size_t n;

	if (!s || !*s || s[0] == '.')
		return 0;
	for (n = 0; s[n]; n++)
		if (!((s[n] >= 'a' && s[n] <= 'z') ||
		      (s[n] >= 'A' && s[n] <= 'Z') ||
		      (s[n] >= '0' && s[n] <= '9') || strchr("._-", s[n])))
			return 0;
	return n <= 128;
}

static void collect(struct passt_state *st, const char *name);

static void att_cleanup(struct passt_state *st, struct passt_att *a)
{
	if (a->helper) {
		st->host->helper_stop(st->host, a->helper);
		a->helper = NULL;
	}
	unlink(a->pidf);
	unlink(a->argvf);
	unlink(a->err);
	if (a->own_log)
		unlink(a->log);
}

static int passt_attach(void *state, const struct aether_vm *vm,
			struct aether_attachment *att, void **att_state)
{
	struct passt_state *st = state;
	struct aether_helper_spec spec;
	struct argv_buf b;
	struct passt_att *a;
	char text[64], line[512], eline[512];
	static char cmd[16384];
	size_t cl;
	int sv[2], child = -1, rc;

	if (!vm || !valid_id(vm->id) || !vm->runtime_dir) {
		AETHER_ERR(st->host, "invalid VM id '%s'",
			   vm && vm->id ? vm->id : "(null)");
		return -EINVAL;
	}
	a = calloc(1, sizeof *a);
	if (!a)
		return -ENOMEM;
	if (st->cfg.log) {
		snprintf(a->log, sizeof a->log, "%s", st->cfg.log);
	} else if (plug_pathf(a->log, sizeof a->log, "%s/passt-%u.log",
			 vm->runtime_dir, (unsigned)vm->nic) < 0) {
		free(a);
		return -ENAMETOOLONG;
	}
	a->own_log = !st->cfg.log;
	if (plug_pathf(a->err, sizeof a->err, "%s/passt-%u.stderr",
		  vm->runtime_dir, (unsigned)vm->nic) < 0 ||
	    plug_pathf(a->pidf, sizeof a->pidf, "%s/%s@%u.pid", st->rundir, vm->id,
		  (unsigned)vm->nic) < 0 ||
	    plug_pathf(a->argvf, sizeof a->argvf, "%s/%s@%u.argv", st->rundir,
		  vm->id, (unsigned)vm->nic) < 0) {
		free(a);
		return -ENAMETOOLONG;
	}

	/* A record of this NIC: a passt a crashed run of this VM left. */
	if (access(a->pidf, F_OK) == 0)
		collect(st, strrchr(a->pidf, '/') + 1);

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		rc = -errno;
		AETHER_ERR(st->host, "socketpair: %s", strerror(-rc));
		free(a);
		return rc;
	}
	/* Both directions carry up to 64 KiB frames at MTU 65520: with the
	 * default buffers (208 KiB) the guest-bound side stalls for whole
	 * seconds (make bench: tcp-bench.sh); 1 MiB still halves it there. */
	for (int i = 0; i < 2; i++) {
		int sz = PASST_SOCK_BUF;

		if (setsockopt(sv[i], SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof sz))
			setsockopt(sv[i], SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
		if (setsockopt(sv[i], SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof sz))
			setsockopt(sv[i], SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
	}
	/* passt's end, above 2: a 1.3 host gives the helper exactly the
	 * descriptors of keep_fds, so it stays close-on-exec here; a 1.2
	 * host execs the helper with the host's descriptors that are not
	 * close-on-exec, so there it goes without the flag.  Closed here
	 * right after the start. */
	child = fcntl(sv[1],
		      AETHER_HOST_HAS_KEEP_FDS(st->host) ? F_DUPFD_CLOEXEC
							 : F_DUPFD,
		      3);
	close(sv[1]);
	if (child < 0) {
		rc = -errno;
		close(sv[0]);
		free(a);
		return rc;
	}
	build_argv(st, vm, a, child, &b);
	cl = join_argv(&b, cmd, sizeof cmd);
	if (a->own_log)
		unlink(a->log);
	memset(&spec, 0, sizeof spec);
	spec.struct_size = sizeof spec;
	spec.argv = b.v;
	spec.log_path = a->err;
	spec.stop_timeout_ms = 2000;
	spec.keep_fds = &child;
	spec.n_keep_fds = 1;
	rc = st->host->helper_start(st->host, &spec, &a->helper);
	close(child);
	if (rc < 0) {
		AETHER_ERR(st->host, "cannot start %s: %s", PASST_PROG,
			   strerror(-rc));
		a->helper = NULL;
		goto fail;
	}
	a->pid = st->host->helper_pid(st->host, a->helper);
	/* for gc: who it is, how it was started */
	snprintf(text, sizeof text, "%ld %lu\n", (long)a->pid,
		 (unsigned long)(geteuid() == 0 ? vm->uid : geteuid()));
	if ((rc = plug_write_file(a->argvf, cmd, cl)) < 0 ||
	    (rc = plug_write_file(a->pidf, text, strlen(text))) < 0) {
		AETHER_ERR(st->host, "cannot write %s: %s", a->pidf,
			   strerror(-rc));
		goto fail;
	}
	if ((rc = send_arp_probe(sv[0], vm->mac)) == 0)
		rc = wait_arp_reply(st, a, sv[0], vm->mac);
	else if (rc == -EPIPE || rc == -ECONNRESET)
		rc = -ESRCH; /* its end is closed: it exited */
	if (rc < 0) {
		last_line(a->log, line, sizeof line);
		last_line(a->err, eline, sizeof eline);
		if (rc == -ESRCH)
			AETHER_ERR(st->host,
				   "passt for VM %s NIC %u exited before it "
				   "answered%s%s%s%s",
				   vm->id, (unsigned)vm->nic,
				   line[0] ? "; its log: " : "", line,
				   eline[0] ? "; its output: " : "", eline);
		else
			AETHER_ERR(st->host,
				   "passt for VM %s NIC %u did not answer "
				   "within %lld ms: %s%s%s%s%s",
				   vm->id, (unsigned)vm->nic,
				   (long long)st->cfg.start_timeout_ms,
				   strerror(-rc), line[0] ? "; its log: " : "",
				   line, eline[0] ? "; its output: " : "",
				   eline);
		goto fail;
	}
	a->n_addrs = parse_assigned(a->log, a->addrs);
	att->kind = AETHER_ATTACH_STREAM;
	att->stream.fd = sv[0];
	att->stream.path = NULL;
	if (st->cfg.mtu)
		att->mtu = (uint32_t)st->cfg.mtu;
	*att_state = a;
	AETHER_INFO(st->host, "VM %s NIC %u: passt pid %ld (log %s)", vm->id,
		    (unsigned)vm->nic, (long)a->pid, a->log);
	return 0;
fail:
	close(sv[0]);
	att_cleanup(st, a);
	free(a);
	return rc;
}

static int passt_detach(void *state, const struct aether_vm *vm,
			void *att_state)
{
	struct passt_state *st = state;
	struct passt_att *a = att_state;

	(void)vm;
	if (!a)
		return 0;
	att_cleanup(st, a);
	free(a);
	return 0;
}

static int passt_check(void *state, const struct aether_vm *vm,
		       void *att_state)
{
	struct passt_state *st = state;
	struct passt_att *a = att_state;
	char line[512];

	if (!a || !a->helper)
		return 0;
	if (st->host->helper_alive(st->host, a->helper))
		return 0;
	last_line(a->log, line, sizeof line);
	if (!line[0])
		last_line(a->err, line, sizeof line);
	AETHER_ERR(st->host, "passt pid %ld of VM %s NIC %u has exited%s%s",
		   (long)a->pid, vm && vm->id ? vm->id : "?",
		   vm ? (unsigned)vm->nic : 0u, line[0] ? "; its log: " : "",
		   line);
	return -ESRCH;
}

static int passt_addresses(void *state, const struct aether_vm *vm,
			   void *att_state, struct aether_addr *out,
			   size_t max)
{
	struct passt_state *st = state;
	struct passt_att *a = att_state;
	struct aether_addr found[2];
	char log[PATH_MAX];
	int i, n;

	if (a) {
		memcpy(found, a->addrs, sizeof found);
		n = a->n_addrs;
	} else {
		/* another process (aether status): the log names them */
		if (!vm || !vm->runtime_dir)
			return 0;
		if (st->cfg.log)
			snprintf(log, sizeof log, "%s", st->cfg.log);
		else if (plug_pathf(log, sizeof log, "%s/passt-%u.log",
			       vm->runtime_dir, (unsigned)vm->nic) < 0)
			return 0;
		n = parse_assigned(log, found);
	}
	for (i = 0; i < n && (size_t)i < max; i++)
		out[i] = found[i];
	return i;
}

static int passt_forward(void *state, const struct aether_vm *vm,
			 void *att_state, const struct aether_forward *fwd,
			 int add_)
{
	struct passt_state *st = state;

	(void)vm;
	(void)att_state;
	AETHER_ERR(st->host,
		   "this passt cannot change forwards while it runs: set "
		   "%s = in [network.passt] and restart the VM (%s %s port "
		   "%u)",
		   fwd && fwd->proto == 17 ? "udp" : "tcp",
		   add_ ? "adding" : "removing",
		   fwd && fwd->proto == 17 ? "UDP" : "TCP",
		   fwd ? (unsigned)fwd->host_port : 0u);
	return -EOPNOTSUPP;
}

/* ------------------------------------------------------------------ */
/* gc.                                                                */

static int sys_pidfd_open(pid_t pid)
{
#ifdef SYS_pidfd_open
	return (int)syscall(SYS_pidfd_open, pid, 0);
#else
	errno = ENOSYS;
	return -1;
#endif
}

static int sys_pidfd_signal(int pfd, int sig)
{
#ifdef SYS_pidfd_send_signal
	return (int)syscall(SYS_pidfd_send_signal, pfd, sig, NULL, 0);
#else
	errno = ENOSYS;
	return -1;
#endif
}

/* Is /proc/PID (as dfd) a live process of uid running exactly argv
 * (cmdline as recorded; passt splits --runas UID:GID at the colon in
 * place, so that form counts too)? */
static int is_our_passt(int dfd, const char *want, size_t wlen,
			unsigned long uid)
{
	static char got[16384], alt[16384];
	char st[4096], *l;
	unsigned long ruid, euid;
	ssize_t n;
	size_t i;
	int fd;

	fd = openat(dfd, "status", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, st, sizeof st - 1);
	close(fd);
	if (n <= 0)
		return 0;
	st[n] = '\0';
	if (strstr(st, "\nState:\tZ") || strstr(st, "\nState:\tX"))
		return 0;
	l = strstr(st, "\nUid:");
	if (!l || sscanf(l + 5, "%lu %lu", &ruid, &euid) != 2 ||
	    ruid != uid || euid != uid)
		return 0;
	fd = openat(dfd, "cmdline", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, got, sizeof got);
	close(fd);
	if (n <= 0 || (size_t)n != wlen)
		return 0;
	if (!memcmp(got, want, wlen))
		return 1;
	/* the --runas value with its colon turned into a NUL */
	memcpy(alt, want, wlen);
	for (i = 0; i + 8 < wlen; i += strlen(alt + i) + 1)
		if (!strcmp(alt + i, "--runas")) {
			char *c = strchr(alt + i + 8, ':');
			if (c)
				*c = '\0';
			break;
		}
	return !memcmp(got, alt, wlen);
}

/* Stop the passt of VM id (idlen chars) NIC nic ("N.pid") if pid is still
 * exactly the process gc_v2's records describe. */
static void gc_kill(struct passt_state *st, int idlen, const char *id,
		    const char *nic, pid_t pid, const char *argv, size_t alen,
		    unsigned long uid)
{
	char path[64];
	int pfd, dfd, i;

	pfd = sys_pidfd_open(pid); /* the process, before what it is */
	snprintf(path, sizeof path, "/proc/%ld", (long)pid);
	dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || !is_our_passt(dfd, argv, alen, uid)) {
		if (dfd >= 0)
			close(dfd);
		if (pfd >= 0)
			close(pfd);
		return; /* gone, or not the passt we started */
	}
	close(dfd);
	AETHER_INFO(st->host, "gc: stopping passt pid %ld of VM %.*s NIC "
		    "%.*s (its supervisor is gone)", (long)pid, idlen, id,
		    (int)strcspn(nic, "."), nic);
	if (pfd >= 0 ? sys_pidfd_signal(pfd, SIGTERM) : kill(pid, SIGTERM))
		AETHER_WARN(st->host, "gc: cannot signal pid %ld: %s",
			    (long)pid, strerror(errno));
	for (i = 0; i < 200; i++) {
		struct pollfd p = {.fd = pfd, .events = POLLIN};
		if (pfd >= 0 ? poll(&p, 1, 10) == 1
			     : (kill(pid, 0) < 0 && errno == ESRCH))
			break;
		if (pfd < 0)
			sleep_ms(10);
	}
	if (i == 200) {
		AETHER_WARN(st->host, "gc: passt pid %ld ignored SIGTERM: "
			    "killing it", (long)pid);
		if (pfd >= 0) {
			struct pollfd p = {.fd = pfd, .events = POLLIN};
			sys_pidfd_signal(pfd, SIGKILL);
			poll(&p, 1, 2000);
		} else {
			kill(pid, SIGKILL);
		}
	}
	if (pfd >= 0)
		close(pfd);
}

/* Stop the passt of record name ("<vm id>@<nic>.pid" in the plugin's
 * runtime dir) if it still runs as recorded, and remove the record. */
static void collect(struct passt_state *st, const char *name)
{
	static char argv[16384];
	char pidf[PATH_MAX], argvf[PATH_MAX], text[64];
	const char *at = strrchr(name, '@');
	size_t l = strlen(name);
	unsigned long uid = 0;
	ssize_t alen;
	long pid = 0;

	if (!at || l < 5 || strcmp(name + l - 4, ".pid") ||
	    plug_pathf(pidf, sizeof pidf, "%s/%s", st->rundir, name) < 0 ||
	    plug_pathf(argvf, sizeof argvf, "%s/%.*s.argv", st->rundir,
		  (int)(l - 4), name) < 0)
		return;
	alen = read_file(argvf, argv, sizeof argv);
	if (read_file(pidf, text, sizeof text) > 0 &&
	    sscanf(text, "%ld %lu", &pid, &uid) == 2 && pid > 1 && alen > 0)
		gc_kill(st, (int)(at - name), name, at + 1, (pid_t)pid, argv,
			(size_t)alen, uid);
	unlink(pidf);
	unlink(argvf);
}

static int passt_gc(void *state, const struct aether_vm *const *live,
		    size_t n_live)
{
	struct passt_state *st = state;
	struct dirent *e;
	DIR *d = opendir(st->rundir);

	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((e = readdir(d))) {
		const char *at = strrchr(e->d_name, '@');
		size_t l = strlen(e->d_name);

		if (!at || l < 5 || strcmp(e->d_name + l - 4, ".pid") ||
		    plug_id_live(e->d_name, (size_t)(at - e->d_name), live, n_live))
			continue;
		collect(st, e->d_name);
	}
	closedir(d);
	return 0;
}

AETHER_PLUGIN_DEFINE(passt) = {
	AETHER_PLUGIN_HEADER,
	.caps = AETHER_CAP_ATTACH_STREAM | AETHER_CAP_HELPERS,
	.name = "passt",
	.version = PACKAGE_VERSION,
	.description = "user-mode networking by passt (one passt per NIC, "
		       "no privileges)",
	.options = passt_options,
	.init = passt_init,
	.fini = passt_fini,
	.attach = passt_attach,
	.detach = passt_detach,
	.check = passt_check,
	.addresses = passt_addresses,
	.forward = passt_forward,
	.gc_v2 = passt_gc,
	.validate = passt_validate,
};
