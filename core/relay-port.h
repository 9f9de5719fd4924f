/* relay-port.h - the network side of the relay for a switchable VM: a
 * port made from whatever attachment the backend returned.
 *
 * A switchable VM's NIC always talks to the relay (relay.h); the relay's
 * network side is one of:
 *   FRAME  the plugin's own frame port (its ops, as for any frame port);
 *   TAP    the attachment's TAP fd (queue 0): frames read and written
 *          here, the virtio-net header stripped on read and a zero one
 *          prepended on write when the fd has IFF_VNET_HDR;
 *   VDE    a port of the VDE switch, opened here with libvdeplug
 *          (att->vde.sock/port/group/mode);
 *   STREAM the attachment's connected stream socket (or one connected
 *          here to att->stream.path), each frame preceded by its length
 *          as 4 bytes big-endian, as QEMU's -netdev stream frames them.
 * USER and VHOST_USER attachments cannot be relayed (QEMU itself is the
 * network there): ae_relay_port_open refuses them.  A switch makes the
 * new port, re-points the relay to it (ae_relay_port_use) and closes
 * the old one.
 */
#ifndef AE_RELAY_PORT_H
#define AE_RELAY_PORT_H

#include <stddef.h>
#include <stdint.h>
#include <aether/plugin.h>

struct ae_relay;
struct ae_relay_port;

/* Can an attachment of this kind be relayed?  NULL, or why not. */
const char *ae_relay_port_refusal(uint32_t kind);

/* Make a port of relay r from att (after the plugin's attach).  A TAP
 * port takes att->tap.fds[0] (set to -1 in att), a STREAM port
 * att->stream.fd (likewise); a FRAME port checks
 * the plugin's ops against r (att's output/sink must be r's hooks).
 * Returns 0, or -errno with the reason in err. */
int ae_relay_port_open(struct ae_relay *r, struct aether_attachment *att,
		       struct ae_relay_port **out, char *err, size_t errlen);
/* Re-point relay r to p (NULL: no port). */
void ae_relay_port_use(struct ae_relay *r, struct ae_relay_port *p);
/* "tap ae3", "vde /run/x/ctl port 5", "stream fd", "stream PATH",
 * "frame": what p is attached to. */
const char *ae_relay_port_describe(const struct ae_relay_port *p);
uint32_t ae_relay_port_kind(const struct ae_relay_port *p);
/* Frames this port could not pass on (a full or gone device). */
uint64_t ae_relay_port_errors(const struct ae_relay_port *p);
/* Close what the port opened (the TAP fd, the VDE connection); not the
 * relay.  Re-point the relay away from it first.  NULL is fine. */
void ae_relay_port_close(struct ae_relay_port *p);

#endif
