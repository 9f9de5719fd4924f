/* helper.h - helper processes started for plugins (host service). */
#ifndef AE_HELPER_H
#define AE_HELPER_H

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

int ae_helper_start(const struct aether_helper_spec *spec,
		    struct aether_helper **out, char *err, size_t errlen);
int ae_helper_stop(struct aether_helper *h);
int ae_helper_alive(struct aether_helper *h);

/* Wait for pid up to timeout_ms; 1 and *status when it exited, 0 if
 * still running.  Works for non-children (status then unknown: 0). */
int ae_wait_pid(pid_t pid, int timeout_ms, int *status);

#endif
