/* netlink.h - the tap plugin's rtnetlink helpers (libnl-route-3 on the
 * plugin's socket) and its bridge handling.  Private to the plugin: the
 * functions are hidden, the module exports only its descriptor. */
#ifndef AE_TAP_NETLINK_H
#define AE_TAP_NETLINK_H

#include <stdbool.h>
#include <stdint.h>

struct rtnl_link;
struct tap_plugin;

#pragma GCC visibility push(hidden)

/* libnl error -> negative errno. */
int tap_nlerr(int e);

/* The link by ifindex (or by name when ifindex is 0): 0 and *out (put it
 * with rtnl_link_put), or a negative errno (-ENODEV: none) and *out NULL. */
int tap_get_link(struct tap_plugin *p, int ifindex, const char *name,
		 struct rtnl_link **out);

/* RTM_DELLINK of one link. */
int tap_del_link_index(struct tap_plugin *p, int ifindex);

/* RTM_DELLINK with ifindex 0 and IFLA_GROUP: every link of the group in
 * one request. */
int tap_del_link_group(struct tap_plugin *p, uint32_t group);

/* Move link ifindex into link group `group`. */
int tap_set_link_group(struct tap_plugin *p, int ifindex, uint32_t group);

/* Whether l is a link of kind `type` ("bridge", "tun"). */
bool tap_link_is_type(struct rtnl_link *l, const char *type);

/* Look the bridge up (creating it when create_bridge = yes); its ifindex
 * and MTU.  Logs its errors; -ENODEV when it does not exist. */
int tap_find_bridge(struct tap_plugin *p, int *ifindex, unsigned *mtu);

/* Remove the bridge when this plugin made it and no port is left. */
void tap_maybe_remove_bridge(struct tap_plugin *p);

#pragma GCC visibility pop

#endif
