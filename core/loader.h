/* loader.h - find, load and validate plugins with libltdl. */
#ifndef AE_LOADER_H
#define AE_LOADER_H

#include <stddef.h>
#include <aether/plugin.h>

struct ae_plugin {
	char *name;  /* backend name asked for */
	char *path;  /* the file that was loaded */
	void *handle; /* lt_dlhandle */
	const struct aether_plugin *desc;
};

/* Search path: the caller's directories (ae_plugin_caller_path), then
 * plugin_dir (may be NULL; the host config's), then the installed
 * plugin directory.  A plugin is loaded only when its file, its
 * directory and every directory above are root's or this user's (only
 * root's in a setuid/file-capability aether) and not writable by group
 * or others (a sticky /tmp above ours is fine): else an error naming
 * the file or directory. */
int ae_plugin_load(const char *name, const char *plugin_dir,
		   struct ae_plugin **out, char *err, size_t errlen);
/* Load a plugin from an explicit file (for tests and `plugins show`). */
int ae_plugin_load_file(const char *path, struct ae_plugin **out, char *err,
			size_t errlen);
void ae_plugin_unload(struct ae_plugin *p);

/* Validate a descriptor; `where` names the file in the message. */
int ae_plugin_validate(const struct aether_plugin *d, const char *where,
		       char *err, size_t errlen);

/* Call fn for every plugin file name found on the search path (first
 * one wins for each name), in name order. */
typedef void (*ae_plugin_visit_fn)(const char *name, const char *path,
				   void *ctx);
void ae_plugin_foreach(const char *plugin_dir, ae_plugin_visit_fn fn,
		       void *ctx);

/* --plugin-path: colon-separated directories searched first (NULL to
 * forget them); they take the place of $AETHER_PLUGIN_PATH. */
void ae_plugin_set_path(const char *dirs);
/* The caller's directories: --plugin-path, else $AETHER_PLUGIN_PATH
 * unless ignored (ae_getenv_trusted: privileged exec, or root in the
 * aether program); NULL when none. */
const char *ae_plugin_caller_path(void);

/* The directories searched, in order, as one colon-separated string. */
char *ae_plugin_search_path(const char *plugin_dir);

/* Text for a capability mask ("tap,net_admin,..."). */
void ae_caps_format(uint64_t caps, char *buf, size_t len);

#endif
