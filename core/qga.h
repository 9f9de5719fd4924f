/* qga.h - a client of the QEMU guest agent. */
#ifndef AE_QGA_H
#define AE_QGA_H

#include <arpa/inet.h>

/* Addresses the QEMU guest agent reports (guest-network-get-interfaces)
 * through rtdir/qga.sock, as "ADDRESS(agent)", loopback and link-local
 * left out; at most max, their number returned (0 when no agent answers
 * within half a second). */
int ae_qga_addresses(const char *rtdir, char out[][INET6_ADDRSTRLEN + 16],
		     int max);

#endif
