/* vm-network.c - `aether network switch|show`: a running VM's networking
 * backend, changed live through its supervisor's control socket (see
 * control.h), and what it is attached to now.
 *
 * switch checks the new backend's section before it asks: the host
 * config's [network.BACKEND], the VM file's over it and the --set values
 * over both (a key given with --set replaces every value of that key),
 * against the plugin's option table and its validate verb, as a VM file
 * is checked.  With --persist the VM file is rewritten (atomically, after
 * the switch succeeded) so that the next start uses the new backend:
 * [network] backend = BACKEND and the --set values in [network.BACKEND],
 * the section of the old backend removed (a VM file has its backend's
 * only); everything else of the file, comments included, stays as it
 * was. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "control.h"
#include "exitcodes.h"
#include "instance.h"
#include "json.h"
#include "lifecycle.h"
#include "loader.h"
#include "options.h"
#include "util.h"
#include "vmconf.h"
#include "vmref.h"

/* Bounds of a switch request (also what the host agent accepts). */
#define NET_MAX_SET AE_NETWORK_MAX_SET
#define NET_MAX_VALUE AE_NETWORK_MAX_VALUE

struct kv {
	char *key;
	const char *value;
};

static void usage(void)
{
	fprintf(stderr,
		"usage: aether network switch VM BACKEND [--set KEY=VALUE]... "
		"[--persist]\n"
		"       aether network show VM [--json]\n");
}

/* KEY=VALUE of --set: 0, or -1 having said why. */
static int parse_set(const char *arg, struct kv *out)
{
	const char *eq = strchr(arg, '=');
	const unsigned char *p;

	out->key = NULL;
	if (!eq || eq == arg) {
		ae_err("--set '%.80s': not KEY=VALUE", arg);
		return -1;
	}
	out->key = ae_xasprintf("%.*s", (int)(eq - arg), arg);
	out->value = eq + 1;
	if (!ae_network_valid_key(out->key)) {
		ae_err("--set '%.80s': '%.64s' is not an option name "
		       "([a-z0-9_], up to 64)", arg, out->key);
		return -1;
	}
	if (strlen(out->value) > NET_MAX_VALUE) {
		ae_err("--set %s: value of %zu bytes is over the limit of %d",
		       out->key, strlen(out->value), NET_MAX_VALUE);
		return -1;
	}
	for (p = (const unsigned char *)out->value; *p; p++)
		if ((*p < 0x20 && *p != '\t') || *p == 0x7f) {
			ae_err("--set %s: the value contains a %s (0x%02x), "
			       "which a config file value cannot hold",
			       out->key, *p == '\n' ? "newline"
						    : "control character", *p);
			return -1;
		}
	return 0;
}

/* One KEY=VALUE token of the request line: the value bare when that is
 * safe, else double-quoted with the config file's escapes (\\ \" \; \#),
 * as aether.conf(5) QUOTING reads it. */
static void append_token(char **req, const struct kv *s)
{
	const unsigned char *p = (const unsigned char *)s->value;
	int bare = *p != '\0';
	size_t n = strlen(*req), cap;
	char *o;

	for (; *p; p++)
		if (*p <= 0x20 || *p == '"' || *p == ';' || *p == '#' ||
		    *p == '\\' || *p == 0x7f)
			bare = 0;
	cap = n + 1 + strlen(s->key) + 1 + 2 * strlen(s->value) + 3;
	*req = ae_xrealloc(*req, cap);
	o = *req + n;
	o += sprintf(o, " %s=", s->key);
	if (bare) {
		strcpy(o, s->value);
		return;
	}
	*o++ = '"';
	for (p = (const unsigned char *)s->value; *p; p++) {
		if (*p == '\\' || *p == '"' || *p == ';' || *p == '#')
			*o++ = '\\';
		*o++ = (char)*p;
	}
	*o++ = '"';
	*o = '\0';
}

static int in_set(const struct kv *set, size_t n, const char *key)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strcmp(set[i].key, key))
			return 1;
	return 0;
}

/* The new backend's section as the supervisor will build it, checked
 * against the plugin: 0, or -1 having said why (file:line of the host
 * config or the VM file, or --set:N for the Nth --set). */
static int check_new_section(const struct vmref *v, const char *backend,
			     const struct kv *set, size_t n_set)
{
	struct ae_ini_section m = {0};
	const struct ae_ini_section *vs, *hs;
	struct ae_ini_entry *se;
	struct ae_plugin *p;
	char name[64], err[1024];
	size_t i, j;
	int rc;

	snprintf(name, sizeof name, "network.%s", backend);
	vs = ae_ini_find(v->c->vm_ini, name);
	hs = ae_ini_find(v->c->host_ini, name);
	m.name = name;
	m.file = vs ? vs->file : hs ? hs->file : "--set";
	m.line = vs ? vs->line : hs ? hs->line : 0;
	m.entries = ae_xcalloc((vs ? vs->n_entries : 0) +
				       (hs ? hs->n_entries : 0) + n_set + 1,
			       sizeof *m.entries);
	se = ae_xcalloc(n_set + 1, sizeof *se);
	for (i = 0; vs && i < vs->n_entries; i++)
		if (!in_set(set, n_set, vs->entries[i].key))
			m.entries[m.n_entries++] = vs->entries[i];
	for (i = 0; hs && i < hs->n_entries; i++) {
		int over = in_set(set, n_set, hs->entries[i].key);
		for (j = 0; vs && j < vs->n_entries; j++)
			if (!strcmp(vs->entries[j].key, hs->entries[i].key))
				over = 1;
		if (!over)
			m.entries[m.n_entries++] = hs->entries[i];
	}
	for (i = 0; i < n_set; i++) {
		se[i].key = set[i].key;
		se[i].value = (char *)set[i].value;
		se[i].file = "--set";
		se[i].line = (int)i + 1;
		m.entries[m.n_entries++] = se[i];
	}
	rc = ae_plugin_load(backend, v->c->plugin_dir, &p, err, sizeof err);
	if (rc == 0) {
		rc = ae_instance_check_options(p, backend, &m, err,
					       sizeof err);
		ae_plugin_unload(p);
	}
	if (rc < 0)
		ae_err("network switch %s: %s", v->name, err);
	free(m.entries);
	free(se);
	return rc < 0 ? -1 : 0;
}

/* ------------------------------------------------------------------ */
/* the VM file with the new backend                                    */

struct line {
	const char *text;
	size_t len;   /* without the newline */
	int drop;
	char *after;  /* text inserted after this line, or NULL */
};

static void add_after(struct line *l, const char *text)
{
	char *t = ae_xasprintf("%s%s", l->after ? l->after : "", text);

	free(l->after);
	l->after = t;
}

/* Drop line `no` (1-based) and the indented continuation lines after it. */
static void drop_entry(struct line *ls, size_t n, int no)
{
	size_t i = (size_t)no - 1;

	if (no < 1 || i >= n)
		return;
	ls[i].drop = 1;
	for (i++; i < n && ls[i].len &&
		  (ls[i].text[0] == ' ' || ls[i].text[0] == '\t'); i++) {
		size_t k = strspn(ls[i].text, " \t");
		if (k == ls[i].len || ls[i].text[k] == ';' ||
		    ls[i].text[k] == '#')
			break;
		ls[i].drop = 1;
	}
}

/* The text of vmfile (already read: text, len) with [network] backend =
 * backend, the --set values in [network.BACKEND] and no section of another
 * backend (a VM file may only have its own); malloc'd, or NULL having
 * said why. */
static char *persisted_text(const char *vmfile, const char *text, size_t len,
			    const char *backend, const struct kv *set,
			    size_t n_set)
{
	struct ae_ini *ini;
	const struct ae_ini_section *net, *bs;
	struct line *ls = NULL;
	size_t n = 0, i, out_len = 0;
	char err[1024], name[64], *out = NULL, *tail = NULL, *sets = NULL;
	const char *p = text, *end = text + len;

	if (ae_ini_parse_text(text, len, vmfile, &ini, err, sizeof err) < 0) {
		ae_err("%s", err);
		return NULL;
	}
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		ls = ae_xrealloc(ls, (n + 1) * sizeof *ls);
		ls[n].text = p;
		ls[n].len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		ls[n].drop = 0;
		ls[n].after = NULL;
		n++;
		p = nl ? nl + 1 : end;
	}
	sets = ae_xstrdup("");
	for (i = 0; i < n_set; i++) {
		char *e = ae_ini_format_entry(set[i].key, set[i].value, err,
					      sizeof err), *t;
		if (!e) {
			ae_err("--set %s: %s", set[i].key, err);
			goto out;
		}
		t = ae_xasprintf("%s%s", sets, e);
		free(sets);
		free(e);
		sets = t;
	}
	tail = ae_xstrdup("");
	net = ae_ini_find(ini, "network");
	if (net && net->line >= 1 && (size_t)net->line <= n) {
		char *b = ae_xasprintf("backend = %s\n", backend);
		for (i = 0; i < net->n_entries; i++)
			if (!strcmp(net->entries[i].key, "backend"))
				drop_entry(ls, n, net->entries[i].line);
		add_after(&ls[net->line - 1], b);
		free(b);
	} else {
		char *t = ae_xasprintf("%s\n[network]\nbackend = %s\n", tail,
				       backend);
		free(tail);
		tail = t;
	}
	snprintf(name, sizeof name, "network.%s", backend);
	bs = ae_ini_find(ini, name);
	if (bs && bs->line >= 1 && (size_t)bs->line <= n) {
		for (i = 0; i < bs->n_entries; i++)
			if (in_set(set, n_set, bs->entries[i].key))
				drop_entry(ls, n, bs->entries[i].line);
		add_after(&ls[bs->line - 1], sets);
	} else if (n_set) {
		char *t = ae_xasprintf("%s\n[%s]\n%s", tail, name, sets);
		free(tail);
		tail = t;
	}
	/* A VM file has the section of its backend only: the others go. */
	{
		int other = 0;
		for (i = 0; i < n; i++) {
			const char *t = ls[i].text, *close;
			if (ls[i].len && t[0] == '[' &&
			    (close = memchr(t, ']', ls[i].len))) {
				size_t nl = (size_t)(close - t - 1);
				other = nl > 8 && !strncmp(t + 1, "network.", 8) &&
					!(nl == strlen(name) &&
					  !strncmp(t + 1, name, nl));
			}
			if (other) {
				ls[i].drop = 1;
				free(ls[i].after);
				ls[i].after = NULL;
			}
		}
	}
	for (i = 0; i < n; i++)
		out_len += ls[i].len + 1 + (ls[i].after ? strlen(ls[i].after)
							  : 0);
	out = ae_xmalloc(out_len + strlen(tail) + 1);
	out_len = 0;
	for (i = 0; i < n; i++) {
		if (!ls[i].drop) {
			memcpy(out + out_len, ls[i].text, ls[i].len);
			out_len += ls[i].len;
			out[out_len++] = '\n';
		}
		if (ls[i].after) {
			strcpy(out + out_len, ls[i].after);
			out_len += strlen(ls[i].after);
		}
	}
	strcpy(out + out_len, tail);
out:
	for (i = 0; i < n; i++)
		free(ls[i].after);
	free(ls);
	free(tail);
	free(sets);
	ae_ini_free(ini);
	return out;
}

/* Write the new VM file next to the VM's and check that it loads with
 * the host config: its path (malloc'd), or NULL having said why. */
static char *prepare_persist(const struct vmref *v, const char *hostconf,
			     const char *backend, const struct kv *set,
			     size_t n_set)
{
	struct ae_vmconf *c;
	char *text, *nt, *tmp, err[1024];
	size_t len;
	int rc;

	rc = ae_read_file(v->vmfile, &text, &len, 1u << 20);
	if (rc < 0) {
		ae_err("%s: %s", v->vmfile, strerror(-rc));
		return NULL;
	}
	nt = persisted_text(v->vmfile, text, len, backend, set, n_set);
	free(text);
	if (!nt)
		return NULL;
	tmp = ae_xasprintf("%s.network", v->vmfile);
	rc = ae_write_file(tmp, nt, strlen(nt), 0600);
	free(nt);
	if (rc < 0) {
		ae_err("%s: %s", tmp, strerror(-rc));
		free(tmp);
		return NULL;
	}
	if (ae_vmconf_load(tmp, hostconf, &c, err, sizeof err) < 0) {
		ae_err("--persist: the VM file with backend %s would not "
		       "load: %s", backend, err);
		unlink(tmp);
		free(tmp);
		return NULL;
	}
	ae_vmconf_free(c);
	return tmp;
}

/* ------------------------------------------------------------------ */
/* the request                                                        */

/* The VM's control socket, checked like `aether forward` does: its path
 * (malloc'd), or NULL having said why. */
static char *control_path(const struct vmref *v)
{
	struct stat st;

	if (!vmref_running(v)) {
		ae_err("VM %s is not running", v->name);
		return NULL;
	}
	if (lstat(v->rtdir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		ae_err("VM %s is not running (no %s)", v->name, v->rtdir);
		return NULL;
	}
	if ((st.st_uid != geteuid() && geteuid() != 0) || (st.st_mode & 077)) {
		ae_err("%s is not a private directory of ours: refusing it",
		       v->rtdir);
		return NULL;
	}
	return ae_xasprintf("%s/control.sock", v->rtdir);
}

/* Send req; *body gets the reply's body (malloc'd, maybe empty).  0, or
 * -1 having said why. */
static int ask(const struct vmref *v, const char *req, char **body)
{
	char err[1024], *path, *reply = NULL, *nl;
	int rc;

	*body = NULL;
	if (!(path = control_path(v)))
		return -1;
	rc = ae_control_request(path, req, &reply, err, sizeof err);
	free(path);
	if (rc < 0) {
		if ((nl = strchr(err, '\n')))
			*nl = '\0';
		if (rc == -ENOENT && !reply)
			ae_err("VM %s has no control socket (is it running "
			       "under this aether?): %s", v->name, err);
		else
			ae_err("%s: %s", v->name, err);
		free(reply);
		return -1;
	}
	nl = strchr(reply, '\n');
	*body = ae_xstrdup(nl ? nl + 1 : "");
	free(reply);
	return 0;
}

static int net_switch(int argc, char **argv, const char *hostconf)
{
	static const struct option lo[] = {
		{"set", required_argument, NULL, 's'},
		{"persist", no_argument, NULL, 'p'},
		{NULL, 0, NULL, 0},
	};
	struct kv set[NET_MAX_SET];
	size_t n_set = 0, i;
	struct vmref v;
	const char *vm, *backend;
	char *req = NULL, *body = NULL, *tmp = NULL, *line, *save = NULL;
	int ch, persist = 0, lock = -1, ret = AE_EXIT_ERROR;

	memset(&v, 0, sizeof v);
	argv[0] = (char *)"aether network switch"; /* getopt's messages */
	optind = 0;
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 's':
			if (n_set == NET_MAX_SET) {
				ae_err("network switch: more than %d --set",
				       NET_MAX_SET);
				ret = AE_EXIT_USAGE;
				goto out;
			}
			if (parse_set(optarg, &set[n_set]) < 0) {
				free(set[n_set].key);
				ret = AE_EXIT_USAGE;
				goto out;
			}
			n_set++;
			break;
		case 'p':
			persist = 1;
			break;
		default:
			usage();
			ret = AE_EXIT_USAGE;
			goto out;
		}
	}
	if (argc - optind != 2) {
		usage();
		ret = AE_EXIT_USAGE;
		goto out;
	}
	vm = argv[optind];
	backend = argv[optind + 1];
	if (!ae_valid_backend_name(backend)) {
		ae_err("network switch: '%.64s' is not a backend name "
		       "([a-z0-9_], up to 31)", backend);
		ret = AE_EXIT_USAGE;
		goto out;
	}
	if (vmref_open(vm, hostconf, 1, &v) < 0)
		goto out;
	/* No start, stop or other switch of this VM meanwhile. */
	if ((lock = vmref_lock_dir(v.dir)) < 0)
		goto out;
	vmref_probe(&v);
	if (!vmref_running(&v)) {
		ae_err("VM %s is not running (a stopped VM changes backend "
		       "in its file: [network] backend)", vm);
		goto out;
	}
	if (check_new_section(&v, backend, set, n_set) < 0)
		goto out;
	if (persist &&
	    !(tmp = prepare_persist(&v, hostconf, backend, set, n_set)))
		goto out;
	req = ae_xasprintf("network switch %s", backend);
	for (i = 0; i < n_set; i++)
		append_token(&req, &set[i]);
	if (strlen(req) >= AE_NETWORK_MAX_REQUEST) {
		ae_err("network switch %s: the request is %zu bytes, over the "
		       "control socket's limit of %d: fewer or shorter --set",
		       vm, strlen(req), AE_NETWORK_MAX_REQUEST - 1);
		goto out;
	}
	if (ask(&v, req, &body) < 0)
		goto out;
	printf("%s: now on backend %s\n", vm, backend);
	for (line = strtok_r(body, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save))
		if (!strncmp(line, "dropped-forward ", 16))
			printf("%s: forward %s dropped: backend %s did not "
			       "take it\n", vm, line + 16, backend);
	ret = 0;
	if (tmp) {
		if (rename(tmp, v.vmfile) < 0) {
			ae_err("%s: %s (the VM runs on %s; its file is "
			       "unchanged)", v.vmfile, strerror(errno),
			       backend);
			ret = AE_EXIT_ERROR;
		} else {
			free(tmp);
			tmp = NULL;
			printf("%s: %s now names backend %s\n", vm, v.vmfile,
			       backend);
		}
	}
out:
	if (tmp) {
		unlink(tmp);
		free(tmp);
	}
	for (i = 0; i < n_set; i++)
		free(set[i].key);
	free(req);
	free(body);
	if (lock >= 0)
		close(lock);
	vmref_free(&v);
	return ret;
}

/* `network show` body lines as one JSON object. */
static json_t *show_json(const char *vm, char *body)
{
	json_t *o = ae_json_object(), *opts = ae_json_object();
	json_t *addrs = ae_json_array(), *att = json_null();
	char *line, *save = NULL, why[256];

	ae_json_set(o, "name", ae_json_text(vm));
	for (line = strtok_r(body, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *sp = strchr(line, ' '), *rest, *sp2;
		if (!sp)
			continue;
		*sp = '\0';
		rest = sp + 1;
		sp2 = strchr(rest, ' ');
		if (!strcmp(line, "backend")) {
			ae_json_set(o, "backend", ae_json_text(rest));
		} else if (!strcmp(line, "option") && sp2) {
			char *dec = NULL;
			json_t *prev, *val;
			*sp2 = '\0';
			if (ae_ini_decode_value(sp2 + 1, &dec, why,
						sizeof why) < 0)
				dec = NULL;
			val = ae_json_text(dec ? dec : sp2 + 1);
			free(dec);
			prev = json_object_get(opts, rest);
			if (json_is_array(prev)) {
				ae_json_append(prev, val);
			} else if (prev) {
				json_t *a = ae_json_array();
				ae_json_append(a, json_incref(prev));
				ae_json_append(a, val);
				ae_json_set(opts, rest, a);
			} else {
				ae_json_set(opts, rest, val);
			}
		} else if (!strcmp(line, "attachment")) {
			json_decref(att);
			att = ae_json_object();
			if (sp2)
				*sp2 = '\0';
			ae_json_set(att, "kind", ae_json_text(rest));
			ae_json_set(att, "detail",
				    ae_json_text(sp2 ? sp2 + 1 : ""));
		} else if (!strcmp(line, "address")) {
			json_t *a = ae_json_object();
			if (sp2)
				*sp2 = '\0';
			ae_json_set(a, "address", ae_json_text(rest));
			ae_json_set(a, "source",
				    ae_json_text(sp2 ? sp2 + 1 : ""));
			ae_json_append(addrs, a);
		}
	}
	ae_json_set(o, "options", opts);
	ae_json_set(o, "attachment", att);
	ae_json_set(o, "addresses", addrs);
	return o;
}

static int net_show(int argc, char **argv, const char *hostconf)
{
	struct vmref v;
	char *body = NULL;
	int json = 0, ret = AE_EXIT_ERROR;

	if (argc == 3 && !strcmp(argv[2], "--json"))
		json = 1;
	else if (argc != 2) {
		usage();
		return AE_EXIT_USAGE;
	}
	if (vmref_open(argv[1], hostconf, 1, &v) < 0)
		goto out;
	if (ask(&v, "network show", &body) < 0)
		goto out;
	if (json)
		ret = ae_json_print(show_json(v.name, body), stdout,
				    "network show") < 0 ? AE_EXIT_ERROR : 0;
	else {
		fputs(body, stdout);
		ret = 0;
	}
out:
	free(body);
	vmref_free(&v);
	return ret;
}

int ae_cmd_network(int argc, char **argv, const char *hostconf)
{
	if (argc >= 2 && !strcmp(argv[1], "switch"))
		return net_switch(argc - 1, argv + 1, hostconf);
	if (argc >= 2 && !strcmp(argv[1], "show"))
		return net_show(argc - 1, argv + 1, hostconf);
	usage();
	return AE_EXIT_USAGE;
}
