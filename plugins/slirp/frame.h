/* frame.h - mode = libslirp: the slirp plugin as an ABI 1.1 frame port,
 * driving libslirp itself (no QEMU user networking needed). */
#ifndef SLIRP_FRAME_H
#define SLIRP_FRAME_H

#include <netinet/in.h>
#include <stdint.h>
#include <aether/plugin.h>

struct ls_config {
	struct in_addr net, mask, host, dhcpstart, dns;
	const char *hostname, *domain;
	int restrict_, ipv6;
	struct in6_addr net6, host6, dns6; /* with ipv6: the /64, ::2, ::3 */
	unsigned mtu; /* 0: libslirp's default (1500) */
};

struct ls_port;

/* Make the stack and fill att (kind FRAME, port, ops). */
int ls_port_new(const struct aether_host *h, const struct ls_config *cfg,
		struct aether_attachment *att, struct ls_port **out);
void ls_port_free(struct ls_port *p);
/* 0, -EADDRINUSE (or the bind error), -ENOENT (remove: none such). */
int ls_port_forward(struct ls_port *p, int is_udp, struct in_addr host,
		    unsigned host_port, struct in_addr guest,
		    unsigned guest_port, int add);

/* IPv6 forwards (slirp_add_hostxfwd, libslirp >= 4.5).  An unspecified
 * (::) host address binds every IPv6 address (IPv6 only); an unspecified
 * guest address is the guest's first address slirp sees (NDP).  -EOPNOTSUPP
 * without hostxfwd: ls_have_hostxfwd() says whether this build has it. */
int ls_have_hostxfwd(void);
int ls_port_forward6(struct ls_port *p, int is_udp,
		     const struct in6_addr *host, unsigned host_port,
		     const struct in6_addr *guest, unsigned guest_port,
		     int add);

#endif
