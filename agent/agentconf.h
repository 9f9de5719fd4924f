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

/* [agent] forward_addresses / forward_ports: the host addresses and
 * ports that `forward add` requests from the broker may open. */
#define AE_FWD_MAX 32
struct ae_fwd_policy {
	int n_addr;
	struct {
		int family;          /* AF_INET or AF_INET6 */
		unsigned char a[16];
	} addr[AE_FWD_MAX];
	int n_ports;
	struct {
		long lo, hi;
	} ports[AE_FWD_MAX];
	char addresses_text[256], ports_text[256]; /* as configured */
};
#define AE_FWD_ADDRESSES_DEFAULT "127.0.0.1 ::1"
#define AE_FWD_PORTS_DEFAULT "1024-65535"
/* Parse the two lists (addresses: IPv4/IPv6 literals separated by blanks
 * or commas; ports: PORT or LO-HI items); 0, or -1 with err naming the
 * bad item. */
int ae_fwd_policy_parse(struct ae_fwd_policy *p, const char *addresses,
			const char *ports, char *err, size_t errlen);
int ae_fwd_policy_allows_addr(const struct ae_fwd_policy *p, int family,
			      const void *addr);
int ae_fwd_policy_allows_port(const struct ae_fwd_policy *p, long port);

/* This machine's memory (MiB, from sysinfo) and online CPUs: the default
 * limits of an agent.  0 when unknown. */
void ae_host_capacity(long *memory_mib, long *cpus);

/* [agent]: this host in the fleet. */
struct ae_agent_conf {
	char *host;
	/* Default: this machine's memory and online CPUs, and memory / 64
	 * MiB VMs (1..4096); an explicit 0 is no limit. */
	long max_vms, max_memory, max_cpus;
	long max_stop_timeout;              /* s; default 300, 0: no bound */
	struct ae_fwd_policy fwd;
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
