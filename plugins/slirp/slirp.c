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
	 .help = "forward: tcp|udp:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT; "
		 "an IPv6 address in brackets (mode = libslirp)"},
	{.key = "restrict", .type = AETHER_OPT_BOOL, .def = "no",
	 .help = "isolate the guest: no traffic to the outside world"},
	{.key = "ipv6", .type = AETHER_OPT_BOOL, .def = "no",
	 .help = "also offer IPv6 to the guest (SLAAC from slirp's router "
		 "adverts)"},
	{.key = "net6", .type = AETHER_OPT_STRING,
	 .help = "guest IPv6 prefix, ADDRESS/64 (default fec0::/64; other "
		 "prefixes need mode = libslirp)"},
	{.key = "host6", .type = AETHER_OPT_STRING,
	 .help = "host IPv6 address inside net6, the guest's way to the host's "
		 "::1 (default: ::2)"},
	{.key = "dns6", .type = AETHER_OPT_STRING,
	 .help = "IPv6 DNS server address the guest is given (default: ::3)"},
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

static int check_in_net(const struct aether_host *h, const char *key,
			uint32_t net, uint32_t mask)
{
	const char *v = h->opt_get(h, key, 0);
	uint32_t a;

	if (!v)
		return 0;
	if (parse_v4(v, &a) < 0) {
		aether_opt_report(h, key, 0, "'%s' is not an IPv4 address", v);
		return -EINVAL;
	}
	if ((a & mask) != net) {
		aether_opt_report(h, key, 0, "%s is not inside net", v);
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

/* "A:B::/64": an IPv6 unicast prefix, no host bits.  The guest takes its
 * address by SLAAC from slirp's router adverts, which needs a /64. */
static int parse_net6(const char *s, struct in6_addr *net)
{
	char buf[INET6_ADDRSTRLEN + 4], *slash;
	unsigned i;

	if (strlen(s) >= sizeof buf)
		return -EINVAL;
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (!slash || strcmp(slash, "/64"))
		return -EINVAL;
	*slash = '\0';
	if (inet_pton(AF_INET6, buf, net) != 1)
		return -EINVAL;
	for (i = 8; i < 16; i++)
		if (net->s6_addr[i])
			return -EINVAL;
	if (IN6_IS_ADDR_UNSPECIFIED(net) || IN6_IS_ADDR_MULTICAST(net) ||
	    IN6_IS_ADDR_LINKLOCAL(net) || IN6_IS_ADDR_V4MAPPED(net))
		return -EINVAL;
	return 0;
}

/* The default of host6 (last byte 2) and dns6 (3) inside net6. */
static struct in6_addr in_net6(const struct in6_addr *net, uint8_t last)
{
	struct in6_addr a = *net;

	a.s6_addr[15] = last;
	return a;
}

/* key (host6, dns6): an IPv6 address inside the /64 net, not the prefix
 * itself; *out is its value, or the default (last byte def). */
static int check_in_net6(const struct aether_host *h, const char *key,
			 const struct in6_addr *net, uint8_t def,
			 struct in6_addr *out)
{
	const char *v = h->opt_get(h, key, 0);

	*out = in_net6(net, def);
	if (!v)
		return 0;
	if (inet_pton(AF_INET6, v, out) != 1) {
		aether_opt_report(h, key, 0, "'%s' is not an IPv6 address", v);
		return -EINVAL;
	}
	if (memcmp(out->s6_addr, net->s6_addr, 8) ||
	    !memcmp(out->s6_addr, net->s6_addr, 16)) {
		aether_opt_report(h, key, 0, "%s is not a host address inside net6", v);
		return -EINVAL;
	}
	return 0;
}

/* A hostfwd value, parsed. */
struct fwd_spec {
	int udp;
	int hfam, gfam;        /* AF_INET, AF_INET6, 0: address left empty */
	struct in_addr h4, g4;
	struct in6_addr h6, g6;
	unsigned hport, gport;
};

/* One address of a forward at *pp up to the ':' before its port: empty,
 * A.B.C.D, or [IPV6].  Moves *pp to that ':'. */
static int parse_fwd_addr(const char **pp, const char *end, int *fam,
			  struct in_addr *a4, struct in6_addr *a6)
{
	const char *p = *pp, *close, *colon;
	char buf[INET6_ADDRSTRLEN];

	if (p < end && *p == '[') {
		close = memchr(p, ']', (size_t)(end - p));
		if (!close || close + 1 >= end || close[1] != ':' ||
		    (size_t)(close - p - 1) >= sizeof buf)
			return -EINVAL;
		memcpy(buf, p + 1, (size_t)(close - p - 1));
		buf[close - p - 1] = '\0';
		if (inet_pton(AF_INET6, buf, a6) != 1)
			return -EINVAL;
		*fam = AF_INET6;
		*pp = close + 1;
		return 0;
	}
	colon = memchr(p, ':', (size_t)(end - p));
	if (!colon || (size_t)(colon - p) >= sizeof buf)
		return -EINVAL;
	memcpy(buf, p, (size_t)(colon - p));
	buf[colon - p] = '\0';
	*fam = 0;
	if (buf[0]) {
		if (inet_pton(AF_INET, buf, a4) != 1)
			return -EINVAL;
		*fam = AF_INET;
	}
	*pp = colon;
	return 0;
}

/* "tcp|udp:[ADDR]:PORT-[ADDR]:PORT" (QEMU's hostfwd syntax), where an
 * address may also be an IPv6 one in brackets: tcp:[::1]:8080-:80. */
static int parse_hostfwd(const char *f, struct fwd_spec *s)
{
	const char *p, *dash, *end = f + strlen(f);
	int port;

	memset(s, 0, sizeof *s);
	if (!strncmp(f, "tcp:", 4) || !strncmp(f, "udp:", 4))
		p = f + 4;
	else
		return -EINVAL;
	s->udp = f[0] == 'u';
	dash = strchr(p, '-');
	if (!dash || strchr(f, ','))
		return -EINVAL;
	if (parse_fwd_addr(&p, dash, &s->hfam, &s->h4, &s->h6) < 0)
		return -EINVAL;
	if ((port = parse_port(p + 1, (size_t)(dash - p - 1), 0)) < 0)
		return -EINVAL;
	s->hport = (unsigned)port;
	p = dash + 1;
	if (parse_fwd_addr(&p, end, &s->gfam, &s->g4, &s->g6) < 0)
		return -EINVAL;
	if ((port = parse_port(p + 1, strlen(p + 1), 0)) < 0)
		return -EINVAL;
	s->gport = (unsigned)port;
	return 0;
}

static int fwd_is_v6(const struct fwd_spec *s)
{
	return s->hfam == AF_INET6 || s->gfam == AF_INET6;
}

/* Every option value this plugin parses, checked once: by validate (from
 * check-config and before init) and again by attach, which uses what it
 * parsed.  Reports every bad value; -EINVAL if there was one. */
struct slirp_cfg {
	uint32_t net, mask;
	int libslirp, restrict_, ipv6;
	int64_t mtu;
	struct in6_addr net6, host6, dns6;
};

/* IPv6: net6, host6 and dns6, checked and defaulted (QEMU's and
 * libslirp's fec0::/64, ::2 and ::3).  None of them without ipv6 = yes;
 * mode = qemu has only those defaults (the user netdev is given no IPv6
 * addresses).  mode is -1 when it was bad. */
static int check_v6_options(const struct aether_host *h, struct slirp_cfg *c,
			    int libslirp)
{
	static const char *const keys[] = {"net6", "host6", "dns6"};
	const char *net6 = h->opt_get(h, "net6", 0);
	struct in6_addr def_net, def_host, def_dns;
	unsigned i;
	int bad = 0, qemu_defaults;

	inet_pton(AF_INET6, "fec0::", &def_net);
	c->net6 = def_net;
	if (net6 && parse_net6(net6, &c->net6) < 0) {
		aether_opt_report(h, "net6", 0, "not ADDRESS/64 with an IPv6 unicast "
			"prefix and no host bits set (the guest takes its "
			"address by SLAAC, which needs a /64)");
		return -EINVAL;
	}
	if (check_in_net6(h, "host6", &c->net6, 2, &c->host6) < 0 ||
	    check_in_net6(h, "dns6", &c->net6, 3, &c->dns6) < 0)
		return -EINVAL;
	if (!memcmp(&c->host6, &c->dns6, sizeof c->host6)) {
		aether_opt_report(h, h->opt_get(h, "dns6", 0) ? "dns6" : "host6", 0,
			"host6 and dns6 are the same address");
		return -EINVAL;
	}
	def_host = in_net6(&def_net, 2);
	def_dns = in_net6(&def_net, 3);
	qemu_defaults = !memcmp(&c->net6, &def_net, sizeof def_net) &&
			!memcmp(&c->host6, &def_host, sizeof def_host) &&
			!memcmp(&c->dns6, &def_dns, sizeof def_dns);
	for (i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		if (!h->opt_get(h, keys[i], 0))
			continue;
		if (!c->ipv6) {
			aether_opt_report(h, keys[i], 0, "needs ipv6 = yes");
			bad = 1;
		} else if (libslirp == 0 && !qemu_defaults) {
			aether_opt_report(h, keys[i], 0, "mode = qemu has QEMU's fixed IPv6 "
				"addresses only (net6 fec0::/64, host6 fec0::2, "
				"dns6 fec0::3); use mode = libslirp for others");
			bad = 1;
		}
	}
	return bad ? -EINVAL : 0;
}

static int slirp_check_options(const struct aether_host *h,
			       struct slirp_cfg *c)
{
	const char *net = h->opt_get(h, "net", 0), *mode, *f;
	int b, bad = 0, libslirp;
	unsigned i;

	memset(c, 0, sizeof *c);
	c->restrict_ = h->opt_bool(h, "restrict", &b) == 0 && b;
	c->ipv6 = h->opt_bool(h, "ipv6", &b) == 0 && b;
	mode = h->opt_get(h, "mode", 0);
	if (!mode || (strcmp(mode, "qemu") && strcmp(mode, "libslirp")))
		libslirp = -1; /* reported below */
	else
		libslirp = !strcmp(mode, "libslirp");
	if (!net || parse_net(net, &c->net, &c->mask) < 0) {
		aether_opt_report(h, "net", 0, "not ADDRESS/PREFIX with an IPv4 address, "
			"a prefix of 8..30 and no host bits set");
		bad = 1;
	} else if (check_in_net(h, "host", c->net, c->mask) < 0 ||
		   check_in_net(h, "dhcpstart", c->net, c->mask) < 0 ||
		   check_in_net(h, "dns", c->net, c->mask) < 0) {
		bad = 1;
	}
	if (check_v6_options(h, c, libslirp) < 0)
		bad = 1;
	for (i = 0; (f = h->opt_get(h, "hostfwd", i)); i++) {
		struct fwd_spec s;

		if (parse_hostfwd(f, &s) < 0) {
			aether_opt_report(h, "hostfwd", i,
				"not tcp|udp:[HOSTADDR]:HOSTPORT-[GUESTADDR]:"
				"GUESTPORT (IPv4 addresses or IPv6 ones in "
				"brackets, ports 1..65535)");
			bad = 1;
		} else if (s.hfam && s.gfam && s.hfam != s.gfam) {
			aether_opt_report(h, "hostfwd", i, "mixes an IPv4 and an IPv6 "
				"address; a forward is IPv4 or IPv6");
			bad = 1;
		} else if (fwd_is_v6(&s) && !c->ipv6) {
			aether_opt_report(h, "hostfwd", i, "an IPv6 forward needs "
				"ipv6 = yes");
			bad = 1;
		} else if (fwd_is_v6(&s) && libslirp == 0) {
			aether_opt_report(h, "hostfwd", i, "QEMU's user netdev "
				"(mode = qemu) forwards IPv4 addresses only; "
				"use mode = libslirp for an IPv6 forward");
			bad = 1;
		}
#ifdef AE_HAVE_LIBSLIRP
		else if (fwd_is_v6(&s) && libslirp == 1 &&
			 !ls_have_hostxfwd()) {
			aether_opt_report(h, "hostfwd", i, "this plugin's libslirp is "
				"older than 4.5 and forwards IPv4 only");
			bad = 1;
		}
#endif
	}
	if (h->opt_int(h, "mtu", &c->mtu) == -EINVAL) {
		aether_opt_report(h, "mtu", 0, "not an integer");
		bad = 1;
	}
	if (libslirp < 0) {
		aether_opt_report(h, "mode", 0, "not libslirp or qemu");
		return -EINVAL;
	}
	c->libslirp = libslirp;
#ifndef AE_HAVE_LIBSLIRP
	if (c->libslirp) {
		aether_opt_report(h, "mode", 0, "this plugin was built without libslirp; "
			"use mode = qemu");
		return -EOPNOTSUPP;
	}
#endif
	if (!c->libslirp && c->mtu > 1500) {
		aether_opt_report(h, "mtu", 0, "QEMU's slirp has a 1500-byte link; use "
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

#ifdef AE_HAVE_LIBSLIRP
static int attach_libslirp(struct slirp_state *st, struct slirp_att *a,
			   const struct slirp_cfg *sc,
			   struct aether_attachment *att)
{
	struct ls_config c = {0};
	uint32_t v;
	unsigned i;
	int rc;

	c.net.s_addr = htonl(sc->net);
	c.mask.s_addr = htonl(sc->mask);
	c.host.s_addr = htonl(sc->net | 2);
	c.dhcpstart.s_addr = htonl(sc->net | 15);
	c.dns.s_addr = htonl(sc->net | 3);
	if (a->hostaddr && parse_v4(a->hostaddr, &v) == 0)
		c.host.s_addr = htonl(v);
	if (a->dhcpstart && parse_v4(a->dhcpstart, &v) == 0)
		c.dhcpstart.s_addr = htonl(v);
	if (a->dns && parse_v4(a->dns, &v) == 0)
		c.dns.s_addr = htonl(v);
	c.hostname = a->hostname;
	c.domain = a->domain;
	c.restrict_ = sc->restrict_;
	c.ipv6 = sc->ipv6;
	c.net6 = sc->net6;
	c.host6 = sc->host6;
	c.dns6 = sc->dns6;
	c.mtu = (unsigned)sc->mtu;
	rc = ls_port_new(st->host, &c, att, &a->port);
	if (rc < 0)
		return rc;
	for (i = 0; i < a->n_hostfwd; i++) {
		struct fwd_spec s;

		if (parse_hostfwd(a->hostfwd[i], &s) < 0) /* checked: cannot */
			return -EINVAL;
		if (fwd_is_v6(&s))
			rc = ls_port_forward6(a->port, s.udp, &s.h6, s.hport,
					      &s.g6, s.gport, 1);
		else
			rc = ls_port_forward(a->port, s.udp, s.h4, s.hport,
					     s.g4, s.gport, 1);
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
		rc = attach_libslirp(st, a, &c, att);
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
