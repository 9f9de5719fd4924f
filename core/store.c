/* store.c - the VM store, per-VM state records and locks. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "conffile.h"
#include "mac.h"
#include "store.h"
#include "util.h"

int ae_store_root(char **out, char *err, size_t errlen)
{
	const char *env = getenv("AETHER_STORE_DIR");
	const char *xdg = getenv("XDG_DATA_HOME");
	const char *home = getenv("HOME");
	char *root;
	int rc;

	if (env && *env)
		root = ae_xstrdup(env);
	else if (geteuid() == 0)
		root = ae_xstrdup("/var/lib/aether");
	else if (xdg && *xdg)
		root = ae_xasprintf("%s/aether", xdg);
	else if (home && *home)
		root = ae_xasprintf("%s/.local/share/aether", home);
	else
		return ae_seterr(err, errlen, ENOENT,
				 "no VM store: set AETHER_STORE_DIR, "
				 "XDG_DATA_HOME or HOME");
	if (!ae_valid_abs_path(root)) {
		rc = ae_seterr(err, errlen, EINVAL,
			       "VM store '%s' is not an absolute path without "
			       "'..'", root);
		free(root);
		return rc;
	}
	rc = ae_mkdir_private_err(root, 0700, "VM store", err, errlen);
	if (rc == 0) {
		char *vms = ae_xasprintf("%s/vms", root);
		rc = ae_mkdir_private_err(vms, 0700, "VM store", err, errlen);
		free(vms);
	}
	if (rc < 0) {
		free(root);
		return rc;
	}
	*out = root;
	return 0;
}

int ae_store_lock(const char *dir, int how)
{
	char path[PATH_MAX];
	int fd;

	if (snprintf(path, sizeof path, "%s/lock", dir) >= (int)sizeof path)
		return -ENAMETOOLONG;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	while (flock(fd, how) < 0) {
		int e = errno;
		if (e == EINTR)
			continue;
		close(fd);
		return -e;
	}
	return fd;
}

void ae_vmstate_init(struct ae_vmstate *s, const char *state)
{
	memset(s, 0, sizeof *s);
	snprintf(s->state, sizeof s->state, "%s", state);
	s->index = -1;
	s->exit_code = -1;
	s->updated = (long long)time(NULL);
}

int ae_vmstate_write(const char *path, const struct ae_vmstate *s)
{
	char buf[512], reason[sizeof s->reason];
	size_t i;
	int n;

	/* one line: no newlines or control characters in the reason */
	for (i = 0; s->reason[i] && i < sizeof reason - 1; i++)
		reason[i] = (unsigned char)s->reason[i] < 0x20 ? ' '
							     : s->reason[i];
	reason[i] = '\0';
	if (i == sizeof reason - 1) {
		/* cut where it filled the buffer: not inside a character */
		size_t j = i, want;
		while (j > 0 && i - j < 3 &&
		       ((unsigned char)reason[j - 1] & 0xc0) == 0x80)
			j--;
		if (j > 0) {
			unsigned char lead = (unsigned char)reason[j - 1];
			want = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 :
			       lead >= 0xc0 ? 2 : 1;
			if (lead >= 0xc0 && j - 1 + want > i)
				reason[j - 1] = '\0';
		}
	}
	n = snprintf(buf, sizeof buf,
		     "state=%s\npid=%ld\nqemu_pid=%ld\nindex=%ld\nstarted=%lld\n"
		     "updated=%lld\nexit=%d\nreason=%s\n",
		     s->state, s->pid, s->qemu_pid, s->index, s->started,
		     (long long)time(NULL), s->exit_code, reason);
	if (n < 0 || n >= (int)sizeof buf)
		return -EOVERFLOW;
	return ae_write_file_swap(path, buf, (size_t)n, 0600);
}

int ae_vmstate_read(const char *path, struct ae_vmstate *s)
{
	char *buf, *line, *save = NULL;
	int rc;

	ae_vmstate_init(s, "unknown");
	s->updated = 0;
	rc = ae_read_file(path, &buf, NULL, 4096);
	if (rc < 0)
		return rc;
	if (!*buf) {
		/* written but never flushed before a power failure */
		snprintf(s->state, sizeof s->state, "crashed");
		snprintf(s->reason, sizeof s->reason,
			 "the state record was lost (an empty file)");
		free(buf);
		return 0;
	}
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *eq = strchr(line, '=');
		const char *k = line, *v;
		if (!eq)
			continue;
		*eq = '\0';
		v = eq + 1;
		if (!strcmp(k, "state"))
			snprintf(s->state, sizeof s->state, "%s", v);
		else if (!strcmp(k, "pid"))
			s->pid = strtol(v, NULL, 10);
		else if (!strcmp(k, "qemu_pid"))
			s->qemu_pid = strtol(v, NULL, 10);
		else if (!strcmp(k, "index"))
			s->index = strtol(v, NULL, 10);
		else if (!strcmp(k, "started"))
			s->started = strtoll(v, NULL, 10);
		else if (!strcmp(k, "updated"))
			s->updated = strtoll(v, NULL, 10);
		else if (!strcmp(k, "exit"))
			s->exit_code = (int)strtol(v, NULL, 10);
		else if (!strcmp(k, "reason"))
			snprintf(s->reason, sizeof s->reason, "%s", v);
	}
	free(buf);
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int ae_store_list(const char *root, char ***names)
{
	char path[PATH_MAX];
	struct dirent *e;
	char **v = NULL;
	int n = 0;
	DIR *d;

	*names = NULL;
	snprintf(path, sizeof path, "%s/vms", root);
	d = opendir(path);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((e = readdir(d))) {
		if (!ae_valid_vm_name(e->d_name))
			continue; /* ".", "..", .new-*, .del-* */
		v = ae_xrealloc(v, (size_t)(n + 1) * sizeof *v);
		v[n++] = ae_xstrdup(e->d_name);
	}
	closedir(d);
	if (n > 1)
		qsort(v, (size_t)n, sizeof *v, cmp_str);
	*names = v;
	return n;
}

void ae_store_list_free(char **names, int n)
{
	int i;

	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

int ae_uuid_random(char out[37])
{
	uint8_t b[16];
	size_t got = 0;

	while (got < sizeof b) {
		ssize_t r = getrandom(b + got, sizeof b - got, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		got += (size_t)r;
	}
	b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
	b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
	snprintf(out, 37,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
		 "%02x%02x%02x%02x%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9],
		 b[10], b[11], b[12], b[13], b[14], b[15]);
	return 0;
}

int ae_uuid_valid(const char *s)
{
	int i;

	if (!s || strlen(s) != 36)
		return 0;
	for (i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return 0;
		} else if (!((s[i] >= '0' && s[i] <= '9') ||
			     (s[i] >= 'a' && s[i] <= 'f') ||
			     (s[i] >= 'A' && s[i] <= 'F'))) {
			return 0;
		}
	}
	return 1;
}

int ae_store_vm_mac(const char *vmfile, uint8_t mac[6])
{
	char *buf, *line, *save = NULL;
	int rc;

	if ((rc = ae_read_file(vmfile, &buf, NULL, 1 << 20)) < 0)
		return rc;
	rc = -ENOENT;
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *p = line;
		while (*p == ' ' || *p == '\t')
			p++;
		if (strncmp(p, "mac", 3))
			continue;
		p += 3;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p != '=')
			continue;
		p++;
		while (*p == ' ' || *p == '\t')
			p++;
		{
			char *end = p + strlen(p), *dec = NULL, why[160];
			/* as the config parser: " ;" starts a comment, quotes */
			for (end = p; *end; end++)
				if (*end == ';' && end > p &&
				    (end[-1] == ' ' || end[-1] == '\t')) {
					*end = '\0';
					break;
				}
			end = p + strlen(p);
			while (end > p && (end[-1] == ' ' || end[-1] == '\t' ||
					   end[-1] == '\r'))
				*--end = '\0';
			if (ae_ini_decode_value(p, &dec, why, sizeof why) < 0)
				rc = -EINVAL;
			else
				rc = ae_parse_mac(dec ? dec : p, mac) < 0 ? -EINVAL
									  : 0;
			free(dec);
		}
		break;
	}
	free(buf);
	return rc;
}

static int mac_taken(const uint8_t (*taken)[6], size_t n, const uint8_t m[6])
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!memcmp(taken[i], m, 6))
			return 1;
	return 0;
}

int ae_store_pick_mac(const char *name, const uint8_t (*taken)[6], size_t n,
		      uint8_t mac[6])
{
	unsigned salt;

	/* NIC numbers >= 1000 as salts: never what a real NIC 1.. derives. */
	ae_mac_derive(name, 0, mac);
	if (!mac_taken(taken, n, mac))
		return 0;
	for (salt = 1;; salt++) {
		ae_mac_derive(name, 1000 + salt, mac);
		if (!mac_taken(taken, n, mac))
			return (int)salt;
	}
}

void ae_store_gc(const char *root)
{
	char path[PATH_MAX];
	struct dirent *e;
	DIR *d;

	snprintf(path, sizeof path, "%s/vms", root);
	d = opendir(path);
	if (!d)
		return;
	while ((e = readdir(d))) {
		const char *dot;
		long pid;

		if (strncmp(e->d_name, ".new-", 5) &&
		    strncmp(e->d_name, ".del-", 5))
			continue;
		dot = strrchr(e->d_name, '.');
		pid = dot && dot != e->d_name ? strtol(dot + 1, NULL, 10) : 0;
		if (pid > 0 && ae_pid_alive((pid_t)pid))
			continue;
		{
			char *p = ae_xasprintf("%s/%s", path, e->d_name);
			ae_info("gc: removing interrupted %s %s",
				e->d_name[1] == 'n' ? "create" : "delete", p);
			ae_rmtree(p);
			free(p);
		}
	}
	closedir(d);
}
