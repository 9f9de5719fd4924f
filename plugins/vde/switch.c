/*
 * switch.c - the vde plugin's managed switch: its state directories, the
 * lock, probing a switch through libvdeplug, explaining why a socket is
 * not a usable switch, starting vde_switch (directly through the host's
 * helper service, or as the systemd user unit) and stopping or releasing
 * it.
 *
 * State, under the plugin's runtime dir R (0700, shared by all aether
 * processes of the user):
 *
 *   R/lock                  flock'd around every change below
 *   R/switch/               the default switch control directory (-s)
 *   R/sw-<hash>/            one per managed switch (hash of its socket path)
 *       sock                the switch's control directory, as text
 *       pid                 vde_switch's pid file (we started it)
 *       systemd             present when it runs as the systemd user unit
 *       mgmt                vde_switch's management socket (-M)
 *       switch.log          what vde_switch printed before daemonizing
 *       users/<vm id>@<nic> one marker per attached NIC: the reference count
 *   R/systemd.env           the environment file aether-vde.service reads
 *
 * vde_switch reads commands on stdin and exits on EOF unless it is
 * daemonized, and the helper service gives it /dev/null: so it runs with
 * -d and -p, the plugin watches it through its pid file (verified against
 * /proc/<pid>/cmdline) and through libvdeplug, and stops it by pid.
 */
#include "config.h"

#include <dirent.h>
#include <stddef.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <libvdeplug.h>

#include <aether/plugin.h>

#include "switch.h"
#include "vde.h"

#define VDE_SWITCH_PROG "vde_switch"
#define SYSTEMCTL_PROG "systemctl"
#define DEFAULT_NUMPORTS 32

/* ------------------------------------------------------------------ */
/* Small utilities.                                                   */

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Characters allowed in a socket path: they pass unchanged through
 * libvdeplug's URL parser ('[' ']' ':' are special there) and QEMU's
 * option parser (',' is special there). */
int vde_valid_sock_path(const char *p)
{
	const char *c;

	if (!p || p[0] != '/')
		return 0;
	for (c = p; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		      (*c >= '0' && *c <= '9') || strchr("/._-+@", *c)))
			return 0;
	return strstr(p, "/../") == NULL && strstr(p, "//") == NULL;
}

int vde_valid_word(const char *s, size_t max)
{
	size_t n = 0;

	if (!s || !*s || s[0] == '.' || s[0] == '-')
		return 0;
	for (; s[n]; n++)
		if (!((s[n] >= 'a' && s[n] <= 'z') ||
		      (s[n] >= 'A' && s[n] <= 'Z') ||
		      (s[n] >= '0' && s[n] <= '9') || strchr("._-", s[n])))
			return 0;
	return n <= max;
}

uint64_t vde_fnv1a(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ull;
	}
	return h;
}

int vde_read_text(const char *path, char *buf, size_t len)
{
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	return (int)n;
}

int vde_write_text(const char *path, const char *text)
{
	return plug_write_file(path, text, strlen(text));
}

static int is_socket(const char *path)
{
	struct stat sb;

	return lstat(path, &sb) == 0 && S_ISSOCK(sb.st_mode);
}

pid_t vde_read_pid(const char *path)
{
	char buf[32], *end;
	long v;

	if (vde_read_text(path, buf, sizeof buf) <= 0)
		return 0;
	v = strtol(buf, &end, 10);
	return (*end || v <= 1 || v > INT32_MAX) ? 0 : (pid_t)v;
}

/* Is pid a live (non-zombie) vde_switch serving sock? */
int vde_switch_pid_ok(pid_t pid, const char *sock)
{
	char path[64], buf[4096], st[512], *p;
	int fd, found = 0, is_switch = 0;
	ssize_t n;

	if (pid <= 1)
		return 0;
	snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
	if (vde_read_text(path, st, sizeof st) <= 0)
		return 0;
	p = strrchr(st, ')');
	if (!p || p[1] != ' ' || p[2] == 'Z' || p[2] == 'X')
		return 0;
	snprintf(path, sizeof path, "/proc/%ld/cmdline", (long)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	for (p = buf; p < buf + n; p += strlen(p) + 1) {
		const char *base = strrchr(p, '/');
		if (p == buf)
			is_switch = !strcmp(base ? base + 1 : p,
					    VDE_SWITCH_PROG);
		else if (!strcmp(p, "-s") && p + strlen(p) + 1 < buf + n &&
			 !strcmp(p + strlen(p) + 1, sock))
			found = 1;
	}
	return is_switch && found;
}

static int pid_gone(pid_t pid)
{
	char path[64], st[512], *p;

	if (kill(pid, 0) < 0 && errno == ESRCH)
		return 1;
	snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
	if (vde_read_text(path, st, sizeof st) <= 0)
		return 1;
	p = strrchr(st, ')');
	return p && p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X');
}

/* Names vde_switch and libvdeplug use inside a control directory: "ctl",
 * the switch's per-port sockets "NNN.FD" and clients' ".PPPPP-NNNNN". */
static int vde_entry(const char *n)
{
	const char *p = n;

	if (!strcmp(n, "ctl"))
		return 1;
	if (*p == '.')
		p++;
	if (*p < '0' || *p > '9')
		return 0;
	while (*p >= '0' && *p <= '9')
		p++;
	if (*p != (n[0] == '.' ? '-' : '.'))
		return 0;
	p++;
	if (*p < '0' || *p > '9')
		return 0;
	while (*p >= '0' && *p <= '9')
		p++;
	return *p == '\0';
}

/* 1 when dir holds nothing but what a VDE switch puts there. */
static int only_vde_entries(const char *dir)
{
	struct dirent *e;
	DIR *d = opendir(dir);
	int ok = 1;

	if (!d)
		return 0;
	while (ok && (e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			ok = vde_entry(e->d_name);
	closedir(d);
	return ok;
}

/* Remove a switch control directory: the sockets a VDE switch makes, then
 * the directory if it is then empty.  Never touches anything else. */
void vde_remove_sock_dir(const char *dir)
{
	struct dirent *e;
	DIR *d = opendir(dir);

	if (!d)
		return;
	while ((e = readdir(d))) {
		char p[PATH_MAX];

		if (!vde_entry(e->d_name))
			continue;
		if (plug_pathf(p, sizeof p, "%s/%s", dir, e->d_name) == 0 &&
		    is_socket(p))
			unlink(p);
	}
	closedir(d);
	rmdir(dir);
}

/* Remove a state directory: known files and the users dir. */
void vde_remove_state_dir(const char *dir)
{
	static const char *const files[] = {"sock", "pid", "systemd", "mgmt",
					    "switch.log", "sock.tmp", NULL};
	char p[PATH_MAX];
	struct dirent *e;
	DIR *d;
	int i;

	if (plug_pathf(p, sizeof p, "%s/users", dir) == 0 && (d = opendir(p))) {
		while ((e = readdir(d))) {
			char m[PATH_MAX];
			if (e->d_name[0] != '.' &&
			    plug_pathf(m, sizeof m, "%s/%s", p, e->d_name) == 0)
				unlink(m);
		}
		closedir(d);
		rmdir(p);
	}
	for (i = 0; files[i]; i++)
		if (plug_pathf(p, sizeof p, "%s/%s", dir, files[i]) == 0)
			unlink(p);
	rmdir(dir);
}

int vde_count_users(const char *statedir)
{
	char p[PATH_MAX];
	struct dirent *e;
	int n = 0;
	DIR *d;

	if (plug_pathf(p, sizeof p, "%s/users", statedir) < 0 ||
	    !(d = opendir(p)))
		return 0;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.' && !strstr(e->d_name, ".tmp"))
			n++;
	closedir(d);
	return n;
}

int vde_lock_state(struct vde_state *st)
{
	char p[PATH_MAX];
	int fd;

	if (plug_pathf(p, sizeof p, "%s/lock", st->rundir) < 0)
		return -ENAMETOOLONG;
	fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		int e = errno;
		AETHER_ERR(st->host, "cannot open lock file %s: %s", p,
		    strerror(e));
		return -e;
	}
	while (flock(fd, LOCK_EX) < 0) {
		int e = errno;
		if (e == EINTR)
			continue;
		close(fd);
		AETHER_ERR(st->host, "cannot lock %s: %s", p, strerror(e));
		return -e;
	}
	return fd;
}

void vde_unlock_state(int fd)
{
	if (fd >= 0)
		close(fd); /* releases the flock */
}

/* ------------------------------------------------------------------ */
/* Probing a switch through libvdeplug, with a timeout.               */

struct probe {
	char url[PATH_MAX + 8];
	char group[64];
	int port;
	int ok, err;
	/* Here, not on the thread's stack: the thread may be cancelled
	 * inside vde_open, and an unwound frame must hold nothing whose
	 * address was taken (AddressSanitizer would keep its redzones
	 * poisoned and report the thread's exit). */
	struct vde_open_args args;
};

static void *probe_thread(void *arg)
{
	struct probe *pr = arg;
	VDECONN *c;

	pr->args.port = pr->port;
	pr->args.group = pr->group[0] ? pr->group : NULL;
	pr->args.mode = 0700; /* 0 would mean chmod 000 */
	c = vde_open(pr->url, (char *)"aether-probe", &pr->args);
	if (c) {
		vde_close(c);
		pr->ok = 1;
	} else {
		pr->err = errno ? errno : ECONNREFUSED;
	}
	return NULL;
}

#define MAX_FDS_SNAP 1024

/* The fds open in this process (up to max), sorted as /proc lists them. */
static int fd_snapshot(int *fds, int max)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d)) && n < max)
		if (e->d_name[0] >= '0' && e->d_name[0] <= '9')
			fds[n++] = atoi(e->d_name);
	closedir(d);
	return n;
}

static int in_set(const int *fds, int n, int fd)
{
	int i;

	for (i = 0; i < n; i++)
		if (fds[i] == fd)
			return 1;
	return 0;
}

/* Is fd a unix socket connected to path? */
static int peer_is(int fd, const char *path)
{
	struct sockaddr_un sun;
	socklen_t len = sizeof sun;

	memset(&sun, 0, sizeof sun);
	if (getpeername(fd, (struct sockaddr *)&sun, &len) < 0 ||
	    sun.sun_family != AF_UNIX)
		return 0;
	return !strncmp(sun.sun_path, path, sizeof sun.sun_path);
}

/* A unix socket with no name and no peer (made, not yet connected), or one
 * bound to a name starting with prefix. */
static int ours_unconnected(int fd, const char *prefix)
{
	struct sockaddr_un sun;
	socklen_t len = sizeof sun;
	int type = 0;
	socklen_t tl = sizeof type;

	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) < 0)
		return 0;
	memset(&sun, 0, sizeof sun);
	if (getsockname(fd, (struct sockaddr *)&sun, &len) < 0 ||
	    sun.sun_family != AF_UNIX)
		return 0;
	if (len > offsetof(struct sockaddr_un, sun_path) && sun.sun_path[0])
		return !strncmp(sun.sun_path, prefix, strlen(prefix));
	len = sizeof sun;
	return getpeername(fd, (struct sockaddr *)&sun, &len) < 0;
}

static void abs_deadline(struct timespec *ts, int ms)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* 0 when a VDE switch answers on sock (a port is opened and closed again),
 * -ETIMEDOUT when it does not answer in time, else -errno of the failure.
 *
 * libvdeplug blocks until the switch answers, so vde_open runs in a
 * thread.  Something that accepts the connection and never answers (not a
 * switch, or a hung one) is handled by shutting the probe's connection
 * down, which makes libvdeplug fail and clean up after itself. */
int vde_probe_switch(const char *sock, int port, const char *group,
		     int timeout_ms)
{
	static int before[MAX_FDS_SNAP], after[MAX_FDS_SNAP];
	char ctl[PATH_MAX], prefix[PATH_MAX];
	struct probe pr;
	struct timespec ts;
	pthread_t th;
	int rc, nb, na, i;

	memset(&pr, 0, sizeof pr);
	/* The explicit vde:// keeps libvdeplug from following a regular file
	 * or $HOME/.vde2/default.switch. */
	if (plug_pathf(pr.url, sizeof pr.url, "vde://%s", sock) < 0 ||
	    plug_pathf(ctl, sizeof ctl, "%s/ctl", sock) < 0 ||
	    plug_pathf(prefix, sizeof prefix, "%s/.%05ld-", sock,
		      (long)getpid()) < 0)
		return -ENAMETOOLONG;
	if (group)
		snprintf(pr.group, sizeof pr.group, "%s", group);
	pr.port = port;
	nb = fd_snapshot(before, MAX_FDS_SNAP);
	rc = pthread_create(&th, NULL, probe_thread, &pr);
	if (rc)
		return -rc;
	abs_deadline(&ts, timeout_ms);
	rc = pthread_timedjoin_np(th, NULL, &ts);
	if (rc == 0)
		return pr.ok ? 0 : -pr.err;
	if (rc != ETIMEDOUT) {
		pthread_join(th, NULL);
		return -rc;
	}
	/* No answer: hang up on it. */
	na = fd_snapshot(after, MAX_FDS_SNAP);
	for (i = 0; i < na; i++)
		if (!in_set(before, nb, after[i]) && peer_is(after[i], ctl))
			shutdown(after[i], SHUT_RDWR);
	abs_deadline(&ts, 1000);
	if (pthread_timedjoin_np(th, NULL, &ts) == 0) {
		if (pr.ok) /* it answered after all, just late */
			return -ETIMEDOUT;
		return -ETIMEDOUT;
	}
	/* Still stuck (in connect: the listener's queue is full).  connect
	 * is a cancellation point; then close what the probe had opened. */
	pthread_cancel(th);
	pthread_join(th, NULL);
	na = fd_snapshot(after, MAX_FDS_SNAP);
	for (i = 0; i < na; i++)
		if (!in_set(before, nb, after[i]) &&
		    (peer_is(after[i], ctl) ||
		     ours_unconnected(after[i], prefix)))
			close(after[i]);
	{
		DIR *d = opendir(sock);
		struct dirent *e;
		char pfx[32], p[PATH_MAX];

		snprintf(pfx, sizeof pfx, ".%05ld-", (long)getpid());
		while (d && (e = readdir(d)))
			if (!strncmp(e->d_name, pfx, strlen(pfx)) &&
			    plug_pathf(p, sizeof p, "%s/%s", sock,
				      e->d_name) == 0)
				unlink(p);
		if (d)
			closedir(d);
	}
	return -ETIMEDOUT;
}

/* Explain why sock is not a usable switch; returns the errno to report. */
int vde_diagnose_sock(struct vde_state *st, const char *sock, int rc,
		      int timeout_ms)
{
	char ctl[PATH_MAX];
	struct stat sb;

	if (lstat(sock, &sb) < 0) {
		int e = errno;
		if (st->managed)
			AETHER_ERR(st->host, "no VDE switch at %s: %s", sock,
			    strerror(e));
		else
			AETHER_ERR(st->host,
			    "no VDE switch at %s: %s (start one with vde_switch "
			    "-s %s, or set managed = yes)",
			    sock, strerror(e), sock);
		return -e;
	}
	if (!S_ISDIR(sb.st_mode)) {
		AETHER_ERR(st->host,
		    "%s is not a VDE switch: a switch socket is a directory "
		    "holding the 'ctl' socket",
		    sock);
		return -ENOTDIR;
	}
	if (access(sock, R_OK | W_OK | X_OK) < 0) {
		int e = errno;
		AETHER_ERR(st->host,
		    "cannot use the VDE switch directory %s: %s (owner uid %ld, "
		    "mode %04o)",
		    sock, strerror(e), (long)sb.st_uid,
		    (unsigned)(sb.st_mode & 07777));
		return -e;
	}
	plug_pathf(ctl, sizeof ctl, "%s/ctl", sock);
	if (!is_socket(ctl)) {
		AETHER_ERR(st->host,
		    "%s is not a VDE switch: %s is missing or not a socket",
		    sock, ctl);
		return -ENOTSOCK;
	}
	if (rc == -ETIMEDOUT) {
		AETHER_ERR(st->host,
		    "%s did not answer the VDE handshake within %d ms (not a "
		    "VDE switch, or the switch is hung)",
		    ctl, timeout_ms);
		return rc;
	}
	if (rc == -ECONNREFUSED) {
		AETHER_ERR(st->host,
		    "the VDE switch at %s does not answer (connection refused: "
		    "it is not running and the socket is stale)",
		    sock);
		return rc;
	}
	AETHER_ERR(st->host, "the VDE switch at %s refused a port: %s",
	    sock, strerror(-rc));
	return rc;
}

/* ------------------------------------------------------------------ */
/* TAP checks, against the kernel.                                    */

static void user_name(char *buf, size_t len)
{
	struct passwd pw, *res = NULL;
	char tmp[1024];

	if (getpwuid_r(geteuid(), &pw, tmp, sizeof tmp, &res) == 0 && res)
		snprintf(buf, len, "%s", res->pw_name);
	else
		snprintf(buf, len, "%ld", (long)geteuid());
}

static int check_tap(struct vde_state *st)
{
	char user[64];
	struct ifreq ifr;
	int fd, e;

	user_name(user, sizeof user);
	if (if_nametoindex(st->tap) == 0) {
		e = errno;
		if (e == ENODEV || e == ENXIO || e == ENOENT) {
			AETHER_ERR(st->host,
			    "TAP device %s does not exist; create it once as "
			    "root with: ip tuntap add dev %s mode tap user %s",
			    st->tap, st->tap, user);
			return -ENODEV;
		}
		AETHER_ERR(st->host, "cannot look up TAP device %s: %s",
		    st->tap, strerror(e));
		return -e;
	}
	/* Open it the way vde_switch will: proves it is a TAP this user may
	 * attach to.  Closing again leaves the persistent device as it was. */
	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		e = errno;
		AETHER_ERR(st->host,
		    "cannot open /dev/net/tun: %s (the switch needs it to use "
		    "TAP device %s; it is normally mode 0666)",
		    strerror(e), st->tap);
		return -e;
	}
	memset(&ifr, 0, sizeof ifr);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", st->tap);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		e = errno;
		close(fd);
		if (e == EPERM || e == EACCES)
			AETHER_ERR(st->host,
			    "TAP device %s exists but user %s may not use it; "
			    "recreate it as root with: ip tuntap del dev %s mode "
			    "tap && ip tuntap add dev %s mode tap user %s",
			    st->tap, user, st->tap, st->tap, user);
		else if (e == EBUSY)
			AETHER_ERR(st->host,
			    "TAP device %s is in use by another program",
			    st->tap);
		else if (e == EINVAL)
			AETHER_ERR(st->host,
			    "%s is not a TAP device (a TUN, or another kind of "
			    "interface); create one as root with: ip tuntap add "
			    "dev tap-vde mode tap user %s",
			    st->tap, user);
		else
			AETHER_ERR(st->host, "cannot attach to TAP %s: %s",
			    st->tap, strerror(e));
		return -e;
	}
	close(fd);
	return 0;
}

/* Does process pid hold the TAP st->tap open? */
static int pid_has_tap(pid_t pid, const char *tap)
{
	char dir[64], want[40], buf[512];
	struct dirent *e;
	DIR *d;
	int found = 0;

	snprintf(dir, sizeof dir, "/proc/%ld/fdinfo", (long)pid);
	snprintf(want, sizeof want, "iff:\t%s\n", tap);
	d = opendir(dir);
	if (!d)
		return 0;
	while (!found && (e = readdir(d))) {
		char p[PATH_MAX];
		int fd;
		ssize_t n;

		if (e->d_name[0] == '.' ||
		    plug_pathf(p, sizeof p, "%s/%s", dir, e->d_name) < 0)
			continue;
		fd = open(p, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		n = read(fd, buf, sizeof buf - 1);
		close(fd);
		if (n <= 0)
			continue;
		buf[n] = '\0';
		found = strstr(buf, want) != NULL;
	}
	closedir(d);
	return found;
}

/* ------------------------------------------------------------------ */
/* Starting and stopping the managed switch.                          */

void vde_state_path(const struct vde_state *st, const char *sdir,
		    const char *name, char *buf, size_t len)
{
	(void)st;
	plug_pathf(buf, len, "%s/%s", sdir, name);
}

/* Run a short-lived helper to completion (no exit status is available:
 * the caller checks the effect). */
static int run_helper(struct vde_state *st, const char *const *argv,
		      const char *log_path, int timeout_ms)
{
	struct aether_helper_spec spec;
	struct aether_helper *h = NULL;
	uint64_t end = now_ms() + (uint64_t)timeout_ms;
	int rc;

	memset(&spec, 0, sizeof spec);
	spec.struct_size = sizeof spec;
	spec.argv = argv;
	spec.log_path = log_path;
	spec.stop_timeout_ms = 1000;
	rc = st->host->helper_start(st->host, &spec, &h);
	if (rc < 0) {
		AETHER_ERR(st->host, "cannot run %s: %s", argv[0],
		    strerror(-rc));
		return rc;
	}
	while (st->host->helper_alive(st->host, h) && now_ms() < end)
		sleep_ms(5);
	rc = st->host->helper_alive(st->host, h) ? -ETIMEDOUT : 0;
	if (rc)
		AETHER_ERR(st->host, "%s %s did not finish within %d ms",
		    argv[0], argv[1] ? argv[1] : "", timeout_ms);
	st->host->helper_stop(st->host, h);
	return rc;
}

static void last_log_line(const char *path, char *out, size_t len)
{
	char buf[4096], *p;
	int n = vde_read_text(path, buf, sizeof buf);

	out[0] = '\0';
	if (n <= 0)
		return;
	p = strrchr(buf, '\n');
	p = p ? p + 1 : buf;
	n = (int)strlen(p);
	if ((size_t)n >= len)
		n = (int)len - 1;
	memcpy(out, p, (size_t)n);
	out[n] = '\0';
}

static int systemd_available(struct vde_state *st)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	char p[PATH_MAX], a[PATH_MAX], b[PATH_MAX];

	if (!xdg || xdg[0] != '/') {
		AETHER_WARN(st->host,
		    "systemd = yes but XDG_RUNTIME_DIR is not set: no systemd "
		    "user manager; starting vde_switch directly");
		return 0;
	}
	if (plug_pathf(p, sizeof p, "%s/systemd/private", xdg) < 0 ||
	    !is_socket(p)) {
		AETHER_WARN(st->host,
		    "systemd = yes but no systemd user manager is running (%s "
		    "missing); starting vde_switch directly",
		    p);
		return 0;
	}
	/* The unit reads %t/aether/plugins/vde/systemd.env. */
	if (plug_pathf(p, sizeof p, "%s/aether/plugins/vde", xdg) < 0 ||
	    !realpath(p, a) || !realpath(st->rundir, b) || strcmp(a, b)) {
		AETHER_WARN(st->host,
		    "systemd = yes but aether's runtime dir %s is not under "
		    "the user manager's %s; starting vde_switch directly",
		    st->rundir, xdg);
		return 0;
	}
	return 1;
}

/* Stop the switch described by state dir sdir (the lock is held). */
int vde_stop_switch(struct vde_state *st, const char *sdir,
		    const char *sock)
{
	char p[PATH_MAX];
	pid_t pid;
	uint64_t end;
	int rc = 0;

	vde_state_path(st, sdir, "systemd", p, sizeof p);
	if (access(p, F_OK) == 0) {
		static const char *const argv[] = {SYSTEMCTL_PROG, "--user",
						   "stop", SYSTEMD_UNIT, NULL};
		char logp[PATH_MAX];

		vde_state_path(st, sdir, "switch.log", logp, sizeof logp);
		rc = run_helper(st, argv, logp, 10000);
		AETHER_INFO(st->host, "stopped %s (switch %s)", SYSTEMD_UNIT,
		    sock);
	} else {
		vde_state_path(st, sdir, "pid", p, sizeof p);
		pid = vde_read_pid(p);
		if (pid && vde_switch_pid_ok(pid, sock)) {
			kill(pid, SIGTERM);
			end = now_ms() + 3000;
			while (!pid_gone(pid) && now_ms() < end)
				sleep_ms(5);
			if (!pid_gone(pid)) {
				AETHER_WARN(st->host,
				    "vde_switch pid %ld ignored SIGTERM: "
				    "killing it",
				    (long)pid);
				kill(pid, SIGKILL);
				end = now_ms() + 2000;
				while (!pid_gone(pid) && now_ms() < end)
					sleep_ms(5);
			}
			AETHER_INFO(st->host,
			    "stopped vde_switch pid %ld (switch %s)", (long)pid,
			    sock);
		}
	}
	vde_remove_sock_dir(sock);
	return rc;
}

int vde_switch_running_owned(struct vde_state *st, const char *sdir,
			     const char *sock, pid_t *pid_out)
{
	char p[PATH_MAX];
	pid_t pid;

	vde_state_path(st, sdir, "systemd", p, sizeof p);
	if (access(p, F_OK) == 0)
		return vde_probe_switch(sock, 0, NULL,
					st->probe_timeout_ms) == 0;
	vde_state_path(st, sdir, "pid", p, sizeof p);
	pid = vde_read_pid(p);
	if (pid_out)
		*pid_out = pid;
	return pid && vde_switch_pid_ok(pid, sock);
}

/* The files a started switch uses, under st->statedir. */
struct start_paths {
	char pid[PATH_MAX], mgmt[PATH_MAX], log[PATH_MAX];
	char numports[16];
};

static int start_paths(struct vde_state *st, struct start_paths *sp)
{
	struct sockaddr_un sun;

	if (plug_pathf(sp->pid, sizeof sp->pid, "%s/pid", st->statedir) < 0 ||
	    plug_pathf(sp->mgmt, sizeof sp->mgmt, "%s/mgmt",
		      st->statedir) < 0 ||
	    plug_pathf(sp->log, sizeof sp->log, "%s/switch.log",
		      st->statedir) < 0)
		return -ENAMETOOLONG;
	if (strlen(sp->mgmt) >= sizeof sun.sun_path) {
		AETHER_ERR(st->host,
		    "runtime dir %s is too deep for a unix socket path",
		    st->rundir);
		return -ENAMETOOLONG;
	}
	snprintf(sp->numports, sizeof sp->numports, "%d",
		 st->port >= DEFAULT_NUMPORTS ? st->port + 1 : DEFAULT_NUMPORTS);
	return 0;
}

/* The switch makes the control directory itself: its parent must exist
 * and be writable, and the path must not be something else.  A directory
 * holding only a dead switch's sockets is cleared. */
static int prepare_sock_dir(struct vde_state *st)
{
	char parent[PATH_MAX], *slash;
	struct stat sb;
	int rc;

	snprintf(parent, sizeof parent, "%s", st->sock);
	slash = strrchr(parent, '/');
	if (slash == parent)
		slash[1] = '\0';
	else
		*slash = '\0';
	if (stat(parent, &sb) < 0) {
		rc = -errno;
		AETHER_ERR(st->host,
		    "cannot create the switch directory %s: %s: %s", st->sock,
		    parent, strerror(-rc));
		return rc;
	}
	if (!S_ISDIR(sb.st_mode)) {
		AETHER_ERR(st->host,
		    "cannot create the switch directory %s: %s is not a "
		    "directory",
		    st->sock, parent);
		return -ENOTDIR;
	}
	if (access(parent, W_OK | X_OK) < 0) {
		rc = -errno;
		AETHER_ERR(st->host,
		    "cannot create the switch directory %s: no write permission "
		    "on %s (%s)",
		    st->sock, parent, strerror(-rc));
		return rc;
	}
	if (lstat(st->sock, &sb) == 0) {
		if (!S_ISDIR(sb.st_mode)) {
			AETHER_ERR(st->host,
			    "cannot start a switch at %s: it exists and is not "
			    "a directory",
			    st->sock);
			return -ENOTDIR;
		}
		if (access(st->sock, R_OK | W_OK | X_OK) < 0) {
			rc = -errno;
			AETHER_ERR(st->host,
			    "cannot start a switch at %s: %s", st->sock,
			    strerror(-rc));
			return rc;
		}
		if (!only_vde_entries(st->sock)) {
			AETHER_ERR(st->host,
			    "cannot start a switch at %s: the directory holds "
			    "files that are not a VDE switch's",
			    st->sock);
			return -EEXIST;
		}
		/* stale sockets of a dead switch */
		vde_remove_sock_dir(st->sock);
	}
	return 0;
}

/* Start the systemd user unit: write the environment file it reads and
 * the state dir's "systemd" flag (removed again when systemctl fails). */
static int launch_systemd(struct vde_state *st, const struct start_paths *sp)
{
	char env[PATH_MAX * 3], envp[PATH_MAX], flag[PATH_MAX];
	static const char *const sargv[] = {SYSTEMCTL_PROG, "--user", "start",
					    SYSTEMD_UNIT, NULL};
	int rc;

	if (plug_pathf(envp, sizeof envp, "%s/systemd.env", st->rundir) < 0)
		return -ENAMETOOLONG;
	snprintf(env, sizeof env,
		 "# written by aether's vde plugin for %s\n"
		 "AETHER_VDE_SOCK=%s\nAETHER_VDE_MGMT=%s\n"
		 "AETHER_VDE_ARGS=-n %s%s%s\n",
		 SYSTEMD_UNIT, st->sock, sp->mgmt, sp->numports,
		 st->tap ? " -t " : "", st->tap ? st->tap : "");
	if ((rc = vde_write_text(envp, env)) < 0) {
		AETHER_ERR(st->host, "cannot write %s: %s", envp,
		    strerror(-rc));
		return rc;
	}
	vde_state_path(st, st->statedir, "systemd", flag, sizeof flag);
	if ((rc = vde_write_text(flag, SYSTEMD_UNIT "\n")) < 0)
		return rc;
	AETHER_INFO(st->host, "starting %s for switch %s", SYSTEMD_UNIT,
	    st->sock);
	rc = run_helper(st, sargv, sp->log, st->start_timeout_ms);
	if (rc < 0)
		unlink(flag);
	return rc;
}

/* Start vde_switch directly, through the host's helper service: *h is
 * the launcher, which exits once the switch has daemonized. */
static int launch_direct(struct vde_state *st, const struct start_paths *sp,
			 struct aether_helper **h)
{
	const char *argv[20];
	struct aether_helper_spec spec;
	int rc, n = 0;

	argv[n++] = VDE_SWITCH_PROG;
	argv[n++] = "-d"; /* stdin is /dev/null: it must daemonize */
	argv[n++] = "-f"; /* no rc file from $HOME or /etc */
	argv[n++] = "/dev/null";
	argv[n++] = "-n";
	argv[n++] = sp->numports;
	argv[n++] = "-s";
	argv[n++] = st->sock;
	argv[n++] = "-M";
	argv[n++] = sp->mgmt;
	argv[n++] = "-p";
	argv[n++] = sp->pid;
	if (st->tap) {
		argv[n++] = "-t";
		argv[n++] = st->tap;
	}
	argv[n] = NULL;
	memset(&spec, 0, sizeof spec);
	spec.struct_size = sizeof spec;
	spec.flags = AETHER_HELPER_DETACHED;
	spec.argv = argv;
	spec.log_path = sp->log;
	spec.stop_timeout_ms = 2000;
	AETHER_INFO(st->host, "starting vde_switch for %s%s%s", st->sock,
	    st->tap ? " on TAP " : "", st->tap ? st->tap : "");
	rc = st->host->helper_start(st->host, &spec, h);
	if (rc < 0) {
		AETHER_ERR(st->host, "cannot start %s: %s", VDE_SWITCH_PROG,
		    strerror(-rc));
		unlink(sp->log);
		return rc;
	}
	return 0;
}

/* Wait until the started switch answers (0), exits (-ESRCH) or the start
 * timeout passes (the last probe's error); then reap the launcher h.
 * *pid: the switch's pid once its pid file names it (started directly). */
static int wait_switch(struct vde_state *st, const struct start_paths *sp,
		       struct aether_helper *h, int use_systemd, pid_t *pid)
{
	uint64_t end, exited_at = 0;
	int last = -ETIMEDOUT;

	end = now_ms() + (uint64_t)st->start_timeout_ms;
	for (;;) {
		char ctl[PATH_MAX];

		if (h && !exited_at && !st->host->helper_alive(st->host, h))
			exited_at = now_ms();
		plug_pathf(ctl, sizeof ctl, "%s/ctl", st->sock);
		if (!*pid && !use_systemd)
			*pid = vde_read_pid(sp->pid);
		if (is_socket(ctl)) {
			last = vde_probe_switch(st->sock, 0, NULL,
						st->probe_timeout_ms);
			if (last == 0)
				break;
		}
		/* The launcher exits once it daemonized; the daemon writes
		 * its pid file right after. */
		if (exited_at && ((*pid && pid_gone(*pid)) ||
				  (!*pid && now_ms() > exited_at + 1000))) {
			last = -ESRCH;
			break;
		}
		if (now_ms() >= end)
			break;
		sleep_ms(5);
	}
	if (h) {
		/* The launcher process exits once it daemonized: reap it. */
		uint64_t e2 = now_ms() + 1000;
		while (st->host->helper_alive(st->host, h) && now_ms() < e2)
			sleep_ms(5);
		st->host->helper_stop(st->host, h);
	}
	return last;
}

/* A start that failed with last: say why (with the switch's last log
 * line), stop what did start and remove its state files.  Returns the
 * error to report. */
static int start_failed(struct vde_state *st, const struct start_paths *sp,
			int last, int use_systemd)
{
	char line[256];

	last_log_line(sp->log, line, sizeof line);
	AETHER_ERR(st->host,
	    "vde_switch for %s did not come up within %d ms: %s%s%s",
	    st->sock, st->start_timeout_ms,
	    last == -ESRCH ? "it exited" : strerror(-last),
	    line[0] ? ": " : "", line);
	vde_stop_switch(st, st->statedir, st->sock);
	if (use_systemd) {
		char flag[PATH_MAX];
		vde_state_path(st, st->statedir, "systemd", flag, sizeof flag);
		unlink(flag);
	}
	unlink(sp->pid);
	unlink(sp->mgmt);
	return last == -ESRCH ? -ECHILD : last;
}

/* Steps: the state files' paths, the control directory's parent and
 * leftovers, the TAP device, a clean state dir, launch (systemd unit or
 * directly), wait until it answers, check it holds the TAP.  On failure
 * the switch is stopped again and its state files removed. */
int vde_start_switch(struct vde_state *st)
{
	struct start_paths sp;
	struct aether_helper *h = NULL;
	int rc, use_systemd = 0, last;
	pid_t pid = 0;

	if ((rc = start_paths(st, &sp)) < 0 ||
	    (rc = prepare_sock_dir(st)) < 0)
		return rc;
	if (st->tap && (rc = check_tap(st)) < 0)
		return rc;

	unlink(sp.pid);
	unlink(sp.mgmt);
	unlink(sp.log);

	if (st->systemd && systemd_available(st)) {
		use_systemd = 1;
		rc = launch_systemd(st, &sp);
	} else {
		rc = launch_direct(st, &sp, &h);
	}
	if (rc < 0)
		return rc;

	last = wait_switch(st, &sp, h, use_systemd, &pid);
	if (last == 0 && st->tap && !use_systemd && pid &&
	    !pid_has_tap(pid, st->tap)) {
		AETHER_ERR(st->host,
		    "vde_switch started but could not attach TAP device %s",
		    st->tap);
		last = -ENODEV;
	}
	if (last < 0)
		return start_failed(st, &sp, last, use_systemd);
	if (pid)
		AETHER_INFO(st->host, "vde_switch pid %ld serves %s",
		    (long)pid, st->sock);
	return 0;
}

/* ------------------------------------------------------------------ */
/* A switch's state directory, and releasing the switch.              */

/* Create st->statedir, its users dir and its sock file. */
int vde_make_statedir(struct vde_state *st)
{
	char p[PATH_MAX], cur[PATH_MAX];
	int rc;

	if (mkdir(st->statedir, 0700) < 0 && errno != EEXIST)
		goto fail;
	vde_state_path(st, st->statedir, "users", p, sizeof p);
	if (mkdir(p, 0700) < 0 && errno != EEXIST)
		goto fail;
	vde_state_path(st, st->statedir, "sock", p, sizeof p);
	if (vde_read_text(p, cur, sizeof cur) < 0 || strcmp(cur, st->sock)) {
		char text[PATH_MAX + 2];
		snprintf(text, sizeof text, "%s\n", st->sock);
		if ((rc = vde_write_text(p, text)) < 0) {
			errno = -rc;
			goto fail;
		}
	}
	return 0;
fail:
	rc = -errno;
	AETHER_ERR(st->host, "cannot create state in %s: %s", st->statedir,
	    strerror(-rc));
	return rc;
}

/* Drop the switch of state dir sdir if nobody uses it (lock held). */
int vde_release_switch(struct vde_state *st, const char *sdir,
		       const char *sock, int keep)
{
	char p[PATH_MAX];
	int owned;

	if (vde_count_users(sdir) > 0)
		return 0;
	vde_state_path(st, sdir, "systemd", p, sizeof p);
	owned = access(p, F_OK) == 0;
	vde_state_path(st, sdir, "pid", p, sizeof p);
	owned = owned || access(p, F_OK) == 0;
	if (owned && vde_switch_running_owned(st, sdir, sock, NULL)) {
		if (keep)
			return 0;
		vde_stop_switch(st, sdir, sock);
	} else if (owned) {
		/* it died: remove what it left */
		vde_remove_sock_dir(sock);
	}
	vde_remove_state_dir(sdir);
	return 0;
}
