/* vmref.c - a VM of the store and what runs of it: open, probe, state,
 * record, recover; the small process helpers the commands share; gc. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "helper.h"
#include "instance.h"
#include "lifecycle.h"
#include "loader.h"
#include "runtime.h"
#include "store.h"
#include "util.h"
#include "vmconf.h"
#include "vmref.h"

extern char **environ;

/* ------------------------------------------------------------------ */
/* A VM of the store and what runs of it.                             */

void vmref_free(struct vmref *v)
{
	free(v->store);
	free(v->dir);
	free(v->vmfile);
	free(v->statefile);
	free(v->rtroot);
	free(v->rtdir);
	free(v->qmp);
	ae_vmconf_free(v->c);
	memset(v, 0, sizeof *v);
}

int vmref_bad_name(const char *name)
{
	if (ae_valid_vm_name(name))
		return 0;
	ae_err("'%s' is not a valid VM name (1-64 of A-Z a-z 0-9 _ . -, "
	       "starting with a letter or digit)", name);
	return 1;
}

static long read_long_file(const char *dir, const char *file)
{
	long v = 0;

	return ae_read_long(dir, file, &v) == 0 ? v : 0;
}

/* Refresh the liveness fields from the runtime dir and /proc. */
void vmref_probe(struct vmref *v)
{
	struct stat st;

	v->sup_pid = v->qemu_pid = 0;
	v->index = -1;
	v->sup_alive = v->qemu_alive = v->rtdir_exists = 0;
	v->n_orphans = 0;
	ae_vmstate_read(v->statefile, &v->rec);
	if (!v->rtdir)
		return;
	if (lstat(v->rtdir, &st) == 0 && S_ISDIR(st.st_mode)) {
		v->rtdir_exists = 1;
		v->sup_pid = read_long_file(v->rtdir, "pid");
		v->qemu_pid = read_long_file(v->rtdir, "qemu.pid");
		if (v->sup_pid > 0)
			v->index = read_long_file(v->rtdir, "index");
		v->sup_alive = ae_pid_alive((pid_t)v->sup_pid);
		v->qemu_alive = ae_pid_alive((pid_t)v->qemu_pid);
	}
	/* A QEMU without supervisor can only be there when a supervisor
	 * died: its runtime dir is left, or its record says it ran.  (Not
	 * scanning /proc otherwise keeps start O(1) in the running VMs.) */
	if (!v->sup_alive &&
	    (v->rtdir_exists || !strcmp(v->rec.state, "running") ||
	     !strcmp(v->rec.state, "starting") ||
	     !strcmp(v->rec.state, "stopping")))
		v->n_orphans = ae_runtime_find_orphans_of(
			v->rtroot, v->name, v->orphans,
			(int)AE_ARRAY_SIZE(v->orphans));
}

/* flock dir/lock exclusively; the fd, or -1 having said why. */
int vmref_lock_dir(const char *dir)
{
	int fd = ae_store_lock(dir, LOCK_EX);

	if (fd < 0)
		ae_err("%s/lock: %s", dir, strerror(-fd));
	return fd;
}

/* Open VM `name` of the store.  must_exist: refuse when it is not there.
 * Loads the VM file (with the host config) when it exists. */
int vmref_open(const char *name, const char *hostconf, int must_exist,
		   struct vmref *v)
{
	char err[1024];
	struct stat st;

	memset(v, 0, sizeof *v);
	v->name = name;
	if (vmref_bad_name(name))
		return -EINVAL;
	if (ae_store_root(&v->store, err, sizeof err) < 0) {
		ae_err("%s", err);
		return -EIO;
	}
	v->dir = ae_xasprintf("%s/vms/%s", v->store, name);
	v->vmfile = ae_xasprintf("%s/vm.conf", v->dir);
	v->statefile = ae_xasprintf("%s/state", v->dir);
	if (lstat(v->dir, &st) < 0) {
		if (must_exist) {
			ae_err("no VM named %s in %s/vms (see aether list)", name,
			       v->store);
			return -ENOENT;
		}
		return 0;
	}
	if (!S_ISDIR(st.st_mode)) {
		ae_err("%s is not a directory", v->dir);
		return -ENOTDIR;
	}
	if (ae_vmconf_load(v->vmfile, hostconf, &v->c, err, sizeof err) < 0) {
		ae_err("%s", err);
		return -EINVAL;
	}
	ae_runtime_set_default(v->c->runtime_dir);
	if (ae_runtime_root(v->c->runtime_dir, &v->rtroot, err, sizeof err) <
	    0) {
		ae_err("%s", err);
		return -EIO;
	}
	v->rtdir = ae_xasprintf("%s/vms/%s", v->rtroot, name);
	v->qmp = ae_xasprintf("%s/qmp.sock", v->rtdir);
	vmref_probe(v);
	return 0;
}

/* The state shown to users: the record checked against what runs. */
const char *vmref_state(const struct vmref *v, char *why, size_t len)
{
	const char *r = v->rec.state;

	why[0] = '\0';
	if (v->sup_alive) {
		if (!strcmp(r, "stopping"))
			return "stopping";
		if (v->qemu_alive && !strcmp(r, "running"))
			return "running";
		return v->qemu_pid > 0 && !v->qemu_alive ? "stopping"
							 : "starting";
	}
	if (v->n_orphans) {
		snprintf(why, len, "supervisor died, QEMU pid %ld still runs "
			 "(aether stop or aether gc)", (long)v->orphans[0]);
		return "crashed";
	}
	if (v->rtdir_exists) {
		snprintf(why, len, "supervisor pid %ld died (aether gc cleans "
			 "up)", v->sup_pid);
		return "crashed";
	}
	if (!strcmp(r, "running") || !strcmp(r, "starting") ||
	    !strcmp(r, "stopping")) {
		snprintf(why, len, "supervisor pid %ld is gone", v->rec.pid);
		return "crashed";
	}
	snprintf(why, len, "%s", v->rec.reason);
	return r;
}

int vmref_running(const struct vmref *v)
{
	return v->sup_alive;
}

/* ------------------------------------------------------------------ */
/* Small process helpers.                                             */

/* Run argv (no shell), output appended to log; 0 or the failure. */
int ae_run_tool(const char *const *argv, const char *log, char *err,
		    size_t errlen)
{
	static const char *const env_extra = "MTOOLS_SKIP_CHECK=1";
	const char **envp;
	size_t n = 0, i;
	pid_t pid;
	int st, rc;

	while (environ[n])
		n++;
	envp = ae_xcalloc(n + 2, sizeof *envp);
	for (i = 0; i < n; i++)
		envp[i] = environ[i];
	envp[n] = env_extra;
	rc = ae_spawn(argv, envp, log, 0, NULL, 0, &pid, err, errlen);
	free(envp);
	if (rc < 0)
		return rc;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return ae_seterr(err, errlen, errno, "waitpid: %s",
					 strerror(errno));
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	{
		char *buf = NULL, *last;
		if (ae_read_file(log, &buf, NULL, 1 << 16) == 0) {
			size_t l = strlen(buf);
			while (l && buf[l - 1] == '\n')
				buf[--l] = '\0';
			last = strrchr(buf, '\n');
			last = last ? last + 1 : buf;
		} else {
			last = "";
		}
		rc = ae_seterr(err, errlen, EIO, "%s failed (%s %d)%s%s",
			       argv[0],
			       WIFEXITED(st) ? "status" : "signal",
			       WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st),
			       *last ? ": " : "", last);
		free(buf);
	}
	return rc;
}

/* Wait until pid is gone (zombies count as gone); 1 if it went. */
int ae_wait_gone(pid_t pid, int timeout_ms)
{
	uint64_t end = ae_now_ns() + (uint64_t)timeout_ms * 1000000ull;
	struct timespec ts = {0, 5000000};

	while (ae_pid_alive(pid)) {
		waitpid(pid, NULL, WNOHANG); /* when it is our child */
		if (ae_now_ns() >= end)
			return !ae_pid_alive(pid);
		nanosleep(&ts, NULL);
	}
	return 1;
}

static void kill_orphans(struct vmref *v)
{
	/* matched exactly, owner checked, killed through pidfds */
	if (v->n_orphans)
		ae_warn("%s: killing %d QEMU process(es) left by a dead "
			"supervisor", v->name, v->n_orphans);
	ae_runtime_kill_orphans_of(v->rtroot, v->name);
	v->n_orphans = 0;
}

/* The VMs whose supervisor runs, as the plugins' gc wants them. */
static void backend_gc(const struct ae_vmconf *c, const char *rtroot)
{
	struct ae_live_vm *live = NULL;
	struct aether_vm *vms;
	struct ae_instance *inst;
	char err[1024];
	size_t n = 0, i;
	int rc;

	if (ae_instance_open(c->backend, c->plugin_dir, &c->backend_section,
			     &inst, err, sizeof err) < 0) {
		ae_warn("gc: %s", err);
		return;
	}
	ae_runtime_live(rtroot, &live, &n);
	vms = ae_xcalloc(n ? n : 1, sizeof *vms);
	for (i = 0; i < n; i++)
		ae_vm_init(&vms[i], live[i].name, live[i].index, NULL);
	rc = ae_instance_gc(inst, vms, n);
	if (rc < 0)
		ae_warn("gc: backend %s: %s", c->backend, strerror(-rc));
	free(vms);
	ae_runtime_live_free(live, n);
	ae_instance_close(inst);
}

/* After a supervisor crash: no QEMU, no runtime dir, backend cleaned. */
void vmref_recover(struct vmref *v)
{
	kill_orphans(v);
	if (v->rtdir_exists && !ae_pid_alive((pid_t)v->sup_pid)) {
		ae_info("%s: removing the runtime directory of dead supervisor "
			"pid %ld", v->name, v->sup_pid);
		ae_rmtree(v->rtdir);
		v->rtdir_exists = 0;
	}
	backend_gc(v->c, v->rtroot);
}

void vmref_record(struct vmref *v, const char *state, const char *reason)
{
	struct ae_vmstate s;

	ae_vmstate_init(&s, state);
	s.pid = v->sup_alive ? v->sup_pid : 0;
	s.qemu_pid = v->qemu_alive ? v->qemu_pid : 0;
	s.index = v->index;
	s.started = v->sup_alive ? v->rec.started : 0;
	s.exit_code = v->rec.exit_code;
	snprintf(s.reason, sizeof s.reason, "%s", reason ? reason : "");
	if (ae_vmstate_write(v->statefile, &s) < 0)
		ae_warn("%s: cannot write %s", v->name, v->statefile);
	v->rec = s;
}

int ae_write_text(const char *path, const char *text)
{
	int rc = ae_write_file(path, text, strlen(text), 0600);
	if (rc < 0)
		ae_err("%s: %s", path, strerror(-rc));
	return rc;
}

/* ------------------------------------------------------------------ */
/* gc                                                                 */

void ae_lifecycle_gc(const char *runtime_root)
{
	struct ae_live_vm *live = NULL;
	char err[1024], *store;
	size_t n = 0;

	/* QEMU processes whose supervisor died: exactly the QEMU of a VM of
	 * this runtime root (its QMP socket path, or its name and the pid
	 * the supervisor wrote), ours, and no live supervisor owns it.  The
	 * caller holds the runtime lock: no VM is claimed meanwhile. */
	ae_runtime_live(runtime_root, &live, &n);
	ae_runtime_kill_orphans(runtime_root, live, n);
	ae_runtime_live_free(live, n);
	if (ae_store_root(&store, err, sizeof err) == 0) {
		ae_store_gc(store);
		free(store);
	}
}
