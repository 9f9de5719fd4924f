/* check_agent.c - the host agent's requests without a broker
 * (agent-req.c): the argv of every step of every command (the full
 * create-vm among them), request validation and its messages, the host
 * policy (forward addresses and ports, stop timeouts), request digests,
 * the agent's own headers, children's output kept newest-first on a
 * character boundary, the [agent] config and request ids. */
#include "config.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent-req.h"
#include "agentconf.h"
#include "check-main.h"
#include "conffile.h"
#include "journal.h"
#include "lifecycle.h"

static char why[512];

static json_t *parse_ok(const char *body, int want_cmd)
{
	json_t *o = NULL;
	int c;

	why[0] = '\0';
	ck_assert_msg(ae_req_parse(body, strlen(body), &c, &o, why,
				   sizeof why) == 0,
		      "%s: refused: %s", body, why);
	ck_assert_int_eq(c, want_cmd);
	ck_assert_ptr_nonnull(o);
	return o;
}

static void parse_bad(const char *body, const char *sub)
{
	json_t *o = (json_t *)1;
	int c;

	why[0] = '\0';
	ck_assert_msg(ae_req_parse(body, strlen(body), &c, &o, why,
				   sizeof why) < 0,
		      "%s: accepted", body);
	ck_assert_ptr_null(o);
	ck_assert_err_has(why, sub);
}

/* The argv as one string, arguments separated by '|'. */
static char *joined(const struct ae_argv *v)
{
	char *s = ae_xstrdup(""), *t;
	size_t i;

	for (i = 0; i < v->n; i++) {
		ck_assert_ptr_nonnull(v->v[i]);
		t = ae_xasprintf("%s%s%s", s, i ? "|" : "", v->v[i]);
		free(s);
		s = t;
	}
	ck_assert_ptr_null(v->v[v->n]);
	return s;
}

/* Step `step` of the request `body` (validated first); its argv. */
static char *step_argv(const char *body, int cmd, int *step, int failed,
		       int made, const char *script)
{
	json_t *o = parse_ok(body, cmd);
	struct ae_req_ctx c = {
		.cmd = cmd, .opts = o, .failed = failed, .made = made,
		.script = script, .hostconf = "/etc/aether/h.conf",
		.image_dir = "/srv/img"};
	struct ae_argv v = {0};
	char *s;
	int n;

	c.name = json_string_value(json_object_get(o, "name"));
	n = ae_req_next_argv(&c, step, &v);
	s = n ? joined(&v) : NULL;
	ck_assert_int_eq((size_t)n, v.n);
	ae_argv_free(&v);
	json_decref(o);
	return s;
}

static void expect_step(const char *body, int cmd, int step, const char *want)
{
	int st = step;
	char *s = step_argv(body, cmd, &st, 0, 0, NULL);

	if (!want) {
		ck_assert_msg(s == NULL, "%s step %d: %s", body, step, s);
		return;
	}
	ck_assert_msg(s && !strcmp(s, want), "%s step %d:\n got  %s\n want %s",
		      body, step, s ? s : "(none)", want);
	free(s);
}

#define PRE "aether|-q|-c|/etc/aether/h.conf|"

/* Every option of create-vm at once: 29 arguments, more than the fixed
 * array of 24 the agent used to build them in. */
START_TEST(create_full_argv)
{
	const char *body =
		"{\"command\": \"create-vm\", \"options\": {\"name\": \"full1\", "
		"\"image\": \"base.qcow2\", \"backend\": \"slirp\", \"memory\": 64, "
		"\"cpus\": 1, \"mac\": \"52:54:00:aa:bb:01\", \"init_script\": "
		"\"#!/bin/sh\\n\", \"kernel\": \"vmlinuz\", \"initrd\": "
		"\"initrd.img\", \"append\": \"console=ttyS0\", \"start\": false}}";
	int step = 0;
	char *s = step_argv(body, AE_REQ_CREATE, &step, 0, 0,
			    "/var/lib/aether/requests/.script-full1.1");

	ck_assert_str_eq(s, PRE "create|full1|--image|/srv/img/base.qcow2|"
			 "--backend|slirp|--mac|52:54:00:aa:bb:01|--memory|64|"
			 "--cpus|1|--init-script|"
			 "/var/lib/aether/requests/.script-full1.1|--kernel|"
			 "/srv/img/vmlinuz|--initrd|/srv/img/initrd.img|"
			 "--append|console=ttyS0");
	free(s);
	/* start=false: the start step goes straight to status. */
	step = AE_REQ_STEP_START;
	s = step_argv(body, AE_REQ_CREATE, &step, 0, 1, NULL);
	ck_assert_int_eq(step, AE_REQ_STEP_STATUS);
	ck_assert_str_eq(s, PRE "status|full1|--json");
	free(s);
	step = AE_REQ_STEP_DONE;
	ck_assert_ptr_null(step_argv(body, AE_REQ_CREATE, &step, 0, 1, NULL));
}
END_TEST

/* A value as long as a message may carry: no fixed buffer cuts it. */
START_TEST(create_long_append)
{
	char *append = ae_xmalloc(4097), *body, *s, *want;
	int step = 0;

	memset(append, 'a', 4096);
	append[4096] = '\0';
	body = ae_xasprintf("{\"command\": \"create-vm\", \"options\": {"
			    "\"name\": \"x\", \"image\": \"b\", \"kernel\": "
			    "\"k\", \"append\": \"%s\"}}", append);
	s = step_argv(body, AE_REQ_CREATE, &step, 0, 0, NULL);
	want = ae_xasprintf(PRE "create|x|--image|/srv/img/b|--kernel|"
			    "/srv/img/k|--append|%s", append);
	ck_assert_str_eq(s, want);
	free(s);
	free(want);
	free(body);
	free(append);
}
END_TEST

START_TEST(create_steps)
{
	const char *body = "{\"command\": \"create-vm\", \"options\": "
			   "{\"name\": \"w\", \"image\": \"b.qcow2\"}}";
	int step;
	char *s;

	expect_step(body, AE_REQ_CREATE, AE_REQ_STEP_RUN,
		    PRE "create|w|--image|/srv/img/b.qcow2");
	expect_step(body, AE_REQ_CREATE, AE_REQ_STEP_START, PRE "start|w");
	expect_step(body, AE_REQ_CREATE, AE_REQ_STEP_STATUS,
		    PRE "status|w|--json");
	expect_step(body, AE_REQ_CREATE, AE_REQ_STEP_DONE, NULL);
	/* A failure after the VM was made: roll back, then stop. */
	step = AE_REQ_STEP_START;
	s = step_argv(body, AE_REQ_CREATE, &step, 1, 1, NULL);
	ck_assert_int_eq(step, AE_REQ_STEP_ROLLBACK);
	ck_assert_str_eq(s, PRE "delete|--force|w");
	free(s);
	ck_assert_ptr_null(step_argv(body, AE_REQ_CREATE, &step, 1, 1, NULL));
	step++;
	ck_assert_ptr_null(step_argv(body, AE_REQ_CREATE, &step, 1, 1, NULL));
	/* A failure before: nothing to roll back. */
	step = AE_REQ_STEP_RUN;
	ck_assert_ptr_null(step_argv(body, AE_REQ_CREATE, &step, 1, 0, NULL));
}
END_TEST

START_TEST(every_command_argv)
{
	expect_step("{\"command\": \"start-vm\", \"options\": {\"name\": \"v\"}}",
		    AE_REQ_START, AE_REQ_STEP_RUN, PRE "start|v");
	/* start-vm has no start step of its own: on to status. */
	expect_step("{\"command\": \"start-vm\", \"options\": {\"name\": \"v\"}}",
		    AE_REQ_START, AE_REQ_STEP_START, PRE "status|v|--json");
	expect_step("{\"command\": \"start-vm\", \"options\": {\"name\": \"v\"}}",
		    AE_REQ_START, AE_REQ_STEP_STATUS, PRE "status|v|--json");
	expect_step("{\"command\": \"start-vm\", \"options\": {\"name\": \"v\"}}",
		    AE_REQ_START, AE_REQ_STEP_DONE, NULL);
	expect_step("{\"command\": \"stop-vm\", \"options\": {\"name\": \"v\", "
		    "\"timeout\": 20, \"force\": true}}",
		    AE_REQ_STOP, AE_REQ_STEP_RUN,
		    PRE "stop|v|--timeout|20|--force");
	expect_step("{\"command\": \"stop-vm\", \"options\": {\"name\": \"v\"}}",
		    AE_REQ_STOP, AE_REQ_STEP_RUN, PRE "stop|v");
	expect_step("{\"command\": \"stop-vm\", \"options\": {\"name\": \"v\"}}",
		    AE_REQ_STOP, AE_REQ_STEP_START, PRE "status|v|--json");
	expect_step("{\"command\": \"delete-vm\", \"options\": {\"name\": \"v\", "
		    "\"force\": true}}", AE_REQ_DELETE, AE_REQ_STEP_RUN,
		    PRE "delete|v|--force");
	expect_step("{\"command\": \"delete-vm\", \"options\": {\"name\": \"v\"}}",
		    AE_REQ_DELETE, AE_REQ_STEP_START, NULL);
	expect_step("{\"command\": \"delete-vm\", \"options\": {\"name\": \"v\"}}",
		    AE_REQ_DELETE, AE_REQ_STEP_STATUS, NULL);
	expect_step("{\"command\": \"status-vm\", \"options\": {\"name\": \"v\"}}",
		    AE_REQ_STATUS, AE_REQ_STEP_RUN, PRE "status|v|--json");
	expect_step("{\"command\": \"list-vms\"}", AE_REQ_LIST, AE_REQ_STEP_RUN,
		    PRE "list|--json");
	expect_step("{\"command\": \"list-vms\", \"options\": {}}", AE_REQ_LIST,
		    AE_REQ_STEP_START, NULL);
	expect_step("{\"command\": \"console-vm\", \"options\": {\"name\": "
		    "\"v\"}}", AE_REQ_CONSOLE, AE_REQ_STEP_RUN,
		    PRE "console|v|--no-follow");
	expect_step("{\"command\": \"forward\", \"options\": {\"name\": \"v\", "
		    "\"action\": \"add\", \"proto\": \"tcp\", \"host\": "
		    "\"127.0.0.1:8080\", \"guest\": 80}}", AE_REQ_FORWARD,
		    AE_REQ_STEP_RUN,
		    PRE "forward|add|v|tcp|127.0.0.1:8080|80");
	expect_step("{\"command\": \"forward\", \"options\": {\"name\": \"v\", "
		    "\"action\": \"remove\", \"proto\": \"udp\", \"host\": "
		    "\":53\"}}", AE_REQ_FORWARD, AE_REQ_STEP_RUN,
		    PRE "forward|remove|v|udp|:53");
	expect_step("{\"command\": \"forward\", \"options\": {\"name\": \"v\", "
		    "\"action\": \"list\"}}", AE_REQ_FORWARD, AE_REQ_STEP_RUN,
		    PRE "forward|list|v");
}
END_TEST

/* Without a host config: no -c. */
START_TEST(no_hostconf)
{
	json_t *o = parse_ok("{\"command\": \"list-vms\"}", AE_REQ_LIST);
	struct ae_req_ctx c = {.cmd = AE_REQ_LIST, .opts = o};
	struct ae_argv v = {0};
	int step = 0;
	char *s;

	ck_assert_int_eq(ae_req_next_argv(&c, &step, &v), 4);
	s = joined(&v);
	ck_assert_str_eq(s, "aether|-q|list|--json");
	free(s);
	ae_argv_free(&v);
	json_decref(o);
}
END_TEST

START_TEST(bad_requests)
{
	parse_bad("{\"command\": ", "bad JSON at line 1");
	parse_bad("[1]", "a request is {\"command\": STRING");
	parse_bad("{\"command\": 5}", "a request is");
	parse_bad("{\"command\": \"format-disk\"}", "unknown command 'format-disk'");
	parse_bad("{\"command\": \"list-vms\", \"command\": \"list-vms\"}",
		  "duplicate object key");
	parse_bad("{\"command\": \"list-vms\", \"extra\": 1}",
		  "unknown member 'extra'");
	parse_bad("{\"command\": \"create-vm\", \"options\": \"x\"}",
		  "options must be an object");
	parse_bad("{\"command\": \"create-vm\", \"options\": {\"name\": \"x\"}}",
		  "create-vm: option 'image' is missing");
	parse_bad("{\"command\": \"create-vm\", \"options\": {\"image\": \"b\", "
		  "\"memory\": \"lots\"}}", "option 'memory' must be an integer");
	parse_bad("{\"command\": \"create-vm\", \"options\": {\"image\": \"b\", "
		  "\"memory\": 8}}", "option 'memory' must be 16..1048576");
	parse_bad("{\"command\": \"create-vm\", \"options\": {\"image\": \"b\", "
		  "\"cpus\": 100000}}", "option 'cpus' must be 1..255");
	parse_bad("{\"command\": \"create-vm\", \"options\": {\"image\": \"b\", "
		  "\"colour\": \"red\"}}", "unknown option 'colour'");
	parse_bad("{\"command\": \"create-vm\", \"options\": {\"image\": "
		  "\"../../etc/passwd\"}}", "image '../../etc/passwd' must be");
	parse_bad("{\"command\": \"create-vm\", \"options\": {\"image\": \"b\", "
		  "\"kernel\": \"/boot/vmlinuz\"}}", "kernel '/boot/vmlinuz' must");
	parse_bad("{\"command\": \"create-vm\", \"options\": {\"image\": \"b\", "
		  "\"initrd\": \"i\"}}", "initrd needs kernel");
	parse_bad("{\"command\": \"create-vm\", \"options\": {\"image\": \"b\", "
		  "\"append\": \"x\"}}", "append needs kernel");
	parse_bad("{\"command\": \"create-vm\", \"options\": {\"image\": \"b\", "
		  "\"name\": \"a/b\"}}", "name 'a/b' is not a valid VM name");
	parse_bad("{\"command\": \"create-vm\", \"options\": {\"image\": \"b\", "
		  "\"name\": \"-rf\"}}", "name '-rf' is not a valid VM name");
	parse_bad("{\"command\": \"create-vm\", \"options\": {\"image\": \"b\", "
		  "\"backend\": \"../x\"}}", "backend '../x' is not a backend");
	parse_bad("{\"command\": \"create-vm\", \"options\": {\"image\": \"b\", "
		  "\"mac\": \"--force\"}}", "mac '--force' is not a MAC");
	parse_bad("{\"command\": \"create-vm\", \"options\": {\"image\": \"b\", "
		  "\"name\": \"a\\u0000b\"}}", "\\u0000 is not allowed");
	parse_bad("{\"command\": \"start-vm\", \"options\": {}}",
		  "start-vm: option 'name' is missing");
	parse_bad("{\"command\": \"stop-vm\", \"options\": {\"name\": \"v\", "
		  "\"timeout\": -1}}", "option 'timeout' must be 0..86400");
	parse_bad("{\"command\": \"stop-vm\", \"options\": {\"name\": \"v\", "
		  "\"force\": 1}}", "option 'force' must be a boolean");
	parse_bad("{\"command\": \"list-vms\", \"options\": {\"name\": \"v\"}}",
		  "list-vms: unknown option 'name'");
	parse_bad("{\"command\": \"forward\", \"options\": {\"name\": \"v\", "
		  "\"action\": \"flush\"}}", "action must be add, remove or list");
	parse_bad("{\"command\": \"forward\", \"options\": {\"name\": \"v\", "
		  "\"action\": \"add\", \"proto\": \"sctp\", \"host\": \":1\", "
		  "\"guest\": 1}}", "needs proto (tcp or udp)");
	parse_bad("{\"command\": \"forward\", \"options\": {\"name\": \"v\", "
		  "\"action\": \"add\", \"proto\": \"tcp\", \"host\": "
		  "\"-c/etc/x\", \"guest\": 1}}", "host '-c/etc/x' is not");
	parse_bad("{\"command\": \"forward\", \"options\": {\"name\": \"v\", "
		  "\"action\": \"add\", \"proto\": \"tcp\", \"host\": "
		  "\"127.0.0.1:70000\", \"guest\": 1}}", "is not [IPV4ADDR]:PORT");
	parse_bad("{\"command\": \"forward\", \"options\": {\"name\": \"v\", "
		  "\"action\": \"add\", \"proto\": \"tcp\", \"host\": "
		  "\"127.0.0.1:8080\"}}", "forward add: needs guest");
	parse_bad("{\"command\": \"forward\", \"options\": {\"name\": \"v\", "
		  "\"action\": \"list\", \"proto\": \"tcp\"}}",
		  "forward list: takes only name");
}
END_TEST

/* A message cut in the middle of a UTF-8 character quoted in the
 * reason: the reason is cut, the reply is made valid by the agent. */
START_TEST(bad_body_bytes)
{
	static const char body[] = "{\"command\": \"\xff\"}";
	json_t *o;
	int c;

	ck_assert_int_lt(ae_req_parse(body, sizeof body - 1, &c, &o, why,
				      sizeof why), 0);
	ck_assert_int_eq(c, -1);
	ck_assert_err_has(why, "bad JSON");
	ck_assert_int_lt(ae_req_parse("", 0, &c, &o, why, sizeof why), 0);
}
END_TEST

#define NETSW(extra) "{\"command\": \"network\", \"options\": {" \
	"\"name\": \"v\", \"action\": \"switch\", " extra "}}"

/* network switch|show: the argv, each --set one argument, in order. */
START_TEST(network_argv)
{
	expect_step(NETSW("\"backend\": \"tap\""), AE_REQ_NETWORK,
		    AE_REQ_STEP_RUN, PRE "network|switch|v|tap");
	expect_step(NETSW("\"backend\": \"tap\", \"set\": [\"bridge=br1\", "
			  "\"mtu=1400\"], \"persist\": true"),
		    AE_REQ_NETWORK, AE_REQ_STEP_RUN,
		    PRE "network|switch|v|tap|--set|bridge=br1|--set|mtu=1400|"
			"--persist");
	/* a value with blanks, quotes, '=' and ';' stays one argument */
	expect_step(NETSW("\"backend\": \"vde\", \"set\": [\"group=a b\\\"c;=d\"], "
			  "\"persist\": false"),
		    AE_REQ_NETWORK, AE_REQ_STEP_RUN,
		    PRE "network|switch|v|vde|--set|group=a b\"c;=d");
	expect_step(NETSW("\"backend\": \"tap\""), AE_REQ_NETWORK,
		    AE_REQ_STEP_START, NULL);
	expect_step("{\"command\": \"network\", \"options\": {\"name\": "
		    "\"v\", \"action\": \"show\"}}", AE_REQ_NETWORK,
		    AE_REQ_STEP_RUN, PRE "network|show|v");
}
END_TEST

/* Hostile network requests are refused before any aether runs. */
START_TEST(network_bad)
{
	char *body, *big;
	int i;

	parse_bad(NETSW("\"backend\": \"tap\", \"bogus\": 1"),
		  "network: unknown option 'bogus'");
	parse_bad("{\"command\": \"network\", \"options\": {\"name\": \"v\", "
		  "\"action\": \"delete\"}}", "action must be switch or show");
	parse_bad("{\"command\": \"network\", \"options\": {\"action\": "
		  "\"show\"}}", "option 'name' is missing");
	parse_bad("{\"command\": \"network\", \"options\": {\"name\": \"v\", "
		  "\"action\": \"show\", \"backend\": \"tap\"}}",
		  "network show: takes only name");
	parse_bad(NETSW("\"set\": []"), "network switch: needs backend");
	/* backend names that are no backend name: a path, upper case, too
	 * long, options, an embedded NUL */
	parse_bad(NETSW("\"backend\": \"../tap\""), "not a backend name");
	parse_bad(NETSW("\"backend\": \"TAP\""), "not a backend name");
	parse_bad(NETSW("\"backend\": \"--persist\""), "not a backend name");
	parse_bad(NETSW("\"backend\": \"\""), "not a backend name");
	parse_bad(NETSW("\"backend\": "
			"\"abcdefghijklmnopqrstuvwxyz0123456\""),
		  "not a backend name");
	/* (jansson refuses \u0000 in the body: the NUL never gets here) */
	parse_bad(NETSW("\"backend\": \"tap\\u0000x\""), "is not allowed");
	parse_bad(NETSW("\"backend\": 7"), "option 'backend' must be a string");
	parse_bad("{\"command\": \"network\", \"options\": {\"name\": "
		  "\"../v\", \"action\": \"show\"}}", "not a valid VM name");
	/* set: its type, items that are not KEY=VALUE */
	parse_bad(NETSW("\"backend\": \"tap\", \"set\": {\"bridge\": \"b\"}"),
		  "option 'set' must be an array of strings");
	parse_bad(NETSW("\"backend\": \"tap\", \"set\": [1]"),
		  "set[0] must be a string");
	parse_bad(NETSW("\"backend\": \"tap\", \"set\": [\"bridge\"]"),
		  "set[0] 'bridge' is not KEY=VALUE");
	parse_bad(NETSW("\"backend\": \"tap\", \"set\": [\"=br0\"]"),
		  "set[0] '=br0' is not KEY=VALUE");
	parse_bad(NETSW("\"backend\": \"tap\", \"set\": [\"a=1\", \"--x=1\"]"),
		  "set[1]: '--x' is not an option name");
	parse_bad(NETSW("\"backend\": \"tap\", \"set\": [\"Bridge=1\"]"),
		  "'Bridge' is not an option name");
	/* newlines, NULs and other control characters, in keys and values */
	parse_bad(NETSW("\"backend\": \"tap\", \"set\": [\"bridge=a\\nb\"]"),
		  "set[0]: the value of bridge contains a control character "
		  "(0x0a)");
	parse_bad(NETSW("\"backend\": \"tap\", \"set\": [\"bridge=a\\rb\"]"),
		  "control character (0x0d)");
	parse_bad(NETSW("\"backend\": \"tap\", \"set\": [\"bridge=a\\u007fb\"]"),
		  "control character (0x7f)");
	parse_bad(NETSW("\"backend\": \"tap\", \"set\": [\"bridge=a\\u0000b\"]"),
		  "is not allowed");
	parse_bad(NETSW("\"backend\": \"tap\", \"set\": [\"bri\\ndge=a\"]"),
		  "is not an option name");
	parse_bad(NETSW("\"backend\": \"tap\", \"set\": [\"bri\\u0000dge=a\"]"),
		  "is not allowed");
	/* too many --set; an oversize value; an oversize key */
	big = ae_xstrdup("\"mtu=0\"");
	for (i = 1; i <= AE_NETWORK_MAX_SET; i++) {
		char *t = ae_xasprintf("%s, \"mtu=%d\"", big, i);
		free(big);
		big = t;
	}
	body = ae_xasprintf(NETSW("\"backend\": \"tap\", \"set\": [%s]"), big);
	free(big);
	parse_bad(body, "set has 17 items, over 16");
	free(body);
	big = ae_xmalloc(AE_NETWORK_MAX_VALUE + 2);
	memset(big, 'x', AE_NETWORK_MAX_VALUE + 1);
	big[AE_NETWORK_MAX_VALUE + 1] = '\0';
	body = ae_xasprintf(NETSW("\"backend\": \"tap\", \"set\": [\"bridge=%s\"]"),
			    big);
	parse_bad(body, "the value of bridge is over 256 bytes");
	free(body);
	big[AE_NETWORK_MAX_VALUE] = '\0'; /* at the limit: taken */
	body = ae_xasprintf(NETSW("\"backend\": \"tap\", \"set\": [\"bridge=%s\"]"),
			    big);
	json_decref(parse_ok(body, AE_REQ_NETWORK));
	free(body);
	body = ae_xasprintf(NETSW("\"backend\": \"tap\", \"set\": [\"%s=1\"]"),
			    big);
	parse_bad(body, "is not KEY=VALUE");
	free(body);
	free(big);
	/* the network command goes nowhere near other commands' options */
	parse_bad("{\"command\": \"forward\", \"options\": {\"name\": \"v\", "
		  "\"action\": \"list\", \"set\": []}}", "unknown option 'set'");
}
END_TEST

static const struct ae_fwd_policy *default_fwd(void)
{
	static struct ae_fwd_policy f;

	ck_assert_int_eq(ae_fwd_policy_parse(&f, AE_FWD_ADDRESSES_DEFAULT,
					     AE_FWD_PORTS_DEFAULT, why,
					     sizeof why), 0);
	return &f;
}

static int policy(const char *body, int cmd, const struct ae_req_policy *p)
{
	json_t *o = parse_ok(body, cmd);
	int rc;

	why[0] = '\0';
	rc = ae_req_policy_check(cmd, o, p, why, sizeof why);
	json_decref(o);
	return rc;
}

#define FWD(h) "{\"command\": \"forward\", \"options\": {\"name\": \"v\", " \
	"\"action\": \"add\", \"proto\": \"tcp\", \"host\": \"" h "\", "  \
	"\"guest\": 22}}"

START_TEST(forward_policy)
{
	struct ae_req_policy p = {300, default_fwd()};
	struct ae_fwd_policy wide;

	ck_assert_int_eq(policy(FWD("127.0.0.1:8080"), AE_REQ_FORWARD, &p), 0);
	ck_assert_int_eq(policy(FWD("127.0.0.1:1024"), AE_REQ_FORWARD, &p), 0);
	ck_assert_int_eq(policy(FWD("127.0.0.1:65535"), AE_REQ_FORWARD, &p), 0);
	ck_assert_int_lt(policy(FWD("0.0.0.0:25"), AE_REQ_FORWARD, &p), 0);
	ck_assert_err_has(why, "host address 0.0.0.0 is not allowed on this "
			  "host ([agent] forward_addresses = 127.0.0.1 ::1)");
	ck_assert_int_lt(policy(FWD(":8080"), AE_REQ_FORWARD, &p), 0);
	ck_assert_err_has(why, "(no address: every address)");
	ck_assert_int_lt(policy(FWD("10.1.2.3:8080"), AE_REQ_FORWARD, &p), 0);
	ck_assert_int_lt(policy(FWD("127.0.0.1:25"), AE_REQ_FORWARD, &p), 0);
	ck_assert_err_has(why, "host port 25 is not allowed on this host "
			  "([agent] forward_ports = 1024-65535)");
	ck_assert_int_lt(policy(FWD("127.0.0.1:1023"), AE_REQ_FORWARD, &p), 0);
	/* remove and list open nothing. */
	ck_assert_int_eq(policy("{\"command\": \"forward\", \"options\": {"
				"\"name\": \"v\", \"action\": \"remove\", "
				"\"proto\": \"tcp\", \"host\": \"0.0.0.0:25\"}}",
				AE_REQ_FORWARD, &p), 0);
	/* A wider policy, as an operator may set it. */
	ck_assert_int_eq(ae_fwd_policy_parse(&wide, "0.0.0.0, 192.0.2.1",
					     "25 80 8000-8100", why, sizeof why),
			 0);
	p.fwd = &wide;
	ck_assert_int_eq(policy(FWD(":25"), AE_REQ_FORWARD, &p), 0);
	ck_assert_int_eq(policy(FWD("192.0.2.1:8100"), AE_REQ_FORWARD, &p), 0);
	ck_assert_int_lt(policy(FWD("192.0.2.1:8101"), AE_REQ_FORWARD, &p), 0);
	ck_assert_int_lt(policy(FWD("127.0.0.1:80"), AE_REQ_FORWARD, &p), 0);
}
END_TEST

START_TEST(forward_policy_parse)
{
	struct ae_fwd_policy f;
	unsigned char a6[16];

	ck_assert_int_lt(ae_fwd_policy_parse(&f, "localhost", "1024-65535", why,
					     sizeof why), 0);
	ck_assert_err_has(why, "forward_addresses: 'localhost' is not an IPv4 "
			  "or IPv6 address");
	ck_assert_int_lt(ae_fwd_policy_parse(&f, "::1", "0-10", why, sizeof why),
			 0);
	ck_assert_err_has(why, "forward_ports: '0-10' is not a port");
	ck_assert_int_lt(ae_fwd_policy_parse(&f, "::1", "9-8", why, sizeof why),
			 0);
	ck_assert_int_lt(ae_fwd_policy_parse(&f, "::1", "70000", why, sizeof why),
			 0);
	ck_assert_int_lt(ae_fwd_policy_parse(&f, "::1", "1-2-3", why, sizeof why),
			 0);
	ck_assert_int_eq(ae_fwd_policy_parse(&f, "", "", why, sizeof why), 0);
	ck_assert_int_eq(f.n_addr, 0); /* nothing allowed */
	ck_assert_int_eq(ae_fwd_policy_parse(&f, "::1", "22", why, sizeof why), 0);
	inet_pton(AF_INET6, "::1", a6);
	ck_assert(ae_fwd_policy_allows_addr(&f, AF_INET6, a6));
	ck_assert(ae_fwd_policy_allows_port(&f, 22));
	ck_assert(!ae_fwd_policy_allows_port(&f, 23));
}
END_TEST

START_TEST(stop_timeout_policy)
{
	struct ae_req_policy p = {300, NULL};

	ck_assert_int_eq(policy("{\"command\": \"stop-vm\", \"options\": {"
				"\"name\": \"v\", \"timeout\": 300}}",
				AE_REQ_STOP, &p), 0);
	ck_assert_int_lt(policy("{\"command\": \"stop-vm\", \"options\": {"
				"\"name\": \"v\", \"timeout\": 3600}}",
				AE_REQ_STOP, &p), 0);
	ck_assert_err_has(why, "stop-vm: timeout 3600 s is over this host's "
			  "limit of 300 s ([agent] max_stop_timeout); refused");
	p.max_stop_timeout = 0;
	ck_assert_int_eq(policy("{\"command\": \"stop-vm\", \"options\": {"
				"\"name\": \"v\", \"timeout\": 3600}}",
				AE_REQ_STOP, &p), 0);
}
END_TEST

START_TEST(digests)
{
	json_t *a = parse_ok("{\"command\": \"stop-vm\", \"options\": {"
			     "\"name\": \"v\", \"force\": true}}", AE_REQ_STOP);
	json_t *b = parse_ok("{\"options\": {\"force\": true, \"name\": "
			     "\"v\"}, \"command\": \"stop-vm\"}", AE_REQ_STOP);
	json_t *c = parse_ok("{\"command\": \"stop-vm\", \"options\": {"
			     "\"name\": \"v2\", \"force\": true}}", AE_REQ_STOP);
	char da[65], db[65], dc[65], dd[65];
	unsigned char h[32];

	ae_req_digest(AE_REQ_STOP, a, da);
	ae_req_digest(AE_REQ_STOP, b, db);
	ae_req_digest(AE_REQ_STOP, c, dc);
	ae_req_digest(AE_REQ_DELETE, a, dd);
	ck_assert_str_eq(da, db); /* key order does not matter */
	ck_assert_str_ne(da, dc); /* another VM */
	ck_assert_str_ne(da, dd); /* another command */
	ck_assert_uint_eq(strlen(da), 64);
	/* FIPS 180-4 test vectors. */
	ae_req_sha256("abc", 3, h);
	ck_assert_int_eq(h[0], 0xba);
	ck_assert_int_eq(h[31], 0xad);
	ae_req_sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
		      56, h);
	ck_assert_int_eq(h[0], 0x24);
	ck_assert_int_eq(h[31], 0xc1);
	json_decref(a);
	json_decref(b);
	json_decref(c);
}
END_TEST

START_TEST(headers)
{
	long h;

	ck_assert_int_eq(ae_req_parse_hops("3", &h), 0);
	ck_assert_int_eq(h, 3);
	ck_assert_int_lt(ae_req_parse_hops("9223372036854775807", &h), 0);
	ck_assert_int_eq(h, 0);
	ck_assert_int_lt(ae_req_parse_hops("-1", &h), 0);
	ck_assert_int_lt(ae_req_parse_hops("1x", &h), 0);
	ck_assert_int_lt(ae_req_parse_hops("", &h), 0);
	ck_assert_int_lt(ae_req_parse_hops(NULL, &h), 0);
	ck_assert_int_eq(ae_req_list_count(""), 0);
	ck_assert_int_eq(ae_req_list_count("host-a"), 1);
	ck_assert_int_eq(ae_req_list_count("host-a,host-b"), 2);
	ck_assert_int_lt(ae_req_list_count("host-a,,host-b"), 0);
	ck_assert_int_lt(ae_req_list_count("host-a,"), 0);
	ck_assert_int_lt(ae_req_list_count("a/b"), 0);
	ck_assert(ae_req_list_has("host-a,host-b", "host-b"));
	ck_assert(!ae_req_list_has("host-a,host-bb", "host-b"));
}
END_TEST

START_TEST(output_newest)
{
	char *buf = NULL;
	size_t len = 0, i;

	/* 100 chunks of 10 bytes, keep 25: the newest 25. */
	for (i = 0; i < 100; i++) {
		char chunk[11];
		snprintf(chunk, sizeof chunk, "%09zu\n", i);
		ae_output_append(&buf, &len, chunk, 10, 25);
		ck_assert_uint_le(len, 50);
	}
	ae_output_trim(&buf, &len, 25);
	ck_assert_uint_eq(len, 25);
	ck_assert_str_eq(buf, "0097\n000000098\n000000099\n");
	free(buf);
	/* A cut inside a character drops its continuation bytes. */
	buf = NULL;
	len = 0;
	ae_output_append(&buf, &len, "a\xc3\xa9\xe2\x82\xac" "b", 7, 100);
	ae_output_trim(&buf, &len, 5); /* starts at "\xa9" */
	ck_assert_str_eq(buf, "\xe2\x82\xac" "b");
	ae_output_trim(&buf, &len, 3); /* starts at "\x82" */
	ck_assert_str_eq(buf, "b");
	free(buf);
	/* One chunk bigger than the limit. */
	buf = NULL;
	len = 0;
	ae_output_append(&buf, &len, "0123456789", 10, 4);
	ck_assert_str_eq(buf, "6789");
	free(buf);
}
END_TEST

START_TEST(request_ids)
{
	ck_assert(ae_journal_valid_id("6d2f0c1e-8a4b-4c55-9d1e-0f2a3b4c5d6e"));
	ck_assert(ae_journal_valid_id("client_7:req@host"));
	ck_assert(!ae_journal_valid_id("X.reply"));
	ck_assert(!ae_journal_valid_id(".agent.lock"));
	ck_assert(!ae_journal_valid_id("a/b"));
	ck_assert(!ae_journal_valid_id(""));
	ck_assert(!ae_journal_valid_id(NULL));
	{
		char id[130];
		memset(id, 'a', 129);
		id[129] = '\0';
		ck_assert(!ae_journal_valid_id(id));
		id[128] = '\0';
		ck_assert(ae_journal_valid_id(id));
	}
}
END_TEST

static int agent_conf(const char *text, struct ae_agent_conf *c)
{
	struct ae_ini *ini = NULL;
	int rc;

	ck_assert_int_eq(ae_ini_parse_file(ck_write("h.conf", text), &ini, why,
					   sizeof why), 0);
	why[0] = '\0';
	rc = ae_agent_conf_load(c, ini, "/var/lib/aether", NULL, why,
				sizeof why);
	ae_ini_free(ini);
	return rc;
}

START_TEST(conf_defaults)
{
	struct ae_agent_conf c;
	long mem, cpus;

	ae_host_capacity(&mem, &cpus);
	ck_assert_int_gt(mem, 0);
	ck_assert_int_gt(cpus, 0);
	ck_assert_int_eq(agent_conf("[agent]\nhost = n1\n", &c), 0);
	ck_assert_int_eq(c.max_memory, mem);
	ck_assert_int_eq(c.max_cpus, cpus);
	ck_assert_int_ge(c.max_vms, 1);
	ck_assert_int_le(c.max_vms, 4096);
	ck_assert_int_eq(c.max_stop_timeout, 300);
	ck_assert_int_eq(c.fwd.n_addr, 2);
	ck_assert_int_eq(c.fwd.n_ports, 1);
	ae_agent_conf_free(&c);
	/* 0 stays: no limit, asked for in so many words. */
	ck_assert_int_eq(agent_conf("[agent]\nhost = n1\nmax_vms = 0\n"
				    "max_memory = 0\nmax_cpus = 0\n"
				    "max_stop_timeout = 0\n", &c), 0);
	ck_assert_int_eq(c.max_vms + c.max_memory + c.max_cpus +
				 c.max_stop_timeout, 0);
	ae_agent_conf_free(&c);
}
END_TEST

START_TEST(conf_errors)
{
	struct ae_agent_conf c;

	ck_assert_int_lt(agent_conf("[agent]\nhost = n1\nforward_ports = 0-80\n",
				    &c), 0);
	ck_assert_err_has(why, "h.conf:3: [agent] forward_ports: '0-80' is not");
	ae_agent_conf_free(&c);
	ck_assert_int_lt(agent_conf("[agent]\nhost = n1\n"
				    "forward_addresses = 127.0.0.1 anywhere\n",
				    &c), 0);
	ck_assert_err_has(why, "h.conf:3: [agent] forward_addresses: 'anywhere'");
	ae_agent_conf_free(&c);
	ck_assert_int_lt(agent_conf("[agent]\nhost = n1\n"
				    "max_stop_timeout = 100000\n", &c), 0);
	ck_assert_err_has(why, "h.conf:3: [agent] max_stop_timeout: '100000' "
			  "is not 0..86400");
	ae_agent_conf_free(&c);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("agent");
	TCase *t = tcase_create("argv");

	tcase_add_test(t, create_full_argv);
	tcase_add_test(t, create_long_append);
	tcase_add_test(t, create_steps);
	tcase_add_test(t, every_command_argv);
	tcase_add_test(t, no_hostconf);
	tcase_add_test(t, network_argv);
	suite_add_tcase(s, t);
	t = tcase_create("validation");
	tcase_add_test(t, bad_requests);
	tcase_add_test(t, bad_body_bytes);
	tcase_add_test(t, network_bad);
	tcase_add_test(t, request_ids);
	suite_add_tcase(s, t);
	t = tcase_create("policy");
	tcase_add_test(t, forward_policy);
	tcase_add_test(t, forward_policy_parse);
	tcase_add_test(t, stop_timeout_policy);
	suite_add_tcase(s, t);
	t = tcase_create("dedupe-headers-output");
	tcase_add_test(t, digests);
	tcase_add_test(t, headers);
	tcase_add_test(t, output_newest);
	suite_add_tcase(s, t);
	t = tcase_create("conf");
	tcase_add_checked_fixture(t, ck_tmp_setup, ck_tmp_teardown);
	tcase_add_test(t, conf_defaults);
	tcase_add_test(t, conf_errors);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	return ck_run_suite(suite());
}
