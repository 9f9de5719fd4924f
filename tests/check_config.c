/* check_config.c - the INI layer (conffile.c), the VM model (vmconf.c) and
 * plugin option tables (options.c): good files and every error path, each
 * with the file and line number it must report. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check-main.h"
#include "conffile.h"
#include "mac.h"
#include "options.h"
#include "vmconf.h"

static char err[1024];

static void setup(void)
{
	ck_tmp_setup();
	/* A kernel and an initrd for VM files to point at. */
	ck_write("vmlinuz", "not really a kernel\n");
	ck_write("initrd.img", "not really an initrd\n");
	err[0] = '\0';
	unsetenv("AETHER_CONFIG");
	ae_log_level = 3; /* keep warnings out of the test log */
}

static void teardown(void)
{
	ck_tmp_teardown();
}

/* ------------------------------------------------------------------ */
/* INI layer                                                          */

static struct ae_ini *parse_ok(const char *text)
{
	struct ae_ini *ini = NULL;
	int rc = ae_ini_parse_text(text, strlen(text), "t.conf", &ini, err,
				   sizeof err);

	ck_assert_msg(rc == 0, "parse failed: %d %s", rc, err);
	ck_assert_ptr_nonnull(ini);
	return ini;
}

static void parse_fails(const char *text, size_t len, const char *where,
			const char *what)
{
	struct ae_ini *ini = NULL;
	int rc = ae_ini_parse_text(text, len, "t.conf", &ini, err, sizeof err);

	ck_assert_int_eq(rc, -EINVAL);
	ck_assert_ptr_null(ini);
	ck_assert_err_has(err, where);
	ck_assert_err_has(err, what);
}

START_TEST(ini_lines_and_sections)
{
	struct ae_ini *ini = parse_ok("; comment\n"
				      "# another\n"
				      "\n"
				      "[vm]\n"
				      "name = demo\n"
				      "memory=128\n"
				      "\n"
				      "[empty]\n"
				      "[network]\n"
				      "backend = slirp\n");
	const struct ae_ini_section *s;
	const struct ae_ini_entry *e;

	ck_assert_str_eq(ini->file, "t.conf");
	ck_assert_uint_eq(ini->n_sections, 3);
	s = ae_ini_find(ini, "vm");
	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(s->line, 4);
	ck_assert_uint_eq(s->n_entries, 2);
	e = ae_ini_get(s, "name");
	ck_assert_str_eq(e->value, "demo");
	ck_assert_int_eq(e->line, 5);
	ck_assert_str_eq(e->file, "t.conf");
	e = ae_ini_get(s, "memory");
	ck_assert_str_eq(e->value, "128");
	ck_assert_int_eq(e->line, 6);
	/* An empty section is recorded with its header line. */
	s = ae_ini_find(ini, "empty");
	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(s->line, 8);
	ck_assert_uint_eq(s->n_entries, 0);
	s = ae_ini_find(ini, "network");
	ck_assert_int_eq(s->line, 9);
	ck_assert_int_eq(ae_ini_get(s, "backend")->line, 10);
	ck_assert_ptr_null(ae_ini_get(s, "nope"));
	ck_assert_ptr_null(ae_ini_find(ini, "nope"));
	ck_assert_ptr_null(ae_ini_find(NULL, "vm"));
	ck_assert_ptr_null(ae_ini_get(NULL, "vm"));
	ae_ini_free(ini);
	ae_ini_free(NULL);
}
END_TEST

START_TEST(ini_empty_text)
{
	struct ae_ini *ini = parse_ok("");

	ck_assert_uint_eq(ini->n_sections, 0);
	ae_ini_free(ini);
	ini = parse_ok("\n\n; only comments\n");
	ck_assert_uint_eq(ini->n_sections, 0);
	ae_ini_free(ini);
}
END_TEST

START_TEST(ini_continuation_joined)
{
	struct ae_ini *ini = parse_ok("[vm]\n"
				      "append = console=ttyS0\n"
				      "  quiet\n"
				      "\taether.tcp=10.0.2.2:1234\n"
				      "  ; an indented comment is skipped\n"
				      "  panic=1\n"
				      "name = x\n");
	const struct ae_ini_section *s = ae_ini_find(ini, "vm");
	const struct ae_ini_entry *e = ae_ini_get(s, "append");

	ck_assert_str_eq(e->value,
			 "console=ttyS0 quiet aether.tcp=10.0.2.2:1234 panic=1");
	ck_assert_int_eq(e->line, 2); /* the line of the key */
	ck_assert_uint_eq(s->n_entries, 2);
	ck_assert_int_eq(ae_ini_get(s, "name")->line, 7);
	ae_ini_free(ini);
}
END_TEST

/* An indented line that looks like a section header continues the value
 * (that is how inih reads it); it must not also open a section. */
START_TEST(ini_indented_bracket_is_continuation)
{
	struct ae_ini *ini = parse_ok("[vm]\n"
				      "append = a\n"
				      "  [b]\n");
	const struct ae_ini_section *s = ae_ini_find(ini, "vm");

	ck_assert_ptr_null(ae_ini_find(ini, "b"));
	ck_assert_uint_eq(ini->n_sections, 1);
	ck_assert_uint_eq(s->n_entries, 1);
	ck_assert_str_eq(ae_ini_get(s, "append")->value, "a [b]");
	ae_ini_free(ini);
}
END_TEST

START_TEST(ini_repeated_section_merges)
{
	struct ae_ini *ini = parse_ok("[vm]\na = 1\n[network]\nb = 2\n"
				      "[vm]\nc = 3\n");
	const struct ae_ini_section *s = ae_ini_find(ini, "vm");

	ck_assert_uint_eq(ini->n_sections, 2);
	ck_assert_uint_eq(s->n_entries, 2);
	ck_assert_int_eq(s->line, 1);
	ck_assert_int_eq(ae_ini_get(s, "c")->line, 6);
	ae_ini_free(ini);
}
END_TEST

START_TEST(ini_crlf_and_inline_comment)
{
	struct ae_ini *ini = parse_ok("[vm]\r\n"
				      "memory = 128 ; megabytes\r\n"
				      "name = demo\r\n");
	const struct ae_ini_section *s = ae_ini_find(ini, "vm");

	ck_assert_ptr_nonnull(s);
	ck_assert_str_eq(ae_ini_get(s, "memory")->value, "128");
	ck_assert_str_eq(ae_ini_get(s, "name")->value, "demo");
	ck_assert_int_eq(ae_ini_get(s, "name")->line, 3);
	ae_ini_free(ini);
}
END_TEST

/* A UTF-8 byte order mark is skipped and does not shift the header. */
START_TEST(ini_bom)
{
	struct ae_ini *ini = parse_ok("\xef\xbb\xbf[vm]\nname = x\n[empty]\n");
	const struct ae_ini_section *s = ae_ini_find(ini, "vm");

	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(s->line, 1);
	ck_assert_int_eq(ae_ini_get(s, "name")->line, 2);
	ck_assert_ptr_nonnull(ae_ini_find(ini, "empty"));
	ae_ini_free(ini);
}
END_TEST

START_TEST(ini_key_outside_section)
{
	const char *t = "; header comment\nname = demo\n[vm]\n";

	parse_fails(t, strlen(t), "t.conf:2: ",
		    "key 'name' outside of a [section]");
}
END_TEST

START_TEST(ini_syntax_error)
{
	const char *t1 = "[vm]\nname = demo\nthis line has no equals sign\n";
	const char *t2 = "[vm]\nname = demo\n\n[network\n";
	const char *t3 = "[vm]\nflag\n";

	parse_fails(t1, strlen(t1), "t.conf:3: ", "syntax error");
	parse_fails(t2, strlen(t2), "t.conf:4: ", "syntax error");
	parse_fails(t3, strlen(t3), "t.conf:2: ", "syntax error");
}
END_TEST

START_TEST(ini_line_too_long)
{
	char text[1024], ok[1024];
	struct ae_ini *ini;

	/* 198 characters plus the newline is the longest line inih takes. */
	snprintf(ok, sizeof ok, "[vm]\nappend = %0*d\n", 198 - 9, 7);
	ck_assert_uint_eq(strlen(ok), 5 + 198 + 1);
	ini = parse_ok(ok);
	ck_assert_uint_eq(strlen(ae_ini_get(ae_ini_find(ini, "vm"),
					    "append")->value), 198 - 9);
	ae_ini_free(ini);

	/* One more and it is refused, not silently cut. */
	snprintf(text, sizeof text, "[vm]\nname = a\nappend = %0*d\n",
		 199 - 9, 7);
	parse_fails(text, strlen(text), "t.conf:3: ", "line longer than");
	ck_assert_err_has(err, "continuation");
	/* Much longer, and on the last line without a newline. */
	snprintf(text, sizeof text, "[vm]\nappend = %0*d", 600, 7);
	parse_fails(text, strlen(text), "t.conf:2: ", "line longer than");
}
END_TEST

START_TEST(ini_nul_byte)
{
	static const char t[] = "[vm]\nname = a\0b\nmemory = 1\n";

	parse_fails(t, sizeof t - 1, "t.conf:2: ", "NUL byte");
}
END_TEST

/* Section names longer than inih keeps must not split a section in two
 * (header under the long name, keys under a truncated one). */
START_TEST(ini_long_section_name)
{
	char text[512], name[128];
	struct ae_ini *ini = NULL;
	int rc;

	/* 49 characters is the most inih keeps: fine. */
	memset(name, 'y', 49);
	name[49] = '\0';
	snprintf(text, sizeof text, "[%s]\nk = v\n", name);
	ini = parse_ok(text);
	ck_assert_uint_eq(ini->n_sections, 1);
	ck_assert_str_eq(ini->sections[0].name, name);
	ck_assert_ptr_nonnull(ae_ini_get(&ini->sections[0], "k"));
	ae_ini_free(ini);
	ini = NULL;

	memset(name, 'x', 80);
	name[80] = '\0';
	snprintf(text, sizeof text, "[%s]\nk = v\n", name);
	rc = ae_ini_parse_text(text, strlen(text), "t.conf", &ini, err,
			       sizeof err);
	if (rc == 0) {
		ck_assert_uint_eq(ini->n_sections, 1);
		ck_assert_ptr_nonnull(ae_ini_get(&ini->sections[0], "k"));
		ae_ini_free(ini);
	} else {
		ck_assert_err_has(err, "t.conf:1: ");
	}
}
END_TEST

/* Quoted values: what ae_ini_format_entry writes, the parser reads back
 * byte for byte, within the line limit and whatever inline comments do. */
static void roundtrip(const char *value)
{
	char *line = ae_ini_format_entry("append", value, err, sizeof err);
	char *text, *p;
	struct ae_ini *ini;
	const struct ae_ini_entry *e;
	size_t n;

	ck_assert_msg(line != NULL, "format failed: %s", err);
	for (p = line; *p; p += n + 1) {
		n = strcspn(p, "\n");
		ck_assert_msg(n <= 198, "a line of %zu characters", n);
	}
	text = ae_xasprintf("[vm]\n%s[network]\nbackend = x\n", line);
	ini = parse_ok(text);
	e = ae_ini_get(ae_ini_find(ini, "vm"), "append");
	ck_assert_ptr_nonnull(e);
	ck_assert_int_eq(e->line, 2);
	ck_assert_msg(!strcmp(e->value, value),
		      "read back '%s' from\n%s\nwanted '%s'", e->value, line,
		      value);
	ck_assert_str_eq(ae_ini_get(ae_ini_find(ini, "network"), "backend")
				 ->value, "x");
	ae_ini_free(ini);
	free(text);
	free(line);
}

START_TEST(ini_quoted_roundtrip)
{
	static const char *const values[] = {
		"console=ttyS0 quiet",
		"console=ttyS0 ;init=/bin/sh",
		"console=ttyS0\t;init=/bin/sh",
		"a;b #c ; d",
		"; starts with a comment",
		"# starts like a comment",
		"say \"hi\" to C:\\dir\\ and \\\"x\\\\",
		"\"quoted\"",
		"ends with a backslash\\",
		"  leading and trailing spaces  ",
		"\ttabs\t",
		" ",
		"x",
		"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\xa7 na\xc3\xafve",
		"not utf-8: \xff\xfe \xc3",
		"key = value",
		"[vm]",
		"\\;\\#\\\\",
	};
	char long_v[2100], mixed[3000];
	size_t i, o = 0;

	for (i = 0; i < sizeof values / sizeof *values; i++)
		roundtrip(values[i]);
	/* 2000 characters, a space every 7 (line breaks fall anywhere) */
	for (i = 0; i < 2000; i++)
		long_v[i] = i % 7 == 6 ? ' ' : (char)('a' + i % 26);
	long_v[2000] = '\0';
	roundtrip(long_v);
	/* long, with escapes and multibyte characters at every offset */
	while (o < 2900) {
		static const char *const bits[] = {"\xe2\x82\xac", ";", " ",
						   "\\", "\"", "#", "ab",
						   "\xf0\x9f\x90\xa7", " ;"};
		const char *b = bits[(o * 7 + o / 3) % 9];
		memcpy(mixed + o, b, strlen(b));
		o += strlen(b);
	}
	mixed[o] = '\0';
	roundtrip(mixed);
	/* a long value without any blank */
	memset(long_v, 'x', 2000);
	roundtrip(long_v);
	/* a long run of bytes that are not UTF-8 (continuation bytes) */
	memset(long_v, 0x80, 2000);
	roundtrip(long_v);
}
END_TEST

START_TEST(ini_quoted_refused)
{
	ck_assert_ptr_null(ae_ini_format_entry("append", "a\nb", err,
					       sizeof err));
	ck_assert_err_has(err, "contains a newline (0x0a)");
	ck_assert_ptr_null(ae_ini_format_entry("append", "a\rb", err,
					       sizeof err));
	ck_assert_err_has(err, "contains a control character (0x0d)");
}
END_TEST

START_TEST(ini_quoted_hand_written)
{
	static const char cut[] = "[vm]\nname = x\nappend = \"a ;b\"\n";
	const struct ae_ini_section *s;
	struct ae_ini *ini;

	/* " ;" inside quotes still starts a comment: the quote is left open */
	parse_fails(cut, sizeof cut - 1, "t.conf:3: ",
		    "append: quoted value has no closing quote");
	ini = parse_ok("[vm]\n"
		       "a = \"  x \\; y \" ; a comment\n"
		       "b = \"one \"\n"
		       "    \"two\\\\ \\\"three\\\" \\; \\#\"\n"
		       "c = not \"quoted\" at all\n"
		       "d = \"\"\n"
		       "e = \"x\"\"y\"\n"
		       "f = \"1 \\;\" ; one\n"
		       "  \" 2\" ; two\n"
		       "  ; a comment line\n"
		       "  \";3\"\n");
	s = ae_ini_find(ini, "vm");
	ck_assert_str_eq(ae_ini_get(s, "a")->value, "  x ; y ");
	ck_assert_str_eq(ae_ini_get(s, "b")->value, "one two\\ \"three\" ; #");
	ck_assert_int_eq(ae_ini_get(s, "b")->line, 3);
	ck_assert_str_eq(ae_ini_get(s, "c")->value, "not \"quoted\" at all");
	ck_assert_str_eq(ae_ini_get(s, "d")->value, "");
	ck_assert_str_eq(ae_ini_get(s, "e")->value, "xy");
	/* " ;" ends a continuation line's quoted strings like the first's */
	ck_assert_str_eq(ae_ini_get(s, "f")->value, "1 ; 2;3");
	ae_ini_free(ini);
	{
		static const char t1[] = "[vm]\n\nk = \"abc\n";
		static const char t2[] = "[vm]\nk = \"a\\nb\"\n";
		static const char t3[] = "[vm]\nk = \"a\" b\n";
		static const char t4[] = "[vm]\nk = \"a\\\n";
		parse_fails(t1, sizeof t1 - 1, "t.conf:3: ",
			    "k: quoted value has no closing quote");
		parse_fails(t2, sizeof t2 - 1, "t.conf:2: ",
			    "k: unknown escape '\\n'");
		parse_fails(t3, sizeof t3 - 1, "t.conf:2: ",
			    "k: text after the closing quote: 'b'");
		parse_fails(t4, sizeof t4 - 1, "t.conf:2: ",
			    "k: quoted value has no closing quote");
	}
}
END_TEST

START_TEST(ini_parse_file_errors)
{
	struct ae_ini *ini = NULL;
	const char *missing = ck_path("missing.conf");
	char *big;
	const char *p;
	int rc;

	rc = ae_ini_parse_file(missing, &ini, err, sizeof err);
	ck_assert_int_eq(rc, -ENOENT);
	ck_assert_err_has(err, missing);
	ck_assert_err_has(err, "No such file");

	big = malloc((1u << 20) + 16);
	memset(big, ';', (1u << 20) + 16);
	p = ck_write_len("big.conf", big, (1u << 20) + 16);
	free(big);
	rc = ae_ini_parse_file(p, &ini, err, sizeof err);
	ck_assert_int_eq(rc, -EFBIG);
	ck_assert_err_has(err, p);
	ck_assert_err_has(err, "larger than");

	p = ck_write("ok.conf", "[vm]\nname = a\n");
	rc = ae_ini_parse_file(p, &ini, err, sizeof err);
	ck_assert_int_eq(rc, 0);
	ck_assert_str_eq(ini->file, p);
	ck_assert_str_eq(ae_ini_get(ae_ini_find(ini, "vm"), "name")->file, p);
	ae_ini_free(ini);
}
END_TEST

/* ------------------------------------------------------------------ */
/* VM model                                                           */

/* Write vm.conf (and host.conf when host != NULL) and load them. */
static int load(const char *vm, const char *host, struct ae_vmconf **c)
{
	const char *vp = ck_write("vm.conf", vm);
	const char *hp = host ? ck_write("host.conf", host) : "none";

	*c = NULL;
	return ae_vmconf_load(vp, hp, c, err, sizeof err);
}

static struct ae_vmconf *load_ok(const char *vm, const char *host)
{
	struct ae_vmconf *c;
	int rc = load(vm, host, &c);

	ck_assert_msg(rc == 0, "load failed: %d %s", rc, err);
	ck_assert_ptr_nonnull(c);
	return c;
}

/* Loading must fail with "<dir>/<file>:<line>: " and `what` in err. */
static void load_fails(const char *vm, const char *host, const char *file,
		       int line, const char *what)
{
	struct ae_vmconf *c;
	char where[600];
	int rc = load(vm, host, &c);

	ck_assert_msg(rc < 0, "loading succeeded, expected \"%s\"", what);
	ck_assert_ptr_null(c);
	if (line > 0)
		snprintf(where, sizeof where, "%s:%d: ", ck_path(file), line);
	else
		snprintf(where, sizeof where, "%s: ", ck_path(file));
	ck_assert_err_has(err, where);
	ck_assert_err_has(err, what);
}

#define VM_HEAD "[vm]\nname = demo\nkernel = vmlinuz\n" /* lines 1-3 */

START_TEST(vm_minimal_defaults)
{
	struct ae_vmconf *c = load_ok(VM_HEAD, NULL);
	uint8_t mac[6];

	ck_assert_str_eq(c->name, "demo");
	ck_assert_str_eq(c->kernel, ck_path("vmlinuz"));
	ck_assert_ptr_null(c->initrd);
	ck_assert_ptr_null(c->append);
	ck_assert_ptr_null(c->disk);
	ck_assert_ptr_null(c->machine);
	ck_assert_uint_eq(c->memory_mb, 256);
	ck_assert_uint_eq(c->cpus, 1);
	ck_assert_int_eq(c->accel, AE_ACCEL_AUTO);
	ck_assert_str_eq(c->console, "stdout");
	ck_assert_str_eq(c->qemu, AE_DEFAULT_QEMU);
	ck_assert_int_eq(c->index, -1);
	ck_assert_int_eq(c->stop_timeout_s, 30);
	ck_assert_int_eq(c->reboot, 1);
	ck_assert_str_eq(c->backend, "slirp");
	ck_assert_str_eq(c->nic_model, "virtio-net-pci");
	ck_assert_str_eq(c->backend_section.name, "network.slirp");
	ck_assert_uint_eq(c->backend_section.n_entries, 0);
	ck_assert(!c->mac_set);
	ae_mac_derive("demo", 0, mac);
	ck_assert_mem_eq(c->mac, mac, 6);
	ck_assert_ptr_null(c->plugin_dir);
	ck_assert_ptr_null(c->runtime_dir);
	ae_vmconf_free(c);
	ae_vmconf_free(NULL);
}
END_TEST

START_TEST(vm_full)
{
	struct ae_vmconf *c;
	char text[4096];

	snprintf(text, sizeof text,
		 "[vm]\n"
		 "name = web-01.prod_x\n"
		 "memory = 1024\n"
		 "cpus = 4\n"
		 "accel = tcg\n"
		 "machine = q35\n"
		 "kernel = %s\n"
		 "initrd = initrd.img\n"
		 "append = console=ttyS0 quiet\n"
		 "   aether.hold=3\n"
		 "console = file:%s\n"
		 "mac = 52:54:00:AB:cd:0e\n"
		 "index = 7\n"
		 "qemu = /usr/bin/qemu-system-x86_64\n"
		 "stop_timeout = 5\n"
		 "[network]\n"
		 "backend = vde\n"
		 "model = e1000\n"
		 "[network.vde]\n"
		 "sock = /run/vde.ctl\n",
		 ck_path("vmlinuz"), ck_path("console.log"));
	c = load_ok(text, NULL);
	ck_assert_str_eq(c->name, "web-01.prod_x");
	ck_assert_uint_eq(c->memory_mb, 1024);
	ck_assert_uint_eq(c->cpus, 4);
	ck_assert_int_eq(c->accel, AE_ACCEL_TCG);
	ck_assert_str_eq(ae_accel_name(c->accel), "tcg");
	ck_assert_str_eq(c->machine, "q35");
	ck_assert_str_eq(c->kernel, ck_path("vmlinuz"));
	ck_assert_str_eq(c->initrd, ck_path("initrd.img"));
	ck_assert_str_eq(c->append, "console=ttyS0 quiet aether.hold=3");
	ck_assert_str_eq(c->console, ck_path("console.log"));
	ck_assert(c->mac_set);
	ck_assert_mem_eq(c->mac, "\x52\x54\x00\xab\xcd\x0e", 6);
	ck_assert_int_eq(c->index, 7);
	ck_assert_str_eq(c->qemu, "/usr/bin/qemu-system-x86_64");
	ck_assert_int_eq(c->stop_timeout_s, 5);
	ck_assert_str_eq(c->backend, "vde");
	ck_assert_str_eq(c->nic_model, "e1000");
	ck_assert_uint_eq(c->backend_section.n_entries, 1);
	ck_assert_str_eq(c->backend_section.entries[0].key, "sock");
	ck_assert_int_eq(c->backend_section.entries[0].line, 20);
	ae_vmconf_free(c);
}
END_TEST

START_TEST(vm_accel_values)
{
	static const struct {
		const char *v;
		enum ae_accel a;
	} t[] = {{"auto", AE_ACCEL_AUTO}, {"tcg", AE_ACCEL_TCG},
		 {"kvm", AE_ACCEL_KVM}};
	char text[256];
	size_t i;

	for (i = 0; i < AE_ARRAY_SIZE(t); i++) {
		struct ae_vmconf *c;
		snprintf(text, sizeof text, VM_HEAD "accel = %s\n", t[i].v);
		c = load_ok(text, NULL);
		ck_assert_int_eq(c->accel, t[i].a);
		ck_assert_str_eq(ae_accel_name(c->accel), t[i].v);
		ae_vmconf_free(c);
	}
	load_fails(VM_HEAD "accel = xen\n", NULL, "vm.conf", 4,
		   "accel: 'xen' is not one of auto, kvm, tcg");
	load_fails(VM_HEAD "accel = TCG\n", NULL, "vm.conf", 4, "accel: 'TCG'");
	load_fails(VM_HEAD "accel =\n", NULL, "vm.conf", 4, "accel: ''");
}
END_TEST


START_TEST(vm_switchable)
{
	struct ae_vmconf *c;

	c = load_ok(VM_HEAD, NULL);
	ck_assert_int_eq(c->switchable, 0);
	ae_vmconf_free(c);
	c = load_ok(VM_HEAD "switchable = yes\n", NULL);
	ck_assert_int_eq(c->switchable, 1);
	ae_vmconf_free(c);
	c = load_ok(VM_HEAD, "[vm]\nswitchable = yes\n");
	ck_assert_int_eq(c->switchable, 1);
	ae_vmconf_free(c);
	c = load_ok(VM_HEAD "switchable = no\n", "[vm]\nswitchable = yes\n");
	ck_assert_int_eq(c->switchable, 0);
	ae_vmconf_free(c);
	c = load_ok(VM_HEAD "switchable = yes\n[network]\nbackend = slirp\n"
			    "[network.slirp]\nmode = libslirp\n",
		    NULL);
	ck_assert_int_eq(c->switchable, 1);
	ae_vmconf_free(c);
	load_fails(VM_HEAD "switchable = maybe\n", NULL, "vm.conf", 4,
		   "switchable: 'maybe' is not a boolean");
	/* QEMU's built-in NAT cannot be relayed: the error names both */
	load_fails(VM_HEAD "switchable = yes\n[network]\nbackend = slirp\n"
			   "[network.slirp]\nmode = qemu\n",
		   NULL, "vm.conf", 8, "use mode = libslirp");
	load_fails(VM_HEAD "switchable = yes\n",
		   "[network.slirp]\nmode = qemu\n", "host.conf", 2,
		   "mode: qemu cannot be used with switchable = yes");
	c = load_ok(VM_HEAD, "[network.slirp]\nmode = qemu\n");
	ck_assert_int_eq(c->switchable, 0);
	ae_vmconf_free(c);
}
END_TEST

START_TEST(vm_reboot)
{
	struct ae_vmconf *c;

	c = load_ok(VM_HEAD "reboot = no\n", NULL);
	ck_assert_int_eq(c->reboot, 0);
	ae_vmconf_free(c);
	c = load_ok(VM_HEAD, "[vm]\nreboot = off\n");
	ck_assert_int_eq(c->reboot, 0);
	ae_vmconf_free(c);
	c = load_ok(VM_HEAD "reboot = yes\n", "[vm]\nreboot = off\n");
	ck_assert_int_eq(c->reboot, 1);
	ae_vmconf_free(c);
	load_fails(VM_HEAD "reboot = sometimes\n", NULL, "vm.conf", 4,
		   "reboot: 'sometimes' is not a boolean");
	load_fails(VM_HEAD, "[vm]\n\nreboot = 2\n", "host.conf", 3,
		   "reboot: '2' is not a boolean");
}
END_TEST

START_TEST(vm_relative_paths)
{
	struct ae_vmconf *c;
	char cwd[PATH_MAX];

	ck_assert_int_eq(mkdir(ck_path("boot"), 0755), 0);
	ck_assert_int_eq(mkdir(ck_path("logs"), 0755), 0);
	ck_write("boot/bzImage", "k");
	c = load_ok("[vm]\nname = r\nkernel = boot/bzImage\n"
		    "console = file:logs/console.log\n", NULL);
	ck_assert_str_eq(c->kernel, ck_path("boot/bzImage"));
	ck_assert_str_eq(c->console, ck_path("logs/console.log"));
	ae_vmconf_free(c);

	/* A VM file named by a relative path: relative to the cwd. */
	ck_assert_ptr_nonnull(getcwd(cwd, sizeof cwd));
	ck_assert_int_eq(chdir(ck_tmpdir), 0);
	ck_write("vm2.conf", "[vm]\nname = r\nkernel = vmlinuz\n");
	ck_assert_int_eq(ae_vmconf_load("vm2.conf", "none", &c, err,
					sizeof err), 0);
	ck_assert_msg(strstr(c->kernel, "/vmlinuz") && c->kernel[0] == '/',
		      "kernel %s", c->kernel);
	ae_vmconf_free(c);
	ck_assert_int_eq(chdir(cwd), 0);
}
END_TEST

START_TEST(vm_disk)
{
	struct ae_vmconf *c;

	ck_write("disk.qcow2", "q");
	ck_write("disk.img", "r");
	c = load_ok("[vm]\nname = d\ndisk = disk.qcow2\n", NULL);
	ck_assert_ptr_null(c->kernel);
	ck_assert_str_eq(c->disk, ck_path("disk.qcow2"));
	ck_assert_str_eq(c->disk_format, "qcow2");
	ae_vmconf_free(c);
	c = load_ok("[vm]\nname = d\ndisk = disk.img\n", NULL);
	ck_assert_str_eq(c->disk_format, "raw");
	ae_vmconf_free(c);
	c = load_ok("[vm]\nname = d\ndisk = disk.img\ndisk_format = qcow2\n",
		    NULL);
	ck_assert_str_eq(c->disk_format, "qcow2");
	ae_vmconf_free(c);
	load_fails("[vm]\nname = d\ndisk = disk.img\ndisk_format = vmdk\n",
		   NULL, "vm.conf", 4, "disk_format: 'vmdk' is not qcow2 or raw");
	load_fails("[vm]\nname = d\ndisk = nodisk.img\n", NULL, "vm.conf", 3,
		   "No such file or directory");
}
END_TEST

START_TEST(vm_unknown_section)
{
	load_fails(VM_HEAD "\n[vmm]\nmemory = 1\n", NULL, "vm.conf", 5,
		   "unknown section [vmm]");
	load_fails(VM_HEAD "[empty]\n", NULL, "vm.conf", 4,
		   "unknown section [empty]");
	/* [aether] belongs to the host config only. */
	load_fails(VM_HEAD "[aether]\nplugin_dir = /x\n", NULL, "vm.conf", 4,
		   "unknown section [aether]");
	load_fails(VM_HEAD, "[vms]\n", "host.conf", 1, "unknown section [vms]");
	load_fails(VM_HEAD "[network.Bad]\n", NULL, "vm.conf", 4,
		   "invalid backend name in section [network.Bad]");
	load_fails(VM_HEAD "[network.]\n", NULL, "vm.conf", 4,
		   "invalid backend name");
}
END_TEST

START_TEST(vm_unknown_key)
{
	load_fails(VM_HEAD "memroy = 128\n", NULL, "vm.conf", 4,
		   "unknown key 'memroy' in [vm]");
	load_fails(VM_HEAD "[network]\nbackend = slirp\nmodel = e1000\n"
		   "hostfwd = x\n", NULL, "vm.conf", 7,
		   "unknown key 'hostfwd' in [network]");
	/* VM-only keys in the host file. */
	load_fails(VM_HEAD, "[vm]\nmemory = 64\nname = host\n", "host.conf", 3,
		   "unknown key 'name' in [vm] (only a VM file may set it)");
	load_fails(VM_HEAD, "[vm]\nkernel = /boot/vmlinuz\n", "host.conf", 2,
		   "only a VM file may set it");
	load_fails(VM_HEAD, "[aether]\nplugins = /x\n", "host.conf", 2,
		   "unknown key 'plugins' in [aether]");
}
END_TEST

START_TEST(vm_duplicate_key)
{
	load_fails("[vm]\nname = demo\nmemory = 128\nkernel = vmlinuz\n"
		   "memory = 256\n", NULL, "vm.conf", 5,
		   "key 'memory' given twice in [vm] (first on line 3)");
	/* Also across two [vm] headers. */
	load_fails(VM_HEAD "[network]\nbackend = slirp\n[vm]\nname = again\n",
		   NULL, "vm.conf", 7,
		   "key 'name' given twice in [vm] (first on line 2)");
	load_fails(VM_HEAD, "[vm]\ncpus = 1\ncpus = 2\n", "host.conf", 3,
		   "key 'cpus' given twice");
}
END_TEST

START_TEST(vm_bad_integer)
{
	load_fails(VM_HEAD "memory = 12x\n", NULL, "vm.conf", 4,
		   "memory: '12x' is not an integer in 16..1048576");
	load_fails(VM_HEAD "memory = 0x100\n", NULL, "vm.conf", 4,
		   "memory: '0x100' is not an integer");
	load_fails(VM_HEAD "cpus = two\n", NULL, "vm.conf", 4,
		   "cpus: 'two' is not an integer in 1..255");
	load_fails(VM_HEAD "cpus =\n", NULL, "vm.conf", 4, "cpus: ''");
	load_fails(VM_HEAD "index = 1.5\n", NULL, "vm.conf", 4,
		   "index: '1.5' is not an integer");
	load_fails(VM_HEAD "memory = 99999999999999999999999\n", NULL,
		   "vm.conf", 4, "memory: '99999999999999999999999'");
	load_fails(VM_HEAD, "[vm]\nstop_timeout = soon\n", "host.conf", 2,
		   "stop_timeout: 'soon' is not an integer in 1..3600");
}
END_TEST

START_TEST(vm_out_of_range)
{
	struct ae_vmconf *c;

	load_fails(VM_HEAD "memory = 15\n", NULL, "vm.conf", 4,
		   "memory: '15' is not an integer in 16..1048576");
	load_fails(VM_HEAD "memory = 1048577\n", NULL, "vm.conf", 4,
		   "memory: '1048577'");
	load_fails(VM_HEAD "memory = -256\n", NULL, "vm.conf", 4,
		   "memory: '-256'");
	load_fails(VM_HEAD "cpus = 0\n", NULL, "vm.conf", 4,
		   "cpus: '0' is not an integer in 1..255");
	load_fails(VM_HEAD "cpus = 256\n", NULL, "vm.conf", 4, "cpus: '256'");
	load_fails(VM_HEAD "index = 65536\n", NULL, "vm.conf", 4,
		   "index: '65536' is not an integer in 0..65535");
	load_fails(VM_HEAD "index = -1\n", NULL, "vm.conf", 4, "index: '-1'");
	load_fails(VM_HEAD "stop_timeout = 0\n", NULL, "vm.conf", 4,
		   "stop_timeout: '0' is not an integer in 1..3600");
	/* The bounds themselves are fine. */
	c = load_ok(VM_HEAD "memory = 16\ncpus = 255\nindex = 65535\n"
		    "stop_timeout = 3600\n", NULL);
	ck_assert_uint_eq(c->memory_mb, 16);
	ck_assert_uint_eq(c->cpus, 255);
	ck_assert_int_eq(c->index, 65535);
	ae_vmconf_free(c);
	c = load_ok(VM_HEAD "memory = 1048576\nindex = 0\n", NULL);
	ck_assert_uint_eq(c->memory_mb, 1048576);
	ck_assert_int_eq(c->index, 0);
	ae_vmconf_free(c);
}
END_TEST

START_TEST(vm_bad_mac)
{
	static const char *const bad[] = {
		"01:00:5e:00:00:01", /* multicast */
		"ff:ff:ff:ff:ff:ff", /* broadcast */
		"00:00:00:00:00:00", /* zero */
		"52:54:00:12:34",    /* short */
		"52:54:00:12:34:567", "52-54-00-12-34-56", "52:54:00:12:34:5g",
		"5254.0012.3456", "", " 52:54:00:12:34:56x",
	};
	char text[256], what[128];
	size_t i;

	for (i = 0; i < AE_ARRAY_SIZE(bad); i++) {
		snprintf(text, sizeof text, VM_HEAD "mac = %s\n", bad[i]);
		snprintf(what, sizeof what, "mac: '%s' is not a unicast MAC",
			 bad[i][0] == ' ' ? bad[i] + 1 : bad[i]);
		load_fails(text, NULL, "vm.conf", 4, what);
	}
}
END_TEST

START_TEST(vm_explicit_mac)
{
	struct ae_vmconf *c;

	c = load_ok(VM_HEAD "mac = 02:00:00:00:00:01\n", NULL);
	ck_assert(c->mac_set);
	ck_assert_mem_eq(c->mac, "\x02\x00\x00\x00\x00\x01", 6);
	ae_vmconf_free(c);
	/* Globally administered: accepted (with a warning). */
	c = load_ok(VM_HEAD "mac = 00:16:3E:00:00:01\n", NULL);
	ck_assert_mem_eq(c->mac, "\x00\x16\x3e\x00\x00\x01", 6);
	ae_vmconf_free(c);
}
END_TEST

START_TEST(vm_bad_name)
{
	static const char *const bad[] = {
		"-leading-dash", ".hidden", "_under", "has space", "a/b",
		"a\\b", "caf\xc3\xa9", "semi;colon", "dollar$",
		/* 65 characters */
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	};
	char text[512], what[256];
	size_t i;
	struct ae_vmconf *c;

	for (i = 0; i < AE_ARRAY_SIZE(bad); i++) {
		snprintf(text, sizeof text, "[vm]\nkernel = vmlinuz\nname = %s\n",
			 bad[i]);
		snprintf(what, sizeof what,
			 "name: '%s' is not a valid VM name", bad[i]);
		load_fails(text, NULL, "vm.conf", 3, what);
	}
	load_fails("[vm]\nkernel = vmlinuz\nname =\n", NULL, "vm.conf", 3,
		   "is not a valid VM name");
	load_fails("[vm]\nkernel = vmlinuz\n", NULL, "vm.conf", 0,
		   "[vm] name is required");
	load_fails("", NULL, "vm.conf", 0, "[vm] name is required");
	/* 64 characters is the limit. */
	c = load_ok("[vm]\nkernel = vmlinuz\nname = "
		    "9aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		    "Z\n", NULL);
	ck_assert_uint_eq(strlen(c->name), 64);
	ae_vmconf_free(c);
}
END_TEST

START_TEST(vm_path_dotdot)
{
	load_fails("[vm]\nname = p\nkernel = /boot/../etc/passwd\n", NULL,
		   "vm.conf", 3, "kernel: '/boot/../etc/passwd' is not a usable "
				 "path");
	load_fails("[vm]\nname = p\nkernel = ../vmlinuz\n", NULL, "vm.conf", 3,
		   "kernel: '../vmlinuz' is not a usable path");
	load_fails("[vm]\nname = p\nkernel = sub/..\n", NULL, "vm.conf", 3,
		   "is not a usable path");
	load_fails(VM_HEAD "initrd = /tmp/../initrd.img\n", NULL, "vm.conf", 4,
		   "initrd: '/tmp/../initrd.img' is not a usable path");
	load_fails(VM_HEAD "console = file:/var/log/../../x.log\n", NULL,
		   "vm.conf", 4, "is not a usable path");
	load_fails(VM_HEAD "console = ../x.log\n", NULL, "vm.conf", 4,
		   "is not a usable path");
	load_fails("[vm]\nname = p\ndisk = ../disk.img\n", NULL, "vm.conf", 3,
		   "disk: '../disk.img' is not a usable path");
	load_fails(VM_HEAD, "[aether]\nplugin_dir = /usr/../lib\n", "host.conf",
		   2, "plugin_dir: '/usr/../lib' is not a usable path");
	load_fails(VM_HEAD, "[aether]\nruntime_dir = ../run\n", "host.conf", 2,
		   "runtime_dir: '../run' is not a usable path");
}
END_TEST

START_TEST(vm_dotdot_lookalikes_ok)
{
	struct ae_vmconf *c;

	ck_write("a..b", "k");
	ck_write("..k", "k");
	c = load_ok("[vm]\nname = p\nkernel = a..b\ninitrd = ..k\n", NULL);
	ck_assert_str_eq(c->kernel, ck_path("a..b"));
	ck_assert_str_eq(c->initrd, ck_path("..k"));
	ae_vmconf_free(c);
}
END_TEST

START_TEST(vm_missing_kernel)
{
	char text[512], what[512];

	snprintf(text, sizeof text, "[vm]\nname = k\nkernel = %s\n",
		 ck_path("nope/vmlinuz"));
	snprintf(what, sizeof what, "kernel: %s: No such file or directory",
		 ck_path("nope/vmlinuz"));
	load_fails(text, NULL, "vm.conf", 3, what);
	load_fails(VM_HEAD "initrd = missing.img\n", NULL, "vm.conf", 4,
		   "initrd: ");
	ck_assert_err_has(err, "No such file or directory");
	/* A directory is not a kernel. */
	ck_assert_int_eq(mkdir(ck_path("kdir"), 0755), 0);
	load_fails("[vm]\nname = k\nkernel = kdir\n", NULL, "vm.conf", 3,
		   "not a regular file");
}
END_TEST

START_TEST(vm_boot_requirements)
{
	load_fails("[vm]\nname = b\n", NULL, "vm.conf", 0,
		   "[vm] needs a disk or a kernel to boot");
	ck_write("disk.img", "r");
	load_fails("[vm]\nname = b\ndisk = disk.img\nappend = quiet\n", NULL,
		   "vm.conf", 4, "append needs kernel");
	load_fails("[vm]\nname = b\ndisk = disk.img\ninitrd = initrd.img\n",
		   NULL, "vm.conf", 0, "initrd needs kernel");
}
END_TEST

START_TEST(vm_other_values)
{
	struct ae_vmconf *c;

	load_fails(VM_HEAD "machine = q35,accel=kvm\n", NULL, "vm.conf", 4,
		   "machine: 'q35,accel=kvm' is not a machine type name");
	load_fails(VM_HEAD "qemu = qemu -S\n", NULL, "vm.conf", 4,
		   "qemu: 'qemu -S' is neither a program name nor");
	load_fails(VM_HEAD "qemu = bin/qemu\n", NULL, "vm.conf", 4,
		   "qemu: 'bin/qemu'");
	load_fails(VM_HEAD "[network]\nmodel = virtio,x=1\n", NULL, "vm.conf",
		   5, "model: 'virtio,x=1' is not a device model name");
	load_fails(VM_HEAD "[network]\nbackend = Tap\n", NULL, "vm.conf", 5,
		   "backend: 'Tap' is not a backend name");
	load_fails(VM_HEAD "[network]\nbackend = ../tap\n", NULL, "vm.conf", 5,
		   "backend: '../tap' is not a backend name");
	c = load_ok(VM_HEAD "console = none\nqemu = qemu-system-x86_64\n", NULL);
	ck_assert_str_eq(c->console, "none");
	ck_assert_str_eq(c->qemu, "qemu-system-x86_64");
	ae_vmconf_free(c);
	c = load_ok(VM_HEAD "console = stdout\n", NULL);
	ck_assert_str_eq(c->console, "stdout");
	ae_vmconf_free(c);
	c = load_ok(VM_HEAD "console = /var/log/x.log\n", NULL);
	ck_assert_str_eq(c->console, "/var/log/x.log");
	ae_vmconf_free(c);
}
END_TEST

/* The console log is written by the supervisor, maybe as root: only a
 * regular file or a new one in an existing directory; no devices, no
 * /proc or /sys, no FIFOs, no directories, no symlinks (as root). */
START_TEST(vm_console_targets)
{
	struct ae_vmconf *c;
	char text[512];

	load_fails(VM_HEAD "console = file:/proc/self/mem\n", NULL, "vm.conf",
		   4, "console: /proc/self/mem is on a kernel file system");
	load_fails(VM_HEAD "console = /sys/kernel/notes\n", NULL, "vm.conf",
		   4, "console: /sys/kernel/notes is on a kernel file system");
	load_fails(VM_HEAD "console = file:/dev/null\n", NULL, "vm.conf", 4,
		   "console: /dev/null is on a kernel file system");
	load_fails(VM_HEAD "console = file:/dev/newfile.log\n", NULL, "vm.conf",
		   4, "console: /dev/newfile.log is on a kernel file system");
	ck_assert_int_eq(mkdir(ck_path("adir"), 0755), 0);
	load_fails(VM_HEAD "console = adir\n", NULL, "vm.conf", 4,
		   "is not a regular file");
	ck_assert_int_eq(mkfifo(ck_path("fifo"), 0600), 0);
	load_fails(VM_HEAD "console = file:fifo\n", NULL, "vm.conf", 4,
		   "is not a regular file (a device, FIFO");
	load_fails(VM_HEAD "console = file:nodir/console.log\n", NULL,
		   "vm.conf", 4, "console: directory");
	/* a symlink to a device, relative or not */
	ck_assert_int_eq(symlink("/dev/null", ck_path("link.log")), 0);
	load_fails(VM_HEAD "console = file:link.log\n", NULL, "vm.conf", 4,
		   geteuid() == 0 ? "is a symbolic link" : "not a regular file");
	/* a symlink to a regular file: followed only when not root */
	ck_write("real.log", "x");
	ck_assert_int_eq(symlink(ck_path("real.log"), ck_path("ok.log")), 0);
	snprintf(text, sizeof text, VM_HEAD "console = file:ok.log\n");
	if (geteuid() == 0)
		load_fails(text, NULL, "vm.conf", 4, "is a symbolic link");
	else
		ae_vmconf_free(load_ok(text, NULL));
	/* the host config's console is checked the same way */
	load_fails(VM_HEAD, "[vm]\nconsole = /dev/sda\n", "host.conf", 2,
		   "console: /dev/sda is on a kernel file system");
	/* existing regular files and new files are fine */
	c = load_ok(VM_HEAD "console = file:real.log\n", NULL);
	ck_assert_str_eq(c->console, ck_path("real.log"));
	ck_assert_uint_eq(c->console_max, 16u << 20);
	ck_assert_uint_eq(c->console_keep, 1);
	ae_vmconf_free(c);
	c = load_ok(VM_HEAD "console = new.log\nconsole_max = 64K\n"
			    "console_keep = 3\n", NULL);
	ck_assert_uint_eq(c->console_max, 64u << 10);
	ck_assert_uint_eq(c->console_keep, 3);
	ae_vmconf_free(c);
	c = load_ok(VM_HEAD "console_max = 1GiB\n", NULL);
	ck_assert_uint_eq(c->console_max, 1u << 30);
	ae_vmconf_free(c);
	load_fails(VM_HEAD "console_max = 1000\n", NULL, "vm.conf", 4,
		   "console_max: '1000' is not a size from 4K");
	load_fails(VM_HEAD "console_max = 16X\n", NULL, "vm.conf", 4,
		   "console_max: '16X'");
	load_fails(VM_HEAD "console_max = -1M\n", NULL, "vm.conf", 4,
		   "console_max: '-1M'");
	load_fails(VM_HEAD "console_keep = 100\n", NULL, "vm.conf", 4,
		   "console_keep: '100' is not an integer in 0..99");
	/* and the open at run time refuses the same, race-free */
	ck_assert_int_lt(ae_console_target_open("/proc/self/mem", err,
						sizeof err), 0);
	ck_assert_err_has(err, "kernel file system");
	{
		int fd = ae_console_target_open(ck_path("real.log"), err,
						sizeof err);
		ck_assert_msg(fd >= 0, "%s", err);
		close(fd);
	}
}
END_TEST

/* [vm] user: a user of this host, checked when the file is read. */
START_TEST(vm_user)
{
	struct ae_vmconf *c;

	load_fails(VM_HEAD "user = no-such-user-aether\n", NULL, "vm.conf", 4,
		   "user: no user 'no-such-user-aether' on this host");
	load_fails(VM_HEAD, "[vm]\nuser = no-such-user-aether\n", "host.conf",
		   2, "user: no user 'no-such-user-aether'");
	load_fails(VM_HEAD "user = -x\n", NULL, "vm.conf", 4,
		   "user: '-x' is not a user name");
	c = load_ok(VM_HEAD "user = root\n", NULL);
	ck_assert_str_eq(c->user, "root");
	ae_vmconf_free(c);
	c = load_ok(VM_HEAD "user = nobody\n", NULL);
	ck_assert_str_eq(c->user, "nobody");
	ck_assert_int_eq(c->user_line, 4);
	ae_vmconf_free(c);
	c = load_ok(VM_HEAD, NULL);
	ck_assert_ptr_null(c->user); /* the default user, chosen at run time */
	ae_vmconf_free(c);
}
END_TEST

START_TEST(vm_line_errors_through_load)
{
	char text[1024];

	load_fails("name = demo\n[vm]\n", NULL, "vm.conf", 1,
		   "key 'name' outside of a [section]");
	load_fails(VM_HEAD "garbage\n", NULL, "vm.conf", 4, "syntax error");
	snprintf(text, sizeof text, VM_HEAD "append = %0300d\n", 1);
	load_fails(text, NULL, "vm.conf", 4, "line longer than");
	load_fails(VM_HEAD, "[vm]\nmemory = 1\n[broken\n", "host.conf", 3,
		   "syntax error");
}
END_TEST

START_TEST(vm_missing_files)
{
	struct ae_vmconf *c = NULL;
	const char *vp = ck_write("vm.conf", VM_HEAD);
	const char *missing = ck_path("nohost.conf");
	int rc;

	rc = ae_vmconf_load(ck_path("novm.conf"), "none", &c, err, sizeof err);
	ck_assert_int_eq(rc, -ENOENT);
	ck_assert_err_has(err, ck_path("novm.conf"));
	ck_assert_ptr_null(c);
	rc = ae_vmconf_load(vp, missing, &c, err, sizeof err);
	ck_assert_int_eq(rc, -ENOENT);
	ck_assert_err_has(err, missing);
	/* "" is the same as "none". */
	rc = ae_vmconf_load(vp, "", &c, err, sizeof err);
	ck_assert_int_eq(rc, 0);
	ae_vmconf_free(c);
}
END_TEST

START_TEST(vm_default_host_config)
{
	struct ae_vmconf *c = NULL;
	const char *vp = ck_write("vm.conf", VM_HEAD);
	const char *hp = ck_write("aether.conf", "[vm]\nmemory = 64\n");
	int rc;

	setenv("AETHER_CONFIG", hp, 1);
	ck_assert_str_eq(ae_default_host_config(), hp);
	rc = ae_vmconf_load(vp, NULL, &c, err, sizeof err);
	ck_assert_msg(rc == 0, "%s", err);
	ck_assert_uint_eq(c->memory_mb, 64);
	ae_vmconf_free(c);
	/* A default host file that does not exist is no error. */
	setenv("AETHER_CONFIG", ck_path("absent.conf"), 1);
	rc = ae_vmconf_load(vp, NULL, &c, err, sizeof err);
	ck_assert_msg(rc == 0, "%s", err);
	ck_assert_uint_eq(c->memory_mb, 256);
	ae_vmconf_free(c);
	unsetenv("AETHER_CONFIG");
	ck_assert_str_eq(ae_default_host_config(),
			 AE_SYSCONFDIR "/aether/aether.conf");
}
END_TEST

START_TEST(vm_overrides_host)
{
	struct ae_vmconf *c;
	const struct ae_ini_section *s;
	const struct ae_ini_entry *e;
	size_t i;
	int seen_sock = 0, seen_group = 0, seen_port = 0;

	c = load_ok("[vm]\n"
		    "name = over\n"
		    "kernel = vmlinuz\n"
		    "memory = 128\n"
		    "[network.vde]\n"
		    "group = users\n",
		    "[aether]\n"
		    "plugin_dir = plugins\n"
		    "runtime_dir = /run/aether-test\n"
		    "[vm]\n"
		    "memory = 512\n"
		    "cpus = 2\n"
		    "accel = tcg\n"
		    "console = none\n"
		    "[network]\n"
		    "backend = vde\n"
		    "[network.vde]\n"
		    "sock = /run/vde.ctl\n"
		    "group = kvm\n"
		    "port = 4\n");
	ck_assert_uint_eq(c->memory_mb, 128); /* VM file wins */
	ck_assert_uint_eq(c->cpus, 2);        /* host file fills in */
	ck_assert_int_eq(c->accel, AE_ACCEL_TCG);
	ck_assert_str_eq(c->console, "none");
	ck_assert_str_eq(c->backend, "vde");
	ck_assert_str_eq(c->plugin_dir, ck_path("plugins"));
	ck_assert_str_eq(c->runtime_dir, "/run/aether-test");
	s = &c->backend_section;
	ck_assert_str_eq(s->name, "network.vde");
	ck_assert_str_eq(s->file, ck_path("vm.conf"));
	ck_assert_int_eq(s->line, 5);
	ck_assert_uint_eq(s->n_entries, 3);
	for (i = 0; i < s->n_entries; i++) {
		e = &s->entries[i];
		if (!strcmp(e->key, "group")) {
			seen_group++;
			ck_assert_str_eq(e->value, "users");
			ck_assert_str_eq(e->file, ck_path("vm.conf"));
			ck_assert_int_eq(e->line, 6);
		} else if (!strcmp(e->key, "sock")) {
			seen_sock++;
			ck_assert_str_eq(e->value, "/run/vde.ctl");
			ck_assert_str_eq(e->file, ck_path("host.conf"));
			ck_assert_int_eq(e->line, 12);
		} else if (!strcmp(e->key, "port")) {
			seen_port++;
			ck_assert_int_eq(e->line, 14);
		}
	}
	ck_assert_int_eq(seen_group + seen_sock + seen_port, 3);
	ae_vmconf_free(c);

	/* A backend section only in the host file is used as is. */
	c = load_ok(VM_HEAD "[network]\nbackend = vde\n",
		    "[network.vde]\nsock = /run/vde.ctl\n");
	ck_assert_str_eq(c->backend_section.file, ck_path("host.conf"));
	ck_assert_int_eq(c->backend_section.line, 1);
	ck_assert_uint_eq(c->backend_section.n_entries, 1);
	ae_vmconf_free(c);

	/* The VM file's backend overrides the host's, and the host file's
	 * sections for other backends are no error. */
	c = load_ok(VM_HEAD "[network]\nbackend = slirp\n",
		    "[network]\nbackend = tap\n[network.tap]\nbridge = br0\n");
	ck_assert_str_eq(c->backend, "slirp");
	ck_assert_uint_eq(c->backend_section.n_entries, 0);
	ae_vmconf_free(c);
}
END_TEST

START_TEST(vm_network_section_mismatch)
{
	load_fails(VM_HEAD "[network]\nbackend = slirp\n[network.tap]\n"
		   "bridge = br0\n", NULL, "vm.conf", 6,
		   "section [network.tap] does not match the selected backend "
		   "'slirp'");
	/* Default backend is slirp. */
	load_fails(VM_HEAD "[network.vde]\nsock = /x\n", NULL, "vm.conf", 4,
		   "section [network.vde] does not match the selected backend "
		   "'slirp'");
	/* The host picks the backend, the VM file configures another. */
	load_fails(VM_HEAD "[network.slirp]\nnet = 10.0.3.0/24\n",
		   "[network]\nbackend = tap\n", "vm.conf", 4,
		   "section [network.slirp] does not match the selected "
		   "backend 'tap'");
}
END_TEST

/* ------------------------------------------------------------------ */
/* Backend sections against a plugin's option table (ae_optset_new)  */

static const struct aether_option fx_table[] = {
	{.key = "sock", .type = AETHER_OPT_PATH,
	 .flags = AETHER_OPTF_REQUIRED, .help = "switch socket"},
	{.key = "port", .type = AETHER_OPT_INT, .def = "0", .min = 0,
	 .max = 255, .help = "switch port"},
	{.key = "mtu", .type = AETHER_OPT_INT, .help = "no bounds"},
	{.key = "managed", .type = AETHER_OPT_BOOL, .def = "yes",
	 .help = "start a switch"},
	{.key = "bridge", .type = AETHER_OPT_IFNAME, .help = "bridge"},
	{.key = "hostfwd", .type = AETHER_OPT_STRING,
	 .flags = AETHER_OPTF_REPEAT, .help = "forwards"},
	{.key = "group", .type = AETHER_OPT_STRING, .help = "group"},
	{.key = NULL},
};

/* Load a VM file selecting backend "fx" and validate its section. */
static int optset_from_vm(const char *section_text, const char *host,
			  struct ae_optset **o)
{
	struct ae_vmconf *c;
	char text[2048];
	int rc;

	snprintf(text, sizeof text,
		 VM_HEAD "[network]\nbackend = fx\n[network.fx]\n%s",
		 section_text); /* section body starts on line 7 */
	c = load_ok(text, host);
	*o = NULL;
	rc = ae_optset_new("fx", fx_table, &c->backend_section, o, err,
			   sizeof err);
	ae_vmconf_free(c);
	return rc;
}

static void optset_fails(const char *section_text, const char *host,
			 const char *file, int line, const char *what)
{
	struct ae_optset *o;
	char where[600];
	int rc = optset_from_vm(section_text, host, &o);

	ck_assert_msg(rc < 0, "options accepted, expected \"%s\"", what);
	ck_assert_ptr_null(o);
	if (line)
		snprintf(where, sizeof where, "%s:%d: ", ck_path(file), line);
	else
		snprintf(where, sizeof where, "%s: ", ck_path(file));
	ck_assert_err_has(err, where);
	ck_assert_err_has(err, what);
}

START_TEST(opt_good_and_lookups)
{
	struct ae_optset *o;
	int64_t v;
	int b;

	ck_assert_int_eq(optset_from_vm("sock = /run/sw.ctl\n"
					"hostfwd = tcp::1-:1\n"
					"hostfwd = udp::2-:2\n"
					"managed = Off\n"
					"bridge = br-lan.0\n"
					"mtu = -5\n",
					NULL, &o),
			 0);
	ck_assert_str_eq(ae_optset_get(o, "sock", 0), "/run/sw.ctl");
	ck_assert_ptr_null(ae_optset_get(o, "sock", 1));
	ck_assert_str_eq(ae_optset_get(o, "hostfwd", 0), "tcp::1-:1");
	ck_assert_str_eq(ae_optset_get(o, "hostfwd", 1), "udp::2-:2");
	ck_assert_ptr_null(ae_optset_get(o, "hostfwd", 2));
	ck_assert_int_eq(ae_optset_bool(o, "managed", &b), 0);
	ck_assert_int_eq(b, 0);
	ck_assert_int_eq(ae_optset_int(o, "mtu", &v), 0);
	ck_assert_int_eq(v, -5);
	/* Defaults for unset keys, -ENOENT without one. */
	ck_assert_str_eq(ae_optset_get(o, "port", 0), "0");
	ck_assert_ptr_null(ae_optset_get(o, "port", 1));
	ck_assert_int_eq(ae_optset_int(o, "port", &v), 0);
	ck_assert_int_eq(v, 0);
	ck_assert_ptr_null(ae_optset_get(o, "group", 0));
	ck_assert_int_eq(ae_optset_bool(o, "group", &b), -ENOENT);
	ck_assert_int_eq(ae_optset_int(o, "group", &v), -ENOENT);
	/* Not declared at all. */
	ck_assert_ptr_null(ae_optset_get(o, "nope", 0));
	ck_assert_int_eq(ae_optset_int(o, "nope", &v), -ENOENT);
	/* Of another type. */
	ck_assert_int_eq(ae_optset_int(o, "sock", &v), -EINVAL);
	ck_assert_int_eq(ae_optset_bool(o, "sock", &b), -EINVAL);
	ae_optset_free(o);
	ae_optset_free(NULL);
}
END_TEST

START_TEST(opt_unknown_key)
{
	optset_fails("sock = /x\nbrigde = br0\n", NULL, "vm.conf", 8,
		     "unknown key 'brigde' for backend fx (known keys: sock, "
		     "port, mtu, managed, bridge, hostfwd, group)");
	/* From the host file: the host file is named. */
	optset_fails("sock = /x\n", "[network.fx]\nflavour = x\n",
		     "host.conf", 2, "unknown key 'flavour' for backend fx");
}
END_TEST

START_TEST(opt_bad_values)
{
	optset_fails("sock = /x\nport = 256\n", NULL, "vm.conf", 8,
		     "port: 256 is out of range 0..255");
	optset_fails("sock = /x\nport = -1\n", NULL, "vm.conf", 8,
		     "port: -1 is out of range 0..255");
	optset_fails("sock = /x\nport = 12ab\n", NULL, "vm.conf", 8,
		     "port: '12ab' is not an integer");
	optset_fails("sock = /x\nmanaged = maybe\n", NULL, "vm.conf", 8,
		     "managed: 'maybe' is not a boolean");
	optset_fails("sock = relative/x\n", NULL, "vm.conf", 7,
		     "sock: 'relative/x' is not an absolute path without '..'");
	optset_fails("sock = /run/../etc/x\n", NULL, "vm.conf", 7,
		     "sock: '/run/../etc/x' is not an absolute path");
	optset_fails("sock = /x\nbridge = br0-with-long-name\n", NULL,
		     "vm.conf", 8,
		     "bridge: 'br0-with-long-name' is not a valid interface "
		     "name");
	optset_fails("sock = /x\nbridge = br/0\n", NULL, "vm.conf", 8,
		     "bridge: 'br/0'");
	optset_fails("sock = /x\nbridge = ..\n", NULL, "vm.conf", 8,
		     "bridge: '..'");
	/* In the host file: the host file's line. */
	optset_fails("sock = /x\n", "[network.fx]\n\nport = 1000\n",
		     "host.conf", 3, "port: 1000 is out of range");
}
END_TEST

START_TEST(opt_twice_and_required)
{
	optset_fails("sock = /x\nport = 1\nport = 2\n", NULL, "vm.conf", 9,
		     "key 'port' given twice in [network.fx]");
	optset_fails("port = 1\n", NULL, "vm.conf", 0,
		     "[network.fx]: required key 'sock' is missing (switch "
		     "socket)");
}
END_TEST

START_TEST(opt_no_section)
{
	static const struct aether_option none[] = {{.key = NULL}};
	struct ae_optset *o = NULL;
	struct ae_ini *ini;
	const char *t = "[network.x]\nkey = 1\n";

	/* No section and no required key: fine. */
	ck_assert_int_eq(ae_optset_new("x", fx_table + 1, NULL, &o, err,
				       sizeof err), 0);
	ck_assert_str_eq(ae_optset_get(o, "managed", 0), "yes");
	ae_optset_free(o);
	/* A required key and no section at all. */
	ck_assert_int_eq(ae_optset_new("fx", fx_table, NULL, &o, err,
				       sizeof err), -EINVAL);
	ck_assert_err_has(err, "required key 'sock' is missing");
	/* An empty table rejects every key and says there are none. */
	ck_assert_int_eq(ae_ini_parse_text(t, strlen(t), "t.conf", &ini, err,
					   sizeof err), 0);
	ck_assert_int_eq(ae_optset_new("x", none, ae_ini_find(ini, "network.x"),
				       &o, err, sizeof err), -EINVAL);
	ck_assert_err_has(err, "t.conf:2: unknown key 'key' for backend x "
			       "(known keys: none)");
	ck_assert_int_eq(ae_optset_new("x", NULL, ae_ini_find(ini, "network.x"),
				       &o, err, sizeof err), -EINVAL);
	ae_ini_free(ini);
}
END_TEST

START_TEST(opt_check_value)
{
	static const struct aether_option unbounded = {
		.key = "n", .type = AETHER_OPT_INT};
	static const struct aether_option weird = {.key = "w", .type = 42};
	static const char *const yes[] = {"yes", "true", "on", "1", "YES",
					  "True"};
	static const char *const no[] = {"no", "false", "off", "0", "NO"};
	static const struct aether_option boolopt = {
		.key = "b", .type = AETHER_OPT_BOOL};
	size_t i;

	ck_assert_int_eq(ae_option_check_value(&unbounded,
					       "-9223372036854775808", err,
					       sizeof err), 0);
	ck_assert_int_lt(ae_option_check_value(&unbounded,
					       "9223372036854775808", err,
					       sizeof err), 0);
	ck_assert_int_lt(ae_option_check_value(&unbounded, " 1", err,
					       sizeof err), 0);
	ck_assert_int_lt(ae_option_check_value(&unbounded, "", err,
					       sizeof err), 0);
	ck_assert_int_lt(ae_option_check_value(&weird, "x", err, sizeof err),
			 0);
	ck_assert_err_has(err, "unknown type 42");
	for (i = 0; i < AE_ARRAY_SIZE(yes); i++)
		ck_assert_int_eq(ae_option_check_value(&boolopt, yes[i], err,
						       sizeof err), 0);
	for (i = 0; i < AE_ARRAY_SIZE(no); i++)
		ck_assert_int_eq(ae_option_check_value(&boolopt, no[i], err,
						       sizeof err), 0);
	ck_assert_int_lt(ae_option_check_value(&boolopt, "2", err, sizeof err),
			 0);
	ck_assert_str_eq(ae_option_type_name(AETHER_OPT_PATH),
			 "absolute path");
	ck_assert_str_eq(ae_option_type_name(99), "unknown");
}
END_TEST

static Suite *config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc;

	tc = tcase_create("ini");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, ini_lines_and_sections);
	tcase_add_test(tc, ini_empty_text);
	tcase_add_test(tc, ini_continuation_joined);
	tcase_add_test(tc, ini_indented_bracket_is_continuation);
	tcase_add_test(tc, ini_repeated_section_merges);
	tcase_add_test(tc, ini_crlf_and_inline_comment);
	tcase_add_test(tc, ini_bom);
	tcase_add_test(tc, ini_key_outside_section);
	tcase_add_test(tc, ini_syntax_error);
	tcase_add_test(tc, ini_line_too_long);
	tcase_add_test(tc, ini_nul_byte);
	tcase_add_test(tc, ini_long_section_name);
	tcase_add_test(tc, ini_parse_file_errors);
	tcase_add_test(tc, ini_quoted_roundtrip);
	tcase_add_test(tc, ini_quoted_refused);
	tcase_add_test(tc, ini_quoted_hand_written);
	suite_add_tcase(s, tc);

	tc = tcase_create("vmconf");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, vm_minimal_defaults);
	tcase_add_test(tc, vm_full);
	tcase_add_test(tc, vm_accel_values);
	tcase_add_test(tc, vm_reboot);
	tcase_add_test(tc, vm_switchable);
	tcase_add_test(tc, vm_relative_paths);
	tcase_add_test(tc, vm_disk);
	tcase_add_test(tc, vm_unknown_section);
	tcase_add_test(tc, vm_unknown_key);
	tcase_add_test(tc, vm_duplicate_key);
	tcase_add_test(tc, vm_bad_integer);
	tcase_add_test(tc, vm_out_of_range);
	tcase_add_test(tc, vm_bad_mac);
	tcase_add_test(tc, vm_explicit_mac);
	tcase_add_test(tc, vm_bad_name);
	tcase_add_test(tc, vm_path_dotdot);
	tcase_add_test(tc, vm_dotdot_lookalikes_ok);
	tcase_add_test(tc, vm_missing_kernel);
	tcase_add_test(tc, vm_boot_requirements);
	tcase_add_test(tc, vm_other_values);
	tcase_add_test(tc, vm_line_errors_through_load);
	tcase_add_test(tc, vm_console_targets);
	tcase_add_test(tc, vm_user);
	tcase_add_test(tc, vm_missing_files);
	tcase_add_test(tc, vm_default_host_config);
	tcase_add_test(tc, vm_overrides_host);
	tcase_add_test(tc, vm_network_section_mismatch);
	suite_add_tcase(s, tc);

	tc = tcase_create("options");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, opt_good_and_lookups);
	tcase_add_test(tc, opt_unknown_key);
	tcase_add_test(tc, opt_bad_values);
	tcase_add_test(tc, opt_twice_and_required);
	tcase_add_test(tc, opt_no_section);
	tcase_add_test(tc, opt_check_value);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return ck_run_suite(config_suite());
}
