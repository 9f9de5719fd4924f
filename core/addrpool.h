/* addrpool.h - per-network IPv4 address reservations, one file per
 * network in the VM store:
 *   DIR/lock           flock'd (exclusive) across every change
 *   DIR/reservations   "VMNAME MAC ADDRESS" lines, rewritten atomically
 * A VM keeps its address until it is released; a new one gets the lowest
 * address of the pool nobody holds. */
#ifndef AE_ADDRPOOL_H
#define AE_ADDRPOOL_H

#include <stddef.h>
#include <stdint.h>

struct ae_resv {
	char vm[65];
	uint8_t mac[6];
	uint32_t addr; /* host order */
};

/* The reservations of DIR (none when the file does not exist), sorted by
 * address.  0 or -errno with err naming the file and line. */
int ae_pool_read(const char *dir, struct ae_resv **out, size_t *n,
		 char *err, size_t errlen);

/* Reserve for vm: its existing reservation (a changed MAC is recorded),
 * else the lowest free address of first..last.  -EEXIST when another VM
 * holds that MAC, -ENOSPC when the pool is full.  *addr gets the address;
 * *changed is 1 when the file changed. */
int ae_pool_reserve(const char *dir, uint32_t first, uint32_t last,
		    const char *vm, const uint8_t mac[6], uint32_t *addr,
		    int *changed, char *err, size_t errlen);

/* Release vm's reservation; 0 also when it had none (*changed 0). */
int ae_pool_release(const char *dir, const char *vm, int *changed,
		    char *err, size_t errlen);

/* "a.b.c.d" of a host-order address. */
void ae_pool_fmt(uint32_t addr, char out[16]);

#endif
