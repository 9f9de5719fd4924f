/* net-nftcheck.c - read aether's nftables table back through libnftables
 * (JSON output, parsed with jansson) for tests/net-e2e.sh: never the text
 * of `nft list`.
 *
 *   net-nftcheck [TABLE]     (default TABLE: aether, family inet)
 *
 * Prints one line per object of `table inet TABLE`, built from the JSON
 * objects' fields:
 *   table inet TABLE
 *   chain NAME type=T hook=H
 *   rule CHAIN TOKEN...
 * where each TOKEN is one expression of the rule:
 *   ip.saddr==10.1.0.0/24   a payload match (prefix as ADDR/LEN)
 *   iifname==br0            a meta match
 *   ct.state==established,related
 *   accept drop masquerade jump:CHAIN goto:CHAIN return
 *   ?KIND                   an expression of another kind
 * Nothing but "absent" when the table does not exist.  Exit 0, or 1 when
 * libnftables or the JSON fail (said on stderr). */
#include <jansson.h>
#include <nftables/libnftables.h>
#include <stdio.h>
#include <string.h>

/* Append the value of a match's right-hand side to buf. */
static void right_str(json_t *r, char *buf, size_t len)
{
	size_t used = strlen(buf);

	if (used >= len - 1)
		return;
	if (json_is_string(r)) {
		snprintf(buf + used, len - used, "%s", json_string_value(r));
	} else if (json_is_integer(r)) {
		snprintf(buf + used, len - used, "%lld",
			 (long long)json_integer_value(r));
	} else if (json_is_array(r)) {
		size_t i;
		json_t *v;

		json_array_foreach(r, i, v) {
			if (i)
				strncat(buf, ",", len - strlen(buf) - 1);
			right_str(v, buf, len);
		}
	} else if (json_is_object(r)) {
		json_t *p = json_object_get(r, "prefix");
		json_t *s = json_object_get(r, "set");

		if (p) {
			snprintf(buf + used, len - used, "%s/%lld",
				 json_string_value(json_object_get(p, "addr")) ?: "?",
				 (long long)json_integer_value(json_object_get(p, "len")));
		} else if (s) {
			right_str(s, buf, len);
		} else {
			snprintf(buf + used, len - used, "?");
		}
	} else {
		snprintf(buf + used, len - used, "?");
	}
}

static void left_str(json_t *l, char *buf, size_t len)
{
	json_t *p = json_object_get(l, "payload");
	json_t *m = json_object_get(l, "meta");
	json_t *c = json_object_get(l, "ct");

	if (p)
		snprintf(buf, len, "%s.%s",
			 json_string_value(json_object_get(p, "protocol")) ?: "?",
			 json_string_value(json_object_get(p, "field")) ?: "?");
	else if (m)
		snprintf(buf, len, "%s",
			 json_string_value(json_object_get(m, "key")) ?: "?");
	else if (c)
		snprintf(buf, len, "ct.%s",
			 json_string_value(json_object_get(c, "key")) ?: "?");
	else
		snprintf(buf, len, "?");
}

static void print_expr(json_t *e)
{
	const char *kind;
	json_t *v;
	char tok[512];

	json_object_foreach(e, kind, v) {
		if (!strcmp(kind, "match")) {
			const char *op = json_string_value(json_object_get(v, "op"));

			left_str(json_object_get(v, "left"), tok, sizeof tok);
			/* "in" (a set or flags) reads as equality here */
			if (!op || !strcmp(op, "in"))
				op = "==";
			strncat(tok, op, sizeof tok - strlen(tok) - 1);
			right_str(json_object_get(v, "right"), tok, sizeof tok);
			printf(" %s", tok);
		} else if (!strcmp(kind, "jump") || !strcmp(kind, "goto")) {
			printf(" %s:%s", kind,
			       json_string_value(json_object_get(v, "target")) ?: "?");
		} else if (!strcmp(kind, "accept") || !strcmp(kind, "drop") ||
			   !strcmp(kind, "masquerade") || !strcmp(kind, "return")) {
			printf(" %s", kind);
		} else if (!strcmp(kind, "counter") || !strcmp(kind, "comment")) {
			/* no bearing on what the rule does */
		} else {
			printf(" ?%s", kind);
		}
	}
}

int main(int argc, char **argv)
{
	const char *table = argc > 1 ? argv[1] : "aether";
	struct nft_ctx *ctx;
	json_t *root, *items, *it;
	json_error_t jerr;
	const char *out;
	size_t i;
	int found = 0;

	ctx = nft_ctx_new(NFT_CTX_DEFAULT);
	if (!ctx) {
		fprintf(stderr, "net-nftcheck: nft_ctx_new failed\n");
		return 1;
	}
	nft_ctx_output_set_flags(ctx, NFT_CTX_OUTPUT_JSON);
	if (nft_ctx_buffer_output(ctx) || nft_ctx_buffer_error(ctx)) {
		fprintf(stderr, "net-nftcheck: cannot buffer libnftables output\n");
		return 1;
	}
	/* The whole ruleset: "list table" fails on a missing table, and a
	 * missing table is an answer here, not an error. */
	if (nft_run_cmd_from_buffer(ctx, "list ruleset")) {
		fprintf(stderr, "net-nftcheck: list ruleset: %s\n",
			nft_ctx_get_error_buffer(ctx));
		return 1;
	}
	out = nft_ctx_get_output_buffer(ctx);
	root = json_loads(out && *out ? out : "{\"nftables\":[]}", 0, &jerr);
	if (!root) {
		fprintf(stderr, "net-nftcheck: JSON from libnftables: %s (line %d)\n",
			jerr.text, jerr.line);
		return 1;
	}
	items = json_object_get(root, "nftables");
	if (!json_is_array(items)) {
		fprintf(stderr, "net-nftcheck: no \"nftables\" array in libnftables' JSON\n");
		return 1;
	}
	json_array_foreach(items, i, it) {
		json_t *o;
		const char *fam, *tab;

		if ((o = json_object_get(it, "table"))) {
			fam = json_string_value(json_object_get(o, "family"));
			tab = json_string_value(json_object_get(o, "name"));
			if (fam && tab && !strcmp(fam, "inet") && !strcmp(tab, table)) {
				printf("table inet %s\n", table);
				found = 1;
			}
			continue;
		}
		if ((o = json_object_get(it, "chain"))) {
			fam = json_string_value(json_object_get(o, "family"));
			tab = json_string_value(json_object_get(o, "table"));
			if (!fam || !tab || strcmp(fam, "inet") || strcmp(tab, table))
				continue;
			printf("chain %s type=%s hook=%s\n",
			       json_string_value(json_object_get(o, "name")) ?: "?",
			       json_string_value(json_object_get(o, "type")) ?: "-",
			       json_string_value(json_object_get(o, "hook")) ?: "-");
			continue;
		}
		if ((o = json_object_get(it, "rule"))) {
			json_t *exprs, *e;
			size_t j;

			fam = json_string_value(json_object_get(o, "family"));
			tab = json_string_value(json_object_get(o, "table"));
			if (!fam || !tab || strcmp(fam, "inet") || strcmp(tab, table))
				continue;
			printf("rule %s",
			       json_string_value(json_object_get(o, "chain")) ?: "?");
			exprs = json_object_get(o, "expr");
			json_array_foreach(exprs, j, e)
				print_expr(e);
			printf("\n");
		}
	}
	if (!found)
		printf("absent\n");
	json_decref(root);
	nft_ctx_free(ctx);
	return fflush(stdout) ? 1 : 0;
}
