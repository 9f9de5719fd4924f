/* dnsmasq.c - the managed networks' DHCP/DNS/RA server. */
#include "config.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/close_range.h>

#include "dnsmasq.h"
#include "helper.h"
#include "util.h"

#define CONF "dnsmasq.conf"
#define KEEP_ARG "--keep-in-foreground"

/* The user dnsmasq drops to when started as root: its own, else nobody. */
static const char *drop_user(void)
{
	if (geteuid() != 0)
		return NULL;
	return getpwnam("dnsmasq") ? "dnsmasq" : "nobody";
}

static char *dnsmasq_path(void)
{
	static const char *const dirs[] = {"/usr/sbin/dnsmasq",
					   "/usr/local/sbin/dnsmasq",
					   "/sbin/dnsmasq"};
	const char *env = ae_getenv_trusted("AETHER_DNSMASQ",
					     "the dnsmasq in /usr/sbin");
	size_t i;
	char *p;

	if (env && *env && ae_valid_abs_path(env))
		return ae_xstrdup(env);
	for (i = 0; i < AE_ARRAY_SIZE(dirs); i++)
		if (access(dirs[i], X_OK) == 0)
			return ae_xstrdup(dirs[i]);
	p = ae_find_program("dnsmasq");
	return p;
}

static void dotted_mask(unsigned prefix, char out[16])
{
	ae_pool_fmt(prefix ? 0xffffffffu << (32 - prefix) : 0, out);
}

char *ae_dnsmasq_conf_text(const struct ae_net *n, const char *dir,
			   const char *user)
{
	char netaddr[16], mask[16], *t, *six;

	ae_pool_fmt(n->net4, netaddr);
	dotted_mask(n->prefix4, mask);
	six = n->has6 ? ae_xasprintf("enable-ra\n"
				     "dhcp-range=::,constructor:%s,"
				     "ra-stateless,64,1h\n",
				     n->bridge)
		      : ae_xstrdup("");
	t = ae_xasprintf(
		"# dnsmasq of aether network %s (written by aether: changes "
		"are lost)\n"
		"%s%s%s"
		"interface=%s\n"
		"bind-interfaces\n"
		"except-interface=lo\n"
		"no-hosts\n"
		"addn-hosts=%s/hosts\n"
		"domain=%s\n"
		"local=/%s/\n"
		"domain-needed\n"
		"bogus-priv\n"
		"dhcp-range=%s,static,%s,1h\n"
		"dhcp-hostsfile=%s/dhcp-hosts\n"
		"dhcp-authoritative\n"
		"dhcp-leasefile=%s/leases\n"
		"pid-file=%s/dnsmasq.pid\n"
		"log-facility=-\n"
		"%s",
		n->name, user ? "user=" : "", user ? user : "",
		user ? "\n" : "", n->bridge, dir, n->domain, n->domain,
		netaddr, mask, dir, dir, dir, six);
	free(six);
	return t;
}

int ae_dnsmasq_write_conf(const struct ae_net *n, const char *dir,
			  char *err, size_t errlen)
{
	char *path = ae_xasprintf("%s/" CONF, dir), *old = NULL;
	char *text = ae_dnsmasq_conf_text(n, dir, drop_user());
	size_t len;
	int rc;

	if (ae_read_file(path, &old, &len, 1 << 20) == 0 &&
	    !strcmp(old, text)) {
		rc = 0;
		goto out;
	}
	rc = ae_write_file(path, text, strlen(text), 0644);
	if (rc < 0)
		ae_seterr(err, errlen, -rc, "%s: %s", path, strerror(-rc));
	else if (old)
		rc = 1; /* changed: a running dnsmasq must start again */
out:
	free(old);
	free(text);
	free(path);
	return rc;
}

int ae_dnsmasq_write_hosts(const struct ae_net *n, const char *dir,
			   const struct ae_resv *v, size_t cnt, char *err,
			   size_t errlen)
{
	size_t cap = cnt * 400 + 64, l1 = 0, l2 = 0, i;
	char *hosts = ae_xmalloc(cap), *dhcp = ae_xmalloc(cap);
	char *p1 = ae_xasprintf("%s/hosts", dir);
	char *p2 = ae_xasprintf("%s/dhcp-hosts", dir);
	char a[16], m[18];
	int rc;

	hosts[0] = dhcp[0] = '\0';
	for (i = 0; i < cnt; i++) {
		char label[sizeof v[i].vm];
		size_t k;

		ae_pool_fmt(v[i].addr, a);
		ae_format_mac(v[i].mac, m);
		/* DNS names are case-blind: Web1 is web1; a VM name that is
		 * not a DNS label (a dot, an underscore) gets its address
		 * only */
		for (k = 0; v[i].vm[k] && k < sizeof label - 1; k++)
			label[k] = (char)(v[i].vm[k] >= 'A' && v[i].vm[k] <= 'Z'
						  ? v[i].vm[k] - 'A' + 'a'
						  : v[i].vm[k]);
		label[k] = '\0';
		if (ae_net_valid_domain(label) && !strchr(label, '.') &&
		    strlen(label) <= 63)
			l1 += (size_t)snprintf(hosts + l1, cap - l1,
					       "%s %s.%s %s\n", a, label,
					       n->domain, label);
		l2 += (size_t)snprintf(dhcp + l2, cap - l2, "%s,%s\n", m, a);
	}
	rc = ae_write_file(p1, hosts, l1, 0644);
	if (rc == 0)
		rc = ae_write_file(p2, dhcp, l2, 0644);
	if (rc < 0)
		ae_seterr(err, errlen, -rc, "%s: %s", rc ? p2 : p1,
			  strerror(-rc));
	free(hosts);
	free(dhcp);
	free(p1);
	free(p2);
	return rc;
}

/* /proc/PID/cmdline, NUL-separated; length or -errno. */
static ssize_t read_cmdline(pid_t pid, char *buf, size_t len)
{
	char path[64];
	ssize_t n, total = 0;
	int fd;

	snprintf(path, sizeof path, "/proc/%ld/cmdline", (long)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -errno;
	while ((size_t)total < len &&
	       (n = read(fd, buf + total, len - (size_t)total)) > 0)
		total += n;
	close(fd);
	return total;
}

int ae_dnsmasq_cmdline_is(pid_t pid, const char *conf)
{
	char buf[8192], *want;
	const char *base;
	ssize_t n = read_cmdline(pid, buf, sizeof buf - 1);
	size_t l0, wl;
	int ok;

	if (n <= 0)
		return 0;
	buf[n] = '\0';
	l0 = strlen(buf);
	base = strrchr(buf, '/');
	base = base ? base + 1 : buf;
	if (strcmp(base, "dnsmasq"))
		return 0;
	want = ae_xasprintf(KEEP_ARG "%c--conf-file=%s", '\0', conf);
	wl = strlen(KEEP_ARG) + 1 + strlen("--conf-file=") + strlen(conf) + 1;
	ok = (size_t)n == l0 + 1 + wl && !memcmp(buf + l0 + 1, want, wl);
	free(want);
	return ok;
}

pid_t ae_dnsmasq_running(const char *dir)
{
	char *conf = ae_xasprintf("%s/" CONF, dir);
	long pid = 0;
	int ok;

	if (ae_read_long(dir, "dnsmasq.pid", &pid) < 0 || pid <= 1 ||
	    !ae_pid_alive((pid_t)pid))
		pid = 0;
	ok = pid && ae_dnsmasq_cmdline_is((pid_t)pid, conf);
	free(conf);
	return ok ? (pid_t)pid : 0;
}

int ae_dnsmasq_reload(const char *dir)
{
	pid_t pid = ae_dnsmasq_running(dir);

	if (!pid)
		return -ESRCH;
	return kill(pid, SIGHUP) < 0 ? -errno : 0;
}

static int stop_pid(pid_t pid)
{
	int i;

	if (kill(pid, SIGTERM) < 0)
		return errno == ESRCH ? 0 : -errno;
	for (i = 0; i < 300; i++) {
		if (!ae_pid_alive(pid))
			return 0;
		waitpid(pid, NULL, WNOHANG);
		usleep(10000);
	}
	kill(pid, SIGKILL);
	for (i = 0; i < 200 && ae_pid_alive(pid); i++)
		usleep(10000);
	return 0;
}

int ae_dnsmasq_stop(const char *dir)
{
	pid_t pid = ae_dnsmasq_running(dir);

	return pid ? stop_pid(pid) : 0;
}

/* The last lines of the log, for an error message. */
static void log_tail(const char *log, char *out, size_t len)
{
	char *text = NULL, *p;
	size_t n = 0;

	out[0] = '\0';
	if (ae_read_file(log, &text, &n, 1 << 20) < 0)
		return;
	while (n && (text[n - 1] == '\n' || text[n - 1] == ' '))
		text[--n] = '\0';
	p = strrchr(text, '\n');
	snprintf(out, len, "%s", p ? p + 1 : text);
	free(text);
}

int ae_dnsmasq_start(const char *dir, pid_t *pidout, char *err,
		     size_t errlen)
{
	char *prog = dnsmasq_path(), *confarg, *log, tail[512];
	const char *argv[4];
	int pfd[2], status, i;
	pid_t mid, pid = 0;
	long filepid;

	if (!prog)
		return ae_seterr(err, errlen, ENOENT,
				 "dnsmasq not found (install dnsmasq-base)");
	confarg = ae_xasprintf("--conf-file=%s/" CONF, dir);
	log = ae_xasprintf("%s/dnsmasq.log", dir);
	argv[0] = prog;
	argv[1] = KEEP_ARG;
	argv[2] = confarg;
	argv[3] = NULL;
	{
		char *pf = ae_xasprintf("%s/dnsmasq.pid", dir);
		unlink(pf);
		free(pf);
	}
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		int e = errno;
		free(prog);
		free(confarg);
		free(log);
		return ae_seterr(err, errlen, e, "pipe: %s", strerror(e));
	}
	/* fork twice: dnsmasq is nobody's child here, in a session of its
	 * own, and outlives the command or supervisor that started it */
	mid = fork();
	if (mid == 0) {
		char e2[256];
		pid_t p = 0;
		close(pfd[0]);
		/* nothing of the caller's (a lock, a socket) goes with it */
		close_range(3, (unsigned)pfd[1] - 1, CLOSE_RANGE_CLOEXEC);
		close_range((unsigned)pfd[1] + 1, ~0u, CLOSE_RANGE_CLOEXEC);
		if (ae_spawn(argv, NULL, log, 1, NULL, 0, &p, e2, sizeof e2) < 0)
			p = 0;
		if (write(pfd[1], &p, sizeof p) < 0)
			_exit(1);
		_exit(0);
	}
	close(pfd[1]);
	if (mid > 0) {
		if (read(pfd[0], &pid, sizeof pid) != (ssize_t)sizeof pid)
			pid = 0;
		waitpid(mid, &status, 0);
	}
	close(pfd[0]);
	free(confarg);
	if (pid <= 0) {
		ae_seterr(err, errlen, ECHILD, "cannot start %s", prog);
		free(log);
		free(prog);
		return -ECHILD;
	}
	/* ready once the pid file it writes after its setup names it */
	for (i = 0; i < 500; i++) {
		if (ae_read_long(dir, "dnsmasq.pid", &filepid) == 0 &&
		    filepid == (long)pid)
			break;
		if (!ae_pid_alive(pid)) {
			log_tail(log, tail, sizeof tail);
			ae_seterr(err, errlen, EIO,
				  "dnsmasq exited at once (%s): %s", log,
				  *tail ? tail : "no message");
			free(log);
			free(prog);
			return -EIO;
		}
		usleep(10000);
	}
	free(prog);
	if (i == 500) {
		stop_pid(pid);
		ae_seterr(err, errlen, ETIMEDOUT,
			  "dnsmasq did not write its pid file in 5 s (%s)",
			  log);
		free(log);
		return -ETIMEDOUT;
	}
	free(log);
	*pidout = pid;
	return 0;
}

int ae_dnsmasq_scan(const char *rtroot, pid_t **pids, char ***names,
		    size_t *n)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	char *prefix = ae_xasprintf("--conf-file=%s/net/", rtroot);
	size_t pl = strlen(prefix);

	*pids = NULL;
	*names = NULL;
	*n = 0;
	if (!d) {
		free(prefix);
		return -errno;
	}
	while ((de = readdir(d))) {
		char buf[8192], *arg, *end, name[32], *conf;
		pid_t pid = (pid_t)atol(de->d_name);
		ssize_t len;
		const char *slash;

		if (pid <= 1)
			continue;
		len = read_cmdline(pid, buf, sizeof buf - 1);
		if (len <= 0)
			continue;
		buf[len] = '\0';
		/* argv[2] = --conf-file=RTROOT/net/NAME/dnsmasq.conf */
		arg = buf + strlen(buf) + 1;
		if (arg >= buf + len || strcmp(arg, KEEP_ARG))
			continue;
		arg += strlen(arg) + 1;
		if (arg >= buf + len || strncmp(arg, prefix, pl))
			continue;
		slash = strchr(arg + pl, '/');
		if (!slash || strcmp(slash, "/" CONF) ||
		    (size_t)(slash - (arg + pl)) >= sizeof name)
			continue;
		memcpy(name, arg + pl, (size_t)(slash - (arg + pl)));
		name[slash - (arg + pl)] = '\0';
		end = arg + strlen(arg) + 1;
		if (end != buf + len || !ae_net_valid_name(name))
			continue;
		conf = ae_xasprintf("%s/net/%s/" CONF, rtroot, name);
		if (ae_dnsmasq_cmdline_is(pid, conf)) {
			*pids = ae_xrealloc(*pids, (*n + 1) * sizeof **pids);
			*names = ae_xrealloc(*names, (*n + 1) * sizeof **names);
			(*pids)[*n] = pid;
			(*names)[*n] = ae_xstrdup(name);
			(*n)++;
		}
		free(conf);
	}
	closedir(d);
	free(prefix);
	return 0;
}

int ae_dnsmasq_leased(const char *dir, const uint8_t mac[6], uint32_t addr)
{
	char *path = ae_xasprintf("%s/leases", dir), *text, *line, *save;
	char m[18], a[16];
	size_t len;
	int found = 0;
	time_t now = time(NULL);

	ae_format_mac(mac, m);
	ae_pool_fmt(addr, a);
	if (ae_read_file(path, &text, &len, 16u << 20) < 0) {
		free(path);
		return 0;
	}
	free(path);
	for (line = strtok_r(text, "\n", &save); line && !found;
	     line = strtok_r(NULL, "\n", &save)) {
		char lm[64], la[64];
		long long exp;
		if (sscanf(line, "%lld %63s %63s", &exp, lm, la) != 3)
			continue;
		if (!strcasecmp(lm, m) && !strcmp(la, a) &&
		    (exp == 0 || exp > (long long)now))
			found = 1;
	}
	free(text);
	return found;
}
