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
		{NULL, 0, NULL, 0},
	};
	const char *cmd = argv[0], *wire;
	json_t *hdrs = json_object();
	const char *msgid = NULL;
	json_t *o = json_object(), *req = NULL;
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
	req = json_pack("{s:s, s:o}", "command", wire, "options", o);
	return req;
bad:
	json_decref(o);
	json_decref(hdrs);
	return NULL;
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
	const char *url = NULL, *cred = NULL, *host = NULL, *hc, *body;
	struct ae_ini *ini = NULL;
	char err[1024], *route = NULL, *text = NULL;
	json_t *req = NULL, *all = NULL, *seen = json_object();
	int ch, want_all = 0, expect = 1, got = 0, sent = 0, ret = AE_EXIT_ERROR;
	const char *msgid = NULL;
	amqp_table_entry_t hent[8];
	amqp_table_t htab = {0, NULL};
	int n_hdr = 0;
	long timeout_s = -1;
	int64_t v;

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
			timeout_s = (long)v;
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
	req = request(argc, argv, &route, &want_all, host, err, sizeof err);
	if (!req) {
		ae_err("remote: %s", err);
		remote_usage(stderr);
		return AE_EXIT_USAGE;
	}
	if (json_object_get(req, "raw")) {
		const char *k;
		json_t *x;
		body = json_string_value(json_object_get(req, "raw"));
		msgid = json_string_value(json_object_get(req, "id"));
		json_object_foreach(json_object_get(req, "headers"), k, x) {
			if (n_hdr == (int)AE_ARRAY_SIZE(hent))
				break;
			hent[n_hdr].key = amqp_cstring_bytes(k);
			hent[n_hdr].value.kind = AMQP_FIELD_KIND_UTF8;
			hent[n_hdr++].value.value.bytes =
				amqp_cstring_bytes(json_string_value(x));
		}
		htab.num_entries = n_hdr;
		htab.entries = hent;
	} else {
		text = json_dumps(req, JSON_COMPACT);
		body = text;
	}
	hc = ae_host_config_path(hostconf);
	if (hc && ae_ini_parse_file(hc, &ini, err, sizeof err) < 0) {
		ae_err("%s", err);
		goto out;
	}
	if (ae_amqp_conf_load(&r->conf, ini, url, cred, err, sizeof err) < 0) {
		ae_err("%s", err);
		goto out;
	}
	if (timeout_s < 0)
		timeout_s = want_all ? 15 : 300;
	r->deadline = mono_ms() + timeout_s * 1000;
	ae_uuid_random(r->id);
	r->queue = ae_xasprintf("aether.reply.%s", r->id);
	if (remote_connect(r, err, sizeof err) < 0) {
		ae_err("remote: %s", err);
		goto out;
	}
	all = json_array();
	for (;;) {
		struct ae_msg *m;
		long long left = r->deadline - mono_ms();

		if (!sent) {
			int rc;
			if (want_all) {
				int n = ae_amqp_consumers(&r->amqp, AE_Q_HOSTS, err,
							  sizeof err);
				if (n < 0)
					goto broken;
				if (n == 0) {
					ae_err("remote: no host is serving on %s",
					       r->amqp.where);
					goto out;
				}
				expect = n;
			}
			rc = ae_amqp_publish(&r->amqp, want_all ? AE_X_ALL
								: AE_X_MAIN,
					     want_all ? "" : route, 1, body,
					     strlen(body), r->id, r->queue,
					     msgid ? msgid : r->id,
					     n_hdr ? &htab : NULL, 10000, err,
					     sizeof err);
			if (rc < 0)
				goto broken;
			if (rc == 1) {
				if (route && !strncmp(route, "vm.", 3))
					ae_err("remote: no host owns VM %s (on %s)",
					       route + 3, r->amqp.where);
				else if (route && !strncmp(route, "host.", 5))
					ae_err("remote: no host %s is serving on %s",
					       route + 5, r->amqp.where);
				else
					ae_err("remote: no host is serving on %s",
					       r->amqp.where);
				goto out;
			}
			sent = 1;
		}
		if (left <= 0) {
			if (want_all && got) {
				const char *k;
				json_t *x;
				char names[512] = "";
				json_object_foreach(seen, k, x)
					snprintf(names + strlen(names),
						 sizeof names - strlen(names),
						 "%s%s", *names ? ", " : "", k);
				ae_warn("remote: only %d of %d hosts answered in "
					"%ld s (%s)", got, expect, timeout_s, names);
				break;
			}
			ae_err("remote: no reply in %ld s (request %s)",
			       timeout_s, r->id);
			goto out;
		}
		/* A reply may already wait in the inbox (read while the
		 * publish waited for its confirm). */
		if (!r->amqp.inbox &&
		    ae_amqp_pump(&r->amqp, (int)(left < 500 ? left : 500), err,
				 sizeof err) < 0)
			goto broken;
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
				continue;
			}
			if (want_all) {
				/* a host answers a re-sent list again */
				if (json_object_get(seen, str(rep, "host"))) {
					json_decref(rep);
					continue;
				}
				json_object_set_new(seen, str(rep, "host"),
						    json_true());
			}
			got++;
			if (want_all) {
				if (strcmp(str(rep, "status"), "success")) {
					ae_err("remote: host %s: %s",
					       str(rep, "host"), str(rep, "reason"));
					json_decref(rep);
				} else {
					json_array_append_new(all,
						json_incref(json_object_get(
							rep, "response")));
					json_decref(rep);
				}
				continue;
			}
			ret = r->json ? (strcmp(str(rep, "status"), "success")
						 ? AE_EXIT_ERROR
						 : 0)
				      : show(r, argv[0], rep);
			json_decref(rep);
			goto out;
		}
		if (want_all && got >= expect)
			break;
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
			goto out;
		}
		if (!(sent && route && !strcmp(route, "create")))
			sent = 0;
	}
	if (want_all) {
		if (!r->json && strcmp(argv[0], "raw"))
			print_vms(all);
		ret = 0;
	}
out:
	if (r->amqp.conn) {
		amqp_queue_delete(r->amqp.conn, 1, amqp_cstring_bytes(r->queue), 0,
				  0);
		ae_amqp_close(&r->amqp);
	}
	json_decref(all);
	json_decref(seen);
	json_decref(req);
	free(text);
	free(route);
	free(r->queue);
	ae_amqp_conf_free(&r->conf);
	ae_ini_free(ini);
	return ret;
}
