/* journal.c - the host agent's create requests, recorded in the VM store
 * (see journal.h). */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "journal.h"
#include "lifecycle.h"
#include "util.h"

char *ae_journal_dir(const char *store, char *err, size_t errlen)
{
	char *d = ae_xasprintf("%s/requests", store);

	if (ae_mkdir_private_err(d, 0700, "request journal", err, errlen) < 0) {
		free(d);
		return NULL;
	}
	return d;
}

int ae_journal_valid_id(const char *id)
{
	size_t i, n = id ? strlen(id) : 0;

	if (n == 0 || n > 128)
		return 0;
	for (i = 0; i < n; i++) {
		char c = id[i];
		if (!(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') &&
		    !(c >= '0' && c <= '9') && c != '_' && c != ':' &&
		    c != '@' && c != '-')
			return 0;
	}
	return 1;
}

int ae_journal_read(const char *dir, const char *id, struct ae_jrec *r)
{
	char *path = ae_xasprintf("%s/%s", dir, id), *text, *line, *save;
	size_t len;
	int rc;

	memset(r, 0, sizeof *r);
	rc = ae_read_file(path, &text, &len, 4096);
	free(path);
	if (rc < 0)
		return rc;
	for (line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *eq = strchr(line, '=');
		if (!eq)
			continue;
		*eq++ = '\0';
		if (!strcmp(line, "state"))
			snprintf(r->state, sizeof r->state, "%s", eq);
		else if (!strcmp(line, "name"))
			snprintf(r->name, sizeof r->name, "%s", eq);
		else if (!strcmp(line, "digest"))
			snprintf(r->digest, sizeof r->digest, "%s", eq);
		else if (!strcmp(line, "pid"))
			r->pid = strtol(eq, NULL, 10);
		else if (!strcmp(line, "time"))
			r->time = strtoll(eq, NULL, 10);
	}
	free(text);
	return r->state[0] && r->name[0] ? 0 : -EINVAL;
}

int ae_journal_write(const char *dir, const char *id, const struct ae_jrec *r)
{
	char *path = ae_xasprintf("%s/%s", dir, id);
	char *text = ae_xasprintf("state=%s\nname=%s\ndigest=%s\npid=%ld\n"
				  "time=%lld\n", r->state, r->name, r->digest,
				  r->pid, r->time);
	int rc = ae_write_file(path, text, strlen(text), 0600);

	free(text);
	free(path);
	return rc;
}

char *ae_journal_reply(const char *dir, const char *id)
{
	char *path = ae_xasprintf("%s/%s.reply", dir, id), *text = NULL;
	size_t len;

	if (ae_read_file(path, &text, &len, 1 << 20) < 0)
		text = NULL;
	free(path);
	return text;
}

int ae_journal_set_reply(const char *dir, const char *id, const char *json)
{
	char *path = ae_xasprintf("%s/%s.reply", dir, id);
	int rc = ae_write_file(path, json, strlen(json), 0600);

	free(path);
	return rc;
}

void ae_journal_remove(const char *dir, const char *id)
{
	char *path = ae_xasprintf("%s/%s.reply", dir, id);

	unlink(path);
	free(path);
	path = ae_xasprintf("%s/%s", dir, id);
	unlink(path);
	free(path);
}

int ae_journal_rollback(const char *store, const char *dir, const char *id,
			const char *hostconf)
{
	struct ae_jrec r;
	char *vmdir;
	int rc = 0;

	if (ae_journal_read(dir, id, &r) < 0 || strcmp(r.state, "accepted"))
		return 0;
	vmdir = ae_xasprintf("%s/vms/%s", store, r.name);
	if (ae_valid_vm_name(r.name) && access(vmdir, F_OK) == 0) {
		char *argv[] = {"delete", "--force", r.name, NULL};
		ae_warn("request %s: deleting the half-made VM %s", id, r.name);
		if (ae_cmd_delete(3, argv, hostconf) != 0) {
			free(vmdir);
			return -1; /* keep the record: retried */
		}
		rc = 1;
	}
	free(vmdir);
	ae_journal_remove(dir, id);
	return rc;
}

int ae_journal_recover(const char *store, const char *hostconf, pid_t skip_pid)
{
	char err[512], *dir = ae_journal_dir(store, err, sizeof err);
	long long now = (long long)time(NULL);
	struct dirent *e;
	int rolled = 0;
	DIR *d;

	if (!dir || !(d = opendir(dir))) {
		free(dir);
		return 0;
	}
	while ((e = readdir(d))) {
		struct ae_jrec r;
		size_t n = strlen(e->d_name);

		if (e->d_name[0] == '.' ||
		    (n > 6 && !strcmp(e->d_name + n - 6, ".reply")) ||
		    !ae_journal_valid_id(e->d_name))
			continue;
		if (ae_journal_read(dir, e->d_name, &r) < 0) {
			ae_warn("%s/%s: unreadable request record: removed", dir,
				e->d_name);
			ae_journal_remove(dir, e->d_name);
			continue;
		}
		if (!strcmp(r.state, "accepted")) {
			if (r.pid == (long)skip_pid || ae_pid_alive((pid_t)r.pid))
				continue;
			ae_warn("request %s: its agent (pid %ld) died while "
				"making VM %s", e->d_name, r.pid, r.name);
			if (ae_journal_rollback(store, dir, e->d_name,
						hostconf) > 0)
				rolled++;
		} else if (now - r.time > 7 * 24 * 3600) {
			ae_journal_remove(dir, e->d_name);
		}
	}
	closedir(d);
	free(dir);
	return rolled;
}
