/* standalone.c - run fuzz inputs without libFuzzer: the replay driver of
 * every fuzz target (fuzz-config-run, fuzz-agent-run).
 *
 *   FUZZ_NAME [FILE|DIR]...
 *
 * Every file given (and every regular file in every directory given) is
 * fed to LLVMFuzzerTestOneInput once, so the seed corpus and any crash
 * reproducers are a regression test under any compiler (and under
 * --enable-sanitizers).  Without arguments it runs the target's corpus,
 * $top_srcdir/FUZZ_CORPUS, which is what make check does.
 *
 * Corpus files named by convention are also checked for their outcome,
 * as the target's fuzz_expected() says (fuzz-config.c: vm-ok-*, vm-bad-*,
 * host-ok-*, host-bad-*, ini-bad-*; fuzz-agent.c: ok-*, refused-*,
 * bad-*).  Other names (crash-*, edge-*) only have to not crash.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Each fuzz target says what the last input should have done, by the
 * prefix of its file name: 1 it did, 0 it did not (*what says what was
 * expected), -1 the name sets no expectation. */
int fuzz_expected(const char *base, const char **what);

/* FUZZ_NAME (the program) and FUZZ_CORPUS (below $top_srcdir) come from
 * the build rules of each target. */
#ifndef FUZZ_NAME
#define FUZZ_NAME "fuzz-config-run"
#endif
#ifndef FUZZ_CORPUS
#define FUZZ_CORPUS "tests/fuzz/corpus"
#endif

static unsigned n_run, n_checked, n_failed;

static int read_all(const char *path, uint8_t **out, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t n = 0, cap = 0;

	if (!f)
		return -errno;
	for (;;) {
		size_t r;
		if (n == cap) {
			uint8_t *nb;
			cap = cap ? 2 * cap : 4096;
			nb = realloc(buf, cap);
			if (!nb) {
				free(buf);
				fclose(f);
				return -ENOMEM;
			}
			buf = nb;
		}
		r = fread(buf + n, 1, cap - n, f);
		n += r;
		if (r == 0)
			break;
	}
	fclose(f);
	*out = buf;
	*len = n;
	return 0;
}

static void expect(const char *path, const char *what, int ok)
{
	n_checked++;
	if (!ok) {
		n_failed++;
		fprintf(stderr, "FAIL: %s: expected %s\n", path, what);
	}
}

static int run_file(const char *path)
{
	const char *base = strrchr(path, '/');
	uint8_t *data = NULL;
	size_t len = 0;
	const char *what = NULL;
	int rc, ok;

	base = base ? base + 1 : path;
	rc = read_all(path, &data, &len);
	if (rc < 0) {
		fprintf(stderr, "%s: %s\n", path, strerror(-rc));
		return -1;
	}
	LLVMFuzzerTestOneInput(data, len);
	free(data);
	n_run++;
	ok = fuzz_expected(base, &what);
	if (ok >= 0)
		expect(path, what, ok);
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int run_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **names = NULL;
	size_t n = 0, i;
	int rc = 0;

	if (!d) {
		fprintf(stderr, "%s: %s\n", dir, strerror(errno));
		return -1;
	}
	while ((e = readdir(d))) {
		char **nn;
		if (e->d_name[0] == '.')
			continue;
		nn = realloc(names, (n + 1) * sizeof *names);
		if (!nn)
			abort();
		names = nn;
		if (asprintf(&names[n], "%s/%s", dir, e->d_name) < 0)
			abort();
		n++;
	}
	closedir(d);
	qsort(names, n, sizeof *names, cmp_str);
	for (i = 0; i < n; i++) {
		struct stat st;
		if (stat(names[i], &st) == 0 && S_ISREG(st.st_mode) &&
		    run_file(names[i]) < 0)
			rc = -1;
		free(names[i]);
	}
	free(names);
	return rc;
}

static int run_arg(const char *arg)
{
	struct stat st;

	if (stat(arg, &st) < 0) {
		fprintf(stderr, "%s: %s\n", arg, strerror(errno));
		return -1;
	}
	return S_ISDIR(st.st_mode) ? run_dir(arg) : run_file(arg);
}

int main(int argc, char **argv)
{
	char *def = NULL;
	int i, rc = 0;

	if (argc < 2) {
		const char *top = getenv("top_srcdir");
		if (!top || !*top) {
			fprintf(stderr, "usage: %s FILE|DIR... (or set "
					"top_srcdir)\n", argv[0]);
			return 99;
		}
		if (asprintf(&def, "%s/" FUZZ_CORPUS, top) < 0)
			return 99;
		rc = run_arg(def);
		free(def);
	}
	for (i = 1; i < argc; i++)
		if (run_arg(argv[i]) < 0)
			rc = -1;
	printf(FUZZ_NAME ": %u inputs run, %u outcomes checked, %u wrong\n",
	       n_run, n_checked, n_failed);
	if (rc < 0)
		return 99; /* a hard error: the corpus is missing */
	if (n_run == 0) {
		fprintf(stderr, "no inputs found\n");
		return 99;
	}
	return n_failed ? 1 : 0;
}
