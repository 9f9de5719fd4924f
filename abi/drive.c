/* drive.c - load a plugin through the core and run every verb once.
 *
 * Usage: drive NAME [OPTIONS-TEXT]
 *
 * Loads NAME from the plugin path (AETHER_PLUGIN_PATH first) with the
 * [network.NAME] options given as "key = value" lines, then prints one
 * line per step, "STEP rc=N [detail]":
 *
 *   load      the descriptor's ABI version and size
 *   attach    VM "drive-a": the attachment kind (and fd for STREAM)
 *   check     while attached (must be 0)
 *   gc-live   gc with drive-a live (must be 0)
 *   check     again (must still be 0: gc kept the live VM's state)
 *   fds       the host closes its attachment fds (as after QEMU starts)
 *   gc-none   gc with no VM live (a crashed run's leftovers)
 *   check     after that (plugin-specific)
 *   detach    must cope with whatever gc removed (must be 0)
 *
 * Exit status 0 when every "must" holds, 1 otherwise; the test scripts
 * also read the lines.  The runtime root is AETHER_RUNTIME_DIR.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "instance.h"

static int bad;

static void step(const char *what, int rc, int must_be_zero,
		 const char *detail)
{
	printf("%s rc=%d%s%s\n", what, rc, detail ? " " : "",
	       detail ? detail : "");
	if (must_be_zero && rc != 0) {
		fprintf(stderr, "drive: %s returned %d (%s), want 0\n", what,
			rc, strerror(-rc));
		bad = 1;
	}
}

static const char *kind_name(uint32_t k)
{
	static const char *const names[] = {"none", "tap", "vde", "user",
					    "stream", "vhost-user"};
	return k < sizeof names / sizeof names[0] ? names[k] : "unknown";
}

int main(int argc, char **argv)
{
	struct ae_instance *inst;
	struct aether_attachment att;
	struct aether_vm vm;
	const struct aether_plugin *d;
	const char *root = getenv("AETHER_RUNTIME_DIR");
	char err[1024], detail[256], vmdir[4096];
	void *as = NULL;
	int rc;

	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: drive NAME [OPTIONS-TEXT]\n");
		return 2;
	}
	if (!root || root[0] != '/') {
		fprintf(stderr, "drive: set AETHER_RUNTIME_DIR to an absolute "
				"directory\n");
		return 2;
	}
	rc = ae_instance_open_text(argv[1], NULL, argc > 2 ? argv[2] : "",
				   "drive", &inst, err, sizeof err);
	if (rc < 0) {
		fprintf(stderr, "drive: %s\n", err);
		printf("load rc=%d\n", rc);
		return 1;
	}
	d = ae_instance_plugin(inst);
	snprintf(detail, sizeof detail, "abi=%u.%u size=%u name=%s",
		 d->abi_major, d->abi_minor, d->struct_size, d->name);
	step("load", 0, 1, detail);

	snprintf(vmdir, sizeof vmdir, "%s/drive-a", root);
	if (mkdir(vmdir, 0700) < 0 && errno != EEXIST) {
		perror(vmdir);
		return 1;
	}
	ae_vm_init(&vm, "drive-a", 0, vmdir);
	rc = ae_instance_attach(inst, &vm, &att, &as);
	detail[0] = '\0';
	if (rc == 0 && att.kind == AETHER_ATTACH_STREAM && att.stream.fd >= 0)
		snprintf(detail, sizeof detail, "kind=%s fd=%s",
			 kind_name(att.kind),
			 fcntl(att.stream.fd, F_GETFD) >= 0 ? "open" : "bad");
	else if (rc == 0)
		snprintf(detail, sizeof detail, "kind=%s", kind_name(att.kind));
	step("attach", rc, 1, detail);
	if (rc < 0) {
		ae_instance_close(inst);
		return 1;
	}
	step("check", ae_instance_check(inst, &vm, as), 1, "attached");
	step("gc-live", ae_instance_gc(inst, &vm, 1), 1, NULL);
	step("check", ae_instance_check(inst, &vm, as), 1, "after-gc-live");
	ae_attachment_close_fds(&att);
	step("fds", 0, 0, "closed");
	step("gc-none", ae_instance_gc(inst, NULL, 0), 1, NULL);
	step("check", ae_instance_check(inst, &vm, as), 0, "after-gc-none");
	step("detach", ae_instance_detach(inst, &vm, as), 1, NULL);
	ae_instance_close(inst);
	rmdir(vmdir);
	return bad;
}
