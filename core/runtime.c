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
	rc = ae_mkdir_private_err(root, 0700, "runtime directory", err, errlen);
	if (rc < 0) {
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

/* The supervisor's hold on its VM index: <root>/index/<N> flock'd for its
 * lifetime (one VM per process).  The kernel drops the lock when the
 * process ends, however it ends, so a slot is free exactly when no live
 * supervisor holds it: allocating one neither reads every VM's files nor
 * checks every pid (start stays flat in the number of running VMs). */
static int held_slot = -1;

/* Take slot idx: the locked fd, -EWOULDBLOCK when a live supervisor
 * holds it, or -errno. */
static int take_slot(const char *root, unsigned idx)
{
	char path[PATH_MAX];
	int fd, e;

	if (snprintf(path, sizeof path, "%s/index/%u", root, idx) >=
	    (int)sizeof path)
		return -ENAMETOOLONG;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY,
		  0600);
	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		e = errno;
		close(fd);
		return e == EWOULDBLOCK ? -EWOULDBLOCK : -e;
	}
	return fd;
}

/* Who holds slot idx (the name its holder wrote), for messages. */
static void slot_owner(const char *root, unsigned idx, char *out, size_t len)
{
	char path[PATH_MAX], *buf = NULL;

	snprintf(out, len, "?");
	if (snprintf(path, sizeof path, "%s/index/%u", root, idx) >=
		    (int)sizeof path ||
	    ae_read_file(path, &buf, NULL, 256) < 0)
		return;
	buf[strcspn(buf, "\n")] = '\0';
	if (ae_valid_vm_name(buf))
		snprintf(out, len, "%s", buf);
	free(buf);
}

int ae_runtime_claim_vm(const char *root, const char *name, int want,
			char **vmdir, unsigned *index, char *err,
			size_t errlen)
{
	char path[PATH_MAX], buf[80];
	unsigned idx = 0;
	int lock, rc, slot = -1;
	long pid;

	if (held_slot >= 0)
		return ae_seterr(err, errlen, EBUSY,
				 "this process already runs a VM");
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
	if (rc == 0) {
		snprintf(path, sizeof path, "%s/index", root);
		rc = ae_mkdir_private(path, 0700);
	}
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
	if (want >= 0) {
		idx = (unsigned)want;
		slot = take_slot(root, idx);
		if (slot == -EWOULDBLOCK) {
			slot_owner(root, idx, buf, sizeof buf);
			rc = ae_seterr(err, errlen, EBUSY,
				       "index %u is used by running VM %s", idx,
				       buf);
			goto out;
		}
	} else {
		/* the lowest free index: one open + flock per slot in use */
		for (idx = 0; idx <= 65535; idx++) {
			slot = take_slot(root, idx);
			if (slot != -EWOULDBLOCK)
				break;
		}
	}
	if (slot < 0) {
		rc = ae_seterr(err, errlen, slot == -EWOULDBLOCK ? EBUSY : -slot,
			       "%s/index/%u: %s", root, idx,
			       strerror(slot == -EWOULDBLOCK ? EBUSY : -slot));
		slot = -1;
		goto out;
	}
	rc = snprintf(buf, sizeof buf, "%s\n", name);
	if (ftruncate(slot, 0) < 0 || pwrite(slot, buf, (size_t)rc, 0) != rc)
		ae_warn("%s/index/%u: %s", root, idx, strerror(errno));
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
	held_slot = slot;
	slot = -1;
out:
	if (slot >= 0)
		close(slot);
	close(lock);
	return rc;
}

void ae_runtime_release_vm(const char *vmdir)
{
	if (vmdir)
		ae_rmtree(vmdir);
	if (held_slot >= 0) { /* after the directory: the index is free now */
		close(held_slot);
		held_slot = -1;
	}
}
