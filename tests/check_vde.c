/*
 * check_vde.c - tests of the VDE backend against real vde_switch processes.
 *
 * Each test runs in its own forked process (CK_FORK=yes).  When started as
 * root it drops to nobody:nogroup first (with a fresh private
 * XDG_RUNTIME_DIR owned by nobody), so the plugin runs exactly as an
 * ordinary user would: the "user-mode VDE" setup.  The TAP test keeps root
 * just long enough to make a TAP device owned by nobody inside a private
 * network namespace, as the one root command of that setup would.
 */
#include "config.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libvdeplug.h>

#include "check-main.h"
#include "helper.h"
#include "instance.h"
#include "util.h"

#define NOBODY_UID 65534
#define NOGROUP_GID 65534

/* A test that cannot run here: reported and skipped (the program exits
 * 77 when nothing failed), a failure under AETHER_TEST_STRICT=1 (CI),
 * where everything must run.  See CK_SKIP_TEST in check-main.h. */
#define SKIP_TEST CK_SKIP_TEST

#include "asan-vdeplug.h"

static char tdir[PATH_MAX];   /* the test's private dir (XDG_RUNTIME_DIR) */
static char logpath[PATH_MAX];
static int saved_stderr = -1;

/* ------------------------------------------------------------------ */
/* Environment.                                                       */

static void run_argv(const char *const *argv)
{
	pid_t pid = fork();
	int st;

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int fd = open("/dev/null", O_WRONLY);
		dup2(fd, 1);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s %s %s failed",
		      argv[0], argv[1], argv[2] ? argv[2] : "");
}

static void make_tdir(void)
{
	/* named after the test runner (our parent) so that it cleans up */
	snprintf(tdir, sizeof tdir, "/tmp/aether-vde-test.%ld.XXXXXX",
		 (long)getppid());
	ck_assert_ptr_nonnull(mkdtemp(tdir));
}

static void copy_file(const char *from, const char *to, mode_t mode)
{
	char *data = NULL;
	size_t len = 0;

	ck_assert_msg(ae_read_file(from, &data, &len, 1 << 20) == 0,
		      "cannot read %s", from);
	ck_assert_int_eq(ae_write_file(to, data, len, mode), 0);
	free(data);
}

/* nobody may not be able to read the build tree (a clone under /root is
 * 0700): give it its own copy of the plugin, in tdir/plugins, and point
 * AETHER_PLUGIN_PATH there. */
static void copy_plugin_for_nobody(void)
{
	const char *pp = getenv("AETHER_PLUGIN_PATH");
	char *list = ae_xstrdup(pp ? pp : ""), *save = NULL, *d;
	char src[PATH_MAX], dir[PATH_MAX], dst[PATH_MAX];
	char *data = NULL;
	size_t len = 0;

	for (d = strtok_r(list, ":", &save); d && !data;
	     d = strtok_r(NULL, ":", &save)) {
		snprintf(src, sizeof src, "%s/.libs/vde.so", d);
		if (ae_read_file(src, &data, &len, 64 << 20) == 0)
			break;
		snprintf(src, sizeof src, "%s/vde.so", d);
		if (ae_read_file(src, &data, &len, 64 << 20) == 0)
			break;
	}
	free(list);
	ck_assert_msg(data != NULL, "vde.so not found in AETHER_PLUGIN_PATH=%s",
		      pp ? pp : "(unset)");
	snprintf(dir, sizeof dir, "%s/plugins", tdir);
	ck_assert_int_eq(mkdir(dir, 0755), 0);
	snprintf(dst, sizeof dst, "%s/vde.so", dir);
	ck_assert_int_eq(ae_write_file(dst, data, len, 0644), 0);
	free(data);
	ck_assert_int_eq(chown(dir, NOBODY_UID, NOGROUP_GID), 0);
	ck_assert_int_eq(chown(dst, NOBODY_UID, NOGROUP_GID), 0);
	setenv("AETHER_PLUGIN_PATH", dir, 1);
}

/* Become nobody (when root) with a fresh runtime dir. */
static void drop_privileges(void)
{
	if (geteuid() == 0) {
		copy_plugin_for_nobody();
		ck_assert_int_eq(chown(tdir, NOBODY_UID, NOGROUP_GID), 0);
		ck_assert_int_eq(setgroups(0, NULL), 0);
		ck_assert_int_eq(setgid(NOGROUP_GID), 0);
		ck_assert_int_eq(setuid(NOBODY_UID), 0);
		ck_assert_int_ne(setuid(0), 0); /* really dropped */
	}
	chmod(tdir, 0700);
	setenv("XDG_RUNTIME_DIR", tdir, 1);
	setenv("HOME", tdir, 1);
	unsetenv("AETHER_RUNTIME_DIR");
	ae_log_level = 7;
}

static void setup_user(void)
{
	make_tdir();
	drop_privileges();
}

/* stderr (where the host logs) goes to a file we can search. */
static void capture_start(void)
{
	int fd;

	snprintf(logpath, sizeof logpath, "%s/test.log", tdir);
	fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	fflush(stderr);
	if (saved_stderr < 0)
		saved_stderr = dup(2);
	dup2(fd, 2);
	close(fd);
}

static char *capture_text(void)
{
	static char buf[65536];
	int fd = open(logpath, O_RDONLY);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : 0;

	if (fd >= 0)
		close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

/* Stop capturing; echo what was logged to the real stderr. */
static char *capture_end(void)
{
	char *t = capture_text();

	if (saved_stderr >= 0) {
		dup2(saved_stderr, 2);
		if (write(2, t, strlen(t)) < 0) {
		}
	}
	return t;
}

static struct ae_instance *open_inst(const char *opts)
{
	struct ae_instance *inst = NULL;
	char err[512];
	int rc = ae_instance_open_text("vde", NULL, opts, "check_vde", &inst,
				       err, sizeof err);

	ck_assert_msg(rc == 0, "open vde: %s", err);
	return inst;
}

/* vm's runtime dir lives as long as the test (its own process): one
 * static slot per VM name, so nothing is left for LeakSanitizer. */
static void vm_make(struct aether_vm *vm, const char *name, unsigned idx)
{
	static char dirs[8][PATH_MAX];
	static unsigned used;
	char dir[PATH_MAX];
	unsigned i;

	ck_assert_int_lt(snprintf(dir, sizeof dir, "%s/vm-%s", tdir, name),
			 (int)sizeof dir);
	for (i = 0; i < used && strcmp(dirs[i], dir); i++)
		;
	if (i == used) {
		ck_assert_uint_lt(used, sizeof dirs / sizeof dirs[0]);
		memcpy(dirs[used++], dir, sizeof dir);
	}
	mkdir(dirs[i], 0700);
	ae_vm_init(vm, name, idx, dirs[i]);
}

/* pids of live vde_switch processes whose "-s" is sock. */
static int find_switches(const char *sock, pid_t *pids, int max)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d))) {
		char p[300], buf[4096], *c, st[512];
		ssize_t len;
		int fd, sw = 0, match = 0;

		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		snprintf(p, sizeof p, "/proc/%s/stat", e->d_name);
		fd = open(p, O_RDONLY);
		if (fd < 0)
			continue;
		len = read(fd, st, sizeof st - 1);
		close(fd);
		st[len > 0 ? len : 0] = '\0';
		c = strrchr(st, ')');
		if (!c || c[2] == 'Z')
			continue;
		snprintf(p, sizeof p, "/proc/%s/cmdline", e->d_name);
		fd = open(p, O_RDONLY);
		if (fd < 0)
			continue;
		len = read(fd, buf, sizeof buf - 1);
		close(fd);
		if (len <= 0)
			continue;
		buf[len] = '\0';
		for (c = buf; c < buf + len; c += strlen(c) + 1) {
			const char *b = strrchr(c, '/');
			if (c == buf)
				sw = !strcmp(b ? b + 1 : c, "vde_switch");
			else if (!strcmp(c, "-s") && c + 3 < buf + len &&
				 !strcmp(c + 3, sock))
				match = 1;
		}
		if (sw && match && n < max)
			pids[n++] = (pid_t)atoi(e->d_name);
	}
	closedir(d);
	return n;
}

static int wait_switches(const char *sock, int want, int ms)
{
	pid_t p[8];
	int n = -1, i;

	for (i = 0; i <= ms / 10; i++) {
		n = find_switches(sock, p, 8);
		if (n == want)
			return n;
		usleep(10000);
	}
	return n;
}

/* Does dir (or dir/sub when sub is not NULL) exist? */
static int exists2(const char *dir, const char *sub)
{
	char p[PATH_MAX];
	struct stat sb;

	snprintf(p, sizeof p, "%s%s%s", dir, sub ? "/" : "", sub ? sub : "");
	return lstat(p, &sb) == 0;
}

/* Number of entries of the plugin's runtime dir besides "lock". */
static int state_entries(struct ae_instance *inst)
{
	DIR *d = opendir(ae_instance_runtime_dir(inst));
	struct dirent *e;
	int n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
		    strcmp(e->d_name, "lock"))
			n++;
	closedir(d);
	return n;
}

/* ------------------------------------------------------------------ */
/* Frames through libvdeplug.                                         */

struct frame {
	unsigned char dst[6], src[6], type[2];
	char payload[50];
};

static VDECONN *port_open(const char *sock, int port)
{
	struct vde_open_args args = {.port = port, .group = NULL, .mode = 0700};
	VDECONN *c = vde_open((char *)sock, (char *)"check_vde", &args);

	ck_assert_msg(c != NULL, "vde_open %s: %s", sock, strerror(errno));
	return c;
}

static void frame_send(VDECONN *c, const unsigned char dst[6],
		       const unsigned char src[6], const char *text)
{
	struct frame f;

	memset(&f, 0, sizeof f);
	memcpy(f.dst, dst, 6);
	memcpy(f.src, src, 6);
	f.type[0] = 0x88;
	f.type[1] = 0xb5; /* local experimental ethertype */
	snprintf(f.payload, sizeof f.payload, "%s", text);
	ck_assert_int_eq(vde_send(c, &f, sizeof f, 0), (ssize_t)sizeof f);
}

/* Receive our next test frame within ms; 1 and *f when one came. */
static int frame_recv(VDECONN *c, struct frame *f, int ms)
{
	struct pollfd pfd = {.fd = vde_datafd(c), .events = POLLIN};
	unsigned char buf[VDE_ETHBUFSIZE];

	for (;;) {
		ssize_t n;

		if (poll(&pfd, 1, ms) <= 0)
			return 0;
		n = vde_recv(c, buf, sizeof buf, 0);
		if (n >= (ssize_t)sizeof *f && buf[12] == 0x88 &&
		    buf[13] == 0xb5) {
			memcpy(f, buf, sizeof *f);
			return 1;
		}
	}
}

static const unsigned char BCAST[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
static const unsigned char MAC_A[6] = {0x02, 0xae, 0, 0, 0, 0x0a};
static const unsigned char MAC_B[6] = {0x02, 0xae, 0, 0, 0, 0x0b};

/* Two VM ports of one switch exchange frames both ways. */
static void exchange_frames(const char *sock_a, int port_a, const char *sock_b,
			    int port_b)
{
	VDECONN *a = port_open(sock_a, port_a), *b = port_open(sock_b, port_b);
	struct frame f;
	int i;

	frame_send(a, BCAST, MAC_A, "hello from A");
	ck_assert_msg(frame_recv(b, &f, 2000), "B got no broadcast from A");
	ck_assert_str_eq(f.payload, "hello from A");
	ck_assert_int_eq(memcmp(f.src, MAC_A, 6), 0);
	frame_send(b, MAC_A, MAC_B, "reply from B");
	ck_assert_msg(frame_recv(a, &f, 2000), "A got no unicast from B");
	ck_assert_str_eq(f.payload, "reply from B");
	/* learnt: unicast A -> B, many frames, none lost at this rate */
	for (i = 0; i < 100; i++) {
		char t[32];
		snprintf(t, sizeof t, "frame %d", i);
		frame_send(a, MAC_B, MAC_A, t);
		ck_assert_msg(frame_recv(b, &f, 2000), "frame %d lost", i);
		ck_assert_str_eq(f.payload, t);
	}
	vde_close(a);
	vde_close(b);
}

/* ------------------------------------------------------------------ */

START_TEST(test_frames)
{
	struct ae_instance *inst;
	struct aether_vm v1, v2;
	struct aether_attachment a1, a2;
	void *s1 = NULL, *s2 = NULL;

	setup_user();
	inst = open_inst("");
	vm_make(&v1, "vm1", 0);
	vm_make(&v2, "vm2", 1);
	ck_assert_int_eq(ae_instance_attach(inst, &v1, &a1, &s1), 0);
	ck_assert_int_eq(ae_instance_attach(inst, &v2, &a2, &s2), 0);
	ck_assert_int_eq(a1.kind, AETHER_ATTACH_VDE);
	ck_assert_int_eq(a2.kind, AETHER_ATTACH_VDE);
	ck_assert_str_eq(a1.vde.sock, a2.vde.sock);
	/* the default switch lives in aether's private runtime dir */
	ck_assert_msg(strncmp(a1.vde.sock, tdir, strlen(tdir)) == 0,
		      "switch %s outside the runtime dir %s", a1.vde.sock,
		      tdir);
	ck_assert_int_eq(wait_switches(a1.vde.sock, 1, 1000), 1);
	exchange_frames(a1.vde.sock, a1.vde.port, a2.vde.sock, a2.vde.port);
	ck_assert_int_eq(ae_instance_check(inst, &v1, s1), 0);
	ck_assert_int_eq(ae_instance_detach(inst, &v1, s1), 0);
	ck_assert_int_eq(ae_instance_detach(inst, &v2, s2), 0);
	ae_instance_close(inst);
}
END_TEST

/* Fixed ports and a group, on the switch the plugin runs. */
START_TEST(test_frames_ports)
{
	struct ae_instance *i1, *i2;
	struct aether_vm v1, v2;
	struct aether_attachment a1, a2;
	void *s1 = NULL, *s2 = NULL;
	char opts[256], sock[PATH_MAX];
	struct group *g;

	setup_user();
	g = getgrgid(getegid());
	ck_assert_ptr_nonnull(g);
	snprintf(opts, sizeof opts, "port = 5\ngroup = %s\n", g->gr_name);
	i1 = open_inst(opts);
	i2 = open_inst("port = 7\n");
	vm_make(&v1, "vm1", 0);
	vm_make(&v2, "vm2", 1);
	ck_assert_int_eq(ae_instance_attach(i1, &v1, &a1, &s1), 0);
	ck_assert_int_eq(ae_instance_attach(i2, &v2, &a2, &s2), 0);
	ck_assert_int_eq(a1.vde.port, 5);
	ck_assert_str_eq(a1.vde.group, g->gr_name);
	ck_assert_int_eq(a2.vde.port, 7);
	ck_assert_ptr_null(a2.vde.group);
	exchange_frames(a1.vde.sock, 5, a2.vde.sock, 7);
	/* the attachment's strings belong to the plugin until detach */
	snprintf(sock, sizeof sock, "%s", a1.vde.sock);
	ck_assert_int_eq(ae_instance_detach(i1, &v1, s1), 0);
	ck_assert_int_eq(ae_instance_detach(i2, &v2, s2), 0);
	ck_assert_int_eq(wait_switches(sock, 0, 3000), 0);
	ae_instance_close(i1);
	ae_instance_close(i2);
}
END_TEST

START_TEST(test_lifecycle)
{
	struct ae_instance *inst;
	struct aether_vm v1, v2;
	struct aether_attachment a1, a2;
	void *s1 = NULL, *s2 = NULL;
	pid_t p1[4], p2[4];
	char sock[PATH_MAX];
	char *log;

	setup_user();
	inst = open_inst("");
	vm_make(&v1, "vm1", 0);
	vm_make(&v2, "vm2", 1);
	snprintf(sock, sizeof sock, "%s/switch", ae_instance_runtime_dir(inst));
	ck_assert_int_eq(find_switches(sock, p1, 4), 0);

	/* first attach starts the switch */
	ck_assert_int_eq(ae_instance_attach(inst, &v1, &a1, &s1), 0);
	ck_assert_str_eq(a1.vde.sock, sock);
	ck_assert_int_eq(find_switches(sock, p1, 4), 1);
	ck_assert(exists2(sock, "ctl"));
	/* second attach reuses it */
	ck_assert_int_eq(ae_instance_attach(inst, &v2, &a2, &s2), 0);
	ck_assert_int_eq(find_switches(sock, p2, 4), 1);
	ck_assert_int_eq(p1[0], p2[0]);
	/* not the last detach: it keeps running */
	ck_assert_int_eq(ae_instance_detach(inst, &v1, s1), 0);
	ck_assert_int_eq(find_switches(sock, p2, 4), 1);
	ck_assert_int_eq(ae_instance_check(inst, &v2, s2), 0);
	/* last detach stops it and removes its directory and state */
	ck_assert_int_eq(ae_instance_detach(inst, &v2, s2), 0);
	ck_assert_int_eq(wait_switches(sock, 0, 3000), 0);
	ck_assert(!exists2(sock, NULL));
	ck_assert_int_eq(state_entries(inst), 0);

	/* killing the switch is noticed by check */
	ck_assert_int_eq(ae_instance_attach(inst, &v1, &a1, &s1), 0);
	ck_assert_int_eq(find_switches(sock, p1, 4), 1);
	ck_assert_int_eq(ae_instance_check(inst, &v1, s1), 0);
	ck_assert_int_eq(kill(p1[0], SIGKILL), 0);
	ck_assert_int_eq(wait_switches(sock, 0, 3000), 0);
	capture_start();
	ck_assert_int_eq(ae_instance_check(inst, &v1, s1), -ESRCH);
	log = capture_end();
	{
		char want[PATH_MAX + 64];
		snprintf(want, sizeof want,
			 "vde_switch pid %ld serving %s has exited",
			 (long)p1[0], sock);
		ck_assert_msg(strstr(log, want), "want \"%s\" in: %s", want,
			      log);
	}
	/* detach after the crash still cleans up */
	ck_assert_int_eq(ae_instance_detach(inst, &v1, s1), 0);
	ck_assert(!exists2(sock, NULL));
	ck_assert_int_eq(state_entries(inst), 0);

	/* a clean SIGTERM stop is noticed too, and attach restarts it */
	ck_assert_int_eq(ae_instance_attach(inst, &v1, &a1, &s1), 0);
	ck_assert_int_eq(find_switches(sock, p1, 4), 1);
	kill(p1[0], SIGTERM);
	ck_assert_int_eq(wait_switches(sock, 0, 3000), 0);
	capture_start();
	ck_assert_int_eq(ae_instance_check(inst, &v1, s1), -ESRCH);
	log = capture_end();
	{
		char want[PATH_MAX + 64];
		snprintf(want, sizeof want, "the managed switch at %s has "
					    "stopped", sock);
		ck_assert_msg(strstr(log, want), "want \"%s\" in: %s", want,
			      log);
	}
	ck_assert_int_eq(ae_instance_attach(inst, &v2, &a2, &s2), 0);
	ck_assert_int_eq(find_switches(sock, p2, 4), 1);
	ck_assert_int_ne(p1[0], p2[0]);
	ck_assert_int_eq(ae_instance_check(inst, &v2, s2), 0);
	ck_assert_int_eq(ae_instance_detach(inst, &v1, s1), 0);
	ck_assert_int_eq(ae_instance_detach(inst, &v2, s2), 0);
	ck_assert_int_eq(wait_switches(sock, 0, 3000), 0);
	ae_instance_close(inst);
}
END_TEST

START_TEST(test_keep_running)
{
	struct ae_instance *inst;
	struct aether_vm v1;
	struct aether_attachment a1;
	void *s1 = NULL;
	char sock[PATH_MAX];
	pid_t p[4];

	setup_user();
	inst = open_inst("keep_running = yes\n");
	vm_make(&v1, "vm1", 0);
	snprintf(sock, sizeof sock, "%s/switch", ae_instance_runtime_dir(inst));
	ck_assert_int_eq(ae_instance_attach(inst, &v1, &a1, &s1), 0);
	ck_assert_int_eq(ae_instance_detach(inst, &v1, s1), 0);
	ck_assert_int_eq(find_switches(sock, p, 4), 1);
	ae_instance_close(inst);
	/* gc with keep_running = no stops the unused switch */
	inst = open_inst("");
	ck_assert_int_eq(ae_instance_gc(inst, NULL, 0), 0);
	ck_assert_int_eq(wait_switches(sock, 0, 3000), 0);
	ck_assert(!exists2(sock, NULL));
	ck_assert_int_eq(state_entries(inst), 0);
	ae_instance_close(inst);
}
END_TEST

/* A second aether process reuses the running switch; whichever process
 * detaches last stops it. */
START_TEST(test_second_process)
{
	struct ae_instance *inst;
	struct aether_vm v1;
	struct aether_attachment a1;
	void *s1 = NULL;
	char sock[PATH_MAX], c;
	pid_t p1[4], p2[4], child;
	int to_child[2], from_child[2], st;

	setup_user();
	inst = open_inst("");
	vm_make(&v1, "vm1", 0);
	snprintf(sock, sizeof sock, "%s/switch", ae_instance_runtime_dir(inst));
	ck_assert_int_eq(ae_instance_attach(inst, &v1, &a1, &s1), 0);
	ck_assert_int_eq(find_switches(sock, p1, 4), 1);

	ck_assert_int_eq(pipe(to_child), 0);
	ck_assert_int_eq(pipe(from_child), 0);
	child = fork();
	ck_assert_int_ge(child, 0);
	if (child == 0) {
		/* the second process: its own plugin instance */
		struct ae_instance *i2 = open_inst("");
		struct aether_vm v2;
		struct aether_attachment a2;
		void *s2 = NULL;

		vm_make(&v2, "vm2", 1);
		if (ae_instance_attach(i2, &v2, &a2, &s2) != 0)
			_exit(2);
		if (write(from_child[1], "a", 1) != 1)
			_exit(3);
		if (read(to_child[0], &c, 1) != 1) /* parent detached */
			_exit(4);
		if (ae_instance_check(i2, &v2, s2) != 0)
			_exit(5);
		if (ae_instance_detach(i2, &v2, s2) != 0)
			_exit(6);
		ae_instance_close(i2);
		_exit(0);
	}
	ck_assert_int_eq(read(from_child[0], &c, 1), 1);
	ck_assert_int_eq(find_switches(sock, p2, 4), 1);
	ck_assert_int_eq(p1[0], p2[0]); /* reused, not a second switch */
	/* the starter leaves first: the switch stays for the other VM */
	ck_assert_int_eq(ae_instance_detach(inst, &v1, s1), 0);
	ck_assert_int_eq(find_switches(sock, p2, 4), 1);
	ck_assert_int_eq(write(to_child[1], "d", 1), 1);
	ck_assert_int_eq(waitpid(child, &st, 0), child);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		      "second process failed with %d", WEXITSTATUS(st));
	/* the second process stopped the switch it did not start */
	ck_assert_int_eq(wait_switches(sock, 0, 3000), 0);
	ck_assert(!exists2(sock, NULL));
	ck_assert_int_eq(state_entries(inst), 0);
	ae_instance_close(inst);
}
END_TEST

/* A process that dies without detaching: gc cleans up after it. */
START_TEST(test_gc_crashed)
{
	struct ae_instance *inst;
	struct aether_vm v1, live;
	char sock[PATH_MAX];
	pid_t child, p[4];
	int st;

	setup_user();
	inst = open_inst("");
	snprintf(sock, sizeof sock, "%s/switch", ae_instance_runtime_dir(inst));
	vm_make(&v1, "vm1", 0);
	child = fork();
	ck_assert_int_ge(child, 0);
	if (child == 0) {
		struct ae_instance *i2 = open_inst("");
		struct aether_attachment a;
		void *s = NULL;
		_exit(ae_instance_attach(i2, &v1, &a, &s) == 0 ? 0 : 1);
	}
	ck_assert_int_eq(waitpid(child, &st, 0), child);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	ck_assert_int_eq(find_switches(sock, p, 4), 1);
	/* vm1 still live: gc keeps everything */
	live = v1;
	ck_assert_int_eq(ae_instance_gc(inst, &live, 1), 0);
	ck_assert_int_eq(find_switches(sock, p, 4), 1);
	/* vm1 gone: gc stops the switch and removes its directory */
	ck_assert_int_eq(ae_instance_gc(inst, NULL, 0), 0);
	ck_assert_int_eq(wait_switches(sock, 0, 3000), 0);
	ck_assert(!exists2(sock, NULL));
	ck_assert_int_eq(state_entries(inst), 0);

	/* a switch killed with its state left behind: gc removes the stale
	 * socket directory */
	child = fork();
	ck_assert_int_ge(child, 0);
	if (child == 0) {
		struct ae_instance *i2 = open_inst("");
		struct aether_attachment a;
		void *s = NULL;
		_exit(ae_instance_attach(i2, &v1, &a, &s) == 0 ? 0 : 1);
	}
	ck_assert_int_eq(waitpid(child, &st, 0), child);
	ck_assert_int_eq(find_switches(sock, p, 4), 1);
	kill(p[0], SIGKILL);
	ck_assert_int_eq(wait_switches(sock, 0, 3000), 0);
	ck_assert(exists2(sock, "ctl"));
	ck_assert_int_eq(ae_instance_gc(inst, NULL, 0), 0);
	ck_assert(!exists2(sock, NULL));
	ck_assert_int_eq(state_entries(inst), 0);
	ae_instance_close(inst);
}
END_TEST

/* An unmanaged plugin uses a switch somebody else runs, and never stops
 * it. */
START_TEST(test_unmanaged)
{
	struct ae_instance *inst;
	struct aether_vm v1, v2;
	struct aether_attachment a1, a2;
	void *s1 = NULL, *s2 = NULL;
	char sock[PATH_MAX], opts[PATH_MAX + 64], *log;
	pid_t p[4];

	setup_user();
	snprintf(sock, sizeof sock, "%s/own-switch", tdir);
	{
		const char *argv[] = {"vde_switch", "-d", "-f", "/dev/null",
				      "-s", sock, NULL};
		run_argv(argv);
	}
	ck_assert_int_eq(wait_switches(sock, 1, 2000), 1);
	snprintf(opts, sizeof opts, "socket = %s\nmanaged = no\n", sock);
	inst = open_inst(opts);
	vm_make(&v1, "vm1", 0);
	vm_make(&v2, "vm2", 1);
	ck_assert_int_eq(ae_instance_attach(inst, &v1, &a1, &s1), 0);
	ck_assert_int_eq(ae_instance_attach(inst, &v2, &a2, &s2), 0);
	ck_assert_str_eq(a1.vde.sock, sock);
	exchange_frames(a1.vde.sock, 0, a2.vde.sock, 0);
	ck_assert_int_eq(ae_instance_detach(inst, &v1, s1), 0);
	ck_assert_int_eq(ae_instance_detach(inst, &v2, s2), 0);
	ck_assert_int_eq(find_switches(sock, p, 4), 1);
	ck_assert_int_eq(state_entries(inst), 0);
	/* a managed plugin reuses it too, but does not stop what it did not
	 * start */
	ae_instance_close(inst);
	snprintf(opts, sizeof opts, "socket = %s\n", sock);
	inst = open_inst(opts);
	ck_assert_int_eq(ae_instance_attach(inst, &v1, &a1, &s1), 0);
	ck_assert_int_eq(ae_instance_detach(inst, &v1, s1), 0);
	ck_assert_int_eq(find_switches(sock, p, 4), 1);
	ck_assert_int_eq(state_entries(inst), 0);
	/* the switch dies: check and attach say so clearly */
	ck_assert_int_eq(ae_instance_attach(inst, &v1, &a1, &s1), 0);
	kill(p[0], SIGKILL);
	ck_assert_int_eq(wait_switches(sock, 0, 3000), 0);
	/* detach still works (and frees the attachment) */
	ck_assert_int_eq(ae_instance_detach(inst, &v1, s1), 0);
	ck_assert_int_eq(state_entries(inst), 0);
	ae_instance_close(inst);
	snprintf(opts, sizeof opts, "socket = %s\nmanaged = no\n", sock);
	inst = open_inst(opts);
	capture_start();
	ck_assert_int_eq(ae_instance_attach(inst, &v2, &a2, &s2),
			 -ECONNREFUSED);
	log = capture_end();
	ck_assert_msg(strstr(log, "does not answer"), "log: %s", log);
	ae_instance_close(inst);
}
END_TEST

/* A listener on <dir>/ctl that accepts and never answers. */
static int fake_ctl(const char *dir)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	mkdir(dir, 0700);
	snprintf(sun.sun_path, sizeof sun.sun_path, "%s/ctl", dir);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sun, sizeof sun), 0);
	ck_assert_int_eq(listen(fd, 4), 0);
	return fd;
}

static int count_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static void expect_attach_error(const char *opts, int want_rc,
				const char *want_msg)
{
	struct ae_instance *inst = open_inst(opts);
	struct aether_vm v;
	struct aether_attachment a;
	void *s = NULL;
	char *log;
	int rc;

	vm_make(&v, "bad", 0);
	capture_start();
	rc = ae_instance_attach(inst, &v, &a, &s);
	log = capture_end();
	ck_assert_msg(rc == want_rc, "attach with '%s' returned %d (%s), want %d",
		      opts, rc, strerror(-rc), want_rc);
	ck_assert_msg(strstr(log, want_msg), "no '%s' in the log: %s", want_msg,
		      log);
	/* nothing left behind: no state, no switch */
	ck_assert_int_eq(state_entries(inst), 0);
	ae_instance_close(inst);
}

START_TEST(test_bad_input)
{
	char opts[PATH_MAX * 2], path[PATH_MAX], want[256];
	const char *user;
	pid_t p[4];
	int fd, lfd;

	setup_user();

	/* a regular file is not a switch */
	snprintf(path, sizeof path, "%s/plainfile", tdir);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "/tmp\n", 5), 5);
	close(fd);
	snprintf(opts, sizeof opts, "socket = %s\nmanaged = no\n", path);
	expect_attach_error(opts, -ENOTDIR, "is not a VDE switch");
	snprintf(opts, sizeof opts, "socket = %s\n", path);
	expect_attach_error(opts, -ENOTDIR, "is not a directory");

	/* a directory without a ctl socket */
	snprintf(path, sizeof path, "%s/emptydir", tdir);
	mkdir(path, 0700);
	snprintf(opts, sizeof opts, "socket = %s\nmanaged = no\n", path);
	expect_attach_error(opts, -ENOTSOCK, "missing or not a socket");
	ck_assert_int_eq(count_dir(path), 0);

	/* something listening that is not a switch: a timeout, not a hang */
	snprintf(path, sizeof path, "%s/notaswitch", tdir);
	lfd = fake_ctl(path);
	snprintf(opts, sizeof opts,
		 "socket = %s\nmanaged = no\nprobe_timeout_ms = 300\n", path);
	expect_attach_error(opts, -ETIMEDOUT, "did not answer");
	snprintf(opts, sizeof opts, "socket = %s\nprobe_timeout_ms = 300\n",
		 path);
	expect_attach_error(opts, -ETIMEDOUT, "did not answer");
	ck_assert_int_eq(count_dir(path), 1); /* only its own ctl */
	close(lfd);

	/* a directory with other files is never turned into a switch */
	snprintf(path, sizeof path, "%s/somedir", tdir);
	mkdir(path, 0700);
	snprintf(want, sizeof want, "%s/keep.txt", path);
	fd = open(want, O_WRONLY | O_CREAT, 0600);
	close(fd);
	snprintf(opts, sizeof opts, "socket = %s\n", path);
	expect_attach_error(opts, -EEXIST, "not a VDE switch's");
	ck_assert_int_eq(count_dir(path), 1);

	/* a missing TAP: say so, and give the one root command */
	user = geteuid() == NOBODY_UID ? "nobody" : getenv("USER");
	snprintf(want, sizeof want,
		 "ip tuntap add dev tapnope0 mode tap user %s",
		 user ? user : "");
	expect_attach_error("tap = tapnope0\n", -ENODEV, want);
	ck_assert_int_eq(count_dir(tdir) >= 0, 1);
	snprintf(path, sizeof path, "%s/aether/plugins/vde/switch", tdir);
	ck_assert(!exists2(path, NULL));
	ck_assert_int_eq(find_switches(path, p, 4), 0);

	/* a directory without permission */
	snprintf(path, sizeof path, "%s/locked", tdir);
	mkdir(path, 0500);
	snprintf(opts, sizeof opts, "socket = %s/locked/sw\n", tdir);
	expect_attach_error(opts, -EACCES, "no write permission");
	ck_assert_int_eq(count_dir(path), 0);
	chmod(path, 0000);
	snprintf(opts, sizeof opts, "socket = %s/locked/sw\nmanaged = no\n",
		 tdir);
	expect_attach_error(opts, -EACCES, "Permission denied");
	chmod(path, 0700);
	snprintf(path, sizeof path, "%s/aether/plugins/vde/switch", tdir);
	ck_assert_int_eq(find_switches(path, p, 4), 0);
}
END_TEST

START_TEST(test_bad_options)
{
	/* Each is refused with its -errno and a message naming the option
	 * and value, in the open error: from the host's option table
	 * ("t:2: key: ...") or from the plugin's validate verb
	 * ("t:2: [network.vde] key = value: ..."). */
	static const struct {
		const char *opts;
		int rc;
		int from_log; /* 0: in err, 1: in the plugin's log */
		const char *msg;
	} bad[] = {
		/* characters libvdeplug or QEMU would misparse */
		{"socket = /tmp/a,b\n", -EINVAL, 0,
		 "t:2: [network.vde] socket = /tmp/a,b: a VDE switch directory "
		 "must be an absolute path of at most 92 characters from "
		 "[A-Za-z0-9/._+@-]"},
		{"socket = /tmp/a[3]\n", -EINVAL, 0,
		 "t:2: [network.vde] socket = /tmp/a[3]: a VDE switch "
		 "directory must be "},
		{"group = no-such-group-x\n", -ENOENT, 0,
		 "t:2: [network.vde] group = no-such-group-x: no such group"},
		{"port = 5000\n", -EINVAL, 0,
		 "t:2: port: 5000 is out of range 0..1023"},
		{"socket = rel\n", -EINVAL, 0,
		 "t:2: socket: 'rel' is not an absolute path without '..' "
		 "components"},
	};
	unsigned i;

	setup_user();
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct ae_instance *inst = NULL;
		char err[512] = "";
		const char *log;
		int r;

		capture_start();
		r = ae_instance_open_text("vde", NULL, bad[i].opts, "t", &inst,
					  err, sizeof err);
		log = capture_end();
		ck_assert_msg(r == bad[i].rc, "'%s': got %d (%s), want %d (%s)",
			      bad[i].opts, r, r ? strerror(-r) : "accepted",
			      bad[i].rc, strerror(-bad[i].rc));
		ck_assert_ptr_null(inst);
		ck_assert_msg(strstr(bad[i].from_log ? log : err, bad[i].msg),
			      "'%s': want \"%s\" in the %s; error: \"%s\", "
			      "log: \"%s\"",
			      bad[i].opts, bad[i].msg,
			      bad[i].from_log ? "plugin's log" : "error", err,
			      log);
	}
}
END_TEST

/* ------------------------------------------------------------------ */
/* The TAP: root makes it once, then everything runs as the user.     */

static int netns_setup_tap(char *why, size_t len)
{
	char tun[PATH_MAX];

	if (geteuid() != 0) {
		snprintf(why, len, "not root: cannot create a TAP device");
		return -1;
	}
	if (unshare(CLONE_NEWNET | CLONE_NEWNS) < 0) {
		snprintf(why, len, "unshare(CLONE_NEWNET|CLONE_NEWNS): %s",
			 strerror(errno));
		return -1;
	}
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
		snprintf(why, len, "mount --make-rprivate /: %s",
			 strerror(errno));
		return -1;
	}
	/* /dev/net/tun may be 0600 in this container; give the user a
	 * 0666 one in our private mount namespace only, as on a host. */
	snprintf(tun, sizeof tun, "%s/tun", tdir);
	if (mknod(tun, S_IFCHR | 0666, makedev(10, 200)) < 0 ||
	    chmod(tun, 0666) < 0 ||
	    mount(tun, "/dev/net/tun", NULL, MS_BIND, NULL) < 0) {
		snprintf(why, len, "cannot provide /dev/net/tun: %s",
			 strerror(errno));
		return -1;
	}
	{
		const char *a1[] = {"ip", "link", "set", "lo", "up", NULL};
		const char *a2[] = {"ip",  "tuntap", "add",    "dev", "tap-vde",
				    "mode", "tap",   "user",   "nobody", NULL};
		const char *a3[] = {"ip", "addr", "add", "10.199.0.1/24", "dev",
				    "tap-vde", NULL};
		const char *a4[] = {"ip", "link", "set", "tap-vde", "up", NULL};
		run_argv(a1);
		run_argv(a2);
		run_argv(a3);
		run_argv(a4);
	}
	return 0;
}

struct arp_frame {
	unsigned char dst[6], src[6], type[2];
	unsigned char htype[2], ptype[2], hlen, plen, op[2];
	unsigned char sha[6], spa[4], tha[6], tpa[4];
	unsigned char pad[18];
} __attribute__((packed));

START_TEST(test_tap)
{
	struct ae_instance *inst;
	struct aether_vm v1;
	struct aether_attachment a1;
	void *s1 = NULL;
	char why[256], sock[PATH_MAX];
	struct arp_frame req, *rep;
	unsigned char buf[VDE_ETHBUFSIZE];
	struct pollfd pfd;
	VDECONN *c;
	pid_t p[4];
	int got = 0, i;

	make_tdir();
	if (netns_setup_tap(why, sizeof why) < 0) {
		SKIP_TEST("test_tap: %s", why);
	}
	drop_privileges();
	inst = open_inst("tap = tap-vde\n");
	snprintf(sock, sizeof sock, "%s/switch", ae_instance_runtime_dir(inst));
	vm_make(&v1, "vm1", 0);
	ck_assert_int_eq(ae_instance_attach(inst, &v1, &a1, &s1), 0);
	ck_assert_int_eq(find_switches(sock, p, 4), 1);

	/* play the VM: ARP for the host's address on the TAP */
	c = port_open(a1.vde.sock, 0);
	memset(&req, 0, sizeof req);
	memcpy(req.dst, BCAST, 6);
	memcpy(req.src, MAC_A, 6);
	req.type[0] = 0x08, req.type[1] = 0x06;
	req.htype[1] = 1;
	req.ptype[0] = 0x08;
	req.hlen = 6, req.plen = 4;
	req.op[1] = 1;
	memcpy(req.sha, MAC_A, 6);
	memcpy(req.spa, (unsigned char[]){10, 199, 0, 2}, 4);
	memcpy(req.tpa, (unsigned char[]){10, 199, 0, 1}, 4);
	pfd.fd = vde_datafd(c);
	pfd.events = POLLIN;
	for (i = 0; i < 20 && !got; i++) {
		ck_assert_int_eq(vde_send(c, &req, sizeof req, 0),
				 (ssize_t)sizeof req);
		while (!got && poll(&pfd, 1, 200) > 0) {
			ssize_t n = vde_recv(c, buf, sizeof buf, 0);
			rep = (struct arp_frame *)buf;
			if (n >= 42 && rep->type[0] == 0x08 &&
			    rep->type[1] == 0x06 && rep->op[1] == 2 &&
			    !memcmp(rep->spa, req.tpa, 4))
				got = 1;
		}
	}
	ck_assert_msg(got, "no ARP reply from the host through the TAP");
	vde_close(c);
	ck_assert_int_eq(ae_instance_check(inst, &v1, s1), 0);
	ck_assert_int_eq(ae_instance_detach(inst, &v1, s1), 0);
	ck_assert_int_eq(wait_switches(sock, 0, 3000), 0);
	ae_instance_close(inst);
}
END_TEST

/* A TAP of another user: clear error, nothing started. */
START_TEST(test_tap_foreign)
{
	char why[256], want[256];
	const char *a[] = {"ip",   "tuntap", "add",  "dev", "tap-root",
			   "mode", "tap",    "user", "0",   NULL};

	make_tdir();
	if (netns_setup_tap(why, sizeof why) < 0) {
		SKIP_TEST("test_tap_foreign: %s", why);
	}
	run_argv(a);
	drop_privileges();
	snprintf(want, sizeof want, "may not use it");
	expect_attach_error("tap = tap-root\n", -EPERM, want);
}
END_TEST

/* ------------------------------------------------------------------ */
/* systemd mode, against a stand-in systemctl that runs the shipped unit's
 * ExecStart (there is no systemd user manager on a build machine). */

START_TEST(test_systemd)
{
	struct ae_instance *inst;
	struct aether_vm v1, v2;
	struct aether_attachment a1, a2;
	void *s1 = NULL, *s2 = NULL;
	char bindir[PATH_MAX], link[PATH_MAX], sock[PATH_MAX], path[PATH_MAX];
	char *srcdir = getenv("top_srcdir"), *calls;
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	pid_t p[4];
	int fd, n;

	ck_assert_msg(srcdir != NULL, "top_srcdir is not set");
	make_tdir();
	/* Copies, made before dropping privileges: nobody may not be able
	 * to read the source tree (a clone under /root is 0700). */
	snprintf(bindir, sizeof bindir, "%s/bin", tdir);
	ck_assert_int_eq(mkdir(bindir, 0755), 0);
	snprintf(path, sizeof path, "%s/tests/vde-fake-systemctl.sh", srcdir);
	snprintf(link, sizeof link, "%s/systemctl", bindir);
	copy_file(path, link, 0755);
	snprintf(path, sizeof path, "%s/data/systemd/aether-vde.service",
		 srcdir);
	snprintf(link, sizeof link, "%s/aether-vde.service", tdir);
	copy_file(path, link, 0644);
	setenv("AETHER_TEST_UNIT", link, 1);
	drop_privileges();
	snprintf(path, sizeof path, "%s:%s", bindir, getenv("PATH"));
	setenv("PATH", path, 1);
	snprintf(path, sizeof path, "%s/systemctl.calls", tdir);
	setenv("AETHER_TEST_SYSTEMCTL_LOG", path, 1);
	/* the user manager's private socket */
	snprintf(path, sizeof path, "%s/systemd", tdir);
	mkdir(path, 0700);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	snprintf(sun.sun_path, sizeof sun.sun_path, "%s/systemd/private",
		 tdir);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sun, sizeof sun), 0);

	inst = open_inst("systemd = yes\n");
	snprintf(sock, sizeof sock, "%s/switch", ae_instance_runtime_dir(inst));
	vm_make(&v1, "vm1", 0);
	vm_make(&v2, "vm2", 1);
	ck_assert_int_eq(ae_instance_attach(inst, &v1, &a1, &s1), 0);
	ck_assert_int_eq(ae_instance_attach(inst, &v2, &a2, &s2), 0);
	ck_assert_int_eq(find_switches(sock, p, 4), 1);
	exchange_frames(a1.vde.sock, 0, a2.vde.sock, 0);
	ck_assert_int_eq(ae_instance_check(inst, &v1, s1), 0);
	ck_assert_int_eq(ae_instance_detach(inst, &v1, s1), 0);
	ck_assert_int_eq(find_switches(sock, p, 4), 1);
	ck_assert_int_eq(ae_instance_detach(inst, &v2, s2), 0);
	ck_assert_int_eq(wait_switches(sock, 0, 3000), 0);

	snprintf(path, sizeof path, "%s/systemctl.calls", tdir);
	fd = open(path, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	calls = calloc(1, 4096);
	n = (int)read(fd, calls, 4095);
	close(fd);
	ck_assert_int_gt(n, 0);
	ck_assert_str_eq(calls, "--user start aether-vde.service\n"
				"--user stop aether-vde.service\n");
	free(calls);
	ck_assert_int_eq(state_entries(inst), 1); /* systemd.env */
	ae_instance_close(inst);
}
END_TEST

/* Kill what failed tests left running and remove their directories. */
static void cleanup_all(void)
{
	DIR *d = opendir("/tmp"), *pd;
	struct dirent *e, *pe;
	char prefix[64];

	snprintf(prefix, sizeof prefix, "aether-vde-test.%ld.", (long)getpid());
	if (!d)
		return;
	while ((e = readdir(d))) {
		char dir[PATH_MAX];
		const char *rm[] = {"rm", "-rf", dir, NULL};

		if (strncmp(e->d_name, prefix, strlen(prefix)))
			continue;
		snprintf(dir, sizeof dir, "/tmp/%s", e->d_name);
		pd = opendir("/proc");
		while (pd && (pe = readdir(pd))) {
			char p[300], buf[4096];
			ssize_t n, i;
			int fd;

			if (pe->d_name[0] < '1' || pe->d_name[0] > '9')
				continue;
			snprintf(p, sizeof p, "/proc/%s/cmdline", pe->d_name);
			fd = open(p, O_RDONLY);
			if (fd < 0)
				continue;
			n = read(fd, buf, sizeof buf - 1);
			close(fd);
			if (n <= 0)
				continue;
			for (i = 0; i < n; i++)
				if (!buf[i])
					buf[i] = ' ';
			buf[n] = '\0';
			if (!strncmp(buf, "vde_switch ", 11) && strstr(buf, dir))
				kill(atoi(pe->d_name), SIGKILL);
		}
		if (pd)
			closedir(pd);
		{
			pid_t pid = fork();
			if (pid == 0) {
				execvp(rm[0], (char *const *)rm);
				_exit(127);
			}
			if (pid > 0)
				waitpid(pid, NULL, 0);
		}
	}
	closedir(d);
}

static Suite *vde_suite(void)
{
	Suite *s = suite_create("vde");
	TCase *tc = tcase_create("switch");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_frames);
	tcase_add_test(tc, test_frames_ports);
	tcase_add_test(tc, test_lifecycle);
	tcase_add_test(tc, test_keep_running);
	tcase_add_test(tc, test_second_process);
	tcase_add_test(tc, test_gc_crashed);
	tcase_add_test(tc, test_unmanaged);
	tcase_add_test(tc, test_bad_input);
	tcase_add_test(tc, test_bad_options);
	tcase_add_test(tc, test_tap);
	tcase_add_test(tc, test_tap_foreign);
	tcase_add_test(tc, test_systemd);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed;
	char *p = ae_find_program("vde_switch");

	if (!p) {
		fprintf(stderr, "check_vde: SKIP: vde_switch not installed "
				"(vde2 / vde-switch package)\n");
		return 77;
	}
	free(p);
	ck_skip_init();
	sr = srunner_create(vde_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	cleanup_all();
	return ck_exit_status(failed);
}
