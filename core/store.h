/* store.h - the VM store: one directory per VM made by `aether create`.
 *
 * Layout under the store root ($AETHER_STORE_DIR, $XDG_DATA_HOME/aether or
 * ~/.local/share/aether for users, /var/lib/aether for root):
 *   lock                  flock'd (exclusive) by create and delete, so
 *                         names and MACs are checked and taken atomically
 *   vms/<name>/           one per VM (0700)
 *       vm.conf           the VM file `aether run` is given
 *       disk.qcow2        qcow2 overlay on the base image
 *       seed.img          cloud-init NoCloud seed (label cidata), optional
 *       state             last recorded state (key=value lines, atomic)
 *       lock              flock'd by start/stop/delete of this VM
 *       supervisor.log    the detached supervisor's output
 *       start.fifo        while `aether start` waits for a supervisor run
 *                         as a systemd unit: its readiness reports
 *       console.log       the guest's serial console
 *   vms/.new-<name>.<pid> a create in progress (renamed into place at the
 *   vms/.del-<name>.<pid> end) and a delete in progress; `aether gc`
 *                         removes them when that pid is gone
 *
 * The state file is written before every side effect (start, stop) and by
 * the supervisor when QEMU runs and when it exits; readers combine it with
 * the liveness of the pids in the runtime directory, so a crash of any
 * process never makes `aether list` lie.
 */
#ifndef AE_STORE_H
#define AE_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

/* The store root (created 0700).  Returns 0 or -errno with err set. */
int ae_store_root(char **out, char *err, size_t errlen);

/* flock `dir`/lock; LOCK_EX or LOCK_SH, | LOCK_NB for a try.  Returns the
 * fd (close it to unlock) or -errno. */
int ae_store_lock(const char *dir, int how);

/* The recorded state of a VM. */
struct ae_vmstate {
	char state[16];   /* created starting running stopping stopped crashed */
	long pid;         /* supervisor pid, 0 unknown */
	long qemu_pid;    /* QEMU pid, 0 unknown */
	long index;       /* VM index, -1 unknown */
	long long started;/* unix time QEMU started, 0 unknown */
	long long updated;/* unix time of this record */
	int exit_code;    /* the supervisor's exit status, -1 unknown */
	char reason[160]; /* one line, may be empty */
};

void ae_vmstate_init(struct ae_vmstate *s, const char *state);
/* Atomic write (tmp + rename) of path; 0 or -errno. */
int ae_vmstate_write(const char *path, const struct ae_vmstate *s);
/* Read path; -ENOENT when there is none; unknown keys are ignored. */
int ae_vmstate_read(const char *path, struct ae_vmstate *s);

/* Names of the VMs in the store (sorted); returns the count or -errno. */
int ae_store_list(const char *root, char ***names);
void ae_store_list_free(char **names, int n);

/* A random RFC 4122 version 4 UUID, "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx". */
int ae_uuid_random(char out[37]);
/* 1 when s is such a UUID (any version, lower or upper case hex). */
int ae_uuid_valid(const char *s);

/* Read the [vm] mac = line of a VM file; 0 or -errno. */
int ae_store_vm_mac(const char *vmfile, uint8_t mac[6]);

/* Pick the MAC for a new VM: derived from the name (salt 0, 1, ... on a
 * collision with a VM in `taken`).  Returns the salt used. */
int ae_store_pick_mac(const char *name, const uint8_t (*taken)[6], size_t n,
		      uint8_t mac[6]);

/* Remove interrupted creates/deletes (vms/.new-* / .del-* of dead pids). */
void ae_store_gc(const char *root);


#endif
