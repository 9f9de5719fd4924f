/* dnsmasq.h - a managed network's dnsmasq: its config and hosts files in
 * the network's runtime directory, started detached (argv only, never a
 * shell), told about new reservations by SIGHUP, recognised exactly (the
 * pid file names a live process whose command line is ours, conf file
 * included), and its lease file read back. */
#ifndef AE_DNSMASQ_H
#define AE_DNSMASQ_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "addrpool.h"
#include "net.h"

/* Write DIR/dnsmasq.conf for network n: 0 when it is new or the same,
 * 1 when it changed (the network's config did). */
int ae_dnsmasq_write_conf(const struct ae_net *n, const char *dir,
			  char *err, size_t errlen);
/* Write DIR/hosts ("ADDR VM.DOMAIN VM") and DIR/dhcp-hosts
 * ("MAC,ADDR,VM") from the reservations, atomically. */
int ae_dnsmasq_write_hosts(const struct ae_net *n, const char *dir,
			   const struct ae_resv *v, size_t cnt, char *err,
			   size_t errlen);
/* The config file text (for the tests). malloc'd. */
char *ae_dnsmasq_conf_text(const struct ae_net *n, const char *dir,
			   const char *user);

/* Start dnsmasq on DIR/dnsmasq.conf, detached (not our child), and wait
 * until it wrote its pid file.  *pid gets its pid. */
int ae_dnsmasq_start(const char *dir, pid_t *pid, char *err, size_t errlen);
/* The pid of DIR's dnsmasq when it runs (exact check), else 0. */
pid_t ae_dnsmasq_running(const char *dir);
/* SIGHUP: re-read the hosts files. */
int ae_dnsmasq_reload(const char *dir);
/* SIGTERM (then SIGKILL after 3 s) DIR's dnsmasq; 0 also when none. */
int ae_dnsmasq_stop(const char *dir);
/* Is the pid's command line exactly our dnsmasq on conf? */
int ae_dnsmasq_cmdline_is(pid_t pid, const char *conf);
/* dnsmasq processes whose command line names a conf file
 * RTROOT/net/NAME/dnsmasq.conf: their pids and NAMEs. */
int ae_dnsmasq_scan(const char *rtroot, pid_t **pids, char ***names,
		    size_t *n);

/* 1 when DIR/leases holds an unexpired lease of addr to mac. */
int ae_dnsmasq_leased(const char *dir, const uint8_t mac[6], uint32_t addr);

#endif
