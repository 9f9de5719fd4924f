/* qemu-argv.c - QEMU's argv from the VM model and the attachment. */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helper.h"
#include "qemu-argv.h"
#include "relay.h"
#include "util.h"

void ae_argv_add(struct ae_argv *a, const char *s)
{
	if (a->n + 2 > a->cap) {
		a->cap = a->cap ? 2 * a->cap : 32;
		a->v = ae_xrealloc(a->v, a->cap * sizeof *a->v);
	}
	a->v[a->n++] = ae_xstrdup(s);
	a->v[a->n] = NULL;
}

void ae_argv_addf(struct ae_argv *a, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	if (!s)
		abort();
	ae_argv_add(a, s);
	free(s);
}

void ae_argv_free(struct ae_argv *a)
{
	size_t i;

	for (i = 0; i < a->n; i++)
		free(a->v[i]);
	free(a->v);
	memset(a, 0, sizeof *a);
}

char *ae_qemu_escape(const char *s)
{
	size_t n = 0;
	const char *p;
	char *out, *q;

	for (p = s; *p; p++)
		n += (*p == ',') ? 2 : 1;
	out = q = ae_xmalloc(n + 1);
	for (p = s; *p; p++) {
		*q++ = *p;
		if (*p == ',')
			*q++ = ',';
	}
	*q = '\0';
	return out;
}

/* Append ",key=value" with the value escaped. */
static void opt(char **buf, const char *key, const char *value)
{
	char *esc, *n;

	if (!value)
		return;
	esc = ae_qemu_escape(value);
	n = ae_xasprintf("%s,%s=%s", *buf, key, esc);
	free(esc);
	free(*buf);
	*buf = n;
}

static void optu(char **buf, const char *key, unsigned long v)
{
	char tmp[32];

	snprintf(tmp, sizeof tmp, "%lu", v);
	opt(buf, key, tmp);
}

static int keep_fd(struct ae_argv *a, int fd, char *err, size_t errlen)
{
	if (fd < 0)
		return ae_seterr(err, errlen, EINVAL,
				 "attachment is missing a file descriptor");
	if (a->n_keep >= AE_ARRAY_SIZE(a->keep_fds))
		return ae_seterr(err, errlen, E2BIG, "too many descriptors");
	a->keep_fds[a->n_keep++] = fd;
	return 0;
}

/* "fd=3" for one queue, "fds=3:4:5" for several. */
static int fd_list(struct ae_argv *a, char **buf, const char *one,
		   const char *many, const int *fds, unsigned n, char *err,
		   size_t errlen)
{
	char list[16 * AETHER_MAX_QUEUES], *p = list;
	unsigned i;
	int rc;

	list[0] = '\0';
	for (i = 0; i < n; i++) {
		if ((rc = keep_fd(a, fds[i], err, errlen)) < 0)
			return rc;
		p += sprintf(p, "%s%d", i ? ":" : "", fds[i]);
	}
	opt(buf, n == 1 ? one : many, list);
	return 0;
}

static int netdev_tap(struct ae_argv *a, char **nd,
		      const struct aether_attach_tap *t, char *err,
		      size_t errlen)
{
	unsigned i, nvhost = 0;
	int rc;

	if (t->queues < 1 || t->queues > AETHER_MAX_QUEUES)
		return ae_seterr(err, errlen, EINVAL,
				 "tap attachment has %u queues (1..%d)",
				 t->queues, AETHER_MAX_QUEUES);
	for (i = 0; i < t->queues; i++)
		if (t->vhostfds[i] >= 0)
			nvhost++;
	if (nvhost && nvhost != t->queues)
		return ae_seterr(err, errlen, EINVAL,
				 "tap attachment has %u vhost fds for %u queues",
				 nvhost, t->queues);
	*nd = ae_xstrdup("tap,id=net0");
	rc = fd_list(a, nd, "fd", "fds", t->fds, t->queues, err, errlen);
	if (rc == 0 && nvhost) {
		opt(nd, "vhost", "on");
		rc = fd_list(a, nd, "vhostfd", "vhostfds", t->vhostfds,
			     t->queues, err, errlen);
	}
	return rc;
}

static int netdev_user(char **nd, const struct aether_attach_user *u,
		       char *err, size_t errlen)
{
	unsigned i;

	*nd = ae_xstrdup("user,id=net0");
	opt(nd, "net", u->net);
	opt(nd, "host", u->host);
	opt(nd, "dhcpstart", u->dhcpstart);
	opt(nd, "dns", u->dns);
	opt(nd, "hostname", u->hostname);
	opt(nd, "domainname", u->domain);
	if (u->restrict_)
		opt(nd, "restrict", "on");
	/* Given ipv6=on alone, QEMU turns IPv4 off: say both.  IPv6 is then
	 * QEMU's fixed fec0::/64, host fec0::2, DNS fec0::3 (the attachment
	 * carries no IPv6 addresses). */
	if (u->ipv6)
		opt(nd, "ipv4", "on");
	opt(nd, "ipv6", u->ipv6 ? "on" : "off");
	if (u->n_hostfwd && !u->hostfwd)
		return ae_seterr(err, errlen, EINVAL,
				 "user attachment: n_hostfwd without hostfwd");
	for (i = 0; i < u->n_hostfwd; i++) {
		if (!u->hostfwd[i] || !*u->hostfwd[i])
			return ae_seterr(err, errlen, EINVAL,
					 "user attachment: empty hostfwd %u", i);
		if (strchr(u->hostfwd[i], '['))
			return ae_seterr(err, errlen, EINVAL,
					 "user attachment: hostfwd %u (%s) has an "
					 "IPv6 address; QEMU's user netdev "
					 "forwards IPv4 only", i, u->hostfwd[i]);
		opt(nd, "hostfwd", u->hostfwd[i]);
	}
	return 0;
}

int ae_qemu_netdev_args(struct ae_argv *a, const struct aether_attachment *att,
			const struct ae_vmconf *c, char *err, size_t errlen)
{
	char *nd = NULL;
	int rc = 0;

	/* switchable = yes: the NIC always talks to the relay, which carries
	 * the backend's attachment (relay-port.h), whatever its kind. */
	switch (c && c->switchable ? AETHER_ATTACH_FRAME : att->kind) {
	case AETHER_ATTACH_TAP:
		rc = netdev_tap(a, &nd, &att->tap, err, errlen);
		break;
	case AETHER_ATTACH_VDE:
		if (!att->vde.sock || !ae_valid_abs_path(att->vde.sock))
			return ae_seterr(err, errlen, EINVAL,
					 "vde attachment without an absolute "
					 "socket path");
		if (att->vde.port < 0)
			return ae_seterr(err, errlen, EINVAL,
					 "vde attachment has port %d (0 for any, "
					 "or a port number)", (int)att->vde.port);
		if (att->vde.mode > 0777)
			return ae_seterr(err, errlen, EINVAL,
					 "vde attachment has mode 0%o (0..0777)",
					 (unsigned)att->vde.mode);
		nd = ae_xstrdup("vde,id=net0");
		opt(&nd, "sock", att->vde.sock);
		if (att->vde.port > 0)
			optu(&nd, "port", (unsigned long)att->vde.port);
		opt(&nd, "group", att->vde.group);
		if (att->vde.mode)
			optu(&nd, "mode", att->vde.mode);
		break;
	case AETHER_ATTACH_USER:
		rc = netdev_user(&nd, &att->user, err, errlen);
		break;
	case AETHER_ATTACH_STREAM:
		nd = ae_xstrdup("stream,id=net0,server=off");
		if (att->stream.fd >= 0) {
			char fd[16];
			snprintf(fd, sizeof fd, "%d", att->stream.fd);
			rc = keep_fd(a, att->stream.fd, err, errlen);
			opt(&nd, "addr.type", "fd");
			opt(&nd, "addr.str", fd);
		} else if (att->stream.path &&
			   ae_valid_abs_path(att->stream.path)) {
			opt(&nd, "addr.type", "unix");
			opt(&nd, "addr.path", att->stream.path);
		} else {
			rc = ae_seterr(err, errlen, EINVAL,
				       "stream attachment needs an fd or an "
				       "absolute socket path");
		}
		break;
	case AETHER_ATTACH_VHOST_USER: {
		char *chr;
		if (!att->vhost_user.path ||
		    !ae_valid_abs_path(att->vhost_user.path))
			return ae_seterr(err, errlen, EINVAL,
					 "vhost-user attachment without an "
					 "absolute socket path");
		if (att->vhost_user.queues > AETHER_MAX_QUEUES)
			return ae_seterr(err, errlen, EINVAL,
					 "vhost-user attachment has %u queues "
					 "(1..%d)", att->vhost_user.queues,
					 AETHER_MAX_QUEUES);
		chr = ae_xstrdup("socket,id=vhu0");
		opt(&chr, "path", att->vhost_user.path);
		ae_argv_add(a, "-chardev");
		ae_argv_add(a, chr);
		free(chr);
		/* vhost-user needs guest memory the backend can map. */
		ae_argv_add(a, "-object");
		ae_argv_addf(a, "memory-backend-memfd,id=mem0,size=%lluM,share=on",
			     (unsigned long long)c->memory_mb);
		ae_argv_add(a, "-numa");
		ae_argv_add(a, "node,memdev=mem0");
		nd = ae_xstrdup("vhost-user,id=net0,chardev=vhu0");
		optu(&nd, "queues",
		     att->vhost_user.queues ? att->vhost_user.queues : 1);
		break;
	}
	case AETHER_ATTACH_FRAME: {
		/* The host's relay (frame.sink) owns a SOCK_DGRAM socketpair:
		 * one datagram per frame, no path, no race (QEMU >= 7.2). */
		int fd = att->frame.sink ? ae_relay_hv_fd(att->frame.sink) : -1;
		char fdstr[16];

		if (fd < 0)
			return ae_seterr(err, errlen, EINVAL,
					 "%s without the host relay's socket",
					 c && c->switchable
						 ? "switchable VM"
						 : "frame attachment");
		snprintf(fdstr, sizeof fdstr, "%d", fd);
		rc = keep_fd(a, fd, err, errlen);
		nd = ae_xstrdup("dgram,id=net0");
		opt(&nd, "local.type", "fd");
		opt(&nd, "local.str", fdstr);
		break;
	}
	default:
		return ae_seterr(err, errlen, EINVAL,
				 "unknown attachment kind %u", att->kind);
	}
	if (rc == 0) {
		ae_argv_add(a, "-netdev");
		ae_argv_add(a, nd);
	}
	free(nd);
	return rc;
}

static void nic_args(struct ae_argv *a, const struct ae_vmconf *c,
		     const struct aether_attachment *att)
{
	unsigned queues = c->switchable ? 1
			  : att->kind == AETHER_ATTACH_TAP ? att->tap.queues
			  : att->kind == AETHER_ATTACH_VHOST_USER
				  ? att->vhost_user.queues
				  : 1;
	char mac[18];
	char *dev;

	ae_format_mac(c->mac, mac);
	dev = ae_xasprintf("%s,netdev=net0,mac=%s", c->nic_model, mac);
	if (queues > 1 && !strncmp(c->nic_model, "virtio-net", 10)) {
		char *n = ae_xasprintf("%s,mq=on,vectors=%u", dev,
				       2 * queues + 2);
		free(dev);
		dev = n;
	}
	if (att->mtu && !strncmp(c->nic_model, "virtio-net", 10)) {
		char *n = ae_xasprintf("%s,host_mtu=%u", dev, att->mtu);
		free(dev);
		dev = n;
	}
	ae_argv_add(a, "-device");
	ae_argv_add(a, dev);
	free(dev);
}

int ae_qemu_creds(const struct ae_vmconf *c, struct ae_creds *cr, char *err,
		  size_t errlen)
{
	const char *name = c->user;
	struct passwd *pw;
	int n;

	memset(cr, 0, sizeof *cr);
	if (geteuid() != 0 || (name && !strcmp(name, "root")))
		return 0;
	errno = 0;
	if (!name) {
		name = AE_QEMU_USER;
		pw = getpwnam(name);
		if (!pw) {
			name = AE_QEMU_USER_FALLBACK;
			errno = 0;
			pw = getpwnam(name);
		}
	} else {
		pw = getpwnam(name);
	}
	if (!pw) {
		int e = errno ? errno : ENOENT;
		if (c->user)
			return ae_seterr(err, errlen, e,
					 "%s:%d: user: no user '%s' on this host",
					 c->user_file, c->user_line, name);
		return ae_seterr(err, errlen, e,
				 "neither %s nor %s exists: QEMU needs an "
				 "unprivileged user (set [vm] user)",
				 AE_QEMU_USER, AE_QEMU_USER_FALLBACK);
	}
	if (pw->pw_uid == 0)
		return ae_seterr(err, errlen, EPERM,
				 "%s:%d: user: '%s' has uid 0: write user = root "
				 "to run QEMU as root",
				 c->user_file ? c->user_file : "(default)",
				 c->user_line, name);
	cr->uid = pw->pw_uid;
	cr->gid = pw->pw_gid;
	snprintf(cr->name, sizeof cr->name, "%s", name);
	n = (int)AE_ARRAY_SIZE(cr->groups);
	if (getgrouplist(name, pw->pw_gid, cr->groups, &n) < 0)
		return ae_seterr(err, errlen, E2BIG,
				 "user %s is in more than %zu groups", name,
				 AE_ARRAY_SIZE(cr->groups));
	cr->n_groups = (size_t)n;
	return 1;
}

void ae_qemu_fds_init(struct ae_qemu_fds *f)
{
	memset(f, 0, sizeof *f);
	f->qmp = f->qmp_desc = f->qga = f->console = -1;
	f->disk_rw = f->disk_ro = f->seed = f->kernel = f->initrd = -1;
}

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

int ae_qcow2_backing(int fd, char *name, size_t namelen, char *fmt,
		     size_t fmtlen)
{
	unsigned char h[104], ext[8];
	uint64_t off, pos;
	uint32_t size, hlen;
	ssize_t r;
	int i;

	fmt[0] = name[0] = '\0';
	r = pread(fd, h, sizeof h, 0);
	if (r < 0)
		return -errno;
	if (r < 72 || memcmp(h, "QFI\xfb", 4))
		return 0;
	if (be32(h + 4) >= 3 && r < 104)
		return -EINVAL;
	hlen = be32(h + 4) >= 3 ? be32(h + 100) : 72;
	off = (uint64_t)be32(h + 8) << 32 | be32(h + 12);
	size = be32(h + 16);
	if (!off)
		return 0;
	if (size == 0 || size >= namelen || size > 1023)
		return -EINVAL;
	r = pread(fd, name, size, (off_t)off);
	if (r != (ssize_t)size)
		return r < 0 ? -errno : -EINVAL;
	name[size] = '\0';
	if (strlen(name) != size)
		return -EINVAL;
	/* header extensions: the backing format is 0xe2792aca */
	for (pos = hlen, i = 0; i < 64; i++) {
		uint32_t type, len;
		if (pread(fd, ext, 8, (off_t)pos) != 8)
			break;
		type = be32(ext);
		len = be32(ext + 4);
		if (type == 0)
			break;
		if (type == 0xe2792acau && len > 0 && len < fmtlen) {
			if (pread(fd, fmt, len, (off_t)pos + 8) != (ssize_t)len)
				return -EINVAL;
			fmt[len] = '\0';
			break;
		}
		pos += 8 + (((uint64_t)len + 7) & ~7ull);
	}
	return 1;
}

/* "-add-fd fd=N,set=S[,opaque=...]" for each fd >= 0. */
static int add_fd(struct ae_argv *a, int fd, int set, const char *opaque,
		  char *err, size_t errlen)
{
	char *o;
	int rc;

	if (fd < 0)
		return 0;
	if ((rc = keep_fd(a, fd, err, errlen)) < 0)
		return rc;
	o = ae_xasprintf("fd=%d,set=%d", fd, set);
	opt(&o, "opaque", opaque);
	ae_argv_add(a, "-add-fd");
	ae_argv_add(a, o);
	free(o);
	return 0;
}

/* A file QEMU reads by name: /proc/self/fd/N when the supervisor opened
 * it (QEMU's loaders open paths themselves, not fd sets). */
static int file_arg(struct ae_argv *a, const char *flag, const char *path,
		    int fd, char *err, size_t errlen)
{
	int rc;

	if (!path)
		return 0;
	ae_argv_add(a, flag);
	if (fd < 0) {
		ae_argv_add(a, path);
		return 0;
	}
	if ((rc = keep_fd(a, fd, err, errlen)) < 0)
		return rc;
	ae_argv_addf(a, "/proc/self/fd/%d", fd);
	return 0;
}

int ae_qemu_build(struct ae_argv *a, const struct ae_vmconf *c,
		  const struct aether_attachment *att, const char *qmp_path,
		  char *err, size_t errlen)
{
	return ae_qemu_build_fds(a, c, att, qmp_path, NULL, err, errlen);
}

int ae_qemu_build_fds(struct ae_argv *a, const struct ae_vmconf *c,
		      const struct aether_attachment *att,
		      const char *qmp_path, const struct ae_qemu_fds *fds_in,
		      char *err, size_t errlen)
{
	struct ae_qemu_fds fds;
	char *esc;
	int rc;

	if (fds_in)
		fds = *fds_in;
	else
		ae_qemu_fds_init(&fds);
	ae_argv_add(a, c->qemu);
	ae_argv_add(a, "-name");
	ae_argv_addf(a, "guest=%s,process=aether-%s", c->name, c->name);
	ae_argv_add(a, "-nodefaults");
	ae_argv_add(a, "-no-user-config");
	ae_argv_add(a, "-display");
	ae_argv_add(a, "none");
	if (c->machine) {
		ae_argv_add(a, "-machine");
		ae_argv_add(a, c->machine);
	}
	if (c->accel == AE_ACCEL_KVM || c->accel == AE_ACCEL_AUTO) {
		ae_argv_add(a, "-accel");
		ae_argv_add(a, "kvm");
	}
	if (c->accel == AE_ACCEL_TCG || c->accel == AE_ACCEL_AUTO) {
		/* with auto, QEMU falls back to tcg when kvm is unusable */
		ae_argv_add(a, "-accel");
		ae_argv_add(a, "tcg");
	}
	if (!c->reboot)
		ae_argv_add(a, "-no-reboot");
	ae_argv_add(a, "-m");
	ae_argv_addf(a, "%llu", (unsigned long long)c->memory_mb);
	ae_argv_add(a, "-smp");
	ae_argv_addf(a, "%u", c->cpus);
	ae_argv_add(a, "-sandbox");
	ae_argv_add(a, AE_QEMU_SANDBOX);
	if ((rc = file_arg(a, "-kernel", c->kernel, fds.kernel, err, errlen)) <
		    0 ||
	    (rc = file_arg(a, "-initrd", c->initrd, fds.initrd, err, errlen)) <
		    0)
		return rc;
	if (c->append) {
		ae_argv_add(a, "-append");
		ae_argv_add(a, c->append);
	}
	if (c->disk && fds.disk_rw >= 0) {
		/* fd set 1: QEMU picks the descriptor by access mode */
		if ((rc = add_fd(a, fds.disk_rw, 1, c->disk, err, errlen)) < 0 ||
		    (rc = add_fd(a, fds.disk_ro, 1, c->disk, err, errlen)) < 0)
			return rc;
		{
			char *d = ae_xasprintf("file=/dev/fdset/1,format=%s,"
					       "if=virtio", c->disk_format);
			char *prefix = ae_xstrdup("backing.");
			unsigned k;

			for (k = 0; k < fds.n_backing; k++) {
				char *n;
				if ((rc = add_fd(a, fds.backing[k], 3 + (int)k,
						 NULL, err, errlen)) < 0) {
					free(d);
					free(prefix);
					return rc;
				}
				n = ae_xasprintf("%s,%sdriver=%s,%sfile.filename="
						 "/dev/fdset/%u", d, prefix,
						 fds.backing_fmt[k], prefix, 3 + k);
				free(d);
				d = n;
				n = ae_xasprintf("%sbacking.", prefix);
				free(prefix);
				prefix = n;
			}
			ae_argv_add(a, "-drive");
			ae_argv_add(a, d);
			free(d);
			free(prefix);
		}
	} else if (c->disk) {
		esc = ae_qemu_escape(c->disk);
		ae_argv_add(a, "-drive");
		ae_argv_addf(a, "file=%s,format=%s,if=virtio", esc,
			     c->disk_format);
		free(esc);
	}
	if (c->seed && fds.seed >= 0) {
		if ((rc = add_fd(a, fds.seed, 2, c->seed, err, errlen)) < 0)
			return rc;
		ae_argv_add(a, "-drive");
		ae_argv_add(a, "file=/dev/fdset/2,format=raw,if=virtio,"
			       "readonly=on");
	} else if (c->seed) {
		esc = ae_qemu_escape(c->seed);
		ae_argv_add(a, "-drive");
		ae_argv_addf(a, "file=%s,format=raw,if=virtio,readonly=on", esc);
		free(esc);
	}
	if (c->uuid) {
		/* A unique SMBIOS system UUID and serial per VM: cloned guests
		 * must not look like the same machine. */
		ae_argv_add(a, "-uuid");
		ae_argv_add(a, c->uuid);
		ae_argv_add(a, "-smbios");
		ae_argv_addf(a, "type=1,serial=aether-%s", c->uuid);
	}
	if (!strcmp(c->console, "stdout")) {
		ae_argv_add(a, "-chardev");
		ae_argv_add(a, "stdio,id=con0,signal=off");
		ae_argv_add(a, "-serial");
		ae_argv_add(a, "chardev:con0");
	} else if (strcmp(c->console, "none") && fds.console >= 0) {
		/* The supervisor writes the log (bounded, rotated). */
		if ((rc = keep_fd(a, fds.console, err, errlen)) < 0)
			return rc;
		ae_argv_add(a, "-chardev");
		ae_argv_addf(a, "socket,id=con0,fd=%d", fds.console);
		ae_argv_add(a, "-serial");
		ae_argv_add(a, "chardev:con0");
	} else if (strcmp(c->console, "none")) {
		esc = ae_qemu_escape(c->console);
		ae_argv_add(a, "-chardev");
		ae_argv_addf(a, "file,id=con0,path=%s,append=on", esc);
		free(esc);
		ae_argv_add(a, "-serial");
		ae_argv_add(a, "chardev:con0");
	}
	if (fds.qmp >= 0) {
		/* The supervisor's listening socket; its path stays on the
		 * command line as the description of fd set 9, which is how
		 * aether gc and list find a QEMU left without supervisor. */
		if ((rc = keep_fd(a, fds.qmp, err, errlen)) < 0 ||
		    (rc = add_fd(a, fds.qmp_desc, 9, qmp_path, err, errlen)) < 0)
			return rc;
		ae_argv_add(a, "-chardev");
		ae_argv_addf(a, "socket,id=qmp0,fd=%d,server=on,wait=off",
			     fds.qmp);
		ae_argv_add(a, "-mon");
		ae_argv_add(a, "chardev=qmp0,mode=control");
	} else if (qmp_path) {
		esc = ae_qemu_escape(qmp_path);
		ae_argv_add(a, "-chardev");
		ae_argv_addf(a, "socket,id=qmp0,path=%s,server=on,wait=off", esc);
		free(esc);
		ae_argv_add(a, "-mon");
		ae_argv_add(a, "chardev=qmp0,mode=control");
	}
	if (c->guest_agent && fds.qga >= 0) {
		if ((rc = keep_fd(a, fds.qga, err, errlen)) < 0)
			return rc;
		ae_argv_add(a, "-chardev");
		ae_argv_addf(a, "socket,id=qga0,fd=%d,server=on,wait=off",
			     fds.qga);
		ae_argv_add(a, "-device");
		ae_argv_add(a, "virtio-serial-pci,id=vser0");
		ae_argv_add(a, "-device");
		ae_argv_add(a, "virtserialport,bus=vser0.0,chardev=qga0,"
			       "name=org.qemu.guest_agent.0");
	} else if (c->guest_agent && qmp_path) {
		/* qemu-guest-agent's channel, next to the QMP socket */
		const char *slash = strrchr(qmp_path, '/');
		char *dir = ae_xstrdup(qmp_path), *qga;
		dir[slash ? (size_t)(slash - qmp_path) : 0] = '\0';
		qga = ae_xasprintf("%s/qga.sock", dir);
		esc = ae_qemu_escape(qga);
		ae_argv_add(a, "-chardev");
		ae_argv_addf(a, "socket,id=qga0,path=%s,server=on,wait=off", esc);
		ae_argv_add(a, "-device");
		ae_argv_add(a, "virtio-serial-pci,id=vser0");
		ae_argv_add(a, "-device");
		ae_argv_add(a, "virtserialport,bus=vser0.0,chardev=qga0,"
			       "name=org.qemu.guest_agent.0");
		free(esc);
		free(qga);
		free(dir);
	}
	rc = ae_qemu_netdev_args(a, att, c, err, errlen);
	if (rc < 0)
		return rc;
	nic_args(a, c, att);
	return 0;
}
