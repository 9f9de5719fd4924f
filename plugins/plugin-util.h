/* plugin-util.h - small helpers the in-tree plugins share (header only:
 * each plugin stays one module built against the public header alone).
 * Not installed: third-party plugins have their own. */
#ifndef AETHER_PLUGIN_UTIL_H
#define AETHER_PLUGIN_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <aether/plugin.h>

/* printf into buf; -ENAMETOOLONG when it does not fit, else 0. */
static inline int plug_pathf(char *buf, size_t len, const char *fmt, ...)
	AETHER_PRINTF(3, 4);
static inline int plug_pathf(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	return (n < 0 || (size_t)n >= len) ? -ENAMETOOLONG : 0;
}

/* Replace path with len bytes of data, atomically (path.tmp, 0600, not
 * through a symlink, then renamed).  0 or -errno; no .tmp is left. */
static inline int plug_write_file(const char *path, const void *data,
				  size_t len)
{
	char tmp[PATH_MAX];
	int fd, e = 0;

	if (plug_pathf(tmp, sizeof tmp, "%s.tmp", path) < 0)
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
		  0600);
	if (fd < 0)
		return -errno;
	if (write(fd, data, len) != (ssize_t)len)
		e = errno ? errno : EIO;
	if (close(fd) < 0 && !e)
		e = errno;
	if (!e && rename(tmp, path) < 0)
		e = errno;
	if (e)
		unlink(tmp);
	return -e;
}

/* Is the VM id (idlen bytes, not NUL-terminated) among live? */
static inline int plug_id_live(const char *id, size_t idlen,
			       const struct aether_vm *const *live,
			       size_t n_live)
{
	size_t i;

	for (i = 0; i < n_live; i++)
		if (live[i]->id && strlen(live[i]->id) == idlen &&
		    !strncmp(live[i]->id, id, idlen))
			return 1;
	return 0;
}

#endif
