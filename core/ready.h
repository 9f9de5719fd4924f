/* ready.h - the readiness lines a VM supervisor (aether run) writes to
 * the `aether start` that started it, one module for both sides:
 *
 *     started SUP_PID
 *     ready SUP_PID QEMU_PID INDEX SPAWN_NS READY_NS
 *
 * each ended by '\n'.  "started" comes first, and only from a supervisor
 * that is not the starter's child (a systemd unit, through a FIFO): it
 * runs.  "ready" says that QEMU answers on QMP with the network attached;
 * SPAWN_NS and READY_NS are the CLOCK_MONOTONIC times (ns) at which QEMU
 * was spawned and first answered.  Fields are decimal, without sign or
 * leading zeros, separated by one space. */
#ifndef AE_READY_H
#define AE_READY_H

#include <stddef.h>
#include <stdint.h>

/* The longest line either side writes or reads, its '\n' included. */
#define AE_READY_LINE_MAX 128

struct ae_ready {
	long sup_pid;     /* the supervisor: 1..INT_MAX */
	long qemu_pid;    /* its QEMU: 1..INT_MAX */
	unsigned index;   /* the VM's index */
	uint64_t t_spawn; /* QEMU spawned: 1..UINT64_MAX */
	uint64_t t_ready; /* QEMU answered: t_spawn..UINT64_MAX */
};

/* Write r as a "ready" line, '\n' and NUL included, into buf: the line's
 * length, -EINVAL when a field is out of range, -ENOSPC when len is too
 * small. */
int ae_ready_format(const struct ae_ready *r, char *buf, size_t len);

/* Parse the len bytes at line (one line, without its '\n'; no NUL needed)
 * as a "ready" line into *r: 0, -ENOENT when it is not a "ready" line
 * (another word first, or none), -EINVAL when it is but malformed: a field missing,
 * out of range or not decimal, anything after the last, or longer than
 * AE_READY_LINE_MAX.  *r is only written on success. */
int ae_ready_parse(const char *line, size_t len, struct ae_ready *r);

/* The same for "started SUP_PID". */
int ae_ready_format_started(long sup_pid, char *buf, size_t len);
int ae_ready_parse_started(const char *line, size_t len, long *sup_pid);

#endif
