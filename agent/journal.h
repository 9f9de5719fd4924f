/* journal.h - the host agent's record of create requests, in the VM store.
 *
 * <store>/requests/<id> (key=value lines, written atomically) is written
 * before `aether serve` starts making a VM for request <id> and updated
 * as the request advances:
 *   accepted  the agent (pid) took the request and is making VM name
 *   done      the VM is made and owned; the reply is in <id>.reply
 *   replied   the reply was confirmed by the broker
 * with the digest of the request (command and options), so that an id
 * reused for another request is refused instead of answered. 
 * A redelivered request is answered from the journal instead of being done
 * twice.  An `accepted` record whose agent is dead is a half-made VM: the
 * agent at start and `aether gc` delete that VM and the record, so the
 * request, redelivered to another host, ends exactly once.
 */
#ifndef AE_JOURNAL_H
#define AE_JOURNAL_H

#include <stddef.h>
#include <sys/types.h>

struct ae_jrec {
	char state[16];
	char name[65];
	char digest[65];  /* of the request (command and options), hex */
	long pid;
	long long time;
};

/* <store>/requests (made 0700); NULL with err set on failure. */
char *ae_journal_dir(const char *store, char *err, size_t errlen);
/* Ids become file names next to <id>.reply and the agent's own dot
 * files: [A-Za-z0-9_:@-]{1,128} (no '.', so no id names another's
 * reply file). */
int ae_journal_valid_id(const char *id);
int ae_journal_read(const char *dir, const char *id, struct ae_jrec *r);
int ae_journal_write(const char *dir, const char *id, const struct ae_jrec *r);
/* The saved reply of a done request (malloc'd) or NULL. */
char *ae_journal_reply(const char *dir, const char *id);
int ae_journal_set_reply(const char *dir, const char *id, const char *json);
void ae_journal_remove(const char *dir, const char *id);

/* Roll back request id if it is still accepted: delete its VM (forcing a
 * stop) and the record.  1 a VM was deleted, 0 nothing to do, -1 the
 * delete failed (record kept). */
int ae_journal_rollback(const char *store, const char *dir, const char *id,
			const char *hostconf);

/* Roll back requests whose agent died before they were done (delete the
 * half-made VM, forcing a stop) and drop records older than a week.
 * skip_pid: records of this pid are live (the calling agent).  Returns the
 * number of VMs rolled back. */
int ae_journal_recover(const char *store, const char *hostconf, pid_t skip_pid);

#endif
