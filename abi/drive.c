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
 *   frame     the attachment's frame part (1.1): the host's output and sink
 *             must survive attach; a plugin without AETHER_CAP_ATTACH_FRAME
 *             must leave port and ops NULL (no frame op can be called)
 *   check     while attached (must be 0)
 *   validate  the 1.2 verb again (must be 0: the options are good)
 *   addresses the 1.1 verb, with the attachment's state and without (as
 *             `aether status` asks from another process)
 *   forward   the 1.1 verb, add and remove
 *   beyond    for a descriptor shorter than this host's (an older minor):
 *             from the first check to the last gc, the bytes past its end
 *             held pointers to trap functions for every verb a later
 *             minor appended; the host must not have called them, must
 *             have answered -EOPNOTSUPP for the missing 1.1 verbs and left
 *             the address buffer untouched (under AddressSanitizer the
 *             traps are not laid: the descriptor's redzone catches any
 *             read past it)
 *   gc-live   gc with drive-b and drive-a live, in that order (must be
 *             0; a plugin of an older minor gets the 1.0 gc with a
 *             packed array and must find drive-a at index 1)
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
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
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

static void must(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "drive: %s\n", what);
		bad = 1;
	}
}

static const char *kind_name(uint32_t k)
{
	static const char *const names[] = {"none", "tap", "vde", "user",
					    "stream", "vhost-user", "frame"};
	return k < sizeof names / sizeof names[0] ? names[k] : "unknown";
}

#if defined(__SANITIZE_ADDRESS__)
#define DRIVE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define DRIVE_ASAN 1
#endif
#endif

/* Traps: what a host that reads past a short descriptor (or calls the
 * frame sink on a plugin's behalf) would call.  A positive return is
 * never a valid answer, so it shows in the step's rc too. */
static int trap_calls;

static int trap_addresses(void *state, const struct aether_vm *vm,
			  void *att_state, struct aether_addr *out, size_t max)
{
	(void)state, (void)vm, (void)att_state, (void)out, (void)max;
	trap_calls++;
	return 0x7ea;
}

static int trap_forward(void *state, const struct aether_vm *vm,
			void *att_state, const struct aether_forward *fwd,
			int add)
{
	(void)state, (void)vm, (void)att_state, (void)fwd, (void)add;
	trap_calls++;
	return 0x7ea;
}

static int trap_gc_v2(void *state, const struct aether_vm *const *live,
		     size_t n_live)
{
	(void)state, (void)live, (void)n_live;
	trap_calls++;
	return 0x7ea;
}

static int trap_validate(const struct aether_host *host)
{
	(void)host;
	trap_calls++;
	return 0x7ea;
}

static int output_calls;

static int trap_output(void *sink, const void *frame, size_t len)
{
	(void)sink, (void)frame, (void)len;
	output_calls++;
	return 0;
}

/* The protection of the mapping holding addr (PROT_*), -1 if unknown. */
static int prot_of(const void *addr)
{
	uintptr_t a = (uintptr_t)addr, lo, hi;
	char line[512], perm[8];
	FILE *f = fopen("/proc/self/maps", "r");
	int prot = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof line, f)) {
		if (sscanf(line, "%jx-%jx %4s", (uintmax_t *)&lo,
			   (uintmax_t *)&hi, perm) != 3 ||
		    a < lo || a >= hi)
			continue;
		prot = (perm[0] == 'r' ? PROT_READ : 0) |
		       (perm[1] == 'w' ? PROT_WRITE : 0) |
		       (perm[2] == 'x' ? PROT_EXEC : 0);
		break;
	}
	fclose(f);
	return prot;
}

/* Every verb appended after 1.0: where it lies and a trap of its type. */
static int (*const trap_fa)(void *, const struct aether_vm *, void *,
			    struct aether_addr *, size_t) = trap_addresses;
static int (*const trap_ff)(void *, const struct aether_vm *, void *,
			    const struct aether_forward *, int) = trap_forward;
static int (*const trap_fg)(void *, const struct aether_vm *const *,
			    size_t) = trap_gc_v2;
static int (*const trap_fv)(const struct aether_host *) = trap_validate;

static const struct {
	size_t offset;
	const void *trap; /* the address of a function pointer */
} later_verbs[] = {
	{offsetof(struct aether_plugin, addresses), &trap_fa},
	{offsetof(struct aether_plugin, forward), &trap_ff},
	{offsetof(struct aether_plugin, gc_v2), &trap_fg},
	{offsetof(struct aether_plugin, validate), &trap_fv},
};

/* The bytes from d + d->struct_size up to the end of this host's struct
 * aether_plugin: the members an older plugin's descriptor does not have.
 * They belong to whatever the plugin's linker put next; lay trap pointers
 * there (saving the bytes) or put the bytes back. */
struct beyond {
	unsigned char *start, *page;
	size_t len, plen;
	int prot;
	unsigned char saved[sizeof(struct aether_plugin)];
};

static int beyond_open(const struct aether_plugin *d, struct beyond *b,
		       char *why, size_t whylen)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	uintptr_t s, e;
	size_t i;

	b->start = (unsigned char *)d + d->struct_size;
	b->len = sizeof(struct aether_plugin) - d->struct_size;
	s = (uintptr_t)b->start & ~(uintptr_t)(pg - 1);
	e = ((uintptr_t)b->start + b->len + pg - 1) & ~(uintptr_t)(pg - 1);
	b->page = (unsigned char *)s;
	b->plen = e - s;
	b->prot = prot_of(b->page);
	if (b->prot < 0 || prot_of(b->start + b->len - 1) != b->prot) {
		snprintf(why, whylen, "the bytes past the descriptor are not "
				      "in one known mapping");
		return -1;
	}
	if (mprotect(b->page, b->plen, PROT_READ | PROT_WRITE) < 0) {
		snprintf(why, whylen, "mprotect: %s", strerror(errno));
		return -1;
	}
	memcpy(b->saved, b->start, b->len);
	/* Only the members past the end: offsets relative to d.  A verb
	 * appended in a later minor gets its trap in later_verbs[]. */
	for (i = 0; i < sizeof later_verbs / sizeof later_verbs[0]; i++)
		if (later_verbs[i].offset >= d->struct_size)
			memcpy((unsigned char *)d + later_verbs[i].offset,
			       later_verbs[i].trap, sizeof(void (*)(void)));
	return 0;
}

static void beyond_close(struct beyond *b)
{
	memcpy(b->start, b->saved, b->len);
	if (mprotect(b->page, b->plen, b->prot) < 0) {
		perror("drive: mprotect (restoring)");
		bad = 1;
	}
}

/* The 1.1 verbs addresses and forward.  short_desc: the descriptor is too
 * short to have them, and the host must say -EOPNOTSUPP without calling
 * anything. */
static void drive_1_1_verbs(struct ae_instance *inst,
			    const struct aether_vm *vm, void *as,
			    int short_desc)
{
	struct aether_addr out[4], pristine[4];
	struct aether_forward f = {
		.struct_size = sizeof f,
		.proto = IPPROTO_TCP,
		.host_addr = "127.0.0.1",
		.host_port = 1,
		.guest_port = 22,
	};
	const char *const addr_what[] = {"attached", "no-att-state"};
	int i, rc;
	char detail[128];

	for (i = 0; i < 2; i++) {
		memset(out, 0xa5, sizeof out);
		memcpy(pristine, out, sizeof out);
		rc = ae_instance_addresses(inst, vm, i == 0 ? as : NULL, out,
					   4);
		snprintf(detail, sizeof detail, "%s out=%s", addr_what[i],
			 memcmp(out, pristine, sizeof out) ? "written"
							   : "untouched");
		step("addresses", rc, 0, detail);
		if (short_desc) {
			must(rc == -EOPNOTSUPP,
			     "addresses on a descriptor without it: want "
			     "-EOPNOTSUPP");
			must(!memcmp(out, pristine, sizeof out),
			     "addresses on a descriptor without it wrote "
			     "into the caller's buffer");
		} else {
			must(rc == -EOPNOTSUPP || (rc >= 0 && rc <= 4),
			     "addresses: want -EOPNOTSUPP or 0..max");
		}
	}
	for (i = 1; i >= 0; i--) {
		rc = ae_instance_forward(inst, vm, as, &f, i);
		step("forward", rc, 0, i ? "add" : "remove");
		if (short_desc)
			must(rc == -EOPNOTSUPP,
			     "forward on a descriptor without it: want "
			     "-EOPNOTSUPP");
		else
			must(rc <= 0, "forward: want 0 or a negative errno");
	}
}

int main(int argc, char **argv)
{
	struct ae_instance *inst;
	struct aether_attachment att;
	struct aether_vm vm, vm_b, live[2];
	const struct aether_plugin *d;
	char beyond_what[128] = "descriptor-complete";
#ifndef DRIVE_ASAN
	int trapped = 0;
	struct beyond b;
#endif
	const char *root = getenv("AETHER_RUNTIME_DIR");
	char err[1024], detail[256], vmdir[4096];
	static int sink_marker;
	void *as = NULL;
	int rc, short_desc;

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
	/* another live VM, listed first for gc (never attached) */
	ae_vm_init(&vm_b, "drive-b", 1, vmdir);
	/* As the relay does before attach (relay.h): the host's frame sink. */
	memset(&att, 0, sizeof att);
	att.frame.output = trap_output;
	att.frame.sink = &sink_marker;
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

	/* The frame part: the host's own fields kept; a plugin that cannot
	 * make frame ports has none, so the host has no frame op to call. */
	snprintf(detail, sizeof detail, "port=%s ops=%s output=%s",
		 att.frame.port ? "set" : "none",
		 att.frame.ops ? "set" : "none",
		 att.frame.output == trap_output &&
				 att.frame.sink == &sink_marker
			 ? "kept"
			 : "lost");
	step("frame", 0, 0, detail);
	must(att.frame.output == trap_output && att.frame.sink == &sink_marker,
	     "attach lost the host's frame output or sink");
	if (!(d->caps & AETHER_CAP_ATTACH_FRAME))
		must(att.kind != AETHER_ATTACH_FRAME && !att.frame.port &&
			     !att.frame.ops,
		     "a plugin without the frame capability has a frame port");

	/* A descriptor shorter than this host's lacks the verbs later
	 * minors appended: the host must tell from struct_size alone.
	 * Traps lie past its end from here to the last gc. */
	short_desc = d->struct_size < sizeof(struct aether_plugin);
	if (short_desc) {
#ifdef DRIVE_ASAN
		snprintf(beyond_what, sizeof beyond_what, "asan-redzone");
#else
		if (beyond_open(d, &b, err, sizeof err) < 0) {
			fprintf(stderr, "drive: cannot lay traps past the "
					"descriptor: %s\n", err);
			step("beyond", -EPERM, 1, NULL);
			ae_instance_close(inst);
			return 1;
		}
		trapped = 1;
#endif
	}

	step("check", ae_instance_check(inst, &vm, as), 1, "attached");
	/* The 1.2 verb validate (ae_instance_open ran it too, before init):
	 * 0 for good options, and not called past a short descriptor. */
	step("validate", ae_instance_validate(inst, err, sizeof err), 1, NULL);
	/* The 1.1 verbs. */
	drive_1_1_verbs(inst, &vm, as,
			d->struct_size < offsetof(struct aether_plugin,
						  forward) +
						 sizeof d->forward);

	live[0] = vm_b;
	live[1] = vm;
	step("gc-live", ae_instance_gc(inst, live, 2), 1, NULL);
	step("check", ae_instance_check(inst, &vm, as), 1, "after-gc-live");
	ae_attachment_close_fds(&att);
	step("fds", 0, 0, "closed");
	step("gc-none", ae_instance_gc(inst, NULL, 0), 1, NULL);
	step("check", ae_instance_check(inst, &vm, as), 0, "after-gc-none");

#ifndef DRIVE_ASAN
	if (trapped) {
		beyond_close(&b);
		snprintf(beyond_what, sizeof beyond_what,
			 "trapped=%zu trap-calls=%d", b.len, trap_calls);
		must(trap_calls == 0, "the host called a verb past the end of "
				      "a short descriptor");
	}
#endif
	step("beyond", 0, 0, beyond_what);
	step("detach", ae_instance_detach(inst, &vm, as), 1, NULL);
	must(output_calls == 0, "the frame output was called for a plugin "
				"without a frame port");
	ae_instance_close(inst);
	rmdir(vmdir);
	return bad;
}
