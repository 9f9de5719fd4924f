/* agent.h - `aether serve` (the host agent) and `aether remote` (its
 * client): VM requests through a RabbitMQ broker.  See broker.h for the
 * broker objects and aether-remote(7) for the protocol.  They live in
 * the program aether-agent (pkglibexecdir), which `aether serve|remote`
 * executes, so that the launcher and the VM supervisors do not load the
 * broker and TLS libraries. */
#ifndef AE_AGENT_H
#define AE_AGENT_H

#include <stddef.h>

int ae_cmd_serve(int argc, char **argv, const char *hostconf);
int ae_cmd_remote(int argc, char **argv, const char *hostconf);

#endif
