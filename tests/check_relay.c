/* check_relay.c - frame ports without QEMU: the test plays the VM on the
 * hypervisor's end of the relay's socketpair and sends real Ethernet
 * frames to the slirp plugin in mode = libslirp, driving the relay the
 * way `aether run`'s loop does.  Also: a plugin built against the frozen
 * ABI 1.0 header loads and works next to the 1.1 frame port; and the
 * relay's batching, back-pressure and drop accounting against a fake
 * frame port, with sendmmsg() wrapped to send fewer or fail. */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>

#include "check-main.h"
#include "instance.h"
#include "qemu-argv.h"
#include "relay.h"
#include "relay-port.h"
#include "helper.h"

#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#ifdef AE_HAVE_VDEPLUG
#include <libvdeplug.h>
#include "asan-vdeplug.h" /* the VDE port's tests under ASan */
#endif

static const uint8_t gmac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
#define GUEST_IP "10.0.2.15"
#define GW_IP "10.0.2.2"

static struct ae_instance *inst;
static struct ae_relay *relay;
static struct aether_vm vm;
static void *att_state;
static int vmfd = -1; /* the VM's end */
static uint8_t gw_mac[6];

static void port_open(const char *opts)
{
	struct aether_attachment att = {0};
	char err[512];
	int rc;

	ck_tmp_setup();
	ae_vm_init(&vm, "relaytest", 0, ck_tmpdir);
	memcpy(vm.mac, gmac, 6);
	rc = ae_instance_open_text("slirp", NULL, opts, "check_relay", &inst,
				   err, sizeof err);
	ck_assert_msg(rc == 0, "open slirp: %s", err);
	ck_assert_int_eq(ae_relay_new(&relay, &att, err, sizeof err), 0);
	rc = ae_instance_attach(inst, &vm, &att, &att_state);
	ck_assert_msg(rc == 0, "attach: %s", strerror(-rc));
	ck_assert_uint_eq(att.kind, AETHER_ATTACH_FRAME);
	rc = ae_relay_bind(relay, &att, err, sizeof err);
	ck_assert_msg(rc == 0, "bind: %s", err);
	vmfd = ae_relay_hv_fd(relay);
	ck_assert_int_ge(vmfd, 0);
}

static void setup(void)
{
	port_open("mode = libslirp\n");
}

static void teardown(void)
{
	if (inst && att_state)
		ae_instance_detach(inst, &vm, att_state);
	ae_relay_free(relay);
	ae_instance_close(inst);
	ck_tmp_teardown();
}

/* ---- frame building ---- */

static uint16_t csum(const void *data, size_t len, uint32_t sum)
{
	const uint8_t *p = data;

	while (len > 1) {
		sum += (uint32_t)(p[0] << 8 | p[1]);
		p += 2;
		len -= 2;
	}
	if (len)
		sum += (uint32_t)p[0] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static size_t eth(uint8_t *f, const uint8_t *dst, uint16_t type)
{
	memcpy(f, dst, 6);
	memcpy(f + 6, gmac, 6);
	f[12] = (uint8_t)(type >> 8);
	f[13] = (uint8_t)type;
	return 14;
}

/* IPv4 header at f (20 bytes) for a payload of plen bytes. */
static void ipv4(uint8_t *f, uint8_t proto, const char *src, const char *dst,
		 size_t plen)
{
	struct in_addr s, d;
	uint16_t c;

	inet_pton(AF_INET, src, &s);
	inet_pton(AF_INET, dst, &d);
	memset(f, 0, 20);
	f[0] = 0x45;
	f[2] = (uint8_t)((20 + plen) >> 8);
	f[3] = (uint8_t)(20 + plen);
	f[4] = 0x12;
	f[8] = 64;
	f[9] = proto;
	memcpy(f + 12, &s, 4);
	memcpy(f + 16, &d, 4);
	c = csum(f, 20, 0);
	f[10] = (uint8_t)(c >> 8);
	f[11] = (uint8_t)c;
}

static size_t udp(uint8_t *f, const uint8_t *dmac, const char *src,
		  const char *dst, uint16_t sport, uint16_t dport,
		  const void *payload, size_t plen)
{
	size_t o = eth(f, dmac, 0x0800);
	uint8_t *u = f + o + 20;

	ipv4(f + o, 17, src, dst, 8 + plen);
	u[0] = (uint8_t)(sport >> 8);
	u[1] = (uint8_t)sport;
	u[2] = (uint8_t)(dport >> 8);
	u[3] = (uint8_t)dport;
	u[4] = (uint8_t)((8 + plen) >> 8);
	u[5] = (uint8_t)(8 + plen);
	u[6] = u[7] = 0; /* no checksum */
	memcpy(u + 8, payload, plen);
	return o + 20 + 8 + plen;
}

static size_t arp(uint8_t *f, uint16_t op, const uint8_t *tha,
		  const char *sip, const char *tip)
{
	size_t o = eth(f, op == 1 ? bcast : tha, 0x0806);
	uint8_t *a = f + o;
	struct in_addr s, t;

	inet_pton(AF_INET, sip, &s);
	inet_pton(AF_INET, tip, &t);
	a[0] = 0; a[1] = 1;   /* Ethernet */
	a[2] = 8; a[3] = 0;   /* IPv4 */
	a[4] = 6; a[5] = 4;
	a[6] = 0; a[7] = (uint8_t)op;
	memcpy(a + 8, gmac, 6);
	memcpy(a + 14, &s, 4);
	memset(a + 18, 0, 6);
	if (op == 2)
		memcpy(a + 18, tha, 6);
	memcpy(a + 24, &t, 4);
	return o + 28;
}

static void vm_send(const void *f, size_t len)
{
	ck_assert_int_eq(send(vmfd, f, len, 0), (ssize_t)len);
}

static int is_ip(const uint8_t *f, const char *ip, int off)
{
	struct in_addr a;

	inet_pton(AF_INET, ip, &a);
	return !memcmp(f + off, &a, 4);
}

/* Run the relay until the VM receives a frame pred() accepts (answering
 * slirp's ARP requests for the guest on the way), or fail after 5 s.
 * extra: an fd to watch too; returns 1 when it became readable first. */
typedef int (*pred_fn)(const uint8_t *f, size_t len, void *arg);

static size_t vm_expect(uint8_t *f, size_t cap, pred_fn pred, void *arg,
			int extra)
{
	uint64_t end = ae_now_ns() + 5000000000ull;

	while (ae_now_ns() < end) {
		ssize_t n;

		ck_assert_int_ge(ae_relay_run_once(relay, 20), 0);
		if (extra >= 0) {
			struct pollfd p = {extra, POLLIN, 0};
			if (poll(&p, 1, 0) == 1)
				return 0;
		}
		while ((n = recv(vmfd, f, cap, MSG_DONTWAIT)) > 0) {
			if (n >= 42 && f[12] == 8 && f[13] == 6 && f[21] == 1 &&
			    is_ip(f, GUEST_IP, 38)) {
				uint8_t r[64];
				size_t l = arp(r, 2, f + 22, GUEST_IP, GW_IP);
				vm_send(r, l);
				continue;
			}
			if (pred(f, (size_t)n, arg))
				return (size_t)n;
		}
	}
	ck_abort_msg("timed out waiting for a frame from the network");
	return 0;
}

/* ---- DHCP ---- */

static size_t dhcp_discover(uint8_t *f, uint32_t xid)
{
	uint8_t b[300] = {0};
	size_t o = 240;

	b[0] = 1; b[1] = 1; b[2] = 6;
	memcpy(b + 4, &xid, 4);
	b[10] = 0x80; /* broadcast reply */
	memcpy(b + 28, gmac, 6);
	b[236] = 99; b[237] = 130; b[238] = 83; b[239] = 99;
	b[o++] = 53; b[o++] = 1; b[o++] = 1; /* DHCPDISCOVER */
	b[o++] = 255;
	return udp(f, bcast, "0.0.0.0", "255.255.255.255", 68, 67, b, 300);
}

static int is_offer(const uint8_t *f, size_t len, void *arg)
{
	const uint8_t *b = f + 14 + 20 + 8;
	size_t i;

	if (len < 14 + 20 + 8 + 240 || f[12] != 8 || f[13] != 0 ||
	    f[23] != 17 || f[34] != 0 || f[35] != 67 || f[36] != 0 ||
	    f[37] != 68 || b[0] != 2 || memcmp(b + 4, arg, 4))
		return 0;
	for (i = 240; i + 2 < len - 42; i += 2u + b[i + 1])
		if (b[i] == 53)
			return b[i + 2] == 2;
	return 0;
}

START_TEST(dhcp_offer)
{
	uint8_t f[2048];
	uint32_t xid = 0x5eed1234;
	size_t n = dhcp_discover(f, xid);

	vm_send(f, n);
	n = vm_expect(f, sizeof f, is_offer, &xid, -1);
	ck_assert_msg(is_ip(f, GUEST_IP, 42 + 16), "offered address is not "
		      GUEST_IP);
}
END_TEST

/* ---- ARP ---- */

static int is_arp_reply_gw(const uint8_t *f, size_t len, void *arg)
{
	return len >= 42 && f[12] == 8 && f[13] == 6 && f[21] == 2 &&
	       is_ip(f, GW_IP, 28) && !memcmp(f + 32, gmac, 6);
}

static void learn_gateway(void)
{
	uint8_t f[128];
	size_t n = arp(f, 1, bcast, GUEST_IP, GW_IP);

	vm_send(f, n);
	vm_expect(f, sizeof f, is_arp_reply_gw, NULL, -1);
	memcpy(gw_mac, f + 22, 6);
}

START_TEST(arp_gateway)
{
	learn_gateway();
	ck_assert_msg(memcmp(gw_mac, "\0\0\0\0\0\0", 6), "zero gateway MAC");
}
END_TEST

/* ---- ICMP echo ---- */

static int is_echo_reply(const uint8_t *f, size_t len, void *arg)
{
	return len >= 42 && f[12] == 8 && f[13] == 0 && f[23] == 1 &&
	       f[34] == 0 && is_ip(f, GW_IP, 26) &&
	       !memcmp(f + 38, arg, 4);
}

START_TEST(icmp_echo_gateway)
{
	uint8_t f[256], *ic;
	size_t o;
	uint16_t c;
	const uint8_t idseq[4] = {0x12, 0x34, 0x00, 0x01};

	learn_gateway();
	o = eth(f, gw_mac, 0x0800);
	ipv4(f + o, 1, GUEST_IP, GW_IP, 8 + 32);
	ic = f + o + 20;
	memset(ic, 0, 8 + 32);
	ic[0] = 8;
	memcpy(ic + 4, idseq, 4);
	memcpy(ic + 8, "aether-icmp-payload-0123456789ab", 32);
	c = csum(ic, 40, 0);
	ic[2] = (uint8_t)(c >> 8);
	ic[3] = (uint8_t)c;
	vm_send(f, o + 20 + 40);
	vm_expect(f, sizeof f, is_echo_reply, (void *)idseq, -1);
}
END_TEST

/* ---- UDP to a host loopback server and back ---- */

static int is_udp_reply(const uint8_t *f, size_t len, void *arg)
{
	return len >= 42 + 10 && f[12] == 8 && f[13] == 0 && f[23] == 17 &&
	       is_ip(f, GW_IP, 26) && is_ip(f, GUEST_IP, 30) &&
	       f[36] == 0x9c && f[37] == 0x40 &&
	       !memcmp(f + 42, "host-reply", 10);
}

START_TEST(udp_loopback_round_trip)
{
	struct sockaddr_in sa = {.sin_family = AF_INET}, from;
	socklen_t sl = sizeof sa, fl = sizeof from;
	uint8_t f[2048];
	char buf[64];
	int srv, port;
	size_t n;
	ssize_t got;
	struct ae_relay_stats st;

	srv = socket(AF_INET, SOCK_DGRAM, 0);
	ck_assert_int_ge(srv, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(srv, (struct sockaddr *)&sa, sizeof sa), 0);
	ck_assert_int_eq(getsockname(srv, (struct sockaddr *)&sa, &sl), 0);
	port = ntohs(sa.sin_port);

	learn_gateway();
	n = udp(f, gw_mac, GUEST_IP, GW_IP, 40000, (uint16_t)port,
		"guest-hello", 11);
	vm_send(f, n);
	vm_expect(f, sizeof f, is_udp_reply, NULL, srv); /* srv readable */
	got = recvfrom(srv, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
	ck_assert_int_eq(got, 11);
	ck_assert(!memcmp(buf, "guest-hello", 11));
	ck_assert_int_eq(sendto(srv, "host-reply", 10, 0,
				(struct sockaddr *)&from, fl), 10);
	vm_expect(f, sizeof f, is_udp_reply, NULL, -1);
	close(srv);

	ae_relay_get_stats(relay, &st);
	ck_assert_uint_ge(st.frames[AE_RELAY_TO_NET], 2);
	ck_assert_uint_ge(st.frames[AE_RELAY_TO_GUEST], 2);
	ck_assert_uint_ge(st.bytes[AE_RELAY_TO_NET], 42 + 11);
	ck_assert_uint_eq(st.drops[AE_RELAY_TO_NET], 0);
}
END_TEST

/* An oversized or empty datagram from the VM is dropped and counted. */
START_TEST(drops_counted)
{
	struct ae_relay_stats st;

	ck_assert_int_eq(send(vmfd, "", 0, 0), 0);
	ck_assert_int_eq(ae_relay_run_once(relay, 50) >= 0, 1);
	ae_relay_get_stats(relay, &st);
	ck_assert_uint_eq(st.drops[AE_RELAY_TO_NET], 1);
	ck_assert_uint_eq(st.frames[AE_RELAY_TO_NET], 0);
}
END_TEST

/* QEMU gets the relay's socket as a dgram netdev fd. */
START_TEST(argv_dgram_fd)
{
	struct aether_attachment att = {0};
	struct ae_argv a = {0};
	char err[256], want[64];
	size_t i;
	int found = 0;

	att.struct_size = sizeof att;
	att.kind = AETHER_ATTACH_FRAME;
	att.frame.sink = relay;
	ck_assert_int_eq(ae_qemu_netdev_args(&a, &att, NULL, err, sizeof err), 0);
	snprintf(want, sizeof want, "dgram,id=net0,local.type=fd,local.str=%d",
		 vmfd);
	for (i = 0; i < a.n; i++)
		found |= !strcmp(a.v[i], want);
	ck_assert_msg(found, "no '%s' in the netdev arguments", want);
	ck_assert_uint_eq(a.n_keep, 1);
	ck_assert_int_eq(a.keep_fds[0], vmfd);
	ae_argv_free(&a);
}
END_TEST

/* mode = libslirp options reach libslirp: another network and dhcpstart. */
static void setup_custom(void)
{
	port_open("mode = libslirp\nnet = 192.168.77.0/24\n"
		  "dhcpstart = 192.168.77.50\nmtu = 9000\n");
}

START_TEST(dhcp_custom_network)
{
	uint8_t f[2048];
	uint32_t xid = 0x77;
	size_t n = dhcp_discover(f, xid);

	vm_send(f, n);
	vm_expect(f, sizeof f, is_offer, &xid, -1);
	ck_assert(is_ip(f, "192.168.77.50", 42 + 16));
}
END_TEST

/* restrict = yes: the guest reaches no host server. */
static void setup_restrict(void)
{
	port_open("mode = libslirp\nrestrict = yes\n");
}

START_TEST(restrict_blocks_host)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t sl = sizeof sa;
	uint8_t f[2048];
	struct pollfd p;
	int srv, i;
	size_t n;

	srv = socket(AF_INET, SOCK_DGRAM, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(srv, (struct sockaddr *)&sa, sizeof sa), 0);
	ck_assert_int_eq(getsockname(srv, (struct sockaddr *)&sa, &sl), 0);
	learn_gateway(); /* ARP still works */
	n = udp(f, gw_mac, GUEST_IP, GW_IP, 40000, ntohs(sa.sin_port),
		"guest-hello", 11);
	vm_send(f, n);
	for (i = 0; i < 20; i++)
		ae_relay_run_once(relay, 25);
	p.fd = srv;
	p.events = POLLIN;
	ck_assert_msg(poll(&p, 1, 0) == 0,
		      "restrict = yes let a datagram through to the host");
	close(srv);
}
END_TEST

/* ipv6 = yes: a router solicitation gets libslirp's advertisement. */
static void setup_ipv6(void)
{
	port_open("mode = libslirp\nipv6 = yes\n");
}

static int is_ra(const uint8_t *f, size_t len, void *arg)
{
	return len >= 14 + 40 + 16 && f[12] == 0x86 && f[13] == 0xdd &&
	       f[20] == 58 && f[54] == 134;
}

START_TEST(ipv6_router_advert)
{
	uint8_t f[256], *ip6, *ic;
	static const uint8_t src[16] = {0xfe, 0x80, 0, 0, 0, 0, 0, 0,
					0x50, 0x54, 0x00, 0xff, 0xfe, 0x12,
					0x34, 0x56};
	static const uint8_t dst[16] = {0xff, 0x02, 0, 0, 0, 0, 0, 0,
					0, 0, 0, 0, 0, 0, 0, 2};
	static const uint8_t dmac[6] = {0x33, 0x33, 0, 0, 0, 2};
	uint8_t pseudo[40 + 16];
	size_t o = eth(f, dmac, 0x86dd), plen = 16;
	uint16_t c;

	ip6 = f + o;
	memset(ip6, 0, 40);
	ip6[0] = 0x60;
	ip6[5] = (uint8_t)plen;
	ip6[6] = 58;
	ip6[7] = 255;
	memcpy(ip6 + 8, src, 16);
	memcpy(ip6 + 24, dst, 16);
	ic = ip6 + 40;
	memset(ic, 0, plen);
	ic[0] = 133; /* router solicitation, + source link-layer option */
	ic[8] = 1;
	ic[9] = 1;
	memcpy(ic + 10, gmac, 6);
	memset(pseudo, 0, sizeof pseudo);
	memcpy(pseudo, src, 16);
	memcpy(pseudo + 16, dst, 16);
	pseudo[35] = (uint8_t)plen;
	pseudo[39] = 58;
	memcpy(pseudo + 40, ic, plen);
	c = csum(pseudo, sizeof pseudo, 0);
	ic[2] = (uint8_t)(c >> 8);
	ic[3] = (uint8_t)c;
	vm_send(f, o + 40 + plen);
	vm_expect(f, sizeof f, is_ra, NULL, -1);
}
END_TEST

/* ---- ABI 1.0 plugin next to a 1.1 frame port ---- */

START_TEST(abi10_next_to_frame_port)
{
	const char *b = getenv("top_builddir");
	char dir[1024], err[512];
	struct ae_instance *old = NULL;
	struct aether_attachment att = {0};
	struct aether_vm vm2;
	void *st2 = NULL;
	int rc;

	ck_assert_msg(b != NULL, "top_builddir is not set");
	snprintf(dir, sizeof dir, "%s/abi", b);
	rc = ae_instance_open_text("abi10", dir, "label = compat\n", "check_relay",
				   &old, err, sizeof err);
	ck_assert_msg(rc == 0, "the ABI 1.0 fixture plugin did not load: %s",
		      err);
	ck_assert_uint_eq(ae_instance_plugin(old)->abi_minor, 0);
	ck_assert_uint_lt(ae_instance_plugin(old)->struct_size,
			  sizeof(struct aether_plugin));
	ae_vm_init(&vm2, "abi10vm", 1, ck_tmpdir);
	rc = ae_instance_attach(old, &vm2, &att, &st2);
	ck_assert_msg(rc == 0, "abi10 attach: %s", strerror(-rc));
	ck_assert_uint_eq(att.kind, AETHER_ATTACH_STREAM);
	ck_assert_int_eq(ae_instance_forward(old, &vm2, st2, NULL, 1),
			 -EOPNOTSUPP);
	/* the frame port still answers while the old plugin is attached */
	learn_gateway();
	ck_assert_int_eq(ae_instance_check(old, &vm2, st2), 0);
	ae_attachment_close_fds(&att);
	ck_assert_int_eq(ae_instance_detach(old, &vm2, st2), 0);
	ae_instance_close(old);
}
END_TEST

/* ---- run-time forwards through the plugin's forward verb ---- */

START_TEST(forward_verb)
{
	struct aether_forward fw = {.struct_size = sizeof fw,
				    .proto = IPPROTO_TCP,
				    .host_addr = "127.0.0.1",
				    .guest_port = 80};
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t sl = sizeof sa;
	int s = socket(AF_INET, SOCK_STREAM, 0), busy, c;

	/* a port someone else holds: EADDRINUSE */
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(s, (struct sockaddr *)&sa, sizeof sa), 0);
	ck_assert_int_eq(listen(s, 1), 0);
	ck_assert_int_eq(getsockname(s, (struct sockaddr *)&sa, &sl), 0);
	busy = ntohs(sa.sin_port);
	fw.host_port = (uint16_t)busy;
	ck_assert_int_eq(ae_instance_forward(inst, &vm, att_state, &fw, 1),
			 -EADDRINUSE);
	close(s);
	/* free now: added, connectable, removed, refused */
	ck_assert_int_eq(ae_instance_forward(inst, &vm, att_state, &fw, 1), 0);
	c = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_eq(connect(c, (struct sockaddr *)&sa, sizeof sa), 0);
	close(c);
	ck_assert_int_eq(ae_instance_forward(inst, &vm, att_state, &fw, 0), 0);
	ck_assert_int_eq(ae_instance_forward(inst, &vm, att_state, &fw, 0),
			 -ENOENT);
	c = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_eq(connect(c, (struct sockaddr *)&sa, sizeof sa), -1);
	ck_assert_int_eq(errno, ECONNREFUSED);
	close(c);
}
END_TEST


/* ---- ports of a switchable VM: TAP and VDE (relay-port.h) ---- */

#define TEST_ETHERTYPE 0x88b5 /* local experimental */

static struct ae_relay_port *ports[2];
static int pkt[2] = {-1, -1}; /* AF_PACKET sockets on the TAPs */

/* A frame with a sequence number: broadcast, TEST_ETHERTYPE, len bytes. */
static size_t seq_frame(uint8_t *f, uint32_t seq, size_t len)
{
	size_t i;

	memcpy(f, bcast, 6);
	memcpy(f + 6, gmac, 6);
	f[12] = TEST_ETHERTYPE >> 8;
	f[13] = TEST_ETHERTYPE & 0xff;
	memcpy(f + 14, &seq, 4);
	for (i = 18; i < len; i++)
		f[i] = (uint8_t)(i * 7 + seq);
	return len;
}

static int seq_of(const uint8_t *f, size_t len, size_t want_len)
{
	uint32_t seq;
	uint8_t ref[2048];

	if (len != want_len || len < 18 || f[12] != (TEST_ETHERTYPE >> 8) ||
	    f[13] != (TEST_ETHERTYPE & 0xff))
		return -1;
	memcpy(&seq, f + 14, 4);
	seq_frame(ref, seq, len);
	ck_assert_msg(!memcmp(ref, f, len), "frame %u changed on the way",
		      seq);
	return (int)seq;
}

/* A TAP in our private netns, up, with vnet_hdr; and a packet socket
 * on it (what the kernel sends and receives there). */
static int make_tap(const char *name, int *psock)
{
	struct ifreq ifr;
	struct sockaddr_ll sll = {.sll_family = AF_PACKET};
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC), s;

	ck_assert_msg(fd >= 0, "/dev/net/tun: %s", strerror(errno));
	memset(&ifr, 0, sizeof ifr);
	snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", name);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	ck_assert_msg(ioctl(fd, TUNSETIFF, &ifr) == 0, "TUNSETIFF: %s",
		      strerror(errno));
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ck_assert_int_eq(ioctl(s, SIOCGIFFLAGS, &ifr), 0);
	ifr.ifr_flags |= IFF_UP;
	ck_assert_int_eq(ioctl(s, SIOCSIFFLAGS, &ifr), 0);
	close(s);
	*psock = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC,
			htons(TEST_ETHERTYPE));
	ck_assert_int_ge(*psock, 0);
	sll.sll_protocol = htons(TEST_ETHERTYPE);
	sll.sll_ifindex = (int)if_nametoindex(name);
	ck_assert_int_gt(sll.sll_ifindex, 0);
	ck_assert_int_eq(bind(*psock, (struct sockaddr *)&sll, sizeof sll), 0);
	return fd;
}

static void tap_port(int i, const char *name)
{
	struct aether_attachment att;
	char err[256];
	int k;

	memset(&att, 0, sizeof att);
	for (k = 0; k < AETHER_MAX_QUEUES; k++)
		att.tap.fds[k] = att.tap.vhostfds[k] = -1;
	att.kind = AETHER_ATTACH_TAP;
	att.tap.queues = 1;
	att.tap.vnet_hdr = 1;
	snprintf(att.tap.ifname, sizeof att.tap.ifname, "%s", name);
	att.tap.fds[0] = make_tap(name, &pkt[i]);
	ck_assert_msg(ae_relay_port_open(relay, &att, &ports[i], err,
					 sizeof err) == 0,
		      "tap port: %s", err);
	ck_assert_int_eq(att.tap.fds[0], -1); /* the port owns it */
	ck_assert_uint_eq(ae_relay_port_kind(ports[i]), AETHER_ATTACH_TAP);
}

static void setup_netns(void)
{
	char err[256];

	if (geteuid() != 0 || unshare(CLONE_NEWNET) < 0) {
		fprintf(stderr, "check_relay: SKIP tap ports: no private "
				"network namespace (%s)\n",
			geteuid() ? "not root" : strerror(errno));
		relay = NULL;
		return;
	}
	ck_assert_int_eq(ae_relay_new(&relay, NULL, err, sizeof err), 0);
	vmfd = ae_relay_hv_fd(relay);
}

static void teardown_ports(void)
{
	int i;

	ae_relay_port_use(relay, NULL);
	for (i = 0; i < 2; i++) {
		ae_relay_port_close(ports[i]);
		ports[i] = NULL;
		if (pkt[i] >= 0)
			close(pkt[i]);
		pkt[i] = -1;
	}
	ae_relay_free(relay);
	relay = NULL;
}

/* Run the relay until `want` TEST_ETHERTYPE frames of length len came
 * out of fd (recv), checking their sequence numbers from first on. */
static void expect_seq(int fd, uint32_t first, unsigned want, size_t len)
{
	uint64_t end = ae_now_ns() + 5000000000ull;
	unsigned got = 0;
	uint8_t f[4096];

	while (got < want && ae_now_ns() < end) {
		ssize_t n;

		ck_assert_int_ge(ae_relay_run_once(relay, 20), 0);
		while (got < want &&
		       (n = recv(fd, f, sizeof f, MSG_DONTWAIT)) > 0) {
			int seq = seq_of(f, (size_t)n, len);
			if (seq < 0)
				continue; /* the kernel's own frames */
			ck_assert_int_eq(seq, (int)(first + got));
			got++;
		}
	}
	ck_assert_msg(got == want, "got %u of %u frames", got, want);
}

START_TEST(tap_port_both_ways)
{
	uint8_t f[2048];
	struct ae_relay_stats st;
	uint32_t i;

	if (!relay)
		return;
	tap_port(0, "aesw0");
	ae_relay_port_use(relay, ports[0]);
	ck_assert_str_eq(ae_relay_port_describe(ports[0]), "tap aesw0");
	/* guest -> TAP: the kernel sees the frame as sent (a missing zero
	 * vnet header would eat its first bytes) */
	for (i = 0; i < 5; i++)
		vm_send(f, seq_frame(f, i, i & 1 ? 1400 : 64));
	for (i = 0; i < 5; i++)
		expect_seq(pkt[0], i, 1, i & 1 ? 1400 : 64);
	/* TAP -> guest: the header the kernel prepends is stripped */
	for (i = 0; i < 5; i++) {
		size_t l = seq_frame(f, 100 + i, 1000);
		ck_assert_int_eq(send(pkt[0], f, l, 0), (ssize_t)l);
	}
	expect_seq(vmfd, 100, 5, 1000);
	ae_relay_get_stats(relay, &st);
	ck_assert_uint_eq(st.frames[AE_RELAY_TO_NET], 5);
	ck_assert_uint_ge(st.frames[AE_RELAY_TO_GUEST], 5);
	ck_assert_uint_eq(ae_relay_port_errors(ports[0]), 0);
}
END_TEST

START_TEST(tap_port_repoint_mid_stream)
{
	uint8_t f[2048];
	struct ae_relay_stats st0, st;
	uint32_t i;

	if (!relay)
		return;
	tap_port(0, "aesw0");
	tap_port(1, "aesw1");
	ae_relay_port_use(relay, ports[0]);
	/* guest -> net: 0..9 on the first port, 10..19 on the second */
	for (i = 0; i < 10; i++)
		vm_send(f, seq_frame(f, i, 200));
	expect_seq(pkt[0], 0, 10, 200);
	ae_relay_get_stats(relay, &st0);
	/* frames towards the guest from the old port, in the queue or the
	 * socket when the relay is re-pointed, still come first */
	for (i = 0; i < 10; i++) {
		size_t l = seq_frame(f, 1000 + i, 300);
		ck_assert_int_eq(send(pkt[0], f, l, 0), (ssize_t)l);
	}
	ck_assert_int_ge(ae_relay_run_once(relay, 200), 0);
	ae_relay_port_use(relay, ports[1]);
	for (i = 10; i < 20; i++)
		vm_send(f, seq_frame(f, i, 200));
	for (i = 10; i < 20; i++) {
		size_t l = seq_frame(f, 1000 + i, 300);
		ck_assert_int_eq(send(pkt[1], f, l, 0), (ssize_t)l);
	}
	expect_seq(pkt[1], 10, 10, 200);
	expect_seq(vmfd, 1000, 20, 300);
	/* nothing of the second half went to the old port */
	ck_assert_int_lt(recv(pkt[0], f, sizeof f, MSG_DONTWAIT), 1);
	ae_relay_get_stats(relay, &st);
	ck_assert_uint_eq(st.frames[AE_RELAY_TO_NET], 20);
	ck_assert_uint_eq(st.frames[AE_RELAY_TO_NET] -
				  st0.frames[AE_RELAY_TO_NET], 10);
	ck_assert_uint_eq(st.bytes[AE_RELAY_TO_NET], 20 * 200);
	ck_assert_uint_ge(st.frames[AE_RELAY_TO_GUEST], 20);
	ck_assert_uint_eq(st.drops[AE_RELAY_TO_NET], 0);
}
END_TEST

START_TEST(port_refusals)
{
	struct aether_attachment att;
	struct ae_relay_port *p = NULL;
	char err[256];
	int k;

	if (!relay)
		return;
	memset(&att, 0, sizeof att);
	att.kind = AETHER_ATTACH_USER;
	ck_assert_int_eq(ae_relay_port_open(relay, &att, &p, err, sizeof err),
			 -EOPNOTSUPP);
	ck_assert_err_has(err, "mode = libslirp");
	ck_assert_ptr_null(p);
	att.kind = AETHER_ATTACH_VHOST_USER;
	ck_assert_int_eq(ae_relay_port_open(relay, &att, &p, err, sizeof err),
			 -EOPNOTSUPP);
	ck_assert_err_has(err, "vhost-user");
	memset(&att, 0, sizeof att);
	for (k = 0; k < AETHER_MAX_QUEUES; k++)
		att.tap.fds[k] = att.tap.vhostfds[k] = -1;
	att.kind = AETHER_ATTACH_TAP;
	att.tap.queues = 2;
	snprintf(att.tap.ifname, sizeof att.tap.ifname, "aeq0");
	ck_assert_int_eq(ae_relay_port_open(relay, &att, &p, err, sizeof err),
			 -EINVAL);
	ck_assert_err_has(err, "aeq0 has 2 queues");
	/* a frame attachment whose hooks are not this relay's */
	memset(&att, 0, sizeof att);
	att.kind = AETHER_ATTACH_FRAME;
	ck_assert_int_lt(ae_relay_port_open(relay, &att, &p, err, sizeof err),
			 0);
	ck_assert_ptr_null(p);
}
END_TEST

#ifdef AE_HAVE_VDEPLUG
START_TEST(vde_port_both_ways)
{
	char sock[512], pidf[600], err[256], buf[32];
	struct aether_attachment att;
	struct vde_open_args va = {0};
	VDECONN *peer = NULL;
	uint8_t f[2048];
	uint64_t end;
	pid_t pid;
	int st, i, got;
	char *vs = ae_find_program("vde_switch");

	if (!vs) {
		fprintf(stderr, "check_relay: SKIP vde port: vde_switch not "
				"installed\n");
		return;
	}
	ck_tmp_setup();
	snprintf(sock, sizeof sock, "%s/switch", ck_tmpdir);
	snprintf(pidf, sizeof pidf, "%s/switch.pid", ck_tmpdir);
	pid = fork();
	if (pid == 0) {
		execl(vs, "vde_switch", "-d", "-f", "/dev/null", "-s", sock,
		      "-p", pidf, (char *)NULL);
		_exit(127);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		      "vde_switch failed");
	end = ae_now_ns() + 3000000000ull;
	while (!(peer = vde_open(sock, "check_relay", &va)) &&
	       ae_now_ns() < end)
		usleep(20000);
	ck_assert_msg(peer != NULL, "vde_open %s: %s", sock, strerror(errno));
	memset(&att, 0, sizeof att);
	att.kind = AETHER_ATTACH_VDE;
	att.vde.sock = sock;
	ck_assert_msg(ae_relay_port_open(relay, &att, &ports[0], err,
					 sizeof err) == 0,
		      "vde port: %s", err);
	ae_relay_port_use(relay, ports[0]);
	ck_assert_str_eq(ae_relay_port_describe(ports[0]) + 4, sock);
	for (i = 0; i < 3; i++)
		vm_send(f, seq_frame(f, (uint32_t)i, 1400));
	got = 0;
	end = ae_now_ns() + 5000000000ull;
	while (got < 3 && ae_now_ns() < end) {
		struct pollfd p = {vde_datafd(peer), POLLIN, 0};
		ck_assert_int_ge(ae_relay_run_once(relay, 20), 0);
		while (got < 3 && poll(&p, 1, 0) == 1) {
			ssize_t n = vde_recv(peer, f, sizeof f, 0);
			if (n > 0 && seq_of(f, (size_t)n, 1400) >= 0) {
				ck_assert_int_eq(seq_of(f, (size_t)n, 1400), got);
				got++;
			}
		}
	}
	ck_assert_int_eq(got, 3);
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(vde_send(peer, f, seq_frame(f, 50 + (uint32_t)i, 64), 0),
				 64);
	expect_seq(vmfd, 50, 3, 64);
	vde_close(peer);
	ae_relay_port_use(relay, NULL);
	ae_relay_port_close(ports[0]);
	ports[0] = NULL;
	{
		FILE *fp = fopen(pidf, "r");
		if (fp && fgets(buf, sizeof buf, fp) && atol(buf) > 1)
			kill((pid_t)atol(buf), SIGTERM);
		if (fp)
			fclose(fp);
	}
	free(vs);
	ck_tmp_teardown();
}
END_TEST
#endif


/* A STREAM port (passt's socket): 4-byte big-endian lengths, frames
 * split across reads and several in one read. */
static void be_frame(uint8_t *out, const uint8_t *f, size_t len)
{
	out[0] = (uint8_t)(len >> 24);
	out[1] = (uint8_t)(len >> 16);
	out[2] = (uint8_t)(len >> 8);
	out[3] = (uint8_t)len;
	memcpy(out + 4, f, len);
}

static void stream_exchange(int peer)
{
	static const size_t lens[3] = {64, 1400, 200};
	uint8_t f[2048], wire[3 * 2048], got[4096];
	size_t off = 0, i, want = 0;
	uint64_t end = ae_now_ns() + 5000000000ull;

	/* guest -> stream */
	for (i = 0; i < 3; i++) {
		vm_send(f, seq_frame(f, (uint32_t)i, lens[i]));
		be_frame(wire + want, f, lens[i]);
		want += 4 + lens[i];
	}
	while (off < want && ae_now_ns() < end) {
		ssize_t n;
		ck_assert_int_ge(ae_relay_run_once(relay, 20), 0);
		while ((n = recv(peer, got + off, sizeof got - off,
				 MSG_DONTWAIT)) > 0)
			off += (size_t)n;
	}
	ck_assert_uint_eq(off, want);
	ck_assert(!memcmp(got, wire, want));
	/* stream -> guest: two frames and half of a third in one write,
	 * the rest later */
	want = 0;
	for (i = 0; i < 3; i++) {
		seq_frame(f, 20 + (uint32_t)i, lens[i]);
		be_frame(wire + want, f, lens[i]);
		want += 4 + lens[i];
	}
	off = want - 100;
	ck_assert_int_eq(send(peer, wire, off, 0), (ssize_t)off);
	expect_seq(vmfd, 20, 1, 64);
	expect_seq(vmfd, 21, 1, 1400);
	ck_assert_int_eq(send(peer, wire + off, want - off, 0),
			 (ssize_t)(want - off));
	expect_seq(vmfd, 22, 1, 200);
}

START_TEST(stream_port_fd_and_path)
{
	struct aether_attachment att;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char err[256];
	int sv[2], l, c;

	memset(&att, 0, sizeof att);
	att.kind = AETHER_ATTACH_STREAM;
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
			 0);
	att.stream.fd = sv[0];
	ck_assert_msg(ae_relay_port_open(relay, &att, &ports[0], err,
					 sizeof err) == 0,
		      "stream port: %s", err);
	ck_assert_int_eq(att.stream.fd, -1);
	ck_assert_str_eq(ae_relay_port_describe(ports[0]), "stream fd");
	ae_relay_port_use(relay, ports[0]);
	stream_exchange(sv[1]);
	close(sv[1]);
	/* by path: the port connects */
	ck_tmp_setup();
	ck_assert_int_lt(snprintf(sa.sun_path, sizeof sa.sun_path, "%s/s.sock",
				  ck_tmpdir),
			 (int)sizeof sa.sun_path);
	l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_eq(bind(l, (struct sockaddr *)&sa, sizeof sa), 0);
	ck_assert_int_eq(listen(l, 1), 0);
	memset(&att, 0, sizeof att);
	att.kind = AETHER_ATTACH_STREAM;
	att.stream.fd = -1;
	att.stream.path = sa.sun_path;
	ck_assert_msg(ae_relay_port_open(relay, &att, &ports[1], err,
					 sizeof err) == 0,
		      "stream port: %s", err);
	c = accept(l, NULL, NULL);
	ck_assert_int_ge(c, 0);
	ae_relay_port_use(relay, ports[1]);
	stream_exchange(c);
	close(c);
	close(l);
	att.stream.path = "/nonexistent/s.sock";
	{
		struct ae_relay_port *none = NULL;
		ck_assert_int_eq(ae_relay_port_open(relay, &att, &none, err,
						    sizeof err),
				 -ENOENT);
		ck_assert_ptr_null(none);
	}
	ck_assert_err_has(err, "/nonexistent/s.sock");
	ck_tmp_teardown();
}
END_TEST

static void setup_plain_relay(void)
{
	char err[256];

	ck_assert_int_eq(ae_relay_new(&relay, NULL, err, sizeof err), 0);
	vmfd = ae_relay_hv_fd(relay);
}
/* ---- batching, back-pressure and drops, against a fake frame port ----
 *
 * sendmmsg() is wrapped here (the relay is linked into this program):
 * mm_limit >= 0 sends at most that many frames per call, mm_budget >= 0
 * that many frames in all, then EAGAIN.  Frames carry a sequence number
 * in their first 4 bytes; their length varies with it. */

static int mm_limit = -1, mm_budget = -1;
static unsigned mm_calls;

int sendmmsg(int fd, struct mmsghdr *m, unsigned int n, int flags)
{
	long r;

	mm_calls++;
	if (mm_budget == 0) {
		errno = EAGAIN;
		return -1;
	}
	if (mm_budget > 0 && n > (unsigned)mm_budget)
		n = (unsigned)mm_budget;
	if (mm_limit >= 0 && n > (unsigned)mm_limit)
		n = (unsigned)mm_limit;
	r = syscall(SYS_sendmmsg, fd, m, n, flags);
	if (r > 0 && mm_budget > 0)
		mm_budget -= (int)r;
	return (int)r;
}

static struct {
	unsigned inputs;
	uint32_t next; /* the sequence number expected next */
	int out_of_order;
} fp;
static struct aether_attachment fatt;

static void fp_input(void *port, const void *frame, size_t len)
{
	uint32_t seq;

	ck_assert_ptr_eq(port, &fp);
	ck_assert_uint_ge(len, 4);
	memcpy(&seq, frame, 4);
	fp.out_of_order |= seq != fp.next;
	fp.next = seq + 1;
	fp.inputs++;
}

static int fp_fill(void *port, struct aether_pollfd *fds, unsigned max,
		   int *timeout_ms)
{
	return 0;
}

static void fp_dispatch(void *port, const struct aether_pollfd *fds,
			unsigned n)
{
}

static const struct aether_frame_ops fp_ops = {
	.struct_size = sizeof fp_ops,
	.input = fp_input,
	.fill = fp_fill,
	.dispatch = fp_dispatch,
};

static void setup_fake(void)
{
	char err[256];

	mm_limit = mm_budget = -1;
	mm_calls = 0;
	memset(&fp, 0, sizeof fp);
	memset(&fatt, 0, sizeof fatt);
	fatt.struct_size = sizeof fatt;
	ck_assert_int_eq(ae_relay_new(&relay, &fatt, err, sizeof err), 0);
	fatt.kind = AETHER_ATTACH_FRAME;
	fatt.frame.port = &fp;
	fatt.frame.ops = &fp_ops;
	ck_assert_msg(ae_relay_bind(relay, &fatt, err, sizeof err) == 0,
		      "bind: %s", err);
	vmfd = ae_relay_hv_fd(relay);
	fcntl(vmfd, F_SETFL, fcntl(vmfd, F_GETFL) | O_NONBLOCK);
}

static void teardown_fake(void)
{
	mm_limit = mm_budget = -1;
	ae_relay_free(relay);
	relay = NULL;
	vmfd = -1;
}

static size_t seq_len(uint32_t seq, size_t base)
{
	return base + seq % 7;
}

/* The plugin sends frame seq of about base bytes; output()'s result. */
static int out_seq(uint32_t seq, size_t base)
{
	static uint8_t f[65536];

	memset(f, (int)(seq & 0xff), sizeof f);
	memcpy(f, &seq, 4);
	return fatt.frame.output(fatt.frame.sink, f, seq_len(seq, base));
}

/* Run the relay and read what reaches the VM until `want` frames came or
 * nothing more comes; each must be the next in sequence with its length
 * and contents.  *next: the sequence number expected next; returns the
 * number of frames and adds their bytes to *bytes. */
static unsigned vm_drain(uint32_t *next, size_t base, unsigned want,
			 uint64_t *bytes)
{
	static uint8_t f[65536 + 1];
	unsigned got = 0, idle = 0;

	while (got < want && idle < 20) {
		ssize_t n;
		int any = 0;

		ck_assert_int_ge(ae_relay_run_once(relay, 10), 0);
		while ((n = recv(vmfd, f, sizeof f, MSG_DONTWAIT)) > 0) {
			uint32_t seq;

			memcpy(&seq, f, 4);
			ck_assert_uint_eq(seq, *next);
			ck_assert_uint_eq((size_t)n, seq_len(seq, base));
			ck_assert_uint_eq(f[n - 1], seq & 0xff);
			(*next)++;
			*bytes += (uint64_t)n;
			got++;
			any = 1;
		}
		idle = any ? 0 : idle + 1;
	}
	return got;
}

/* A burst far larger than a batch, the relay's queue and the socket's
 * buffer (about 8 MiB here: 30 kB frames) while the VM does not read:
 * output() accepts until both are full, then says -EAGAIN and counts each
 * refused frame as a drop.  Every accepted frame reaches the VM, in
 * order; the counters add up exactly. */
START_TEST(burst_beyond_queue_and_socket)
{
	struct ae_relay_stats st;
	unsigned accepted = 0, refused = 0, n, i;
	uint32_t next = 0;
	uint64_t bytes = 0, want_bytes = 0;

	for (i = 0; i < 2000; i++) {
		int rc = out_seq(accepted, 30000);

		if (rc == 0) {
			want_bytes += seq_len(accepted, 30000);
			accepted++;
		} else {
			ck_assert_int_eq(rc, -EAGAIN);
			refused++;
		}
	}
	ck_assert_uint_gt(refused, 0);
	ck_assert_uint_gt(accepted, AE_RELAY_TXQ); /* the socket took some */
	ae_relay_get_stats(relay, &st);
	ck_assert_uint_eq(st.drops[AE_RELAY_TO_GUEST], refused);
	n = vm_drain(&next, 30000, accepted + 1, &bytes);
	ck_assert_uint_eq(n, accepted);
	ck_assert_uint_eq(bytes, want_bytes);
	ae_relay_get_stats(relay, &st);
	ck_assert_uint_eq(st.frames[AE_RELAY_TO_GUEST], accepted);
	ck_assert_uint_eq(st.bytes[AE_RELAY_TO_GUEST], want_bytes);
	ck_assert_uint_eq(st.drops[AE_RELAY_TO_GUEST], refused);
}
END_TEST

/* sendmmsg sends only 3 frames per call: nothing is lost or reordered. */
START_TEST(partial_sends)
{
	struct ae_relay_stats st;
	uint32_t next = 0, seq;
	uint64_t bytes = 0;
	unsigned got = 0;

	mm_limit = 3;
	for (seq = 0; seq < 300; seq++) {
		ck_assert_int_eq(out_seq(seq, 100), 0);
		if (seq % 50 == 49)
			got += vm_drain(&next, 100, seq + 1 - got, &bytes);
	}
	got += vm_drain(&next, 100, 300 - got, &bytes);
	ck_assert_uint_eq(got, 300);
	ck_assert_uint_ge(mm_calls, 100);
	ae_relay_get_stats(relay, &st);
	ck_assert_uint_eq(st.frames[AE_RELAY_TO_GUEST], 300);
	ck_assert_uint_eq(st.bytes[AE_RELAY_TO_GUEST], bytes);
	ck_assert_uint_eq(st.drops[AE_RELAY_TO_GUEST], 0);
}
END_TEST

/* The socket takes 10 frames of a batch, then says EAGAIN: the rest stay
 * queued (no send is tried until POLLOUT), later frames queue behind
 * them, and all arrive in order once the socket takes them again. */
START_TEST(eagain_mid_batch)
{
	struct ae_relay_stats st;
	uint32_t next = 0, seq;
	uint64_t bytes = 0;

	ck_assert_int_gt(AE_RELAY_BATCH, 10);
	mm_budget = 10;
	for (seq = 0; seq < AE_RELAY_BATCH; seq++) /* flushed at once */
		ck_assert_int_eq(out_seq(seq, 64), 0);
	ck_assert_uint_eq(mm_calls, 1);
	for (; seq < 100; seq++)
		ck_assert_int_eq(out_seq(seq, 64), 0);
	ck_assert_uint_eq(mm_calls, 1); /* blocked: no send tried */
	ae_relay_get_stats(relay, &st);
	ck_assert_uint_eq(st.frames[AE_RELAY_TO_GUEST], 10);
	ck_assert_uint_eq(vm_drain(&next, 64, 10, &bytes), 10);
	mm_budget = -1;
	ck_assert_uint_eq(vm_drain(&next, 64, 90, &bytes), 90);
	ck_assert_uint_eq(vm_drain(&next, 64, 1, &bytes), 0);
	ae_relay_get_stats(relay, &st);
	ck_assert_uint_eq(st.frames[AE_RELAY_TO_GUEST], 100);
	ck_assert_uint_eq(st.bytes[AE_RELAY_TO_GUEST], bytes);
	ck_assert_uint_eq(st.drops[AE_RELAY_TO_GUEST], 0);
}
END_TEST

/* QEMU closes its end (a datagram socketpair shows no POLLHUP for it):
 * the queued frames are dropped and counted, and output() says -EPIPE
 * from then on, counting each frame. */
START_TEST(epipe_when_peer_closes)
{
	struct ae_relay_stats st;
	uint32_t seq;

	for (seq = 0; seq < AE_RELAY_BATCH + 8; seq++) /* a batch sent, */
		ck_assert_int_eq(out_seq(seq, 64), 0); /* 8 queued */
	ae_relay_get_stats(relay, &st);
	ck_assert_uint_eq(st.frames[AE_RELAY_TO_GUEST], AE_RELAY_BATCH);
	ae_relay_close_hv_fd(relay);
	vmfd = -1;
	ck_assert_int_ge(ae_relay_run_once(relay, 0), 0);
	ck_assert_int_eq(out_seq(seq++, 64), -EPIPE);
	ck_assert_int_eq(out_seq(seq++, 64), -EPIPE);
	ae_relay_get_stats(relay, &st);
	ck_assert_uint_eq(st.frames[AE_RELAY_TO_GUEST], AE_RELAY_BATCH);
	ck_assert_uint_eq(st.drops[AE_RELAY_TO_GUEST], 8 + 2);
}
END_TEST

/* A burst from the VM far larger than one batch and than one wake-up's
 * reads, with empty datagrams among it: every frame reaches the port in
 * order, each empty one is counted as a drop. */
START_TEST(burst_from_vm)
{
	struct ae_relay_stats st;
	uint8_t f[256] = {0};
	uint32_t seq;
	unsigned empties = 0, i, idle = 0;

	for (seq = 0; seq < 3000; seq++) {
		memcpy(f, &seq, 4);
		ck_assert_int_eq(send(vmfd, f, seq_len(seq, 60), 0),
				 (ssize_t)seq_len(seq, 60));
		if (seq % 100 == 0) {
			ck_assert_int_eq(send(vmfd, f, 0, 0), 0);
			empties++;
		}
	}
	for (i = 0; fp.inputs < 3000 && idle < 20; i++) {
		unsigned before = fp.inputs;
		ck_assert_int_ge(ae_relay_run_once(relay, 10), 0);
		idle = fp.inputs == before ? idle + 1 : 0;
	}
	ck_assert_uint_gt(i, 1); /* more than one wake-up's worth */
	ck_assert_uint_eq(fp.inputs, 3000);
	ck_assert_int_eq(fp.out_of_order, 0);
	ae_relay_get_stats(relay, &st);
	ck_assert_uint_eq(st.frames[AE_RELAY_TO_NET], 3000);
	ck_assert_uint_eq(st.drops[AE_RELAY_TO_NET], empties);
}
END_TEST

static Suite *relay_suite(void)
{
	Suite *s = suite_create("relay");
	TCase *tc = tcase_create("libslirp");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, dhcp_offer);
	tcase_add_test(tc, arp_gateway);
	tcase_add_test(tc, icmp_echo_gateway);
	tcase_add_test(tc, udp_loopback_round_trip);
	tcase_add_test(tc, drops_counted);
	tcase_add_test(tc, argv_dgram_fd);
	tcase_add_test(tc, abi10_next_to_frame_port);
	tcase_add_test(tc, forward_verb);
	suite_add_tcase(s, tc);
	tc = tcase_create("options");
	tcase_add_checked_fixture(tc, setup_custom, teardown);
	tcase_add_test(tc, dhcp_custom_network);
	suite_add_tcase(s, tc);
	tc = tcase_create("restrict");
	tcase_add_checked_fixture(tc, setup_restrict, teardown);
	tcase_add_test(tc, restrict_blocks_host);
	suite_add_tcase(s, tc);
	tc = tcase_create("ipv6");
	tcase_add_checked_fixture(tc, setup_ipv6, teardown);
	tcase_add_test(tc, ipv6_router_advert);
	suite_add_tcase(s, tc);
	tc = tcase_create("tap-port");
	tcase_add_checked_fixture(tc, setup_netns, teardown_ports);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, tap_port_both_ways);
	tcase_add_test(tc, tap_port_repoint_mid_stream);
	tcase_add_test(tc, port_refusals);
	suite_add_tcase(s, tc);
#ifdef AE_HAVE_VDEPLUG
	tc = tcase_create("vde-port");
	tcase_add_checked_fixture(tc, setup_plain_relay, teardown_ports);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, vde_port_both_ways);
	suite_add_tcase(s, tc);
#endif
	tc = tcase_create("stream-port");
	tcase_add_checked_fixture(tc, setup_plain_relay, teardown_ports);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, stream_port_fd_and_path);
	suite_add_tcase(s, tc);
	tc = tcase_create("batching");
	tcase_add_checked_fixture(tc, setup_fake, teardown_fake);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, burst_beyond_queue_and_socket);
	tcase_add_test(tc, partial_sends);
	tcase_add_test(tc, eagain_mid_batch);
	tcase_add_test(tc, epipe_when_peer_closes);
	tcase_add_test(tc, burst_from_vm);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return ck_run_suite(relay_suite());
}
