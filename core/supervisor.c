/* supervisor.c - `aether run`: claim a runtime dir, attach the network,
 * start QEMU with the attachment's fds, wait, and detach however it ends.
 *
 * Signals are blocked and read from a signalfd, so the loop is one poll
 * over the signalfd, the control socket (aether forward), the frame relay
 * and a frame-port plugin's own fds, with a timeout for the plugin's
 * timers and periodic health checks.  Only QEMU's pid is reaped here;
 * helper processes belong to the instance.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "control.h"
#include "helper.h"
#include "instance.h"
#include "qemu-argv.h"
#include "net.h"
#include "qmp.h"
#include "ready.h"
#include "relay.h"
#include "relay-port.h"
#include "runtime.h"
#include "store.h"
#include "supervisor.h"
#include "util.h"

/* ---- the console log: QEMU's serial port is one end of a socketpair,
 * the supervisor writes what comes out of the other end to the log file,
 * rotating it at console_max (console.log -> console.log.1 ...), so a
 * guest cannot fill the host's disk.  A thread of its own: the serial
 * port is drained while the main loop waits for QMP or for QEMU. */

struct ae_conlog {
	int in;          /* our end of the socketpair */
	int out;         /* the current log file */
	int dirfd;       /* its directory (O_PATH) */
	char *base;      /* its name in dirfd */
	char *path;
	uint64_t max, size;
	unsigned keep;
	volatile int stop; /* set once QEMU is gone: drain, then end */
	int warned;
	pthread_t th;
	int started;
};

/* Open base in dirfd for appending: a regular file, never followed. */
static int conlog_open_file(struct ae_conlog *l)
{
	struct stat st;
	int fd = openat(l->dirfd, l->base,
			O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_NOCTTY |
				O_CLOEXEC | O_NONBLOCK,
			0640);

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return -EINVAL;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	l->out = fd;
	l->size = (uint64_t)st.st_size;
	return 0;
}

/* console.log.(keep-1) -> .keep, ..., console.log -> .1; a new file. */
static int conlog_rotate(struct ae_conlog *l)
{
	char from[4096], to[4096];
	unsigned i;

	if (l->out >= 0)
		close(l->out);
	l->out = -1;
	if (l->keep == 0) {
		unlinkat(l->dirfd, l->base, 0);
	} else {
		for (i = l->keep; i >= 1; i--) {
			if (i == 1)
				snprintf(from, sizeof from, "%s", l->base);
			else
				snprintf(from, sizeof from, "%s.%u", l->base, i - 1);
			snprintf(to, sizeof to, "%s.%u", l->base, i);
			if (renameat(l->dirfd, from, l->dirfd, to) < 0 &&
			    errno != ENOENT && i == 1)
				unlinkat(l->dirfd, l->base, 0);
		}
	}
	return conlog_open_file(l);
}

void ae_conlog_write(struct ae_conlog *l, const char *buf, size_t n)
{
	while (n > 0) {
		size_t chunk;
		ssize_t w;

		if (l->out < 0 || l->size >= l->max) {
			int rc = conlog_rotate(l);
			if (rc < 0) {
				if (!l->warned++)
					ae_warn("console log %s: %s (dropping "
						"console output)", l->path,
						strerror(-rc));
				return;
			}
			if (l->size >= l->max) { /* someone else's big file */
				ftruncate(l->out, 0);
				l->size = 0;
			}
		}
		chunk = n;
		if (chunk > l->max - l->size)
			chunk = (size_t)(l->max - l->size);
		w = write(l->out, buf, chunk);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			if (!l->warned++)
				ae_warn("console log %s: %s (dropping console "
					"output)", l->path,
					w < 0 ? strerror(errno) : "short write");
			return;
		}
		l->size += (uint64_t)w;
		buf += w;
		n -= (size_t)w;
	}
}

static void *conlog_thread(void *arg)
{
	struct ae_conlog *l = arg;
	char buf[65536];

	for (;;) {
		struct pollfd pf = {l->in, POLLIN, 0};
		int pr = poll(&pf, 1, 200);
		ssize_t r;

		if (pr < 0 && errno != EINTR)
			break;
		if (pr <= 0) {
			if (l->stop)
				break;
			continue;
		}
		r = read(l->in, buf, sizeof buf);
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r <= 0)
			break; /* QEMU closed the serial port */
		ae_conlog_write(l, buf, (size_t)r);
	}
	return NULL;
}

/* Open the log at path (checked again now, see aether.conf(5)) and make
 * the socketpair; *qemu_end is QEMU's end. */
int ae_conlog_open(struct ae_conlog **out, const char *path, uint64_t max,
		   unsigned keep, int *qemu_end, char *err, size_t errlen)
{
	struct ae_conlog *l;
	char *copy;
	int fd, sv[2] = {-1, -1};

	fd = ae_console_target_open(path, err, errlen);
	if (fd < 0)
		return fd;
	l = ae_xcalloc(1, sizeof *l);
	l->out = fd;
	l->in = -1;
	l->max = max;
	l->keep = keep;
	l->path = ae_xstrdup(path);
	copy = ae_xstrdup(path);
	l->base = ae_xstrdup(basename(copy));
	free(copy);
	copy = ae_xstrdup(path);
	l->dirfd = open(dirname(copy), O_PATH | O_DIRECTORY | O_CLOEXEC);
	free(copy);
	{
		struct stat st;
		l->size = fstat(fd, &st) == 0 ? (uint64_t)st.st_size : 0;
	}
	if (l->dirfd < 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		int e = errno;
		ae_conlog_close(l);
		return ae_seterr(err, errlen, e, "console %s: %s", path,
				 strerror(e));
	}
	l->in = sv[0];
	*qemu_end = sv[1];
	*out = l;
	return 0;
}

int ae_conlog_start(struct ae_conlog *l)
{
	int rc = pthread_create(&l->th, NULL, conlog_thread, l);

	if (rc == 0)
		l->started = 1;
	return -rc;
}

/* After QEMU ended: write what is left, then close everything. */
void ae_conlog_close(struct ae_conlog *l)
{
	if (!l)
		return;
	l->stop = 1;
	if (l->started)
		pthread_join(l->th, NULL);
	if (l->in >= 0)
		close(l->in);
	if (l->out >= 0)
		close(l->out);
	if (l->dirfd >= 0)
		close(l->dirfd);
	free(l->base);
	free(l->path);
	free(l);
}

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
	uint32_t kind;          /* the attachment's kind */
	struct ae_relay *relay; /* frame port: the relay, else NULL */
	struct ae_control *ctl; /* <vmdir>/control.sock */
	uint64_t t_spawn;       /* CLOCK_MONOTONIC ns: QEMU about to be spawned */
	struct ae_creds creds;  /* QEMU's user ... */
	int drop;               /* ... when aether drops to it */
	struct ae_conlog *con;  /* the console log, or NULL */
	/* the backend's section: the VM's, or with network = NAME the one
	 * naming that network's bridge (netsec) */
	const struct ae_ini_section *section;
	struct ae_ini_section *netsec;
	/* switchable = yes: the relay's network side, the current backend's
	 * name and, once switched, its section (owned) */
	struct ae_relay_port *port;
	char *backend;
	struct ae_ini_section *swsec;
	struct ae_ini_section *swnetsec; /* swsec with its managed network's
					    bridge, or NULL */
	int netres;           /* a managed network's address may be reserved */
	char attachment[320]; /* "KIND DETAIL", for network show */
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

/* A stop signal (SIGTERM, SIGINT, SIGHUP) that came before QEMU was
 * started: do not start it.  AE_EXIT_SIGNAL + its number, or 0. */
static int stop_signal_pending(struct run *r)
{
	struct signalfd_siginfo si;

	while (read(r->sfd, &si, sizeof si) == (ssize_t)sizeof si) {
		if (si.ssi_signo == SIGCHLD)
			continue;
		ae_info("%s: got %s before QEMU was started: not starting it",
			r->c->name, strsignal((int)si.ssi_signo));
		return AE_EXIT_SIGNAL + (int)si.ssi_signo;
	}
	return 0;
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
	int interval = o && o->check_interval_s > 0 ? o->check_interval_s
						     : r->c->check_interval_s;
	uint64_t next_check;
	int status = 0, unhealthy = 0;

	if (interval < 1) /* a vmconf not made by ae_vmconf_load */
		interval = 30;
	next_check = ae_now_ns() + (uint64_t)interval * 1000000000ull;
	for (;;) {
		/* [0] signals, then the control socket, then the relay (the
		 * hypervisor's socket and the frame port's own fds). */
		struct pollfd p[1024];
		struct signalfd_siginfo si;
		int64_t left = (int64_t)(next_check - ae_now_ns()) / 1000000;
		int timeout = left > 0 ? (int)left : 0;
		unsigned n = 1, n_ctl, n_relay = 0, i;

		p[0].fd = r->sfd;
		p[0].events = POLLIN;
		p[0].revents = 0;
		n_ctl = ae_control_fill(r->ctl, p + n, AE_ARRAY_SIZE(p) - n,
					&timeout);
		n += n_ctl;
		if (r->relay)
			n_relay = ae_relay_fill(r->relay, p + n,
						AE_ARRAY_SIZE(p) - n, &timeout);
		n += n_relay;
		if (poll(p, n, timeout) < 0) {
			if (errno != EINTR)
				return AE_EXIT_ERROR;
			for (i = 0; i < n; i++)
				p[i].revents = 0;
		}
		if (r->relay)
			ae_relay_dispatch(r->relay, p + 1 + n_ctl, n_relay);
		ae_control_dispatch(r->ctl, p + 1, n_ctl);
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
			/* every check at debug level, the changes above it */
			ae_debug("%s: network check: %s", r->c->name,
				 rc < 0 ? strerror(-rc) : "ok");
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

/* A listening socket at path (0600) for QEMU to accept on. */
static int listen_unix(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd, e;

	if (strlen(path) >= sizeof sa.sun_path)
		return ae_seterr(err, errlen, ENAMETOOLONG,
				 "%s: path too long for a socket", path);
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return ae_seterr(err, errlen, errno, "socket: %s",
				 strerror(errno));
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
	    chmod(path, 0600) < 0 || listen(fd, 16) < 0) {
		e = errno;
		close(fd);
		return ae_seterr(err, errlen, e, "%s: %s", path, strerror(e));
	}
	return fd;
}

/* Can creds read a file with this owner and mode (ACLs aside)? */
static int creds_can_read(const struct ae_creds *cr, const struct stat *st)
{
	size_t i;

	if (st->st_uid == cr->uid)
		return !!(st->st_mode & S_IRUSR);
	if (st->st_gid == cr->gid)
		return !!(st->st_mode & S_IRGRP);
	for (i = 0; i < cr->n_groups; i++)
		if (st->st_gid == cr->groups[i])
			return !!(st->st_mode & S_IRGRP);
	return !!(st->st_mode & S_IROTH);
}

/* Open a file of the VM for QEMU.  by_name: QEMU reopens it through
 * /proc/self/fd/N, so QEMU's user must be able to read it (the
 * directories on the way do not matter). */
static int open_for_qemu(const struct run *r, const char *key,
			 const char *path, int flags, int by_name, char *err,
			 size_t errlen)
{
	struct stat st;
	int fd = open(path, flags | O_CLOEXEC | O_NOCTTY), e;

	if (fd < 0) {
		e = errno;
		return ae_seterr(err, errlen, e, "%s %s: %s", key, path,
				 strerror(e));
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return ae_seterr(err, errlen, EINVAL,
				 "%s %s: not a regular file", key, path);
	}
	if (by_name && r->drop && !creds_can_read(&r->creds, &st)) {
		close(fd);
		return ae_seterr(err, errlen, EACCES,
				 "%s %s: QEMU runs as %s (uid %ld), who cannot "
				 "read it (owner uid %ld, mode %04o): make it "
				 "readable to that user, or set [vm] user",
				 key, path, r->creds.name, (long)r->creds.uid,
				 (long)st.st_uid, (unsigned)(st.st_mode & 07777));
	}
	return fd;
}

static void close_fds(struct ae_qemu_fds *f)
{
	int *all[] = {&f->qmp, &f->qmp_desc, &f->qga, &f->console,
		      &f->disk_rw, &f->disk_ro, &f->seed, &f->kernel,
		      &f->initrd};
	size_t i;

	for (i = 0; i < AE_ARRAY_SIZE(all); i++) {
		if (*all[i] >= 0)
			close(*all[i]);
		*all[i] = -1;
	}
	for (i = 0; i < f->n_backing; i++)
		if (f->backing[i] >= 0)
			close(f->backing[i]);
	f->n_backing = 0;
}

/* The disk's backing chain, opened read-only for QEMU: a qcow2 overlay's
 * base (made by aether create) usually lies where QEMU's user cannot go.
 * A backing file whose format the header does not name ends the chain
 * (QEMU then opens it by name itself). */
static int open_backing_chain(const struct run *r, struct ae_qemu_fds *f,
			      char *err, size_t errlen)
{
	char name[1024], fmt[16], *path = ae_xstrdup(r->c->disk);
	int fd = f->disk_ro, rc = 0;

	while (f->n_backing < AE_QEMU_MAX_BACKING) {
		char *next, *copy;
		int k;

		rc = ae_qcow2_backing(fd, name, sizeof name, fmt, sizeof fmt);
		if (rc < 0) {
			rc = ae_seterr(err, errlen, -rc,
				       "disk %s: cannot read its qcow2 header: %s",
				       path, strerror(-rc));
			break;
		}
		if (rc == 0 || !fmt[0] || strspn(fmt, "abcdefghijklmnopqrstuvwxyz"
						      "0123456789-_") != strlen(fmt)) {
			if (rc == 1 && r->drop)
				ae_info("%s: backing file %s of %s names no "
					"format: QEMU opens it by name", r->c->name,
					name, path);
			rc = 0;
			break;
		}
		if (name[0] == '/') {
			next = ae_xstrdup(name);
		} else {
			copy = ae_xstrdup(path);
			next = ae_xasprintf("%s/%s", dirname(copy), name);
			free(copy);
		}
		free(path);
		path = next;
		k = (int)f->n_backing;
		fd = open_for_qemu(r, "backing file", path, O_RDONLY, 0, err,
				   errlen);
		if (fd < 0) {
			rc = fd;
			break;
		}
		f->backing[k] = fd;
		snprintf(f->backing_fmt[k], sizeof f->backing_fmt[k], "%s", fmt);
		f->n_backing++;
	}
	free(path);
	return rc;
}

/* Everything QEMU needs, opened by the supervisor: QEMU may run as a user
 * who could not open any of it. */
static int open_qemu_files(struct run *r, struct ae_qemu_fds *f, char *err,
			   size_t errlen)
{
	const struct ae_vmconf *c = r->c;
	int fd;

	if ((fd = listen_unix(r->qmp_path, err, errlen)) < 0)
		return fd;
	f->qmp = fd;
	f->qmp_desc = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (c->guest_agent) {
		char *qga = ae_xasprintf("%s/qga.sock", r->vmdir);
		fd = listen_unix(qga, err, errlen);
		free(qga);
		if (fd < 0)
			return fd;
		f->qga = fd;
	}
	if (strcmp(c->console, "stdout") && strcmp(c->console, "none")) {
		char why[512];
		if (ae_conlog_open(&r->con, c->console, c->console_max,
				   c->console_keep, &f->console, why,
				   sizeof why) < 0)
			return ae_seterr(err, errlen, EINVAL, "%s:%d: console: %s",
					 c->console_file, c->console_line, why);
	}
	if (c->disk) {
		if ((fd = open_for_qemu(r, "disk", c->disk, O_RDWR, 0, err,
					errlen)) < 0)
			return fd;
		f->disk_rw = fd;
		if ((fd = open_for_qemu(r, "disk", c->disk, O_RDONLY, 0, err,
					errlen)) < 0)
			return fd;
		f->disk_ro = fd;
		if (!strcmp(c->disk_format, "qcow2") &&
		    (fd = open_backing_chain(r, f, err, errlen)) < 0)
			return fd;
	}
	if (c->seed) {
		if ((fd = open_for_qemu(r, "seed", c->seed, O_RDONLY, 0, err,
					errlen)) < 0)
			return fd;
		f->seed = fd;
	}
	if (c->kernel) {
		if ((fd = open_for_qemu(r, "kernel", c->kernel, O_RDONLY, 1,
					err, errlen)) < 0)
			return fd;
		f->kernel = fd;
	}
	if (c->initrd) {
		if ((fd = open_for_qemu(r, "initrd", c->initrd, O_RDONLY, 1,
					err, errlen)) < 0)
			return fd;
		f->initrd = fd;
	}
	return 0;
}

static int start_qemu(struct run *r, struct aether_attachment *att)
{
	struct ae_argv a = {0};
	struct ae_qemu_fds fds;
	char err[1024];
	int rc;

	ae_qemu_fds_init(&fds);
	if (open_qemu_files(r, &fds, err, sizeof err) < 0) {
		ae_err("%s: %s", r->c->name, err);
		close_fds(&fds);
		ae_attachment_close_fds(att);
		ae_relay_close_hv_fd(r->relay);
		return AE_EXIT_ERROR;
	}
	rc = ae_qemu_build_fds(&a, r->c, att, r->qmp_path, &fds, err,
			       sizeof err);
	if (rc < 0) {
		ae_err("%s: %s", r->c->name, err);
		ae_argv_free(&a);
		close_fds(&fds);
		return AE_EXIT_NETWORK;
	}
	if (ae_log_level >= 7) {
		size_t i;
		for (i = 0; i < a.n; i++)
			ae_debug("argv[%zu] = %s", i, a.v[i]);
	}
	if (r->drop && (att->kind == AETHER_ATTACH_VDE ||
			att->kind == AETHER_ATTACH_VHOST_USER ||
			(att->kind == AETHER_ATTACH_STREAM && att->stream.fd < 0)))
		ae_info("%s: backend %s gives QEMU a socket path, which QEMU "
			"opens as user %s: that user must be able to reach it "
			"(or set [vm] user)", r->c->name, r->c->backend,
			r->creds.name);
	r->t_spawn = ae_now_ns();
	rc = ae_spawn_as((const char *const *)a.v, NULL, NULL, 0, a.keep_fds,
			 a.n_keep, r->drop ? &r->creds : NULL, &r->qemu, err,
			 sizeof err);
	ae_argv_free(&a);
	/* QEMU holds its own copies now (or never will): drop ours, so a
	 * non-persistent TAP goes away with QEMU. */
	close_fds(&fds);
	ae_attachment_close_fds(att);
	ae_relay_close_hv_fd(r->relay);
	if (rc < 0) {
		ae_err("%s: %s", r->c->name, err);
		return AE_EXIT_QEMU;
	}
	if (r->con && ae_conlog_start(r->con) < 0)
		ae_warn("%s: cannot start the console writer: the console log "
			"stays empty", r->c->name);
	{
		char path[4096], buf[32];
		snprintf(path, sizeof path, "%s/qemu.pid", r->vmdir);
		snprintf(buf, sizeof buf, "%ld\n", (long)r->qemu);
		ae_write_file(path, buf, strlen(buf), 0600);
		/* whose QEMU it is: gc kills an orphan only of that uid */
		snprintf(path, sizeof path, "%s/qemu.uid", r->vmdir);
		snprintf(buf, sizeof buf, "%ld\n",
			 (long)(r->drop ? r->creds.uid : geteuid()));
		ae_write_file(path, buf, strlen(buf), 0600);
	}
	if (r->drop)
		ae_info("%s: QEMU running (pid %ld, user %s), network %s "
			"attached (index %u)", r->c->name, (long)r->qemu,
			r->creds.name, r->c->backend, r->index);
	else
		ae_info("%s: QEMU running (pid %ld), network %s attached "
			"(index %u)", r->c->name, (long)r->qemu, r->c->backend,
			r->index);
	return 0;
}

/* ---- frame ports (ABI 1.1) and the control socket ---- */

/* Before attach: a plugin that can be a frame port gets the relay's
 * output in the attachment. */
static int frame_port_prepare(struct run *r, struct aether_attachment *att)
{
	char err[256];

	if (!(ae_instance_plugin(r->inst)->caps & AETHER_CAP_ATTACH_FRAME))
		return 0;
	if (ae_relay_new(&r->relay, att, err, sizeof err) < 0) {
		ae_err("%s: %s", r->c->name, err);
		return AE_EXIT_NETWORK;
	}
	return 0;
}

/* After attach: keep the relay only for a frame port. */
static int frame_port_bind(struct run *r, struct aether_attachment *att)
{
	char err[256];

	r->kind = att->kind;
	if (att->kind != AETHER_ATTACH_FRAME) {
		ae_relay_free(r->relay);
		r->relay = NULL;
		return 0;
	}
	if (ae_relay_bind(r->relay, att, err, sizeof err) < 0) {
		ae_err("%s: backend %s: %s", r->c->name, r->c->backend, err);
		return AE_EXIT_NETWORK;
	}
	ae_debug("%s: relaying frames through fd %d", r->c->name,
		 ae_relay_hv_fd(r->relay));
	return 0;
}

/* ---- switchable VMs: the relay carries the backend's attachment ---- */

/* After attach: the relay's network side from the attachment. */
static int switch_port_bind(struct run *r, struct aether_attachment *att)
{
	char err[512];

	r->kind = att->kind;
	if (ae_relay_port_open(r->relay, att, &r->port, err, sizeof err) < 0) {
		ae_err("%s: backend %s: %s (the VM has switchable = yes, %s:%d)",
		       r->c->name, r->backend, err,
		       r->c->switchable_file ? r->c->switchable_file : "?",
		       r->c->switchable_line);
		return AE_EXIT_NETWORK;
	}
	ae_relay_port_use(r->relay, r->port);
	ae_debug("%s: relaying %s through fd %d", r->c->name,
		 ae_relay_port_describe(r->port), ae_relay_hv_fd(r->relay));
	return 0;
}

/* "KIND DETAIL" of what the VM is attached to, for network show. */
static void describe_attachment(struct run *r,
				const struct aether_attachment *att)
{
	char *d = r->attachment;
	size_t n = sizeof r->attachment;

	if (r->port && ae_relay_port_kind(r->port) != AETHER_ATTACH_FRAME) {
		snprintf(d, n, "%s", ae_relay_port_describe(r->port));
		return;
	}
	switch (att->kind) {
	case AETHER_ATTACH_TAP:
		snprintf(d, n, "tap %s", att->tap.ifname);
		break;
	case AETHER_ATTACH_VDE:
		if (att->vde.port > 0)
			snprintf(d, n, "vde %s port %d",
				 att->vde.sock ? att->vde.sock : "?",
				 (int)att->vde.port);
		else
			snprintf(d, n, "vde %s",
				 att->vde.sock ? att->vde.sock : "?");
		break;
	case AETHER_ATTACH_USER:
		snprintf(d, n, "user");
		break;
	case AETHER_ATTACH_STREAM:
		snprintf(d, n, "stream %s",
			 att->stream.fd >= 0 ? "fd"
			 : att->stream.path ? att->stream.path : "?");
		break;
	case AETHER_ATTACH_VHOST_USER:
		snprintf(d, n, "vhost-user %s",
			 att->vhost_user.path ? att->vhost_user.path : "?");
		break;
	case AETHER_ATTACH_FRAME:
		snprintf(d, n, "frame %s", r->backend);
		break;
	default:
		snprintf(d, n, "unknown");
	}
}

/* <vmdir>/network: the current backend, its options and attachment,
 * swapped in whole (read by network show's fallbacks and by people). */
static void record_network(struct run *r)
{
	char *path = ae_xasprintf("%s/network", r->vmdir), *q, why[64];
	char *buf = ae_xasprintf("backend %s\n", r->backend), *n;
	size_t i;

	for (i = 0; r->section && i < r->section->n_entries; i++) {
		const struct ae_ini_entry *e = &r->section->entries[i];
		if (!(q = ae_control_quote(e->value, why, sizeof why)))
			continue;
		n = ae_xasprintf("%soption %s %s\n", buf, e->key, q);
		free(q);
		free(buf);
		buf = n;
	}
	n = ae_xasprintf("%sattachment %s\n", buf, r->attachment);
	free(buf);
	if (ae_write_file_swap(path, n, strlen(n), 0600) < 0)
		ae_warn("%s: cannot write %s", r->c->name, path);
	free(n);
	free(path);
}

static void section_free(struct ae_ini_section *s)
{
	size_t i;

	if (!s)
		return;
	for (i = 0; i < s->n_entries; i++) {
		free(s->entries[i].key);
		free(s->entries[i].value);
	}
	free(s->entries);
	free(s->name);
	free(s);
}

static void section_add(struct ae_ini_section *s, size_t *cap,
			const struct ae_ini_entry *e)
{
	struct ae_ini_entry *d;

	if (s->n_entries == *cap) {
		*cap = *cap ? *cap * 2 : 8;
		s->entries = ae_xrealloc(s->entries, *cap * sizeof *s->entries);
	}
	d = &s->entries[s->n_entries++];
	d->key = ae_xstrdup(e->key);
	d->value = ae_xstrdup(e->value);
	d->file = e->file; /* the VM's or host file (kept), or a literal */
	d->line = e->line;
}

static int section_has(const struct ae_ini_section *s, const char *key)
{
	size_t i;

	for (i = 0; s && i < s->n_entries; i++)
		if (!strcmp(s->entries[i].key, key))
			return 1;
	return 0;
}

static const char *section_value(const struct ae_ini_section *s,
				 const char *key)
{
	size_t i;

	for (i = 0; s && i < s->n_entries; i++)
		if (!strcmp(s->entries[i].key, key))
			return s->entries[i].value;
	return NULL;
}

/* [network.BACKEND] for a switch: the VM's own section when it goes back
 * to its configured backend, else the host config's; each key of the
 * request replaces that key.  Forwards the VM has now are left out of
 * it: they are carried over once the old backend let go of their
 * ports. */
static struct ae_ini_section *switch_section(struct run *r,
					     const char *backend,
					     const struct ae_ini_section *opts)
{
	struct ae_ini_section *s = ae_xcalloc(1, sizeof *s);
	const struct ae_ini_section *base;
	size_t i, cap = 0;

	s->name = ae_xasprintf("network.%s", backend);
	if (!strcmp(backend, r->c->backend))
		base = r->netsec ? r->netsec : &r->c->backend_section;
	else
		base = ae_ini_find(r->c->host_ini, s->name);
	s->file = base ? base->file : AE_CONTROL_ORIGIN;
	s->line = base ? base->line : 0;
	for (i = 0; base && i < base->n_entries; i++) {
		const struct ae_ini_entry *e = &base->entries[i];
		if (section_has(opts, e->key) ||
		    /* network = NAME and bridge = DEV replace each other */
		    (!strcmp(e->key, "bridge") && section_has(opts, "network")) ||
		    (!strcmp(e->key, "network") && section_has(opts, "bridge")) ||
		    (!strcmp(e->key, "hostfwd") &&
		     ae_control_has_forward(r->ctl, e->value)))
			continue;
		section_add(s, &cap, e);
	}
	for (i = 0; i < opts->n_entries; i++) {
		struct ae_ini_entry e = opts->entries[i];
		e.file = AE_CONTROL_ORIGIN;
		section_add(s, &cap, &e);
	}
	return s;
}

static int set_link(struct run *r, int up)
{
	char reply[512];
	int rc = ae_qmp_execute(r->qmp_path,
				up ? "{\"execute\":\"set_link\",\"arguments\":"
				     "{\"name\":\"net0\",\"up\":true}}"
				   : "{\"execute\":\"set_link\",\"arguments\":"
				     "{\"name\":\"net0\",\"up\":false}}",
				reply, sizeof reply, 2000);

	if (rc < 0)
		ae_warn("%s: QMP set_link %s: %s", r->c->name,
			up ? "up" : "down", strerror(-rc));
	return rc;
}

/* A link down and up a few milliseconds apart can pass unseen: the
 * guest's driver reads the link state once, already up again, and its
 * DHCP client never renews.  The link stays down at least this long. */
#define SWITCH_LINK_DOWN_MS 500

static void link_down_hold(uint64_t since_ns)
{
	uint64_t until = since_ns + (uint64_t)SWITCH_LINK_DOWN_MS * 1000000u;
	uint64_t now = ae_now_ns();

	if (now < until) {
		struct timespec ts = {
			.tv_sec = (time_t)((until - now) / 1000000000u),
			.tv_nsec = (long)((until - now) % 1000000000u),
		};
		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
	}
}

static void control_target(struct run *r, struct ae_control_target *t);
static int net_switch(void *ctx, const char *backend,
		      const struct ae_ini_section *opts, char *err,
		      size_t errlen)
{
	struct run *r = ctx;
	struct ae_ini_section *sec;
	struct ae_instance *ni = NULL, *oi;
	struct aether_attachment att;
	struct ae_relay_port *np = NULL;
	struct ae_control_target t;
	struct ae_ini_section *netsec = NULL;
	const char *netname;
	void *nstate = NULL;
	char *next = ae_xasprintf("%s/network.next", r->vmdir), *rec;
	char *netfile = NULL, *oldnet = NULL;
	size_t oldnet_len = 0;
	uint64_t t0 = ae_now_ns(), t_down;
	int rc;

	if (!r->c->switchable || !r->relay || !r->port) {
		free(next);
		return ae_seterr(err, errlen, EOPNOTSUPP,
				 "VM %s is not switchable: set [vm] switchable "
				 "= yes and start it again", r->c->name);
	}
	sec = switch_section(r, backend, opts);
	/* Both backends may hold resources until the end: say so first
	 * (aether gc cleans both after a crash, the VM being gone). */
	rec = ae_xasprintf("backend %s\nfrom %s\n", backend, r->backend);
	ae_write_file(next, rec, strlen(rec), 0600);
	free(rec);
	netfile = ae_xasprintf("%s/" AE_NET_VM_FILE, r->vmdir);
	if (ae_read_file(netfile, &oldnet, &oldnet_len, 256) < 0)
		oldnet = NULL;
	if ((netname = section_value(sec, "network"))) {
		/* onto a managed network: its bridge, brought up when it is
		 * down, the VM's address reserved, as at start */
#ifdef AE_HAVE_MANAGED_NETWORKS
		r->netres = 1;
		rc = ae_net_section_attach(r->c, netname, sec, r->root,
					   r->vmdir, &netsec, err, errlen);
#else
		rc = ae_seterr(err, errlen, EOPNOTSUPP, "network = %s: this "
			       "aether was built without managed networks",
			       netname);
#endif
		if (rc < 0)
			goto fail;
	}
	rc = ae_instance_open(backend, r->c->plugin_dir, netsec ? netsec : sec,
			      &ni, err, errlen);
	if (rc < 0)
		goto fail;
	memset(&att, 0, sizeof att);
	if (ae_instance_plugin(ni)->caps & AETHER_CAP_ATTACH_FRAME)
		ae_relay_hooks(r->relay, &att);
	ae_instance_clear_error(ni);
	rc = ae_instance_attach(ni, &r->vm, &att, &nstate);
	if (rc < 0) {
		const char *why = ae_instance_last_error(ni);
		ae_seterr(err, errlen, -rc,
			  "backend %s could not attach the network: %s",
			  backend, why ? why : strerror(-rc));
		goto fail;
	}
	rc = ae_relay_port_open(r->relay, &att, &np, err, errlen);
	ae_attachment_close_fds(&att); /* what the port did not take */
	if (rc < 0) {
		char why[512];
		snprintf(why, sizeof why, "%s", err);
		ae_seterr(err, errlen, -rc, "backend %s: %s", backend, why);
		ae_instance_detach(ni, &r->vm, nstate);
		goto fail;
	}
	/* The swap: the guest sees its link go down and up. */
	set_link(r, 0);
	t_down = ae_now_ns();
	ae_relay_port_use(r->relay, np);
	ae_relay_port_close(r->port);
	oi = r->inst;
	rc = ae_instance_detach(oi, &r->vm, r->att_state);
	if (rc < 0)
		ae_warn("%s: detach of backend %s: %s", r->c->name, r->backend,
			strerror(-rc));
	ae_instance_close(oi);
	r->port = np;
	r->inst = ni;
	r->att_state = nstate;
	r->kind = att.kind;
	free(r->backend);
	r->backend = ae_xstrdup(backend);
	r->section = netsec ? netsec : sec;
	describe_attachment(r, &att);
	control_target(r, &t);
	ae_control_retarget(r->ctl, &t);
	section_free(r->swsec);
	r->swsec = sec;
	ae_net_section_free(r->swnetsec);
	r->swnetsec = netsec;
	if (!netsec)
		unlink(netfile); /* on no managed network any more */
	free(netfile);
	free(oldnet);
	link_down_hold(t_down);
	set_link(r, 1);
	record_network(r);
	unlink(next);
	free(next);
	ae_info("%s: network switched to backend %s (%s) in %.1f ms",
		r->c->name, backend, r->attachment,
		(double)(ae_now_ns() - t0) / 1e6);
	return 0;
fail:
	ae_instance_close(ni);
	ae_net_section_free(netsec);
	section_free(sec);
	/* the VM is still on its old network, if any */
	if (netfile && oldnet)
		ae_write_file(netfile, oldnet, oldnet_len, 0600);
	else if (netfile)
		unlink(netfile);
	free(netfile);
	free(oldnet);
	unlink(next);
	free(next);
	ae_warn("%s: network switch to %s failed, still on %s: %s", r->c->name,
		backend, r->backend, err);
	return rc;
}

static void control_target(struct run *r, struct ae_control_target *t)
{
	memset(t, 0, sizeof *t);
	t->name = r->c->name;
	t->inst = r->inst;
	t->vm = &r->vm;
	t->att_state = r->att_state;
	t->kind = r->kind;
	t->qmp_path = r->qmp_path;
	t->relay = r->relay;
	t->section = r->section;
	t->backend = r->backend;
	t->attachment = r->attachment;
	if (r->c->switchable) {
		t->net_switch = net_switch;
		t->net_ctx = r;
	}
}

/* `aether forward` and `stats` talk to this; without it the VM still runs. */
static void control_open(struct run *r)
{
	struct ae_control_target t;
	char err[512], *path = ae_xasprintf("%s/control.sock", r->vmdir);

	control_target(r, &t);

	if (ae_control_open(path, &t, &r->ctl, err, sizeof err) < 0)
		ae_warn("%s: %s (forwards cannot change at run time)",
			r->c->name, err);
	free(path);
}

/* ---- store hooks (aether start): state record and readiness ---- */

/* AETHER_STATE_FILE: the VM's state record in the store, when started by
 * `aether start`.  Written when QEMU runs and when the supervisor ends. */
static void record_state(const struct run *r, const char *state, int code,
			 const char *reason)
{
	const char *path = getenv("AETHER_STATE_FILE");
	struct ae_vmstate s, old;
	char why[128];

	if (!path || !*path)
		return;
	if (ae_vmstate_read(path, &old) < 0)
		ae_vmstate_init(&old, "unknown");
	/* `aether stop` wrote "stopping" first: an exit then is a stop. */
	if (strcmp(state, "running") && !strcmp(old.state, "stopping"))
		state = "stopped";
	/* It never ran: a failed start, not a crash. */
	if (strcmp(state, "running") && !strcmp(old.state, "starting")) {
		state = "stopped";
		if (code != AE_EXIT_OK) {
			snprintf(why, sizeof why, "start failed: %s", reason);
			reason = why;
		}
	}
	ae_vmstate_init(&s, state);
	s.pid = (long)getpid();
	s.qemu_pid = r->qemu > 0 ? (long)r->qemu : 0;
	s.index = (long)r->index;
	s.started = strcmp(state, "running") ? old.started
					     : (long long)time(NULL);
	s.exit_code = code;
	snprintf(s.reason, sizeof s.reason, "%s", reason ? reason : "");
	if (ae_vmstate_write(path, &s) < 0)
		ae_warn("%s: cannot record state in %s", r->c->name, path);
}

/* AETHER_READY_FD: once QEMU answers on QMP (it runs, with the network
 * attached), write the "ready" line there (ready.h: with the times at
 * which QEMU was spawned and answered, so the starter can tell its own
 * time from QEMU's) and close it.  If the supervisor ends before that, the
 * fd closes with the process: the reader sees EOF and reports the failure
 * from the log. */
static void notify_ready(struct run *r)
{
	const char *env = getenv("AETHER_READY_FD");
	uint64_t end = ae_now_ns() + 60ull * 1000000000ull;
	struct timespec ts = {0, 200000};
	struct ae_ready rd;
	char buf[AE_READY_LINE_MAX];
	int fd, n;

	while (ae_qmp_execute(r->qmp_path, "{\"execute\":\"query-status\"}",
			      NULL, 0, 2000) < 0) {
		siginfo_t si;
		memset(&si, 0, sizeof si);
		/* WNOWAIT: leave QEMU's status for supervise() to reap */
		if ((waitid(P_PID, (id_t)r->qemu, &si,
			    WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid) ||
		    ae_now_ns() > end)
			return;
		nanosleep(&ts, NULL);
	}
	rd.t_ready = ae_now_ns();
	record_state(r, "running", -1, NULL);
	if (!env || !*env)
		return;
	fd = atoi(env);
	if (fd <= 2)
		return;
	rd.sup_pid = (long)getpid();
	rd.qemu_pid = (long)r->qemu;
	rd.index = r->index;
	rd.t_spawn = r->t_spawn;
	n = ae_ready_format(&rd, buf, sizeof buf);
	if (n < 0)
		ae_warn("%s: readiness notification: %s", r->c->name,
			strerror(-n));
	else if (write(fd, buf, (size_t)n) != n)
		ae_warn("%s: readiness notification failed: %s", r->c->name,
			strerror(errno));
	close(fd);
	unsetenv("AETHER_READY_FD");
}

/* AETHER_READY_PATH: a FIFO the starting CLI reads, when the supervisor
 * is not its child (a systemd unit): no fd can be inherited then.  Opened
 * first thing and kept open, so the CLI sees EOF when the supervisor ends
 * before it is ready; "started" (ready.h) says it runs.  Then it is the ready
 * fd (AETHER_READY_FD) for notify_ready. */
static void open_ready_path(const char *name)
{
	const char *path = getenv("AETHER_READY_PATH");
	struct stat st;
	char buf[AE_READY_LINE_MAX];
	int fd, n;

	if (!path || !*path)
		return;
	fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISFIFO(st.st_mode) || fd <= 2) {
		ae_warn("%s: readiness FIFO %s: %s", name, path,
			fd < 0 ? strerror(errno) : "not a FIFO");
		if (fd >= 0)
			close(fd);
		unsetenv("AETHER_READY_PATH");
		return;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	n = ae_ready_format_started((long)getpid(), buf, sizeof buf);
	if (n < 0 || write(fd, buf, (size_t)n) != n)
		ae_warn("%s: readiness FIFO %s: %s", name, path,
			strerror(n < 0 ? -n : errno));
	snprintf(buf, sizeof buf, "%d", fd);
	setenv("AETHER_READY_FD", buf, 1);
	unsetenv("AETHER_READY_PATH");
}

static const char *exit_reason(int ret)
{
	switch (ret) {
	case AE_EXIT_OK: return "guest shut down";
	case AE_EXIT_NETWORK: return "network backend failed";
	case AE_EXIT_QEMU: return "QEMU failed";
	case AE_EXIT_CRASH: return "QEMU was killed";
	default:
		return ret > AE_EXIT_SIGNAL ? "supervisor stopped by a signal"
					    : "error";
	}
}

int ae_run(const struct ae_vmconf *c, const struct ae_run_opts *o)
{
	struct run r = {.c = c, .sfd = -1, .qemu = -1,
			.section = &c->backend_section};
	struct aether_attachment att = {0};
	char err[1024];
	int rc, ret;

	if (getenv("AETHER_READY_FD")) /* ours only: not QEMU's or helpers' */
		fcntl(atoi(getenv("AETHER_READY_FD")), F_SETFD, FD_CLOEXEC);
	else
		open_ready_path(c->name);
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

	rc = ae_qemu_creds(c, &r.creds, err, sizeof err);
	if (rc < 0) {
		ae_err("%s", err);
		ret = AE_EXIT_ERROR;
		goto out;
	}
	r.drop = rc > 0;
	if (r.drop) { /* the backends learn who QEMU is (TAP owner, ...) */
		r.vm.uid = r.creds.uid;
		r.vm.gid = r.creds.gid;
	}
	if ((rc = setup_signals(&r)) < 0) {
		ae_err("signals: %s", strerror(-rc));
		ret = AE_EXIT_ERROR;
		goto out;
	}
	if (c->network) {
		/* network = NAME: its bridge, brought up when it is down */
#ifdef AE_HAVE_MANAGED_NETWORKS
		r.netres = 1;
		if (ae_net_vm_attach(c, r.root, r.vmdir, &r.netsec, err,
				     sizeof err) < 0) {
			ae_err("%s: %s", c->name, err);
			ret = AE_EXIT_NETWORK;
			goto out;
		}
		r.section = r.netsec;
#else
		ae_err("%s: network = %s: this aether was built without "
		       "managed networks", c->name, c->network);
		ret = AE_EXIT_NETWORK;
		goto out;
#endif
	}
	rc = ae_instance_open(c->backend, c->plugin_dir, r.section, &r.inst,
			      err, sizeof err);
	if (rc < 0) {
		ae_err("%s", err);
		ret = AE_EXIT_NETWORK;
		goto out;
	}
	r.backend = ae_xstrdup(c->backend);
	if (c->switchable) {
		/* the relay carries every backend (relay-port.h) */
		if (ae_relay_new(&r.relay, &att, err, sizeof err) < 0) {
			ae_err("%s: %s", c->name, err);
			ret = AE_EXIT_NETWORK;
			goto out;
		}
	} else if ((ret = frame_port_prepare(&r, &att)) != 0) {
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
	if ((ret = c->switchable ? switch_port_bind(&r, &att)
				 : frame_port_bind(&r, &att)) != 0) {
		ae_attachment_close_fds(&att);
		goto out;
	}
	describe_attachment(&r, &att);
	if ((ret = stop_signal_pending(&r)) != 0) {
		ae_attachment_close_fds(&att);
		goto out;
	}
	ret = start_qemu(&r, &att);
	if (ret == 0)
		record_network(&r);
	if (ret == 0)
		control_open(&r);
	if (ret == 0)
		notify_ready(&r);
	if (ret == 0)
		ret = supervise(&r, o);
out:
	ae_control_close(r.ctl);
	if (r.relay) {
		char stats[512];
		ae_relay_format_stats(r.relay, stats, sizeof stats);
		ae_info("%s: relay %s", c->name, stats);
	}
	if (r.port) { /* the relay lets go of the device first */
		ae_relay_port_use(r.relay, NULL);
		ae_relay_port_close(r.port);
		r.port = NULL;
	}
	if (r.attached) {
		rc = ae_instance_detach(r.inst, &r.vm, r.att_state);
		if (rc < 0)
			ae_warn("%s: detach: %s", c->name, strerror(-rc));
		else
			ae_info("%s: network detached", c->name);
	}
	ae_conlog_close(r.con); /* QEMU is gone: the rest of its output */
	ae_relay_free(r.relay); /* after detach: the port is gone */
	ae_instance_close(r.inst);
	ae_net_section_free(r.swnetsec);
	section_free(r.swsec);
	free(r.backend);
	if (r.vmdir)
		record_state(&r, ret == AE_EXIT_OK ? "stopped" : "crashed", ret,
			     exit_reason(ret));
#ifdef AE_HAVE_MANAGED_NETWORKS
	/* a VM run from a file outside the store leaves no address behind,
	 * also when its start failed; a store VM keeps its own */
	if (r.netres)
		ae_net_vm_release_unstored(c, r.root);
	if (r.netsec) /* an ephemeral network goes with its last VM */
		ae_net_vm_detach(c, r.root);
	ae_net_section_free(r.netsec);
#endif
	ae_runtime_release_vm(r.vmdir);
	/* Signals stay blocked until everything is cleaned up: a second
	 * SIGTERM or Ctrl-C during the stop (timeout(1) sends one to the
	 * child and one to its group) must not kill us half way.  Those that
	 * came meanwhile are consumed: we are stopping already. */
	if (r.sfd >= 0) {
		struct signalfd_siginfo si;
		while (read(r.sfd, &si, sizeof si) == (ssize_t)sizeof si)
			;
		close(r.sfd);
	}
	sigprocmask(SIG_SETMASK, &r.old_mask, NULL);
	free(r.vmdir);
	free(r.qmp_path);
	free(r.root);
	return ret;
}
