/* check_host.c - what aether trusts on the host: private directories
 * made as root (ae_mkdir_private), which processes gc may kill
 * (ae_runtime_qemu_of), and which descriptors a plugin's helper gets
 * (ae_helper_start: keep_fds of a 1.3 spec, inheritance for a 1.2 one). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check-main.h"
#include "helper.h"
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

/* Descriptor numbers for the helper tests, well above what the suite
 * itself holds. */
#define FD_KEPT 50   /* listed: a pipe's write end, close-on-exec here */
#define FD_LEAK 51   /* not listed, not close-on-exec */
#define FD_CLOEX 52  /* not listed, close-on-exec */

/* The helper: reports which of the three it has (a stat of
 * /proc/PID/fd/N opens no descriptor), then writes to FD_KEPT (through
 * /proc: sh redirects only descriptors 0-9). */
static const char *const fd_probe[] = {
	"/bin/sh", "-c",
	"for n in 50 51 52; do if [ -e /proc/$$/fd/$n ]; then echo open $n; "
	"else echo closed $n; fi; done; printf kept >/proc/$$/fd/50",
	NULL};

/* Put FD_KEPT (a pipe's write end, close-on-exec), FD_LEAK and FD_CLOEX
 * in place; returns the pipe's read end. */
static int probe_fds(void)
{
	int p[2], null;

	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	ck_assert_int_eq(dup3(p[1], FD_KEPT, O_CLOEXEC), FD_KEPT);
	close(p[1]);
	null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(null, 0);
	ck_assert_int_eq(dup2(null, FD_LEAK), FD_LEAK); /* no close-on-exec */
	ck_assert_int_eq(dup3(null, FD_CLOEX, O_CLOEXEC), FD_CLOEX);
	close(null);
	ck_assert_int_eq(fcntl(FD_LEAK, F_GETFD) & FD_CLOEXEC, 0);
	return p[0];
}

/* Start fd_probe with a spec of size bytes listing keep (n of them), wait
 * for it, and return what it wrote to its log; *piped gets what arrived
 * on the pipe. */
static const char *run_probe(uint32_t size, const int *keep, uint32_t n,
			     char *piped, size_t plen)
{
	static char out[512];
	struct aether_helper_spec spec;
	struct aether_helper *h = NULL;
	char err[512];
	int rd, st = -1, fd;
	ssize_t r, got = 0;

	rd = probe_fds();
	memset(&spec, 0, sizeof spec);
	spec.struct_size = size;
	spec.argv = fd_probe;
	spec.log_path = ck_path("probe.log");
	unlink(spec.log_path);
	spec.keep_fds = keep;
	spec.n_keep_fds = n;
	ck_assert_msg(ae_helper_start(&spec, &h, err, sizeof err) == 0,
		      "ae_helper_start: %s", err);
	/* the listed descriptor stays close-on-exec here */
	ck_assert_int_ne(fcntl(FD_KEPT, F_GETFD) & FD_CLOEXEC, 0);
	close(FD_KEPT);
	close(FD_LEAK);
	close(FD_CLOEX);
	ck_assert_int_eq(ae_wait_pid(h->pid, 20000, &st), 1);
	ck_assert_msg(WIFEXITED(st), "the probe did not exit (status %d)", st);
	free(h);
	while ((r = read(rd, piped + got, plen - 1 - (size_t)got)) > 0)
		got += r;
	piped[got] = '\0';
	close(rd);
	fd = open(ck_path("probe.log"), O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	r = read(fd, out, sizeof out - 1);
	close(fd);
	ck_assert_int_ge(r, 0);
	out[r] = '\0';
	return out;
}

/* A 1.3 spec: the helper gets the listed descriptor (close-on-exec in the
 * host) and not one the host holds without close-on-exec. */
START_TEST(helper_keep_fds)
{
	const int keep[] = {FD_KEPT};
	const char *out;
	char piped[64];

	ck_tmp_setup();
	out = run_probe(sizeof(struct aether_helper_spec), keep, 1, piped,
			sizeof piped);
	ck_assert_msg(strstr(out, "open 50\n"), "listed fd not passed: %s",
		      out);
	ck_assert_msg(strstr(out, "closed 51\n"),
		      "unlisted fd without close-on-exec leaked: %s", out);
	ck_assert_msg(strstr(out, "closed 52\n"), "%s", out);
	ck_assert_str_eq(piped, "kept");

	/* none listed: none of them */
	out = run_probe(sizeof(struct aether_helper_spec), NULL, 0, piped,
			sizeof piped);
	ck_assert_msg(strstr(out, "closed 50\n") && strstr(out, "closed 51\n")
		      && strstr(out, "closed 52\n"), "%s", out);
	ck_assert_str_eq(piped, "");
	ck_tmp_teardown();
}
END_TEST

/* A spec of the 1.2 size: the old behaviour, whatever is not
 * close-on-exec is inherited (keep_fds past its end is not read). */
START_TEST(helper_spec_1_2_inherits)
{
	const int keep[] = {FD_KEPT};
	const char *out;
	char piped[64];

	ck_tmp_setup();
	out = run_probe(offsetof(struct aether_helper_spec, keep_fds), keep, 1,
			piped, sizeof piped);
	ck_assert_msg(strstr(out, "open 51\n"),
		      "a 1.2 spec's helper lost an inherited fd: %s", out);
	ck_assert_msg(strstr(out, "closed 50\n"),
		      "keep_fds read past a 1.2 spec: %s", out);
	ck_assert_msg(strstr(out, "closed 52\n"), "%s", out);
	ck_assert_str_eq(piped, "");
	ck_tmp_teardown();
}
END_TEST

/* Bad lists: -EINVAL naming the descriptor, nothing spawned. */
START_TEST(helper_keep_fds_refused)
{
	int many[AETHER_HELPER_MAX_KEEP_FDS + 1], good, closed, one[1], two[2];
	int i;
	char marker[512], script[600], err[512];
	const char *argv[] = {"/bin/sh", "-c", script, NULL};
	struct aether_helper_spec spec;
	struct aether_helper *h = (struct aether_helper *)&spec;
	struct {
		const int *fds;
		uint32_t n;
		const char *why;
	} bad[5];
	size_t k;

	ck_tmp_setup();
	snprintf(marker, sizeof marker, "%s", ck_path("ran"));
	snprintf(script, sizeof script, ": > '%s'", marker);
	good = open("/dev/null", O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(good, 3);
	closed = open("/dev/null", O_RDONLY | O_CLOEXEC); /* then a free one */
	ck_assert_int_ge(closed, 3);
	close(closed);
	for (i = 0; i <= AETHER_HELPER_MAX_KEEP_FDS; i++)
		many[i] = good;
	one[0] = closed;
	bad[0].fds = one, bad[0].n = 1, bad[0].why = "is not open";
	bad[1].fds = many, bad[1].n = AETHER_HELPER_MAX_KEEP_FDS + 1,
	bad[1].why = "more than the 64 allowed";
	bad[2].fds = NULL, bad[2].n = 1, bad[2].why = "no list";
	bad[3].fds = (const int[]){1}, bad[3].n = 1, /* stdout */
	bad[3].why = "stdin, stdout and stderr";
	two[0] = good;
	two[1] = -1;
	bad[4].fds = two, bad[4].n = 2,
	bad[4].why = "descriptor -1 to keep (entry 1) is not open";
	/* no child of this process exists to begin with */
	ck_assert_int_eq(waitpid(-1, NULL, WNOHANG), -1);
	ck_assert_int_eq(errno, ECHILD);
	for (k = 0; k < sizeof bad / sizeof bad[0]; k++) {
		memset(&spec, 0, sizeof spec);
		spec.struct_size = sizeof spec;
		spec.argv = argv;
		spec.keep_fds = bad[k].fds;
		spec.n_keep_fds = bad[k].n;
		err[0] = '\0';
		ck_assert_int_eq(ae_helper_start(&spec, &h, err, sizeof err),
				 -EINVAL);
		ck_assert_err_has(err, bad[k].why);
		ck_assert_err_has(err, "/bin/sh");
		ck_assert_ptr_eq(h, (struct aether_helper *)&spec);
		ck_assert_int_eq(waitpid(-1, NULL, WNOHANG), -1);
		ck_assert_int_eq(errno, ECHILD);
	}
	{
		char num[48];

		snprintf(num, sizeof num, "descriptor %d to keep", closed);
		memset(&spec, 0, sizeof spec);
		spec.struct_size = sizeof spec;
		spec.argv = argv;
		spec.keep_fds = one;
		spec.n_keep_fds = 1;
		ck_assert_int_eq(ae_helper_start(&spec, &h, err, sizeof err),
				 -EINVAL);
		ck_assert_err_has(err, num);
	}
	ck_assert_int_lt(access(marker, F_OK), 0);
	/* the same spec with a good list runs: the check above can fail */
	one[0] = good;
	spec.keep_fds = one;
	ck_assert_msg(ae_helper_start(&spec, &h, err, sizeof err) == 0, "%s",
		      err);
	ck_assert_int_eq(ae_wait_pid(h->pid, 20000, NULL), 1);
	free(h);
	ck_assert_int_eq(access(marker, F_OK), 0);
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
	tc = tcase_create("helpers");
	tcase_add_test(tc, helper_keep_fds);
	tcase_add_test(tc, helper_spec_1_2_inherits);
	tcase_add_test(tc, helper_keep_fds_refused);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return ck_run_suite(host_suite());
}
