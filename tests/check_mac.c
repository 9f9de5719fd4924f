/* check_mac.c - MAC addresses derived from VM names (mac.c) and the
 * explicit MAC parsing and validation (util.c). */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "check-main.h"
#include "mac.h"

#define N_NAMES 100000
#define N_NICS 4

/* ae_mac_derive() of these (name, nic) pairs as shipped in 0.1.0. */
#define PIN_DEMO_0 "aa:00:4d:28:4a:38"
#define PIN_DEMO_1 "c2:19:6e:82:ea:27"
#define PIN_WEB01_0 "e6:4f:d5:f6:87:06"

static uint64_t mac_u64(const uint8_t m[6])
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 6; i++)
		v = v << 8 | m[i];
	return v;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Sort and count equal neighbours. */
static size_t collisions(uint64_t *v, size_t n)
{
	size_t i, c = 0;

	qsort(v, n, sizeof *v, cmp_u64);
	for (i = 1; i < n; i++)
		if (v[i] == v[i - 1])
			c++;
	return c;
}

static void assert_local_unicast(const uint8_t m[6], const char *what)
{
	ck_assert_msg((m[0] & 0x01) == 0, "%s: multicast bit set", what);
	ck_assert_msg((m[0] & 0x02) == 0x02, "%s: not locally administered",
		      what);
	ck_assert_msg(ae_mac_check(m) == 0, "%s: ae_mac_check refuses it",
		      what);
}

/* Pinned values: a change of the derivation would change every VM's MAC
 * (and so its DHCP lease and its TAP device's peer address) on upgrade.
 * Only change these together with a NEWS entry. */
static const struct {
	const char *name;
	unsigned nic;
	const char *mac;
} pinned[] = {
	{"demo", 0, PIN_DEMO_0},
	{"demo", 1, PIN_DEMO_1},
	{"web-01", 0, PIN_WEB01_0},
};

START_TEST(mac_stable)
{
	uint8_t a[6], b[6];
	char s[18];
	size_t i;

	ae_mac_derive("demo", 0, a);
	ae_mac_derive("demo", 0, b);
	ck_assert_mem_eq(a, b, 6);
	for (i = 0; i < AE_ARRAY_SIZE(pinned); i++) {
		ae_mac_derive(pinned[i].name, pinned[i].nic, a);
		ae_format_mac(a, s);
		ck_assert_msg(!strcmp(s, pinned[i].mac),
			      "MAC of %s nic %u changed: %s, was %s",
			      pinned[i].name, pinned[i].nic, s, pinned[i].mac);
	}
}
END_TEST

/* The derivation is a pure function of (name, nic): a fresh process gets
 * the same address. */
START_TEST(mac_stable_across_processes)
{
	uint8_t a[6];
	int status = 0;
	pid_t pid;

	ae_mac_derive("stable-name", 2, a);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		uint8_t b[6];
		ae_mac_derive("stable-name", 2, b);
		_exit(memcmp(a, b, 6) ? 1 : 0);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}
END_TEST

START_TEST(mac_bits)
{
	static const char *const names[] = {
		"a", "b", "demo", "0", "x.y", "web-01", "WEB-01",
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		"", /* not a valid VM name, but must not break the bits */
	};
	uint8_t m[6];
	size_t i;
	unsigned nic;

	for (i = 0; i < AE_ARRAY_SIZE(names); i++)
		for (nic = 0; nic < 8; nic++) {
			ae_mac_derive(names[i], nic, m);
			assert_local_unicast(m, names[i]);
		}
}
END_TEST

START_TEST(mac_differs)
{
	uint8_t a[6], b[6];
	unsigned i;

	ae_mac_derive("demo", 0, a);
	ae_mac_derive("demo2", 0, b);
	ck_assert(memcmp(a, b, 6) != 0);
	ae_mac_derive("Demo", 0, b); /* names are case sensitive */
	ck_assert(memcmp(a, b, 6) != 0);
	for (i = 1; i < 16; i++) {
		ae_mac_derive("demo", i, b);
		ck_assert_msg(memcmp(a, b, 6) != 0, "nic %u == nic 0", i);
	}
	/* Names differing only in the last character differ in more than
	 * the last byte (the mixer spreads them). */
	ae_mac_derive("vm1", 0, a);
	ae_mac_derive("vm2", 0, b);
	ck_assert(memcmp(a, b, 5) != 0);
}
END_TEST

/* No collisions among N_NAMES generated names, for every one of N_NICS
 * NICs, and none between NICs either. */
START_TEST(mac_no_collisions)
{
	static const char *const patterns[] = {"vm-N", "webNNNNN", "N",
					       "node-N.example"};
	uint64_t *v = malloc(sizeof *v * N_NAMES * N_NICS);
	size_t p, i, n, c, total = 0;
	unsigned nic;
	char name[64];
	uint8_t m[6];

	ck_assert_ptr_nonnull(v);
	for (p = 0; p < AE_ARRAY_SIZE(patterns); p++) {
		n = 0;
		for (i = 0; i < N_NAMES; i++) {
			switch (p) {
			case 0: snprintf(name, sizeof name, "vm-%zu", i); break;
			case 1: snprintf(name, sizeof name, "web%05zu", i); break;
			case 2: snprintf(name, sizeof name, "%zu", i); break;
			default:
				snprintf(name, sizeof name, "node-%zu.example", i);
			}
			for (nic = 0; nic < N_NICS; nic++) {
				ae_mac_derive(name, nic, m);
				v[n++] = mac_u64(m);
			}
		}
		c = collisions(v, n);
		printf("mac: pattern '%s': %zu names x %d NICs = %zu MACs, "
		       "%zu collisions\n",
		       patterns[p], (size_t)N_NAMES, N_NICS, n, c);
		total += c;
	}
	fflush(stdout);
	free(v);
	ck_assert_msg(total == 0, "%zu MAC collisions", total);
}
END_TEST

START_TEST(mac_check_explicit)
{
	static const struct {
		const char *s;
		int ok;
	} t[] = {
		{"52:54:00:12:34:56", 1}, {"02:00:00:00:00:01", 1},
		{"00:16:3e:00:00:01", 1}, /* globally administered, unicast */
		{"FE:DC:BA:98:76:54", 1},
		{"01:00:5e:00:00:01", 0}, /* multicast */
		{"33:33:00:00:00:01", 0}, /* IPv6 multicast */
		{"ff:ff:ff:ff:ff:ff", 0}, /* broadcast */
		{"00:00:00:00:00:00", 0}, /* zero */
	};
	uint8_t m[6];
	size_t i;

	for (i = 0; i < AE_ARRAY_SIZE(t); i++) {
		ck_assert_msg(ae_parse_mac(t[i].s, m) == 0, "parse %s", t[i].s);
		ck_assert_msg((ae_mac_check(m) == 0) == t[i].ok, "check %s",
			      t[i].s);
	}
}
END_TEST

START_TEST(mac_parse_and_format)
{
	static const char *const bad[] = {
		"", "52:54:00:12:34", "52:54:00:12:34:56:78", "52:54:00:12:34:5",
		"52-54-00-12-34-56", "52:54:00:12:34:5g", "5254.0012.3456",
		"52:54:00:12:34:56 ", " 52:54:00:12:34:5", "52:54:00:12:34::6",
		"+2:54:00:12:34:56", "0x:54:00:12:34:56",
	};
	uint8_t m[6];
	char s[18];
	size_t i;

	ck_assert_int_eq(ae_parse_mac("52:54:00:AB:cd:Ef", m), 0);
	ck_assert_mem_eq(m, "\x52\x54\x00\xab\xcd\xef", 6);
	ae_format_mac(m, s);
	ck_assert_str_eq(s, "52:54:00:ab:cd:ef");
	for (i = 0; i < AE_ARRAY_SIZE(bad); i++)
		ck_assert_msg(ae_parse_mac(bad[i], m) < 0, "'%s' accepted",
			      bad[i]);
	/* Round trip of derived addresses. */
	for (i = 0; i < 1000; i++) {
		uint8_t a[6], b[6];
		char name[32];
		snprintf(name, sizeof name, "rt%zu", i);
		ae_mac_derive(name, (unsigned)i % 3, a);
		ae_format_mac(a, s);
		ck_assert_int_eq(ae_parse_mac(s, b), 0);
		ck_assert_mem_eq(a, b, 6);
	}
}
END_TEST

static Suite *mac_suite(void)
{
	Suite *s = suite_create("mac");
	TCase *tc = tcase_create("derive");

	tcase_add_test(tc, mac_stable);
	tcase_add_test(tc, mac_stable_across_processes);
	tcase_add_test(tc, mac_bits);
	tcase_add_test(tc, mac_differs);
	tcase_add_test(tc, mac_no_collisions);
	tcase_add_test(tc, mac_check_explicit);
	tcase_add_test(tc, mac_parse_and_format);
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return ck_run_suite(mac_suite());
}
