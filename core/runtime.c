/* runtime.c - runtime directories, liveness and VM index allocation. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime.h"
#include "store.h"
#include "util.h"

static char *configured_root;

void ae_runtime_set_default(const char *configured)
{
	free(configured_root);
	configured_root = configured ? ae_xstrdup(configured) : NULL;
}

int ae_runtime_root(const char *configured, char **out, char *err,
		    size_t errlen)
{
	const char *env = getenv("AETHER_RUNTIME_DIR");
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	char *root;
	int rc;

	if (!configured)
		configured = configured_root;
	if (env && *env)
		root = ae_xstrdup(env);
	else if (configured && *configured)
		root = ae_xstrdup(configured);
	else if (geteuid() != 0 && xdg && *xdg)
		root = ae_xasprintf("%s/aether", xdg);
	else if (geteuid() == 0)
		root = ae_xstrdup("/run/aether");
	else
		return ae_seterr(err, errlen, ENOENT,
				 "no runtime directory: XDG_RUNTIME_DIR is not "
				 "set (set it, or runtime_dir in the host "
				 "config, or AETHER_RUNTIME_DIR)");
	if (!ae_valid_abs_path(root)) {
		rc = ae_seterr(err, errlen, EINVAL,
			       "runtime directory '%s' is not an absolute path",
			       root);
		free(root);
		return rc;
	}
	rc = ae_mkdir_private(root, 0700);
	if (rc < 0) {
		ae_seterr(err, errlen, -rc, "runtime directory %s: %s%s", root,
			  strerror(-rc),
			  rc == -EPERM ? " (owned by another user)" : "");
		free(root);
		return rc;
	}
	*out = root;
	return 0;
}

int ae_runtime_live(const char *root, struct ae_live_vm **out, size_t *n)
{
	char path[PATH_MAX];
	struct ae_live_vm *v = NULL;
	struct dirent *e;
	size_t cnt = 0;
	DIR *d;

	snprintf(path, sizeof path, "%s/vms", root);
	*out = NULL;
	*n = 0;
	d = opendir(path);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((e = readdir(d))) {
		char dir[PATH_MAX];
		long pid, idx;

		if (!ae_valid_vm_name(e->d_name))
			continue;
		if (snprintf(dir, sizeof dir, "%s/%s", path, e->d_name) >=
		    (int)sizeof dir)
			continue;
		if (ae_read_long(dir, "pid", &pid) < 0 || !ae_pid_alive((pid_t)pid) ||
		    ae_read_long(dir, "index", &idx) < 0)
			continue;
		v = ae_xrealloc(v, (cnt + 1) * sizeof *v);
		v[cnt].name = ae_xstrdup(e->d_name);
		v[cnt].index = (unsigned)idx;
		v[cnt].pid = (pid_t)pid;
		cnt++;
	}
	closedir(d);
	*out = v;
	*n = cnt;
	return 0;
}

void ae_runtime_live_free(struct ae_live_vm *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i].name);
	free(v);
}

static int index_used(const struct ae_live_vm *v, size_t n, unsigned idx)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (v[i].index == idx)
			return 1;
	return 0;
}

int ae_runtime_claim_vm(const char *root, const char *name, int want,
			char **vmdir, unsigned *index, char *err,
			size_t errlen)
{
	char path[PATH_MAX], buf[32];
	struct ae_live_vm *live = NULL;
	size_t n = 0, i;
	unsigned idx;
	int lock, rc;
	long pid;

	snprintf(path, sizeof path, "%s/lock", root);
	lock = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (lock < 0)
		return ae_seterr(err, errlen, errno, "%s: %s", path,
				 strerror(errno));
	if (flock(lock, LOCK_EX) < 0) {
		rc = ae_seterr(err, errlen, errno, "%s: lock: %s", path,
			       strerror(errno));
		goto out;
	}
	snprintf(path, sizeof path, "%s/vms", root);
	rc = ae_mkdir_private(path, 0700);
	if (rc < 0) {
		ae_seterr(err, errlen, -rc, "%s: %s", path, strerror(-rc));
		goto out;
	}
	snprintf(path, sizeof path, "%s/vms/%s", root, name);
	if (ae_read_long(path, "pid", &pid) == 0 && ae_pid_alive((pid_t)pid) &&
	    pid != getpid()) {
		rc = ae_seterr(err, errlen, EEXIST,
			       "VM %s is already running (supervisor pid %ld, "
			       "%s)", name, pid, path);
		goto out;
	}
	ae_rmtree(path); /* stale leftovers of a crashed supervisor */
	rc = ae_runtime_live(root, &live, &n);
	if (rc < 0) {
		ae_seterr(err, errlen, -rc, "%s/vms: %s", root, strerror(-rc));
		goto out;
	}
	if (want >= 0) {
		idx = (unsigned)want;
		for (i = 0; i < n; i++)
			if (live[i].index == idx) {
				rc = ae_seterr(err, errlen, EBUSY,
					       "index %u is used by running VM "
					       "%s", idx, live[i].name);
				goto out;
			}
	} else {
		for (idx = 0; index_used(live, n, idx); idx++)
			;
	}
	rc = ae_mkdir_private(path, 0700);
	if (rc < 0) {
		ae_seterr(err, errlen, -rc, "%s: %s", path, strerror(-rc));
		goto out;
	}
	snprintf(buf, sizeof buf, "%u\n", idx);
	snprintf(path, sizeof path, "%s/vms/%s/index", root, name);
	rc = ae_write_file(path, buf, strlen(buf), 0600);
	if (rc == 0) {
		snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
		snprintf(path, sizeof path, "%s/vms/%s/pid", root, name);
		rc = ae_write_file(path, buf, strlen(buf), 0600);
	}
	if (rc < 0) {
		ae_seterr(err, errlen, -rc, "%s: %s", path, strerror(-rc));
		snprintf(path, sizeof path, "%s/vms/%s", root, name);
		ae_rmtree(path);
		goto out;
	}
	*vmdir = ae_xasprintf("%s/vms/%s", root, name);
	*index = idx;
out:
	ae_runtime_live_free(live, n);
	close(lock);
	return rc;
}

void ae_runtime_release_vm(const char *vmdir)
{
	if (vmdir)
		ae_rmtree(vmdir);
}
