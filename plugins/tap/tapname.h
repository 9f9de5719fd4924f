/* tapname.h - TAP device names: validation, making, parsing.  Pure
 * functions (no kernel calls) so the tests can drive them directly. */
#ifndef AE_TAPNAME_H
#define AE_TAPNAME_H

#include <stddef.h>

/* Longest prefix: at least one digit of index must still fit. */
#define TAP_PREFIX_MAX 14

/* 0 when s is a safe interface name: 1-15 of [A-Za-z0-9_.-], not "."
 * or "..", else -EINVAL (-ENAMETOOLONG when too long). */
int tap_name_check(const char *s);

/* 0 when s is a valid prefix: 1-TAP_PREFIX_MAX of [A-Za-z0-9_.-], not
 * ending in a digit (so prefix "ae" cannot claim "ae1"'s devices). */
int tap_prefix_check(const char *s);

/* buf = prefix + index (+ "n" + nic when nic > 0).  -ENAMETOOLONG when
 * the result exceeds 15 characters or len. */
int tap_name_make(char *buf, size_t len, const char *prefix, unsigned index,
		  unsigned nic);

/* 0 when name is exactly what tap_name_make(prefix, *index, *nic) gives
 * (no leading zeros), else -1.  index or nic may be NULL. */
int tap_name_parse(const char *name, const char *prefix, unsigned *index,
		   unsigned *nic);

#endif
