/* broker.h - the broker side of `aether serve` and `aether remote`.
 *
 * Broker objects (declared by agents and clients alike, all durable):
 *   exchange aether       direct: "create" -> queue aether.create,
 *                         "host.H" and "vm.NAME" -> the queue of host H /
 *                         of the host that owns VM NAME
 *   exchange aether.all   fanout: every host queue (list-vms)
 *   exchange aether.dead  fanout: queue aether.dead (dead letters)
 *   queue aether.create   create-vm requests; every agent consumes it
 *                         (competing consumers, prefetch limited)
 *   queue aether.host.H   host H's requests; bound by H to aether with
 *                         host.H and vm.NAME for each VM it owns
 *   queue aether.hosts    every live agent holds one consumer on it and
 *                         nothing is ever published to it: its consumer
 *                         count is the number of live hosts
 *   queue aether.dead     messages that could not be understood
 * Messages are persistent JSON; replies go to reply_to with the request's
 * correlation_id.  See aether-remote(7).
 */
#ifndef AE_BROKER_H
#define AE_BROKER_H

#include <stddef.h>
#include <stdint.h>

#include <amqp.h>

#include "agentconf.h"
#include "conffile.h"

#define AE_X_MAIN "aether"
#define AE_X_ALL "aether.all"
#define AE_X_DEAD "aether.dead"
#define AE_Q_CREATE "aether.create"
#define AE_Q_HOSTS "aether.hosts"
#define AE_Q_DEAD "aether.dead"

/* A delivery or a returned message, copied out of the library's buffers. */
struct ae_msg {
	uint64_t tag;
	int redelivered;
	char *exchange, *routing_key, *consumer_tag;
	char *body;            /* NUL-terminated copy */
	size_t len;
	char *reply_to, *correlation_id, *message_id;
	amqp_table_t headers;  /* deep copy in pool */
	amqp_pool_t pool;
	struct ae_msg *next;
};
void ae_msg_free(struct ae_msg *m);
/* A string header of m (NULL when absent or not a string). */
char *ae_msg_header(const struct ae_msg *m, const char *key);

/* One connection with one channel (1) in confirm mode. */
struct ae_amqp {
	amqp_connection_state_t conn;
	int fd;
	int broken;               /* connection lost: close and reconnect */
	uint64_t published;       /* publish sequence number */
	uint64_t confirmed;       /* highest acked by the broker */
	int nacked, returned;     /* for the publish being waited on */
	struct ae_msg *inbox, **inbox_tail; /* deliveries not yet taken */
	char where[256];          /* host:port/vhost, for messages */
};

int ae_amqp_connect(struct ae_amqp *a, const struct ae_amqp_conf *c,
		    char *err, size_t errlen);
void ae_amqp_close(struct ae_amqp *a);

/* Declare the shared objects above.  0 or -1 with err set. */
int ae_amqp_declare(struct ae_amqp *a, char *err, size_t errlen);

/* Describe the last RPC failure of a (err set); returns -1. */
int ae_amqp_rpc_check(struct ae_amqp *a, const char *what, char *err,
		      size_t errlen);

/* Publish persistent JSON and wait up to timeout_ms for the broker's
 * confirm.  mandatory: an unroutable message comes back.  Headers may be
 * NULL.  Returns 0 delivered, 1 returned (unroutable), -1 error (err). */
int ae_amqp_publish(struct ae_amqp *a, const char *exchange, const char *key,
		    int mandatory, const char *body, size_t len,
		    const char *correlation_id, const char *reply_to,
		    const char *message_id, const amqp_table_t *headers,
		    int timeout_ms, char *err, size_t errlen);

/* Read what the broker sent, waiting up to timeout_ms (0: only what is
 * already there): deliveries go to the inbox, confirms and returns are
 * recorded.  Returns 0, or -1 when the connection broke (err set). */
int ae_amqp_pump(struct ae_amqp *a, int timeout_ms, char *err, size_t errlen);
/* Take the oldest delivery (NULL when none). */
struct ae_msg *ae_amqp_take(struct ae_amqp *a);
/* 1 when the library holds unread data (poll would not show it). */
int ae_amqp_buffered(struct ae_amqp *a);

/* Consumers of queue q on the broker, or -1 (err). */
int ae_amqp_consumers(struct ae_amqp *a, const char *q, char *err,
		      size_t errlen);


#endif
