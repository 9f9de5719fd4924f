/* options.h - a plugin's options: the config section checked against the
 * plugin's option table, with the lookups the host services expose. */
#ifndef AE_OPTIONS_H
#define AE_OPTIONS_H

#include <aether/plugin.h>
#include "conffile.h"

struct ae_optset;

/* Validate every entry of `section` (may be NULL) against `table`.
 * `backend` names the plugin in messages. */
int ae_optset_new(const char *backend, const struct aether_option *table,
		  const struct ae_ini_section *section,
		  struct ae_optset **out, char *err, size_t errlen);
void ae_optset_free(struct ae_optset *o);

const char *ae_optset_get(const struct ae_optset *o, const char *key,
			  unsigned idx);
int ae_optset_bool(const struct ae_optset *o, const char *key, int *out);
int ae_optset_int(const struct ae_optset *o, const char *key, int64_t *out);

/* The section the options came from, "network.NAME". */
const char *ae_optset_section(const struct ae_optset *o);
/* Where the idx-th value of key was set: its file and line, and 0.  For a
 * value not in the config (a default, or none) the section's file and
 * the line of its header (NULL and 0 without a section), and 1. */
int ae_optset_where(const struct ae_optset *o, const char *key, unsigned idx,
		    const char **file, int *line);

/* Check a value against an option's type; message without location. */
int ae_option_check_value(const struct aether_option *opt, const char *value,
			  char *err, size_t errlen);
const char *ae_option_type_name(uint32_t type);

/* 1 when k is an option name `--set KEY=VALUE` (aether network switch)
 * and the agent take: [a-z0-9_], 1 to 64. */
int ae_network_valid_key(const char *k);

#endif
