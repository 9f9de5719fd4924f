/* load-bench.c - time to find, load and validate each plugin, against a
 * bare lt_dlopenext + lt_dlsym of the same file in the same process. */
#include "config.h"

#include <ltdl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loader.h"
#include "util.h"

#define ROUNDS 200

static double bare_us(const char *path)
{
	uint64_t t0 = ae_now_ns();
	int i;

	for (i = 0; i < ROUNDS; i++) {
		lt_dlhandle h = lt_dlopenext(path);
		if (!h || !lt_dlsym(h, AETHER_PLUGIN_SYMBOL)) {
			fprintf(stderr, "bare load of %s failed: %s\n", path,
				lt_dlerror());
			exit(1);
		}
		lt_dlclose(h);
	}
	return (double)(ae_now_ns() - t0) / 1e3 / ROUNDS;
}

int main(int argc, char **argv)
{
	char err[1024];
	int i, j, bad = 0;

	lt_dlinit();
	printf("find+load+validate+unload, mean of %d rounds; bare = "
	       "lt_dlopenext+lt_dlsym+lt_dlclose of the same file\n", ROUNDS);
	printf("%-8s %12s %12s %12s %8s  %s\n", "plugin", "first (us)",
	       "aether (us)", "bare (us)", "ratio", "target < 1000 us");
	for (i = 1; i < argc; i++) {
		struct ae_plugin *p;
		uint64_t t0 = ae_now_ns(), t1;
		double first, avg, bare;
		char *path;

		if (ae_plugin_load(argv[i], NULL, &p, err, sizeof err) < 0) {
			fprintf(stderr, "%s\n", err);
			return 1;
		}
		first = (double)(ae_now_ns() - t0) / 1e3;
		path = ae_xstrdup(p->path);
		/* Unload, so every round below really maps the file. */
		ae_plugin_unload(p);
		t0 = ae_now_ns();
		for (j = 0; j < ROUNDS; j++) {
			struct ae_plugin *q;
			if (ae_plugin_load(argv[i], NULL, &q, err, sizeof err) < 0)
				return 1;
			ae_plugin_unload(q);
		}
		t1 = ae_now_ns();
		avg = (double)(t1 - t0) / 1e3 / ROUNDS;
		bare = bare_us(path);
		printf("%-8s %12.1f %12.1f %12.1f %7.2fx  %s\n", argv[i], first,
		       avg, bare, avg / bare, avg < 1000 ? "ok" : "MISSED");
		bad |= avg >= 1000;
		free(path);
	}
	lt_dlexit();
	return bad ? 1 : 0;
}
