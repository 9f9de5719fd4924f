/* bridge.c - the managed networks' bridges (libnl-route-3, no `ip`). */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/if_addr.h>
#include <linux/rtnetlink.h>

#include <netlink/netlink.h>
#include <netlink/errno.h>
#include <netlink/socket.h>
#include <netlink/cache.h>
#include <netlink/route/link.h>
#include <netlink/route/link/bridge.h>
#include <netlink/route/addr.h>
#include <netlink/route/route.h>

#include "bridge.h"
#include "util.h"

static int nlerr(int e)
{
	if (e >= 0)
		return e;
	switch (-e) {
	case NLE_NOMEM: return -ENOMEM;
	case NLE_EXIST: return -EEXIST;
	case NLE_INVAL: return -EINVAL;
	case NLE_RANGE: return -ERANGE;
	case NLE_OPNOTSUPP: return -EOPNOTSUPP;
	case NLE_AF_NOSUPPORT: return -EAFNOSUPPORT;
	case NLE_OBJ_NOTFOUND: return -ENODEV;
	case NLE_NODEV: return -ENODEV;
	case NLE_PERM: return -EPERM;
	case NLE_BUSY: return -EBUSY;
	case NLE_NOADDR: return -EADDRNOTAVAIL;
	default: return -EIO;
	}
}

static int sock_open(struct nl_sock **out)
{
	struct nl_sock *sk = nl_socket_alloc();
	int r;

	if (!sk)
		return -ENOMEM;
	if ((r = nl_connect(sk, NETLINK_ROUTE)) < 0) {
		nl_socket_free(sk);
		return nlerr(r);
	}
	*out = sk;
	return 0;
}

static int get_link(struct nl_sock *sk, const char *name,
		    struct rtnl_link **out)
{
	return nlerr(rtnl_link_get_kernel(sk, 0, name, out));
}

static int is_ours(struct rtnl_link *l, const char *alias)
{
	const char *a = rtnl_link_get_ifalias(l), *t = rtnl_link_get_type(l);

	return a && !strcmp(a, alias) && t && !strcmp(t, "bridge");
}

int ae_bridge_probe(const char *name, const char *alias)
{
	struct rtnl_link *l = NULL;
	struct nl_sock *sk;
	int r;

	if (!ae_valid_ifname(name))
		return -EINVAL;
	if ((r = sock_open(&sk)) < 0)
		return r;
	r = get_link(sk, name, &l);
	if (r == -ENODEV)
		r = 0;
	else if (r == 0)
		r = is_ours(l, alias) ? 1 : -EEXIST;
	if (l)
		rtnl_link_put(l);
	nl_socket_free(sk);
	return r;
}

static int add_addr(struct nl_sock *sk, int ifindex, int family,
		    const char *text, unsigned prefix)
{
	struct rtnl_addr *a = rtnl_addr_alloc();
	struct nl_addr *local = NULL;
	char buf[64];
	int r;

	if (!a)
		return -ENOMEM;
	snprintf(buf, sizeof buf, "%s/%u", text, prefix);
	r = nlerr(nl_addr_parse(buf, family, &local));
	if (r == 0) {
		rtnl_addr_set_ifindex(a, ifindex);
		rtnl_addr_set_family(a, family);
		rtnl_addr_set_local(a, local);
		rtnl_addr_set_prefixlen(a, (int)prefix);
		if (family == AF_INET6)
			rtnl_addr_set_flags(a, IFA_F_NODAD);
		r = nlerr(rtnl_addr_add(sk, a, NLM_F_REPLACE));
		if (r == -EEXIST)
			r = 0;
	}
	if (local)
		nl_addr_put(local);
	rtnl_addr_put(a);
	return r;
}

static const char *why(int r)
{
	return r == -EPERM ? "operation not permitted (needs CAP_NET_ADMIN)"
			   : strerror(-r);
}

int ae_bridge_create(const char *name, const char *alias, const char *gw4,
		     unsigned prefix4, const char *gw6, char *err,
		     size_t errlen)
{
	struct rtnl_link *br, *made = NULL, *ch = NULL;
	struct nl_sock *sk;
	int r, ifindex = 0;

	if (!ae_valid_ifname(name))
		return ae_seterr(err, errlen, EINVAL,
				 "bridge '%s': not a valid interface name",
				 name);
	if ((r = sock_open(&sk)) < 0)
		return ae_seterr(err, errlen, -r, "rtnetlink: %s", why(r));
	br = rtnl_link_bridge_alloc();
	if (!br) {
		nl_socket_free(sk);
		return ae_seterr(err, errlen, ENOMEM, "out of memory");
	}
	rtnl_link_set_name(br, name);
	r = nlerr(rtnl_link_add(sk, br, NLM_F_CREATE | NLM_F_EXCL));
	rtnl_link_put(br);
	if (r < 0) {
		nl_socket_free(sk);
		return ae_seterr(err, errlen, -r, "cannot create bridge %s: %s",
				 name,
				 r == -EEXIST ? "a device of that name exists"
					      : why(r));
	}
	/* the kernel ignores IFLA_IFALIAS on creation: tag it, then up */
	r = get_link(sk, name, &made);
	if (r == 0) {
		ifindex = rtnl_link_get_ifindex(made);
		ch = rtnl_link_alloc();
		if (!ch)
			r = -ENOMEM;
	}
	if (r == 0) {
		rtnl_link_set_ifalias(ch, alias);
		r = nlerr(rtnl_link_change(sk, made, ch, 0));
	}
	if (r < 0) {
		ae_seterr(err, errlen, -r, "bridge %s: cannot tag it: %s",
			  name, why(r));
		goto fail;
	}
	if ((r = add_addr(sk, ifindex, AF_INET, gw4, prefix4)) < 0) {
		ae_seterr(err, errlen, -r, "bridge %s: cannot add %s/%u: %s",
			  name, gw4, prefix4, why(r));
		goto fail;
	}
	if (gw6 && (r = add_addr(sk, ifindex, AF_INET6, gw6, 64)) < 0) {
		ae_seterr(err, errlen, -r, "bridge %s: cannot add %s/64: %s",
			  name, gw6, why(r));
		goto fail;
	}
	rtnl_link_put(ch);
	ch = rtnl_link_alloc();
	if (!ch) {
		r = ae_seterr(err, errlen, ENOMEM, "out of memory");
		goto fail;
	}
	rtnl_link_set_flags(ch, IFF_UP);
	if ((r = nlerr(rtnl_link_change(sk, made, ch, 0))) < 0) {
		ae_seterr(err, errlen, -r, "bridge %s: cannot bring it up: %s",
			  name, why(r));
		goto fail;
	}
	rtnl_link_put(ch);
	rtnl_link_put(made);
	nl_socket_free(sk);
	return 0;
fail:
	if (ch)
		rtnl_link_put(ch);
	if (made) {
		rtnl_link_delete(sk, made);
		rtnl_link_put(made);
	}
	nl_socket_free(sk);
	return r;
}

int ae_bridge_ensure(const char *name, const char *alias, const char *gw4,
		     unsigned prefix4, const char *gw6, char *err,
		     size_t errlen)
{
	struct rtnl_link *l = NULL, *ch = NULL;
	struct nl_sock *sk;
	int r, ifindex;

	if ((r = sock_open(&sk)) < 0)
		return ae_seterr(err, errlen, -r, "rtnetlink: %s", why(r));
	r = get_link(sk, name, &l);
	if (r < 0) {
		ae_seterr(err, errlen, -r, "bridge %s: %s", name, why(r));
		goto out;
	}
	if (!is_ours(l, alias)) {
		r = ae_seterr(err, errlen, EEXIST,
			      "%s is not aether's bridge (no alias %s)", name,
			      alias);
		goto out;
	}
	ifindex = rtnl_link_get_ifindex(l);
	if ((r = add_addr(sk, ifindex, AF_INET, gw4, prefix4)) < 0) {
		ae_seterr(err, errlen, -r, "bridge %s: cannot add %s/%u: %s",
			  name, gw4, prefix4, why(r));
		goto out;
	}
	if (gw6 && (r = add_addr(sk, ifindex, AF_INET6, gw6, 64)) < 0) {
		ae_seterr(err, errlen, -r, "bridge %s: cannot add %s/64: %s",
			  name, gw6, why(r));
		goto out;
	}
	if (!(rtnl_link_get_flags(l) & IFF_UP)) {
		ch = rtnl_link_alloc();
		if (!ch) {
			r = ae_seterr(err, errlen, ENOMEM, "out of memory");
			goto out;
		}
		rtnl_link_set_flags(ch, IFF_UP);
		if ((r = nlerr(rtnl_link_change(sk, l, ch, 0))) < 0)
			ae_seterr(err, errlen, -r,
				  "bridge %s: cannot bring it up: %s", name,
				  why(r));
	}
out:
	if (ch)
		rtnl_link_put(ch);
	if (l)
		rtnl_link_put(l);
	nl_socket_free(sk);
	return r < 0 ? r : 0;
}

int ae_bridge_delete(const char *name, const char *alias, char *err,
		     size_t errlen)
{
	struct rtnl_link *l = NULL;
	struct nl_sock *sk;
	int r;

	if (!ae_valid_ifname(name))
		return ae_seterr(err, errlen, EINVAL,
				 "bridge '%s': not a valid interface name",
				 name);
	if ((r = sock_open(&sk)) < 0)
		return ae_seterr(err, errlen, -r, "rtnetlink: %s", why(r));
	r = get_link(sk, name, &l);
	if (r == -ENODEV) {
		r = 0;
	} else if (r < 0) {
		ae_seterr(err, errlen, -r, "bridge %s: %s", name, why(r));
	} else if (!is_ours(l, alias)) {
		r = ae_seterr(err, errlen, EEXIST,
			      "%s is not aether's bridge (no alias %s): left "
			      "alone", name, alias);
	} else if ((r = nlerr(rtnl_link_delete(sk, l))) < 0 && r != -ENODEV) {
		ae_seterr(err, errlen, -r, "cannot delete bridge %s: %s", name,
			  why(r));
	} else {
		r = 0;
	}
	if (l)
		rtnl_link_put(l);
	nl_socket_free(sk);
	return r;
}

struct conflict_ctx {
	uint32_t net4;
	unsigned prefix4;
	const struct in6_addr *net6;
	int ourindex;
	int found;
	char what[160];
	struct nl_cache *links;
};

static int overlaps(struct conflict_ctx *c, struct nl_addr *a)
{
	unsigned plen = (unsigned)nl_addr_get_prefixlen(a);
	const void *bin = nl_addr_get_binary_addr(a);

	if (!bin)
		return 0;
	if (nl_addr_get_family(a) == AF_INET && plen > 0) {
		uint32_t x, m, p = plen < c->prefix4 ? plen : c->prefix4;
		memcpy(&x, bin, 4);
		x = ntohl(x);
		m = p ? 0xffffffffu << (32 - p) : 0;
		return (x & m) == (c->net4 & m);
	}
	if (nl_addr_get_family(a) == AF_INET6 && c->net6 && plen > 0) {
		const uint8_t *y = bin;
		unsigned p = plen < 64 ? plen : 64, i;
		for (i = 0; i < p / 8; i++)
			if (y[i] != c->net6->s6_addr[i])
				return 0;
		if (p % 8) {
			uint8_t m = (uint8_t)(0xff << (8 - p % 8));
			if ((y[i] & m) != (c->net6->s6_addr[i] & m))
				return 0;
		}
		return 1;
	}
	return 0;
}

static void devname(struct conflict_ctx *c, int ifindex, char *buf,
		    size_t len)
{
	if (!ifindex || !rtnl_link_i2name(c->links, ifindex, buf, len))
		snprintf(buf, len, "%s", ifindex ? "?" : "no device");
}

static void route_cb(struct nl_object *o, void *arg)
{
	struct conflict_ctx *c = arg;
	struct rtnl_route *r = (struct rtnl_route *)o;
	struct rtnl_nexthop *nh;
	struct nl_addr *dst = rtnl_route_get_dst(r);
	char a[64], dev[IFNAMSIZ + 4];
	int ifindex = 0;

	if (c->found || !dst || rtnl_route_get_table(r) != RT_TABLE_MAIN ||
	    !overlaps(c, dst))
		return;
	if (rtnl_route_get_nnexthops(r) > 0 &&
	    (nh = rtnl_route_nexthop_n(r, 0)))
		ifindex = rtnl_route_nh_get_ifindex(nh);
	if (ifindex && ifindex == c->ourindex)
		return;
	devname(c, ifindex, dev, sizeof dev);
	nl_addr2str(dst, a, sizeof a);
	snprintf(c->what, sizeof c->what, "route %s (device %s)", a, dev);
	c->found = 1;
}

static void addr_cb(struct nl_object *o, void *arg)
{
	struct conflict_ctx *c = arg;
	struct rtnl_addr *ad = (struct rtnl_addr *)o;
	struct nl_addr *local = rtnl_addr_get_local(ad);
	struct nl_addr *tmp;
	char a[64], dev[IFNAMSIZ + 4];
	int ifindex = rtnl_addr_get_ifindex(ad);

	if (c->found || !local || ifindex == c->ourindex)
		return;
	tmp = nl_addr_clone(local);
	if (!tmp)
		return;
	nl_addr_set_prefixlen(tmp, nl_addr_get_family(tmp) == AF_INET ? 32
								       : 128);
	if (overlaps(c, tmp)) {
		devname(c, ifindex, dev, sizeof dev);
		nl_addr2str(local, a, sizeof a);
		snprintf(c->what, sizeof c->what, "address %s (device %s)", a,
			 dev);
		c->found = 1;
	}
	nl_addr_put(tmp);
}

int ae_route_conflict(uint32_t net4, unsigned prefix4,
		      const struct in6_addr *net6, const char *ourdev,
		      char *err, size_t errlen)
{
	struct conflict_ctx c = {.net4 = net4, .prefix4 = prefix4,
				 .net6 = net6};
	struct nl_cache *routes = NULL, *addrs = NULL;
	struct nl_sock *sk;
	int r;

	if ((r = sock_open(&sk)) < 0)
		return ae_seterr(err, errlen, -r, "rtnetlink: %s", why(r));
	if ((r = nlerr(rtnl_link_alloc_cache(sk, AF_UNSPEC, &c.links))) < 0)
		goto out;
	if (ourdev)
		c.ourindex = rtnl_link_name2i(c.links, ourdev);
	if ((r = nlerr(rtnl_route_alloc_cache(sk, AF_INET, 0, &routes))) < 0)
		goto out;
	nl_cache_foreach(routes, route_cb, &c);
	nl_cache_free(routes);
	routes = NULL;
	if (net6 && !c.found) {
		if ((r = nlerr(rtnl_route_alloc_cache(sk, AF_INET6, 0,
						      &routes))) < 0)
			goto out;
		nl_cache_foreach(routes, route_cb, &c);
	}
	if (!c.found) {
		if ((r = nlerr(rtnl_addr_alloc_cache(sk, &addrs))) < 0)
			goto out;
		nl_cache_foreach(addrs, addr_cb, &c);
	}
	r = 0;
out:
	if (r < 0)
		ae_seterr(err, errlen, -r, "rtnetlink: cannot read the routes: "
			  "%s", why(r));
	else if (c.found)
		r = ae_seterr(err, errlen, EADDRINUSE, "%s", c.what);
	if (routes)
		nl_cache_free(routes);
	if (addrs)
		nl_cache_free(addrs);
	if (c.links)
		nl_cache_free(c.links);
	nl_socket_free(sk);
	return r;
}

struct list_ctx {
	const char *prefix;
	char **names, **rests;
	size_t n;
};

static void list_cb(struct nl_object *o, void *arg)
{
	struct list_ctx *c = arg;
	struct rtnl_link *l = (struct rtnl_link *)o;
	const char *a = rtnl_link_get_ifalias(l), *t = rtnl_link_get_type(l);
	size_t pl = strlen(c->prefix);

	if (!a || strncmp(a, c->prefix, pl) || !t || strcmp(t, "bridge"))
		return;
	c->names = ae_xrealloc(c->names, (c->n + 1) * sizeof *c->names);
	c->rests = ae_xrealloc(c->rests, (c->n + 1) * sizeof *c->rests);
	c->names[c->n] = ae_xstrdup(rtnl_link_get_name(l));
	c->rests[c->n] = ae_xstrdup(a + pl);
	c->n++;
}

int ae_bridge_list(const char *prefix, char ***names, char ***rests,
		   size_t *n)
{
	struct list_ctx c = {.prefix = prefix};
	struct nl_cache *links = NULL;
	struct nl_sock *sk;
	int r;

	*names = *rests = NULL;
	*n = 0;
	if ((r = sock_open(&sk)) < 0)
		return r;
	r = nlerr(rtnl_link_alloc_cache(sk, AF_UNSPEC, &links));
	if (r == 0) {
		nl_cache_foreach(links, list_cb, &c);
		nl_cache_free(links);
	}
	nl_socket_free(sk);
	*names = c.names;
	*rests = c.rests;
	*n = c.n;
	return r;
}
