/* vmconf.c - reading and checking VM files and the host config. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>
#include <linux/magic.h>

#include "mac.h"
#include "net.h"
#include "util.h"
#include "vmconf.h"

const char *ae_default_host_config(void)
{
	/* not from a user's environment in a privileged aether or as root
	 * (see ae_getenv_trusted): -c FILE is the way there */
	const char *env = ae_getenv_trusted("AETHER_CONFIG",
					    "-c FILE on the command line");
	return env && *env ? env : AE_SYSCONFDIR "/aether/aether.conf";
}

const char *ae_host_config_path(const char *given)
{
	const char *def;

	if (given)
		return *given && strcmp(given, "none") ? given : NULL;
	def = ae_default_host_config();
	/* a missing default is fine; one we cannot see is reported later */
	return access(def, F_OK) < 0 && errno == ENOENT ? NULL : def;
}

const char *ae_accel_name(enum ae_accel a)
{
	return a == AE_ACCEL_TCG ? "tcg" : a == AE_ACCEL_KVM ? "kvm" : "auto";
}

const char *ae_supervisor_mode_name(enum ae_supervisor_mode m)
{
	return m == AE_SUPERVISOR_SYSTEMD ? "systemd" : "fork";
}

/* Known keys per section; "host" marks keys only the host file may set. */
struct keydef {
	const char *section, *key;
	int host_only, vm_only;
};

static const struct keydef keys[] = {
	{"aether", "plugin_dir", 1, 0},
	{"aether", "runtime_dir", 1, 0},
	{"vm", "name", 0, 1},
	{"vm", "memory", 0, 0},
	{"vm", "cpus", 0, 0},
	{"vm", "accel", 0, 0},
	{"vm", "machine", 0, 0},
	{"vm", "kernel", 0, 1},
	{"vm", "initrd", 0, 1},
	{"vm", "append", 0, 1},
	{"vm", "disk", 0, 1},
	{"vm", "disk_format", 0, 1},
	{"vm", "console", 0, 0},
	{"vm", "console_max", 0, 0},
	{"vm", "console_keep", 0, 0},
	{"vm", "mac", 0, 1},
	{"vm", "index", 0, 1},
	{"vm", "qemu", 0, 0},
	{"vm", "stop_timeout", 0, 0},
	{"vm", "check_interval", 0, 0},
	{"vm", "reboot", 0, 0},
	{"vm", "uuid", 0, 1},
	{"vm", "seed", 0, 1},
	{"vm", "user", 0, 0},
	{"vm", "guest_agent", 0, 0},
	{"vm", "switchable", 0, 0},
	{"vm", "supervisor", 0, 0},
	{"network", "backend", 0, 0},
	{"network", "model", 0, 0},
};

static int check_sections(const struct ae_ini *ini, int is_host, char *err,
			  size_t errlen)
{
	size_t i, j, k;

	for (i = 0; i < ini->n_sections; i++) {
		const struct ae_ini_section *s = &ini->sections[i];
		int known = 0;

		if (!strncmp(s->name, "network.", 8)) {
			if (!ae_valid_backend_name(s->name + 8))
				return ae_seterr(err, errlen, EINVAL,
						 "%s:%d: invalid backend name "
						 "in section [%s]",
						 s->file, s->line, s->name);
			continue; /* checked against the plugin later */
		}
		if (is_host && (!strcmp(s->name, "amqp") ||
				!strcmp(s->name, "agent")))
			continue; /* the host agent's: checked by aether serve */
		if (is_host && !strncmp(s->name, "net.", 4))
			continue; /* managed networks: ae_netconf_load */
		for (k = 0; k < AE_ARRAY_SIZE(keys); k++)
			if (!strcmp(keys[k].section, s->name))
				known = 1;
		if (!known || (!is_host && !strcmp(s->name, "aether")))
			return ae_seterr(err, errlen, EINVAL,
					 "%s:%d: unknown section [%s] (known: "
					 "%s[vm], [network], [network.<backend>]%s)",
					 s->file, s->line, s->name,
					 is_host ? "[aether], " : "",
					 is_host ? ", [net.NAME], [amqp], [agent]" : "");
		for (j = 0; j < s->n_entries; j++) {
			const struct ae_ini_entry *e = &s->entries[j];
			const struct keydef *kd = NULL;
			size_t m;

			for (k = 0; k < AE_ARRAY_SIZE(keys); k++)
				if (!strcmp(keys[k].section, s->name) &&
				    !strcmp(keys[k].key, e->key))
					kd = &keys[k];
			if (!kd || (is_host && kd->vm_only) ||
			    (!is_host && kd->host_only))
				return ae_seterr(err, errlen, EINVAL,
						 "%s:%d: unknown key '%s' in "
						 "[%s]%s",
						 e->file, e->line, e->key,
						 s->name,
						 kd ? (is_host
							       ? " (only a VM file "
								 "may set it)"
							       : " (only the host "
								 "config may set it)")
						    : "");
			for (m = 0; m < j; m++)
				if (!strcmp(s->entries[m].key, e->key))
					return ae_seterr(
						err, errlen, EINVAL,
						"%s:%d: key '%s' given twice in "
						"[%s] (first on line %d)",
						e->file, e->line, e->key,
						s->name, s->entries[m].line);
		}
	}
	return 0;
}

/* The entry for section/key: the VM file wins over the host file. */
static const struct ae_ini_entry *lookup(const struct ae_vmconf *c,
					 const char *section, const char *key)
{
	const struct ae_ini_entry *e;

	e = ae_ini_get(ae_ini_find(c->vm_ini, section), key);
	if (!e)
		e = ae_ini_get(ae_ini_find(c->host_ini, section), key);
	return e;
}

static int get_int(const struct ae_vmconf *c, const char *section,
		   const char *key, int64_t def, int64_t min, int64_t max,
		   int64_t *out, char *err, size_t errlen)
{
	const struct ae_ini_entry *e = lookup(c, section, key);
	int rc;

	if (!e) {
		*out = def;
		return 0;
	}
	rc = ae_parse_int(e->value, out);
	if (rc < 0 || *out < min || *out > max)
		return ae_seterr(err, errlen, EINVAL,
				 "%s:%d: %s: '%s' is not an integer in %" PRId64
				 "..%" PRId64,
				 e->file, e->line, key, e->value, min, max);
	return 0;
}

/* Resolve a path relative to the directory of the file that names it. */
static int get_path(const struct ae_ini_entry *e, int must_exist, char **out,
		    char *err, size_t errlen)
{
	char *p, *dir, *copy;
	struct stat st;

	if (e->value[0] == '/') {
		p = ae_xstrdup(e->value);
	} else {
		copy = ae_xstrdup(e->file);
		dir = dirname(copy);
		if (dir[0] == '/') {
			p = ae_xasprintf("%s/%s", dir, e->value);
		} else {
			char cwd[PATH_MAX];
			if (!getcwd(cwd, sizeof cwd)) {
				free(copy);
				return ae_seterr(err, errlen, errno,
						 "getcwd: %s", strerror(errno));
			}
			p = ae_xasprintf("%s/%s/%s", cwd, dir, e->value);
		}
		free(copy);
	}
	if (!ae_valid_abs_path(p)) {
		free(p);
		return ae_seterr(err, errlen, EINVAL,
				 "%s:%d: %s: '%s' is not a usable path (no '..' "
				 "components, no control characters)",
				 e->file, e->line, e->key, e->value);
	}
	if (must_exist) {
		int e2 = stat(p, &st) < 0 ? errno : 0;
		if (e2 || !S_ISREG(st.st_mode)) {
			int rc = ae_seterr(err, errlen, e2 ? e2 : EINVAL,
					   "%s:%d: %s: %s: %s", e->file, e->line,
					   e->key, p,
					   e2 ? strerror(e2) : "not a regular file");
			free(p);
			return rc;
		}
	}
	*out = p;
	return 0;
}

static int simple_token(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' ||
		      *s == '.'))
			return 0;
	return 1;
}

static int valid_uuid(const char *s)
{
	int i;

	if (strlen(s) != 36)
		return 0;
	for (i = 0; i < 36; i++)
		if ((i == 8 || i == 13 || i == 18 || i == 23)
			    ? s[i] != '-'
			    : !((s[i] >= '0' && s[i] <= '9') ||
				(s[i] >= 'a' && s[i] <= 'f') ||
				(s[i] >= 'A' && s[i] <= 'F')))
			return 0;
	return 1;
}

static char *dup_or(const struct ae_ini_entry *e, const char *def)
{
	return e ? ae_xstrdup(e->value) : def ? ae_xstrdup(def) : NULL;
}

/* "16M", "512K", "1G" or bytes; binary units. */
static int parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	int shift = 0;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	}
	if (shift && (*end == 'i' || *end == 'I') && (end[1] == 'B' || end[1] == 'b'))
		end += 2;
	if (*end || v > (UINT64_MAX >> shift))
		return -EINVAL;
	*out = (uint64_t)v << shift;
	return 0;
}

/* File systems whose files are kernel interfaces, not storage. */
static int kernel_fs(long type)
{
	switch (type) {
	case PROC_SUPER_MAGIC: case SYSFS_MAGIC: case DEBUGFS_MAGIC:
	case TRACEFS_MAGIC: case SECURITYFS_MAGIC: case CGROUP_SUPER_MAGIC:
	case CGROUP2_SUPER_MAGIC: case BPF_FS_MAGIC: case DEVPTS_SUPER_MAGIC:
	case EFIVARFS_MAGIC: case PSTOREFS_MAGIC: case SELINUX_MAGIC:
	case SMACK_MAGIC: case 0x62656570 /* configfs */:
		return 1;
	}
	return 0;
}

static int kernel_path(const char *p)
{
	static const char *const pre[] = {"/proc", "/sys", "/dev"};
	size_t i, n;

	for (i = 0; i < AE_ARRAY_SIZE(pre); i++) {
		n = strlen(pre[i]);
		if (!strncmp(p, pre[i], n) && (p[n] == '/' || !p[n]))
			return 1;
	}
	return 0;
}

/* The directory of path must exist and must not be a kernel one. */
static int console_dir_check(const char *path, char *err, size_t errlen)
{
	char *copy = ae_xstrdup(path), *dir = dirname(copy), *real;
	struct statfs sf;
	struct stat st;
	int rc = 0;

	real = realpath(dir, NULL);
	if (!real || stat(real, &st) < 0)
		rc = ae_seterr(err, errlen, errno,
			       "directory %s: %s", dir, strerror(errno));
	else if (!S_ISDIR(st.st_mode))
		rc = ae_seterr(err, errlen, ENOTDIR, "%s is not a directory",
			       dir);
	else if (kernel_path(real) ||
		 (statfs(real, &sf) == 0 && kernel_fs((long)sf.f_type)))
		rc = ae_seterr(err, errlen, EPERM,
			       "%s is on a kernel file system (/proc, /sys, "
			       "/dev): not a log file", path);
	free(real);
	free(copy);
	return rc;
}

static int console_file_check(const char *path, const struct stat *st,
			      const struct statfs *sf, char *err,
			      size_t errlen)
{
	if (S_ISLNK(st->st_mode))
		return ae_seterr(err, errlen, ELOOP,
				 "%s is a symbolic link (not followed when "
				 "aether runs as root)", path);
	if (!S_ISREG(st->st_mode))
		return ae_seterr(err, errlen, EINVAL,
				 "%s is not a regular file (a device, FIFO, "
				 "socket or directory): not a log file", path);
	if (sf && kernel_fs((long)sf->f_type))
		return ae_seterr(err, errlen, EPERM,
				 "%s is on a kernel file system (/proc, /sys, "
				 "/dev): not a log file", path);
	return 0;
}

int ae_console_target_check(const char *path, char *err, size_t errlen)
{
	struct statfs sf;
	struct stat st;
	int rc, root = geteuid() == 0;

	if (!ae_valid_abs_path(path))
		return ae_seterr(err, errlen, EINVAL, "%s is not a usable path",
				 path);
	if ((rc = console_dir_check(path, err, errlen)) < 0)
		return rc;
	if ((root ? lstat(path, &st) : stat(path, &st)) < 0) {
		if (errno == ENOENT)
			return 0; /* a new file in an existing directory */
		return ae_seterr(err, errlen, errno, "%s: %s", path,
				 strerror(errno));
	}
	return console_file_check(path, &st,
				  statfs(path, &sf) == 0 ? &sf : NULL, err,
				  errlen);
}

int ae_console_target_open(const char *path, char *err, size_t errlen)
{
	int fd, rc, root = geteuid() == 0;
	struct statfs sf;
	struct stat st;

	if ((rc = ae_console_target_check(path, err, errlen)) < 0)
		return rc;
	/* O_NONBLOCK: a FIFO put there since the check must not block us */
	fd = open(path,
		  O_WRONLY | O_APPEND | O_CREAT | O_NOCTTY | O_CLOEXEC |
			  O_NONBLOCK | (root ? O_NOFOLLOW : 0),
		  0640);
	if (fd < 0)
		return ae_seterr(err, errlen, errno, "%s: %s", path,
				 errno == ELOOP ? "is a symbolic link (not "
						  "followed when aether runs "
						  "as root)"
						: strerror(errno));
	if (fstat(fd, &st) < 0 || fstatfs(fd, &sf) < 0) {
		rc = ae_seterr(err, errlen, errno, "%s: %s", path,
			       strerror(errno));
		close(fd);
		return rc;
	}
	if ((rc = console_file_check(path, &st, &sf, err, errlen)) < 0) {
		close(fd);
		return rc;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	return fd;
}

static int load_vm(struct ae_vmconf *c, char *err, size_t errlen)
{
	const struct ae_ini_entry *e;
	int64_t v;
	int rc;

	e = ae_ini_get(ae_ini_find(c->vm_ini, "vm"), "name");
	if (!e)
		return ae_seterr(err, errlen, EINVAL,
				 "%s: [vm] name is required", c->vm_ini->file);
	if (!ae_valid_vm_name(e->value))
		return ae_seterr(err, errlen, EINVAL,
				 "%s:%d: name: '%s' is not a valid VM name (1-64 "
				 "of A-Z a-z 0-9 _ . -, starting with a letter "
				 "or digit)",
				 e->file, e->line, e->value);
	c->name = ae_xstrdup(e->value);

	if ((rc = get_int(c, "vm", "memory", 256, 16, 1 << 20, &v, err, errlen)))
		return rc;
	c->memory_mb = (uint64_t)v;
	if ((rc = get_int(c, "vm", "cpus", 1, 1, 255, &v, err, errlen)))
		return rc;
	c->cpus = (unsigned)v;
	if ((rc = get_int(c, "vm", "stop_timeout", 30, 1, 3600, &v, err, errlen)))
		return rc;
	c->stop_timeout_s = (int)v;
	if ((rc = get_int(c, "vm", "check_interval", 30, 1, 86400, &v, err,
			  errlen)))
		return rc;
	c->check_interval_s = (int)v;
	if ((rc = get_int(c, "vm", "index", -1, 0, 65535, &v, err, errlen)))
		return rc;
	c->index = (int)v;

	e = lookup(c, "vm", "reboot");
	c->reboot = 1;
	if (e && ae_parse_bool(e->value, &c->reboot) < 0)
		return ae_seterr(err, errlen, EINVAL,
				 "%s:%d: reboot: '%s' is not a boolean (yes/no)",
				 e->file, e->line, e->value);

	e = lookup(c, "vm", "accel");
	if (!e || !strcmp(e->value, "auto"))
		c->accel = AE_ACCEL_AUTO;
	else if (!strcmp(e->value, "tcg"))
		c->accel = AE_ACCEL_TCG;
	else if (!strcmp(e->value, "kvm"))
		c->accel = AE_ACCEL_KVM;
	else
		return ae_seterr(err, errlen, EINVAL,
				 "%s:%d: accel: '%s' is not one of auto, kvm, tcg",
				 e->file, e->line, e->value);

	e = lookup(c, "vm", "machine");
	if (e && !simple_token(e->value))
		return ae_seterr(err, errlen, EINVAL,
				 "%s:%d: machine: '%s' is not a machine type name",
				 e->file, e->line, e->value);
	c->machine = dup_or(e, NULL);

	e = lookup(c, "vm", "qemu");
	c->qemu = dup_or(e, AE_DEFAULT_QEMU);
	if (e && !simple_token(e->value) && !ae_valid_abs_path(e->value))
		return ae_seterr(err, errlen, EINVAL,
				 "%s:%d: qemu: '%s' is neither a program name nor "
				 "an absolute path",
				 e->file, e->line, e->value);

	if ((e = lookup(c, "vm", "kernel")) &&
	    (rc = get_path(e, 1, &c->kernel, err, errlen)))
		return rc;
	if ((e = lookup(c, "vm", "initrd")) &&
	    (rc = get_path(e, 1, &c->initrd, err, errlen)))
		return rc;
	if ((e = lookup(c, "vm", "disk")) &&
	    (rc = get_path(e, 1, &c->disk, err, errlen)))
		return rc;
	e = lookup(c, "vm", "append");
	c->append = dup_or(e, NULL);
	if (c->append && !c->kernel)
		return ae_seterr(err, errlen, EINVAL,
				 "%s:%d: append needs kernel", e->file, e->line);
	if (c->initrd && !c->kernel)
		return ae_seterr(err, errlen, EINVAL,
				 "%s: initrd needs kernel", c->vm_ini->file);
	if (!c->kernel && !c->disk)
		return ae_seterr(err, errlen, EINVAL,
				 "%s: [vm] needs a disk or a kernel to boot",
				 c->vm_ini->file);
	e = lookup(c, "vm", "disk_format");
	if (e && strcmp(e->value, "qcow2") && strcmp(e->value, "raw"))
		return ae_seterr(err, errlen, EINVAL,
				 "%s:%d: disk_format: '%s' is not qcow2 or raw",
				 e->file, e->line, e->value);
	if (e)
		c->disk_format = ae_xstrdup(e->value);
	else if (c->disk)
		c->disk_format = ae_xstrdup(
			strlen(c->disk) > 6 &&
					!strcmp(c->disk + strlen(c->disk) - 6, ".qcow2")
				? "qcow2"
				: "raw");

	e = lookup(c, "vm", "console");
	if (!e || !strcmp(e->value, "stdout") || !strcmp(e->value, "none")) {
		c->console = dup_or(e, "stdout");
	} else {
		const char *v2 = e->value;
		struct ae_ini_entry tmp = *e;
		if (!strncmp(v2, "file:", 5))
			tmp.value = (char *)v2 + 5;
		if ((rc = get_path(&tmp, 0, &c->console, err, errlen)))
			return rc;
		if (ae_console_target_check(c->console, err, errlen) < 0) {
			char why[512];
			snprintf(why, sizeof why, "%s", err);
			return ae_seterr(err, errlen, EINVAL,
					 "%s:%d: console: %s", e->file, e->line,
					 why);
		}
	}
	if (e) {
		c->console_file = e->file;
		c->console_line = e->line;
	}
	e = lookup(c, "vm", "console_max");
	c->console_max = 16u << 20;
	if (e && (parse_size(e->value, &c->console_max) < 0 ||
		  c->console_max < 4096 || c->console_max > (1ull << 40)))
		return ae_seterr(err, errlen, EINVAL,
				 "%s:%d: console_max: '%s' is not a size from "
				 "4K to 1024G (like 16M)",
				 e->file, e->line, e->value);
	if ((rc = get_int(c, "vm", "console_keep", 1, 0, 99, &v, err, errlen)))
		return rc;
	c->console_keep = (unsigned)v;

	e = ae_ini_get(ae_ini_find(c->vm_ini, "vm"), "uuid");
	if (e && !valid_uuid(e->value))
		return ae_seterr(err, errlen, EINVAL,
				 "%s:%d: uuid: '%s' is not a UUID like "
				 "0f3c5a4e-8d2b-4c1a-9e7f-1234567890ab",
				 e->file, e->line, e->value);
	c->uuid = dup_or(e, NULL);
	if ((e = ae_ini_get(ae_ini_find(c->vm_ini, "vm"), "seed")) &&
	    (rc = get_path(e, 1, &c->seed, err, errlen)))
		return rc;
	e = lookup(c, "vm", "user");
	if (e && (!simple_token(e->value) || e->value[0] == '-'))
		return ae_seterr(err, errlen, EINVAL,
				 "%s:%d: user: '%s' is not a user name",
				 e->file, e->line, e->value);
	if (e && strcmp(e->value, "root")) {
		struct passwd *pw;
		errno = 0;
		pw = getpwnam(e->value);
		if (!pw)
			return ae_seterr(err, errlen, errno ? errno : ENOENT,
					 "%s:%d: user: no user '%s' on this host%s%s",
					 e->file, e->line, e->value,
					 errno ? ": " : "",
					 errno ? strerror(errno) : "");
		if (pw->pw_uid == 0)
			return ae_seterr(err, errlen, EINVAL,
					 "%s:%d: user: '%s' has uid 0: write "
					 "user = root to run QEMU as root",
					 e->file, e->line, e->value);
	}
	c->user = dup_or(e, NULL);
	if (e) {
		c->user_file = e->file;
		c->user_line = e->line;
	}
	e = lookup(c, "vm", "guest_agent");
	if (e && ae_parse_bool(e->value, &c->guest_agent) < 0)
		return ae_seterr(err, errlen, EINVAL,
				 "%s:%d: guest_agent: '%s' is not a boolean "
				 "(yes/no)", e->file, e->line, e->value);
	e = lookup(c, "vm", "switchable");
	if (e && ae_parse_bool(e->value, &c->switchable) < 0)
		return ae_seterr(err, errlen, EINVAL,
				 "%s:%d: switchable: '%s' is not a boolean "
				 "(yes/no)", e->file, e->line, e->value);
	if (e) {
		c->switchable_file = e->file;
		c->switchable_line = e->line;
	}
	e = lookup(c, "vm", "supervisor");
	if (!e || !strcmp(e->value, "fork"))
		c->supervisor = AE_SUPERVISOR_FORK;
	else if (!strcmp(e->value, "systemd"))
		c->supervisor = AE_SUPERVISOR_SYSTEMD;
	else
		return ae_seterr(err, errlen, EINVAL,
				 "%s:%d: supervisor: '%s' is not one of fork, "
				 "systemd", e->file, e->line, e->value);

	e = ae_ini_get(ae_ini_find(c->vm_ini, "vm"), "mac");
	if (e) {
		if (ae_parse_mac(e->value, c->mac) < 0 || ae_mac_check(c->mac) < 0)
			return ae_seterr(err, errlen, EINVAL,
					 "%s:%d: mac: '%s' is not a unicast MAC "
					 "address like 52:54:00:12:34:56",
					 e->file, e->line, e->value);
		if (!(c->mac[0] & 0x02))
			ae_warn("%s:%d: mac %s is globally administered: make "
				"sure it is really yours",
				e->file, e->line, e->value);
		c->mac_set = true;
	} else {
		ae_mac_derive(c->name, 0, c->mac);
	}
	return 0;
}

static void merge_backend_section(struct ae_vmconf *c)
{
	char name[64];
	const struct ae_ini_section *vs, *hs;
	struct ae_ini_section *m = &c->backend_section;
	size_t i, j;

	snprintf(name, sizeof name, "network.%s", c->backend);
	vs = ae_ini_find(c->vm_ini, name);
	hs = ae_ini_find(c->host_ini, name);
	m->name = ae_xstrdup(name);
	m->file = vs ? vs->file : hs ? hs->file : c->vm_ini->file;
	m->line = vs ? vs->line : hs ? hs->line : 0;
	/* Entries point into the two files; only the array is ours. */
	m->entries = ae_xcalloc((vs ? vs->n_entries : 0) +
					(hs ? hs->n_entries : 0),
				sizeof *m->entries);
	for (i = 0; vs && i < vs->n_entries; i++)
		m->entries[m->n_entries++] = vs->entries[i];
	for (i = 0; hs && i < hs->n_entries; i++) {
		int overridden = 0;
		for (j = 0; vs && j < vs->n_entries; j++)
			if (!strcmp(vs->entries[j].key, hs->entries[i].key))
				overridden = 1;
		if (!overridden)
			m->entries[m->n_entries++] = hs->entries[i];
	}
}

/* network = NAME: a [net.NAME] of the host config, instead of bridge. */
static int load_managed_network(struct ae_vmconf *c, char *err,
				size_t errlen)
{
	const struct ae_ini_entry *e, *b;
	struct ae_netconf nc;
	int rc;

	e = ae_ini_get(&c->backend_section, "network");
	if (!e)
		return 0;
	if (strcmp(c->backend, "tap"))
		return ae_seterr(err, errlen, EINVAL,
				 "%s:%d: network: managed networks are for the "
				 "tap backend, not %s", e->file, e->line,
				 c->backend);
	b = ae_ini_get(&c->backend_section, "bridge");
	if (b && b->file != e->file) {
		/* one from the VM file, the other a host default: the VM
		 * file's wins, the host's is dropped from the section */
		const char *drop = b->file == c->vm_ini->file ? "network"
							      : "bridge";
		struct ae_ini_section *m = &c->backend_section;
		size_t i, k = 0;

		for (i = 0; i < m->n_entries; i++)
			if (strcmp(m->entries[i].key, drop))
				m->entries[k++] = m->entries[i];
		m->n_entries = k;
		if (!strcmp(drop, "network"))
			return 0;
	} else if (b) {
		return ae_seterr(err, errlen, EINVAL,
				 "%s:%d: bridge: not with network = %s (%s:%d): "
				 "the VM joins that network's bridge",
				 b->file, b->line, e->value, e->file, e->line);
	}
	if (!ae_net_valid_name(e->value))
		return ae_seterr(err, errlen, EINVAL,
				 "%s:%d: network: '%s' is not a network name",
				 e->file, e->line, e->value);
	if ((rc = ae_netconf_load(c->host_ini, &nc, err, errlen)) < 0)
		return rc;
	if (!ae_netconf_find(&nc, e->value)) {
		ae_netconf_free(&nc);
		return ae_seterr(err, errlen, ENOENT,
				 "%s:%d: network: no [net.%s] in the host "
				 "config (%s)", e->file, e->line, e->value,
				 c->host_ini->file);
	}
	ae_netconf_free(&nc);
	c->network = ae_xstrdup(e->value);
	return 0;
}

static int load_network(struct ae_vmconf *c, char *err, size_t errlen)
{
	const struct ae_ini_entry *e;
	size_t i;

	e = lookup(c, "network", "backend");
	if (e && !ae_valid_backend_name(e->value))
		return ae_seterr(err, errlen, EINVAL,
				 "%s:%d: backend: '%s' is not a backend name "
				 "([a-z0-9_], see `aether plugins`)",
				 e->file, e->line, e->value);
	c->backend = dup_or(e, "slirp");
	e = lookup(c, "network", "model");
	if (e && !simple_token(e->value))
		return ae_seterr(err, errlen, EINVAL,
				 "%s:%d: model: '%s' is not a device model name",
				 e->file, e->line, e->value);
	c->nic_model = dup_or(e, "virtio-net-pci");
	for (i = 0; i < c->vm_ini->n_sections; i++) {
		const struct ae_ini_section *s = &c->vm_ini->sections[i];
		if (!strncmp(s->name, "network.", 8) &&
		    strcmp(s->name + 8, c->backend))
			return ae_seterr(err, errlen, EINVAL,
					 "%s:%d: section [%s] does not match "
					 "the selected backend '%s'",
					 s->file, s->line, s->name, c->backend);
	}
	merge_backend_section(c);
	if (c->switchable && !strcmp(c->backend, "slirp") &&
	    (e = ae_ini_get(&c->backend_section, "mode")) &&
	    !strcmp(e->value, "qemu"))
		/* QEMU's built-in NAT is inside QEMU: no relay can carry it */
		return ae_seterr(err, errlen, EINVAL,
				 "%s:%d: mode: qemu cannot be used with "
				 "switchable = yes (%s:%d): QEMU's built-in user "
				 "network cannot be switched; use mode = "
				 "libslirp", e->file, e->line,
				 c->switchable_file, c->switchable_line);
	return load_managed_network(c, err, errlen);
}

int ae_vmconf_load(const char *vmfile, const char *hostfile,
		   struct ae_vmconf **out, char *err, size_t errlen)
{
	struct ae_vmconf *c = ae_xcalloc(1, sizeof *c);
	const struct ae_ini_entry *e;
	int rc;

	hostfile = ae_host_config_path(hostfile);
	if (hostfile) {
		rc = ae_ini_parse_file(hostfile, &c->host_ini, err, errlen);
		if (rc < 0)
			goto fail;
		rc = check_sections(c->host_ini, 1, err, errlen);
		if (rc < 0)
			goto fail;
	} else {
		c->host_ini = ae_xcalloc(1, sizeof *c->host_ini);
		c->host_ini->file = ae_xstrdup("(no host config)");
	}
	rc = ae_ini_parse_file(vmfile, &c->vm_ini, err, errlen);
	if (rc < 0)
		goto fail;
	rc = check_sections(c->vm_ini, 0, err, errlen);
	if (rc < 0)
		goto fail;
	rc = load_vm(c, err, errlen);
	if (rc < 0)
		goto fail;
	rc = load_network(c, err, errlen);
	if (rc < 0)
		goto fail;
	e = ae_ini_get(ae_ini_find(c->host_ini, "aether"), "plugin_dir");
	if (e && (rc = get_path(e, 0, &c->plugin_dir, err, errlen)))
		goto fail;
	e = ae_ini_get(ae_ini_find(c->host_ini, "aether"), "runtime_dir");
	if (e && (rc = get_path(e, 0, &c->runtime_dir, err, errlen)))
		goto fail;
	*out = c;
	return 0;
fail:
	ae_vmconf_free(c);
	return rc < 0 ? rc : -EINVAL;
}

void ae_vmconf_free(struct ae_vmconf *c)
{
	if (!c)
		return;
	free(c->name);
	free(c->machine);
	free(c->kernel);
	free(c->initrd);
	free(c->append);
	free(c->disk);
	free(c->disk_format);
	free(c->console);
	free(c->qemu);
	free(c->uuid);
	free(c->seed);
	free(c->user);
	free(c->backend);
	free(c->nic_model);
	free(c->backend_section.name);
	free(c->backend_section.entries);
	free(c->network);
	free(c->plugin_dir);
	free(c->runtime_dir);
	ae_ini_free(c->vm_ini);
	ae_ini_free(c->host_ini);
	free(c);
}
