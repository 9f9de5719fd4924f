/* check-main.h - shared helpers for the core check suites: a scratch
 * directory per test, small file writers, "error message contains"
 * assertions and the runner main().  Header-only (static functions) so
 * every suite stays one .c file. */
#ifndef AE_CHECK_MAIN_H
#define AE_CHECK_MAIN_H

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

/* The message `err` must contain `sub`. */
#define ck_assert_err_has(err, sub)                                           \
	ck_assert_msg(strstr((err), (sub)) != NULL,                           \
		      "message \"%s\" does not contain \"%s\"", (err), (sub))

/* A per-test scratch directory, made by ck_tmp_setup (a checked fixture,
 * so it runs in the forked child) and removed by ck_tmp_teardown. */
static char ck_tmpdir[256];

static inline void ck_tmp_setup(void)
{
	const char *base = getenv("TMPDIR");

	snprintf(ck_tmpdir, sizeof ck_tmpdir, "%s/aether-check.XXXXXX",
		 base && *base ? base : "/tmp");
	ck_assert_msg(mkdtemp(ck_tmpdir) != NULL, "mkdtemp %s: %s", ck_tmpdir,
		      strerror(errno));
}

static inline void ck_tmp_teardown(void)
{
	if (ck_tmpdir[0])
		ae_rmtree(ck_tmpdir);
	ck_tmpdir[0] = '\0';
}

/* ck_tmpdir/name, in a static ring so a few can be used at once. */
static inline const char *ck_path(const char *name)
{
	static char ring[8][512];
	static unsigned next;
	char *p = ring[next++ % 8];

	snprintf(p, sizeof ring[0], "%s/%s", ck_tmpdir, name);
	return p;
}

/* Write `len` bytes to ck_tmpdir/name; returns the full path. */
static inline const char *ck_write_len(const char *name, const char *data,
				       size_t len)
{
	const char *path = ck_path(name);
	FILE *f = fopen(path, "w");

	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	ck_assert_uint_eq(fwrite(data, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
	return path;
}

static inline const char *ck_write(const char *name, const char *data)
{
	return ck_write_len(name, data, strlen(data));
}

/* printf-style file contents. */
static inline const char *ck_writef(const char *name, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static inline const char *ck_writef(const char *name, const char *fmt, ...)
{
	va_list ap;
	char *text;
	const char *path;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&text, fmt, ap);
	va_end(ap);
	ck_assert_int_ge(n, 0);
	path = ck_write_len(name, text, (size_t)n);
	free(text);
	return path;
}

/* Run the suite in fork mode (unless CK_FORK says otherwise) and turn the
 * result into an automake exit status. */
static inline int ck_run_suite(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif
