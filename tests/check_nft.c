/*
 * check_nft - managed networks' rules in `table inet aether` (core/nft.c)
 * against the real kernel through libnftables.
 *
 * Every kernel case runs in its own private network namespace (each check
 * test is a forked child that calls unshare(CLONE_NEWNET)), so the host's
 * ruleset is never read or touched.  Needs root (CAP_NET_ADMIN and
 * CAP_SYS_ADMIN): without it those cases skip (CK_SKIP_TEST: a failure
 * under AETHER_TEST_STRICT=1) and say why; the validation cases run
 * everywhere.  The test reads and changes the ruleset with its own
 * libnftables context, independently of the code under test.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>
#undef _GNU_SOURCE
#include <nftables/libnftables.h>

#include "check-main.h"
#include "nft.h"

static int ns_ok;
static char ns_why[512];

#define NETNS()                                                               \
	do {                                                                  \
		if (!ns_ok)                                                   \
			CK_SKIP_TEST("needs root and a private network "      \
				     "namespace with nftables: %s", ns_why);  \
		ck_assert_msg(unshare(CLONE_NEWNET) == 0, "unshare: %s",      \
			      strerror(errno));                               \
	} while (0)

/* ------------------------------------------------------------------ */
/* The test's own libnftables access. */

/* Run cmd; returns libnftables' status, *out the output (JSON when json),
 * malloc'd, when out is given. */
static int tnft(const char *cmd, int json, char **out)
{
	struct nft_ctx *ctx = nft_ctx_new(NFT_CTX_DEFAULT);
	int rc;

	ck_assert_ptr_nonnull(ctx);
	nft_ctx_buffer_output(ctx);
	nft_ctx_buffer_error(ctx);
	if (json)
		nft_ctx_output_set_flags(ctx, NFT_CTX_OUTPUT_JSON);
	rc = nft_run_cmd_from_buffer(ctx, cmd);
	if (out)
		*out = strdup(rc == 0 ? nft_ctx_get_output_buffer(ctx)
				      : nft_ctx_get_error_buffer(ctx));
	nft_ctx_free(ctx);
	return rc;
}

static void tnft_ok(const char *cmd)
{
	char *out = NULL;
	int rc = tnft(cmd, 0, &out);

	ck_assert_msg(rc == 0, "nft `%s`: %s", cmd, out ? out : "");
	free(out);
}

/* The "nftables" array of a JSON listing (caller json_decref()s *root). */
static json_t *tlist(const char *cmd, json_t **root)
{
	char *out = NULL;
	json_error_t je;
	json_t *arr;

	ck_assert_msg(tnft(cmd, 1, &out) == 0, "nft `%s`: %s", cmd,
		      out ? out : "");
	*root = json_loads(out, 0, &je);
	ck_assert_msg(*root != NULL, "JSON of `%s`: %s", cmd, je.text);
	free(out);
	arr = json_object_get(*root, "nftables");
	ck_assert(json_is_array(arr));
	return arr;
}

/* Is there a table FAMILY NAME? */
static int table_exists(const char *family, const char *name)
{
	json_t *root, *arr, *el;
	size_t i;
	int found = 0;

	arr = tlist("list tables", &root);
	json_array_foreach(arr, i, el) {
		json_t *t = json_object_get(el, "table");
		if (t && !strcmp(json_string_value(json_object_get(t, "family")),
				 family) &&
		    !strcmp(json_string_value(json_object_get(t, "name")), name))
			found = 1;
	}
	json_decref(root);
	return found;
}

/* Number of chains and rules in table inet aether named like chain. */
static int count_rules(const char *chain)
{
	json_t *root, *arr, *el;
	size_t i;
	int n = 0;

	arr = tlist("list table inet aether", &root);
	json_array_foreach(arr, i, el) {
		json_t *r = json_object_get(el, "rule");
		if (r && !strcmp(json_string_value(json_object_get(r, "chain")),
				 chain))
			n++;
	}
	json_decref(root);
	return n;
}

/* The handle of rule number idx (0-based) in chain of table inet aether. */
static long rule_handle(const char *chain, int idx)
{
	json_t *root, *arr, *el;
	size_t i;
	long h = -1;
	int n = 0;

	arr = tlist("list table inet aether", &root);
	json_array_foreach(arr, i, el) {
		json_t *r = json_object_get(el, "rule");
		if (r && !strcmp(json_string_value(json_object_get(r, "chain")),
				 chain) &&
		    n++ == idx)
			h = (long)json_integer_value(
				json_object_get(r, "handle"));
	}
	json_decref(root);
	ck_assert_msg(h > 0, "no rule %d in chain %s", idx, chain);
	return h;
}

static const struct ae_nft_net net_a = {
	.name = "a", .bridge = "aebr-a", .subnet4 = "192.168.100.0/24",
	.subnet6 = "fd42:1:2:3::/64", .nat = 1,
};
static const struct ae_nft_net net_b = {
	.name = "lab-2_x", .bridge = "br.lab", .subnet4 = "10.77.0.0/16",
	.subnet6 = NULL, .nat = 1,
};

#define APPLY(n)                                                              \
	do {                                                                  \
		char e_[1024] = "";                                           \
		int r_ = ae_nft_apply((n), e_, sizeof e_);                    \
		ck_assert_msg(r_ == 0, "apply %s: %d %s", (n)->name, r_, e_); \
	} while (0)
#define VERIFY_OK(n)                                                          \
	do {                                                                  \
		char e_[1024] = "";                                           \
		int r_ = ae_nft_verify((n), e_, sizeof e_);                   \
		ck_assert_msg(r_ == 0, "verify %s: %d %s", (n)->name, r_,     \
			      e_);                                            \
	} while (0)
/* verify must fail with -EPROTO and a message containing sub */
#define VERIFY_FAILS(n, sub)                                                  \
	do {                                                                  \
		char e_[1024] = "";                                           \
		int r_ = ae_nft_verify((n), e_, sizeof e_);                   \
		ck_assert_msg(r_ == -EPROTO, "verify %s gave %d (%s), "       \
			      "expected -EPROTO", (n)->name, r_, e_);         \
		ck_assert_err_has(e_, (n)->name);                             \
		ck_assert_err_has(e_, sub);                                   \
	} while (0)

/* ------------------------------------------------------------------ */
/* Validation (no kernel). */

START_TEST(test_names)
{
	ck_assert(ae_nft_valid_name("default"));
	ck_assert(ae_nft_valid_name("a"));
	ck_assert(ae_nft_valid_name("lab-2_x"));
	ck_assert(ae_nft_valid_name("123456789012345"));
	ck_assert(!ae_nft_valid_name("1234567890123456"));
	ck_assert(!ae_nft_valid_name(""));
	ck_assert(!ae_nft_valid_name(NULL));
	ck_assert(!ae_nft_valid_name("Default"));
	ck_assert(!ae_nft_valid_name("a b"));
	ck_assert(!ae_nft_valid_name("a.b"));
	ck_assert(!ae_nft_valid_name("a;"));
	ck_assert(!ae_nft_valid_name("a\""));
}
END_TEST

START_TEST(test_subnet_canon)
{
	char out[64], err[256];

	ck_assert_int_eq(ae_nft_subnet_canon("192.168.100.0/24", AF_INET, out,
					     sizeof out, err, sizeof err),
			 0);
	ck_assert_str_eq(out, "192.168.100.0/24");
	ck_assert_int_eq(ae_nft_subnet_canon("10.1.2.3/12", AF_INET, out,
					     sizeof out, err, sizeof err),
			 0);
	ck_assert_str_eq(out, "10.0.0.0/12");
	ck_assert_int_eq(ae_nft_subnet_canon("FD42:0001:2:3:ffff::1/64",
					     AF_INET6, out, sizeof out, err,
					     sizeof err),
			 0);
	ck_assert_str_eq(out, "fd42:1:2:3::/64");
	ck_assert_int_eq(ae_nft_subnet_canon("fd00::/7", AF_INET6, out,
					     sizeof out, err, sizeof err),
			 -EINVAL);
	ck_assert_err_has(err, "out of range");
	ck_assert_int_eq(ae_nft_subnet_canon("10.0.0.0/31", AF_INET, out,
					     sizeof out, err, sizeof err),
			 -EINVAL);
	ck_assert_err_has(err, "out of range");
	ck_assert_int_eq(ae_nft_subnet_canon("10.0.0.0", AF_INET, out,
					     sizeof out, err, sizeof err),
			 -EINVAL);
	ck_assert_err_has(err, "ADDRESS/PREFIX");
	ck_assert_int_eq(ae_nft_subnet_canon("10.0.0.256/24", AF_INET, out,
					     sizeof out, err, sizeof err),
			 -EINVAL);
	ck_assert_err_has(err, "not an IPv4 address");
	ck_assert_int_eq(ae_nft_subnet_canon("10.0.0.0/2x", AF_INET, out,
					     sizeof out, err, sizeof err),
			 -EINVAL);
	ck_assert_int_eq(ae_nft_subnet_canon("10.0.0.0/-8", AF_INET, out,
					     sizeof out, err, sizeof err),
			 -EINVAL);
	ck_assert_int_eq(ae_nft_subnet_canon("fd42::/64", AF_INET, out,
					     sizeof out, err, sizeof err),
			 -EINVAL);
	ck_assert_int_eq(ae_nft_subnet_canon("10.0.0.0/8", AF_INET6, out,
					     sizeof out, err, sizeof err),
			 -EINVAL);
	/* a too small output buffer */
	ck_assert_int_eq(ae_nft_subnet_canon("10.0.0.0/8", AF_INET, out, 5,
					     err, sizeof err),
			 -ENOSPC);
}
END_TEST

/* Bad input that must never reach a command buffer. */
struct bad {
	struct ae_nft_net n;
	const char *msg;
};
static const struct bad bad_nets[] = {
	{{"", "br0", "10.0.0.0/24", NULL, 1}, "bad name"},
	{{"UPPER", "br0", "10.0.0.0/24", NULL, 1}, "bad name"},
	{{"toolongname12345", "br0", "10.0.0.0/24", NULL, 1}, "bad name"},
	{{"x; flush ruleset", "br0", "10.0.0.0/24", NULL, 1}, "bad name"},
	{{"x", "br0\" accept; flush ruleset; #", "10.0.0.0/24", NULL, 1},
	 "bad bridge name"},
	{{"x", "br 0", "10.0.0.0/24", NULL, 1}, "bad bridge name"},
	{{"x", "..", "10.0.0.0/24", NULL, 1}, "bad bridge name"},
	{{"x", "bridge-name-too-long", "10.0.0.0/24", NULL, 1},
	 "bad bridge name"},
	{{"x", NULL, "10.0.0.0/24", NULL, 1}, "bad bridge name"},
	{{"x", "br0", NULL, NULL, 1}, "IPv4 subnet"},
	{{"x", "br0", "10.0.0.0/24; flush ruleset", NULL, 1}, "IPv4 subnet"},
	{{"x", "br0", "10.0.0.0/33", NULL, 1}, "out of range"},
	{{"x", "br0", "0.0.0.0/0", NULL, 1}, "out of range"},
	{{"x", "br0", "10.0.0/24", NULL, 1}, "not an IPv4 address"},
	{{"x", "br0", "10.0.0.0/24", "fd42::/64 masquerade", 1}, "IPv6 subnet"},
	{{"x", "br0", "10.0.0.0/24", "192.168.0.0/24", 1},
	 "not an IPv6 address"},
	{{"x", "br0", "10.0.0.0/24", "::/0", 1}, "out of range"},
};

START_TEST(test_bad_text)
{
	const struct bad *b = &bad_nets[_i];
	char buf[4096] = "untouched", err[512] = "";

	ck_assert_int_eq(ae_nft_apply_text(&b->n, buf, sizeof buf, err,
					   sizeof err),
			 -EINVAL);
	ck_assert_err_has(err, b->msg);
	ck_assert_str_eq(buf, "untouched");
}
END_TEST

/* The transaction text: every chain is rebuilt, and the canonical
 * subnet (not what was given) is what reaches it. */
START_TEST(test_apply_text)
{
	struct ae_nft_net n = {"lab", "br-lab", "10.1.2.3/16", "fd42:0:0:1::9/64",
			       1};
	char buf[4096], err[256];

	ck_assert_int_eq(ae_nft_apply_text(&n, buf, sizeof buf, err,
					   sizeof err),
			 0);
	ck_assert_err_has(buf, "add table inet aether\n");
	ck_assert_err_has(buf, "delete chain inet aether fwd_lab\n");
	ck_assert_err_has(buf, "iifname \"br-lab\" accept");
	ck_assert_err_has(buf, "ip saddr 10.1.0.0/16 ip daddr != 10.1.0.0/16 "
			       "masquerade");
	ck_assert_err_has(buf, "ip6 saddr fd42:0:0:1::/64");
	ck_assert_ptr_null(strstr(buf, "10.1.2.3"));
	n.nat = 0;
	ck_assert_int_eq(ae_nft_apply_text(&n, buf, sizeof buf, err,
					   sizeof err),
			 0);
	ck_assert_ptr_null(strstr(buf, "masquerade"));
	ck_assert_err_has(buf, "delete chain inet aether nat_lab\n");
	ck_assert_int_eq(ae_nft_apply_text(&n, buf, 64, err, sizeof err),
			 -ENOSPC);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Against the kernel, each in a fresh network namespace. */

START_TEST(test_apply_verify)
{
	char **names;
	size_t cnt;
	char err[512];

	NETNS();
	ck_assert(!table_exists("inet", "aether"));
	APPLY(&net_a);
	VERIFY_OK(&net_a);
	ck_assert(table_exists("inet", "aether"));
	ck_assert_int_eq(count_rules("fwd_a"), 2);
	ck_assert_int_eq(count_rules("nat_a"), 2);
	ck_assert_int_eq(ae_nft_list(&names, &cnt, err, sizeof err), 0);
	ck_assert_uint_eq(cnt, 1);
	ck_assert_str_eq(names[0], "a");
	ae_nft_list_free(names, cnt);
	/* the same network described otherwise does not verify */
	{
		struct ae_nft_net o = net_a;
		o.bridge = "aebr-z";
		VERIFY_FAILS(&o, "rule 1");
		o = net_a;
		o.subnet4 = "192.168.101.0/24";
		VERIFY_FAILS(&o, "nat_a");
		o = net_a;
		o.subnet6 = NULL;
		VERIFY_FAILS(&o, "unexpected rule 2");
		o = net_a;
		o.nat = 0;
		VERIFY_FAILS(&o, "no nat");
	}
	/* remove: nothing of aether is left */
	ck_assert_int_eq(ae_nft_remove("a", err, sizeof err), 0);
	ck_assert(!table_exists("inet", "aether"));
	VERIFY_FAILS(&net_a, "table inet aether is missing");
}
END_TEST

START_TEST(test_apply_twice)
{
	struct ae_nft_net n = net_a;
	char *before, *after;

	NETNS();
	APPLY(&n);
	ck_assert_int_eq(tnft("list ruleset", 0, &before), 0);
	APPLY(&n);
	VERIFY_OK(&n);
	ck_assert_int_eq(tnft("list ruleset", 0, &after), 0);
	ck_assert_str_eq(before, after);
	free(before);
	free(after);
	ck_assert_int_eq(count_rules("fwd_a"), 2);
	/* changes replace: nat off drops the nat chain, on again brings it */
	n.nat = 0;
	APPLY(&n);
	VERIFY_OK(&n);
	ck_assert_int_eq(count_rules("nat_a"), 0);
	n.nat = 1;
	n.subnet6 = NULL;
	n.bridge = "other0";
	APPLY(&n);
	VERIFY_OK(&n);
	ck_assert_int_eq(count_rules("nat_a"), 1);
}
END_TEST

START_TEST(test_two_networks)
{
	char err[512], **names;
	size_t cnt;

	NETNS();
	APPLY(&net_a);
	APPLY(&net_b);
	VERIFY_OK(&net_a);
	VERIFY_OK(&net_b);
	ck_assert_int_eq(ae_nft_remove(net_a.name, err, sizeof err), 0);
	VERIFY_OK(&net_b);
	VERIFY_FAILS(&net_a, "missing");
	ck_assert_int_eq(ae_nft_list(&names, &cnt, err, sizeof err), 0);
	ck_assert_uint_eq(cnt, 1);
	ck_assert_str_eq(names[0], net_b.name);
	ae_nft_list_free(names, cnt);
	/* again: nothing to do, b untouched */
	ck_assert_int_eq(ae_nft_remove(net_a.name, err, sizeof err), 0);
	VERIFY_OK(&net_b);
	ck_assert_int_eq(ae_nft_remove(net_b.name, err, sizeof err), 0);
	ck_assert(!table_exists("inet", "aether"));
}
END_TEST

START_TEST(test_remove_unknown)
{
	char err[512] = "";

	NETNS();
	ck_assert_int_eq(ae_nft_remove("nosuch", err, sizeof err), 0);
	ck_assert(!table_exists("inet", "aether"));
	APPLY(&net_b);
	ck_assert_int_eq(ae_nft_remove("nosuch", err, sizeof err), 0);
	VERIFY_OK(&net_b);
	ck_assert_int_eq(ae_nft_remove("bad name", err, sizeof err), -EINVAL);
	ck_assert_err_has(err, "bad name");
	VERIFY_OK(&net_b);
}
END_TEST

START_TEST(test_list)
{
	static const char *const want[] = {"a0", "b-1", "m_2", "z"};
	const char *order[] = {"z", "m_2", "a0", "b-1"};
	char err[512], **names;
	size_t cnt, i;

	NETNS();
	ck_assert_int_eq(ae_nft_list(&names, &cnt, err, sizeof err), 0);
	ck_assert_uint_eq(cnt, 0);
	ck_assert_ptr_null(names);
	for (i = 0; i < 4; i++) {
		struct ae_nft_net n = {order[i], "br0", "10.9.0.0/24", NULL,
				       (int)(i % 2)};
		APPLY(&n);
	}
	ck_assert_int_eq(ae_nft_list(&names, &cnt, err, sizeof err), 0);
	ck_assert_uint_eq(cnt, 4);
	for (i = 0; i < 4; i++)
		ck_assert_str_eq(names[i], want[i]);
	ae_nft_list_free(names, cnt);
	ck_assert_int_eq(ae_nft_remove("m_2", err, sizeof err), 0);
	ck_assert_int_eq(ae_nft_list(&names, &cnt, err, sizeof err), 0);
	ck_assert_uint_eq(cnt, 3);
	ck_assert_str_eq(names[0], "a0");
	ck_assert_str_eq(names[1], "b-1");
	ck_assert_str_eq(names[2], "z");
	ae_nft_list_free(names, cnt);
}
END_TEST

/* Bad input: refused with a message, and nothing applied. */
START_TEST(test_bad_apply)
{
	const struct bad *b = &bad_nets[_i];
	char err[512] = "";
	char *before, *after;

	NETNS();
	APPLY(&net_b);
	ck_assert_int_eq(tnft("list ruleset", 0, &before), 0);
	ck_assert_int_eq(ae_nft_apply(&b->n, err, sizeof err), -EINVAL);
	ck_assert_err_has(err, b->msg);
	ck_assert_int_eq(ae_nft_verify(&b->n, err, sizeof err), -EINVAL);
	ck_assert_int_eq(tnft("list ruleset", 0, &after), 0);
	ck_assert_str_eq(before, after);
	free(before);
	free(after);
	VERIFY_OK(&net_b);
}
END_TEST

/* Tables aether does not own stay exactly as they were. */
START_TEST(test_foreign_table)
{
	char err[512], *o1, *o2, *o3;

	NETNS();
	tnft_ok("add table inet other\n"
		"add chain inet other fwd_a { type filter hook forward "
		"priority 0; policy drop; }\n"
		"add rule inet other fwd_a iifname \"aebr-a\" counter drop\n"
		"add chain inet other nat_x\n"
		"add table ip aether\n"
		"add chain ip aether fwd_a\n"
		"add rule ip aether fwd_a ip saddr 1.2.3.4 drop\n");
	ck_assert_int_eq(tnft("list table inet other", 1, &o1), 0);
	ck_assert_int_eq(tnft("list table ip aether", 1, &o2), 0);
	APPLY(&net_a);
	VERIFY_OK(&net_a);
	{
		char **names;
		size_t cnt;
		ck_assert_int_eq(ae_nft_list(&names, &cnt, err, sizeof err), 0);
		ck_assert_uint_eq(cnt, 1);
		ae_nft_list_free(names, cnt);
	}
	ck_assert_int_eq(tnft("list table inet other", 1, &o3), 0);
	ck_assert_str_eq(o1, o3);
	free(o3);
	ck_assert_int_eq(ae_nft_remove("a", err, sizeof err), 0);
	ck_assert_int_eq(ae_nft_remove("x", err, sizeof err), 0);
	ck_assert(!table_exists("inet", "aether"));
	ck_assert_int_eq(tnft("list table inet other", 1, &o3), 0);
	ck_assert_str_eq(o1, o3);
	free(o3);
	ck_assert_int_eq(tnft("list table ip aether", 1, &o3), 0);
	ck_assert_str_eq(o2, o3);
	free(o3);
	free(o1);
	free(o2);
}
END_TEST

/* verify fails on a ruleset changed behind aether's back, and apply
 * repairs it. */
START_TEST(test_tampered)
{
	char cmd[256];

	NETNS();
	APPLY(&net_a);
	VERIFY_OK(&net_a);
	/* one rule deleted */
	snprintf(cmd, sizeof cmd, "delete rule inet aether fwd_a handle %ld",
		 rule_handle("fwd_a", 1));
	tnft_ok(cmd);
	VERIFY_FAILS(&net_a, "chain fwd_a: 1 rules, expected 2");
	APPLY(&net_a);
	VERIFY_OK(&net_a);
	/* the masquerade rule deleted */
	snprintf(cmd, sizeof cmd, "delete rule inet aether nat_a handle %ld",
		 rule_handle("nat_a", 0));
	tnft_ok(cmd);
	VERIFY_FAILS(&net_a, "chain nat_a: rule 1");
	APPLY(&net_a);
	/* a rule added */
	tnft_ok("add rule inet aether fwd_a counter accept");
	VERIFY_FAILS(&net_a, "unexpected rule 3");
	APPLY(&net_a);
	/* a rule inserted before ours */
	tnft_ok("insert rule inet aether nat_a ip saddr 10.0.0.0/8 accept");
	VERIFY_FAILS(&net_a, "rule 1");
	APPLY(&net_a);
	/* the chain replaced by one on another hook */
	tnft_ok("flush chain inet aether nat_a\ndelete chain inet aether nat_a\n"
		"add chain inet aether nat_a { type filter hook input "
		"priority 0; policy accept; }");
	VERIFY_FAILS(&net_a, "chain nat_a: type is \"filter\"");
	APPLY(&net_a);
	VERIFY_OK(&net_a);
	/* policy changed */
	tnft_ok("add chain inet aether fwd_a { type filter hook forward "
		"priority 0; policy drop; }");
	VERIFY_FAILS(&net_a, "policy");
	APPLY(&net_a);
	/* a chain gone */
	tnft_ok("flush chain inet aether fwd_a\ndelete chain inet aether fwd_a");
	VERIFY_FAILS(&net_a, "chain fwd_a is missing");
	APPLY(&net_a);
	VERIFY_OK(&net_a);
}
END_TEST

/* An error from the kernel carries libnftables' message and the network,
 * and the transaction is all or nothing: fwd_a already exists as a
 * regular chain that another chain jumps to, so it cannot be deleted. */
START_TEST(test_kernel_error)
{
	char err[1024] = "";

	NETNS();
	tnft_ok("add table inet aether\nadd chain inet aether fwd_a\n"
		"add chain inet aether keep\n"
		"add rule inet aether keep jump fwd_a\n");
	ck_assert_int_lt(ae_nft_apply(&net_a, err, sizeof err), 0);
	ck_assert_err_has(err, "network a: nft apply: Error:");
	ck_assert_err_has(err, "Device or resource busy");
	/* nothing of it applied: fwd_a is still the regular chain */
	ck_assert_int_eq(count_rules("keep"), 1);
	ck_assert_int_eq(count_rules("nat_a"), 0);
	VERIFY_FAILS(&net_a, "fwd_a");
}
END_TEST

static int read_int(const char *path)
{
	char b[16] = "";
	int fd = open(path, O_RDONLY);
	ssize_t n;

	ck_assert_msg(fd >= 0, "%s: %s", path, strerror(errno));
	n = read(fd, b, sizeof b - 1);
	close(fd);
	ck_assert_int_gt(n, 0);
	return atoi(b);
}

static void write_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY);

	ck_assert_msg(fd >= 0, "%s: %s", path, strerror(errno));
	ck_assert_int_eq(write(fd, s, strlen(s)), (ssize_t)strlen(s));
	close(fd);
}

START_TEST(test_forwarding)
{
	const char *v4 = "/proc/sys/net/ipv4/ip_forward";
	const char *v6 = "/proc/sys/net/ipv6/conf/all/forwarding";
	char err[512];

	NETNS();
	write_str(v4, "0");
	if (access(v6, W_OK) == 0)
		write_str(v6, "0");
	ck_assert_int_eq(read_int(v4), 0);
	ck_assert_int_eq(ae_sysctl_forwarding(0, err, sizeof err), 0);
	ck_assert_int_eq(read_int(v4), 1);
	if (access(v6, W_OK) == 0) {
		ck_assert_int_eq(read_int(v6), 0);
		ck_assert_int_eq(ae_sysctl_forwarding(1, err, sizeof err), 0);
		ck_assert_int_eq(read_int(v6), 1);
	}
}
END_TEST

static Suite *nft_suite(void)
{
	Suite *s = suite_create("nft");
	TCase *tc = tcase_create("validation");
	int nbad = (int)(sizeof bad_nets / sizeof bad_nets[0]);

	tcase_add_test(tc, test_names);
	tcase_add_test(tc, test_subnet_canon);
	tcase_add_loop_test(tc, test_bad_text, 0, nbad);
	tcase_add_test(tc, test_apply_text);
	suite_add_tcase(s, tc);

	tc = tcase_create("kernel");
	tcase_add_test(tc, test_apply_verify);
	tcase_add_test(tc, test_apply_twice);
	tcase_add_test(tc, test_two_networks);
	tcase_add_test(tc, test_remove_unknown);
	tcase_add_test(tc, test_list);
	tcase_add_loop_test(tc, test_bad_apply, 0, nbad);
	tcase_add_test(tc, test_foreign_table);
	tcase_add_test(tc, test_tampered);
	tcase_add_test(tc, test_kernel_error);
	tcase_add_test(tc, test_forwarding);
	suite_add_tcase(s, tc);
	return s;
}

/* In the probe's private namespace: can nftables add a table? */
static void probe_nft(char *msg, size_t len)
{
	struct nft_ctx *ctx = nft_ctx_new(NFT_CTX_DEFAULT);

	if (!ctx) {
		snprintf(msg, len, "nft_ctx_new failed");
		return;
	}
	nft_ctx_buffer_output(ctx);
	nft_ctx_buffer_error(ctx);
	if (nft_run_cmd_from_buffer(ctx, "add table inet probe"))
		snprintf(msg, len, "nftables: %s",
			 nft_ctx_get_error_buffer(ctx));
	nft_ctx_free(ctx);
}

/* Can this process make a network namespace and change its ruleset? */
static int probe(char *why, size_t len)
{
	return ck_probe_netns(why, len, probe_nft);
}

int main(void)
{
	SRunner *sr;
	int failed;

	ck_skip_init();
	ns_ok = probe(ns_why, sizeof ns_why) == 0;
	if (!ns_ok)
		fprintf(stderr, "check_nft: no private network namespace with "
				"nftables (%s): only the validation cases run\n",
			ns_why);
	sr = srunner_create(nft_suite());
	/* every kernel case unshares its own network namespace */
	srunner_set_fork_status(sr, CK_FORK);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return ck_exit_status(failed);
}
