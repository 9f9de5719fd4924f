/* main.c - the aether command line. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loader.h"
#include "options.h"
#include "supervisor.h"
#include "util.h"
#include "vmconf.h"

static const char usage_text[] =
	"Usage: aether [OPTION]... COMMAND [ARG]...\n"
	"Start QEMU virtual machines with a networking backend chosen in the\n"
	"config file and loaded as a plugin.\n"
	"\n"
	"Commands:\n"
	"  run VMFILE               run one VM in the foreground, attach its\n"
	"                           network, detach it however the VM ends\n"
	"  check-config FILE        validate a VM file or a host config\n"
	"                           (including backend options) and exit\n"
	"  plugins                  list the backends found on the plugin path\n"
	"  plugins show NAME        describe one backend and its options\n"
	"\n"
	"Options:\n"
	"  -c, --config FILE        host config (default: %s;\n"
	"                           'none' for no host config)\n"
	"  -v, --verbose            more messages (twice: debug)\n"
	"  -q, --quiet              errors only\n"
	"  -h, --help               show this help and exit\n"
	"  -V, --version            show the version and exit\n"
	"\n"
	"Environment: AETHER_PLUGIN_PATH (colon-separated plugin directories,\n"
	"searched first), AETHER_CONFIG, AETHER_RUNTIME_DIR.\n"
	"Exit status of run: 0 guest shut down, 1 error, 2 usage, 3 network\n"
	"backend failed, 4 QEMU failed, 5 QEMU crashed, 128+N stopped on\n"
	"signal N.  See aether(1), aether.conf(5), aether-plugin(7).\n";

static void usage(FILE *f)
{
	fprintf(f, usage_text, ae_default_host_config());
}

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

/* Validate a backend section against the plugin's table, without init. */
static int check_backend(const char *backend, const char *plugin_dir,
			 const struct ae_ini_section *s)
{
	struct ae_plugin *p;
	struct ae_optset *o;
	char err[1024];

	if (ae_plugin_load(backend, plugin_dir, &p, err, sizeof err) < 0) {
		ae_err("%s", err);
		return -1;
	}
	if (ae_optset_new(backend, p->desc->options, s, &o, err, sizeof err) < 0) {
		ae_err("%s", err);
		ae_plugin_unload(p);
		return -1;
	}
	ae_optset_free(o);
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
	if (ae_ini_find(ini, "vm")) {
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
			    strncmp(n, "network.", 8) && strcmp(n, "vm")) {
				ae_err("%s:%d: unknown section [%s]", h->file,
				       h->sections[i].line, n);
				bad = 1;
			}
		}
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

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"config", required_argument, NULL, 'c'},
		{"verbose", no_argument, NULL, 'v'},
		{"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	int ch;

	while ((ch = getopt_long(argc, argv, "+c:vqhV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			hostconf = optarg;
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
	if (!strcmp(argv[0], "run"))
		return cmd_run(argc, argv);
	if (!strcmp(argv[0], "check-config"))
		return cmd_check_config(argc, argv);
	if (!strcmp(argv[0], "plugins"))
		return cmd_plugins(argc, argv);
	if (!strcmp(argv[0], "help")) {
		usage(stdout);
		return 0;
	}
	fprintf(stderr, "aether: unknown command '%s' (see aether --help)\n",
		argv[0]);
	return AE_EXIT_USAGE;
}
