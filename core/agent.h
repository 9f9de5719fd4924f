/* agent.h - `aether serve` (the host agent) and `aether remote` (its
 * client): VM requests through a RabbitMQ broker.  See broker.h for the
 * broker objects and aether-remote(7) for the protocol. */
#ifndef AE_AGENT_H
#define AE_AGENT_H

#include <stddef.h>

int ae_cmd_serve(int argc, char **argv, const char *hostconf);
int ae_cmd_remote(int argc, char **argv, const char *hostconf);

struct ae_ini;
/* Validate [amqp] and [agent] of a host config (check-config). */
int ae_agent_check_config(const struct ae_ini *host, char *err,
			  size_t errlen);

#endif
