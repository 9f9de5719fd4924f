/* util.h - logging, allocation, name validation and small file helpers
 * shared by the core. */
#ifndef AE_UTIL_H
#define AE_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define AE_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Logging to stderr: "aether: [prefix: ]message".  Levels as syslog. */
extern int ae_log_level;
void ae_log(int level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void ae_vlog_prefix(int level, const char *prefix, const char *fmt,
		    va_list ap) __attribute__((format(printf, 3, 0)));
#define ae_err(...) ae_log(3, __VA_ARGS__)
#define ae_warn(...) ae_log(4, __VA_ARGS__)
#define ae_info(...) ae_log(6, __VA_ARGS__)
#define ae_debug(...) ae_log(7, __VA_ARGS__)

void *ae_xmalloc(size_t n);
void *ae_xcalloc(size_t n, size_t m);
void *ae_xrealloc(void *p, size_t n);
char *ae_xstrdup(const char *s);
char *ae_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* snprintf into err, always terminated; returns -err_code for chaining. */
int ae_seterr(char *err, size_t errlen, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Validation of names that reach the kernel or the filesystem. */
bool ae_valid_vm_name(const char *s);     /* [A-Za-z0-9][A-Za-z0-9_.-]{0,63} */
bool ae_valid_backend_name(const char *s);/* [a-z0-9_]{1,31} */
bool ae_valid_ifname(const char *s);      /* 1..15, [A-Za-z0-9_.-], not . or .. */
bool ae_valid_abs_path(const char *s);    /* absolute, no ".." component */

/* Parse helpers: return 0 or -EINVAL / -ERANGE. */
int ae_parse_bool(const char *s, int *out);
int ae_parse_int(const char *s, int64_t *out);
int ae_parse_mac(const char *s, uint8_t mac[6]);
void ae_format_mac(const uint8_t mac[6], char out[18]);

/* mkdir -p: parents made 0755, the last component is made (or must
 * already be) a directory owned by us with exactly mode.  Made one
 * component at a time relative to the verified parent (openat/mkdirat,
 * O_NOFOLLOW: the last component is never a symlink).  As root, every
 * directory above the last must be owned by root and not writable by
 * group or others, unless it is sticky and its child on the path is ours
 * (/tmp); a symlink on the way is followed only when root owns it and it
 * sits in such a directory.  -EPERM, -ELOOP, -ENOTDIR or -errno. */
int ae_mkdir_private(const char *path, mode_t mode);
/* The same, with "WHAT PATH: reason" in err on failure; the reason names
 * the directory at fault. */
int ae_mkdir_private_err(const char *path, mode_t mode, const char *what,
			 char *err, size_t errlen);
/* Remove a directory tree we own (no symlink following). */
int ae_rmtree(const char *path);
/* Write a whole small file atomically (tmp + rename). */
int ae_write_file(const char *path, const char *data, size_t len, mode_t mode);
/* The same, but the new file is swapped in with renameat2(RENAME_EXCHANGE)
 * and the old one unlinked (plain rename where that is unsupported or
 * there is no old file): readers still see old or new, never partial, and
 * ext4 does not force the data out as it does on a rename over a file
 * (auto_da_alloc), which costs hundreds of microseconds. */
int ae_write_file_swap(const char *path, const char *data, size_t len,
		       mode_t mode);
/* Read a small file into a NUL-terminated buffer. */
int ae_read_file(const char *path, char **out, size_t *len, size_t max);

/* 1 while pid runs (kill 0 works or says EPERM) and is not a zombie. */
int ae_pid_alive(pid_t pid);
/* Read a small file dir/file holding a decimal number. */
int ae_read_long(const char *dir, const char *file, long *out);

/* 1 when this process runs with privileges its caller does not have
 * (AT_SECURE: setuid, setgid or file capabilities). */
int ae_privileged_exec(void);
/* A variable that chooses code or configuration (AETHER_PLUGIN_PATH,
 * AETHER_CONFIG): read with secure_getenv, so NULL in a privileged exec;
 * NULL as root too once ae_env_set_root_strict(1) was called (the aether
 * program does: sudo -E hands a user's variables to root).  When a set
 * variable is ignored it says so once, at info level, naming `instead`
 * (the option to use). */
const char *ae_getenv_trusted(const char *name, const char *instead);
void ae_env_set_root_strict(int on);

/* Length of the longest valid UTF-8 prefix of s[0..len) that ends on a
 * character boundary (no partial sequence at the end). */
size_t ae_utf8_valid_prefix(const char *s, size_t len);
/* A NUL-terminated copy of s[0..len) in which every byte that is not
 * part of a well-formed UTF-8 sequence (RFC 3629: no overlongs, no
 * surrogates, nothing above U+10FFFF) and every NUL is replaced by
 * U+FFFD.  The result is always valid UTF-8, safe to put in JSON. */
char *ae_utf8_clean(const char *s, size_t len);

/* Connect a non-blocking unix stream socket to path within timeout_ms
 * (a listener that does not accept, its backlog full, cannot hang the
 * caller).  The fd, or -errno (-ETIMEDOUT). */
int ae_unix_connect(const char *path, int timeout_ms);

/* Monotonic clock in nanoseconds. */
uint64_t ae_now_ns(void);

#endif
