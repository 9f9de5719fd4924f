/* broker.c - broker connection, topology, confirmed publishing and the frame
 * pump shared by `aether serve` and `aether remote` (librabbitmq). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>

#include <amqp_ssl_socket.h>
#include <amqp_tcp_socket.h>

#include "broker.h"
#include "util.h"

/* username/password from a file only its owner can read. */
static int read_credentials(const char *path, char **user, char **pass,
			    char *err, size_t errlen)
{
	struct stat st;
	char line[512];
	int fd, lineno = 0;
	FILE *f;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 || fstat(fd, &st) < 0) {
		snprintf(err, errlen, "credentials file %s: %s", path,
			 strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
	    (st.st_mode & 077)) {
		snprintf(err, errlen, "credentials file %s: must be a regular "
			 "file owned by uid %u and not readable by group or "
			 "others (it is mode %04o, owner %u): chmod 600 it",
			 path, (unsigned)geteuid(), (unsigned)(st.st_mode & 07777),
			 (unsigned)st.st_uid);
		close(fd);
		return -1;
	}
	f = fdopen(fd, "r");
	if (!f) {
		close(fd);
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof line, f)) {
		char *k = line, *v, *eq;
		lineno++;
		k[strcspn(k, "\r\n")] = '\0';
		while (*k == ' ' || *k == '\t')
			k++;
		if (!*k || *k == '#' || *k == ';')
			continue;
		eq = strchr(k, '=');
		if (!eq) {
			snprintf(err, errlen, "%s:%d: expected 'key = value'",
				 path, lineno);
			goto bad;
		}
		v = eq + 1;
		while (eq > k && (eq[-1] == ' ' || eq[-1] == '\t'))
			eq--;
		*eq = '\0';
		while (*v == ' ' || *v == '\t')
			v++;
		if (!strcmp(k, "username")) {
			free(*user);
			*user = ae_xstrdup(v);
		} else if (!strcmp(k, "password")) {
			free(*pass);
			*pass = ae_xstrdup(v);
		} else {
			snprintf(err, errlen, "%s:%d: unknown key '%s' "
				 "(username, password)", path, lineno, k);
			goto bad;
		}
	}
	fclose(f);
	if (!*user || !*pass) {
		snprintf(err, errlen, "%s: needs both username and password",
			 path);
		return -1;
	}
	return 0;
bad:
	fclose(f);
	return -1;
}

static void rpc_text(amqp_rpc_reply_t r, char *buf, size_t len)
{
	switch (r.reply_type) {
	case AMQP_RESPONSE_NORMAL:
		snprintf(buf, len, "ok");
		break;
	case AMQP_RESPONSE_NONE:
		snprintf(buf, len, "no reply from the broker");
		break;
	case AMQP_RESPONSE_LIBRARY_EXCEPTION:
		snprintf(buf, len, "%s", amqp_error_string2(r.library_error));
		break;
	case AMQP_RESPONSE_SERVER_EXCEPTION:
		if (r.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
			amqp_connection_close_t *c = r.reply.decoded;
			snprintf(buf, len, "broker closed the connection: %u %.*s",
				 c->reply_code, (int)c->reply_text.len,
				 (char *)c->reply_text.bytes);
		} else if (r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
			amqp_channel_close_t *c = r.reply.decoded;
			snprintf(buf, len, "broker closed the channel: %u %.*s",
				 c->reply_code, (int)c->reply_text.len,
				 (char *)c->reply_text.bytes);
		} else {
			snprintf(buf, len, "broker error (method 0x%08x)",
				 r.reply.id);
		}
		break;
	}
}

int ae_amqp_rpc_check(struct ae_amqp *a, const char *what, char *err,
		      size_t errlen)
{
	amqp_rpc_reply_t r = amqp_get_rpc_reply(a->conn);
	char t[256];

	if (r.reply_type == AMQP_RESPONSE_NORMAL)
		return 0;
	rpc_text(r, t, sizeof t);
	snprintf(err, errlen, "%s: %s: %s", a->where, what, t);
	a->broken = 1;
	return -1;
}

/* What to check after a failed TLS connection: librabbitmq's status alone
 * ("SSL handshake failed", ...) does not say. */
static void tls_hint(int rc, const struct ae_amqp_conf *c,
		     const struct amqp_connection_info *ci, char *buf,
		     size_t len)
{
	buf[0] = '\0';
	if (!ci->ssl)
		return;
	switch (rc) {
	case AMQP_STATUS_SSL_PEER_VERIFY_FAILED:
		if (c->cacert)
			snprintf(buf, len, ": the broker's certificate is not "
				 "signed by a CA of [amqp] cacert %s (or is "
				 "expired or not yet valid)", c->cacert);
		else
			snprintf(buf, len, ": the broker's certificate is not "
				 "signed by a CA of the system bundle "
				 "(/etc/ssl/certs/ca-certificates.crt): set "
				 "[amqp] cacert to the CA file that signed it");
		break;
	case AMQP_STATUS_SSL_HOSTNAME_VERIFY_FAILED:
		snprintf(buf, len, ": the broker's certificate does not name "
			 "'%s' among its DNS names (an IP address must be "
			 "there as a DNS name too)", ci->host);
		break;
	case AMQP_STATUS_SSL_CONNECTION_FAILED:
		snprintf(buf, len, ": is port %d a TLS (amqps) listener? "
			 "amqps:// needs one (usually port 5671), amqp:// "
			 "the plain one (5672)", ci->port);
		break;
	}
}

int ae_amqp_connect(struct ae_amqp *a, const struct ae_amqp_conf *c,
		    char *err, size_t errlen)
{
	struct amqp_connection_info ci;
	char *url = ae_xstrdup(c->url), *user = NULL, *pass = NULL;
	amqp_socket_t *sock;
	struct timeval tv = {5, 0};
	amqp_rpc_reply_t r;
	char t[256];
	int rc;

	memset(a, 0, sizeof *a);
	a->fd = -1;
	a->inbox_tail = &a->inbox;
	amqp_default_connection_info(&ci);
	if (amqp_parse_url(url, &ci) != AMQP_STATUS_OK) {
		snprintf(err, errlen, "AMQP URL '%s' is not "
			 "amqp[s]://[user@]host[:port][/vhost]", c->url);
		goto fail;
	}
	snprintf(a->where, sizeof a->where, "%s://%s:%d/%s",
		 ci.ssl ? "amqps" : "amqp", ci.host, ci.port,
		 strcmp(ci.vhost, "/") ? ci.vhost : "");
	if (c->credentials &&
	    read_credentials(c->credentials, &user, &pass, err, errlen) < 0)
		goto fail;
	a->conn = amqp_new_connection();
	if (!a->conn) {
		snprintf(err, errlen, "%s: out of memory", a->where);
		goto fail;
	}
	if (ci.ssl) {
		sock = amqp_ssl_socket_new(a->conn);
		if (sock) {
			amqp_ssl_socket_set_verify_peer(sock, c->verify);
			amqp_ssl_socket_set_verify_hostname(sock, c->verify);
			/* librabbitmq trusts no CA by default: the system
			 * bundle unless [amqp] cacert names another. */
			const char *ca = c->cacert;
			if (!ca && c->verify &&
			    access("/etc/ssl/certs/ca-certificates.crt", R_OK) == 0)
				ca = "/etc/ssl/certs/ca-certificates.crt";
			if (ca &&
			    amqp_ssl_socket_set_cacert(sock, ca) !=
				    AMQP_STATUS_OK) {
				snprintf(err, errlen, "[amqp] cacert %s: cannot "
					 "be loaded", ca);
				goto fail;
			}
		}
	} else {
		sock = amqp_tcp_socket_new(a->conn);
	}
	if (!sock) {
		snprintf(err, errlen, "%s: cannot make a socket", a->where);
		goto fail;
	}
	rc = amqp_socket_open_noblock(sock, ci.host, ci.port, &tv);
	if (rc == AMQP_STATUS_SOCKET_ERROR) {
		snprintf(err, errlen, "%s: cannot connect (is a broker "
			 "listening there?)", a->where);
		goto fail;
	}
	if (rc != AMQP_STATUS_OK) {
		tls_hint(rc, c, &ci, t, sizeof t);
		snprintf(err, errlen, "%s: %s%s", a->where,
			 amqp_error_string2(rc), t);
		goto fail;
	}
	r = amqp_login(a->conn, ci.vhost, 0, 131072, c->heartbeat,
		       AMQP_SASL_METHOD_PLAIN, user ? user : ci.user,
		       pass ? pass : ci.password);
	if (r.reply_type != AMQP_RESPONSE_NORMAL) {
		rpc_text(r, t, sizeof t);
		snprintf(err, errlen, "%s: login as %s: %s%s", a->where,
			 user ? user : ci.user, t,
			 !ci.ssl && r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION
				 ? " (a TLS listener? it needs amqps://)" : "");
		goto fail;
	}
	amqp_channel_open(a->conn, 1);
	if (ae_amqp_rpc_check(a, "channel.open", err, errlen) < 0)
		goto fail;
	amqp_confirm_select(a->conn, 1);
	if (ae_amqp_rpc_check(a, "confirm.select", err, errlen) < 0)
		goto fail;
	a->fd = amqp_get_sockfd(a->conn);
	a->broken = 0;
	free(url);
	free(user);
	free(pass);
	return 0;
fail:
	free(url);
	free(user);
	free(pass);
	ae_amqp_close(a);
	return -1;
}

void ae_amqp_close(struct ae_amqp *a)
{
	struct ae_msg *m;

	if (a->conn) {
		if (!a->broken) {
			amqp_channel_close(a->conn, 1, AMQP_REPLY_SUCCESS);
			amqp_connection_close(a->conn, AMQP_REPLY_SUCCESS);
		}
		amqp_destroy_connection(a->conn);
	}
	while ((m = ae_amqp_take(a)))
		ae_msg_free(m);
	a->conn = NULL;
	a->fd = -1;
	a->broken = 1;
}

static amqp_table_t dlx_args(amqp_table_entry_t *e)
{
	amqp_table_t t;

	e->key = amqp_cstring_bytes("x-dead-letter-exchange");
	e->value.kind = AMQP_FIELD_KIND_UTF8;
	e->value.value.bytes = amqp_cstring_bytes(AE_X_DEAD);
	t.num_entries = 1;
	t.entries = e;
	return t;
}

int ae_amqp_declare(struct ae_amqp *a, char *err, size_t errlen)
{
	static const struct {
		const char *name, *type;
	} xs[] = {{AE_X_MAIN, "direct"}, {AE_X_ALL, "fanout"},
		  {AE_X_DEAD, "fanout"}};
	amqp_table_entry_t e;
	size_t i;

	for (i = 0; i < sizeof xs / sizeof xs[0]; i++) {
		amqp_exchange_declare(a->conn, 1, amqp_cstring_bytes(xs[i].name),
				      amqp_cstring_bytes(xs[i].type), 0, 1, 0, 0,
				      amqp_empty_table);
		if (ae_amqp_rpc_check(a, "exchange.declare", err, errlen) < 0)
			return -1;
	}
	amqp_queue_declare(a->conn, 1, amqp_cstring_bytes(AE_Q_CREATE), 0, 1, 0,
			   0, dlx_args(&e));
	if (ae_amqp_rpc_check(a, "queue.declare " AE_Q_CREATE, err, errlen) < 0)
		return -1;
	amqp_queue_declare(a->conn, 1, amqp_cstring_bytes(AE_Q_HOSTS), 0, 1, 0,
			   0, amqp_empty_table);
	if (ae_amqp_rpc_check(a, "queue.declare " AE_Q_HOSTS, err, errlen) < 0)
		return -1;
	amqp_queue_declare(a->conn, 1, amqp_cstring_bytes(AE_Q_DEAD), 0, 1, 0,
			   0, amqp_empty_table);
	if (ae_amqp_rpc_check(a, "queue.declare " AE_Q_DEAD, err, errlen) < 0)
		return -1;
	amqp_queue_bind(a->conn, 1, amqp_cstring_bytes(AE_Q_DEAD),
			amqp_cstring_bytes(AE_X_DEAD), amqp_empty_bytes,
			amqp_empty_table);
	if (ae_amqp_rpc_check(a, "queue.bind " AE_Q_DEAD, err, errlen) < 0)
		return -1;
	amqp_queue_bind(a->conn, 1, amqp_cstring_bytes(AE_Q_CREATE),
			amqp_cstring_bytes(AE_X_MAIN),
			amqp_cstring_bytes("create"), amqp_empty_table);
	return ae_amqp_rpc_check(a, "queue.bind " AE_Q_CREATE, err, errlen);
}

int ae_amqp_consumers(struct ae_amqp *a, const char *q, char *err,
		      size_t errlen)
{
	amqp_queue_declare_ok_t *ok;

	ok = amqp_queue_declare(a->conn, 1, amqp_cstring_bytes(q), 1, 0, 0, 0,
				amqp_empty_table);
	if (ae_amqp_rpc_check(a, "queue.declare (passive)", err, errlen) < 0 ||
	    !ok)
		return -1;
	return (int)ok->consumer_count;
}

static char *bytes_dup(amqp_bytes_t b)
{
	char *s = ae_xmalloc(b.len + 1);

	if (b.len)
		memcpy(s, b.bytes, b.len);
	s[b.len] = '\0';
	return s;
}

void ae_msg_free(struct ae_msg *m)
{
	if (!m)
		return;
	free(m->exchange);
	free(m->routing_key);
	free(m->consumer_tag);
	free(m->body);
	free(m->reply_to);
	free(m->correlation_id);
	free(m->message_id);
	empty_amqp_pool(&m->pool);
	free(m);
}

char *ae_msg_header(const struct ae_msg *m, const char *key)
{
	int i;

	for (i = 0; i < m->headers.num_entries; i++) {
		const amqp_table_entry_t *e = &m->headers.entries[i];
		if (e->key.len == strlen(key) &&
		    !memcmp(e->key.bytes, key, e->key.len) &&
		    (e->value.kind == AMQP_FIELD_KIND_UTF8 ||
		     e->value.kind == AMQP_FIELD_KIND_BYTES))
			return bytes_dup(e->value.value.bytes);
	}
	return NULL;
}

static void inbox_add(struct ae_amqp *a, const amqp_envelope_t *env)
{
	struct ae_msg *m = ae_xcalloc(1, sizeof *m);
	const amqp_basic_properties_t *p = &env->message.properties;

	m->tag = env->delivery_tag;
	m->redelivered = env->redelivered;
	m->exchange = bytes_dup(env->exchange);
	m->routing_key = bytes_dup(env->routing_key);
	m->consumer_tag = bytes_dup(env->consumer_tag);
	m->body = bytes_dup(env->message.body);
	m->len = env->message.body.len;
	if (p->_flags & AMQP_BASIC_REPLY_TO_FLAG)
		m->reply_to = bytes_dup(p->reply_to);
	if (p->_flags & AMQP_BASIC_CORRELATION_ID_FLAG)
		m->correlation_id = bytes_dup(p->correlation_id);
	if (p->_flags & AMQP_BASIC_MESSAGE_ID_FLAG)
		m->message_id = bytes_dup(p->message_id);
	init_amqp_pool(&m->pool, 1024);
	if (p->_flags & AMQP_BASIC_HEADERS_FLAG)
		amqp_table_clone(&p->headers, &m->headers, &m->pool);
	*a->inbox_tail = m;
	a->inbox_tail = &m->next;
}

struct ae_msg *ae_amqp_take(struct ae_amqp *a)
{
	struct ae_msg *m = a->inbox;

	if (m) {
		a->inbox = m->next;
		if (!a->inbox)
			a->inbox_tail = &a->inbox;
		m->next = NULL;
	}
	return m;
}

int ae_amqp_buffered(struct ae_amqp *a)
{
	return a->conn && !a->broken &&
	       (amqp_frames_enqueued(a->conn) || amqp_data_in_buffer(a->conn));
}

int ae_amqp_pump(struct ae_amqp *a, int timeout_ms, char *err, size_t errlen)
{
	struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
	amqp_envelope_t env;
	amqp_rpc_reply_t r;
	amqp_frame_t f;
	char t[256];

	if (!a->conn || a->broken) {
		snprintf(err, errlen, "%s: not connected", a->where);
		return -1;
	}
	amqp_maybe_release_buffers(a->conn);
	r = amqp_consume_message(a->conn, &env, &tv, 0);
	if (r.reply_type == AMQP_RESPONSE_NORMAL) {
		inbox_add(a, &env);
		amqp_destroy_envelope(&env);
		return 0;
	}
	if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
	    r.library_error == AMQP_STATUS_TIMEOUT)
		return 0;
	if (r.reply_type != AMQP_RESPONSE_LIBRARY_EXCEPTION ||
	    r.library_error != AMQP_STATUS_UNEXPECTED_STATE) {
		rpc_text(r, t, sizeof t);
		snprintf(err, errlen, "%s: %s", a->where, t);
		a->broken = 1;
		return -1;
	}
	/* Not a delivery: a confirm, a returned message or a close. */
	if (amqp_simple_wait_frame(a->conn, &f) != AMQP_STATUS_OK) {
		snprintf(err, errlen, "%s: connection lost", a->where);
		a->broken = 1;
		return -1;
	}
	if (f.frame_type != AMQP_FRAME_METHOD)
		return 0;
	switch (f.payload.method.id) {
	case AMQP_BASIC_ACK_METHOD: {
		amqp_basic_ack_t *k = f.payload.method.decoded;
		if (k->delivery_tag > a->confirmed)
			a->confirmed = k->delivery_tag;
		break;
	}
	case AMQP_BASIC_NACK_METHOD: {
		amqp_basic_nack_t *k = f.payload.method.decoded;
		a->nacked = 1;
		if (k->delivery_tag > a->confirmed)
			a->confirmed = k->delivery_tag;
		break;
	}
	case AMQP_BASIC_RETURN_METHOD: {
		amqp_message_t m;
		a->returned = 1;
		r = amqp_read_message(a->conn, f.channel, &m, 0);
		if (r.reply_type != AMQP_RESPONSE_NORMAL) {
			rpc_text(r, t, sizeof t);
			snprintf(err, errlen, "%s: %s", a->where, t);
			a->broken = 1;
			return -1;
		}
		amqp_destroy_message(&m);
		break;
	}
	case AMQP_CHANNEL_CLOSE_METHOD: {
		amqp_channel_close_t *c = f.payload.method.decoded;
		snprintf(err, errlen, "%s: broker closed the channel: %u %.*s",
			 a->where, c->reply_code, (int)c->reply_text.len,
			 (char *)c->reply_text.bytes);
		a->broken = 1;
		return -1;
	}
	case AMQP_CONNECTION_CLOSE_METHOD: {
		amqp_connection_close_t *c = f.payload.method.decoded;
		snprintf(err, errlen, "%s: broker closed the connection: %u %.*s",
			 a->where, c->reply_code, (int)c->reply_text.len,
			 (char *)c->reply_text.bytes);
		a->broken = 1;
		return -1;
	}
	case AMQP_BASIC_CANCEL_METHOD:
		snprintf(err, errlen, "%s: the broker cancelled a consumer "
			 "(queue deleted?)", a->where);
		a->broken = 1;
		return -1;
	default:
		break;
	}
	return 0;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int ae_amqp_publish(struct ae_amqp *a, const char *exchange, const char *key,
		    int mandatory, const char *body, size_t len,
		    const char *correlation_id, const char *reply_to,
		    const char *message_id, const amqp_table_t *headers,
		    int timeout_ms, char *err, size_t errlen)
{
	amqp_basic_properties_t p;
	amqp_bytes_t b;
	long long deadline = now_ms() + timeout_ms;
	uint64_t seq;
	int rc;

	if (!a->conn || a->broken) {
		snprintf(err, errlen, "%s: not connected", a->where);
		return -1;
	}
	memset(&p, 0, sizeof p);
	p._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG;
	p.content_type = amqp_cstring_bytes("application/json");
	p.delivery_mode = AMQP_DELIVERY_PERSISTENT;
	if (correlation_id) {
		p._flags |= AMQP_BASIC_CORRELATION_ID_FLAG;
		p.correlation_id = amqp_cstring_bytes(correlation_id);
	}
	if (reply_to) {
		p._flags |= AMQP_BASIC_REPLY_TO_FLAG;
		p.reply_to = amqp_cstring_bytes(reply_to);
	}
	if (message_id) {
		p._flags |= AMQP_BASIC_MESSAGE_ID_FLAG;
		p.message_id = amqp_cstring_bytes(message_id);
	}
	if (headers && headers->num_entries) {
		p._flags |= AMQP_BASIC_HEADERS_FLAG;
		p.headers = *headers;
	}
	b.bytes = (void *)body;
	b.len = len;
	a->returned = 0;
	a->nacked = 0;
	rc = amqp_basic_publish(a->conn, 1, amqp_cstring_bytes(exchange),
				amqp_cstring_bytes(key), mandatory, 0, &p, b);
	if (rc != AMQP_STATUS_OK) {
		snprintf(err, errlen, "%s: publish to %s/%s: %s", a->where,
			 exchange, key, amqp_error_string2(rc));
		a->broken = 1;
		return -1;
	}
	seq = ++a->published;
	while (a->confirmed < seq) {
		long long left = deadline - now_ms();
		if (left <= 0) {
			snprintf(err, errlen, "%s: no confirm from the broker "
				 "for a publish to %s/%s in %d ms", a->where,
				 exchange, key, timeout_ms);
			a->broken = 1;
			return -1;
		}
		if (ae_amqp_pump(a, (int)(left < 200 ? left : 200), err,
				 errlen) < 0)
			return -1;
	}
	if (a->nacked) {
		snprintf(err, errlen, "%s: the broker refused a publish to "
			 "%s/%s", a->where, exchange, key);
		return -1;
	}
	return a->returned ? 1 : 0;
}
