/* supervisor.h - `aether run`: the foreground supervisor of one VM. */
#ifndef AE_SUPERVISOR_H
#define AE_SUPERVISOR_H

#include <stdint.h>
#include "exitcodes.h" /* the exit statuses, for the files including this one */
#include "vmconf.h"

struct ae_run_opts {
	int verbose;
	int check_interval_s; /* health check period; 0: [vm] check_interval */
};

int ae_run(const struct ae_vmconf *c, const struct ae_run_opts *o);

/* The console log writer of ae_run: open the log and a socketpair (QEMU
 * gets *qemu_end as its serial port), start the writer thread once QEMU
 * runs, close after QEMU ended (what is left is written first). */
struct ae_conlog;
int ae_conlog_open(struct ae_conlog **out, const char *path, uint64_t max,
		   unsigned keep, int *qemu_end, char *err, size_t errlen);
void ae_conlog_write(struct ae_conlog *l, const char *buf, size_t n);
int ae_conlog_start(struct ae_conlog *l);
void ae_conlog_close(struct ae_conlog *l);

#endif
