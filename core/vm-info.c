/* vm-info.c - aether list, status (text or JSON) and console. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "instance.h"
#include "json.h"
#include "lifecycle.h"
#include "qga.h"
#include "store.h"
#include "supervisor.h"
#include "net.h"
#include "util.h"
#include "vmconf.h"
#include "vmref.h"

/* ------------------------------------------------------------------ */
/* list, status                                                       */

#define MAX_ADDRS 16

/* What the backend knows of the guest's addresses (ABI 1.1 verb), asked
 * from this process with no attachment state: observed addresses, each
 * with its source.  For slirp without an answer from the plugin: the one
 * address its DHCP will hand out (dhcpstart), labelled "expected": nothing
 * says that the guest asked for it. */
static int vm_addresses(const struct vmref *v, char out[][INET6_ADDRSTRLEN + 16],
			int max)
{
	struct aether_addr a[MAX_ADDRS];
	struct ae_instance *inst;
	struct aether_vm vm;
	char err[1024];
	int n, i, k = 0;

	if (ae_instance_open(v->c->backend, v->c->plugin_dir,
			     &v->c->backend_section, &inst, err, sizeof err) < 0)
		return 0;
	ae_vm_init(&vm, v->name, v->index >= 0 ? (unsigned)v->index : 0,
		   v->rtdir);
	memcpy(vm.mac, v->c->mac, 6);
	memset(a, 0, sizeof a);
	n = ae_instance_addresses(inst, &vm, NULL, a, MAX_ADDRS);
	for (i = 0; i < n && k < max; i++) {
		char s[INET6_ADDRSTRLEN];
		if ((a[i].family != AF_INET && a[i].family != AF_INET6) ||
		    !inet_ntop(a[i].family, a[i].addr, s, sizeof s))
			continue;
		snprintf(out[k++], INET6_ADDRSTRLEN + 16, "%s(%s)", s,
			 a[i].source ? a[i].source : "?");
	}
	if (n <= 0 && !strcmp(v->c->backend, "slirp") && k < max) {
		const struct ae_ini_entry *e =
			ae_ini_get(&v->c->backend_section, "dhcpstart");
		const struct ae_ini_entry *net =
			ae_ini_get(&v->c->backend_section, "net");
		if (e)
			snprintf(out[k++], INET6_ADDRSTRLEN + 16,
				 "%s(expected)", e->value);
		else if (!net)
			snprintf(out[k++], INET6_ADDRSTRLEN + 16,
				 "10.0.2.15(expected)");
	}
	ae_instance_close(inst);
	return k;
}

struct vminfo {
	const char *name, *state, *backend;
	char backend_now[64]; /* after a live switch: the running backend */
	char why[256], mac[18], uuid[40];
	long pid, qemu_pid, index;
	long long uptime;
	char addrs[MAX_ADDRS][INET6_ADDRSTRLEN + 16];
	int n_addrs;
};

static void gather(struct vmref *v, struct vminfo *in, int with_addrs)
{
	memset(in, 0, sizeof *in);
	in->name = v->name;
	in->index = -1;
	in->uptime = -1;
	if (!v->c) {
		in->state = "broken";
		snprintf(in->why, sizeof in->why, "%s does not load",
			 v->vmfile);
		in->backend = "?";
		return;
	}
	in->state = vmref_state(v, in->why, sizeof in->why);
	in->backend = v->c->backend;
	ae_format_mac(v->c->mac, in->mac);
	snprintf(in->uuid, sizeof in->uuid, "%s", v->c->uuid ? v->c->uuid : "");
	/* a managed network's address: reserved, leased once dnsmasq says */
	if (with_addrs &&
	    ae_net_vm_label(v->c, v->rtroot, !strcmp(in->state, "running"),
			    in->addrs[0], sizeof in->addrs[0]) == 0)
		in->n_addrs = 1;
	if (v->sup_alive) {
		/* a live switch (aether network switch) records the backend
		 * the VM runs on now: "backend NAME" first */
		char *path = ae_xasprintf("%s/network", v->rtdir), *text = NULL;
		size_t len;

		if (ae_read_file(path, &text, &len, 4096) == 0 &&
		    sscanf(text, "backend %63[a-z0-9_]", in->backend_now) == 1)
			in->backend = in->backend_now;
		free(text);
		free(path);
		in->pid = v->sup_pid;
		in->qemu_pid = v->qemu_alive ? v->qemu_pid : 0;
		in->index = v->index;
		if (v->rec.started > 0)
			in->uptime = (long long)time(NULL) - v->rec.started;
		/* (the backend's own view would look at the bridge its
		 * section names, not the network's) */
		if (with_addrs && !strcmp(in->state, "running") &&
		    !v->c->network) {
			in->n_addrs += vm_addresses(v, in->addrs + in->n_addrs,
						    MAX_ADDRS - in->n_addrs);
			if (v->c->guest_agent)
				in->n_addrs += ae_qga_addresses(
					v->rtdir, in->addrs + in->n_addrs,
					MAX_ADDRS - in->n_addrs);
		}
	}
}

/* The VM as a JSON object: name, state, reason, backend, mac, uuid, pid,
 * qemu_pid, index, uptime, addresses (each an object: address, source). */
static json_t *info_json(const struct vminfo *in)
{
	json_t *o = ae_json_object(), *addrs = ae_json_array();
	int i;

	ae_json_set(o, "name", ae_json_text(in->name));
	ae_json_set(o, "state", ae_json_text(in->state));
	ae_json_set(o, "reason", ae_json_text(in->why));
	ae_json_set(o, "backend", ae_json_text(in->backend));
	ae_json_set(o, "mac", ae_json_text(in->mac));
	ae_json_set(o, "uuid", ae_json_text(in->uuid));
	ae_json_set(o, "pid", json_integer(in->pid));
	ae_json_set(o, "qemu_pid", json_integer(in->qemu_pid));
	ae_json_set(o, "index", json_integer(in->index));
	ae_json_set(o, "uptime", json_integer(in->uptime));
	for (i = 0; i < in->n_addrs; i++) {
		char a[INET6_ADDRSTRLEN + 16], *paren;
		json_t *e = ae_json_object();

		snprintf(a, sizeof a, "%s", in->addrs[i]);
		paren = strchr(a, '(');
		if (paren) {
			*paren = '\0';
			paren[strlen(paren + 1)] = '\0';
		}
		ae_json_set(e, "address", ae_json_text(a));
		ae_json_set(e, "source", ae_json_text(paren ? paren + 1 : ""));
		ae_json_append(addrs, e);
	}
	ae_json_set(o, "addresses", addrs);
	return o;
}

static void fmt_uptime(long long s, char *b, size_t n)
{
	if (s < 0)
		snprintf(b, n, "-");
	else if (s < 3600)
		snprintf(b, n, "%lldm%02llds", s / 60, s % 60);
	else
		snprintf(b, n, "%lldh%02lldm", s / 3600, (s / 60) % 60);
}

static int parse_json_flag(int argc, char **argv, int *json, const char *use,
			   int want_name)
{
	int i, names = 0;

	*json = 0;
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			*json = 1;
		else if (argv[i][0] == '-' || ++names > want_name)
			goto bad;
	}
	if (names != want_name)
		goto bad;
	return 0;
bad:
	fprintf(stderr, "usage: %s\n", use);
	return -1;
}

int ae_cmd_list(int argc, char **argv, const char *hostconf)
{
	char *store = NULL, err[1024], **names = NULL;
	json_t *all = NULL;
	int n, i, json, ret = 0;

	if (parse_json_flag(argc, argv, &json, "aether list [--json]", 0) < 0)
		return AE_EXIT_USAGE;
	if (ae_store_root(&store, err, sizeof err) < 0) {
		ae_err("%s", err);
		return AE_EXIT_ERROR;
	}
	n = ae_store_list(store, &names);
	if (n < 0) {
		ae_err("%s/vms: %s", store, strerror(-n));
		free(store);
		return AE_EXIT_ERROR;
	}
	if (json)
		all = ae_json_array();
	else
		printf("%-20s %-9s %-8s %-17s %-8s %-8s %s\n", "NAME", "STATE",
		       "BACKEND", "MAC", "PID", "UPTIME", "ADDRESSES");
	for (i = 0; i < n; i++) {
		struct vmref v;
		struct vminfo in;
		int lvl = ae_log_level;

		ae_log_level = 2; /* a broken VM file shows as "broken" */
		vmref_open(names[i], hostconf, 1, &v);
		ae_log_level = lvl;
		gather(&v, &in, 1);
		if (json) {
			ae_json_append(all, info_json(&in));
		} else {
			char up[32], pid[16], addrs[512] = "";
			int k;
			fmt_uptime(in.uptime, up, sizeof up);
			snprintf(pid, sizeof pid, in.pid ? "%ld" : "-", in.pid);
			for (k = 0; k < in.n_addrs; k++)
				snprintf(addrs + strlen(addrs),
					 sizeof addrs - strlen(addrs), "%s%s",
					 k ? " " : "", in.addrs[k]);
			printf("%-20s %-9s %-8s %-17s %-8s %-8s %s\n", in.name,
			       in.state, in.backend, in.mac, pid, up,
			       in.n_addrs ? addrs : "-");
		}
		vmref_free(&v);
	}
	if (json && ae_json_print(all, stdout, "aether list") < 0)
		ret = AE_EXIT_ERROR;
	ae_store_list_free(names, n);
	free(store);
	return ret;
}

int ae_cmd_status(int argc, char **argv, const char *hostconf)
{
	struct vmref v;
	struct vminfo in;
	int json, i, ret;
	const char *name = NULL;

	if (parse_json_flag(argc, argv, &json, "aether status NAME [--json]",
			    1) < 0)
		return AE_EXIT_USAGE;
	for (i = 1; i < argc; i++)
		if (strcmp(argv[i], "--json"))
			name = argv[i];
	if (vmref_open(name, hostconf, 1, &v) < 0) {
		vmref_free(&v);
		return AE_EXIT_ERROR;
	}
	gather(&v, &in, 1);
	if (json) {
		if (ae_json_print(info_json(&in), stdout, "aether status") <
		    0) {
			vmref_free(&v);
			return AE_EXIT_ERROR;
		}
	} else {
		char up[32];
		fmt_uptime(in.uptime, up, sizeof up);
		printf("name:      %s\nstate:     %s%s%s%s\nbackend:   %s\n"
		       "mac:       %s\nuuid:      %s\n",
		       in.name, in.state, *in.why ? " (" : "", in.why,
		       *in.why ? ")" : "", in.backend, in.mac, in.uuid);
		if (in.pid)
			printf("pid:       %ld (QEMU %ld, index %ld)\n"
			       "uptime:    %s\n",
			       in.pid, in.qemu_pid, in.index, up);
		for (i = 0; i < in.n_addrs; i++)
			printf("address:   %s\n", in.addrs[i]);
		printf("directory: %s\n", v.dir);
	}
	/* status exits 0 while running, 3 when not (like systemctl/LSB) */
	ret = !strcmp(in.state, "running") ? 0 : 3;
	vmref_free(&v);
	return ret;
}

/* ------------------------------------------------------------------ */
/* console                                                            */

int ae_cmd_console(int argc, char **argv, const char *hostconf)
{
	struct vmref v;
	char buf[8192];
	int fd, follow = 1, i, idle = 0;
	const char *name = NULL;
	ssize_t r;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--no-follow"))
			follow = 0;
		else if (argv[i][0] != '-' && !name)
			name = argv[i];
		else
			name = NULL, i = argc + 1;
	}
	if (!name || i > argc) {
		fprintf(stderr, "usage: aether console NAME [--no-follow]\n");
		return AE_EXIT_USAGE;
	}
	if (vmref_open(name, hostconf, 1, &v) < 0) {
		vmref_free(&v);
		return AE_EXIT_ERROR;
	}
	if (!v.c->console || v.c->console[0] != '/') {
		ae_err("VM %s has no console log (console = %s)", name,
		       v.c->console ? v.c->console : "none");
		vmref_free(&v);
		return AE_EXIT_ERROR;
	}
	fd = open(v.c->console, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && !(follow && vmref_running(&v))) {
		ae_err("%s: %s", v.c->console, strerror(errno));
		vmref_free(&v);
		return AE_EXIT_ERROR;
	}
	for (;;) {
		if (fd < 0)
			fd = open(v.c->console, O_RDONLY | O_CLOEXEC);
		r = fd >= 0 ? read(fd, buf, sizeof buf) : 0;
		if (r > 0) {
			if (fwrite(buf, 1, (size_t)r, stdout) != (size_t)r)
				break;
			fflush(stdout);
			continue;
		}
		if (!follow)
			break;
		/* the supervisor rotated the log: go on with the new file */
		if (fd >= 0) {
			struct stat a, b;
			if (fstat(fd, &a) == 0 && stat(v.c->console, &b) == 0 &&
			    (a.st_ino != b.st_ino || a.st_dev != b.st_dev)) {
				close(fd);
				fd = -1;
				continue;
			}
		}
		/* follow while the VM runs (checked every second) */
		if (++idle % 10 == 0) {
			vmref_probe(&v);
			if (!vmref_running(&v)) {
				/* drain what QEMU wrote last, then stop */
				while (fd >= 0 && (r = read(fd, buf, sizeof buf)) > 0)
					if (fwrite(buf, 1, (size_t)r, stdout) !=
					    (size_t)r)
						break;
				break;
			}
		}
		usleep(100000);
	}
	if (fd >= 0)
		close(fd);
	vmref_free(&v);
	return 0;
}
