/* serve-reply.c - `aether serve`: replies, acks, dead letters, the done
 * table, and the end of a job: its outcome recorded, replied, acked. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "journal.h"
#include "serve.h"
#include "util.h"

char *sv_reply_text(struct agent *a, const char *status,
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
int sv_send_reply(struct agent *a, const char *reply_to,
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

void sv_ack(struct agent *a, const struct tagref *t)
{
	if (!a->connected || t->gen != a->gen)
		return; /* that delivery died with its connection: redelivered */
	if (amqp_basic_ack(a->amqp.conn, 1, t->tag, 0) != AMQP_STATUS_OK)
		a->amqp.broken = 1;
}

/* Bad input: an error reply when there is a reply_to, then the broker
 * dead-letters the message (reject without requeue). */
void sv_dead_letter(struct agent *a, struct ae_msg *m, int cmd,
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
	text = sv_reply_text(a, "error", reason, NULL, 0, (enum ae_req_cmd)cmd);
	if (sv_send_reply(a, m->reply_to, m->correlation_id, text) == 0 &&
	    a->connected &&
	    amqp_basic_reject(a->amqp.conn, 1, m->tag, 0) != AMQP_STATUS_OK)
		a->amqp.broken = 1;
	free(text);
}

/* A well-formed request this host will not carry out: an error reply,
 * and the request is acked (it was understood; nothing to inspect). */
void sv_refuse(struct agent *a, struct ae_msg *m, int cmd,
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
	text = sv_reply_text(a, "error", reason, NULL, 0, (enum ae_req_cmd)cmd);
	if (sv_send_reply(a, m->reply_to, m->correlation_id, text) == 0)
		sv_ack(a, &t);
	free(text);
}

struct done *sv_done_find(struct agent *a, const char *id)
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

static int opt_bool(struct job *j, const char *k, int def)
{
	json_t *v = json_object_get(j->opts, k);

	return v ? json_is_true(v) : def;
}

/* Reply and ack a finished job.  The outcome is recorded first (journal
 * for creates, the done table for all), so a redelivery after a broken
 * connection is answered from the record, never done twice. */
void sv_finish(struct agent *a, struct job *j)
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
		if (a->connected && current && sv_bind_vm(a, j->name, 1) == 0) {
			sv_save_bindings(a);
		} else {
			/* Not owned without the binding: keep the record
			 * accepted so the VM is rolled back, and let the
			 * redelivery redo the request. */
			ae_warn("create %s: cannot claim it on the broker: "
				"rolling back", j->name);
			j->failed = 1;
			j->reason = ae_xstrdup("lost the broker connection");
			sv_job_unlink(a, j);
			if (j->id && a->jdir)
				ae_journal_rollback(a->store, a->jdir, j->id,
						    a->hostconf);
			sv_job_free(j);
			return;
		}
	}
	if (j->cmd == C_DELETE && !j->failed && a->connected) {
		sv_bind_vm(a, j->name, 0); /* no longer routed here */
		sv_save_bindings(a);
	}
	if (j->failed) {
		const char *r = j->reason ? j->reason : "failed";
		char *full = ae_xasprintf("%s%s%s", j->name ? j->name : "",
					  j->name ? ": " : "", r);
		text = sv_reply_text(a, "error", full, NULL, 0, j->cmd);
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
		text = sv_reply_text(a, "success", NULL, resp, 0, j->cmd);
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
	if (sv_send_reply(a, j->reply_to, j->correlation_id, text) == 0) {
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
			sv_ack(a, &j->tags[i]);
	}
	free(text);
	a->served++;
	sv_job_unlink(a, j);
	sv_job_free(j);
}
