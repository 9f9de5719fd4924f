/* supervisor.c - `aether run`: claim a runtime dir, attach the network,
 * start QEMU with the attachment's fds, wait, and detach however it ends.
 *
 * Signals are blocked and read from a signalfd, so the loop is a plain
 * poll over the signalfd with a timeout for periodic health checks.  Only
 * QEMU's pid is reaped here; helper processes belong to the instance.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helper.h"
#include "instance.h"
#include "qemu-argv.h"
#include "qmp.h"
#include "runtime.h"
#include "supervisor.h"
#include "util.h"

struct run {
	const struct ae_vmconf *c;
	char *root, *vmdir, *qmp_path;
	unsigned index;
	struct aether_vm vm;
	struct ae_instance *inst;
	void *att_state;
	int attached;
	pid_t qemu;
	int sfd;
	sigset_t old_mask;
};

static int setup_signals(struct run *r)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGCHLD);
	if (sigprocmask(SIG_BLOCK, &set, &r->old_mask) < 0)
		return -errno;
	r->sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	return r->sfd < 0 ? -errno : 0;
}

/* Wait for QEMU to exit within timeout_ms, draining SIGCHLD. */
static int wait_qemu(struct run *r, int timeout_ms, int *status)
{
	return ae_wait_pid(r->qemu, timeout_ms, status);
}

/* Ask the guest to power down, then make QEMU quit, then kill it. */
static int stop_qemu(struct run *r, int *status)
{
	int rc;

	rc = ae_qmp_execute(r->qmp_path, "{\"execute\":\"system_powerdown\"}",
			    NULL, 0, 2000);
	if (rc == 0) {
		ae_info("%s: asked the guest to power down (waiting up to %d s)",
			r->c->name, r->c->stop_timeout_s);
		if (wait_qemu(r, r->c->stop_timeout_s * 1000, status))
			return 0;
		ae_warn("%s: guest did not power down within %d s: stopping "
			"QEMU", r->c->name, r->c->stop_timeout_s);
	}
	kill(r->qemu, SIGTERM);
	if (wait_qemu(r, 5000, status))
		return 0;
	ae_warn("%s: QEMU (pid %ld) ignored SIGTERM: killing it", r->c->name,
		(long)r->qemu);
	kill(r->qemu, SIGKILL);
	wait_qemu(r, 5000, status);
	return 0;
}

static int exit_status_of_qemu(const struct run *r, int status)
{
	if (WIFEXITED(status)) {
		if (WEXITSTATUS(status) == 0) {
			ae_info("%s: guest shut down", r->c->name);
			return AE_EXIT_OK;
		}
		ae_err("%s: QEMU exited with status %d", r->c->name,
		       WEXITSTATUS(status));
		return AE_EXIT_QEMU;
	}
	if (WIFSIGNALED(status)) {
		ae_err("%s: QEMU was killed by signal %d (%s)", r->c->name,
		       WTERMSIG(status), strsignal(WTERMSIG(status)));
		return AE_EXIT_CRASH;
	}
	return AE_EXIT_QEMU;
}

static int supervise(struct run *r, const struct ae_run_opts *o)
{
	int interval = o && o->check_interval_s > 0 ? o->check_interval_s : 30;
	uint64_t next_check = ae_now_ns() + (uint64_t)interval * 1000000000ull;
	int status = 0, unhealthy = 0;

	for (;;) {
		struct pollfd p = {r->sfd, POLLIN, 0};
		struct signalfd_siginfo si;
		int64_t left = (int64_t)(next_check - ae_now_ns()) / 1000000;

		if (poll(&p, 1, left > 0 ? (int)left : 0) < 0 && errno != EINTR)
			return AE_EXIT_ERROR;
		while (read(r->sfd, &si, sizeof si) == (ssize_t)sizeof si) {
			if (si.ssi_signo == SIGCHLD)
				continue;
			ae_info("%s: got %s: stopping the VM", r->c->name,
				strsignal((int)si.ssi_signo));
			stop_qemu(r, &status);
			return AE_EXIT_SIGNAL + (int)si.ssi_signo;
		}
		if (ae_wait_pid(r->qemu, 0, &status))
			return exit_status_of_qemu(r, status);
		if (ae_now_ns() >= next_check) {
			int rc = ae_instance_check(r->inst, &r->vm, r->att_state);
			if (rc < 0 && !unhealthy)
				ae_warn("%s: network check failed: %s", r->c->name,
					strerror(-rc));
			else if (rc == 0 && unhealthy)
				ae_info("%s: network healthy again", r->c->name);
			unhealthy = rc < 0;
			next_check = ae_now_ns() +
				     (uint64_t)interval * 1000000000ull;
		}
	}
}

static int start_qemu(struct run *r, struct aether_attachment *att)
{
	struct ae_argv a = {0};
	char err[1024];
	int rc;

	rc = ae_qemu_build(&a, r->c, att, r->qmp_path, err, sizeof err);
	if (rc < 0) {
		ae_err("%s: %s", r->c->name, err);
		ae_argv_free(&a);
		return AE_EXIT_NETWORK;
	}
	if (ae_log_level >= 7) {
		size_t i;
		for (i = 0; i < a.n; i++)
			ae_debug("argv[%zu] = %s", i, a.v[i]);
	}
	rc = ae_spawn((const char *const *)a.v, NULL, NULL, 0, a.keep_fds,
		      a.n_keep, &r->qemu, err, sizeof err);
	ae_argv_free(&a);
	/* QEMU holds its own copies now (or never will): drop ours, so a
	 * non-persistent TAP goes away with QEMU. */
	ae_attachment_close_fds(att);
	if (rc < 0) {
		ae_err("%s: %s", r->c->name, err);
		return AE_EXIT_QEMU;
	}
	{
		char path[4096], buf[32];
		snprintf(path, sizeof path, "%s/qemu.pid", r->vmdir);
		snprintf(buf, sizeof buf, "%ld\n", (long)r->qemu);
		ae_write_file(path, buf, strlen(buf), 0600);
	}
	ae_info("%s: QEMU running (pid %ld), network %s attached (index %u)",
		r->c->name, (long)r->qemu, r->c->backend, r->index);
	return 0;
}

int ae_run(const struct ae_vmconf *c, const struct ae_run_opts *o)
{
	struct run r = {.c = c, .sfd = -1, .qemu = -1};
	struct aether_attachment att;
	char err[1024];
	int rc, ret;

	ae_runtime_set_default(c->runtime_dir); /* for the plugins' dirs too */
	if (ae_runtime_root(c->runtime_dir, &r.root, err, sizeof err) < 0) {
		ae_err("%s", err);
		return AE_EXIT_ERROR;
	}
	if (ae_runtime_claim_vm(r.root, c->name, c->index, &r.vmdir, &r.index,
				err, sizeof err) < 0) {
		ae_err("%s", err);
		free(r.root);
		return AE_EXIT_ERROR;
	}
	r.qmp_path = ae_xasprintf("%s/qmp.sock", r.vmdir);
	ae_vm_init(&r.vm, c->name, r.index, r.vmdir);
	memcpy(r.vm.mac, c->mac, 6);

	if ((rc = setup_signals(&r)) < 0) {
		ae_err("signals: %s", strerror(-rc));
		ret = AE_EXIT_ERROR;
		goto out;
	}
	rc = ae_instance_open(c->backend, c->plugin_dir, &c->backend_section,
			      &r.inst, err, sizeof err);
	if (rc < 0) {
		ae_err("%s", err);
		ret = AE_EXIT_NETWORK;
		goto out;
	}
	rc = ae_instance_attach(r.inst, &r.vm, &att, &r.att_state);
	if (rc < 0) {
		ae_err("%s: backend %s could not attach the network: %s",
		       c->name, c->backend, strerror(-rc));
		ret = AE_EXIT_NETWORK;
		goto out;
	}
	r.attached = 1;
	ret = start_qemu(&r, &att);
	if (ret == 0)
		ret = supervise(&r, o);
out:
	if (r.attached) {
		rc = ae_instance_detach(r.inst, &r.vm, r.att_state);
		if (rc < 0)
			ae_warn("%s: detach: %s", c->name, strerror(-rc));
		else
			ae_info("%s: network detached", c->name);
	}
	ae_instance_close(r.inst);
	if (r.sfd >= 0)
		close(r.sfd);
	sigprocmask(SIG_SETMASK, &r.old_mask, NULL);
	ae_runtime_release_vm(r.vmdir);
	free(r.vmdir);
	free(r.qmp_path);
	free(r.root);
	return ret;
}
