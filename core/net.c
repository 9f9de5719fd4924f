/* net.c - managed networks: up, down, state, reservations, users, gc. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "addrpool.h"
#include "bridge.h"
#include "dnsmasq.h"
#include "net.h"
#include "nft.h"
#include "runtime.h"
#include "store.h"
#include "util.h"
#include "vmconf.h"

void ae_net_root_id(const char *rtroot, char out[13])
{
	char real[PATH_MAX];
	const char *dir = rtroot ? rtroot : "";
	uint64_t h = 0xcbf29ce484222325ull;

	if (*dir && realpath(dir, real))
		dir = real;
	for (; *dir; dir++) {
		h ^= (unsigned char)*dir;
		h *= 0x100000001b3ull;
	}
	snprintf(out, 13, "%012" PRIx64, (uint64_t)(h & 0xffffffffffffull));
}

static void make_alias(const char *rtroot, const char *name, char *out,
		       size_t len)
{
	char id[13];

	ae_net_root_id(rtroot, id);
	snprintf(out, len, AE_NET_ALIAS_TAG "%s:%s", id, name);
}

static char *rundir_path(const char *rtroot, const char *name)
{
	return ae_xasprintf("%s/net/%s", rtroot, name);
}

/* dnsmasq drops root after its start and re-reads the hosts files on
 * SIGHUP as its own user: the directories on the way must let it pass
 * (no listing: 0711), the files are world-readable (names, MACs and
 * addresses of the network's VMs). */
char *ae_net_rundir(const char *rtroot, const char *name)
{
	char *top = ae_xasprintf("%s/net", rtroot), *dir;
	int root = geteuid() == 0;

	if (root)
		chmod(rtroot, 0711);
	if (ae_mkdir_private(top, root ? 0711 : 0700) < 0) {
		free(top);
		return NULL;
	}
	free(top);
	dir = rundir_path(rtroot, name);
	if (ae_mkdir_private(dir, root ? 0711 : 0700) < 0) {
		free(dir);
		return NULL;
	}
	return dir;
}

int ae_net_pooldir(const char *name, char **out, char *err, size_t errlen)
{
	char *store, *top, *dir;
	int rc;

	if ((rc = ae_store_root(&store, err, errlen)) < 0)
		return rc;
	top = ae_xasprintf("%s/net", store);
	dir = ae_xasprintf("%s/%s", top, name);
	free(store);
	rc = ae_mkdir_private_err(top, 0700, "network store", err, errlen);
	if (rc == 0)
		rc = ae_mkdir_private_err(dir, 0700, "network store", err,
					  errlen);
	free(top);
	if (rc < 0) {
		free(dir);
		return rc;
	}
	*out = dir;
	return 0;
}

int ae_net_state(const struct ae_net *n, const char *rtroot,
		 struct ae_net_state *st)
{
	char alias[64], *dir = rundir_path(rtroot, n->name);
	int r;

	make_alias(rtroot, n->name, alias, sizeof alias);
	memset(st, 0, sizeof *st);
	r = ae_bridge_probe(n->bridge, alias);
	st->bridge = r == 1 ? 1 : r == -EEXIST ? -1 : 0;
	st->dnsmasq_pid = (long)ae_dnsmasq_running(dir);
	st->up = st->bridge == 1 && st->dnsmasq_pid > 0;
	free(dir);
	return 0;
}

static void nft_of(const struct ae_net *n, struct ae_nft_net *o)
{
	o->name = n->name;
	o->bridge = n->bridge;
	o->subnet4 = n->subnet4;
	o->subnet6 = n->has6 ? n->subnet6 : NULL;
	o->nat = n->nat;
}

/* Rewrite the hosts files from the pool, under the pool's lock (the last
 * writer always writes the newest state). */
static int write_hosts(const struct ae_net *n, const char *dir, char *err,
		       size_t errlen)
{
	struct ae_resv *v = NULL;
	char *pool;
	size_t cnt = 0;
	int rc, fd;

	if ((rc = ae_net_pooldir(n->name, &pool, err, errlen)) < 0)
		return rc;
	fd = ae_store_lock(pool, LOCK_EX);
	if (fd < 0) {
		rc = ae_seterr(err, errlen, -fd, "%s/lock: %s", pool,
			       strerror(-fd));
		free(pool);
		return rc;
	}
	rc = ae_pool_read(pool, &v, &cnt, err, errlen);
	if (rc == 0)
		rc = ae_dnsmasq_write_hosts(n, dir, v, cnt, err, errlen);
	if (rc == 0)
		ae_dnsmasq_reload(dir); /* when it runs */
	close(fd);
	free(v);
	free(pool);
	return rc;
}

int ae_net_reload(const struct ae_net *n, const char *rtroot, char *err,
		  size_t errlen)
{
	char *dir = rundir_path(rtroot, n->name);
	struct stat st;
	int rc = 0;

	if (stat(dir, &st) == 0) /* not started: nothing to tell */
		rc = write_hosts(n, dir, err, errlen);
	free(dir);
	return rc;
}

int ae_net_up_locked(const struct ae_net *n, const char *rtroot, char *err,
		     size_t errlen)
{
	char alias[64], *dir, why[512];
	struct ae_nft_net nn;
	int made_bridge = 0, started = 0, new_dir, rc;
	pid_t pid;
	struct stat st;

	make_alias(rtroot, n->name, alias, sizeof alias);
	{
		char *p = rundir_path(rtroot, n->name);
		new_dir = stat(p, &st) < 0;
		free(p);
	}
	rc = ae_bridge_probe(n->bridge, alias);
	if (rc == -EEXIST)
		return ae_seterr(err, errlen, EEXIST,
				 "network %s: device %s exists and is not "
				 "aether's bridge for it (no alias %s): "
				 "choose another bridge = in [net.%s] (%s:%d)",
				 n->name, n->bridge, alias, n->name, n->file,
				 n->line);
	if (rc < 0)
		return ae_seterr(err, errlen, -rc, "network %s: device %s: %s",
				 n->name, n->bridge, strerror(-rc));
	if (rc == 0) {
		rc = ae_route_conflict(n->net4, n->prefix4,
				       n->has6 ? &n->net6 : NULL, NULL, why,
				       sizeof why);
		if (rc == -EADDRINUSE)
			return ae_seterr(err, errlen, EADDRINUSE,
					 "%s:%d: network %s: subnet %s%s%s is "
					 "already in use on this host: %s",
					 n->file, n->line, n->name, n->subnet4,
					 n->has6 ? " or " : "",
					 n->has6 ? n->subnet6 : "", why);
		if (rc < 0)
			return ae_seterr(err, errlen, -rc, "network %s: %s",
					 n->name, why);
	}
	dir = ae_net_rundir(rtroot, n->name);
	if (!dir)
		return ae_seterr(err, errlen, EACCES,
				 "network %s: cannot make %s/net/%s", n->name,
				 rtroot, n->name);
	if (rc == 0) {
		rc = ae_bridge_create(n->bridge, alias, n->gw4, n->prefix4,
				      n->has6 ? n->gw6 : NULL, why, sizeof why);
		if (rc < 0) {
			ae_seterr(err, errlen, -rc, "network %s: %s", n->name,
				  why);
			goto fail;
		}
		made_bridge = 1;
	} else {
		rc = ae_bridge_ensure(n->bridge, alias, n->gw4, n->prefix4,
				      n->has6 ? n->gw6 : NULL, why, sizeof why);
		if (rc < 0) {
			ae_seterr(err, errlen, -rc, "network %s: %s", n->name,
				  why);
			goto fail;
		}
	}
	if ((rc = ae_dnsmasq_write_conf(n, dir, why, sizeof why)) < 0) {
		ae_seterr(err, errlen, -rc, "network %s: %s", n->name, why);
		goto fail;
	}
	if (rc == 1 && ae_dnsmasq_running(dir)) {
		/* the network's config changed: SIGHUP does not re-read it */
		ae_info("network %s: its config changed: restarting dnsmasq",
			n->name);
		ae_dnsmasq_stop(dir);
	}
	if ((rc = write_hosts(n, dir, why, sizeof why)) < 0) {
		ae_seterr(err, errlen, -rc, "network %s: %s", n->name, why);
		goto fail;
	}
	if (!ae_dnsmasq_running(dir)) {
		rc = ae_dnsmasq_start(dir, &pid, why, sizeof why);
		if (rc < 0) {
			ae_seterr(err, errlen, -rc, "network %s: %s", n->name,
				  why);
			goto fail;
		}
		started = 1;
	}
	if (n->nat &&
	    (rc = ae_sysctl_forwarding(n->has6, why, sizeof why)) < 0) {
		ae_seterr(err, errlen, -rc, "network %s: %s", n->name, why);
		goto fail;
	}
	nft_of(n, &nn);
	if ((rc = ae_nft_apply(&nn, why, sizeof why)) < 0) {
		ae_seterr(err, errlen, -rc, "network %s: %s", n->name, why);
		goto fail;
	}
	free(dir);
	return 0;
fail:
	if (started)
		ae_dnsmasq_stop(dir);
	if (made_bridge)
		ae_bridge_delete(n->bridge, alias, why, sizeof why);
	if (made_bridge || new_dir)
		ae_rmtree(dir);
	free(dir);
	return rc;
}

int ae_net_down_locked(const char *name, const struct ae_net *n,
		       const char *rtroot, char *err, size_t errlen)
{
	char alias[64], why[512], *dir, prefix[64], id[13];
	char **names = NULL, **rests = NULL;
	size_t cnt = 0, i;
	int rc = 0, r;

	if (!ae_net_valid_name(name))
		return ae_seterr(err, errlen, EINVAL,
				 "'%s' is not a network name", name);
	make_alias(rtroot, name, alias, sizeof alias);
	dir = rundir_path(rtroot, name);
	ae_dnsmasq_stop(dir);
	/* any dnsmasq on this conf whose pid file is gone */
	{
		pid_t *pids = NULL;
		char **nm = NULL;
		size_t k, np = 0;
		ae_dnsmasq_scan(rtroot, &pids, &nm, &np);
		for (k = 0; k < np; k++) {
			if (!strcmp(nm[k], name))
				kill(pids[k], SIGTERM);
			free(nm[k]);
		}
		free(pids);
		free(nm);
	}
	if (n) {
		r = ae_bridge_delete(n->bridge, alias, why, sizeof why);
		if (r < 0 && r != -EEXIST && !rc)
			rc = ae_seterr(err, errlen, -r, "network %s: %s", name,
				       why);
	}
	/* the bridge it had when its config said another name */
	ae_net_root_id(rtroot, id);
	snprintf(prefix, sizeof prefix, AE_NET_ALIAS_TAG "%s:", id);
	ae_bridge_list(prefix, &names, &rests, &cnt);
	for (i = 0; i < cnt; i++) {
		if (!strcmp(rests[i], name)) {
			r = ae_bridge_delete(names[i], alias, why, sizeof why);
			if (r < 0 && !rc)
				rc = ae_seterr(err, errlen, -r,
					       "network %s: %s", name, why);
		}
		free(names[i]);
		free(rests[i]);
	}
	free(names);
	free(rests);
	r = ae_nft_remove(name, why, sizeof why);
	if (r < 0 && !rc)
		rc = ae_seterr(err, errlen, -r, "network %s: %s", name, why);
	ae_rmtree(dir);
	free(dir);
	return rc;
}

int ae_net_reserve(const struct ae_net *n, const char *rtroot,
		   const char *vm, const uint8_t mac[6], char addr[16],
		   char *err, size_t errlen)
{
	char *pool, why[512];
	uint32_t a = 0;
	int changed = 0, rc;

	if ((rc = ae_net_pooldir(n->name, &pool, err, errlen)) < 0)
		return rc;
	rc = ae_pool_reserve(pool, n->first, n->last, vm, mac, &a, &changed,
			     why, sizeof why);
	free(pool);
	if (rc < 0)
		return ae_seterr(err, errlen, -rc, "network %s: %s", n->name,
				 why);
	ae_pool_fmt(a, addr);
	if (changed && rtroot &&
	    ae_net_reload(n, rtroot, why, sizeof why) < 0)
		ae_warn("network %s: %s", n->name, why);
	return 0;
}

int ae_net_vm_address(const struct ae_net *n, const char *rtroot,
		      const char *vm, char addr[16], int *leased)
{
	char *store, err[256], *dir;
	struct ae_resv *v = NULL;
	size_t cnt = 0, i;
	int rc = -ENOENT;

	*leased = 0;
	if (ae_store_root(&store, err, sizeof err) < 0)
		return -ENOENT;
	dir = ae_xasprintf("%s/net/%s", store, n->name);
	free(store);
	if (ae_pool_read(dir, &v, &cnt, err, sizeof err) == 0)
		for (i = 0; i < cnt; i++)
			if (!strcmp(v[i].vm, vm)) {
				char *rd = rundir_path(rtroot, n->name);
				ae_pool_fmt(v[i].addr, addr);
				*leased = rtroot && ae_dnsmasq_leased(
						rd, v[i].mac, v[i].addr);
				free(rd);
				rc = 0;
				break;
			}
	free(v);
	free(dir);
	return rc;
}

void ae_net_names_free(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

int ae_net_users(const char *rtroot, const char *name, char ***vms,
		 size_t *n)
{
	struct ae_live_vm *live = NULL;
	size_t nl = 0, i;
	int rc;

	*vms = NULL;
	*n = 0;
	if ((rc = ae_runtime_live(rtroot, &live, &nl)) < 0)
		return rc;
	for (i = 0; i < nl; i++) {
		char *dir = ae_xasprintf("%s/vms/%s", rtroot, live[i].name);
		char *path = ae_xasprintf("%s/" AE_NET_VM_FILE, dir), *text = NULL;
		size_t len;

		if (ae_read_file(path, &text, &len, 256) == 0) {
			while (len && text[len - 1] == '\n')
				text[--len] = '\0';
			if (!strcmp(text, name)) {
				*vms = ae_xrealloc(*vms, (*n + 1) * sizeof **vms);
				(*vms)[(*n)++] = ae_xstrdup(live[i].name);
			}
		}
		free(text);
		free(path);
		free(dir);
	}
	ae_runtime_live_free(live, nl);
	return 0;
}

static int in_names(char **v, size_t n, const char *s)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strcmp(v[i], s))
			return 1;
	return 0;
}

static int gc_down(const char *name, const struct ae_net *n,
		   const char *rtroot, const char *why)
{
	char err[512];

	if (ae_net_down_locked(name, n, rtroot, err, sizeof err) < 0) {
		ae_warn("gc: network %s: %s", name, err);
		return 0;
	}
	ae_info("gc: network %s removed (%s)", name, why);
	return 1;
}

int ae_net_gc_locked(const struct ae_netconf *nc, const char *rtroot)
{
	char **done = NULL, **names = NULL, **rests = NULL, prefix[64];
	char id[13], err[512], *top;
	size_t nd = 0, cnt = 0, i;
	int removed = 0;
	DIR *d;

#define DONE(nm) (done = ae_xrealloc(done, (nd + 1) * sizeof *done), \
		  done[nd++] = ae_xstrdup(nm))
	/* configured networks that were started and broke */
	for (i = 0; nc && i < nc->n; i++) {
		const struct ae_net *n = &nc->v[i];
		char *dir = rundir_path(rtroot, n->name), **users = NULL;
		struct ae_net_state st;
		struct stat sb;
		size_t nu = 0;

		if (stat(dir, &sb) < 0) {
			free(dir);
			continue;
		}
		free(dir);
		ae_net_state(n, rtroot, &st);
		if (st.up)
			continue;
		ae_net_users(rtroot, n->name, &users, &nu);
		if (nu) {
			ae_warn("gc: network %s is broken (%s) but VM %s uses "
				"it: left alone (aether net start %s repairs "
				"it)", n->name,
				st.dnsmasq_pid ? "its bridge is gone"
					       : "its dnsmasq is gone",
				users[0], n->name);
			ae_net_names_free(users, nu);
			continue;
		}
		removed += gc_down(n->name, n, rtroot,
				   st.dnsmasq_pid ? "its bridge was gone"
						  : "its dnsmasq was gone");
		DONE(n->name);
	}
	/* what is left of networks that are not configured any more */
	ae_net_root_id(rtroot, id);
	snprintf(prefix, sizeof prefix, AE_NET_ALIAS_TAG "%s:", id);
	if (ae_bridge_list(prefix, &names, &rests, &cnt) == 0)
		for (i = 0; i < cnt; i++)
			if (!ae_netconf_find(nc, rests[i]) &&
			    !in_names(done, nd, rests[i]) &&
			    ae_net_valid_name(rests[i])) {
				removed += gc_down(rests[i], NULL, rtroot,
						   "not configured");
				DONE(rests[i]);
			}
	ae_net_names_free(names, cnt);
	ae_net_names_free(rests, cnt);
	top = ae_xasprintf("%s/net", rtroot);
	if ((d = opendir(top))) {
		struct dirent *de;
		while ((de = readdir(d)))
			if (ae_net_valid_name(de->d_name) &&
			    !ae_netconf_find(nc, de->d_name) &&
			    !in_names(done, nd, de->d_name)) {
				char *nm = ae_xstrdup(de->d_name);
				removed += gc_down(nm, NULL, rtroot,
						   "not configured");
				DONE(nm);
				free(nm);
			}
		closedir(d);
	}
	free(top);
	{
		pid_t *pids = NULL;
		char **nm = NULL;
		size_t np = 0;
		ae_dnsmasq_scan(rtroot, &pids, &nm, &np);
		for (i = 0; i < np; i++) {
			if (!ae_netconf_find(nc, nm[i]) &&
			    !in_names(done, nd, nm[i])) {
				kill(pids[i], SIGTERM);
				ae_info("gc: stopped dnsmasq %ld of network %s "
					"(not configured)", (long)pids[i],
					nm[i]);
				removed++;
			}
		}
		ae_net_names_free(nm, np);
		free(pids);
	}
	names = NULL;
	cnt = 0;
	if (ae_nft_list(&names, &cnt, err, sizeof err) == 0) {
		for (i = 0; i < cnt; i++)
			if (!ae_netconf_find(nc, names[i]) &&
			    !in_names(done, nd, names[i])) {
				if (ae_nft_remove(names[i], err, sizeof err) < 0)
					ae_warn("gc: network %s: %s", names[i],
						err);
				else {
					ae_info("gc: nft rules of network %s "
						"removed (not configured)",
						names[i]);
					removed++;
				}
			}
		ae_nft_list_free(names, cnt);
	}
#undef DONE
	ae_net_names_free(done, nd);
	return removed;
}

/* ---- the VM side ---- */

/* c's network, from its host config. */
static int vm_net(const struct ae_vmconf *c, struct ae_netconf *nc,
		  const struct ae_net **n, char *err, size_t errlen)
{
	int rc;

	*n = NULL;
	if ((rc = ae_netconf_load(c->host_ini, nc, err, errlen)) < 0)
		return rc;
	*n = ae_netconf_find(nc, c->network);
	if (!*n) {
		ae_netconf_free(nc);
		return ae_seterr(err, errlen, ENOENT,
				 "network %s: no [net.%s] in the host config "
				 "(%s)", c->network, c->network,
				 c->host_ini->file);
	}
	return 0;
}

int ae_net_vm_reserve(const struct ae_vmconf *c, char addr[16], char *err,
		      size_t errlen)
{
	struct ae_netconf nc;
	const struct ae_net *n;
	char *root = NULL, why[256];
	int rc;

	addr[0] = '\0';
	if (!c->network)
		return 0;
	if ((rc = vm_net(c, &nc, &n, err, errlen)) < 0)
		return rc;
	/* the running dnsmasq hears of it; without a runtime root there is
	 * none to tell */
	if (ae_runtime_root(c->runtime_dir, &root, why, sizeof why) < 0)
		root = NULL;
	rc = ae_net_reserve(n, root, c->name, c->mac, addr, err, errlen);
	free(root);
	ae_netconf_free(&nc);
	return rc;
}

/* A BOOTP message with room for the few options sent here (RFC 2131). */
struct dhcp_msg {
	uint8_t op, htype, hlen, hops;
	uint32_t xid;
	uint16_t secs, flags;
	uint32_t ciaddr, yiaddr, siaddr, giaddr;
	uint8_t chaddr[16], sname[64], file[128];
	uint8_t options[64]; /* the magic cookie first */
};

/* Tell n's dnsmasq that the client with MAC mac gave addr (host order)
 * back: a DHCPRELEASE on its behalf, sent over n's bridge to the gateway
 * address, as dnsmasq's own dhcp_release does.  Its lease goes now rather
 * than at its expiry, so that the address can be offered at once to
 * another MAC (dnsmasq never offers a configured address leased to
 * another client).  0 or -errno with err. */
static int dhcp_release_lease(const struct ae_net *n, uint32_t addr,
			      const uint8_t mac[6], char *err, size_t errlen)
{
	static const uint8_t cookie[4] = {99, 130, 83, 99};
	struct dhcp_msg m;
	struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(67)};
	uint8_t *o = m.options;
	int fd, rc = 0;

	if (inet_pton(AF_INET, n->gw4, &to.sin_addr) != 1)
		return ae_seterr(err, errlen, EINVAL, "network %s: gateway "
				 "'%s' is not an IPv4 address", n->name,
				 n->gw4);
	memset(&m, 0, sizeof m);
	m.op = 1; /* BOOTREQUEST */
	m.htype = 1; /* Ethernet */
	m.hlen = 6;
	if (getrandom(&m.xid, sizeof m.xid, 0) != (ssize_t)sizeof m.xid)
		m.xid = (uint32_t)getpid() ^ addr;
	m.ciaddr = htonl(addr);
	memcpy(m.chaddr, mac, 6);
	memcpy(o, cookie, sizeof cookie);
	o += sizeof cookie;
	*o++ = 53; /* message type */
	*o++ = 1;
	*o++ = 7; /* DHCPRELEASE */
	*o++ = 54; /* server identifier: the address dnsmasq serves from */
	*o++ = 4;
	memcpy(o, &to.sin_addr, 4);
	o += 4;
	*o++ = 255; /* end */

	if ((fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		return ae_seterr(err, errlen, errno, "network %s: socket: %s",
				 n->name, strerror(errno));
	/* through the bridge: dnsmasq takes it as coming from there */
	if (setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, n->bridge,
		       strlen(n->bridge) + 1) < 0)
		rc = ae_seterr(err, errlen, errno, "network %s: bind to "
			       "device %s: %s", n->name, n->bridge,
			       strerror(errno));
	else if (sendto(fd, &m, (size_t)(o - (uint8_t *)&m), 0,
			(struct sockaddr *)&to, sizeof to) < 0)
		rc = ae_seterr(err, errlen, errno, "network %s: DHCPRELEASE "
			       "to %s:67 on %s: %s", n->name, n->gw4,
			       n->bridge, strerror(errno));
	close(fd);
	return rc;
}

/* Release vm's reservation on every network of the store (STORE/net/NAME),
 * telling the running dnsmasq of those configured in nc (none when rtroot
 * is NULL).  why: NULL, or an info line per address released, "VM:
 * address A on network N released (WHY)", and a lease dnsmasq still holds
 * for it is released too (the VM is gone: the address may go to another
 * MAC at once). */
static void release_all(const char *store, const struct ae_netconf *nc,
			const char *rtroot, const char *vm, const char *why)
{
	char *top = ae_xasprintf("%s/net", store), err[512];
	DIR *d;
	struct dirent *de;

	if ((d = opendir(top))) {
		while ((de = readdir(d))) {
			const struct ae_net *n;
			struct ae_resv *v = NULL, mine = {0};
			size_t cnt = 0, i;
			char *dir, addr[16] = "";
			int changed = 0;

			if (!ae_net_valid_name(de->d_name))
				continue;
			dir = ae_xasprintf("%s/%s", top, de->d_name);
			/* the address, for the log: vm's entry changes only
			 * through vm's own runs and create/delete */
			if (why && ae_pool_read(dir, &v, &cnt, err,
						sizeof err) == 0)
				for (i = 0; i < cnt; i++)
					if (!strcmp(v[i].vm, vm)) {
						mine = v[i];
						ae_pool_fmt(mine.addr, addr);
					}
			free(v);
			if (ae_pool_release(dir, vm, &changed, err,
					    sizeof err) < 0)
				ae_warn("network %s: %s", de->d_name, err);
			else if (changed && why)
				ae_info("%s: address %s on network %s released "
					"(%s)", vm, addr[0] ? addr : "?",
					de->d_name, why);
			n = ae_netconf_find(nc, de->d_name);
			if (changed && n && rtroot &&
			    ae_net_reload(n, rtroot, err, sizeof err) < 0)
				ae_warn("network %s: %s", n->name, err);
			if (changed && why && addr[0] && n && rtroot) {
				char *rd = rundir_path(rtroot, n->name);
				if (ae_dnsmasq_running(rd) > 0 &&
				    ae_dnsmasq_leased(rd, mine.mac,
						      mine.addr) &&
				    dhcp_release_lease(n, mine.addr, mine.mac,
						       err, sizeof err) < 0)
					ae_warn("%s: %s (dnsmasq keeps the "
						"lease of %s until it expires)",
						vm, err, addr);
				free(rd);
			}
			free(dir);
		}
		closedir(d);
	}
	free(top);
}

void ae_net_vm_release(const char *hostconf, const char *vm, const char *why)
{
	struct ae_ini *host = NULL;
	struct ae_netconf nc = {0};
	char *root = NULL, *store = NULL, err[512];

	if (ae_net_context(hostconf, &host, &nc, &root, err, sizeof err) < 0)
		ae_warn("%s (running networks are not told of the release)",
			err);
	if (ae_store_root(&store, err, sizeof err) < 0) {
		ae_warn("%s", err);
		goto out;
	}
	release_all(store, &nc, root, vm, why);
out:
	free(store);
	free(root);
	ae_netconf_free(&nc);
	ae_ini_free(host);
}

void ae_net_vm_release_unstored(const struct ae_vmconf *c, const char *rtroot)
{
	struct ae_netconf nc = {0};
	char *store = NULL, *vmfile = NULL, err[512];
	struct stat st;
	int lock;

	if (ae_store_root(&store, err, sizeof err) < 0) {
		ae_warn("%s: %s (its addresses stay reserved)", c->name, err);
		return;
	}
	/* under the store lock: an `aether create` of this name, which
	 * reserves and then renames its directory into vms/, is either
	 * done (the VM is in the store) or has not reserved yet */
	if ((lock = ae_store_lock(store, LOCK_EX)) < 0) {
		ae_warn("%s: %s/lock: %s (its addresses stay reserved)",
			c->name, store, strerror(-lock));
		free(store);
		return;
	}
	vmfile = ae_xasprintf("%s/vms/%s/vm.conf", store, c->name);
	if (lstat(vmfile, &st) == 0)
		goto out; /* a store VM keeps its address */
	if (errno != ENOENT && errno != ENOTDIR) {
		ae_warn("%s: %s: %s (its addresses stay reserved)", c->name,
			vmfile, strerror(errno));
		goto out;
	}
	if (ae_netconf_load(c->host_ini, &nc, err, sizeof err) < 0)
		ae_warn("%s: %s (running networks are not told of the "
			"release)", c->name, err);
	release_all(store, &nc, rtroot, c->name, "not in the store");
	ae_netconf_free(&nc);
out:
	close(lock);
	free(vmfile);
	free(store);
}

static int live_has(const struct ae_live_vm *live, size_t n_live,
		    const char *vm)
{
	size_t i;

	for (i = 0; i < n_live; i++)
		if (!strcmp(live[i].name, vm))
			return 1;
	return 0;
}

int ae_net_gc_reservations(const struct ae_netconf *nc, const char *rtroot,
			   const struct ae_live_vm *live, size_t n_live)
{
	char *store = NULL, *top, **gone = NULL, err[512];
	size_t ngone = 0, i;
	int lock, released = 0;
	DIR *d;
	struct dirent *de;

	if (ae_store_root(&store, err, sizeof err) < 0) {
		ae_warn("gc: %s (address reservations not checked)", err);
		return 0;
	}
	/* Not waiting: an `aether create` holds the store lock while it
	 * reserves (and may wait for the runtime lock gc holds). */
	if ((lock = ae_store_lock(store, LOCK_EX | LOCK_NB)) < 0) {
		ae_warn("gc: %s/lock: %s (address reservations not checked: "
			"run aether gc again)", store,
			lock == -EWOULDBLOCK ? "busy" : strerror(-lock));
		free(store);
		return 0;
	}
	top = ae_xasprintf("%s/net", store);
	if ((d = opendir(top))) {
		while ((de = readdir(d))) {
			struct ae_resv *v = NULL;
			size_t cnt = 0, j;
			char *dir;

			if (!ae_net_valid_name(de->d_name))
				continue;
			dir = ae_xasprintf("%s/%s", top, de->d_name);
			if (ae_pool_read(dir, &v, &cnt, err, sizeof err) < 0)
				ae_warn("gc: network %s: %s", de->d_name, err);
			for (j = 0; j < cnt; j++) {
				char *f;
				struct stat st;
				int stored;

				if (!ae_valid_vm_name(v[j].vm) ||
				    live_has(live, n_live, v[j].vm) ||
				    in_names(gone, ngone, v[j].vm))
					continue;
				f = ae_xasprintf("%s/vms/%s/vm.conf", store,
						 v[j].vm);
				stored = lstat(f, &st) == 0 || errno != ENOENT;
				free(f);
				if (stored)
					continue;
				gone = ae_xrealloc(gone,
						   (ngone + 1) * sizeof *gone);
				gone[ngone++] = ae_xstrdup(v[j].vm);
			}
			free(v);
			free(dir);
		}
		closedir(d);
	}
	free(top);
	for (i = 0; i < ngone; i++) {
		release_all(store, nc, rtroot, gone[i],
			    "gc: not in the store and not running");
		released++;
	}
	ae_net_names_free(gone, ngone);
	close(lock);
	free(store);
	return released;
}

int ae_net_vm_attach(const struct ae_vmconf *c, const char *rtroot,
		     const char *vmdir, struct ae_ini_section **secp,
		     char *err, size_t errlen)
{
	return ae_net_section_attach(c, c->network, &c->backend_section,
				     rtroot, vmdir, secp, err, errlen);
}

int ae_net_section_attach(const struct ae_vmconf *c, const char *network,
			  const struct ae_ini_section *in, const char *rtroot,
			  const char *vmdir, struct ae_ini_section **secp,
			  char *err, size_t errlen)
{
	struct ae_ini_section *sec;
	struct ae_netconf nc;
	const struct ae_net *n;
	char addr[16], why[1024], *path, *bridge;
	size_t i;
	int lock, rc;

	*secp = NULL;
	if ((rc = ae_netconf_load(c->host_ini, &nc, err, errlen)) < 0)
		return rc;
	if (!(n = ae_netconf_find(&nc, network))) {
		ae_netconf_free(&nc);
		return ae_seterr(err, errlen, ENOENT,
				 "network %s: no [net.%s] in the host config "
				 "(%s)", network, network, c->host_ini->file);
	}
	if ((lock = ae_runtime_lock(rtroot, why, sizeof why)) < 0) {
		ae_netconf_free(&nc);
		return ae_seterr(err, errlen, -lock, "%s", why);
	}
	rc = ae_net_reserve(n, rtroot, c->name, c->mac, addr, why, sizeof why);
	if (rc == 0)
		rc = ae_net_up_locked(n, rtroot, why, sizeof why);
	if (rc == 0) {
		path = ae_xasprintf("%s/" AE_NET_VM_FILE, vmdir);
		rc = ae_write_file(path, n->name, strlen(n->name), 0600);
		if (rc < 0)
			snprintf(why, sizeof why, "%s: %s", path,
				 strerror(-rc));
		free(path);
	}
	close(lock);
	if (rc < 0) {
		ae_netconf_free(&nc);
		return ae_seterr(err, errlen, -rc, "%s", why);
	}
	ae_info("%s: network %s (bridge %s), address %s reserved", c->name,
		n->name, n->bridge, addr);
	/* one block: the section, its entries, the bridge's name */
	sec = ae_xcalloc(1, sizeof *sec + in->n_entries * sizeof *sec->entries +
				    sizeof n->bridge);
	sec->entries = (struct ae_ini_entry *)(sec + 1);
	bridge = (char *)(sec->entries + in->n_entries);
	snprintf(bridge, sizeof n->bridge, "%s", n->bridge);
	sec->name = in->name;
	sec->file = in->file;
	sec->line = in->line;
	for (i = 0; i < in->n_entries; i++) {
		sec->entries[sec->n_entries] = in->entries[i];
		if (!strcmp(in->entries[i].key, "network")) {
			sec->entries[sec->n_entries].key = (char *)"bridge";
			sec->entries[sec->n_entries].value = bridge;
		}
		sec->n_entries++;
	}
	ae_netconf_free(&nc);
	*secp = sec;
	return 0;
}

void ae_net_section_free(struct ae_ini_section *sec)
{
	free(sec);
}

void ae_net_vm_detach(const struct ae_vmconf *c, const char *rtroot)
{
	struct ae_netconf nc;
	const struct ae_net *n;
	char err[1024], **users = NULL;
	size_t nu = 0, i, others = 0;
	int lock;

	if (!c->network || vm_net(c, &nc, &n, err, sizeof err) < 0)
		return;
	if (!n->ephemeral) {
		ae_netconf_free(&nc);
		return;
	}
	if ((lock = ae_runtime_lock(rtroot, err, sizeof err)) < 0) {
		ae_warn("%s", err);
		ae_netconf_free(&nc);
		return;
	}
	ae_net_users(rtroot, n->name, &users, &nu);
	for (i = 0; i < nu; i++)
		if (strcmp(users[i], c->name))
			others++;
	ae_net_names_free(users, nu);
	if (!others) {
		if (ae_net_down_locked(n->name, n, rtroot, err, sizeof err) < 0)
			ae_warn("%s", err);
		else
			ae_info("%s: ephemeral network %s taken down (its last "
				"VM stopped)", c->name, n->name);
	}
	close(lock);
	ae_netconf_free(&nc);
}

int ae_net_vm_label(const struct ae_vmconf *c, const char *rtroot,
		    int running, char *out, size_t len)
{
	struct ae_netconf nc;
	const struct ae_net *n;
	char err[256], addr[16];
	int leased = 0, rc;

	if (!c->network || vm_net(c, &nc, &n, err, sizeof err) < 0)
		return -ENOENT;
	rc = ae_net_vm_address(n, rtroot, c->name, addr, &leased);
	if (rc == 0)
		snprintf(out, len, "%s(%s)", addr,
			 running && leased ? "leased" : "reserved");
	ae_netconf_free(&nc);
	return rc;
}
