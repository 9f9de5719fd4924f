/* helper.c - spawning and stopping helper processes, without a shell. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "helper.h"
#include "util.h"

extern char **environ;

char *ae_find_program(const char *name)
{
	const char *path = getenv("PATH");
	char *copy, *dir, *save = NULL, *found = NULL;

	if (!name || !*name)
		return NULL;
	if (strchr(name, '/'))
		return access(name, X_OK) == 0 ? ae_xstrdup(name) : NULL;
	copy = ae_xstrdup(path && *path ? path : "/usr/local/bin:/usr/bin:/bin");
	for (dir = strtok_r(copy, ":", &save); dir && !found;
	     dir = strtok_r(NULL, ":", &save)) {
		char *p = ae_xasprintf("%s/%s", *dir ? dir : ".", name);
		struct stat st;
		if (stat(p, &st) == 0 && S_ISREG(st.st_mode) &&
		    access(p, X_OK) == 0)
			found = p;
		else
			free(p);
	}
	free(copy);
	return found;
}

static int spawn(const char *const *argv, const char *const *envp,
		 const char *log_path, int setsid_, const int *keep_fds,
		 size_t n_keep, int only, const struct ae_creds *creds,
		 pid_t *pid_out, char *err, size_t errlen);

int ae_spawn(const char *const *argv, const char *const *envp,
	     const char *log_path, int setsid_, const int *keep_fds,
	     size_t n_keep, pid_t *pid_out, char *err, size_t errlen)
{
	return spawn(argv, envp, log_path, setsid_, keep_fds, n_keep, 0, NULL,
		     pid_out, err, errlen);
}

int ae_spawn_as(const char *const *argv, const char *const *envp,
		const char *log_path, int setsid_, const int *keep_fds,
		size_t n_keep, const struct ae_creds *creds, pid_t *pid_out,
		char *err, size_t errlen)
{
	return spawn(argv, envp, log_path, setsid_, keep_fds, n_keep, 0, creds,
		     pid_out, err, errlen);
}

int ae_spawn_only(const char *const *argv, const char *const *envp,
		  const char *log_path, int setsid_, const int *keep_fds,
		  size_t n_keep, const struct ae_creds *creds, pid_t *pid_out,
		  char *err, size_t errlen)
{
	return spawn(argv, envp, log_path, setsid_, keep_fds, n_keep, 1, creds,
		     pid_out, err, errlen);
}

int ae_check_keep_fds(const char *what, const int *keep_fds, size_t n_keep,
		      char *err, size_t errlen)
{
	size_t i;

	if (n_keep > AETHER_HELPER_MAX_KEEP_FDS)
		return ae_seterr(err, errlen, EINVAL,
				 "%s: %zu descriptors to keep, more than "
				 "the %d allowed",
				 what, n_keep, AETHER_HELPER_MAX_KEEP_FDS);
	if (n_keep && !keep_fds)
		return ae_seterr(err, errlen, EINVAL,
				 "%s: %zu descriptors to keep but no list",
				 what, n_keep);
	for (i = 0; i < n_keep; i++) {
		if (keep_fds[i] >= 0 && keep_fds[i] <= 2)
			return ae_seterr(err, errlen, EINVAL,
					 "%s: descriptor %d to keep (entry "
					 "%zu): 0, 1 and 2 are the helper's "
					 "stdin, stdout and stderr",
					 what, keep_fds[i], i);
		if (keep_fds[i] < 0 || fcntl(keep_fds[i], F_GETFD) < 0)
			return ae_seterr(err, errlen, EINVAL,
					 "%s: descriptor %d to keep (entry "
					 "%zu) is not open",
					 what, keep_fds[i], i);
	}
	return 0;
}

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

/* In the child (async-signal-safe): every descriptor from 3 up
 * close-on-exec.  close_range(2) does it in one call (Linux 5.11); an
 * older kernel gets a loop up to the descriptor limit. */
static void cloexec_from_3(void)
{
	struct rlimit rl;
	long fd, max = 65536;

#ifdef SYS_close_range
	if (syscall(SYS_close_range, 3u, ~0u, CLOSE_RANGE_CLOEXEC) == 0)
		return;
#endif
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		max = rl.rlim_cur < (1u << 20) ? (long)rl.rlim_cur : 1L << 20;
	for (fd = 3; fd < max; fd++) {
		int fl = fcntl((int)fd, F_GETFD);
		if (fl >= 0 && !(fl & FD_CLOEXEC))
			fcntl((int)fd, F_SETFD, fl | FD_CLOEXEC);
	}
}

/* The steps of the child that can fail, as reported through the pipe. */
static const char *const child_step[] = {
	"exec", "setgroups", "setgid", "setuid", "regained root after dropping",
	"PR_SET_NO_NEW_PRIVS", "chdir /",
};

/* In the child: become creds for good.  0, or the failing step. */
static int drop_privileges(const struct ae_creds *cr)
{
	if (setgroups(cr->n_groups, cr->groups) < 0)
		return 1;
	if (setresgid(cr->gid, cr->gid, cr->gid) < 0)
		return 2;
	if (setresuid(cr->uid, cr->uid, cr->uid) < 0)
		return 3;
	/* Verify: no way back to root, and nothing of it left. */
	if (cr->uid != 0 && (setuid(0) == 0 || seteuid(0) == 0 ||
			     setgid(0) == 0 || getuid() != cr->uid ||
			     geteuid() != cr->uid || getegid() != cr->gid)) {
		errno = EPERM;
		return 4;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return 5;
	if (chdir("/") < 0)
		return 6;
	return 0;
}

static int spawn(const char *const *argv, const char *const *envp,
		 const char *log_path, int setsid_, const int *keep_fds,
		 size_t n_keep, int only, const struct ae_creds *creds,
		 pid_t *pid_out, char *err, size_t errlen)
{
	int errpipe[2], logfd = -1, nullfd, e = 0, rep[2] = {0, 0};
	char *prog;
	pid_t pid;
	ssize_t r;

	prog = ae_find_program(argv[0]);
	if (!prog)
		return ae_seterr(err, errlen, ENOENT,
				 "%s: program not found in PATH", argv[0]);
	if (log_path) {
		logfd = open(log_path,
			     O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY,
			     0600);
		if (logfd < 0) {
			e = errno;
			free(prog);
			return ae_seterr(err, errlen, e, "%s: %s", log_path,
					 strerror(e));
		}
	}
	nullfd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (nullfd < 0 || pipe2(errpipe, O_CLOEXEC) < 0) {
		e = errno;
		if (nullfd >= 0)
			close(nullfd);
		if (logfd >= 0)
			close(logfd);
		free(prog);
		return ae_seterr(err, errlen, e, "spawn %s: %s", argv[0],
				 strerror(e));
	}
	pid = fork();
	if (pid == 0) {
		sigset_t all;
		size_t i;
		int sig;

		/* Only async-signal-safe calls from here on. */
		for (sig = 1; sig < NSIG; sig++)
			if (sig != SIGKILL && sig != SIGSTOP)
				signal(sig, SIG_DFL);
		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		if (setsid_)
			setsid();
		else
			setpgid(0, 0);
		dup2(nullfd, 0);
		if (logfd >= 0) {
			dup2(logfd, 1);
			dup2(logfd, 2);
		}
		if (only)
			cloexec_from_3(); /* the pipe is already: it stays */
		for (i = 0; i < n_keep; i++) {
			int fl = fcntl(keep_fds[i], F_GETFD);
			if (fl >= 0)
				fcntl(keep_fds[i], F_SETFD, fl & ~FD_CLOEXEC);
		}
		if (creds && (rep[0] = drop_privileges(creds)) != 0) {
			rep[1] = errno;
			r = write(errpipe[1], rep, sizeof rep);
			(void)r;
			_exit(127);
		}
		execve(prog, (char *const *)argv,
		       (char *const *)(envp ? envp : (const char *const *)environ));
		rep[1] = errno;
		r = write(errpipe[1], rep, sizeof rep);
		(void)r;
		_exit(127);
	}
	e = errno;
	close(errpipe[1]);
	close(nullfd);
	if (logfd >= 0)
		close(logfd);
	if (pid < 0) {
		close(errpipe[0]);
		free(prog);
		return ae_seterr(err, errlen, e, "fork for %s: %s", argv[0],
				 strerror(e));
	}
	/* The pipe closes on exec: a read of 0 bytes means exec worked. */
	do
		r = read(errpipe[0], rep, sizeof rep);
	while (r < 0 && errno == EINTR);
	close(errpipe[0]);
	if (r == (ssize_t)sizeof rep) {
		e = rep[1] ? rep[1] : EPERM;
		waitpid(pid, NULL, 0);
		if (rep[0] == 0)
			ae_seterr(err, errlen, e, "cannot execute %s: %s", prog,
				  strerror(e));
		else
			ae_seterr(err, errlen, e,
				  "cannot run %s as user %s (uid %ld): %s: %s",
				  prog, creds->name, (long)creds->uid,
				  child_step[rep[0] < 7 ? rep[0] : 0],
				  strerror(e));
		free(prog);
		return -e;
	}
	free(prog);
	*pid_out = pid;
	return 0;
}

int ae_wait_pid(pid_t pid, int timeout_ms, int *status)
{
	uint64_t end = ae_now_ns() + (uint64_t)timeout_ms * 1000000ull;
	struct timespec ts = {0, 5 * 1000000};
	int st = 0;

	for (;;) {
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid) {
			if (status)
				*status = st;
			return 1;
		}
		if (r < 0 && errno == ECHILD) {
			/* not our child: poll for existence */
			if (kill(pid, 0) < 0 && errno == ESRCH) {
				if (status)
					*status = 0;
				return 1;
			}
		}
		if (ae_now_ns() >= end)
			return 0;
		nanosleep(&ts, NULL);
	}
}

int ae_helper_start(const struct aether_helper_spec *spec,
		    struct aether_helper **out, char *err, size_t errlen)
{
	struct aether_helper *h;
	pid_t pid;
	int rc;

	if (!spec || spec->struct_size < offsetof(struct aether_helper_spec,
						   stop_timeout_ms) +
						  sizeof spec->stop_timeout_ms)
		return ae_seterr(err, errlen, EINVAL, "helper spec too small");
	if (!spec->argv || !spec->argv[0])
		return ae_seterr(err, errlen, EINVAL, "helper without argv");
	if (spec->flags & ~AETHER_HELPER_DETACHED)
		return ae_seterr(err, errlen, EINVAL,
				 "helper flags 0x%x unknown", spec->flags);
	if (spec->struct_size >= offsetof(struct aether_helper_spec,
					  n_keep_fds) +
				     sizeof spec->n_keep_fds) {
		/* 1.3: exactly the listed descriptors */
		rc = ae_check_keep_fds(spec->argv[0], spec->keep_fds,
				       spec->n_keep_fds, err, errlen);
		if (rc == 0)
			rc = ae_spawn_only(spec->argv, spec->envp,
					   spec->log_path,
					   !!(spec->flags &
					      AETHER_HELPER_DETACHED),
					   spec->keep_fds, spec->n_keep_fds,
					   NULL, &pid, err, errlen);
	} else {
		/* 1.0 to 1.2: what is not close-on-exec is inherited */
		rc = ae_spawn(spec->argv, spec->envp, spec->log_path,
			      !!(spec->flags & AETHER_HELPER_DETACHED), NULL,
			      0, &pid, err, errlen);
	}
	if (rc < 0)
		return rc;
	h = ae_xcalloc(1, sizeof *h);
	h->pid = pid;
	h->flags = spec->flags;
	h->stop_signal = spec->stop_signal ? spec->stop_signal : SIGTERM;
	h->stop_timeout_ms = spec->stop_timeout_ms > 0 ? spec->stop_timeout_ms
						       : 5000;
	*out = h;
	return 0;
}

int ae_helper_alive(struct aether_helper *h)
{
	int st;

	if (h->exited)
		return 0;
	if (ae_wait_pid(h->pid, 0, &st)) {
		h->exited = 1;
		h->status = st;
		return 0;
	}
	return 1;
}

int ae_helper_stop(struct aether_helper *h)
{
	int st;

	if (!ae_helper_alive(h))
		return 0;
	kill(h->pid, h->stop_signal);
	if (!ae_wait_pid(h->pid, h->stop_timeout_ms, &st)) {
		ae_warn("helper pid %ld did not stop within %d ms: killing it",
			(long)h->pid, h->stop_timeout_ms);
		kill(h->pid, SIGKILL);
		ae_wait_pid(h->pid, 2000, &st);
	}
	h->exited = 1;
	h->status = st;
	return 0;
}
