/* agent-req.c - requests of the host agent without the broker (see
 * agent-req.h). */
#include "config.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent-req.h"
#include "agentconf.h"
#include "lifecycle.h"
#include "options.h"
#include "util.h"

const char *const ae_req_cmd_names[AE_REQ_N] = {
	"create-vm", "start-vm", "stop-vm", "delete-vm", "status-vm",
	"list-vms", "forward", "console-vm", "network",
};

/* ------------------------------------------------------------------ */
/* options                                                            */

enum otype { O_STR, O_INT, O_BOOL, O_STRS };
struct ospec {
	const char *key;
	enum otype type;
	int required;
	long min, max;
};

static const struct ospec o_create[] = {
	{"name", O_STR, 0, 0, 0},     {"image", O_STR, 1, 0, 0},
	{"backend", O_STR, 0, 0, 0},  {"memory", O_INT, 0, 16, 1 << 20},
	{"cpus", O_INT, 0, 1, 255},   {"mac", O_STR, 0, 0, 0},
	{"init_script", O_STR, 0, 0, 0}, {"start", O_BOOL, 0, 0, 0},
	{"kernel", O_STR, 0, 0, 0},   {"initrd", O_STR, 0, 0, 0},
	{"append", O_STR, 0, 0, 0},   {NULL, 0, 0, 0, 0}};
static const struct ospec o_name[] = {{"name", O_STR, 1, 0, 0},
				      {NULL, 0, 0, 0, 0}};
static const struct ospec o_stop[] = {
	{"name", O_STR, 1, 0, 0}, {"timeout", O_INT, 0, 0, 86400},
	{"force", O_BOOL, 0, 0, 0}, {NULL, 0, 0, 0, 0}};
static const struct ospec o_delete[] = {
	{"name", O_STR, 1, 0, 0}, {"force", O_BOOL, 0, 0, 0},
	{NULL, 0, 0, 0, 0}};
static const struct ospec o_none[] = {{NULL, 0, 0, 0, 0}};
static const struct ospec o_forward[] = {
	{"name", O_STR, 1, 0, 0},  {"action", O_STR, 1, 0, 0},
	{"proto", O_STR, 0, 0, 0}, {"host", O_STR, 0, 0, 0},
	{"guest", O_INT, 0, 1, 65535}, {NULL, 0, 0, 0, 0}};
/* network: switch (backend, set ["KEY=VALUE", ...], persist) or show. */
static const struct ospec o_network[] = {
	{"name", O_STR, 1, 0, 0},     {"action", O_STR, 1, 0, 0},
	{"backend", O_STR, 0, 0, 0},  {"set", O_STRS, 0, 0, 0},
	{"persist", O_BOOL, 0, 0, 0}, {NULL, 0, 0, 0, 0}};
static const struct ospec *const specs[AE_REQ_N] = {
	o_create, o_name, o_stop, o_delete, o_name, o_none, o_forward, o_name,
	o_network};

static const char *type_name(enum otype t)
{
	return t == O_STR ? "a string" : t == O_INT ? "an integer"
	       : t == O_BOOL ? "a boolean" : "an array of strings";
}

static const char *ostr(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static int valid_mac(const char *s)
{
	int i;

	if (strlen(s) != 17)
		return 0;
	for (i = 0; i < 17; i++) {
		char c = s[i];
		if (i % 3 == 2 ? c != ':'
			       : !((c >= '0' && c <= '9') ||
				   (c >= 'a' && c <= 'f') ||
				   (c >= 'A' && c <= 'F')))
			return 0;
	}
	return 1;
}

int ae_req_parse_hostport(const char *s, unsigned char addr[4], long *port)
{
	const char *colon = s ? strrchr(s, ':') : NULL;
	char tmp[64];
	int64_t v;

	if (!colon || (size_t)(colon - s) >= sizeof tmp)
		return -1;
	memcpy(tmp, s, (size_t)(colon - s));
	tmp[colon - s] = '\0';
	if (!tmp[0])
		memset(addr, 0, 4);
	else if (inet_pton(AF_INET, tmp, addr) != 1)
		return -1;
	if (ae_parse_int(colon + 1, &v) < 0 || v < 1 || v > 65535)
		return -1;
	*port = (long)v;
	return 0;
}

/* One "KEY=VALUE" of network switch's set: what `aether network switch
 * --set` takes.  0, or -1 with why. */
static int check_set_item(json_t *x, size_t i, char *why, size_t len)
{
	const char *s = json_string_value(x), *eq;
	const unsigned char *p;
	char key[65];

	if (!s) {
		snprintf(why, len, "network switch: set[%zu] must be a string "
			 "KEY=VALUE", i);
		return -1;
	}
	if (strlen(s) != json_string_length(x)) {
		snprintf(why, len, "network switch: set[%zu] contains a NUL", i);
		return -1;
	}
	eq = strchr(s, '=');
	if (!eq || eq == s || (size_t)(eq - s) >= sizeof key) {
		snprintf(why, len, "network switch: set[%zu] '%.64s' is not "
			 "KEY=VALUE", i, s);
		return -1;
	}
	memcpy(key, s, (size_t)(eq - s));
	key[eq - s] = '\0';
	if (!ae_network_valid_key(key)) {
		snprintf(why, len, "network switch: set[%zu]: '%.64s' is not an "
			 "option name ([a-z0-9_], up to 64)", i, key);
		return -1;
	}
	if (strlen(eq + 1) > AE_NETWORK_MAX_VALUE) {
		snprintf(why, len, "network switch: set[%zu]: the value of %s is "
			 "over %d bytes", i, key, AE_NETWORK_MAX_VALUE);
		return -1;
	}
	for (p = (const unsigned char *)eq + 1; *p; p++)
		if ((*p < 0x20 && *p != '\t') || *p == 0x7f) {
			snprintf(why, len, "network switch: set[%zu]: the value "
				 "of %s contains a control character (0x%02x)",
				 i, key, *p);
			return -1;
		}
	return 0;
}

static int check_network(json_t *o, char *why, size_t len)
{
	const char *act = ostr(o, "action"), *b = ostr(o, "backend");
	json_t *set = json_object_get(o, "set"), *x;
	size_t i;

	if (!strcmp(act, "show")) {
		if (b || set || json_object_get(o, "persist")) {
			snprintf(why, len, "network show: takes only name");
			return -1;
		}
		return 0;
	}
	if (strcmp(act, "switch")) {
		snprintf(why, len, "network: action must be switch or show");
		return -1;
	}
	if (!b) {
		snprintf(why, len, "network switch: needs backend");
		return -1;
	}
	if (!ae_valid_backend_name(b) ||
	    strlen(b) != json_string_length(json_object_get(o, "backend"))) {
		snprintf(why, len, "network switch: backend '%.32s' is not a "
			 "backend name ([a-z0-9_], up to 31)", b);
		return -1;
	}
	if (json_array_size(set) > AE_NETWORK_MAX_SET) {
		snprintf(why, len, "network switch: set has %zu items, over "
			 "%d", json_array_size(set), AE_NETWORK_MAX_SET);
		return -1;
	}
	json_array_foreach(set, i, x)
		if (check_set_item(x, i, why, len) < 0)
			return -1;
	return 0;
}

int ae_req_check_options(int c, json_t *o, char *why, size_t len)
{
	const struct ospec *s;
	const char *k, *name = ae_req_cmd_names[c];
	json_t *v;

	if (!json_is_object(o)) {
		snprintf(why, len, "%s: options must be an object", name);
		return -1;
	}
	json_object_foreach(o, k, v) {
		for (s = specs[c]; s->key && strcmp(s->key, k); s++)
			;
		if (!s->key) {
			snprintf(why, len, "%s: unknown option '%.64s'", name, k);
			return -1;
		}
	}
	for (s = specs[c]; s->key; s++) {
		v = json_object_get(o, s->key);
		if (!v) {
			if (s->required) {
				snprintf(why, len, "%s: option '%s' is missing",
					 name, s->key);
				return -1;
			}
			continue;
		}
		if ((s->type == O_STR && !json_is_string(v)) ||
		    (s->type == O_INT && !json_is_integer(v)) ||
		    (s->type == O_BOOL && !json_is_boolean(v)) ||
		    (s->type == O_STRS && !json_is_array(v))) {
			snprintf(why, len, "%s: option '%s' must be %s", name,
				 s->key, type_name(s->type));
			return -1;
		}
		if (s->type == O_INT && (json_integer_value(v) < s->min ||
					 json_integer_value(v) > s->max)) {
			snprintf(why, len, "%s: option '%s' must be %ld..%ld",
				 name, s->key, s->min, s->max);
			return -1;
		}
		if (s->type == O_STR && strlen(json_string_value(v)) !=
					       json_string_length(v)) {
			snprintf(why, len, "%s: option '%s' contains a NUL",
				 name, s->key);
			return -1;
		}
	}
	if (c == AE_REQ_NETWORK && check_network(o, why, len) < 0)
		return -1;
	v = json_object_get(o, "name");
	if (v && !ae_valid_vm_name(json_string_value(v))) {
		snprintf(why, len, "%s: name '%.64s' is not a valid VM name "
			 "([A-Za-z0-9][A-Za-z0-9_.-], up to 64)", name,
			 json_string_value(v));
		return -1;
	}
	if (c == AE_REQ_CREATE) {
		const char *img = ostr(o, "image"), *f;
		int i;
		if (!ae_valid_vm_name(img)) {
			snprintf(why, len, "create-vm: image '%.64s' must be the "
				 "name of a file in the host's image directory "
				 "(no '/', no leading '.')", img);
			return -1;
		}
		for (i = 0; i < 2; i++) {
			f = ostr(o, i ? "initrd" : "kernel");
			if (f && !ae_valid_vm_name(f)) {
				snprintf(why, len, "create-vm: %s '%.64s' must be "
					 "the name of a file in the host's image "
					 "directory", i ? "initrd" : "kernel", f);
				return -1;
			}
		}
		if (json_object_get(o, "initrd") && !json_object_get(o, "kernel")) {
			snprintf(why, len, "create-vm: initrd needs kernel");
			return -1;
		}
		if (json_object_get(o, "append") && !json_object_get(o, "kernel")) {
			snprintf(why, len, "create-vm: append needs kernel");
			return -1;
		}
		if ((v = json_object_get(o, "append")) &&
		    json_string_length(v) > 4096) {
			snprintf(why, len, "create-vm: append is over 4096 bytes");
			return -1;
		}
		v = json_object_get(o, "init_script");
		if (v && json_string_length(v) > 65536) {
			snprintf(why, len, "create-vm: init_script is over "
				 "64 KiB");
			return -1;
		}
		f = ostr(o, "backend");
		if (f && !ae_valid_backend_name(f)) {
			snprintf(why, len, "create-vm: backend '%.32s' is not a "
				 "backend name ([a-z0-9_], up to 31)", f);
			return -1;
		}
		f = ostr(o, "mac");
		if (f && !valid_mac(f)) {
			snprintf(why, len, "create-vm: mac '%.32s' is not a MAC "
				 "address (xx:xx:xx:xx:xx:xx)", f);
			return -1;
		}
	}
	if (c == AE_REQ_FORWARD) {
		const char *act = ostr(o, "action"), *pr = ostr(o, "proto");
		const char *host = ostr(o, "host");
		unsigned char a[4];
		long port;
		if (strcmp(act, "add") && strcmp(act, "remove") &&
		    strcmp(act, "list")) {
			snprintf(why, len, "forward: action must be add, remove "
				 "or list");
			return -1;
		}
		if (!strcmp(act, "list")) {
			if (pr || host || json_object_get(o, "guest")) {
				snprintf(why, len, "forward list: takes only name");
				return -1;
			}
			return 0;
		}
		if (!pr || !host || (strcmp(pr, "tcp") && strcmp(pr, "udp"))) {
			snprintf(why, len, "forward %s: needs proto (tcp or "
				 "udp) and host ([ADDR]:PORT)", act);
			return -1;
		}
		if (ae_req_parse_hostport(host, a, &port) < 0) {
			snprintf(why, len, "forward %s: host '%.64s' is not "
				 "[IPV4ADDR]:PORT (port 1..65535)", act, host);
			return -1;
		}
		if (!strcmp(act, "add") && !json_object_get(o, "guest")) {
			snprintf(why, len, "forward add: needs guest (port)");
			return -1;
		}
	}
	return 0;
}

int ae_req_parse(const char *body, size_t len, int *cmd, json_t **opts,
		 char *why, size_t whylen)
{
	json_error_t je;
	json_t *root, *cmdv, *o;
	int c;

	*cmd = -1;
	*opts = NULL;
	root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
	if (!root) {
		snprintf(why, whylen, "bad JSON at line %d column %d: %s",
			 je.line, je.column, je.text);
		return -1;
	}
	cmdv = json_object_get(root, "command");
	o = json_object_get(root, "options");
	if (!json_is_object(root) || !json_is_string(cmdv)) {
		snprintf(why, whylen, "a request is {\"command\": STRING, "
			 "\"options\": {...}}");
		goto bad;
	}
	for (c = 0; c < AE_REQ_N && strcmp(ae_req_cmd_names[c],
					   json_string_value(cmdv)); c++)
		;
	if (c == AE_REQ_N) {
		snprintf(why, whylen, "unknown command '%.64s' (create-vm, "
			 "start-vm, stop-vm, delete-vm, status-vm, list-vms, "
			 "forward, console-vm, network)", json_string_value(cmdv));
		goto bad;
	}
	*cmd = c;
	if (json_object_size(root) > (o ? 2u : 1u)) {
		const char *k;
		json_t *v;
		json_object_foreach(root, k, v)
			if (strcmp(k, "command") && strcmp(k, "options"))
				break;
		snprintf(why, whylen, "%s: unknown member '%.64s' (a request "
			 "is {\"command\": STRING, \"options\": {...}})",
			 ae_req_cmd_names[c], k);
		goto bad;
	}
	if (o && !json_is_object(o)) {
		snprintf(why, whylen, "%s: options must be an object",
			 ae_req_cmd_names[c]);
		goto bad;
	}
	o = o ? json_deep_copy(o) : json_object();
	if (ae_req_check_options(c, o, why, whylen) < 0) {
		json_decref(o);
		goto bad;
	}
	*opts = o;
	json_decref(root);
	return 0;
bad:
	json_decref(root);
	return -1;
}

/* ------------------------------------------------------------------ */
/* policy                                                             */

int ae_req_policy_check(int c, json_t *o, const struct ae_req_policy *p,
			char *why, size_t len)
{
	json_t *v;

	if (c == AE_REQ_STOP && p->max_stop_timeout > 0 &&
	    (v = json_object_get(o, "timeout")) &&
	    json_integer_value(v) > p->max_stop_timeout) {
		snprintf(why, len, "stop-vm: timeout %lld s is over this host's "
			 "limit of %ld s ([agent] max_stop_timeout); refused",
			 (long long)json_integer_value(v), p->max_stop_timeout);
		return -1;
	}
	if (c == AE_REQ_FORWARD && p->fwd && !strcmp(ostr(o, "action"), "add")) {
		unsigned char a[4];
		char as[INET_ADDRSTRLEN];
		long port;
		if (ae_req_parse_hostport(ostr(o, "host"), a, &port) < 0) {
			snprintf(why, len, "forward add: bad host");
			return -1;
		}
		inet_ntop(AF_INET, a, as, sizeof as);
		if (!ae_fwd_policy_allows_addr(p->fwd, AF_INET, a)) {
			snprintf(why, len, "forward add: host address %s%s is not "
				 "allowed on this host ([agent] forward_addresses "
				 "= %s)", as, *ostr(o, "host") == ':'
				 ? " (no address: every address)" : "",
				 p->fwd->addresses_text);
			return -1;
		}
		if (!ae_fwd_policy_allows_port(p->fwd, port)) {
			snprintf(why, len, "forward add: host port %ld is not "
				 "allowed on this host ([agent] forward_ports = "
				 "%s)", port, p->fwd->ports_text);
			return -1;
		}
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* digest (SHA-256, FIPS 180-4)                                       */

static const uint32_t K[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1,
	0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
	0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
	0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
	0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
	0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
	0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
	0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
	0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void sha_block(uint32_t h[8], const unsigned char *p)
{
	uint32_t w[64], a, b, c, d, e, f, g, hh, t1, t2;
	int i;

	for (i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
		       (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
	for (i = 16; i < 64; i++)
		w[i] = w[i - 16] +
		       (ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3)) +
		       w[i - 7] +
		       (ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10));
	a = h[0]; b = h[1]; c = h[2]; d = h[3];
	e = h[4]; f = h[5]; g = h[6]; hh = h[7];
	for (i = 0; i < 64; i++) {
		t1 = hh + (ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25)) +
		     ((e & f) ^ (~e & g)) + K[i] + w[i];
		t2 = (ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22)) +
		     ((a & b) ^ (a & c) ^ (b & c));
		hh = g; g = f; f = e; e = d + t1;
		d = c; c = b; b = a; a = t1 + t2;
	}
	h[0] += a; h[1] += b; h[2] += c; h[3] += d;
	h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
}

void ae_req_sha256(const void *data, size_t len, unsigned char out[32])
{
	uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
			 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
	const unsigned char *p = data;
	unsigned char last[128];
	uint64_t bits = (uint64_t)len * 8;
	size_t rest, n, i;

	for (; len >= 64; p += 64, len -= 64)
		sha_block(h, p);
	rest = len;
	memset(last, 0, sizeof last);
	if (rest)
		memcpy(last, p, rest);
	last[rest] = 0x80;
	n = rest + 1 + 8 <= 64 ? 64 : 128;
	for (i = 0; i < 8; i++)
		last[n - 1 - i] = (unsigned char)(bits >> (8 * i));
	sha_block(h, last);
	if (n == 128)
		sha_block(h, last + 64);
	for (i = 0; i < 8; i++) {
		out[4 * i] = (unsigned char)(h[i] >> 24);
		out[4 * i + 1] = (unsigned char)(h[i] >> 16);
		out[4 * i + 2] = (unsigned char)(h[i] >> 8);
		out[4 * i + 3] = (unsigned char)h[i];
	}
}

void ae_req_digest(int cmd, json_t *opts, char out[65])
{
	char *o = json_dumps(opts, JSON_COMPACT | JSON_SORT_KEYS |
					   JSON_ENCODE_ANY);
	char *text = ae_xasprintf("%s\n%s", cmd >= 0 && cmd < AE_REQ_N
						    ? ae_req_cmd_names[cmd] : "?",
				  o ? o : "null");
	unsigned char d[32];
	int i;

	ae_req_sha256(text, strlen(text), d);
	for (i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
	free(text);
	free(o);
}

/* ------------------------------------------------------------------ */
/* the agent's own headers                                            */

int ae_req_parse_hops(const char *s, long *out)
{
	int64_t v;

	*out = 0;
	if (!s || ae_parse_int(s, &v) < 0 || v < 0 || v > AE_REQ_MAX_HOPS)
		return -1;
	*out = (long)v;
	return 0;
}

int ae_req_list_count(const char *list)
{
	const char *p = list, *end;
	char item[64];
	int n = 0;

	if (!list)
		return 0;
	if (!*list)
		return 0;
	for (;;) {
		end = strchr(p, ',');
		if (!end)
			end = p + strlen(p);
		if ((size_t)(end - p) >= sizeof item || ++n > 1000)
			return -1;
		memcpy(item, p, (size_t)(end - p));
		item[end - p] = '\0';
		if (!ae_amqp_valid_host(item))
			return -1;
		if (!*end)
			return n;
		p = end + 1;
	}
}

int ae_req_list_has(const char *list, const char *item)
{
	size_t n = strlen(item);
	const char *p = list;

	while (p && *p) {
		if (!strncmp(p, item, n) && (p[n] == ',' || !p[n]))
			return 1;
		p = strchr(p, ',');
		if (p)
			p++;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* argv of each step                                                  */

static void push_status(struct ae_argv *v, const char *name)
{
	ae_argv_add(v, "status");
	ae_argv_add(v, name);
	ae_argv_add(v, "--json");
}

static int opt_bool(json_t *o, const char *k, int def)
{
	json_t *v = json_object_get(o, k);

	return v ? json_is_true(v) : def;
}

/* The create command: `aether create NAME --image ...` with the options
 * given (image, kernel and initrd under the image directory). */
static void create_argv(const struct ae_req_ctx *c, struct ae_argv *v)
{
	json_t *o = c->opts, *x;
	const char *s;

	ae_argv_add(v, "create");
	ae_argv_add(v, c->name);
	ae_argv_add(v, "--image");
	ae_argv_addf(v, "%s/%s", c->image_dir, ostr(o, "image"));
	if ((s = ostr(o, "backend"))) {
		ae_argv_add(v, "--backend");
		ae_argv_add(v, s);
	}
	if ((s = ostr(o, "mac"))) {
		ae_argv_add(v, "--mac");
		ae_argv_add(v, s);
	}
	if ((x = json_object_get(o, "memory"))) {
		ae_argv_add(v, "--memory");
		ae_argv_addf(v, "%lld", (long long)json_integer_value(x));
	}
	if ((x = json_object_get(o, "cpus"))) {
		ae_argv_add(v, "--cpus");
		ae_argv_addf(v, "%lld", (long long)json_integer_value(x));
	}
	if (c->script) {
		ae_argv_add(v, "--init-script");
		ae_argv_add(v, c->script);
	}
	if ((s = ostr(o, "kernel"))) {
		ae_argv_add(v, "--kernel");
		ae_argv_addf(v, "%s/%s", c->image_dir, s);
	}
	if ((s = ostr(o, "initrd"))) {
		ae_argv_add(v, "--initrd");
		ae_argv_addf(v, "%s/%s", c->image_dir, s);
	}
	if ((s = ostr(o, "append"))) {
		ae_argv_add(v, "--append");
		ae_argv_add(v, s);
	}
}

/* Step AE_REQ_STEP_RUN: the aether command the request asks for.  0 for
 * an unknown command. */
static int run_argv(const struct ae_req_ctx *c, struct ae_argv *v)
{
	json_t *o = c->opts, *x;
	const char *s;

	switch (c->cmd) {
	case AE_REQ_CREATE:
		create_argv(c, v);
		return 1;
	case AE_REQ_START:
		ae_argv_add(v, "start");
		ae_argv_add(v, c->name);
		return 1;
	case AE_REQ_STOP:
		ae_argv_add(v, "stop");
		ae_argv_add(v, c->name);
		if ((x = json_object_get(o, "timeout"))) {
			ae_argv_add(v, "--timeout");
			ae_argv_addf(v, "%lld", (long long)json_integer_value(x));
		}
		if (opt_bool(o, "force", 0))
			ae_argv_add(v, "--force");
		return 1;
	case AE_REQ_DELETE:
		ae_argv_add(v, "delete");
		ae_argv_add(v, c->name);
		if (opt_bool(o, "force", 0))
			ae_argv_add(v, "--force");
		return 1;
	case AE_REQ_STATUS:
		push_status(v, c->name);
		return 1;
	case AE_REQ_LIST:
		ae_argv_add(v, "list");
		ae_argv_add(v, "--json");
		return 1;
	case AE_REQ_CONSOLE:
		ae_argv_add(v, "console");
		ae_argv_add(v, c->name);
		ae_argv_add(v, "--no-follow");
		return 1;
	case AE_REQ_FORWARD:
		s = ostr(o, "action");
		ae_argv_add(v, "forward");
		ae_argv_add(v, s);
		ae_argv_add(v, c->name);
		if (strcmp(s, "list")) {
			ae_argv_add(v, ostr(o, "proto"));
			ae_argv_add(v, ostr(o, "host"));
			if ((x = json_object_get(o, "guest")))
				ae_argv_addf(v, "%lld",
					     (long long)json_integer_value(x));
		}
		return 1;
	case AE_REQ_NETWORK:
		s = ostr(o, "action");
		ae_argv_add(v, "network");
		ae_argv_add(v, s);
		if (!strcmp(s, "show")) {
			ae_argv_add(v, c->name);
			return 1;
		}
		ae_argv_add(v, c->name);
		ae_argv_add(v, ostr(o, "backend"));
		{
			size_t i;
			json_array_foreach(json_object_get(o, "set"), i, x) {
				ae_argv_add(v, "--set");
				ae_argv_add(v, json_string_value(x));
			}
		}
		if (opt_bool(o, "persist", 0))
			ae_argv_add(v, "--persist");
		return 1;
	default:
		return 0;
	}
}

/* Step `step`, or the first one after it that this request has: only a
 * create starts its VM (unless start=false); only create, start and stop
 * end with the VM's status. */
static int next_step(const struct ae_req_ctx *c, int step)
{
	if (step == AE_REQ_STEP_START &&
	    !(c->cmd == AE_REQ_CREATE && opt_bool(c->opts, "start", 1)))
		step = AE_REQ_STEP_STATUS;
	if (step == AE_REQ_STEP_STATUS && c->cmd != AE_REQ_CREATE &&
	    c->cmd != AE_REQ_START && c->cmd != AE_REQ_STOP)
		step = AE_REQ_STEP_DONE;
	return step;
}

int ae_req_next_argv(const struct ae_req_ctx *c, int *step,
		     struct ae_argv *v)
{
	int s;

	ae_argv_free(v);
	ae_argv_add(v, "aether");
	ae_argv_add(v, "-q");
	if (c->hostconf) {
		ae_argv_add(v, "-c");
		ae_argv_add(v, c->hostconf);
	}
	if (c->failed) {
		/* A create that failed after making its VM deletes it, once;
		 * any other failed job has no more steps. */
		if (c->cmd != AE_REQ_CREATE || !c->made ||
		    *step >= AE_REQ_STEP_ROLLBACK)
			goto none;
		*step = AE_REQ_STEP_ROLLBACK;
		ae_argv_add(v, "delete");
		ae_argv_add(v, "--force");
		ae_argv_add(v, c->name);
		return (int)v->n;
	}
	switch ((s = next_step(c, *step))) {
	case AE_REQ_STEP_RUN:
		if (!run_argv(c, v))
			goto none;
		break;
	case AE_REQ_STEP_START:
		ae_argv_add(v, "start");
		ae_argv_add(v, c->name);
		break;
	case AE_REQ_STEP_STATUS:
		push_status(v, c->name);
		break;
	default: /* done, rolled back, or past either */
		goto none;
	}
	*step = s;
	return (int)v->n;
none:
	ae_argv_free(v);
	return 0;
}

/* ------------------------------------------------------------------ */
/* children's output                                                  */

void ae_output_trim(char **buf, size_t *len, size_t max)
{
	size_t drop, k;

	if (!*buf || *len <= max)
		return;
	drop = *len - max;
	for (k = 0; k < 3 && drop < *len &&
		    ((unsigned char)(*buf)[drop] & 0xC0) == 0x80; k++)
		drop++;
	memmove(*buf, *buf + drop, *len - drop);
	*len -= drop;
	(*buf)[*len] = '\0';
}

void ae_output_append(char **buf, size_t *len, const char *data, size_t n,
		      size_t max)
{
	if (n > max) {
		data += n - max;
		n = max;
		*len = 0;
	}
	/* Trimmed only now and then: shifting on every read of a long log
	 * would cost O(size * max). */
	if (*len + n > 2 * max)
		ae_output_trim(buf, len, max - n);
	*buf = ae_xrealloc(*buf, *len + n + 1);
	memcpy(*buf + *len, data, n);
	*len += n;
	(*buf)[*len] = '\0';
}
