/* tapname.c - TAP device names (see tapname.h). */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "tapname.h"

#define IFNAME_MAX 15

static int name_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
}

int tap_name_check(const char *s)
{
	size_t n;

	if (!s || !*s)
		return -EINVAL;
	n = strnlen(s, IFNAME_MAX + 1);
	if (n > IFNAME_MAX)
		return -ENAMETOOLONG;
	if (strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (!name_char_ok(s[i]))
			return -EINVAL;
	return 0;
}

int tap_prefix_check(const char *s)
{
	size_t n;

	if (!s || !*s)
		return -EINVAL;
	n = strnlen(s, TAP_PREFIX_MAX + 1);
	if (n > TAP_PREFIX_MAX)
		return -ENAMETOOLONG;
	for (size_t i = 0; i < n; i++)
		if (!name_char_ok(s[i]))
			return -EINVAL;
	if (s[n - 1] >= '0' && s[n - 1] <= '9')
		return -EINVAL;
	return 0;
}

int tap_name_make(char *buf, size_t len, const char *prefix, unsigned index,
		  unsigned nic)
{
	char tmp[64];
	int n;

	if (tap_prefix_check(prefix) < 0)
		return -EINVAL;
	if (nic)
		n = snprintf(tmp, sizeof tmp, "%s%un%u", prefix, index, nic);
	else
		n = snprintf(tmp, sizeof tmp, "%s%u", prefix, index);
	if (n < 0 || n > IFNAME_MAX || (size_t)n >= len)
		return -ENAMETOOLONG;
	memcpy(buf, tmp, (size_t)n + 1);
	return 0;
}

/* Parse a decimal without sign or leading zeros; advance *s. */
static int parse_num(const char **s, unsigned *out)
{
	const char *p = *s;
	unsigned long v = 0;

	if (*p < '0' || *p > '9')
		return -1;
	if (*p == '0' && p[1] >= '0' && p[1] <= '9')
		return -1;
	while (*p >= '0' && *p <= '9') {
		v = v * 10 + (unsigned long)(*p - '0');
		if (v > UINT_MAX)
			return -1;
		p++;
	}
	*out = (unsigned)v;
	*s = p;
	return 0;
}

int tap_name_parse(const char *name, const char *prefix, unsigned *index,
		   unsigned *nic)
{
	size_t pl;
	const char *s;
	unsigned idx, n = 0;

	if (!name || !prefix || tap_name_check(name) < 0)
		return -1;
	pl = strlen(prefix);
	if (pl == 0 || strncmp(name, prefix, pl) != 0)
		return -1;
	s = name + pl;
	if (parse_num(&s, &idx) < 0)
		return -1;
	if (*s == 'n') {
		s++;
		if (parse_num(&s, &n) < 0 || n == 0)
			return -1;
	}
	if (*s)
		return -1;
	if (index)
		*index = idx;
	if (nic)
		*nic = n;
	return 0;
}
