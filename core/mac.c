/* mac.c - stable guest MAC addresses.
 *
 * The original server drew random MACs and never checked them; aether
 * derives the MAC from the VM's name, so a VM keeps its address (and so its
 * DHCP lease) across restarts and two VMs only collide when their names
 * hash alike in 46 bits.  FNV-1a over the name, finished with a 64-bit
 * mixer so that similar names spread over the whole space. */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "mac.h"

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return x;
}

void ae_mac_derive(const char *name, unsigned nic, uint8_t mac[6])
{
	uint64_t h = 0xcbf29ce484222325ull;
	const unsigned char *p;
	int i;

	for (p = (const unsigned char *)name; *p; p++) {
		h ^= *p;
		h *= 0x100000001b3ull;
	}
	h ^= (uint64_t)(nic & 0xff) << 56 | (uint64_t)((nic >> 8) & 0xff) << 48;
	h = mix64(h);
	for (i = 0; i < 6; i++)
		mac[i] = (uint8_t)(h >> (8 * i));
	mac[0] = (uint8_t)((mac[0] & 0xfc) | 0x02); /* local, unicast */
}

int ae_mac_check(const uint8_t mac[6])
{
	static const uint8_t zero[6];

	if (mac[0] & 0x01)
		return -EINVAL; /* multicast/broadcast */
	if (!memcmp(mac, zero, 6))
		return -EINVAL;
	return 0;
}
