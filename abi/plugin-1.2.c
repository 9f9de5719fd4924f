/* plugin-1.2.c - a plugin built against the frozen ABI 1.2 header.
 *
 * Compiled against abi/1.2/aether/plugin.h, never against include/: the
 * suite loads it into the current aether and drives every verb through the
 * current core (abi/drive.c), so a host that stops honouring the 1.2
 * layout fails here.  Besides the 1.1 verbs (addresses, forward) it has
 * the two 1.2 appended: gc_v2, which it uses for real (it removes the
 * state of every VM not in the array of pointers), and validate, which
 * reports a bad label through the 1.2 host service opt_error.
 *
 * Its attach starts a helper with a helper spec of the 1.2 size and hands
 * it a descriptor the 1.2 way, by inheritance: the descriptor is not
 * close-on-exec and the helper writes "inherited" to it.  A host that
 * stops giving a 1.2-size spec the old behaviour fails the attach.
 *
 * Freeze this file with the header: it stands for a binary built when 1.2
 * was current.  tests/abi-check.sh also compiles it against the current
 * header (source compatibility).
 */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <aether/plugin.h>

#if AETHER_ABI_MAJOR != 1 || AETHER_ABI_MINOR < 2
#error "this fixture is a plugin of ABI 1.2"
#endif

#define ABI12_SUFFIX ".abi12"
#define ABI12_MAX_FWD 4
#define ABI12_HELPER_MS 5000

static const struct aether_option abi12_options[] = {
	{.key = "label", .type = AETHER_OPT_STRING, .def = "twelve",
	 .help = "logged on attach; no '/'"},
	{.key = "tag", .type = AETHER_OPT_STRING, .flags = AETHER_OPTF_REPEAT,
	 .help = "repeatable, counted on attach"},
	{.key = NULL},
};

struct abi12 {
	const struct aether_host *host;
	const char *label;
};

struct abi12_att {
	int peer;        /* our end of the socketpair */
	uint32_t index;  /* the VM's index: the address we report */
	char mark[4096]; /* runtime_dir/<vm id>.abi12 */
	unsigned n_fwd;
	struct {
		int proto;
		uint16_t host_port, guest_port;
	} fwd[ABI12_MAX_FWD];
};

/* 1.2: the plugin's own check of its options, reported with opt_error. */
static int abi12_label_ok(const struct aether_host *host)
{
	const char *label = host->opt_get(host, "label", 0);

	if (!label || !*label || strchr(label, '/')) {
		if (AETHER_HOST_HAS(host, opt_error))
			host->opt_error(host, "label", 0,
					"must be non-empty, without '/'");
		return -EINVAL;
	}
	return 0;
}

static int abi12_validate(const struct aether_host *host)
{
	return abi12_label_ok(host);
}

static int abi12_init(const struct aether_host *host, void **state)
{
	struct abi12 *s;
	int rc;

	if (host->abi_major != AETHER_ABI_MAJOR ||
	    host->struct_size < sizeof(struct aether_host))
		return -EPROTO;
	if ((rc = abi12_label_ok(host)) < 0)
		return rc;
	s = calloc(1, sizeof *s);
	if (!s)
		return -ENOMEM;
	s->host = host;
	s->label = host->opt_get(host, "label", 0);
	AETHER_INFO(host, "init: ABI 1.2 plugin in a %u.%u host (%s)",
		    host->abi_major, host->abi_minor, host->host_version);
	*state = s;
	return 0;
}

static void abi12_fini(void *state)
{
	free(state);
}

/* Start "sh -c 'printf inherited >&N'" with a 1.2-size spec, N a
 * descriptor that is not close-on-exec, and read what arrives on the
 * other end until the helper has exited.  0 when it wrote "inherited". */
static int abi12_inherit(struct abi12 *s, const char *vm_name)
{
	static const char script[] = "printf inherited >&\"$1\"";
	struct aether_helper_spec spec;
	struct aether_helper *h = NULL;
	char num[16], got[32];
	const char *argv[] = {"sh", "-c", script, "sh", num, NULL};
	int sv[2], child, rc;
	size_t have = 0;
	ssize_t r;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	child = fcntl(sv[1], F_DUPFD, 3); /* without close-on-exec */
	close(sv[1]);
	if (child < 0) {
		rc = -errno;
		close(sv[0]);
		return rc;
	}
	snprintf(num, sizeof num, "%d", child);
	memset(&spec, 0, sizeof spec);
	spec.struct_size = sizeof spec; /* the 1.2 size */
	spec.argv = argv;
	spec.stop_timeout_ms = 1000;
	rc = s->host->helper_start(s->host, &spec, &h);
	close(child);
	if (rc < 0) {
		close(sv[0]);
		return rc;
	}
	for (;;) {
		struct pollfd p = {.fd = sv[0], .events = POLLIN};

		if (poll(&p, 1, ABI12_HELPER_MS) <= 0) {
			rc = -ETIMEDOUT;
			break;
		}
		r = read(sv[0], got + have, sizeof got - 1 - have);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0 || (have += (size_t)r) == sizeof got - 1) {
			rc = r < 0 ? -errno : 0;
			break;
		}
	}
	close(sv[0]);
	s->host->helper_stop(s->host, h);
	got[have] = '\0';
	if (rc == 0 && strcmp(got, "inherited") != 0)
		rc = -EBADF;
	AETHER_INFO(s->host, "attach %s: helper %s descriptor %s (%s)",
		    vm_name, rc == 0 ? "inherited" : "did not inherit", num,
		    have ? got : "nothing written");
	return rc;
}

static int abi12_attach(void *state, const struct aether_vm *vm,
			struct aether_attachment *att, void **att_state)
{
	struct abi12 *s = state;
	struct abi12_att *a;
	int sv[2], fd, rc;
	unsigned tags = 0;

	if (vm->struct_size < sizeof(struct aether_vm) ||
	    att->struct_size < sizeof(struct aether_attachment) ||
	    strchr(vm->id, '/') || vm->id[0] == '.')
		return -EINVAL;
	while (s->host->opt_get(s->host, "tag", tags))
		tags++;
	if ((rc = abi12_inherit(s, vm->name)) < 0)
		return rc;
	a = calloc(1, sizeof *a);
	if (!a)
		return -ENOMEM;
	a->index = vm->index;
	snprintf(a->mark, sizeof a->mark, "%s/%s" ABI12_SUFFIX,
		 s->host->runtime_dir, vm->id);
	fd = open(a->mark, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = -errno;
		free(a);
		return rc;
	}
	close(fd);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		rc = -errno;
		unlink(a->mark);
		free(a);
		return rc;
	}
	a->peer = sv[1];
	att->kind = AETHER_ATTACH_STREAM;
	att->stream.fd = sv[0]; /* the host owns it from here */
	*att_state = a;
	AETHER_INFO(s->host, "attach %s: label %s, %u tag(s)", vm->name,
		    s->label, tags);
	return 0;
}

static int abi12_detach(void *state, const struct aether_vm *vm,
			void *att_state)
{
	struct abi12 *s = state;
	struct abi12_att *a = att_state;
	int rc = 0;

	if (!a)
		return 0;
	close(a->peer);
	if (unlink(a->mark) < 0 && errno != ENOENT)
		rc = -errno;
	free(a);
	AETHER_INFO(s->host, "detach %s", vm->name);
	return rc;
}

static int abi12_check(void *state, const struct aether_vm *vm,
		       void *att_state)
{
	struct abi12 *s = state;
	struct abi12_att *a = att_state;
	struct pollfd p = {.fd = a->peer, .events = POLLIN};
	struct stat st;

	if (stat(a->mark, &st) < 0) {
		AETHER_ERR(s->host, "%s: state file gone", vm->name);
		return -ENOENT;
	}
	if (poll(&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLERR))) {
		AETHER_ERR(s->host, "%s: stream peer closed", vm->name);
		return -EPIPE;
	}
	return 0;
}

/* 1.2 gc_v2: live[] is an array of pointers.  Every state file whose VM
 * is not in it goes. */
static int abi12_gc_v2(void *state, const struct aether_vm *const *live,
		       size_t n_live)
{
	struct abi12 *s = state;
	char ids[512], path[4096];
	size_t i, n = 0, len, sl = strlen(ABI12_SUFFIX);
	struct dirent *e;
	DIR *d;

	ids[0] = '\0';
	for (i = 0; i < n_live && n < sizeof ids; i++)
		n += (size_t)snprintf(ids + n, sizeof ids - n, " %s",
				      live[i]->id);
	AETHER_INFO(s->host, "gc_v2: %zu live VM(s):%s", n_live, ids);
	d = opendir(s->host->runtime_dir);
	if (!d)
		return -errno;
	while ((e = readdir(d))) {
		len = strlen(e->d_name);
		if (len <= sl || strcmp(e->d_name + len - sl, ABI12_SUFFIX))
			continue;
		for (i = 0; i < n_live; i++)
			if (strlen(live[i]->id) == len - sl &&
			    !strncmp(live[i]->id, e->d_name, len - sl))
				break;
		if (i < n_live)
			continue;
		snprintf(path, sizeof path, "%s/%s", s->host->runtime_dir,
			 e->d_name);
		if (unlink(path) == 0)
			AETHER_INFO(s->host, "gc_v2: removed %s", e->d_name);
	}
	closedir(d);
	return 0;
}

/* 1.1: one address, 192.0.2.(index + 1)/24, known from "dhcp". */
static int abi12_addresses(void *state, const struct aether_vm *vm,
			   void *att_state, struct aether_addr *out,
			   size_t max)
{
	(void)state;
	if (max < 1)
		return 0;
	memset(out, 0, sizeof *out);
	out->family = AF_INET;
	out->addr[0] = 192;
	out->addr[1] = 0;
	out->addr[2] = 2;
	out->addr[3] = (uint8_t)(vm->index + 1);
	out->prefix = 24;
	out->source = att_state ? "dhcp" : "static";
	return 1;
}

/* 1.1: forwards kept in the attachment's state. */
static int abi12_forward(void *state, const struct aether_vm *vm,
			 void *att_state, const struct aether_forward *f,
			 int add)
{
	struct abi12 *s = state;
	struct abi12_att *a = att_state;
	unsigned i;

	if (!a)
		return -ENOENT;
	if (f->struct_size < sizeof *f || !f->host_port ||
	    (f->proto != IPPROTO_TCP && f->proto != IPPROTO_UDP))
		return -EINVAL;
	for (i = 0; i < a->n_fwd; i++)
		if (a->fwd[i].proto == f->proto &&
		    a->fwd[i].host_port == f->host_port)
			break;
	if (add) {
		if (i < a->n_fwd)
			return -EADDRINUSE;
		if (a->n_fwd == ABI12_MAX_FWD)
			return -ENOSPC;
		a->fwd[a->n_fwd].proto = f->proto;
		a->fwd[a->n_fwd].host_port = f->host_port;
		a->fwd[a->n_fwd++].guest_port = f->guest_port;
	} else {
		if (i == a->n_fwd)
			return -ENOENT;
		a->fwd[i] = a->fwd[--a->n_fwd];
	}
	AETHER_INFO(s->host, "forward %s %s %u", vm->name,
		    add ? "add" : "remove", f->host_port);
	return 0;
}

AETHER_PLUGIN_DEFINE(abi12) = {
	AETHER_PLUGIN_HEADER,
	.caps = AETHER_CAP_ATTACH_STREAM | AETHER_CAP_HELPERS,
	.name = "abi12",
	.version = "1.2",
	.description = "fixture built against the frozen ABI 1.2 header",
	.options = abi12_options,
	.init = abi12_init,
	.fini = abi12_fini,
	.attach = abi12_attach,
	.detach = abi12_detach,
	.check = abi12_check,
	.addresses = abi12_addresses,
	.forward = abi12_forward,
	.gc_v2 = abi12_gc_v2,
	.validate = abi12_validate,
};
