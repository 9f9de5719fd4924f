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
 *   network switch BACKEND [KEY=VALUE]...
 *                         switch a switchable VM to BACKEND with the
 *                         options of [network.BACKEND] (the host
 *                         config's, and the VM file's for the VM's own
 *                         backend), each KEY=VALUE given overriding that
 *                         key.  VALUE is bare when it has only
 *                         [A-Za-z0-9._:/,+@%=-], else double-quoted with
 *                         \\ \" \; \# escaped (ae_control_format_pair;
 *                         the config file's quoting, decoded by
 *                         ae_ini_decode_value).  Body: "backend BACKEND",
 *                         then "dropped-forward tcp 127.0.0.1:2222 22"
 *                         for each forward the new backend did not take.
 *                         Errors: EOPNOTSUPP (not switchable, or a
 *                         backend the relay cannot carry), EINVAL (an
 *                         option; the message names the key), or the
 *                         attach's errno with the plugin's message; the
 *                         VM then stays on its old backend.
 *   network show          body: "backend NAME", "option KEY VALUE" per
 *                         effective option (VALUE quoted as above),
 *                         "attachment KIND DETAIL" ("tap ae3",
 *                         "vde /run/x/ctl port 5", "frame slirp",
 *                         "user", ...), "address ADDR SOURCE" per address
 *                         the backend knows.
 * A request line is at most 4095 bytes and 64 words (words split at
 * blanks outside double quotes).
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
	 * section), for `forward list`; NULL: none.  Also the options
	 * `network show` prints. */
	const struct ae_ini_section *section;
	const char *backend;          /* the backend's name */
	const char *attachment;       /* "KIND DETAIL" for network show */
	/* network switch: NULL when the VM cannot switch.  On success it
	 * has called ae_control_retarget with the new backend's target;
	 * on failure err says why and the target is unchanged. */
	int (*net_switch)(void *net_ctx, const char *backend,
			  const struct ae_ini_section *opts, char *err,
			  size_t errlen);
	void *net_ctx;
};

/* The origin named in errors about the options of a switch request. */
#define AE_CONTROL_ORIGIN "network switch request"

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

/* The target changed (a network switch): later requests use t. */
void ae_control_retarget(struct ae_control *c,
			 const struct ae_control_target *t);
/* Is the forward of a "tcp:ADDR:PORT-:GPORT" hostfwd value one of the
 * forwards the server has (configured or added)? */
int ae_control_has_forward(const struct ae_control *c, const char *hostfwd);
/* A value as a request carries it: bare or quoted (see above); malloc'd,
 * or NULL (err) for a control character.  _format_pair: "KEY=VALUE". */
char *ae_control_quote(const char *value, char *err, size_t errlen);
char *ae_control_format_pair(const char *key, const char *value, char *err,
			     size_t errlen);
/* The KEY=VALUE words of a switch request as a [network.BACKEND]
 * section (entries owned; file AE_CONTROL_ORIGIN, line = word number).
 * 0, or -EINVAL with the word at fault in err. */
int ae_control_parse_pairs(char **w, int nw, const char *backend,
			   struct ae_ini_section *out, char *err,
			   size_t errlen);
void ae_control_free_pairs(struct ae_ini_section *s);

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
