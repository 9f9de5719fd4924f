/* instance.c - a plugin loaded, configured and initialised, with the host
 * services table (logging, options, runtime dir, helpers) it is given. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helper.h"
#include "instance.h"
#include "mac.h"
#include "options.h"
#include "runtime.h"
#include "util.h"

struct ae_instance {
	struct aether_host host; /* first: host_data points back here */
	struct ae_plugin *plugin;
	struct ae_optset *opts;
	char *runtime_dir;
	void *state;
	int initialised;
	struct aether_helper *helpers;
	char prefix[64];
	int validating;      /* in the validate verb */
	unsigned opt_errors; /* opt_error calls during validate */
	char opt_err[1700];  /* the first one */
	int borrowed;        /* plugin not ours to unload (check-config) */
	char last_err[512];  /* the plugin's last error message */
};

static struct ae_instance *inst_of(const struct aether_host *h)
{
	return (struct ae_instance *)h->host_data;
}

static void host_vlog(const struct aether_host *h, int level, const char *fmt,
		      va_list ap)
{
	if (level <= AETHER_LOG_ERR) {
		va_list cp;
		va_copy(cp, ap);
		vsnprintf(inst_of(h)->last_err, sizeof inst_of(h)->last_err,
			  fmt, cp);
		va_end(cp);
	}
	ae_vlog_prefix(level, inst_of(h)->prefix, fmt, ap);
}

const char *ae_instance_last_error(const struct ae_instance *inst)
{
	return inst && inst->last_err[0] ? inst->last_err : NULL;
}

void ae_instance_clear_error(struct ae_instance *inst)
{
	if (inst)
		inst->last_err[0] = '\0';
}

static void host_log(const struct aether_host *h, int level, const char *fmt,
		     ...)
{
	va_list ap;

	va_start(ap, fmt);
	host_vlog(h, level, fmt, ap);
	va_end(ap);
}

static const char *host_opt_get(const struct aether_host *h, const char *key,
				unsigned idx)
{
	return ae_optset_get(inst_of(h)->opts, key, idx);
}

static int host_opt_bool(const struct aether_host *h, const char *key, int *out)
{
	return ae_optset_bool(inst_of(h)->opts, key, out);
}

static int host_opt_int(const struct aether_host *h, const char *key,
			int64_t *out)
{
	return ae_optset_int(inst_of(h)->opts, key, out);
}

static void host_opt_error(const struct aether_host *h, const char *key,
			   unsigned idx, const char *fmt, ...)
{
	struct ae_instance *inst = inst_of(h);
	const char *file, *value;
	char msg[512], where[600], line[1600];
	va_list ap;
	int ln;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (!key)
		key = "?";
	value = ae_optset_get(inst->opts, key, idx);
	ae_optset_where(inst->opts, key, idx, &file, &ln);
	if (file && ln > 0)
		snprintf(where, sizeof where, "%s:%d: ", file, ln);
	else if (file)
		snprintf(where, sizeof where, "%s: ", file);
	else
		where[0] = '\0';
	snprintf(line, sizeof line, "%s[%s] %s = %s: %s", where,
		 ae_optset_section(inst->opts), key, value ? value : "(unset)",
		 msg);
	if (inst->validating && inst->opt_errors++ == 0) {
		snprintf(inst->opt_err, sizeof inst->opt_err, "%s", line);
		return; /* the caller's error message */
	}
	ae_err("%s", line);
}

static int host_helper_start(const struct aether_host *h,
			     const struct aether_helper_spec *spec,
			     struct aether_helper **out)
{
	struct ae_instance *inst = inst_of(h);
	char err[512];
	int rc;

	rc = ae_helper_start(spec, out, err, sizeof err);
	if (rc < 0) {
		host_log(h, AETHER_LOG_ERR, "helper: %s", err);
		return rc;
	}
	(*out)->next = inst->helpers;
	inst->helpers = *out;
	host_log(h, AETHER_LOG_DEBUG, "started helper %s (pid %ld)",
		 spec->argv[0], (long)(*out)->pid);
	return 0;
}

static int host_helper_stop(const struct aether_host *h,
			    struct aether_helper *helper)
{
	struct ae_instance *inst = inst_of(h);
	struct aether_helper **pp;
	int rc;

	if (!helper)
		return -EINVAL;
	for (pp = &inst->helpers; *pp && *pp != helper; pp = &(*pp)->next)
		;
	if (!*pp)
		return -ENOENT;
	*pp = helper->next;
	rc = ae_helper_stop(helper);
	free(helper);
	return rc;
}

static pid_t host_helper_pid(const struct aether_host *h,
			     const struct aether_helper *helper)
{
	return helper ? helper->pid : -1;
}

static int host_helper_alive(const struct aether_host *h,
			     const struct aether_helper *helper)
{
	return helper ? ae_helper_alive((struct aether_helper *)helper) : 0;
}

static void host_init(struct ae_instance *inst)
{
	struct aether_host *h = &inst->host;

	h->struct_size = sizeof *h;
	h->abi_major = AETHER_ABI_MAJOR;
	h->abi_minor = AETHER_ABI_MINOR;
	h->host_version = PACKAGE_VERSION;
	h->log = host_log;
	h->vlog = host_vlog;
	h->opt_get = host_opt_get;
	h->opt_bool = host_opt_bool;
	h->opt_int = host_opt_int;
	h->runtime_dir = inst->runtime_dir;
	h->helper_start = host_helper_start;
	h->helper_stop = host_helper_stop;
	h->helper_pid = host_helper_pid;
	h->helper_alive = host_helper_alive;
	h->host_data = inst;
	h->opt_error = host_opt_error;
}

/* The plugin's validate verb (1.2) on the options already checked against
 * its table.  Its first opt_error becomes err; later ones are logged. */
static int run_validate(struct ae_instance *inst, char *err, size_t errlen)
{
	const struct aether_plugin *d = inst->plugin->desc;
	int rc;

	if (!AETHER_PLUGIN_HAS(d, validate))
		return 0;
	inst->validating = 1;
	inst->opt_errors = 0;
	inst->opt_err[0] = '\0';
	rc = d->validate(&inst->host);
	inst->validating = 0;
	if (rc > 0) {
		return ae_seterr(err, errlen, EPROTO,
				 "%s: validate returned %d (want 0 or -errno)",
				 inst->plugin->path, rc);
	}
	if (rc == 0 && inst->opt_errors)
		rc = -EINVAL; /* errors reported: refused whatever it says */
	if (rc == 0)
		return 0;
	if (inst->opt_errors > 1)
		return ae_seterr(err, errlen, -rc, "%s (and %u more above)",
				 inst->opt_err, inst->opt_errors - 1);
	if (inst->opt_errors)
		return ae_seterr(err, errlen, -rc, "%s", inst->opt_err);
	return ae_seterr(err, errlen, -rc,
			 "[%s]: backend %s refused its options: %s",
			 ae_optset_section(inst->opts), inst->plugin->name,
			 strerror(-rc));
}

int ae_instance_check_options(struct ae_plugin *p, const char *backend,
			      const struct ae_ini_section *section, char *err,
			      size_t errlen)
{
	struct ae_instance *inst = ae_xcalloc(1, sizeof *inst);
	int rc;

	inst->plugin = p;
	inst->borrowed = 1;
	rc = ae_optset_new(backend, p->desc->options, section, &inst->opts,
			   err, errlen);
	if (rc == 0) {
		snprintf(inst->prefix, sizeof inst->prefix, "%s", backend);
		host_init(inst);
		rc = run_validate(inst, err, errlen);
	}
	ae_instance_close(inst);
	return rc;
}

static int make_plugin_dir(const char *name, char **out, char *err,
			   size_t errlen)
{
	char *root, *dir;
	int rc;

	rc = ae_runtime_root(NULL, &root, err, errlen);
	if (rc < 0)
		return rc;
	dir = ae_xasprintf("%s/plugins", root);
	rc = ae_mkdir_private(dir, 0700);
	free(dir);
	dir = ae_xasprintf("%s/plugins/%s", root, name);
	if (rc == 0)
		rc = ae_mkdir_private(dir, 0700);
	if (rc < 0) {
		ae_seterr(err, errlen, -rc, "%s: %s", dir, strerror(-rc));
		free(dir);
	} else {
		*out = dir;
	}
	free(root);
	return rc;
}

int ae_instance_open(const char *backend, const char *plugin_dir,
		     const struct ae_ini_section *section,
		     struct ae_instance **out, char *err, size_t errlen)
{
	struct ae_instance *inst = ae_xcalloc(1, sizeof *inst);
	int rc;

	rc = ae_plugin_load(backend, plugin_dir, &inst->plugin, err, errlen);
	if (rc < 0)
		goto fail;
	rc = ae_optset_new(backend, inst->plugin->desc->options, section,
			   &inst->opts, err, errlen);
	if (rc < 0)
		goto fail;
	snprintf(inst->prefix, sizeof inst->prefix, "%s", backend);
	host_init(inst); /* runtime_dir NULL: validate must not use it */
	rc = run_validate(inst, err, errlen);
	if (rc < 0)
		goto fail;
	rc = make_plugin_dir(backend, &inst->runtime_dir, err, errlen);
	if (rc < 0)
		goto fail;
	inst->host.runtime_dir = inst->runtime_dir;
	rc = inst->plugin->desc->init(&inst->host, &inst->state);
	if (rc < 0) {
		ae_seterr(err, errlen, -rc, "%s: init failed: %s",
			  inst->plugin->path, strerror(-rc));
		goto fail;
	}
	if (rc > 0) {
		rc = ae_seterr(err, errlen, EPROTO,
			       "%s: init returned %d (want 0 or -errno)",
			       inst->plugin->path, rc);
		goto fail;
	}
	inst->initialised = 1;
	*out = inst;
	return 0;
fail:
	ae_instance_close(inst);
	return rc;
}

int ae_instance_open_text(const char *backend, const char *plugin_dir,
			  const char *options_text, const char *origin,
			  struct ae_instance **out, char *err, size_t errlen)
{
	char *text, section[64];
	struct ae_ini *ini;
	int rc;

	snprintf(section, sizeof section, "network.%s", backend);
	text = ae_xasprintf("[%s]\n%s\n", section,
			    options_text ? options_text : "");
	rc = ae_ini_parse_text(text, strlen(text), origin, &ini, err, errlen);
	free(text);
	if (rc < 0)
		return rc;
	rc = ae_instance_open(backend, plugin_dir, ae_ini_find(ini, section),
			      out, err, errlen);
	ae_ini_free(ini);
	return rc;
}

void ae_instance_close(struct ae_instance *inst)
{
	struct aether_helper *h, *next;

	if (!inst)
		return;
	if (inst->initialised && inst->plugin->desc->fini)
		inst->plugin->desc->fini(inst->state);
	for (h = inst->helpers; h; h = next) {
		next = h->next;
		if (!(h->flags & AETHER_HELPER_DETACHED))
			ae_helper_stop(h);
		free(h);
	}
	ae_optset_free(inst->opts);
	if (!inst->borrowed)
		ae_plugin_unload(inst->plugin);
	free(inst->runtime_dir);
	free(inst);
}

const struct aether_plugin *ae_instance_plugin(const struct ae_instance *inst)
{
	return inst->plugin->desc;
}

const char *ae_instance_runtime_dir(const struct ae_instance *inst)
{
	return inst->runtime_dir;
}

void ae_attachment_close_fds(struct aether_attachment *att)
{
	unsigned i;

	for (i = 0; i < AETHER_MAX_QUEUES; i++) {
		if (att->tap.fds[i] >= 0)
			close(att->tap.fds[i]);
		if (att->tap.vhostfds[i] >= 0)
			close(att->tap.vhostfds[i]);
		att->tap.fds[i] = att->tap.vhostfds[i] = -1;
	}
	if (att->stream.fd >= 0)
		close(att->stream.fd);
	att->stream.fd = -1;
}

static void attachment_reset(struct aether_attachment *att)
{
	unsigned i;

	memset(att, 0, sizeof *att);
	att->struct_size = sizeof *att;
	for (i = 0; i < AETHER_MAX_QUEUES; i++)
		att->tap.fds[i] = att->tap.vhostfds[i] = -1;
	att->stream.fd = -1;
}

int ae_instance_attach(struct ae_instance *inst, const struct aether_vm *vm,
		       struct aether_attachment *att, void **att_state)
{
	/* A frame port's output and sink are the host's (set before attach
	 * by the relay, see relay.h): keep them across the reset. */
	struct aether_attach_frame keep = att->frame;
	int rc;

	attachment_reset(att);
	att->frame.output = keep.output;
	att->frame.sink = keep.sink;
	*att_state = NULL;
	rc = inst->plugin->desc->attach(inst->state, vm, att, att_state);
	if (rc > 0)
		rc = -EPROTO;
	if (rc < 0) {
		ae_attachment_close_fds(att);
		*att_state = NULL;
		return rc;
	}
	if (att->kind < AETHER_ATTACH_TAP || att->kind > AETHER_ATTACH_FRAME ||
	    !(inst->plugin->desc->caps &
	      (att->kind == AETHER_ATTACH_FRAME ? AETHER_CAP_ATTACH_FRAME
						 : 1ull << (att->kind - 1)))) {
		ae_err("%s: attach returned attachment kind %u, which is unknown "
		       "or not in the plugin's capabilities",
		       inst->plugin->path, att->kind);
		ae_instance_detach(inst, vm, *att_state);
		ae_attachment_close_fds(att);
		return -EPROTO;
	}
	return 0;
}

/* A verb's return where the contract allows only 0 or -errno (or, for
 * addresses, 0..max): anything else is a broken plugin, -EPROTO. */
static int verb_rc(const struct ae_instance *inst, const char *verb, int rc,
		   int max)
{
	if (rc <= max)
		return rc;
	ae_err("%s: %s returned %d (want %s)", inst->plugin->path, verb, rc,
	       max ? "0..max or -errno" : "0 or -errno");
	return -EPROTO;
}

int ae_instance_detach(struct ae_instance *inst, const struct aether_vm *vm,
		       void *att_state)
{
	int rc = inst->plugin->desc->detach(inst->state, vm, att_state);
	return rc > 0 ? -EPROTO : rc;
}

int ae_instance_check(struct ae_instance *inst, const struct aether_vm *vm,
		      void *att_state)
{
	if (!inst->plugin->desc->check)
		return 0;
	return verb_rc(inst, "check",
		       inst->plugin->desc->check(inst->state, vm, att_state),
		       0);
}

int ae_instance_forward(struct ae_instance *inst, const struct aether_vm *vm,
			void *att_state, const struct aether_forward *fwd,
			int add)
{
	const struct aether_plugin *d = inst->plugin->desc;
	int rc;

	if (!AETHER_PLUGIN_HAS(d, forward))
		return -EOPNOTSUPP;
	rc = d->forward(inst->state, vm, att_state, fwd, add);
	return rc > 0 ? -EPROTO : rc;
}

/* The host may append to struct aether_vm; the 1.0 gc indexes its array
 * with the 1.0 size. */
_Static_assert(sizeof(struct aether_vm) >= AETHER_VM_SIZE_1_0,
	       "struct aether_vm lost 1.0 members");

int ae_instance_gc(struct ae_instance *inst, const struct aether_vm *live,
		   size_t n_live)
{
	const struct aether_plugin *d = inst->plugin->desc;
	int rc;

	if (AETHER_PLUGIN_HAS(d, gc_v2)) {
		const struct aether_vm **ptrs =
			ae_xcalloc(n_live ? n_live : 1, sizeof *ptrs);
		size_t i;

		for (i = 0; i < n_live; i++)
			ptrs[i] = &live[i];
		rc = d->gc_v2(inst->state, ptrs, n_live);
		free(ptrs);
	} else if (d->gc) {
		/* A packed copy of the 1.0 members, stride AETHER_VM_SIZE_1_0,
		 * whatever this host's sizeof(struct aether_vm). */
		unsigned char *packed =
			ae_xcalloc(n_live ? n_live : 1, AETHER_VM_SIZE_1_0);
		size_t i;

		for (i = 0; i < n_live; i++) {
			struct aether_vm *e = (struct aether_vm *)(void *)(
				packed + i * AETHER_VM_SIZE_1_0);

			memcpy(e, &live[i], AETHER_VM_SIZE_1_0);
			e->struct_size = AETHER_VM_SIZE_1_0;
		}
		rc = d->gc(inst->state,
			   n_live ? (const struct aether_vm *)(void *)packed
				  : NULL,
			   n_live);
		free(packed);
	} else {
		return 0;
	}
	return verb_rc(inst, "gc", rc, 0);
}

void ae_vm_init(struct aether_vm *vm, const char *name, unsigned index,
		const char *runtime_dir)
{
	memset(vm, 0, sizeof *vm);
	vm->struct_size = sizeof *vm;
	vm->index = index;
	vm->id = name;
	vm->name = name;
	ae_mac_derive(name, 0, vm->mac);
	vm->uid = geteuid();
	vm->gid = getegid();
	vm->runtime_dir = runtime_dir;
}

int ae_instance_addresses(struct ae_instance *inst, const struct aether_vm *vm,
			  void *att_state, struct aether_addr *out, size_t max)
{
	const struct aether_plugin *d = inst->plugin->desc;

	if (!AETHER_PLUGIN_HAS(d, addresses))
		return -EOPNOTSUPP;
	return verb_rc(inst, "addresses",
		       d->addresses(inst->state, vm, att_state, out, max),
		       max > INT_MAX ? INT_MAX : (int)max);
}

int ae_instance_validate(struct ae_instance *inst, char *err, size_t errlen)
{
	return run_validate(inst, err, errlen);
}
