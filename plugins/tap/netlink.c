/*
 * netlink - the tap plugin's rtnetlink helpers and its bridge.
 *
 * Requests on the plugin's libnl-route-3 socket (links by index or name,
 * deletes by index or by link group, link group changes, a bridge's port
 * count) and the bridge itself: find it (once fully, then by two
 * ioctls), create it when create_bridge = yes (tagged TAP_BRIDGE_TAG),
 * remove it when it is ours and its last port has gone.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <linux/if.h>
#include <linux/rtnetlink.h>

#include <netlink/netlink.h>
#include <netlink/msg.h>
#include <netlink/attr.h>
#include <netlink/errno.h>
#include <netlink/socket.h>
#include <netlink/route/link.h>
#include <netlink/route/link/bridge.h>

#include <aether/plugin.h>

#include "netlink.h"
#include "tap.h"

/* libnl error -> negative errno. */
int tap_nlerr(int e)
{
	if (e >= 0)
		return e;
	switch (-e) {
	case NLE_NOMEM: return -ENOMEM;
	case NLE_EXIST: return -EEXIST;
	case NLE_INVAL: return -EINVAL;
	case NLE_RANGE: return -ERANGE;
	case NLE_MSGSIZE: return -EMSGSIZE;
	case NLE_OPNOTSUPP: return -EOPNOTSUPP;
	case NLE_AF_NOSUPPORT: return -EAFNOSUPPORT;
	case NLE_OBJ_NOTFOUND: return -ENODEV;
	case NLE_NODEV: return -ENODEV;
	case NLE_AGAIN: return -EAGAIN;
	case NLE_INTR: return -EINTR;
	case NLE_BUSY: return -EBUSY;
	case NLE_NOACCESS: return -EACCES;
	case NLE_PERM: return -EPERM;
	case NLE_BAD_SOCK: return -EBADF;
	case NLE_NOADDR: return -EADDRNOTAVAIL;
	default: return -EIO;
	}
}

/* ------------------------------------------------------------------ */
/* Netlink helpers.                                                   */

int tap_get_link(struct tap_plugin *p, int ifindex, const char *name,
		 struct rtnl_link **out)
{
	int r = rtnl_link_get_kernel(p->sk, ifindex, name, out);
	if (r < 0) {
		*out = NULL;
		return tap_nlerr(r);
	}
	return 0;
}

/* Send a prepared request and wait for its ack. */
static int send_sync(struct tap_plugin *p, struct nl_msg *msg)
{
	int r = nl_send_auto(p->sk, msg);
	nlmsg_free(msg);
	if (r < 0)
		return tap_nlerr(r);
	r = nl_wait_for_ack(p->sk);
	return r < 0 ? tap_nlerr(r) : 0;
}

int tap_del_link_index(struct tap_plugin *p, int ifindex)
{
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC, .ifi_index = ifindex };
	struct nl_msg *msg = nlmsg_alloc_simple(RTM_DELLINK, 0);
	if (!msg)
		return -ENOMEM;
	if (nlmsg_append(msg, &ifi, sizeof ifi, NLMSG_ALIGNTO) < 0) {
		nlmsg_free(msg);
		return -ENOMEM;
	}
	return send_sync(p, msg);
}

/* RTM_DELLINK with ifindex 0 and IFLA_GROUP: the kernel deletes every
 * link of the group in one unregister_netdevice_many(). */
int tap_del_link_group(struct tap_plugin *p, uint32_t group)
{
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC, .ifi_index = 0 };
	struct nl_msg *msg = nlmsg_alloc_simple(RTM_DELLINK, 0);
	if (!msg)
		return -ENOMEM;
	if (nlmsg_append(msg, &ifi, sizeof ifi, NLMSG_ALIGNTO) < 0 ||
	    nla_put_u32(msg, IFLA_GROUP, group) < 0) {
		nlmsg_free(msg);
		return -ENOMEM;
	}
	return send_sync(p, msg);
}

int tap_set_link_group(struct tap_plugin *p, int ifindex, uint32_t group)
{
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC, .ifi_index = ifindex };
	struct nl_msg *msg = nlmsg_alloc_simple(RTM_SETLINK, 0);
	if (!msg)
		return -ENOMEM;
	if (nlmsg_append(msg, &ifi, sizeof ifi, NLMSG_ALIGNTO) < 0 ||
	    nla_put_u32(msg, IFLA_GROUP, group) < 0) {
		nlmsg_free(msg);
		return -ENOMEM;
	}
	return send_sync(p, msg);
}

struct port_count {
	int master;
	unsigned n;
};

static int count_port_cb(struct nl_msg *msg, void *arg)
{
	struct port_count *pc = arg;
	struct nlmsghdr *nlh = nlmsg_hdr(msg);
	struct nlattr *tb[IFLA_MAX + 1];

	if (nlh->nlmsg_type != RTM_NEWLINK)
		return NL_OK;
	if (nlmsg_parse(nlh, sizeof(struct ifinfomsg), tb, IFLA_MAX, NULL) < 0)
		return NL_OK;
	if (tb[IFLA_MASTER] && (int)nla_get_u32(tb[IFLA_MASTER]) == pc->master)
		pc->n++;
	return NL_OK;
}

/* Number of ports of bridge `master` (a dump filtered by the kernel on
 * IFLA_MASTER; filtered again here for kernels that ignore the filter). */
static int count_ports(struct tap_plugin *p, int master, unsigned *n)
{
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC };
	struct port_count pc = { .master = master, .n = 0 };
	struct nl_msg *msg;
	struct nl_cb *cb;
	int r;

	msg = nlmsg_alloc_simple(RTM_GETLINK, NLM_F_DUMP);
	if (!msg)
		return -ENOMEM;
	if (nlmsg_append(msg, &ifi, sizeof ifi, NLMSG_ALIGNTO) < 0 ||
	    nla_put_u32(msg, IFLA_MASTER, (uint32_t)master) < 0) {
		nlmsg_free(msg);
		return -ENOMEM;
	}
	r = nl_send_auto(p->sk, msg);
	nlmsg_free(msg);
	if (r < 0)
		return tap_nlerr(r);
	cb = nl_socket_get_cb(p->sk); /* takes a reference */
	{
		struct nl_cb *mine = nl_cb_clone(cb);
		nl_cb_put(cb);
		cb = mine;
	}
	if (!cb)
		return -ENOMEM;
	nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, count_port_cb, &pc);
	r = nl_recvmsgs(p->sk, cb);
	nl_cb_put(cb);
	if (r < 0)
		return tap_nlerr(r);
	*n = pc.n;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Bridge.                                                            */

bool tap_link_is_type(struct rtnl_link *l, const char *type)
{
	const char *t = rtnl_link_get_type(l);
	return t && strcmp(t, type) == 0;
}

static bool link_alias_is(struct rtnl_link *l, const char *alias)
{
	const char *a = rtnl_link_get_ifalias(l);
	return a && strcmp(a, alias) == 0;
}

static int create_bridge(struct tap_plugin *p)
{
	struct rtnl_link *br = rtnl_link_bridge_alloc(), *made = NULL, *ch;
	int r;

	if (!br)
		return -ENOMEM;
	rtnl_link_set_name(br, p->bridge);
	if (p->mtu)
		rtnl_link_set_mtu(br, p->mtu);
	r = tap_nlerr(rtnl_link_add(p->sk, br, NLM_F_CREATE | NLM_F_EXCL));
	rtnl_link_put(br);
	if (r == -EEXIST)
		return 0; /* made by someone else meanwhile */
	if (r < 0) {
		AETHER_ERR(p->host, "cannot create bridge %s: %s%s%s",
		    p->bridge, strerror(-r), r == -EPERM ? ": " : "",
		    r == -EPERM ? TAP_NEED_CAP_MSG : "");
		return r;
	}
	/* The kernel ignores IFLA_IFALIAS when creating a link: tag it
	 * (so any aether process knows it may remove it) and bring it up
	 * in a second request. */
	r = tap_get_link(p, 0, p->bridge, &made);
	if (r == 0) {
		ch = rtnl_link_alloc();
		if (!ch) {
			r = -ENOMEM;
		} else {
			rtnl_link_set_ifalias(ch, TAP_BRIDGE_TAG);
			rtnl_link_set_flags(ch, IFF_UP);
			r = tap_nlerr(rtnl_link_change(p->sk, made, ch, 0));
			rtnl_link_put(ch);
		}
		if (r < 0)
			tap_del_link_index(p, rtnl_link_get_ifindex(made));
		rtnl_link_put(made);
	}
	if (r < 0) {
		AETHER_ERR(p->host, "cannot set up new bridge %s: %s",
		    p->bridge, strerror(-r));
		return r;
	}
	AETHER_NOTICE(p->host, "created bridge %s", p->bridge);
	return 0;
}

/* Look the bridge up (creating it when allowed); return its ifindex and
 * MTU.  The full rtnetlink lookup (with the "is it a bridge" check) runs
 * once per bridge ifindex; after that two ioctls tell whether it is still
 * the same device and its current MTU. */
int tap_find_bridge(struct tap_plugin *p, int *ifindex, unsigned *mtu)
{
	struct rtnl_link *br;
	struct ifreq ifr;
	int r, iofd = nl_socket_get_fd(p->sk);

	memset(&ifr, 0, sizeof ifr);
	snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", p->bridge);
	if (p->br_index > 0 && ioctl(iofd, SIOCGIFINDEX, &ifr) == 0 &&
	    ifr.ifr_ifindex == p->br_index &&
	    ioctl(iofd, SIOCGIFMTU, &ifr) == 0) {
		*ifindex = p->br_index;
		*mtu = (unsigned)ifr.ifr_mtu;
		return 0;
	}
	p->br_index = 0;

	r = tap_get_link(p, 0, p->bridge, &br);

	if (r == -ENODEV && p->create_bridge) {
		r = create_bridge(p);
		if (r < 0)
			return r;
		r = tap_get_link(p, 0, p->bridge, &br);
	}
	if (r == -ENODEV) {
		AETHER_ERR(p->host,
		    "bridge %s does not exist: create it or set create_bridge = yes",
		    p->bridge);
		return -ENODEV;
	}
	if (r < 0) {
		AETHER_ERR(p->host, "cannot look up bridge %s: %s", p->bridge,
		    strerror(-r));
		return r;
	}
	if (!tap_link_is_type(br, "bridge")) {
		const char *t = rtnl_link_get_type(br);
		AETHER_ERR(p->host,
		    "%s is not a bridge (it is %s%s): set bridge = to a Linux bridge",
		    p->bridge, t ? "a device of type " : "a plain device",
		    t ? t : "");
		rtnl_link_put(br);
		return -EINVAL;
	}
	if (!(rtnl_link_get_flags(br) & IFF_UP) &&
	    link_alias_is(br, TAP_BRIDGE_TAG)) {
		/* ours, maybe made by an older run: make sure it is up */
		struct rtnl_link *ch = rtnl_link_alloc();
		if (ch) {
			rtnl_link_set_flags(ch, IFF_UP);
			rtnl_link_change(p->sk, br, ch, 0);
			rtnl_link_put(ch);
		}
	}
	*ifindex = rtnl_link_get_ifindex(br);
	*mtu = rtnl_link_get_mtu(br);
	p->br_index = *ifindex;
	rtnl_link_put(br);
	return 0;
}

/* Remove the bridge when this plugin made it and no port is left. */
void tap_maybe_remove_bridge(struct tap_plugin *p)
{
	struct rtnl_link *br;
	unsigned n = 1;
	int r;

	if (!p->create_bridge)
		return;
	if (tap_get_link(p, 0, p->bridge, &br) < 0)
		return;
	if (!tap_link_is_type(br, "bridge") || !link_alias_is(br, TAP_BRIDGE_TAG)) {
		rtnl_link_put(br);
		return;
	}
	r = count_ports(p, rtnl_link_get_ifindex(br), &n);
	if (r == 0 && n == 0) {
		r = tap_del_link_index(p, rtnl_link_get_ifindex(br));
		if (r == 0)
			AETHER_NOTICE(p->host,
			    "removed bridge %s (made by aether, no port left)",
			    p->bridge);
		else if (r != -ENODEV)
			AETHER_WARN(p->host, "cannot remove bridge %s: %s",
			    p->bridge, strerror(-r));
	}
	rtnl_link_put(br);
}
