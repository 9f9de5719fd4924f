/* json.h - aether's JSON output (list, status --json), written with
 * jansson.  Allocation failures abort, as ae_xmalloc's do. */
#ifndef AE_JSON_H
#define AE_JSON_H

#include <jansson.h>
#include <stdio.h>

/* s as a JSON string: valid UTF-8 whatever the bytes of s (invalid
 * sequences become U+FFFD).  Never NULL. */
json_t *ae_json_text(const char *s);

/* A new object or array; never NULL. */
json_t *ae_json_object(void);
json_t *ae_json_array(void);

/* Set key of object o to v / append v to array a; both take v. */
void ae_json_set(json_t *o, const char *key, json_t *v);
void ae_json_append(json_t *a, json_t *v);

/* Write j (which it takes) to f on one line, compact, '\n' ended; 0, or
 * -1 having said why. */
int ae_json_print(json_t *j, FILE *f, const char *what);

#endif
