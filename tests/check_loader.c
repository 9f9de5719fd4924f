/* check_loader.c - loading plugins (loader.c) against the fixture plugins
 * in tests/fixtures, descriptor validation, and an initialised instance
 * (instance.c) driven through every verb.
 *
 * Every refusal must name the file and the reason; a bad plugin must never
 * crash the host (fork mode turns a crash into a failed test, not a dead
 * suite). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check-main.h"
#include "instance.h"
#include "loader.h"

static char err[1024];
static const char *fixdir;
static const char *real_plugin_path; /* AETHER_PLUGIN_PATH at start */

static void setup(void)
{
	ck_tmp_setup();
	/* Keep plugin runtime dirs out of /run. */
	setenv("AETHER_RUNTIME_DIR", ck_path("run"), 1);
	err[0] = '\0';
	ae_log_level = 3;
}

static void teardown(void)
{
	ck_tmp_teardown();
}

/* dir/name, the form ae_plugin_load_file takes (libltdl finds .la). */
static const char *fixture(const char *name)
{
	static char buf[8][1024];
	static unsigned next;
	char *p = buf[next++ % 8];

	snprintf(p, sizeof buf[0], "%s/%s", fixdir, name);
	return p;
}

/* Loading fixture `name` by file must fail with -code (0: any) and a
 * message naming the file and saying `reason`. */
static void refused(const char *name, int code, const char *reason)
{
	struct ae_plugin *p = NULL;
	int rc = ae_plugin_load_file(fixture(name), &p, err, sizeof err);

	ck_assert_msg(rc < 0, "%s: loaded, expected \"%s\"", name, reason);
	if (code)
		ck_assert_int_eq(rc, -code);
	ck_assert_ptr_null(p);
	ck_assert_err_has(err, fixdir); /* the file ... */
	ck_assert_err_has(err, name);
	ck_assert_err_has(err, reason); /* ... and why */
}

/* ------------------------------------------------------------------ */

START_TEST(load_good)
{
	struct ae_plugin *p = NULL;
	const struct aether_plugin *d;
	int rc;

	rc = ae_plugin_load_file(fixture("good"), &p, err, sizeof err);
	ck_assert_msg(rc == 0, "%s", err);
	ck_assert_ptr_nonnull(p);
	d = p->desc;
	ck_assert_str_eq(p->name, "good");
	ck_assert_msg(strstr(p->path, fixdir) && strstr(p->path, "good"),
		      "path %s", p->path);
	ck_assert_uint_eq(d->magic, AETHER_PLUGIN_MAGIC);
	ck_assert_uint_eq(d->abi_major, AETHER_ABI_MAJOR);
	ck_assert_uint_eq(d->struct_size, sizeof(struct aether_plugin));
	ck_assert_str_eq(d->name, "good");
	ck_assert_str_eq(d->version, "1.0-fixture");
	ck_assert(d->caps & AETHER_CAP_ATTACH_USER);
	ck_assert_ptr_nonnull(d->options);
	ck_assert_str_eq(d->options[0].key, "mode");
	ae_plugin_unload(p);
	ae_plugin_unload(NULL);
}
END_TEST

START_TEST(load_good_by_name)
{
	struct ae_plugin *p = NULL, *q = NULL;
	int rc;

	rc = ae_plugin_load("good", fixdir, &p, err, sizeof err);
	ck_assert_msg(rc == 0, "%s", err);
	ck_assert_str_eq(p->name, "good");
	ck_assert_str_eq(p->desc->name, "good");
	/* Twice at once: libltdl reference counts the module. */
	rc = ae_plugin_load("good", fixdir, &q, err, sizeof err);
	ck_assert_msg(rc == 0, "%s", err);
	ck_assert_ptr_eq(p->desc, q->desc);
	ae_plugin_unload(p);
	ck_assert_str_eq(q->desc->name, "good"); /* still mapped */
	ae_plugin_unload(q);
}
END_TEST

START_TEST(refuse_wrong_major)
{
	refused("wrongmajor", EPROTO, "built for plugin ABI 2.");
	refused("wrongmajor", EPROTO, ", this aether speaks ABI 1.x: rebuild "
				      "the plugin");
}
END_TEST

START_TEST(refuse_too_small)
{
	refused("toosmall", EPROTO, "descriptor is 16 bytes, ABI 1.");
	refused("toosmall", EPROTO, " needs at least");
}
END_TEST

START_TEST(refuse_short_symbol)
{
	refused("shortsym", EPROTO, "descriptor symbol is 16 bytes but claims");
}
END_TEST

START_TEST(refuse_missing_symbol)
{
	refused("nosymbol", ENOEXEC, "no 'aether_plugin' symbol");
	ck_assert_err_has(err, "not an aether plugin");
}
END_TEST

START_TEST(refuse_unknown_cap)
{
	refused("unknowncap", EPROTO, "needs capabilities unknown to this "
				      "aether (bits 0x10000000000)");
}
END_TEST

START_TEST(refuse_reserved)
{
	refused("reserved", EPROTO, "reserved field reserved[1] is not zero");
}
END_TEST

START_TEST(refuse_bad_magic)
{
	refused("badmagic", EPROTO, "not an aether plugin (bad magic "
				    "0x48544541)");
}
END_TEST

START_TEST(refuse_bad_default)
{
	refused("baddefault", EINVAL, "option 'port' has a bad default: "
				      "'seventy' is not an integer");
}
END_TEST

START_TEST(refuse_name_mismatch)
{
	struct ae_plugin *p = NULL;
	int rc;

	rc = ae_plugin_load("mismatch", fixdir, &p, err, sizeof err);
	ck_assert_int_eq(rc, -EPROTO);
	ck_assert_ptr_null(p);
	ck_assert_err_has(err, fixdir);
	ck_assert_err_has(err, "file is named 'mismatch' but the plugin "
			       "calls itself 'other'");
	/* As an explicit file it loads (the name is not checked there). */
	rc = ae_plugin_load_file(fixture("mismatch"), &p, err, sizeof err);
	ck_assert_msg(rc == 0, "%s", err);
	ck_assert_str_eq(p->desc->name, "other");
	ae_plugin_unload(p);
}
END_TEST

START_TEST(init_failure)
{
	struct ae_instance *inst = NULL;
	int rc;

	rc = ae_instance_open("initfail", fixdir, NULL, &inst, err, sizeof err);
	ck_assert_int_eq(rc, -EIO);
	ck_assert_ptr_null(inst);
	ck_assert_err_has(err, fixdir);
	ck_assert_err_has(err, "initfail");
	ck_assert_err_has(err, "init failed");
	ck_assert_err_has(err, strerror(EIO));

	rc = ae_instance_open("initpos", fixdir, NULL, &inst, err, sizeof err);
	ck_assert_int_eq(rc, -EPROTO);
	ck_assert_err_has(err, "initpos");
	ck_assert_err_has(err, "init returned 1 (want 0 or -errno)");
}
END_TEST

START_TEST(not_found)
{
	struct ae_plugin *p = NULL;
	int rc;

	unsetenv("AETHER_PLUGIN_PATH");
	rc = ae_plugin_load("absent", fixdir, &p, err, sizeof err);
	ck_assert_int_eq(rc, -ENOENT);
	ck_assert_err_has(err, "backend 'absent' not found: no absent.so or "
			       "absent.la in ");
	ck_assert_err_has(err, fixdir);
	ck_assert_err_has(err, AE_PLUGINDIR);

	rc = ae_plugin_load_file(fixture("absent"), &p, err, sizeof err);
	ck_assert_int_lt(rc, 0);
	ck_assert_err_has(err, fixture("absent"));
	ck_assert_err_has(err, "cannot load");
}
END_TEST

START_TEST(bad_backend_names)
{
	static const char *const bad[] = {
		"", "../fixtures/good", "Good", "good.la", "go-od", "/good",
		"abcdefghijklmnopqrstuvwxyz0123456", /* 33 */
	};
	struct ae_plugin *p = NULL;
	struct ae_instance *inst = NULL;
	size_t i;

	for (i = 0; i < AE_ARRAY_SIZE(bad); i++) {
		ck_assert_int_eq(ae_plugin_load(bad[i], fixdir, &p, err,
						sizeof err), -EINVAL);
		ck_assert_err_has(err, "invalid backend name");
		ck_assert_int_eq(ae_instance_open(bad[i], fixdir, NULL, &inst,
						  err, sizeof err), -EINVAL);
	}
}
END_TEST

/* Files that are not plugins at all, next to each other in a directory. */
START_TEST(garbage_files)
{
	static const char *const names[] = {"junk", "empty", "text", "badla",
					    "libm", "dangling"};
	char buf[4096];
	struct ae_plugin *p = NULL;
	size_t i;
	int fd, rc;

	fd = open("/dev/urandom", O_RDONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(read(fd, buf, sizeof buf), (ssize_t)sizeof buf);
	close(fd);
	memcpy(buf, "\177ELF", 4); /* an ELF magic with garbage behind it */
	ck_write_len("junk.so", buf, sizeof buf);
	ck_write("empty.so", "");
	ck_write("text.so", "#!/bin/sh\necho not a library\n");
	ck_write("badla.la", "# not really libtool\ndlname='\nlibrary_names=\n"
			     "libdir='\ninstalled=maybe\n");
	/* A real shared library that is no plugin. */
	ck_writef("libm.la",
		  "# libm.la - a libtool library file\n"
		  "dlname='libm.so.6'\nlibrary_names='libm.so.6'\n"
		  "old_library=''\ndependency_libs=''\ninstalled=yes\n"
		  "shouldnotlink=yes\nlibdir='%s'\n",
		  access("/lib/x86_64-linux-gnu/libm.so.6", F_OK) == 0
			  ? "/lib/x86_64-linux-gnu"
			  : "/lib64");
	ck_write("dangling.la", "dlname='dangling.so'\ninstalled=no\n"
				"libdir='/nowhere'\n");
	for (i = 0; i < AE_ARRAY_SIZE(names); i++) {
		rc = ae_plugin_load_file(ck_path(names[i]), &p, err, sizeof err);
		ck_assert_msg(rc < 0, "%s loaded", names[i]);
		ck_assert_ptr_null(p);
		ck_assert_msg(err[0] != '\0', "%s: no message", names[i]);
		ck_assert_err_has(err, names[i]);
		/* And by name, from that directory. */
		rc = ae_plugin_load(names[i], ck_tmpdir, &p, err, sizeof err);
		ck_assert_msg(rc < 0, "%s loaded by name", names[i]);
		ck_assert_err_has(err, names[i]);
	}
	/* The libm one fails for the right reason (when libm is where the
	 * .la says). */
	if (access("/lib/x86_64-linux-gnu/libm.so.6", F_OK) == 0 ||
	    access("/lib64/libm.so.6", F_OK) == 0) {
		rc = ae_plugin_load_file(ck_path("libm"), &p, err, sizeof err);
		ck_assert_int_eq(rc, -ENOEXEC);
		ck_assert_err_has(err, "no 'aether_plugin' symbol");
	}
}
END_TEST

/* Every bad fixture through every entry point: never a crash (fork mode
 * reports a signal as a failure), always an error and a message. */
START_TEST(bad_plugins_never_crash)
{
	static const char *const bad[] = {
		"wrongmajor", "toosmall", "nosymbol", "unknowncap", "reserved",
		"badmagic", "baddefault", "mismatch", "initfail", "initpos", "shortsym",
	};
	struct ae_plugin *p;
	struct ae_instance *inst;
	size_t i;
	int round, rc;

	for (round = 0; round < 3; round++)
		for (i = 0; i < AE_ARRAY_SIZE(bad); i++) {
			p = NULL;
			rc = ae_plugin_load(bad[i], fixdir, &p, err, sizeof err);
			if (rc == 0) {
				/* initfail/initpos load; they fail in init */
				ck_assert_ptr_nonnull(p);
				ae_plugin_unload(p);
			} else {
				ck_assert_ptr_null(p);
				ck_assert_err_has(err, bad[i]);
			}
			inst = NULL;
			err[0] = '\0';
			rc = ae_instance_open_text(bad[i], fixdir, "", "t", &inst,
						   err, sizeof err);
			ck_assert_msg(rc < 0, "%s: instance opened", bad[i]);
			ck_assert_ptr_null(inst);
			ck_assert_err_has(err, bad[i]);
		}
}
END_TEST

/* ------------------------------------------------------------------ */
/* ae_plugin_validate on descriptors built in memory                  */

static int v_init(const struct aether_host *h, void **s)
{
	*s = NULL;
	return 0;
}
static int v_attach(void *s, const struct aether_vm *vm,
		    struct aether_attachment *a, void **as)
{
	return -ENOSYS;
}
static int v_detach(void *s, const struct aether_vm *vm, void *as)
{
	return 0;
}

static struct aether_plugin vdesc(void)
{
	struct aether_plugin d = {
		AETHER_PLUGIN_HEADER,
		.caps = AETHER_CAP_ATTACH_USER,
		.name = "mem",
		.version = "1",
		.description = "in memory",
		.init = v_init,
		.attach = v_attach,
		.detach = v_detach,
	};
	return d;
}

static void invalid(const struct aether_plugin *d, const char *reason)
{
	int rc = ae_plugin_validate(d, "/where/mem.so", err, sizeof err);

	ck_assert_msg(rc < 0, "accepted, expected \"%s\"", reason);
	ck_assert_err_has(err, "/where/mem.so: ");
	ck_assert_err_has(err, reason);
}

START_TEST(validate_descriptor)
{
	struct aether_plugin d = vdesc();

	ck_assert_int_eq(ae_plugin_validate(&d, "x", err, sizeof err), 0);
	d.caps = AETHER_CAP_KNOWN;
	ck_assert_int_eq(ae_plugin_validate(&d, "x", err, sizeof err), 0);
	/* A newer minor with a bigger descriptor is fine. */
	d.abi_minor = 7;
	d.struct_size = sizeof d + 64;
	ck_assert_int_eq(ae_plugin_validate(&d, "x", err, sizeof err), 0);

	d = vdesc();
	d.magic = 0;
	invalid(&d, "bad magic 0x00000000");
	d = vdesc();
	d.abi_major = 0;
	invalid(&d, "built for plugin ABI 0.");
	d = vdesc();
	d.struct_size = offsetof(struct aether_plugin, reserved) - 1;
	invalid(&d, "descriptor is");
	d = vdesc();
	d.reserved0 = 1;
	invalid(&d, "reserved field reserved0 is not zero");
	d = vdesc();
	d.reserved[3] = 1;
	invalid(&d, "reserved field reserved[3] is not zero");
	/* Reserved words past the plugin's struct_size are not its own. */
	d.struct_size = offsetof(struct aether_plugin, reserved[3]);
	ck_assert_int_eq(ae_plugin_validate(&d, "x", err, sizeof err), 0);
	d = vdesc();
	d.caps = 1ull << 9;
	invalid(&d, "needs capabilities unknown to this aether (bits 0x200)");
	d = vdesc();
	d.caps = 1ull << 63;
	invalid(&d, "bits 0x8000000000000000");
}
END_TEST

START_TEST(validate_names_and_verbs)
{
	static const char *const bad[] = {
		NULL, "", "Mem", "m-em", "m em", "m/em",
		"abcdefghijklmnopqrstuvwxyz012345", /* 32 */
	};
	struct aether_plugin d;
	size_t i;

	for (i = 0; i < AE_ARRAY_SIZE(bad); i++) {
		d = vdesc();
		d.name = bad[i];
		invalid(&d, "invalid plugin name");
	}
	d = vdesc();
	d.name = "abcdefghijklmnopqrstuvwxyz01234"; /* 31 */
	ck_assert_int_eq(ae_plugin_validate(&d, "x", err, sizeof err), 0);
	d = vdesc();
	d.version = NULL;
	invalid(&d, "version or description missing");
	d = vdesc();
	d.description = NULL;
	invalid(&d, "version or description missing");
	d = vdesc();
	d.init = NULL;
	invalid(&d, "required verb missing (init)");
	d = vdesc();
	d.attach = NULL;
	invalid(&d, "required verb missing (attach)");
	d = vdesc();
	d.detach = NULL;
	invalid(&d, "required verb missing (detach)");
	/* fini, check and gc are optional. */
	d = vdesc();
	ck_assert_ptr_null(d.fini);
	ck_assert_ptr_null(d.check);
	ck_assert_int_eq(ae_plugin_validate(&d, "x", err, sizeof err), 0);
}
END_TEST

/* Every verb of struct aether_plugin: the header says, in its verb
 * contracts, whether each is REQUIRED or optional; the loader must refuse
 * a descriptor without each REQUIRED verb and accept one without each
 * optional verb.  A verb appended to the descriptor must be listed here
 * and documented in the header, or this test fails. */
static const struct {
	const char *name;
	size_t offset;
} all_verbs[] = {
	{"init", offsetof(struct aether_plugin, init)},
	{"fini", offsetof(struct aether_plugin, fini)},
	{"attach", offsetof(struct aether_plugin, attach)},
	{"detach", offsetof(struct aether_plugin, detach)},
	{"check", offsetof(struct aether_plugin, check)},
	{"gc", offsetof(struct aether_plugin, gc)},
	{"addresses", offsetof(struct aether_plugin, addresses)},
	{"forward", offsetof(struct aether_plugin, forward)},
	{"gc_v2", offsetof(struct aether_plugin, gc_v2)},
	{"validate", offsetof(struct aether_plugin, validate)},
};

static void never_called(void)
{
	ck_abort_msg("a verb was called by ae_plugin_validate");
}

/* The header's word for verb `name`: 1 REQUIRED, 0 optional, -1 absent. */
static int header_says_required(const char *text, const char *name)
{
	char pat[64];
	const char *p = strstr(text, "Verb contracts"), *eol;

	ck_assert_ptr_nonnull(p);
	snprintf(pat, sizeof pat, "\n * %s(", name);
	p = strstr(p, pat);
	if (!p)
		return -1;
	eol = strchr(p + 1, '\n');
	ck_assert_ptr_nonnull(eol);
	if (memmem(p, (size_t)(eol - p), "REQUIRED", 8))
		return 1;
	if (memmem(p, (size_t)(eol - p), "optional", 8))
		return 0;
	return -1;
}

START_TEST(verbs_required_as_documented)
{
	const char *top = getenv("top_srcdir");
	char path[4096], *text = NULL;
	struct aether_plugin full, d;
	void (*fn)(void) = never_called;
	size_t i, n_required = 0, last_end = 0;

	ck_assert_msg(top && *top, "top_srcdir is not set (make check sets it)");
	snprintf(path, sizeof path, "%s/include/aether/plugin.h", top);
	ck_assert_int_eq(ae_read_file(path, &text, NULL, 1 << 20), 0);
	full = vdesc();
	for (i = 0; i < AE_ARRAY_SIZE(all_verbs); i++) {
		memcpy((char *)&full + all_verbs[i].offset, &fn, sizeof fn);
		if (all_verbs[i].offset + sizeof fn > last_end)
			last_end = all_verbs[i].offset + sizeof fn;
	}
	/* the table covers the descriptor up to its last member */
	ck_assert_uint_eq(last_end, sizeof(struct aether_plugin));
	ck_assert_int_eq(ae_plugin_validate(&full, "x", err, sizeof err), 0);
	for (i = 0; i < AE_ARRAY_SIZE(all_verbs); i++) {
		int req = header_says_required(text, all_verbs[i].name);
		char want[64];
		int rc;

		ck_assert_msg(req >= 0, "include/aether/plugin.h does not say "
					"whether verb %s is REQUIRED or optional",
			      all_verbs[i].name);
		d = full;
		memset((char *)&d + all_verbs[i].offset, 0, sizeof fn);
		rc = ae_plugin_validate(&d, "/where/mem.so", err, sizeof err);
		if (req) {
			n_required++;
			snprintf(want, sizeof want, "required verb missing (%s)",
				 all_verbs[i].name);
			ck_assert_msg(rc == -EPROTO, "%s is REQUIRED in the "
				      "header but the loader accepts a "
				      "descriptor without it",
				      all_verbs[i].name);
			ck_assert_err_has(err, want);
		} else {
			ck_assert_msg(rc == 0, "%s is optional in the header "
				      "but the loader refuses it: %s",
				      all_verbs[i].name, err);
		}
	}
	ck_assert_uint_eq(n_required, 3);
	free(text);
}
END_TEST

START_TEST(validate_option_tables)
{
	static const struct aether_option badkey[] = {
		{.key = "Port", .type = AETHER_OPT_INT}, {.key = NULL}};
	static const struct aether_option badtype0[] = {
		{.key = "port", .type = 0}, {.key = NULL}};
	static const struct aether_option badtype6[] = {
		{.key = "port", .type = 6}, {.key = NULL}};
	static const struct aether_option badflags[] = {
		{.key = "port", .type = AETHER_OPT_INT, .flags = 0x4},
		{.key = NULL}};
	static const struct aether_option twice[] = {
		{.key = "a", .type = AETHER_OPT_STRING},
		{.key = "b", .type = AETHER_OPT_STRING},
		{.key = "a", .type = AETHER_OPT_BOOL}, {.key = NULL}};
	static const struct aether_option def_range[] = {
		{.key = "n", .type = AETHER_OPT_INT, .def = "11", .min = 1,
		 .max = 10}, {.key = NULL}};
	static const struct aether_option def_bool[] = {
		{.key = "b", .type = AETHER_OPT_BOOL, .def = "maybe"},
		{.key = NULL}};
	static const struct aether_option def_path[] = {
		{.key = "p", .type = AETHER_OPT_PATH, .def = "rel/path"},
		{.key = NULL}};
	static const struct aether_option def_ifname[] = {
		{.key = "i", .type = AETHER_OPT_IFNAME, .def = "sixteen-chars-xx"},
		{.key = NULL}};
	static const struct aether_option good[] = {
		{.key = "n", .type = AETHER_OPT_INT, .def = "10", .min = 1,
		 .max = 10},
		{.key = "b", .type = AETHER_OPT_BOOL, .def = "on"},
		{.key = "p", .type = AETHER_OPT_PATH, .def = "/run/x"},
		{.key = "i", .type = AETHER_OPT_IFNAME, .def = "br0",
		 .flags = AETHER_OPTF_REQUIRED | AETHER_OPTF_REPEAT},
		{.key = "s", .type = AETHER_OPT_STRING}, {.key = NULL}};
	struct aether_plugin d = vdesc();

	d.options = good;
	ck_assert_int_eq(ae_plugin_validate(&d, "x", err, sizeof err), 0);
	d.options = badkey;
	invalid(&d, "option 0 has an invalid key 'Port'");
	d.options = badtype0;
	invalid(&d, "option 'port' has unknown type 0");
	d.options = badtype6;
	invalid(&d, "option 'port' has unknown type 6");
	d.options = badflags;
	invalid(&d, "option 'port' has unknown flags 0x4");
	d.options = twice;
	invalid(&d, "option 'a' is declared twice");
	d.options = def_range;
	invalid(&d, "option 'n' has a bad default: 11 is out of range 1..10");
	d.options = def_bool;
	invalid(&d, "option 'b' has a bad default: 'maybe' is not a boolean");
	d.options = def_path;
	invalid(&d, "option 'p' has a bad default");
	d.options = def_ifname;
	invalid(&d, "option 'i' has a bad default");
}
END_TEST

START_TEST(caps_format)
{
	char buf[256];

	ae_caps_format(0, buf, sizeof buf);
	ck_assert_str_eq(buf, "none");
	ae_caps_format(AETHER_CAP_ATTACH_TAP | AETHER_CAP_MULTIQUEUE, buf,
		       sizeof buf);
	ck_assert_str_eq(buf, "tap,multiqueue");
	ae_caps_format(AETHER_CAP_NEEDS_NET_ADMIN | (1ull << 40), buf,
		       sizeof buf);
	ck_assert_str_eq(buf, "needs-net-admin,bit40");
	/* A short buffer is cut, not overrun. */
	ae_caps_format(AETHER_CAP_KNOWN_1_0 | (1ull << 63), buf, 8);
	ck_assert_uint_lt(strlen(buf), 8);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Search path and listing                                            */

struct seen {
	char names[64][32];
	char paths[64][512];
	size_t n;
};

static void visit(const char *name, const char *path, void *ctx)
{
	struct seen *s = ctx;

	ck_assert_uint_lt(s->n, 64);
	ck_assert_msg(strstr(path, name) != NULL, "%s not in %s", name, path);
	snprintf(s->names[s->n], sizeof s->names[0], "%s", name);
	snprintf(s->paths[s->n++], sizeof s->paths[0], "%s", path);
}

START_TEST(search_and_foreach)
{
	static const char *const want[] = {
		"baddefault", "badmagic", "good", "initfail", "initpos",
		"mismatch", "nosymbol", "reserved", "toosmall", "unknowncap",
		"wrongmajor",
	};
	struct seen s = {.n = 0};
	char *sp;
	size_t i, j;

	setenv("AETHER_PLUGIN_PATH", "/env/a:/env/b", 1);
	sp = ae_plugin_search_path(fixdir);
	ck_assert_msg(!strncmp(sp, "/env/a:/env/b:", 14), "%s", sp);
	ck_assert_err_has(sp, fixdir);
	ck_assert_ptr_eq(strstr(sp, fixdir) + strlen(fixdir),
			 strstr(sp, ":" AE_PLUGINDIR));
	free(sp);
	unsetenv("AETHER_PLUGIN_PATH");
	sp = ae_plugin_search_path(NULL);
	ck_assert_str_eq(sp, AE_PLUGINDIR);
	free(sp);

	ae_plugin_foreach(fixdir, visit, &s);
	for (i = 1; i < s.n; i++)
		ck_assert_msg(strcmp(s.names[i - 1], s.names[i]) < 0,
			      "not sorted/unique: %s, %s", s.names[i - 1],
			      s.names[i]);
	for (i = 0; i < AE_ARRAY_SIZE(want); i++) {
		for (j = 0; j < s.n && strcmp(s.names[j], want[i]); j++)
			;
		ck_assert_msg(j < s.n, "fixture %s not listed", want[i]);
	}
}
END_TEST

/* Copy the good fixture's shared object to ck_tmpdir/rel. */
static void copy_good(const char *rel)
{
	char src[1024], *buf = NULL;
	size_t len = 0;

	snprintf(src, sizeof src, "%s/.libs/good.so", fixdir);
	ck_assert_int_eq(ae_read_file(src, &buf, &len, 64 << 20), 0);
	ck_write_len(rel, buf, len);
	ck_assert_int_eq(chmod(ck_path(rel), 0644), 0);
	free(buf);
}

/* Whose code: a plugin file or directory that others can write, or that
 * another user owns, is refused with the file or directory named. */
START_TEST(refuse_untrusted)
{
	struct ae_plugin *p = NULL;
	char dir[512];

	ck_assert_int_eq(mkdir(ck_path("pl"), 0755), 0);
	ck_assert_int_eq(chmod(ck_tmpdir, 0755), 0);
	snprintf(dir, sizeof dir, "%s", ck_path("pl"));
	copy_good("pl/good.so");
	ck_assert_int_eq(ae_plugin_load("good", dir, &p, err, sizeof err), 0);
	ae_plugin_unload(p);
	p = NULL;

	ck_assert_int_eq(chmod(ck_path("pl/good.so"), 0666), 0);
	ck_assert_int_eq(ae_plugin_load("good", dir, &p, err, sizeof err),
			 -EPERM);
	ck_assert_ptr_null(p);
	ck_assert_err_has(err, ck_path("pl/good.so"));
	ck_assert_err_has(err, "refusing plugin file writable by others");
	ck_assert_int_eq(chmod(ck_path("pl/good.so"), 0664), 0);
	/* writable by our own group (or, as root, group root): fine */
	ck_assert_int_eq(ae_plugin_load_file(ck_path("pl/good"), &p, err,
					     sizeof err),
			 0);
	ae_plugin_unload(p);
	p = NULL;
	if (geteuid() == 0) {
		/* by another group: refused */
		ck_assert_int_eq(chown(ck_path("pl/good.so"), 0, 65534), 0);
		ck_assert_int_eq(ae_plugin_load_file(ck_path("pl/good"), &p,
						     err, sizeof err),
				 -EPERM);
		ck_assert_err_has(err, "writable by its group");
		ck_assert_int_eq(chown(ck_path("pl/good.so"), 0, 0), 0);
	}
	ck_assert_int_eq(chmod(ck_path("pl/good.so"), 0644), 0);

	ck_assert_int_eq(chmod(dir, 0777), 0);
	ck_assert_int_eq(ae_plugin_load("good", dir, &p, err, sizeof err),
			 -EPERM);
	ck_assert_err_has(err, dir);
	ck_assert_err_has(err, "refusing plugin directory writable by others");
	ck_assert_int_eq(chmod(dir, 01777), 0); /* sticky: still not */
	ck_assert_int_eq(ae_plugin_load("good", dir, &p, err, sizeof err),
			 -EPERM);
	ck_assert_int_eq(chmod(dir, 0755), 0);

	if (geteuid() == 0) {
		ck_assert_int_eq(chown(ck_path("pl/good.so"), 65534, 65534), 0);
		ck_assert_int_eq(ae_plugin_load("good", dir, &p, err,
						sizeof err),
				 -EPERM);
		ck_assert_err_has(err, ck_path("pl/good.so"));
		ck_assert_err_has(err, "owned by uid 65534");
		ck_assert_int_eq(chown(ck_path("pl/good.so"), 0, 0), 0);
		ck_assert_int_eq(chown(dir, 65534, 65534), 0);
		ck_assert_int_eq(ae_plugin_load("good", dir, &p, err,
						sizeof err),
				 -EPERM);
		ck_assert_err_has(err, "refusing plugin directory owned by uid");
		ck_assert_int_eq(chown(dir, 0, 0), 0);
	}

	/* through a libtool archive: the object it names is checked too */
	ck_assert_int_eq(mkdir(ck_path("la"), 0755), 0);
	ck_assert_int_eq(mkdir(ck_path("la/.libs"), 0755), 0);
	copy_good("la/.libs/good.so");
	ck_write("la/good.la", "dlname='good.so'\ninstalled=no\n"
			       "libdir='/nowhere'\n");
	ck_assert_int_eq(chmod(ck_path("la/good.la"), 0644), 0);
	ck_assert_int_eq(ae_plugin_load("good", ck_path("la"), &p, err,
					sizeof err),
			 0);
	ck_assert_err_has(p->path, "la/.libs/good.so");
	ae_plugin_unload(p);
	p = NULL;
	ck_assert_int_eq(chmod(ck_path("la/.libs/good.so"), 0666), 0);
	ck_assert_int_eq(ae_plugin_load("good", ck_path("la"), &p, err,
					sizeof err),
			 -EPERM);
	ck_assert_err_has(err, ck_path("la/.libs/good.so"));
	ck_assert_int_eq(chmod(ck_path("la/.libs/good.so"), 0644), 0);
	ck_assert_int_eq(chmod(ck_path("la/good.la"), 0666), 0);
	ck_assert_int_eq(ae_plugin_load("good", ck_path("la"), &p, err,
					sizeof err),
			 -EPERM);
	ck_assert_err_has(err, ck_path("la/good.la"));
}
END_TEST

/* --plugin-path takes the place of $AETHER_PLUGIN_PATH; as root the
 * aether program (strict) ignores the variable. */
START_TEST(caller_path)
{
	char *sp;

	setenv("AETHER_PLUGIN_PATH", "/env/a", 1);
	ae_plugin_set_path("/opt/one:/opt/two");
	sp = ae_plugin_search_path(NULL);
	ck_assert_str_eq(sp, "/opt/one:/opt/two:" AE_PLUGINDIR);
	free(sp);
	ae_plugin_set_path(NULL);
	sp = ae_plugin_search_path(NULL);
	ck_assert_str_eq(sp, "/env/a:" AE_PLUGINDIR);
	free(sp);
	ae_env_set_root_strict(1);
	sp = ae_plugin_search_path(NULL);
	if (geteuid() == 0)
		ck_assert_str_eq(sp, AE_PLUGINDIR);
	else
		ck_assert_str_eq(sp, "/env/a:" AE_PLUGINDIR);
	free(sp);
	ae_env_set_root_strict(0);
	unsetenv("AETHER_PLUGIN_PATH");
}
END_TEST

/* Is path in one of the directories of the ':' list dirs? */
static int in_dirs(const char *path, const char *dirs)
{
	char *copy = strdup(dirs), *save = NULL, *d;
	int found = 0;

	ck_assert_ptr_nonnull(copy);
	for (d = strtok_r(copy, ":", &save); d && !found;
	     d = strtok_r(NULL, ":", &save)) {
		size_t n = strlen(d);
		found = *d && !strncmp(path, d, n) && path[n] == '/';
	}
	free(copy);
	return found;
}

/* The real plugins on AETHER_PLUGIN_PATH (set by make check): every
 * plugin configure built (AE_EXPECT_PLUGINS, from tests/local.mk) is
 * found there, not in the installed directory, and loads under its
 * name; every plugin found loads and validates. */
#ifndef AE_EXPECT_PLUGINS
#error "AE_EXPECT_PLUGINS (the plugins configure builds) is set by tests/local.mk"
#endif
START_TEST(real_plugins_validate)
{
	static struct seen s;
	const char *env = real_plugin_path;
	char expect[] = AE_EXPECT_PLUGINS, *save = NULL, *name;
	size_t i, n_expect = 0;

	ck_assert_msg(env && *env, "AETHER_PLUGIN_PATH is not set: make check "
				   "sets it to the built plugins' directories");
	/* other cases change it (in their own forked child, unless
	 * CK_FORK=no) */
	setenv("AETHER_PLUGIN_PATH", env, 1);
	s.n = 0;
	ae_plugin_foreach(NULL, visit, &s);
	for (name = strtok_r(expect, " ", &save); name;
	     name = strtok_r(NULL, " ", &save)) {
		struct ae_plugin *p = NULL;
		int rc;

		n_expect++;
		for (i = 0; i < s.n && strcmp(s.names[i], name); i++)
			;
		ck_assert_msg(i < s.n, "plugin %s (built by configure) not "
				       "found in AETHER_PLUGIN_PATH=%s",
			      name, env);
		ck_assert_msg(in_dirs(s.paths[i], env),
			      "plugin %s found at %s, not in "
			      "AETHER_PLUGIN_PATH=%s",
			      name, s.paths[i], env);
		rc = ae_plugin_load(name, NULL, &p, err, sizeof err);
		ck_assert_msg(rc == 0, "%s: %s", name, err);
		ck_assert_str_eq(p->desc->name, name);
		ck_assert_msg(in_dirs(p->path, env),
			      "plugin %s loaded from %s, not from "
			      "AETHER_PLUGIN_PATH=%s",
			      name, p->path, env);
		ck_assert_uint_ne(p->desc->caps, 0);
		printf("plugin %s: %s\n", name, p->path);
		ae_plugin_unload(p);
	}
	ck_assert_uint_ge(s.n, n_expect);
	for (i = 0; i < s.n; i++) {
		struct ae_plugin *p = NULL;
		int rc = ae_plugin_load(s.names[i], NULL, &p, err, sizeof err);
		ck_assert_msg(rc == 0, "%s: %s", s.names[i], err);
		ck_assert_str_eq(p->desc->name, s.names[i]);
		ae_plugin_unload(p);
	}
}
END_TEST

/* ------------------------------------------------------------------ */
/* An instance of the good fixture, verb by verb                      */

static struct ae_instance *open_good(const char *opts)
{
	struct ae_instance *inst = NULL;
	int rc = ae_instance_open_text("good", fixdir, opts, "opts", &inst, err,
				       sizeof err);

	ck_assert_msg(rc == 0, "open: %d %s", rc, err);
	ck_assert_ptr_nonnull(inst);
	return inst;
}

/* The lowest free fd: the plugin's next open() will get it. */
static int next_fd(void)
{
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	close(fd);
	return fd;
}

static int fd_open(int fd)
{
	return fd >= 0 && fcntl(fd, F_GETFD) >= 0;
}

START_TEST(instance_user)
{
	struct ae_instance *inst = open_good("mode = user\nverbose = yes\n");
	struct aether_attachment att;
	struct aether_vm vm, other;
	void *as = NULL;
	struct stat st;

	ck_assert_str_eq(ae_instance_plugin(inst)->name, "good");
	/* The plugin's private runtime dir, under AETHER_RUNTIME_DIR. */
	ck_assert_str_eq(ae_instance_runtime_dir(inst),
			 ck_path("run/plugins/good"));
	ck_assert_int_eq(stat(ae_instance_runtime_dir(inst), &st), 0);
	ck_assert(S_ISDIR(st.st_mode));
	ck_assert_uint_eq(st.st_mode & 0777, 0700);

	ae_vm_init(&vm, "vm1", 3, ck_tmpdir);
	ck_assert_uint_eq(vm.struct_size, sizeof vm);
	ck_assert_uint_eq(vm.index, 3);
	ck_assert_int_eq(ae_instance_attach(inst, &vm, &att, &as), 0);
	ck_assert_ptr_nonnull(as);
	ck_assert_uint_eq(att.struct_size, sizeof att);
	ck_assert_uint_eq(att.kind, AETHER_ATTACH_USER);
	ck_assert_str_eq(att.user.hostname, "vm1");
	ck_assert_uint_eq(att.user.n_hostfwd, 2);
	ck_assert_str_eq(att.user.hostfwd[1], "udp::5353-:53");
	ck_assert_int_eq(att.stream.fd, -1);
	ck_assert_int_eq(att.tap.fds[0], -1);
	ck_assert_int_eq(ae_instance_check(inst, &vm, as), 0);
	ae_vm_init(&other, "vm2", 4, ck_tmpdir);
	ck_assert_int_eq(ae_instance_check(inst, &other, as), -ESTALE);
	ck_assert_int_eq(ae_instance_gc(inst, NULL, 0), -EBUSY);
	ck_assert_int_eq(ae_instance_gc(inst, &vm, 1), 0);
	ck_assert_int_eq(ae_instance_detach(inst, &vm, as), 0);
	ck_assert_int_eq(ae_instance_gc(inst, NULL, 0), 0);
	ae_instance_close(inst);
	ae_instance_close(NULL);
}
END_TEST

/* check, gc and addresses answering outside their contract (a positive
 * errno, more addresses than asked for): -EPROTO, as detach and forward. */
START_TEST(instance_positive_returns)
{
	struct ae_instance *inst = open_good("mode = positive\n");
	struct aether_attachment att;
	struct aether_addr out[2];
	struct aether_vm vm;
	void *as = NULL;

	ae_vm_init(&vm, "posvm", 0, ck_tmpdir);
	ck_assert_int_eq(ae_instance_attach(inst, &vm, &att, &as), 0);
	ck_assert_int_eq(ae_instance_check(inst, &vm, as), -EPROTO);
	ck_assert_int_eq(ae_instance_gc(inst, &vm, 1), -EPROTO);
	ck_assert_int_eq(ae_instance_gc(inst, NULL, 0), -EPROTO);
	ck_assert_int_eq(ae_instance_addresses(inst, &vm, as, out, 2), -EPROTO);
	ck_assert_int_eq(ae_instance_addresses(inst, &vm, as, out, 0), -EPROTO);
	ck_assert_int_eq(ae_instance_detach(inst, &vm, as), 0);
	ae_instance_close(inst);

	/* The same verbs within their contract, from the same plugin. */
	inst = open_good("mode = user\n");
	ck_assert_int_eq(ae_instance_attach(inst, &vm, &att, &as), 0);
	ck_assert_int_eq(ae_instance_check(inst, &vm, as), 0);
	ck_assert_int_eq(ae_instance_gc(inst, &vm, 1), 0);
	ck_assert_int_eq(ae_instance_addresses(inst, &vm, as, out, 2), 1);
	ck_assert_int_eq(out[0].addr[3], 1);
	ck_assert_int_eq(ae_instance_addresses(inst, &vm, as, out, 0), 0);
	ck_assert_int_eq(ae_instance_detach(inst, &vm, as), 0);
	ae_instance_close(inst);
}
END_TEST

START_TEST(instance_fds)
{
	struct ae_instance *inst = open_good("mode = tap\ncount = 3\n");
	struct aether_attachment att;
	struct aether_vm vm;
	void *as = NULL;
	int fds[3];
	unsigned i;

	ae_vm_init(&vm, "tapvm", 0, ck_tmpdir);
	ck_assert_int_eq(ae_instance_attach(inst, &vm, &att, &as), 0);
	ck_assert_uint_eq(att.kind, AETHER_ATTACH_TAP);
	ck_assert_uint_eq(att.tap.queues, 3);
	for (i = 0; i < 3; i++) {
		fds[i] = att.tap.fds[i];
		ck_assert(fd_open(fds[i]));
		ck_assert_int_eq(att.tap.vhostfds[i], -1);
	}
	ck_assert_int_eq(att.tap.fds[3], -1);
	/* The host owns the fds: closing them is its job. */
	ae_attachment_close_fds(&att);
	for (i = 0; i < 3; i++) {
		ck_assert(!fd_open(fds[i]));
		ck_assert_int_eq(att.tap.fds[i], -1);
	}
	ck_assert_int_eq(ae_instance_detach(inst, &vm, as), 0);
	ae_instance_close(inst);

	inst = open_good("mode = stream\n");
	ck_assert_int_eq(ae_instance_attach(inst, &vm, &att, &as), 0);
	ck_assert_uint_eq(att.kind, AETHER_ATTACH_STREAM);
	fds[0] = att.stream.fd;
	ck_assert(fd_open(fds[0]));
	ae_attachment_close_fds(&att);
	ck_assert(!fd_open(fds[0]));
	ck_assert_int_eq(att.stream.fd, -1);
	ck_assert_int_eq(ae_instance_detach(inst, &vm, as), 0);
	ae_instance_close(inst);
}
END_TEST

/* attach fails with an fd left in the attachment: the host closes it. */
START_TEST(instance_attach_failure)
{
	struct ae_instance *inst = open_good("mode = fail\n");
	struct aether_attachment att;
	struct aether_vm vm;
	void *as = (void *)1;
	int probe;

	ae_vm_init(&vm, "failvm", 0, ck_tmpdir);
	probe = next_fd();
	ck_assert_int_eq(ae_instance_attach(inst, &vm, &att, &as), -EADDRINUSE);
	ck_assert_ptr_null(as);
	ck_assert_int_eq(att.stream.fd, -1);
	ck_assert_msg(!fd_open(probe), "fd %d left open", probe);
	ae_instance_close(inst);
}
END_TEST

/* An unknown attachment kind: refused, detached, fds closed. */
START_TEST(instance_bogus_kind)
{
	struct ae_instance *inst = open_good("mode = bogus\n");
	struct aether_attachment att;
	struct aether_vm vm;
	void *as = NULL;
	int probe;

	ae_vm_init(&vm, "bogusvm", 0, ck_tmpdir);
	probe = next_fd();
	ck_assert_int_eq(ae_instance_attach(inst, &vm, &att, &as), -EPROTO);
	ck_assert_msg(!fd_open(probe), "fd %d left open", probe);
	/* detach was called: no attachment is left to gc. */
	ck_assert_int_eq(ae_instance_gc(inst, NULL, 0), 0);
	ae_instance_close(inst);
}
END_TEST

START_TEST(instance_option_errors)
{
	struct ae_instance *inst = NULL;
	int rc;

	/* ae_instance_open_text puts the options under a header line. */
	rc = ae_instance_open_text("good", fixdir, "count = 99\n", "opts",
				   &inst, err, sizeof err);
	ck_assert_int_eq(rc, -EINVAL);
	ck_assert_ptr_null(inst);
	ck_assert_err_has(err, "opts:2: count: 99 is out of range 1..16");
	rc = ae_instance_open_text("good", fixdir, "mode = user\ncolour = red\n",
				   "opts", &inst, err, sizeof err);
	ck_assert_int_eq(rc, -EINVAL);
	ck_assert_err_has(err, "opts:3: unknown key 'colour' for backend good "
			       "(known keys: mode, count, verbose, dir, "
			       "ifname, tag)");
	rc = ae_instance_open_text("good", fixdir, "dir = tmp\n", "opts", &inst,
				   err, sizeof err);
	ck_assert_err_has(err, "opts:2: dir: 'tmp' is not an absolute path");
	rc = ae_instance_open_text("good", fixdir, "verbose\n", "opts", &inst,
				   err, sizeof err);
	ck_assert_int_eq(rc, -EINVAL);
	ck_assert_err_has(err, "opts:2: syntax error");
	/* Repeatable keys. */
	inst = open_good("tag = a\ntag = b\nifname = br0\n");
	ae_instance_close(inst);
	/* A section from a parsed file keeps its own file and line. */
	{
		struct ae_ini *ini;
		const char *t = "[network.good]\n\nmode = user\nverbose = 2\n";
		ck_assert_int_eq(ae_ini_parse_text(t, strlen(t), "/etc/vm.conf",
						   &ini, err, sizeof err), 0);
		rc = ae_instance_open("good", fixdir,
				      ae_ini_find(ini, "network.good"), &inst,
				      err, sizeof err);
		ck_assert_int_eq(rc, -EINVAL);
		ck_assert_err_has(err, "/etc/vm.conf:4: verbose: '2' is not a "
				       "boolean");
		ae_ini_free(ini);
	}
}
END_TEST

/* The validate verb (1.2): run by ae_instance_open before init (and before
 * the runtime dir), and by ae_instance_check_options without init; the
 * first opt_error names file, line, section, key and value. */
START_TEST(instance_validate)
{
	struct ae_instance *inst = NULL;
	struct ae_plugin *p = NULL;
	struct ae_ini *ini;
	const char *t = "[network.good]\n# c\nmode = warp\ntag = a\n"
			"tag = b\n";
	struct stat st;
	int rc;

	ck_assert_int_eq(ae_ini_parse_text(t, strlen(t), "/etc/vm.conf", &ini,
					   err, sizeof err), 0);
	rc = ae_instance_open("good", fixdir, ae_ini_find(ini, "network.good"),
			      &inst, err, sizeof err);
	ck_assert_int_eq(rc, -EINVAL);
	ck_assert_ptr_null(inst);
	ck_assert_err_has(err, "/etc/vm.conf:3: [network.good] mode = warp: "
			       "not a mode of this fixture (and 1 more above)");
	/* refused before init made the plugin's runtime dir */
	ck_assert_int_ne(stat(ck_path("run/plugins/good"), &st), 0);

	/* check-config's path: no init, the plugin stays loaded */
	ck_assert_int_eq(ae_plugin_load("good", fixdir, &p, err, sizeof err), 0);
	err[0] = '\0';
	rc = ae_instance_check_options(p, "good",
				       ae_ini_find(ini, "network.good"), err,
				       sizeof err);
	ck_assert_int_eq(rc, -EINVAL);
	ck_assert_err_has(err, "/etc/vm.conf:3: [network.good] mode = warp: ");
	ck_assert_int_eq(ae_instance_check_options(p, "good", NULL, err,
						   sizeof err), 0);
	ck_assert_str_eq(p->desc->name, "good");
	ae_ini_free(ini);
	/* the table is checked first, as before: its error, not validate's */
	t = "[network.good]\nmode = warp\ncount = 99\n";
	ck_assert_int_eq(ae_ini_parse_text(t, strlen(t), "/etc/h.conf", &ini,
					   err, sizeof err), 0);
	rc = ae_instance_check_options(p, "good",
				       ae_ini_find(ini, "network.good"), err,
				       sizeof err);
	ck_assert_int_eq(rc, -EINVAL);
	ck_assert_err_has(err, "/etc/h.conf:3: count: 99 is out of range");
	ae_plugin_unload(p);
	ae_ini_free(ini);

	/* out of contract */
	rc = ae_instance_open_text("good", fixdir, "mode = validate_positive\n",
				   "opts", &inst, err, sizeof err);
	ck_assert_int_eq(rc, -EPROTO);
	ck_assert_err_has(err, "validate returned 3");
	rc = ae_instance_open_text("good", fixdir, "mode = validate_silent\n",
				   "opts", &inst, err, sizeof err);
	ck_assert_int_eq(rc, -EINVAL);
	ck_assert_err_has(err, "[network.good]: backend good refused its "
			       "options");
	rc = ae_instance_open_text("good", fixdir, "mode = validate_lies\n",
				   "opts", &inst, err, sizeof err);
	ck_assert_int_eq(rc, -EINVAL);
	ck_assert_err_has(err, "opts:2: [network.good] mode = validate_lies: "
			       "reported, but 0 returned");
	ck_assert_ptr_null(inst);

	/* validate again on an open instance */
	inst = open_good("mode = stream\n");
	ck_assert_int_eq(ae_instance_validate(inst, err, sizeof err), 0);
	ae_instance_close(inst);
}
END_TEST

/* The runtime root cannot be made: a message, no crash, no instance. */
START_TEST(instance_runtime_dir_error)
{
	struct ae_instance *inst = NULL;
	int rc;

	ck_write("file", "x");
	setenv("AETHER_RUNTIME_DIR", ck_path("file/run"), 1);
	rc = ae_instance_open("good", fixdir, NULL, &inst, err, sizeof err);
	ck_assert_int_lt(rc, 0);
	ck_assert_ptr_null(inst);
	ck_assert_err_has(err, ck_path("file/run"));
}
END_TEST

static Suite *loader_suite(void)
{
	Suite *s = suite_create("loader");
	TCase *tc;

	tc = tcase_create("fixtures");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, load_good);
	tcase_add_test(tc, load_good_by_name);
	tcase_add_test(tc, refuse_wrong_major);
	tcase_add_test(tc, refuse_too_small);
	tcase_add_test(tc, refuse_short_symbol);
	tcase_add_test(tc, refuse_missing_symbol);
	tcase_add_test(tc, refuse_unknown_cap);
	tcase_add_test(tc, refuse_reserved);
	tcase_add_test(tc, refuse_bad_magic);
	tcase_add_test(tc, refuse_bad_default);
	tcase_add_test(tc, refuse_name_mismatch);
	tcase_add_test(tc, init_failure);
	tcase_add_test(tc, not_found);
	tcase_add_test(tc, bad_backend_names);
	tcase_add_test(tc, garbage_files);
	tcase_add_test(tc, bad_plugins_never_crash);
	tcase_add_test(tc, search_and_foreach);
	tcase_add_test(tc, refuse_untrusted);
	tcase_add_test(tc, caller_path);
	tcase_add_test(tc, real_plugins_validate);
	suite_add_tcase(s, tc);

	tc = tcase_create("validate");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, validate_descriptor);
	tcase_add_test(tc, validate_names_and_verbs);
	tcase_add_test(tc, verbs_required_as_documented);
	tcase_add_test(tc, validate_option_tables);
	tcase_add_test(tc, caps_format);
	suite_add_tcase(s, tc);

	tc = tcase_create("instance");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, instance_user);
	tcase_add_test(tc, instance_positive_returns);
	tcase_add_test(tc, instance_fds);
	tcase_add_test(tc, instance_attach_failure);
	tcase_add_test(tc, instance_bogus_kind);
	tcase_add_test(tc, instance_option_errors);
	tcase_add_test(tc, instance_runtime_dir_error);
	tcase_add_test(tc, instance_validate);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	struct stat st;
	char *dir;

	/* make check always sets both: unset, nothing would be tested. */
	fixdir = getenv("AETHER_FIXTURE_PATH");
	if (!fixdir || !*fixdir) {
		fprintf(stderr, "check_loader: ERROR: AETHER_FIXTURE_PATH is not "
				"set (run through make check)\n");
		return 99;
	}
	real_plugin_path = getenv("AETHER_PLUGIN_PATH");
	if (!real_plugin_path || !*real_plugin_path) {
		fprintf(stderr, "check_loader: ERROR: AETHER_PLUGIN_PATH is not "
				"set (run through make check)\n");
		return 99;
	}
	real_plugin_path = strdup(real_plugin_path);
	/* ae_plugin_validate messages carry absolute paths; so must we. */
	dir = realpath(fixdir, NULL);
	if (!dir || stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		fprintf(stderr, "check_loader: fixture directory %s: %s\n",
			fixdir, strerror(errno));
		return 99;
	}
	fixdir = dir;
	return ck_run_suite(loader_suite());
}
