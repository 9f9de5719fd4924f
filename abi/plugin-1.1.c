/* plugin-1.1.c - a plugin built against the frozen ABI 1.1 header.
 *
 * Compiled against abi/1.1/aether/plugin.h, never against include/: the
 * suite loads it into the current aether and drives every verb through the
 * current core (abi/drive.c), so a host that stops honouring the 1.1
 * layout fails here.  Besides the 1.0 verbs it has the two 1.1 appended
 * (addresses, forward), and its gc is the 1.0 one: an array of struct
 * aether_vm of the size it was built with, which it walks by index and
 * uses for real (it removes the state of every VM not in the array).
 *
 * Freeze this file with the header: it stands for a binary built when 1.1
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

#if AETHER_ABI_MAJOR != 1 || AETHER_ABI_MINOR < 1
#error "this fixture is a plugin of ABI 1.1"
#endif

#define ABI11_SUFFIX ".abi11"
#define ABI11_MAX_FWD 4

static const struct aether_option abi11_options[] = {
	{.key = "label", .type = AETHER_OPT_STRING, .def = "eleven",
	 .help = "logged on attach"},
	{.key = "tag", .type = AETHER_OPT_STRING, .flags = AETHER_OPTF_REPEAT,
	 .help = "repeatable, counted on attach"},
	{.key = NULL},
};

struct abi11 {
	const struct aether_host *host;
	const char *label;
};

struct abi11_att {
	int peer;        /* our end of the socketpair */
	uint32_t index;  /* the VM's index: the address we report */
	char mark[4096]; /* runtime_dir/<vm id>.abi11 */
	unsigned n_fwd;
	struct {
		int proto;
		uint16_t host_port, guest_port;
	} fwd[ABI11_MAX_FWD];
};

#define LOG(s, l, ...) (s)->host->log((s)->host, (l), __VA_ARGS__)

static int abi11_init(const struct aether_host *host, void **state)
{
	struct abi11 *s;

	if (host->abi_major != AETHER_ABI_MAJOR ||
	    host->struct_size < sizeof(struct aether_host))
		return -EPROTO;
	s = calloc(1, sizeof *s);
	if (!s)
		return -ENOMEM;
	s->host = host;
	s->label = host->opt_get(host, "label", 0);
	if (!s->label) {
		free(s);
		return -EINVAL;
	}
	LOG(s, AETHER_LOG_INFO, "init: ABI 1.1 plugin in a %u.%u host (%s)",
	    host->abi_major, host->abi_minor, host->host_version);
	*state = s;
	return 0;
}

static void abi11_fini(void *state)
{
	free(state);
}

static int abi11_attach(void *state, const struct aether_vm *vm,
			struct aether_attachment *att, void **att_state)
{
	struct abi11 *s = state;
	struct abi11_att *a;
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
	a->index = vm->index;
	snprintf(a->mark, sizeof a->mark, "%s/%s" ABI11_SUFFIX,
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
	LOG(s, AETHER_LOG_INFO, "attach %s: label %s, %u tag(s)", vm->name,
	    s->label, tags);
	return 0;
}

static int abi11_detach(void *state, const struct aether_vm *vm,
			void *att_state)
{
	struct abi11 *s = state;
	struct abi11_att *a = att_state;
	int rc = 0;

	if (!a)
		return 0;
	close(a->peer);
	if (unlink(a->mark) < 0 && errno != ENOENT)
		rc = -errno;
	free(a);
	LOG(s, AETHER_LOG_INFO, "detach %s", vm->name);
	return rc;
}

static int abi11_check(void *state, const struct aether_vm *vm,
		       void *att_state)
{
	struct abi11 *s = state;
	struct abi11_att *a = att_state;
	struct pollfd p = {.fd = a->peer, .events = POLLIN};
	struct stat st;

	if (stat(a->mark, &st) < 0) {
		LOG(s, AETHER_LOG_ERR, "%s: state file gone", vm->name);
		return -ENOENT;
	}
	if (poll(&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLERR))) {
		LOG(s, AETHER_LOG_ERR, "%s: stream peer closed", vm->name);
		return -EPIPE;
	}
	return 0;
}

/* The 1.0 gc: live[] is an array of struct aether_vm as this plugin knows
 * it.  Every state file whose VM is not in it goes. */
static int abi11_gc(void *state, const struct aether_vm *live, size_t n_live)
{
	struct abi11 *s = state;
	char ids[512], path[4096];
	size_t i, n = 0, len, sl = strlen(ABI11_SUFFIX);
	struct dirent *e;
	DIR *d;

	ids[0] = '\0';
	for (i = 0; i < n_live && n < sizeof ids; i++)
		n += (size_t)snprintf(ids + n, sizeof ids - n, " %s",
				      live[i].id);
	LOG(s, AETHER_LOG_INFO, "gc: %zu live VM(s):%s", n_live, ids);
	d = opendir(s->host->runtime_dir);
	if (!d)
		return -errno;
	while ((e = readdir(d))) {
		len = strlen(e->d_name);
		if (len <= sl || strcmp(e->d_name + len - sl, ABI11_SUFFIX))
			continue;
		for (i = 0; i < n_live; i++)
			if (strlen(live[i].id) == len - sl &&
			    !strncmp(live[i].id, e->d_name, len - sl))
				break;
		if (i < n_live)
			continue;
		snprintf(path, sizeof path, "%s/%s", s->host->runtime_dir,
			 e->d_name);
		if (unlink(path) == 0)
			LOG(s, AETHER_LOG_INFO, "gc: removed %s", e->d_name);
	}
	closedir(d);
	return 0;
}

/* 1.1: one address, 192.0.2.(index + 1)/24, known from "dhcp". */
static int abi11_addresses(void *state, const struct aether_vm *vm,
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
static int abi11_forward(void *state, const struct aether_vm *vm,
			 void *att_state, const struct aether_forward *f,
			 int add)
{
	struct abi11 *s = state;
	struct abi11_att *a = att_state;
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
		if (a->n_fwd == ABI11_MAX_FWD)
			return -ENOSPC;
		a->fwd[a->n_fwd].proto = f->proto;
		a->fwd[a->n_fwd].host_port = f->host_port;
		a->fwd[a->n_fwd++].guest_port = f->guest_port;
	} else {
		if (i == a->n_fwd)
			return -ENOENT;
		a->fwd[i] = a->fwd[--a->n_fwd];
	}
	LOG(s, AETHER_LOG_INFO, "forward %s %s %u", vm->name,
	    add ? "add" : "remove", f->host_port);
	return 0;
}

AETHER_PLUGIN_DEFINE(abi11) = {
	AETHER_PLUGIN_HEADER,
	.caps = AETHER_CAP_ATTACH_STREAM,
	.name = "abi11",
	.version = "1.1",
	.description = "fixture built against the frozen ABI 1.1 header",
	.options = abi11_options,
	.init = abi11_init,
	.fini = abi11_fini,
	.attach = abi11_attach,
	.detach = abi11_detach,
	.check = abi11_check,
	.gc = abi11_gc,
	.addresses = abi11_addresses,
	.forward = abi11_forward,
};
