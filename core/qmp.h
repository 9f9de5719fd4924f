/* qmp.h - a minimal blocking QMP client (QEMU's JSON control protocol). */
#ifndef AE_QMP_H
#define AE_QMP_H

#include <stddef.h>

/* Connect to the QMP socket, negotiate capabilities, run `command`
 * (a JSON object text) and put the reply line in reply (may be NULL).
 * Returns 0, or -errno / -EPROTO on an error reply. */
int ae_qmp_execute(const char *sock_path, const char *command,
		   char *reply, size_t reply_len, int timeout_ms);

#endif
