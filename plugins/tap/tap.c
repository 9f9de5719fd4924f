/*
 * tap - per-VM TAP devices on a Linux bridge.
 *
 * Every VM NIC gets its own TAP device made through /dev/net/tun
 * (IFF_TAP | IFF_NO_PI, IFF_VNET_HDR when the kernel offers it,
 * IFF_MULTI_QUEUE when queues > 1).  Everything else is done with
 * rtnetlink through libnl-route-3 on one socket kept open from init:
 * look the bridge up, copy its MTU, set the host-side MAC, tag the device
 * (link group + ifalias), bring it up and enslave it, all in one
 * RTM_NEWLINK request.  No `ip`, no shell.
 *
 * The open queue fds go to the hypervisor.  By default the device is not
 * persistent: it disappears when the last fd closes, so a crashed QEMU
 * cannot leak it.  With persistent = yes, detach (or gc) deletes it.
 *
 * Every device aether makes carries the ifalias
 * "aether-tap:<root id>:<vm id>" and sits in link group `link_group`.
 * The root id (12 hex digits) names the runtime root whose VM it is
 * (a hash of the plugin's runtime directory): gc in one runtime root (one
 * user, or one configured runtime_dir) deletes only that root's devices.
 * Devices of other roots, and those with the older alias "aether-tap:<vm
 * id>" that does not say whose they are, are left alone.  gc dumps the links once, picks the
 * devices of VMs that are not alive and deletes them with a single
 * RTM_DELLINK by link group (ifindex 0 + IFLA_GROUP), so the kernel pays
 * one RCU grace period for the whole batch instead of one per device.
 *
 * This file holds the plugin verbs; the rtnetlink requests and the bridge
 * are in netlink.c, the shared state in tap.h.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/capability.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <linux/rtnetlink.h>

#include <netlink/netlink.h>
#include <netlink/msg.h>
#include <netlink/attr.h>
#include <netlink/errno.h>
#include <netlink/socket.h>
#include <netlink/cache.h>
#include <netlink/route/link.h>
#include <netlink/route/neighbour.h>
#include <netlink/route/addr.h>

#include <aether/plugin.h>

#include "netlink.h"
#include "tap.h"
#include "tapname.h"

#define TUN_PATH "/dev/net/tun"
#define VHOST_PATH "/dev/vhost-net"
#define TAP_ALIAS_TAG "aether-tap:"
#define TAP_DEFAULT_GROUP "44666" /* 0xae7a */
#define TAP_ID_MAX 200

/* ------------------------------------------------------------------ */
/* Options.                                                           */

static const struct aether_option tap_options[] = {
	{ .key = "bridge", .type = AETHER_OPT_IFNAME, .def = "br0",
	  .help = "bridge the TAP devices are attached to" },
	{ .key = "network", .type = AETHER_OPT_STRING,
	  .help = "managed network ([net.NAME] of the host config) whose bridge the TAP devices join; not with bridge" },
	{ .key = "create_bridge", .type = AETHER_OPT_BOOL, .def = "no",
	  .help = "create the bridge when missing and remove it when its last port goes" },
	{ .key = "prefix", .type = AETHER_OPT_STRING, .def = "ae",
	  .help = "device name prefix, [A-Za-z0-9_.-], not ending in a digit; name = prefix + VM index" },
	{ .key = "ifname", .type = AETHER_OPT_IFNAME,
	  .help = "explicit host device name instead of prefix + VM index" },
	{ .key = "queues", .type = AETHER_OPT_INT, .def = "1",
	  .help = "number of queues (fds); > 1 makes a multiqueue device",
	  .min = 1, .max = AETHER_MAX_QUEUES },
	{ .key = "vhost", .type = AETHER_OPT_BOOL, .def = "no",
	  .help = "hand QEMU /dev/vhost-net fds (vhostfds=) when it can be opened" },
	{ .key = "vnet_hdr", .type = AETHER_OPT_BOOL, .def = "yes",
	  .help = "use IFF_VNET_HDR (offloads) when the kernel offers it" },
	{ .key = "persistent", .type = AETHER_OPT_BOOL, .def = "no",
	  .help = "keep the device when its fds close (detach or gc deletes it)" },
	{ .key = "owner", .type = AETHER_OPT_STRING,
	  .help = "user (name or uid) allowed to use the device; default the VM's uid" },
	{ .key = "group", .type = AETHER_OPT_STRING,
	  .help = "group (name or gid) allowed to use the device; default the VM's gid" },
	{ .key = "mtu", .type = AETHER_OPT_INT, .def = "0",
	  .help = "device MTU; 0 copies the bridge's", .min = 0, .max = 65535 },
	{ .key = "link_group", .type = AETHER_OPT_INT, .def = TAP_DEFAULT_GROUP,
	  .help = "netlink link group of aether's devices (link_group+1 is used by batched gc)",
	  .min = 1, .max = 4294967294LL },
	{ .key = NULL },
};

/* ------------------------------------------------------------------ */
/* Attachment state (the plugin's is in tap.h).                       */

struct tap_att {
	char ifname[IFNAMSIZ];
	int ifindex;
	bool persistent;
};

/* ------------------------------------------------------------------ */
/* init / fini.                                                       */

static bool has_net_admin(void)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];

	memset(data, 0, sizeof data);
	if (syscall(SYS_capget, &hdr, data) != 0)
		return true; /* cannot tell: let the kernel decide */
	return (data[CAP_NET_ADMIN / 32].effective &
		(1u << (CAP_NET_ADMIN % 32))) != 0;
}

static int resolve_user(const struct aether_host *h, const char *s,
			uid_t *out)
{
	char buf[4096];
	struct passwd pw, *res = NULL;
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (*s && *end == '\0' && errno == 0 && v < (unsigned long)UINT32_MAX) {
		*out = (uid_t)v;
		return 0;
	}
	if (getpwnam_r(s, &pw, buf, sizeof buf, &res) == 0 && res) {
		*out = res->pw_uid;
		return 0;
	}
	aether_opt_report(h, "owner", 0, "no such user");
	return -EINVAL;
}

static int resolve_group(const struct aether_host *h, const char *s,
			 gid_t *out)
{
	char buf[4096];
	struct group gr, *res = NULL;
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (*s && *end == '\0' && errno == 0 && v < (unsigned long)UINT32_MAX) {
		*out = (gid_t)v;
		return 0;
	}
	if (getgrnam_r(s, &gr, buf, sizeof buf, &res) == 0 && res) {
		*out = res->gr_gid;
		return 0;
	}
	aether_opt_report(h, "group", 0, "no such group");
	return -EINVAL;
}

static int opt_flag(const struct aether_host *h, const char *key, bool *out)
{
	int v = 0, r = h->opt_bool(h, key, &v);
	if (r < 0)
		return r;
	*out = v != 0;
	return 0;
}

/* The runtime root's id: FNV-1a of the real path of the plugin's
 * runtime directory (<root>/plugins/tap), 48 bits in hex. */
static void make_root_id(const struct aether_host *host, char out[13])
{
	char real[PATH_MAX];
	const char *dir = host->runtime_dir ? host->runtime_dir : "";
	uint64_t h = 0xcbf29ce484222325ull;

	if (*dir && realpath(dir, real))
		dir = real;
	for (; *dir; dir++) {
		h ^= (unsigned char)*dir;
		h *= 0x100000001b3ull;
	}
	snprintf(out, 13, "%012" PRIx64, (uint64_t)(h & 0xffffffffffffull));
}

/* Every option value this plugin parses, into p: called by validate (on a
 * scratch struct, from check-config and before init) and by init. */
static int tap_parse_options(const struct aether_host *host,
			     struct tap_plugin *p)
{
	const char *s;
	int64_t v;
	int r;

	s = host->opt_get(host, "bridge", 0);
	if (!s || tap_name_check(s) < 0) {
		aether_opt_report(host, "bridge", 0,
			"not a valid interface name (1-15 of [A-Za-z0-9_.-])");
		return -EINVAL;
	}
	snprintf(p->bridge, sizeof p->bridge, "%s", s);

	s = host->opt_get(host, "prefix", 0);
	if (!s || tap_prefix_check(s) < 0) {
		aether_opt_report(host, "prefix", 0,
			"must be 1-%d of [A-Za-z0-9_.-] and not end in a digit",
			TAP_PREFIX_MAX);
		return -EINVAL;
	}
	snprintf(p->prefix, sizeof p->prefix, "%s", s);

	s = host->opt_get(host, "ifname", 0);
	if (s) {
		if (tap_name_check(s) < 0) {
			aether_opt_report(host, "ifname", 0,
				"not a valid interface name (1-15 of "
				"[A-Za-z0-9_.-])");
			return -EINVAL;
		}
		if (strcmp(s, p->bridge) == 0) {
			aether_opt_report(host, "ifname", 0, "is the bridge itself");
			return -EINVAL;
		}
		snprintf(p->ifname, sizeof p->ifname, "%s", s);
	}

	if ((r = opt_flag(host, "create_bridge", &p->create_bridge)) < 0 ||
	    (r = opt_flag(host, "vhost", &p->vhost)) < 0 ||
	    (r = opt_flag(host, "vnet_hdr", &p->vnet_hdr)) < 0 ||
	    (r = opt_flag(host, "persistent", &p->persistent)) < 0) {
		AETHER_ERR(host, "bad boolean option: %s", strerror(-r));
		return r;
	}

	v = 1;
	if ((r = host->opt_int(host, "queues", &v)) < 0 && r != -ENOENT)
		return r;
	if (v < 1 || v > AETHER_MAX_QUEUES) {
		aether_opt_report(host, "queues", 0, "must be 1..%d", AETHER_MAX_QUEUES);
		return -EINVAL;
	}
	p->queues = (unsigned)v;

	v = 0;
	if ((r = host->opt_int(host, "mtu", &v)) < 0 && r != -ENOENT)
		return r;
	if (v != 0 && (v < 68 || v > 65535)) {
		aether_opt_report(host, "mtu", 0, "must be 0 or 68..65535");
		return -EINVAL;
	}
	p->mtu = (uint32_t)v;

	v = 0;
	r = host->opt_int(host, "link_group", &v);
	if (r == -ENOENT)
		v = strtoll(TAP_DEFAULT_GROUP, NULL, 10);
	else if (r < 0)
		return r;
	if (v < 1 || v > 4294967294LL) {
		aether_opt_report(host, "link_group", 0,
			"must be 1..4294967294 (0 is every device's default "
			"group)");
		return -EINVAL;
	}
	p->link_group = (uint32_t)v;

	s = host->opt_get(host, "owner", 0);
	if (s) {
		if ((r = resolve_user(host, s, &p->owner)) < 0)
			return r;
		p->have_owner = true;
	}
	s = host->opt_get(host, "group", 0);
	if (s) {
		if ((r = resolve_group(host, s, &p->group)) < 0)
			return r;
		p->have_group = true;
	}
	return 0;
}

static int tap_validate(const struct aether_host *host)
{
	struct tap_plugin scratch = { .host = host };

	return tap_parse_options(host, &scratch);
}

static int tap_init(const struct aether_host *host, void **state)
{
	struct tap_plugin *p;
	int r, fd;

	p = calloc(1, sizeof *p);
	if (!p)
		return -ENOMEM;
	p->host = host;
	make_root_id(host, p->root_id);

	r = tap_parse_options(host, p);
	if (r < 0)
		goto fail;

	if (!has_net_admin()) {
		AETHER_ERR(p->host, "the tap backend %s", TAP_NEED_CAP_MSG);
		r = -EPERM;
		goto fail;
	}

	fd = open(TUN_PATH, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		AETHER_ERR(p->host, "cannot open %s: %s%s", TUN_PATH,
		    strerror(-r),
		    r == -ENOENT ? " (load the tun module: modprobe tun)" : "");
		goto fail;
	}
	if (ioctl(fd, TUNGETFEATURES, &p->tun_features) < 0)
		p->tun_features = IFF_TAP | IFF_NO_PI;
	close(fd);
	if (p->queues > 1 && !(p->tun_features & IFF_MULTI_QUEUE)) {
		AETHER_ERR(p->host,
		    "queues = %u but this kernel has no multiqueue TAP (IFF_MULTI_QUEUE)",
		    p->queues);
		r = -EOPNOTSUPP;
		goto fail;
	}
	if (p->vnet_hdr && !(p->tun_features & IFF_VNET_HDR)) {
		AETHER_INFO(p->host,
		    "vnet_hdr off: the kernel does not offer IFF_VNET_HDR");
		p->vnet_hdr = false;
	}

	p->sk = nl_socket_alloc();
	if (!p->sk) {
		r = -ENOMEM;
		goto fail;
	}
	r = tap_nlerr(nl_connect(p->sk, NETLINK_ROUTE));
	if (r < 0) {
		AETHER_ERR(p->host, "cannot open an rtnetlink socket: %s",
		    strerror(-r));
		goto fail;
	}
	/* One recvmsg per reply instead of a MSG_PEEK first: a buffer
	 * large enough for any dump chunk (the kernel sizes dump chunks to
	 * the largest buffer seen). */
	nl_socket_set_msg_buf_size(p->sk, 65536);
	nl_socket_disable_msg_peek(p->sk);
	*state = p;
	return 0;
fail:
	if (p->sk)
		nl_socket_free(p->sk);
	free(p);
	return r;
}

static void tap_fini(void *state)
{
	struct tap_plugin *p = state;
	if (!p)
		return;
	nl_socket_free(p->sk);
	free(p);
}

/* ------------------------------------------------------------------ */
/* attach.                                                            */

static void close_fds(int *fds, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (fds[i] >= 0) {
			close(fds[i]);
			fds[i] = -1;
		}
}

static int open_queue(struct tap_plugin *p, const char *name, unsigned q,
		      bool vnet_hdr)
{
	struct ifreq ifr;
	int fd, r;

	fd = open(TUN_PATH, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		AETHER_ERR(p->host, "cannot open %s: %s", TUN_PATH,
		    strerror(-r));
		return r;
	}
	memset(&ifr, 0, sizeof ifr);
	snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", name);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	if (vnet_hdr)
		ifr.ifr_flags |= IFF_VNET_HDR;
	if (p->queues > 1)
		ifr.ifr_flags |= IFF_MULTI_QUEUE;
	if (q == 0)
		ifr.ifr_flags |= IFF_TUN_EXCL; /* never reuse a device */
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		r = -errno;
		close(fd);
		if (r == -EBUSY && q == 0)
			AETHER_ERR(p->host,
			    "cannot create TAP device %s: a device with that name already exists (another VM, or a leftover: run aether gc)",
			    name);
		else if (r == -EPERM)
			AETHER_ERR(p->host, "cannot create TAP device %s: %s",
			    name, TAP_NEED_CAP_MSG);
		else
			AETHER_ERR(p->host,
			    "cannot create TAP device %s (queue %u): %s", name, q,
			    strerror(-r));
		return r;
	}
	if (strcmp(ifr.ifr_name, name) != 0) {
		close(fd);
		AETHER_ERR(p->host, "kernel named the device %s, not %s",
		    ifr.ifr_name, name);
		return -EINVAL;
	}
	return fd;
}

/* The device's name (ifname, or prefix + VM index [+ "n" + nic]) and its
 * alias tag "aether-tap:<root id>:<vm id>".  Nothing is made yet. */
static int attach_name(struct tap_plugin *p, const struct aether_vm *vm,
		       char name[IFNAMSIZ], char *alias, size_t alias_len)
{
	if (p->ifname[0]) {
		snprintf(name, IFNAMSIZ, "%s", p->ifname);
	} else if (tap_name_make(name, IFNAMSIZ, p->prefix, vm->index,
				 vm->nic) < 0) {
		AETHER_ERR(p->host,
		    "device name %s + %u%s does not fit in 15 characters: use a shorter prefix",
		    p->prefix, vm->index, vm->nic ? " + nic" : "");
		return -ENAMETOOLONG;
	}
	if (tap_name_check(name) < 0) {
		AETHER_ERR(p->host, "invalid device name %s", name);
		return -EINVAL;
	}
	if (strcmp(name, p->bridge) == 0) {
		AETHER_ERR(p->host, "device name %s is the bridge's", name);
		return -EINVAL;
	}
	if (!vm->id || strlen(vm->id) > TAP_ID_MAX) {
		AETHER_ERR(p->host, "VM id missing or longer than %d",
		    TAP_ID_MAX);
		return -EINVAL;
	}
	snprintf(alias, alias_len, TAP_ALIAS_TAG "%s:%s", p->root_id, vm->id);
	return 0;
}

/* Make the device: one fd per queue.  On failure the fds opened so far
 * stay in fds for the caller to close. */
static int open_queues(struct tap_plugin *p, const char *name, int *fds)
{
	for (unsigned q = 0; q < p->queues; q++) {
		fds[q] = open_queue(p, name, q, p->vnet_hdr);
		if (fds[q] < 0) {
			int r = fds[q];
			fds[q] = -1;
			return r;
		}
	}
	return 0;
}

/* Who may use the device: owner = / group =, by default the VM's uid and
 * gid (device-wide, through the first queue's fd). */
static int set_owner(struct tap_plugin *p, const struct aether_vm *vm,
		     const char *name, int fd)
{
	uid_t uid = p->have_owner ? p->owner : vm->uid;
	gid_t gid = p->have_group ? p->group : vm->gid;
	int r;

	if (uid != (uid_t)-1 && ioctl(fd, TUNSETOWNER, (unsigned long)uid) < 0) {
		r = -errno;
		AETHER_ERR(p->host, "%s: TUNSETOWNER %u: %s", name,
		    (unsigned)uid, strerror(-r));
		return r;
	}
	if (gid != (gid_t)-1 && ioctl(fd, TUNSETGROUP, (unsigned long)gid) < 0) {
		r = -errno;
		AETHER_ERR(p->host, "%s: TUNSETGROUP %u: %s", name,
		    (unsigned)gid, strerror(-r));
		return r;
	}
	return 0;
}

static int device_index(struct tap_plugin *p, const char *name, int *ifindex)
{
	struct ifreq ifr;
	int r;

	memset(&ifr, 0, sizeof ifr);
	snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", name);
	if (ioctl(nl_socket_get_fd(p->sk), SIOCGIFINDEX, &ifr) < 0) {
		r = -errno;
		AETHER_ERR(p->host, "%s: cannot get its ifindex: %s", name,
		    strerror(-r));
		return r;
	}
	*ifindex = ifr.ifr_ifindex;
	return 0;
}

/* One RTM_NEWLINK: host-side MAC (the guest's with 0xfe first, so the
 * bridge never takes it as its own address), MTU, link group, alias tag,
 * up, enslave to bridge br_index. */
static int configure_device(struct tap_plugin *p, const struct aether_vm *vm,
			    const char *name, int ifindex, const char *alias,
			    unsigned mtu, int br_index, unsigned br_mtu)
{
	struct rtnl_link *orig = NULL, *ch = NULL;
	struct nl_addr *addr = NULL;
	uint8_t mac[6];
	int r;

	memcpy(mac, vm->mac, sizeof mac);
	mac[0] = 0xfe;
	orig = rtnl_link_alloc();
	ch = rtnl_link_alloc();
	addr = nl_addr_build(AF_LLC, mac, sizeof mac);
	if (!orig || !ch || !addr) {
		r = -ENOMEM;
		goto out;
	}
	rtnl_link_set_ifindex(orig, ifindex);
	rtnl_link_set_addr(ch, addr);
	if (mtu)
		rtnl_link_set_mtu(ch, mtu);
	rtnl_link_set_group(ch, p->link_group);
	rtnl_link_set_ifalias(ch, alias);
	rtnl_link_set_flags(ch, IFF_UP);
	rtnl_link_set_master(ch, br_index);
	r = tap_nlerr(rtnl_link_change(p->sk, orig, ch, 0));
	if (r < 0) {
		if (r == -EINVAL && mtu && mtu != br_mtu)
			AETHER_ERR(p->host,
			    "cannot configure %s (MTU %u, bridge %s): %s", name,
			    mtu, p->bridge, strerror(-r));
		else
			AETHER_ERR(p->host,
			    "cannot configure %s and add it to bridge %s: %s",
			    name, p->bridge, strerror(-r));
	}
out:
	if (addr)
		nl_addr_put(addr);
	if (orig)
		rtnl_link_put(orig);
	if (ch)
		rtnl_link_put(ch);
	return r;
}

/* vhost = yes: one /dev/vhost-net fd per queue, or none at all (vhost
 * off, not an error). */
static void open_vhost(struct tap_plugin *p, const char *name, int *vfds)
{
	for (unsigned q = 0; q < p->queues; q++) {
		vfds[q] = open(VHOST_PATH, O_RDWR | O_CLOEXEC);
		if (vfds[q] < 0) {
			int e = errno;
			close_fds(vfds, q);
			AETHER_NOTICE(p->host,
			    "vhost off for %s: cannot open %s: %s%s", name,
			    VHOST_PATH, strerror(e),
			    e == ENOENT ? " (load the vhost_net module)" : "");
			return;
		}
	}
}

/* Steps: name the device, find the bridge, open the queues (which makes
 * the device), set its owner, configure and enslave it, make it
 * persistent, open vhost.  On failure nothing is left behind: the fds
 * close (a device that is not persistent goes with them; a persistent
 * one is made non-persistent first), and a bridge this plugin made for
 * it goes when it has no port left. */
static int tap_attach(void *state, const struct aether_vm *vm,
		      struct aether_attachment *att, void **att_state)
{
	struct tap_plugin *p = state;
	struct tap_att *st = NULL;
	int fds[AETHER_MAX_QUEUES], vfds[AETHER_MAX_QUEUES];
	char name[IFNAMSIZ], alias[sizeof TAP_ALIAS_TAG + 13 + TAP_ID_MAX];
	unsigned br_mtu = 0, mtu;
	int br_index = 0, ifindex = 0, r;
	unsigned q;

	for (q = 0; q < AETHER_MAX_QUEUES; q++)
		fds[q] = vfds[q] = -1;

	r = attach_name(p, vm, name, alias, sizeof alias);
	if (r < 0)
		return r;
	r = tap_find_bridge(p, &br_index, &br_mtu);
	if (r < 0)
		return r;
	mtu = p->mtu ? p->mtu : br_mtu;

	st = calloc(1, sizeof *st);
	if (!st)
		return -ENOMEM;

	if ((r = open_queues(p, name, fds)) < 0 ||
	    (r = set_owner(p, vm, name, fds[0])) < 0 ||
	    (r = device_index(p, name, &ifindex)) < 0)
		goto fail;
	snprintf(st->ifname, sizeof st->ifname, "%s", name);
	st->ifindex = ifindex;

	r = configure_device(p, vm, name, ifindex, alias, mtu, br_index,
			     br_mtu);
	if (r < 0)
		goto fail;

	/* Persistent only now that the device carries its tags: a crash
	 * before this point leaves a device that dies with its fds, a crash
	 * after it one that gc recognises. */
	if (p->persistent) {
		if (ioctl(fds[0], TUNSETPERSIST, 1UL) < 0) {
			r = -errno;
			AETHER_ERR(p->host, "%s: TUNSETPERSIST: %s", name,
			    strerror(-r));
			goto fail;
		}
		st->persistent = true;
	}

	if (p->vhost)
		open_vhost(p, name, vfds);

	att->kind = AETHER_ATTACH_TAP;
	att->mtu = mtu;
	for (q = 0; q < AETHER_MAX_QUEUES; q++) {
		att->tap.fds[q] = fds[q];
		att->tap.vhostfds[q] = vfds[q];
	}
	att->tap.queues = p->queues;
	att->tap.vnet_hdr = p->vnet_hdr ? 1 : 0;
	snprintf(att->tap.ifname, sizeof att->tap.ifname, "%s", name);

	AETHER_DEBUG(p->host, "%s: %s on %s, %u queue(s), mtu %u%s%s", vm->name,
	    name, p->bridge, p->queues, mtu, p->vnet_hdr ? ", vnet_hdr" : "",
	    vfds[0] >= 0 ? ", vhost" : "");
	*att_state = st;
	return 0;

fail:
	/* A persistent device would survive its fds. */
	if (st->persistent && fds[0] >= 0)
		ioctl(fds[0], TUNSETPERSIST, 0UL);
	close_fds(vfds, AETHER_MAX_QUEUES);
	close_fds(fds, AETHER_MAX_QUEUES);
	free(st);
	if (r != -ENODEV) /* not for a missing bridge: nothing was made */
		tap_maybe_remove_bridge(p);
	return r;
}

/* ------------------------------------------------------------------ */
/* detach / check.                                                    */

/* Delete device st if it still exists and is still the one we made. */
static int delete_device(struct tap_plugin *p, const struct tap_att *st)
{
	struct rtnl_link *l;
	int r = tap_get_link(p, st->ifindex, NULL, &l);

	if (r == -ENODEV)
		return 0; /* gone with its last fd (or by hand) */
	if (r < 0)
		return r;
	if (strcmp(rtnl_link_get_name(l), st->ifname) != 0) {
		rtnl_link_put(l);
		return 0; /* not ours any more */
	}
	rtnl_link_put(l);
	r = tap_del_link_index(p, st->ifindex);
	return r == -ENODEV ? 0 : r;
}

static int tap_detach(void *state, const struct aether_vm *vm,
		      void *att_state)
{
	struct tap_plugin *p = state;
	struct tap_att *st = att_state;
	int r = 0;

	if (!st)
		return 0;
	if (st->ifindex > 0) {
		r = delete_device(p, st);
		if (r < 0)
			AETHER_WARN(p->host, "%s: cannot delete %s: %s",
			    vm ? vm->name : "?", st->ifname, strerror(-r));
	}
	tap_maybe_remove_bridge(p);
	free(st);
	return r;
}

static int tap_check(void *state, const struct aether_vm *vm,
		     void *att_state)
{
	struct tap_plugin *p = state;
	struct tap_att *st = att_state;
	struct rtnl_link *l = NULL, *br = NULL;
	int r;

	if (!st)
		return -EINVAL;
	r = tap_get_link(p, st->ifindex, NULL, &l);
	if (r == -ENODEV || (r == 0 && strcmp(rtnl_link_get_name(l),
					      st->ifname) != 0)) {
		AETHER_ERR(p->host, "%s: TAP device %s is gone",
		    vm ? vm->name : "?", st->ifname);
		r = -ENODEV;
		goto out;
	}
	if (r < 0) {
		AETHER_ERR(p->host, "%s: cannot look up %s: %s",
		    vm ? vm->name : "?", st->ifname, strerror(-r));
		goto out;
	}
	if (!(rtnl_link_get_flags(l) & IFF_UP)) {
		AETHER_ERR(p->host, "%s: TAP device %s is down",
		    vm ? vm->name : "?", st->ifname);
		r = -ENETDOWN;
		goto out;
	}
	r = tap_get_link(p, 0, p->bridge, &br);
	if (r < 0) {
		AETHER_ERR(p->host, "%s: bridge %s is gone",
		    vm ? vm->name : "?", p->bridge);
		r = -ENODEV;
		goto out;
	}
	if (rtnl_link_get_master(l) != rtnl_link_get_ifindex(br)) {
		AETHER_ERR(p->host, "%s: %s is not a port of bridge %s",
		    vm ? vm->name : "?", st->ifname, p->bridge);
		r = -ENOLINK;
		goto out;
	}
	r = 0;
out:
	if (l)
		rtnl_link_put(l);
	if (br)
		rtnl_link_put(br);
	return r;
}

/* ------------------------------------------------------------------ */
/* gc.                                                                */

struct gc_ctx {
	struct tap_plugin *p;
	const struct aether_vm *const *live;
	size_t n_live;
	int *doomed;        /* ifindexes */
	uint32_t *dgroup;   /* their current group */
	size_t n, cap;
	bool live_in_group;  /* something in link_group that stays */
	bool foreign_in_tmp; /* something in link_group+1 that stays */
	int err;
};

static bool live_id(const struct gc_ctx *c, const char *id)
{
	for (size_t i = 0; i < c->n_live; i++)
		if (c->live[i]->id && strcmp(c->live[i]->id, id) == 0)
			return true;
	return false;
}

static void gc_one(struct nl_object *obj, void *arg)
{
	struct gc_ctx *c = arg;
	struct rtnl_link *l = (struct rtnl_link *)obj;
	const char *name = rtnl_link_get_name(l);
	const char *alias = rtnl_link_get_ifalias(l);
	uint32_t group = rtnl_link_get_group(l);
	bool ours = false, dead = false;

	if (tap_link_is_type(l, "tun") && name && alias &&
	    strncmp(alias, TAP_ALIAS_TAG, strlen(TAP_ALIAS_TAG)) == 0) {
		const char *rest = alias + strlen(TAP_ALIAS_TAG);
		const char *colon = strchr(rest, ':');

		if (colon && (size_t)(colon - rest) == strlen(c->p->root_id) &&
		    strncmp(rest, c->p->root_id, (size_t)(colon - rest)) == 0) {
			ours = true;
			dead = !live_id(c, colon + 1);
		} else if (!colon && !live_id(c, rest)) {
			/* an older aether's: whose runtime root is unknown */
			AETHER_INFO(c->p->host,
			    "gc: leaving %s: its alias '%s' does not say which "
			    "runtime root made it (an older aether); delete it "
			    "by hand if no VM uses it", name, alias);
		}
	}
	if (ours && dead) {
		if (c->n == c->cap) {
			size_t ncap = c->cap ? c->cap * 2 : 64;
			int *d = realloc(c->doomed, ncap * sizeof *d);
			uint32_t *g;
			if (!d) {
				c->err = -ENOMEM;
				return;
			}
			c->doomed = d;
			g = realloc(c->dgroup, ncap * sizeof *g);
			if (!g) {
				c->err = -ENOMEM;
				return;
			}
			c->dgroup = g;
			c->cap = ncap;
		}
		c->doomed[c->n] = rtnl_link_get_ifindex(l);
		c->dgroup[c->n] = group;
		c->n++;
		return;
	}
	if (group == c->p->link_group)
		c->live_in_group = true;
	if (group == c->p->link_group + 1)
		c->foreign_in_tmp = true;
}

static int tap_gc(void *state, const struct aether_vm *const *live,
		  size_t n_live)
{
	struct tap_plugin *p = state;
	struct gc_ctx c = { .p = p, .live = live, .n_live = n_live };
	struct nl_cache *cache = NULL;
	uint32_t tmp = p->link_group + 1;
	int r, first = 0;
	size_t i, deleted = 0;

	r = tap_nlerr(rtnl_link_alloc_cache(p->sk, AF_UNSPEC, &cache));
	if (r < 0) {
		AETHER_ERR(p->host, "gc: cannot list links: %s", strerror(-r));
		return r;
	}
	nl_cache_foreach(cache, gc_one, &c);
	nl_cache_free(cache);
	if (c.err < 0) {
		r = c.err;
		goto out;
	}
	if (c.n == 0)
		goto bridge;

	if (n_live == 0 && !c.live_in_group) {
		/* Nothing alive (stop all, or clean up after a crash): every
		 * device in our group goes, in one request.  Devices of ours
		 * in other groups (older runs, other settings) join it
		 * first. */
		for (i = 0; i < c.n; i++)
			if (c.dgroup[i] != p->link_group) {
				r = tap_set_link_group(p, c.doomed[i],
						       p->link_group);
				if (r < 0 && r != -ENODEV && !first)
					first = r;
			}
		r = tap_del_link_group(p, p->link_group);
	} else if (!c.foreign_in_tmp) {
		/* Some VMs live on: only the doomed devices move to the
		 * batch group (link_group + 1), which is then deleted.  A
		 * device attached meanwhile stays in link_group, safe. */
		for (i = 0; i < c.n; i++) {
			r = tap_set_link_group(p, c.doomed[i], tmp);
			if (r < 0 && r != -ENODEV && !first)
				first = r;
		}
		r = tap_del_link_group(p, tmp);
	} else {
		r = -EBUSY; /* fall back to one by one */
	}
	if (r == 0 || r == -ENODEV) {
		deleted = c.n;
		r = 0;
	} else {
		/* One by one: slow (a grace period each) but always works. */
		AETHER_INFO(p->host,
		    "gc: batched delete not possible (%s), deleting one by one",
		    strerror(-r));
		r = 0;
		for (i = 0; i < c.n; i++) {
			int e = tap_del_link_index(p, c.doomed[i]);
			if (e == 0)
				deleted++;
			else if (e != -ENODEV && !r)
				r = e;
		}
	}
	if (!r && first)
		r = first;
	if (r < 0)
		AETHER_ERR(p->host, "gc: %s", strerror(-r));
	AETHER_INFO(p->host, "gc: removed %zu TAP device(s)", deleted);
bridge:
	tap_maybe_remove_bridge(p);
out:
	free(c.doomed);
	free(c.dgroup);
	return r;
}

/* ------------------------------------------------------------------ */

/* ------------------------------------------------------------------ */
/* addresses (ABI 1.1): what the host's neighbour tables know of the   */
/* guest: entries on the bridge whose link-layer address is the VM's  */
/* MAC (the guest talked to the host: ARP, NDP).  Works without the   */
/* attachment state, so any process can ask.                          */

static int tap_addresses(void *state, const struct aether_vm *vm,
			 void *att_state, struct aether_addr *out, size_t max)
{
	struct tap_plugin *p = state;
	struct nl_cache *cache = NULL;
	struct nl_object *obj;
	struct ifreq ifr;
	size_t n = 0;
	int br, r;

	(void)att_state;
	memset(&ifr, 0, sizeof ifr);
	snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", p->bridge);
	if (ioctl(nl_socket_get_fd(p->sk), SIOCGIFINDEX, &ifr) < 0)
		return 0; /* no bridge: nothing known */
	br = ifr.ifr_ifindex;
	r = tap_nlerr(rtnl_neigh_alloc_cache(p->sk, &cache));
	if (r < 0) {
		AETHER_WARN(p->host, "neighbour table: %s", strerror(-r));
		return r;
	}
	for (obj = nl_cache_get_first(cache); obj && n < max;
	     obj = nl_cache_get_next(obj)) {
		struct rtnl_neigh *ne = (struct rtnl_neigh *)obj;
		struct nl_addr *ll = rtnl_neigh_get_lladdr(ne);
		struct nl_addr *dst = rtnl_neigh_get_dst(ne);
		int st = rtnl_neigh_get_state(ne), fam;
		unsigned len;

		if (rtnl_neigh_get_ifindex(ne) != br || !ll || !dst ||
		    nl_addr_get_len(ll) != 6 ||
		    memcmp(nl_addr_get_binary_addr(ll), vm->mac, 6))
			continue;
		if (st & (NUD_FAILED | NUD_INCOMPLETE | NUD_NOARP))
			continue;
		fam = nl_addr_get_family(dst);
		len = nl_addr_get_len(dst);
		if (!((fam == AF_INET && len == 4) || (fam == AF_INET6 && len == 16)))
			continue;
		memset(&out[n], 0, sizeof out[n]);
		out[n].family = fam;
		memcpy(out[n].addr, nl_addr_get_binary_addr(dst), len);
		out[n].prefix = 0;
		out[n].source = "neigh";
		n++;
	}
	nl_cache_free(cache);
	return (int)n;
}

AETHER_PLUGIN_DEFINE(tap) = {
	AETHER_PLUGIN_HEADER,
	.caps = AETHER_CAP_ATTACH_TAP | AETHER_CAP_NEEDS_NET_ADMIN |
		AETHER_CAP_MULTIQUEUE,
	.name = "tap",
	.version = PACKAGE_VERSION,
	.description = "per-VM TAP devices on a Linux bridge (libnl-route-3)",
	.options = tap_options,
	.init = tap_init,
	.fini = tap_fini,
	.attach = tap_attach,
	.detach = tap_detach,
	.check = tap_check,
	.gc_v2 = tap_gc,
	.validate = tap_validate,
	.addresses = tap_addresses,
};
