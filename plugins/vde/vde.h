/* vde.h - the vde plugin's state, shared by the verbs (vde.c) and the
 * managed switch (switch.c).  Private to the plugin. */
#ifndef AE_VDE_H
#define AE_VDE_H

#include <limits.h>

#include <aether/plugin.h>

/* The systemd user unit that runs a managed switch (systemd = yes). */
#define SYSTEMD_UNIT "aether-vde.service"

struct vde_state {
	const struct aether_host *host;
	char *rundir;
	char sock[PATH_MAX];     /* switch control directory */
	char statedir[PATH_MAX]; /* R/sw-<hash> */
	char *tap, *group;
	int port, managed, keep_running, systemd;
	int start_timeout_ms, probe_timeout_ms;
};

#endif
