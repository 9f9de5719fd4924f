/* instance.h - a loaded, initialised plugin with its options and the host
 * services table it was given.  Used by the supervisor, the CLI and tests. */
#ifndef AE_INSTANCE_H
#define AE_INSTANCE_H

#include <aether/plugin.h>
#include "conffile.h"
#include "loader.h"

struct ae_instance;

/* Load plugin `backend` (search path: AETHER_PLUGIN_PATH, then plugin_dir
 * if not NULL, then the installed plugin directory), validate `section`
 * (the [network.<backend>] section, may be NULL) against its option table,
 * run its validate verb (1.2), make its runtime dir and call init.  On failure returns a negative errno
 * and writes a one-line reason (file, line, key or plugin path) to err. */
int ae_instance_open(const char *backend, const char *plugin_dir,
		     const struct ae_ini_section *section,
		     struct ae_instance **out, char *err, size_t errlen);

/* Same, with the options given as INI text ("key = value" lines), for
 * tests and tools.  `origin` names the text in error messages. */
int ae_instance_open_text(const char *backend, const char *plugin_dir,
			  const char *options_text, const char *origin,
			  struct ae_instance **out, char *err, size_t errlen);

/* For check-config: check `section` against loaded plugin p's option
 * table, then run its validate verb (ABI 1.2), without init.  The first
 * error, with file, line and key, goes to err.  p stays loaded. */
int ae_instance_check_options(struct ae_plugin *p, const char *backend,
			      const struct ae_ini_section *section, char *err,
			      size_t errlen);
/* The validate verb again (ae_instance_open ran it before init): 0 when
 * the plugin has none. */
int ae_instance_validate(struct ae_instance *inst, char *err, size_t errlen);

/* Call fini, stop non-detached helpers, unload. NULL is fine. */
void ae_instance_close(struct ae_instance *inst);

const struct aether_plugin *ae_instance_plugin(const struct ae_instance *inst);
const char *ae_instance_runtime_dir(const struct ae_instance *inst);

/* The verbs.  attach initialises *att (struct_size, fds = -1) first and,
 * on failure, closes any fd the plugin left in it.  It keeps
 * att->frame.output and .sink (set by ae_relay_new): zero *att first when
 * there is no relay. */
int ae_instance_attach(struct ae_instance *inst, const struct aether_vm *vm,
		       struct aether_attachment *att, void **att_state);
int ae_instance_detach(struct ae_instance *inst, const struct aether_vm *vm,
		       void *att_state);
int ae_instance_check(struct ae_instance *inst, const struct aether_vm *vm,
		      void *att_state);
/* The 1.1 forward verb; -EOPNOTSUPP when the plugin has none. */
int ae_instance_forward(struct ae_instance *inst, const struct aether_vm *vm,
			void *att_state, const struct aether_forward *fwd,
			int add);
int ae_instance_gc(struct ae_instance *inst, const struct aether_vm *live,
		   size_t n_live);

/* ABI 1.1 addresses verb; -EOPNOTSUPP when the plugin has none.  att_state
 * may be NULL (asked from another process than the supervisor). */
int ae_instance_addresses(struct ae_instance *inst, const struct aether_vm *vm,
			  void *att_state, struct aether_addr *out, size_t max);

/* The last error the plugin logged (AETHER_LOG_ERR or worse), or NULL;
 * ae_instance_clear_error forgets it (before a verb whose error is to be
 * reported). */
const char *ae_instance_last_error(const struct ae_instance *inst);
void ae_instance_clear_error(struct ae_instance *inst);

/* Close every fd an attachment holds and set them to -1. */
void ae_attachment_close_fds(struct aether_attachment *att);
/* Fill *vm for tests and tools: name, index, MAC derived from the name,
 * current uid/gid, id = name, runtime_dir as given. */
void ae_vm_init(struct aether_vm *vm, const char *name, unsigned index,
		const char *runtime_dir);

#endif
