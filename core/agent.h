/* agent.h - `aether serve` (the host agent) and `aether remote` (its
 * client): VM requests through a RabbitMQ broker.  See broker.h for the
 * broker objects and aether-remote(7) for the protocol. */
#ifndef AE_AGENT_H
#define AE_AGENT_H

int ae_cmd_serve(int argc, char **argv, const char *hostconf);
int ae_cmd_remote(int argc, char **argv, const char *hostconf);

#endif
