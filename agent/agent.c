/* agent.c - `aether serve`: the host agent.
 *
 * One process, one broker connection, one poll loop.  Every request is
 * carried out by a child `aether` process (argv, never a shell) running
 * the local lifecycle command, so a slow create never stops the agent from
 * serving others, and the local and remote paths are the same code.  A
 * request is acked only after its work is done and its reply confirmed by
 * the broker; a request that cannot be understood gets an error reply and
 * is rejected to the dead-letter queue.  See broker.h and aether-remote(7).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "agent.h"
#include "agent-req.h"
#include "agentconf.h"
#include "broker.h"
#include "conffile.h"
#include "exitcodes.h"
#include "journal.h"
#include "store.h"
#include "util.h"
#include "vmconf.h"

#define MAX_OUTPUT (1 << 20)
#define DONE_KEEP 4096

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
	int step;             /* per command, see ae_req_next_argv() */
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
	long long next_try, backoff;
	int sfd;
	long served;
};

static long long mono_ms(void)
{
	return (long long)(ae_now_ns() / 1000000);
}

/* ------------------------------------------------------------------ */
/* replies, acks, dead letters                                        */

static char *reply_text(struct agent *a, const char *status,
			const char *reason, json_t *response, int progress,
			enum ae_req_cmd cmd)
{
	json_t *r = json_object();
	char *s;

	json_object_set_new(r, "status", json_string(status));
	/* The reason may quote the request or a child's stderr. */
	if (reason) {
		char *clean = ae_utf8_clean(reason, strlen(reason));
		json_object_set_new(r, "reason", json_string(clean));
		free(clean);
	} else {
		json_object_set_new(r, "reason", json_null());
	}
	json_object_set(r, "response", response ? response : json_null());
	json_object_set_new(r, "host", json_string(a->conf.host));
	if ((int)cmd >= 0)
		json_object_set_new(r, "command", json_string(cmd_names[cmd]));
	if (progress)
		json_object_set_new(r, "progress", json_true());
	s = json_dumps(r, JSON_COMPACT);
	json_decref(r);
	return s;
}

/* Publish a reply; 0 sent (or nobody to send to), -1 connection trouble. */
static int send_reply(struct agent *a, const char *reply_to,
		      const char *correlation_id, const char *text)
{
	char err[512];
	int rc;

	if (!reply_to || !*reply_to)
		return 0;
	if (!a->connected)
		return -1;
	rc = ae_amqp_publish(&a->amqp, "", reply_to, 1, text, strlen(text),
			     correlation_id, NULL, NULL, NULL, 10000, err,
			     sizeof err);
	if (rc < 0) {
		ae_warn("reply to %s: %s", reply_to, err);
		return -1;
	}
	if (rc == 1)
		ae_info("reply to %s: that queue is gone (the client left)",
			reply_to);
	return 0;
}

static void ack(struct agent *a, const struct tagref *t)
{
	if (!a->connected || t->gen != a->gen)
		return; /* that delivery died with its connection: redelivered */
	if (amqp_basic_ack(a->amqp.conn, 1, t->tag, 0) != AMQP_STATUS_OK)
		a->amqp.broken = 1;
}

/* Bad input: an error reply when there is a reply_to, then the broker
 * dead-letters the message (reject without requeue). */
static void dead_letter(struct agent *a, struct ae_msg *m, int cmd,
			const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void dead_letter(struct agent *a, struct ae_msg *m, int cmd,
			const char *fmt, ...)
{
	char reason[512], *text;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof reason, fmt, ap);
	va_end(ap);
	ae_warn("request %s from %s: %s (dead-lettered)",
		m->correlation_id ? m->correlation_id : "(no id)",
		m->reply_to ? m->reply_to : "(no reply_to)", reason);
	text = reply_text(a, "error", reason, NULL, 0, (enum ae_req_cmd)cmd);
	if (send_reply(a, m->reply_to, m->correlation_id, text) == 0 &&
	    a->connected &&
	    amqp_basic_reject(a->amqp.conn, 1, m->tag, 0) != AMQP_STATUS_OK)
		a->amqp.broken = 1;
	free(text);
}

/* A well-formed request this host will not carry out: an error reply,
 * and the request is acked (it was understood; nothing to inspect). */
static void refuse(struct agent *a, struct ae_msg *m, int cmd,
		   const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void refuse(struct agent *a, struct ae_msg *m, int cmd,
		   const char *fmt, ...)
{
	struct tagref t = {m->tag, a->gen};
	char reason[768], *text;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof reason, fmt, ap);
	va_end(ap);
	ae_info("%s: refused: %s", cmd >= 0 ? cmd_names[cmd] : "request",
		reason);
	text = reply_text(a, "error", reason, NULL, 0, (enum ae_req_cmd)cmd);
	if (send_reply(a, m->reply_to, m->correlation_id, text) == 0)
		ack(a, &t);
	free(text);
}

static struct done *done_find(struct agent *a, const char *id)
{
	unsigned i;

	if (!id)
		return NULL;
	for (i = 0; i < DONE_KEEP; i++)
		if (a->done[i].id && !strcmp(a->done[i].id, id))
			return &a->done[i];
	return NULL;
}

static struct done *done_add(struct agent *a, const char *id,
			     const char *digest, const char *reply)
{
	struct done *d = &a->done[a->done_next++ % DONE_KEEP];

	free(d->id);
	free(d->reply);
	d->id = ae_xstrdup(id);
	snprintf(d->digest, sizeof d->digest, "%s", digest);
	d->reply = ae_xstrdup(reply);
	d->replied = 0;
	return d;
}

/* ------------------------------------------------------------------ */
/* ownership: vm.NAME bound to this host's queue                      */

static char *host_queue(struct agent *a)
{
	return ae_xasprintf("aether.host.%s", a->conf.host);
}

static int bind_vm(struct agent *a, const char *name, int on)
{
	char *q = host_queue(a), *key = ae_xasprintf("vm.%s", name);
	char err[512];
	int rc;

	if (on)
		amqp_queue_bind(a->amqp.conn, 1, amqp_cstring_bytes(q),
				amqp_cstring_bytes(AE_X_MAIN),
				amqp_cstring_bytes(key), amqp_empty_table);
	else
		amqp_queue_unbind(a->amqp.conn, 1, amqp_cstring_bytes(q),
				  amqp_cstring_bytes(AE_X_MAIN),
				  amqp_cstring_bytes(key), amqp_empty_table);
	rc = ae_amqp_rpc_check(&a->amqp, on ? "queue.bind" : "queue.unbind",
			       err, sizeof err);
	if (rc < 0)
		ae_warn("%s %s: %s", on ? "claiming" : "releasing", name, err);
	free(q);
	free(key);
	return rc;
}

/* The names this agent has bound, kept next to the journal so that a VM
 * deleted behind the agent's back is unbound at the next connect. */
static void save_bindings(struct agent *a)
{
	char **names = NULL, *path, *text = ae_xstrdup(""), *t;
	int n, i;

	n = ae_store_list(a->store, &names);
	for (i = 0; i < n; i++) {
		t = ae_xasprintf("%s%s\n", text, names[i]);
		free(text);
		text = t;
	}
	if (n > 0)
		ae_store_list_free(names, n);
	path = ae_xasprintf("%s/.bindings", a->jdir);
	ae_write_file(path, text, strlen(text), 0600);
	free(path);
	free(text);
}

static int in_store(struct agent *a, const char *name)
{
	char *d = ae_xasprintf("%s/vms/%s/vm.conf", a->store, name);
	int r = access(d, F_OK) == 0;

	free(d);
	return r;
}

static int being_made(struct agent *a, const char *name)
{
	struct job *j;

	for (j = a->jobs; j; j = j->next)
		if (j->cmd == C_CREATE && j->name && !strcmp(j->name, name))
			return 1;
	return 0;
}

static int sync_bindings(struct agent *a)
{
	char *path = ae_xasprintf("%s/.bindings", a->jdir), *text = NULL, *l, *s;
	char **names = NULL;
	size_t len;
	int n, i;

	if (ae_read_file(path, &text, &len, 1 << 22) == 0) {
		for (l = strtok_r(text, "\n", &s); l; l = strtok_r(NULL, "\n", &s))
			if (ae_valid_vm_name(l) && !in_store(a, l) &&
			    bind_vm(a, l, 0) < 0)
				goto fail;
	}
	n = ae_store_list(a->store, &names);
	for (i = 0; i < n; i++)
		if (!being_made(a, names[i]) && bind_vm(a, names[i], 1) < 0) {
			ae_store_list_free(names, n);
			goto fail;
		}
	if (n > 0)
		ae_store_list_free(names, n);
	free(text);
	free(path);
	save_bindings(a);
	return 0;
fail:
	free(text);
	free(path);
	return -1;
}

/* ------------------------------------------------------------------ */
/* capacity                                                           */

struct usage {
	long vms, memory, cpus;
};

static void usage_of(struct agent *a, struct usage *u)
{
	char **names = NULL;
	struct job *j;
	int n, i;

	memset(u, 0, sizeof *u);
	n = ae_store_list(a->store, &names);
	for (i = 0; i < n; i++) {
		char *f = ae_xasprintf("%s/vms/%s/vm.conf", a->store, names[i]);
		const struct ae_ini_section *vm;
		const struct ae_ini_entry *e;
		struct ae_ini *ini;
		char err[256];
		long m = a->conf.default_memory, c = a->conf.default_cpus;

		if (being_made(a, names[i])) {
			free(f);
			continue; /* counted as its job's reservation */
		}
		if (ae_ini_parse_file(f, &ini, err, sizeof err) == 0) {
			vm = ae_ini_find(ini, "vm");
			if ((e = ae_ini_get(vm, "memory")) && atol(e->value) > 0)
				m = atol(e->value);
			if ((e = ae_ini_get(vm, "cpus")) && atol(e->value) > 0)
				c = atol(e->value);
			ae_ini_free(ini);
		}
		u->vms++;
		u->memory += m;
		u->cpus += c;
		free(f);
	}
	if (n > 0)
		ae_store_list_free(names, n);
	for (j = a->jobs; j; j = j->next)
		if (j->cmd == C_CREATE) {
			u->vms++;
			u->memory += j->mem;
			u->cpus += j->cpus;
		}
}

/* 0 when a VM of mem MiB and cpus vCPUs fits; else why not in why. */
static int fits(struct agent *a, long mem, long cpus, char *why, size_t len)
{
	struct usage u;

	usage_of(a, &u);
	if (a->conf.max_vms && u.vms + 1 > a->conf.max_vms)
		snprintf(why, len, "%ld of %ld VMs", u.vms, a->conf.max_vms);
	else if (a->conf.max_memory && u.memory + mem > a->conf.max_memory)
		snprintf(why, len, "%ld of %ld MiB memory in use, %ld asked",
			 u.memory, a->conf.max_memory, mem);
	else if (a->conf.max_cpus && u.cpus + cpus > a->conf.max_cpus)
		snprintf(why, len, "%ld of %ld vCPUs in use, %ld asked", u.cpus,
			 a->conf.max_cpus, cpus);
	else
		return 0;
	return -1;
}

/* ------------------------------------------------------------------ */
/* jobs: one child `aether` process per step                          */

static void job_free(struct job *j)
{
	if (j->script) {
		unlink(j->script);
		free(j->script);
	}
	free(j->id);
	free(j->name);
	free(j->reply_to);
	free(j->correlation_id);
	free(j->reason);
	free(j->out);
	free(j->err);
	json_decref(j->opts);
	json_decref(j->response);
	free(j);
}

static int opt_bool(struct job *j, const char *k, int def)
{
	json_t *v = json_object_get(j->opts, k);

	return v ? json_is_true(v) : def;
}

static int spawn_step(struct agent *a, struct job *j)
{
	struct ae_req_ctx ctx = {
		.cmd = j->cmd, .name = j->name, .opts = j->opts,
		.failed = j->failed, .made = j->made, .script = j->script,
		.hostconf = a->hostconf, .image_dir = a->conf.image_dir};
	struct ae_argv v = {0};
	int o[2], e[2], rc;
	pid_t pid;

	if (!ae_req_next_argv(&ctx, &j->step, &v))
		return 0;
	j->cur_step = j->step;
	j->cur_json = 0;
	for (size_t i = 0; i < v.n; i++)
		if (!strcmp(v.v[i], "--json"))
			j->cur_json = 1;
	if (pipe2(o, O_CLOEXEC) < 0) {
		rc = -errno;
		ae_argv_free(&v);
		return rc;
	}
	if (pipe2(e, O_CLOEXEC) < 0) {
		rc = -errno;
		close(o[0]);
		close(o[1]);
		ae_argv_free(&v);
		return rc;
	}
	free(j->out);
	free(j->err);
	j->out = j->err = NULL;
	j->out_len = j->err_len = 0;
	j->reaped = 0;
	pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);
		sigset_t none;

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		/* An agent killed mid-request takes its children along: what
		 * they half made is rolled back by the journal (gc). */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (null >= 0)
			dup2(null, 0);
		dup2(o[1], 1);
		dup2(e[1], 2);
		execv(a->exe, v.v);
		dprintf(2, "aether: %s: %s\n", a->exe, strerror(errno));
		_exit(127);
	}
	rc = -errno;
	ae_argv_free(&v);
	close(o[1]);
	close(e[1]);
	if (pid < 0) {
		close(o[0]);
		close(e[0]);
		return rc;
	}
	fcntl(o[0], F_SETFL, O_NONBLOCK);
	fcntl(e[0], F_SETFL, O_NONBLOCK);
	j->pid = pid;
	j->out_fd = o[0];
	j->err_fd = e[0];
	return 1;
}

/* Read what a child wrote.  At most MAX_OUTPUT bytes are kept: the
 * newest ones (the end of a console log, the last error), starting on a
 * UTF-8 character boundary.  The text may still hold anything the child
 * printed: it goes through ae_utf8_clean before it goes into JSON. */
static void drain(int *fd, char **buf, size_t *len)
{
	char tmp[8192];
	ssize_t r;

	while (*fd >= 0) {
		r = read(*fd, tmp, sizeof tmp);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EAGAIN)
			return;
		if (r <= 0) {
			close(*fd);
			*fd = -1;
			return;
		}
		ae_output_append(buf, len, tmp, (size_t)r, MAX_OUTPUT);
	}
}

/* The child's complaint, one line: its stderr without "aether: ". */
static char *child_reason(struct job *j)
{
	char *out = ae_xstrdup(""), *s = j->err ? ae_xstrdup(j->err) : NULL;
	char *l, *save, *t;

	for (l = s ? strtok_r(s, "\n", &save) : NULL; l;
	     l = strtok_r(NULL, "\n", &save)) {
		if (!strncmp(l, "aether: ", 8))
			l += 8;
		if (!strncmp(l, "error: ", 7))
			l += 7;
		t = ae_xasprintf("%s%s%s", out, *out ? "; " : "", l);
		free(out);
		out = t;
	}
	free(s);
	if (!*out) {
		free(out);
		out = WIFEXITED(j->status)
			      ? ae_xasprintf("exit status %d",
					     WEXITSTATUS(j->status))
			      : ae_xasprintf("killed by signal %d",
					     WTERMSIG(j->status));
	}
	return out;
}

static void finish(struct agent *a, struct job *j);

/* A step's child has exited and its output is read: look at the result,
 * then run the next step or finish. */
static void step_done(struct agent *a, struct job *j)
{
	int code = WIFEXITED(j->status) ? WEXITSTATUS(j->status) : 128;
	int is_status = j->cur_json;

	j->pid = 0;
	ae_output_trim(&j->out, &j->out_len, MAX_OUTPUT);
	ae_output_trim(&j->err, &j->err_len, MAX_OUTPUT);
	if (j->out) {
		/* JSON strings must be UTF-8: whatever a guest printed. */
		char *clean = ae_utf8_clean(j->out, j->out_len);
		free(j->out);
		j->out = clean;
		j->out_len = strlen(clean);
	}
	if (j->cur_step == AE_REQ_ROLLBACK) {
		if (code) {
			char *why = child_reason(j);
			ae_warn("create %s: rollback failed: %s", j->name, why);
			free(why);
		}
		j->made = code != 0;
		finish(a, j);
		return;
	}
	if (is_status) {
		json_error_t je;
		json_t *r = j->out ? json_loads(j->out, 0, &je) : NULL;
		/* status exits 3 for a VM that is not running: an answer */
		if (!r || (code != 0 && code != 3)) {
			j->failed = 1;
			free(j->reason);
			j->reason = code ? child_reason(j)
					 : ae_xstrdup("unreadable status output");
			json_decref(r);
		} else {
			json_decref(j->response);
			if (j->cmd == C_LIST) {
				j->response = json_pack("{s:s, s:o}", "host",
							a->conf.host, "vms", r);
			} else {
				j->response = r;
			}
		}
	} else if (code) {
		j->failed = 1;
		free(j->reason);
		j->reason = child_reason(j);
	} else {
		if (j->cmd == C_CREATE && j->step == 0)
			j->made = 1;
		json_decref(j->response);
		j->response = json_pack("{s:s?, s:s}", "name", j->name, "output",
					j->out ? j->out : "");
		if (j->cmd == C_DELETE)
			json_object_set_new(j->response, "deleted", json_true());
	}
	j->step++;
	for (;;) {
		int rc = spawn_step(a, j);
		if (rc > 0)
			return;
		if (rc == 0)
			break;
		j->failed = 1;
		free(j->reason);
		j->reason = ae_xasprintf("cannot start %s: %s", a->exe,
					 strerror(-rc));
	}
	finish(a, j);
}

static void unlink_job(struct agent *a, struct job *j)
{
	struct job **p;

	for (p = &a->jobs; *p; p = &(*p)->next)
		if (*p == j) {
			*p = j->next;
			return;
		}
}

/* Reply and ack a finished job.  The outcome is recorded first (journal
 * for creates, the done table for all), so a redelivery after a broken
 * connection is answered from the record, never done twice. */
static void finish(struct agent *a, struct job *j)
{
	char *text;
	struct done *d = NULL;
	int i;

	if (j->cmd == C_CREATE && !j->failed) {
		/* Ours only while a delivery of it is on this connection: one
		 * that died with an earlier connection went back to the queue
		 * and may be another host's now. */
		int current = 0;
		for (i = 0; i < j->n_tags; i++)
			if (j->tags[i].gen == a->gen)
				current = 1;
		if (a->connected && current && bind_vm(a, j->name, 1) == 0) {
			save_bindings(a);
		} else {
			/* Not owned without the binding: keep the record
			 * accepted so the VM is rolled back, and let the
			 * redelivery redo the request. */
			ae_warn("create %s: cannot claim it on the broker: "
				"rolling back", j->name);
			j->failed = 1;
			j->reason = ae_xstrdup("lost the broker connection");
			unlink_job(a, j);
			if (j->id && a->jdir)
				ae_journal_rollback(a->store, a->jdir, j->id,
						    a->hostconf);
			job_free(j);
			return;
		}
	}
	if (j->cmd == C_DELETE && !j->failed && a->connected) {
		bind_vm(a, j->name, 0); /* no longer routed here */
		save_bindings(a);
	}
	if (j->failed) {
		const char *r = j->reason ? j->reason : "failed";
		char *full = ae_xasprintf("%s%s%s", j->name ? j->name : "",
					  j->name ? ": " : "", r);
		text = reply_text(a, "error", full, NULL, 0, j->cmd);
		free(full);
		ae_info("%s%s%s: error: %s", cmd_names[j->cmd],
			j->name ? " " : "", j->name ? j->name : "", r);
	} else {
		json_t *resp = j->response;
		if (j->cmd == C_CREATE) {
			resp = json_pack("{s:s, s:s, s:s, s:O?}", "state",
					 opt_bool(j, "start", 1) ? "running"
								 : "created",
					 "name", j->name, "host", a->conf.host,
					 "vm", j->response);
		}
		text = reply_text(a, "success", NULL, resp, 0, j->cmd);
		if (resp != j->response)
			json_decref(resp);
		ae_info("%s%s%s: done", cmd_names[j->cmd], j->name ? " " : "",
			j->name ? j->name : "");
	}
	if (j->id) {
		d = done_add(a, j->id, j->digest, text);
		if (j->cmd == C_CREATE && a->jdir) {
			struct ae_jrec r = {.pid = (long)getpid(),
					    .time = (long long)time(NULL)};
			snprintf(r.name, sizeof r.name, "%s", j->name);
			snprintf(r.digest, sizeof r.digest, "%s", j->digest);
			if (j->failed) {
				if (!j->made) /* else gc retries the rollback */
					ae_journal_remove(a->jdir, j->id);
			} else {
				snprintf(r.state, sizeof r.state, "done");
				ae_journal_set_reply(a->jdir, j->id, text);
				ae_journal_write(a->jdir, j->id, &r);
			}
		}
	}
	if (send_reply(a, j->reply_to, j->correlation_id, text) == 0) {
		if (d)
			d->replied = 1;
		if (j->cmd == C_CREATE && !j->failed && j->id && a->jdir) {
			struct ae_jrec r = {.pid = (long)getpid(),
					    .time = (long long)time(NULL)};
			snprintf(r.name, sizeof r.name, "%s", j->name);
			snprintf(r.digest, sizeof r.digest, "%s", j->digest);
			snprintf(r.state, sizeof r.state, "replied");
			ae_journal_write(a->jdir, j->id, &r);
		}
		for (i = 0; i < j->n_tags; i++)
			ack(a, &j->tags[i]);
	}
	free(text);
	a->served++;
	unlink_job(a, j);
	job_free(j);
}

static void job_start(struct agent *a, struct job *j)
{
	int rc;

	j->next = a->jobs;
	a->jobs = j;
	rc = spawn_step(a, j);
	if (rc <= 0) {
		j->failed = 1;
		j->reason = ae_xasprintf("cannot start %s: %s", a->exe,
					 strerror(-rc));
		finish(a, j);
	}
}

static struct job *job_new(struct agent *a, enum ae_req_cmd c, struct ae_msg *m,
			   json_t *opts, const char *id)
{
	struct job *j = ae_xcalloc(1, sizeof *j);
	const char *name = json_string_value(json_object_get(opts, "name"));

	j->cmd = c;
	j->id = id ? ae_xstrdup(id) : NULL;
	j->name = name ? ae_xstrdup(name) : NULL;
	j->reply_to = m->reply_to ? ae_xstrdup(m->reply_to) : NULL;
	j->correlation_id = m->correlation_id ? ae_xstrdup(m->correlation_id)
					      : NULL;
	j->tags[0].tag = m->tag;
	j->tags[0].gen = a->gen;
	j->n_tags = 1;
	j->opts = json_incref(opts);
	j->out_fd = j->err_fd = -1;
	return j;
}

static struct job *job_by_id(struct agent *a, const char *id)
{
	struct job *j;

	for (j = a->jobs; id && j; j = j->next)
		if (j->id && !strcmp(j->id, id))
			return j;
	return NULL;
}

/* ------------------------------------------------------------------ */
/* create-vm: forward to the owner, decline when full, or take it       */

static int publish_copy(struct agent *a, struct ae_msg *m, const char *key,
			int mandatory, const amqp_table_t *h)
{
	char err[512];
	int rc = ae_amqp_publish(&a->amqp, AE_X_MAIN, key, mandatory, m->body,
				 m->len, m->correlation_id, m->reply_to,
				 m->message_id, h, 10000, err, sizeof err);
	if (rc < 0)
		ae_warn("publish to %s: %s", key, err);
	return rc;
}

/* Full: hand the request back to the shared queue for another host, or
 * answer "no capacity" once every live host has declined it. */
static void decline(struct agent *a, struct ae_msg *m, const char *name,
		    long mem, long cpus, const char *why)
{
	char *declined = ae_msg_header(m, "x-aether-declined");
	char *hops_s = ae_msg_header(m, "x-aether-hops");
	char err[512], hopbuf[24], *list;
	amqp_table_entry_t e[2];
	amqp_table_t h = {2, e};
	int live, n = 0;
	const char *p;
	long hops;

	/* Both headers only steer the request that carries them (a client
	 * that sets them only makes its own create fail sooner), but they
	 * come from the wire: numbers and names are checked, and a bad
	 * value counts as absent. */
	if (hops_s && ae_req_parse_hops(hops_s, &hops) < 0)
		ae_warn("create-vm %s: ignoring x-aether-hops '%.32s' (not "
			"0..%d)", name, hops_s, AE_REQ_MAX_HOPS);
	if (!hops_s)
		hops = 0;
	hops++;
	if (declined && ae_req_list_count(declined) < 0) {
		ae_warn("create-vm %s: ignoring a malformed x-aether-declined",
			name);
		free(declined);
		declined = NULL;
	}
	if (declined && ae_req_list_has(declined, a->conf.host))
		list = ae_xstrdup(declined);
	else
		list = ae_xasprintf("%s%s%s", declined ? declined : "",
				    declined && *declined ? "," : "",
				    a->conf.host);
	for (p = list; p && *p; n++) {
		p = strchr(p, ',');
		if (p)
			p++;
	}
	live = ae_amqp_consumers(&a->amqp, AE_Q_HOSTS, err, sizeof err);
	if (live < 0) {
		ae_warn("%s", err);
		goto out; /* connection trouble: the request is redelivered */
	}
	ae_info("create-vm %s: host full (%s): declined (%d of %d hosts)",
		name, why, n, live);
	if (n >= live || hops > 4L * live + 4) {
		char *reason = ae_xasprintf("%s: no host has capacity for it "
					    "(%ld MiB, %ld vCPUs); declined by "
					    "%s; here: %s", name, mem, cpus,
					    list, why);
		char *text = reply_text(a, "error", reason, NULL, 0, C_CREATE);
		if (send_reply(a, m->reply_to, m->correlation_id, text) == 0) {
			struct tagref t = {m->tag, a->gen};
			ack(a, &t);
		}
		free(text);
		free(reason);
		goto out;
	}
	snprintf(hopbuf, sizeof hopbuf, "%ld", hops);
	e[0].key = amqp_cstring_bytes("x-aether-declined");
	e[0].value.kind = AMQP_FIELD_KIND_UTF8;
	e[0].value.value.bytes = amqp_cstring_bytes(list);
	e[1].key = amqp_cstring_bytes("x-aether-hops");
	e[1].value.kind = AMQP_FIELD_KIND_UTF8;
	e[1].value.value.bytes = amqp_cstring_bytes(hopbuf);
	if (publish_copy(a, m, "create", 0, &h) == 0) {
		struct tagref t = {m->tag, a->gen};
		ack(a, &t);
	}
out:
	free(list);
	free(declined);
	free(hops_s);
}

/* A stable name for a create without one: from its request id. */
static char *name_from_id(const char *id)
{
	uint64_t h = 1469598103934665603ULL;

	for (; id && *id; id++)
		h = (h ^ (unsigned char)*id) * 1099511628211ULL;
	if (!id)
		h ^= ae_now_ns();
	return ae_xasprintf("vm-%012llx", (unsigned long long)(h >> 16));
}

/* 1 when the broker delivered m to this host's queue through exchange
 * aether under routing key vm.NAME: a binding this host holds (it owns
 * NAME, or an earlier create of it left the binding).  That is how a
 * create forwarded by another agent to the owner arrives; a client can
 * only send a create that way to the host that holds the binding, so
 * never to a second host.  No header is trusted for this. */
static int routed_by_binding(const struct ae_msg *m, const char *name)
{
	return m->consumer_tag && !strcmp(m->consumer_tag, "host") &&
	       m->exchange && !strcmp(m->exchange, AE_X_MAIN) &&
	       m->routing_key && !strncmp(m->routing_key, "vm.", 3) &&
	       !strcmp(m->routing_key + 3, name);
}

static void do_create(struct agent *a, struct ae_msg *m, json_t *opts,
		      const char *id, const char *digest)
{
	struct ae_jrec r;
	struct job *j;
	char why[256], *img, *genname = NULL;
	long mem, cpus;
	const char *name;
	struct stat st;

	if (!json_object_get(opts, "name")) {
		genname = name_from_id(id);
		json_object_set_new(opts, "name", json_string(genname));
	}
	name = json_string_value(json_object_get(opts, "name"));
	/* The same request again (a redelivery, or forwarded back to us). */
	if (id && a->jdir && ae_journal_read(a->jdir, id, &r) == 0 &&
	    (r.digest[0] ? strcmp(r.digest, digest) : strcmp(r.name, name))) {
		refuse(a, m, C_CREATE, "request id %s was already used for "
		       "another request (create-vm of %s); send each request "
		       "with a new message id", id, r.name);
		goto out;
	}
	if (id && a->jdir && ae_journal_read(a->jdir, id, &r) == 0) {
		if (!strcmp(r.state, "done") || !strcmp(r.state, "replied")) {
			char *text = ae_journal_reply(a->jdir, id);
			struct tagref t = {m->tag, a->gen};
			ae_info("create-vm %s: request %s was done already%s",
				name, id, strcmp(r.state, "done") ? ""
								  : ": replying");
			if (!text ||
			    send_reply(a, m->reply_to, m->correlation_id, text) == 0) {
				if (text && !strcmp(r.state, "done")) {
					snprintf(r.state, sizeof r.state,
						 "replied");
					ae_journal_write(a->jdir, id, &r);
				}
				ack(a, &t);
			}
			free(text);
			goto out;
		}
		/* accepted, and no job of ours runs it (handle() joins a
		 * running one): left half made by an earlier run. */
		ae_journal_rollback(a->store, a->jdir, id, a->hostconf);
	}
	if (being_made(a, name)) {
		char *reason = ae_xasprintf("VM %s is being created on host %s "
					    "by another request", name,
					    a->conf.host);
		char *text = reply_text(a, "error", reason, NULL, 0, C_CREATE);
		struct tagref t = {m->tag, a->gen};
		if (send_reply(a, m->reply_to, m->correlation_id, text) == 0)
			ack(a, &t);
		free(text);
		free(reason);
		goto out;
	}
	if (in_store(a, name)) {
		char *reason = ae_xasprintf("VM %s already exists on host %s",
					    name, a->conf.host);
		char *text = reply_text(a, "error", reason, NULL, 0, C_CREATE);
		struct tagref t = {m->tag, a->gen};
		if (send_reply(a, m->reply_to, m->correlation_id, text) == 0)
			ack(a, &t);
		free(text);
		free(reason);
		goto out;
	}
	/* Owned by another host (a name is unique in the fleet, and a
	 * redelivered create whose VM was made elsewhere is answered there):
	 * the broker routes vm.NAME to the owner or returns it. */
	if (!routed_by_binding(m, name)) {
		amqp_table_entry_t e = {
			.key = amqp_cstring_bytes("x-aether-forwarded"),
			.value = {.kind = AMQP_FIELD_KIND_UTF8,
				  .value.bytes = amqp_cstring_bytes(a->conf.host)}};
		amqp_table_t h = {1, &e};
		char *key = ae_xasprintf("vm.%s", name);
		int rc = publish_copy(a, m, key, 1, &h);
		free(key);
		if (rc < 0)
			goto out;
		if (rc == 0) {
			struct tagref t = {m->tag, a->gen};
			ae_info("create-vm %s: owned by another host: forwarded",
				name);
			ack(a, &t);
			goto out;
		}
	}
	mem = json_object_get(opts, "memory")
		      ? (long)json_integer_value(json_object_get(opts, "memory"))
		      : a->conf.default_memory;
	cpus = json_object_get(opts, "cpus")
		       ? (long)json_integer_value(json_object_get(opts, "cpus"))
		       : a->conf.default_cpus;
	if (fits(a, mem, cpus, why, sizeof why) < 0) {
		decline(a, m, name, mem, cpus, why);
		goto out;
	}
	img = ae_xasprintf("%s/%s", a->conf.image_dir,
			   json_string_value(json_object_get(opts, "image")));
	if (stat(img, &st) < 0 || !S_ISREG(st.st_mode)) {
		char *reason = ae_xasprintf("%s: image %s: %s", name, img,
					    errno ? strerror(errno)
						  : "not a regular file");
		char *text = reply_text(a, "error", reason, NULL, 0, C_CREATE);
		struct tagref t = {m->tag, a->gen};
		if (send_reply(a, m->reply_to, m->correlation_id, text) == 0)
			ack(a, &t);
		free(text);
		free(reason);
		free(img);
		goto out;
	}
	free(img);
	j = job_new(a, C_CREATE, m, opts, id);
	snprintf(j->digest, sizeof j->digest, "%s", digest);
	j->mem = mem;
	j->cpus = cpus;
	if (json_object_get(opts, "init_script")) {
		const char *s = json_string_value(json_object_get(opts,
								  "init_script"));
		j->script = ae_xasprintf("%s/.script-%s.%ld", a->jdir, name,
					 (long)getpid());
		if (ae_write_file(j->script, s, strlen(s), 0600) < 0) {
			j->failed = 1;
			j->reason = ae_xasprintf("cannot write %s", j->script);
		}
	}
	/* Recorded before the side effect: a crash from here on is rolled
	 * back by the next agent start or `aether gc`. */
	if (id && a->jdir) {
		struct ae_jrec nr = {.pid = (long)getpid(),
				     .time = (long long)time(NULL)};
		snprintf(nr.state, sizeof nr.state, "accepted");
		snprintf(nr.name, sizeof nr.name, "%s", name);
		snprintf(nr.digest, sizeof nr.digest, "%s", digest);
		ae_journal_write(a->jdir, id, &nr);
	}
	{
		json_t *resp = json_pack("{s:s, s:s, s:s}", "state", "accepted",
					 "name", name, "host", a->conf.host);
		char *text = reply_text(a, "success", NULL, resp, 1, C_CREATE);
		send_reply(a, m->reply_to, m->correlation_id, text);
		free(text);
		json_decref(resp);
	}
	ae_info("create-vm %s: accepted (request %s)", name, id ? id : "-");
	if (j->failed) {
		j->next = a->jobs;
		a->jobs = j;
		finish(a, j);
	} else {
		job_start(a, j);
	}
out:
	free(genname);
}

/* ------------------------------------------------------------------ */
/* dispatch                                                           */

static void handle(struct agent *a, struct ae_msg *m)
{
	const char *id = m->message_id ? m->message_id : m->correlation_id;
	const struct ae_req_policy pol = {a->conf.max_stop_timeout,
					  &a->conf.fwd};
	char why[512], digest[65];
	json_t *opts = NULL;
	struct done *d;
	struct job *j;
	int c;

	if (!strcmp(m->consumer_tag, "presence"))
		return;
	if ((long)m->len > a->conf.max_message) {
		dead_letter(a, m, -1, "message of %zu bytes is over this host's "
			    "limit of %ld", m->len, a->conf.max_message);
		return;
	}
	/* The id names the request's journal file and its dedupe record. */
	if (id && !ae_journal_valid_id(id)) {
		dead_letter(a, m, -1, "request id '%.64s' (the %s) is not 1 to "
			    "128 of [A-Za-z0-9_:@-]", id, m->message_id
			    ? "message_id" : "correlation_id");
		return;
	}
	if (ae_req_parse(m->body, m->len, &c, &opts, why, sizeof why) < 0) {
		dead_letter(a, m, c, "%s", why);
		return;
	}
	if (c != C_CREATE && !strcmp(m->consumer_tag, "create")) {
		dead_letter(a, m, c, "%s goes to the VM's owner (routing key "
			    "vm.NAME on exchange %s), not to %s", cmd_names[c],
			    AE_X_MAIN, AE_Q_CREATE);
		goto out;
	}
	ae_req_digest(c, opts, digest);
	/* An id already answered or running: the same request again (a
	 * redelivery, a client re-sending after a reconnect), or a reuse of
	 * the id for another request, which is refused. */
	d = id ? done_find(a, id) : NULL;
	j = id ? job_by_id(a, id) : NULL;
	if ((d && strcmp(d->digest, digest)) || (j && strcmp(j->digest, digest))) {
		refuse(a, m, c, "request id %s was already used for another "
		       "request (%s); send each request with a new message "
		       "id", id, cmd_names[j ? (int)j->cmd : c]);
		goto out;
	}
	/* Already done (a redelivery, or a client sending it again): answer
	 * from the record, again (the sender may be another client). */
	if (d && c != C_CREATE) {
		struct tagref t = {m->tag, a->gen};
		if (send_reply(a, m->reply_to, m->correlation_id, d->reply) == 0) {
			d->replied = 1;
			ack(a, &t);
		}
		goto out;
	}
	/* In progress here (redelivered after a reconnect): ack it then. */
	if (j) {
		if (j->n_tags < (int)AE_ARRAY_SIZE(j->tags)) {
			j->tags[j->n_tags].tag = m->tag;
			j->tags[j->n_tags++].gen = a->gen;
		}
		goto out;
	}
	if (ae_req_policy_check(c, opts, &pol, why, sizeof why) < 0) {
		refuse(a, m, c, "%s", why);
		goto out;
	}
	if (c == C_CREATE) {
		do_create(a, m, opts, id, digest);
		goto out;
	}
	if (c != C_LIST) {
		const char *name = json_string_value(json_object_get(opts, "name"));
		if (!in_store(a, name)) {
			/* Routed here by a binding the store no longer backs
			 * (deleted behind the agent's back): drop it. */
			if (!being_made(a, name))
				bind_vm(a, name, 0);
			refuse(a, m, c, "VM %s is not on host %s", name,
			       a->conf.host);
			goto out;
		}
	}
	j = job_new(a, (enum ae_req_cmd)c, m, opts, id);
	snprintf(j->digest, sizeof j->digest, "%s", digest);
	job_start(a, j);
out:
	json_decref(opts);
}

/* ------------------------------------------------------------------ */
/* connection                                                         */

static int consume(struct agent *a, const char *q, const char *tag, int no_ack)
{
	char err[512];

	amqp_basic_consume(a->amqp.conn, 1, amqp_cstring_bytes(q),
			   amqp_cstring_bytes(tag), 0, no_ack, 0,
			   amqp_empty_table);
	if (ae_amqp_rpc_check(&a->amqp, "basic.consume", err, sizeof err) < 0) {
		ae_warn("%s", err);
		return -1;
	}
	return 0;
}

static int setup(struct agent *a, char *err, size_t errlen)
{
	char *q = host_queue(a), *key = ae_xasprintf("host.%s", a->conf.host);
	amqp_table_entry_t e = {
		.key = amqp_cstring_bytes("x-dead-letter-exchange"),
		.value = {.kind = AMQP_FIELD_KIND_UTF8,
			  .value.bytes = amqp_cstring_bytes(AE_X_DEAD)}};
	amqp_table_t args = {1, &e};
	int rc = -1;

	if (ae_amqp_connect(&a->amqp, &a->aconf, err, errlen) < 0)
		goto out;
	if (ae_amqp_declare(&a->amqp, err, errlen) < 0)
		goto out;
	amqp_queue_declare(a->amqp.conn, 1, amqp_cstring_bytes(q), 0, 1, 0, 0,
			   args);
	if (ae_amqp_rpc_check(&a->amqp, "queue.declare", err, errlen) < 0)
		goto out;
	amqp_queue_bind(a->amqp.conn, 1, amqp_cstring_bytes(q),
			amqp_cstring_bytes(AE_X_MAIN), amqp_cstring_bytes(key),
			amqp_empty_table);
	if (ae_amqp_rpc_check(&a->amqp, "queue.bind", err, errlen) < 0)
		goto out;
	amqp_queue_bind(a->amqp.conn, 1, amqp_cstring_bytes(q),
			amqp_cstring_bytes(AE_X_ALL), amqp_empty_bytes,
			amqp_empty_table);
	if (ae_amqp_rpc_check(&a->amqp, "queue.bind", err, errlen) < 0)
		goto out;
	a->connected = 1; /* bind_vm needs it */
	if (sync_bindings(a) < 0) {
		snprintf(err, errlen, "%s: claiming this host's VMs failed",
			 a->amqp.where);
		goto out;
	}
	amqp_basic_qos(a->amqp.conn, 1, 0, (uint16_t)a->conf.prefetch, 0);
	if (ae_amqp_rpc_check(&a->amqp, "basic.qos", err, errlen) < 0)
		goto out;
	if (consume(a, q, "host", 0) < 0 ||
	    consume(a, AE_Q_CREATE, "create", 0) < 0 ||
	    consume(a, AE_Q_HOSTS, "presence", 1) < 0) {
		snprintf(err, errlen, "%s: cannot consume", a->amqp.where);
		goto out;
	}
	a->gen++;
	rc = 0;
out:
	if (rc < 0) {
		a->connected = 0;
		if (a->amqp.conn)
			ae_amqp_close(&a->amqp);
	}
	free(q);
	free(key);
	return rc;
}

static void try_connect(struct agent *a)
{
	char err[1024];

	if (setup(a, err, sizeof err) == 0) {
		ae_log(5, "host %s: serving %s (prefetch %d; limits: %ld VMs, "
		       "%ld MiB, %ld vCPUs; 0 = none)", a->conf.host,
		       a->amqp.where, a->conf.prefetch, a->conf.max_vms,
		       a->conf.max_memory, a->conf.max_cpus);
		a->backoff = 200;
		return;
	}
	ae_warn("broker: %s; retrying in %lld ms", err, a->backoff);
	a->next_try = mono_ms() + a->backoff;
	a->backoff = a->backoff * 2 > 10000 ? 10000 : a->backoff * 2;
}

static void lost(struct agent *a, const char *err)
{
	ae_warn("broker connection lost: %s; reconnecting", err);
	ae_amqp_close(&a->amqp);
	a->connected = 0;
	a->next_try = mono_ms() + a->backoff;
}

/* ------------------------------------------------------------------ */
/* main loop                                                          */

static void reap(struct agent *a)
{
	struct job *j, *next;
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		for (j = a->jobs; j; j = j->next)
			if (j->pid == pid) {
				j->status = status;
				j->reaped = 1;
			}
	for (j = a->jobs; j; j = next) {
		next = j->next;
		if (j->pid && j->reaped) {
			drain(&j->out_fd, &j->out, &j->out_len);
			drain(&j->err_fd, &j->err, &j->err_len);
			if (j->out_fd < 0 && j->err_fd < 0)
				step_done(a, j);
		}
	}
}

/* The aether program that carries out requests: $AETHER_BINARY, which
 * aether sets to itself when it executes aether-agent (ignored in a
 * set-id process: secure_getenv).  Every request runs it, as root on a
 * root agent, so it must be an absolute path to an executable regular
 * file, and for root one owned by root that group and others cannot
 * write.  NULL with err saying what is wrong. */
static char *agent_binary(char *err, size_t errlen)
{
	const char *e = secure_getenv("AETHER_BINARY");
	struct stat st;

	if (!e || !*e) {
		snprintf(err, errlen, "AETHER_BINARY is not set: run this as "
			 "`aether serve`");
		return NULL;
	}
	if (e[0] != '/') {
		snprintf(err, errlen, "AETHER_BINARY '%s' is not an absolute "
			 "path", e);
		return NULL;
	}
	errno = 0;
	if (stat(e, &st) < 0 || !S_ISREG(st.st_mode) || access(e, X_OK) < 0) {
		snprintf(err, errlen, "AETHER_BINARY %s is not an executable "
			 "file%s%s", e, errno ? ": " : "",
			 errno ? strerror(errno) : "");
		return NULL;
	}
	if (geteuid() == 0 && (st.st_uid != 0 || (st.st_mode & 022))) {
		snprintf(err, errlen, "AETHER_BINARY %s: refused for an agent "
			 "running as root: it must be owned by root and not "
			 "writable by group or others (owner %u, mode %04o)", e,
			 (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
		return NULL;
	}
	return ae_xstrdup(e);
}

static void usage_serve(FILE *f)
{
	fprintf(f, "usage: aether serve [--host NAME] [--amqp URL] "
		   "[--credentials FILE]\n");
}

int ae_cmd_serve(int argc, char **argv, const char *hostconf)
{
	static const struct option lo[] = {
		{"host", required_argument, NULL, 'H'},
		{"amqp", required_argument, NULL, 'a'},
		{"credentials", required_argument, NULL, 'k'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	static struct agent A;
	struct agent *a = &A;
	const char *host_opt = NULL, *url = NULL, *cred = NULL, *hc;
	struct ae_ini *host = NULL;
	char err[1024];
	sigset_t mask;
	int ch, ret = AE_EXIT_ERROR;
	long long stop_deadline = 0;

	optind = 0;
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 'H': host_opt = optarg; break;
		case 'a': url = optarg; break;
		case 'k': cred = optarg; break;
		case 'h': usage_serve(stdout); return 0;
		default: usage_serve(stderr); return AE_EXIT_USAGE;
		}
	}
	if (optind != argc) {
		usage_serve(stderr);
		return AE_EXIT_USAGE;
	}
	hc = ae_host_config_path(hostconf);
	if (hc && ae_ini_parse_file(hc, &host, err, sizeof err) < 0) {
		ae_err("%s", err);
		return AE_EXIT_ERROR;
	}
	a->hostconf = hc ? hc : "none";
	if (ae_amqp_conf_load(&a->aconf, host, url, cred, err, sizeof err) < 0) {
		ae_err("%s", err);
		goto out;
	}
	if (ae_store_root(&a->store, err, sizeof err) < 0) {
		ae_err("%s", err);
		goto out;
	}
	if (ae_agent_conf_load(&a->conf, host, a->store, host_opt, err,
			    sizeof err) < 0) {
		ae_err("%s", err);
		goto out;
	}
	if (!(a->jdir = ae_journal_dir(a->store, err, sizeof err))) {
		ae_err("%s", err);
		goto out;
	}
	/* One agent per store: two would both own its VMs. */
	{
		char *lp = ae_xasprintf("%s/.agent.lock", a->jdir), pidb[24];
		int lfd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (lfd < 0 || flock(lfd, LOCK_EX | LOCK_NB) < 0) {
			char other[24] = "";
			if (lfd >= 0 && pread(lfd, other, sizeof other - 1, 0) > 0)
				other[strcspn(other, "\n")] = '\0';
			ae_err("%s: %s", lp, lfd < 0 ? strerror(errno)
				: "another aether serve serves this VM store");
			if (*other)
				ae_err("(its pid: %s)", other);
			free(lp);
			goto out;
		}
		snprintf(pidb, sizeof pidb, "%ld\n", (long)getpid());
		if (ftruncate(lfd, 0) < 0 ||
		    pwrite(lfd, pidb, strlen(pidb), 0) < 0)
			ae_warn("%s: %s", lp, strerror(errno));
		free(lp); /* lfd stays open: the lock lives as long as we do */
	}
	/* The aether program that runs each request (set by aether). */
	if (!(a->exe = agent_binary(err, sizeof err))) {
		ae_err("serve: %s", err);
		goto out;
	}
	/* Requests an earlier run left half done. */
	ae_store_gc(a->store);
	ae_journal_recover(a->store, a->hostconf, getpid());
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	a->sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (a->sfd < 0) {
		ae_err("signalfd: %s", strerror(errno));
		goto out;
	}
	a->backoff = 200;
	for (;;) {
		struct pollfd p[2 + 2 * 256];
		struct job *j, *jobs_fd[256];
		int np = 0, nj = 0, timeout = 1000, i;
		long long now = mono_ms();

		if (a->stopping && (!a->jobs || now > stop_deadline))
			break;
		if (!a->connected && !a->stopping && now >= a->next_try)
			try_connect(a);
		p[np++] = (struct pollfd){a->sfd, POLLIN, 0};
		if (a->connected)
			p[np++] = (struct pollfd){a->amqp.fd, POLLIN, 0};
		for (j = a->jobs; j && nj < 256; j = j->next) {
			if (j->out_fd < 0 && j->err_fd < 0)
				continue;
			jobs_fd[nj++] = j;
			p[np++] = (struct pollfd){j->out_fd, POLLIN, 0};
			p[np++] = (struct pollfd){j->err_fd, POLLIN, 0};
		}
		/* Deliveries read while waiting for a confirm (a reply sent
		 * from reap()) wait in the inbox: the socket will not say so. */
		if (a->connected && (a->amqp.inbox || ae_amqp_buffered(&a->amqp)))
			timeout = 0;
		else if (!a->connected && a->next_try - now < timeout)
			timeout = a->next_try > now ? (int)(a->next_try - now) : 0;
		if (poll(p, (nfds_t)np, timeout) < 0 && errno != EINTR) {
			ae_err("poll: %s", strerror(errno));
			break;
		}
		if (p[0].revents) {
			struct signalfd_siginfo si;
			while (read(a->sfd, &si, sizeof si) == sizeof si) {
				if (si.ssi_signo == SIGCHLD || a->stopping)
					continue;
				ae_log(5, "signal %u: finishing %s running "
				       "requests, then exiting", si.ssi_signo,
				       a->jobs ? "the" : "no");
				a->stopping = 1;
				stop_deadline = mono_ms() + 600000;
				if (a->connected) {
					amqp_basic_cancel(a->amqp.conn, 1,
						amqp_cstring_bytes("create"));
					amqp_basic_cancel(a->amqp.conn, 1,
						amqp_cstring_bytes("host"));
				}
			}
		}
		for (i = 0; i < nj; i++) {
			drain(&jobs_fd[i]->out_fd, &jobs_fd[i]->out,
			      &jobs_fd[i]->out_len);
			drain(&jobs_fd[i]->err_fd, &jobs_fd[i]->err,
			      &jobs_fd[i]->err_len);
		}
		reap(a);
		if (a->connected) {
			int k;
			for (k = 0; k < 64 && a->connected; k++) {
				struct ae_msg *m;
				/* Pumped once a turn (at least every second)
				 * even when the socket is quiet: librabbitmq
				 * sends our heartbeats and sees the broker's
				 * stop only in its calls; a frozen broker
				 * sends nothing that would wake us. */
				int more = a->amqp.inbox ||
					   ae_amqp_buffered(&a->amqp) ||
					   k == 0;
				if (!more)
					break;
				if (ae_amqp_pump(&a->amqp, 0, err, sizeof err) < 0) {
					lost(a, err);
					break;
				}
				while (a->connected && (m = ae_amqp_take(&a->amqp))) {
					if (a->stopping) {
						/* cancelled: give it back */
						amqp_basic_reject(a->amqp.conn, 1,
								  m->tag, 1);
					} else {
						handle(a, m);
					}
					ae_msg_free(m);
				}
			}
			if (a->connected && a->amqp.broken)
				lost(a, "connection error");
		}
	}
	ret = 0;
out:
	if (a->connected)
		ae_amqp_close(&a->amqp);
	ae_amqp_conf_free(&a->aconf);
	ae_ini_free(host);
	return ret;
}
