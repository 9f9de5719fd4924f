/* net-cmd.c - `aether net list|show|start|stop`. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addrpool.h"
#include "dnsmasq.h"
#include "net.h"
#include "runtime.h"
#include "store.h"
#include "supervisor.h"
#include "util.h"
#include "vmconf.h"

/* The host config's networks and the runtime root. */
struct netctx {
	struct ae_ini *host;
	struct ae_netconf nc;
	char *root;
};

int ae_net_context(const char *hostconf, struct ae_ini **host,
		   struct ae_netconf *nc, char **root, char *err,
		   size_t errlen)
{
	const char *hc = ae_host_config_path(hostconf);
	const struct ae_ini_entry *e;
	int rc;

	*host = NULL;
	*root = NULL;
	nc->v = NULL;
	nc->n = 0;
	if (hc && (rc = ae_ini_parse_file(hc, host, err, errlen)) < 0)
		return rc;
	if ((rc = ae_netconf_load(*host, nc, err, errlen)) < 0)
		goto fail;
	e = ae_ini_get(ae_ini_find(*host, "aether"), "runtime_dir");
	ae_runtime_set_default(e ? e->value : NULL);
	if ((rc = ae_runtime_root(NULL, root, err, errlen)) < 0)
		goto fail;
	return 0;
fail:
	ae_netconf_free(nc);
	ae_ini_free(*host);
	*host = NULL;
	return rc;
}

static void ctx_free(struct netctx *c)
{
	ae_netconf_free(&c->nc);
	ae_ini_free(c->host);
	free(c->root);
}

static int reservations(const struct ae_net *n, struct ae_resv **v,
			size_t *cnt)
{
	char *store, err[512], *dir;
	int rc;

	*v = NULL;
	*cnt = 0;
	if (ae_store_root(&store, err, sizeof err) < 0)
		return 0;
	dir = ae_xasprintf("%s/net/%s", store, n->name);
	free(store);
	rc = ae_pool_read(dir, v, cnt, err, sizeof err);
	if (rc < 0)
		ae_warn("%s", err);
	free(dir);
	return rc;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: aether net list [--json]\n"
		"       aether net show NAME [--json]\n"
		"       aether net start NAME\n"
		"       aether net stop NAME [--force]\n");
}

static int net_list(struct netctx *c, int json)
{
	size_t i;

	if (json)
		printf("[");
	for (i = 0; i < c->nc.n; i++) {
		const struct ae_net *n = &c->nc.v[i];
		struct ae_net_state st;
		struct ae_resv *v;
		size_t cnt;

		ae_net_state(n, c->root, &st);
		reservations(n, &v, &cnt);
		free(v);
		if (json)
			printf("%s{\"name\": \"%s\", \"state\": \"%s\", "
			       "\"bridge\": \"%s\", \"subnet\": \"%s\", "
			       "\"ipv6\": %s%s%s, \"vms\": %zu}",
			       i ? ", " : "", n->name, st.up ? "up" : "down",
			       n->bridge, n->subnet4, n->has6 ? "\"" : "",
			       n->has6 ? n->subnet6 : "null",
			       n->has6 ? "\"" : "", cnt);
		else
			printf("%-11s %-4s %-15s %-18s %-24s %zu\n", n->name,
			       st.up ? "up" : "down", n->bridge, n->subnet4,
			       n->has6 ? n->subnet6 : "-", cnt);
	}
	if (json)
		printf("]\n");
	return 0;
}

static int net_show(struct netctx *c, const struct ae_net *n, int json)
{
	struct ae_net_state st;
	struct ae_resv *v;
	size_t cnt, i;
	char *dir = ae_xasprintf("%s/net/%s", c->root, n->name);

	ae_net_state(n, c->root, &st);
	reservations(n, &v, &cnt);
	if (json) {
		printf("{\"name\": \"%s\", \"state\": \"%s\", \"bridge\": "
		       "\"%s\", \"subnet\": \"%s\", \"gateway\": \"%s\", "
		       "\"ipv6\": %s%s%s, \"nat\": %s, \"dns_domain\": \"%s\", "
		       "\"ephemeral\": %s, \"dnsmasq\": ",
		       n->name, st.up ? "up" : "down", n->bridge, n->subnet4,
		       n->gw4, n->has6 ? "\"" : "",
		       n->has6 ? n->subnet6 : "null", n->has6 ? "\"" : "",
		       n->nat ? "true" : "false", n->domain,
		       n->ephemeral ? "true" : "false");
		if (st.dnsmasq_pid)
			printf("%ld", st.dnsmasq_pid);
		else
			printf("null");
		printf(", \"reservations\": [");
	} else {
		printf("name: %s\nstate: %s\nbridge: %s\nsubnet: %s\n"
		       "gateway: %s\nipv6: %s\nnat: %s\ndns_domain: %s\n"
		       "ephemeral: %s\n",
		       n->name, st.up ? "up" : "down", n->bridge, n->subnet4,
		       n->gw4, n->has6 ? n->subnet6 : "-",
		       n->nat ? "yes" : "no", n->domain,
		       n->ephemeral ? "yes" : "no");
		if (st.dnsmasq_pid)
			printf("dnsmasq: %ld\n", st.dnsmasq_pid);
		else
			printf("dnsmasq: -\n");
	}
	for (i = 0; i < cnt; i++) {
		char m[18], a[16];
		int leased = ae_dnsmasq_leased(dir, v[i].mac, v[i].addr);

		ae_format_mac(v[i].mac, m);
		ae_pool_fmt(v[i].addr, a);
		if (json)
			printf("%s{\"vm\": \"%s\", \"mac\": \"%s\", "
			       "\"address\": \"%s\", \"leased\": %s}",
			       i ? ", " : "", v[i].vm, m, a,
			       leased ? "true" : "false");
		else
			printf("reservation: %s %s %s %s\n", v[i].vm, m, a,
			       leased ? "leased" : "not-leased");
	}
	if (json)
		printf("]}\n");
	free(v);
	free(dir);
	return 0;
}

static int net_start(struct netctx *c, const struct ae_net *n)
{
	char err[1024];
	int lock, rc;

	if ((lock = ae_runtime_lock(c->root, err, sizeof err)) < 0) {
		ae_err("%s", err);
		return AE_EXIT_ERROR;
	}
	rc = ae_net_up_locked(n, c->root, err, sizeof err);
	close(lock);
	if (rc < 0) {
		ae_err("%s", err);
		return AE_EXIT_ERROR;
	}
	return 0;
}

static int net_stop(struct netctx *c, const char *name,
		    const struct ae_net *n, int force)
{
	char err[1024], **users = NULL;
	size_t nu = 0, i;
	int lock, rc;

	if ((lock = ae_runtime_lock(c->root, err, sizeof err)) < 0) {
		ae_err("%s", err);
		return AE_EXIT_ERROR;
	}
	ae_net_users(c->root, name, &users, &nu);
	if (nu && !force) {
		char list[1024] = "";
		size_t l = 0;
		for (i = 0; i < nu && l < sizeof list; i++)
			l += (size_t)snprintf(list + l, sizeof list - l, "%s%s",
					      i ? ", " : "", users[i]);
		ae_err("network %s is used by running VM%s %s: stop %s first, "
		       "or use --force", name, nu > 1 ? "s" : "", list,
		       nu > 1 ? "them" : "it");
		ae_net_names_free(users, nu);
		close(lock);
		return AE_EXIT_ERROR;
	}
	ae_net_names_free(users, nu);
	rc = ae_net_down_locked(name, n, c->root, err, sizeof err);
	close(lock);
	if (rc < 0) {
		ae_err("%s", err);
		return AE_EXIT_ERROR;
	}
	return 0;
}

int ae_cmd_net(int argc, char **argv, const char *hostconf)
{
	struct netctx c = {0};
	const struct ae_net *n = NULL;
	const char *verb, *name = NULL;
	char err[1024];
	int json = 0, force = 0, i, rc;

	if (argc < 2) {
		usage();
		return AE_EXIT_USAGE;
	}
	verb = argv[1];
	for (i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--json") &&
		    (!strcmp(verb, "list") || !strcmp(verb, "show")))
			json = 1;
		else if (!strcmp(argv[i], "--force") && !strcmp(verb, "stop"))
			force = 1;
		else if (argv[i][0] != '-' && !name && strcmp(verb, "list"))
			name = argv[i];
		else {
			usage();
			return AE_EXIT_USAGE;
		}
	}
	if (strcmp(verb, "list") && strcmp(verb, "show") &&
	    strcmp(verb, "start") && strcmp(verb, "stop")) {
		fprintf(stderr, "aether: net: unknown command '%s'\n", verb);
		usage();
		return AE_EXIT_USAGE;
	}
	if (strcmp(verb, "list") && !name) {
		fprintf(stderr, "aether: net %s needs a network name\n", verb);
		usage();
		return AE_EXIT_USAGE;
	}
	if (name && !ae_net_valid_name(name)) {
		ae_err("net %s: '%s' is not a network name", verb, name);
		return AE_EXIT_ERROR;
	}
	if (ae_net_context(hostconf, &c.host, &c.nc, &c.root, err,
			   sizeof err) < 0) {
		ae_err("%s", err);
		return AE_EXIT_ERROR;
	}
	if (name)
		n = ae_netconf_find(&c.nc, name);
	if (name && !n && strcmp(verb, "stop")) {
		ae_err("net %s: no network %s in the host config (%s)", verb,
		       name,
		       c.host ? c.host->file : "none: aether.conf(5), [net.NAME]");
		ctx_free(&c);
		return AE_EXIT_ERROR;
	}
	if (!strcmp(verb, "list"))
		rc = net_list(&c, json);
	else if (!strcmp(verb, "show"))
		rc = net_show(&c, n, json);
	else if (!strcmp(verb, "start"))
		rc = net_start(&c, n);
	else
		rc = net_stop(&c, name, n, force);
	ctx_free(&c);
	return rc;
}
