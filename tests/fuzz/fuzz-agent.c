/* fuzz-agent.c - libFuzzer target for what the host agent does with a
 * message before any child runs (agent/agent-req.c).
 *
 * An input is up to four parts separated by NUL bytes:
 *   BODY \0 HOPS \0 DECLINED \0 OUTPUT
 * BODY goes through ae_req_parse (the message body as the broker
 * delivers it); when it is a valid request, through the digest, the host
 * policy (the default [agent] forward policy and stop-timeout bound) and
 * the argv of every step of its job, failed or not, with or without a
 * made VM.  HOPS and DECLINED are the values of the x-aether-hops and
 * x-aether-declined headers.  OUTPUT is a child's output, appended in
 * pieces to a small buffer that keeps the newest bytes, then made the
 * UTF-8 a reply carries.
 *
 * Besides crashes, sanitizer reports and leaks, the target aborts when a
 * result breaks an invariant: a refusal without a reason, a reason or an
 * output that cannot go into a JSON reply, an argv that is not a
 * NULL-terminated array of strings or runs a step after the last, a VM
 * name or image path that escaped validation, a header value out of its
 * range.
 *
 * fuzz_agent_results() reports what the last input did, for the
 * standalone driver's corpus checks (standalone.c).
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent-req.h"
#include "agentconf.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
void fuzz_agent_results(int *parse_rc, int *policy_rc);

static int last_parse, last_policy;

/* A reply as the agent makes it: a JSON object with this string in it. */
static void must_fit_json(const char *s, size_t len)
{
	char *clean = ae_utf8_clean(s, len);
	json_t *r = json_object();
	char *text;

	if (ae_utf8_valid_prefix(clean, strlen(clean)) != strlen(clean))
		abort();
	if (json_object_set_new(r, "reason", json_string(clean)) < 0)
		abort();
	text = json_dumps(r, JSON_COMPACT);
	if (!text)
		abort();
	free(text);
	json_decref(r);
	free(clean);
}

static void check_argv(const struct ae_argv *v, int n, const char *name)
{
	size_t i;

	if (n < 0 || (size_t)n != v->n || !v->v || v->v[v->n] ||
	    strcmp(v->v[0], "aether"))
		abort();
	for (i = 0; i < v->n; i++) {
		if (!v->v[i])
			abort();
		/* The VM name is a positional argument: never an option. */
		if (!strcmp(v->v[i], name) && name[0] == '-')
			abort();
		/* Files from image_dir stay in image_dir. */
		if (i && (!strcmp(v->v[i - 1], "--image") ||
			  !strcmp(v->v[i - 1], "--kernel") ||
			  !strcmp(v->v[i - 1], "--initrd")) &&
		    (strncmp(v->v[i], "/img/", 5) ||
		     strchr(v->v[i] + 5, '/') || v->v[i][5] == '.'))
			abort();
	}
}

static void exercise(int cmd, json_t *opts)
{
	static struct ae_fwd_policy fwd;
	static int fwd_ready;
	struct ae_req_policy pol = {300, &fwd};
	struct ae_argv v = {0};
	const char *name = json_string_value(json_object_get(opts, "name"));
	char digest[65], why[512];
	int f, step, n, k;

	if (!fwd_ready) {
		if (ae_fwd_policy_parse(&fwd, AE_FWD_ADDRESSES_DEFAULT,
					AE_FWD_PORTS_DEFAULT, why,
					sizeof why) < 0)
			abort();
		fwd_ready = 1;
	}
	if (!name)
		name = "vm-0123456789ab";
	if (!ae_valid_vm_name(name))
		abort();
	ae_req_digest(cmd, opts, digest);
	if (strlen(digest) != 64 || strspn(digest, "0123456789abcdef") != 64)
		abort();
	why[0] = '\0';
	last_policy = ae_req_policy_check(cmd, opts, &pol, why, sizeof why);
	if (last_policy < 0) {
		if (!why[0])
			abort();
		must_fit_json(why, strlen(why));
	}
	for (f = 0; f < 4; f++) {
		struct ae_req_ctx c = {
			.cmd = cmd, .name = name, .opts = opts,
			.failed = f & 1, .made = f >> 1,
			.script = f ? "/s/.script" : NULL,
			.hostconf = f & 1 ? NULL : "/h.conf",
			.image_dir = "/img"};
		/* Run the steps as the agent does: each returns the next. */
		for (step = 0, k = 0; k < 12; k++, step++) {
			n = ae_req_next_argv(&c, &step, &v);
			if (!n)
				break;
			check_argv(&v, n, name);
			if (step > AE_REQ_STEP_ROLLBACK)
				abort();
		}
		if (k == 12)
			abort(); /* a job that never ends */
		ae_argv_free(&v);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p[4] = {"", NULL, NULL, ""};
	size_t len[4] = {0, 0, 0, 0}, i, start = 0;
	char *copy = malloc(size + 1);
	json_t *opts = NULL;
	char why[512];
	int part = 0, cmd;
	long hops;

	if (!copy)
		abort();
	if (size)
		memcpy(copy, data, size);
	copy[size] = '\0';
	p[0] = copy;
	for (i = 0; i <= size && part < 4; i++) {
		if (i == size || (copy[i] == '\0' && part < 3)) {
			p[part] = copy + start;
			len[part] = i - start;
			part++;
			start = i + 1;
		}
	}
	last_policy = 1;
	why[0] = '\0';
	last_parse = ae_req_parse(p[0], len[0], &cmd, &opts, why, sizeof why);
	if (last_parse < 0) {
		if (!why[0] || opts || cmd >= AE_REQ_N)
			abort();
		must_fit_json(why, strlen(why));
	} else {
		if (cmd < 0 || cmd >= AE_REQ_N || !json_is_object(opts))
			abort();
		exercise(cmd, opts);
		json_decref(opts);
	}
	if (p[1]) {
		if (ae_req_parse_hops(p[1], &hops) == 0 &&
		    (hops < 0 || hops > AE_REQ_MAX_HOPS))
			abort();
	}
	if (p[2]) {
		int n = ae_req_list_count(p[2]);
		if (n > 1000)
			abort();
		if (n > 0 && !ae_req_list_has(p[2], p[2]) &&
		    !strchr(p[2], ','))
			abort(); /* a one-name list has that name */
	}
	if (len[3]) {
		char *buf = NULL;
		size_t blen = 0, off = 0, max = 1 + len[3] % 97, piece;
		while (off < len[3]) {
			piece = 1 + (unsigned char)p[3][off] % 31;
			if (piece > len[3] - off)
				piece = len[3] - off;
			ae_output_append(&buf, &blen, p[3] + off, piece, max);
			if (blen > 2 * max || buf[blen] != '\0')
				abort();
			off += piece;
		}
		ae_output_trim(&buf, &blen, max);
		if (blen > max)
			abort();
		/* The newest bytes: a suffix of what was written. */
		if (blen && memcmp(buf, p[3] + len[3] - blen, blen))
			abort();
		must_fit_json(buf, blen);
		free(buf);
	}
	free(copy);
	return 0;
}

void fuzz_agent_results(int *parse_rc, int *policy_rc)
{
	*parse_rc = last_parse;
	*policy_rc = last_policy;
}

/* For the replay driver (standalone.c): what the input named base should
 * have done. */
int fuzz_expected(const char *base, const char **what);
int fuzz_expected(const char *base, const char **what)
{
	int parse_rc, policy_rc;

	fuzz_agent_results(&parse_rc, &policy_rc);
	if (!strncmp(base, "ok-", 3))
		return *what = "a valid, allowed request",
		       parse_rc == 0 && policy_rc == 0;
	if (!strncmp(base, "refused-", 8))
		return *what = "a valid request refused by the policy",
		       parse_rc == 0 && policy_rc < 0;
	if (!strncmp(base, "bad-", 4))
		return *what = "an invalid request", parse_rc < 0;
	return -1;
}
