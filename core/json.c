/* json.c - aether's JSON output, written with jansson (see json.h). */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "util.h"

static void oom(void)
{
	ae_err("out of memory");
	abort();
}

static json_t *need(json_t *j)
{
	if (!j)
		oom();
	return j;
}

json_t *ae_json_text(const char *s)
{
	/* Paths, reasons, console lines are bytes: what is not UTF-8
	 * becomes U+FFFD, so that strict parsers (jansson in the agent)
	 * take the output; json_string() wants UTF-8 anyway. */
	char *clean = ae_utf8_clean(s, strlen(s));
	json_t *j = json_string(clean);

	free(clean);
	return need(j);
}

json_t *ae_json_object(void)
{
	return need(json_object());
}

json_t *ae_json_array(void)
{
	return need(json_array());
}

void ae_json_set(json_t *o, const char *key, json_t *v)
{
	if (!v || json_object_set_new(o, key, v) < 0)
		oom();
}

void ae_json_append(json_t *a, json_t *v)
{
	if (!v || json_array_append_new(a, v) < 0)
		oom();
}

int ae_json_print(json_t *j, FILE *f, const char *what)
{
	int rc = json_dumpf(j, f, JSON_COMPACT);

	json_decref(j);
	if (rc < 0 || putc('\n', f) == EOF || fflush(f) == EOF) {
		ae_err("%s: cannot write the JSON output", what);
		return -1;
	}
	return 0;
}
