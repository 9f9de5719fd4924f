/* main.c - the aether command line. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <ltdl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agentconf.h"
#include "instance.h"
#include "journal.h"
#include "store.h"
#include "lifecycle.h"
#include "control.h"
#include "loader.h"
#include "net.h"
#include "runtime.h"
#include "options.h"
#include "qemu-argv.h"
#include "supervisor.h"
#include "util.h"
#include "vmconf.h"

static const char *hostconf;

static int cmd_run(int argc, char **argv)
{
	struct ae_vmconf *c;
	struct ae_run_opts o = {0};
	char err[1024];
	int rc;

	if (argc != 2) {
		fprintf(stderr, "aether: run needs exactly one VM file\n");
		return AE_EXIT_USAGE;
	}
	if (ae_vmconf_load(argv[1], hostconf, &c, err, sizeof err) < 0) {
		ae_err("%s", err);
		return AE_EXIT_ERROR;
	}
	o.verbose = ae_log_level > 6;
	rc = ae_run(c, &o);
	ae_vmconf_free(c);
	return rc;
}

/* Validate a backend section against the plugin's table and its validate
 * verb, without init. */
static int check_backend(const char *backend, const char *plugin_dir,
			 const struct ae_ini_section *s)
{
	struct ae_plugin *p;
	char err[1024];

	if (ae_plugin_load(backend, plugin_dir, &p, err, sizeof err) < 0) {
		ae_err("%s", err);
		return -1;
	}
	if (ae_instance_check_options(p, backend, s, err, sizeof err) < 0) {
		ae_err("%s", err);
		ae_plugin_unload(p);
		return -1;
	}
	ae_plugin_unload(p);
	return 0;
}

static int cmd_check_config(int argc, char **argv)
{
	struct ae_vmconf *c;
	struct ae_ini *ini;
	char err[1024];
	size_t i;
	int bad = 0;

	if (argc != 2) {
		fprintf(stderr, "aether: check-config needs exactly one file\n");
		return AE_EXIT_USAGE;
	}
	if (ae_ini_parse_file(argv[1], &ini, err, sizeof err) < 0) {
		ae_err("%s", err);
		return AE_EXIT_ERROR;
	}
	/* A VM file names its VM; a host config may have [vm] defaults. */
	if (ae_ini_get(ae_ini_find(ini, "vm"), "name") &&
	    !ae_ini_find(ini, "aether") && !ae_ini_find(ini, "amqp") &&
	    !ae_ini_find(ini, "agent")) {
		ae_ini_free(ini);
		if (ae_vmconf_load(argv[1], hostconf, &c, err, sizeof err) < 0) {
			ae_err("%s", err);
			return AE_EXIT_ERROR;
		}
		bad = check_backend(c->backend, c->plugin_dir,
				    &c->backend_section) < 0;
		if (!bad)
			printf("%s: OK (VM %s, backend %s)\n", argv[1], c->name,
			       c->backend);
		ae_vmconf_free(c);
		return bad ? AE_EXIT_ERROR : 0;
	}
	ae_ini_free(ini);
	/* A host config: check it through a VM-less load. */
	{
		struct ae_ini *h;
		const struct ae_ini_entry *pd;
		char *plugin_dir = NULL;

		if (ae_ini_parse_file(argv[1], &h, err, sizeof err) < 0) {
			ae_err("%s", err);
			return AE_EXIT_ERROR;
		}
		for (i = 0; i < h->n_sections; i++) {
			const char *n = h->sections[i].name;
			if (strcmp(n, "aether") && strcmp(n, "network") &&
			    strncmp(n, "network.", 8) && strcmp(n, "vm") &&
			    strncmp(n, "net.", 4) &&
			    strcmp(n, "amqp") && strcmp(n, "agent")) {
				ae_err("%s:%d: unknown section [%s]", h->file,
				       h->sections[i].line, n);
				bad = 1;
			}
		}
		if (!bad) {
			struct ae_netconf nc;
			if (ae_netconf_load(h, &nc, err, sizeof err) < 0) {
				ae_err("%s", err);
				bad = 1;
			} else if (ae_net_check_default(h, &nc, err,
							sizeof err) < 0) {
				ae_err("%s", err);
				bad = 1;
			}
			ae_netconf_free(&nc);
		}
#ifdef AE_HAVE_AGENT
		if (!bad && ae_agent_check_config(h, err, sizeof err) < 0) {
			ae_err("%s", err);
			bad = 1;
		}
#endif
		pd = ae_ini_get(ae_ini_find(h, "aether"), "plugin_dir");
		if (pd)
			plugin_dir = pd->value;
		for (i = 0; !bad && i < h->n_sections; i++) {
			const char *n = h->sections[i].name;
			if (!strncmp(n, "network.", 8) &&
			    check_backend(n + 8, plugin_dir, &h->sections[i]) < 0)
				bad = 1;
		}
		if (!bad)
			printf("%s: OK (host config)\n", argv[1]);
		ae_ini_free(h);
	}
	return bad ? AE_EXIT_ERROR : 0;
}

static void print_option(const struct aether_option *opt)
{
	char range[64] = "";

	if (opt->type == AETHER_OPT_INT && (opt->min || opt->max))
		snprintf(range, sizeof range, " %lld..%lld",
			 (long long)opt->min, (long long)opt->max);
	printf("    %-16s %s%s%s%s%s\n", opt->key, ae_option_type_name(opt->type),
	       range, opt->flags & AETHER_OPTF_REQUIRED ? ", required" : "",
	       opt->flags & AETHER_OPTF_REPEAT ? ", repeatable" : "",
	       opt->def ? "" : "");
	if (opt->def)
		printf("    %-16s default: %s\n", "", opt->def);
	if (opt->help)
		printf("    %-16s %s\n", "", opt->help);
}

struct list_ctx {
	const char *plugin_dir;
	int shown, bad;
};

static void list_one(const char *name, const char *path, void *vctx)
{
	struct list_ctx *ctx = vctx;
	struct ae_plugin *p;
	char err[1024], caps[256];

	if (ae_plugin_load(name, ctx->plugin_dir, &p, err, sizeof err) < 0) {
		printf("%-12s UNUSABLE: %s\n", name, err);
		ctx->bad++;
		return;
	}
	ae_caps_format(p->desc->caps, caps, sizeof caps);
	printf("%-12s %-8s ABI %u.%u  %s\n", name, p->desc->version,
	       p->desc->abi_major, p->desc->abi_minor, p->desc->description);
	printf("%-12s caps: %s\n%-12s file: %s\n", "", caps, "", p->path);
	ctx->shown++;
	ae_plugin_unload(p);
}

static int cmd_plugins(int argc, char **argv)
{
	struct list_ctx ctx = {0};
	struct ae_plugin *p;
	char err[1024], caps[256];
	const struct aether_option *opt;

	if (argc == 1) {
		char *path = ae_plugin_search_path(NULL);
		ae_plugin_foreach(NULL, list_one, &ctx);
		if (!ctx.shown && !ctx.bad)
			printf("no plugins found in %s\n", path);
		free(path);
		return ctx.shown ? 0 : AE_EXIT_ERROR;
	}
	if (argc != 3 || strcmp(argv[1], "show")) {
		fprintf(stderr, "aether: usage: aether plugins [show NAME]\n");
		return AE_EXIT_USAGE;
	}
	if (ae_plugin_load(argv[2], NULL, &p, err, sizeof err) < 0) {
		ae_err("%s", err);
		return AE_EXIT_ERROR;
	}
	ae_caps_format(p->desc->caps, caps, sizeof caps);
	printf("%s %s - %s\n", p->desc->name, p->desc->version,
	       p->desc->description);
	printf("  file:         %s\n", p->path);
	printf("  ABI:          %u.%u (this aether: %u.%u)\n",
	       p->desc->abi_major, p->desc->abi_minor, AETHER_ABI_MAJOR,
	       AETHER_ABI_MINOR);
	printf("  capabilities: %s\n", caps);
	printf("  options ([network.%s]):\n", p->desc->name);
	for (opt = p->desc->options; opt && opt->key; opt++)
		print_option(opt);
	if (!p->desc->options || !p->desc->options->key)
		printf("    (none)\n");
	ae_plugin_unload(p);
	return 0;
}

struct gc_ctx {
	struct ae_ini *host;
	const char *plugin_dir;
	struct aether_vm *live;
	size_t n_live;
	int failed;
};

static void gc_one(const char *name, const char *path, void *vctx)
{
	struct gc_ctx *g = vctx;
	struct ae_instance *inst;
	char err[1024], sec[64];
	int rc;

	snprintf(sec, sizeof sec, "network.%s", name);
	if (ae_instance_open(name, g->plugin_dir, ae_ini_find(g->host, sec),
			     &inst, err, sizeof err) < 0) {
		ae_err("gc: %s", err);
		g->failed = 1;
		return;
	}
	rc = ae_instance_gc(inst, g->live, g->n_live);
	if (rc < 0) {
		ae_err("gc: backend %s: %s", name, strerror(-rc));
		g->failed = 1;
	} else {
		ae_info("gc: backend %s: done", name);
	}
	ae_instance_close(inst);
}

/* Remove runtime dirs of VMs whose supervisor is gone. */
static void gc_runtime_dirs(const char *root)
{
	char *dir = ae_xasprintf("%s/vms", root);
	struct ae_live_vm *live;
	struct dirent *e;
	size_t n, i;
	DIR *d;

	if (ae_runtime_live(root, &live, &n) < 0 || !(d = opendir(dir))) {
		free(dir);
		return;
	}
	while ((e = readdir(d))) {
		int alive = 0;
		if (!ae_valid_vm_name(e->d_name))
			continue;
		for (i = 0; i < n; i++)
			alive |= !strcmp(live[i].name, e->d_name);
		if (!alive) {
			char *p = ae_xasprintf("%s/%s", dir, e->d_name);
			ae_info("gc: removing stale runtime directory %s", p);
			ae_rmtree(p);
			free(p);
		}
	}
	closedir(d);
	ae_runtime_live_free(live, n);
	free(dir);
}

/* The runtime lock of root, or -1 having said why. */
static int gc_lock(const char *root)
{
	char err[1024];
	int lock = ae_runtime_lock(root, err, sizeof err);

	if (lock < 0)
		ae_err("gc: %s", err);
	return lock;
}

static int cmd_gc(int argc, char **argv)
{
	struct gc_ctx g = {0};
	struct ae_live_vm *live = NULL;
	const struct ae_ini_entry *e;
	char err[1024], *root;
	const char *hc = hostconf;
	size_t i;
	int j, lock;

	hc = ae_host_config_path(hc);
	if (hc && ae_ini_parse_file(hc, &g.host, err, sizeof err) < 0) {
		ae_err("%s", err);
		return AE_EXIT_ERROR;
	}
	e = ae_ini_get(ae_ini_find(g.host, "aether"), "plugin_dir");
	g.plugin_dir = e ? e->value : NULL;
	e = ae_ini_get(ae_ini_find(g.host, "aether"), "runtime_dir");
	ae_runtime_set_default(e ? e->value : NULL);
	if (ae_runtime_root(NULL, &root, err, sizeof err) < 0) {
		ae_err("%s", err);
		ae_ini_free(g.host);
		return AE_EXIT_ERROR;
	}
	/* Under the runtime lock, which a start takes to claim its VM: what
	 * is live cannot change between looking and removing, so a VM
	 * starting meanwhile never loses its QEMU, devices or directory. */
	if ((lock = gc_lock(root)) < 0)
		goto fail;
	ae_lifecycle_gc(root); /* orphan QEMUs, interrupted creates/deletes */
	close(lock);
	{
		/* VMs a dead host agent left half made (this may stop or
		 * delete VMs: not under the lock) */
		char *store = NULL, serr[512];
		if (ae_store_root(&store, serr, sizeof serr) == 0)
			ae_journal_recover(store, hostconf, 0);
		free(store);
	}
	if ((lock = gc_lock(root)) < 0)
		goto fail;
	ae_runtime_live(root, &live, &g.n_live);
	g.live = ae_xcalloc(g.n_live, sizeof *g.live);
	for (i = 0; i < g.n_live; i++) {
		char *vmdir = ae_xasprintf("%s/vms/%s", root, live[i].name);
		ae_vm_init(&g.live[i], live[i].name, live[i].index, vmdir);
	}
	if (argc > 1)
		for (j = 1; j < argc; j++)
			gc_one(argv[j], NULL, &g);
	else
		ae_plugin_foreach(g.plugin_dir, gc_one, &g);
	{
		/* managed networks: broken ones, and those no longer
		 * configured */
		struct ae_netconf nc;
		if (ae_netconf_load(g.host, &nc, err, sizeof err) < 0) {
			ae_warn("gc: %s (configured networks not checked)",
				err);
			nc.v = NULL;
			nc.n = 0;
		}
#ifdef AE_HAVE_MANAGED_NETWORKS
		if (argc == 1) {
			ae_net_gc_locked(&nc, root);
			ae_net_gc_reservations(&nc, root, live, g.n_live);
		}
#endif
		ae_netconf_free(&nc);
	}
	gc_runtime_dirs(root);
	close(lock);
	for (i = 0; i < g.n_live; i++)
		free((char *)g.live[i].runtime_dir);
	free(g.live);
	ae_runtime_live_free(live, g.n_live);
	ae_ini_free(g.host);
	free(root);
	return g.failed ? AE_EXIT_ERROR : 0;
fail:
	ae_ini_free(g.host);
	free(root);
	return AE_EXIT_ERROR;
}

/* serve and remote are the program aether-agent (agent.h): found next to
 * this program (a build tree), else in pkglibexecdir; $AETHER_AGENT
 * overrides.  It runs requests with this program ($AETHER_BINARY). */
static int exec_agent(int argc, char **argv)
{
#ifdef AE_HAVE_AGENT
	struct ae_argv a = {0};
	char self[4096], *next = NULL, *dir;
	/* which program runs: not a user's choice under root or privilege */
	const char *agent = ae_getenv_trusted("AETHER_AGENT",
					      "the aether-agent next to aether");
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	int i;

	if (n <= 0) {
		ae_err("/proc/self/exe: %s", strerror(errno));
		return AE_EXIT_ERROR;
	}
	self[n] = '\0';
	if (!agent) {
		dir = ae_xstrdup(self);
		*strrchr(dir, '/') = '\0';
		next = ae_xasprintf("%s/aether-agent", dir);
		free(dir);
		agent = access(next, X_OK) == 0 ? next
						 : AE_PKGLIBEXECDIR "/aether-agent";
	}
	ae_argv_add(&a, "aether-agent");
	/* always -c: the agent would read $AETHER_CONFIG itself, which this
	 * program ignores as root (ae_getenv_trusted) */
	ae_argv_add(&a, "-c");
	ae_argv_add(&a, hostconf ? hostconf
			: ae_host_config_path(NULL) ? ae_host_config_path(NULL)
						    : "none");
	if (ae_log_level <= 3)
		ae_argv_add(&a, "-q");
	for (i = 6; i < ae_log_level && i < 8; i++)
		ae_argv_add(&a, "-v");
	for (i = 0; i < argc; i++)
		ae_argv_add(&a, argv[i]);
	setenv("AETHER_BINARY", self, 1);
	execv(agent, a.v);
	ae_err("%s: %s: %s", argv[0], agent, strerror(errno));
	ae_argv_free(&a);
	free(next);
	return AE_EXIT_ERROR;
#else
	ae_err("%s: this aether was built without the host agent "
	       "(configure found no librabbitmq or jansson)", argv[0]);
	return AE_EXIT_ERROR;
#endif
}

/* ------------------------------------------------------------------ */
/* The command table: dispatch, `aether --help`, `aether help COMMAND`
 * and `aether COMMAND --help` all come from it. */

/* The command serves --help itself (it must run for it: serve and remote
 * are the host agent's, which prints its own usage). */
#define CMD_OWN_HELP 1u

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	/* Lines of the synopsis, without "aether ": a line starting with a
	 * space continues the one before, any other is another form. */
	const char *synopsis;
	/* One paragraph, lower case, no final stop: the line of the
	 * command list of `aether --help`. */
	const char *summary;
	/* `aether help COMMAND`: what it does in detail and its options
	 * (formatted; may be NULL). */
	const char *help;
	/* The command's options taking a value, as " --opt --opt ": the
	 * word after one of them is its value, not a --help. */
	const char *valopts;
	unsigned flags;
};

static int cmd_help(int argc, char **argv);

static int cmd_create(int argc, char **argv)
{
	return ae_cmd_create(argc, argv, hostconf);
}

static int cmd_start(int argc, char **argv)
{
	return ae_cmd_start(argc, argv, hostconf);
}

static int cmd_stop(int argc, char **argv)
{
	return ae_cmd_stop(argc, argv, hostconf);
}

static int cmd_delete(int argc, char **argv)
{
	return ae_cmd_delete(argc, argv, hostconf);
}

/* list --names: the names of the store's VMs, one a line, without
 * loading them (for shell completion and scripts). */
static int cmd_list(int argc, char **argv)
{
	char *store = NULL, err[1024], **names = NULL;
	int n, i;

	if (argc != 2 || strcmp(argv[1], "--names"))
		return ae_cmd_list(argc, argv, hostconf);
	if (ae_store_root(&store, err, sizeof err) < 0) {
		ae_err("%s", err);
		return AE_EXIT_ERROR;
	}
	n = ae_store_list(store, &names);
	if (n < 0) {
		ae_err("%s/vms: %s", store, strerror(-n));
		free(store);
		return AE_EXIT_ERROR;
	}
	for (i = 0; i < n; i++)
		puts(names[i]);
	ae_store_list_free(names, n);
	free(store);
	return 0;
}

static int cmd_status(int argc, char **argv)
{
	return ae_cmd_status(argc, argv, hostconf);
}

static int cmd_console(int argc, char **argv)
{
	return ae_cmd_console(argc, argv, hostconf);
}

static int cmd_forward(int argc, char **argv)
{
	return ae_cmd_forward(argc, argv, hostconf);
}

static int cmd_network(int argc, char **argv)
{
	return ae_cmd_network(argc, argv, hostconf);
}

static int cmd_net(int argc, char **argv)
{
#ifdef AE_HAVE_MANAGED_NETWORKS
	return ae_cmd_net(argc, argv, hostconf);
#else
	ae_err("%s: this aether was built without managed networks "
	       "(--disable-managed-networks)", argv[0]);
	return AE_EXIT_ERROR;
#endif
}

static const struct command commands[] = {
	{"run", cmd_run, "run VMFILE",
	 "run one VM in the foreground, attach its network, detach it "
	 "however the VM ends",
	 "VMFILE is a VM file (see aether.conf(5)), read with the host config's\n"
	 "defaults.  When the guest powers off, QEMU crashes or aether receives\n"
	 "SIGTERM, SIGINT or SIGHUP, the guest is asked to power down (on a\n"
	 "signal), the network is detached and the runtime directory removed.\n"
	 "\n"
	 "Exit status: 0 guest shut down, 1 error, 2 usage, 3 network backend\n"
	 "failed, 4 QEMU failed, 5 QEMU crashed, 128+N stopped on signal N.\n",
	 "", 0},
	{"check-config", cmd_check_config, "check-config FILE",
	 "validate a VM file or a host config (including backend options) "
	 "and exit",
	 "FILE is a VM file (checked together with the host config) or a host\n"
	 "config.  Every backend section is checked against the option table\n"
	 "of its plugin.  Nothing is started; exit status 0 when FILE is valid,\n"
	 "1 with the errors (file, line, key) otherwise.\n",
	 "", 0},
	{"plugins", cmd_plugins, "plugins\nplugins show NAME",
	 "list the backends found on the plugin path, or describe one "
	 "backend and its options",
	 "Without arguments, every backend found on the plugin search path with\n"
	 "its version, ABI and capabilities; a plugin the loader refuses is\n"
	 "listed with the reason.  With show NAME, one backend and every option\n"
	 "of its [network.NAME] section: type, range, default and meaning.\n",
	 "", 0},
	{"gc", cmd_gc, "gc [BACKEND]...",
	 "remove what backends made for VMs that are no longer running (all "
	 "backends by default) and stale runtime directories",
	 "Crash recovery, safe at any time: kill QEMU processes whose\n"
	 "supervisor died, finish interrupted creates and deletes of the VM\n"
	 "store, let every backend (or each BACKEND named) remove what it made\n"
	 "for VMs that are gone, take down managed networks whose dnsmasq\n"
	 "died or whose bridge vanished (and what is left of networks no\n"
	 "longer configured), then remove stale runtime directories.\n",
	 "", 0},
	{"create", cmd_create,
	 "create NAME --image BASE [--backend B] [--memory MIB] [--cpus N]\n"
	 " [--mac MAC] [--init-script FILE] [--kernel F] [--initrd F]\n"
	 " [--append TEXT] [--user U]",
	 "add a VM to the store: qcow2 overlay on BASE, unique MAC/UUID, "
	 "cloud-init seed",
	 "Options:\n"
	 "  --image BASE          base image the VM's qcow2 overlay is made on\n"
	 "  --backend B           networking backend (see aether plugins)\n"
	 "  --memory MIB          memory in MiB\n"
	 "  --cpus N              number of virtual CPUs\n"
	 "  --mac MAC             MAC address (default: derived from NAME)\n"
	 "  --init-script FILE    script for a cloud-init NoCloud seed image\n"
	 "  --kernel F            kernel to boot directly\n"
	 "  --initrd F            initrd for --kernel\n"
	 "  --append TEXT         kernel command line for --kernel\n"
	 "  --user U              user QEMU runs as when aether runs as root\n",
	 " --image --backend --memory --cpus --mac --init-script --kernel "
	 "--initrd --append --user ", 0},
	{"start", cmd_start, "start NAME",
	 "start a detached supervisor; returns when QEMU runs with the "
	 "network attached",
	 "The supervisor is aether run, forked or (supervisor = systemd in\n"
	 "[vm]) a transient unit of the systemd user manager; its messages go\n"
	 "to supervisor.log in the VM's directory.  Leftovers of a crashed run\n"
	 "of the VM are removed first.\n",
	 "", 0},
	{"stop", cmd_stop, "stop NAME [--timeout S] [--force]",
	 "ACPI power-down, then QMP quit, then kill",
	 "Options:\n"
	 "  --timeout S           seconds to wait for the guest to power down\n"
	 "                        (default: stop_timeout of the VM file)\n"
	 "  --force               skip the power button: QMP quit, then kill\n",
	 " --timeout ", 0},
	{"delete", cmd_delete, "delete NAME [--force]",
	 "remove a VM and its disk from the store",
	 "Options:\n"
	 "  --force               stop the VM first if it runs (otherwise a\n"
	 "                        running VM is not deleted)\n",
	 "", 0},
	{"list", cmd_list, "list [--json | --names]",
	 "VMs of the store: state, backend, MAC, PID, uptime, addresses",
	 "Options:\n"
	 "  --json                one JSON array of objects, one per VM\n"
	 "  --names               only the names, one a line (nothing else is\n"
	 "                        read: cheap, for scripts and completion)\n",
	 "", 0},
	{"status", cmd_status, "status NAME [--json]",
	 "one VM (exit 0 running, 3 not running)",
	 "Options:\n"
	 "  --json                one JSON object\n",
	 "", 0},
	{"console", cmd_console, "console NAME [--no-follow]",
	 "print (and follow) the serial console",
	 "Options:\n"
	 "  --no-follow           print the log so far and exit\n",
	 "", 0},
	{"forward", cmd_forward,
	 "forward add|remove|list VM [tcp|udp [HOSTADDR]:HOSTPORT [GUESTPORT]]",
	 "change a running VM's port forwards",
	 "Forms:\n"
	 "  forward add VM tcp|udp [HOSTADDR]:HOSTPORT GUESTPORT\n"
	 "  forward remove VM tcp|udp [HOSTADDR]:HOSTPORT [GUESTPORT]\n"
	 "  forward list VM\n"
	 "The VM runs with the slirp backend; the request goes to its\n"
	 "supervisor's control socket.\n",
	 "", 0},
	{"network", cmd_network,
	 "network switch VM BACKEND [--set KEY=VALUE]... [--persist]\n"
	 "network show VM [--json]",
	 "move a running VM to another networking backend, live, or show "
	 "what it is attached to",
	 "Forms:\n"
	 "  network switch VM BACKEND [--set KEY=VALUE]... [--persist]\n"
	 "                          attach the new backend, then move the\n"
	 "                          VM's NIC over and detach the old one; the\n"
	 "                          guest keeps its NIC and sees a link\n"
	 "                          down/up.  --set gives options of\n"
	 "                          [network.BACKEND] (over the host config's\n"
	 "                          and the VM file's); --persist also writes\n"
	 "                          the new backend into the VM's file\n"
	 "  network show VM [--json] backend, options, attachment, addresses\n"
	 "The VM runs with switchable = yes in [vm].\n",
	 " --set ", 0},
	{"net", cmd_net,
	 "net list [--json]\nnet show NAME [--json]\nnet start NAME\n"
	 "net stop NAME [--force]",
	 "managed networks ([net.NAME] of the host config): bridge, dnsmasq "
	 "and NAT",
	 "Forms:\n"
	 "  net list [--json]       every configured network: name, state,\n"
	 "                          bridge, subnet, IPv6 prefix, reservations\n"
	 "  net show NAME [--json]  one network and its address reservations\n"
	 "  net start NAME          bring it up (exit 0 when it is up already)\n"
	 "  net stop NAME [--force] remove its bridge, dnsmasq, nft rules and\n"
	 "                          runtime files; refused while VMs run on it\n"
	 "                          unless --force\n"
	 "A VM joins one with network = NAME in [network.tap]; it is started\n"
	 "on first use.\n",
	 "", 0},
	{"serve", exec_agent,
	 "serve [--host NAME] [--amqp URL] [--credentials FILE]",
	 "host agent: take VM requests from a RabbitMQ broker (see "
	 "aether-remote(7))",
	 "Options:\n"
	 "  --host NAME           the host name requests are addressed to\n"
	 "  --amqp URL            the broker (default: [amqp] of the host config)\n"
	 "  --credentials FILE    user and password for the broker (mode 0600)\n",
	 " --host --amqp --credentials ", CMD_OWN_HELP},
	{"remote", exec_agent, "remote [--amqp URL] COMMAND ...",
	 "create/start/stop/delete/status/list/forward/network against the "
	 "hosts of a broker",
	 "Commands: create, start, stop, delete, status, list, console,\n"
	 "forward, network (as the local ones) and raw JSON.\n"
	 "Options (before COMMAND):\n"
	 "  --amqp URL            the broker (no password in it)\n"
	 "  --credentials FILE    user and password for the broker (mode 0600)\n"
	 "  --timeout S           seconds to wait for replies\n"
	 "  --json                print the replies as JSON\n"
	 "  --host H              send to host H only\n",
	 " --amqp --credentials --timeout --host --image --backend --memory "
	 "--cpus --mac --init-script --to --kernel --initrd --append --id "
	 "--header --set ", CMD_OWN_HELP},
	{"help", cmd_help, "help [COMMAND]",
	 "show this help, or the help of COMMAND",
	 "aether COMMAND --help shows the same.\n",
	 "", 0},
};

#define N_COMMANDS (sizeof commands / sizeof commands[0])

static const struct command *find_command(const char *name)
{
	size_t i;

	for (i = 0; i < N_COMMANDS; i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

/* Print the words of s from column col, breaking lines before width
 * and going on at column indent; ends the line. */
static void wrap(FILE *f, const char *s, int col, int indent, int width)
{
	int first = 1;

	for (;;) {
		size_t n;

		while (*s == ' ')
			s++;
		if (!*s)
			break;
		n = strcspn(s, " ");
		if (!first && col + 1 + (int)n > width) {
			fprintf(f, "\n%*s", indent, "");
			col = indent;
			first = 1;
		}
		if (!first) {
			fputc(' ', f);
			col++;
		}
		fwrite(s, 1, n, f);
		col += (int)n;
		s += n;
		first = 0;
	}
	fputc('\n', f);
}

/* The synopsis of c, each line after prefix (a form) or under the
 * arguments of the line before (a continuation).  Returns the column
 * the last line ends at. */
static int print_synopsis(FILE *f, const struct command *c,
			  const char *prefix, const char *next_prefix)
{
	const char *l = c->synopsis, *pre = prefix;
	int col = 0;

	for (;;) {
		size_t n = strcspn(l, "\n");

		if (col)
			fputc('\n', f);
		if (*l == ' ') {
			while (*l == ' ')
				l++, n--;
			col = fprintf(f, "%*s%.*s",
				      (int)(strlen(pre) + strlen(c->name) + 1),
				      "", (int)n, l);
		} else {
			col = fprintf(f, "%s%.*s", pre, (int)n, l);
			pre = next_prefix;
		}
		l += n;
		if (!*l)
			return col;
		l++;
	}
}

#define SUMMARY_COL 27

static void usage(FILE *f)
{
	size_t i;

	fputs("Usage: aether [OPTION]... COMMAND [ARG]...\n"
	      "Start QEMU virtual machines with a networking backend chosen "
	      "in the\n"
	      "config file and loaded as a plugin.\n"
	      "\n"
	      "Commands:\n", f);
	for (i = 0; i < N_COMMANDS; i++) {
		int col = print_synopsis(f, &commands[i], "  ", "  ");

		/* the summary from column 27, or after two spaces when it
		 * fits there, or on the next line */
		if (col <= SUMMARY_COL - 2) {
			fprintf(f, "%*s", SUMMARY_COL - col, "");
			col = SUMMARY_COL;
		} else if (col + 2 + (int)strlen(commands[i].summary) <=
			   SUMMARY_COL + 43) {
			fputs("  ", f);
			col += 2;
		} else {
			fprintf(f, "\n%*s", SUMMARY_COL, "");
			col = SUMMARY_COL;
		}
		wrap(f, commands[i].summary, col, SUMMARY_COL,
		     SUMMARY_COL + 43);
	}
	fprintf(f,
		"\n"
		"Options:\n"
		"  -c, --config FILE        host config (default: %s;\n"
		"                           'none' for no host config)\n"
		"      --plugin-path DIRS   colon-separated plugin directories,\n"
		"                           searched first (instead of\n"
		"                           $AETHER_PLUGIN_PATH, which root ignores)\n"
		"  -v, --verbose            more messages (twice: debug)\n"
		"  -q, --quiet              errors only\n"
		"  -h, --help               show this help and exit\n"
		"  -V, --version            show the version and exit\n"
		"\n"
		"Environment: AETHER_PLUGIN_PATH (colon-separated plugin directories,\n"
		"searched first), AETHER_CONFIG, AETHER_RUNTIME_DIR, AETHER_STORE_DIR.\n"
		"As root, or setuid or with file capabilities, AETHER_PLUGIN_PATH and\n"
		"AETHER_CONFIG are ignored: use --plugin-path and -c.\n"
		"Exit status of run: 0 guest shut down, 1 error, 2 usage, 3 network\n"
		"backend failed, 4 QEMU failed, 5 QEMU crashed, 128+N stopped on\n"
		"signal N.  See aether(1), aether.conf(5), aether-plugin(7).\n",
		ae_default_host_config());
}

/* `aether help COMMAND`, to stdout. */
static void command_help(const struct command *c)
{
	char *s = ae_xasprintf("%s.", c->summary);

	print_synopsis(stdout, c, "Usage: aether ", "   or: aether ");
	fputs("\n\n", stdout);
	if (*s >= 'a' && *s <= 'z')
		*s = (char)(*s - 'a' + 'A');
	wrap(stdout, s, 0, 0, 72);
	free(s);
	if (c->help)
		printf("\n%s", c->help);
	printf("\nOptions before COMMAND (-c, --plugin-path, -v, -q): see "
	       "aether --help.\nSee aether(1).\n");
}

static int cmd_help(int argc, char **argv)
{
	const struct command *c;

	if (argc == 1) {
		usage(stdout);
		return 0;
	}
	if (argc != 2) {
		fprintf(stderr, "aether: usage: aether help [COMMAND]\n");
		return AE_EXIT_USAGE;
	}
	if (!(c = find_command(argv[1]))) {
		fprintf(stderr,
			"aether: unknown command '%s' (see aether --help)\n",
			argv[1]);
		return AE_EXIT_USAGE;
	}
	command_help(c);
	return 0;
}

/* Whether the arguments of c (argv[1..]) ask for its help: --help, or
 * -h (no command has a -h of its own), as an argument and not as the
 * value of an option before it that takes one, nor after "--".  A word
 * that getopt_long would take as an abbreviation of such an option
 * ("--app" for "--append") takes the value too. */
static int wants_help(const struct command *c, int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *o;
		size_t n = strlen(a);

		if (!strcmp(a, "--"))
			return 0;
		if (!strcmp(a, "--help") || !strcmp(a, "-h"))
			return 1;
		if (n < 3 || strncmp(a, "--", 2) || strchr(a, '='))
			continue;
		for (o = strstr(c->valopts, " --"); o; o = strstr(o + 1, " --"))
			if (!strncmp(o + 1, a, n)) {
				i++; /* its value */
				break;
			}
	}
	return 0;
}

/* `aether COMMAND --help`: the command's help, exit 0. */
static int run_help(const struct command *c)
{
#ifdef AE_HAVE_AGENT
	if (c->flags & CMD_OWN_HELP) {
		/* the command's own usage (the agent's): it must run for it */
		char *v[] = {(char *)c->name, (char *)"--help", NULL};
		return c->run(2, v);
	}
#endif
	command_help(c);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"config", required_argument, NULL, 'c'},
		{"plugin-path", required_argument, NULL, 'P'},
		{"verbose", no_argument, NULL, 'v'},
		{"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	const struct command *cmd;
	int ch;

	/* AETHER_PLUGIN_PATH and AETHER_CONFIG choose code and config: root
	 * takes them from the command line only (sudo -E passes a user's
	 * environment); a privileged exec never reads them. */
	ae_env_set_root_strict(1);
#ifdef AE_PRELOADED_PLUGINS
	/* Static build: the plugins linked into aether (libtool -dlpreopen). */
	LTDL_SET_PRELOADED_SYMBOLS();
#endif
	while ((ch = getopt_long(argc, argv, "+c:vqhV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			hostconf = optarg;
			break;
		case 'P':
			/* the caller's code: not in a privileged exec, where
			 * the caller is not who aether's privileges are for */
			if (ae_privileged_exec()) {
				ae_err("--plugin-path %s: refused: this aether "
				       "runs with privileges its caller does "
				       "not have (setuid or file "
				       "capabilities); plugins come from the "
				       "host config's plugin_dir and %s only",
				       optarg, AE_PLUGINDIR);
				return AE_EXIT_USAGE;
			}
			ae_plugin_set_path(optarg);
			break;
		case 'v':
			ae_log_level++;
			break;
		case 'q':
			ae_log_level = 3;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("aether %s (plugin ABI %d.%d)\n", PACKAGE_VERSION,
			       AETHER_ABI_MAJOR, AETHER_ABI_MINOR);
			return 0;
		default:
			usage(stderr);
			return AE_EXIT_USAGE;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1) {
		usage(stderr);
		return AE_EXIT_USAGE;
	}
	cmd = find_command(argv[0]);
	if (cmd && wants_help(cmd, argc, argv))
		return run_help(cmd);
	if (cmd)
		return cmd->run(argc, argv);
	fprintf(stderr, "aether: unknown command '%s' (see aether --help)\n",
		argv[0]);
	return AE_EXIT_USAGE;
}
