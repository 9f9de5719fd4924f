/* check_host.c - what aether trusts on the host: private directories
 * made as root (ae_mkdir_private), and which processes gc may kill
 * (ae_runtime_qemu_of). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check-main.h"
#include "runtime.h"

#define NOBODY 65534

static int need_root(void)
{
	if (geteuid() == 0)
		return 1;
	fprintf(stderr, "SKIP (not root): %s\n", "root-only check");
	return 0;
}

static void mkdir_mode(const char *p, mode_t m)
{
	ck_assert_msg(mkdir(p, m) == 0 || errno == EEXIST, "mkdir %s: %s", p,
		      strerror(errno));
	ck_assert_int_eq(chmod(p, m), 0);
}

/* A runtime directory under a 0777 parent that is not sticky: refused,
 * naming the parent; nothing made under it. */
START_TEST(private_under_open_parent)
{
	char err[1024];
	const char *open, *rt;
	struct stat st;

	if (!need_root())
		return;
	ck_tmp_setup();
	open = ck_path("open");
	mkdir_mode(open, 0777);
	rt = ck_path("open/run");
	ck_assert_int_eq(ae_mkdir_private_err(rt, 0700, "runtime directory",
					      err, sizeof err),
			 -EPERM);
	ck_assert_err_has(err, open);
	ck_assert_err_has(err, "writable by others");
	ck_assert_int_lt(stat(rt, &st), 0);
	/* the same as the group's */
	ck_assert_int_eq(chmod(open, 0775), 0);
	ck_assert_int_eq(ae_mkdir_private_err(rt, 0700, "runtime directory",
					      err, sizeof err),
			 -EPERM);
	ck_assert_err_has(err, "writable by its group");
	/* and fine once only root writes there */
	ck_assert_int_eq(chmod(open, 0755), 0);
	ck_assert_int_eq(ae_mkdir_private_err(rt, 0700, "runtime directory",
					      err, sizeof err),
			 0);
	ck_assert_int_eq(stat(rt, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0700);
	ck_tmp_teardown();
}
END_TEST

/* A parent owned by another user: refused, named. */
START_TEST(private_under_foreign_parent)
{
	char err[1024];
	const char *theirs;

	if (!need_root())
		return;
	ck_tmp_setup();
	theirs = ck_path("theirs");
	mkdir_mode(theirs, 0755);
	ck_assert_int_eq(chown(theirs, NOBODY, NOBODY), 0);
	ck_assert_int_eq(ae_mkdir_private_err(ck_path("theirs/a/b"), 0700,
					      "VM store", err, sizeof err),
			 -EPERM);
	ck_assert_err_has(err, theirs);
	ck_assert_err_has(err, "owned by uid 65534");
	ck_tmp_teardown();
}
END_TEST

/* /tmp-like: sticky 1777 with our own directory below works; another
 * user's directory below it does not. */
START_TEST(private_under_sticky)
{
	char err[1024];
	const char *sticky, *mine;
	struct stat st;

	if (!need_root())
		return;
	ck_tmp_setup();
	sticky = ck_path("tmp");
	mkdir_mode(sticky, 01777);
	mine = ck_path("tmp/mine/run");
	ck_assert_int_eq(ae_mkdir_private_err(mine, 0700, "runtime directory",
					      err, sizeof err),
			 0);
	ck_assert_int_eq(stat(mine, &st), 0);
	ck_assert(S_ISDIR(st.st_mode));
	/* a directory another user made in the sticky one */
	mkdir_mode(ck_path("tmp/theirs"), 0755);
	ck_assert_int_eq(chown(ck_path("tmp/theirs"), NOBODY, NOBODY), 0);
	ck_assert_int_eq(ae_mkdir_private_err(ck_path("tmp/theirs/run"), 0700,
					      "runtime directory", err,
					      sizeof err),
			 -EPERM);
	ck_assert_err_has(err, ck_path("tmp/theirs"));
	ck_assert_int_lt(stat(ck_path("tmp/theirs/run"), &st), 0);
	ck_tmp_teardown();
}
END_TEST

/* Symlinks: in a directory others can write, or owned by another user,
 * or as the directory itself, they are not followed. */
START_TEST(private_symlinks)
{
	char err[1024];
	struct stat st;

	ck_tmp_setup();
	mkdir_mode(ck_path("target"), 0755);
	/* the last component itself: never followed (root or not) */
	ck_assert_int_eq(symlink(ck_path("target"), ck_path("last")), 0);
	ck_assert_int_eq(ae_mkdir_private_err(ck_path("last"), 0700,
					      "runtime directory", err,
					      sizeof err),
			 -ELOOP);
	ck_assert_err_has(err, ck_path("last"));
	ck_assert_err_has(err, "symbolic link");
	if (geteuid() == 0) {
		/* in a sticky world-writable directory: as root, no */
		mkdir_mode(ck_path("tmp"), 01777);
		ck_assert_int_eq(symlink(ck_path("target"), ck_path("tmp/l")),
				 0);
		ck_assert_int_eq(ae_mkdir_private_err(ck_path("tmp/l/run"),
						      0700, "VM store", err,
						      sizeof err),
				 -ELOOP);
		ck_assert_err_has(err, ck_path("tmp/l"));
		ck_assert_int_lt(stat(ck_path("target/run"), &st), 0);
		/* owned by another user, in a root-only directory: no */
		mkdir_mode(ck_path("safe"), 0755);
		ck_assert_int_eq(symlink(ck_path("target"),
					 ck_path("safe/l")), 0);
		ck_assert_int_eq(lchown(ck_path("safe/l"), NOBODY, NOBODY), 0);
		ck_assert_int_eq(ae_mkdir_private_err(ck_path("safe/l/run"),
						      0700, "VM store", err,
						      sizeof err),
				 -ELOOP);
		ck_assert_err_has(err, "owned by another user");
		ck_assert_int_lt(stat(ck_path("target/run"), &st), 0);
		/* root's own link in a root-only directory (/var/run): yes */
		ck_assert_int_eq(lchown(ck_path("safe/l"), 0, 0), 0);
		ck_assert_int_eq(ae_mkdir_private_err(ck_path("safe/l/run"),
						      0700, "VM store", err,
						      sizeof err),
				 0);
		ck_assert_int_eq(stat(ck_path("target/run"), &st), 0);
	}
	ck_tmp_teardown();
}
END_TEST

/* argv as /proc/PID/cmdline has it: NUL-separated. */
static size_t mkargv(char *buf, size_t len, const char *const *v)
{
	size_t n = 0;

	for (; *v; v++) {
		size_t l = strlen(*v) + 1;
		ck_assert_uint_lt(n + l, len);
		memcpy(buf + n, *v, l);
		n += l;
	}
	return n;
}

static int qemu_of(const char *root, const char *const *v, pid_t pid,
		   char *name)
{
	char buf[4096];
	size_t n = mkargv(buf, sizeof buf, v);

	name[0] = '\0';
	return ae_runtime_qemu_of(root, buf, n, pid, name, 80);
}

/* gc kills the QEMU of a VM of its runtime root, matched exactly. */
START_TEST(qemu_identity)
{
	char name[80];
	const char *const qmp[] = {
		"qemu-system-x86_64", "-name", "guest=web1,process=aether-web1",
		"-chardev", "socket,id=qmp0,path=/run/ae/vms/web1/qmp.sock,"
			    "server=on,wait=off",
		"-mon", "chardev=qmp0,mode=control", NULL};
	/* another root whose path contains this one's */
	const char *const other[] = {
		"qemu-system-x86_64", "-chardev",
		"socket,id=qmp0,path=/home/u/run/ae/vms/web1/qmp.sock,server=on",
		NULL};
	const char *const longer[] = {
		"qemu", "-chardev", "socket,path=/run/ae/vms/web1/qmp.sock.x", NULL};
	const char *const deeper[] = {
		"qemu", "-chardev", "socket,path=/run/ae/vms/a/b/qmp.sock", NULL};
	const char *const loose[] = {
		"sleep", "/run/ae/vms/web1/qmp.sock", NULL};
	const char *const prefix[] = {
		"qemu", "-chardev", "socket,path=/run/aether/vms/web1/qmp.sock",
		NULL};
	const char *const escaped[] = {
		"qemu", "-chardev",
		"socket,id=qmp0,path=/run/a,,b/vms/v2/qmp.sock,server=on", NULL};
	/* what the supervisor runs: QMP by fd, its path named in -add-fd */
	const char *const addfd[] = {
		"qemu-system-x86_64", "-name", "guest=web3,process=aether-web3",
		"-add-fd", "fd=6,set=9,opaque=/run/ae/vms/web3/qmp.sock",
		"-chardev", "socket,id=qmp0,fd=5,server=on,wait=off", NULL};
	const char *const addfd_other[] = {
		"qemu-system-x86_64", "-add-fd",
		"fd=6,set=9,opaque=/home/u/run/ae/vms/web3/qmp.sock", NULL};
	const char *const byname[] = {
		"qemu-system-x86_64", "-name", "guest=web2,process=aether-web2",
		"-qmp", "fd:3", NULL};

	ck_assert_int_eq(qemu_of("/run/ae", qmp, 100, name), 1);
	ck_assert_str_eq(name, "web1");
	ck_assert_int_eq(qemu_of("/run/ae/", qmp, 100, name), 1);
	ck_assert_int_eq(qemu_of("/run/ae", other, 100, name), 0);
	ck_assert_int_eq(qemu_of("/run/ae", longer, 100, name), 0);
	ck_assert_int_eq(qemu_of("/run/ae", deeper, 100, name), 0);
	ck_assert_int_eq(qemu_of("/run/ae", loose, 100, name), 0);
	ck_assert_int_eq(qemu_of("/run/ae", prefix, 100, name), 0);
	ck_assert_int_eq(qemu_of("/run/a,b", escaped, 100, name), 1);
	ck_assert_str_eq(name, "v2");
	ck_assert_int_eq(qemu_of("/run/a", escaped, 100, name), 0);
	ck_assert_int_eq(qemu_of("/run/ae", addfd, 100, name), 1);
	ck_assert_str_eq(name, "web3");
	ck_assert_int_eq(qemu_of("/run/ae", addfd_other, 100, name), 0);

	/* QMP by fd: the name and the pid the supervisor wrote */
	ck_tmp_setup();
	ck_assert_int_eq(qemu_of(ck_tmpdir, byname, 4242, name), 0);
	ck_assert_int_eq(mkdir(ck_path("vms"), 0700), 0);
	ck_assert_int_eq(mkdir(ck_path("vms/web2"), 0700), 0);
	ck_write("vms/web2/qemu.pid", "4242\n");
	ck_assert_int_eq(qemu_of(ck_tmpdir, byname, 4242, name), 1);
	ck_assert_str_eq(name, "web2");
	ck_assert_int_eq(qemu_of(ck_tmpdir, byname, 4243, name), 0);
	ck_tmp_teardown();
}
END_TEST

static Suite *host_suite(void)
{
	Suite *s = suite_create("host");
	TCase *tc = tcase_create("private-dirs");

	tcase_add_test(tc, private_under_open_parent);
	tcase_add_test(tc, private_under_foreign_parent);
	tcase_add_test(tc, private_under_sticky);
	tcase_add_test(tc, private_symlinks);
	suite_add_tcase(s, tc);
	tc = tcase_create("gc");
	tcase_add_test(tc, qemu_identity);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return ck_run_suite(host_suite());
}
