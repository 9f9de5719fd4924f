/* runtime.h - aether's runtime directories and VM index allocation.
 *
 * Layout under the runtime root ($AETHER_RUNTIME_DIR, the host config's
 * runtime_dir, $XDG_RUNTIME_DIR/aether for users or /run/aether for root):
 *   lock                 flock'd while allocating indexes
 *   index/<N>            VM index N: flock'd by the supervisor using it for
 *                        its lifetime (holds its VM's name)
 *   vms/<name>/          one per running supervisor (0700)
 *       pid, index       the supervisor's pid and the VM's index
 *       qmp.sock         QEMU's QMP socket
 *   plugins/<backend>/   each plugin's private state (0700)
 */
#ifndef AE_RUNTIME_H
#define AE_RUNTIME_H

#include <stddef.h>
#include <sys/types.h>

/* The host config's runtime_dir, used when ae_runtime_root gets NULL. */
void ae_runtime_set_default(const char *configured);
/* The runtime root; configured may be NULL.  Creates it (0700). */
int ae_runtime_root(const char *configured, char **out, char *err,
		    size_t errlen);

/* Claim vms/<name> for this process and pick the lowest index no live VM
 * uses (or `want` if >= 0 and free): the index/<N> slot is locked until
 * ae_runtime_release_vm or the process ends (one VM per process).  Fails
 * with -EEXIST when a live supervisor already runs that VM; a stale
 * directory is taken over. */
int ae_runtime_claim_vm(const char *root, const char *name, int want,
			char **vmdir, unsigned *index, char *err,
			size_t errlen);
void ae_runtime_release_vm(const char *vmdir);

/* Live VMs: names and indexes of the vms/ entries whose supervisor runs. */
struct ae_live_vm {
	char *name;
	unsigned index;
	pid_t pid;
};
int ae_runtime_live(const char *root, struct ae_live_vm **out, size_t *n);
void ae_runtime_live_free(struct ae_live_vm *v, size_t n);

/* The runtime lock (<root>/lock), flock'd exclusively: claims take it
 * while they allocate an index, gc for the whole of its look at what is
 * live and what it removes.  The fd, or -errno with err set. */
int ae_runtime_lock(const char *root, char *err, size_t errlen);

/* Is the process with this argv (NUL-separated, len bytes) and pid the
 * QEMU of a VM of runtime root `root`?  Exactly: one of its options has
 * path=<root>/vms/<NAME>/qmp.sock (QEMU's ",," unescaped), or it has
 * -name guest=<NAME>,... and <root>/vms/<NAME>/qemu.pid holds pid.  1
 * with NAME in name, else 0.  Substrings never match: /home/u/run/x/vms
 * is not /run/x/vms. */
int ae_runtime_qemu_of(const char *root, const char *argv, size_t len,
		       pid_t pid, char *name, size_t namelen);

/* Kill (SIGKILL through a pidfd, so a pid reused meanwhile is never hit)
 * every QEMU of a VM of `root` (ae_runtime_qemu_of) that no live[]
 * supervisor owns and that runs as this user, or, for root, as the user
 * its -runas names or aether-qemu.  Waits up to 5 s for each.  Returns
 * how many were killed.  Hold ae_runtime_lock across live and this. */
int ae_runtime_kill_orphans(const char *root, const struct ae_live_vm *live,
			    size_t n_live);
/* The same for VM `name` alone, whose supervisor the caller knows to be
 * dead (it holds the VM's lock): list them (up to max), or kill them. */
int ae_runtime_find_orphans_of(const char *root, const char *name,
			       pid_t *pids, int max);
int ae_runtime_kill_orphans_of(const char *root, const char *name);

#endif
