/* check_net.c - managed networks: [net.NAME] parsing and its errors
 * (file, line, key), overlap detection, the address pool (lowest free,
 * clones distinct, 1000 reserve/release cycles on a /24), the lease file
 * reader, and, in a private network namespace of a forked test (root),
 * the bridge, the host route check and a whole network brought up and
 * down with dnsmasq. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check-main.h"
#include "addrpool.h"
#include "bridge.h"
#include "conffile.h"
#include "dnsmasq.h"
#include "net.h"
#include "runtime.h"
#include "vmconf.h"

static int load_text(const char *text, struct ae_netconf *nc, char *err,
		     size_t errlen)
{
	struct ae_ini *ini;
	int rc;

	ck_assert_int_eq(ae_ini_parse_text(text, strlen(text), "host.conf",
					   &ini, err, errlen),
			 0);
	rc = ae_netconf_load(ini, nc, err, errlen);
	ae_ini_free(ini);
	return rc;
}

/* ---- config ---- */

START_TEST(conf_full)
{
	struct ae_netconf nc;
	const struct ae_net *n;
	char err[512];

	ck_assert_int_eq(load_text("[net.default]\n"
				   "subnet = 192.168.100.0/24\n"
				   "ipv6 = fd42:1:2:3::/64\n"
				   "[net.lab-2]\n"
				   "subnet = 10.20.0.0/16\n"
				   "nat = no\n"
				   "dns_domain = lab.example\n"
				   "bridge = brlab\n"
				   "ephemeral = yes\n",
				   &nc, err, sizeof err),
			 0);
	ck_assert_uint_eq(nc.n, 2);
	n = ae_netconf_find(&nc, "default");
	ck_assert_ptr_nonnull(n);
	ck_assert_str_eq(n->subnet4, "192.168.100.0/24");
	ck_assert_str_eq(n->gw4, "192.168.100.1");
	ck_assert_uint_eq(n->first, 0xc0a86402u);
	ck_assert_uint_eq(n->last, 0xc0a864feu);
	ck_assert_int_eq(n->has6, 1);
	ck_assert_str_eq(n->subnet6, "fd42:1:2:3::/64");
	ck_assert_str_eq(n->gw6, "fd42:1:2:3::1");
	ck_assert_int_eq(n->nat, 1);
	ck_assert_int_eq(n->ephemeral, 0);
	ck_assert_str_eq(n->domain, "default.aether");
	ck_assert_str_eq(n->bridge, "aendefault");
	ck_assert_int_eq(n->line, 1);
	n = ae_netconf_find(&nc, "lab-2");
	ck_assert_ptr_nonnull(n);
	ck_assert_int_eq(n->has6, 0);
	ck_assert_int_eq(n->nat, 0);
	ck_assert_int_eq(n->ephemeral, 1);
	ck_assert_str_eq(n->domain, "lab.example");
	ck_assert_str_eq(n->bridge, "brlab");
	ck_assert_str_eq(n->gw4, "10.20.0.1");
	ck_assert_uint_eq(n->last, 0x0a14fffeu);
	ck_assert_ptr_null(ae_netconf_find(&nc, "lab"));
	ae_netconf_free(&nc);
}
END_TEST

static const struct {
	const char *text, *want1, *want2;
} bad_confs[] = {
	{"[net.a]\nnat = yes\n", "host.conf:1:", "subnet is required"},
	{"[net.a]\nsubnet = 10.0.0.0/30\n", "host.conf:2: subnet:", "16..29"},
	{"[net.a]\nsubnet = 10.0.0.0/8\n", "host.conf:2: subnet:", "16..29"},
	{"[net.a]\nsubnet = 10.0.0.1/24\n", "host.conf:2: subnet:",
	 "host bits"},
	{"[net.a]\nsubnet = 10.0.0.0\n", "host.conf:2: subnet:",
	 "not an IPv4 subnet"},
	{"[net.a]\nsubnet = 10.0.0.0/24x\n", "host.conf:2: subnet:",
	 "not an IPv4 subnet"},
	{"[net.a]\nsubnet = fd00::/64\n", "host.conf:2: subnet:",
	 "not an IPv4 subnet"},
	{"[net.a]\nsubnet = 10.0.0.0/24\nipv6 = fd42::/48\n",
	 "host.conf:3: ipv6:", "not a /64"},
	{"[net.a]\nsubnet = 10.0.0.0/24\nipv6 = fd42::1/64\n",
	 "host.conf:3: ipv6:", "host bits"},
	{"[net.a]\nsubnet = 10.0.0.0/24\nipv6 = fe80::/64\n",
	 "host.conf:3: ipv6:", "link-local"},
	{"[net.a]\nsubnet = 10.0.0.0/24\nipv6 = nonsense\n",
	 "host.conf:3: ipv6:", "not an IPv6 prefix"},
	{"[net.a]\nsubnet = 10.0.0.0/24\nnat = maybe\n", "host.conf:3: nat:",
	 "not a boolean"},
	{"[net.a]\nsubnet = 10.0.0.0/24\nephemeral = 2\n",
	 "host.conf:3: ephemeral:", "not a boolean"},
	{"[net.a]\nsubnet = 10.0.0.0/24\ndns_domain = bad_domain\n",
	 "host.conf:3: dns_domain:", "not a DNS domain"},
	{"[net.a]\nsubnet = 10.0.0.0/24\ndns_domain = -x.y\n",
	 "host.conf:3: dns_domain:", "not a DNS domain"},
	{"[net.a]\nsubnet = 10.0.0.0/24\nbridge = a/b\n",
	 "host.conf:3: bridge:", "not a valid interface name"},
	{"[net.a]\nsubnet = 10.0.0.0/24\nbridge = abcdefghijklmnop\n",
	 "host.conf:3: bridge:", "not a valid interface name"},
	{"[net.a]\nsubnet = 10.0.0.0/24\ncolour = blue\n",
	 "host.conf:3: unknown key 'colour'", "[net.a]"},
	{"[net.a]\nsubnet = 10.0.0.0/24\nsubnet = 10.1.0.0/24\n",
	 "host.conf:3: key 'subnet' given twice", "line 2"},
	{"[net.Upper]\nsubnet = 10.0.0.0/24\n", "host.conf:1:",
	 "not a network name"},
	{"[net.toolongname12]\nsubnet = 10.0.0.0/24\n", "host.conf:1:",
	 "not a network name"},
	{"[net.-a]\nsubnet = 10.0.0.0/24\n", "host.conf:1:",
	 "not a network name"},
	{"[net.a]\nsubnet = 10.0.0.0/24\n[net.b]\nsubnet = 10.0.0.128/25\n",
	 "host.conf:4: subnet:", "overlaps"},
	{"[net.a]\nsubnet = 10.0.0.0/16\n[net.b]\nsubnet = 10.0.7.0/24\n",
	 "host.conf:4: subnet:", "[net.a] (10.0.0.0/16, line 1)"},
	{"[net.a]\nsubnet = 10.0.0.0/24\nipv6 = fd00:1::/64\n"
	 "[net.b]\nsubnet = 10.1.0.0/24\nipv6 = fd00:1::/64\n",
	 "host.conf:6: ipv6:", "overlaps"},
	{"[net.a]\nsubnet = 10.0.0.0/24\nbridge = br9\n"
	 "[net.b]\nsubnet = 10.1.0.0/24\nbridge = br9\n",
	 "host.conf:6: bridge:", "is also that of [net.a]"},
	{"[net.a]\nsubnet = 10.0.0.0/24\n[net.a]\nsubnet = 10.1.0.0/24\n",
	 "host.conf:4:", "given twice"},
};

START_TEST(conf_errors)
{
	struct ae_netconf nc;
	char err[512] = "";

	ck_assert_int_lt(load_text(bad_confs[_i].text, &nc, err, sizeof err),
			 0);
	ck_assert_err_has(err, bad_confs[_i].want1);
	ck_assert_err_has(err, bad_confs[_i].want2);
	ck_assert_ptr_null(nc.v);
}
END_TEST

START_TEST(conf_none)
{
	struct ae_netconf nc;
	char err[64];

	ck_assert_int_eq(ae_netconf_load(NULL, &nc, err, sizeof err), 0);
	ck_assert_uint_eq(nc.n, 0);
	ck_assert_int_eq(load_text("[vm]\nmemory = 64\n", &nc, err, sizeof err),
			 0);
	ck_assert_uint_eq(nc.n, 0);
}
END_TEST

START_TEST(host_default)
{
	struct ae_netconf nc;
	struct ae_ini *ini;
	char err[512] = "";
	static const char *const texts[] = {
		"[network.tap]\nnetwork = lab\n[net.lab]\nsubnet = 10.0.0.0/24\n",
		"[network.tap]\nnetwork = lab\nbridge = br0\n"
		"[net.lab]\nsubnet = 10.0.0.0/24\n",
		"[network.tap]\nnetwork = lab\n[net.lan]\nsubnet = 10.0.0.0/24\n",
	};
	static const int want[] = {0, -EINVAL, -ENOENT};
	size_t i;

	for (i = 0; i < AE_ARRAY_SIZE(texts); i++) {
		ck_assert_int_eq(ae_ini_parse_text(texts[i], strlen(texts[i]),
						   "host.conf", &ini, err,
						   sizeof err), 0);
		ck_assert_int_eq(ae_netconf_load(ini, &nc, err, sizeof err), 0);
		ck_assert_int_eq(ae_net_check_default(ini, &nc, err, sizeof err),
				 want[i]);
		ae_netconf_free(&nc);
		ae_ini_free(ini);
	}
	ck_assert_err_has(err, "host.conf:2: network: no [net.lab]");
}
END_TEST

START_TEST(names_and_overlap)
{
	struct in6_addr a, b;

	ck_assert(ae_net_valid_name("default"));
	ck_assert(ae_net_valid_name("a"));
	ck_assert(ae_net_valid_name("n0_x-y"));
	ck_assert(!ae_net_valid_name(""));
	ck_assert(!ae_net_valid_name("_a"));
	ck_assert(!ae_net_valid_name("A"));
	ck_assert(!ae_net_valid_name("a.b"));
	ck_assert(!ae_net_valid_name("abcdefghijkl"));
	ck_assert(ae_net_valid_domain("default.aether"));
	ck_assert(ae_net_valid_domain("x"));
	ck_assert(!ae_net_valid_domain("a..b"));
	ck_assert(!ae_net_valid_domain("a.b."));
	ck_assert(!ae_net_valid_domain("a-.b"));
	ck_assert(!ae_net_valid_domain("a b"));
	ck_assert(ae_net_overlap4(0x0a000000, 8, 0x0a010000, 24));
	ck_assert(ae_net_overlap4(0x0a010000, 24, 0x0a000000, 8));
	ck_assert(!ae_net_overlap4(0x0a010000, 24, 0x0a010100, 24));
	ck_assert(ae_net_overlap4(0xc0a86400, 24, 0xc0a86480, 25));
	ck_assert(!ae_net_overlap4(0xc0a86400, 25, 0xc0a86480, 25));
	inet_pton(AF_INET6, "fd42:1:2:3::", &a);
	inet_pton(AF_INET6, "fd42:1:2::", &b);
	ck_assert(ae_net_overlap6(&a, 64, &b, 48));
	ck_assert(!ae_net_overlap6(&a, 64, &b, 64));
}
END_TEST

/* ---- network = NAME in a VM's [network.tap] ---- */

static int vm_load(const char *vmtail, char *err, size_t errlen,
		   struct ae_vmconf **c)
{
	const char *host = ck_write("host.conf", "[net.lab]\n"
						 "subnet = 10.5.0.0/24\n");

	ck_write("kernel", "k");
	ck_writef("vm.conf", "[vm]\nname = v1\nkernel = %s\n%s",
		  ck_path("kernel"), vmtail);
	return ae_vmconf_load(ck_path("vm.conf"), host, c, err, errlen);
}

START_TEST(vm_network)
{
	struct ae_vmconf *c = NULL;
	char err[1024] = "";

	ck_assert_msg(vm_load("[network]\nbackend = tap\n[network.tap]\n"
			      "network = lab\n", err, sizeof err, &c) == 0,
		      "%s", err);
	ck_assert_str_eq(c->network, "lab");
	ae_vmconf_free(c);
	c = NULL;
	ck_assert_msg(vm_load("[network]\nbackend = tap\n", err, sizeof err,
			      &c) == 0, "%s", err);
	ck_assert_ptr_null(c->network);
	ae_vmconf_free(c);
	c = NULL;
	/* with bridge: the error names bridge, where, and the network */
	ck_assert_int_lt(vm_load("[network]\nbackend = tap\n[network.tap]\n"
				 "network = lab\nbridge = br0\n",
				 err, sizeof err, &c), 0);
	ck_assert_err_has(err, "vm.conf:8: bridge: not with network = lab");
	/* one in the VM file, the other a host default: the VM file wins */
	ck_write("host2.conf", "[network.tap]\nnetwork = lab\n"
			       "[net.lab]\nsubnet = 10.5.0.0/24\n");
	ck_writef("vm2.conf", "[vm]\nname = v2\nkernel = %s\n[network]\n"
			      "backend = tap\n[network.tap]\nbridge = br7\n",
		  ck_path("kernel"));
	ck_assert_msg(ae_vmconf_load(ck_path("vm2.conf"), ck_path("host2.conf"),
				     &c, err, sizeof err) == 0, "%s", err);
	ck_assert_ptr_null(c->network);
	ck_assert_ptr_null(ae_ini_get(&c->backend_section, "network"));
	ck_assert_str_eq(ae_ini_get(&c->backend_section, "bridge")->value,
			 "br7");
	ae_vmconf_free(c);
	c = NULL;
	ck_write("host3.conf", "[network.tap]\nbridge = br8\n"
			       "[net.lab]\nsubnet = 10.5.0.0/24\n");
	ck_writef("vm3.conf", "[vm]\nname = v3\nkernel = %s\n[network]\n"
			      "backend = tap\n[network.tap]\nnetwork = lab\n",
		  ck_path("kernel"));
	ck_assert_msg(ae_vmconf_load(ck_path("vm3.conf"), ck_path("host3.conf"),
				     &c, err, sizeof err) == 0, "%s", err);
	ck_assert_str_eq(c->network, "lab");
	ck_assert_ptr_null(ae_ini_get(&c->backend_section, "bridge"));
	ae_vmconf_free(c);
	c = NULL;
	/* a network the host config does not have */
	ck_assert_int_lt(vm_load("[network]\nbackend = tap\n[network.tap]\n"
				 "network = nope\n", err, sizeof err, &c), 0);
	ck_assert_err_has(err, "vm.conf:7: network: no [net.nope]");
	ck_assert_int_lt(vm_load("[network]\nbackend = tap\n[network.tap]\n"
				 "network = Bad!\n", err, sizeof err, &c), 0);
	ck_assert_err_has(err, "vm.conf:7: network: 'Bad!' is not a network");
	/* only the tap backend joins managed networks */
	ck_assert_int_lt(vm_load("[network]\nbackend = vde\n[network.vde]\n"
				 "network = lab\n", err, sizeof err, &c), 0);
	ck_assert_err_has(err, "vm.conf:7: network: managed networks are for "
			       "the tap backend");
}
END_TEST

/* ---- the pool ---- */

static void mac_of(unsigned i, uint8_t mac[6])
{
	mac[0] = 0x52;
	mac[1] = 0x54;
	mac[2] = 0x00;
	mac[3] = (uint8_t)(i >> 16);
	mac[4] = (uint8_t)(i >> 8);
	mac[5] = (uint8_t)i;
}

static uint32_t reserve(const char *dir, uint32_t first, uint32_t last,
			const char *vm, unsigned macno)
{
	uint8_t mac[6];
	uint32_t a = 0;
	int changed;
	char err[256];

	mac_of(macno, mac);
	ck_assert_msg(ae_pool_reserve(dir, first, last, vm, mac, &a, &changed,
				      err, sizeof err) == 0,
		      "reserve %s: %s", vm, err);
	return a;
}

START_TEST(pool_basic)
{
	const char *dir = ck_path("");
	uint32_t first = 0xc0a86402, last = 0xc0a864fe, a;
	struct ae_resv *v;
	size_t n;
	uint8_t mac[6];
	int changed;
	char err[256];

	ck_assert_uint_eq(reserve(dir, first, last, "vm1", 1), first);
	ck_assert_uint_eq(reserve(dir, first, last, "vm2", 2), first + 1);
	ck_assert_uint_eq(reserve(dir, first, last, "vm3", 3), first + 2);
	/* the same VM keeps its address, and the file does not change */
	mac_of(2, mac);
	ck_assert_int_eq(ae_pool_reserve(dir, first, last, "vm2", mac, &a,
					 &changed, err, sizeof err), 0);
	ck_assert_uint_eq(a, first + 1);
	ck_assert_int_eq(changed, 0);
	/* a clone: other name, other MAC, other address */
	ck_assert_uint_eq(reserve(dir, first, last, "vm2-clone", 4), first + 3);
	/* a MAC another VM holds */
	mac_of(1, mac);
	ck_assert_int_eq(ae_pool_reserve(dir, first, last, "vm9", mac, &a,
					 &changed, err, sizeof err), -EEXIST);
	ck_assert_err_has(err, "vm1");
	/* release frees it for the next one: the lowest free address */
	ck_assert_int_eq(ae_pool_release(dir, "vm2", &changed, err, sizeof err),
			 0);
	ck_assert_int_eq(changed, 1);
	ck_assert_int_eq(ae_pool_release(dir, "vm2", &changed, err, sizeof err),
			 0);
	ck_assert_int_eq(changed, 0);
	ck_assert_uint_eq(reserve(dir, first, last, "vm5", 5), first + 1);
	ck_assert_int_eq(ae_pool_read(dir, &v, &n, err, sizeof err), 0);
	ck_assert_uint_eq(n, 4);
	ck_assert_str_eq(v[0].vm, "vm1");
	ck_assert_str_eq(v[1].vm, "vm5");
	ck_assert_uint_eq(v[1].addr, first + 1);
	ck_assert_uint_eq(v[1].mac[5], 5);
	free(v);
	/* a VM whose MAC changed keeps its address */
	ck_assert_uint_eq(reserve(dir, first, last, "vm5", 55), first + 1);
	ck_assert_int_eq(ae_pool_read(dir, &v, &n, err, sizeof err), 0);
	ck_assert_uint_eq(v[1].mac[5], 55);
	free(v);
}
END_TEST

START_TEST(pool_full)
{
	const char *dir = ck_path("");
	/* 10.0.0.0/29: pool .2 .. .6 */
	uint32_t first = 0x0a000002, last = 0x0a000006, a;
	uint8_t mac[6];
	char vm[16], err[256];
	int i, changed;

	for (i = 0; i < 5; i++) {
		snprintf(vm, sizeof vm, "v%d", i);
		ck_assert_uint_eq(reserve(dir, first, last, vm, (unsigned)i + 1),
				  first + (uint32_t)i);
	}
	mac_of(99, mac);
	ck_assert_int_eq(ae_pool_reserve(dir, first, last, "v5", mac, &a,
					 &changed, err, sizeof err), -ENOSPC);
	ck_assert_err_has(err, "no free address");
	ck_assert_int_eq(ae_pool_release(dir, "v3", &changed, err, sizeof err),
			 0);
	ck_assert_uint_eq(reserve(dir, first, last, "v5", 99), first + 3);
}
END_TEST

/* 1000 create/delete cycles on a /24 (253 addresses) with a few VMs that
 * stay: never exhausted, every new VM gets the lowest free address. */
START_TEST(pool_cycles)
{
	const char *dir = ck_path("");
	uint32_t first = 0xc0a86402, last = 0xc0a864fe, a;
	struct ae_resv *v;
	char vm[32], err[256];
	size_t n;
	int i, changed;

	ck_assert_uint_eq(reserve(dir, first, last, "keep1", 100000), first);
	ck_assert_uint_eq(reserve(dir, first, last, "keep2", 100001),
			  first + 1);
	for (i = 0; i < 1000; i++) {
		snprintf(vm, sizeof vm, "cycle-%d", i);
		a = reserve(dir, first, last, vm, (unsigned)i + 1);
		ck_assert_uint_eq(a, first + 2);
		ck_assert_int_eq(ae_pool_release(dir, vm, &changed, err,
						 sizeof err), 0);
		ck_assert_int_eq(changed, 1);
	}
	ck_assert_int_eq(ae_pool_read(dir, &v, &n, err, sizeof err), 0);
	ck_assert_uint_eq(n, 2);
	free(v);
}
END_TEST

START_TEST(pool_corrupt)
{
	struct ae_resv *v;
	size_t n;
	char err[256];

	ck_write("reservations", "# c\nvm1 52:54:00:00:00:01 10.0.0.2\n"
				 "vm2 nonsense 10.0.0.3\n");
	ck_assert_int_eq(ae_pool_read(ck_path(""), &v, &n, err, sizeof err),
			 -EINVAL);
	ck_assert_err_has(err, "reservations:3:");
}
END_TEST

/* ---- dnsmasq files ---- */

START_TEST(dnsmasq_files)
{
	struct ae_netconf nc;
	struct ae_resv r[3] = {{"web", {0x52, 0x54, 0, 0, 0, 1}, 0xc0a86402},
			       {"db.x", {0x52, 0x54, 0, 0, 0, 2}, 0xc0a86403},
			       {"Mail2", {0x52, 0x54, 0, 0, 0, 3}, 0xc0a86404}};
	char err[256], *text;
	size_t len;

	ck_assert_int_eq(load_text("[net.n1]\nsubnet = 192.168.100.0/24\n"
				   "ipv6 = fd42:1:2:3::/64\n",
				   &nc, err, sizeof err), 0);
	text = ae_dnsmasq_conf_text(&nc.v[0], "/run/x/net/n1", "dnsmasq");
	ck_assert_err_has(text, "\ninterface=aenn1\n");
	ck_assert_err_has(text, "\nbind-interfaces\n");
	ck_assert_err_has(text, "\nexcept-interface=lo\n");
	ck_assert_err_has(text, "\ndhcp-range=192.168.100.0,static,"
				"255.255.255.0,");
	ck_assert_err_has(text, "\ndhcp-hostsfile=/run/x/net/n1/dhcp-hosts\n");
	ck_assert_err_has(text, "\naddn-hosts=/run/x/net/n1/hosts\n");
	ck_assert_err_has(text, "\nlocal=/n1.aether/\n");
	ck_assert_err_has(text, "\ndomain=n1.aether\n");
	ck_assert_err_has(text, "\nenable-ra\n");
	ck_assert_err_has(text, "constructor:aenn1,ra-stateless");
	ck_assert_err_has(text, "\ndhcp-leasefile=/run/x/net/n1/leases\n");
	ck_assert_err_has(text, "\npid-file=/run/x/net/n1/dnsmasq.pid\n");
	ck_assert_err_has(text, "\nuser=dnsmasq\n");
	ck_assert_ptr_null(strstr(text, "dhcp-range=192.168.100.2"));
	free(text);
	ck_assert_int_eq(ae_dnsmasq_write_hosts(&nc.v[0], ck_path(""), r, 3,
						err, sizeof err), 0);
	ck_assert_int_eq(ae_read_file(ck_path("hosts"), &text, &len, 4096), 0);
	/* db.x is not a DNS label: no name, the address still leases */
	ck_assert_str_eq(text, "192.168.100.2 web.n1.aether web\n"
			       "192.168.100.4 mail2.n1.aether mail2\n");
	free(text);
	ck_assert_int_eq(ae_read_file(ck_path("dhcp-hosts"), &text, &len, 4096),
			 0);
	ck_assert_str_eq(text, "52:54:00:00:00:01,192.168.100.2\n"
			       "52:54:00:00:00:02,192.168.100.3\n"
			       "52:54:00:00:00:03,192.168.100.4\n");
	free(text);
	ae_netconf_free(&nc);
}
END_TEST

START_TEST(leases)
{
	uint8_t mac[6] = {0x52, 0x54, 0, 0xab, 0, 1};

	ck_writef("leases",
		  "%lld 52:54:00:ab:00:01 10.0.0.2 web 01:52:54:00:ab:00:01\n"
		  "%lld 52:54:00:ab:00:02 10.0.0.3 old *\n"
		  "0 52:54:00:ab:00:03 10.0.0.4 forever *\n",
		  (long long)time(NULL) + 3600, (long long)time(NULL) - 10);
	ck_assert_int_eq(ae_dnsmasq_leased(ck_path(""), mac, 0x0a000002), 1);
	ck_assert_int_eq(ae_dnsmasq_leased(ck_path(""), mac, 0x0a000003), 0);
	mac[5] = 2; /* expired */
	ck_assert_int_eq(ae_dnsmasq_leased(ck_path(""), mac, 0x0a000003), 0);
	mac[5] = 3;
	ck_assert_int_eq(ae_dnsmasq_leased(ck_path(""), mac, 0x0a000004), 1);
	ck_assert_int_eq(ae_dnsmasq_leased(ck_path("none"), mac, 0x0a000004), 0);
}
END_TEST

/* ---- in a private network namespace ---- */

static int ns_ok;
static char ns_why[256];

#define NETNS()                                                               \
	do {                                                                  \
		if (!ns_ok)                                                   \
			CK_SKIP_TEST("needs root and a private network "      \
				     "namespace: %s", ns_why);                \
		ck_assert_msg(unshare(CLONE_NEWNET) == 0, "unshare: %s",      \
			      strerror(errno));                               \
	} while (0)

START_TEST(bridge_ops)
{
	char err[512];

	NETNS();
	ck_assert_int_eq(ae_bridge_probe("aentest", "aether-net:x:test"), 0);
	ck_assert_msg(ae_bridge_create("aentest", "aether-net:x:test",
				       "10.77.0.1", 24, "fd77::1", err,
				       sizeof err) == 0, "%s", err);
	ck_assert_int_eq(ae_bridge_probe("aentest", "aether-net:x:test"), 1);
	/* someone else's alias: not ours */
	ck_assert_int_eq(ae_bridge_probe("aentest", "aether-net:y:test"),
			 -EEXIST);
	ck_assert_int_eq(ae_bridge_create("aentest", "aether-net:x:test",
					  "10.78.0.1", 24, NULL, err,
					  sizeof err), -EEXIST);
	ck_assert_err_has(err, "aentest");
	/* its subnet (or one around it) is routed: a conflict naming it */
	ck_assert_int_eq(ae_route_conflict(0x0a4d0000, 24, NULL, NULL, err,
					   sizeof err), -EADDRINUSE);
	ck_assert_err_has(err, "aentest");
	ck_assert_int_eq(ae_route_conflict(0x0a4d0080, 25, NULL, NULL, err,
					   sizeof err), -EADDRINUSE);
	ck_assert_int_eq(ae_route_conflict(0x0a400000, 12, NULL, NULL, err,
					   sizeof err), -EADDRINUSE);
	ck_assert_int_eq(ae_route_conflict(0x0a4e0000, 24, NULL, NULL, err,
					   sizeof err), 0);
	/* but not for the bridge itself */
	ck_assert_int_eq(ae_route_conflict(0x0a4d0000, 24, NULL, "aentest", err,
					   sizeof err), 0);
	{
		struct in6_addr a;
		inet_pton(AF_INET6, "fd77::", &a);
		ck_assert_int_eq(ae_route_conflict(0x0a4e0000, 24, &a, NULL,
						   err, sizeof err),
				 -EADDRINUSE);
		inet_pton(AF_INET6, "fd78::", &a);
		ck_assert_int_eq(ae_route_conflict(0x0a4e0000, 24, &a, NULL,
						   err, sizeof err), 0);
	}
	/* delete leaves a device of another alias alone */
	ck_assert_int_eq(ae_bridge_delete("aentest", "aether-net:y:test", err,
					  sizeof err), -EEXIST);
	ck_assert_int_eq(ae_bridge_probe("aentest", "aether-net:x:test"), 1);
	/* ensure: puts a missing gateway address back, refuses others' */
	ck_assert_int_eq(ae_route_conflict(0x0a4f0000, 24, NULL, NULL, err,
					   sizeof err), 0);
	ck_assert_msg(ae_bridge_ensure("aentest", "aether-net:x:test",
				       "10.79.0.1", 24, "fd77::1", err,
				       sizeof err) == 0, "%s", err);
	ck_assert_int_eq(ae_route_conflict(0x0a4f0000, 24, NULL, NULL, err,
					   sizeof err), -EADDRINUSE);
	ck_assert_msg(ae_bridge_ensure("aentest", "aether-net:x:test",
				       "10.79.0.1", 24, NULL, err,
				       sizeof err) == 0, "%s", err);
	ck_assert_int_eq(ae_bridge_ensure("aentest", "aether-net:y:test",
					  "10.79.0.1", 24, NULL, err,
					  sizeof err), -EEXIST);
	ck_assert_int_eq(ae_bridge_delete("aentest", "aether-net:x:test", err,
					  sizeof err), 0);
	ck_assert_int_eq(ae_bridge_probe("aentest", "aether-net:x:test"), 0);
	ck_assert_int_eq(ae_bridge_delete("aentest", "aether-net:x:test", err,
					  sizeof err), 0);
}
END_TEST

/* A private runtime root and store under the scratch directory, which
 * dnsmasq's user must be able to pass. */
static char *ns_root(void)
{
	char *rt = ae_xasprintf("%s/run", ck_tmpdir), *root = NULL, err[256];

	ck_assert_int_eq(chmod(ck_tmpdir, 0711), 0);
	setenv("AETHER_STORE_DIR", ck_path("store"), 1);
	ck_assert_msg(ae_runtime_root(rt, &root, err, sizeof err) == 0, "%s",
		      err);
	free(rt);
	return root;
}

static int wait_text(const char *path, const char *want, int ms)
{
	char *text;
	size_t len;

	for (; ms > 0; ms -= 20) {
		if (ae_read_file(path, &text, &len, 1 << 20) == 0) {
			int ok = strstr(text, want) != NULL;
			free(text);
			if (ok)
				return 1;
		}
		usleep(20000);
	}
	return 0;
}

START_TEST(net_up_down)
{
	struct ae_netconf nc;
	struct ae_net_state st;
	char err[1024], addr[16], *root, *dir, *p;
	uint8_t mac[6] = {0x52, 0x54, 0, 0x11, 0x22, 0x33};
	struct stat sb;
	pid_t pid;

	NETNS();
	if (access("/usr/sbin/dnsmasq", X_OK) < 0)
		CK_SKIP_TEST("no /usr/sbin/dnsmasq");
	root = ns_root();
	ck_assert_int_eq(load_text("[net.t1]\nsubnet = 10.99.0.0/24\n"
				   "ipv6 = fd99:1::/64\n",
				   &nc, err, sizeof err), 0);
	ck_assert_int_eq(ae_net_reserve(&nc.v[0], root, "first", mac, addr,
					err, sizeof err), 0);
	ck_assert_str_eq(addr, "10.99.0.2");
	ck_assert_msg(ae_net_up_locked(&nc.v[0], root, err, sizeof err) == 0,
		      "%s", err);
	ae_net_state(&nc.v[0], root, &st);
	ck_assert_int_eq(st.up, 1);
	ck_assert_int_eq(st.bridge, 1);
	pid = (pid_t)st.dnsmasq_pid;
	ck_assert_int_gt(pid, 1);
	/* idempotent */
	ck_assert_msg(ae_net_up_locked(&nc.v[0], root, err, sizeof err) == 0,
		      "%s", err);
	ae_net_state(&nc.v[0], root, &st);
	ck_assert_int_eq(st.dnsmasq_pid, pid);
	dir = ae_xasprintf("%s/net/t1", root);
	p = ae_xasprintf("%s/dnsmasq.log", dir);
	if (!wait_text(p, "hosts - 2 names", 3000)) {
		char *t = NULL; size_t l;
		ae_read_file(p, &t, &l, 1 << 20);
		ck_abort_msg("%s: %s", p, t ? t : "none");
	}
	/* a new reservation reaches the running dnsmasq (SIGHUP: it re-reads
	 * the files as its own user) */
	mac[5] = 0x34;
	ck_assert_int_eq(ae_net_reserve(&nc.v[0], root, "second", mac, addr,
					err, sizeof err), 0);
	ck_assert_str_eq(addr, "10.99.0.3");
	ck_assert_msg(wait_text(p, "hosts - 4 names", 3000),
		      "dnsmasq did not re-read its hosts (see %s)", p);
	ck_assert(!wait_text(p, "failed to load", 10));
	ck_assert(!wait_text(p, "Permission denied", 10));
	free(p);
	ck_assert_int_eq(ae_dnsmasq_cmdline_is(pid, "/nonexistent.conf"), 0);
	p = ae_xasprintf("%s/dnsmasq.conf", dir);
	ck_assert_int_eq(ae_dnsmasq_cmdline_is(pid, p), 1);
	free(p);
	/* a changed config (another domain) starts dnsmasq again */
	snprintf(nc.v[0].domain, sizeof nc.v[0].domain, "other.test");
	ck_assert_msg(ae_net_up_locked(&nc.v[0], root, err, sizeof err) == 0,
		      "%s", err);
	ae_net_state(&nc.v[0], root, &st);
	ck_assert_int_eq(st.up, 1);
	ck_assert_int_ne(st.dnsmasq_pid, pid);
	ck_assert(!ae_pid_alive(pid));
	pid = (pid_t)st.dnsmasq_pid;
	/* down: no bridge, no dnsmasq, no runtime files */
	ck_assert_msg(ae_net_down_locked("t1", &nc.v[0], root, err,
					 sizeof err) == 0, "%s", err);
	ae_net_state(&nc.v[0], root, &st);
	ck_assert_int_eq(st.bridge, 0);
	ck_assert_int_eq(st.dnsmasq_pid, 0);
	ck_assert(!ae_pid_alive(pid));
	ck_assert_int_lt(stat(dir, &sb), 0);
	free(dir);
	ae_netconf_free(&nc);
	free(root);
}
END_TEST

/* Bad input leaves nothing half made. */
START_TEST(net_up_refused)
{
	struct ae_netconf nc;
	struct ae_net_state st;
	char err[1024], *root, *dir;
	struct stat sb;

	NETNS();
	root = ns_root();
	ck_assert_int_eq(load_text("[net.t2]\nsubnet = 10.98.0.0/24\n"
				   "bridge = taken0\n"
				   "[net.t3]\nsubnet = 10.97.0.0/24\n",
				   &nc, err, sizeof err), 0);
	/* a foreign device has the bridge name */
	ck_assert_int_eq(ae_bridge_create("taken0", "someone-else", "10.96.0.1",
					  24, NULL, err, sizeof err), 0);
	ck_assert_int_eq(ae_net_up_locked(&nc.v[0], root, err, sizeof err),
			 -EEXIST);
	ck_assert_err_has(err, "taken0");
	ck_assert_int_eq(ae_bridge_probe("taken0", "someone-else"), 1);
	dir = ae_xasprintf("%s/net/t2", root);
	ck_assert_int_lt(stat(dir, &sb), 0);
	free(dir);
	/* its subnet is routed on the host already */
	ck_assert_int_eq(ae_bridge_create("other0", "x", "10.97.0.1", 24, NULL,
					  err, sizeof err), 0);
	ck_assert_int_eq(ae_net_up_locked(&nc.v[1], root, err, sizeof err),
			 -EADDRINUSE);
	ck_assert_err_has(err, "host.conf:4:");
	ck_assert_err_has(err, "other0");
	ae_net_state(&nc.v[1], root, &st);
	ck_assert_int_eq(st.bridge, 0);
	dir = ae_xasprintf("%s/net/t3", root);
	ck_assert_int_lt(stat(dir, &sb), 0);
	free(dir);
	ae_netconf_free(&nc);
	free(root);
}
END_TEST

static Suite *net_suite(void)
{
	Suite *s = suite_create("net");
	TCase *tc = tcase_create("config");

	tcase_add_test(tc, conf_full);
	tcase_add_loop_test(tc, conf_errors, 0, (int)AE_ARRAY_SIZE(bad_confs));
	tcase_add_test(tc, conf_none);
	tcase_add_test(tc, names_and_overlap);
	tcase_add_test(tc, host_default);
	suite_add_tcase(s, tc);
	tc = tcase_create("pool");
	tcase_add_checked_fixture(tc, ck_tmp_setup, ck_tmp_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, pool_basic);
	tcase_add_test(tc, pool_full);
	tcase_add_test(tc, pool_cycles);
	tcase_add_test(tc, pool_corrupt);
	tcase_add_test(tc, dnsmasq_files);
	tcase_add_test(tc, vm_network);
	tcase_add_test(tc, leases);
	suite_add_tcase(s, tc);
	tc = tcase_create("netns");
	tcase_add_checked_fixture(tc, ck_tmp_setup, ck_tmp_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, bridge_ops);
	tcase_add_test(tc, net_up_down);
	tcase_add_test(tc, net_up_refused);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed;

	ck_skip_init();
	ns_ok = ck_probe_netns(ns_why, sizeof ns_why, NULL) == 0;
	sr = srunner_create(net_suite());
	/* every namespace case unshares its own network namespace */
	srunner_set_fork_status(sr, CK_FORK);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return ck_exit_status(failed);
}
