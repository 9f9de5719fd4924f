/* serve.h - the inside of `aether serve` (agent.c), shared by its parts:
 *   agent.c           the command: setup, the poll loop, stopping
 *   serve-conn.c      the broker connection: queues, consumers, reconnects
 *   serve-dispatch.c  one delivery: checks, dedupe, then a job
 *   serve-create.c    create-vm: forward to the owner, decline when full,
 *                     or take it (journalled before any side effect)
 *   serve-jobs.c      the job runner: one child `aether` per step
 *                     (ae_req_next_argv), its output, the next step
 *   serve-reply.c     replies, acks, dead letters, the done table, and
 *                     the end of a job (record, reply, ack)
 *   serve-fleet.c     ownership (vm.NAME bindings) and capacity
 * Not an interface of the agent: agent.h is. */
#ifndef AE_SERVE_H
#define AE_SERVE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "agent-req.h"
#include "agentconf.h"
#include "broker.h"
#include "util.h"

#define MAX_OUTPUT (1 << 20) /* of a child's stdout, stderr: the newest bytes */
#define DONE_KEEP 4096 /* requests answered, kept for redeliveries */

#define C_CREATE AE_REQ_CREATE
#define C_START AE_REQ_START
#define C_STOP AE_REQ_STOP
#define C_DELETE AE_REQ_DELETE
#define C_STATUS AE_REQ_STATUS
#define C_LIST AE_REQ_LIST
#define C_FORWARD AE_REQ_FORWARD
#define C_CONSOLE AE_REQ_CONSOLE
#define cmd_names ae_req_cmd_names

struct tagref {
	uint64_t tag;
	unsigned gen;
};

struct job {
	struct job *next;
	enum ae_req_cmd cmd;
	char *id;             /* dedupe key (message id), may be NULL */
	char digest[65];      /* of command and options (ae_req_digest) */
	char *name;           /* VM, NULL for list */
	char *reply_to, *correlation_id;
	struct tagref tags[8];/* deliveries to ack (redeliveries join) */
	int n_tags;
	json_t *opts;
	int step;             /* enum ae_req_step, see ae_req_next_argv() */
	int failed;           /* a step failed: the error is in reason */
	char *reason;
	json_t *response;
	pid_t pid;
	int out_fd, err_fd;
	char *out, *err;
	size_t out_len, err_len;
	int status, reaped;
	int made;             /* create: the VM exists in the store */
	int cur_step, cur_json;/* the running step; it prints JSON */
	char *script;         /* create: init script file */
	long mem, cpus;       /* create: reserved capacity */
};

struct done {
	char *id;
	char digest[65];      /* of the request answered */
	char *reply;          /* JSON text */
	int replied;
};

struct agent {
	struct ae_agent_conf conf;
	const char *hostconf;
	char *exe, *store, *jdir;
	struct ae_amqp_conf aconf;
	struct ae_amqp amqp;
	int connected;
	unsigned gen;
	struct job *jobs;
	struct done done[DONE_KEEP];
	unsigned done_next;
	volatile int stopping;
	long long stop_deadline; /* mono_ms: when stopping, the jobs' end */
	long long next_try, backoff;
	int sfd;
	long served;
};
static inline long long mono_ms(void)
{
	return (long long)(ae_now_ns() / 1000000);
}

/* serve-conn.c */
void sv_try_connect(struct agent *a);
void sv_lost(struct agent *a, const char *err);

/* serve-dispatch.c */
void sv_handle(struct agent *a, struct ae_msg *m);

/* serve-create.c */
void sv_create(struct agent *a, struct ae_msg *m, json_t *opts,
	       const char *id, const char *digest);

/* serve-jobs.c */
struct job *sv_job_new(struct agent *a, enum ae_req_cmd c, struct ae_msg *m,
		       json_t *opts, const char *id);
void sv_job_start(struct agent *a, struct job *j);
struct job *sv_job_by_id(struct agent *a, const char *id);
void sv_job_unlink(struct agent *a, struct job *j);
void sv_job_free(struct job *j);
void sv_drain(int *fd, char **buf, size_t *len);
void sv_reap(struct agent *a);

/* serve-reply.c */
char *sv_reply_text(struct agent *a, const char *status,
		    const char *reason, json_t *response, int progress,
		    enum ae_req_cmd cmd);
int sv_send_reply(struct agent *a, const char *reply_to,
		  const char *correlation_id, const char *text);
void sv_ack(struct agent *a, const struct tagref *t);
void sv_dead_letter(struct agent *a, struct ae_msg *m, int cmd,
		    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void sv_refuse(struct agent *a, struct ae_msg *m, int cmd,
	       const char *fmt, ...) __attribute__((format(printf, 4, 5)));
struct done *sv_done_find(struct agent *a, const char *id);
void sv_finish(struct agent *a, struct job *j);

/* serve-fleet.c */
char *sv_host_queue(struct agent *a);
int sv_bind_vm(struct agent *a, const char *name, int on);
void sv_save_bindings(struct agent *a);
int sv_sync_bindings(struct agent *a);
int sv_in_store(struct agent *a, const char *name);
int sv_being_made(struct agent *a, const char *name);
int sv_fits(struct agent *a, long mem, long cpus, char *why, size_t len);

#endif
