/* check_argv.c - QEMU's argv from the VM model and an attachment
 * (qemu-argv.c): every attachment kind, the fds QEMU must inherit, the
 * accelerator and console choices, comma escaping, and malformed
 * attachments refused with a message. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "check-main.h"
#include "helper.h"
#include "mac.h"
#include "qemu-argv.h"
#include "relay.h"
#include "vmconf.h"

static char err[512];

/* A VM model as ae_vmconf_load would make it, without files. */
static struct ae_vmconf *conf(void)
{
	struct ae_vmconf *c = ae_xcalloc(1, sizeof *c);

	c->name = ae_xstrdup("demo");
	c->memory_mb = 256;
	c->cpus = 1;
	c->accel = AE_ACCEL_TCG;
	c->kernel = ae_xstrdup("/boot/vmlinuz");
	c->console = ae_xstrdup("stdout");
	c->qemu = ae_xstrdup("qemu-system-x86_64");
	c->backend = ae_xstrdup("test");
	c->nic_model = ae_xstrdup("virtio-net-pci");
	c->index = -1;
	c->stop_timeout_s = 30;
	c->reboot = 1;
	memcpy(c->mac, "\x52\x54\x00\x12\x34\x56", 6);
	c->mac_set = true;
	return c;
}

static void att_init(struct aether_attachment *att, uint32_t kind)
{
	unsigned i;

	memset(att, 0, sizeof *att);
	att->struct_size = sizeof *att;
	att->kind = kind;
	for (i = 0; i < AETHER_MAX_QUEUES; i++)
		att->tap.fds[i] = att->tap.vhostfds[i] = -1;
	att->stream.fd = -1;
}

/* Index of the first `flag` in argv, or -1. */
static int find_flag(const struct ae_argv *a, const char *flag, int from)
{
	size_t i;

	for (i = (size_t)from; i < a->n; i++)
		if (!strcmp(a->v[i], flag))
			return (int)i;
	return -1;
}

static int count_flag(const struct ae_argv *a, const char *flag)
{
	int n = 0, i = -1;

	while ((i = find_flag(a, flag, i + 1)) >= 0)
		n++;
	return n;
}

/* The value after the first `flag`. */
static const char *value_of(const struct ae_argv *a, const char *flag)
{
	int i = find_flag(a, flag, 0);

	ck_assert_msg(i >= 0, "no %s in argv", flag);
	ck_assert_msg((size_t)i + 1 < a->n, "%s is the last argument", flag);
	return a->v[i + 1];
}

/* flag followed by value somewhere in argv. */
static int has_pair(const struct ae_argv *a, const char *flag,
		    const char *value)
{
	int i = -1;

	while ((i = find_flag(a, flag, i + 1)) >= 0)
		if ((size_t)i + 1 < a->n && !strcmp(a->v[i + 1], value))
			return 1;
	return 0;
}

static void assert_keep(const struct ae_argv *a, const int *fds, size_t n)
{
	size_t i;

	ck_assert_uint_eq(a->n_keep, n);
	for (i = 0; i < n; i++)
		ck_assert_int_eq(a->keep_fds[i], fds[i]);
}

/* Build the netdev arguments and return the -netdev value. */
static const char *netdev_ok(struct ae_argv *a,
			     const struct aether_attachment *att,
			     const struct ae_vmconf *c)
{
	int rc;

	memset(a, 0, sizeof *a);
	rc = ae_qemu_netdev_args(a, att, c, err, sizeof err);
	ck_assert_msg(rc == 0, "netdev args failed: %d %s", rc, err);
	ck_assert_ptr_null(a->v[a->n]);
	return value_of(a, "-netdev");
}

static void netdev_fails(const struct aether_attachment *att,
			 const struct ae_vmconf *c, const char *what)
{
	struct ae_argv a;
	int rc;

	memset(&a, 0, sizeof a);
	err[0] = '\0';
	rc = ae_qemu_netdev_args(&a, att, c, err, sizeof err);
	ck_assert_msg(rc < 0, "malformed attachment accepted (want \"%s\")",
		      what);
	ck_assert_int_eq(count_flag(&a, "-netdev"), 0);
	ck_assert_err_has(err, what);
	ae_argv_free(&a);

	/* The whole command line refuses it too, with the same message. */
	memset(&a, 0, sizeof a);
	err[0] = '\0';
	rc = ae_qemu_build(&a, c, att, NULL, err, sizeof err);
	ck_assert_int_lt(rc, 0);
	ck_assert_err_has(err, what);
	ae_argv_free(&a);
}

/* ------------------------------------------------------------------ */

START_TEST(argv_basics)
{
	struct ae_argv a;
	char *e;

	memset(&a, 0, sizeof a);
	ae_argv_add(&a, "one");
	ae_argv_addf(&a, "%s-%d", "two", 2);
	ck_assert_uint_eq(a.n, 2);
	ck_assert_str_eq(a.v[0], "one");
	ck_assert_str_eq(a.v[1], "two-2");
	ck_assert_ptr_null(a.v[2]);
	for (int i = 0; i < 100; i++)
		ae_argv_addf(&a, "%d", i);
	ck_assert_uint_eq(a.n, 102);
	ck_assert_str_eq(a.v[101], "99");
	ck_assert_ptr_null(a.v[102]);
	ae_argv_free(&a);
	ck_assert_uint_eq(a.n, 0);
	ck_assert_ptr_null(a.v);

	e = ae_qemu_escape("a,b,,c,");
	ck_assert_str_eq(e, "a,,b,,,,c,,");
	free(e);
	e = ae_qemu_escape("");
	ck_assert_str_eq(e, "");
	free(e);
	e = ae_qemu_escape("plain");
	ck_assert_str_eq(e, "plain");
	free(e);
}
END_TEST

START_TEST(tap_single)
{
	struct ae_vmconf *c = conf();
	struct aether_attachment att;
	struct ae_argv a;
	static const int keep[] = {5};

	att_init(&att, AETHER_ATTACH_TAP);
	att.tap.queues = 1;
	att.tap.fds[0] = 5;
	ck_assert_str_eq(netdev_ok(&a, &att, c), "tap,id=net0,fd=5");
	assert_keep(&a, keep, 1);
	ae_argv_free(&a);
	ae_vmconf_free(c);
}
END_TEST

START_TEST(tap_single_vhost)
{
	struct ae_vmconf *c = conf();
	struct aether_attachment att;
	struct ae_argv a;
	static const int keep[] = {5, 6};

	att_init(&att, AETHER_ATTACH_TAP);
	att.tap.queues = 1;
	att.tap.fds[0] = 5;
	att.tap.vhostfds[0] = 6;
	ck_assert_str_eq(netdev_ok(&a, &att, c),
			 "tap,id=net0,fd=5,vhost=on,vhostfd=6");
	assert_keep(&a, keep, 2);
	ae_argv_free(&a);
	ae_vmconf_free(c);
}
END_TEST

START_TEST(tap_multiqueue)
{
	struct ae_vmconf *c = conf();
	struct aether_attachment att;
	struct ae_argv a;
	static const int keep[] = {10, 11, 12, 13};
	static const int keepv[] = {10, 11, 12, 13, 20, 21, 22, 23};
	int rc;

	att_init(&att, AETHER_ATTACH_TAP);
	att.tap.queues = 4;
	att.tap.fds[0] = 10;
	att.tap.fds[1] = 11;
	att.tap.fds[2] = 12;
	att.tap.fds[3] = 13;
	ck_assert_str_eq(netdev_ok(&a, &att, c), "tap,id=net0,fds=10:11:12:13");
	assert_keep(&a, keep, 4);
	ae_argv_free(&a);

	att.tap.vhostfds[0] = 20;
	att.tap.vhostfds[1] = 21;
	att.tap.vhostfds[2] = 22;
	att.tap.vhostfds[3] = 23;
	ck_assert_str_eq(netdev_ok(&a, &att, c),
			 "tap,id=net0,fds=10:11:12:13,vhost=on,"
			 "vhostfds=20:21:22:23");
	assert_keep(&a, keepv, 8);
	ae_argv_free(&a);

	/* The whole command line: a multi-queue virtio NIC. */
	memset(&a, 0, sizeof a);
	rc = ae_qemu_build(&a, c, &att, NULL, err, sizeof err);
	ck_assert_msg(rc == 0, "%s", err);
	ck_assert_str_eq(value_of(&a, "-device"),
			 "virtio-net-pci,netdev=net0,mac=52:54:00:12:34:56,"
			 "mq=on,vectors=10");
	assert_keep(&a, keepv, 8);
	ae_argv_free(&a);

	/* A NIC model without multi-queue support gets no mq options. */
	free(c->nic_model);
	c->nic_model = ae_xstrdup("e1000");
	memset(&a, 0, sizeof a);
	ck_assert_int_eq(ae_qemu_build(&a, c, &att, NULL, err, sizeof err), 0);
	ck_assert_str_eq(value_of(&a, "-device"),
			 "e1000,netdev=net0,mac=52:54:00:12:34:56");
	ae_argv_free(&a);
	ae_vmconf_free(c);
}
END_TEST


/* switchable = yes: whatever the attachment, the NIC is a dgram netdev
 * on the relay's socket, one queue, no TAP or VDE argument. */
START_TEST(switchable_nic_on_relay)
{
	struct ae_vmconf *c = conf();
	struct aether_attachment att;
	struct ae_relay *relay;
	struct ae_argv a;
	char want[64];
	int rc, hv, keep[1];
	uint32_t kinds[] = {AETHER_ATTACH_TAP, AETHER_ATTACH_VDE,
			    AETHER_ATTACH_FRAME};
	size_t k;

	c->switchable = 1;
	for (k = 0; k < AE_ARRAY_SIZE(kinds); k++) {
		att_init(&att, kinds[k]);
		ck_assert_int_eq(ae_relay_new(&relay, &att, err, sizeof err), 0);
		hv = ae_relay_hv_fd(relay);
		att.tap.queues = 4;
		att.tap.fds[0] = 10;
		att.tap.fds[1] = 11;
		att.tap.fds[2] = 12;
		att.tap.fds[3] = 13;
		att.vde.sock = "/run/vde.ctl";
		snprintf(want, sizeof want, "dgram,id=net0,local.type=fd,"
					    "local.str=%d", hv);
		ck_assert_str_eq(netdev_ok(&a, &att, c), want);
		keep[0] = hv;
		assert_keep(&a, keep, 1);
		ae_argv_free(&a);
		memset(&a, 0, sizeof a);
		rc = ae_qemu_build(&a, c, &att, NULL, err, sizeof err);
		ck_assert_msg(rc == 0, "%s", err);
		ck_assert_str_eq(value_of(&a, "-device"),
				 "virtio-net-pci,netdev=net0,"
				 "mac=52:54:00:12:34:56");
		ae_argv_free(&a);
		ae_relay_free(relay);
	}
	/* without the relay's hooks there is no NIC to give */
	att_init(&att, AETHER_ATTACH_TAP);
	att.tap.queues = 1;
	att.tap.fds[0] = 5;
	memset(&a, 0, sizeof a);
	ck_assert_int_lt(ae_qemu_netdev_args(&a, &att, c, err, sizeof err), 0);
	ck_assert_err_has(err, "switchable VM without the host relay");
	ae_argv_free(&a);
	/* not switchable: the TAP fd goes to QEMU as before */
	c->switchable = 0;
	ck_assert_str_eq(netdev_ok(&a, &att, c), "tap,id=net0,fd=5");
	ae_argv_free(&a);
	ae_vmconf_free(c);
}
END_TEST

START_TEST(tap_max_queues)
{
	struct ae_vmconf *c = conf();
	struct aether_attachment att;
	struct ae_argv a;
	char want[1024], *p = want;
	unsigned i;

	att_init(&att, AETHER_ATTACH_TAP);
	att.tap.queues = AETHER_MAX_QUEUES;
	p += sprintf(p, "tap,id=net0,fds=");
	for (i = 0; i < AETHER_MAX_QUEUES; i++) {
		att.tap.fds[i] = 100 + (int)i;
		att.tap.vhostfds[i] = 200 + (int)i;
		p += sprintf(p, "%s%u", i ? ":" : "", 100 + i);
	}
	p += sprintf(p, ",vhost=on,vhostfds=");
	for (i = 0; i < AETHER_MAX_QUEUES; i++)
		p += sprintf(p, "%s%u", i ? ":" : "", 200 + i);
	ck_assert_str_eq(netdev_ok(&a, &att, c), want);
	ck_assert_uint_eq(a.n_keep, 2 * AETHER_MAX_QUEUES);
	ck_assert_int_eq(a.keep_fds[0], 100);
	ck_assert_int_eq(a.keep_fds[2 * AETHER_MAX_QUEUES - 1],
			 200 + AETHER_MAX_QUEUES - 1);
	ae_argv_free(&a);
	ae_vmconf_free(c);
}
END_TEST

START_TEST(tap_malformed)
{
	struct ae_vmconf *c = conf();
	struct aether_attachment att;

	att_init(&att, AETHER_ATTACH_TAP);
	att.tap.fds[0] = 5;
	att.tap.queues = 0;
	netdev_fails(&att, c, "tap attachment has 0 queues (1..16)");
	att.tap.queues = AETHER_MAX_QUEUES + 1;
	netdev_fails(&att, c, "tap attachment has 17 queues");
	att.tap.queues = 1;
	att.tap.fds[0] = -1;
	netdev_fails(&att, c, "missing a file descriptor");
	/* Two queues, one fd. */
	att.tap.fds[0] = 5;
	att.tap.queues = 2;
	netdev_fails(&att, c, "missing a file descriptor");
	/* vhost for some queues only. */
	att.tap.fds[1] = 6;
	att.tap.vhostfds[0] = 7;
	netdev_fails(&att, c, "tap attachment has 1 vhost fds for 2 queues");
	ae_vmconf_free(c);
}
END_TEST

START_TEST(vde_args)
{
	struct ae_vmconf *c = conf();
	struct aether_attachment att;
	struct ae_argv a;

	att_init(&att, AETHER_ATTACH_VDE);
	att.vde.sock = "/run/vde/switch.ctl";
	ck_assert_str_eq(netdev_ok(&a, &att, c),
			 "vde,id=net0,sock=/run/vde/switch.ctl");
	ck_assert_uint_eq(a.n_keep, 0);
	ae_argv_free(&a);

	att.vde.port = 3;
	att.vde.group = "kvm";
	att.vde.mode = 0660;
	ck_assert_str_eq(netdev_ok(&a, &att, c),
			 "vde,id=net0,sock=/run/vde/switch.ctl,port=3,group=kvm,"
			 "mode=432");
	ae_argv_free(&a);

	/* Commas in values are doubled, not option separators. */
	att.vde.sock = "/run/a,b/switch.ctl";
	att.vde.group = "g,x=1";
	att.vde.mode = 0;
	att.vde.port = 0;
	ck_assert_str_eq(netdev_ok(&a, &att, c),
			 "vde,id=net0,sock=/run/a,,b/switch.ctl,group=g,,x=1");
	ae_argv_free(&a);
	ae_vmconf_free(c);
}
END_TEST

START_TEST(vde_malformed)
{
	struct ae_vmconf *c = conf();
	struct aether_attachment att;

	att_init(&att, AETHER_ATTACH_VDE);
	netdev_fails(&att, c, "vde attachment without an absolute socket path");
	att.vde.sock = "run/vde.ctl";
	netdev_fails(&att, c, "vde attachment without an absolute socket path");
	att.vde.sock = "/run/../tmp/vde.ctl";
	netdev_fails(&att, c, "vde attachment");
	att.vde.sock = "/run/vde\n.ctl";
	netdev_fails(&att, c, "vde attachment");
	/* A negative port or a mode that is no permission is malformed, not
	 * "default". */
	att.vde.sock = "/run/vde.ctl";
	att.vde.port = -1;
	netdev_fails(&att, c, "vde attachment has port -1");
	att.vde.port = 0;
	att.vde.mode = 01000;
	netdev_fails(&att, c, "vde attachment has mode 01000");
	ae_vmconf_free(c);
}
END_TEST

START_TEST(user_args)
{
	struct ae_vmconf *c = conf();
	struct aether_attachment att;
	struct ae_argv a;
	static const char *const fwd[] = {"tcp:127.0.0.1:2222-:22",
					  "udp::5353-:53"};
	static const char *const fwd_comma[] = {"tcp::80-:80,x=y"};

	att_init(&att, AETHER_ATTACH_USER);
	ck_assert_str_eq(netdev_ok(&a, &att, c), "user,id=net0,ipv6=off");
	ck_assert_uint_eq(a.n_keep, 0);
	ae_argv_free(&a);

	att.user.net = "10.0.3.0/24";
	att.user.host = "10.0.3.2";
	att.user.dhcpstart = "10.0.3.15";
	att.user.dns = "10.0.3.3";
	att.user.hostname = "my,host";
	att.user.domain = "example.org";
	att.user.hostfwd = fwd;
	att.user.n_hostfwd = 2;
	att.user.restrict_ = 1;
	att.user.ipv6 = 1;
	ck_assert_str_eq(netdev_ok(&a, &att, c),
			 "user,id=net0,net=10.0.3.0/24,host=10.0.3.2,"
			 "dhcpstart=10.0.3.15,dns=10.0.3.3,hostname=my,,host,"
			 "domainname=example.org,restrict=on,ipv4=on,ipv6=on,"
			 "hostfwd=tcp:127.0.0.1:2222-:22,hostfwd=udp::5353-:53");
	ae_argv_free(&a);

	/* A comma in a forward cannot smuggle in another option. */
	att_init(&att, AETHER_ATTACH_USER);
	att.user.hostfwd = fwd_comma;
	att.user.n_hostfwd = 1;
	ck_assert_str_eq(netdev_ok(&a, &att, c),
			 "user,id=net0,ipv6=off,hostfwd=tcp::80-:80,,x=y");
	ae_argv_free(&a);
	ae_vmconf_free(c);
}
END_TEST

START_TEST(user_malformed)
{
	struct ae_vmconf *c = conf();
	struct aether_attachment att;
	static const char *const empty[] = {"tcp::1-:1", ""};
	static const char *const null[] = {NULL};
	static const char *const v6[] = {"tcp::8080-:80", "tcp:[::1]:8080-:80"};

	att_init(&att, AETHER_ATTACH_USER);
	att.user.n_hostfwd = 1;
	netdev_fails(&att, c, "user attachment: n_hostfwd without hostfwd");
	att.user.hostfwd = empty;
	att.user.n_hostfwd = 2;
	netdev_fails(&att, c, "user attachment: empty hostfwd 1");
	att.user.hostfwd = null;
	att.user.n_hostfwd = 1;
	netdev_fails(&att, c, "user attachment: empty hostfwd 0");
	/* QEMU 7.2's user netdev has no IPv6 forwards: refused, not passed. */
	att.user.hostfwd = v6;
	att.user.n_hostfwd = 2;
	att.user.ipv6 = 1;
	netdev_fails(&att, c, "user attachment: hostfwd 1 (tcp:[::1]:8080-:80) "
		     "has an IPv6 address; QEMU's user netdev forwards IPv4 "
		     "only");
	ae_vmconf_free(c);
}
END_TEST

START_TEST(stream_args)
{
	struct ae_vmconf *c = conf();
	struct aether_attachment att;
	struct ae_argv a;
	static const int keep[] = {7};

	att_init(&att, AETHER_ATTACH_STREAM);
	att.stream.fd = 7;
	att.stream.path = "/ignored/when/fd.sock";
	ck_assert_str_eq(netdev_ok(&a, &att, c),
			 "stream,id=net0,server=off,addr.type=fd,addr.str=7");
	assert_keep(&a, keep, 1);
	ae_argv_free(&a);

	att.stream.fd = -1;
	att.stream.path = "/run/net,1.sock";
	ck_assert_str_eq(netdev_ok(&a, &att, c),
			 "stream,id=net0,server=off,addr.type=unix,"
			 "addr.path=/run/net,,1.sock");
	ck_assert_uint_eq(a.n_keep, 0);
	ae_argv_free(&a);
	ae_vmconf_free(c);
}
END_TEST

START_TEST(stream_malformed)
{
	struct ae_vmconf *c = conf();
	struct aether_attachment att;

	att_init(&att, AETHER_ATTACH_STREAM);
	netdev_fails(&att, c,
		     "stream attachment needs an fd or an absolute socket path");
	att.stream.path = "relative.sock";
	netdev_fails(&att, c, "stream attachment needs an fd");
	att.stream.path = "/run/../x.sock";
	netdev_fails(&att, c, "stream attachment needs an fd");
	ae_vmconf_free(c);
}
END_TEST

START_TEST(vhost_user_args)
{
	struct ae_vmconf *c = conf();
	struct aether_attachment att;
	struct ae_argv a;
	int i;

	c->memory_mb = 512;
	att_init(&att, AETHER_ATTACH_VHOST_USER);
	att.vhost_user.path = "/run/vhu,0.sock";
	att.vhost_user.queues = 2;
	ck_assert_str_eq(netdev_ok(&a, &att, c),
			 "vhost-user,id=net0,chardev=vhu0,queues=2");
	ck_assert_str_eq(value_of(&a, "-chardev"),
			 "socket,id=vhu0,path=/run/vhu,,0.sock");
	/* Guest memory the backend can map: a shared memfd backend. */
	ck_assert_str_eq(value_of(&a, "-object"),
			 "memory-backend-memfd,id=mem0,size=512M,share=on");
	ck_assert_str_eq(value_of(&a, "-numa"), "node,memdev=mem0");
	/* The chardev comes before the netdev that uses it. */
	i = find_flag(&a, "-chardev", 0);
	ck_assert_int_lt(i, find_flag(&a, "-netdev", 0));
	ck_assert_uint_eq(a.n_keep, 0);
	ae_argv_free(&a);

	/* Several queues need a multi-queue virtio NIC, as for tap. */
	memset(&a, 0, sizeof a);
	ck_assert_int_eq(ae_qemu_build(&a, c, &att, NULL, err, sizeof err), 0);
	ck_assert_str_eq(value_of(&a, "-device"),
			 "virtio-net-pci,netdev=net0,mac=52:54:00:12:34:56,"
			 "mq=on,vectors=6");
	ae_argv_free(&a);

	att.vhost_user.queues = 0; /* 0: one queue */
	ck_assert_str_eq(netdev_ok(&a, &att, c),
			 "vhost-user,id=net0,chardev=vhu0,queues=1");
	ae_argv_free(&a);
	memset(&a, 0, sizeof a);
	ck_assert_int_eq(ae_qemu_build(&a, c, &att, NULL, err, sizeof err), 0);
	ck_assert_str_eq(value_of(&a, "-device"),
			 "virtio-net-pci,netdev=net0,mac=52:54:00:12:34:56");
	ae_argv_free(&a);
	ae_vmconf_free(c);
}
END_TEST

START_TEST(vhost_user_malformed)
{
	struct ae_vmconf *c = conf();
	struct aether_attachment att;

	att_init(&att, AETHER_ATTACH_VHOST_USER);
	netdev_fails(&att, c,
		     "vhost-user attachment without an absolute socket path");
	att.vhost_user.path = "vhu.sock";
	netdev_fails(&att, c, "vhost-user attachment without an absolute");
	att.vhost_user.path = "/run/vhu.sock";
	att.vhost_user.queues = AETHER_MAX_QUEUES + 1;
	netdev_fails(&att, c, "vhost-user attachment has 17 queues (1..16)");
	ae_vmconf_free(c);
}
END_TEST

START_TEST(unknown_kind)
{
	struct ae_vmconf *c = conf();
	struct aether_attachment att;

	att_init(&att, AETHER_ATTACH_NONE);
	netdev_fails(&att, c, "unknown attachment kind 0");
	att.kind = 99;
	netdev_fails(&att, c, "unknown attachment kind 99");
	ae_vmconf_free(c);
}
END_TEST

/* ------------------------------------------------------------------ */
/* The whole command line                                             */

static void build_ok(struct ae_argv *a, const struct ae_vmconf *c,
		     const struct aether_attachment *att, const char *qmp)
{
	int rc;

	memset(a, 0, sizeof *a);
	rc = ae_qemu_build(a, c, att, qmp, err, sizeof err);
	ck_assert_msg(rc == 0, "build failed: %d %s", rc, err);
}

START_TEST(build_exact)
{
	static const char *const want[] = {
		"qemu-system-x86_64",
		"-name", "guest=demo,process=aether-demo",
		"-nodefaults", "-no-user-config",
		"-display", "none",
		"-accel", "tcg",
		"-m", "256",
		"-smp", "1",
		"-sandbox", "on,obsolete=deny,elevateprivileges=deny,"
			    "spawn=deny,resourcecontrol=deny",
		"-kernel", "/boot/vmlinuz",
		"-initrd", "/boot/initrd.img",
		"-append", "console=ttyS0 quiet; rm -rf / $(x) `y` 'z'",
		"-chardev", "stdio,id=con0,signal=off",
		"-serial", "chardev:con0",
		"-chardev", "socket,id=qmp0,path=/run/aether/vms/demo/qmp.sock,"
			    "server=on,wait=off",
		"-mon", "chardev=qmp0,mode=control",
		"-netdev", "user,id=net0,ipv6=off",
		"-device", "virtio-net-pci,netdev=net0,mac=52:54:00:12:34:56",
		NULL,
	};
	struct ae_vmconf *c = conf();
	struct aether_attachment att;
	struct ae_argv a;
	size_t i;

	c->initrd = ae_xstrdup("/boot/initrd.img");
	/* Shell metacharacters stay one literal argument: no shell. */
	c->append = ae_xstrdup("console=ttyS0 quiet; rm -rf / $(x) `y` 'z'");
	att_init(&att, AETHER_ATTACH_USER);
	build_ok(&a, c, &att, "/run/aether/vms/demo/qmp.sock");
	for (i = 0; want[i]; i++) {
		ck_assert_msg(i < a.n, "argv too short at %zu (%s)", i, want[i]);
		ck_assert_str_eq(a.v[i], want[i]);
	}
	ck_assert_uint_eq(a.n, i);
	ck_assert_ptr_null(a.v[a.n]);
	ae_argv_free(&a);
	ae_vmconf_free(c);
}
END_TEST

START_TEST(build_accel)
{
	struct ae_vmconf *c = conf();
	struct aether_attachment att;
	struct ae_argv a;
	int k, t;

	att_init(&att, AETHER_ATTACH_USER);

	c->accel = AE_ACCEL_TCG;
	build_ok(&a, c, &att, NULL);
	ck_assert_int_eq(count_flag(&a, "-accel"), 1);
	ck_assert(has_pair(&a, "-accel", "tcg"));
	ae_argv_free(&a);

	c->accel = AE_ACCEL_KVM;
	build_ok(&a, c, &att, NULL);
	ck_assert_int_eq(count_flag(&a, "-accel"), 1);
	ck_assert(has_pair(&a, "-accel", "kvm"));
	ae_argv_free(&a);

	/* auto: kvm first, QEMU falls back to tcg. */
	c->accel = AE_ACCEL_AUTO;
	build_ok(&a, c, &att, NULL);
	ck_assert_int_eq(count_flag(&a, "-accel"), 2);
	k = find_flag(&a, "-accel", 0);
	t = find_flag(&a, "-accel", k + 1);
	ck_assert_str_eq(a.v[k + 1], "kvm");
	ck_assert_str_eq(a.v[t + 1], "tcg");
	ck_assert_int_eq(count_flag(&a, "-no-reboot"), 0);
	ae_argv_free(&a);

	/* reboot = no: a guest reboot ends QEMU. */
	c->reboot = 0;
	build_ok(&a, c, &att, NULL);
	ck_assert_int_eq(count_flag(&a, "-no-reboot"), 1);
	ae_argv_free(&a);
	ae_vmconf_free(c);
}
END_TEST

START_TEST(build_console)
{
	struct ae_vmconf *c = conf();
	struct aether_attachment att;
	struct ae_argv a;

	att_init(&att, AETHER_ATTACH_USER);
	build_ok(&a, c, &att, NULL);
	ck_assert(has_pair(&a, "-chardev", "stdio,id=con0,signal=off"));
	ck_assert(has_pair(&a, "-serial", "chardev:con0"));
	ck_assert_int_eq(count_flag(&a, "-mon"), 0);
	ae_argv_free(&a);

	free(c->console);
	c->console = ae_xstrdup("/var/log/aether/demo,1.log");
	build_ok(&a, c, &att, NULL);
	ck_assert(has_pair(&a, "-chardev",
			   "file,id=con0,path=/var/log/aether/demo,,1.log,"
			   "append=on"));
	ck_assert(has_pair(&a, "-serial", "chardev:con0"));
	ck_assert_int_eq(count_flag(&a, "-chardev"), 1);
	ae_argv_free(&a);

	free(c->console);
	c->console = ae_xstrdup("none");
	build_ok(&a, c, &att, NULL);
	ck_assert_int_eq(count_flag(&a, "-serial"), 0);
	ck_assert_int_eq(count_flag(&a, "-chardev"), 0);
	ae_argv_free(&a);
	ae_vmconf_free(c);
}
END_TEST

START_TEST(build_disk_machine_mtu)
{
	struct ae_vmconf *c = conf();
	struct aether_attachment att;
	struct ae_argv a;

	free(c->kernel);
	c->kernel = NULL;
	c->disk = ae_xstrdup("/var/lib/vm/a,b.qcow2");
	c->disk_format = ae_xstrdup("qcow2");
	c->machine = ae_xstrdup("q35");
	c->cpus = 4;
	c->memory_mb = 2048;
	att_init(&att, AETHER_ATTACH_STREAM);
	att.stream.fd = 9;
	att.mtu = 9000;
	build_ok(&a, c, &att, NULL);
	ck_assert_int_eq(count_flag(&a, "-kernel"), 0);
	ck_assert_str_eq(value_of(&a, "-drive"),
			 "file=/var/lib/vm/a,,b.qcow2,format=qcow2,if=virtio");
	ck_assert_str_eq(value_of(&a, "-machine"), "q35");
	ck_assert_str_eq(value_of(&a, "-smp"), "4");
	ck_assert_str_eq(value_of(&a, "-m"), "2048");
	ck_assert_str_eq(value_of(&a, "-device"),
			 "virtio-net-pci,netdev=net0,mac=52:54:00:12:34:56,"
			 "host_mtu=9000");
	ck_assert_uint_eq(a.n_keep, 1);
	ck_assert_int_eq(a.keep_fds[0], 9);
	ae_argv_free(&a);
	ae_vmconf_free(c);
}
END_TEST

/* From a VM file to argv: ae_vmconf_load then ae_qemu_build. */
START_TEST(build_from_file)
{
	struct ae_vmconf *c = NULL;
	struct aether_attachment att;
	struct ae_argv a;
	const char *vp;
	char text[1024], mac[18];
	uint8_t m[6];
	int rc;

	ck_write("bzImage", "k");
	snprintf(text, sizeof text,
		 "[vm]\nname = filevm\nkernel = bzImage\nmemory = 128\n"
		 "accel = kvm\nappend = console=ttyS0\n  aether.hold=1\n"
		 "console = file:console.log\n[network]\nmodel = e1000\n");
	vp = ck_write("vm.conf", text);
	rc = ae_vmconf_load(vp, "none", &c, err, sizeof err);
	ck_assert_msg(rc == 0, "%s", err);
	att_init(&att, AETHER_ATTACH_TAP);
	att.tap.queues = 1;
	att.tap.fds[0] = 3;
	build_ok(&a, c, &att, NULL);
	ck_assert_str_eq(value_of(&a, "-kernel"), ck_path("bzImage"));
	ck_assert_str_eq(value_of(&a, "-append"), "console=ttyS0 aether.hold=1");
	ck_assert_str_eq(value_of(&a, "-m"), "128");
	ck_assert(has_pair(&a, "-accel", "kvm"));
	ck_assert_str_eq(value_of(&a, "-netdev"), "tap,id=net0,fd=3");
	ae_mac_derive("filevm", 0, m);
	ae_format_mac(m, mac);
	snprintf(text, sizeof text, "e1000,netdev=net0,mac=%s", mac);
	ck_assert_str_eq(value_of(&a, "-device"), text);
	snprintf(text, sizeof text, "file,id=con0,path=%s,append=on",
		 ck_path("console.log"));
	ck_assert(has_pair(&a, "-chardev", text));
	ae_argv_free(&a);
	ae_vmconf_free(c);
}
END_TEST

/* The supervisor's descriptors: QMP and the guest agent's channel on
 * listening sockets, the console on a socketpair, the disk and seed in fd
 * sets, kernel and initrd through /proc/self/fd; no -runas ever. */
START_TEST(build_with_fds)
{
	struct ae_vmconf *c = conf();
	struct aether_attachment att;
	struct ae_qemu_fds f;
	struct ae_argv a;
	int i, qmp_i;

	c->initrd = ae_xstrdup("/boot/initrd.img");
	c->disk = ae_xstrdup("/var/lib/aether/vms/demo/disk.qcow2");
	c->disk_format = ae_xstrdup("qcow2");
	c->seed = ae_xstrdup("/var/lib/aether/vms/demo/seed.img");
	c->user = ae_xstrdup("nobody");
	c->guest_agent = 1;
	free(c->console);
	c->console = ae_xstrdup("/var/lib/aether/vms/demo/console.log");
	ae_qemu_fds_init(&f);
	f.qmp = 20, f.qmp_desc = 21, f.qga = 22, f.console = 23;
	f.disk_rw = 24, f.disk_ro = 25, f.seed = 26, f.kernel = 27;
	f.initrd = 28;
	f.backing[0] = 29, f.backing[1] = 30, f.n_backing = 2;
	snprintf(f.backing_fmt[0], sizeof f.backing_fmt[0], "qcow2");
	snprintf(f.backing_fmt[1], sizeof f.backing_fmt[1], "raw");
	att_init(&att, AETHER_ATTACH_USER);
	memset(&a, 0, sizeof a);
	ck_assert_int_eq(ae_qemu_build_fds(&a, c, &att,
					   "/run/aether/vms/demo/qmp.sock", &f,
					   err, sizeof err), 0);
	ck_assert_str_eq(value_of(&a, "-sandbox"), AE_QEMU_SANDBOX);
	ck_assert_int_eq(count_flag(&a, "-runas"), 0);
	ck_assert_str_eq(value_of(&a, "-kernel"), "/proc/self/fd/27");
	ck_assert_str_eq(value_of(&a, "-initrd"), "/proc/self/fd/28");
	ck_assert(has_pair(&a, "-add-fd",
			   "fd=24,set=1,opaque=/var/lib/aether/vms/demo/"
			   "disk.qcow2"));
	ck_assert(has_pair(&a, "-add-fd",
			   "fd=25,set=1,opaque=/var/lib/aether/vms/demo/"
			   "disk.qcow2"));
	/* the backing chain from fd sets too: QEMU opens nothing by name */
	ck_assert(has_pair(&a, "-drive",
			   "file=/dev/fdset/1,format=qcow2,if=virtio,"
			   "backing.driver=qcow2,backing.file.filename="
			   "/dev/fdset/3,backing.backing.driver=raw,"
			   "backing.backing.file.filename=/dev/fdset/4"));
	ck_assert(has_pair(&a, "-add-fd", "fd=29,set=3"));
	ck_assert(has_pair(&a, "-add-fd", "fd=30,set=4"));
	ck_assert(has_pair(&a, "-add-fd",
			   "fd=26,set=2,opaque=/var/lib/aether/vms/demo/seed.img"));
	ck_assert(has_pair(&a, "-drive", "file=/dev/fdset/2,format=raw,"
					 "if=virtio,readonly=on"));
	ck_assert(has_pair(&a, "-chardev", "socket,id=con0,fd=23"));
	ck_assert(has_pair(&a, "-serial", "chardev:con0"));
	ck_assert(has_pair(&a, "-chardev",
			   "socket,id=qmp0,fd=20,server=on,wait=off"));
	/* the QMP path stays on the command line: aether gc finds QEMU by it */
	ck_assert(has_pair(&a, "-add-fd",
			   "fd=21,set=9,opaque=/run/aether/vms/demo/qmp.sock"));
	ck_assert(has_pair(&a, "-chardev",
			   "socket,id=qga0,fd=22,server=on,wait=off"));
	for (i = 0; i < (int)a.n; i++)
		ck_assert_msg(!strstr(a.v[i], "path="), "a path for QEMU: %s",
			      a.v[i]);
	/* every fd is inherited */
	ck_assert_uint_eq(a.n_keep, 11);
	for (i = 20; i <= 30; i++) {
		size_t k;
		int found = 0;
		for (k = 0; k < a.n_keep; k++)
			found |= a.keep_fds[k] == i;
		ck_assert_msg(found, "fd %d is not kept", i);
	}
	qmp_i = find_flag(&a, "-mon", 0);
	ck_assert_int_ge(qmp_i, 0);
	ae_argv_free(&a);
	ae_vmconf_free(c);
}
END_TEST

/* Who QEMU runs as: as root never root unless user = root; without a
 * user key the package's user, else nobody; as a user, unchanged. */
START_TEST(creds_default_user)
{
	struct ae_vmconf *c = conf();
	struct ae_creds cr;
	struct passwd *pw;
	const char *want;
	int rc;

	rc = ae_qemu_creds(c, &cr, err, sizeof err);
	if (geteuid() != 0) {
		ck_assert_int_eq(rc, 0);
		ae_vmconf_free(c);
		return;
	}
	want = getpwnam(AE_QEMU_USER) ? AE_QEMU_USER : AE_QEMU_USER_FALLBACK;
	pw = getpwnam(want);
	if (!pw) {
		ck_assert_int_lt(rc, 0);
		ck_assert_err_has(err, "needs an unprivileged user");
		ae_vmconf_free(c);
		return;
	}
	ck_assert_msg(rc == 1, "%d %s", rc, err);
	ck_assert_str_eq(cr.name, want);
	ck_assert_uint_eq(cr.uid, pw->pw_uid);
	ck_assert_uint_eq(cr.gid, pw->pw_gid);
	ck_assert_uint_ne(cr.uid, 0);

	/* user = root, explicitly: QEMU keeps root */
	c->user = ae_xstrdup("root");
	ck_assert_int_eq(ae_qemu_creds(c, &cr, err, sizeof err), 0);
	free(c->user);

	/* a user that is gone since the file was checked: file:line */
	c->user = ae_xstrdup("no-such-user-aether");
	c->user_file = "/etc/aether/vm.conf";
	c->user_line = 7;
	ck_assert_int_lt(ae_qemu_creds(c, &cr, err, sizeof err), 0);
	ck_assert_err_has(err, "/etc/aether/vm.conf:7: user: no user "
			       "'no-such-user-aether'");
	ae_vmconf_free(c);
}
END_TEST

/* The drop itself: the child is the user, with its groups only, cannot
 * regain root and has no_new_privs, before QEMU is even exec'd. */
START_TEST(spawn_drops_privileges)
{
	const char *const argv[] = {"cat", "/proc/self/status", NULL};
	struct ae_creds cr;
	struct passwd *pw;
	char *text, want[128];
	size_t len;
	pid_t pid;
	int st;

	if (geteuid() != 0 || !(pw = getpwnam("nobody")))
		return; /* needs root and nobody */
	memset(&cr, 0, sizeof cr);
	cr.uid = pw->pw_uid;
	cr.gid = pw->pw_gid;
	cr.n_groups = 1;
	cr.groups[0] = pw->pw_gid;
	snprintf(cr.name, sizeof cr.name, "nobody");
	ck_assert_msg(ae_spawn_as(argv, NULL, ck_path("status"), 0, NULL, 0, &cr,
				  &pid, err, sizeof err) == 0, "%s", err);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	ck_assert_int_eq(ae_read_file(ck_path("status"), &text, &len, 1 << 16),
			 0);
	snprintf(want, sizeof want, "\nUid:\t%ld\t%ld\t%ld\t%ld\n",
		 (long)pw->pw_uid, (long)pw->pw_uid, (long)pw->pw_uid,
		 (long)pw->pw_uid);
	ck_assert_msg(strstr(text, want), "no %s in %s", want, text);
	snprintf(want, sizeof want, "\nGroups:\t%ld \n", (long)pw->pw_gid);
	ck_assert_msg(strstr(text, want), "no %s in %s", want, text);
	ck_assert_msg(strstr(text, "\nNoNewPrivs:\t1\n"), "%s", text);
	ck_assert_msg(strstr(text, "\nCapEff:\t0000000000000000\n"), "%s",
		      text);
	free(text);
}
END_TEST

/* The backing chain read from qcow2 headers that qemu-img wrote. */
START_TEST(qcow2_backing_header)
{
	char name[1024], fmt[16], *base = ae_xstrdup(ck_path("base.raw"));
	const char *const mk_base[] = {"qemu-img", "create", "-q", "-f", "raw",
				       base, "1M", NULL};
	const char *const mk_top[] = {"qemu-img", "create", "-q", "-f", "qcow2",
				      "-F", "raw", "-b", base,
				      ck_path("top.qcow2"), NULL};
	const char *const mk_plain[] = {"qemu-img", "create", "-q", "-f",
					"qcow2", ck_path("plain.qcow2"), "1M",
					NULL};
	const char *const *mk[] = {mk_base, mk_top, mk_plain};
	char *p;
	pid_t pid;
	int fd, st, i;

	p = ae_find_program("qemu-img");
	if (!p) {
		free(base);
		return; /* without qemu-img: nothing to read */
	}
	free(p);
	for (i = 0; i < 3; i++) {
		ck_assert_msg(ae_spawn(mk[i], NULL, NULL, 0, NULL, 0, &pid, err,
				       sizeof err) == 0, "%s", err);
		ck_assert_int_eq(waitpid(pid, &st, 0), pid);
		ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	fd = open(ck_path("top.qcow2"), O_RDONLY);
	ck_assert_int_eq(ae_qcow2_backing(fd, name, sizeof name, fmt, sizeof fmt),
			 1);
	ck_assert_str_eq(name, base);
	ck_assert_str_eq(fmt, "raw");
	close(fd);
	fd = open(ck_path("plain.qcow2"), O_RDONLY);
	ck_assert_int_eq(ae_qcow2_backing(fd, name, sizeof name, fmt, sizeof fmt),
			 0);
	close(fd);
	fd = open(base, O_RDONLY);
	ck_assert_int_eq(ae_qcow2_backing(fd, name, sizeof name, fmt, sizeof fmt),
			 0);
	close(fd);
	free(base);
}
END_TEST

static Suite *argv_suite(void)
{
	Suite *s = suite_create("argv");
	TCase *tc;

	tc = tcase_create("netdev");
	tcase_add_test(tc, argv_basics);
	tcase_add_test(tc, tap_single);
	tcase_add_test(tc, switchable_nic_on_relay);
	tcase_add_test(tc, tap_single_vhost);
	tcase_add_test(tc, tap_multiqueue);
	tcase_add_test(tc, tap_max_queues);
	tcase_add_test(tc, tap_malformed);
	tcase_add_test(tc, vde_args);
	tcase_add_test(tc, vde_malformed);
	tcase_add_test(tc, user_args);
	tcase_add_test(tc, user_malformed);
	tcase_add_test(tc, stream_args);
	tcase_add_test(tc, stream_malformed);
	tcase_add_test(tc, vhost_user_args);
	tcase_add_test(tc, vhost_user_malformed);
	tcase_add_test(tc, unknown_kind);
	suite_add_tcase(s, tc);

	tc = tcase_create("build");
	tcase_add_checked_fixture(tc, ck_tmp_setup, ck_tmp_teardown);
	tcase_add_test(tc, build_exact);
	tcase_add_test(tc, build_accel);
	tcase_add_test(tc, build_console);
	tcase_add_test(tc, build_disk_machine_mtu);
	tcase_add_test(tc, build_from_file);
	tcase_add_test(tc, build_with_fds);
	tcase_add_test(tc, creds_default_user);
	tcase_add_test(tc, spawn_drops_privileges);
	tcase_add_test(tc, qcow2_backing_header);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return ck_run_suite(argv_suite());
}
