/* switch.h - the vde plugin's managed switch and the small file helpers
 * it shares with the verbs.  Private to the plugin: the functions are
 * hidden, the module exports only its descriptor. */
#ifndef AE_VDE_SWITCH_H
#define AE_VDE_SWITCH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <aether/plugin.h>

#include "../plugin-util.h" /* plug_pathf, plug_write_file, plug_id_live */

struct vde_state;

#pragma GCC visibility push(hidden)

/* An absolute path of [A-Za-z0-9/._+@-], no "//" or "/../". */
int vde_valid_sock_path(const char *p);
/* 1-max of [A-Za-z0-9._-], not starting with '.' or '-'. */
int vde_valid_word(const char *s, size_t max);
uint64_t vde_fnv1a(const char *s);
/* A small file's text, trailing newlines and blanks cut; its length or
 * -errno. */
int vde_read_text(const char *path, char *buf, size_t len);
/* Replace path's content by text (through path.tmp and a rename). */
int vde_write_text(const char *path, const char *text);
/* The pid in a pid file, 0 when none or not a valid pid. */
pid_t vde_read_pid(const char *path);
/* Is pid a live (non-zombie) vde_switch serving sock? */
int vde_switch_pid_ok(pid_t pid, const char *sock);

/* buf = sdir + "/" + name. */
void vde_state_path(const struct vde_state *st, const char *sdir,
		    const char *name, char *buf, size_t len);
/* The state directory st->statedir, its users dir and its sock file. */
int vde_make_statedir(struct vde_state *st);
/* Remove a state directory: known files and the users dir. */
void vde_remove_state_dir(const char *dir);
/* Remove a switch control directory's VDE sockets, then the directory
 * if it is empty. */
void vde_remove_sock_dir(const char *dir);
/* The number of use markers in statedir/users. */
int vde_count_users(const char *statedir);
/* flock the runtime dir's lock file: its fd (give it to
 * vde_unlock_state) or -errno. */
int vde_lock_state(struct vde_state *st);
void vde_unlock_state(int fd);

/* 0 when a VDE switch answers on sock, -ETIMEDOUT when it does not
 * answer within timeout_ms, else -errno of the failure. */
int vde_probe_switch(const char *sock, int port, const char *group,
		     int timeout_ms);
/* Explain why sock is not a usable switch; returns the errno to report. */
int vde_diagnose_sock(struct vde_state *st, const char *sock, int rc,
		      int timeout_ms);

/* Start the managed switch of st (the lock is held); 0 once it answers. */
int vde_start_switch(struct vde_state *st);
/* Stop the switch described by state dir sdir (the lock is held). */
int vde_stop_switch(struct vde_state *st, const char *sdir,
		    const char *sock);
/* Whether the switch of state dir sdir, started by aether, still runs
 * (*pid_out: its pid, when it was started directly). */
int vde_switch_running_owned(struct vde_state *st, const char *sdir,
			     const char *sock, pid_t *pid_out);
/* Drop the switch of state dir sdir if nobody uses it (lock held);
 * keep: leave a running switch running. */
int vde_release_switch(struct vde_state *st, const char *sdir,
		       const char *sock, int keep);

#pragma GCC visibility pop

#endif
