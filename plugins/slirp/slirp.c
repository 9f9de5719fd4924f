/* slirp.c - the slirp backend: user-mode NAT, no privileges, no host setup.
 *
 * mode = qemu:     QEMU's built-in slirp.  The plugin checks its options
 *                  and returns an AETHER_ATTACH_USER attachment; the core
 *                  turns it into -netdev user.  Run-time forwards go
 *                  through QMP (the forward verb says -EOPNOTSUPP).
 * mode = libslirp: the plugin drives libslirp itself as an ABI 1.1 frame
 *                  port (frame.c); QEMU only needs its dgram netdev. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <aether/plugin.h>

#ifdef AE_HAVE_LIBSLIRP
#include "frame.h"
#define DEFAULT_MODE "libslirp"
#else
#define DEFAULT_MODE "qemu"
#endif

struct slirp_state {
	const struct aether_host *host;
};

struct slirp_att {
	int libslirp;
#ifdef AE_HAVE_LIBSLIRP
	struct ls_port *port;
#endif
	char *net, *hostaddr, *dhcpstart, *dns, *hostname, *domain;
	char **hostfwd;
	unsigned n_hostfwd;
};

static const struct aether_option slirp_options[] = {
	{.key = "net", .type = AETHER_OPT_STRING, .def = "10.0.2.0/24",
	 .help = "guest network, ADDRESS/PREFIX (IPv4)"},
	{.key = "host", .type = AETHER_OPT_STRING,
	 .help = "host (gateway) address inside net (default: .2)"},
	{.key = "dhcpstart", .type = AETHER_OPT_STRING,
	 .help = "first address handed out by DHCP (default: .15)"},
	{.key = "dns", .type = AETHER_OPT_STRING,
	 .help = "DNS server address the guest is given (default: .3)"},
	{.key = "hostname", .type = AETHER_OPT_STRING,
	 .help = "host name handed to the guest by DHCP (default: VM name)"},
	{.key = "domain", .type = AETHER_OPT_STRING,
	 .help = "DNS search domain handed to the guest"},
	{.key = "hostfwd", .type = AETHER_OPT_STRING,
	 .flags = AETHER_OPTF_REPEAT,
	 .help = "forward: tcp|udp:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT"},
	{.key = "restrict", .type = AETHER_OPT_BOOL, .def = "no",
	 .help = "isolate the guest: no traffic to the outside world"},
	{.key = "ipv6", .type = AETHER_OPT_BOOL, .def = "no",
	 .help = "also offer IPv6 to the guest"},
	{.key = "mode", .type = AETHER_OPT_STRING, .def = DEFAULT_MODE,
	 .help = "libslirp (the plugin runs libslirp, QEMU >= 7.2) or qemu "
		 "(QEMU's built-in user networking)"},
	{.key = "mtu", .type = AETHER_OPT_INT, .min = 68, .max = 65521,
	 .help = "guest link MTU (default 1500; above 1500 needs "
		 "mode = libslirp)"},
	{.key = NULL},
};

static int slirp_init(const struct aether_host *host, void **state)
{
	struct slirp_state *st = calloc(1, sizeof *st);

	if (!st)
		return -ENOMEM;
	st->host = host;
	*state = st;
	return 0;
}

static void slirp_fini(void *state)
{
	free(state);
}

static int parse_v4(const char *s, uint32_t *out)
{
	struct in_addr a;

	if (inet_pton(AF_INET, s, &a) != 1)
		return -EINVAL;
	*out = ntohl(a.s_addr);
	return 0;
}

/* "A.B.C.D/N" with N in 8..30 and no host bits set. */
static int parse_net(const char *s, uint32_t *net, uint32_t *mask)
{
	char buf[32], *slash, *end;
	long prefix;

	if (strlen(s) >= sizeof buf)
		return -EINVAL;
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (!slash)
		return -EINVAL;
	*slash = '\0';
	prefix = strtol(slash + 1, &end, 10);
	if (*end || end == slash + 1 || prefix < 8 || prefix > 30)
		return -EINVAL;
	if (parse_v4(buf, net) < 0)
		return -EINVAL;
	*mask = prefix ? ~0u << (32 - prefix) : 0;
	return (*net & ~*mask) ? -EINVAL : 0;
}

/* Report a bad value of option key through the host (1.2: with its file,
 * line and key), else through the log. */
static void opt_err(const struct aether_host *h, const char *key,
		    unsigned idx, const char *fmt, ...) AETHER_PRINTF(4, 5);
static void opt_err(const struct aether_host *h, const char *key,
		    unsigned idx, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (AETHER_HOST_HAS(h, opt_error))
		h->opt_error(h, key, idx, "%s", msg);
	else
		AETHER_ERR(h, "%s: %s", key, msg);
}

static int check_in_net(const struct aether_host *h, const char *key,
			uint32_t net, uint32_t mask)
{
	const char *v = h->opt_get(h, key, 0);
	uint32_t a;

	if (!v)
		return 0;
	if (parse_v4(v, &a) < 0) {
		opt_err(h, key, 0, "'%s' is not an IPv4 address", v);
		return -EINVAL;
	}
	if ((a & mask) != net) {
		opt_err(h, key, 0, "%s is not inside net", v);
		return -EINVAL;
	}
	return 0;
}

static int parse_port(const char *s, size_t n, int allow_empty)
{
	char buf[8], *end;
	long v;

	if (n == 0)
		return allow_empty ? 0 : -1;
	if (n >= sizeof buf)
		return -1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	v = strtol(buf, &end, 10);
	if (*end || v < 1 || v > 65535)
		return -1;
	return (int)v;
}

/* Check "tcp|udp:[ADDR]:PORT-[ADDR]:PORT" (QEMU's hostfwd syntax). */
static int check_hostfwd(const char *f)
{
	const char *p, *dash, *colon;
	uint32_t a;
	char addr[32];

	if (!strncmp(f, "tcp:", 4) || !strncmp(f, "udp:", 4))
		p = f + 4;
	else
		return -EINVAL;
	dash = strchr(p, '-');
	if (!dash || strchr(f, ','))
		return -EINVAL;
	colon = memchr(p, ':', (size_t)(dash - p));
	if (!colon || (size_t)(colon - p) >= sizeof addr)
		return -EINVAL;
	memcpy(addr, p, (size_t)(colon - p));
	addr[colon - p] = '\0';
	if (addr[0] && parse_v4(addr, &a) < 0)
		return -EINVAL;
	if (parse_port(colon + 1, (size_t)(dash - colon - 1), 0) < 0)
		return -EINVAL;
	p = dash + 1;
	colon = strchr(p, ':');
	if (!colon || (size_t)(colon - p) >= sizeof addr)
		return -EINVAL;
	memcpy(addr, p, (size_t)(colon - p));
	addr[colon - p] = '\0';
	if (addr[0] && parse_v4(addr, &a) < 0)
		return -EINVAL;
	if (parse_port(colon + 1, strlen(colon + 1), 0) < 0)
		return -EINVAL;
	return 0;
}

/* Every option value this plugin parses, checked once: by validate (from
 * check-config and before init) and again by attach, which uses what it
 * parsed.  Reports every bad value; -EINVAL if there was one. */
struct slirp_cfg {
	uint32_t net, mask;
	int libslirp, restrict_, ipv6;
	int64_t mtu;
};

static int slirp_check_options(const struct aether_host *h,
			       struct slirp_cfg *c)
{
	const char *net = h->opt_get(h, "net", 0), *mode, *f;
	int b, bad = 0;
	unsigned i;

	memset(c, 0, sizeof *c);
	if (!net || parse_net(net, &c->net, &c->mask) < 0) {
		opt_err(h, "net", 0, "not ADDRESS/PREFIX with an IPv4 address, "
			"a prefix of 8..30 and no host bits set");
		bad = 1;
	} else if (check_in_net(h, "host", c->net, c->mask) < 0 ||
		   check_in_net(h, "dhcpstart", c->net, c->mask) < 0 ||
		   check_in_net(h, "dns", c->net, c->mask) < 0) {
		bad = 1;
	}
	for (i = 0; (f = h->opt_get(h, "hostfwd", i)); i++) {
		if (check_hostfwd(f) < 0) {
			opt_err(h, "hostfwd", i,
				"not tcp|udp:[HOSTADDR]:HOSTPORT-[GUESTADDR]:"
				"GUESTPORT (IPv4 addresses, ports 1..65535)");
			bad = 1;
		}
	}
	if (h->opt_int(h, "mtu", &c->mtu) == -EINVAL) {
		opt_err(h, "mtu", 0, "not an integer");
		bad = 1;
	}
	c->restrict_ = h->opt_bool(h, "restrict", &b) == 0 && b;
	c->ipv6 = h->opt_bool(h, "ipv6", &b) == 0 && b;
	mode = h->opt_get(h, "mode", 0);
	if (!mode || (strcmp(mode, "qemu") && strcmp(mode, "libslirp"))) {
		opt_err(h, "mode", 0, "not libslirp or qemu");
		return -EINVAL;
	}
	c->libslirp = !strcmp(mode, "libslirp");
#ifndef AE_HAVE_LIBSLIRP
	if (c->libslirp) {
		opt_err(h, "mode", 0, "this plugin was built without libslirp; "
			"use mode = qemu");
		return -EOPNOTSUPP;
	}
#endif
	if (!c->libslirp && c->mtu > 1500) {
		opt_err(h, "mtu", 0, "QEMU's slirp has a 1500-byte link; use "
			"mode = libslirp");
		bad = 1;
	}
	return bad ? -EINVAL : 0;
}

static int slirp_validate(const struct aether_host *h)
{
	struct slirp_cfg c;

	return slirp_check_options(h, &c);
}

static char *dup_opt(struct slirp_state *st, const char *key)
{
	const char *v = st->host->opt_get(st->host, key, 0);
	return v ? strdup(v) : NULL;
}

static void att_free(struct slirp_att *a)
{
	unsigned i;

	if (!a)
		return;
	free(a->net);
	free(a->hostaddr);
	free(a->dhcpstart);
	free(a->dns);
	free(a->hostname);
	free(a->domain);
	for (i = 0; i < a->n_hostfwd; i++)
		free(a->hostfwd[i]);
	free(a->hostfwd);
#ifdef AE_HAVE_LIBSLIRP
	ls_port_free(a->port);
#endif
	free(a);
}

/* "tcp:[ADDR]:PORT-[GADDR]:GPORT", already checked by check_hostfwd. */
static void split_hostfwd(const char *f, int *is_udp, char haddr[32],
			  unsigned *hport, char gaddr[32], unsigned *gport)
{
	const char *p = f + 4, *dash = strchr(p, '-'), *colon;

	*is_udp = f[0] == 'u';
	colon = memchr(p, ':', (size_t)(dash - p));
	memcpy(haddr, p, (size_t)(colon - p));
	haddr[colon - p] = '\0';
	*hport = (unsigned)strtoul(colon + 1, NULL, 10);
	p = dash + 1;
	colon = strchr(p, ':');
	memcpy(gaddr, p, (size_t)(colon - p));
	gaddr[colon - p] = '\0';
	*gport = (unsigned)strtoul(colon + 1, NULL, 10);
}

#ifdef AE_HAVE_LIBSLIRP
static int attach_libslirp(struct slirp_state *st, struct slirp_att *a,
			   uint32_t net, uint32_t mask, unsigned mtu, int rst,
			   int ipv6, struct aether_attachment *att)
{
	struct ls_config c = {0};
	uint32_t v;
	unsigned i;
	int rc;

	c.net.s_addr = htonl(net);
	c.mask.s_addr = htonl(mask);
	c.host.s_addr = htonl(net | 2);
	c.dhcpstart.s_addr = htonl(net | 15);
	c.dns.s_addr = htonl(net | 3);
	if (a->hostaddr && parse_v4(a->hostaddr, &v) == 0)
		c.host.s_addr = htonl(v);
	if (a->dhcpstart && parse_v4(a->dhcpstart, &v) == 0)
		c.dhcpstart.s_addr = htonl(v);
	if (a->dns && parse_v4(a->dns, &v) == 0)
		c.dns.s_addr = htonl(v);
	c.hostname = a->hostname;
	c.domain = a->domain;
	c.restrict_ = rst;
	c.ipv6 = ipv6;
	c.mtu = mtu;
	rc = ls_port_new(st->host, &c, att, &a->port);
	if (rc < 0)
		return rc;
	for (i = 0; i < a->n_hostfwd; i++) {
		char ha[32], ga[32];
		unsigned hp, gp;
		int udp;
		struct in_addr h = {0}, g = {0};

		split_hostfwd(a->hostfwd[i], &udp, ha, &hp, ga, &gp);
		if (ha[0])
			inet_pton(AF_INET, ha, &h);
		if (ga[0])
			inet_pton(AF_INET, ga, &g);
		rc = ls_port_forward(a->port, udp, h, hp, g, gp, 1);
		if (rc < 0) {
			AETHER_ERR(st->host, "hostfwd %s: %s", a->hostfwd[i],
			    strerror(-rc));
			return rc;
		}
	}
	return 0;
}
#endif

static int slirp_attach(void *state, const struct aether_vm *vm,
			struct aether_attachment *att, void **att_state)
{
	struct slirp_state *st = state;
	struct slirp_att *a;
	struct slirp_cfg c;
	const char *f;
	int rc;
	unsigned i;

	rc = slirp_check_options(st->host, &c);
	if (rc < 0)
		return rc;
	a = calloc(1, sizeof *a);
	if (!a)
		return -ENOMEM;
	rc = -ENOMEM;
	a->net = dup_opt(st, "net");
	a->hostaddr = dup_opt(st, "host");
	a->dhcpstart = dup_opt(st, "dhcpstart");
	a->dns = dup_opt(st, "dns");
	a->hostname = dup_opt(st, "hostname");
	if (!a->hostname)
		a->hostname = strdup(vm->name);
	a->domain = dup_opt(st, "domain");
	if (!a->net || !a->hostname)
		goto fail;
	for (i = 0; (f = st->host->opt_get(st->host, "hostfwd", i)); i++) {
		char **n = realloc(a->hostfwd, (i + 1) * sizeof *n);

		if (!n)
			goto fail;
		a->hostfwd = n;
		a->hostfwd[i] = strdup(f);
		a->n_hostfwd = i + 1;
		if (!a->hostfwd[i])
			goto fail;
	}
	if (c.libslirp) {
#ifdef AE_HAVE_LIBSLIRP
		a->libslirp = 1;
		rc = attach_libslirp(st, a, c.net, c.mask, (unsigned)c.mtu,
				     c.restrict_, c.ipv6, att);
		if (rc < 0)
			goto fail;
		*att_state = a;
		AETHER_DEBUG(st->host,
			     "libslirp frame port on %s with %u forward(s)",
			     a->net, a->n_hostfwd);
		return 0;
#endif
	}
	att->mtu = (uint32_t)c.mtu;
	att->kind = AETHER_ATTACH_USER;
	att->user.net = a->net;
	att->user.host = a->hostaddr;
	att->user.dhcpstart = a->dhcpstart;
	att->user.dns = a->dns;
	att->user.hostname = a->hostname;
	att->user.domain = a->domain;
	att->user.hostfwd = (const char *const *)a->hostfwd;
	att->user.n_hostfwd = a->n_hostfwd;
	att->user.restrict_ = (uint32_t)c.restrict_;
	att->user.ipv6 = (uint32_t)c.ipv6;
	*att_state = a;
	AETHER_DEBUG(st->host, "user networking on %s with %u forward(s)",
		     a->net, a->n_hostfwd);
	return 0;
fail:
	att_free(a);
	return rc;
}

static int slirp_detach(void *state, const struct aether_vm *vm,
			void *att_state)
{
	att_free(att_state);
	return 0;
}

static int slirp_forward(void *state, const struct aether_vm *vm,
			 void *att_state, const struct aether_forward *f,
			 int add)
{
	struct slirp_att *a = att_state;

	if (!a)
		return -ENOENT;
	if (!a->libslirp)
		return -EOPNOTSUPP; /* mode = qemu: the host uses QMP */
#ifdef AE_HAVE_LIBSLIRP
	{
		struct slirp_state *st = state;
		struct in_addr h = {0}, g = {0};
		int rc;

		if (f->struct_size < sizeof *f ||
		    (f->proto != 6 && f->proto != 17) || !f->host_port ||
		    (add && !f->guest_port) ||
		    (f->host_addr && *f->host_addr &&
		     inet_pton(AF_INET, f->host_addr, &h) != 1) ||
		    (f->guest_addr && *f->guest_addr &&
		     inet_pton(AF_INET, f->guest_addr, &g) != 1))
			return -EINVAL;
		rc = ls_port_forward(a->port, f->proto == 17, h, f->host_port,
				     g, f->guest_port, add);
		if (rc < 0)
			AETHER_DEBUG(st->host, "forward %s %s:%u: %s",
			    add ? "add" : "remove",
			    f->host_addr ? f->host_addr : "", f->host_port,
			    strerror(-rc));
		return rc;
	}
#else
	return -EOPNOTSUPP;
#endif
}

static int slirp_check(void *state, const struct aether_vm *vm,
		       void *att_state)
{
	/* QEMU's slirp lives and dies with QEMU: nothing to watch. */
	return att_state ? 0 : -ENOENT;
}

static int slirp_gc(void *state, const struct aether_vm *const *live,
		    size_t n_live)
{
	/* Nothing outside QEMU to clean up. */
	return 0;
}

AETHER_PLUGIN_DEFINE(slirp) = {
	AETHER_PLUGIN_HEADER,
	.caps = AETHER_CAP_ATTACH_USER
#ifdef AE_HAVE_LIBSLIRP
		| AETHER_CAP_ATTACH_FRAME
#endif
	,
	.name = "slirp",
	.version = PACKAGE_VERSION,
	.description = "user-mode NAT, libslirp in the plugin or QEMU's own (no root)",
	.options = slirp_options,
	.init = slirp_init,
	.fini = slirp_fini,
	.attach = slirp_attach,
	.detach = slirp_detach,
	.check = slirp_check,
	.gc_v2 = slirp_gc,
	.forward = slirp_forward,
	.validate = slirp_validate,
};
