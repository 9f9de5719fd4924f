/* tap.h - the tap plugin's state, shared by the verbs (tap.c) and the
 * netlink and bridge helpers (netlink.c).  Private to the plugin. */
#ifndef AE_TAP_H
#define AE_TAP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <linux/if.h>

#include <aether/plugin.h>

struct nl_sock;

/* ifalias of a bridge this plugin made (and so may remove). */
#define TAP_BRIDGE_TAG "aether-tap-bridge"

#define TAP_NEED_CAP_MSG \
	"needs CAP_NET_ADMIN (run aether as root, or give it cap_net_admin, " \
	"e.g. setcap cap_net_admin+ep, or run it in a user+network namespace " \
	"that owns the bridge)"

/* ------------------------------------------------------------------ */
/* State.                                                             */

struct tap_plugin {
	const struct aether_host *host;
	struct nl_sock *sk;
	char bridge[IFNAMSIZ];
	char prefix[IFNAMSIZ];
	char ifname[IFNAMSIZ]; /* "" when unset */
	bool create_bridge, vhost, vnet_hdr, persistent;
	unsigned queues;
	bool have_owner, have_group;
	uid_t owner;
	gid_t group;
	uint32_t mtu;
	uint32_t link_group;
	unsigned tun_features; /* TUNGETFEATURES */
	int br_index;          /* bridge checked by the last full lookup */
	char root_id[13];      /* whose devices: see the top of tap.c */
};

#endif
