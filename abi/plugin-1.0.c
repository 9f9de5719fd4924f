/* plugin-1.0.c - a plugin built against the oldest supported header.
 *
 * Compiled against abi/1.0/aether/plugin.h (the frozen copy of the header
 * as ABI 1.0 was released), never against include/: the suite loads it
 * into the current aether and drives every verb through the current core,
 * so a host that stops honouring the 1.0 layout fails here.  It uses every
 * host service of 1.0 (log, options of every type, runtime_dir, helpers),
 * hands out a STREAM attachment with an fd (ownership passes to the host)
 * and keeps per-VM state outside the process for gc.
 *
 * Freeze this file with the header: it stands for a binary built when 1.0
 * was current.  Both must keep compiling unchanged; tests/abi-check.sh also
 * compiles it against the current header (source compatibility).
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <aether/plugin.h>

#if AETHER_ABI_MAJOR != 1
#error "this fixture is a plugin of ABI 1.x"
#endif

static const struct aether_option abi10_options[] = {
	{.key = "label", .type = AETHER_OPT_STRING, .def = "old",
	 .help = "logged on attach"},
	{.key = "helper", .type = AETHER_OPT_BOOL, .def = "yes",
	 .help = "run a helper process per attachment"},
	{.key = "seconds", .type = AETHER_OPT_INT, .def = "300", .min = 1,
	 .max = 3600, .help = "how long the helper sleeps"},
	{.key = "dir", .type = AETHER_OPT_PATH, .help = "unused path"},
	{.key = "ifname", .type = AETHER_OPT_IFNAME, .help = "unused name"},
	{.key = "tag", .type = AETHER_OPT_STRING, .flags = AETHER_OPTF_REPEAT,
	 .help = "repeatable, counted on attach"},
	{.key = NULL},
};

struct abi10 {
	const struct aether_host *host;
	const char *label;
	int helper;
	int64_t seconds;
};

struct abi10_att {
	int peer;          /* our end of the socketpair */
	char mark[4096];   /* runtime_dir/<vm id>.abi10 */
	struct aether_helper *helper;
};

#define LOG(s, l, ...) (s)->host->log((s)->host, (l), __VA_ARGS__)

static int abi10_init(const struct aether_host *host, void **state)
{
	struct abi10 *s;

	if (host->abi_major != AETHER_ABI_MAJOR ||
	    host->struct_size < sizeof(struct aether_host))
		return -EPROTO;
	s = calloc(1, sizeof *s);
	if (!s)
		return -ENOMEM;
	s->host = host;
	s->label = host->opt_get(host, "label", 0);
	if (!s->label || host->opt_bool(host, "helper", &s->helper) < 0 ||
	    host->opt_int(host, "seconds", &s->seconds) < 0 ||
	    host->opt_get(host, "dir", 0) != NULL) {
		free(s);
		return -EINVAL;
	}
	LOG(s, AETHER_LOG_INFO, "init: ABI 1.0 plugin in a %u.%u host (%s)",
	    host->abi_major, host->abi_minor, host->host_version);
	*state = s;
	return 0;
}

static void abi10_fini(void *state)
{
	free(state);
}

static int abi10_attach(void *state, const struct aether_vm *vm,
			struct aether_attachment *att, void **att_state)
{
	struct abi10 *s = state;
	struct abi10_att *a;
	int sv[2], fd, rc;
	unsigned tags = 0;

	if (vm->struct_size < sizeof(struct aether_vm) ||
	    att->struct_size < sizeof(struct aether_attachment) ||
	    strchr(vm->id, '/') || vm->id[0] == '.')
		return -EINVAL;
	while (s->host->opt_get(s->host, "tag", tags))
		tags++;
	a = calloc(1, sizeof *a);
	if (!a)
		return -ENOMEM;
	a->peer = -1;
	snprintf(a->mark, sizeof a->mark, "%s/%s.abi10", s->host->runtime_dir,
		 vm->id);
	fd = open(a->mark, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = -errno;
		free(a);
		return rc;
	}
	close(fd);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		rc = -errno;
		goto fail;
	}
	a->peer = sv[1];
	if (s->helper) {
		char secs[24];
		const char *argv[] = {"sleep", secs, NULL};
		struct aether_helper_spec spec = {
			.struct_size = sizeof spec,
			.argv = argv,
			.stop_timeout_ms = 2000,
		};

		snprintf(secs, sizeof secs, "%lld", (long long)s->seconds);
		rc = s->host->helper_start(s->host, &spec, &a->helper);
		if (rc < 0) {
			close(sv[0]);
			goto fail;
		}
	}
	att->kind = AETHER_ATTACH_STREAM;
	att->stream.fd = sv[0]; /* the host owns it from here */
	*att_state = a;
	LOG(s, AETHER_LOG_INFO, "attach %s: label %s, %u tag(s), helper %ld",
	    vm->name, s->label, tags,
	    a->helper ? (long)s->host->helper_pid(s->host, a->helper) : 0L);
	return 0;
fail:
	if (a->peer >= 0)
		close(a->peer);
	unlink(a->mark);
	free(a);
	return rc;
}

static int abi10_detach(void *state, const struct aether_vm *vm,
			void *att_state)
{
	struct abi10 *s = state;
	struct abi10_att *a = att_state;
	int rc = 0;

	if (!a)
		return 0;
	if (a->helper)
		rc = s->host->helper_stop(s->host, a->helper);
	if (a->peer >= 0)
		close(a->peer);
	if (unlink(a->mark) < 0 && errno != ENOENT && !rc)
		rc = -errno;
	free(a);
	LOG(s, AETHER_LOG_INFO, "detach %s", vm->name);
	return rc;
}

static int abi10_check(void *state, const struct aether_vm *vm,
		       void *att_state)
{
	struct abi10 *s = state;
	struct abi10_att *a = att_state;
	struct pollfd p = {.fd = a->peer, .events = POLLIN};
	struct stat st;

	if (stat(a->mark, &st) < 0) {
		LOG(s, AETHER_LOG_ERR, "%s: state file gone", vm->name);
		return -ENOENT;
	}
	if (a->helper && !s->host->helper_alive(s->host, a->helper)) {
		LOG(s, AETHER_LOG_ERR, "%s: helper exited", vm->name);
		return -ESRCH;
	}
	/* The host's end closed (hypervisor gone): hangup on ours. */
	if (poll(&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLERR))) {
		LOG(s, AETHER_LOG_ERR, "%s: stream peer closed", vm->name);
		return -EPIPE;
	}
	return 0;
}

static int abi10_gc(void *state, const struct aether_vm *live, size_t n_live)
{
	struct abi10 *s = state;
	char ids[512];
	size_t i, n = 0;

	/* live[] is indexed with this plugin's sizeof(struct aether_vm). */
	ids[0] = '\0';
	for (i = 0; i < n_live && n < sizeof ids; i++)
		n += (size_t)snprintf(ids + n, sizeof ids - n, " %s",
				      live[i].id);
	LOG(s, AETHER_LOG_INFO, "gc: %zu live VM(s):%s", n_live, ids);
	return 0;
}

AETHER_PLUGIN_DEFINE(abi10) = {
	AETHER_PLUGIN_HEADER,
	.caps = AETHER_CAP_ATTACH_STREAM | AETHER_CAP_HELPERS,
	.name = "abi10",
	.version = "1.0",
	.description = "fixture built against the frozen ABI 1.0 header",
	.options = abi10_options,
	.init = abi10_init,
	.fini = abi10_fini,
	.attach = abi10_attach,
	.detach = abi10_detach,
	.check = abi10_check,
	.gc = abi10_gc,
};
