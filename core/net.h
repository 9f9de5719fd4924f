/* net.h - managed networks: [net.NAME] of the host config, brought up as
 * a bridge (bridge.c), a dnsmasq (dnsmasq.c) and NAT rules in aether's
 * nftables table (nft.c), with per-VM address reservations kept in the
 * VM store (addrpool.c).
 *
 * Runtime files of network NAME live in RUNTIME_ROOT/net/NAME/:
 *   dnsmasq.conf, hosts, dhcp-hosts, leases, dnsmasq.pid, dnsmasq.log
 * Reservations live in STORE/net/NAME/ (lock, reservations).
 *
 * A network is "up" when its bridge exists carrying aether's alias
 * "aether-net:<root id>:NAME" and its dnsmasq runs (the pid file names a
 * live process whose command line names our dnsmasq.conf exactly).
 * Changes are serialised by the runtime lock (runtime.h). */
#ifndef AE_NET_H
#define AE_NET_H

#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#include "conffile.h"

#define AE_NET_NAME_MAX 11 /* [a-z0-9][a-z0-9_-]{0,10} */
#define AE_NET_ALIAS_TAG "aether-net:"
/* In a running VM's runtime dir: the managed network it is on. */
#define AE_NET_VM_FILE "net"

struct ae_net {
	char name[AE_NET_NAME_MAX + 1];
	char bridge[16];
	char subnet4[20];   /* canonical "a.b.c.d/p" */
	uint32_t net4;      /* network address, host order */
	unsigned prefix4;   /* 16..29 */
	char gw4[16];       /* first host address */
	uint32_t first, last; /* the pool: second .. last host address */
	int has6;
	char subnet6[64];   /* canonical "x::/64" */
	struct in6_addr net6;
	char gw6[48];       /* ::1 of the /64 */
	int nat;
	int ephemeral;
	char domain[254];
	char file[512];     /* the [net.NAME] header, for messages */
	int line;
};

struct ae_netconf {
	struct ae_net *v;
	size_t n;
};

/* [a-z0-9][a-z0-9_-]{0,10} */
int ae_net_valid_name(const char *s);
/* A DNS domain: labels of [a-z0-9-] (not starting or ending with '-'),
 * 1..63 each, joined by dots, <= 253. */
int ae_net_valid_domain(const char *s);

/* Every [net.NAME] section of the host config, checked key by key
 * ("file:line: key: ...") and against each other (overlapping subnets,
 * a bridge used twice).  host may be NULL (no networks). */
int ae_netconf_load(const struct ae_ini *host, struct ae_netconf *out,
		    char *err, size_t errlen);
void ae_netconf_free(struct ae_netconf *nc);
const struct ae_net *ae_netconf_find(const struct ae_netconf *nc,
				     const char *name);

/* The host config's own [network.tap] network = NAME (a default for its
 * VMs): a configured network, and not with bridge there. */
int ae_net_check_default(const struct ae_ini *host,
			 const struct ae_netconf *nc, char *err,
			 size_t errlen);

/* 1 when the IPv4 prefixes a/pa and b/pb share an address; the same for
 * two IPv6 prefixes. */
int ae_net_overlap4(uint32_t a, unsigned pa, uint32_t b, unsigned pb);
int ae_net_overlap6(const struct in6_addr *a, unsigned pa,
		    const struct in6_addr *b, unsigned pb);

/* The runtime root's id for device aliases: FNV-1a of its real path,
 * 48 bits in hex (12 digits + NUL). */
void ae_net_root_id(const char *rtroot, char out[13]);

/* RUNTIME_ROOT/net/NAME (made, reachable by dnsmasq's user when root). */
char *ae_net_rundir(const char *rtroot, const char *name);
/* STORE/net/NAME (made 0700). */
int ae_net_pooldir(const char *name, char **out, char *err, size_t errlen);

/* State of a network, without changing anything. */
struct ae_net_state {
	int bridge;        /* 1 ours, 0 none, -1 a foreign device */
	long dnsmasq_pid;  /* 0 when not running */
	int up;            /* bridge ours and dnsmasq running */
};
int ae_net_state(const struct ae_net *n, const char *rtroot,
		 struct ae_net_state *st);

/* Bring n up (idempotent: repairs a missing dnsmasq or rules), writing
 * dnsmasq's hosts from n's reservations.  On failure everything this
 * call made is removed again.  The caller holds the runtime lock. */
int ae_net_up_locked(const struct ae_net *n, const char *rtroot, char *err,
		     size_t errlen);
/* Remove bridge, dnsmasq, nft rules and runtime files of network name
 * (n may be NULL: a network no longer configured, found by gc).
 * The caller holds the runtime lock. */
int ae_net_down_locked(const char *name, const struct ae_net *n,
		       const char *rtroot, char *err, size_t errlen);
/* Rewrite dnsmasq's hosts files from the reservations and SIGHUP it. */
int ae_net_reload(const struct ae_net *n, const char *rtroot, char *err,
		  size_t errlen);

/* Reserve an address on n for VM vm (MAC mac): the one it has, else the
 * lowest free; dnsmasq is told when it runs.  addr gets the dotted
 * address.  Takes the pool's lock, not the runtime lock. */
int ae_net_reserve(const struct ae_net *n, const char *rtroot,
		   const char *vm, const uint8_t mac[6], char addr[16],
		   char *err, size_t errlen);

/* The VM side of `network = NAME`: look the VM's reservation up, and
 * whether dnsmasq's lease file shows it taken. 0 found, -ENOENT none. */
int ae_net_vm_address(const struct ae_net *n, const char *rtroot,
		      const char *vm, char addr[16], int *leased);

/* Names of VMs of runtime root rtroot running now, with `network = name`
 * in their resolved config (from RUNTIME_ROOT/vms/VM/network). */
int ae_net_users(const char *rtroot, const char *name, char ***vms,
		 size_t *n);
void ae_net_names_free(char **v, size_t n);

/* For `aether gc` (runtime lock held): networks whose dnsmasq died or
 * whose bridge vanished are taken down, and aether's devices, rules,
 * runtime directories and dnsmasq processes of networks that are not
 * configured any more are removed.  Returns how many were removed. */
int ae_net_gc_locked(const struct ae_netconf *nc, const char *rtroot);
/* aether gc, holding the runtime lock: release the reservations of VMs
 * that are neither in the store nor among live (an `aether run FILE`
 * whose supervisor was killed), as a run's end does: the running
 * dnsmasq told, its lease given back, an info line each.  Skipped, with a
 * warning, while the store lock is busy.  How many VMs were released. */
struct ae_live_vm;
int ae_net_gc_reservations(const struct ae_netconf *nc, const char *rtroot,
			   const struct ae_live_vm *live, size_t n_live);

/* The host config (hostconf: the -c option, NULL default), its networks
 * and the runtime root it names. */
int ae_net_context(const char *hostconf, struct ae_ini **host,
		   struct ae_netconf *nc, char **root, char *err,
		   size_t errlen);

/* `aether net ...`; argv[0] is "net".  The process exit status. */
int ae_cmd_net(int argc, char **argv, const char *hostconf);

/* ---- the VM side (network = NAME in [network.tap], vmconf.h) ---- */
struct ae_vmconf;

#ifdef AE_HAVE_MANAGED_NETWORKS
/* aether create: record c's address (VM name, MAC) on its network; addr
 * gets it ("" when c has no network).  0 or -errno with err. */
int ae_net_vm_reserve(const struct ae_vmconf *c, char addr[16], char *err,
		      size_t errlen);
/* aether delete (why "deleted") or a failed create: release vm's
 * reservations on every network of the store, telling the running
 * dnsmasq of a configured one, with an info line each naming why, and
 * giving back a lease dnsmasq still holds for it (so that the address can
 * go to another MAC at once). */
void ae_net_vm_release(const char *hostconf, const char *vm, const char *why);
/* The supervisor, when a run that may have reserved ends (the VM stopped,
 * or its start failed): a VM that is not in the store (no
 * STORE/vms/NAME/vm.conf: `aether run FILE`) has its reservations on
 * every network of the store released, the running dnsmasq of a network
 * of c's host config told (rtroot: the runtime root), an info line each.
 * A store VM keeps its address for its next start. */
void ae_net_vm_release_unstored(const struct ae_vmconf *c,
				const char *rtroot);
/* The supervisor, before the backend is opened: under the runtime lock,
 * reserve c's address, bring its network up when it is down and record
 * the network in vmdir/net (AE_NET_VM_FILE).  *sec gets the section the tap plugin
 * sees: the VM's, with network = NAME replaced by bridge = its bridge
 * (free with ae_net_section_free). */
int ae_net_vm_attach(const struct ae_vmconf *c, const char *rtroot,
		     const char *vmdir, struct ae_ini_section **sec,
		     char *err, size_t errlen);
/* The same for section in naming network = NETWORK (a live backend
 * switch onto a managed network). */
int ae_net_section_attach(const struct ae_vmconf *c, const char *network,
			  const struct ae_ini_section *in, const char *rtroot,
			  const char *vmdir, struct ae_ini_section **sec,
			  char *err, size_t errlen);
void ae_net_section_free(struct ae_ini_section *sec);
/* The supervisor, after the VM stopped: an ephemeral network without
 * other running VMs is taken down. */
void ae_net_vm_detach(const struct ae_vmconf *c, const char *rtroot);
/* list/status: "ADDR(reserved)" or "ADDR(leased)" (leased only while
 * running and dnsmasq's lease file shows it).  0, or -ENOENT (none). */
int ae_net_vm_label(const struct ae_vmconf *c, const char *rtroot,
		    int running, char *out, size_t len);
#else
static inline int ae_net_vm_reserve(const struct ae_vmconf *c, char addr[16],
				    char *err, size_t errlen)
{
	(void)c; (void)err; (void)errlen;
	addr[0] = '\0';
	return 0;
}
static inline void ae_net_section_free(struct ae_ini_section *sec)
{
	(void)sec;
}
static inline void ae_net_vm_release(const char *hostconf, const char *vm,
				     const char *why)
{
	(void)hostconf; (void)vm; (void)why;
}
static inline int ae_net_vm_label(const struct ae_vmconf *c,
				  const char *rtroot, int running, char *out,
				  size_t len)
{
	(void)c; (void)rtroot; (void)running; (void)out; (void)len;
	return -ENOENT;
}
#endif

#endif
