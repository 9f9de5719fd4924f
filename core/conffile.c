/* conffile.c - INI parsing on top of inih.
 *
 * inih does the lexing; a reader callback feeds it one line at a time so
 * we know the line number of every key, can see section headers (also empty
 * sections), join indented continuation lines into the previous value and
 * refuse lines longer than inih's buffer instead of silently cutting them.
 * Once inih is done, quoted values are decoded (ae_ini_decode_value), so that a
 * value can hold anything but control characters whatever inih's build
 * options for inline comments and line length; ae_ini_format_entry writes
 * values that way.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conffile.h"
#include "util.h"

#ifndef INI_MAX_LINE
#define INI_MAX_LINE 200
#endif
#define AE_MAX_CONFIG_SIZE (1u << 20)
/* inih keeps section names in a buffer of this size (its MAX_SECTION). */
#define AE_INI_MAX_SECTION 50

struct parse_state {
	const char *text;
	size_t len, pos;
	int line;
	int continuation; /* the current line continues the previous key */
	int error_line;
	char error[256];
	struct ae_ini *ini;
	struct ae_ini_entry *last; /* for continuation lines */
	struct ae_ini_section *cur;
};

static struct ae_ini_section *section_get(struct ae_ini *ini, const char *name,
					  int line)
{
	size_t i;

	for (i = 0; i < ini->n_sections; i++)
		if (!strcmp(ini->sections[i].name, name))
			return &ini->sections[i];
	ini->sections = ae_xrealloc(ini->sections,
				    (ini->n_sections + 1) * sizeof *ini->sections);
	struct ae_ini_section *s = &ini->sections[ini->n_sections++];
	memset(s, 0, sizeof *s);
	s->name = ae_xstrdup(name);
	s->file = ini->file;
	s->line = line;
	return s;
}

static void set_error(struct parse_state *ps, const char *msg)
{
	if (ps->error_line)
		return;
	ps->error_line = ps->line;
	snprintf(ps->error, sizeof ps->error, "%s", msg);
}

/* Look at a raw line before inih does: track section headers.  ps->line
 * is already the number of this line. */
static void inspect_line(struct parse_state *ps, const char *l, size_t n)
{
	size_t i = 0;
	int indented;

	/* inih skips a UTF-8 byte order mark on the first line. */
	if (ps->line == 1 && n >= 3 && !memcmp(l, "\xef\xbb\xbf", 3)) {
		l += 3;
		n -= 3;
	}
	indented = n > 0 && (l[0] == ' ' || l[0] == '\t');
	while (i < n && isspace((unsigned char)l[i]))
		i++;
	ps->continuation = indented && i < n && l[i] != ';' && l[i] != '#' &&
			   ps->last != NULL;
	/* An indented "[x]" after a key continues its value (as in inih). */
	if (i < n && l[i] == '[' && !ps->continuation) {
		const char *end = memchr(l + i, ']', n - i);
		char name[INI_MAX_LINE];
		size_t m;

		ps->last = NULL;
		if (!end)
			return; /* inih reports it */
		m = (size_t)(end - (l + i + 1));
		if (m >= AE_INI_MAX_SECTION) {
			/* inih would cut it and file the keys elsewhere */
			set_error(ps, "section name longer than 49 characters");
			return;
		}
		memcpy(name, l + i + 1, m);
		name[m] = '\0';
		/* inih trims nothing inside brackets; neither do we */
		ps->cur = section_get(ps->ini, name, ps->line);
	}
}

static char *reader(char *str, int num, void *stream)
{
	struct parse_state *ps = stream;
	const char *start, *nl;
	size_t n, rest;

	if (ps->pos >= ps->len)
		return NULL;
	start = ps->text + ps->pos;
	rest = ps->len - ps->pos;
	nl = memchr(start, '\n', rest);
	n = nl ? (size_t)(nl - start) + 1 : rest;
	ps->pos += n;
	ps->line++;
	inspect_line(ps, start, n);
	if (memchr(start, '\0', n)) {
		set_error(ps, "NUL byte in line");
		n = 0;
	}
	if (n >= (size_t)num) {
		char msg[128];
		snprintf(msg, sizeof msg,
			 "line longer than %d characters: split the value over "
			 "indented continuation lines", num - 2);
		set_error(ps, msg);
		n = (size_t)num - 1;
	}
	memcpy(str, start, n);
	str[n] = '\0';
	return str;
}

static int handler(void *user, const char *section, const char *name,
		   const char *value)
{
	struct parse_state *ps = user;
	struct ae_ini_section *s;
	struct ae_ini_entry *e;

	if (ps->continuation && ps->last) {
		char *v, *cut = NULL;

		/* A quoted value: " ;" after a closing quote starts a comment
		 * on continuation lines too (inih versions differ there). */
		if (ps->last->value[0] == '"') {
			const char *p;
			int in = 0;
			for (p = value; *p && !cut; p++) {
				if (in && *p == '\\' && p[1])
					p++;
				else if (*p == '"')
					in = !in;
				else if (!in && *p == ';' && p > value &&
					 isspace((unsigned char)p[-1])) {
					size_t n = (size_t)(p - value);
					while (n && isspace((unsigned char)value[n - 1]))
						n--;
					cut = ae_xmalloc(n + 1);
					memcpy(cut, value, n);
					cut[n] = '\0';
				}
			}
		}
		v = ae_xasprintf("%s %s", ps->last->value, cut ? cut : value);
		free(cut);
		free(ps->last->value);
		ps->last->value = v;
		return 1;
	}
	if (!section[0]) {
		char msg[256];
		snprintf(msg, sizeof msg, "key '%s' outside of a [section]",
			 name);
		set_error(ps, msg);
		return 0;
	}
	s = section_get(ps->ini, section, ps->line);
	s->entries = ae_xrealloc(s->entries,
				 (s->n_entries + 1) * sizeof *s->entries);
	e = &s->entries[s->n_entries++];
	e->key = ae_xstrdup(name);
	e->value = ae_xstrdup(value);
	e->file = ps->ini->file;
	e->line = ps->line;
	ps->last = e;
	return 1;
}

/* Quoted values (aether.conf(5), QUOTING): a value whose first character
 * is a double quote is one or more quoted strings, separated by blanks
 * (continuation lines are joined with a space), concatenated; inside one,
 * \\ \" \; and \# stand for the character after the backslash.  Any
 * other value is taken as it is.  Returns 0 with *out set (NULL: keep
 * the value), or -1 with a message in why. */
int ae_ini_decode_value(const char *v, char **out, char *why, size_t whylen)
{
	size_t n = strlen(v), o = 0;
	char *res;

	*out = NULL;
	if (v[0] != '"')
		return 0;
	res = ae_xmalloc(n + 1);
	while (*v) {
		if (*v == ' ' || *v == '\t') {
			v++;
			continue;
		}
		if (*v != '"') {
			snprintf(why, whylen,
				 "text after the closing quote: '%.20s' (a "
				 "quoted value continues only with another "
				 "quoted string)", v);
			goto bad;
		}
		for (v++; *v != '"'; v++) {
			if (!*v) {
				snprintf(why, whylen,
					 "quoted value has no closing quote "
					 "(a ';' after a blank starts a comment: "
					 "write \\;)");
				goto bad;
			}
			if (*v == '\\') {
				v++;
				if (*v != '\\' && *v != '"' && *v != ';' &&
				    *v != '#') {
					if (*v)
						snprintf(why, whylen,
							 "unknown escape '\\%c' "
							 "in quoted value (known: "
							 "\\\\ \\\" \\; \\#)",
							 *v);
					else
						snprintf(why, whylen,
							 "quoted value has no "
							 "closing quote");
					goto bad;
				}
			}
			res[o++] = *v;
		}
		v++; /* the closing quote */
	}
	res[o] = '\0';
	*out = res;
	return 0;
bad:
	free(res);
	return -1;
}

/* Decode every value in place; the first error names its line and key. */
static int decode_all(struct ae_ini *ini, char *err, size_t errlen)
{
	size_t i, j;

	for (i = 0; i < ini->n_sections; i++) {
		struct ae_ini_section *s = &ini->sections[i];
		for (j = 0; j < s->n_entries; j++) {
			struct ae_ini_entry *e = &s->entries[j];
			char why[160], *v;
			if (ae_ini_decode_value(e->value, &v, why, sizeof why) <
			    0)
				return ae_seterr(err, errlen, EINVAL,
						 "%s:%d: %s: %s", e->file,
						 e->line, e->key, why);
			if (v) {
				free(e->value);
				e->value = v;
			}
		}
	}
	return 0;
}

/* Can v be written bare, as "key = v" on one line of at most width? */
static int bare_ok(const char *key, const char *v, size_t width)
{
	size_t n = strlen(v);
	const unsigned char *p;

	if (!n || strlen(key) + 3 + n > width || v[0] == '"' ||
	    isspace((unsigned char)v[0]) || isspace((unsigned char)v[n - 1]))
		return 0;
	for (p = (const unsigned char *)v; *p; p++)
		if (*p == ';' || *p == '#' || *p < 0x20 || *p == 0x7f)
			return 0;
	return 1;
}

char *ae_ini_format_entry(const char *key, const char *value, char *err,
			  size_t errlen)
{
	/* Lines stay well below the reader's limit (INI_MAX_LINE - 2). */
	const size_t width = 120;
	const unsigned char *p;
	size_t klen = strlen(key), cap, o = 0, line = 0;
	char *res;

	if (klen == 0 || klen > 64) {
		ae_seterr(err, errlen, EINVAL, "key '%.64s': not a key name",
			  key);
		return NULL;
	}
	for (p = (const unsigned char *)value; *p; p++)
		if (*p < 0x20 && *p != '\t') {
			ae_seterr(err, errlen, EINVAL,
				  "contains %s (0x%02x), which a config file "
				  "value cannot hold",
				  *p == '\n' ? "a newline" : "a control "
				  "character", *p);
			return NULL;
		}
	if (bare_ok(key, value, width))
		return ae_xasprintf("%s = %s\n", key, value);
	/* Quoted strings, one per line, continued on indented lines; a line
	 * breaks before the start of a UTF-8 character (unless the bytes are
	 * not UTF-8). */
	cap = klen + 8 + strlen(value) * 2 + (strlen(value) / 40 + 1) * 8;
	res = ae_xmalloc(cap);
	o = (size_t)sprintf(res, "%s = \"", key);
	line = o;
	for (p = (const unsigned char *)value; *p; p++) {
		if (line >= width ||
		    (line >= width - 8 && (*p & 0xc0) != 0x80)) {
			memcpy(res + o, "\"\n  \"", 5);
			o += 5;
			line = 3;
		}
		if (*p == '"' || *p == '\\' || *p == ';' || *p == '#') {
			res[o++] = '\\';
			line++;
		}
		res[o++] = (char)*p;
		line++;
	}
	memcpy(res + o, "\"\n", 3);
	return res;
}

int ae_ini_parse_text(const char *text, size_t len, const char *origin,
		      struct ae_ini **out, char *err, size_t errlen)
{
	struct parse_state ps;
	int rc;

	memset(&ps, 0, sizeof ps);
	ps.text = text;
	ps.len = len;
	ps.ini = ae_xcalloc(1, sizeof *ps.ini);
	ps.ini->file = ae_xstrdup(origin);
	rc = ini_parse_stream(reader, &ps, handler, &ps);
	if (ps.error_line) {
		ae_seterr(err, errlen, EINVAL, "%s:%d: %s", origin,
			  ps.error_line, ps.error);
		ae_ini_free(ps.ini);
		return -EINVAL;
	}
	if (rc != 0) {
		ae_seterr(err, errlen, EINVAL,
			  "%s:%d: syntax error (expected [section], "
			  "key = value or a comment)",
			  origin, rc);
		ae_ini_free(ps.ini);
		return -EINVAL;
	}
	if (decode_all(ps.ini, err, errlen) < 0) {
		ae_ini_free(ps.ini);
		return -EINVAL;
	}
	*out = ps.ini;
	return 0;
}

int ae_ini_parse_file(const char *path, struct ae_ini **out, char *err,
		      size_t errlen)
{
	char *text;
	size_t len;
	int rc;

	rc = ae_read_file(path, &text, &len, AE_MAX_CONFIG_SIZE);
	if (rc == -EFBIG)
		return ae_seterr(err, errlen, EFBIG,
				 "%s: larger than %u bytes", path,
				 AE_MAX_CONFIG_SIZE);
	if (rc < 0)
		return ae_seterr(err, errlen, -rc, "%s: %s", path,
				 strerror(-rc));
	rc = ae_ini_parse_text(text, len, path, out, err, errlen);
	free(text);
	return rc;
}

void ae_ini_free(struct ae_ini *ini)
{
	size_t i, j;

	if (!ini)
		return;
	for (i = 0; i < ini->n_sections; i++) {
		struct ae_ini_section *s = &ini->sections[i];
		for (j = 0; j < s->n_entries; j++) {
			free(s->entries[j].key);
			free(s->entries[j].value);
		}
		free(s->entries);
		free(s->name);
	}
	free(ini->sections);
	free(ini->file);
	free(ini);
}

const struct ae_ini_section *ae_ini_find(const struct ae_ini *ini,
					 const char *section)
{
	size_t i;

	if (!ini)
		return NULL;
	for (i = 0; i < ini->n_sections; i++)
		if (!strcmp(ini->sections[i].name, section))
			return &ini->sections[i];
	return NULL;
}

const struct ae_ini_entry *ae_ini_get(const struct ae_ini_section *s,
				      const char *key)
{
	size_t i;

	if (!s)
		return NULL;
	for (i = s->n_entries; i-- > 0;)
		if (!strcmp(s->entries[i].key, key))
			return &s->entries[i];
	return NULL;
}
