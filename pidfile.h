/*
 * Pidfiles and lock files held with POSIX record locks.
 *
 * A POSIX (fcntl) lock names the process that holds it: F_GETLK returns the
 * holder's PID, so another process can tell which daemon owns a pidfile
 * without trusting the number written in it.  The lock survives execve(2),
 * is never inherited by fork(2), and goes away when its holder dies.  It is
 * also dropped when its holder closes any descriptor of the file, so the
 * holder opens each file once and keeps that descriptor.
 *
 * Two kinds of lock are taken, told apart by their range:
 * - a daemon holds a write lock on the whole file, for its whole life;
 * - a process that removes a pidfile holds a write lock on its first byte
 *   only, for a moment (the guard): it keeps daemons out while it checks
 *   and unlinks, and nobody takes it for a daemon.  A starting daemon or
 *   an inspector that meets a guard waits for it to go.
 */
#ifndef PIDFILE_H
#define PIDFILE_H

#include <sys/types.h>

/*
 * Beside a supervisor's pidfile, PIDFILE.workers (supervise.h), which
 * begins with this header.
 */
#define WORKERS_SUFFIX ".workers"
#define WORKERS_HEADER "daemonize-workers"

/* A longer file holds no PID, whatever it begins with. */
#define PIDFILE_MAX 32

enum lock_result {
	LOCK_TAKEN,		/* we hold the lock on *fdp */
	LOCK_FREE,		/* nobody holds it */
	LOCK_HELD,		/* a daemon holds it: see holder (0: in another
				   PID namespace, where it has no number) */
	LOCK_MISSING,		/* no such file */
	LOCK_OPEN_FAILED,	/* open(2) failed: see errno */
	LOCK_NOT_FILE,		/* not a regular file */
	LOCK_NOT_PIDFILE,	/* holds something other than a PID */
	LOCK_FAILED		/* fcntl(2), stat(2) or read(2) failed, or a
				   guard did not go in time: see errno */
};

/* What a pidfile says, from one open: its lock's holder and its PID. */
struct pidfile_info {
	pid_t holder;		/* LOCK_HELD: the daemon */
	pid_t named;		/* the PID written in it; 0 if empty;
				   -1 if it holds something else */
};

enum lock_result lock_acquire(const char *path, int avoid, int *fdp,
    pid_t *holder);
enum lock_result pidfile_inspect(const char *path, struct pidfile_info *pi);
int pidfile_check(int fd);
pid_t pidfile_parse(const char *buf, size_t len);
int pidfile_write(int fd, pid_t pid);
enum lock_result pidfile_remove(const char *path, pid_t pid);
int pidfile_unlink_own(int dirfd, const char *name, int fd);
const char *lock_result_text(enum lock_result r);

#endif
