/* agentconf.c - [amqp] and [agent] of the host config (see agentconf.h). */
#include "config.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include "agentconf.h"
#include "util.h"

int ae_amqp_valid_host(const char *h)
{
	size_t i, n = h ? strlen(h) : 0;

	if (n == 0 || n > 63 || h[0] == '.' || h[0] == '-')
		return 0;
	for (i = 0; i < n; i++)
		if (!(h[i] >= 'a' && h[i] <= 'z') && !(h[i] >= 'A' && h[i] <= 'Z') &&
		    !(h[i] >= '0' && h[i] <= '9') && h[i] != '.' && h[i] != '-' &&
		    h[i] != '_')
			return 0;
	return 1;
}

/* A URL may name a user but never carry a password: secrets stay out of
 * argv and config files that others may read. */
static int url_has_password(const char *url)
{
	const char *p = strstr(url, "://"), *end, *at, *colon;

	if (!p)
		return 0;
	p += 3;
	end = p + strcspn(p, "/?#");
	at = memchr(p, '@', (size_t)(end - p));
	if (!at)
		return 0;
	colon = memchr(p, ':', (size_t)(at - p));
	return colon != NULL;
}

int ae_amqp_conf_load(struct ae_amqp_conf *c, const struct ae_ini *host,
		      const char *url, const char *credentials, char *err,
		      size_t errlen)
{
	const struct ae_ini_section *s = ae_ini_find(host, "amqp");
	const struct ae_ini_entry *e;
	size_t i;

	memset(c, 0, sizeof *c);
	c->verify = 1;
	c->heartbeat = 10;
	for (i = 0; s && i < s->n_entries; i++) {
		e = &s->entries[i];
		if (!strcmp(e->key, "url")) {
			free(c->url);
			c->url = ae_xstrdup(e->value);
		} else if (!strcmp(e->key, "credentials")) {
			free(c->credentials);
			c->credentials = ae_xstrdup(e->value);
		} else if (!strcmp(e->key, "cacert")) {
			free(c->cacert);
			c->cacert = ae_xstrdup(e->value);
		} else if (!strcmp(e->key, "verify")) {
			if (strcmp(e->value, "yes") && strcmp(e->value, "no")) {
				snprintf(err, errlen, "%s:%d: [amqp] verify: "
					 "'%s' is not yes or no", host->file,
					 e->line, e->value);
				goto bad;
			}
			c->verify = !strcmp(e->value, "yes");
		} else if (!strcmp(e->key, "heartbeat")) {
			char *end;
			long v = strtol(e->value, &end, 10);
			if (*end || v < 0 || v > 3600) {
				snprintf(err, errlen, "%s:%d: [amqp] heartbeat: "
					 "'%s' is not 0..3600 seconds",
					 host->file, e->line, e->value);
				goto bad;
			}
			c->heartbeat = (int)v;
		} else {
			snprintf(err, errlen, "%s:%d: [amqp]: unknown key '%s' "
				 "(url, credentials, cacert, verify, heartbeat)",
				 host->file, e->line, e->key);
			goto bad;
		}
		if (!strcmp(e->key, "url") && url_has_password(e->value)) {
			snprintf(err, errlen, "%s:%d: [amqp] url: a password in "
				 "the URL is refused; put it in the file named "
				 "by 'credentials' (mode 0600)", host->file,
				 e->line);
			goto bad;
		}
	}
	if (url) {
		free(c->url);
		c->url = ae_xstrdup(url);
		if (url_has_password(url)) {
			snprintf(err, errlen, "--amqp: a password in the URL is "
				 "refused (it would show in ps); put it in a "
				 "credentials file (mode 0600) named by "
				 "[amqp] credentials or --credentials");
			goto bad;
		}
	}
	if (credentials) {
		free(c->credentials);
		c->credentials = ae_xstrdup(credentials);
	}
	if (!c->url)
		c->url = ae_xstrdup("amqp://localhost");
	return 0;
bad:
	ae_amqp_conf_free(c);
	return -1;
}

void ae_amqp_conf_free(struct ae_amqp_conf *c)
{
	free(c->url);
	free(c->credentials);
	free(c->cacert);
	memset(c, 0, sizeof *c);
}

/* ------------------------------------------------------------------ */
/* configuration                                                      */

static int get_long(const struct ae_ini_section *s, const char *key, long min,
		    long max, long *out, char *err, size_t errlen)
{
	const struct ae_ini_entry *e = ae_ini_get(s, key);
	int64_t v;

	if (!e)
		return 0;
	if (ae_parse_int(e->value, &v) < 0 || v < min || v > max) {
		snprintf(err, errlen, "%s:%d: [agent] %s: '%s' is not %ld..%ld",
			 e->file, e->line, key, e->value, min, max);
		return -1;
	}
	*out = (long)v;
	return 0;
}

/* ------------------------------------------------------------------ */
/* forward policy, host capacity                                      */

/* The next item of a list separated by blanks or commas, in buf. */
static const char *next_item(const char *p, char *buf, size_t len, int *bad)
{
	size_t n;

	*bad = 0;
	p += strspn(p, " \t,");
	if (!*p)
		return NULL;
	n = strcspn(p, " \t,");
	if (n >= len) {
		*bad = 1;
		n = len - 1;
	}
	memcpy(buf, p, n);
	buf[n] = '\0';
	return p + strcspn(p, " \t,");
}

int ae_fwd_policy_parse(struct ae_fwd_policy *f, const char *addresses,
			const char *ports, char *err, size_t errlen)
{
	char item[64];
	const char *p;
	int bad;

	memset(f, 0, sizeof *f);
	snprintf(f->addresses_text, sizeof f->addresses_text, "%s", addresses);
	snprintf(f->ports_text, sizeof f->ports_text, "%s", ports);
	for (p = addresses; (p = next_item(p, item, sizeof item, &bad));) {
		if (f->n_addr == AE_FWD_MAX) {
			snprintf(err, errlen, "forward_addresses: more than %d "
				 "addresses", AE_FWD_MAX);
			return -1;
		}
		if (!bad && inet_pton(AF_INET, item, f->addr[f->n_addr].a) == 1)
			f->addr[f->n_addr++].family = AF_INET;
		else if (!bad &&
			 inet_pton(AF_INET6, item, f->addr[f->n_addr].a) == 1)
			f->addr[f->n_addr++].family = AF_INET6;
		else {
			snprintf(err, errlen, "forward_addresses: '%s' is not an "
				 "IPv4 or IPv6 address", item);
			return -1;
		}
	}
	for (p = ports; (p = next_item(p, item, sizeof item, &bad));) {
		char *dash = strchr(item, '-');
		int64_t lo, hi;
		if (f->n_ports == AE_FWD_MAX) {
			snprintf(err, errlen, "forward_ports: more than %d ranges",
				 AE_FWD_MAX);
			return -1;
		}
		if (dash)
			*dash = '\0';
		if (bad || ae_parse_int(item, &lo) < 0 ||
		    (dash ? ae_parse_int(dash + 1, &hi) < 0 : (hi = lo, 0)) ||
		    lo < 1 || hi > 65535 || lo > hi) {
			if (dash)
				*dash = '-';
			snprintf(err, errlen, "forward_ports: '%s' is not a port "
				 "or a range LO-HI of ports 1..65535", item);
			return -1;
		}
		f->ports[f->n_ports].lo = (long)lo;
		f->ports[f->n_ports++].hi = (long)hi;
	}
	return 0;
}

int ae_fwd_policy_allows_addr(const struct ae_fwd_policy *f, int family,
			      const void *addr)
{
	size_t n = family == AF_INET ? 4 : 16;
	int i;

	for (i = 0; i < f->n_addr; i++)
		if (f->addr[i].family == family &&
		    !memcmp(f->addr[i].a, addr, n))
			return 1;
	return 0;
}

int ae_fwd_policy_allows_port(const struct ae_fwd_policy *f, long port)
{
	int i;

	for (i = 0; i < f->n_ports; i++)
		if (port >= f->ports[i].lo && port <= f->ports[i].hi)
			return 1;
	return 0;
}

void ae_host_capacity(long *memory_mib, long *cpus)
{
	struct sysinfo si;
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	*memory_mib = 0;
	if (sysinfo(&si) == 0 && si.mem_unit)
		*memory_mib = (long)((unsigned long long)si.totalram *
				     si.mem_unit / (1024 * 1024));
	*cpus = n > 0 ? n : 0;
}

int ae_agent_conf_load(struct ae_agent_conf *c, const struct ae_ini *host,
			   const char *store, const char *host_opt, char *err,
			   size_t errlen)
{
	static const char *const keys[] = {
		"host", "max_vms", "max_memory", "max_cpus", "prefetch",
		"image_dir", "max_message", "max_stop_timeout",
		"forward_addresses", "forward_ports", NULL};
	const struct ae_ini_section *s = ae_ini_find(host, "agent");
	const struct ae_ini_section *vm = ae_ini_find(host, "vm");
	const struct ae_ini_entry *e;
	long v;
	size_t i;
	int k;

	memset(c, 0, sizeof *c);
	ae_host_capacity(&c->max_memory, &c->max_cpus);
	c->max_vms = c->max_memory / 64;
	if (c->max_vms < 1)
		c->max_vms = 1;
	if (c->max_vms > 4096)
		c->max_vms = 4096;
	c->max_stop_timeout = 300;
	c->prefetch = 4;
	c->max_message = AE_MAX_MESSAGE;
	c->default_memory = 256;
	c->default_cpus = 1;
	for (i = 0; s && i < s->n_entries; i++) {
		for (k = 0; keys[k] && strcmp(keys[k], s->entries[i].key); k++)
			;
		if (!keys[k]) {
			snprintf(err, errlen, "%s:%d: [agent]: unknown key '%s'",
				 s->entries[i].file, s->entries[i].line,
				 s->entries[i].key);
			return -1;
		}
	}
	if (get_long(s, "max_vms", 0, 100000, &c->max_vms, err, errlen) < 0 ||
	    get_long(s, "max_memory", 0, 1L << 30, &c->max_memory, err,
		     errlen) < 0 ||
	    get_long(s, "max_cpus", 0, 100000, &c->max_cpus, err, errlen) < 0 ||
	    get_long(s, "max_message", 1024, 64L << 20, &c->max_message, err,
		     errlen) < 0 ||
	    get_long(s, "max_stop_timeout", 0, 86400, &c->max_stop_timeout,
		     err, errlen) < 0)
		return -1;
	{
		const struct ae_ini_entry *fa = ae_ini_get(s, "forward_addresses");
		const struct ae_ini_entry *fp = ae_ini_get(s, "forward_ports");
		char why[256];
		if (ae_fwd_policy_parse(&c->fwd, fa ? fa->value
						    : AE_FWD_ADDRESSES_DEFAULT,
					fp ? fp->value : AE_FWD_PORTS_DEFAULT, why,
					sizeof why) < 0) {
			const struct ae_ini_entry *e2 =
				strncmp(why, "forward_ports", 13) ? fa : fp;
			snprintf(err, errlen, "%s:%d: [agent] %s", e2->file,
				 e2->line, why);
			return -1;
		}
	}
	v = c->prefetch;
	if (get_long(s, "prefetch", 1, 1000, &v, err, errlen) < 0)
		return -1;
	c->prefetch = (int)v;
	if ((e = ae_ini_get(vm, "memory")) && atoi(e->value) > 0)
		c->default_memory = atoi(e->value);
	if ((e = ae_ini_get(vm, "cpus")) && atoi(e->value) > 0)
		c->default_cpus = atoi(e->value);
	e = ae_ini_get(s, "host");
	if (host_opt) {
		c->host = ae_xstrdup(host_opt);
	} else if (e) {
		c->host = ae_xstrdup(e->value);
	} else {
		char h[256] = "";
		gethostname(h, sizeof h - 1);
		h[strcspn(h, ".")] = '\0';
		c->host = ae_xstrdup(h);
	}
	if (!ae_amqp_valid_host(c->host)) {
		snprintf(err, errlen, "%shost name '%s' is not 1-63 of "
			 "[A-Za-z0-9._-] (set [agent] host or --host)",
			 e && !host_opt ? "[agent] " : "", c->host);
		return -1;
	}
	e = ae_ini_get(s, "image_dir");
	c->image_dir = e ? ae_xstrdup(e->value)
			 : ae_xasprintf("%s/images", store);
	if (!ae_valid_abs_path(c->image_dir)) {
		snprintf(err, errlen, "%s:%d: [agent] image_dir: '%s' is not an "
			 "absolute path", e ? e->file : "", e ? e->line : 0,
			 c->image_dir);
		return -1;
	}
	return 0;
}

int ae_agent_check_config(const struct ae_ini *host, char *err, size_t errlen)
{
	struct ae_amqp_conf ac;
	struct ae_agent_conf c;
	int rc;

	if (ae_amqp_conf_load(&ac, host, NULL, NULL, err, errlen) < 0)
		return -1;
	ae_amqp_conf_free(&ac);
	rc = ae_agent_conf_load(&c, host, "/var/lib/aether", NULL, err, errlen);
	ae_agent_conf_free(&c);
	return rc;
}


void ae_agent_conf_free(struct ae_agent_conf *c)
{
	free(c->host);
	free(c->image_dir);
	memset(c, 0, sizeof *c);
}
