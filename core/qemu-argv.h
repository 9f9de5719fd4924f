/* qemu-argv.h - QEMU's command line built as an argv array from the VM
 * model and the plugin's attachment.  No shell is ever involved. */
#ifndef AE_QEMU_ARGV_H
#define AE_QEMU_ARGV_H

#include <stddef.h>
#include <aether/plugin.h>
#include "vmconf.h"

struct ae_argv {
	char **v;     /* NULL-terminated */
	size_t n, cap;
	int keep_fds[2 * AETHER_MAX_QUEUES + 16]; /* fds QEMU must inherit */
	size_t n_keep;
};

void ae_argv_add(struct ae_argv *a, const char *s);
void ae_argv_addf(struct ae_argv *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void ae_argv_free(struct ae_argv *a);

/* QEMU's option syntax doubles commas inside a value. */
char *ae_qemu_escape(const char *s);

/* The -netdev (and helper -chardev/-object) arguments for an attachment,
 * id "net0".  Returns -EINVAL with a message for a malformed one. */
int ae_qemu_netdev_args(struct ae_argv *a, const struct aether_attachment *att,
			const struct ae_vmconf *c, char *err, size_t errlen);

struct ae_creds;
/* Who QEMU runs as.  1 with *cr filled when aether runs as root and the
 * VM does not say user = root: [vm] user, else AE_QEMU_USER when it
 * exists, else AE_QEMU_USER_FALLBACK; 0 when QEMU keeps aether's
 * identity; -errno with a message naming the file and line of user. */
int ae_qemu_creds(const struct ae_vmconf *c, struct ae_creds *cr, char *err,
		  size_t errlen);

/* Every QEMU runs with this seccomp filter. */
#define AE_QEMU_SANDBOX \
	"on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny"

#define AE_QEMU_MAX_BACKING 8

/* The backing file of the qcow2 image open on fd, from its header: 1 with
 * its name (as written: maybe relative) and format ("" when the header
 * does not say), 0 when it has none or is not qcow2, -errno. */
int ae_qcow2_backing(int fd, char *name, size_t namelen, char *fmt,
		     size_t fmtlen);

/* Files the supervisor opened for QEMU, which may run as a user that
 * cannot open them itself (-1: QEMU opens the path from the VM model). */
struct ae_qemu_fds {
	int qmp;        /* listening socket at qmp_path */
	int qmp_desc;   /* a copy of it, in fd set 9 described by qmp_path */
	int qga;        /* listening socket of the guest agent's channel */
	int console;    /* one end of a stream socketpair: the serial port */
	int disk_rw, disk_ro; /* the disk, fd set 1 */
	int seed;       /* the cloud-init seed, read-only, fd set 2 */
	int kernel, initrd; /* read through /proc/self/fd/N */
	/* the disk's backing chain (qcow2), read-only, fd sets 3, 4, ...:
	 * QEMU would otherwise open the backing files by name */
	int backing[AE_QEMU_MAX_BACKING];
	char backing_fmt[AE_QEMU_MAX_BACKING][16];
	unsigned n_backing;
};
void ae_qemu_fds_init(struct ae_qemu_fds *f);

/* The whole command line.  qmp_path may be NULL. */
int ae_qemu_build(struct ae_argv *a, const struct ae_vmconf *c,
		  const struct aether_attachment *att, const char *qmp_path,
		  char *err, size_t errlen);
/* The same with the supervisor's descriptors (fds may be NULL). */
int ae_qemu_build_fds(struct ae_argv *a, const struct ae_vmconf *c,
		      const struct aether_attachment *att,
		      const char *qmp_path, const struct ae_qemu_fds *fds,
		      char *err, size_t errlen);

#endif
