/* lifecycle.h - the VM store commands: create, start, stop, delete, list,
 * status, console.  Daemonless: each running VM is one detached `aether
 * run` supervisor; the commands find it through its runtime directory and
 * the state record in the store (see store.h).
 *
 * core/vm-create.c: create, delete; core/vm-start.c: start, stop;
 * core/vm-info.c: list, status, console; core/vm-network.c: network; core/vmref.c (vmref.h): what
 * they share, and gc; core/seed.c: the cloud-init seed; core/qga.c: the
 * guest-agent client; core/ready.c: the supervisor's readiness lines. */
#ifndef AE_LIFECYCLE_H
#define AE_LIFECYCLE_H

#include <stdio.h>

/* Each returns the process exit status; argv[0] is the command name.
 * hostconf is the -c option (NULL: default host config). */
int ae_cmd_create(int argc, char **argv, const char *hostconf);
int ae_cmd_start(int argc, char **argv, const char *hostconf);
int ae_cmd_stop(int argc, char **argv, const char *hostconf);
int ae_cmd_delete(int argc, char **argv, const char *hostconf);
int ae_cmd_list(int argc, char **argv, const char *hostconf);
int ae_cmd_status(int argc, char **argv, const char *hostconf);
int ae_cmd_console(int argc, char **argv, const char *hostconf);
/* core/vm-network.c: `network switch|show`, a running VM's backend. */
int ae_cmd_network(int argc, char **argv, const char *hostconf);

/* Bounds of `network switch` (also what the host agent accepts): --set
 * options, bytes of one value, bytes of the control request line. */
#define AE_NETWORK_MAX_SET 16
#define AE_NETWORK_MAX_VALUE 256
#define AE_NETWORK_MAX_REQUEST 4096
/* ae_network_valid_key (options.h): an option name --set takes. */

/* For `aether gc`, before the plugins' gc: kill QEMU processes whose
 * supervisor died (found by their QMP socket path under runtime_root) and
 * finish interrupted creates/deletes in the store. */
void ae_lifecycle_gc(const char *runtime_root);

#endif
