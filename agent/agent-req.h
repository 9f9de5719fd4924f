/* agent-req.h - the host agent's requests without the broker: parsing
 * and validating a message body, the host's policy for what a valid
 * request may ask, the digest that tells a redelivery from a reused id,
 * the agent's own headers, and the argv of each step's child `aether`.
 * Used by `aether serve` (serve-*.c), the unit suite tests/check_agent.c
 * and the fuzzer tests/fuzz/fuzz-agent.c; see aether-remote(7) for the
 * protocol. */
#ifndef AE_AGENT_REQ_H
#define AE_AGENT_REQ_H

#include <stddef.h>

#include <jansson.h>

#include "agentconf.h"
#include "qemu-argv.h"

enum ae_req_cmd {
	AE_REQ_CREATE, AE_REQ_START, AE_REQ_STOP, AE_REQ_DELETE,
	AE_REQ_STATUS, AE_REQ_LIST, AE_REQ_FORWARD, AE_REQ_CONSOLE,
	AE_REQ_NETWORK,
	AE_REQ_N
};

extern const char *const ae_req_cmd_names[AE_REQ_N];

/* A request body {"command": STRING, "options": {...}}: 0 with *cmd and
 * *opts (a new reference, never NULL), or -1 with why naming what is
 * wrong; *cmd is the command when it was understood, else -1.  Only the
 * form is checked here (types, ranges, names, syntax), not the host's
 * policy. */
int ae_req_parse(const char *body, size_t len, int *cmd, json_t **opts,
		 char *why, size_t whylen);

/* The options of a known command, as ae_req_parse checks them. */
int ae_req_check_options(int cmd, json_t *opts, char *why, size_t whylen);

/* What this host allows a well-formed request to ask. */
struct ae_req_policy {
	long max_stop_timeout;            /* seconds; 0: no bound */
	const struct ae_fwd_policy *fwd;  /* forward add; NULL: any */
};

/* 0 when the host's policy allows the request, else -1 with why naming
 * the policy ([agent] key) that refuses it. */
int ae_req_policy_check(int cmd, json_t *opts, const struct ae_req_policy *p,
			char *why, size_t whylen);

/* "[ADDR]:PORT" of a forward (IPv4 ADDR; empty: 0.0.0.0, every
 * address).  0, or -1 when it is not that form. */
int ae_req_parse_hostport(const char *s, unsigned char addr[4], long *port);

/* SHA-256 of cmd and the canonical (sorted, compact) options, in hex: two
 * requests with the same id are one request only when these match. */
void ae_req_digest(int cmd, json_t *opts, char out[65]);
void ae_req_sha256(const void *data, size_t len, unsigned char out[32]);

/* x-aether-hops: a decimal 0..AE_REQ_MAX_HOPS; 0, or -1 (*out = 0). */
#define AE_REQ_MAX_HOPS 10000
int ae_req_parse_hops(const char *s, long *out);
/* x-aether-declined: host names separated by ','.  The number of names
 * when every one is a valid host name and there are at most 1000 (an
 * empty list: 0), else -1. */
int ae_req_list_count(const char *list);
int ae_req_list_has(const char *list, const char *item);

/* What a step's argv is built from: a validated request and the job's
 * progress. */
struct ae_req_ctx {
	int cmd;
	const char *name;      /* the VM (create: given or derived) */
	json_t *opts;          /* checked by ae_req_parse */
	int failed, made;      /* a step failed; create: the VM exists */
	const char *script;    /* create: the init script file, or NULL */
	const char *hostconf;  /* -c HOSTCONF, or NULL */
	const char *image_dir; /* create: where image/kernel/initrd are */
};

/* The steps of a job, in order; each runs one child `aether`.  A request
 * has only some of them (ae_req_next_argv skips the others):
 *   RUN       the command asked for (create, start-vm, list-vms, ...)
 *   START     create: start the new VM (unless start=false)
 *   STATUS    create, start-vm, stop-vm: the VM's status, for the reply
 *   DONE      no more steps
 *   ROLLBACK  a create that failed after making its VM: delete it (once;
 *             after it, no more steps) */
enum ae_req_step {
	AE_REQ_STEP_RUN,
	AE_REQ_STEP_START,
	AE_REQ_STEP_STATUS,
	AE_REQ_STEP_DONE,
	AE_REQ_STEP_ROLLBACK,
};

/* The argv of step *step (an ae_req_step; the caller starts at
 * AE_REQ_STEP_RUN and adds one after each step) in out, which is emptied
 * first.  *step advances to the step that runs: past the ones this
 * request does not have, to AE_REQ_STEP_ROLLBACK for a failed create
 * that made its VM.  Returns the number of arguments, or 0 when the job
 * has no more steps. */
int ae_req_next_argv(const struct ae_req_ctx *c, int *step,
		     struct ae_argv *out);

/* A child's output: append data[0..n) to *buf (NUL-terminated, *len
 * bytes, malloc'd), keeping at most 2 * max bytes, the newest. */
void ae_output_append(char **buf, size_t *len, const char *data, size_t n,
		      size_t max);
/* Keep the newest max bytes of *buf, starting on a UTF-8 character
 * boundary (continuation bytes cut from their lead byte are dropped). */
void ae_output_trim(char **buf, size_t *len, size_t max);

#endif
