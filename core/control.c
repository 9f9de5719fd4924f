/* control.c - control socket server (in `aether run`'s event loop) and
 * client (`aether forward`).  See control.h for the protocol. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "control.h"
#include "instance.h"
#include "qmp.h"
#include "relay.h"
#include "runtime.h"
#include "util.h"
#include "vmconf.h"

#define MAX_CLIENTS AE_CONTROL_MAX_CLIENTS
#define MAX_LINE 4096 /* a network switch carries options */
#define MAX_WORDS 64

struct fwd_entry {
	int proto;
	char addr[INET_ADDRSTRLEN];
	uint16_t host_port, guest_port;
};

struct client {
	int fd;
	uint64_t started;
	char in[MAX_LINE];
	size_t in_len;
	char *out;
	size_t out_len, out_off;
};

struct ae_control {
	int lfd;
	char *path;
	struct ae_control_target t;
	struct client cl[MAX_CLIENTS];
	unsigned max_clients;  /* slots in use at most (<= MAX_CLIENTS) */
	uint64_t timeout_ns;   /* a client's whole request and reply */
	struct fwd_entry *fw;
	size_t n_fw;
};

/* ---- replies ------------------------------------------------------- */

struct sbuf {
	char *s;
	size_t len, cap;
};

static void sb_printf(struct sbuf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->s ? b->s + b->len : NULL,
			      b->s ? b->cap - b->len : 0, fmt, ap);
		va_end(ap);
		if (n < 0)
			return;
		if (b->s && b->len + (size_t)n < b->cap) {
			b->len += (size_t)n;
			return;
		}
		b->cap = (b->cap + (size_t)n + 1) * 2;
		b->s = ae_xrealloc(b->s, b->cap);
		if (!b->len)
			b->s[0] = '\0';
	}
}

static const struct {
	int code;
	const char *name;
} errnames[] = {
	{EADDRINUSE, "EADDRINUSE"}, {ENOENT, "ENOENT"},
	{EINVAL, "EINVAL"},         {EOPNOTSUPP, "EOPNOTSUPP"},
	{EEXIST, "EEXIST"},         {EPERM, "EPERM"},
	{EACCES, "EACCES"},         {EIO, "EIO"},
	{EPROTO, "EPROTO"},         {EADDRNOTAVAIL, "EADDRNOTAVAIL"},
	{ENOMEM, "ENOMEM"},         {ETIMEDOUT, "ETIMEDOUT"},
	{ECONNREFUSED, "ECONNREFUSED"}, {ESRCH, "ESRCH"},
	{EBUSY, "EBUSY"},           {ENODEV, "ENODEV"},
	{ENXIO, "ENXIO"},           {EAGAIN, "EAGAIN"},
};

static const char *errname(int code)
{
	size_t i;

	for (i = 0; i < AE_ARRAY_SIZE(errnames); i++)
		if (errnames[i].code == code)
			return errnames[i].name;
	return "EIO";
}

static int errcode(const char *name)
{
	size_t i;

	for (i = 0; i < AE_ARRAY_SIZE(errnames); i++)
		if (!strcmp(errnames[i].name, name))
			return errnames[i].code;
	return EIO;
}

static char *reply_error(int code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static char *reply_error(int code, const char *fmt, ...)
{
	struct sbuf b = {0};
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	sb_printf(&b, "error %s %s\n", errname(code), msg);
	return b.s;
}

/* ---- forwards ------------------------------------------------------ */

int ae_forward_parse(const char *proto, const char *host, const char *gport,
		     struct aether_forward *fwd, char *addrbuf, size_t addrlen,
		     char *err, size_t errlen)
{
	const char *colon;
	struct in_addr a;
	int64_t port;
	char tmp[64];

	memset(fwd, 0, sizeof *fwd);
	fwd->struct_size = sizeof *fwd;
	if (!strcmp(proto, "tcp"))
		fwd->proto = IPPROTO_TCP;
	else if (!strcmp(proto, "udp"))
		fwd->proto = IPPROTO_UDP;
	else
		return ae_seterr(err, errlen, EINVAL,
				 "'%s': the protocol is tcp or udp", proto);
	colon = strrchr(host, ':');
	if (!colon || (size_t)(colon - host) >= sizeof tmp)
		return ae_seterr(err, errlen, EINVAL,
				 "'%s' is not [HOSTADDR]:HOSTPORT", host);
	memcpy(tmp, host, (size_t)(colon - host));
	tmp[colon - host] = '\0';
	if (tmp[0] && inet_pton(AF_INET, tmp, &a) != 1)
		return ae_seterr(err, errlen, EINVAL,
				 "'%s' is not an IPv4 address", tmp);
	if (!tmp[0])
		strcpy(tmp, "0.0.0.0");
	if (ae_parse_int(colon + 1, &port) < 0 || port < 1 || port > 65535)
		return ae_seterr(err, errlen, EINVAL,
				 "'%s' is not a port (1..65535)", colon + 1);
	fwd->host_port = (uint16_t)port;
	snprintf(addrbuf, addrlen, "%s", tmp);
	fwd->host_addr = addrbuf;
	if (gport) {
		if (ae_parse_int(gport, &port) < 0 || port < 1 || port > 65535)
			return ae_seterr(err, errlen, EINVAL,
					 "'%s' is not a guest port (1..65535)",
					 gport);
		fwd->guest_port = (uint16_t)port;
	}
	return 0;
}

static struct fwd_entry *fw_find(struct ae_control *c,
				 const struct aether_forward *f)
{
	size_t i;

	for (i = 0; i < c->n_fw; i++)
		if (c->fw[i].proto == f->proto &&
		    c->fw[i].host_port == f->host_port &&
		    !strcmp(c->fw[i].addr, f->host_addr))
			return &c->fw[i];
	return NULL;
}

static void fw_add(struct ae_control *c, const struct aether_forward *f)
{
	struct fwd_entry *e;

	c->fw = ae_xrealloc(c->fw, (c->n_fw + 1) * sizeof *c->fw);
	e = &c->fw[c->n_fw++];
	e->proto = f->proto;
	snprintf(e->addr, sizeof e->addr, "%s", f->host_addr);
	e->host_port = f->host_port;
	e->guest_port = f->guest_port;
}

/* hostfwd = tcp:[ADDR]:PORT-[GADDR]:GPORT lines of the plugin section. */
static void fw_load_config(struct ae_control *c)
{
	size_t i;

	if (!c->t.section)
		return;
	for (i = 0; i < c->t.section->n_entries; i++) {
		const struct ae_ini_entry *e = &c->t.section->entries[i];
		char buf[128], addr[INET_ADDRSTRLEN], err[128], *dash, *gcolon;
		struct aether_forward f;

		if (strcmp(e->key, "hostfwd") || strlen(e->value) >= sizeof buf ||
		    strlen(e->value) < 4 || e->value[3] != ':')
			continue;
		snprintf(buf, sizeof buf, "%s", e->value);
		buf[3] = '\0';
		dash = strchr(buf + 4, '-');
		if (!dash)
			continue;
		*dash = '\0';
		gcolon = strrchr(dash + 1, ':');
		if (!gcolon)
			continue;
		if (ae_forward_parse(buf, buf + 4, gcolon + 1, &f, addr,
				     sizeof addr, err, sizeof err) == 0 &&
		    !fw_find(c, &f))
			fw_add(c, &f);
	}
}

/* Can we bind host_addr:port ourselves?  Says EADDRINUSE clearly before
 * the backend (or QEMU) fails with a vaguer error. */
static int probe_bind(const struct aether_forward *f)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	int s, rc = 0, one = 1;

	s = socket(AF_INET, (f->proto == IPPROTO_TCP ? SOCK_STREAM : SOCK_DGRAM) |
				    SOCK_CLOEXEC, 0);
	if (s < 0)
		return 0;
	if (f->proto == IPPROTO_TCP) /* as slirp does: TIME_WAIT is fine */
		setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	sa.sin_port = htons(f->host_port);
	inet_pton(AF_INET, f->host_addr, &sa.sin_addr);
	if (bind(s, (struct sockaddr *)&sa, sizeof sa) < 0)
		rc = -errno;
	close(s);
	return rc;
}

/* mode = qemu: QEMU's own slirp through the human monitor. */
static int qmp_forward(struct ae_control *c, const struct aether_forward *f,
		       int add, char *msg, size_t msglen)
{
	char cmd[512], reply[2048], *ret;
	const char *proto = f->proto == IPPROTO_TCP ? "tcp" : "udp";
	int rc;

	if (add)
		snprintf(cmd, sizeof cmd,
			 "{\"execute\":\"human-monitor-command\",\"arguments\":"
			 "{\"command-line\":\"hostfwd_add net0 %s:%s:%u-:%u\"}}",
			 proto, f->host_addr, f->host_port, f->guest_port);
	else
		snprintf(cmd, sizeof cmd,
			 "{\"execute\":\"human-monitor-command\",\"arguments\":"
			 "{\"command-line\":\"hostfwd_remove net0 %s:%s:%u\"}}",
			 proto, f->host_addr, f->host_port);
	rc = ae_qmp_execute(c->t.qmp_path, cmd, reply, sizeof reply, 5000);
	if (rc < 0) {
		snprintf(msg, msglen, "QMP: %s", strerror(-rc));
		return rc;
	}
	ret = strstr(reply, "\"return\"");
	if (!ret) {
		snprintf(msg, msglen, "QMP: unexpected reply");
		return -EPROTO;
	}
	ret = strchr(ret + 8, '"');
	if (!ret) {
		snprintf(msg, msglen, "QMP: unexpected reply");
		return -EPROTO;
	}
	ret++;
	{ /* the monitor's text, without JSON escapes of the line ends */
		char *end = strrchr(ret, '"');
		if (end)
			*end = '\0';
		for (end = ret; *end; end++)
			if (*end == '\\' && (end[1] == 'r' || end[1] == 'n'))
				end[0] = end[1] = ' ';
		while (*ret == ' ')
			ret++;
		end = ret + strlen(ret);
		while (end > ret && end[-1] == ' ')
			*--end = '\0';
	}
	if (add && *ret) {
		snprintf(msg, msglen, "QEMU: %s", ret);
		return -EIO;
	}
	if (!add && !strstr(ret, "removed")) {
		snprintf(msg, msglen, "QEMU: %s", *ret ? ret : "no such forward");
		return -ENOENT;
	}
	return 0;
}

static char *cmd_forward(struct ae_control *c, char **w, int nw)
{
	struct aether_forward f;
	char addr[INET_ADDRSTRLEN], err[256], msg[512];
	struct sbuf b = {0};
	int add, rc;
	size_t i;

	if (nw == 2 && !strcmp(w[1], "list")) {
		sb_printf(&b, "ok\n");
		for (i = 0; i < c->n_fw; i++)
			sb_printf(&b, "%s %s:%u %u\n",
				  c->fw[i].proto == IPPROTO_TCP ? "tcp" : "udp",
				  c->fw[i].addr, c->fw[i].host_port,
				  c->fw[i].guest_port);
		return b.s;
	}
	if (nw < 4 || (strcmp(w[1], "add") && strcmp(w[1], "remove")))
		return reply_error(EINVAL,
				   "usage: forward add|remove tcp|udp "
				   "[HOSTADDR]:HOSTPORT GUESTPORT | forward list");
	add = !strcmp(w[1], "add");
	if ((add && nw != 5) || (!add && nw > 5))
		return reply_error(EINVAL, "usage: forward %s tcp|udp "
				   "[HOSTADDR]:HOSTPORT%s", w[1],
				   add ? " GUESTPORT" : " [GUESTPORT]");
	if (ae_forward_parse(w[2], w[3], nw == 5 ? w[4] : NULL, &f, addr,
			     sizeof addr, err, sizeof err) < 0)
		return reply_error(EINVAL, "%s", err);
	if (add && fw_find(c, &f))
		return reply_error(EEXIST, "%s %s:%u is already forwarded",
				   w[2], f.host_addr, f.host_port);
	if (add && (rc = probe_bind(&f)) < 0)
		return reply_error(-rc, "cannot bind %s %s:%u: %s", w[2],
				   f.host_addr, f.host_port, strerror(-rc));
	msg[0] = '\0';
	rc = ae_instance_forward(c->t.inst, c->t.vm, c->t.att_state, &f, add);
	if (rc == -EOPNOTSUPP && c->t.kind == AETHER_ATTACH_USER && c->t.qmp_path)
		rc = qmp_forward(c, &f, add, msg, sizeof msg);
	if (rc < 0) {
		if (!msg[0])
			snprintf(msg, sizeof msg, "%s",
				 rc == -ENOENT ? "no such forward"
				 : rc == -EOPNOTSUPP
					 ? "the network backend cannot change "
					   "forwards at run time"
					 : strerror(-rc));
		return reply_error(-rc, "forward %s %s %s:%u: %s", w[1], w[2],
				   f.host_addr, f.host_port, msg);
	}
	if (add) {
		fw_add(c, &f);
	} else {
		struct fwd_entry *e = fw_find(c, &f);
		if (e) {
			*e = c->fw[c->n_fw - 1];
			c->n_fw--;
		}
	}
	ae_info("%s: forward %s %s %s:%u%s%.0u", c->t.name,
		add ? "added" : "removed", w[2], f.host_addr, f.host_port,
		add ? " -> guest port " : "", add ? f.guest_port : 0);
	return ae_xstrdup("ok\n");
}

/* ---- network switch / show ---------------------------------------- */

/* Characters a value may have unquoted in a request (and in `network
 * show`): anything else is written quoted. */
static int bare_ok(const char *v)
{
	if (!*v)
		return 0;
	for (; *v; v++)
		if (!((*v >= 'a' && *v <= 'z') || (*v >= 'A' && *v <= 'Z') ||
		      (*v >= '0' && *v <= '9') || strchr("._:/,+@%-=", *v)))
			return 0;
	return 1;
}

char *ae_control_quote(const char *value, char *err, size_t errlen)
{
	struct sbuf b = {0};
	const char *p;

	for (p = value; *p; p++)
		if (((unsigned char)*p < 0x20 && *p != '\t') || *p == 0x7f) {
			ae_seterr(err, errlen, EINVAL,
				  "a control character cannot be sent");
			return NULL;
		}
	if (bare_ok(value))
		return ae_xstrdup(value);
	sb_printf(&b, "\"");
	for (p = value; *p; p++) {
		if (*p == '\\' || *p == '"' || *p == ';' || *p == '#')
			sb_printf(&b, "\\%c", *p);
		else
			sb_printf(&b, "%c", *p);
	}
	sb_printf(&b, "\"");
	return b.s;
}

char *ae_control_format_pair(const char *key, const char *value, char *err,
			     size_t errlen)
{
	char *q = ae_control_quote(value, err, errlen), *r;

	if (!q)
		return NULL;
	r = ae_xasprintf("%s=%s", key, q);
	free(q);
	return r;
}

/* Split line into words at blanks outside double quotes (a backslash in
 * quotes escapes the next character); the quotes stay in the word.
 * Returns the count, or -1 for too many words or an open quote. */
static int split_words(char *buf, char **w, int max)
{
	char *p = buf;
	int nw = 0;

	for (;;) {
		int q = 0;

		while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
			p++;
		if (!*p)
			return nw;
		if (nw == max)
			return -1;
		w[nw++] = p;
		for (; *p; p++) {
			if (q && *p == '\\' && p[1]) {
				p++;
				continue;
			}
			if (*p == '"')
				q = !q;
			else if (!q && strchr(" \t\r\n", *p))
				break;
		}
		if (q)
			return -1;
		if (*p)
			*p++ = '\0';
	}
}

static void section_free(struct ae_ini_section *s)
{
	size_t i;

	for (i = 0; i < s->n_entries; i++) {
		free(s->entries[i].key);
		free(s->entries[i].value);
	}
	free(s->entries);
	free(s->name);
}

int ae_control_parse_pairs(char **w, int nw, const char *backend,
			   struct ae_ini_section *out, char *err,
			   size_t errlen)
{
	int i;

	memset(out, 0, sizeof *out);
	out->name = ae_xasprintf("network.%s", backend);
	out->file = AE_CONTROL_ORIGIN;
	out->entries = ae_xcalloc((size_t)nw + 1, sizeof *out->entries);
	for (i = 0; i < nw; i++) {
		char *eq = strchr(w[i], '='), *dec = NULL, why[128];
		struct ae_ini_entry *e;
		size_t k;

		if (!eq || eq == w[i]) {
			section_free(out);
			return ae_seterr(err, errlen, EINVAL,
					 "'%s' is not KEY=VALUE", w[i]);
		}
		for (k = 0; w[i] + k < eq; k++)
			if (!((w[i][k] >= 'a' && w[i][k] <= 'z') ||
			      (w[i][k] >= '0' && w[i][k] <= '9') ||
			      w[i][k] == '_')) {
				section_free(out);
				return ae_seterr(err, errlen, EINVAL,
						 "'%.*s' is not an option name",
						 (int)(eq - w[i]), w[i]);
			}
		if (ae_ini_decode_value(eq + 1, &dec, why, sizeof why) < 0) {
			section_free(out);
			return ae_seterr(err, errlen, EINVAL, "%.*s: %s",
					 (int)(eq - w[i]), w[i], why);
		}
		e = &out->entries[out->n_entries++];
		e->key = ae_xasprintf("%.*s", (int)(eq - w[i]), w[i]);
		e->value = dec ? dec : ae_xstrdup(eq + 1);
		e->file = AE_CONTROL_ORIGIN;
		e->line = i + 1;
	}
	return 0;
}

void ae_control_free_pairs(struct ae_ini_section *s)
{
	section_free(s);
	memset(s, 0, sizeof *s);
}

int ae_control_has_forward(const struct ae_control *c, const char *hostfwd)
{
	struct ae_control tmp;
	struct ae_ini_entry e = {.key = "hostfwd", .value = (char *)hostfwd};
	struct ae_ini_section sec = {.entries = &e, .n_entries = 1};
	size_t i, j;
	int found = 0;

	if (!c)
		return 0;
	memset(&tmp, 0, sizeof tmp);
	tmp.t.section = &sec;
	fw_load_config(&tmp);
	for (i = 0; i < tmp.n_fw; i++)
		for (j = 0; j < c->n_fw; j++)
			if (c->fw[j].proto == tmp.fw[i].proto &&
			    c->fw[j].host_port == tmp.fw[i].host_port &&
			    !strcmp(c->fw[j].addr, tmp.fw[i].addr))
				found = 1;
	free(tmp.fw);
	return found;
}

void ae_control_retarget(struct ae_control *c,
			 const struct ae_control_target *t)
{
	if (c)
		c->t = *t;
}

/* After a switch: the forwards of the old backend, re-added on the new
 * one (those the new section configures are there already). */
static void carry_forwards(struct ae_control *c, struct fwd_entry *old,
			   size_t n_old, struct sbuf *b)
{
	size_t i;

	c->fw = NULL;
	c->n_fw = 0;
	fw_load_config(c);
	for (i = 0; i < n_old; i++) {
		struct aether_forward f = {.struct_size = sizeof f};
		const char *proto = old[i].proto == IPPROTO_TCP ? "tcp" : "udp";
		int rc;

		f.proto = old[i].proto;
		f.host_addr = old[i].addr;
		f.host_port = old[i].host_port;
		f.guest_port = old[i].guest_port;
		if (fw_find(c, &f))
			continue;
		rc = c->t.inst ? ae_instance_forward(c->t.inst, c->t.vm,
						     c->t.att_state, &f, 1)
			       : -EOPNOTSUPP;
		if (rc == 0) {
			fw_add(c, &f);
			continue;
		}
		ae_warn("%s: forward %s %s:%u -> %u not carried over to backend "
			"%s: %s", c->t.name, proto, f.host_addr, f.host_port,
			f.guest_port, c->t.backend ? c->t.backend : "?",
			rc == -EOPNOTSUPP ? "the backend has no forwards"
					  : strerror(-rc));
		sb_printf(b, "dropped-forward %s %s:%u %u\n", proto,
			  f.host_addr, f.host_port, f.guest_port);
	}
}

static void show_body(struct ae_control *c, struct sbuf *b)
{
	struct aether_addr addrs[16];
	size_t i;
	int n;

	sb_printf(b, "backend %s\n", c->t.backend ? c->t.backend : "unknown");
	for (i = 0; c->t.section && i < c->t.section->n_entries; i++) {
		const struct ae_ini_entry *e = &c->t.section->entries[i];
		char why[64], *q = ae_control_quote(e->value, why, sizeof why);
		if (q)
			sb_printf(b, "option %s %s\n", e->key, q);
		free(q);
	}
	sb_printf(b, "attachment %s\n",
		  c->t.attachment ? c->t.attachment : "unknown");
	n = c->t.inst ? ae_instance_addresses(c->t.inst, c->t.vm,
					      c->t.att_state, addrs,
					      AE_ARRAY_SIZE(addrs))
		      : 0;
	for (i = 0; n > 0 && i < (size_t)n && i < AE_ARRAY_SIZE(addrs); i++) {
		char a[INET6_ADDRSTRLEN];
		if (!inet_ntop(addrs[i].family, addrs[i].addr, a, sizeof a))
			continue;
		sb_printf(b, "address %s %s\n", a,
			  addrs[i].source ? addrs[i].source : "unknown");
	}
}

static char *cmd_network(struct ae_control *c, char **w, int nw)
{
	struct ae_ini_section opts;
	struct sbuf b = {0};
	struct fwd_entry *old;
	size_t n_old;
	char err[1024];
	int rc;

	if (nw == 2 && !strcmp(w[1], "show")) {
		sb_printf(&b, "ok\n");
		show_body(c, &b);
		return b.s;
	}
	if (nw < 3 || strcmp(w[1], "switch"))
		return reply_error(EINVAL, "usage: network switch BACKEND "
					   "[KEY=VALUE]... | network show");
	if (!ae_valid_backend_name(w[2]))
		return reply_error(EINVAL, "'%s' is not a backend name", w[2]);
	if (!c->t.net_switch)
		return reply_error(EOPNOTSUPP, "%s: this VM cannot switch its "
				   "network backend", c->t.name);
	if (ae_control_parse_pairs(w + 3, nw - 3, w[2], &opts, err,
				   sizeof err) < 0)
		return reply_error(EINVAL, "%s", err);
	old = c->fw;
	n_old = c->n_fw;
	rc = c->t.net_switch(c->t.net_ctx, w[2], &opts, err, sizeof err);
	ae_control_free_pairs(&opts);
	if (rc < 0)
		return reply_error(-rc, "%s", err);
	/* the switch retargeted us: carry the old forwards */
	sb_printf(&b, "ok\nbackend %s\n", w[2]);
	carry_forwards(c, old, n_old, &b);
	free(old);
	return b.s;
}

char *ae_control_handle(struct ae_control *c, const char *line)
{
	char buf[MAX_LINE], *w[MAX_WORDS];
	int nw;

	snprintf(buf, sizeof buf, "%s", line);
	nw = split_words(buf, w, MAX_WORDS);
	if (nw < 0)
		return reply_error(EINVAL, "too many words or an open quote");
	if (nw == 0)
		return reply_error(EINVAL, "empty request");
	if (!strcmp(w[0], "forward"))
		return nw > 8 ? reply_error(EINVAL, "too many words")
			      : cmd_forward(c, w, nw);
	if (!strcmp(w[0], "network"))
		return cmd_network(c, w, nw);
	if (!strcmp(w[0], "stats") && nw == 1) {
		struct sbuf b = {0};
		char s[512];
		sb_printf(&b, "ok\n");
		if (c->t.relay) {
			ae_relay_format_stats(c->t.relay, s, sizeof s);
			sb_printf(&b, "relay %s\n", s);
		}
		return b.s;
	}
	if (!strcmp(w[0], "ping") && nw == 1)
		return ae_xstrdup("ok\n");
	return reply_error(EINVAL, "unknown request '%s' (forward, network, "
			   "stats)", w[0]);
}

/* ---- server -------------------------------------------------------- */

int ae_control_open(const char *path, const struct ae_control_target *t,
		    struct ae_control **out, char *err, size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct ae_control *c;
	int fd, i;

	*out = NULL;
	if (strlen(path) >= sizeof sa.sun_path)
		return ae_seterr(err, errlen, ENAMETOOLONG,
				 "control socket path too long: %s", path);
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return ae_seterr(err, errlen, errno, "control socket: %s",
				 strerror(errno));
	unlink(path); /* a stale one: the runtime dir is ours (0700) */
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
	    chmod(path, 0600) < 0 || listen(fd, 8) < 0) {
		int e = errno;
		close(fd);
		unlink(path);
		return ae_seterr(err, errlen, e, "control socket %s: %s", path,
				 strerror(e));
	}
	c = ae_xcalloc(1, sizeof *c);
	c->lfd = fd;
	c->path = ae_xstrdup(path);
	c->t = *t;
	for (i = 0; i < MAX_CLIENTS; i++)
		c->cl[i].fd = -1;
	ae_control_set_limits(c, AE_CONTROL_MAX_CLIENTS,
			      AE_CONTROL_CLIENT_TIMEOUT_MS);
	fw_load_config(c);
	*out = c;
	return 0;
}

void ae_control_set_limits(struct ae_control *c, unsigned max_clients,
			   unsigned timeout_ms)
{
	if (max_clients < 1)
		max_clients = 1;
	if (max_clients > MAX_CLIENTS)
		max_clients = MAX_CLIENTS;
	if (timeout_ms < 1)
		timeout_ms = 1;
	c->max_clients = max_clients;
	c->timeout_ns = (uint64_t)timeout_ms * 1000000ull;
}

static void client_drop(struct client *cl)
{
	if (cl->fd >= 0)
		close(cl->fd);
	free(cl->out);
	memset(cl, 0, sizeof *cl);
	cl->fd = -1;
}

unsigned ae_control_fill(struct ae_control *c, struct pollfd *fds,
			 unsigned max, int *timeout_ms)
{
	unsigned n = 0, i;
	uint64_t now = ae_now_ns();

	if (!c || max < 1 + MAX_CLIENTS)
		return 0;
	fds[n].fd = c->lfd;
	fds[n].events = POLLIN;
	fds[n++].revents = 0;
	for (i = 0; i < MAX_CLIENTS; i++) {
		struct client *cl = &c->cl[i];
		int left;

		if (cl->fd >= 0) {
			left = (int)((int64_t)(cl->started + c->timeout_ns -
					       now) / 1000000) + 1;
			if (left < 1)
				left = 1;
			if (*timeout_ms < 0 || *timeout_ms > left)
				*timeout_ms = left;
		}
		fds[n].fd = cl->fd;
		fds[n].events = (short)(cl->out ? POLLOUT : POLLIN);
		fds[n++].revents = 0;
	}
	return n;
}

static void client_accept(struct ae_control *c)
{
	struct ucred cred;
	socklen_t len = sizeof cred;
	int fd, i;

	while ((fd = accept4(c->lfd, NULL, NULL,
			     SOCK_CLOEXEC | SOCK_NONBLOCK)) >= 0) {
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 ||
		    (cred.uid != geteuid() && cred.uid != 0)) {
			static const char no[] =
				"error EPERM not the VM's owner\n";
			ae_warn("%s: control socket: refused a client of uid %ld",
				c->t.name, (long)cred.uid);
			(void)!write(fd, no, sizeof no - 1);
			close(fd);
			continue;
		}
		for (i = 0; i < (int)c->max_clients && c->cl[i].fd >= 0; i++)
			;
		if (i == (int)c->max_clients) {
			static const char busy[] = "error EIO busy, try again\n";
			(void)!write(fd, busy, sizeof busy - 1);
			close(fd);
			continue;
		}
		c->cl[i].fd = fd;
		c->cl[i].started = ae_now_ns();
	}
}

static void client_io(struct ae_control *c, struct client *cl, short rev)
{
	ssize_t n;

	if (!cl->out && (rev & (POLLIN | POLLHUP | POLLERR))) {
		char *nl;
		n = read(cl->fd, cl->in + cl->in_len,
			 sizeof cl->in - 1 - cl->in_len);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n > 0)
			cl->in_len += (size_t)n;
		cl->in[cl->in_len] = '\0';
		nl = strchr(cl->in, '\n');
		if (nl)
			*nl = '\0';
		else if (n > 0 && cl->in_len < sizeof cl->in - 1)
			return; /* more to come */
		if (!nl && cl->in_len == 0) {
			client_drop(cl);
			return;
		}
		cl->out = nl || n == 0 ? ae_control_handle(c, cl->in)
				       : reply_error(EINVAL, "request too long");
		cl->out_len = strlen(cl->out);
		cl->out_off = 0;
	}
	if (cl->out) {
		n = write(cl->fd, cl->out + cl->out_off,
			  cl->out_len - cl->out_off);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n > 0)
			cl->out_off += (size_t)n;
		if (n <= 0 || cl->out_off == cl->out_len)
			client_drop(cl);
	}
}

void ae_control_dispatch(struct ae_control *c, struct pollfd *fds, unsigned n)
{
	unsigned i;
	uint64_t now = ae_now_ns();

	if (!c || n < 1 + MAX_CLIENTS)
		return;
	for (i = 0; i < MAX_CLIENTS; i++) {
		struct client *cl = &c->cl[i];
		if (cl->fd < 0 || fds[1 + i].fd != cl->fd)
			continue;
		if (fds[1 + i].revents)
			client_io(c, cl, fds[1 + i].revents);
		if (cl->fd >= 0 && now - cl->started > c->timeout_ns)
			client_drop(cl);
	}
	if (fds[0].revents & POLLIN)
		client_accept(c);
}

void ae_control_close(struct ae_control *c)
{
	int i;

	if (!c)
		return;
	for (i = 0; i < MAX_CLIENTS; i++)
		client_drop(&c->cl[i]);
	close(c->lfd);
	unlink(c->path);
	free(c->path);
	free(c->fw);
	free(c);
}

/* ---- client -------------------------------------------------------- */

int ae_control_request(const char *path, const char *request, char **reply,
		       char *err, size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct timeval tv = {.tv_sec = 15};
	struct sbuf b = {0};
	char buf[4096], name[32];
	int fd, rc;
	ssize_t n;

	*reply = NULL;
	if (strlen(path) >= sizeof sa.sun_path)
		return ae_seterr(err, errlen, ENAMETOOLONG, "%s: path too long",
				 path);
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return ae_seterr(err, errlen, errno, "socket: %s",
				 strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		rc = errno;
		close(fd);
		return ae_seterr(err, errlen, rc, "%s: %s", path, strerror(rc));
	}
	snprintf(buf, sizeof buf, "%s\n", request);
	/* A server that refuses us (busy, not the owner) answers and closes
	 * without reading: the write may fail (EPIPE, no SIGPIPE) and the
	 * read end in ECONNRESET, after the answer, which is what counts. */
	n = send(fd, buf, strlen(buf), MSG_NOSIGNAL);
	if (n != (ssize_t)strlen(buf) &&
	    !(n < 0 && (errno == EPIPE || errno == ECONNRESET))) {
		rc = n < 0 ? errno : EIO;
		close(fd);
		return ae_seterr(err, errlen, rc, "%s: write: %s", path,
				 strerror(rc));
	}
	shutdown(fd, SHUT_WR);
	sb_printf(&b, "%s", "");
	while ((n = read(fd, buf, sizeof buf - 1)) > 0) {
		buf[n] = '\0';
		sb_printf(&b, "%s", buf);
	}
	rc = n < 0 && !(errno == ECONNRESET && b.len) ? errno : 0;
	close(fd);
	if (rc) {
		free(b.s);
		return ae_seterr(err, errlen, rc, "%s: read: %s", path,
				 strerror(rc));
	}
	*reply = b.s;
	if (!strncmp(b.s, "ok\n", 3))
		return 0;
	if (sscanf(b.s, "error %31s", name) == 1)
		return ae_seterr(err, errlen, errcode(name), "%s:%s", name,
				 b.s + 6 + strlen(name));
	return ae_seterr(err, errlen, EPROTO, "%s: unexpected reply", path);
}

/* ---- `aether forward` ---------------------------------------------- */

static const char forward_usage[] =
	"usage: aether forward add VM tcp|udp [HOSTADDR]:HOSTPORT GUESTPORT\n"
	"       aether forward remove VM tcp|udp [HOSTADDR]:HOSTPORT [GUESTPORT]\n"
	"       aether forward list VM\n";

int ae_cmd_forward(int argc, char **argv, const char *hostconf)
{
	struct ae_ini *host = NULL;
	const struct ae_ini_entry *e;
	struct aether_forward f;
	char err[1024], addr[INET_ADDRSTRLEN], *root = NULL, *path = NULL;
	char *req = NULL, *reply = NULL, *body;
	const char *hc = hostconf, *verb, *vm;
	struct stat st;
	int rc, ret = 1;

	if (argc < 3 || (strcmp(argv[1], "add") && strcmp(argv[1], "remove") &&
			 strcmp(argv[1], "list"))) {
		fputs(forward_usage, stderr);
		return 2;
	}
	verb = argv[1];
	vm = argv[2];
	if ((!strcmp(verb, "list") && argc != 3) ||
	    (!strcmp(verb, "add") && argc != 6) ||
	    (!strcmp(verb, "remove") && argc != 5 && argc != 6)) {
		fputs(forward_usage, stderr);
		return 2;
	}
	if (!ae_valid_vm_name(vm)) {
		ae_err("'%s' is not a VM name", vm);
		return 2;
	}
	if (argc >= 5 &&
	    ae_forward_parse(argv[3], argv[4], argc == 6 ? argv[5] : NULL, &f,
			     addr, sizeof addr, err, sizeof err) < 0) {
		ae_err("forward %s: %s", verb, err);
		return 2;
	}
	hc = ae_host_config_path(hc);
	if (hc && ae_ini_parse_file(hc, &host, err, sizeof err) < 0) {
		ae_err("%s", err);
		return 1;
	}
	e = ae_ini_get(ae_ini_find(host, "aether"), "runtime_dir");
	ae_runtime_set_default(e ? e->value : NULL);
	if (ae_runtime_root(NULL, &root, err, sizeof err) < 0) {
		ae_err("%s", err);
		goto out;
	}
	path = ae_xasprintf("%s/vms/%s", root, vm);
	if (lstat(path, &st) < 0 || !S_ISDIR(st.st_mode)) {
		ae_err("VM %s is not running (no %s)", vm, path);
		goto out;
	}
	if ((st.st_uid != geteuid() && geteuid() != 0) ||
	    (st.st_mode & 077)) {
		ae_err("%s is not a private directory of ours: refusing it",
		       path);
		goto out;
	}
	free(path);
	path = ae_xasprintf("%s/vms/%s/control.sock", root, vm);
	if (argc == 3)
		req = ae_xasprintf("forward list");
	else
		req = ae_xasprintf("forward %s %s %s:%u %.0u", verb, argv[3],
				   f.host_addr, f.host_port, f.guest_port);
	rc = ae_control_request(path, req, &reply, err, sizeof err);
	if (rc < 0) {
		char *nl;
		const char *msg = err;

		if ((nl = strchr(err, '\n')))
			*nl = '\0';
		if (rc == -ENOENT && !reply)
			ae_err("VM %s has no control socket (is it running "
			       "under this aether?): %s", vm, msg);
		else
			ae_err("%s", msg);
		goto out;
	}
	body = strchr(reply, '\n');
	if (body && body[1])
		fputs(body + 1, stdout);
	ret = 0;
out:
	free(reply);
	free(req);
	free(path);
	free(root);
	ae_ini_free(host);
	return ret;
}
