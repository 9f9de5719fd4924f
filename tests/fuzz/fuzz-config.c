/* fuzz-config.c - libFuzzer target for the configuration parser.
 *
 * Each input goes through:
 *   1. ae_ini_parse_text (the INI layer on top of inih);
 *   2. when that parses, ae_vmconf_load with the input as the VM file
 *      (no host file), then as the host file under a fixed, valid VM file;
 *   3. when a VM model results, its [network.<backend>] section is checked
 *      against a fixed option table with ae_optset_new and the QEMU argv is
 *      built for a user-mode attachment, so names and paths that pass
 *      validation also go through argv building and escaping.
 *
 * ae_vmconf_load reads files, so the input is written to a memfd and the
 * loader is given /proc/self/fd/N: nothing is added to the core and nothing
 * touches the disk.  The memfd is made once per process.
 *
 * Besides crashes, sanitizer reports and leaks, the target aborts when a
 * result breaks an invariant: a line number outside the input, a section
 * listed twice, an unvalidated name or path in a loaded model, a failure
 * without a "file:line" message, a value that does not come back from
 * ae_ini_format_entry unchanged.
 *
 * fuzz_config_results() reports what the last input did, for the
 * standalone driver's corpus regression checks (standalone.c).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "conffile.h"
#include "options.h"
#include "qemu-argv.h"
#include "util.h"
#include "vmconf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
void fuzz_config_results(int *ini_rc, int *vm_rc, int *host_rc);

/* The VM file used when the input plays the host file.  kernel must be a
 * regular file that exists everywhere: the running program is one. */
static const char fixed_vm[] = "[vm]\n"
			       "name = fuzz\n"
			       "kernel = /proc/self/exe\n";

/* A table like a real plugin's, with every type and flag. */
static const struct aether_option table[] = {
	{.key = "net", .type = AETHER_OPT_STRING, .def = "10.0.2.0/24"},
	{.key = "hostfwd", .type = AETHER_OPT_STRING,
	 .flags = AETHER_OPTF_REPEAT},
	{.key = "restrict", .type = AETHER_OPT_BOOL, .def = "no"},
	{.key = "port", .type = AETHER_OPT_INT, .min = 0, .max = 65535},
	{.key = "sock", .type = AETHER_OPT_PATH},
	{.key = "bridge", .type = AETHER_OPT_IFNAME},
	{.key = NULL},
};

static int input_fd = -1, vm_fd = -1;
static char input_path[64], vm_path[64];
static int last_ini, last_vm, last_host;

static int make_memfd(const char *name, char *path, size_t len)
{
	int fd = memfd_create(name, MFD_CLOEXEC);

	if (fd < 0) {
		perror("fuzz-config: memfd_create");
		abort();
	}
	snprintf(path, len, "/proc/self/fd/%d", fd);
	return fd;
}

static void set_contents(int fd, const void *data, size_t size)
{
	if (ftruncate(fd, 0) < 0 ||
	    (size && pwrite(fd, data, size, 0) != (ssize_t)size)) {
		perror("fuzz-config: memfd write");
		abort();
	}
}

static void once(void)
{
	if (input_fd >= 0)
		return;
	ae_log_level = -1; /* the loader warns about some MACs: be quiet */
	unsetenv("AETHER_CONFIG");
	input_fd = make_memfd("fuzz-input", input_path, sizeof input_path);
	vm_fd = make_memfd("fuzz-vm", vm_path, sizeof vm_path);
	set_contents(vm_fd, fixed_vm, sizeof fixed_vm - 1);
}

/* Use a loaded model the way the supervisor does. */
static void exercise(const struct ae_vmconf *c)
{
	struct ae_optset *o = NULL;
	struct aether_attachment att;
	struct ae_argv a;
	char err[512];
	size_t i;

	if (ae_optset_new(c->backend, table, &c->backend_section, &o, err,
			  sizeof err) == 0) {
		const char *v;
		for (i = 0; (v = ae_optset_get(o, "hostfwd", (unsigned)i)); i++)
			;
		ae_optset_free(o);
	}

	memset(&att, 0, sizeof att);
	att.struct_size = sizeof att;
	att.kind = AETHER_ATTACH_USER;
	att.stream.fd = -1;
	for (i = 0; i < AETHER_MAX_QUEUES; i++)
		att.tap.fds[i] = att.tap.vhostfds[i] = -1;
	att.user.hostname = c->name;
	memset(&a, 0, sizeof a);
	if (ae_qemu_build(&a, c, &att, "/run/aether/vms/x/qmp.sock", err,
			  sizeof err) == 0) {
		/* Every argument is a NUL-terminated string. */
		for (i = 0; i < a.n; i++)
			if (!a.v[i])
				abort();
		if (a.v[a.n])
			abort();
	}
	ae_argv_free(&a);
}

/* What ae_ini_format_entry writes for a value comes back as that value:
 * on lines the reader takes, as the only entry. */
static void check_roundtrip(const char *value)
{
	char err[256], *line = ae_ini_format_entry("k", value, err, sizeof err);
	char *text;
	struct ae_ini *ini = NULL;
	const struct ae_ini_section *s;
	const unsigned char *p;
	int ctl = 0;

	for (p = (const unsigned char *)value; *p; p++)
		if (*p < 0x20 && *p != '\t')
			ctl = 1;
	if (!line) {
		if (!ctl)
			abort(); /* refused a value it can write */
		return;
	}
	if (ctl)
		abort();
	text = ae_xasprintf("[s]\n%s", line);
	if (ae_ini_parse_text(text, strlen(text), "rt.conf", &ini, err,
			      sizeof err) < 0)
		abort();
	s = ae_ini_find(ini, "s");
	if (!s || s->n_entries != 1 || strcmp(s->entries[0].value, value))
		abort();
	ae_ini_free(ini);
	free(text);
	free(line);
}

/* What the INI layer returns must make sense for the input. */
static void check_ini(const struct ae_ini *ini, const uint8_t *data,
		      size_t size)
{
	size_t i, j;
	int lines = 1;

	for (i = 0; i < size; i++)
		if (data[i] == '\n')
			lines++;
	for (i = 0; i < ini->n_sections; i++) {
		const struct ae_ini_section *s = &ini->sections[i];
		if (s->line < 1 || s->line > lines || s->file != ini->file)
			abort();
		for (j = 0; j < i; j++)
			if (!strcmp(ini->sections[j].name, s->name))
				abort(); /* sections are merged by name */
		for (j = 0; j < s->n_entries; j++) {
			const struct ae_ini_entry *e = &s->entries[j];
			if (e->line < 1 || e->line > lines ||
			    e->file != ini->file || !e->key || !e->value)
				abort();
			check_roundtrip(e->value);
		}
	}
}

/* A loaded model only holds validated names and paths. */
static void check_model(const struct ae_vmconf *c)
{
	if (!ae_valid_vm_name(c->name) || !ae_valid_backend_name(c->backend))
		abort();
	if ((c->kernel && !ae_valid_abs_path(c->kernel)) ||
	    (c->initrd && !ae_valid_abs_path(c->initrd)) ||
	    (c->disk && !ae_valid_abs_path(c->disk)) ||
	    (!c->kernel && !c->disk))
		abort();
	if (strcmp(c->console, "stdout") && strcmp(c->console, "none") &&
	    !ae_valid_abs_path(c->console))
		abort();
	if (c->memory_mb < 16 || c->cpus < 1 || c->cpus > 255 ||
	    (c->mac[0] & 1))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ae_ini *ini = NULL;
	struct ae_vmconf *c = NULL;
	char err[512];

	once();
	last_ini = last_vm = last_host = 1; /* 1: not run */

	err[0] = '\0';
	last_ini = ae_ini_parse_text((const char *)data, size, "fuzz.conf",
				     &ini, err, sizeof err);
	if (last_ini < 0) {
		/* Every failure says where. */
		if (strncmp(err, "fuzz.conf:", 10) != 0)
			abort();
		return 0;
	}
	check_ini(ini, data, size);
	ae_ini_free(ini);

	set_contents(input_fd, data, size);
	last_vm = ae_vmconf_load(input_path, "none", &c, err, sizeof err);
	if (last_vm == 0) {
		check_model(c);
		exercise(c);
		ae_vmconf_free(c);
	} else if (!err[0]) {
		abort(); /* a failure without a message */
	}

	c = NULL;
	err[0] = '\0';
	last_host = ae_vmconf_load(vm_path, input_path, &c, err, sizeof err);
	if (last_host == 0) {
		check_model(c);
		exercise(c);
		ae_vmconf_free(c);
	} else if (!err[0]) {
		abort();
	}
	return 0;
}

void fuzz_config_results(int *ini_rc, int *vm_rc, int *host_rc)
{
	*ini_rc = last_ini;
	*vm_rc = last_vm;
	*host_rc = last_host;
}

/* For the replay driver (standalone.c): what the input named base should
 * have done. */
int fuzz_expected(const char *base, const char **what);
int fuzz_expected(const char *base, const char **what)
{
	int ini_rc, vm_rc, host_rc;

	fuzz_config_results(&ini_rc, &vm_rc, &host_rc);
	if (!strncmp(base, "vm-ok-", 6))
		return *what = "to load as a VM file", vm_rc == 0;
	if (!strncmp(base, "vm-bad-", 7))
		return *what = "a VM file error", ini_rc == 0 && vm_rc < 0;
	if (!strncmp(base, "host-ok-", 8))
		return *what = "to load as a host file", host_rc == 0;
	if (!strncmp(base, "host-bad-", 9))
		return *what = "a host file error", ini_rc == 0 && host_rc < 0;
	if (!strncmp(base, "ini-bad-", 8))
		return *what = "an INI error", ini_rc < 0;
	return -1;
}
