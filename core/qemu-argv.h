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
	int keep_fds[2 * AETHER_MAX_QUEUES + 1]; /* fds QEMU must inherit */
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

/* The whole command line.  qmp_path may be NULL. */
int ae_qemu_build(struct ae_argv *a, const struct ae_vmconf *c,
		  const struct aether_attachment *att, const char *qmp_path,
		  char *err, size_t errlen);

#endif
