/* helper.h - helper processes started for plugins (host service). */
#ifndef AE_HELPER_H
#define AE_HELPER_H

#include <sys/types.h>
#include <aether/plugin.h>

struct aether_helper {
	struct aether_helper *next;
	pid_t pid;
	uint32_t flags;
	int stop_signal;
	int stop_timeout_ms;
	int exited; /* reaped */
	int status;
};

/* Resolve argv[0] in PATH (unless it contains '/'): a malloc'd path. */
char *ae_find_program(const char *name);

/* fork + exec with stdin on /dev/null, default signal dispositions, an
 * empty signal mask and its own process group (a new session when
 * detached).  keep_fds (n_keep entries) stay open in the child. */
int ae_spawn(const char *const *argv, const char *const *envp,
	     const char *log_path, int setsid_, const int *keep_fds,
	     size_t n_keep, pid_t *pid, char *err, size_t errlen);

/* Who a child runs as: the supervisor drops to it between fork and exec
 * (libvirt's way; QEMU's own -runas cannot go with -sandbox
 * elevateprivileges=deny). */
struct ae_creds {
	uid_t uid;
	gid_t gid;
	size_t n_groups;
	gid_t groups[64]; /* supplementary groups */
	char name[64];
};

/* ae_spawn, and when creds is not NULL the child drops to them before
 * exec: setgroups, setresgid, setresuid, a check that it cannot regain
 * root (setuid(0) must fail), PR_SET_NO_NEW_PRIVS, cwd "/".  A failure is
 * reported like a failed exec, naming the step. */
int ae_spawn_as(const char *const *argv, const char *const *envp,
		const char *log_path, int setsid_, const int *keep_fds,
		size_t n_keep, const struct ae_creds *creds, pid_t *pid,
		char *err, size_t errlen);

/* ae_spawn_as, but the child gets only stdin, stdout, stderr and the
 * n_keep descriptors of keep_fds, at the same numbers: every other
 * descriptor is close-on-exec in the child, whatever it is in the
 * caller.  The caller checks keep_fds (ae_check_keep_fds). */
int ae_spawn_only(const char *const *argv, const char *const *envp,
		  const char *log_path, int setsid_, const int *keep_fds,
		  size_t n_keep, const struct ae_creds *creds, pid_t *pid,
		  char *err, size_t errlen);

/* 0 when keep_fds (n_keep entries, at most AETHER_HELPER_MAX_KEEP_FDS) are
 * open descriptors above 2, else -EINVAL with the reason in err, naming
 * what (e.g. the helper's program). */
int ae_check_keep_fds(const char *what, const int *keep_fds, size_t n_keep,
		      char *err, size_t errlen);

/* Start the helper spec describes.  A spec of the 1.3 size or longer
 * gives it exactly spec->keep_fds (ae_spawn_only, after
 * ae_check_keep_fds); a shorter one every descriptor of this process that
 * is not close-on-exec (ae_spawn). */
int ae_helper_start(const struct aether_helper_spec *spec,
		    struct aether_helper **out, char *err, size_t errlen);
int ae_helper_stop(struct aether_helper *h);
int ae_helper_alive(struct aether_helper *h);

/* Wait for pid up to timeout_ms; 1 and *status when it exited, 0 if
 * still running.  Works for non-children (status then unknown: 0). */
int ae_wait_pid(pid_t pid, int timeout_ms, int *status);

#endif
