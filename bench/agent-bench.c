/* bench/agent-bench.c - request/reply round trips of the host agent
 * protocol (aether-remote(7)), timed in process.
 *
 *   agent-bench -c CONF [-n N] [-k K] [-w W] [-p PREFETCH] echo
 *   agent-bench -c CONF [-n N] [-k K] [-w W] status NAME...
 *   agent-bench -c CONF [-n N] [-k K] [-w W] list
 *   agent-bench -c CONF [-n N] [-k K] [-w W] create PREFIX IMAGE [nostart]
 *
 * CONF is a host config whose [amqp] names the broker.  Each request is
 * what `aether remote` sends: persistent JSON with reply_to, correlation_id
 * and a fresh message id, published with a confirm; the replies come to a
 * durable reply queue of our own, as the client's do.  status-vm goes to
 * vm.NAME (the NAMEs in turn); list-vms goes to the fanout exchange and
 * waits for as many replies as aether.hosts has consumers (asked before
 * each request, as the client does); create-vm goes to "create" for VM
 * PREFIX-<i> with the image IMAGE of the agent's image directory
 * (nostart: "start": false) and waits past the progress reply for the
 * final one.
 *
 * echo is the baseline: the same message exchange with a responder forked
 * here that answers at once: its own connection, a durable queue, prefetch
 * PREFETCH (the agent's default 4), its reply published with a confirm and
 * the request acked after, as the agent does, but no work.  The agent's
 * own cost is the ratio of the two.
 *
 * After W unrecorded warm-up requests: N requests one after the other, then
 * N with K outstanding.  Prints one line:
 *   N K seq_p50_ms seq_p99_ms seq_per_s conc_p50_ms conc_p99_ms conc_per_s
 * An error reply, an unroutable request or a reply missing for 120 s fails
 * the run (exit 1).  -v: every request over 1 s is also told on stderr.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "broker.h"
#include "conffile.h"
#include "store.h"
#include "util.h"

#define MAX_K 256
#define REPLY_TIMEOUT_NS (120ULL * 1000000000ULL)

enum mode { M_ECHO, M_STATUS, M_LIST, M_CREATE };

struct slot {
	int busy;
	char id[40];
	uint64_t t0;
	int want, got;
};

struct bench {
	struct ae_amqp a;
	struct ae_amqp_conf conf;
	enum mode mode;
	char **names;       /* status: the VMs, in turn */
	int n_names;
	unsigned long asked;
	const char *prefix, *image;
	int nostart;
	char queue[96];     /* our reply queue */
	char echo_q[96];    /* echo: the responder's queue */
	unsigned long made; /* create: VMs asked for so far */
	struct slot slots[MAX_K];
	uint64_t *lat;      /* recorded latencies, ns */
	int n_lat, recording;
	int verbose;
};

static void die(const char *what, const char *err)
{
	fprintf(stderr, "agent-bench: %s: %s\n", what, err);
	exit(1);
}

static int cmp_u64(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
	return a < b ? -1 : a > b;
}

/* The p-th percentile (nearest rank) of v[0..n), sorted here, in ms. */
static double pct_ms(uint64_t *v, int n, int p)
{
	int r;

	qsort(v, (size_t)n, sizeof *v, cmp_u64);
	r = (p * n + 99) / 100;
	if (r < 1)
		r = 1;
	return (double)v[r - 1] / 1e6;
}

static void connect_or_die(struct bench *b, struct ae_amqp *a)
{
	char err[1024];

	if (ae_amqp_connect(a, &b->conf, err, sizeof err) < 0 ||
	    ae_amqp_declare(a, err, sizeof err) < 0)
		die("connect", err);
}

/* A durable queue expiring 10 minutes after its last consumer, as the
 * client's reply queue is. */
static void queue_declare(struct ae_amqp *a, const char *q)
{
	amqp_table_entry_t e = {
		.key = amqp_cstring_bytes("x-expires"),
		.value = {.kind = AMQP_FIELD_KIND_I32, .value.i32 = 600000}};
	amqp_table_t args = {1, &e};
	char err[1024];

	amqp_queue_declare(a->conn, 1, amqp_cstring_bytes(q), 0, 1, 0, 0, args);
	if (ae_amqp_rpc_check(a, "queue.declare", err, sizeof err) < 0)
		die(q, err);
}

/* Declare queue q and consume it on channel 1. */
static void queue_consume(struct ae_amqp *a, const char *q, int no_ack)
{
	char err[1024];

	queue_declare(a, q);
	amqp_basic_consume(a->conn, 1, amqp_cstring_bytes(q), amqp_empty_bytes,
			   0, no_ack, 0, amqp_empty_table);
	if (ae_amqp_rpc_check(a, "basic.consume", err, sizeof err) < 0)
		die(q, err);
}

/* The echo responder (a child process): answer every request at once. */
static void echo_serve(struct bench *b, int prefetch)
{
	static const char reply[] =
		"{\"status\":\"success\",\"reason\":null,\"response\":"
		"{\"echo\":true},\"host\":\"echo\",\"command\":\"echo\"}";
	struct ae_amqp a;
	char err[1024];

	prctl(PR_SET_PDEATHSIG, SIGTERM);
	signal(SIGTERM, SIG_DFL);
	connect_or_die(b, &a);
	amqp_basic_qos(a.conn, 1, 0, (uint16_t)prefetch, 0);
	if (ae_amqp_rpc_check(&a, "basic.qos", err, sizeof err) < 0)
		die("echo", err);
	queue_consume(&a, b->echo_q, 0);
	for (;;) {
		struct ae_msg *m;

		if (ae_amqp_pump(&a, 1000, err, sizeof err) < 0)
			die("echo", err);
		while ((m = ae_amqp_take(&a))) {
			if (m->reply_to &&
			    ae_amqp_publish(&a, "", m->reply_to, 1, reply,
					    sizeof reply - 1, m->correlation_id,
					    NULL, NULL, NULL, 10000, err,
					    sizeof err) < 0)
				die("echo reply", err);
			amqp_basic_ack(a.conn, 1, m->tag, 0);
			ae_msg_free(m);
		}
	}
}

static void send_req(struct bench *b, struct slot *s)
{
	char err[1024], key[128], vm[96];
	const char *x = AE_X_MAIN;
	json_t *req, *o = json_object();
	char *body;
	int rc;

	ae_uuid_random(s->id);
	s->want = 1;
	s->got = 0;
	s->busy = 1;
	s->t0 = ae_now_ns();
	switch (b->mode) {
	case M_ECHO:
		x = "";
		snprintf(key, sizeof key, "%s", b->echo_q);
		req = json_pack("{s:s, s:o}", "command", "echo", "options", o);
		break;
	case M_STATUS: {
		const char *name = b->names[b->asked++ % (unsigned long)b->n_names];
		json_object_set_new(o, "name", json_string(name));
		snprintf(key, sizeof key, "vm.%s", name);
		req = json_pack("{s:s, s:o}", "command", "status-vm", "options",
				o);
		break;
	}
	case M_LIST:
		s->want = ae_amqp_consumers(&b->a, AE_Q_HOSTS, err, sizeof err);
		if (s->want < 0)
			die("consumers of " AE_Q_HOSTS, err);
		if (s->want == 0)
			die("list-vms", "no host is serving");
		x = AE_X_ALL;
		key[0] = '\0';
		req = json_pack("{s:s, s:o}", "command", "list-vms", "options",
				o);
		break;
	default:
		snprintf(vm, sizeof vm, "%s-%lu", b->prefix, ++b->made);
		json_object_set_new(o, "name", json_string(vm));
		json_object_set_new(o, "image", json_string(b->image));
		if (b->nostart)
			json_object_set_new(o, "start", json_false());
		snprintf(key, sizeof key, "create");
		req = json_pack("{s:s, s:o}", "command", "create-vm", "options",
				o);
		break;
	}
	body = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	rc = ae_amqp_publish(&b->a, x, key, 1, body, strlen(body), s->id,
			     b->queue, s->id, NULL, 10000, err, sizeof err);
	free(body);
	if (rc < 0)
		die("publish", err);
	if (rc == 1) {
		snprintf(err, sizeof err, "unroutable: exchange '%s' key '%s'",
			 x, key);
		die("publish", err);
	}
}

/* Read replies for up to timeout_ms; returns how many requests completed. */
static int take_replies(struct bench *b, int timeout_ms)
{
	char err[1024];
	struct ae_msg *m;
	uint64_t now;
	int done = 0, i;

	if (!b->a.inbox)
		if (ae_amqp_pump(&b->a, timeout_ms, err, sizeof err) < 0)
			die("receive", err);
	while ((m = ae_amqp_take(&b->a))) {
		json_error_t je;
		json_t *rep;
		struct slot *s = NULL;

		now = ae_now_ns();
		for (i = 0; i < MAX_K && m->correlation_id; i++)
			if (b->slots[i].busy &&
			    !strcmp(b->slots[i].id, m->correlation_id)) {
				s = &b->slots[i];
				break;
			}
		if (!s) {
			ae_msg_free(m);
			continue;
		}
		rep = json_loadb(m->body, m->len, 0, &je);
		if (!json_is_object(rep)) {
			fprintf(stderr, "agent-bench: reply is not a JSON "
				"object: %.200s\n", m->body);
			exit(1);
		}
		if (!json_is_string(json_object_get(rep, "status")) ||
		    strcmp(json_string_value(json_object_get(rep, "status")),
			   "success")) {
			fprintf(stderr, "agent-bench: error reply: %.500s\n",
				m->body);
			exit(1);
		}
		if (!json_is_true(json_object_get(rep, "progress")) &&
		    ++s->got >= s->want) {
			s->busy = 0;
			if (b->verbose && now - s->t0 > 1000000000ULL)
				fprintf(stderr, "agent-bench: request %s: "
					"%.1f ms\n", s->id,
					(double)(now - s->t0) / 1e6);
			if (b->recording)
				b->lat[b->n_lat++] = now - s->t0;
			done++;
		}
		json_decref(rep);
		ae_msg_free(m);
	}
	now = ae_now_ns();
	for (i = 0; i < MAX_K; i++)
		if (b->slots[i].busy && now - b->slots[i].t0 > REPLY_TIMEOUT_NS) {
			snprintf(err, sizeof err, "request %s: %d of %d replies "
				 "in %llu s", b->slots[i].id, b->slots[i].got,
				 b->slots[i].want,
				 (unsigned long long)(REPLY_TIMEOUT_NS / 1000000000ULL));
			die("timeout", err);
		}
	return done;
}

/* n requests, at most k outstanding; the elapsed time in ns. */
static uint64_t run(struct bench *b, int n, int k)
{
	uint64_t t0 = ae_now_ns();
	int sent = 0, finished = 0, busy = 0, i;

	while (finished < n) {
		for (i = 0; i < k && sent < n && busy < k; i++)
			if (!b->slots[i].busy) {
				send_req(b, &b->slots[i]);
				sent++;
				busy++;
			}
		i = take_replies(b, 200);
		finished += i;
		busy -= i;
	}
	return ae_now_ns() - t0;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: agent-bench -c CONF [-n N] [-k K] [-w W] [-p PREFETCH] [-v] "
		"echo | status NAME... | list | create PREFIX IMAGE [nostart]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static struct bench B;
	struct bench *b = &B;
	const char *conf = NULL;
	struct ae_ini *ini = NULL;
	char err[1024], id[37];
	int n = 200, k = 8, w = 5, prefetch = 4, ch, status;
	pid_t echo = -1;
	uint64_t seq_ns, conc_ns;
	double seq50, seq99, conc50, conc99;

	while ((ch = getopt(argc, argv, "c:n:k:w:p:v")) != -1) {
		switch (ch) {
		case 'c': conf = optarg; break;
		case 'n': n = atoi(optarg); break;
		case 'k': k = atoi(optarg); break;
		case 'w': w = atoi(optarg); break;
		case 'p': prefetch = atoi(optarg); break;
		case 'v': b->verbose = 1; break;
		default: usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (!conf || argc < 1 || n < 1 || k < 1 || k > MAX_K || w < 0 ||
	    prefetch < 1 || prefetch > 65535)
		usage();
	if (!strcmp(argv[0], "echo") && argc == 1) {
		b->mode = M_ECHO;
	} else if (!strcmp(argv[0], "status") && argc >= 2) {
		b->mode = M_STATUS;
		b->names = argv + 1;
		b->n_names = argc - 1;
	} else if (!strcmp(argv[0], "list") && argc == 1) {
		b->mode = M_LIST;
	} else if (!strcmp(argv[0], "create") && (argc == 3 || argc == 4)) {
		b->mode = M_CREATE;
		b->prefix = argv[1];
		b->image = argv[2];
		if (argc == 4) {
			if (strcmp(argv[3], "nostart"))
				usage();
			b->nostart = 1;
		}
	} else {
		usage();
	}
	if (ae_ini_parse_file(conf, &ini, err, sizeof err) < 0 ||
	    ae_amqp_conf_load(&b->conf, ini, NULL, NULL, err, sizeof err) < 0)
		die(conf, err);
	ae_uuid_random(id);
	snprintf(b->queue, sizeof b->queue, "aether.reply.bench-%s", id);
	snprintf(b->echo_q, sizeof b->echo_q, "aether.bench.echo-%s", id);
	b->lat = ae_xcalloc((size_t)n, sizeof *b->lat);

	connect_or_die(b, &b->a);
	queue_consume(&b->a, b->queue, 1);
	if (b->mode == M_ECHO) {
		int i;
		/* The responder's queue exists before it is consumed, so
		 * nothing is unroutable while the child connects. */
		queue_declare(&b->a, b->echo_q);
		fflush(NULL);
		echo = fork();
		if (echo < 0)
			die("fork", strerror(errno));
		if (echo == 0)
			echo_serve(b, prefetch);
		for (i = 0; ae_amqp_consumers(&b->a, b->echo_q, err,
					      sizeof err) < 1; i++) {
			if (i > 100 || waitpid(echo, &status, WNOHANG) == echo)
				die("echo responder", "did not start");
			usleep(50000);
		}
	}
	run(b, w, 1);
	b->recording = 1;
	b->n_lat = 0;
	seq_ns = run(b, n, 1);
	seq50 = pct_ms(b->lat, b->n_lat, 50);
	seq99 = pct_ms(b->lat, b->n_lat, 99);
	b->n_lat = 0;
	conc_ns = run(b, n, k);
	conc50 = pct_ms(b->lat, b->n_lat, 50);
	conc99 = pct_ms(b->lat, b->n_lat, 99);
	printf("%d %d %.3f %.3f %.1f %.3f %.3f %.1f\n", n, k, seq50, seq99,
	       n / ((double)seq_ns / 1e9), conc50, conc99,
	       n / ((double)conc_ns / 1e9));
	if (echo > 0) {
		kill(echo, SIGTERM);
		waitpid(echo, &status, 0);
		amqp_queue_delete(b->a.conn, 1, amqp_cstring_bytes(b->echo_q), 0,
				  0);
	}
	amqp_queue_delete(b->a.conn, 1, amqp_cstring_bytes(b->queue), 0, 0);
	ae_amqp_close(&b->a);
	ae_amqp_conf_free(&b->conf);
	ae_ini_free(ini);
	free(b->lat);
	return 0;
}
