/* control.h - the control socket of a running `aether run`
 * (<vmdir>/control.sock) and its client, used by `aether forward`.
 *
 * Protocol: the client sends one request line and shuts down its write
 * side; the server answers with a status line, "ok" or
 * "error <ERRNO-NAME> <message>", then any body lines, and closes.
 * Requests:
 *   forward add tcp|udp [HOSTADDR]:HOSTPORT GUESTPORT
 *   forward remove tcp|udp [HOSTADDR]:HOSTPORT [GUESTPORT]
 *   forward list          body: "tcp 127.0.0.1:2222 22" per forward
 *   stats                 body: the relay's counters ("relay ..."), if any
 * Only clients of the server's own uid (or root) are served.
 *
 * At most AE_CONTROL_MAX_CLIENTS connections are served at a time; one
 * more is answered "error EIO busy, try again" and closed.  A client that
 * has not sent its request and read the reply within
 * AE_CONTROL_CLIENT_TIMEOUT_MS of connecting is dropped (closed without
 * a reply), so idle connections cannot hold the slots.
 */
#ifndef AE_CONTROL_H
#define AE_CONTROL_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <aether/plugin.h>

#include "conffile.h"

struct ae_instance;
struct ae_relay;

/* What the server acts on (all owned by the supervisor). */
struct ae_control_target {
	const char *name;             /* the VM's name, for logs */
	struct ae_instance *inst;
	const struct aether_vm *vm;
	void *att_state;
	uint32_t kind;                /* the attachment's kind */
	const char *qmp_path;         /* QEMU's QMP socket (mode USER) */
	struct ae_relay *relay;       /* NULL unless kind is FRAME */
	/* Forwards configured at start (hostfwd = ... in the plugin's
	 * section), for `forward list`; NULL: none. */
	const struct ae_ini_section *section;
};

struct ae_control;

#define AE_CONTROL_MAX_CLIENTS 8
#define AE_CONTROL_CLIENT_TIMEOUT_MS 5000

int ae_control_open(const char *path, const struct ae_control_target *t,
		    struct ae_control **out, char *err, size_t errlen);
/* Serve at most max_clients (1..AE_CONTROL_MAX_CLIENTS) at a time, each
 * for at most timeout_ms; ae_control_open sets the defaults above. */
void ae_control_set_limits(struct ae_control *c, unsigned max_clients,
			   unsigned timeout_ms);
/* Its pollfds (1 + AE_CONTROL_MAX_CLIENTS, max must allow them) and a
 * lower *timeout_ms (-1: none yet) to the nearest client deadline. */
unsigned ae_control_fill(struct ae_control *c, struct pollfd *fds,
			 unsigned max, int *timeout_ms);
void ae_control_dispatch(struct ae_control *c, struct pollfd *fds,
			 unsigned n);
void ae_control_close(struct ae_control *c); /* also unlinks the socket */

/* Handle one request line (what a connection gets), reply in a malloc'd
 * string.  Exposed for tests. */
char *ae_control_handle(struct ae_control *c, const char *line);

/* Client: send `request` to the socket at path; *reply gets the whole
 * answer (malloc'd).  Returns 0 for "ok", the negative errno of an
 * "error" reply, or a connection error (message in err). */
int ae_control_request(const char *path, const char *request, char **reply,
		       char *err, size_t errlen);

/* "tcp" "127.0.0.1:5555" "80" -> fwd; returns 0 or -EINVAL + err. */
int ae_forward_parse(const char *proto, const char *host, const char *gport,
		     struct aether_forward *fwd, char *addrbuf, size_t addrlen,
		     char *err, size_t errlen);

/* `aether forward add|remove|list VM ...` (exit 0, 1 error, 2 usage). */
int ae_cmd_forward(int argc, char **argv, const char *hostconf);

#endif
