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
#include <sched.h>
#include <sys/stat.h>
#include <sys/wait.h>
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

/* A test case that cannot run here (no namespaces, not root, ...):
 * CK_SKIP_TEST(fmt, ...) ends it.  Under AETHER_TEST_STRICT=1 (CI) that
 * is a failure; otherwise the case is noted as skipped, and main() turns
 * "nothing failed but something skipped" into exit 77 with ck_exit_status,
 * so that the harness shows SKIP rather than a silent PASS.  The cases run
 * in forked children: they note the skip by writing a byte to a file that
 * ck_skip_init opened in the parent. */
static int ck_skip_fd = -1;

static inline void ck_skip_init(void)
{
	const char *base = getenv("TMPDIR");
	char path[512];

	snprintf(path, sizeof path, "%s/aether-check-skip.XXXXXX",
		 base && *base ? base : "/tmp");
	ck_skip_fd = mkstemp(path);
	if (ck_skip_fd < 0) {
		fprintf(stderr, "mkstemp %s: %s\n", path, strerror(errno));
		exit(99);
	}
	unlink(path);
}

static inline int ck_skipped(void)
{
	struct stat st;

	return ck_skip_fd >= 0 && fstat(ck_skip_fd, &st) == 0 && st.st_size > 0;
}

static inline void ck_skip_note(void)
{
	if (ck_skip_fd < 0 || write(ck_skip_fd, "s", 1) != 1)
		ck_abort_msg("cannot record a skipped test case");
}

#define CK_SKIP_TEST(...)                                                     \
	do {                                                                  \
		const char *strict_ = getenv("AETHER_TEST_STRICT");           \
		if (strict_ && !strcmp(strict_, "1"))                         \
			ck_abort_msg("cannot run (AETHER_TEST_STRICT=1): "    \
				     __VA_ARGS__);                            \
		fprintf(stderr, "SKIP: " __VA_ARGS__);                        \
		fputc('\n', stderr);                                          \
		ck_skip_note();                                               \
		return;                                                       \
	} while (0)

/* The automake exit status: 1 when a case failed, 77 when none failed
 * but one was skipped, else 0. */
static inline int ck_exit_status(int failed)
{
	if (failed)
		return EXIT_FAILURE;
	if (ck_skipped()) {
		fprintf(stderr, "SKIP: some test cases could not run here "
				"(reasons above); every other case passed\n");
		return 77;
	}
	return EXIT_SUCCESS;
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

/* Can this process make a private network namespace (and, with `more`,
 * do more there)?  Probed in a forked child, so the caller's namespaces
 * are untouched: the child unshares its network namespace and then runs
 * more(msg, len), which writes why not into msg when it cannot.  Returns
 * 0, or -1 with the reason in why. */
static inline int ck_probe_netns(char *why, size_t len,
				 void (*more)(char *msg, size_t len))
{
	pid_t pid;
	int st, pfd[2];
	ssize_t n;

	if (geteuid() != 0) {
		snprintf(why, len, "not root (needs CAP_NET_ADMIN and a "
				   "private network namespace)");
		return -1;
	}
	if (pipe(pfd) < 0) {
		snprintf(why, len, "pipe: %s", strerror(errno));
		return -1;
	}
	pid = fork();
	if (pid == 0) {
		char msg[256] = "";

		close(pfd[0]);
		if (unshare(CLONE_NEWNET) != 0)
			snprintf(msg, sizeof msg, "unshare(CLONE_NEWNET): %s",
				 strerror(errno));
		else if (more)
			more(msg, sizeof msg);
		n = write(pfd[1], msg, strlen(msg));
		(void)n;
		_exit(msg[0] ? 1 : 0);
	}
	close(pfd[1]);
	n = pid < 0 ? 0 : read(pfd[0], why, len - 1);
	why[n > 0 ? n : 0] = '\0';
	close(pfd[0]);
	if (pid < 0) {
		snprintf(why, len, "fork: %s", strerror(errno));
		return -1;
	}
	if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) ||
	    WEXITSTATUS(st) != 0) {
		if (!why[0])
			snprintf(why, len, "the probe child failed");
		return -1;
	}
	return 0;
}

#endif
