/* serve-conn.c - `aether serve`: the broker connection, its queues and
 * consumers, and reconnecting with backoff. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include "serve.h"
#include "util.h"

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
	char *q = sv_host_queue(a), *key = ae_xasprintf("host.%s", a->conf.host);
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
	if (sv_sync_bindings(a) < 0) {
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

void sv_try_connect(struct agent *a)
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

void sv_lost(struct agent *a, const char *err)
{
	ae_warn("broker connection lost: %s; reconnecting", err);
	ae_amqp_close(&a->amqp);
	a->connected = 0;
	a->next_try = mono_ms() + a->backoff;
}
