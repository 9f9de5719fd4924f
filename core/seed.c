/* seed.c - the cloud-init NoCloud seed of aether create --init-script. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "seed.h"
#include "util.h"
#include "vmref.h"

/* cloud-init NoCloud seed: a FAT image labelled CIDATA with meta-data and
 * user-data, made with mkfs.vfat and mcopy (no root, no mount). */
int ae_seed_make(const char *tmp, const char *name, const char *uuid,
		     const char *script)
{
	char *md = ae_xasprintf("%s/meta-data", tmp);
	char *ud = ae_xasprintf("%s/user-data", tmp);
	char *img = ae_xasprintf("%s/seed.img", tmp);
	char *log = ae_xasprintf("%s/create.log", tmp);
	char *text = NULL, err[1024];
	int rc;

	text = ae_xasprintf("instance-id: i-%s\nlocal-hostname: %s\n", uuid,
			    name);
	rc = ae_write_text(md, text);
	free(text);
	text = NULL;
	if (rc == 0) {
		size_t len;
		rc = ae_read_file(script, &text, &len, 1 << 20);
		if (rc < 0)
			ae_err("--init-script %s: %s%s", script, strerror(-rc),
			       rc == -EFBIG ? " (1 MiB at most)" : "");
		else
			rc = ae_write_file(ud, text, len, 0600);
		free(text);
	}
	if (rc == 0) {
		const char *const mkfs[] = {"mkfs.vfat", "-n", "CIDATA", "-C",
					    img, "1024", NULL};
		const char *const mcopy[] = {"mcopy", "-i", img, md, ud, "::",
					     NULL};
		rc = ae_run_tool(mkfs, log, err, sizeof err);
		if (rc == 0)
			rc = ae_run_tool(mcopy, log, err, sizeof err);
		if (rc < 0)
			ae_err("cloud-init seed: %s%s", err,
			       rc == -ENOENT ? " (install dosfstools and mtools)"
					     : "");
	}
	free(md);
	free(ud);
	free(img);
	free(log);
	return rc;
}
