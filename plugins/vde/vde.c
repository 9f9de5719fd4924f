/*
 * vde.c - the VDE backend: user-mode switching with a managed vde_switch.
 *
 * Every VM NIC is connected to a VDE switch through QEMU's native vde
 * netdev.  When the switch is managed (the default) and not running, the
 * plugin starts vde_switch through the host's helper service (or as the
 * systemd user unit aether-vde.service), shares it between every aether
 * process of the user and stops it when the last VM using it leaves.
 *
 * This file holds the options and the verbs; the managed switch (state
 * directories, lock, probe, start and stop) is in switch.c, the shared
 * state in vde.h.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <grp.h>
#include <limits.h>
#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <aether/plugin.h>

#include "switch.h"
#include "vde.h"

/* "<sock>/.PPPPP-NNNNN" (libvdeplug) must fit in sun_path. */
#define SOCK_MAX_LEN (sizeof(((struct sockaddr_un *)0)->sun_path) - 16)

static const struct aether_option vde_options[] = {
	{.key = "socket", .type = AETHER_OPT_PATH,
	 .help = "switch control directory (default: <runtime dir>/switch)"},
	{.key = "managed", .type = AETHER_OPT_BOOL, .def = "yes",
	 .help = "start vde_switch when it is not running, stop it after the "
		 "last VM"},
	{.key = "keep_running", .type = AETHER_OPT_BOOL, .def = "no",
	 .help = "leave a managed switch running when the last VM leaves"},
	{.key = "tap", .type = AETHER_OPT_IFNAME,
	 .help = "TAP device the managed switch uses to reach the host network"},
	{.key = "port", .type = AETHER_OPT_INT, .def = "0",
	 .help = "switch port for the VM NIC (0: any free port)",
	 .min = 0, .max = 1023},
	{.key = "group", .type = AETHER_OPT_STRING,
	 .help = "group owning the VM's switch port"},
	{.key = "systemd", .type = AETHER_OPT_BOOL, .def = "no",
	 .help = "run the managed switch as the systemd user unit "
		 "aether-vde.service"},
	{.key = "start_timeout_ms", .type = AETHER_OPT_INT, .def = "5000",
	 .help = "how long to wait for a started switch to answer",
	 .min = 100, .max = 60000},
	{.key = "probe_timeout_ms", .type = AETHER_OPT_INT, .def = "2000",
	 .help = "how long a switch may take to answer a probe",
	 .min = 50, .max = 60000},
	{.key = NULL},
};

/* One attached NIC (the plugin's state is in vde.h). */
struct vde_att {
	char marker[PATH_MAX]; /* "" when unmanaged */
	char *sock, *group;
};

/* ------------------------------------------------------------------ */
/* Verbs.                                                             */

static void vde_fini(void *state)
{
	struct vde_state *st = state;

	if (!st)
		return;
	free(st->rundir);
	free(st->tap);
	free(st->group);
	free(st);
}

static int check_sock(const char *sock)
{
	return vde_valid_sock_path(sock) && strlen(sock) <= SOCK_MAX_LEN;
}

/* Every option value this plugin parses, into st (tap and group
 * strdup'd): by validate (on a scratch state, from check-config and
 * before init) and by init.  The default socket, under the runtime dir,
 * is init's. */
static int vde_parse_options(const struct aether_host *host,
			     struct vde_state *st)
{
	const char *s;
	int64_t v;
	int b;

	s = host->opt_get(host, "socket", 0);
	if (s && *s) {
		size_t l = strlen(s);
		snprintf(st->sock, sizeof st->sock, "%s", s);
		while (l > 1 && st->sock[l - 1] == '/')
			st->sock[--l] = '\0';
		if (!check_sock(st->sock)) {
			aether_opt_report(host, "socket", 0,
				"a VDE switch directory must be an absolute "
				"path of at most %zu characters from "
				"[A-Za-z0-9/._+@-]",
				(size_t)SOCK_MAX_LEN);
			return -EINVAL;
		}
	}
	if (host->opt_bool(host, "managed", &b) == 0)
		st->managed = b;
	if (host->opt_bool(host, "keep_running", &b) == 0)
		st->keep_running = b;
	if (host->opt_bool(host, "systemd", &b) == 0)
		st->systemd = b;
	st->port = 0;
	if (host->opt_int(host, "port", &v) == 0)
		st->port = (int)v;
	st->start_timeout_ms = 5000;
	if (host->opt_int(host, "start_timeout_ms", &v) == 0)
		st->start_timeout_ms = (int)v;
	st->probe_timeout_ms = 2000;
	if (host->opt_int(host, "probe_timeout_ms", &v) == 0)
		st->probe_timeout_ms = (int)v;

	s = host->opt_get(host, "tap", 0);
	if (s && *s) {
		if (!vde_valid_word(s, IFNAMSIZ - 1)) {
			aether_opt_report(host, "tap", 0, "not a valid interface name");
			return -EINVAL;
		}
		if (!(st->tap = strdup(s)))
			return -ENOMEM;
	}
	s = host->opt_get(host, "group", 0);
	if (s && *s) {
		struct group gr, *res = NULL;
		char buf[4096];

		if (!vde_valid_word(s, 32)) {
			aether_opt_report(host, "group", 0, "not a valid group name");
			return -EINVAL;
		}
		if (getgrnam_r(s, &gr, buf, sizeof buf, &res) != 0 || !res) {
			aether_opt_report(host, "group", 0, "no such group");
			return -ENOENT;
		}
		if (!(st->group = strdup(s)))
			return -ENOMEM;
	}
	return 0;
}

static int vde_validate(const struct aether_host *host)
{
	struct vde_state scratch = {.host = host};
	int rc = vde_parse_options(host, &scratch);

	free(scratch.tap);
	free(scratch.group);
	return rc;
}

static int vde_init(const struct aether_host *host, void **state)
{
	struct vde_state *st;
	int rc;

	if (!host->runtime_dir || !host->helper_start || !host->helper_alive ||
	    !host->helper_stop)
		return -ENOSYS;
	st = calloc(1, sizeof *st);
	if (!st)
		return -ENOMEM;
	st->host = host;
	st->rundir = strdup(host->runtime_dir);
	if (!st->rundir) {
		free(st);
		return -ENOMEM;
	}
	rc = vde_parse_options(host, st);
	if (!rc && !st->sock[0]) {
		if (plug_pathf(st->sock, sizeof st->sock, "%s/switch",
			      st->rundir) < 0) {
			rc = -ENAMETOOLONG;
		} else if (!check_sock(st->sock)) {
			AETHER_ERR(host,
				   "socket '%s' (under the runtime dir): a VDE "
				   "switch directory must be an absolute path "
				   "of at most %zu characters from "
				   "[A-Za-z0-9/._+@-]",
				   st->sock, (size_t)SOCK_MAX_LEN);
			rc = -EINVAL;
		}
	}
	if (!rc && st->tap && !st->managed)
		AETHER_WARN(host,
			    "tap = %s is only used when aether manages the "
			    "switch (managed = yes)",
			    st->tap);
	if (!rc && plug_pathf(st->statedir, sizeof st->statedir, "%s/sw-%016llx",
			     st->rundir,
			     (unsigned long long)vde_fnv1a(st->sock)) < 0)
		rc = -ENAMETOOLONG;
	if (rc) {
		vde_fini(st);
		return rc;
	}
	*state = st;
	return 0;
}

static void free_att(struct vde_att *a)
{
	if (!a)
		return;
	free(a->sock);
	free(a->group);
	free(a);
}

static int vde_attach(void *state, const struct aether_vm *vm,
		      struct aether_attachment *att, void **att_state)
{
	struct vde_state *st = state;
	struct vde_att *a;
	int rc = 0, lock = -1, created_state = 0, answering;

	if (!vm || !vm->id || !vde_valid_word(vm->id, 128)) {
		AETHER_ERR(st->host, "invalid VM id '%s'",
		    vm && vm->id ? vm->id : "(null)");
		return -EINVAL;
	}
	if (vm->uid != geteuid())
		AETHER_WARN(st->host,
		    "QEMU runs as uid %ld, the switch as uid %ld: the switch "
		    "directory %s must be reachable by both",
		    (long)vm->uid, (long)geteuid(), st->sock);
	a = calloc(1, sizeof *a);
	if (!a || !(a->sock = strdup(st->sock)) ||
	    (st->group && !(a->group = strdup(st->group)))) {
		free_att(a);
		return -ENOMEM;
	}

	if (st->managed) {
		struct stat sb;
		char text[32];
		int had_state;

		lock = vde_lock_state(st);
		if (lock < 0) {
			free_att(a);
			return lock;
		}
		had_state = stat(st->statedir, &sb) == 0;
		rc = vde_probe_switch(st->sock, 0, NULL, st->probe_timeout_ms);
		if (rc == 0) {
			AETHER_DEBUG(st->host, "reusing the switch at %s",
			    st->sock);
		} else {
			pid_t pid = 0;
			if (had_state &&
			    vde_switch_running_owned(st, st->statedir, st->sock,
						     &pid) &&
			    pid) {
				AETHER_ERR(st->host,
				    "vde_switch pid %ld for %s is running but "
				    "does not answer (%s); stop it or run "
				    "aether gc",
				    (long)pid, st->sock, strerror(-rc));
				rc = -EHOSTDOWN;
				goto out;
			}
			if (rc == -ETIMEDOUT) {
				/* something listens there, not a switch */
				rc = vde_diagnose_sock(st, st->sock, rc,
						       st->probe_timeout_ms);
				goto out;
			}
		}
		answering = rc == 0;
		if ((rc = vde_make_statedir(st)) < 0)
			goto out;
		created_state = !had_state;
		if (!answering && (rc = vde_start_switch(st)) < 0)
			goto out;
		if (plug_pathf(a->marker, sizeof a->marker, "%s/users/%s@%u",
			      st->statedir, vm->id, (unsigned)vm->nic) < 0) {
			rc = -ENAMETOOLONG;
			goto out_stop;
		}
		snprintf(text, sizeof text, "%ld\n", (long)getpid());
		if ((rc = vde_write_text(a->marker, text)) < 0) {
			AETHER_ERR(st->host, "cannot write %s: %s",
			    a->marker, strerror(-rc));
			a->marker[0] = '\0';
			goto out_stop;
		}
	}

	/* The switch must give this VM its port before QEMU starts. */
	rc = vde_probe_switch(st->sock, st->port, st->group,
			      st->probe_timeout_ms);
	if (rc < 0) {
		if (rc == -ETIMEDOUT || rc == -ECONNREFUSED || rc == -ENOENT ||
		    rc == -ENOTDIR || rc == -EACCES)
			rc = vde_diagnose_sock(st, st->sock, rc,
					       st->probe_timeout_ms);
		else
			AETHER_ERR(st->host,
			    "the VDE switch at %s refused port %d%s%s: %s",
			    st->sock, st->port, st->group ? " for group " : "",
			    st->group ? st->group : "", strerror(-rc));
		goto out_stop;
	}

	att->kind = AETHER_ATTACH_VDE;
	att->vde.sock = a->sock;
	att->vde.port = st->port;
	att->vde.group = a->group;
	att->vde.mode = 0;
	*att_state = a;
	vde_unlock_state(lock);
	AETHER_INFO(st->host, "VM %s NIC %u on VDE switch %s port %d",
	    vm->id, (unsigned)vm->nic, st->sock, st->port);
	return 0;

out_stop:
	if (st->managed) {
		if (a->marker[0])
			unlink(a->marker);
		if (vde_count_users(st->statedir) == 0) {
			if (vde_switch_running_owned(st, st->statedir, st->sock,
						     NULL))
				vde_stop_switch(st, st->statedir, st->sock);
			vde_remove_state_dir(st->statedir);
		}
	}
out:
	if (st->managed && created_state && vde_count_users(st->statedir) == 0)
		vde_remove_state_dir(st->statedir);
	vde_unlock_state(lock);
	free_att(a);
	return rc;
}

static int vde_detach(void *state, const struct aether_vm *vm,
		      void *att_state)
{
	struct vde_state *st = state;
	struct vde_att *a = att_state;
	int lock, rc = 0;

	if (!a)
		return 0;
	if (a->marker[0]) {
		lock = vde_lock_state(st);
		if (unlink(a->marker) < 0 && errno != ENOENT) {
			rc = -errno;
			AETHER_WARN(st->host, "cannot remove %s: %s",
			    a->marker, strerror(errno));
		}
		vde_release_switch(st, st->statedir, st->sock,
				   st->keep_running);
		vde_unlock_state(lock);
	}
	free_att(a);
	return rc;
}

static int vde_check(void *state, const struct aether_vm *vm,
		     void *att_state)
{
	struct vde_state *st = state;
	struct vde_att *a = att_state;
	char p[PATH_MAX];
	pid_t pid;
	int rc;

	if (a && a->marker[0]) {
		vde_state_path(st, st->statedir, "pid", p, sizeof p);
		pid = vde_read_pid(p);
		if (pid && !vde_switch_pid_ok(pid, st->sock)) {
			AETHER_ERR(st->host,
			    "vde_switch pid %ld serving %s has exited",
			    (long)pid, st->sock);
			return -ESRCH;
		}
		if (!pid && access(p, F_OK) < 0 && errno == ENOENT &&
		    vde_probe_switch(st->sock, 0, NULL,
				     st->probe_timeout_ms) < 0) {
			/* a clean stop removes the pid file */
			char f[PATH_MAX];
			vde_state_path(st, st->statedir, "systemd", f,
				       sizeof f);
			AETHER_ERR(st->host,
			    "the managed switch at %s has stopped%s", st->sock,
			    access(f, F_OK) == 0 ? " (" SYSTEMD_UNIT ")" : "");
			return -ESRCH;
		}
		if (access(a->marker, F_OK) < 0)
			AETHER_WARN(st->host,
			    "the use marker %s was removed (by gc?)", a->marker);
	}
	rc = vde_probe_switch(st->sock, 0, NULL, st->probe_timeout_ms);
	if (rc < 0)
		return vde_diagnose_sock(st, st->sock, rc,
					 st->probe_timeout_ms);
	return 0;
}

static int vde_gc(void *state, const struct aether_vm *const *live,
		  size_t n_live)
{
	struct vde_state *st = state;
	struct dirent *e;
	DIR *d;
	int lock, rc = 0, default_known = 0;
	char defsock[PATH_MAX];

	lock = vde_lock_state(st);
	if (lock < 0)
		return lock;
	plug_pathf(defsock, sizeof defsock, "%s/switch", st->rundir);
	d = opendir(st->rundir);
	if (!d) {
		rc = -errno;
		vde_unlock_state(lock);
		return rc;
	}
	while ((e = readdir(d))) {
		char sdir[PATH_MAX], udir[PATH_MAX], p[PATH_MAX], sock[PATH_MAX];
		struct dirent *u;
		DIR *ud;

		if (strncmp(e->d_name, "sw-", 3) ||
		    plug_pathf(sdir, sizeof sdir, "%s/%s", st->rundir,
			      e->d_name) < 0)
			continue;
		vde_state_path(st, sdir, "sock", p, sizeof p);
		if (vde_read_text(p, sock, sizeof sock) <= 0 ||
		    !vde_valid_sock_path(sock)) {
			vde_remove_state_dir(sdir);
			continue;
		}
		if (!strcmp(sock, defsock))
			default_known = 1;
		vde_state_path(st, sdir, "users", udir, sizeof udir);
		if ((ud = opendir(udir))) {
			while ((u = readdir(ud))) {
				const char *at = strrchr(u->d_name, '@');
				if (u->d_name[0] == '.' || !at)
					continue;
				if (plug_id_live(u->d_name, (size_t)(at - u->d_name),
					    live, n_live))
					continue;
				if (plug_pathf(p, sizeof p, "%s/%s", udir,
					      u->d_name) == 0 &&
				    unlink(p) == 0)
					AETHER_INFO(st->host,
					    "gc: removed the switch use of "
					    "dead VM %.*s",
					    (int)(at - u->d_name), u->d_name);
			}
			closedir(ud);
		}
		vde_release_switch(st, sdir, sock, st->keep_running);
	}
	closedir(d);
	/* A default switch directory nobody accounts for and nobody serves. */
	if (!default_known && access(defsock, F_OK) == 0 &&
	    vde_probe_switch(defsock, 0, NULL, st->probe_timeout_ms) != 0) {
		AETHER_INFO(st->host, "gc: removing stale switch directory %s",
		    defsock);
		vde_remove_sock_dir(defsock);
	}
	vde_unlock_state(lock);
	return rc;
}

AETHER_PLUGIN_DEFINE(vde) = {
	AETHER_PLUGIN_HEADER,
	.caps = AETHER_CAP_ATTACH_VDE | AETHER_CAP_HELPERS,
	.name = "vde",
	.version = PACKAGE_VERSION,
	.description = "VDE switch (user-mode, managed vde_switch)",
	.options = vde_options,
	.init = vde_init,
	.fini = vde_fini,
	.attach = vde_attach,
	.detach = vde_detach,
	.check = vde_check,
	.gc_v2 = vde_gc,
	.validate = vde_validate,
};
