/* vm-create.c - aether create (an overlay on a base image, the VM file,
 * a cloud-init seed) and aether delete. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lifecycle.h"
#include "loader.h"
#include "mac.h"
#include "options.h"
#include "seed.h"
#include "store.h"
#include "supervisor.h"
#include "net.h"
#include "util.h"
#include "vmconf.h"
#include "vmref.h"

/* ------------------------------------------------------------------ */
/* create                                                             */

struct create_opts {
	const char *image, *backend, *mac, *init_script, *kernel, *initrd,
		*append, *user;
	long memory, cpus;
};

/* Make `p` absolute against the cwd and refuse '..' components. */
static char *abs_path(const char *p, const char *what)
{
	char cwd[PATH_MAX], *a;

	if (!*p) {
		ae_err("%s: empty path", what);
		return NULL;
	}
	if (p[0] == '/') {
		a = ae_xstrdup(p);
	} else {
		if (!getcwd(cwd, sizeof cwd)) {
			ae_err("getcwd: %s", strerror(errno));
			return NULL;
		}
		a = ae_xasprintf("%s/%s", cwd, p);
	}
	if (!ae_valid_abs_path(a)) {
		ae_err("%s: '%s' is not acceptable (no '..' components or "
		       "control characters)", what, p);
		free(a);
		return NULL;
	}
	return a;
}

/* Resolve and check a file the user names: a readable regular file.
 * Returns its real path. */
static char *checked_file(const char *p, const char *what)
{
	char *a = abs_path(p, what), *real;
	struct stat st;
	int fd;

	if (!a)
		return NULL;
	real = realpath(a, NULL);
	if (!real) {
		ae_err("%s: %s: %s", what, p, strerror(errno));
		free(a);
		return NULL;
	}
	free(a);
	fd = open(real, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		ae_err("%s: %s: %s", what, real,
		       fd < 0 ? strerror(errno) : "not a regular file");
		if (fd >= 0)
			close(fd);
		free(real);
		return NULL;
	}
	close(fd);
	if (!ae_valid_abs_path(real) || strchr(real, '\n')) {
		ae_err("%s: %s: unusable path", what, real);
		free(real);
		return NULL;
	}
	return real;
}

/* qcow2 or raw, from the image's first bytes (never from its name). */
static const char *image_format(const char *path)
{
	unsigned char m[4] = {0};
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t r;

	if (fd < 0)
		return NULL;
	r = read(fd, m, sizeof m);
	close(fd);
	if (r == 4 && m[0] == 'Q' && m[1] == 'F' && m[2] == 'I' && m[3] == 0xfb)
		return "qcow2";
	return "raw";
}

/* MACs of every VM in the store but `self`; *names gets who owns each. */
static size_t store_macs(const char *store, const char *self,
			 uint8_t (**macs)[6], char ***owners)
{
	char **names;
	int n = ae_store_list(store, &names), i;
	size_t cnt = 0;

	*macs = ae_xcalloc(n > 0 ? (size_t)n : 1, sizeof **macs);
	*owners = ae_xcalloc(n > 0 ? (size_t)n : 1, sizeof **owners);
	for (i = 0; i < n; i++) {
		char *f;
		if (!strcmp(names[i], self))
			continue;
		f = ae_xasprintf("%s/vms/%s/vm.conf", store, names[i]);
		if (ae_store_vm_mac(f, (*macs)[cnt]) < 0)
			ae_mac_derive(names[i], 0, (*macs)[cnt]);
		(*owners)[cnt++] = ae_xstrdup(names[i]);
		free(f);
	}
	ae_store_list_free(names, n);
	return cnt;
}

static int check_backend_opts(const struct ae_vmconf *c)
{
	struct ae_plugin *p;
	struct ae_optset *o;
	char err[1024];

	if (ae_plugin_load(c->backend, c->plugin_dir, &p, err, sizeof err) < 0) {
		ae_err("%s", err);
		return -1;
	}
	if (ae_optset_new(c->backend, p->desc->options, &c->backend_section,
			  &o, err, sizeof err) < 0) {
		ae_err("%s", err);
		ae_plugin_unload(p);
		return -1;
	}
	ae_optset_free(o);
	ae_plugin_unload(p);
	return 0;
}

/* Append "key = value" to *text, written so that the config parser reads
 * back exactly value (quoted and split over lines when needed). */
static int add_entry(char **text, const char *key, const char *value,
		     const char *what)
{
	char err[256], *line = ae_ini_format_entry(key, value, err, sizeof err);
	char *t;

	if (!line) {
		ae_err("%s: %s", what, err);
		return -1;
	}
	t = ae_xasprintf("%s%s", *text, line);
	free(line);
	free(*text);
	*text = t;
	return 0;
}

/* The VM file `aether create` writes; NULL (error printed) when a value
 * cannot be written into it. */
static char *vmconf_text(const struct create_opts *o, const char *name,
			 const char *base, const char *kernel,
			 const char *initrd, int seed, const char *uuid,
			 const char *macs)
{
	char *text, num[32];
	const unsigned char *p;
	int plain = strlen(name) + strlen(base) < 140;

	/* The base image only goes into the comment when it cannot break
	 * the file's syntax (qemu-img info disk.qcow2 always names it). */
	for (p = (const unsigned char *)base; *p && plain; p++)
		if (*p < 0x20 || *p == 0x7f)
			plain = 0;
	text = ae_xasprintf("# VM %s, made by aether create (base image %s).\n"
			    "# Relative paths are relative to this directory."
			    "\n[vm]\n",
			    name, plain ? base : "in disk.qcow2's header");
	if (add_entry(&text, "name", name, "name") < 0)
		goto bad;
	if (o->memory) {
		snprintf(num, sizeof num, "%ld", o->memory);
		add_entry(&text, "memory", num, "--memory");
	}
	if (o->cpus) {
		snprintf(num, sizeof num, "%ld", o->cpus);
		add_entry(&text, "cpus", num, "--cpus");
	}
	if (add_entry(&text, "disk", "disk.qcow2", "disk") < 0 ||
	    add_entry(&text, "disk_format", "qcow2", "disk") < 0 ||
	    (kernel && add_entry(&text, "kernel", kernel, "--kernel") < 0) ||
	    (initrd && add_entry(&text, "initrd", initrd, "--initrd") < 0) ||
	    (o->append && add_entry(&text, "append", o->append, "--append") < 0) ||
	    (seed && add_entry(&text, "seed", "seed.img", "seed") < 0) ||
	    add_entry(&text, "uuid", uuid, "uuid") < 0 ||
	    add_entry(&text, "mac", macs, "--mac") < 0 ||
	    add_entry(&text, "console", "file:console.log", "console") < 0 ||
	    (o->user && add_entry(&text, "user", o->user, "--user") < 0))
		goto bad;
	if (o->backend) {
		char *t = ae_xasprintf("%s\n[network]\n", text);
		free(text);
		text = t;
		if (add_entry(&text, "backend", o->backend, "--backend") < 0)
			goto bad;
	}
	return text;
bad:
	free(text);
	return NULL;
}

static void create_usage(void)
{
	fprintf(stderr,
		"usage: aether create NAME --image BASE [--backend B] "
		"[--memory MIB] [--cpus N]\n"
		"                     [--mac MAC] [--init-script FILE] "
		"[--kernel F [--initrd F] [--append S]] [--user U]\n");
}

/* The user's options, parsed and checked on their own (no file is looked
 * at yet): 0, or the exit status having said why. */
static int create_parse(int argc, char **argv, struct create_opts *o,
			const char **name, uint8_t mac[6])
{
	static const struct option lo[] = {
		{"image", required_argument, NULL, 'i'},
		{"backend", required_argument, NULL, 'b'},
		{"memory", required_argument, NULL, 'm'},
		{"cpus", required_argument, NULL, 'n'},
		{"mac", required_argument, NULL, 'a'},
		{"init-script", required_argument, NULL, 's'},
		{"kernel", required_argument, NULL, 'k'},
		{"initrd", required_argument, NULL, 'r'},
		{"append", required_argument, NULL, 'p'},
		{"user", required_argument, NULL, 'u'},
		{NULL, 0, NULL, 0},
	};
	char err[1024];
	int ch;
	int64_t v;

	optind = 0; /* glibc: re-initialise (main used "+" mode) */
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 'i': o->image = optarg; break;
		case 'b': o->backend = optarg; break;
		case 'a': o->mac = optarg; break;
		case 's': o->init_script = optarg; break;
		case 'k': o->kernel = optarg; break;
		case 'r': o->initrd = optarg; break;
		case 'p': o->append = optarg; break;
		case 'u': o->user = optarg; break;
		case 'm':
			if (ae_parse_int(optarg, &v) < 0 || v < 16 || v > 1 << 20) {
				ae_err("--memory %s: MiB in 16..1048576", optarg);
				return AE_EXIT_USAGE;
			}
			o->memory = (long)v;
			break;
		case 'n':
			if (ae_parse_int(optarg, &v) < 0 || v < 1 || v > 255) {
				ae_err("--cpus %s: a number in 1..255", optarg);
				return AE_EXIT_USAGE;
			}
			o->cpus = (long)v;
			break;
		default:
			create_usage();
			return AE_EXIT_USAGE;
		}
	}
	if (optind != argc - 1 || !o->image) {
		create_usage();
		return AE_EXIT_USAGE;
	}
	*name = argv[optind];
	if (vmref_bad_name(*name))
		return AE_EXIT_USAGE;
	if (o->backend && !ae_valid_backend_name(o->backend)) {
		ae_err("--backend %s: not a backend name (see aether plugins)",
		       o->backend);
		return AE_EXIT_USAGE;
	}
	if (o->mac &&
	    (ae_parse_mac(o->mac, mac) < 0 || ae_mac_check(mac) < 0)) {
		ae_err("--mac %s: not a unicast MAC address like "
		       "52:54:00:12:34:56", o->mac);
		return AE_EXIT_USAGE;
	}
	if (o->user && (!ae_valid_vm_name(o->user) || strchr(o->user, '.'))) {
		ae_err("--user %s: not a user name", o->user);
		return AE_EXIT_USAGE;
	}
	if (o->append && !o->kernel) {
		ae_err("--append needs --kernel");
		return AE_EXIT_USAGE;
	}
	if (o->append) {
		/* Whatever the VM file cannot hold is refused before any work */
		char *t = ae_ini_format_entry("append", o->append, err,
					      sizeof err);
		if (!t) {
			ae_err("--append: %s", err);
			return AE_EXIT_USAGE;
		}
		free(t);
	}
	if (o->initrd && !o->kernel) {
		ae_err("--initrd needs --kernel");
		return AE_EXIT_USAGE;
	}
	return 0;
}

/* The files the user names, resolved and checked. */
struct create_files {
	char *base, *kernel, *initrd, *script;
	const char *fmt; /* the base image's format */
};

static void create_files_free(struct create_files *f)
{
	free(f->base);
	free(f->kernel);
	free(f->initrd);
	free(f->script);
}

/* Resolve and check every file the user names; 0 or -1 having said why. */
static int create_resolve(const struct create_opts *o, struct create_files *f)
{
	if (!(f->base = checked_file(o->image, "--image")))
		return -1;
	if (!(f->fmt = image_format(f->base))) {
		ae_err("--image %s: %s", f->base, strerror(errno));
		return -1;
	}
	if (o->kernel && !(f->kernel = checked_file(o->kernel, "--kernel")))
		return -1;
	if (o->initrd && !(f->initrd = checked_file(o->initrd, "--initrd")))
		return -1;
	if (o->init_script &&
	    !(f->script = checked_file(o->init_script, "--init-script")))
		return -1;
	return 0;
}

/* The VM's MAC, the store lock held: --mac when no other VM of the store
 * has it, else the one derived from the name (salted when another VM has
 * that).  macs gets it as text.  0 or -1 having said why. */
static int create_pick_mac(const char *store, const char *name,
			   const struct create_opts *o, uint8_t mac[6],
			   char macs[18])
{
	uint8_t (*taken)[6] = NULL;
	char **owners = NULL;
	size_t n_taken, i;
	int salt = 0, rc = 0;

	n_taken = store_macs(store, name, &taken, &owners);
	if (o->mac) {
		for (i = 0; i < n_taken; i++)
			if (!memcmp(taken[i], mac, 6)) {
				ae_err("--mac %s is already used by VM %s",
				       o->mac, owners[i]);
				rc = -1;
				goto out;
			}
	} else {
		salt = ae_store_pick_mac(name, (const uint8_t(*)[6])taken,
					 n_taken, mac);
	}
	ae_format_mac(mac, macs);
	if (salt)
		ae_warn("%s: the MAC derived from the name is used by another "
			"VM: using %s instead", name, macs);
out:
	for (i = 0; i < n_taken; i++)
		free(owners[i]);
	free(owners);
	free(taken);
	return rc;
}

/* tmp/disk.qcow2: a qcow2 overlay on the base image; 0 or -1. */
static int create_overlay(const char *tmp, const struct create_files *f)
{
	char *disk = ae_xasprintf("%s/disk.qcow2", tmp);
	char *log = ae_xasprintf("%s/create.log", tmp);
	const char *const img[] = {"qemu-img", "create", "-q", "-f", "qcow2",
				   "-F", f->fmt, "-b", f->base, disk, NULL};
	char err[1024];
	int rc = ae_run_tool(img, log, err, sizeof err);

	free(disk);
	free(log);
	if (rc < 0) {
		ae_err("overlay on %s: %s", f->base, err);
		return -1;
	}
	return 0;
}

/* tmp/vm.conf, then loaded back as `aether start` will load it, and the
 * backend's options checked against its plugin; 0 or -1. */
static int create_vmfile(const char *tmp, const char *text,
			 const char *hostconf)
{
	struct ae_vmconf *c = NULL;
	char *f = ae_xasprintf("%s/vm.conf", tmp), err[1024];
	int rc = ae_write_text(f, text);

	if (rc == 0 && ae_vmconf_load(f, hostconf, &c, err, sizeof err) < 0) {
		ae_err("%s", err);
		rc = -1;
	}
	free(f);
	if (rc == 0 && check_backend_opts(c) < 0)
		rc = -1;
	ae_vmconf_free(c);
	return rc < 0 ? -1 : 0;
}

/* A VM on a managed network (network = NAME in its backend section, from
 * its file or the host config) gets its address now. */
static int create_reserve(const char *tmp, const char *hostconf,
			  char addr[16])
{
	struct ae_vmconf *c = NULL;
	char *f = ae_xasprintf("%s/vm.conf", tmp), err[1024];
	int rc = ae_vmconf_load(f, hostconf, &c, err, sizeof err);

	free(f);
	if (rc == 0)
		rc = ae_net_vm_reserve(c, addr, err, sizeof err);
	if (rc < 0)
		ae_err("%s", err);
	ae_vmconf_free(c);
	return rc;
}

/* tmp/state: "created", with the base image as the reason. */
static void create_state(const char *tmp, const char *base)
{
	struct ae_vmstate s;
	char *f = ae_xasprintf("%s/state", tmp);

	ae_vmstate_init(&s, "created");
	snprintf(s.reason, sizeof s.reason, "base %s", base);
	ae_vmstate_write(f, &s);
	free(f);
}

/* aether create: options and files checked first; then, under the store
 * lock, the MAC is chosen and the VM is built in vms/.new-NAME.PID
 * (overlay, seed, VM file, state), renamed to vms/NAME when complete. */
int ae_cmd_create(int argc, char **argv, const char *hostconf)
{
	struct create_opts o = {.memory = 0, .cpus = 0};
	struct create_files f = {0};
	char *store = NULL, *final = NULL, *tmp = NULL, *text = NULL;
	char err[1024], uuid[37], macs[18];
	uint8_t mac[6];
	const char *name = NULL;
	char addr[16] = "";
	int lock = -1, ret = AE_EXIT_ERROR, rc, reserved = 0;

	rc = create_parse(argc, argv, &o, &name, mac);
	if (rc)
		return rc;
	/* Everything the user names is resolved and checked first. */
	if (create_resolve(&o, &f) < 0)
		goto out;
	if (ae_uuid_random(uuid) < 0) {
		ae_err("cannot get random bytes for the VM's UUID");
		goto out;
	}
	if (ae_store_root(&store, err, sizeof err) < 0) {
		ae_err("%s", err);
		goto out;
	}
	/* Names and MACs are checked and taken under the store lock. */
	lock = vmref_lock_dir(store);
	if (lock < 0)
		goto out;
	final = ae_xasprintf("%s/vms/%s", store, name);
	if (access(final, F_OK) == 0) {
		ae_err("a VM named %s already exists (%s)", name, final);
		goto out;
	}
	if (create_pick_mac(store, name, &o, mac, macs) < 0)
		goto out;

	tmp = ae_xasprintf("%s/vms/.new-%s.%ld", store, name, (long)getpid());
	ae_rmtree(tmp);
	rc = ae_mkdir_private(tmp, 0700);
	if (rc < 0) {
		ae_err("%s: %s", tmp, strerror(-rc));
		goto out;
	}
	if (create_overlay(tmp, &f) < 0)
		goto out;
	if (f.script && ae_seed_make(tmp, name, uuid, f.script) < 0)
		goto out;
	text = vmconf_text(&o, name, f.base, f.kernel, f.initrd,
			   f.script != NULL, uuid, macs);
	if (!text || create_vmfile(tmp, text, hostconf) < 0)
		goto out;
	create_state(tmp, f.base);
	if (create_reserve(tmp, hostconf, addr) < 0)
		goto out;
	reserved = addr[0] != '\0';
	if (rename(tmp, final) < 0) {
		ae_err("%s -> %s: %s", tmp, final, strerror(errno));
		goto out;
	}
	printf("%s: created (MAC %s, UUID %s, base %s%s%s%s)\n", name, macs,
	       uuid, f.base, f.script ? ", cloud-init seed" : "",
	       reserved ? ", address " : "", reserved ? addr : "");
	ret = 0;
out:
	if (ret && reserved)
		ae_net_vm_release(hostconf, name, "create failed");
	if (ret && tmp)
		ae_rmtree(tmp);
	if (lock >= 0)
		close(lock);
	free(text);
	free(tmp);
	free(final);
	free(store);
	create_files_free(&f);
	return ret;
}

/* ------------------------------------------------------------------ */
/* delete                                                             */

int ae_cmd_delete(int argc, char **argv, const char *hostconf)
{
	static const struct option lo[] = {
		{"force", no_argument, NULL, 'f'},
		{NULL, 0, NULL, 0},
	};
	struct vmref v;
	int ch, force = 0, lock = -1, slock = -1, ret = AE_EXIT_ERROR;
	char *del = NULL;

	optind = 0; /* glibc: re-initialise (main used "+" mode) */
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (ch == 'f') {
			force = 1;
			continue;
		}
		fprintf(stderr, "usage: aether delete NAME [--force]\n");
		return AE_EXIT_USAGE;
	}
	if (optind != argc - 1) {
		fprintf(stderr, "usage: aether delete NAME [--force]\n");
		return AE_EXIT_USAGE;
	}
	if (vmref_open(argv[optind], hostconf, 1, &v) < 0) {
		/* A VM file so broken it does not load can still go. */
		if (!v.dir || access(v.dir, F_OK) < 0 || !force)
			goto out;
	}
	lock = vmref_lock_dir(v.dir);
	if (lock < 0)
		goto out;
	if (v.c) {
		vmref_probe(&v);
		if (vmref_running(&v)) {
			if (!force) {
				ae_err("VM %s is running: stop it first, or "
				       "delete --force", v.name);
				goto out;
			}
			vmref_stop(&v, 0, 1);
			vmref_probe(&v);
		}
		if (v.n_orphans || v.rtdir_exists)
			vmref_recover(&v);
	}
	slock = vmref_lock_dir(v.store);
	if (slock < 0)
		goto out;
	del = ae_xasprintf("%s/vms/.del-%s.%ld", v.store, v.name,
			   (long)getpid());
	if (rename(v.dir, del) < 0) {
		ae_err("%s: %s", v.dir, strerror(errno));
		goto out;
	}
	if (ae_rmtree(del) < 0)
		ae_warn("%s: could not remove everything (aether gc retries)",
			del);
	ae_net_vm_release(hostconf, v.name, "deleted"); /* managed addresses */
	printf("%s: deleted\n", v.name);
	ret = 0;
out:
	if (slock >= 0)
		close(slock);
	if (lock >= 0)
		close(lock);
	free(del);
	vmref_free(&v);
	return ret;
}
