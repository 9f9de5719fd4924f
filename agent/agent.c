/* agent.c - `aether serve`: the host agent.
 *
 * One process, one broker connection, one poll loop.  Every request is
 * carried out by a child `aether` process (argv, never a shell) running
 * the local lifecycle command, so a slow create never stops the agent from
 * serving others, and the local and remote paths are the same code.  A
 * request is acked only after its work is done and its reply confirmed by
 * the broker; a request that cannot be understood gets an error reply and
 * is rejected to the dead-letter queue.  See broker.h and aether-remote(7);
 * serve.h lists the parts of the agent in the serve-*.c files.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "conffile.h"
#include "exitcodes.h"
#include "journal.h"
#include "serve.h"
#include "store.h"
#include "util.h"
#include "vmconf.h"

/* The aether program that carries out requests: $AETHER_BINARY, which
 * aether sets to itself when it executes aether-agent (ignored in a
 * set-id process: secure_getenv).  Every request runs it, as root on a
 * root agent, so it must be an absolute path to an executable regular
 * file, and for root one owned by root that group and others cannot
 * write.  NULL with err saying what is wrong. */
static char *agent_binary(char *err, size_t errlen)
{
	const char *e = secure_getenv("AETHER_BINARY");
	struct stat st;

	if (!e || !*e) {
		snprintf(err, errlen, "AETHER_BINARY is not set: run this as "
			 "`aether serve`");
		return NULL;
	}
	if (e[0] != '/') {
		snprintf(err, errlen, "AETHER_BINARY '%s' is not an absolute "
			 "path", e);
		return NULL;
	}
	errno = 0;
	if (stat(e, &st) < 0 || !S_ISREG(st.st_mode) || access(e, X_OK) < 0) {
		snprintf(err, errlen, "AETHER_BINARY %s is not an executable "
			 "file%s%s", e, errno ? ": " : "",
			 errno ? strerror(errno) : "");
		return NULL;
	}
	if (geteuid() == 0 && (st.st_uid != 0 || (st.st_mode & 022))) {
		snprintf(err, errlen, "AETHER_BINARY %s: refused for an agent "
			 "running as root: it must be owned by root and not "
			 "writable by group or others (owner %u, mode %04o)", e,
			 (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
		return NULL;
	}
	return ae_xstrdup(e);
}

static void usage_serve(FILE *f)
{
	fprintf(f, "usage: aether serve [--host NAME] [--amqp URL] "
		   "[--credentials FILE]\n");
}

/* [amqp], the VM store, [agent] and the journal directory; -1 after
 * saying what is wrong. */
static int load_config(struct agent *a, const struct ae_ini *host,
		       const char *url, const char *cred, const char *host_opt)
{
	char err[1024];

	if (ae_amqp_conf_load(&a->aconf, host, url, cred, err, sizeof err) < 0 ||
	    ae_store_root(&a->store, err, sizeof err) < 0 ||
	    ae_agent_conf_load(&a->conf, host, a->store, host_opt, err,
			       sizeof err) < 0 ||
	    !(a->jdir = ae_journal_dir(a->store, err, sizeof err))) {
		ae_err("%s", err);
		return -1;
	}
	return 0;
}

/* One agent per store: two would both own its VMs.  The lock is held
 * (its file stays open, with our pid in it) as long as we run. */
static int lock_store(struct agent *a)
{
	char *lp = ae_xasprintf("%s/.agent.lock", a->jdir), pidb[24];
	int lfd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

	if (lfd < 0 || flock(lfd, LOCK_EX | LOCK_NB) < 0) {
		char other[24] = "";
		if (lfd >= 0 && pread(lfd, other, sizeof other - 1, 0) > 0)
			other[strcspn(other, "\n")] = '\0';
		ae_err("%s: %s", lp, lfd < 0 ? strerror(errno)
			: "another aether serve serves this VM store");
		if (*other)
			ae_err("(its pid: %s)", other);
		free(lp);
		return -1;
	}
	snprintf(pidb, sizeof pidb, "%ld\n", (long)getpid());
	if (ftruncate(lfd, 0) < 0 || pwrite(lfd, pidb, strlen(pidb), 0) < 0)
		ae_warn("%s: %s", lp, strerror(errno));
	free(lp);
	return 0;
}

/* SIGCHLD, SIGTERM, SIGINT and SIGHUP arrive on a->sfd; SIGPIPE is
 * ignored. */
static int watch_signals(struct agent *a)
{
	sigset_t mask;

	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	a->sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (a->sfd < 0) {
		ae_err("signalfd: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* A stop signal: take no new requests (the consumers are cancelled),
 * finish the running ones, for at most ten minutes. */
static void read_signals(struct agent *a)
{
	struct signalfd_siginfo si;

	while (read(a->sfd, &si, sizeof si) == sizeof si) {
		if (si.ssi_signo == SIGCHLD || a->stopping)
			continue;
		ae_log(5, "signal %u: finishing %s running requests, then "
		       "exiting", si.ssi_signo, a->jobs ? "the" : "no");
		a->stopping = 1;
		a->stop_deadline = mono_ms() + 600000;
		if (a->connected) {
			amqp_basic_cancel(a->amqp.conn, 1,
					  amqp_cstring_bytes("create"));
			amqp_basic_cancel(a->amqp.conn, 1,
					  amqp_cstring_bytes("host"));
		}
	}
}

/* The deliveries the broker sent: each handled (or, once stopping, given
 * back), up to 64 reads a turn. */
static void take_deliveries(struct agent *a)
{
	char err[1024];
	int k;

	for (k = 0; k < 64 && a->connected; k++) {
		struct ae_msg *m;
		/* Pumped once a turn (at least every second) even when the
		 * socket is quiet: librabbitmq sends our heartbeats and sees
		 * the broker's stop only in its calls; a frozen broker sends
		 * nothing that would wake us. */
		int more = a->amqp.inbox || ae_amqp_buffered(&a->amqp) || k == 0;
		if (!more)
			break;
		if (ae_amqp_pump(&a->amqp, 0, err, sizeof err) < 0) {
			sv_lost(a, err);
			break;
		}
		while (a->connected && (m = ae_amqp_take(&a->amqp))) {
			if (a->stopping) {
				/* cancelled: give it back */
				amqp_basic_reject(a->amqp.conn, 1, m->tag, 1);
			} else {
				sv_handle(a, m);
			}
			ae_msg_free(m);
		}
	}
	if (a->connected && a->amqp.broken)
		sv_lost(a, "connection error");
}

#define POLLED_JOBS 256

/* What a turn waits for: the signals, the broker, and the output of up
 * to POLLED_JOBS jobs (listed in jobs, *nj of them).  The number of fds. */
static int poll_set(struct agent *a, struct pollfd *p, struct job **jobs,
		    int *nj)
{
	struct job *j;
	int np = 0;

	*nj = 0;
	p[np++] = (struct pollfd){a->sfd, POLLIN, 0};
	if (a->connected)
		p[np++] = (struct pollfd){a->amqp.fd, POLLIN, 0};
	for (j = a->jobs; j && *nj < POLLED_JOBS; j = j->next) {
		if (j->out_fd < 0 && j->err_fd < 0)
			continue;
		jobs[(*nj)++] = j;
		p[np++] = (struct pollfd){j->out_fd, POLLIN, 0};
		p[np++] = (struct pollfd){j->err_fd, POLLIN, 0};
	}
	return np;
}

/* How long a turn may wait (ms): a second at most, nothing when
 * deliveries wait, until the next connection attempt when disconnected. */
static int poll_timeout(struct agent *a, long long now)
{
	/* Deliveries read while waiting for a confirm (a reply sent from
	 * sv_reap()) wait in the inbox: the socket will not say so. */
	if (a->connected && (a->amqp.inbox || ae_amqp_buffered(&a->amqp)))
		return 0;
	if (!a->connected && a->next_try - now < 1000)
		return a->next_try > now ? (int)(a->next_try - now) : 0;
	return 1000;
}

/* The poll loop: until a stop signal and the end of the running jobs
 * (or the stop deadline), or a failing poll. */
static void serve_loop(struct agent *a)
{
	for (;;) {
		struct pollfd p[2 + 2 * POLLED_JOBS];
		struct job *jobs[POLLED_JOBS];
		int np, nj, i;
		long long now = mono_ms();

		if (a->stopping && (!a->jobs || now > a->stop_deadline))
			break;
		if (!a->connected && !a->stopping && now >= a->next_try)
			sv_try_connect(a);
		np = poll_set(a, p, jobs, &nj);
		if (poll(p, (nfds_t)np, poll_timeout(a, now)) < 0 &&
		    errno != EINTR) {
			ae_err("poll: %s", strerror(errno));
			break;
		}
		if (p[0].revents)
			read_signals(a);
		for (i = 0; i < nj; i++) {
			sv_drain(&jobs[i]->out_fd, &jobs[i]->out,
				 &jobs[i]->out_len);
			sv_drain(&jobs[i]->err_fd, &jobs[i]->err,
				 &jobs[i]->err_len);
		}
		sv_reap(a);
		if (a->connected)
			take_deliveries(a);
	}
}

int ae_cmd_serve(int argc, char **argv, const char *hostconf)
{
	static const struct option lo[] = {
		{"host", required_argument, NULL, 'H'},
		{"amqp", required_argument, NULL, 'a'},
		{"credentials", required_argument, NULL, 'k'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	static struct agent A;
	struct agent *a = &A;
	const char *host_opt = NULL, *url = NULL, *cred = NULL, *hc;
	struct ae_ini *host = NULL;
	char err[1024];
	int ch, ret = AE_EXIT_ERROR;

	optind = 0;
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 'H': host_opt = optarg; break;
		case 'a': url = optarg; break;
		case 'k': cred = optarg; break;
		case 'h': usage_serve(stdout); return 0;
		default: usage_serve(stderr); return AE_EXIT_USAGE;
		}
	}
	if (optind != argc) {
		usage_serve(stderr);
		return AE_EXIT_USAGE;
	}
	hc = ae_host_config_path(hostconf);
	if (hc && ae_ini_parse_file(hc, &host, err, sizeof err) < 0) {
		ae_err("%s", err);
		return AE_EXIT_ERROR;
	}
	a->hostconf = hc ? hc : "none";
	if (load_config(a, host, url, cred, host_opt) < 0 || lock_store(a) < 0)
		goto out;
	/* The aether program that runs each request (set by aether). */
	if (!(a->exe = agent_binary(err, sizeof err))) {
		ae_err("serve: %s", err);
		goto out;
	}
	/* Requests an earlier run left half done. */
	ae_store_gc(a->store);
	ae_journal_recover(a->store, a->hostconf, getpid());
	if (watch_signals(a) < 0)
		goto out;
	a->backoff = 200;
	serve_loop(a);
	ret = 0;
out:
	if (a->connected)
		ae_amqp_close(&a->amqp);
	ae_amqp_conf_free(&a->aconf);
	ae_ini_free(host);
	return ret;
}
