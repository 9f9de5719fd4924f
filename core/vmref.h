/* vmref.h - private to the VM store commands (vm-*.c): a VM of the
 * store, what runs of it, and the helpers the commands share. */
#ifndef AE_VMREF_H
#define AE_VMREF_H

#include <stddef.h>
#include <sys/types.h>

#include "store.h"
#include "vmconf.h"

struct vmref {
	char *store, *dir, *vmfile, *statefile;
	const char *name;
	struct ae_vmconf *c; /* loaded VM file, or NULL */
	char *rtroot, *rtdir, *qmp;
	/* liveness */
	long sup_pid, qemu_pid, index;
	int sup_alive, qemu_alive, rtdir_exists;
	pid_t orphans[8];
	int n_orphans; /* QEMU processes of this VM whose supervisor is dead */
	struct ae_vmstate rec;
};

/* Open VM `name` of the store.  must_exist: refuse when it is not there.
 * Loads the VM file (with the host config) when it exists; 0 or -errno,
 * having said why.  vmref_free releases it (also after a failed open). */
int vmref_open(const char *name, const char *hostconf, int must_exist,
	       struct vmref *v);
void vmref_free(struct vmref *v);
/* 1 (having said why) when name is not a valid VM name. */
int vmref_bad_name(const char *name);
/* Refresh the liveness fields from the runtime dir and /proc. */
void vmref_probe(struct vmref *v);
/* The state shown to users: the record checked against what runs; why
 * gets the reason. */
const char *vmref_state(const struct vmref *v, char *why, size_t len);
int vmref_running(const struct vmref *v);
/* After a supervisor crash: no QEMU, no runtime dir, backend cleaned. */
void vmref_recover(struct vmref *v);
/* Write the state record (state, reason) with what runs now. */
void vmref_record(struct vmref *v, const char *state, const char *reason);
/* Stop a running VM, its lock held (vm-start.c); 0 or an exit status. */
int vmref_stop(struct vmref *v, int timeout_s, int force);

/* flock dir/lock exclusively; the fd, or -1 having said why. */
int vmref_lock_dir(const char *dir);
/* Run argv (no shell), output appended to log; 0 or the failure. */
int ae_run_tool(const char *const *argv, const char *log, char *err,
		size_t errlen);
/* Wait until pid is gone (zombies count as gone); 1 if it went. */
int ae_wait_gone(pid_t pid, int timeout_ms);
/* Write text to path (0600); 0 or -errno, having said why. */
int ae_write_text(const char *path, const char *text);

#endif
