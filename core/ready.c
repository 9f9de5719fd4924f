/* ready.c - the supervisor's readiness lines (see ready.h). */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "ready.h"

static int pid_ok(long pid)
{
	return pid >= 1 && pid <= INT_MAX;
}

static int fields_ok(const struct ae_ready *r)
{
	return pid_ok(r->sup_pid) && pid_ok(r->qemu_pid) && r->t_spawn >= 1 &&
	       r->t_ready >= r->t_spawn;
}

/* snprintf's result as ours: the length, or -ENOSPC. */
static int fitted(int n, size_t len)
{
	if (n < 0 || (size_t)n >= len || n >= AE_READY_LINE_MAX)
		return -ENOSPC;
	return n;
}

int ae_ready_format(const struct ae_ready *r, char *buf, size_t len)
{
	if (!fields_ok(r))
		return -EINVAL;
	return fitted(snprintf(buf, len, "ready %ld %ld %u %" PRIu64 " %" PRIu64
			       "\n", r->sup_pid, r->qemu_pid, r->index,
			       r->t_spawn, r->t_ready),
		      len);
}

int ae_ready_format_started(long sup_pid, char *buf, size_t len)
{
	if (!pid_ok(sup_pid))
		return -EINVAL;
	return fitted(snprintf(buf, len, "started %ld\n", sup_pid), len);
}

/* A cursor over the line: the bytes left. */
struct cur {
	const char *p;
	size_t left;
};

/* 1 when the line is the keyword w, alone or followed by a space (which
 * is passed over). */
static int word(struct cur *c, const char *w)
{
	size_t n = strlen(w);

	if (c->left < n || memcmp(c->p, w, n) ||
	    (c->left > n && c->p[n] != ' '))
		return 0;
	n += c->left > n;
	c->p += n;
	c->left -= n;
	return 1;
}

/* One field: decimal digits, no leading zero (but "0"), at most max, then
 * a space (sep) or the end of the line (!sep). */
static int field(struct cur *c, uint64_t max, int sep, uint64_t *out)
{
	uint64_t v = 0;
	size_t i = 0;

	while (i < c->left && c->p[i] >= '0' && c->p[i] <= '9') {
		unsigned d = (unsigned)(c->p[i] - '0');
		if (i == 1 && c->p[0] == '0')
			return -1; /* a leading zero */
		if (v > (max - d) / 10)
			return -1; /* out of range */
		v = v * 10 + d;
		i++;
	}
	if (i == 0)
		return -1;
	if (sep ? i >= c->left || c->p[i] != ' ' : i != c->left)
		return -1;
	c->p += i + (sep ? 1 : 0);
	c->left -= i + (sep ? 1 : 0);
	*out = v;
	return 0;
}

int ae_ready_parse(const char *line, size_t len, struct ae_ready *r)
{
	struct cur c = {line, len};
	uint64_t sp, qp, idx, ts, tr;
	struct ae_ready t;

	if (!word(&c, "ready"))
		return -ENOENT;
	if (len >= AE_READY_LINE_MAX || field(&c, INT_MAX, 1, &sp) < 0 ||
	    field(&c, INT_MAX, 1, &qp) < 0 ||
	    field(&c, UINT_MAX, 1, &idx) < 0 ||
	    field(&c, UINT64_MAX, 1, &ts) < 0 ||
	    field(&c, UINT64_MAX, 0, &tr) < 0)
		return -EINVAL;
	t.sup_pid = (long)sp;
	t.qemu_pid = (long)qp;
	t.index = (unsigned)idx;
	t.t_spawn = ts;
	t.t_ready = tr;
	if (!fields_ok(&t))
		return -EINVAL;
	*r = t;
	return 0;
}

int ae_ready_parse_started(const char *line, size_t len, long *sup_pid)
{
	struct cur c = {line, len};
	uint64_t sp;

	if (!word(&c, "started"))
		return -ENOENT;
	if (len >= AE_READY_LINE_MAX || field(&c, INT_MAX, 0, &sp) < 0 ||
	    !pid_ok((long)sp))
		return -EINVAL;
	*sup_pid = (long)sp;
	return 0;
}
