/* mynet.c - an example aether backend, built out of tree.
 *
 * It needs nothing but the installed <aether/plugin.h>:
 *
 *     cc -shared -fPIC $(pkg-config --cflags aether-plugin) \
 *        -o mynet.so mynet.c
 *
 * The backend gives each VM its own QEMU user-mode (slirp) network, whose
 * subnet and first DHCP address come from the [network.mynet] section of
 * the VM file:
 *
 *     [network]
 *     backend = mynet
 *     [network.mynet]
 *     net = 10.0.3.0/24
 *     dhcp_first = 20
 *     hostfwd = tcp:127.0.0.1:2222-:22
 *
 * It shows the parts every plugin has: an option table the host validates
 * before init, plugin-wide state made by init, per-attachment state that
 * keeps the strings handed to the host alive until detach, logging through
 * the host (a plugin never prints), and state outside the process (a marker
 * file per VM in the plugin's runtime directory) that check inspects and gc
 * collects after a crash.  See aether-plugin(7).
 */
#define _POSIX_C_SOURCE 200809L /* strdup, dprintf, O_CLOEXEC, unlinkat */

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <aether/plugin.h>

#define MYNET_VERSION "1.0"

static const struct aether_option mynet_options[] = {
	{.key = "net", .type = AETHER_OPT_STRING, .def = "10.0.2.0/24",
	 .help = "the guest's IPv4 network, ADDRESS/PREFIX (prefix 8..24)"},
	{.key = "dhcp_first", .type = AETHER_OPT_INT, .def = "15",
	 .min = 4, .max = 250,
	 .help = "host part of the first address DHCP hands out"},
	{.key = "restrict", .type = AETHER_OPT_BOOL, .def = "no",
	 .help = "cut the guest off from everything but the forwards"},
	{.key = "hostfwd", .type = AETHER_OPT_STRING,
	 .flags = AETHER_OPTF_REPEAT,
	 .help = "forward tcp|udp:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT"},
	{.key = NULL},
};

/* Plugin-wide state, made by init from the validated options. */
struct mynet {
	const struct aether_host *host;
	char net[32];      /* "10.0.3.0/24" */
	char gateway[16];  /* "10.0.3.2" */
	char dns[16];      /* "10.0.3.3" */
	char dhcpstart[16];/* "10.0.3.20" */
	int restrict_;
};

/* Per-attachment state: everything the attachment points to lives here
 * until detach (the host reads the strings after attach returns). */
struct mynet_att {
	char marker[4096]; /* runtime_dir/VMID.attached */
	char hostname[65]; /* handed out by DHCP: the VM's name */
	char **hostfwd;    /* copies of the hostfwd values */
	unsigned n_hostfwd;
};

/* "A.B.C.D/N", 8 <= N <= 24, no host bits: the network and its mask. */
static int parse_net(const char *s, uint32_t *net, uint32_t *mask)
{
	char addr[16];
	const char *slash = strchr(s, '/');
	struct in_addr in;
	char *end;
	long n;

	if (!slash || (size_t)(slash - s) >= sizeof addr)
		return -EINVAL;
	memcpy(addr, s, (size_t)(slash - s));
	addr[slash - s] = '\0';
	if (inet_pton(AF_INET, addr, &in) != 1)
		return -EINVAL;
	errno = 0;
	n = strtol(slash + 1, &end, 10);
	if (errno || *end || end == slash + 1 || n < 8 || n > 24)
		return -EINVAL;
	*mask = ~0u << (32 - n);
	*net = ntohl(in.s_addr);
	return (*net & ~*mask) ? -EINVAL : 0;
}

static void format_v4(uint32_t a, char *buf, size_t len)
{
	struct in_addr in = {.s_addr = htonl(a)};

	inet_ntop(AF_INET, &in, buf, (socklen_t)len);
}

/* A VM id becomes a file name: allow only what cannot escape the dir. */
static int valid_id(const char *id)
{
	size_t i, n = id ? strlen(id) : 0;

	if (n == 0 || n > 64 || id[0] == '.')
		return 0;
	for (i = 0; i < n; i++)
		if (!((id[i] >= 'a' && id[i] <= 'z') ||
		      (id[i] >= 'A' && id[i] <= 'Z') ||
		      (id[i] >= '0' && id[i] <= '9') || id[i] == '_' ||
		      id[i] == '-' || id[i] == '.'))
			return 0;
	return 1;
}

/* Every option value this plugin parses, checked in one place: by the
 * validate verb (aether check-config, and before init in every run) and
 * by init, which keeps what it parsed.  A bad value is reported with
 * aether_opt_report: through host->opt_error (ABI 1.2: the host names
 * file, line and key), or logged by a 1.0/1.1 host, which has none. */
static int mynet_check_options(const struct aether_host *host,
			       uint32_t *net, uint32_t *mask, int64_t *first)
{
	const char *s = host->opt_get(host, "net", 0);
	int rc;

	if (!s || parse_net(s, net, mask) < 0) {
		aether_opt_report(host, "net", 0,
				  "not ADDRESS/PREFIX with a prefix of 8..24 "
				  "and no host bits set");
		return -EINVAL;
	}
	/* bounds checked by the host against the table (4..250 is inside
	 * any /8../24) */
	rc = host->opt_int(host, "dhcp_first", first);
	return rc < 0 ? rc : 0;
}

static int mynet_validate(const struct aether_host *host)
{
	uint32_t net, mask;
	int64_t first;

	return mynet_check_options(host, &net, &mask, &first);
}

static int mynet_init(const struct aether_host *host, void **state)
{
	struct mynet *m;
	uint32_t net, mask;
	int64_t first;
	int rc;

	/* The services table carries its size: a field appended in a later
	 * ABI minor may only be used when the host's table reaches it
	 * (AETHER_HOST_HAS).  Everything else this plugin uses is in 1.0. */
	if (host->struct_size < offsetof(struct aether_host, helper_start))
		return -EPROTO;
	rc = mynet_check_options(host, &net, &mask, &first);
	if (rc < 0)
		return rc;
	m = calloc(1, sizeof *m);
	if (!m)
		return -ENOMEM;
	m->host = host;
	rc = host->opt_bool(host, "restrict", &m->restrict_);
	if (rc < 0) {
		free(m);
		return rc;
	}
	snprintf(m->net, sizeof m->net, "%s", host->opt_get(host, "net", 0));
	format_v4(net + 2, m->gateway, sizeof m->gateway);
	format_v4(net + 3, m->dns, sizeof m->dns);
	format_v4(net + (uint32_t)first, m->dhcpstart, sizeof m->dhcpstart);
	AETHER_DEBUG(m->host, "network %s, gateway %s, DHCP from %s",
		     m->net, m->gateway, m->dhcpstart);
	*state = m;
	return 0;
}

static void mynet_fini(void *state)
{
	free(state);
}

static void att_free(struct mynet_att *a)
{
	unsigned i;

	for (i = 0; i < a->n_hostfwd; i++)
		free(a->hostfwd[i]);
	free(a->hostfwd);
	free(a);
}

static int mynet_attach(void *state, const struct aether_vm *vm,
			struct aether_attachment *att, void **att_state)
{
	struct mynet *m = state;
	const struct aether_host *h = m->host;
	struct mynet_att *a;
	const char *f;
	unsigned i;
	int fd, rc;

	if (!valid_id(vm->id)) {
		AETHER_ERR(m->host, "refusing VM id '%s'", vm->id);
		return -EINVAL;
	}
	a = calloc(1, sizeof *a);
	if (!a)
		return -ENOMEM;
	snprintf(a->hostname, sizeof a->hostname, "%s", vm->name);
	/* The forwards.  The attachment's strings belong to the plugin
	 * until detach, so keep copies.  QEMU checks their syntax; the host
	 * escapes every value it puts on QEMU's command line. */
	for (i = 0; h->opt_get(h, "hostfwd", i); i++)
		;
	if (i) {
		a->hostfwd = calloc(i, sizeof *a->hostfwd);
		if (!a->hostfwd) {
			att_free(a);
			return -ENOMEM;
		}
		for (i = 0; (f = h->opt_get(h, "hostfwd", i)); i++) {
			a->hostfwd[i] = strdup(f);
			if (!a->hostfwd[i]) {
				att_free(a);
				return -ENOMEM;
			}
			a->n_hostfwd = i + 1;
		}
	}

	/* State outside the process, so gc can find it after a crash. */
	if (snprintf(a->marker, sizeof a->marker, "%s/%s.attached",
		     h->runtime_dir, vm->id) >= (int)sizeof a->marker) {
		att_free(a);
		return -ENAMETOOLONG;
	}
	fd = open(a->marker, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = -errno;
		AETHER_ERR(m->host, "%s: %s", a->marker, strerror(-rc));
		att_free(a);
		return rc;
	}
	dprintf(fd, "%s %s\n", vm->name, m->net);
	close(fd);

	att->kind = AETHER_ATTACH_USER;
	att->user.net = m->net;
	att->user.host = m->gateway;
	att->user.dns = m->dns;
	att->user.dhcpstart = m->dhcpstart;
	att->user.hostname = a->hostname;
	att->user.hostfwd = (const char *const *)a->hostfwd;
	att->user.n_hostfwd = a->n_hostfwd;
	att->user.restrict_ = (uint32_t)m->restrict_;
	*att_state = a;
	AETHER_INFO(m->host, "attached VM %s (NIC %u, MAC %02x:%02x:%02x:%02x:%02x:%02x) to "
	    "%s, DHCP from %s, %u forward(s)", vm->name, vm->nic,
	    vm->mac[0], vm->mac[1], vm->mac[2], vm->mac[3], vm->mac[4],
	    vm->mac[5], m->net, m->dhcpstart, a->n_hostfwd);
	return 0;
}

static int mynet_detach(void *state, const struct aether_vm *vm,
			void *att_state)
{
	struct mynet *m = state;
	struct mynet_att *a = att_state;
	int rc = 0;

	/* Best effort and idempotent: the marker may already be gone. */
	if (a && unlink(a->marker) < 0 && errno != ENOENT) {
		rc = -errno;
		AETHER_WARN(m->host, "%s: %s", a->marker, strerror(errno));
	}
	if (a)
		att_free(a);
	AETHER_INFO(m->host, "detached VM %s", vm->name);
	return rc;
}

static int mynet_check(void *state, const struct aether_vm *vm,
		       void *att_state)
{
	struct mynet *m = state;
	struct mynet_att *a = att_state;

	if (access(a->marker, F_OK) < 0) {
		AETHER_ERR(m->host, "VM %s: %s vanished", vm->name, a->marker);
		return -ENOENT;
	}
	return 0;
}

/* Remove the markers of every VM that is not live (crashed aether runs).
 * live[] holds pointers (ABI 1.2 gc_v2): struct aether_vm may grow. */
static int mynet_gc(void *state, const struct aether_vm *const *live,
		    size_t n_live)
{
	struct mynet *m = state;
	const char *dir = m->host->runtime_dir;
	struct dirent *e;
	DIR *d = opendir(dir);
	size_t i, len;
	int rc = 0;

	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((e = readdir(d))) {
		char id[80];

		len = strlen(e->d_name);
		if (len <= 9 || strcmp(e->d_name + len - 9, ".attached") ||
		    len - 9 >= sizeof id)
			continue;
		memcpy(id, e->d_name, len - 9);
		id[len - 9] = '\0';
		for (i = 0; i < n_live; i++)
			if (!strcmp(live[i]->id, id))
				break;
		if (i < n_live || !valid_id(id))
			continue;
		if (unlinkat(dirfd(d), e->d_name, 0) < 0 && errno != ENOENT) {
			if (!rc)
				rc = -errno;
			continue;
		}
		AETHER_INFO(m->host, "gc: removed the marker of VM id %s", id);
	}
	closedir(d);
	return rc;
}

AETHER_PLUGIN_DEFINE(mynet) = {
	AETHER_PLUGIN_HEADER,
	.caps = AETHER_CAP_ATTACH_USER,
	.name = "mynet",
	.version = MYNET_VERSION,
	.description = "example out-of-tree backend: a user-mode network per VM",
	.options = mynet_options,
	.init = mynet_init,
	.fini = mynet_fini,
	.attach = mynet_attach,
	.detach = mynet_detach,
	.check = mynet_check,
	.gc_v2 = mynet_gc,
	.validate = mynet_validate,
};
