/* vm-start.c - aether start (the supervisor forked, or as the main
 * process of a systemd-run unit) and aether stop. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helper.h"
#include "lifecycle.h"
#include "loader.h"
#include "qemu-argv.h"
#include "qmp.h"
#include "ready.h"
#include "store.h"
#include "supervisor.h"
#include "util.h"
#include "vmconf.h"
#include "vmref.h"

/* ------------------------------------------------------------------ */
/* start                                                              */

/* Print the lines the supervisor logged since offset. */
static void show_log(const char *log, off_t from)
{
	char buf[4096];
	ssize_t r;
	int fd = open(log, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return;
	if (lseek(fd, from, SEEK_SET) == from)
		while ((r = read(fd, buf, sizeof buf)) > 0)
			if (fwrite(buf, 1, (size_t)r, stderr) != (size_t)r)
				break;
	close(fd);
}

/* Read the supervisor's readiness lines (ready.h) from fd: "started"
 * (from a supervisor that is not our child) and "ready"; other lines are
 * not ours and skipped.  started_by: the deadline for "started" (0: not
 * expected); ready_by: for "ready".  Returns 1 ready (*rd filled), 0 the
 * supervisor closed its end before that, -ETIMEDOUT, -EPROTO (said why)
 * for a malformed readiness line; *sup gets the pid "started" gave. */
static int wait_ready(const char *name, int fd, uint64_t started_by,
		      uint64_t ready_by, long *sup, struct ae_ready *rd)
{
	char buf[AE_READY_LINE_MAX];
	size_t got = 0;
	int started = !started_by;

	for (;;) {
		uint64_t end = started ? ready_by : started_by, now = ae_now_ns();
		struct pollfd pf = {fd, POLLIN, 0};
		char *nl;
		ssize_t r;
		int pr, rs, rr;

		while ((nl = memchr(buf, '\n', got))) {
			size_t n = (size_t)(nl - buf);

			rr = ae_ready_parse(buf, n, rd);
			if (rr == 0)
				return 1;
			rs = ae_ready_parse_started(buf, n, sup);
			if (rs == 0)
				started = 1;
			if (rr == -EINVAL || rs == -EINVAL) {
				ae_err("%s: malformed readiness line from the "
				       "supervisor: \"%.*s\"", name, (int)n,
				       buf);
				return -EPROTO;
			}
			got -= n + 1;
			memmove(buf, nl + 1, got);
		}
		if (got >= sizeof buf - 1)
			got = 0; /* not ours: a line that long */
		if (now >= end)
			return -ETIMEDOUT;
		pr = poll(&pf, 1, (int)((end - now) / 1000000 + 1));
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr < 0)
			return -errno;
		if (pr == 0)
			continue;
		r = read(fd, buf + got, sizeof buf - 1 - got);
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r <= 0)
			return 0;
		got += (size_t)r;
	}
}

#define READY_TIMEOUT_S 120
#define UNIT_START_TIMEOUT_S 30

/* The start failed: say why with the supervisor's log, clean up what a
 * dead supervisor left and record it.  code: its exit status, or -1. */
static int start_failed(struct vmref *v, const char *log, off_t off,
			const char *how, int code)
{
	char reason[128];

	ae_err("%s: failed to start (%s); its log:", v->name, how);
	show_log(log, off);
	vmref_probe(v);
	if (!vmref_running(v)) {
		snprintf(reason, sizeof reason, "start failed (%s)", how);
		if (v->n_orphans || v->rtdir_exists)
			vmref_recover(v);
		vmref_record(v,
			     strcmp(v->rec.state, "crashed") ? "stopped"
							     : "crashed",
			     reason);
	}
	return code > 0 ? code : AE_EXIT_ERROR;
}

static int start_ok(struct vmref *v, const struct ae_ready *rd)
{
	const char *times = getenv("AETHER_START_TIMES");

	/* For bench/start-bench: when QEMU was spawned and answered
	 * (CLOCK_MONOTONIC ns), appended to the file the variable names. */
	if (times && *times) {
		char b[64];
		int fd = open(times, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC |
					     O_NOCTTY,
			      0600);
		int n = snprintf(b, sizeof b, "%llu %llu\n",
				 (unsigned long long)rd->t_spawn,
				 (unsigned long long)rd->t_ready);
		if (fd < 0 || write(fd, b, (size_t)n) != n)
			ae_warn("AETHER_START_TIMES %s: %s", times,
				strerror(errno));
		if (fd >= 0)
			close(fd);
	}
	printf("%s: running (supervisor pid %ld, QEMU pid %ld, index %u, "
	       "backend %s)\n", v->name, rd->sup_pid, rd->qemu_pid, rd->index,
	       v->c->backend);
	return 0;
}

/* supervisor = fork: the supervisor is this process forked (no second
 * exec, config already loaded and checked), in a new session, output to
 * its log; readiness comes through an inherited pipe. */
static int start_fork(struct vmref *v, const char *log, off_t off, int lock)
{
	struct ae_run_opts ro = {.verbose = ae_log_level > 6};
	int p[2] = {-1, -1}, logfd = -1, nullfd = -1, ret = AE_EXIT_ERROR;
	int rc, status = 0;
	struct ae_ready rd;
	char how[64];
	long sup = 0;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0) {
		ae_err("pipe: %s", strerror(errno));
		vmref_record(v, "stopped",
			     "the supervisor could not be started");
		return AE_EXIT_ERROR;
	}
	logfd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY,
		     0600);
	nullfd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (logfd < 0 || nullfd < 0) {
		ae_err("%s: %s", logfd < 0 ? log : "/dev/null", strerror(errno));
		vmref_record(v, "stopped",
			     "the supervisor could not be started");
		goto out;
	}
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		char fdbuf[16];

		setsid();
		dup2(nullfd, 0);
		dup2(logfd, 1);
		dup2(logfd, 2);
		/* the VM lock is the CLI's, not the supervisor's: it is
		 * O_CLOEXEC, but this child does not exec */
		close(lock);
		close(p[0]);
		snprintf(fdbuf, sizeof fdbuf, "%d", p[1]);
		setenv("AETHER_READY_FD", fdbuf, 1);
		setenv("AETHER_STATE_FILE", v->statefile, 1);
		rc = ae_run(v->c, &ro);
		fflush(NULL);
		_exit(rc);
	}
	if (pid < 0) {
		ae_err("fork: %s", strerror(errno));
		vmref_record(v, "stopped",
			     "the supervisor could not be started");
		goto out;
	}
	close(p[1]);
	p[1] = -1;
	rc = wait_ready(v->name, p[0], 0,
			ae_now_ns() + READY_TIMEOUT_S * 1000000000ull, &sup,
			&rd);
	if (rc == 1) {
		ret = start_ok(v, &rd);
		goto out;
	}
	/* It ended (or hung, or said what we cannot read) before QEMU ran
	 * with the network attached. */
	if (!ae_wait_pid(pid, rc == -EPROTO ? 0 : 2000, &status)) {
		if (rc == -EPROTO)
			ae_err("%s: stopping the supervisor", v->name);
		else
			ae_err("%s: the supervisor did not report readiness "
			       "in %d s: stopping it", v->name,
			       READY_TIMEOUT_S);
		kill(pid, SIGTERM);
		if (!ae_wait_pid(pid, 15000, &status)) {
			kill(pid, SIGKILL);
			ae_wait_pid(pid, 5000, &status);
		}
	}
	snprintf(how, sizeof how, "supervisor %s %d",
		 WIFEXITED(status) ? "exit status" : "signal",
		 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
	ret = start_failed(v, log, off, how,
			   WIFEXITED(status) ? WEXITSTATUS(status) : -1);
out:
	if (p[0] >= 0)
		close(p[0]);
	if (p[1] >= 0)
		close(p[1]);
	if (logfd >= 0)
		close(logfd);
	if (nullfd >= 0)
		close(nullfd);
	return ret;
}

/* What goes into a systemd-run argument must reach the unit unchanged: no
 * specifiers (%), variables ($), quoting, escapes or whitespace. */
static int systemd_safe(const char *what, const char *s)
{
	const char *p;

	for (p = s; *p; p++)
		if (*p == '%' || *p == '$' || *p == '\\' || *p == '"' ||
		    *p == '\'' || *p == ';' || (unsigned char)*p <= ' ' ||
		    *p == 0x7f) {
			ae_err("%s '%s' cannot be handed to systemd-run (it "
			       "holds '%c'): use supervisor = fork", what, s,
			       *p);
			return 0;
		}
	return 1;
}

/* Stop the VM's transient unit (systemctl --user stop, argv). */
static void stop_unit(const struct vmref *v, const char *unit, const char *log)
{
	const char *const argv[] = {"systemctl", "--user", "stop", unit, NULL};
	char err[512];

	if (ae_run_tool(argv, log, err, sizeof err) < 0)
		ae_warn("%s: stopping unit %s: %s", v->name, unit, err);
}

/* supervisor = systemd: `aether run VMFILE` as the main process of a
 * transient unit of the user manager.  No fd can be inherited through
 * systemd-run: the supervisor opens a FIFO in the VM's directory
 * (AETHER_READY_PATH), says "started" and then "ready" (ready.h), and the
 * FIFO reaches EOF when it ends before that. */
static int start_systemd(struct vmref *v, const char *hostconf,
			 const char *log, off_t off)
{
	const char *hc = ae_host_config_path(hostconf);
	const char *pp = ae_plugin_caller_path();
	char *fifo = ae_xasprintf("%s/start.fifo", v->dir);
	char *unit = ae_xasprintf("aether-vm-%s.service", v->name);
	char exe[PATH_MAX], hcabs[PATH_MAX], err[1024], how[128];
	struct ae_ready rd;
	struct ae_argv a = {0};
	int fd = -1, rc, ret = AE_EXIT_ERROR, i;
	long sup = 0;
	ssize_t n;

	n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n <= 0) {
		ae_err("/proc/self/exe: %s", n < 0 ? strerror(errno) : "empty");
		goto fail;
	}
	exe[n] = '\0';
	/* the unit does not run in this directory */
	if (hc && hc[0] != '/') {
		if (!realpath(hc, hcabs)) {
			ae_err("%s: %s", hc, strerror(errno));
			goto fail;
		}
		hc = hcabs;
	}
	if (!systemd_safe("the aether binary", exe) ||
	    !systemd_safe("the VM directory", v->dir) ||
	    !systemd_safe("the runtime directory", v->rtroot) ||
	    (hc && !systemd_safe("the host config", hc)) ||
	    (pp && *pp && !systemd_safe("the plugin path", pp)))
		goto fail;
	unlink(fifo); /* a start interrupted before */
	if (mkfifo(fifo, 0600) < 0) {
		ae_err("%s: %s", fifo, strerror(errno));
		goto fail;
	}
	/* The read end first: the supervisor's open would fail without it. */
	fd = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		ae_err("%s: %s", fifo, strerror(errno));
		goto fail;
	}
	ae_argv_add(&a, "systemd-run");
	ae_argv_add(&a, "--user");
	ae_argv_addf(&a, "--unit=%s", unit);
	ae_argv_addf(&a, "--description=aether VM %s", v->name);
	ae_argv_add(&a, "--collect");
	ae_argv_add(&a, "--quiet");
	/* systemd-run returns once aether is exec'd (or says why not) */
	ae_argv_add(&a, "--property=Type=exec");
	/* a unit stop is a VM stop: SIGTERM to the supervisor alone (it
	 * powers the guest down), SIGKILL for the rest only after that */
	ae_argv_add(&a, "--property=KillMode=mixed");
	ae_argv_addf(&a, "--property=TimeoutStopSec=%d",
		     v->c->stop_timeout_s + 20);
	ae_argv_addf(&a, "--property=StandardOutput=append:%s", log);
	ae_argv_addf(&a, "--property=StandardError=append:%s", log);
	ae_argv_addf(&a, "--setenv=AETHER_STATE_FILE=%s", v->statefile);
	ae_argv_addf(&a, "--setenv=AETHER_READY_PATH=%s", fifo);
	/* the runtime root this CLI (and stop, list, status) looks in */
	ae_argv_addf(&a, "--setenv=AETHER_RUNTIME_DIR=%s", v->rtroot);
	/* and the store it is in (its managed-network reservations are
	 * there: the user manager's environment may name another) */
	ae_argv_addf(&a, "--setenv=AETHER_STORE_DIR=%s", v->store);
	ae_argv_add(&a, "--");
	ae_argv_add(&a, exe);
	if (pp && *pp) /* an option: root ignores AETHER_PLUGIN_PATH */
		ae_argv_addf(&a, "--plugin-path=%s", pp);
	if (ae_log_level <= 3)
		ae_argv_add(&a, "-q");
	for (i = 6; i < ae_log_level; i++)
		ae_argv_add(&a, "-v");
	ae_argv_add(&a, "-c");
	ae_argv_add(&a, hc ? hc : "none");
	ae_argv_add(&a, "run");
	ae_argv_add(&a, v->vmfile);
	rc = ae_run_tool((const char *const *)a.v, log, err, sizeof err);
	if (rc < 0) {
		ae_err("%s: cannot start the supervisor as unit %s: %s%s",
		       v->name, unit, err,
		       rc == -ENOENT ? " (supervisor = systemd needs systemd's "
				       "systemd-run and a user manager)"
				     : "");
		snprintf(how, sizeof how, "systemd-run: %.100s", err);
		vmref_record(v, "stopped", how);
		goto out;
	}
	{
		uint64_t now = ae_now_ns();
		rc = wait_ready(v->name, fd,
				now + UNIT_START_TIMEOUT_S * 1000000000ull,
				now + READY_TIMEOUT_S * 1000000000ull, &sup,
				&rd);
	}
	if (rc == 1) {
		ret = start_ok(v, &rd);
		goto out;
	}
	if (rc == -ETIMEDOUT)
		ae_err("%s: the supervisor (unit %s) did not report %s in %d s: "
		       "stopping it", v->name, unit,
		       sup ? "readiness" : "that it runs",
		       sup ? READY_TIMEOUT_S : UNIT_START_TIMEOUT_S);
	/* Whatever is left of the unit goes, and the supervisor with it. */
	stop_unit(v, unit, log);
	if (sup > 0 && !ae_wait_gone((pid_t)sup, 15000)) {
		kill((pid_t)sup, SIGKILL);
		ae_wait_gone((pid_t)sup, 5000);
	}
	ae_vmstate_read(v->statefile, &v->rec);
	if (rc == -ETIMEDOUT)
		snprintf(how, sizeof how, "no readiness from unit %s", unit);
	else if (rc == -EPROTO)
		snprintf(how, sizeof how, "malformed readiness from unit %s",
			 unit);
	else if (v->rec.exit_code >= 0 && v->rec.pid == sup && sup > 0)
		snprintf(how, sizeof how, "supervisor exit status %d, unit %s",
			 v->rec.exit_code, unit);
	else
		snprintf(how, sizeof how, "supervisor of unit %s ended", unit);
	ret = start_failed(v, log, off, how,
			   v->rec.pid == sup && sup > 0 ? v->rec.exit_code : -1);
	goto out;
fail:
	vmref_record(v, "stopped", "the supervisor could not be started");
out:
	if (fd >= 0)
		close(fd);
	unlink(fifo);
	ae_argv_free(&a);
	free(fifo);
	free(unit);
	return ret;
}

int ae_cmd_start(int argc, char **argv, const char *hostconf)
{
	struct vmref v;
	char *log = NULL;
	int lock = -1, ret = AE_EXIT_ERROR;
	struct stat st;
	off_t off = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: aether start NAME\n");
		return AE_EXIT_USAGE;
	}
	if (vmref_open(argv[1], hostconf, 1, &v) < 0)
		goto out;
	lock = vmref_lock_dir(v.dir);
	if (lock < 0)
		goto out;
	vmref_probe(&v);
	if (vmref_running(&v)) {
		ae_err("VM %s is already running (supervisor pid %ld)", v.name,
		       v.sup_pid);
		goto out;
	}
	if (v.n_orphans || v.rtdir_exists)
		vmref_recover(&v); /* a crashed run: nothing of it may stay */
	log = ae_xasprintf("%s/supervisor.log", v.dir);
	if (stat(log, &st) == 0)
		off = st.st_size;
	/* Recorded before the side effect. */
	vmref_record(&v, "starting", NULL);
	if (v.c->supervisor == AE_SUPERVISOR_SYSTEMD)
		ret = start_systemd(&v, hostconf, log, off);
	else
		ret = start_fork(&v, log, off, lock);
out:
	if (lock >= 0)
		close(lock);
	free(log);
	vmref_free(&v);
	return ret;
}

/* ------------------------------------------------------------------ */
/* stop                                                               */

static int qmp(const struct vmref *v, const char *cmd)
{
	char c[64];
	snprintf(c, sizeof c, "{\"execute\":\"%s\"}", cmd);
	return ae_qmp_execute(v->qmp, c, NULL, 0, 2000);
}

/* Stop a running VM; the lock is held.  0 or an exit status. */
int vmref_stop(struct vmref *v, int timeout_s, int force)
{
	pid_t sup = (pid_t)v->sup_pid;
	const char *how;

	vmref_record(v, "stopping", force ? "forced stop" : "stop");
	if (!force && qmp(v, "system_powerdown") == 0) {
		ae_info("%s: asked the guest to power down (up to %d s)",
			v->name, timeout_s);
		if (ae_wait_gone(sup, timeout_s * 1000)) {
			how = "guest powered off";
			goto done;
		}
		ae_warn("%s: the guest did not power down within %d s", v->name,
			timeout_s);
	}
	if (qmp(v, "quit") == 0 && ae_wait_gone(sup, 5000)) {
		how = force ? "QEMU quit (forced)" : "QEMU quit";
		goto done;
	}
	vmref_probe(v);
	if (v->qemu_alive) {
		ae_warn("%s: killing QEMU pid %ld", v->name, v->qemu_pid);
		kill((pid_t)v->qemu_pid, SIGKILL);
	}
	if (ae_wait_gone(sup, 10000)) {
		how = "QEMU killed";
		goto done;
	}
	ae_warn("%s: supervisor pid %ld does not exit: killing it", v->name,
		(long)sup);
	kill(sup, SIGKILL);
	ae_wait_gone(sup, 5000);
	how = "supervisor killed";
done:
	vmref_probe(v);
	/* The supervisor detaches the network on its way out; if it could
	 * not, do it here: the network is always detached. */
	if (v->n_orphans || v->rtdir_exists)
		vmref_recover(v);
	if (strcmp(v->rec.state, "stopped"))
		vmref_record(v, "stopped", how);
	printf("%s: stopped (%s)\n", v->name, how);
	return 0;
}

int ae_cmd_stop(int argc, char **argv, const char *hostconf)
{
	static const struct option lo[] = {
		{"timeout", required_argument, NULL, 't'},
		{"force", no_argument, NULL, 'f'},
		{NULL, 0, NULL, 0},
	};
	struct vmref v;
	int ch, force = 0, timeout = -1, lock = -1, ret = AE_EXIT_ERROR;
	int64_t t;

	optind = 0; /* glibc: re-initialise (main used "+" mode) */
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 't':
			if (ae_parse_int(optarg, &t) < 0 || t < 0 || t > 3600) {
				ae_err("--timeout %s: seconds in 0..3600", optarg);
				return AE_EXIT_USAGE;
			}
			timeout = (int)t;
			break;
		case 'f':
			force = 1;
			break;
		default:
			fprintf(stderr, "usage: aether stop NAME [--timeout S] "
					"[--force]\n");
			return AE_EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "usage: aether stop NAME [--timeout S] [--force]\n");
		return AE_EXIT_USAGE;
	}
	if (vmref_open(argv[optind], hostconf, 1, &v) < 0)
		goto out;
	lock = vmref_lock_dir(v.dir);
	if (lock < 0)
		goto out;
	vmref_probe(&v);
	if (!vmref_running(&v)) {
		if (v.n_orphans || v.rtdir_exists) {
			vmref_recover(&v);
			vmref_record(&v, "stopped", "cleaned up after a crash");
			printf("%s: stopped (cleaned up after a crashed "
			       "supervisor)\n", v.name);
			ret = 0;
		} else {
			ae_err("VM %s is not running", v.name);
		}
		goto out;
	}
	ret = vmref_stop(&v, timeout >= 0 ? timeout : v.c->stop_timeout_s,
			 force);
out:
	if (lock >= 0)
		close(lock);
	vmref_free(&v);
	return ret;
}
