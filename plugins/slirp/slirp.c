/* slirp.c - the slirp backend: QEMU's built-in user-mode NAT.
 *
 * Needs no privileges and no host setup.  The plugin checks its options
 * (addresses, forwards) and returns an AETHER_ATTACH_USER attachment; the
 * core turns it into QEMU's -netdev user arguments. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <aether/plugin.h>

struct slirp_state {
	const struct aether_host *host;
};

struct slirp_att {
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
	{.key = NULL},
};

#define LOG(st, lvl, ...) (st)->host->log((st)->host, (lvl), __VA_ARGS__)

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

static int check_in_net(struct slirp_state *st, const char *key,
			const char *v, uint32_t net, uint32_t mask)
{
	uint32_t a;

	if (!v)
		return 0;
	if (parse_v4(v, &a) < 0) {
		LOG(st, AETHER_LOG_ERR, "%s: '%s' is not an IPv4 address", key, v);
		return -EINVAL;
	}
	if ((a & mask) != net) {
		LOG(st, AETHER_LOG_ERR, "%s: %s is not inside net", key, v);
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
	free(a);
}

static int slirp_attach(void *state, const struct aether_vm *vm,
			struct aether_attachment *att, void **att_state)
{
	struct slirp_state *st = state;
	struct slirp_att *a = calloc(1, sizeof *a);
	uint32_t net, mask;
	const char *f;
	int b, rc = -EINVAL;
	unsigned i;

	if (!a)
		return -ENOMEM;
	a->net = dup_opt(st, "net");
	if (!a->net || parse_net(a->net, &net, &mask) < 0) {
		LOG(st, AETHER_LOG_ERR,
		    "net: '%s' is not ADDRESS/PREFIX with a prefix of 8..30 "
		    "and no host bits set", a->net ? a->net : "");
		goto fail;
	}
	a->hostaddr = dup_opt(st, "host");
	a->dhcpstart = dup_opt(st, "dhcpstart");
	a->dns = dup_opt(st, "dns");
	if (check_in_net(st, "host", a->hostaddr, net, mask) < 0 ||
	    check_in_net(st, "dhcpstart", a->dhcpstart, net, mask) < 0 ||
	    check_in_net(st, "dns", a->dns, net, mask) < 0)
		goto fail;
	a->hostname = dup_opt(st, "hostname");
	if (!a->hostname)
		a->hostname = strdup(vm->name);
	a->domain = dup_opt(st, "domain");
	for (i = 0; (f = st->host->opt_get(st->host, "hostfwd", i)); i++) {
		char **n;

		if (check_hostfwd(f) < 0) {
			LOG(st, AETHER_LOG_ERR,
			    "hostfwd: '%s' is not "
			    "tcp|udp:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT",
			    f);
			goto fail;
		}
		n = realloc(a->hostfwd, (i + 1) * sizeof *n);
		if (!n) {
			rc = -ENOMEM;
			goto fail;
		}
		a->hostfwd = n;
		a->hostfwd[i] = strdup(f);
		a->n_hostfwd = i + 1;
	}
	att->kind = AETHER_ATTACH_USER;
	att->user.net = a->net;
	att->user.host = a->hostaddr;
	att->user.dhcpstart = a->dhcpstart;
	att->user.dns = a->dns;
	att->user.hostname = a->hostname;
	att->user.domain = a->domain;
	att->user.hostfwd = (const char *const *)a->hostfwd;
	att->user.n_hostfwd = a->n_hostfwd;
	att->user.restrict_ = st->host->opt_bool(st->host, "restrict", &b) == 0 && b;
	att->user.ipv6 = st->host->opt_bool(st->host, "ipv6", &b) == 0 && b;
	*att_state = a;
	LOG(st, AETHER_LOG_DEBUG, "user networking on %s with %u forward(s)",
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

static int slirp_check(void *state, const struct aether_vm *vm,
		       void *att_state)
{
	/* QEMU's slirp lives and dies with QEMU: nothing to watch. */
	return att_state ? 0 : -ENOENT;
}

static int slirp_gc(void *state, const struct aether_vm *live, size_t n_live)
{
	/* Nothing outside QEMU to clean up. */
	return 0;
}

AETHER_PLUGIN_DEFINE(slirp) = {
	AETHER_PLUGIN_HEADER,
	.caps = AETHER_CAP_ATTACH_USER,
	.name = "slirp",
	.version = "1.0",
	.description = "user-mode NAT through QEMU's built-in slirp (no root)",
	.options = slirp_options,
	.init = slirp_init,
	.fini = slirp_fini,
	.attach = slirp_attach,
	.detach = slirp_detach,
	.check = slirp_check,
	.gc = slirp_gc,
};
