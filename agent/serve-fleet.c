/* serve-fleet.c - `aether serve`: which VMs this host owns (vm.NAME bound
 * to its queue) and whether a new one fits. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conffile.h"
#include "serve.h"
#include "store.h"
#include "util.h"

/* ------------------------------------------------------------------ */
/* ownership: vm.NAME bound to this host's queue                      */

char *sv_host_queue(struct agent *a)
{
	return ae_xasprintf("aether.host.%s", a->conf.host);
}

int sv_bind_vm(struct agent *a, const char *name, int on)
{
	char *q = sv_host_queue(a), *key = ae_xasprintf("vm.%s", name);
	char err[512];
	int rc;

	if (on)
		amqp_queue_bind(a->amqp.conn, 1, amqp_cstring_bytes(q),
				amqp_cstring_bytes(AE_X_MAIN),
				amqp_cstring_bytes(key), amqp_empty_table);
	else
		amqp_queue_unbind(a->amqp.conn, 1, amqp_cstring_bytes(q),
				  amqp_cstring_bytes(AE_X_MAIN),
				  amqp_cstring_bytes(key), amqp_empty_table);
	rc = ae_amqp_rpc_check(&a->amqp, on ? "queue.bind" : "queue.unbind",
			       err, sizeof err);
	if (rc < 0)
		ae_warn("%s %s: %s", on ? "claiming" : "releasing", name, err);
	free(q);
	free(key);
	return rc;
}

/* The names this agent has bound, kept next to the journal so that a VM
 * deleted behind the agent's back is unbound at the next connect. */
void sv_save_bindings(struct agent *a)
{
	char **names = NULL, *path, *text = ae_xstrdup(""), *t;
	int n, i;

	n = ae_store_list(a->store, &names);
	for (i = 0; i < n; i++) {
		t = ae_xasprintf("%s%s\n", text, names[i]);
		free(text);
		text = t;
	}
	if (n > 0)
		ae_store_list_free(names, n);
	path = ae_xasprintf("%s/.bindings", a->jdir);
	ae_write_file(path, text, strlen(text), 0600);
	free(path);
	free(text);
}

int sv_in_store(struct agent *a, const char *name)
{
	char *d = ae_xasprintf("%s/vms/%s/vm.conf", a->store, name);
	int r = access(d, F_OK) == 0;

	free(d);
	return r;
}

int sv_being_made(struct agent *a, const char *name)
{
	struct job *j;

	for (j = a->jobs; j; j = j->next)
		if (j->cmd == C_CREATE && j->name && !strcmp(j->name, name))
			return 1;
	return 0;
}

int sv_sync_bindings(struct agent *a)
{
	char *path = ae_xasprintf("%s/.bindings", a->jdir), *text = NULL, *l, *s;
	char **names = NULL;
	size_t len;
	int n, i;

	if (ae_read_file(path, &text, &len, 1 << 22) == 0) {
		for (l = strtok_r(text, "\n", &s); l; l = strtok_r(NULL, "\n", &s))
			if (ae_valid_vm_name(l) && !sv_in_store(a, l) &&
			    sv_bind_vm(a, l, 0) < 0)
				goto fail;
	}
	n = ae_store_list(a->store, &names);
	for (i = 0; i < n; i++)
		if (!sv_being_made(a, names[i]) && sv_bind_vm(a, names[i], 1) < 0) {
			ae_store_list_free(names, n);
			goto fail;
		}
	if (n > 0)
		ae_store_list_free(names, n);
	free(text);
	free(path);
	sv_save_bindings(a);
	return 0;
fail:
	free(text);
	free(path);
	return -1;
}

/* ------------------------------------------------------------------ */
/* capacity                                                           */

struct usage {
	long vms, memory, cpus;
};

static void usage_of(struct agent *a, struct usage *u)
{
	char **names = NULL;
	struct job *j;
	int n, i;

	memset(u, 0, sizeof *u);
	n = ae_store_list(a->store, &names);
	for (i = 0; i < n; i++) {
		char *f = ae_xasprintf("%s/vms/%s/vm.conf", a->store, names[i]);
		const struct ae_ini_section *vm;
		const struct ae_ini_entry *e;
		struct ae_ini *ini;
		char err[256];
		long m = a->conf.default_memory, c = a->conf.default_cpus;

		if (sv_being_made(a, names[i])) {
			free(f);
			continue; /* counted as its job's reservation */
		}
		if (ae_ini_parse_file(f, &ini, err, sizeof err) == 0) {
			vm = ae_ini_find(ini, "vm");
			if ((e = ae_ini_get(vm, "memory")) && atol(e->value) > 0)
				m = atol(e->value);
			if ((e = ae_ini_get(vm, "cpus")) && atol(e->value) > 0)
				c = atol(e->value);
			ae_ini_free(ini);
		}
		u->vms++;
		u->memory += m;
		u->cpus += c;
		free(f);
	}
	if (n > 0)
		ae_store_list_free(names, n);
	for (j = a->jobs; j; j = j->next)
		if (j->cmd == C_CREATE) {
			u->vms++;
			u->memory += j->mem;
			u->cpus += j->cpus;
		}
}

/* 0 when a VM of mem MiB and cpus vCPUs fits; else why not in why. */
int sv_fits(struct agent *a, long mem, long cpus, char *why, size_t len)
{
	struct usage u;

	usage_of(a, &u);
	if (a->conf.max_vms && u.vms + 1 > a->conf.max_vms)
		snprintf(why, len, "%ld of %ld VMs", u.vms, a->conf.max_vms);
	else if (a->conf.max_memory && u.memory + mem > a->conf.max_memory)
		snprintf(why, len, "%ld of %ld MiB memory in use, %ld asked",
			 u.memory, a->conf.max_memory, mem);
	else if (a->conf.max_cpus && u.cpus + cpus > a->conf.max_cpus)
		snprintf(why, len, "%ld of %ld vCPUs in use, %ld asked", u.cpus,
			 a->conf.max_cpus, cpus);
	else
		return 0;
	return -1;
}
