/* runtime.c - runtime directories, liveness and VM index allocation. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "runtime.h"
#include "store.h"
#include "util.h"
#include "vmconf.h"

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
	/* 0711 once a managed network's dnsmasq, which re-reads its files
	 * under RUNTIME_ROOT/net as its own user, needs to pass (net.c) */
	{
		struct stat st;
		mode_t mode = stat(root, &st) == 0 &&
					      (st.st_mode & 07777) == 0711
				      ? 0711
				      : 0700;
		rc = ae_mkdir_private_err(root, mode, "runtime directory", err,
					  errlen);
	}
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
	lock = ae_runtime_lock(root, err, errlen); /* gc holds it too */
	if (lock < 0)
		return lock;
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

int ae_runtime_lock(const char *root, char *err, size_t errlen)
{
	char path[PATH_MAX];
	int fd;

	if (snprintf(path, sizeof path, "%s/lock", root) >= (int)sizeof path)
		return ae_seterr(err, errlen, ENAMETOOLONG, "%s/lock: %s", root,
				 strerror(ENAMETOOLONG));
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return ae_seterr(err, errlen, errno, "%s: %s", path,
				 strerror(errno));
	while (flock(fd, LOCK_EX) < 0) {
		int e = errno;
		if (e == EINTR)
			continue;
		close(fd);
		return ae_seterr(err, errlen, e, "%s: lock: %s", path,
				 strerror(e));
	}
	return fd;
}

/* ------------------------------------------------------------------ */
/* Orphaned QEMUs: which processes are ours to kill.                  */

/* The value of key in a QEMU option string ("a=1,path=/x,,y,b"), with
 * ",," unescaped; 0 when found. */
static int qemu_opt(const char *opts, const char *key, char *out, size_t len)
{
	size_t klen = strlen(key), n;
	const char *p = opts;

	while (*p) {
		int match = !strncmp(p, key, klen) && p[klen] == '=';
		if (match)
			p += klen + 1;
		for (n = 0; *p; p++) {
			if (*p == ',') {
				if (p[1] != ',')
					break;
				p++; /* ",," is one comma */
			}
			if (match) {
				if (n + 1 >= len)
					return -1;
				out[n++] = *p;
			}
		}
		if (match) {
			out[n] = '\0';
			return 0;
		}
		if (*p == ',')
			p++;
	}
	return -1;
}

/* NAME when path is exactly <root>/vms/<NAME>/<leaf>. */
static int vm_of_path(const char *root, const char *path, const char *leaf,
		      char *name, size_t namelen)
{
	size_t rl = strlen(root), ll = strlen(leaf), pl = strlen(path), nl;
	char buf[80];

	while (rl > 1 && root[rl - 1] == '/')
		rl--;
	if (pl <= rl + 5 + ll + 1 || strncmp(path, root, rl) ||
	    strncmp(path + rl, "/vms/", 5) || path[pl - ll - 1] != '/' ||
	    strcmp(path + pl - ll, leaf))
		return 0;
	nl = pl - ll - 1 - (rl + 5);
	if (nl >= sizeof buf)
		return 0;
	memcpy(buf, path + rl + 5, nl);
	buf[nl] = '\0';
	if (!ae_valid_vm_name(buf))
		return 0;
	snprintf(name, namelen, "%s", buf);
	return 1;
}

int ae_runtime_qemu_of(const char *root, const char *argv, size_t len,
		       pid_t pid, char *name, size_t namelen)
{
	const char *a, *prev = NULL, *guest = NULL;
	char val[PATH_MAX], nm[80];
	size_t off;

	for (off = 0; off < len; off += strlen(argv + off) + 1) {
		a = argv + off;
		/* -chardev socket,id=qmp0,path=<root>/vms/NAME/qmp.sock,... */
		if (prev && !strcmp(prev, "-chardev") &&
		    qemu_opt(a, "path", val, sizeof val) == 0 &&
		    vm_of_path(root, val, "qmp.sock", name, namelen))
			return 1;
		/* QMP by fd: -add-fd fd=N,set=M,opaque=<root>/vms/NAME/qmp.sock
		 * (the supervisor names its QMP socket there for us) */
		if (prev && !strcmp(prev, "-add-fd") &&
		    qemu_opt(a, "opaque", val, sizeof val) == 0 &&
		    vm_of_path(root, val, "qmp.sock", name, namelen))
			return 1;
		if (prev && !strcmp(prev, "-name") &&
		    qemu_opt(a, "guest", nm, sizeof nm) == 0 &&
		    ae_valid_vm_name(nm))
			guest = a;
		prev = a;
	}
	/* QMP by fd, say: the name, and the pid the supervisor wrote in
	 * the VM's private directory */
	if (guest && qemu_opt(guest, "guest", nm, sizeof nm) == 0) {
		char dir[PATH_MAX];
		long qp;

		if (snprintf(dir, sizeof dir, "%s/vms/%s", root, nm) <
			    (int)sizeof dir &&
		    ae_read_long(dir, "qemu.pid", &qp) == 0 && qp == (long)pid) {
			snprintf(name, namelen, "%s", nm);
			return 1;
		}
	}
	return 0;
}

static int sys_pidfd_open(pid_t pid)
{
#ifdef SYS_pidfd_open
	return (int)syscall(SYS_pidfd_open, pid, 0);
#else
	return (int)syscall(434, pid, 0);
#endif
}

static int sys_pidfd_send_signal(int fd, int sig)
{
#ifdef SYS_pidfd_send_signal
	return (int)syscall(SYS_pidfd_send_signal, fd, sig, NULL, 0);
#else
	return (int)syscall(424, fd, sig, NULL, 0);
#endif
}

/* The real and effective uid of /proc/<pid> (opened as dfd). */
static int proc_uids(int dfd, uid_t *ruid, uid_t *euid)
{
	char buf[4096], *l;
	ssize_t n;
	int fd = openat(dfd, "status", O_RDONLY | O_CLOEXEC);
	unsigned long r, e;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = '\0';
	l = strstr(buf, "\nUid:");
	if (!l || sscanf(l + 5, "%lu %lu", &r, &e) != 2)
		return -EIO;
	*ruid = (uid_t)r;
	*euid = (uid_t)e;
	return 0;
}

static int proc_cmdline(int dfd, char **out, size_t *len)
{
	size_t cap = 4096, n = 0;
	char *buf;
	int fd = openat(dfd, "cmdline", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	buf = ae_xmalloc(cap);
	for (;;) {
		ssize_t r = read(fd, buf + n, cap - n - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
		if (n + 1 >= cap) {
			if (cap >= (1u << 20))
				break;
			cap *= 2;
			buf = ae_xrealloc(buf, cap);
		}
	}
	close(fd);
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

/* May gc kill a process of these uids whose argv matched exactly, the
 * QEMU of VM name of root? */
static int owner_ok(const char *root, const char *name, uid_t ruid,
		    uid_t euid, const char *argv, size_t len)
{
	uid_t me = geteuid();
	const char *a, *prev = NULL;
	struct passwd pw, *res = NULL;
	char pwbuf[1024], dir[PATH_MAX];
	long quid;
	size_t off;

	if (ruid == me && euid == me)
		return 1;
	if (me != 0 || ruid != euid)
		return 0;
	/* the uid the supervisor ran it as, recorded in the VM's private
	 * directory (root's, 0700: nobody else wrote it) */
	if (snprintf(dir, sizeof dir, "%s/vms/%s", root, name) <
		    (int)sizeof dir &&
	    ae_read_long(dir, "qemu.uid", &quid) == 0 && quid == (long)euid)
		return 1;
	/* root's QEMU may run as the user -runas names, or aether-qemu */
	for (off = 0; off < len; off += strlen(argv + off) + 1) {
		a = argv + off;
		if (prev && !strcmp(prev, "-runas") &&
		    getpwnam_r(a, &pw, pwbuf, sizeof pwbuf, &res) == 0 && res &&
		    res->pw_uid == euid)
			return 1;
		prev = a;
	}
	return getpwnam_r(AE_QEMU_USER, &pw, pwbuf, sizeof pwbuf, &res) == 0 &&
	       res && res->pw_uid == euid;
}

/* The orphan scan: every QEMU of a VM of root (only: of that VM alone)
 * that no live[] supervisor owns and whose owner is right.  With pids,
 * they are only listed (up to max); without, they are killed. */
/* How long a killed orphan QEMU may take to exit. */
#define ORPHAN_EXIT_MS 30000

static int orphans(const char *root, const char *only,
		   const struct ae_live_vm *live, size_t n_live, pid_t *pids,
		   int max)
{
	static int told_nopidfd;
	struct dirent *e;
	int killed = 0;
	DIR *d = opendir("/proc");

	if (!d)
		return 0;
	while ((e = readdir(d)) && (!pids || killed < max)) {
		char path[64], name[80], *argv = NULL, *end;
		uid_t ruid, euid;
		size_t len = 0, i;
		long pid = strtol(e->d_name, &end, 10);
		int pidfd, dfd, owned = 0, rc;

		if (*end || pid <= 0 || pid == (long)getpid())
			continue;
		/* the process first, then what it is: if it ends and its
		 * pid is reused meanwhile, the signal goes nowhere */
		pidfd = sys_pidfd_open((pid_t)pid);
		if (pidfd < 0 && errno != ENOSYS)
			continue; /* gone */
		snprintf(path, sizeof path, "/proc/%ld", pid);
		dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0 || proc_cmdline(dfd, &argv, &len) < 0 ||
		    !ae_runtime_qemu_of(root, argv, len, (pid_t)pid, name,
					sizeof name)) {
			free(argv);
			if (dfd >= 0)
				close(dfd);
			if (pidfd >= 0)
				close(pidfd);
			continue;
		}
		for (i = 0; i < n_live; i++)
			owned |= !strcmp(live[i].name, name);
		if (only && strcmp(only, name))
			owned = 1; /* another VM's: not asked about */
		if (owned) {
			/* its supervisor lives: not an orphan */
		} else if (proc_uids(dfd, &ruid, &euid) < 0 ||
			   !owner_ok(root, name, ruid, euid, argv, len)) {
			ae_warn("gc: pid %ld looks like the QEMU of VM %s of %s "
				"but runs as uid %ld: left alone",
				pid, name, root, (long)euid);
		} else if (pids) {
			pids[killed++] = (pid_t)pid;
		} else {
			ae_info("gc: killing QEMU pid %ld of VM %s (its "
				"supervisor is gone)", pid, name);
			rc = pidfd >= 0 ? sys_pidfd_send_signal(pidfd, SIGKILL)
					: -1;
			if (rc < 0 && (pidfd < 0 || errno == ENOSYS)) {
				/* the pid names a process, not the process */
				if (!told_nopidfd++)
					ae_info("gc: no pidfds in this kernel "
						"(ENOSYS): killing by pid");
				rc = sys_pidfd_send_signal(dfd, SIGKILL);
				if (rc < 0 && errno == ENOSYS)
					rc = kill((pid_t)pid, SIGKILL);
			}
			if (rc == 0) {
				killed++;
				/* Until it has exited: its disk locks and
				 * TAP fds go only then, and a new QEMU of
				 * the same VM needs them.  A loaded host
				 * can take seconds to tear down a big
				 * guest. */
				if (pidfd >= 0) {
					struct pollfd pfd = {pidfd, POLLIN, 0};
					if (poll(&pfd, 1, ORPHAN_EXIT_MS) == 0)
						ae_warn("gc: QEMU pid %ld of VM %s "
							"has not exited %d s after "
							"SIGKILL", pid, name,
							ORPHAN_EXIT_MS / 1000);
				} else {
					for (i = 0; i < ORPHAN_EXIT_MS / 100 &&
						    ae_pid_alive((pid_t)pid); i++)
						usleep(100000);
				}
			}
		}
		free(argv);
		close(dfd);
		if (pidfd >= 0)
			close(pidfd);
	}
	closedir(d);
	return killed;
}

int ae_runtime_kill_orphans(const char *root, const struct ae_live_vm *live,
			    size_t n_live)
{
	return orphans(root, NULL, live, n_live, NULL, 0);
}

int ae_runtime_find_orphans_of(const char *root, const char *name,
			       pid_t *pids, int max)
{
	return max > 0 ? orphans(root, name, NULL, 0, pids, max) : 0;
}

int ae_runtime_kill_orphans_of(const char *root, const char *name)
{
	return orphans(root, name, NULL, 0, NULL, 0);
}
