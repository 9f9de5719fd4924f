/* vmconf.h - the VM model: a VM file merged over the host config, checked
 * key by key with file:line messages. */
#ifndef AE_VMCONF_H
#define AE_VMCONF_H

#include <stdbool.h>
#include <stdint.h>
#include "conffile.h"

enum ae_accel { AE_ACCEL_AUTO, AE_ACCEL_TCG, AE_ACCEL_KVM };

/* How `aether start` runs the supervisor: forked from the CLI, or as a
 * transient unit of the systemd user manager (systemd-run --user). */
enum ae_supervisor_mode { AE_SUPERVISOR_FORK, AE_SUPERVISOR_SYSTEMD };

struct ae_vmconf {
	/* [vm] */
	char *name;
	uint64_t memory_mb;
	unsigned cpus;
	enum ae_accel accel;
	char *machine;     /* -machine type, NULL: QEMU's default */
	char *kernel, *initrd, *append;
	char *disk;        /* a disk image (qcow2/raw by extension) */
	char *disk_format; /* "qcow2" or "raw" */
	char *console;     /* "stdout", "none" or an absolute log path */
	uint64_t console_max;  /* bytes of a console log before rotation */
	unsigned console_keep; /* rotated logs kept: console.log.1 .. .N */
	uint8_t mac[6];
	bool mac_set;
	int index;         /* -1: allocate */
	char *qemu;        /* hypervisor binary */
	int stop_timeout_s;
	int check_interval_s; /* seconds between the backend's health checks */
	int reboot;        /* 0: a guest reboot ends the VM */
	char *uuid;        /* SMBIOS system UUID (and serial), NULL: QEMU's */
	char *seed;        /* cloud-init NoCloud seed image (raw, read-only) */
	char *user;        /* when run as root: QEMU's user; NULL: default */
	const char *user_file; /* where user (or console) was set, for */
	int user_line;         /* errors found at run time */
	const char *console_file;
	int console_line;
	int guest_agent;   /* a virtio-serial port for qemu-guest-agent */
	/* The NIC always talks to the supervisor's relay, whatever the
	 * backend, so the backend can be switched while the VM runs. */
	int switchable;
	const char *switchable_file;
	int switchable_line;
	enum ae_supervisor_mode supervisor; /* for aether start */
	/* [network] */
	char *backend;
	char *nic_model;
	/* The merged [network.<backend>] section (VM file over host file). */
	struct ae_ini_section backend_section;
	/* network = NAME of that section: a managed network ([net.NAME] of
	 * the host config, checked), whose bridge the VM joins; or NULL. */
	char *network;
	/* host [aether] */
	char *plugin_dir;
	char *runtime_dir;
	/* sources */
	struct ae_ini *vm_ini, *host_ini;
};

/* Load `vmfile` over `hostfile` (NULL: the default host file if it
 * exists; "" or "none": no host file). */
int ae_vmconf_load(const char *vmfile, const char *hostfile,
		   struct ae_vmconf **out, char *err, size_t errlen);
void ae_vmconf_free(struct ae_vmconf *c);

/* The default host config path. */
const char *ae_default_host_config(void);
/* The host config to read: `given` (-c; "" or "none": none), else the
 * default if it exists, else NULL. */
const char *ae_host_config_path(const char *given);

/* The user QEMU runs as when aether runs as root and [vm] user is not
 * set: the package's system user if it exists, else "nobody". */
#define AE_QEMU_USER "aether-qemu"
#define AE_QEMU_USER_FALLBACK "nobody"

/* A console log target: a regular file, or a new file in an existing
 * directory; never a device, FIFO, socket or directory, nothing on /proc,
 * /sys, /dev or another kernel file system, and (as root) no symbolic
 * link.  0, or -errno with the reason in err (without file:line). */
int ae_console_target_check(const char *path, char *err, size_t errlen);
/* Open it for appending with the same checks, race-free (O_NOFOLLOW as
 * root, fstat of the opened file).  The fd (O_CLOEXEC), or -errno. */
int ae_console_target_open(const char *path, char *err, size_t errlen);

const char *ae_accel_name(enum ae_accel a);
const char *ae_supervisor_mode_name(enum ae_supervisor_mode m);

#endif
