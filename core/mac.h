/* mac.h - stable guest MAC addresses derived from VM names. */
#ifndef AE_MAC_H
#define AE_MAC_H

#include <stdint.h>

/* Locally administered, unicast, 46 bits from a hash of name and NIC. */
void ae_mac_derive(const char *name, unsigned nic, uint8_t mac[6]);
/* 0 when mac is usable for a guest NIC: unicast and not all zero. */
int ae_mac_check(const uint8_t mac[6]);

#endif
