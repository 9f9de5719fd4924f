/* relay.h - the frame relay between the hypervisor and a frame-port
 * plugin (ABI 1.1, AETHER_ATTACH_FRAME).
 *
 * The core owns the hypervisor side: a SOCK_DGRAM socketpair, one end
 * handed to QEMU (-netdev dgram,local.type=fd), the other read with
 * recvmmsg and written with sendmmsg here.  One datagram is one Ethernet
 * frame, without any header.  The relay runs in the caller's event loop:
 * ae_relay_fill() before poll, ae_relay_dispatch() after it. */
#ifndef AE_RELAY_H
#define AE_RELAY_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <aether/plugin.h>

enum { AE_RELAY_TO_NET = 0, AE_RELAY_TO_GUEST = 1 };

/* Frames per recvmmsg/sendmmsg call; frames queued towards the guest. */
#define AE_RELAY_BATCH 32
#define AE_RELAY_TXQ 512

struct ae_relay_stats {
	/* [AE_RELAY_TO_NET]: frames the guest sent (to the plugin);
	 * [AE_RELAY_TO_GUEST]: frames the plugin sent (to the guest). */
	uint64_t frames[2], bytes[2], drops[2];
};

struct ae_relay;

/* Make the socketpair and set att->frame.output and .sink (call before
 * the plugin's attach; ae_instance_attach keeps them). */
int ae_relay_new(struct ae_relay **out, struct aether_attachment *att,
		 char *err, size_t errlen);
/* After attach returned AETHER_ATTACH_FRAME: take the plugin's port. */
int ae_relay_bind(struct ae_relay *r, const struct aether_attachment *att,
		  char *err, size_t errlen);
/* The parts of ae_relay_bind: is att a frame port of this relay (its
 * ops complete, output/sink untouched)?  Then re-point the relay to
 * port/ops (NULL ops: no port, frames from the guest are dropped and
 * counted).  Re-pointing keeps the counters and the queue towards the
 * guest; the caller does it between two rounds (not inside fill or
 * dispatch). */
int ae_relay_check_frame(struct ae_relay *r,
			 const struct aether_attachment *att, char *err,
			 size_t errlen);
void ae_relay_set_port(struct ae_relay *r, void *port,
		       const struct aether_frame_ops *ops);
/* Set att->frame.output and .sink to this relay's (what ae_relay_new
 * does for its att): for a second attachment made while the relay runs. */
void ae_relay_hooks(struct ae_relay *r, struct aether_attachment *att);
/* The hypervisor's end (for QEMU's argv); close our copy once QEMU has
 * it.  -1 after ae_relay_close_hv_fd. */
int ae_relay_hv_fd(const struct ae_relay *r);
void ae_relay_close_hv_fd(struct ae_relay *r);

/* Add the relay's and the port's fds to fds (at most max), lower
 * *timeout_ms (-1: none) to the next timer; returns how many were added. */
unsigned ae_relay_fill(struct ae_relay *r, struct pollfd *fds, unsigned max,
		       int *timeout_ms);
/* After poll: fds/n exactly as filled, with revents. */
void ae_relay_dispatch(struct ae_relay *r, struct pollfd *fds, unsigned n);
/* One fill + poll + dispatch round (tests, benchmarks). */
int ae_relay_run_once(struct ae_relay *r, int timeout_ms);

void ae_relay_get_stats(const struct ae_relay *r, struct ae_relay_stats *s);
/* "to-net frames=.. bytes=.. drops=..; to-guest frames=.. ..." */
void ae_relay_format_stats(const struct ae_relay *r, char *buf, size_t len);
void ae_relay_free(struct ae_relay *r);

#endif
