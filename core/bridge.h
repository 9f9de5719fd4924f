/* bridge.h - a managed network's bridge, through libnl-route-3: made with
 * aether's alias, given the gateway addresses, checked against the host's
 * routes; never a device aether did not make. */
#ifndef AE_BRIDGE_H
#define AE_BRIDGE_H

#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

/* 1: `name` exists and carries exactly `alias`; 0: no such device;
 * -EEXIST: a device of that name that is not ours (or not a bridge);
 * other -errno on netlink errors. */
int ae_bridge_probe(const char *name, const char *alias);

/* Make bridge `name` tagged `alias`, up, with gw4/prefix4 and (when gw6
 * is not NULL) gw6/64 (no DAD).  On failure the device is removed again.
 * -EEXIST when the name is taken. */
int ae_bridge_create(const char *name, const char *alias, const char *gw4,
		     unsigned prefix4, const char *gw6, char *err,
		     size_t errlen);

/* Bridge `name`, ours, has its gateway addresses and is up (after a
 * restart of the network, someone may have taken them away). */
int ae_bridge_ensure(const char *name, const char *alias, const char *gw4,
		     unsigned prefix4, const char *gw6, char *err,
		     size_t errlen);

/* Delete `name` when it carries `alias`; 0 also when it is gone. */
int ae_bridge_delete(const char *name, const char *alias, char *err,
		     size_t errlen);

/* Is the IPv4 net/prefix (host order) or the IPv6 /64 net6 (NULL: none)
 * already routed or addressed on the host by a device other than
 * `ourdev`?  0 no; -EADDRINUSE with err naming the route and device. */
int ae_route_conflict(uint32_t net4, unsigned prefix4,
		      const struct in6_addr *net6, const char *ourdev,
		      char *err, size_t errlen);

/* Bridges whose alias starts with `prefix`: their names and the alias
 * rest after the prefix (malloc'd arrays of malloc'd strings). */
int ae_bridge_list(const char *prefix, char ***names, char ***rests,
		   size_t *n);

#endif
