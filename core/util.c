/* util.c - logging, allocation, name validation and small file helpers. */
#include "config.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

int ae_log_level = 6;

static const char *level_name(int level)
{
	switch (level) {
	case 0: case 1: case 2: case 3: return "error: ";
	case 4: return "warning: ";
	case 7: return "debug: ";
	default: return "";
	}
}

void ae_vlog_prefix(int level, const char *prefix, const char *fmt, va_list ap)
{
	char buf[2048];
	int n;

	if (level > ae_log_level)
		return;
	n = snprintf(buf, sizeof buf, "aether: %s%s%s", level_name(level),
		     prefix ? prefix : "", prefix ? ": " : "");
	if (n < 0 || (size_t)n >= sizeof buf)
		n = 0;
	vsnprintf(buf + n, sizeof buf - (size_t)n, fmt, ap);
	/* One write per line so concurrent writers do not interleave. */
	n = (int)strlen(buf);
	if (n > 0 && buf[n - 1] != '\n' && (size_t)n < sizeof buf - 1)
		buf[n++] = '\n';
	if (write(STDERR_FILENO, buf, (size_t)n) < 0) {
		/* nothing sensible left to do */
	}
}

void ae_log(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ae_vlog_prefix(level, NULL, fmt, ap);
	va_end(ap);
}

static void oom(void)
{
	static const char msg[] = "aether: error: out of memory\n";
	if (write(STDERR_FILENO, msg, sizeof msg - 1) < 0) {
	}
	abort();
}

void *ae_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		oom();
	return p;
}

void *ae_xcalloc(size_t n, size_t m)
{
	void *p = calloc(n ? n : 1, m ? m : 1);
	if (!p)
		oom();
	return p;
}

void *ae_xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		oom();
	return p;
}

char *ae_xstrdup(const char *s)
{
	char *p = strdup(s);
	if (!p)
		oom();
	return p;
}

char *ae_xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *p;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&p, fmt, ap);
	va_end(ap);
	if (n < 0)
		oom();
	return p;
}

int ae_seterr(char *err, size_t errlen, int code, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return code > 0 ? -code : code;
}

static bool name_chars(const char *s, const char *extra)
{
	for (; *s; s++)
		if (!isascii((unsigned char)*s) ||
		    (!isalnum((unsigned char)*s) && !strchr(extra, *s)))
			return false;
	return true;
}

bool ae_valid_vm_name(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	return n >= 1 && n <= 64 && isalnum((unsigned char)s[0]) &&
	       name_chars(s, "_.-");
}

bool ae_valid_backend_name(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n < 1 || n > 31)
		return false;
	for (; *s; s++)
		if (!(islower((unsigned char)*s) || isdigit((unsigned char)*s) ||
		      *s == '_'))
			return false;
	return true;
}

bool ae_valid_ifname(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n < 1 || n > 15 || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	return name_chars(s, "_.-");
}

bool ae_valid_abs_path(const char *s)
{
	const char *p;

	if (!s || s[0] != '/' || strlen(s) >= PATH_MAX)
		return false;
	for (p = s; *p; p++)
		if ((unsigned char)*p < 0x20)
			return false;
	for (p = s; (p = strstr(p, "..")); p += 2)
		if (p[-1] == '/' && (p[2] == '/' || p[2] == '\0'))
			return false;
	return true;
}

int ae_parse_bool(const char *s, int *out)
{
	static const char *const yes[] = {"yes", "true", "on", "1"};
	static const char *const no[] = {"no", "false", "off", "0"};
	size_t i;

	for (i = 0; i < AE_ARRAY_SIZE(yes); i++) {
		if (!strcasecmp(s, yes[i])) {
			*out = 1;
			return 0;
		}
		if (!strcasecmp(s, no[i])) {
			*out = 0;
			return 0;
		}
	}
	return -EINVAL;
}

int ae_parse_int(const char *s, int64_t *out)
{
	char *end;
	long long v;

	if (!*s || isspace((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (*end)
		return -EINVAL;
	if (errno == ERANGE)
		return -ERANGE;
	*out = v;
	return 0;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int ae_parse_mac(const char *s, uint8_t mac[6])
{
	int i;

	if (strlen(s) != 17)
		return -EINVAL;
	for (i = 0; i < 6; i++) {
		int hi = hexval((unsigned char)s[3 * i]);
		int lo = hexval((unsigned char)s[3 * i + 1]);
		if (hi < 0 || lo < 0 || (i < 5 && s[3 * i + 2] != ':'))
			return -EINVAL;
		mac[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

void ae_format_mac(const uint8_t mac[6], char out[18])
{
	snprintf(out, 18, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1],
		 mac[2], mac[3], mac[4], mac[5]);
}

/* Why ae_mkdir_private refused, naming the directory at fault. */
static void mkdir_why(char *why, size_t whylen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void mkdir_why(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	if (!why || !whylen)
		return;
	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
}

/* The walk of ae_mkdir_private: one component at a time, each opened
 * relative to its verified parent with O_NOFOLLOW and made with mkdirat,
 * so no path is looked up twice.  As root, every directory above the
 * last must be owned by root and not writable by group or others, unless
 * it is sticky (/tmp) and what we take from it is ours: otherwise another
 * user could swap a component and have root make or use its directory. */
static int mkdir_private_walk(const char *path, mode_t mode, char *why,
			      size_t whylen)
{
	char buf[PATH_MAX], done[PATH_MAX];
	const int root = geteuid() == 0;
	struct stat pst, st;
	int dfd, fd, rc = 0;
	size_t n = strlen(path);
	char *comp, *next;

	if (n == 0 || n >= sizeof buf) {
		mkdir_why(why, whylen, "%s", strerror(ENAMETOOLONG));
		return -ENAMETOOLONG;
	}
	memcpy(buf, path, n + 1);
	snprintf(done, sizeof done, "%s", path[0] == '/' ? "/" : ".");
	dfd = open(done, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fstat(dfd, &pst) < 0) {
		rc = -errno;
		mkdir_why(why, whylen, "%s: %s", done, strerror(-rc));
		if (dfd >= 0)
			close(dfd);
		return rc;
	}
	if (root && path[0] == '/' &&
	    (pst.st_uid != 0 || (pst.st_mode & (S_IWGRP | S_IWOTH)))) {
		close(dfd);
		mkdir_why(why, whylen, "/ is owned by uid %ld or writable by "
			  "others (mode %04o): refusing it as root",
			  (long)pst.st_uid, (unsigned)(pst.st_mode & 07777));
		return -EPERM;
	}
	for (comp = buf; *comp == '/'; comp++)
		;
	if (!*comp) {
		close(dfd);
		mkdir_why(why, whylen, "/ cannot be a private directory");
		return -EINVAL;
	}
	for (; comp && *comp; comp = next) {
		int last;

		next = strchr(comp, '/');
		if (next) {
			*next++ = '\0';
			while (*next == '/')
				next++;
		}
		last = !next || !*next;
		if (!strcmp(comp, "."))
			continue; /* "." is the directory we hold */
		if (!strcmp(comp, "..")) {
			mkdir_why(why, whylen, "%s: '..' in the path", path);
			rc = -EINVAL;
			break;
		}
		/* done: the path up to and including this component */
		{
			size_t dl = strlen(done);
			snprintf(done + dl, sizeof done - dl, "%s%s",
				 dl && done[dl - 1] == '/' ? "" : "/", comp);
		}
		fd = openat(dfd, comp,
			    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0 && errno == ENOENT) {
			if (mkdirat(dfd, comp, last ? mode : 0755) < 0 &&
			    errno != EEXIST) {
				rc = -errno;
				mkdir_why(why, whylen, "%s: %s", done,
					  strerror(-rc));
				break;
			}
			fd = openat(dfd, comp, O_RDONLY | O_DIRECTORY |
						       O_NOFOLLOW | O_CLOEXEC);
		}
		if (fd < 0 && (errno == ELOOP || errno == ENOTDIR)) {
			struct stat lst;

			if (fstatat(dfd, comp, &lst, AT_SYMLINK_NOFOLLOW) == 0 &&
			    S_ISLNK(lst.st_mode) && !last &&
			    (!root || (lst.st_uid == 0 &&
				       !(pst.st_mode & (S_IWGRP | S_IWOTH))))) {
				/* a link root made in a directory only root
				 * writes (/var/run -> /run): as trusted as a
				 * directory there; its target is checked */
				fd = openat(dfd, comp, O_RDONLY | O_DIRECTORY |
							       O_CLOEXEC);
			} else if (S_ISLNK(lst.st_mode)) {
				mkdir_why(why, whylen,
					  "%s is a symbolic link (%s): not "
					  "followed",
					  done,
					  last ? "the directory itself"
					       : lst.st_uid ? "owned by another user"
							    : "in a directory others can write");
				rc = -ELOOP;
				break;
			} else {
				mkdir_why(why, whylen, "%s: %s", done,
					  strerror(ENOTDIR));
				rc = -ENOTDIR;
				break;
			}
		}
		if (fd < 0 || fstat(fd, &st) < 0) {
			rc = -errno;
			mkdir_why(why, whylen, "%s: %s", done, strerror(-rc));
			if (fd >= 0)
				close(fd);
			break;
		}
		close(dfd);
		dfd = fd;
		if (root && (pst.st_mode & (S_IWGRP | S_IWOTH)) &&
		    st.st_uid != geteuid()) {
			/* only reached through a sticky parent (see below) */
			mkdir_why(why, whylen,
				  "%s is owned by uid %ld and its parent is "
				  "writable by others: refusing it as root",
				  done, (long)st.st_uid);
			rc = -EPERM;
			break;
		}
		if (last)
			break;
		if (root && st.st_uid != 0) {
			mkdir_why(why, whylen,
				  "%s is owned by uid %ld, not root: refusing "
				  "a directory under it as root",
				  done, (long)st.st_uid);
			rc = -EPERM;
			break;
		}
		if (root && (st.st_mode & (S_IWGRP | S_IWOTH)) &&
		    !(st.st_mode & S_ISVTX)) {
			mkdir_why(why, whylen,
				  "%s is writable by %s (mode %04o, not "
				  "sticky): refusing a directory under it as "
				  "root",
				  done, st.st_mode & S_IWOTH ? "others" : "its group",
				  (unsigned)(st.st_mode & 07777));
			rc = -EPERM;
			break;
		}
		pst = st;
	}
	if (rc == 0) {
		if (!S_ISDIR(st.st_mode)) {
			rc = -ENOTDIR;
			mkdir_why(why, whylen, "%s: %s", done, strerror(-rc));
		} else if (st.st_uid != geteuid()) {
			rc = -EPERM;
			mkdir_why(why, whylen, "%s is owned by another user (uid "
				  "%ld)", done, (long)st.st_uid);
		} else if ((st.st_mode & 07777) != mode &&
			   fchmod(dfd, mode) < 0) {
			rc = -errno;
			mkdir_why(why, whylen, "%s: chmod: %s", done,
				  strerror(-rc));
		}
	}
	close(dfd);
	return rc;
}

int ae_mkdir_private(const char *path, mode_t mode)
{
	return mkdir_private_walk(path, mode, NULL, 0);
}

static int rmtree_at(int dfd, const char *name)
{
	int fd, rc = 0;
	DIR *d;
	struct dirent *e;

	if (unlinkat(dfd, name, 0) == 0 || errno == ENOENT)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return -errno;
	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		int r = rmtree_at(dirfd(d), e->d_name);
		if (r < 0 && !rc)
			rc = r;
	}
	closedir(d);
	if (unlinkat(dfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT && !rc)
		rc = -errno;
	return rc;
}

int ae_mkdir_private_err(const char *path, mode_t mode, const char *what,
			 char *err, size_t errlen)
{
	char why[PATH_MAX + 200];
	int rc = mkdir_private_walk(path, mode, why, sizeof why);

	if (rc < 0)
		ae_seterr(err, errlen, -rc, "%s %s: %s", what, path, why);
	return rc;
}

int ae_rmtree(const char *path)
{
	return rmtree_at(AT_FDCWD, path);
}

/* Write data to a temporary file next to path, then put it in place. */
static int write_tmp_and_swap(const char *path, const char *data, size_t len,
			      mode_t mode, int exchange)
{
	char tmp[PATH_MAX];
	int fd, rc = 0;

	if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >=
	    (int)sizeof tmp)
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
		  mode);
	if (fd < 0)
		return -errno;
	while (len > 0) {
		ssize_t w = write(fd, data, len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			break;
		}
		data += w;
		len -= (size_t)w;
	}
	if (close(fd) < 0 && !rc)
		rc = -errno;
	if (rc) {
		unlink(tmp);
		return rc;
	}
	if (exchange &&
	    renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_EXCHANGE) == 0) {
		unlink(tmp); /* now the old contents */
		return 0;
	}
	if (rename(tmp, path) < 0) {
		rc = -errno;
		unlink(tmp);
	}
	return rc;
}

int ae_write_file(const char *path, const char *data, size_t len, mode_t mode)
{
	return write_tmp_and_swap(path, data, len, mode, 0);
}

int ae_write_file_swap(const char *path, const char *data, size_t len,
		       mode_t mode)
{
	return write_tmp_and_swap(path, data, len, mode, 1);
}

int ae_read_file(const char *path, char **out, size_t *len, size_t max)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t n = 0, cap = 4096;
	char *buf;

	if (fd < 0)
		return -errno;
	buf = ae_xmalloc(cap);
	for (;;) {
		ssize_t r;
		if (n + 1 >= cap) {
			if (cap >= max) {
				free(buf);
				close(fd);
				return -EFBIG;
			}
			cap *= 2;
			buf = ae_xrealloc(buf, cap);
		}
		r = read(fd, buf + n, cap - n - 1);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			int e = -errno;
			free(buf);
			close(fd);
			return e;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	buf[n] = '\0';
	*out = buf;
	if (len)
		*len = n;
	return 0;
}

int ae_pid_alive(pid_t pid)
{
	char path[64], *buf, *p;
	int alive = 1;

	if (pid <= 0 || (kill(pid, 0) < 0 && errno != EPERM))
		return 0;
	/* A zombie nobody reaps (an init that does not) is dead to us. */
	snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
	if (ae_read_file(path, &buf, NULL, 4096) == 0) {
		p = strrchr(buf, ')');
		if (p && p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X'))
			alive = 0;
		free(buf);
	}
	return alive;
}

int ae_read_long(const char *dir, const char *file, long *out)
{
	char path[PATH_MAX], *buf, *end;
	int rc;

	if (snprintf(path, sizeof path, "%s/%s", dir, file) >= (int)sizeof path)
		return -ENAMETOOLONG;
	rc = ae_read_file(path, &buf, NULL, 64);
	if (rc < 0)
		return rc;
	*out = strtol(buf, &end, 10);
	rc = (end == buf) ? -EINVAL : 0;
	free(buf);
	return rc;
}

int ae_privileged_exec(void)
{
	return getauxval(AT_SECURE) != 0;
}

static int env_root_strict;

void ae_env_set_root_strict(int on)
{
	env_root_strict = on;
}

const char *ae_getenv_trusted(const char *name, const char *instead)
{
	static char told[4][32];
	const char *v = secure_getenv(name), *why = NULL;
	size_t i;

	if (!v) {
		if (getenv(name) && *getenv(name))
			why = "this aether runs with privileges the caller "
			      "does not have (setuid or file capabilities)";
	} else if (env_root_strict && geteuid() == 0 && *v) {
		why = "running as root (sudo -E passes a user's variables)";
		v = NULL;
	}
	if (!why)
		return v;
	for (i = 0; i < AE_ARRAY_SIZE(told) && told[i][0]; i++)
		if (!strcmp(told[i], name))
			return NULL;
	if (i < AE_ARRAY_SIZE(told))
		snprintf(told[i], sizeof told[i], "%s", name);
	ae_info("%s is ignored: %s; use %s", name, why, instead);
	return NULL;
}

uint64_t ae_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Length of the well-formed UTF-8 sequence at s (at most n bytes), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	unsigned c = s[0];
	size_t need;
	unsigned lo = 0x80, hi = 0xbf;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		need = 2;
	else if (c >= 0xe0 && c <= 0xef) {
		need = 3;
		if (c == 0xe0)
			lo = 0xa0; /* no overlongs */
		else if (c == 0xed)
			hi = 0x9f; /* no surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		need = 4;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f; /* <= U+10FFFF */
	} else
		return 0;
	if (n < need)
		return 0;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < need; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return need;
}

size_t ae_utf8_valid_prefix(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, k;

	while (i < len && (k = utf8_seq(u + i, len - i)))
		i += k;
	return i;
}

char *ae_utf8_clean(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	char *out = ae_xmalloc(len * 3 + 1), *o = out;
	size_t i = 0, k;

	while (i < len) {
		k = u[i] ? utf8_seq(u + i, len - i) : 0;
		if (k) {
			memcpy(o, u + i, k);
			o += k;
			i += k;
		} else {
			memcpy(o, "\xef\xbf\xbd", 3); /* U+FFFD */
			o += 3;
			i++;
		}
	}
	*o = '\0';
	return out;
}

int ae_unix_connect(const char *path, int timeout_ms)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	uint64_t end = ae_now_ns() + (uint64_t)timeout_ms * 1000000ull;
	int fd;

	if (strlen(path) >= sizeof sa.sun_path)
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	/* A full backlog (nobody accepting) says EAGAIN: retry until the
	 * deadline.  Unix sockets never say EINPROGRESS. */
	while (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		int e = errno;
		if (e == EINTR)
			continue;
		if (e != EAGAIN || ae_now_ns() >= end) {
			close(fd);
			return e == EAGAIN ? -ETIMEDOUT : -e;
		}
		usleep(10000);
	}
	return fd;
}
