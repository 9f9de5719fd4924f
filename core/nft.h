/* nft.h - the NAT and forward rules of managed networks, in aether's own
 * nftables table (`table inet aether`), made through libnftables.
 *
 * Each network NAME owns exactly two base chains of that table:
 *   fwd_NAME  type filter hook forward priority 0; policy accept;
 *             iifname BRIDGE accept
 *             oifname BRIDGE ct state established,related accept
 *   nat_NAME  type nat hook postrouting priority srcnat; policy accept;
 *             ip saddr SUBNET4 ip daddr != SUBNET4 masquerade
 *             ip6 saddr SUBNET6 ip6 daddr != SUBNET6 masquerade (subnet6)
 * nat_NAME exists only when the network has nat.  No other table is read
 * for writing or changed.  Every name and subnet is validated before it
 * reaches a command buffer.
 *
 * Callers serialise changes to the table (the network manager's lock):
 * ae_nft_remove removes the table once its last network is gone, and
 * another process adding a network between its read and its transaction
 * would lose its chains with it.
 *
 * Every function returns 0 or a negative errno and, on failure, writes a
 * message naming the network (and libnftables' own message) into err. */
#ifndef AE_NFT_H
#define AE_NFT_H

#include <stddef.h>

#define AE_NFT_TABLE "aether"    /* table inet aether */
#define AE_NFT_NAME_MAX 15       /* [a-z0-9_-]{1,15} */

struct ae_nft_net {            /* one managed network */
	const char *name;      /* [a-z0-9_-]{1,15}, the [net.NAME] */
	const char *bridge;    /* its bridge device */
	const char *subnet4;   /* "192.168.100.0/24" (canonical) */
	const char *subnet6;   /* "fd42:1:2:3::/64" or NULL */
	int nat;               /* masquerade traffic leaving the subnet */
};

/* Replace (atomically, one libnftables transaction) network n's rules in
 * aether's own table; creates the table when missing.  -EINVAL for a bad
 * name, bridge or subnet (nothing applied). */
int ae_nft_apply(const struct ae_nft_net *n, char *err, size_t errlen);
/* Remove network n's rules; remove the table when it has no network left.
 * Idempotent: 0 when there was nothing. */
int ae_nft_remove(const char *name, char *err, size_t errlen);
/* Names of networks that have rules in aether's table (for gc), sorted;
 * free with ae_nft_list_free.  0 networks (and *names NULL) when there is
 * no table. */
int ae_nft_list(char ***names, size_t *n, char *err, size_t errlen);
void ae_nft_list_free(char **names, size_t n);
/* Read the table back through libnftables (JSON output, parsed with
 * jansson) and check it carries exactly n's rules. 0 ok, -EPROTO + err
 * saying what differs. */
int ae_nft_verify(const struct ae_nft_net *n, char *err, size_t errlen);
/* net.ipv4.ip_forward (and net.ipv6.conf.all.forwarding when want6) = 1 */
int ae_sysctl_forwarding(int want6, char *err, size_t errlen);

/* Helpers, exported for the network manager and the tests. */
/* [a-z0-9_-]{1,15} */
int ae_nft_valid_name(const char *name);
/* Parse "ADDR/LEN" of family AF_INET (prefix 8..30) or AF_INET6 (prefix
 * 16..126) with inet_pton, clear the host bits and write the canonical
 * form into out.  0, or -EINVAL with the reason in err. */
int ae_nft_subnet_canon(const char *subnet, int family, char *out,
			size_t outlen, char *err, size_t errlen);
/* The nft command text ae_nft_apply runs in one transaction (what `nft -f`
 * would read), after the same validation.  0, -EINVAL or -ENOSPC. */
int ae_nft_apply_text(const struct ae_nft_net *n, char *buf, size_t len,
		      char *err, size_t errlen);

#endif
