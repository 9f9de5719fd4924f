/* serve-jobs.c - `aether serve`: the job runner.  A request is carried
 * out by child `aether` processes, one per step (ae_req_next_argv); their
 * output is read without blocking, and each exit runs the next step or
 * ends the job (sv_finish). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "qemu-argv.h"
#include "serve.h"
#include "util.h"

void sv_job_free(struct job *j)
{
	if (j->script) {
		unlink(j->script);
		free(j->script);
	}
	free(j->id);
	free(j->name);
	free(j->reply_to);
	free(j->correlation_id);
	free(j->reason);
	free(j->out);
	free(j->err);
	json_decref(j->opts);
	json_decref(j->response);
	free(j);
}

static int spawn_step(struct agent *a, struct job *j)
{
	struct ae_req_ctx ctx = {
		.cmd = j->cmd, .name = j->name, .opts = j->opts,
		.failed = j->failed, .made = j->made, .script = j->script,
		.hostconf = a->hostconf, .image_dir = a->conf.image_dir};
	struct ae_argv v = {0};
	int o[2], e[2], rc;
	pid_t pid;

	if (!ae_req_next_argv(&ctx, &j->step, &v))
		return 0;
	j->cur_step = j->step;
	j->cur_json = 0;
	for (size_t i = 0; i < v.n; i++)
		if (!strcmp(v.v[i], "--json"))
			j->cur_json = 1;
	if (pipe2(o, O_CLOEXEC) < 0) {
		rc = -errno;
		ae_argv_free(&v);
		return rc;
	}
	if (pipe2(e, O_CLOEXEC) < 0) {
		rc = -errno;
		close(o[0]);
		close(o[1]);
		ae_argv_free(&v);
		return rc;
	}
	free(j->out);
	free(j->err);
	j->out = j->err = NULL;
	j->out_len = j->err_len = 0;
	j->reaped = 0;
	pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);
		sigset_t none;

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		/* An agent killed mid-request takes its children along: what
		 * they half made is rolled back by the journal (gc). */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (null >= 0)
			dup2(null, 0);
		dup2(o[1], 1);
		dup2(e[1], 2);
		execv(a->exe, v.v);
		dprintf(2, "aether: %s: %s\n", a->exe, strerror(errno));
		_exit(127);
	}
	rc = -errno;
	ae_argv_free(&v);
	close(o[1]);
	close(e[1]);
	if (pid < 0) {
		close(o[0]);
		close(e[0]);
		return rc;
	}
	fcntl(o[0], F_SETFL, O_NONBLOCK);
	fcntl(e[0], F_SETFL, O_NONBLOCK);
	j->pid = pid;
	j->out_fd = o[0];
	j->err_fd = e[0];
	return 1;
}

/* Read what a child wrote.  At most MAX_OUTPUT bytes are kept: the
 * newest ones (the end of a console log, the last error), starting on a
 * UTF-8 character boundary.  The text may still hold anything the child
 * printed: it goes through ae_utf8_clean before it goes into JSON. */
void sv_drain(int *fd, char **buf, size_t *len)
{
	char tmp[8192];
	ssize_t r;

	while (*fd >= 0) {
		r = read(*fd, tmp, sizeof tmp);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EAGAIN)
			return;
		if (r <= 0) {
			close(*fd);
			*fd = -1;
			return;
		}
		ae_output_append(buf, len, tmp, (size_t)r, MAX_OUTPUT);
	}
}

/* The child's complaint, one line: its stderr without "aether: ". */
static char *child_reason(struct job *j)
{
	char *out = ae_xstrdup(""), *s = j->err ? ae_xstrdup(j->err) : NULL;
	char *l, *save, *t;

	for (l = s ? strtok_r(s, "\n", &save) : NULL; l;
	     l = strtok_r(NULL, "\n", &save)) {
		if (!strncmp(l, "aether: ", 8))
			l += 8;
		if (!strncmp(l, "error: ", 7))
			l += 7;
		t = ae_xasprintf("%s%s%s", out, *out ? "; " : "", l);
		free(out);
		out = t;
	}
	free(s);
	if (!*out) {
		free(out);
		out = WIFEXITED(j->status)
			      ? ae_xasprintf("exit status %d",
					     WEXITSTATUS(j->status))
			      : ae_xasprintf("killed by signal %d",
					     WTERMSIG(j->status));
	}
	return out;
}

/* A step's child has exited and its output is read: look at the result,
 * then run the next step or finish. */
static void step_done(struct agent *a, struct job *j)
{
	int code = WIFEXITED(j->status) ? WEXITSTATUS(j->status) : 128;
	int is_status = j->cur_json;

	j->pid = 0;
	ae_output_trim(&j->out, &j->out_len, MAX_OUTPUT);
	ae_output_trim(&j->err, &j->err_len, MAX_OUTPUT);
	if (j->out) {
		/* JSON strings must be UTF-8: whatever a guest printed. */
		char *clean = ae_utf8_clean(j->out, j->out_len);
		free(j->out);
		j->out = clean;
		j->out_len = strlen(clean);
	}
	if (j->cur_step == AE_REQ_STEP_ROLLBACK) {
		if (code) {
			char *why = child_reason(j);
			ae_warn("create %s: rollback failed: %s", j->name, why);
			free(why);
		}
		j->made = code != 0;
		sv_finish(a, j);
		return;
	}
	if (is_status) {
		json_error_t je;
		json_t *r = j->out ? json_loads(j->out, 0, &je) : NULL;
		/* status exits 3 for a VM that is not running: an answer */
		if (!r || (code != 0 && code != 3)) {
			j->failed = 1;
			free(j->reason);
			j->reason = code ? child_reason(j)
					 : ae_xstrdup("unreadable status output");
			json_decref(r);
		} else {
			json_decref(j->response);
			if (j->cmd == C_LIST) {
				j->response = json_pack("{s:s, s:o}", "host",
							a->conf.host, "vms", r);
			} else {
				j->response = r;
			}
		}
	} else if (code) {
		j->failed = 1;
		free(j->reason);
		j->reason = child_reason(j);
	} else {
		if (j->cmd == C_CREATE && j->step == AE_REQ_STEP_RUN)
			j->made = 1;
		json_decref(j->response);
		j->response = json_pack("{s:s?, s:s}", "name", j->name, "output",
					j->out ? j->out : "");
		if (j->cmd == C_DELETE)
			json_object_set_new(j->response, "deleted", json_true());
	}
	j->step++;
	for (;;) {
		int rc = spawn_step(a, j);
		if (rc > 0)
			return;
		if (rc == 0)
			break;
		j->failed = 1;
		free(j->reason);
		j->reason = ae_xasprintf("cannot start %s: %s", a->exe,
					 strerror(-rc));
	}
	sv_finish(a, j);
}

void sv_job_unlink(struct agent *a, struct job *j)
{
	struct job **p;

	for (p = &a->jobs; *p; p = &(*p)->next)
		if (*p == j) {
			*p = j->next;
			return;
		}
}

void sv_job_start(struct agent *a, struct job *j)
{
	int rc;

	j->next = a->jobs;
	a->jobs = j;
	rc = spawn_step(a, j);
	if (rc <= 0) {
		j->failed = 1;
		j->reason = ae_xasprintf("cannot start %s: %s", a->exe,
					 strerror(-rc));
		sv_finish(a, j);
	}
}

struct job *sv_job_new(struct agent *a, enum ae_req_cmd c, struct ae_msg *m,
		       json_t *opts, const char *id)
{
	struct job *j = ae_xcalloc(1, sizeof *j);
	const char *name = json_string_value(json_object_get(opts, "name"));

	j->cmd = c;
	j->id = id ? ae_xstrdup(id) : NULL;
	j->name = name ? ae_xstrdup(name) : NULL;
	j->reply_to = m->reply_to ? ae_xstrdup(m->reply_to) : NULL;
	j->correlation_id = m->correlation_id ? ae_xstrdup(m->correlation_id)
					      : NULL;
	j->tags[0].tag = m->tag;
	j->tags[0].gen = a->gen;
	j->n_tags = 1;
	j->opts = json_incref(opts);
	j->out_fd = j->err_fd = -1;
	return j;
}

struct job *sv_job_by_id(struct agent *a, const char *id)
{
	struct job *j;

	for (j = a->jobs; id && j; j = j->next)
		if (j->id && !strcmp(j->id, id))
			return j;
	return NULL;
}

/* Children that exited: once their output is read, the step is done. */
void sv_reap(struct agent *a)
{
	struct job *j, *next;
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		for (j = a->jobs; j; j = j->next)
			if (j->pid == pid) {
				j->status = status;
				j->reaped = 1;
			}
	for (j = a->jobs; j; j = next) {
		next = j->next;
		if (j->pid && j->reaped) {
			sv_drain(&j->out_fd, &j->out, &j->out_len);
			sv_drain(&j->err_fd, &j->err, &j->err_len);
			if (j->out_fd < 0 && j->err_fd < 0)
				step_done(a, j);
		}
	}
}
