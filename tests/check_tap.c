/*
 * check_tap - tests of the tap backend plugin against the real kernel.
 *
 * Every kernel test runs in its own private network namespace (each check
 * test is a forked child that calls unshare(CLONE_NEWNET)), so it sees
 * only the bridges and TAP devices it makes.  Needs root (or
 * CAP_NET_ADMIN + CAP_SYS_ADMIN) and /dev/net/tun: without them those
 * cases skip (CK_SKIP_TEST: a failure under AETHER_TEST_STRICT=1) and say
 * why; the pure unit tests (names) run everywhere.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <linux/capability.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>

#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <netlink/route/link/bridge.h>

#include <aether/plugin.h>
#include "check-main.h"
#include "instance.h"
#include "tapname.h"

#define ETH_P_TEST 0x88b5 /* IEEE local experimental */
#define VNET_HDR_LEN 10   /* sizeof(struct virtio_net_hdr), the default */

static struct nl_sock *sk;

/* Set by main() (probe): can this process make a network namespace with
 * a TAP in it?  If not, ns_why says why. */
static int ns_ok;
static char ns_why[512];

/* A case that needs a private network namespace: skips when there is
 * none (CK_SKIP_TEST), else enters a fresh one.  Only at the top level of
 * a test function (the skip returns from it). */
#define NEED_NS()                                                             \
	do {                                                                  \
		if (!ns_ok)                                                   \
			CK_SKIP_TEST("needs root and a private network "      \
				     "namespace with TAP: %s", ns_why);       \
	} while (0)
#define NETNS()                                                               \
	do {                                                                  \
		NEED_NS();                                                    \
		fresh_netns();                                                \
	} while (0)

/* ------------------------------------------------------------------ */
/* Helpers.                                                           */

/* A fresh network namespace for the calling test (a forked child). */
static void fresh_netns(void)
{
	int fd;

	ck_assert_msg(unshare(CLONE_NEWNET | CLONE_NEWNS) == 0, "unshare: %s",
		      strerror(errno));
	/* /sys/class/net shows the namespace sysfs was mounted in: mount a
	 * fresh one in a private mount namespace (as `ip netns exec`). */
	ck_assert_int_eq(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0);
	ck_assert_msg(mount("sysfs", "/sys", "sysfs", 0, NULL) == 0,
		      "mount sysfs: %s", strerror(errno));
	/* No IPv6 chatter (router solicitations, MLD) on the ports. */
	fd = open("/proc/sys/net/ipv6/conf/default/disable_ipv6", O_WRONLY);
	if (fd >= 0) {
		ck_assert_int_eq(write(fd, "1", 1), 1);
		close(fd);
	}
	sk = nl_socket_alloc();
	ck_assert_ptr_nonnull(sk);
	ck_assert_int_eq(nl_connect(sk, NETLINK_ROUTE), 0);
}

static void mkbridge(const char *name, unsigned mtu)
{
	struct rtnl_link *l = rtnl_link_bridge_alloc();
	int r;

	rtnl_link_set_name(l, name);
	if (mtu)
		rtnl_link_set_mtu(l, mtu);
	r = rtnl_link_add(sk, l, NLM_F_CREATE | NLM_F_EXCL);
	ck_assert_msg(r == 0, "add bridge %s: %s", name, nl_geterror(r));
	rtnl_link_put(l);
	/* up */
	struct rtnl_link *orig = NULL, *ch = rtnl_link_alloc();
	ck_assert_int_eq(rtnl_link_get_kernel(sk, 0, name, &orig), 0);
	rtnl_link_set_flags(ch, IFF_UP);
	ck_assert_int_eq(rtnl_link_change(sk, orig, ch, 0), 0);
	rtnl_link_put(orig);
	rtnl_link_put(ch);
}

/* A device that is not aether's and not a bridge (an ifb). */
static void mkforeign(const char *name)
{
	struct rtnl_link *l = rtnl_link_alloc();
	int r;

	rtnl_link_set_name(l, name);
	ck_assert_int_eq(rtnl_link_set_type(l, "ifb"), 0);
	r = rtnl_link_add(sk, l, NLM_F_CREATE | NLM_F_EXCL);
	ck_assert_msg(r == 0, "add ifb %s: %s (modprobe ifb?)", name,
		      nl_geterror(r));
	rtnl_link_put(l);
}

static struct rtnl_link *getlink(const char *name)
{
	struct rtnl_link *l = NULL;
	if (rtnl_link_get_kernel(sk, 0, name, &l) < 0)
		return NULL;
	return l;
}

static bool exists(const char *name)
{
	return if_nametoindex(name) != 0;
}

/* Number of links, and of links whose name starts with prefix. */
static unsigned count_links(const char *prefix)
{
	struct if_nameindex *ni = if_nameindex(), *i;
	unsigned n = 0;

	ck_assert_ptr_nonnull(ni);
	for (i = ni; i->if_index; i++)
		if (!prefix || strncmp(i->if_name, prefix, strlen(prefix)) == 0)
			n++;
	if_freenameindex(ni);
	return n;
}

static unsigned count_ports(const char *bridge)
{
	char path[128];
	struct dirent *e;
	unsigned n = 0;
	DIR *d;

	snprintf(path, sizeof path, "/sys/class/net/%s/brif", bridge);
	d = opendir(path);
	if (!d)
		return 0;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static unsigned count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	unsigned n = 0;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static void read_sys(const char *dev, const char *attr, char *buf,
		     size_t len)
{
	char path[128];
	ssize_t n;
	int fd;

	snprintf(path, sizeof path, "/sys/class/net/%s/%s", dev, attr);
	fd = open(path, O_RDONLY);
	ck_assert_msg(fd >= 0, "%s: %s", path, strerror(errno));
	n = read(fd, buf, len - 1);
	ck_assert_int_ge(n, 0);
	close(fd);
	buf[n] = '\0';
	if (n > 0 && buf[n - 1] == '\n')
		buf[n - 1] = '\0';
}

/* Capture what the plugin logs (the host logs to stderr). */
static int saved_stderr = -1, cap_fd = -1;

static void cap_begin(void)
{
	char tmpl[] = "/tmp/check_tap.XXXXXX";
	fflush(stderr);
	cap_fd = mkstemp(tmpl);
	ck_assert_int_ge(cap_fd, 0);
	unlink(tmpl);
	saved_stderr = dup(2);
	dup2(cap_fd, 2);
}

static char caught[8192];

static const char *cap_end(void)
{
	ssize_t n;

	fflush(stderr);
	dup2(saved_stderr, 2);
	close(saved_stderr);
	lseek(cap_fd, 0, SEEK_SET);
	n = read(cap_fd, caught, sizeof caught - 1);
	close(cap_fd);
	caught[n > 0 ? n : 0] = '\0';
	fputs(caught, stderr); /* keep it in the test log too */
	return caught;
}

static struct ae_instance *open_inst(const char *opts)
{
	struct ae_instance *inst = NULL;
	char err[512];
	int r = ae_instance_open_text("tap", NULL, opts, "check_tap", &inst,
				      err, sizeof err);
	ck_assert_msg(r == 0, "open tap (%s): %s", opts, err);
	return inst;
}

/* Open expected to fail: returns the error, err holds the reason, the
 * plugin's log is in caught[]. */
static int open_fail(const char *opts, char *err, size_t errlen)
{
	struct ae_instance *inst = NULL;
	int r;

	cap_begin();
	r = ae_instance_open_text("tap", NULL, opts, "check_tap", &inst, err,
				  errlen);
	cap_end();
	if (r == 0)
		ae_instance_close(inst);
	return r;
}

struct vmslot {
	struct aether_vm vm;
	struct aether_attachment att;
	void *st;
	char name[32];
};

static void vm_make(struct vmslot *v, unsigned index)
{
	memset(v, 0, sizeof *v);
	snprintf(v->name, sizeof v->name, "vm%u", index);
	ae_vm_init(&v->vm, v->name, index, "/tmp");
}

static int vm_attach(struct ae_instance *inst, struct vmslot *v)
{
	return ae_instance_attach(inst, &v->vm, &v->att, &v->st);
}

static void vm_attach_ok(struct ae_instance *inst, struct vmslot *v)
{
	int r = vm_attach(inst, v);
	ck_assert_msg(r == 0, "attach %s: %s", v->name, strerror(-r));
	ck_assert_int_eq(v->att.kind, AETHER_ATTACH_TAP);
	ck_assert_int_ge(v->att.tap.fds[0], 0);
}

static void vm_detach(struct ae_instance *inst, struct vmslot *v)
{
	ae_attachment_close_fds(&v->att);
	ck_assert_int_eq(ae_instance_detach(inst, &v->vm, v->st), 0);
	v->st = NULL;
}

/* ---- frames ---- */

static int packet_socket(const char *ifname)
{
	struct sockaddr_ll sll = {0};
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));

	ck_assert_msg(fd >= 0, "AF_PACKET: %s", strerror(errno));
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(ETH_P_ALL);
	sll.sll_ifindex = (int)if_nametoindex(ifname);
	ck_assert_int_gt(sll.sll_ifindex, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sll, sizeof sll), 0);
	return fd;
}

static size_t make_frame(uint8_t *buf, const uint8_t dst[6],
			 const uint8_t src[6], const char *payload)
{
	size_t n = strlen(payload);
	memcpy(buf, dst, 6);
	memcpy(buf + 6, src, 6);
	buf[12] = ETH_P_TEST >> 8;
	buf[13] = ETH_P_TEST & 0xff;
	memcpy(buf + 14, payload, n);
	n += 14;
	while (n < 60)
		buf[n++] = 0;
	return n;
}

static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

/* Write a frame into a TAP fd (with a zero virtio-net header first when
 * the device has IFF_VNET_HDR). */
static void tap_write(const struct aether_attachment *att, unsigned q,
		      const uint8_t *frame, size_t len)
{
	uint8_t buf[2048] = {0};
	size_t off = att->tap.vnet_hdr ? VNET_HDR_LEN : 0;
	ssize_t n;

	memcpy(buf + off, frame, len);
	n = write(att->tap.fds[q], buf, off + len);
	ck_assert_msg(n == (ssize_t)(off + len), "write tap: %zd (%s)", n,
		      strerror(errno));
}

/* Wait up to 3 s for our test frame carrying `payload` on fd; skip
 * vnet_hdr bytes first.  Returns true when seen. */
static bool wait_frame(int fd, size_t skip, const char *payload,
		       uint8_t src_out[6])
{
	uint8_t buf[4096];
	size_t pl = strlen(payload);
	int left = 3000;

	while (left > 0) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		int r = poll(&pfd, 1, 100);
		left -= 100;
		if (r <= 0)
			continue;
		ssize_t n = read(fd, buf, sizeof buf);
		if (n < (ssize_t)(skip + 14 + pl))
			continue;
		uint8_t *f = buf + skip;
		if (f[12] != (ETH_P_TEST >> 8) || f[13] != (ETH_P_TEST & 0xff))
			continue;
		if (memcmp(f + 14, payload, pl) != 0)
			continue;
		if (src_out)
			memcpy(src_out, f + 6, 6);
		return true;
	}
	return false;
}

static void set_nonblock(int fd)
{
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

/* ------------------------------------------------------------------ */
/* Unit tests: names.                                                 */

START_TEST(test_names)
{
	char b[16];
	unsigned i, n;

	ck_assert_int_eq(tap_name_check("ae0"), 0);
	ck_assert_int_eq(tap_name_check("a.b-c_D9"), 0);
	ck_assert_int_eq(tap_name_check("123456789012345"), 0);
	ck_assert_int_ne(tap_name_check("1234567890123456"), 0);
	ck_assert_int_ne(tap_name_check(""), 0);
	ck_assert_int_ne(tap_name_check("."), 0);
	ck_assert_int_ne(tap_name_check(".."), 0);
	ck_assert_int_ne(tap_name_check("a/b"), 0);
	ck_assert_int_ne(tap_name_check("a:b"), 0);
	ck_assert_int_ne(tap_name_check("a b"), 0);
	ck_assert_int_ne(tap_name_check("a\nb"), 0);
	ck_assert_int_ne(tap_name_check("t\xc3\xa4p"), 0);

	ck_assert_int_eq(tap_prefix_check("ae"), 0);
	ck_assert_int_eq(tap_prefix_check("vm-"), 0);
	ck_assert_int_ne(tap_prefix_check("ae1"), 0); /* ends in a digit */
	ck_assert_int_ne(tap_prefix_check(""), 0);
	ck_assert_int_ne(tap_prefix_check("a/"), 0);
	ck_assert_int_ne(tap_prefix_check("abcdefghijklmno"), 0);

	ck_assert_int_eq(tap_name_make(b, sizeof b, "ae", 7, 0), 0);
	ck_assert_str_eq(b, "ae7");
	ck_assert_int_eq(tap_name_make(b, sizeof b, "ae", 7, 2), 0);
	ck_assert_str_eq(b, "ae7n2");
	ck_assert_int_eq(tap_name_make(b, sizeof b, "abcdefghijklmn", 9, 0), 0);
	ck_assert_str_eq(b, "abcdefghijklmn9");
	ck_assert_int_eq(tap_name_make(b, sizeof b, "abcdefghijklmn", 10, 0),
			 -ENAMETOOLONG);
	ck_assert_int_eq(tap_name_make(b, sizeof b, "ae", 4000000000u, 1), 0);
	ck_assert_int_eq(tap_name_make(b, sizeof b, "aeaeae", 4000000000u, 1),
			 -ENAMETOOLONG);

	ck_assert_int_eq(tap_name_parse("ae12", "ae", &i, &n), 0);
	ck_assert_uint_eq(i, 12);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(tap_name_parse("ae12n3", "ae", &i, &n), 0);
	ck_assert_uint_eq(i, 12);
	ck_assert_uint_eq(n, 3);
	ck_assert_int_ne(tap_name_parse("ae012", "ae", &i, &n), 0);
	ck_assert_int_ne(tap_name_parse("ae12n0", "ae", &i, &n), 0);
	ck_assert_int_ne(tap_name_parse("ae12n", "ae", &i, &n), 0);
	ck_assert_int_ne(tap_name_parse("ae", "ae", &i, &n), 0);
	ck_assert_int_ne(tap_name_parse("aex1", "ae", &i, &n), 0);
	ck_assert_int_ne(tap_name_parse("ae1x", "ae", &i, &n), 0);
	ck_assert_int_ne(tap_name_parse("br0", "ae", &i, &n), 0);
	/* round trip */
	for (i = 0; i < 2000; i += 7) {
		unsigned j, k;
		ck_assert_int_eq(tap_name_make(b, sizeof b, "ae", i, i % 3), 0);
		ck_assert_int_eq(tap_name_parse(b, "ae", &j, &k), 0);
		ck_assert_uint_eq(j, i);
		ck_assert_uint_eq(k, i % 3);
	}
}
END_TEST

START_TEST(test_descriptor)
{
	struct ae_instance *inst;
	const struct aether_plugin *p;
	const struct aether_option *o;

	NETNS();
	inst = open_inst("");
	p = ae_instance_plugin(inst);
	ck_assert_str_eq(p->name, "tap");
	ck_assert(p->caps & AETHER_CAP_ATTACH_TAP);
	ck_assert(p->caps & AETHER_CAP_NEEDS_NET_ADMIN);
	ck_assert(p->caps & AETHER_CAP_MULTIQUEUE);
	for (o = p->options; o->key; o++)
		ck_assert_msg(o->help && *o->help, "option %s has no help",
			      o->key);
	ae_instance_close(inst);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Device properties.                                                 */

START_TEST(test_attach_properties)
{
	struct ae_instance *inst;
	struct vmslot v;
	struct rtnl_link *l, *br;
	char buf[64], want[64];
	struct ifreq ifr;
	unsigned fds0 = count_fds();

	NETNS();
	mkbridge("br-t", 1400);
	inst = open_inst("bridge = br-t\nowner = 1234\ngroup = 4321\n");
	vm_make(&v, 3);
	vm_attach_ok(inst, &v);
	ck_assert_str_eq(v.att.tap.ifname, "ae3");
	ck_assert_uint_eq(v.att.tap.queues, 1);
	ck_assert_int_eq(v.att.tap.vhostfds[0], -1);
	ck_assert_int_eq(v.att.tap.fds[1], -1);
	ck_assert_uint_eq(v.att.mtu, 1400);
	ck_assert_int_eq(ae_instance_check(inst, &v.vm, v.st), 0);

	/* the fd is a TAP of that name, no PI, vnet_hdr as reported */
	memset(&ifr, 0, sizeof ifr);
	ck_assert_int_eq(ioctl(v.att.tap.fds[0], TUNGETIFF, &ifr), 0);
	ck_assert_str_eq(ifr.ifr_name, "ae3");
	ck_assert(ifr.ifr_flags & IFF_TAP);
	ck_assert(ifr.ifr_flags & IFF_NO_PI);
	ck_assert_int_eq(!!(ifr.ifr_flags & IFF_VNET_HDR),
			 (int)v.att.tap.vnet_hdr);
	ck_assert(!(ifr.ifr_flags & IFF_MULTI_QUEUE));
	/* the host gets the fds close-on-exec; it clears that for QEMU */
	ck_assert(fcntl(v.att.tap.fds[0], F_GETFD) & FD_CLOEXEC);

	/* up, port of the bridge, bridge MTU, host-side MAC, group, alias */
	l = getlink("ae3");
	br = getlink("br-t");
	ck_assert_ptr_nonnull(l);
	ck_assert(rtnl_link_get_flags(l) & IFF_UP);
	ck_assert_int_eq(rtnl_link_get_master(l), rtnl_link_get_ifindex(br));
	ck_assert_uint_eq(rtnl_link_get_mtu(l), 1400);
	ck_assert_uint_eq(rtnl_link_get_group(l), 44666);
	/* aether-tap:<runtime root id, 12 hex digits>:<vm id> */
	{
		const char *a = rtnl_link_get_ifalias(l);
		ck_assert_ptr_nonnull(a);
		ck_assert_uint_eq(strlen(a), strlen("aether-tap:") + 12 + 4);
		ck_assert(!strncmp(a, "aether-tap:", 11));
		ck_assert_uint_eq(strspn(a + 11, "0123456789abcdef"), 12);
		ck_assert_str_eq(a + 23, ":vm3");
	}
	rtnl_link_put(l);
	rtnl_link_put(br);
	read_sys("ae3", "address", buf, sizeof buf);
	snprintf(want, sizeof want, "fe:%02x:%02x:%02x:%02x:%02x",
		 v.vm.mac[1], v.vm.mac[2], v.vm.mac[3], v.vm.mac[4],
		 v.vm.mac[5]);
	ck_assert_str_eq(buf, want);
	ck_assert_int_ne(v.vm.mac[0], 0xfe); /* not the guest's */
	read_sys("ae3", "owner", buf, sizeof buf);
	ck_assert_str_eq(buf, "1234");
	read_sys("ae3", "group", buf, sizeof buf);
	ck_assert_str_eq(buf, "4321");
	read_sys("ae3", "tun_flags", buf, sizeof buf);
	ck_assert_msg(!(strtoul(buf, NULL, 16) & IFF_PERSIST),
		      "device must not be persistent (tun_flags %s)", buf);

	/* not persistent: closing the fds removes it */
	ae_attachment_close_fds(&v.att);
	ck_assert(!exists("ae3"));
	ck_assert_int_eq(ae_instance_check(inst, &v.vm, v.st), -ENODEV);
	ck_assert_int_eq(ae_instance_detach(inst, &v.vm, v.st), 0);
	ae_instance_close(inst);
	nl_socket_free(sk);
	ck_assert_uint_eq(count_fds(), fds0);
}
END_TEST

START_TEST(test_default_owner_and_nic_name)
{
	struct ae_instance *inst;
	struct vmslot v;
	char buf[64], want[32];

	NETNS();
	mkbridge("br0", 0);
	inst = open_inst("");
	vm_make(&v, 12);
	v.vm.nic = 2;
	v.vm.uid = 4242;
	v.vm.gid = 4343;
	vm_attach_ok(inst, &v);
	ck_assert_str_eq(v.att.tap.ifname, "ae12n2");
	ck_assert_uint_eq(v.att.mtu, 1500);
	read_sys("ae12n2", "owner", buf, sizeof buf);
	snprintf(want, sizeof want, "%u", 4242u);
	ck_assert_str_eq(buf, want);
	read_sys("ae12n2", "group", buf, sizeof buf);
	ck_assert_str_eq(buf, "4343");
	vm_detach(inst, &v);
	ck_assert(!exists("ae12n2"));
	ae_instance_close(inst);
}
END_TEST

START_TEST(test_ifname_mtu_option)
{
	struct ae_instance *inst;
	struct vmslot v;
	char buf[32];

	NETNS();
	mkbridge("br0", 0);
	inst = open_inst("ifname = web-tap\nmtu = 1280\n");
	vm_make(&v, 0);
	vm_attach_ok(inst, &v);
	ck_assert_str_eq(v.att.tap.ifname, "web-tap");
	ck_assert_uint_eq(v.att.mtu, 1280);
	read_sys("web-tap", "mtu", buf, sizeof buf);
	ck_assert_str_eq(buf, "1280");
	ck_assert_int_eq(ae_instance_check(inst, &v.vm, v.st), 0);
	vm_detach(inst, &v);
	ck_assert(!exists("web-tap"));
	ae_instance_close(inst);
}
END_TEST

START_TEST(test_multiqueue)
{
	struct ae_instance *inst;
	struct vmslot v;
	unsigned q;
	char buf[32];

	NETNS();
	mkbridge("br0", 0);
	inst = open_inst("queues = 4\n");
	vm_make(&v, 1);
	vm_attach_ok(inst, &v);
	ck_assert_uint_eq(v.att.tap.queues, 4);
	for (q = 0; q < 4; q++) {
		struct ifreq ifr = {0};
		ck_assert_int_ge(v.att.tap.fds[q], 0);
		ck_assert_int_eq(ioctl(v.att.tap.fds[q], TUNGETIFF, &ifr), 0);
		ck_assert_str_eq(ifr.ifr_name, "ae1");
		ck_assert(ifr.ifr_flags & IFF_MULTI_QUEUE);
	}
	ck_assert_int_eq(v.att.tap.fds[4], -1);
	/* the kernel sees 4 queues */
	read_sys("ae1", "tun_flags", buf, sizeof buf);
	ck_assert(strtoul(buf, NULL, 16) & IFF_MULTI_QUEUE);
	/* the device lives while any queue fd is open */
	close(v.att.tap.fds[0]);
	v.att.tap.fds[0] = -1;
	ck_assert(exists("ae1"));
	vm_detach(inst, &v);
	ck_assert(!exists("ae1"));
	ae_instance_close(inst);
}
END_TEST

START_TEST(test_vhost)
{
	struct ae_instance *inst;
	struct vmslot v;
	bool have = access("/dev/vhost-net", R_OK | W_OK) == 0;
	const char *log;

	NETNS();
	mkbridge("br0", 0);
	inst = open_inst("vhost = yes\nqueues = 2\n");
	vm_make(&v, 0);
	cap_begin();
	int r = vm_attach(inst, &v);
	log = cap_end();
	ck_assert_int_eq(r, 0);
	if (have) {
		ck_assert_int_ge(v.att.tap.vhostfds[0], 0);
		ck_assert_int_ge(v.att.tap.vhostfds[1], 0);
	} else {
		/* falls back to no vhost and says why */
		ck_assert_int_eq(v.att.tap.vhostfds[0], -1);
		ck_assert_int_eq(v.att.tap.vhostfds[1], -1);
		ck_assert_msg(strstr(log, "vhost off") &&
				      strstr(log, "/dev/vhost-net"),
			      "no reason logged: %s", log);
		fprintf(stderr, "note: /dev/vhost-net missing, vhost fallback "
				"tested (vhostfds path not exercised)\n");
	}
	vm_detach(inst, &v);
	ae_instance_close(inst);
}
END_TEST

START_TEST(test_check_verb)
{
	struct ae_instance *inst;
	struct vmslot v;
	struct rtnl_link *l, *ch;

	NETNS();
	mkbridge("br0", 0);
	inst = open_inst("persistent = yes\n");
	vm_make(&v, 0);
	vm_attach_ok(inst, &v);
	ck_assert_int_eq(ae_instance_check(inst, &v.vm, v.st), 0);

	/* down */
	l = getlink("ae0");
	ch = rtnl_link_alloc();
	rtnl_link_unset_flags(ch, IFF_UP);
	ck_assert_int_eq(rtnl_link_change(sk, l, ch, 0), 0);
	rtnl_link_put(ch);
	rtnl_link_put(l);
	ck_assert_int_eq(ae_instance_check(inst, &v.vm, v.st), -ENETDOWN);

	/* up again, but no longer a port */
	l = getlink("ae0");
	ch = rtnl_link_alloc();
	rtnl_link_set_flags(ch, IFF_UP);
	rtnl_link_set_master(ch, 0);
	ck_assert_int_eq(rtnl_link_change(sk, l, ch, 0), 0);
	rtnl_link_put(ch);
	rtnl_link_put(l);
	ck_assert_int_eq(count_ports("br0"), 0);
	ck_assert_int_eq(ae_instance_check(inst, &v.vm, v.st), -ENOLINK);

	/* persistent: survives its fds; detach deletes it */
	ae_attachment_close_fds(&v.att);
	ck_assert(exists("ae0"));
	ck_assert_int_eq(ae_instance_detach(inst, &v.vm, v.st), 0);
	ck_assert(!exists("ae0"));
	ae_instance_close(inst);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Frames.                                                            */

static void frames_vm_bridge(const char *opts)
{
	struct ae_instance *inst;
	struct vmslot v;
	uint8_t f[128], src[6], hostmac[6] = {0x02, 0xae, 0, 0, 0, 1};
	size_t n;
	int ps;

	fresh_netns();
	mkbridge("br-f", 0);
	ps = packet_socket("br-f");
	set_nonblock(ps);
	inst = open_inst(opts);
	vm_make(&v, 0);
	vm_attach_ok(inst, &v);
	set_nonblock(v.att.tap.fds[0]);

	/* guest -> bridge: written into the TAP fd, read on the bridge */
	n = make_frame(f, bcast, v.vm.mac, "aether guest->host");
	tap_write(&v.att, 0, f, n);
	ck_assert_msg(wait_frame(ps, 0, "aether guest->host", src),
		      "frame written into %s not seen on the bridge",
		      v.att.tap.ifname);
	ck_assert_int_eq(memcmp(src, v.vm.mac, 6), 0);

	/* bridge -> guest: sent on the bridge, read from the TAP fd */
	n = make_frame(f, bcast, hostmac, "aether host->guest");
	ck_assert_int_eq(send(ps, f, n, 0), (ssize_t)n);
	ck_assert_msg(wait_frame(v.att.tap.fds[0],
				 v.att.tap.vnet_hdr ? VNET_HDR_LEN : 0,
				 "aether host->guest", src),
		      "frame sent on the bridge not read from %s",
		      v.att.tap.ifname);
	ck_assert_int_eq(memcmp(src, hostmac, 6), 0);

	/* and unicast back to the guest's MAC (learned above) */
	n = make_frame(f, v.vm.mac, hostmac, "aether unicast");
	ck_assert_int_eq(send(ps, f, n, 0), (ssize_t)n);
	ck_assert(wait_frame(v.att.tap.fds[0],
			     v.att.tap.vnet_hdr ? VNET_HDR_LEN : 0,
			     "aether unicast", NULL));

	vm_detach(inst, &v);
	close(ps);
	ae_instance_close(inst);
}

START_TEST(test_frames_vnet_hdr)
{
	NEED_NS();
	frames_vm_bridge("bridge = br-f\n");
}
END_TEST

START_TEST(test_frames_plain)
{
	NEED_NS();
	frames_vm_bridge("bridge = br-f\nvnet_hdr = no\n");
}
END_TEST

START_TEST(test_two_vms)
{
	struct ae_instance *inst;
	struct vmslot a, b;
	uint8_t f[128], src[6];
	size_t n, skip;

	NETNS();
	mkbridge("br0", 0);
	inst = open_inst("");
	vm_make(&a, 0);
	vm_make(&b, 1);
	vm_attach_ok(inst, &a);
	vm_attach_ok(inst, &b);
	ck_assert_int_ne(memcmp(a.vm.mac, b.vm.mac, 6), 0);
	set_nonblock(a.att.tap.fds[0]);
	set_nonblock(b.att.tap.fds[0]);
	skip = a.att.tap.vnet_hdr ? VNET_HDR_LEN : 0;

	/* a -> broadcast -> b */
	n = make_frame(f, bcast, a.vm.mac, "hello from a");
	tap_write(&a.att, 0, f, n);
	ck_assert_msg(wait_frame(b.att.tap.fds[0], skip, "hello from a", src),
		      "b did not get a's broadcast");
	ck_assert_int_eq(memcmp(src, a.vm.mac, 6), 0);
	/* b -> unicast to a (the bridge learned a's MAC) */
	n = make_frame(f, a.vm.mac, b.vm.mac, "hello from b");
	tap_write(&b.att, 0, f, n);
	ck_assert_msg(wait_frame(a.att.tap.fds[0], skip, "hello from b", src),
		      "a did not get b's unicast");
	ck_assert_int_eq(memcmp(src, b.vm.mac, 6), 0);

	vm_detach(inst, &a);
	vm_detach(inst, &b);
	ck_assert_uint_eq(count_ports("br0"), 0);
	ae_instance_close(inst);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Lifecycle: cycles, crash, gc.                                      */

START_TEST(test_cycles)
{
	struct ae_instance *np, *pe;
	struct vmslot v;
	unsigned i, links0, fds0;

	NETNS();
	mkbridge("br0", 0);
	links0 = count_links(NULL);
	np = open_inst("prefix = cy\n");
	pe = open_inst("prefix = cp\npersistent = yes\n");
	fds0 = count_fds();
	for (i = 0; i < 200; i++) {
		struct ae_instance *inst = (i % 2) ? pe : np;
		vm_make(&v, i % 7);
		vm_attach_ok(inst, &v);
		ck_assert_uint_eq(count_ports("br0"), 1);
		vm_detach(inst, &v);
		ck_assert_uint_eq(count_ports("br0"), 0);
	}
	ck_assert_uint_eq(count_links("cy"), 0);
	ck_assert_uint_eq(count_links("cp"), 0);
	ck_assert_uint_eq(count_links(NULL), links0);
	ck_assert_uint_eq(count_fds(), fds0);
	ae_instance_close(np);
	ae_instance_close(pe);
}
END_TEST

START_TEST(test_crash_nonpersistent)
{
	struct ae_instance *inst;
	struct vmslot v[5];
	unsigned i;

	NETNS();
	mkbridge("br0", 0);
	inst = open_inst("");
	for (i = 0; i < 5; i++) {
		vm_make(&v[i], i);
		vm_attach_ok(inst, &v[i]);
	}
	ck_assert_uint_eq(count_links("ae"), 5);
	/* "QEMU crashed, nobody detached": the fds close, devices go */
	for (i = 0; i < 5; i++)
		ae_attachment_close_fds(&v[i].att);
	ck_assert_uint_eq(count_links("ae"), 0);
	ck_assert_int_eq(ae_instance_gc(inst, NULL, 0), 0);
	/* a late detach copes with the device being gone */
	for (i = 0; i < 5; i++)
		ck_assert_int_eq(ae_instance_detach(inst, &v[i].vm, v[i].st), 0);
	ae_instance_close(inst);
}
END_TEST

/* A process attaching persistent devices is killed mid-way; a "QEMU" that
 * still holds fds of non-persistent devices is orphaned.  gc cleans both,
 * sparing the VM that is alive. */
START_TEST(test_crash_gc)
{
	struct ae_instance *inst;
	struct vmslot keep, other;
	int pfd[2];
	char c;
	pid_t pid;
	unsigned made = 0, i;
	struct aether_vm live[2];

	NETNS();
	mkbridge("br0", 0);
	/* A device that is not aether's, with a matching name: untouched. */
	mkforeign("ae900");

	ck_assert_int_eq(pipe(pfd), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct ae_instance *ci;
		char err[256];
		close(pfd[0]);
		if (ae_instance_open_text("tap", NULL, "persistent = yes\n",
					  "child", &ci, err, sizeof err) < 0)
			_exit(1);
		for (i = 0; i < 50; i++) {
			struct vmslot s;
			vm_make(&s, i);
			if (vm_attach(ci, &s) < 0)
				_exit(2);
			if (write(pfd[1], "x", 1) != 1)
				_exit(3);
		}
		pause();
		_exit(0);
	}
	close(pfd[1]);
	while (made < 6 && read(pfd[0], &c, 1) == 1)
		made++;
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	close(pfd[0]);
	ck_assert_uint_eq(made, 6);
	/* persistent devices outlive the killed process: 6 or 7 of them */
	ck_assert_uint_ge(count_links("ae"), 1 + 6);

	/* an orphaned "QEMU" holding fds of non-persistent devices */
	inst = open_inst("");
	vm_make(&other, 60);
	vm_attach_ok(inst, &other);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		pause();
		_exit(0);
	}
	ae_attachment_close_fds(&other.att); /* only the "QEMU" has them */
	ck_assert(exists("ae60"));

	/* VM 2 (whose device ae2 the killed process made) counts as alive
	 * (e.g. restarted elsewhere): its device must survive gc */
	vm_make(&keep, 2);
	live[0] = keep.vm;
	ck_assert_int_eq(ae_instance_gc(inst, live, 1), 0);
	ck_assert(exists("ae2"));  /* vm2 is live: its device stays */
	ck_assert(!exists("ae0"));
	ck_assert(!exists("ae5"));
	ck_assert(!exists("ae60")); /* deleted under the orphan's fds */
	ck_assert(exists("ae900")); /* not ours */
	ck_assert_uint_eq(count_links("ae"), 2);
	ck_assert_uint_eq(count_ports("br0"), 1);

	/* nothing alive: one batched request removes the rest */
	ck_assert_int_eq(ae_instance_gc(inst, NULL, 0), 0);
	ck_assert(!exists("ae2"));
	ck_assert(exists("ae900"));
	ck_assert_uint_eq(count_ports("br0"), 0);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	ae_instance_detach(inst, &other.vm, other.st);

	/* gc with live VMs that share the group: only the dead go (they
	 * move to the batch group, which is deleted in one request) */
	ae_instance_close(inst);
	inst = open_inst("persistent = yes\n");
	struct vmslot s[4];
	for (i = 0; i < 4; i++) {
		vm_make(&s[i], 10 + i);
		vm_attach_ok(inst, &s[i]);
	}
	live[0] = s[1].vm;
	live[1] = s[3].vm;
	ck_assert_int_eq(ae_instance_gc(inst, live, 2), 0);
	ck_assert(!exists("ae10"));
	ck_assert(exists("ae11"));
	ck_assert(!exists("ae12"));
	ck_assert(exists("ae13"));
	ck_assert_int_eq(ae_instance_check(inst, &s[1].vm, s[1].st), 0);
	ck_assert_int_eq(ae_instance_check(inst, &s[3].vm, s[3].st), 0);
	for (i = 0; i < 4; i++)
		vm_detach(inst, &s[i]);
	ck_assert_uint_eq(count_links("ae1"), 0);
	ae_instance_close(inst);
}
END_TEST

/* A persistent TAP device with the given alias in aether's link group,
 * as another aether (or an older one) would leave it. */
static void mktagged(const char *name, const char *alias)
{
	struct rtnl_link *l, *ch = rtnl_link_alloc();
	struct ifreq ifr;
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	memset(&ifr, 0, sizeof ifr);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", name);
	ck_assert_int_eq(ioctl(fd, TUNSETIFF, &ifr), 0);
	ck_assert_int_eq(ioctl(fd, TUNSETPERSIST, 1), 0);
	close(fd);
	l = getlink(name);
	ck_assert_ptr_nonnull(l);
	rtnl_link_set_ifalias(ch, alias);
	rtnl_link_set_group(ch, 44666);
	ck_assert_int_eq(rtnl_link_change(sk, l, ch, 0), 0);
	rtnl_link_put(l);
	rtnl_link_put(ch);
}

/* Two runtime roots (two users, or two runtime_dir) share the network:
 * gc in one deletes only its own devices, never the other root's, nor
 * those whose older alias does not say whose they are. */
START_TEST(test_gc_roots)
{
	struct ae_instance *a, *b;
	struct vmslot va, vb;
	char rtb[512], *rta = strdup(getenv("AETHER_RUNTIME_DIR"));

	NETNS();
	mkbridge("br0", 0);
	a = open_inst("persistent = yes\n");
	snprintf(rtb, sizeof rtb, "%s/other-root", rta);
	setenv("AETHER_RUNTIME_DIR", rtb, 1);
	b = open_inst("prefix = bb\npersistent = yes\n");
	setenv("AETHER_RUNTIME_DIR", rta, 1);
	vm_make(&va, 6);
	vm_attach_ok(a, &va);
	vm_make(&vb, 5);
	vm_attach_ok(b, &vb);
	ae_attachment_close_fds(&va.att); /* both "crashed": only persistent */
	ae_attachment_close_fds(&vb.att); /* devices are left */
	mktagged("old7", "aether-tap:vm7");
	ck_assert(exists("ae6") && exists("bb5") && exists("old7"));

	/* root A: nothing live in A; B's VM is not A's to judge */
	ck_assert_int_eq(ae_instance_gc(a, NULL, 0), 0);
	ck_assert(!exists("ae6"));
	ck_assert(exists("bb5"));
	ck_assert(exists("old7"));
	/* root B with its VM live: stays; then dead: goes */
	ck_assert_int_eq(ae_instance_gc(b, &vb.vm, 1), 0);
	ck_assert(exists("bb5"));
	ck_assert_int_eq(ae_instance_gc(b, NULL, 0), 0);
	ck_assert(!exists("bb5"));
	ck_assert(exists("old7"));
	vm_detach(a, &va); /* their state (the devices are gone already) */
	vm_detach(b, &vb);
	ae_instance_close(a);
	ae_instance_close(b);
	free(rta);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Bad input: clear errors, nothing left behind.                      */

START_TEST(test_bad_options)
{
	char err[512];
	/* Each bad option is refused with -EINVAL and a message that names
	 * the option and its value: from the host's option table (the
	 * open error, "check_tap:2: key: ...") or from the plugin's validate
	 * verb (the open error too, "check_tap:2: [network.tap] key = value:
	 * ..."); from_log stays for messages only the log has. */
	static const struct {
		const char *opts;
		int from_log; /* 0: in err, 1: in the plugin's log */
		const char *msg;
	} bad[] = {
		{"prefix = a/b\n", 0, "check_tap:2: [network.tap] prefix = a/b: must be 1-14 of "
				      "[A-Za-z0-9_.-] and not end in a digit"},
		{"prefix = ae1\n", 0, "check_tap:2: [network.tap] prefix = ae1: must be 1-14 of "},
		{"prefix = abcdefghijklmno\n", 0,
		 "check_tap:2: [network.tap] prefix = abcdefghijklmno: must be 1-14 of "},
		{"prefix = a b\n", 0, "check_tap:2: [network.tap] prefix = a b: must be 1-14 of "},
		{"prefix = \n", 0, "check_tap:2: [network.tap] prefix = : must be 1-14 of "},
		{"ifname = a:b\n", 0, "check_tap:2: ifname: 'a:b' is not a "
				      "valid interface name (1-15 characters"},
		{"ifname = ../x\n", 0,
		 "check_tap:2: ifname: '../x' is not a valid interface name"},
		{"ifname = abcdefghijklmnop\n", 0,
		 "check_tap:2: ifname: 'abcdefghijklmnop' is not a valid "
		 "interface name"},
		{"bridge = br/0\n", 0,
		 "check_tap:2: bridge: 'br/0' is not a valid interface name"},
		{"queues = 17\n", 0,
		 "check_tap:2: queues: 17 is out of range 1..16"},
		{"queues = 0\n", 0, "check_tap:2: queues: 0 is out of range 1..16"},
		{"mtu = 10\n", 0, "check_tap:2: [network.tap] mtu = 10: must be 0 or 68..65535"},
		{"link_group = 0\n", 0,
		 "check_tap:2: link_group: 0 is out of range 1..4294967294"},
		{"owner = no-such-user-aether\n", 0,
		 "check_tap:2: [network.tap] owner = no-such-user-aether: no such user"},
		{"group = no-such-group-aether\n", 0,
		 "check_tap:2: [network.tap] group = no-such-group-aether: no such group"},
		{"ifname = br0\n", 0, "check_tap:2: [network.tap] ifname = br0: is the "
				      "bridge itself"},
	};
	unsigned i, links0;

	NETNS();
	links0 = count_links(NULL);
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		err[0] = '\0';
		int r = open_fail(bad[i].opts, err, sizeof err);
		ck_assert_msg(r == -EINVAL, "'%s': got %d (%s), want -EINVAL",
			      bad[i].opts, r, r ? strerror(-r) : "accepted");
		ck_assert_msg(strstr(bad[i].from_log ? caught : err, bad[i].msg),
			      "'%s': want \"%s\" in the %s; error: \"%s\", "
			      "log: \"%s\"",
			      bad[i].opts, bad[i].msg,
			      bad[i].from_log ? "plugin's log" : "error", err,
			      caught);
	}
	ck_assert_uint_eq(count_links(NULL), links0);
}
END_TEST

START_TEST(test_name_too_long)
{
	struct ae_instance *inst;
	struct vmslot v;
	int r;

	NETNS();
	mkbridge("br0", 0);
	inst = open_inst("prefix = abcdefghijklmn\n");
	vm_make(&v, 10);
	cap_begin();
	r = vm_attach(inst, &v);
	cap_end();
	ck_assert_int_eq(r, -ENAMETOOLONG);
	ck_assert(strstr(caught, "15 characters"));
	vm_make(&v, 9);
	vm_attach_ok(inst, &v);
	ck_assert_str_eq(v.att.tap.ifname, "abcdefghijklmn9");
	vm_detach(inst, &v);
	ae_instance_close(inst);
}
END_TEST

START_TEST(test_missing_bridge)
{
	struct ae_instance *inst;
	struct vmslot v;
	unsigned links0;
	int r;

	NETNS();
	links0 = count_links(NULL);
	inst = open_inst("bridge = br0\n");
	vm_make(&v, 0);
	cap_begin();
	r = vm_attach(inst, &v);
	cap_end();
	ck_assert_int_eq(r, -ENODEV);
	ck_assert_msg(strstr(caught, "bridge br0 does not exist: create it "
				     "or set create_bridge = yes"),
		      "unclear message: %s", caught);
	ck_assert_int_eq(v.att.tap.fds[0], -1);
	ck_assert_uint_eq(count_links(NULL), links0);
	ae_instance_close(inst);
}
END_TEST

START_TEST(test_not_a_bridge)
{
	struct ae_instance *inst;
	struct vmslot v;
	unsigned links0;
	int r;

	NETNS();
	mkforeign("dum0");
	links0 = count_links(NULL);
	inst = open_inst("bridge = dum0\ncreate_bridge = yes\n");
	vm_make(&v, 0);
	cap_begin();
	r = vm_attach(inst, &v);
	cap_end();
	ck_assert_int_eq(r, -EINVAL);
	ck_assert_msg(strstr(caught, "dum0 is not a bridge") &&
			      strstr(caught, "ifb"),
		      "unclear message: %s", caught);
	ck_assert_uint_eq(count_links(NULL), links0);
	ck_assert(exists("dum0"));
	ae_instance_close(inst);
}
END_TEST

START_TEST(test_duplicate_name)
{
	struct ae_instance *inst, *inst2;
	struct vmslot a, b;
	unsigned links0;
	int r;

	NETNS();
	mkbridge("br0", 0);
	mkforeign("taken0");
	links0 = count_links(NULL);

	/* a name some other device has */
	inst = open_inst("ifname = taken0\n");
	vm_make(&a, 0);
	cap_begin();
	r = vm_attach(inst, &a);
	cap_end();
	ck_assert_int_eq(r, -EBUSY);
	ck_assert_msg(strstr(caught, "taken0") &&
			      strstr(caught, "already exists"),
		      "unclear message: %s", caught);
	ck_assert_uint_eq(count_links(NULL), links0);
	ck_assert_uint_eq(count_ports("br0"), 0);
	ae_instance_close(inst);

	/* two VMs asking for the same name: the second fails, the first
	 * is untouched (IFF_TUN_EXCL: a TAP is never shared by accident) */
	inst = open_inst("ifname = same0\n");
	inst2 = open_inst("ifname = same0\nqueues = 2\n");
	vm_make(&a, 0);
	vm_make(&b, 1);
	vm_attach_ok(inst, &a);
	cap_begin();
	r = vm_attach(inst2, &b);
	cap_end();
	ck_assert_int_eq(r, -EBUSY);
	ck_assert_int_eq(ae_instance_check(inst, &a.vm, a.st), 0);
	ck_assert_uint_eq(count_ports("br0"), 1);
	vm_detach(inst, &a);
	ck_assert_uint_eq(count_links(NULL), links0);
	ae_instance_close(inst);
	ae_instance_close(inst2);
}
END_TEST

START_TEST(test_create_bridge)
{
	struct ae_instance *inst;
	struct vmslot a, b;
	unsigned links0;

	NETNS();
	links0 = count_links(NULL);
	inst = open_inst("bridge = br-new\ncreate_bridge = yes\n");
	vm_make(&a, 0);
	vm_make(&b, 1);
	vm_attach_ok(inst, &a);
	ck_assert(exists("br-new"));
	vm_attach_ok(inst, &b);
	ck_assert_uint_eq(count_ports("br-new"), 2);
	vm_detach(inst, &a);
	ck_assert(exists("br-new")); /* b is still a port */
	vm_detach(inst, &b);
	ck_assert(!exists("br-new")); /* made by us, empty: removed */
	ck_assert_uint_eq(count_links(NULL), links0);
	ae_instance_close(inst);

	/* a bridge the admin made is never removed */
	mkbridge("br-adm", 0);
	inst = open_inst("bridge = br-adm\ncreate_bridge = yes\n");
	vm_attach_ok(inst, &a);
	vm_detach(inst, &a);
	ck_assert(exists("br-adm"));
	ae_instance_close(inst);
}
END_TEST

static void drop_net_admin(void)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
	struct __user_cap_data_struct d[2];

	ck_assert_int_eq(syscall(SYS_capget, &hdr, d), 0);
	d[0].effective &= ~(1u << CAP_NET_ADMIN);
	d[0].permitted &= ~(1u << CAP_NET_ADMIN);
	d[0].inheritable &= ~(1u << CAP_NET_ADMIN);
	ck_assert_int_eq(syscall(SYS_capset, &hdr, d), 0);
}

START_TEST(test_no_net_admin)
{
	char err[512] = "";
	int r;

	NETNS();
	mkbridge("br0", 0);
	drop_net_admin();
	r = open_fail("", err, sizeof err);
	ck_assert_int_eq(r, -EPERM);
	ck_assert_msg(strstr(caught, "CAP_NET_ADMIN"),
		      "message does not say what is needed: %s / %s", err,
		      caught);
}
END_TEST

/* ------------------------------------------------------------------ */

static Suite *tap_suite(void)
{
	Suite *s = suite_create("tap");
	TCase *tc;

	tc = tcase_create("names");
	tcase_add_test(tc, test_names);
	suite_add_tcase(s, tc);

	tc = tcase_create("device");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_descriptor);
	tcase_add_test(tc, test_attach_properties);
	tcase_add_test(tc, test_default_owner_and_nic_name);
	tcase_add_test(tc, test_ifname_mtu_option);
	tcase_add_test(tc, test_multiqueue);
	tcase_add_test(tc, test_vhost);
	tcase_add_test(tc, test_check_verb);
	suite_add_tcase(s, tc);

	tc = tcase_create("frames");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_frames_vnet_hdr);
	tcase_add_test(tc, test_frames_plain);
	tcase_add_test(tc, test_two_vms);
	suite_add_tcase(s, tc);

	tc = tcase_create("lifecycle");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_cycles);
	tcase_add_test(tc, test_crash_nonpersistent);
	tcase_add_test(tc, test_crash_gc);
	tcase_add_test(tc, test_gc_roots);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_bad_options);
	tcase_add_test(tc, test_name_too_long);
	tcase_add_test(tc, test_missing_bridge);
	tcase_add_test(tc, test_not_a_bridge);
	tcase_add_test(tc, test_duplicate_name);
	tcase_add_test(tc, test_create_bridge);
	tcase_add_test(tc, test_no_net_admin);
	suite_add_tcase(s, tc);
	return s;
}

/* In the probe's private namespace: can a TAP device be made? */
static void probe_tap(char *msg, size_t len)
{
	struct ifreq ifr = {0};
	int fd = open("/dev/net/tun", O_RDWR);

	if (fd < 0) {
		snprintf(msg, len, "open /dev/net/tun: %s", strerror(errno));
		return;
	}
	snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "probe0");
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	if (ioctl(fd, TUNSETIFF, &ifr) < 0)
		snprintf(msg, len, "TUNSETIFF: %s", strerror(errno));
	close(fd);
}

/* Can this process make a network namespace with a TAP in it? */
static int probe(char *why, size_t len)
{
	if (access("/dev/net/tun", R_OK | W_OK) != 0) {
		snprintf(why, len, "/dev/net/tun: %s", strerror(errno));
		return -1;
	}
	return ck_probe_netns(why, len, probe_tap);
}

int main(int argc, char **argv)
{
	char rt[] = "/tmp/check_tap_rt.XXXXXX";
	SRunner *sr;
	int failed;

	ck_skip_init();
	ns_ok = probe(ns_why, sizeof ns_why) == 0;
	if (!ns_ok)
		fprintf(stderr, "check_tap: no private network namespace with "
				"TAP (%s): only the cases that need none run\n",
			ns_why);
	if (!mkdtemp(rt)) {
		perror("mkdtemp");
		return 99;
	}
	setenv("AETHER_RUNTIME_DIR", rt, 1);
	if (!getenv("AETHER_PLUGIN_PATH") && argc > 0) {
		/* run by hand from the build tree: tests/../plugins/tap */
		char path[4096], *slash;
		snprintf(path, sizeof path, "%s", argv[0]);
		slash = strrchr(path, '/');
		if (slash) {
			snprintf(slash, sizeof path - (size_t)(slash - path),
				 "/../plugins/tap");
			setenv("AETHER_PLUGIN_PATH", path, 1);
		}
	}
	sr = srunner_create(tap_suite());
	/* every test unshares its own namespaces (and one drops a
	 * capability): they must run in forked children */
	srunner_set_fork_status(sr, CK_FORK);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	{
		/* best effort: remove the runtime dir tree */
		char *rm[] = {"rm", "-rf", rt, NULL};
		pid_t pid = fork();
		if (pid == 0) {
			execvp("rm", rm);
			_exit(127);
		}
		if (pid > 0)
			waitpid(pid, NULL, 0);
	}
	return ck_exit_status(failed);
}
