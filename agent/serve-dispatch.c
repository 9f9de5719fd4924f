/* serve-dispatch.c - `aether serve`: one delivery, from its checks and
 * dedupe to a job (or a reply from the record). */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "journal.h"
#include "serve.h"
#include "util.h"

void sv_handle(struct agent *a, struct ae_msg *m)
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
		sv_dead_letter(a, m, -1, "message of %zu bytes is over this host's "
			       "limit of %ld", m->len, a->conf.max_message);
		return;
	}
	/* The id names the request's journal file and its dedupe record. */
	if (id && !ae_journal_valid_id(id)) {
		sv_dead_letter(a, m, -1, "request id '%.64s' (the %s) is not 1 to "
			       "128 of [A-Za-z0-9_:@-]", id, m->message_id
			       ? "message_id" : "correlation_id");
		return;
	}
	if (ae_req_parse(m->body, m->len, &c, &opts, why, sizeof why) < 0) {
		sv_dead_letter(a, m, c, "%s", why);
		return;
	}
	if (c != C_CREATE && !strcmp(m->consumer_tag, "create")) {
		sv_dead_letter(a, m, c, "%s goes to the VM's owner (routing key "
			       "vm.NAME on exchange %s), not to %s", cmd_names[c],
			    AE_X_MAIN, AE_Q_CREATE);
		goto out;
	}
	ae_req_digest(c, opts, digest);
	/* An id already answered or running: the same request again (a
	 * redelivery, a client re-sending after a reconnect), or a reuse of
	 * the id for another request, which is refused. */
	d = id ? sv_done_find(a, id) : NULL;
	j = id ? sv_job_by_id(a, id) : NULL;
	if ((d && strcmp(d->digest, digest)) || (j && strcmp(j->digest, digest))) {
		sv_refuse(a, m, c, "request id %s was already used for another "
			  "request (%s); send each request with a new message "
			  "id", id, cmd_names[j ? (int)j->cmd : c]);
		goto out;
	}
	/* Already done (a redelivery, or a client sending it again): answer
	 * from the record, again (the sender may be another client). */
	if (d && c != C_CREATE) {
		struct tagref t = {m->tag, a->gen};
		if (sv_send_reply(a, m->reply_to, m->correlation_id, d->reply) == 0) {
			d->replied = 1;
			sv_ack(a, &t);
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
		sv_refuse(a, m, c, "%s", why);
		goto out;
	}
	if (c == C_CREATE) {
		sv_create(a, m, opts, id, digest);
		goto out;
	}
	if (c != C_LIST) {
		const char *name = json_string_value(json_object_get(opts, "name"));
		if (!sv_in_store(a, name)) {
			/* Routed here by a binding the store no longer backs
			 * (deleted behind the agent's back): drop it. */
			if (!sv_being_made(a, name))
				sv_bind_vm(a, name, 0);
			sv_refuse(a, m, c, "VM %s is not on host %s", name,
				  a->conf.host);
			goto out;
		}
	}
	j = sv_job_new(a, (enum ae_req_cmd)c, m, opts, id);
	snprintf(j->digest, sizeof j->digest, "%s", digest);
	sv_job_start(a, j);
out:
	json_decref(opts);
}
