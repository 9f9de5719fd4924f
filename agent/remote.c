/* remote.c - `aether remote`: the lifecycle commands against a fleet of
 * hosts running `aether serve`, through the broker (see broker.h).
 *
 * create goes to the shared queue (any host with room takes it); commands
 * about a VM go to routing key vm.NAME, which only its owner has bound, so
 * an unknown VM comes back at once instead of timing out; list goes to
 * every host and returns as soon as every live host (the consumers of
 * aether.hosts) has answered.  The client survives a broker restart: its
 * reply queue is durable (expiring when unused) and it reconnects and
 * re-sends with the same message id, which the agents deduplicate. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "agent.h"
#include "agentconf.h"
#include "broker.h"
#include "conffile.h"
#include "exitcodes.h"
#include "store.h"
#include "util.h"
#include "vmconf.h"

struct remote {
	struct ae_amqp_conf conf;
	struct ae_amqp amqp;
	char id[37];
	char *queue;
	int json;
	long long deadline;
	long timeout_s;
	/* the request */
	const char *cmd;            /* as given: create, list, raw, ... */
	const char *body, *msgid;   /* msgid: raw's id, else NULL (r->id) */
	char *route;                /* routing key on exchange aether */
	int want_all;               /* to every host (exchange aether.all) */
	amqp_table_entry_t hent[8]; /* raw's headers */
	amqp_table_t htab;
	int n_hdr;
	/* its answers */
	int sent, expect, got;      /* hosts expected, answered */
	json_t *seen, *all;         /* want_all: hosts answered, responses */
};

static long long mono_ms(void)
{
	return (long long)(ae_now_ns() / 1000000);
}

static void remote_usage(FILE *f)
{
	fprintf(f,
		"usage: aether remote [--amqp URL] [--credentials FILE] "
		"[--timeout S] [--json] [--host H] COMMAND ...\n"
		"commands:\n"
		"  create NAME --image IMAGE [--backend B] [--memory MIB] "
		"[--cpus N]\n"
		"         [--mac MAC] [--init-script FILE] [--no-start]\n"
		"         [--kernel K [--initrd I] [--append TEXT]]\n"
		"  start NAME | stop NAME [--timeout S] [--force] |\n"
		"  delete NAME [--force] | status NAME | list |\n"
		"  console NAME (the serial console log so far) |\n"
		"  forward add|remove|list NAME [tcp|udp [ADDR]:PORT [GUESTPORT]]\n"
		"  network switch NAME BACKEND [--set KEY=VALUE]... [--persist] |\n"
		"  network show NAME\n"
		"  raw JSON [--to create|vm:NAME|host:H|all] [--id ID]\n"
		"      [--header NAME:VALUE]... (JSON sent as given, for "
		"testing agents)\n"
		"IMAGE, K and I name files in the serving host's image "
		"directory.\n");
}

/* Connect, declare, and (re)declare our reply queue. */
static int remote_connect(struct remote *r, char *err, size_t errlen)
{
	amqp_table_entry_t e = {
		.key = amqp_cstring_bytes("x-expires"),
		.value = {.kind = AMQP_FIELD_KIND_I32, .value.i32 = 600000}};
	amqp_table_t args = {1, &e};

	if (ae_amqp_connect(&r->amqp, &r->conf, err, errlen) < 0)
		return -1;
	if (ae_amqp_declare(&r->amqp, err, errlen) < 0)
		goto fail;
	/* Durable and expiring: replies outlive a broker restart, and the
	 * queue goes away 10 minutes after its last consumer. */
	amqp_queue_declare(r->amqp.conn, 1, amqp_cstring_bytes(r->queue), 0, 1,
			   0, 0, args);
	if (ae_amqp_rpc_check(&r->amqp, "queue.declare", err, errlen) < 0)
		goto fail;
	amqp_basic_consume(r->amqp.conn, 1, amqp_cstring_bytes(r->queue),
			   amqp_empty_bytes, 0, 1, 0, amqp_empty_table);
	if (ae_amqp_rpc_check(&r->amqp, "basic.consume", err, errlen) < 0)
		goto fail;
	return 0;
fail:
	ae_amqp_close(&r->amqp);
	return -1;
}

/* Reconnect until the deadline. */
static int reconnect(struct remote *r, char *err, size_t errlen)
{
	long long backoff = 200;

	ae_amqp_close(&r->amqp);
	while (mono_ms() < r->deadline) {
		char e2[1024];
		if (remote_connect(r, e2, sizeof e2) == 0) {
			ae_info("reconnected to %s", r->amqp.where);
			return 0;
		}
		ae_info("%s; retrying", e2);
		usleep((useconds_t)backoff * 1000);
		backoff = backoff * 2 > 5000 ? 5000 : backoff * 2;
		snprintf(err, errlen, "%s", e2);
	}
	return -1;
}

static const char *str(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

static void print_vms(json_t *hosts)
{
	size_t i, k;
	json_t *h, *vm;

	printf("%-20s %-12s %-9s %-8s %-17s %s\n", "NAME", "HOST", "STATE",
	       "BACKEND", "MAC", "ADDRESSES");
	json_array_foreach(hosts, i, h) {
		json_t *vms = json_object_get(h, "vms");
		json_array_foreach(vms, k, vm) {
			json_t *addrs = json_object_get(vm, "addresses"), *ad;
			size_t x;
			printf("%-20s %-12s %-9s %-8s %-17s ", str(vm, "name"),
			       str(h, "host"), str(vm, "state"),
			       str(vm, "backend"), str(vm, "mac"));
			json_array_foreach(addrs, x, ad)
				printf("%s%s", x ? "," : "", str(ad, "address"));
			printf("%s\n", json_array_size(addrs) ? "" : "-");
		}
	}
}

/* Print a final reply; returns the exit status. */
static int show(struct remote *r, const char *cmd, json_t *rep)
{
	const char *status = str(rep, "status"), *host = str(rep, "host");
	json_t *resp = json_object_get(rep, "response");
	char *s;

	if (strcmp(status, "success")) {
		ae_err("remote: %s%s%s", *host ? host : "", *host ? ": " : "",
		       *str(rep, "reason") ? str(rep, "reason") : "error");
		return AE_EXIT_ERROR;
	}
	if (!strcmp(cmd, "create")) {
		printf("%s: %s on host %s\n", str(resp, "name"),
		       str(resp, "state"), host);
	} else if (!strcmp(cmd, "status")) {
		s = json_dumps(resp, JSON_INDENT(2));
		printf("%s\n", s ? s : "null");
		free(s);
	} else if (!strcmp(cmd, "console")) {
		fputs(str(resp, "output"), stdout);
	} else if (json_object_get(resp, "state")) {
		printf("%s: %s (host %s)\n", str(resp, "name"), str(resp, "state"),
		       host);
	} else {
		const char *out = str(resp, "output");
		size_t n = strlen(out);
		while (n && out[n - 1] == '\n')
			n--;
		printf("%.*s%s(host %s)\n", (int)n, out, n ? " " : "", host);
	}
	return 0;
}

/* Build {"command": .., "options": {..}} from the command line. */
static json_t *request(int argc, char **argv, char **route, int *want_all,
		       const char *host, char *err, size_t errlen)
{
	static const struct option lo[] = {
		{"image", required_argument, NULL, 'i'},
		{"backend", required_argument, NULL, 'b'},
		{"memory", required_argument, NULL, 'm'},
		{"cpus", required_argument, NULL, 'n'},
		{"mac", required_argument, NULL, 'a'},
		{"init-script", required_argument, NULL, 's'},
		{"no-start", no_argument, NULL, 'S'},
		{"timeout", required_argument, NULL, 't'},
		{"force", no_argument, NULL, 'f'},
		{"to", required_argument, NULL, 'T'},
		{"kernel", required_argument, NULL, 'K'},
		{"initrd", required_argument, NULL, 'R'},
		{"append", required_argument, NULL, 'P'},
		{"id", required_argument, NULL, 'I'},
		{"header", required_argument, NULL, 'X'},
		{"set", required_argument, NULL, 'E'},
		{"persist", no_argument, NULL, 'Z'},
		{NULL, 0, NULL, 0},
	};
	const char *cmd = argv[0], *wire;
	json_t *hdrs = json_object();
	const char *msgid = NULL;
	json_t *o = json_object(), *req = NULL, *set = json_array();
	char *to = NULL;
	int ch, i;
	int64_t v;

	optind = 0;
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 'i': json_object_set_new(o, "image", json_string(optarg)); break;
		case 'b': json_object_set_new(o, "backend", json_string(optarg)); break;
		case 'a': json_object_set_new(o, "mac", json_string(optarg)); break;
		case 'S': json_object_set_new(o, "start", json_false()); break;
		case 'f': json_object_set_new(o, "force", json_true()); break;
		case 'T': to = optarg; break;
		case 'K': json_object_set_new(o, "kernel", json_string(optarg)); break;
		case 'R': json_object_set_new(o, "initrd", json_string(optarg)); break;
		case 'P': json_object_set_new(o, "append", json_string(optarg)); break;
		case 'I': msgid = optarg; break;
		case 'E': json_array_append_new(set, json_string(optarg)); break;
		case 'Z': json_object_set_new(o, "persist", json_true()); break;
		case 'X': {
			const char *colon = strchr(optarg, ':');
			if (!colon || colon == optarg) {
				snprintf(err, errlen, "--header '%s': NAME:VALUE",
					 optarg);
				goto bad;
			}
			char *k = ae_xasprintf("%.*s", (int)(colon - optarg),
					       optarg);
			json_object_set_new(hdrs, k, json_string(colon + 1));
			free(k);
			break;
		}
		case 'm': case 'n': case 't':
			if (ae_parse_int(optarg, &v) < 0) {
				snprintf(err, errlen, "--%s: '%s' is not a number",
					 ch == 'm' ? "memory" : ch == 'n' ? "cpus"
									  : "timeout",
					 optarg);
				goto bad;
			}
			json_object_set_new(o, ch == 'm' ? "memory" : ch == 'n'
							       ? "cpus" : "timeout",
					    json_integer(v));
			break;
		case 's': {
			char *text;
			size_t len;
			int rc = ae_read_file(optarg, &text, &len, 65536);
			if (rc < 0) {
				snprintf(err, errlen, "--init-script %s: %s", optarg,
					 rc == -EFBIG ? "over 64 KiB"
						      : strerror(-rc));
				goto bad;
			}
			json_object_set_new(o, "init_script", json_string(text));
			free(text);
			break;
		}
		default:
			snprintf(err, errlen, "bad option for remote %s", cmd);
			goto bad;
		}
	}
	argc -= optind;
	argv += optind;
	if (strcmp(cmd, "network") &&
	    (json_array_size(set) || json_object_get(o, "persist"))) {
		snprintf(err, errlen, "--set and --persist are for remote "
			 "network switch");
		goto bad;
	}
	if (!strcmp(cmd, "raw")) {
		json_error_t je;
		if (argc != 1) {
			snprintf(err, errlen, "raw needs one JSON argument");
			goto bad;
		}
		json_decref(o);
		o = NULL;
		if (!to || !strcmp(to, "create")) {
			*route = ae_xstrdup("create");
		} else if (!strncmp(to, "vm:", 3) || !strncmp(to, "host:", 5)) {
			*route = ae_xasprintf("%s.%s", to[0] == 'v' ? "vm" : "host",
					      strchr(to, ':') + 1);
		} else if (!strcmp(to, "all")) {
			*want_all = 1;
		} else {
			snprintf(err, errlen, "--to: create, vm:NAME, host:H or all");
			goto bad;
		}
		/* sent as given, even when it is not JSON */
		req = json_pack("{s:s, s:o}", "raw", argv[0], "headers", hdrs);
		if (msgid)
			json_object_set_new(req, "id", json_string(msgid));
		(void)je;
		json_decref(set);
		return req;
	}
	if (msgid || json_object_size(hdrs)) {
		snprintf(err, errlen, "--id and --header are for remote raw");
		goto bad;
	}
	json_decref(hdrs);
	hdrs = NULL;
	if (!strcmp(cmd, "list")) {
		if (argc) {
			snprintf(err, errlen, "list takes no arguments");
			goto bad;
		}
		wire = "list-vms";
		*want_all = 1;
	} else if (!strcmp(cmd, "forward")) {
		if (argc < 2 || (strcmp(argv[0], "list") && argc < 4) || argc > 5) {
			snprintf(err, errlen, "forward add|remove|list NAME "
				 "[tcp|udp [ADDR]:PORT [GUESTPORT]]");
			goto bad;
		}
		wire = "forward";
		json_object_set_new(o, "action", json_string(argv[0]));
		json_object_set_new(o, "name", json_string(argv[1]));
		if (argc > 2) {
			json_object_set_new(o, "proto", json_string(argv[2]));
			json_object_set_new(o, "host", json_string(argv[3]));
		}
		if (argc > 4) {
			if (ae_parse_int(argv[4], &v) < 0) {
				snprintf(err, errlen, "guest port '%s' is not a "
					 "number", argv[4]);
				goto bad;
			}
			json_object_set_new(o, "guest", json_integer(v));
		}
	} else if (!strcmp(cmd, "network")) {
		if (argc < 2 || (!strcmp(argv[0], "show") && argc != 2) ||
		    (!strcmp(argv[0], "switch") && argc != 3) ||
		    (strcmp(argv[0], "show") && strcmp(argv[0], "switch")) ||
		    (!strcmp(argv[0], "show") &&
		     (json_array_size(set) || json_object_get(o, "persist")))) {
			snprintf(err, errlen, "network switch NAME BACKEND "
				 "[--set KEY=VALUE]... [--persist] | network "
				 "show NAME");
			goto bad;
		}
		if (!ae_valid_vm_name(argv[1])) {
			snprintf(err, errlen, "'%s' is not a valid VM name",
				 argv[1]);
			goto bad;
		}
		wire = "network";
		json_object_set_new(o, "action", json_string(argv[0]));
		json_object_set_new(o, "name", json_string(argv[1]));
		if (argc > 2) {
			json_object_set_new(o, "backend", json_string(argv[2]));
			if (json_array_size(set))
				json_object_set(o, "set", set);
		}
	} else {
		static const char *const map[][2] = {
			{"create", "create-vm"}, {"start", "start-vm"},
			{"stop", "stop-vm"},     {"delete", "delete-vm"},
			{"status", "status-vm"}, {"console", "console-vm"},
			{NULL, NULL}};
		for (i = 0; map[i][0] && strcmp(map[i][0], cmd); i++)
			;
		if (!map[i][0]) {
			snprintf(err, errlen, "unknown remote command '%s'", cmd);
			goto bad;
		}
		if (argc != 1) {
			snprintf(err, errlen, "remote %s needs one VM name", cmd);
			goto bad;
		}
		if (!ae_valid_vm_name(argv[0])) {
			snprintf(err, errlen, "'%s' is not a valid VM name",
				 argv[0]);
			goto bad;
		}
		wire = map[i][1];
		json_object_set_new(o, "name", json_string(argv[0]));
	}
	if (host)
		*route = ae_xasprintf("host.%s", host);
	else if (!strcmp(wire, "create-vm"))
		*route = ae_xstrdup("create");
	else if (!*want_all)
		*route = ae_xasprintf("vm.%s", json_string_value(
						       json_object_get(o, "name")));
	if (host)
		*want_all = 0;
	json_decref(set);
	req = json_pack("{s:s, s:o}", "command", wire, "options", o);
	return req;
bad:
	json_decref(o);
	json_decref(hdrs);
	json_decref(set);
	return NULL;
}

/* The message body (and for raw, its id and headers) of req. */
static void message_of(struct remote *r, json_t *req, char **text)
{
	const char *k;
	json_t *x;

	if (!json_object_get(req, "raw")) {
		*text = json_dumps(req, JSON_COMPACT);
		r->body = *text;
		return;
	}
	r->body = json_string_value(json_object_get(req, "raw"));
	r->msgid = json_string_value(json_object_get(req, "id"));
	json_object_foreach(json_object_get(req, "headers"), k, x) {
		if (r->n_hdr == (int)AE_ARRAY_SIZE(r->hent))
			break;
		r->hent[r->n_hdr].key = amqp_cstring_bytes(k);
		r->hent[r->n_hdr].value.kind = AMQP_FIELD_KIND_UTF8;
		r->hent[r->n_hdr++].value.value.bytes =
			amqp_cstring_bytes(json_string_value(x));
	}
	r->htab.num_entries = r->n_hdr;
	r->htab.entries = r->hent;
}

/* Publish the request (to every host: as many answers expected as hosts
 * serve).  0 sent; -1 connection trouble, in err; 1 nobody to take it
 * (said). */
static int send_request(struct remote *r, char *err, size_t errlen)
{
	int rc;

	if (r->want_all) {
		int n = ae_amqp_consumers(&r->amqp, AE_Q_HOSTS, err, errlen);
		if (n < 0)
			return -1;
		if (n == 0) {
			ae_err("remote: no host is serving on %s", r->amqp.where);
			return 1;
		}
		r->expect = n;
	}
	rc = ae_amqp_publish(&r->amqp, r->want_all ? AE_X_ALL : AE_X_MAIN,
			     r->want_all ? "" : r->route, 1, r->body,
			     strlen(r->body), r->id, r->queue,
			     r->msgid ? r->msgid : r->id,
			     r->n_hdr ? &r->htab : NULL, 10000, err, errlen);
	if (rc < 0)
		return -1;
	if (rc == 1) {
		if (r->route && !strncmp(r->route, "vm.", 3))
			ae_err("remote: no host owns VM %s (on %s)",
			       r->route + 3, r->amqp.where);
		else if (r->route && !strncmp(r->route, "host.", 5))
			ae_err("remote: no host %s is serving on %s",
			       r->route + 5, r->amqp.where);
		else
			ae_err("remote: no host is serving on %s",
			       r->amqp.where);
		return 1;
	}
	r->sent = 1;
	return 0;
}

/* Out of time: 0 when some hosts answered a request to all (said which),
 * else -1 (said). */
static int out_of_time(struct remote *r)
{
	if (r->want_all && r->got) {
		const char *k;
		json_t *x;
		char names[512] = "";
		json_object_foreach(r->seen, k, x)
			snprintf(names + strlen(names),
				 sizeof names - strlen(names), "%s%s",
				 *names ? ", " : "", k);
		ae_warn("remote: only %d of %d hosts answered in %ld s (%s)",
			r->got, r->expect, r->timeout_s, names);
		return 0;
	}
	ae_err("remote: no reply in %ld s (request %s)", r->timeout_s, r->id);
	return -1;
}

/* One reply to our request (taken over: freed here).  1 with *ret when
 * it is the final answer of a request to one host, else 0. */
static int on_reply(struct remote *r, json_t *rep, int *ret)
{
	if (r->json) {
		char *s = json_dumps(rep, JSON_COMPACT);
		if (!json_is_true(json_object_get(rep, "progress")) ||
		    ae_log_level > 6)
			printf("%s\n", s);
		free(s);
	}
	if (json_is_true(json_object_get(rep, "progress"))) {
		json_t *resp = json_object_get(rep, "response");
		ae_info("%s: %s by host %s", str(resp, "name"),
			str(resp, "state"), str(rep, "host"));
		json_decref(rep);
		return 0;
	}
	if (r->want_all) {
		/* a host answers a re-sent list again */
		if (json_object_get(r->seen, str(rep, "host"))) {
			json_decref(rep);
			return 0;
		}
		json_object_set_new(r->seen, str(rep, "host"), json_true());
	}
	r->got++;
	if (r->want_all) {
		if (strcmp(str(rep, "status"), "success"))
			ae_err("remote: host %s: %s", str(rep, "host"),
			       str(rep, "reason"));
		else
			json_array_append_new(r->all,
				json_incref(json_object_get(rep, "response")));
		json_decref(rep);
		return 0;
	}
	*ret = r->json ? (strcmp(str(rep, "status"), "success") ? AE_EXIT_ERROR
								: 0)
		       : show(r, r->cmd, rep);
	json_decref(rep);
	return 1;
}

/* The replies received: those to our request (by correlation id) that
 * are JSON objects go to on_reply.  1 with *ret at the final one. */
static int take_replies(struct remote *r, int *ret)
{
	struct ae_msg *m;

	while ((m = ae_amqp_take(&r->amqp))) {
		json_error_t je;
		json_t *rep;

		if (!m->correlation_id || strcmp(m->correlation_id, r->id)) {
			ae_msg_free(m);
			continue;
		}
		rep = json_loadb(m->body, m->len, 0, &je);
		ae_msg_free(m);
		if (!json_is_object(rep)) {
			json_decref(rep);
			continue;
		}
		if (on_reply(r, rep, ret))
			return 1;
	}
	return 0;
}

/* The answers to a request to every host, as many as came. */
static int show_all(struct remote *r)
{
	if (!r->json && strcmp(r->cmd, "raw"))
		print_vms(r->all);
	return 0;
}

/* Send the request and wait for its answers, through reconnects, until
 * the deadline; returns the exit status. */
static int exchange(struct remote *r)
{
	char err[1024];
	int ret = AE_EXIT_ERROR;

	for (;;) {
		long long left = r->deadline - mono_ms();
		int rc;

		if (!r->sent && (rc = send_request(r, err, sizeof err))) {
			if (rc > 0)
				return AE_EXIT_ERROR;
			goto broken;
		}
		if (left <= 0)
			return out_of_time(r) == 0 ? show_all(r) : AE_EXIT_ERROR;
		/* A reply may already wait in the inbox (read while the
		 * publish waited for its confirm). */
		if (!r->amqp.inbox &&
		    ae_amqp_pump(&r->amqp, (int)(left < 500 ? left : 500), err,
				 sizeof err) < 0)
			goto broken;
		if (take_replies(r, &ret))
			return ret;
		if (r->want_all && r->got >= r->expect)
			return show_all(r);
		continue;
broken:
		/* The broker went away: reconnect and re-send with the same
		 * id (the agents answer a repeat from their record).  A create
		 * the broker confirmed is not sent again: it is persistent in
		 * a durable queue, so it survives (and is redelivered), and a
		 * second copy could be taken by a second host while the first
		 * still makes the VM: made twice, the record of each host
		 * knowing only its own. */
		ae_warn("remote: %s; reconnecting", err);
		if (reconnect(r, err, sizeof err) < 0) {
			ae_err("remote: %s", err);
			return AE_EXIT_ERROR;
		}
		if (!(r->sent && r->route && !strcmp(r->route, "create")))
			r->sent = 0;
	}
}

int ae_cmd_remote(int argc, char **argv, const char *hostconf)
{
	static const struct option lo[] = {
		{"amqp", required_argument, NULL, 'a'},
		{"credentials", required_argument, NULL, 'k'},
		{"timeout", required_argument, NULL, 't'},
		{"json", no_argument, NULL, 'j'},
		{"host", required_argument, NULL, 'H'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct remote R = {0}, *r = &R;
	const char *url = NULL, *cred = NULL, *host = NULL, *hc;
	struct ae_ini *ini = NULL;
	char err[1024], *text = NULL;
	json_t *req = NULL;
	int ch, ret = AE_EXIT_ERROR;
	int64_t v;

	r->timeout_s = -1;
	r->expect = 1;
	optind = 0;
	while ((ch = getopt_long(argc, argv, "+", lo, NULL)) != -1) {
		switch (ch) {
		case 'a': url = optarg; break;
		case 'k': cred = optarg; break;
		case 'j': r->json = 1; break;
		case 'H': host = optarg; break;
		case 't':
			if (ae_parse_int(optarg, &v) < 0 || v < 1 || v > 86400) {
				ae_err("remote: --timeout: '%s' is not 1..86400 "
				       "seconds", optarg);
				return AE_EXIT_USAGE;
			}
			r->timeout_s = (long)v;
			break;
		case 'h': remote_usage(stdout); return 0;
		default: remote_usage(stderr); return AE_EXIT_USAGE;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1) {
		remote_usage(stderr);
		return AE_EXIT_USAGE;
	}
	if (host && !ae_amqp_valid_host(host)) {
		ae_err("remote: --host '%s' is not a host name", host);
		return AE_EXIT_USAGE;
	}
	r->cmd = argv[0];
	req = request(argc, argv, &r->route, &r->want_all, host, err,
		      sizeof err);
	if (!req) {
		ae_err("remote: %s", err);
		remote_usage(stderr);
		return AE_EXIT_USAGE;
	}
	message_of(r, req, &text);
	hc = ae_host_config_path(hostconf);
	if (hc && ae_ini_parse_file(hc, &ini, err, sizeof err) < 0) {
		ae_err("%s", err);
		goto out;
	}
	if (ae_amqp_conf_load(&r->conf, ini, url, cred, err, sizeof err) < 0) {
		ae_err("%s", err);
		goto out;
	}
	if (r->timeout_s < 0)
		r->timeout_s = r->want_all ? 15 : 300;
	r->deadline = mono_ms() + r->timeout_s * 1000;
	ae_uuid_random(r->id);
	r->queue = ae_xasprintf("aether.reply.%s", r->id);
	if (remote_connect(r, err, sizeof err) < 0) {
		ae_err("remote: %s", err);
		goto out;
	}
	r->seen = json_object();
	r->all = json_array();
	ret = exchange(r);
out:
	if (r->amqp.conn) {
		amqp_queue_delete(r->amqp.conn, 1, amqp_cstring_bytes(r->queue), 0,
				  0);
		ae_amqp_close(&r->amqp);
	}
	json_decref(r->all);
	json_decref(r->seen);
	json_decref(req);
	free(text);
	free(r->route);
	free(r->queue);
	ae_amqp_conf_free(&r->conf);
	ae_ini_free(ini);
	return ret;
}
