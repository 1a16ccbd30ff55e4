/*
 * Pidfiles and lock files held with POSIX record locks.
 *
 * A POSIX (fcntl) lock names the process that holds it: F_GETLK returns the
 * holder's PID, so another process can tell which daemon owns a pidfile
 * without trusting the number written in it.  The lock survives execve(2),
 * is never inherited by fork(2), and goes away when its holder dies.  It is
 * also dropped when its holder closes any descriptor of the file, so the
 * holder opens each file once and keeps that descriptor.
 */
#ifndef PIDFILE_H
#define PIDFILE_H

#include <sys/types.h>

enum lock_result {
	LOCK_TAKEN,		/* we hold the lock on *fdp */
	LOCK_FREE,		/* nobody holds it (lock_holder only) */
	LOCK_HELD,		/* process *holder holds it (0: in another
				   PID namespace, where it has no number) */
	LOCK_OPEN_FAILED,	/* open(2) failed: see errno */
	LOCK_NOT_FILE,		/* path names something not a regular file */
	LOCK_FAILED,		/* fcntl(2) or stat(2) failed: see errno */
	LOCK_STALE		/* internal: the file was replaced, retry */
};

enum lock_result lock_acquire(const char *path, int *fdp, pid_t *holder);
enum lock_result lock_holder(const char *path, pid_t *holder);
int pidfile_write(int fd, pid_t pid);
pid_t pidfile_read(const char *path);
int pidfile_remove_unlocked(const char *path);

#endif
