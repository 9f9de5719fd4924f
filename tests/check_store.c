/* check_store.c - the VM store (store.c): state records, store listing,
 * UUIDs, MAC choice on collisions, interrupted operations, liveness. */
#include "config.h"

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/wait.h>

#include "check-main.h"
#include "json.h"
#include "lifecycle.h"
#include "mac.h"
#include "store.h"

START_TEST(state_roundtrip)
{
	struct ae_vmstate s, r;
	const char *p;

	ck_tmp_setup();
	p = ck_path("state");
	ae_vmstate_init(&s, "running");
	s.pid = 1234;
	s.qemu_pid = 5678;
	s.index = 7;
	s.started = 1700000000;
	s.exit_code = 5;
	snprintf(s.reason, sizeof s.reason, "two\nlines=and more");
	ck_assert_int_eq(ae_vmstate_write(p, &s), 0);
	ck_assert_int_eq(ae_vmstate_read(p, &r), 0);
	ck_assert_str_eq(r.state, "running");
	ck_assert_int_eq(r.pid, 1234);
	ck_assert_int_eq(r.qemu_pid, 5678);
	ck_assert_int_eq(r.index, 7);
	ck_assert_int_eq(r.started, 1700000000);
	ck_assert_int_eq(r.exit_code, 5);
	/* one line: the newline became a space; '=' in the value is kept */
	ck_assert_str_eq(r.reason, "two lines=and more");
	/* a reason cut by its buffer is not cut inside a character */
	{
		char big[400];
		size_t i, n;
		for (i = 0; i < 4; i++) {
			memset(big, 'a', i);
			for (n = i; n + 4 < sizeof big; n += 4)
				memcpy(big + n, "\xf0\x9f\x90\xa7", 4);
			big[n] = '\0';
			/* what snprintf leaves of a longer text */
			memcpy(s.reason, big, sizeof s.reason - 1);
			s.reason[sizeof s.reason - 1] = '\0';
			ck_assert_int_eq(ae_vmstate_write(p, &s), 0);
			ck_assert_int_eq(ae_vmstate_read(p, &r), 0);
			n = strlen(r.reason);
			ck_assert_uint_ge(n, sizeof s.reason - 4);
			ck_assert_uint_eq(ae_utf8_valid_prefix(r.reason, n), n);
		}
	}
	ck_assert_int_eq(ae_vmstate_read(ck_path("nope"), &r), -ENOENT);
	ck_tmp_teardown();
}
END_TEST

/* ck_write with the parent directories made first. */
static void put(const char *name)
{
	char dir[512], *slash;

	snprintf(dir, sizeof dir, "%s", ck_path(name));
	slash = strrchr(dir, '/');
	*slash = '\0';
	ck_assert_int_eq(ae_mkdir_private(dir, 0700), 0);
	ck_write(name, "");
}

START_TEST(store_root_and_list)
{
	char *root, err[256], **names;
	int n;

	ck_tmp_setup();
	setenv("AETHER_STORE_DIR", ck_path("store"), 1);
	ck_assert_int_eq(ae_store_root(&root, err, sizeof err), 0);
	ck_assert_str_eq(root, ck_path("store"));
	put("store/vms/b/vm.conf");
	put("store/vms/a/vm.conf");
	put("store/vms/.new-c.1/vm.conf");
	put("store/vms/.del-d.1/vm.conf");
	n = ae_store_list(root, &names);
	ck_assert_int_eq(n, 2);
	ck_assert_str_eq(names[0], "a");
	ck_assert_str_eq(names[1], "b");
	ae_store_list_free(names, n);
	/* pid 1 is alive: its .new- stays; a dead pid's goes */
	put("store/vms/.new-e.999999999/x");
	put("store/vms/.new-f.1/x");
	ae_store_gc(root);
	ck_assert_int_ne(access(ck_path("store/vms/.new-e.999999999"), F_OK), 0);
	ck_assert_int_eq(access(ck_path("store/vms/.new-f.1"), F_OK), 0);
	ck_assert_int_eq(access(ck_path("store/vms/a"), F_OK), 0);
	free(root);
	setenv("AETHER_STORE_DIR", "relative/store", 1);
	ck_assert_int_lt(ae_store_root(&root, err, sizeof err), 0);
	setenv("AETHER_STORE_DIR", "/tmp/../etc", 1);
	ck_assert_int_lt(ae_store_root(&root, err, sizeof err), 0);
	ck_tmp_teardown();
}
END_TEST

START_TEST(uuids)
{
	char a[37], b[37];

	ck_assert_int_eq(ae_uuid_random(a), 0);
	ck_assert_int_eq(ae_uuid_random(b), 0);
	ck_assert(ae_uuid_valid(a));
	ck_assert_str_ne(a, b);
	ck_assert_int_eq(a[14], '4');
	ck_assert(strchr("89ab", a[19]) != NULL);
	ck_assert(!ae_uuid_valid("not-a-uuid"));
	ck_assert(!ae_uuid_valid("0f3c5a4e-8d2b-4c1a-9e7f-1234567890az"));
	ck_assert(ae_uuid_valid("0F3C5A4E-8D2B-4C1A-9E7F-1234567890AB"));
}
END_TEST

START_TEST(mac_collisions)
{
	uint8_t taken[3][6], m[6], d[6];
	int salt;

	ae_mac_derive("web", 0, d);
	salt = ae_store_pick_mac("web", (const uint8_t(*)[6])taken, 0, m);
	ck_assert_int_eq(salt, 0);
	ck_assert_mem_eq(m, d, 6);
	/* the derived MAC is taken: another one, still a valid guest MAC */
	memcpy(taken[0], d, 6);
	salt = ae_store_pick_mac("web", (const uint8_t(*)[6])taken, 1, m);
	ck_assert_int_gt(salt, 0);
	ck_assert_mem_ne(m, d, 6);
	ck_assert_int_eq(ae_mac_check(m), 0);
	ck_assert_int_eq(m[0] & 0x03, 0x02); /* local, unicast */
	memcpy(taken[1], m, 6);
	salt = ae_store_pick_mac("web", (const uint8_t(*)[6])taken, 2, m);
	ck_assert_mem_ne(m, taken[0], 6);
	ck_assert_mem_ne(m, taken[1], 6);
}
END_TEST

START_TEST(vm_mac_line)
{
	uint8_t m[6], want[6] = {0x52, 0x54, 0, 0x12, 0x34, 0x56};

	ck_tmp_setup();
	ck_write("a.conf", "[vm]\nname = a\n  mac =  52:54:00:12:34:56 \n");
	ck_assert_int_eq(ae_store_vm_mac(ck_path("a.conf"), m), 0);
	ck_assert_mem_eq(m, want, 6);
	ck_write("b.conf", "[vm]\nname = b\nmachine = q35\n");
	ck_assert_int_eq(ae_store_vm_mac(ck_path("b.conf"), m), -ENOENT);
	ck_write("c.conf", "[vm]\nmac = bogus\n");
	ck_assert_int_eq(ae_store_vm_mac(ck_path("c.conf"), m), -EINVAL);
	/* what the config parser reads: quoted values, inline comments */
	memset(m, 0, 6);
	ck_write("d.conf", "[vm]\nmac = \"52:54:00:12:34:56\"\n");
	ck_assert_int_eq(ae_store_vm_mac(ck_path("d.conf"), m), 0);
	ck_assert_mem_eq(m, want, 6);
	memset(m, 0, 6);
	ck_write("e.conf", "[vm]\nmac = 52:54:00:12:34:56 ; fixed\n");
	ck_assert_int_eq(ae_store_vm_mac(ck_path("e.conf"), m), 0);
	ck_assert_mem_eq(m, want, 6);
	ck_write("f.conf", "[vm]\nmac = \"52:54:00:12:34:56\n");
	ck_assert_int_eq(ae_store_vm_mac(ck_path("f.conf"), m), -EINVAL);
	ck_tmp_teardown();
}
END_TEST

START_TEST(liveness)
{
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(0);
	/* an unreaped zombie counts as dead: wait until it is one (WNOWAIT
	 * leaves it unreaped) */
	{
		siginfo_t si = {0};
		ck_assert_int_eq(waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT),
				 0);
		ck_assert_int_eq(si.si_pid, pid);
	}
	ck_assert(!ae_pid_alive(pid));
	waitpid(pid, NULL, 0);
	ck_assert(ae_pid_alive(getpid()));
	ck_assert(!ae_pid_alive(0));
	ck_assert(!ae_pid_alive(-1));
}
END_TEST

START_TEST(locks)
{
	int a, b;

	ck_tmp_setup();
	a = ae_store_lock(ck_tmpdir, LOCK_EX);
	ck_assert_int_ge(a, 0);
	/* another open file description cannot take it */
	b = ae_store_lock(ck_tmpdir, LOCK_EX | LOCK_NB);
	ck_assert_int_eq(b, -EWOULDBLOCK);
	close(a);
	b = ae_store_lock(ck_tmpdir, LOCK_EX | LOCK_NB);
	ck_assert_int_ge(b, 0);
	close(b);
	ck_tmp_teardown();
}
END_TEST

/* A strict check of one JSON string (RFC 8259): quotes, escapes, no
 * control characters, valid UTF-8.  Decodes into out (escapes resolved
 * for the ASCII ones the writer uses).  Returns 0 when s is exactly one
 * such string. */
static int json_string_strict(const char *s, size_t n, char *out)
{
	size_t i = 1, o = 0, k;

	if (n < 2 || s[0] != '"' || s[n - 1] != '"')
		return -1;
	n--;
	while (i < n) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20)
			return -1;
		if (c == '"')
			return -1; /* unescaped quote before the end */
		if (c == '\\') {
			char e = s[++i];
			static const char simple[] = "\"\\/bfnrt";
			if (i >= n)
				return -1;
			if (strchr(simple, e) && e) {
				static const char map[] = "\"\\/\b\f\n\r\t";
				out[o++] = map[strchr(simple, e) - simple];
				i++;
				continue;
			}
			if (e != 'u' || i + 4 >= n + 1)
				return -1;
			for (k = 1; k <= 4; k++)
				if (!strchr("0123456789abcdefABCDEF", s[i + k]) ||
				    !s[i + k])
					return -1;
			out[o++] = (char)strtol((char[]){s[i + 1], s[i + 2], s[i + 3],
						       s[i + 4], 0},
					       NULL, 16);
			i += 5;
			continue;
		}
		/* one character: its length from the lead byte */
		k = c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
		if (i + k > n || ae_utf8_valid_prefix(s + i, k) != k)
			return -1; /* not UTF-8 */
		memcpy(out + o, s + i, k);
		o += k;
		i += k;
	}
	out[o] = '\0';
	return 0;
}

static void json_check(const char *in, const char *want)
{
	json_t *j = ae_json_text(in);
	char *buf = json_dumps(j, JSON_ENCODE_ANY), dec[512];
	size_t len;

	ck_assert_ptr_nonnull(buf);
	json_decref(j);
	len = strlen(buf);
	ck_assert_msg(json_string_strict(buf, len, dec) == 0,
		      "not a valid JSON string: %s", buf);
	ck_assert_msg(!strcmp(dec, want), "decoded '%s', want '%s'", dec,
		      want);
	free(buf);
}

START_TEST(json_strings)
{
	json_check("plain /a/b.qcow2", "plain /a/b.qcow2");
	json_check("", "");
	json_check("q\"b\\s/", "q\"b\\s/");
	json_check("\t\n\r\x01\x1f\x7f", "\t\n\r\x01\x1f\x7f");
	json_check("caf\xc3\xa9 \xf0\x9f\x90\xa7", "caf\xc3\xa9 \xf0\x9f\x90\xa7");
	/* not UTF-8: each bad byte is U+FFFD */
	json_check("/img-\xff.qcow2", "/img-\xef\xbf\xbd.qcow2");
	json_check("\x80\xc3", "\xef\xbf\xbd\xef\xbf\xbd");
	json_check("\xed\xa0\x80", /* a surrogate */
		   "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	json_check("\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd"); /* overlong '/' */
	json_check("\xf4\x90\x80\x80x", /* above U+10FFFF */
		   "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdx");
	/* a reason cut in the middle of a character */
	json_check("base /caf\xc3", "base /caf\xef\xbf\xbd");
}
END_TEST

static Suite *store_suite(void)
{
	Suite *s = suite_create("store");
	TCase *tc = tcase_create("store");

	tcase_add_test(tc, state_roundtrip);
	tcase_add_test(tc, store_root_and_list);
	tcase_add_test(tc, uuids);
	tcase_add_test(tc, mac_collisions);
	tcase_add_test(tc, vm_mac_line);
	tcase_add_test(tc, liveness);
	tcase_add_test(tc, locks);
	tcase_add_test(tc, json_strings);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return ck_run_suite(store_suite());
}
