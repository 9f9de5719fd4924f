/* netconf.c - the [net.NAME] sections of the host config. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addrpool.h"
#include "net.h"
#include "util.h"

int ae_net_valid_name(const char *s)
{
	size_t i, n = s ? strlen(s) : 0;

	if (n < 1 || n > AE_NET_NAME_MAX)
		return 0;
	for (i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      (i && (c == '_' || c == '-'))))
			return 0;
	}
	return 1;
}

int ae_net_valid_domain(const char *s)
{
	size_t n = s ? strlen(s) : 0, label = 0, i;

	if (n < 1 || n > 253 || s[0] == '.' || s[n - 1] == '.')
		return 0;
	for (i = 0; i < n; i++) {
		char c = s[i];
		if (c == '.') {
			if (!label || s[i - 1] == '-')
				return 0;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '-'))
			return 0;
		if (c == '-' && !label)
			return 0;
		if (++label > 63)
			return 0;
	}
	return s[n - 1] != '-';
}

int ae_net_overlap4(uint32_t a, unsigned pa, uint32_t b, unsigned pb)
{
	unsigned p = pa < pb ? pa : pb;
	uint32_t mask = p ? 0xffffffffu << (32 - p) : 0;

	return (a & mask) == (b & mask);
}

int ae_net_overlap6(const struct in6_addr *a, unsigned pa,
		    const struct in6_addr *b, unsigned pb)
{
	unsigned p = pa < pb ? pa : pb, i;

	for (i = 0; i < p / 8; i++)
		if (a->s6_addr[i] != b->s6_addr[i])
			return 0;
	if (p % 8) {
		uint8_t m = (uint8_t)(0xff << (8 - p % 8));
		if ((a->s6_addr[i] & m) != (b->s6_addr[i] & m))
			return 0;
	}
	return 1;
}

/* "ADDR/LEN" split; 0 or -EINVAL. */
static int split_prefix(const char *v, char *addr, size_t alen,
			unsigned *len, unsigned max)
{
	const char *slash = strchr(v, '/');
	char *end;
	unsigned long l;

	if (!slash || (size_t)(slash - v) >= alen || !slash[1] ||
	    slash[1] < '0' || slash[1] > '9')
		return -EINVAL;
	memcpy(addr, v, (size_t)(slash - v));
	addr[slash - v] = '\0';
	errno = 0;
	l = strtoul(slash + 1, &end, 10);
	if (errno || *end || l > max)
		return -EINVAL;
	*len = (unsigned)l;
	return 0;
}

static int parse_subnet4(struct ae_net *n, const struct ae_ini_entry *e,
			 char *err, size_t errlen)
{
	char a[INET_ADDRSTRLEN], s[16];
	struct in_addr in;
	uint32_t mask, host;

	if (split_prefix(e->value, a, sizeof a, &n->prefix4, 32) < 0 ||
	    inet_pton(AF_INET, a, &in) != 1)
		return ae_seterr(err, errlen, EINVAL,
				 "%s:%d: subnet: '%s' is not an IPv4 subnet "
				 "like 192.168.100.0/24",
				 e->file, e->line, e->value);
	if (n->prefix4 < 16 || n->prefix4 > 29)
		return ae_seterr(err, errlen, EINVAL,
				 "%s:%d: subnet: '%s': the prefix length must "
				 "be 16..29",
				 e->file, e->line, e->value);
	mask = 0xffffffffu << (32 - n->prefix4);
	host = ntohl(in.s_addr);
	if (host & ~mask)
		return ae_seterr(err, errlen, EINVAL,
				 "%s:%d: subnet: '%s' has host bits set (the "
				 "network address is needed)",
				 e->file, e->line, e->value);
	n->net4 = host;
	n->first = host + 2;
	n->last = (host | ~mask) - 1;
	ae_pool_fmt(host + 1, n->gw4);
	ae_pool_fmt(host, s);
	snprintf(n->subnet4, sizeof n->subnet4, "%s/%u", s, n->prefix4);
	return 0;
}

static int parse_subnet6(struct ae_net *n, const struct ae_ini_entry *e,
			 char *err, size_t errlen)
{
	char a[INET6_ADDRSTRLEN], s[INET6_ADDRSTRLEN];
	struct in6_addr gw;
	unsigned len, i;

	if (split_prefix(e->value, a, sizeof a, &len, 128) < 0 ||
	    inet_pton(AF_INET6, a, &n->net6) != 1)
		return ae_seterr(err, errlen, EINVAL,
				 "%s:%d: ipv6: '%s' is not an IPv6 prefix like "
				 "fd42:1:2:3::/64",
				 e->file, e->line, e->value);
	if (len != 64)
		return ae_seterr(err, errlen, EINVAL,
				 "%s:%d: ipv6: '%s' is not a /64 (SLAAC needs "
				 "one)", e->file, e->line, e->value);
	for (i = 8; i < 16; i++)
		if (n->net6.s6_addr[i])
			return ae_seterr(err, errlen, EINVAL,
					 "%s:%d: ipv6: '%s' has host bits set",
					 e->file, e->line, e->value);
	if (n->net6.s6_addr[0] == 0xff ||
	    (n->net6.s6_addr[0] == 0xfe && (n->net6.s6_addr[1] & 0xc0) == 0x80) ||
	    IN6_IS_ADDR_UNSPECIFIED(&n->net6))
		return ae_seterr(err, errlen, EINVAL,
				 "%s:%d: ipv6: '%s' is multicast, link-local "
				 "or unspecified", e->file, e->line, e->value);
	gw = n->net6;
	gw.s6_addr[15] = 1;
	inet_ntop(AF_INET6, &n->net6, s, sizeof s);
	snprintf(n->subnet6, sizeof n->subnet6, "%s/64", s);
	inet_ntop(AF_INET6, &gw, n->gw6, sizeof n->gw6);
	n->has6 = 1;
	return 0;
}

static int get_bool(const struct ae_ini_entry *e, int def, int *out,
		    char *err, size_t errlen)
{
	*out = def;
	if (e && ae_parse_bool(e->value, out) < 0)
		return ae_seterr(err, errlen, EINVAL,
				 "%s:%d: %s: '%s' is not a boolean (yes/no)",
				 e->file, e->line, e->key, e->value);
	return 0;
}

static const char *const net_keys[] = {"subnet", "ipv6", "nat",
				       "dns_domain", "bridge", "ephemeral"};

static int parse_one(const struct ae_ini_section *s, struct ae_net *n,
		     char *err, size_t errlen)
{
	const char *name = s->name + 4;
	const struct ae_ini_entry *e;
	size_t i, j, k;
	int rc;

	memset(n, 0, sizeof *n);
	snprintf(n->file, sizeof n->file, "%s", s->file);
	n->line = s->line;
	if (!ae_net_valid_name(name))
		return ae_seterr(err, errlen, EINVAL,
				 "%s:%d: [%s]: '%s' is not a network name (1-%d "
				 "of a-z 0-9 _ -, starting with a letter or "
				 "digit)", s->file, s->line, s->name, name,
				 AE_NET_NAME_MAX);
	snprintf(n->name, sizeof n->name, "%s", name);
	for (i = 0; i < s->n_entries; i++) {
		e = &s->entries[i];
		for (k = 0; k < AE_ARRAY_SIZE(net_keys); k++)
			if (!strcmp(e->key, net_keys[k]))
				break;
		if (k == AE_ARRAY_SIZE(net_keys))
			return ae_seterr(err, errlen, EINVAL,
					 "%s:%d: unknown key '%s' in [%s] "
					 "(known: subnet, ipv6, nat, "
					 "dns_domain, bridge, ephemeral)",
					 e->file, e->line, e->key, s->name);
		for (j = 0; j < i; j++)
			if (!strcmp(s->entries[j].key, e->key))
				return ae_seterr(err, errlen, EINVAL,
						 "%s:%d: key '%s' given twice "
						 "in [%s] (first on line %d)",
						 e->file, e->line, e->key,
						 s->name, s->entries[j].line);
	}
	e = ae_ini_get(s, "subnet");
	if (!e)
		return ae_seterr(err, errlen, EINVAL,
				 "%s:%d: [%s]: subnet is required (like subnet "
				 "= 192.168.100.0/24)", s->file, s->line,
				 s->name);
	if ((rc = parse_subnet4(n, e, err, errlen)) < 0)
		return rc;
	e = ae_ini_get(s, "ipv6");
	if (e && (rc = parse_subnet6(n, e, err, errlen)) < 0)
		return rc;
	if ((rc = get_bool(ae_ini_get(s, "nat"), 1, &n->nat, err, errlen)) ||
	    (rc = get_bool(ae_ini_get(s, "ephemeral"), 0, &n->ephemeral, err,
			   errlen)))
		return rc;
	e = ae_ini_get(s, "dns_domain");
	if (e && !ae_net_valid_domain(e->value))
		return ae_seterr(err, errlen, EINVAL,
				 "%s:%d: dns_domain: '%s' is not a DNS domain "
				 "(labels of a-z 0-9 -, joined by dots)",
				 e->file, e->line, e->value);
	if (e)
		snprintf(n->domain, sizeof n->domain, "%s", e->value);
	else
		snprintf(n->domain, sizeof n->domain, "%s.aether", n->name);
	e = ae_ini_get(s, "bridge");
	if (e && !ae_valid_ifname(e->value))
		return ae_seterr(err, errlen, EINVAL,
				 "%s:%d: bridge: '%s' is not a valid interface "
				 "name (1-15 of A-Z a-z 0-9 _ . -)",
				 e->file, e->line, e->value);
	if (e)
		snprintf(n->bridge, sizeof n->bridge, "%s", e->value);
	else
		snprintf(n->bridge, sizeof n->bridge, "aen%s", n->name);
	return 0;
}

static const struct ae_ini_entry *key_of(const struct ae_ini *host,
					 const struct ae_net *n,
					 const char *key)
{
	char sec[32];

	snprintf(sec, sizeof sec, "net.%s", n->name);
	return ae_ini_get(ae_ini_find(host, sec), key);
}

int ae_netconf_load(const struct ae_ini *host, struct ae_netconf *out,
		    char *err, size_t errlen)
{
	size_t i, j;
	int rc;

	out->v = NULL;
	out->n = 0;
	if (!host)
		return 0;
	for (i = 0; i < host->n_sections; i++) {
		const struct ae_ini_section *s = &host->sections[i];
		if (strncmp(s->name, "net.", 4))
			continue;
		out->v = ae_xrealloc(out->v, (out->n + 1) * sizeof *out->v);
		if ((rc = parse_one(s, &out->v[out->n], err, errlen)) < 0) {
			ae_netconf_free(out);
			return rc;
		}
		out->n++;
	}
	for (i = 0; i < out->n; i++)
		for (j = 0; j < i; j++) {
			const struct ae_net *a = &out->v[i], *b = &out->v[j];
			const struct ae_ini_entry *e;
			const char *what = NULL, *key = NULL;

			if (!strcmp(a->name, b->name)) {
				what = "network";
				key = NULL;
			} else if (ae_net_overlap4(a->net4, a->prefix4,
						   b->net4, b->prefix4)) {
				what = "subnet";
				key = "subnet";
			} else if (a->has6 && b->has6 &&
				   ae_net_overlap6(&a->net6, 64, &b->net6,
						   64)) {
				what = "ipv6 prefix";
				key = "ipv6";
			} else if (!strcmp(a->bridge, b->bridge)) {
				what = "bridge";
				key = "bridge";
			}
			if (!what)
				continue;
			if (!key) {
				rc = ae_seterr(err, errlen, EINVAL,
					       "%s:%d: [net.%s] given twice "
					       "(first on line %d)", a->file,
					       a->line, a->name, b->line);
			} else {
				e = key_of(host, a, key);
				rc = ae_seterr(err, errlen, EINVAL,
					       "%s:%d: %s: the %s of [net.%s] "
					       "(%s) %s that of [net.%s] "
					       "(%s, line %d)",
					       e ? e->file : a->file,
					       e ? e->line : a->line, key, what,
					       a->name,
					       !strcmp(key, "subnet") ? a->subnet4
					       : !strcmp(key, "ipv6") ? a->subnet6
								      : a->bridge,
					       strcmp(key, "bridge") ? "overlaps"
								     : "is also",
					       b->name,
					       !strcmp(key, "subnet") ? b->subnet4
					       : !strcmp(key, "ipv6") ? b->subnet6
								      : b->bridge,
					       b->line);
			}
			ae_netconf_free(out);
			return rc;
		}
	return 0;
}

void ae_netconf_free(struct ae_netconf *nc)
{
	free(nc->v);
	nc->v = NULL;
	nc->n = 0;
}

const struct ae_net *ae_netconf_find(const struct ae_netconf *nc,
				     const char *name)
{
	size_t i;

	for (i = 0; nc && i < nc->n; i++)
		if (!strcmp(nc->v[i].name, name))
			return &nc->v[i];
	return NULL;
}

int ae_net_check_default(const struct ae_ini *host,
			 const struct ae_netconf *nc, char *err,
			 size_t errlen)
{
	const struct ae_ini_section *s = ae_ini_find(host, "network.tap");
	const struct ae_ini_entry *e = ae_ini_get(s, "network");
	const struct ae_ini_entry *b = ae_ini_get(s, "bridge");

	if (!e)
		return 0;
	if (b)
		return ae_seterr(err, errlen, EINVAL,
				 "%s:%d: bridge: not with network = %s (line "
				 "%d): VMs join that network's bridge",
				 b->file, b->line, e->value, e->line);
	if (!ae_netconf_find(nc, e->value))
		return ae_seterr(err, errlen, ENOENT,
				 "%s:%d: network: no [net.%s] in this file",
				 e->file, e->line, e->value);
	return 0;
}
