/* serve-create.c - `aether serve`: create-vm.  Forwarded to the VM's
 * owner, declined when this host is full, or taken: journalled, then a
 * job. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "journal.h"
#include "serve.h"
#include "util.h"

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
		char *text = sv_reply_text(a, "error", reason, NULL, 0, C_CREATE);
		if (sv_send_reply(a, m->reply_to, m->correlation_id, text) == 0) {
			struct tagref t = {m->tag, a->gen};
			sv_ack(a, &t);
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
		sv_ack(a, &t);
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

void sv_create(struct agent *a, struct ae_msg *m, json_t *opts,
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
		sv_refuse(a, m, C_CREATE, "request id %s was already used for "
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
			    sv_send_reply(a, m->reply_to, m->correlation_id, text) == 0) {
				if (text && !strcmp(r.state, "done")) {
					snprintf(r.state, sizeof r.state,
						 "replied");
					ae_journal_write(a->jdir, id, &r);
				}
				sv_ack(a, &t);
			}
			free(text);
			goto out;
		}
		/* accepted, and no job of ours runs it (sv_handle() joins a
		 * running one): left half made by an earlier run. */
		ae_journal_rollback(a->store, a->jdir, id, a->hostconf);
	}
	if (sv_being_made(a, name)) {
		char *reason = ae_xasprintf("VM %s is being created on host %s "
					    "by another request", name,
					    a->conf.host);
		char *text = sv_reply_text(a, "error", reason, NULL, 0, C_CREATE);
		struct tagref t = {m->tag, a->gen};
		if (sv_send_reply(a, m->reply_to, m->correlation_id, text) == 0)
			sv_ack(a, &t);
		free(text);
		free(reason);
		goto out;
	}
	if (sv_in_store(a, name)) {
		char *reason = ae_xasprintf("VM %s already exists on host %s",
					    name, a->conf.host);
		char *text = sv_reply_text(a, "error", reason, NULL, 0, C_CREATE);
		struct tagref t = {m->tag, a->gen};
		if (sv_send_reply(a, m->reply_to, m->correlation_id, text) == 0)
			sv_ack(a, &t);
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
			sv_ack(a, &t);
			goto out;
		}
	}
	mem = json_object_get(opts, "memory")
		      ? (long)json_integer_value(json_object_get(opts, "memory"))
		      : a->conf.default_memory;
	cpus = json_object_get(opts, "cpus")
		       ? (long)json_integer_value(json_object_get(opts, "cpus"))
		       : a->conf.default_cpus;
	if (sv_fits(a, mem, cpus, why, sizeof why) < 0) {
		decline(a, m, name, mem, cpus, why);
		goto out;
	}
	img = ae_xasprintf("%s/%s", a->conf.image_dir,
			   json_string_value(json_object_get(opts, "image")));
	if (stat(img, &st) < 0 || !S_ISREG(st.st_mode)) {
		char *reason = ae_xasprintf("%s: image %s: %s", name, img,
					    errno ? strerror(errno)
						  : "not a regular file");
		char *text = sv_reply_text(a, "error", reason, NULL, 0, C_CREATE);
		struct tagref t = {m->tag, a->gen};
		if (sv_send_reply(a, m->reply_to, m->correlation_id, text) == 0)
			sv_ack(a, &t);
		free(text);
		free(reason);
		free(img);
		goto out;
	}
	free(img);
	j = sv_job_new(a, C_CREATE, m, opts, id);
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
		char *text = sv_reply_text(a, "success", NULL, resp, 1, C_CREATE);
		sv_send_reply(a, m->reply_to, m->correlation_id, text);
		free(text);
		json_decref(resp);
	}
	ae_info("create-vm %s: accepted (request %s)", name, id ? id : "-");
	if (j->failed) {
		j->next = a->jobs;
		a->jobs = j;
		sv_finish(a, j);
	} else {
		sv_job_start(a, j);
	}
out:
	free(genname);
}
