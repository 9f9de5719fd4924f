/* options.c - validation of a plugin's config section against its option
 * table, and typed lookups for the plugin. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"
#include "util.h"

struct ae_optval {
	const struct aether_option *opt;
	char **values;
	char **files; /* where each value was set: file and line */
	int *lines;
	size_t n;
};

struct ae_optset {
	const struct aether_option *table;
	struct ae_optval *vals;
	size_t n;
	char *section; /* "network.NAME" */
	char *file;    /* the section's file and the line of its header, */
	int line;      /* NULL and 0 without a section */
};

const char *ae_option_type_name(uint32_t type)
{
	switch (type) {
	case AETHER_OPT_STRING: return "string";
	case AETHER_OPT_BOOL: return "boolean";
	case AETHER_OPT_INT: return "integer";
	case AETHER_OPT_PATH: return "absolute path";
	case AETHER_OPT_IFNAME: return "interface name";
	default: return "unknown";
	}
}

int ae_option_check_value(const struct aether_option *opt, const char *value,
			  char *err, size_t errlen)
{
	int64_t v;
	int b, rc;

	switch (opt->type) {
	case AETHER_OPT_STRING:
		return 0;
	case AETHER_OPT_BOOL:
		if (ae_parse_bool(value, &b) < 0)
			return ae_seterr(err, errlen, EINVAL,
					 "'%s' is not a boolean (yes/no)",
					 value);
		return 0;
	case AETHER_OPT_INT:
		rc = ae_parse_int(value, &v);
		if (rc < 0)
			return ae_seterr(err, errlen, EINVAL,
					 "'%s' is not an integer", value);
		if ((opt->min || opt->max) && (v < opt->min || v > opt->max))
			return ae_seterr(err, errlen, ERANGE,
					 "%" PRId64 " is out of range %" PRId64
					 "..%" PRId64,
					 v, opt->min, opt->max);
		return 0;
	case AETHER_OPT_PATH:
		if (!ae_valid_abs_path(value))
			return ae_seterr(err, errlen, EINVAL,
					 "'%s' is not an absolute path without "
					 "'..' components",
					 value);
		return 0;
	case AETHER_OPT_IFNAME:
		if (!ae_valid_ifname(value))
			return ae_seterr(err, errlen, EINVAL,
					 "'%s' is not a valid interface name "
					 "(1-15 characters of A-Z a-z 0-9 _ . -)",
					 value);
		return 0;
	}
	return ae_seterr(err, errlen, EINVAL, "option has unknown type %u",
			 opt->type);
}

static const struct aether_option *find_opt(const struct aether_option *t,
					    const char *key)
{
	for (; t && t->key; t++)
		if (!strcmp(t->key, key))
			return t;
	return NULL;
}

static void known_keys(const struct aether_option *t, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	for (; t && t->key && n < len; t++)
		n += (size_t)snprintf(buf + n, len - n, "%s%s", n ? ", " : "",
				      t->key);
	if (!buf[0])
		snprintf(buf, len, "none");
}

int ae_optset_new(const char *backend, const struct aether_option *table,
		  const struct ae_ini_section *section,
		  struct ae_optset **out, char *err, size_t errlen)
{
	struct ae_optset *o = ae_xcalloc(1, sizeof *o);
	const struct aether_option *t;
	char msg[256];
	size_t i, n = 0;

	o->table = table;
	o->section = section && section->name
			     ? ae_xstrdup(section->name)
			     : ae_xasprintf("network.%s", backend);
	o->file = section && section->file ? ae_xstrdup(section->file) : NULL;
	o->line = section ? section->line : 0;
	for (t = table; t && t->key; t++)
		n++;
	o->vals = ae_xcalloc(n, sizeof *o->vals);
	o->n = n;
	for (i = 0; i < n; i++)
		o->vals[i].opt = &table[i];

	for (i = 0; section && i < section->n_entries; i++) {
		const struct ae_ini_entry *e = &section->entries[i];
		const struct aether_option *opt = find_opt(table, e->key);
		struct ae_optval *v;

		if (!opt) {
			char keys[512];
			known_keys(table, keys, sizeof keys);
			ae_seterr(err, errlen, EINVAL,
				  "%s:%d: unknown key '%s' for backend %s "
				  "(known keys: %s)",
				  e->file, e->line, e->key, backend, keys);
			goto fail;
		}
		v = &o->vals[opt - table];
		if (v->n && !(opt->flags & AETHER_OPTF_REPEAT)) {
			ae_seterr(err, errlen, EINVAL,
				  "%s:%d: key '%s' given twice in [%s]",
				  e->file, e->line, e->key, section->name);
			goto fail;
		}
		if (ae_option_check_value(opt, e->value, msg, sizeof msg) < 0) {
			ae_seterr(err, errlen, EINVAL, "%s:%d: %s: %s", e->file,
				  e->line, e->key, msg);
			goto fail;
		}
		v->values = ae_xrealloc(v->values, (v->n + 1) * sizeof(char *));
		v->files = ae_xrealloc(v->files, (v->n + 1) * sizeof(char *));
		v->lines = ae_xrealloc(v->lines, (v->n + 1) * sizeof(int));
		v->values[v->n] = ae_xstrdup(e->value);
		v->files[v->n] = e->file ? ae_xstrdup(e->file) : NULL;
		v->lines[v->n++] = e->line;
	}
	for (i = 0; i < n; i++) {
		if ((table[i].flags & AETHER_OPTF_REQUIRED) && !o->vals[i].n) {
			ae_seterr(err, errlen, EINVAL,
				  "%s: [network.%s]: required key '%s' is "
				  "missing (%s)",
				  section ? section->file : "config", backend,
				  table[i].key, table[i].help ? table[i].help : "");
			goto fail;
		}
	}
	*out = o;
	return 0;
fail:
	ae_optset_free(o);
	return -EINVAL;
}

void ae_optset_free(struct ae_optset *o)
{
	size_t i, j;

	if (!o)
		return;
	for (i = 0; i < o->n; i++) {
		for (j = 0; j < o->vals[i].n; j++) {
			free(o->vals[i].values[j]);
			free(o->vals[i].files[j]);
		}
		free(o->vals[i].values);
		free(o->vals[i].files);
		free(o->vals[i].lines);
	}
	free(o->vals);
	free(o->section);
	free(o->file);
	free(o);
}

static const struct ae_optval *find_val(const struct ae_optset *o,
					const char *key)
{
	size_t i;

	for (i = 0; o && i < o->n; i++)
		if (!strcmp(o->vals[i].opt->key, key))
			return &o->vals[i];
	return NULL;
}

const char *ae_optset_get(const struct ae_optset *o, const char *key,
			  unsigned idx)
{
	const struct ae_optval *v = find_val(o, key);

	if (!v)
		return NULL;
	if (idx < v->n)
		return v->values[idx];
	if (idx == 0 && v->n == 0)
		return v->opt->def;
	return NULL;
}

int ae_optset_bool(const struct ae_optset *o, const char *key, int *out)
{
	const char *s = ae_optset_get(o, key, 0);

	if (!s)
		return -ENOENT;
	return ae_parse_bool(s, out);
}

int ae_optset_int(const struct ae_optset *o, const char *key, int64_t *out)
{
	const char *s = ae_optset_get(o, key, 0);

	if (!s)
		return -ENOENT;
	return ae_parse_int(s, out);
}

const char *ae_optset_section(const struct ae_optset *o)
{
	return o->section;
}

int ae_optset_where(const struct ae_optset *o, const char *key, unsigned idx,
		    const char **file, int *line)
{
	const struct ae_optval *v = find_val(o, key);

	if (v && idx < v->n) {
		*file = v->files[idx];
		*line = v->lines[idx];
		return 0;
	}
	*file = o->file;
	*line = o->line;
	return 1;
}

/* A backend option key as `--set KEY=VALUE` and the agent take it:
 * [a-z0-9_]{1,64}. */
int ae_network_valid_key(const char *k)
{
	size_t n = 0;

	for (; k[n]; n++)
		if (!((k[n] >= 'a' && k[n] <= 'z') ||
		      (k[n] >= '0' && k[n] <= '9') || k[n] == '_'))
			return 0;
	return n >= 1 && n <= 64;
}
