/* loader.c - find, load and validate plugins with libltdl.
 *
 * Every refusal names the file and the reason; a bad descriptor is never
 * called into.  libltdl's own messages ("file not found") say too little,
 * so we write ours and append lt_dlerror() only where it adds something.
 */
#include "config.h"

#include <dirent.h>
#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <ltdl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loader.h"
#include "options.h"
#include "util.h"

static int ltdl_users;

static int ltdl_up(char *err, size_t errlen)
{
	if (ltdl_users++ == 0 && lt_dlinit() != 0) {
		ltdl_users = 0;
		return ae_seterr(err, errlen, EIO, "libltdl: %s", lt_dlerror());
	}
	return 0;
}

static void ltdl_down(void)
{
	if (ltdl_users > 0 && --ltdl_users == 0)
		lt_dlexit();
}

/* --plugin-path: directories the command line chose, searched first. */
static char *cli_path;

void ae_plugin_set_path(const char *dirs)
{
	free(cli_path);
	cli_path = dirs ? ae_xstrdup(dirs) : NULL;
}

const char *ae_plugin_caller_path(void)
{
	if (cli_path)
		return cli_path;
	return ae_getenv_trusted("AETHER_PLUGIN_PATH",
				 "--plugin-path DIR on the command line");
}

char *ae_plugin_search_path(const char *plugin_dir)
{
	const char *env = ae_plugin_caller_path();

	return ae_xasprintf("%s%s%s%s%s", env && *env ? env : "",
			    env && *env ? ":" : "",
			    plugin_dir && *plugin_dir ? plugin_dir : "",
			    plugin_dir && *plugin_dir ? ":" : "", AE_PLUGINDIR);
}

/* ------------------------------------------------------------------ */
/* Whose code is it?  A plugin runs with every privilege aether has, so
 * its file, the directory it is in and every directory above must be
 * root's or ours (not the caller's when aether runs with privileges it
 * did not get from the caller: setuid or file capabilities), and not
 * writable by group or others (a sticky directory such as /tmp is fine
 * above one that is ours; a group that is root's or, unprivileged, ours
 * is fine): nobody else can put or swap code there.  The
 * file is opened and fstat'ed, right before libltdl opens it by name. */

static int trusted_uid(uid_t uid)
{
	return uid == 0 || (uid == geteuid() && !ae_privileged_exec());
}

/* Group-writable is fine when the group is root's, or (unprivileged) our
 * own: a tree unpacked as root keeps 0775 directories of group root, and
 * a developer with umask 002 builds in directories of their own group. */
static int trusted_gid(gid_t gid)
{
	return gid == 0 || (gid == getegid() && !ae_privileged_exec());
}

static int check_node(const char *path, const struct stat *st, int is_dir,
		      int sticky_parent_ok, char *err, size_t errlen)
{
	mode_t w = st->st_mode & (S_IWGRP | S_IWOTH);

	if (w == S_IWGRP && trusted_gid(st->st_gid))
		w = 0;
	if (!trusted_uid(st->st_uid))
		return ae_seterr(err, errlen, EPERM,
				 "%s: refusing plugin %s owned by uid %ld (only "
				 "root%s may own plugins and their directories)",
				 path, is_dir ? "directory" : "file",
				 (long)st->st_uid,
				 ae_privileged_exec() ? "" : " or this user");
	if (w && !(is_dir && (st->st_mode & S_ISVTX) && sticky_parent_ok)) {
		char who[48];
		if (w & S_IWOTH)
			snprintf(who, sizeof who, "others");
		else
			snprintf(who, sizeof who, "its group (gid %ld)",
				 (long)st->st_gid);
		return ae_seterr(err, errlen, EPERM,
				 "%s: refusing plugin %s writable by %s (mode "
				 "%04o)",
				 path, is_dir ? "directory" : "file", who,
				 (unsigned)(st->st_mode & 07777));
	}
	return 0;
}

/* dir (a real path, no symlinks) and every directory above it. */
static int check_dirs(const char *dir, char *err, size_t errlen)
{
	char buf[PATH_MAX], *slash;
	struct stat st;
	int rc, first = 1;

	if (snprintf(buf, sizeof buf, "%s", dir) >= (int)sizeof buf)
		return ae_seterr(err, errlen, ENAMETOOLONG, "%s: %s", dir,
				 strerror(ENAMETOOLONG));
	for (;;) {
		if (lstat(buf[0] ? buf : "/", &st) < 0)
			return ae_seterr(err, errlen, errno, "%s: %s",
					 buf[0] ? buf : "/", strerror(errno));
		if (!S_ISDIR(st.st_mode))
			return ae_seterr(err, errlen, ENOTDIR, "%s: %s", buf,
					 strerror(ENOTDIR));
		/* a sticky parent (/tmp) cannot lose a child that is not its
		 * writer's: fine above the plugin's own directory */
		rc = check_node(buf[0] ? buf : "/", &st, 1, !first, err, errlen);
		if (rc < 0)
			return rc;
		if (!buf[0])
			return 0;
		slash = strrchr(buf, '/');
		if (!slash)
			return 0;
		*slash = '\0';
		first = 0;
	}
}

/* path: open it without following a final symlink and check the file
 * itself (fstat of what was opened); its real directory is checked. */
static int check_file(const char *path, char *real, size_t reallen,
		      char *err, size_t errlen)
{
	char rp[PATH_MAX], *slash;
	struct stat st;
	int fd, rc;

	if (!realpath(path, rp))
		return ae_seterr(err, errlen, errno, "%s: %s", path,
				 strerror(errno));
	slash = strrchr(rp, '/');
	if (slash == rp) {
		rc = check_dirs("", err, errlen);
	} else {
		*slash = '\0';
		rc = check_dirs(rp, err, errlen);
		*slash = '/';
	}
	if (rc < 0)
		return rc;
	fd = open(rp, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return ae_seterr(err, errlen, errno, "%s: %s", rp,
				 strerror(errno));
	if (fstat(fd, &st) < 0) {
		rc = ae_seterr(err, errlen, errno, "%s: %s", rp,
			       strerror(errno));
	} else if (!S_ISREG(st.st_mode)) {
		rc = ae_seterr(err, errlen, EINVAL,
			       "%s: not a regular file", rp);
	} else {
		rc = check_node(strcmp(rp, path) ? rp : path, &st, 0, 0, err,
				errlen);
	}
	close(fd);
	if (rc == 0 && real)
		snprintf(real, reallen, "%s", rp);
	return rc;
}

/* One libtool variable of a .la file: name='value' or name=value. */
static int la_var(const char *text, const char *name, char *out, size_t len)
{
	size_t n = strlen(name);
	const char *l, *e;

	for (l = text; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
		if (strncmp(l, name, n) || l[n] != '=')
			continue;
		l += n + 1;
		e = strchr(l, '\n');
		if (!e)
			e = l + strlen(l);
		if (*l == '\'' && e - l >= 2 && e[-1] == '\'') {
			l++;
			e--;
		}
		if ((size_t)(e - l) >= len)
			return -1;
		memcpy(out, l, (size_t)(e - l));
		out[e - l] = '\0';
		return 0;
	}
	return -1;
}

static int exists_file(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* The shared object that libltdl's lt_dlopenext would open for base
 * (a path without extension): base.la (checked too: it says which file)
 * naming its dlname installed in libdir, or in .libs beside it, or beside
 * it; else base.so.  so gets its real path, every file checked. */
static int resolve_module(const char *base, char *so, size_t solen,
			  char *err, size_t errlen)
{
	char la[PATH_MAX], dir[PATH_MAX], dlname[256], libdir[PATH_MAX];
	char inst[16], cand[2 * PATH_MAX + 300], *text = NULL, *slash;
	int rc;

	snprintf(dir, sizeof dir, "%s", base);
	slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	else
		snprintf(dir, sizeof dir, ".");
	if (snprintf(la, sizeof la, "%s.la", base) >= (int)sizeof la)
		return ae_seterr(err, errlen, ENAMETOOLONG, "%s: %s", base,
				 strerror(ENAMETOOLONG));
	if (!exists_file(la)) {
		snprintf(cand, sizeof cand, "%s.so", base);
		if (!exists_file(cand))
			return ae_seterr(err, errlen, ENOENT,
					 "%s: cannot load: no %s.la or %s.so",
					 base, base, base);
		return check_file(cand, so, solen, err, errlen);
	}
	rc = check_file(la, NULL, 0, err, errlen);
	if (rc < 0)
		return rc;
	if (ae_read_file(la, &text, NULL, 1 << 16) < 0 ||
	    la_var(text, "dlname", dlname, sizeof dlname) < 0 || !dlname[0] ||
	    strchr(dlname, '/')) {
		free(text);
		return ae_seterr(err, errlen, ENOEXEC,
				 "%s: cannot load: not a libtool module "
				 "with a shared object (dlname)", la);
	}
	if (la_var(text, "installed", inst, sizeof inst) < 0)
		inst[0] = '\0';
	if (la_var(text, "libdir", libdir, sizeof libdir) < 0)
		libdir[0] = '\0';
	free(text);
	cand[0] = '\0';
	if (!strcmp(inst, "yes") && libdir[0]) {
		snprintf(cand, sizeof cand, "%s/%s", libdir, dlname);
		if (!exists_file(cand))
			cand[0] = '\0';
	}
	if (!cand[0] && strcmp(inst, "yes")) {
		snprintf(cand, sizeof cand, "%s/.libs/%s", dir, dlname);
		if (!exists_file(cand))
			cand[0] = '\0';
	}
	if (!cand[0]) {
		snprintf(cand, sizeof cand, "%s/%s", dir, dlname);
		if (!exists_file(cand))
			return ae_seterr(err, errlen, ENOENT,
					 "%s: cannot load: its shared object "
					 "%s is not there", la, dlname);
	}
	return check_file(cand, so, solen, err, errlen);
}

void ae_caps_format(uint64_t caps, char *buf, size_t len)
{
	static const char *const names[] = {
		"tap", "vde", "user", "stream", "vhost-user",
		"needs-net-admin", "helpers", "multiqueue", "frame",
	};
	size_t i, n = 0;

	buf[0] = '\0';
	for (i = 0; i < 64 && n < len; i++) {
		if (!(caps & (1ull << i)))
			continue;
		if (i < AE_ARRAY_SIZE(names))
			n += (size_t)snprintf(buf + n, len - n, "%s%s",
					      n ? "," : "", names[i]);
		else
			n += (size_t)snprintf(buf + n, len - n, "%sbit%zu",
					      n ? "," : "", i);
	}
	if (!buf[0])
		snprintf(buf, len, "none");
}

static int validate_options(const struct aether_option *t, const char *where,
			    char *err, size_t errlen)
{
	char msg[256];
	size_t i, j;

	for (i = 0; t && t[i].key; i++) {
		if (!ae_valid_backend_name(t[i].key))
			return ae_seterr(err, errlen, EINVAL,
					 "%s: option %zu has an invalid key "
					 "'%s'", where, i, t[i].key);
		if (t[i].type < AETHER_OPT_STRING || t[i].type > AETHER_OPT_IFNAME)
			return ae_seterr(err, errlen, EINVAL,
					 "%s: option '%s' has unknown type %u",
					 where, t[i].key, t[i].type);
		if (t[i].flags & ~(AETHER_OPTF_REQUIRED | AETHER_OPTF_REPEAT))
			return ae_seterr(err, errlen, EINVAL,
					 "%s: option '%s' has unknown flags "
					 "0x%x", where, t[i].key, t[i].flags);
		if (t[i].def &&
		    ae_option_check_value(&t[i], t[i].def, msg, sizeof msg) < 0)
			return ae_seterr(err, errlen, EINVAL,
					 "%s: option '%s' has a bad default: %s",
					 where, t[i].key, msg);
		for (j = 0; j < i; j++)
			if (!strcmp(t[i].key, t[j].key))
				return ae_seterr(err, errlen, EINVAL,
						 "%s: option '%s' is declared "
						 "twice", where, t[i].key);
	}
	return 0;
}

/* The size the dynamic symbol table gives the descriptor, 0 if unknown.
 * A descriptor that claims more bytes than its symbol has would make the
 * host read past it. */
static size_t symbol_size(const void *addr)
{
	const ElfW(Sym) *sym = NULL;
	Dl_info info;

	if (!dladdr1(addr, &info, (void **)&sym, RTLD_DL_SYMENT) || !sym ||
	    info.dli_saddr != addr)
		return 0;
	return sym->st_size;
}

/* Bytes of the descriptor the host needs (everything up to reserved[]). */
#define AE_DESC_MIN_SIZE offsetof(struct aether_plugin, reserved)

int ae_plugin_validate(const struct aether_plugin *d, const char *where,
		       char *err, size_t errlen)
{
	size_t i;

	if (d->magic != AETHER_PLUGIN_MAGIC)
		return ae_seterr(err, errlen, EPROTO,
				 "%s: not an aether plugin (bad magic 0x%08x)",
				 where, d->magic);
	if (d->abi_major != AETHER_ABI_MAJOR)
		return ae_seterr(err, errlen, EPROTO,
				 "%s: built for plugin ABI %u.%u, this aether "
				 "speaks ABI %u.x: rebuild the plugin",
				 where, d->abi_major, d->abi_minor,
				 AETHER_ABI_MAJOR);
	if (d->struct_size < AE_DESC_MIN_SIZE)
		return ae_seterr(err, errlen, EPROTO,
				 "%s: descriptor is %u bytes, ABI %u.%u needs "
				 "at least %zu",
				 where, d->struct_size, d->abi_major,
				 d->abi_minor, AE_DESC_MIN_SIZE);
	if (d->reserved0)
		return ae_seterr(err, errlen, EPROTO,
				 "%s: reserved field reserved0 is not zero",
				 where);
	for (i = 0; i < AE_ARRAY_SIZE(d->reserved); i++) {
		size_t end = offsetof(struct aether_plugin, reserved) +
			     (i + 1) * sizeof d->reserved[0];
		if (end <= d->struct_size && d->reserved[i])
			return ae_seterr(err, errlen, EPROTO,
					 "%s: reserved field reserved[%zu] is "
					 "not zero", where, i);
	}
	if (d->caps & ~AETHER_CAP_KNOWN)
		return ae_seterr(err, errlen, EPROTO,
				 "%s: needs capabilities unknown to this "
				 "aether (bits 0x%llx): upgrade aether",
				 where,
				 (unsigned long long)(d->caps & ~AETHER_CAP_KNOWN));
	if (!ae_valid_backend_name(d->name))
		return ae_seterr(err, errlen, EPROTO,
				 "%s: invalid plugin name (want [a-z0-9_], "
				 "1-31 characters)", where);
	if (!d->version || !d->description)
		return ae_seterr(err, errlen, EPROTO,
				 "%s: version or description missing", where);
	if (!d->init || !d->attach || !d->detach)
		return ae_seterr(err, errlen, EPROTO,
				 "%s: required verb missing (%s)", where,
				 !d->init ? "init" : !d->attach ? "attach"
								: "detach");
	return validate_options(d->options, where, err, errlen);
}

/* preloaded: look `path` up only among the modules preloaded into a
 * static aether (libtool -dlpreopen), by name. */
static int open_file(const char *path, int preloaded, struct ae_plugin **out,
		     char *err, size_t errlen)
{
	const struct aether_plugin *d;
	const lt_dlinfo *info;
	struct ae_plugin *p;
	char so[PATH_MAX];
	lt_dlhandle h = NULL;
	lt_dladvise adv;
	int rc;

	if (!preloaded) {
		rc = resolve_module(path, so, sizeof so, err, errlen);
		if (rc < 0)
			return rc;
	}
	rc = ltdl_up(err, errlen);
	if (rc < 0)
		return rc;
	if (!preloaded) {
		/* the file just checked, by its real name */
		h = lt_dlopen(so);
	} else if (lt_dladvise_init(&adv) == 0) {
		if (lt_dladvise_ext(&adv) == 0 && lt_dladvise_preload(&adv) == 0)
			h = lt_dlopenadvise(path, adv);
		lt_dladvise_destroy(&adv);
	}
	if (!h) {
		rc = ae_seterr(err, errlen, ENOEXEC, "%s: cannot load: %s", path,
			       lt_dlerror());
		ltdl_down();
		return rc;
	}
	info = lt_dlgetinfo(h);
	d = lt_dlsym(h, AETHER_PLUGIN_SYMBOL);
	if (!d) {
		rc = ae_seterr(err, errlen, ENOEXEC,
			       "%s: no '%s' symbol (nor NAME_LTX_%s): not an "
			       "aether plugin",
			       info && info->filename ? info->filename : path,
			       AETHER_PLUGIN_SYMBOL, AETHER_PLUGIN_SYMBOL);
		goto fail;
	}
	{
		size_t have = symbol_size(d);
		const char *where = info && info->filename ? info->filename : path;

		if (have && (have < offsetof(struct aether_plugin, reserved0) ||
			     have < d->struct_size)) {
			rc = ae_seterr(err, errlen, EPROTO,
				       "%s: descriptor symbol is %zu bytes but "
				       "claims %u", where, have,
				       have >= offsetof(struct aether_plugin,
							reserved0)
					       ? d->struct_size
					       : 0);
			goto fail;
		}
	}
	rc = ae_plugin_validate(d, info && info->filename ? info->filename : path,
				err, errlen);
	if (rc < 0)
		goto fail;
	p = ae_xcalloc(1, sizeof *p);
	p->handle = h;
	p->desc = d;
	/* A preloaded module has no file, only a name ("tap.a"). */
	if (info && info->filename && !strchr(info->filename, '/'))
		p->path = ae_xasprintf("%s (preloaded into aether)",
				       info->name ? info->name : info->filename);
	else
		p->path = ae_xstrdup(info && info->filename ? info->filename
							    : path);
	p->name = ae_xstrdup(d->name);
	*out = p;
	return 0;
fail:
	lt_dlclose(h);
	ltdl_down();
	return rc;
}

int ae_plugin_load_file(const char *path, struct ae_plugin **out, char *err,
			size_t errlen)
{
	return open_file(path, 0, out, err, errlen);
}

static int file_exists(const char *dir, const char *name, const char *ext)
{
	char buf[PATH_MAX];
	struct stat st;

	if (snprintf(buf, sizeof buf, "%s/%s%s", dir, name, ext) >= (int)sizeof buf)
		return 0;
	return stat(buf, &st) == 0 && S_ISREG(st.st_mode);
}

/* The module must call itself what it was asked for. */
static int check_name(const char *name, struct ae_plugin **out, char *err,
		      size_t errlen)
{
	int rc;

	if (!strcmp((*out)->desc->name, name))
		return 0;
	rc = ae_seterr(err, errlen, EPROTO,
		       "%s: file is named '%s' but the plugin calls itself "
		       "'%s'", (*out)->path, name, (*out)->desc->name);
	ae_plugin_unload(*out);
	*out = NULL;
	return rc;
}

int ae_plugin_load(const char *name, const char *plugin_dir,
		   struct ae_plugin **out, char *err, size_t errlen)
{
	char *path, *save = NULL, *dir;
	char full[PATH_MAX];
	int rc = 0;

	if (!ae_valid_backend_name(name))
		return ae_seterr(err, errlen, EINVAL,
				 "invalid backend name '%s' (want [a-z0-9_], "
				 "1-31 characters)", name);
	path = ae_plugin_search_path(plugin_dir);
	for (dir = strtok_r(path, ":", &save); dir;
	     dir = strtok_r(NULL, ":", &save)) {
		if (!file_exists(dir, name, ".la") &&
		    !file_exists(dir, name, ".so"))
			continue;
		snprintf(full, sizeof full, "%s/%s", dir, name);
		rc = open_file(full, 0, out, err, errlen);
		if (rc == 0)
			rc = check_name(name, out, err, errlen);
		free(path);
		return rc;
	}
	free(path);
#ifdef AE_PRELOADED_PLUGINS
	/* A static aether: the built-in plugins are linked in and preloaded
	 * (libtool -dlpreopen); a file on the path takes precedence. */
	if (open_file(name, 1, out, err, errlen) == 0)
		return check_name(name, out, err, errlen);
#endif
	path = ae_plugin_search_path(plugin_dir);
	rc = ae_seterr(err, errlen, ENOENT,
		       "backend '%s' not found: no %s.so or %s.la in %s "
		       "(see `aether plugins`)",
		       name, name, name, path);
	free(path);
	return rc;
}

void ae_plugin_unload(struct ae_plugin *p)
{
	if (!p)
		return;
	lt_dlclose((lt_dlhandle)p->handle);
	ltdl_down();
	free(p->path);
	free(p->name);
	free(p);
}

struct found {
	char *name, *path;
};

/* Add name to the list unless it is there already (first one wins). */
static void add_found(struct found **f, size_t *n, char *name, char *path)
{
	size_t j;

	for (j = 0; j < *n && strcmp((*f)[j].name, name); j++)
		;
	if (j < *n) {
		free(name);
		free(path);
		return;
	}
	*f = ae_xrealloc(*f, (*n + 1) * sizeof **f);
	(*f)[*n].name = name;
	(*f)[*n].path = path;
	(*n)++;
}

#ifdef AE_PRELOADED_PLUGINS
/* lt_dlpreload_open's callback has no context argument. */
static struct found **preload_f;
static size_t *preload_n;

static int add_preloaded(lt_dlhandle h)
{
	const lt_dlinfo *info = lt_dlgetinfo(h);

	if (info && info->name && ae_valid_backend_name(info->name))
		add_found(preload_f, preload_n, ae_xstrdup(info->name),
			  ae_xasprintf("%s (preloaded)", info->name));
	lt_dlclose(h);
	return 0;
}
#endif

static int cmp_found(const void *a, const void *b)
{
	return strcmp(((const struct found *)a)->name,
		      ((const struct found *)b)->name);
}

void ae_plugin_foreach(const char *plugin_dir, ae_plugin_visit_fn fn, void *ctx)
{
	char *path = ae_plugin_search_path(plugin_dir), *save = NULL, *dir;
	struct found *f = NULL;
	size_t n = 0, i;

	for (dir = strtok_r(path, ":", &save); dir;
	     dir = strtok_r(NULL, ":", &save)) {
		DIR *d = opendir(dir);
		struct dirent *e;

		if (!d)
			continue;
		while ((e = readdir(d))) {
			size_t len = strlen(e->d_name);
			char *base;

			if (len > 3 && (!strcmp(e->d_name + len - 3, ".la") ||
					!strcmp(e->d_name + len - 3, ".so")))
				base = strndup(e->d_name, len - 3);
			else
				continue;
			if (!base || !ae_valid_backend_name(base)) {
				free(base);
				continue;
			}
			add_found(&f, &n, base, ae_xasprintf("%s/%s", dir, base));
		}
		closedir(d);
	}
#ifdef AE_PRELOADED_PLUGINS
	if (ltdl_up(NULL, 0) == 0) {
		preload_f = &f;
		preload_n = &n;
		lt_dlpreload_open(NULL, add_preloaded);
		ltdl_down();
	}
#endif
	qsort(f, n, sizeof *f, cmp_found);
	for (i = 0; i < n; i++) {
		fn(f[i].name, f[i].path, ctx);
		free(f[i].name);
		free(f[i].path);
	}
	free(f);
	free(path);
}
