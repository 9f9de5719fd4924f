/* conffile.h - INI files read with inih, kept with file and line of every
 * key so that later validation can say exactly where a value came from. */
#ifndef AE_CONFFILE_H
#define AE_CONFFILE_H

#include <stddef.h>

struct ae_ini_entry {
	char *key;
	char *value;
	const char *file; /* points into the owning ae_ini */
	int line;
};

struct ae_ini_section {
	char *name;
	const char *file;
	int line; /* line of the [header] */
	struct ae_ini_entry *entries;
	size_t n_entries;
};

struct ae_ini {
	char *file;
	struct ae_ini_section *sections;
	size_t n_sections;
};

/* Parse a file or a string.  On a syntax error returns -EINVAL with
 * "file:line: message" in err. */
int ae_ini_parse_file(const char *path, struct ae_ini **out, char *err,
		      size_t errlen);
int ae_ini_parse_text(const char *text, size_t len, const char *origin,
		      struct ae_ini **out, char *err, size_t errlen);
void ae_ini_free(struct ae_ini *ini);

/* Values: a value that starts with a double quote is decoded by the
 * parser (aether.conf(5), QUOTING): one or more quoted strings, joined,
 * with \\ \" \; \# escapes; any other value is taken as written.
 *
 * ae_ini_format_entry makes the "key = value\n" text (several lines for a
 * long value) that the parser reads back as exactly `value`: bare when
 * that is safe, else quoted and split over indented continuation lines.
 * Returns a malloc'd string, or NULL with err set (without the key: the
 * caller says where the value came from) when a config file cannot hold
 * the value: a newline or another control character but tab. */
char *ae_ini_format_entry(const char *key, const char *value, char *err,
			  size_t errlen);
/* The decoding the parser applies to every value v (as inih gives it:
 * trimmed, comment cut): 0 with *out NULL when v is not quoted, 0 with
 * *out a malloc'd decoded value, or -1 with the reason in why. */
int ae_ini_decode_value(const char *v, char **out, char *why, size_t whylen);

const struct ae_ini_section *ae_ini_find(const struct ae_ini *ini,
					 const char *section);
/* Last value of key in section, or NULL. */
const struct ae_ini_entry *ae_ini_get(const struct ae_ini_section *s,
				      const char *key);

#endif
