/* nft.c - managed networks' rules in `table inet aether`, through
 * libnftables: one transaction per change, read back as JSON (jansson)
 * to verify.  See nft.h for the ruleset. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <jansson.h>
/* libnftables.h defines _GNU_SOURCE itself (empty); config.h already did,
 * and every system header that reads it is included above. */
#undef _GNU_SOURCE
#include <nftables/libnftables.h>

#include "nft.h"
#include "util.h"

#define TBL "inet " AE_NFT_TABLE

/* ------------------------------------------------------------------ */
/* Validation: nothing reaches a command buffer before it passed here. */

int ae_nft_valid_name(const char *name)
{
	size_t i, n = name ? strlen(name) : 0;

	if (n < 1 || n > AE_NFT_NAME_MAX)
		return 0;
	for (i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

/* "ADDR/LEN" -> the address with host bits cleared and LEN. */
static int parse_subnet(const char *s, int family, char *addr,
			size_t addrlen, int *plen, char *err, size_t errlen)
{
	const char *slash;
	unsigned char bytes[16];
	char host[INET6_ADDRSTRLEN];
	int minlen = family == AF_INET ? 8 : 16;
	int maxlen = family == AF_INET ? 30 : 126;
	int bits = family == AF_INET ? 32 : 128;
	const char *what = family == AF_INET ? "IPv4 subnet" : "IPv6 subnet";
	const char *p;
	long len = 0;
	int i;

	if (!s || !*s)
		return ae_seterr(err, errlen, EINVAL, "%s: empty", what);
	slash = strchr(s, '/');
	if (!slash || (size_t)(slash - s) >= sizeof host)
		return ae_seterr(err, errlen, EINVAL,
				 "%s '%.64s': not ADDRESS/PREFIX", what, s);
	memcpy(host, s, (size_t)(slash - s));
	host[slash - s] = '\0';
	if (inet_pton(family, host, bytes) != 1)
		return ae_seterr(err, errlen, EINVAL,
				 "%s '%.64s': '%s' is not an %s address", what,
				 s, host, family == AF_INET ? "IPv4" : "IPv6");
	p = slash + 1;
	if (!*p || strlen(p) > 3)
		return ae_seterr(err, errlen, EINVAL,
				 "%s '%.64s': bad prefix length", what, s);
	for (; *p; p++) {
		if (!isdigit((unsigned char)*p))
			return ae_seterr(err, errlen, EINVAL,
					 "%s '%.64s': bad prefix length", what,
					 s);
		len = len * 10 + (*p - '0');
	}
	if (len < minlen || len > maxlen)
		return ae_seterr(err, errlen, EINVAL,
				 "%s '%.64s': prefix length %ld out of range "
				 "%d..%d",
				 what, s, len, minlen, maxlen);
	for (i = 0; i < bits / 8; i++) {
		int keep = (int)len - i * 8;
		if (keep <= 0)
			bytes[i] = 0;
		else if (keep < 8)
			bytes[i] &= (unsigned char)(0xff << (8 - keep));
	}
	if (!inet_ntop(family, bytes, addr, (socklen_t)addrlen))
		return ae_seterr(err, errlen, EINVAL, "%s '%.64s': %s", what,
				 s, strerror(errno));
	*plen = (int)len;
	return 0;
}

int ae_nft_subnet_canon(const char *subnet, int family, char *out,
			size_t outlen, char *err, size_t errlen)
{
	char addr[INET6_ADDRSTRLEN];
	int len, rc, w;

	if (family != AF_INET && family != AF_INET6)
		return ae_seterr(err, errlen, EINVAL, "subnet: bad family");
	rc = parse_subnet(subnet, family, addr, sizeof addr, &len, err,
			  errlen);
	if (rc < 0)
		return rc;
	w = snprintf(out, outlen, "%s/%d", addr, len);
	if (w < 0 || (size_t)w >= outlen)
		return ae_seterr(err, errlen, ENOSPC, "subnet '%.64s': too long",
				 subnet);
	return 0;
}

/* A network after validation: only these strings go into commands. */
struct canon {
	char name[AE_NFT_NAME_MAX + 1];
	char bridge[16];
	char addr4[INET_ADDRSTRLEN];
	int len4;
	char addr6[INET6_ADDRSTRLEN];
	int len6;
	int has6;
	int nat;
};

static int canonicalise(const struct ae_nft_net *n, struct canon *c,
			char *err, size_t errlen)
{
	char why[256];
	int rc;

	memset(c, 0, sizeof *c);
	if (!n)
		return ae_seterr(err, errlen, EINVAL, "network: none given");
	if (!ae_nft_valid_name(n->name))
		return ae_seterr(err, errlen, EINVAL,
				 "network '%.32s': bad name (wanted "
				 "[a-z0-9_-], 1 to %d characters)",
				 n->name ? n->name : "", AE_NFT_NAME_MAX);
	snprintf(c->name, sizeof c->name, "%s", n->name);
	if (!ae_valid_ifname(n->bridge))
		return ae_seterr(err, errlen, EINVAL,
				 "network %s: bad bridge name '%.32s' (wanted "
				 "[A-Za-z0-9_.-], 1 to 15 characters)",
				 c->name, n->bridge ? n->bridge : "");
	snprintf(c->bridge, sizeof c->bridge, "%s", n->bridge);
	rc = parse_subnet(n->subnet4, AF_INET, c->addr4, sizeof c->addr4,
			  &c->len4, why, sizeof why);
	if (rc < 0)
		return ae_seterr(err, errlen, rc, "network %s: %s", c->name,
				 why);
	if (n->subnet6) {
		rc = parse_subnet(n->subnet6, AF_INET6, c->addr6,
				  sizeof c->addr6, &c->len6, why, sizeof why);
		if (rc < 0)
			return ae_seterr(err, errlen, rc, "network %s: %s",
					 c->name, why);
		c->has6 = 1;
	}
	c->nat = n->nat ? 1 : 0;
	return 0;
}

/* ------------------------------------------------------------------ */
/* The ruleset of one network: nft text (what is applied) beside the
 * JSON that `list` gives back for it (what verify expects). */

#define MAX_RULES 2
struct rule_spec {
	char text[192];
	json_t *expr;
};
struct chain_spec {
	char name[32];
	const char *type, *hook, *prio_text;
	int prio;
	int nrules;
	struct rule_spec r[MAX_RULES];
};
enum { CH_FWD, CH_NAT, CH_N };
static const char *const chain_prefix[CH_N] = {"fwd_", "nat_"};

static json_t *match_json(const char *op, json_t *left, json_t *right)
{
	return json_pack("{s:{s:s,s:o,s:o}}", "match", "op", op, "left", left,
			 "right", right);
}

static json_t *masq_json(const char *proto, const char *addr, int len)
{
	json_t *pre = json_pack("{s:{s:s,s:i}}", "prefix", "addr", addr,
				"len", len);
	json_t *pre2 = json_deep_copy(pre);

	return json_pack(
		"[o,o,{s:n}]",
		match_json("==", json_pack("{s:{s:s,s:s}}", "payload",
					   "protocol", proto, "field",
					   "saddr"),
			   pre),
		match_json("!=", json_pack("{s:{s:s,s:s}}", "payload",
					   "protocol", proto, "field",
					   "daddr"),
			   pre2),
		"masquerade");
}

static void specs_free(struct chain_spec *cs)
{
	int i, j;

	for (i = 0; i < CH_N; i++)
		for (j = 0; j < cs[i].nrules; j++)
			json_decref(cs[i].r[j].expr);
}

/* cs[CH_FWD] always; cs[CH_NAT] with nrules 0 when the network has no
 * nat (the chain must then not exist). */
static void specs_make(const struct canon *c, struct chain_spec *cs)
{
	struct chain_spec *f = &cs[CH_FWD], *m = &cs[CH_NAT];

	memset(cs, 0, sizeof *cs * CH_N);
	snprintf(f->name, sizeof f->name, "fwd_%s", c->name);
	f->type = "filter";
	f->hook = "forward";
	f->prio = 0;
	f->prio_text = "0";
	snprintf(f->r[0].text, sizeof f->r[0].text, "iifname \"%s\" accept",
		 c->bridge);
	f->r[0].expr = json_pack(
		"[o,{s:n}]",
		match_json("==", json_pack("{s:{s:s}}", "meta", "key",
					   "iifname"),
			   json_string(c->bridge)),
		"accept");
	snprintf(f->r[1].text, sizeof f->r[1].text,
		 "oifname \"%s\" ct state established,related accept",
		 c->bridge);
	f->r[1].expr = json_pack(
		"[o,o,{s:n}]",
		match_json("==", json_pack("{s:{s:s}}", "meta", "key",
					   "oifname"),
			   json_string(c->bridge)),
		match_json("in", json_pack("{s:{s:s}}", "ct", "key", "state"),
			   json_pack("[s,s]", "established", "related")),
		"accept");
	f->nrules = 2;

	snprintf(m->name, sizeof m->name, "nat_%s", c->name);
	m->type = "nat";
	m->hook = "postrouting";
	m->prio = 100;
	m->prio_text = "srcnat";
	if (!c->nat)
		return;
	snprintf(m->r[0].text, sizeof m->r[0].text,
		 "ip saddr %s/%d ip daddr != %s/%d masquerade", c->addr4,
		 c->len4, c->addr4, c->len4);
	m->r[0].expr = masq_json("ip", c->addr4, c->len4);
	m->nrules = 1;
	if (c->has6) {
		snprintf(m->r[1].text, sizeof m->r[1].text,
			 "ip6 saddr %s/%d ip6 daddr != %s/%d masquerade",
			 c->addr6, c->len6, c->addr6, c->len6);
		m->r[1].expr = masq_json("ip6", c->addr6, c->len6);
		m->nrules = 2;
	}
}

/* Bounded appends to the command buffer. */
struct sbuf {
	char *p;
	size_t len, used;
	int over;
};

static void sb_add(struct sbuf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void sb_add(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int w;

	if (b->over)
		return;
	va_start(ap, fmt);
	w = vsnprintf(b->p + b->used, b->len - b->used, fmt, ap);
	va_end(ap);
	if (w < 0 || (size_t)w >= b->len - b->used)
		b->over = 1;
	else
		b->used += (size_t)w;
}

/* Each chain is made, emptied and deleted, then made again as specified:
 * whatever state the chain was in (missing, tampered with, another hook),
 * the transaction ends with exactly the network's chains and rules. */
static int render_apply(const struct canon *c, char *buf, size_t len,
			char *err, size_t errlen)
{
	struct chain_spec cs[CH_N];
	struct sbuf b = {buf, len, 0, 0};
	int i, j;

	if (!buf || !len)
		return ae_seterr(err, errlen, ENOSPC, "network %s: no buffer",
				 c->name);
	buf[0] = '\0';
	specs_make(c, cs);
	sb_add(&b, "add table " TBL "\n");
	for (i = 0; i < CH_N; i++) {
		const struct chain_spec *s = &cs[i];
		sb_add(&b, "add chain " TBL " %s\n", s->name);
		sb_add(&b, "flush chain " TBL " %s\n", s->name);
		sb_add(&b, "delete chain " TBL " %s\n", s->name);
		if (i == CH_NAT && !c->nat)
			continue;
		sb_add(&b,
		       "add chain " TBL " %s { type %s hook %s priority %s; "
		       "policy accept; }\n",
		       s->name, s->type, s->hook, s->prio_text);
		for (j = 0; j < s->nrules; j++)
			sb_add(&b, "add rule " TBL " %s %s\n", s->name,
			       s->r[j].text);
	}
	specs_free(cs);
	if (b.over)
		return ae_seterr(err, errlen, ENOSPC,
				 "network %s: command buffer too small",
				 c->name);
	return 0;
}

int ae_nft_apply_text(const struct ae_nft_net *n, char *buf, size_t len,
		      char *err, size_t errlen)
{
	struct canon c;
	int rc = canonicalise(n, &c, err, errlen);

	return rc < 0 ? rc : render_apply(&c, buf, len, err, errlen);
}

/* ------------------------------------------------------------------ */
/* libnftables */

/* libnftables' error text on one line: its lines joined with " | ",
 * the caret lines that point into the command left out. */
static void squash_error(const char *in, char *out, size_t outlen)
{
	size_t o = 0;
	const char *line = in ? in : "";

	if (!outlen)
		return;
	while (*line) {
		const char *end = strchr(line, '\n');
		size_t n = end ? (size_t)(end - line) : strlen(line);
		size_t k, marks = 0;

		for (k = 0; k < n; k++)
			if (line[k] == '^' || line[k] == '~' || line[k] == ' ' ||
			    line[k] == '\t')
				marks++;
		if (n && marks < n) {
			if (o && o + 3 < outlen) {
				memcpy(out + o, " | ", 3);
				o += 3;
			}
			for (k = 0; k < n && o + 1 < outlen; k++)
				out[o++] = line[k] == '\t' ? ' ' : line[k];
		}
		line += n + (end ? 1 : 0);
	}
	out[o < outlen ? o : outlen - 1] = '\0';
	if (!o)
		snprintf(out, outlen, "libnftables gave no message");
}

/* Run cmd in a fresh context; with json, *out gets the JSON output
 * (malloc'd).  On failure err gets "WHO: OP: <libnftables' message>". */
static int nft_run(const char *cmd, int json, char **out, const char *who,
		   const char *op, char *err, size_t errlen)
{
	struct nft_ctx *ctx;
	char msg[768];
	int rc;

	if (out)
		*out = NULL;
	ctx = nft_ctx_new(NFT_CTX_DEFAULT);
	if (!ctx)
		return ae_seterr(err, errlen, ENOMEM,
				 "%s: %s: cannot make a libnftables context",
				 who, op);
	if (nft_ctx_buffer_output(ctx) || nft_ctx_buffer_error(ctx)) {
		nft_ctx_free(ctx);
		return ae_seterr(err, errlen, ENOMEM,
				 "%s: %s: cannot buffer libnftables output",
				 who, op);
	}
	if (json)
		nft_ctx_output_set_flags(ctx, NFT_CTX_OUTPUT_JSON);
	rc = nft_run_cmd_from_buffer(ctx, cmd);
	if (rc != 0) {
		squash_error(nft_ctx_get_error_buffer(ctx), msg, sizeof msg);
		nft_ctx_free(ctx);
		return ae_seterr(err, errlen, EIO, "%s: %s: %s", who, op, msg);
	}
	if (out) {
		const char *o = nft_ctx_get_output_buffer(ctx);
		*out = strdup(o ? o : "");
		if (!*out) {
			nft_ctx_free(ctx);
			return ae_seterr(err, errlen, ENOMEM, "%s: %s: %s", who,
					 op, strerror(ENOMEM));
		}
	}
	nft_ctx_free(ctx);
	return 0;
}

/* The "nftables" array of a JSON listing. */
static int parse_listing(const char *text, json_t **root, json_t **arr,
			 const char *who, char *err, size_t errlen)
{
	json_error_t je;

	*root = json_loads(text, 0, &je);
	if (!*root)
		return ae_seterr(err, errlen, EPROTO,
				 "%s: libnftables JSON, line %d: %s", who,
				 je.line, je.text);
	*arr = json_object_get(*root, "nftables");
	if (!json_is_array(*arr)) {
		json_decref(*root);
		*root = NULL;
		return ae_seterr(err, errlen, EPROTO,
				 "%s: libnftables JSON has no \"nftables\" "
				 "array",
				 who);
	}
	return 0;
}

static int str_is(json_t *o, const char *key, const char *want)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s && !strcmp(s, want);
}

/* Our table, listed: *root NULL (and 0) when there is no table inet
 * aether.  A failure to list an existing table is an error. */
static int read_table(json_t **root, json_t **arr, const char *who,
		      char *err, size_t errlen)
{
	char *out = NULL, why[1024];
	json_t *troot, *tarr, *el;
	size_t i;
	int rc, found = 0;

	*root = NULL;
	*arr = NULL;
	rc = nft_run("list table " TBL, 1, &out, who, "list table " TBL, why,
		     sizeof why);
	if (rc == 0) {
		rc = parse_listing(out, root, arr, who, err, errlen);
		free(out);
		return rc;
	}
	/* Missing, or another failure?  Ask for the inet tables. */
	if (nft_run("list tables inet", 1, &out, who, "list tables inet", err,
		    errlen) < 0)
		return ae_seterr(err, errlen, rc, "%s", why);
	rc = parse_listing(out, &troot, &tarr, who, err, errlen);
	free(out);
	if (rc < 0)
		return rc;
	json_array_foreach(tarr, i, el) {
		json_t *t = json_object_get(el, "table");
		if (t && str_is(t, "family", "inet") &&
		    str_is(t, "name", AE_NFT_TABLE))
			found = 1;
	}
	json_decref(troot);
	if (found)
		return ae_seterr(err, errlen, EIO, "%s", why);
	return 0;
}

/* The objects of kind ("chain", "rule") of our table in a listing. */
static json_t *table_obj(json_t *el, const char *kind)
{
	json_t *o = json_object_get(el, kind);

	if (!json_is_object(o) || !str_is(o, "family", "inet") ||
	    !str_is(o, "table", AE_NFT_TABLE))
		return NULL;
	return o;
}

/* The network a chain name belongs to, or NULL. */
static const char *chain_network(const char *chain)
{
	int i;

	for (i = 0; i < CH_N; i++)
		if (!strncmp(chain, chain_prefix[i], 4) &&
		    ae_nft_valid_name(chain + 4))
			return chain + 4;
	return NULL;
}

/* ------------------------------------------------------------------ */
/* The interface */

int ae_nft_apply(const struct ae_nft_net *n, char *err, size_t errlen)
{
	struct canon c;
	char buf[4096], who[64];
	int rc;

	rc = canonicalise(n, &c, err, errlen);
	if (rc < 0)
		return rc;
	rc = render_apply(&c, buf, sizeof buf, err, errlen);
	if (rc < 0)
		return rc;
	snprintf(who, sizeof who, "network %s", c.name);
	return nft_run(buf, 0, NULL, who, "nft apply", err, errlen);
}

int ae_nft_remove(const char *name, char *err, size_t errlen)
{
	json_t *root, *arr, *el;
	char buf[1024], who[64];
	struct sbuf b = {buf, sizeof buf, 0, 0};
	int have[CH_N] = {0, 0}, others = 0, rc, k;
	size_t i;

	if (!ae_nft_valid_name(name))
		return ae_seterr(err, errlen, EINVAL,
				 "network '%.32s': bad name (wanted "
				 "[a-z0-9_-], 1 to %d characters)",
				 name ? name : "", AE_NFT_NAME_MAX);
	snprintf(who, sizeof who, "network %s", name);
	rc = read_table(&root, &arr, who, err, errlen);
	if (rc < 0 || !root)
		return rc;
	json_array_foreach(arr, i, el) {
		json_t *ch = table_obj(el, "chain");
		const char *cn, *net;
		int mine = 0;

		if (!ch || !(cn = json_string_value(json_object_get(ch, "name"))))
			continue;
		net = chain_network(cn);
		for (k = 0; k < CH_N; k++)
			if (net && !strcmp(net, name) &&
			    !strncmp(cn, chain_prefix[k], 4)) {
				have[k] = 1;
				mine = 1;
			}
		if (!mine)
			others++;
	}
	json_decref(root);
	buf[0] = '\0';
	if (!others) {
		/* the last network (or an empty table): the table goes */
		sb_add(&b, "delete table " TBL "\n");
	} else {
		for (k = 0; k < CH_N; k++)
			if (have[k])
				sb_add(&b,
				       "flush chain " TBL " %s%s\n"
				       "delete chain " TBL " %s%s\n",
				       chain_prefix[k], name, chain_prefix[k],
				       name);
	}
	if (!buf[0])
		return 0;
	if (b.over)
		return ae_seterr(err, errlen, ENOSPC, "%s: buffer too small",
				 who);
	return nft_run(buf, 0, NULL, who, "nft remove", err, errlen);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void ae_nft_list_free(char **names, size_t n)
{
	size_t i;

	for (i = 0; names && i < n; i++)
		free(names[i]);
	free(names);
}

int ae_nft_list(char ***names, size_t *n, char *err, size_t errlen)
{
	json_t *root, *arr, *el;
	char **v = NULL;
	size_t cnt = 0, i, j;
	int rc;

	*names = NULL;
	*n = 0;
	rc = read_table(&root, &arr, "networks", err, errlen);
	if (rc < 0 || !root)
		return rc;
	json_array_foreach(arr, i, el) {
		json_t *ch = table_obj(el, "chain");
		const char *cn, *net;
		char **nv;
		int dup = 0;

		if (!ch || !(cn = json_string_value(json_object_get(ch, "name"))) ||
		    !(net = chain_network(cn)))
			continue;
		for (j = 0; j < cnt; j++)
			if (!strcmp(v[j], net))
				dup = 1;
		if (dup)
			continue;
		nv = realloc(v, (cnt + 1) * sizeof *v);
		if (!nv || !(nv[cnt] = strdup(net))) {
			ae_nft_list_free(nv ? nv : v, cnt);
			json_decref(root);
			return ae_seterr(err, errlen, ENOMEM, "networks: %s",
					 strerror(ENOMEM));
		}
		v = nv;
		cnt++;
	}
	json_decref(root);
	if (cnt)
		qsort(v, cnt, sizeof *v, cmp_str);
	*names = v;
	*n = cnt;
	return 0;
}

/* A JSON value on one line for a message, cut to fit. */
static void json_brief(json_t *j, char *out, size_t len)
{
	char *s = j ? json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;

	snprintf(out, len, "%s", s ? s : "null");
	if (s && strlen(s) >= len && len > 4)
		memcpy(out + len - 4, "...", 4);
	free(s);
}

static int check_chain(json_t *arr, const struct chain_spec *s,
		       const char *who, char *err, size_t errlen)
{
	json_t *el, *ch = NULL;
	const char *keys[] = {"type", "hook", "policy"};
	const char *want[3];
	size_t i;
	int k, nr = 0;
	char got[160];

	want[0] = s->type;
	want[1] = s->hook;
	want[2] = "accept";
	json_array_foreach(arr, i, el) {
		json_t *c = table_obj(el, "chain");
		if (c && str_is(c, "name", s->name))
			ch = c;
	}
	if (!ch)
		return ae_seterr(err, errlen, EPROTO,
				 "%s: chain %s is missing from table " TBL,
				 who, s->name);
	for (k = 0; k < 3; k++)
		if (!str_is(ch, keys[k], want[k])) {
			json_brief(json_object_get(ch, keys[k]), got,
				   sizeof got);
			return ae_seterr(err, errlen, EPROTO,
					 "%s: chain %s: %s is %s, expected "
					 "\"%s\"",
					 who, s->name, keys[k], got, want[k]);
		}
	if (!json_is_integer(json_object_get(ch, "prio")) ||
	    json_integer_value(json_object_get(ch, "prio")) != s->prio) {
		json_brief(json_object_get(ch, "prio"), got, sizeof got);
		return ae_seterr(err, errlen, EPROTO,
				 "%s: chain %s: priority is %s, expected %d",
				 who, s->name, got, s->prio);
	}
	json_array_foreach(arr, i, el) {
		json_t *r = table_obj(el, "rule"), *expr;
		if (!r || !str_is(r, "chain", s->name))
			continue;
		expr = json_object_get(r, "expr");
		if (nr >= s->nrules)
			return ae_seterr(err, errlen, EPROTO,
					 "%s: chain %s: unexpected rule %d",
					 who, s->name, nr + 1);
		if (!json_equal(expr, s->r[nr].expr)) {
			json_brief(expr, got, sizeof got);
			return ae_seterr(err, errlen, EPROTO,
					 "%s: chain %s: rule %d is %s, "
					 "expected `%s`",
					 who, s->name, nr + 1, got,
					 s->r[nr].text);
		}
		nr++;
	}
	if (nr != s->nrules)
		return ae_seterr(err, errlen, EPROTO,
				 "%s: chain %s: %d rules, expected %d (`%s` "
				 "is missing)",
				 who, s->name, nr, s->nrules, s->r[nr].text);
	return 0;
}

int ae_nft_verify(const struct ae_nft_net *n, char *err, size_t errlen)
{
	struct canon c;
	struct chain_spec cs[CH_N];
	json_t *root, *arr, *el;
	char who[64];
	size_t i;
	int rc, k;

	rc = canonicalise(n, &c, err, errlen);
	if (rc < 0)
		return rc;
	snprintf(who, sizeof who, "network %s", c.name);
	rc = read_table(&root, &arr, who, err, errlen);
	if (rc < 0)
		return rc;
	if (!root)
		return ae_seterr(err, errlen, EPROTO,
				 "%s: table " TBL " is missing", who);
	specs_make(&c, cs);
	for (k = 0; k < CH_N && rc == 0; k++) {
		if (k == CH_NAT && !c.nat) {
			json_array_foreach(arr, i, el) {
				json_t *ch = table_obj(el, "chain");
				if (ch && str_is(ch, "name", cs[k].name))
					rc = ae_seterr(err, errlen, EPROTO,
						       "%s: chain %s exists "
						       "but the network has "
						       "no nat",
						       who, cs[k].name);
			}
			continue;
		}
		rc = check_chain(arr, &cs[k], who, err, errlen);
	}
	specs_free(cs);
	json_decref(root);
	return rc;
}

/* ------------------------------------------------------------------ */

static int write_sysctl(const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t w;

	if (fd < 0)
		return ae_seterr(err, errlen, errno, "%s: %s", path,
				 strerror(errno));
	w = write(fd, "1\n", 2);
	if (w != 2) {
		int e = w < 0 ? errno : EIO;
		close(fd);
		return ae_seterr(err, errlen, e, "%s: write: %s", path,
				 strerror(e));
	}
	if (close(fd) < 0)
		return ae_seterr(err, errlen, errno, "%s: %s", path,
				 strerror(errno));
	return 0;
}

int ae_sysctl_forwarding(int want6, char *err, size_t errlen)
{
	int rc = write_sysctl("/proc/sys/net/ipv4/ip_forward", err, errlen);

	if (rc == 0 && want6)
		rc = write_sysctl("/proc/sys/net/ipv6/conf/all/forwarding",
				  err, errlen);
	return rc;
}
