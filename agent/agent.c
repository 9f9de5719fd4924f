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
	sigset_t mask;
	int ch, ret = AE_EXIT_ERROR;
	long long stop_deadline = 0;

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
	if (ae_amqp_conf_load(&a->aconf, host, url, cred, err, sizeof err) < 0) {
		ae_err("%s", err);
		goto out;
	}
	if (ae_store_root(&a->store, err, sizeof err) < 0) {
		ae_err("%s", err);
		goto out;
	}
	if (ae_agent_conf_load(&a->conf, host, a->store, host_opt, err,
			    sizeof err) < 0) {
		ae_err("%s", err);
		goto out;
	}
	if (!(a->jdir = ae_journal_dir(a->store, err, sizeof err))) {
		ae_err("%s", err);
		goto out;
	}
	/* One agent per store: two would both own its VMs. */
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
			goto out;
		}
		snprintf(pidb, sizeof pidb, "%ld\n", (long)getpid());
		if (ftruncate(lfd, 0) < 0 ||
		    pwrite(lfd, pidb, strlen(pidb), 0) < 0)
			ae_warn("%s: %s", lp, strerror(errno));
		free(lp); /* lfd stays open: the lock lives as long as we do */
	}
	/* The aether program that runs each request (set by aether). */
	if (!(a->exe = agent_binary(err, sizeof err))) {
		ae_err("serve: %s", err);
		goto out;
	}
	/* Requests an earlier run left half done. */
	ae_store_gc(a->store);
	ae_journal_recover(a->store, a->hostconf, getpid());
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
		goto out;
	}
	a->backoff = 200;
	for (;;) {
		struct pollfd p[2 + 2 * 256];
		struct job *j, *jobs_fd[256];
		int np = 0, nj = 0, timeout = 1000, i;
		long long now = mono_ms();

		if (a->stopping && (!a->jobs || now > stop_deadline))
			break;
		if (!a->connected && !a->stopping && now >= a->next_try)
			sv_try_connect(a);
		p[np++] = (struct pollfd){a->sfd, POLLIN, 0};
		if (a->connected)
			p[np++] = (struct pollfd){a->amqp.fd, POLLIN, 0};
		for (j = a->jobs; j && nj < 256; j = j->next) {
			if (j->out_fd < 0 && j->err_fd < 0)
				continue;
			jobs_fd[nj++] = j;
			p[np++] = (struct pollfd){j->out_fd, POLLIN, 0};
			p[np++] = (struct pollfd){j->err_fd, POLLIN, 0};
		}
		/* Deliveries read while waiting for a confirm (a reply sent
		 * from sv_reap()) wait in the inbox: the socket will not say so. */
		if (a->connected && (a->amqp.inbox || ae_amqp_buffered(&a->amqp)))
			timeout = 0;
		else if (!a->connected && a->next_try - now < timeout)
			timeout = a->next_try > now ? (int)(a->next_try - now) : 0;
		if (poll(p, (nfds_t)np, timeout) < 0 && errno != EINTR) {
			ae_err("poll: %s", strerror(errno));
			break;
		}
		if (p[0].revents) {
			struct signalfd_siginfo si;
			while (read(a->sfd, &si, sizeof si) == sizeof si) {
				if (si.ssi_signo == SIGCHLD || a->stopping)
					continue;
				ae_log(5, "signal %u: finishing %s running "
				       "requests, then exiting", si.ssi_signo,
				       a->jobs ? "the" : "no");
				a->stopping = 1;
				stop_deadline = mono_ms() + 600000;
				if (a->connected) {
					amqp_basic_cancel(a->amqp.conn, 1,
						amqp_cstring_bytes("create"));
					amqp_basic_cancel(a->amqp.conn, 1,
						amqp_cstring_bytes("host"));
				}
			}
		}
		for (i = 0; i < nj; i++) {
			sv_drain(&jobs_fd[i]->out_fd, &jobs_fd[i]->out,
				 &jobs_fd[i]->out_len);
			sv_drain(&jobs_fd[i]->err_fd, &jobs_fd[i]->err,
				 &jobs_fd[i]->err_len);
		}
		sv_reap(a);
		if (a->connected) {
			int k;
			for (k = 0; k < 64 && a->connected; k++) {
				struct ae_msg *m;
				/* Pumped once a turn (at least every second)
				 * even when the socket is quiet: librabbitmq
				 * sends our heartbeats and sees the broker's
				 * stop only in its calls; a frozen broker
				 * sends nothing that would wake us. */
				int more = a->amqp.inbox ||
					   ae_amqp_buffered(&a->amqp) ||
					   k == 0;
				if (!more)
					break;
				if (ae_amqp_pump(&a->amqp, 0, err, sizeof err) < 0) {
					sv_lost(a, err);
					break;
				}
				while (a->connected && (m = ae_amqp_take(&a->amqp))) {
					if (a->stopping) {
						/* cancelled: give it back */
						amqp_basic_reject(a->amqp.conn, 1,
								  m->tag, 1);
					} else {
						sv_handle(a, m);
					}
					ae_msg_free(m);
				}
			}
			if (a->connected && a->amqp.broken)
				sv_lost(a, "connection error");
		}
	}
	ret = 0;
out:
	if (a->connected)
		ae_amqp_close(&a->amqp);
	ae_amqp_conf_free(&a->aconf);
	ae_ini_free(host);
	return ret;
}
