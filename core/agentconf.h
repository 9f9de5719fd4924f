/* agentconf.h - the [amqp] and [agent] sections of a host config: read
 * by the host agent and its client (aether-agent) and validated by
 * `aether check-config`.  No broker library is needed to read them. */
#ifndef AE_AGENTCONF_H
#define AE_AGENTCONF_H

#include <stddef.h>

#include "conffile.h"

/* Where and how to connect: [amqp] of the host config, overridable. */
struct ae_amqp_conf {
	char *url;         /* amqp[s]://[user@]host[:port][/vhost] */
	char *credentials; /* file with "username = " / "password = " */
	char *cacert;      /* amqps: CA bundle (default: system store) */
	int verify;        /* amqps: verify the peer (default 1) */
	int heartbeat;     /* seconds (default 10) */
};

/* Fill c from [amqp] of host (may be NULL); url/credentials given override
 * the file.  Returns 0 or -1 with err set. */
int ae_amqp_conf_load(struct ae_amqp_conf *c, const struct ae_ini *host,
		      const char *url, const char *credentials, char *err,
		      size_t errlen);
void ae_amqp_conf_free(struct ae_amqp_conf *c);


#define AE_MAX_MESSAGE (256 * 1024)

/* [agent]: this host in the fleet. */
struct ae_agent_conf {
	char *host;
	long max_vms, max_memory, max_cpus; /* 0: no limit */
	int prefetch;
	char *image_dir;
	long max_message;
	int default_memory, default_cpus;   /* [vm] defaults of the host */
};

/* Fill c from [agent] (and [vm] defaults) of host; store is the VM store
 * (image_dir defaults to store/images); host_opt overrides [agent] host.
 * 0, or -1 with err naming file, line and key. */
int ae_agent_conf_load(struct ae_agent_conf *c, const struct ae_ini *host,
		       const char *store, const char *host_opt, char *err,
		       size_t errlen);
void ae_agent_conf_free(struct ae_agent_conf *c);

/* Validate [amqp] and [agent] of a host config (check-config). */
int ae_agent_check_config(const struct ae_ini *host, char *err,
			  size_t errlen);

/* A valid host name for queue names: [A-Za-z0-9._-]{1,63}. */
int ae_amqp_valid_host(const char *h);

#endif
