/*
 * Pidfiles and lock files: open without following a symbolic link, take a
 * POSIX write lock, and write the holder's PID.
 */
#define _POSIX_C_SOURCE 200809L

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "pidfile.h"

/* More than enough for any honest race; bounds a pathological one. */
#define LOCK_TRIES 100

static enum lock_result lock_once(const char *path, int fd, pid_t *holder);
static int same_inode(const struct stat *a, const struct stat *b);

/*
 * Opens path and locks it for writing, without waiting.  The descriptor is
 * not close-on-exec: the daemon keeps it, and the lock with it, across exec.
 */
enum lock_result
lock_acquire(const char *path, int *fdp, pid_t *holder)
{
	enum lock_result r;
	int fd, saved, tries;

	for (tries = 0; tries < LOCK_TRIES; tries++) {
		/* O_NOFOLLOW: a root daemon must not truncate a link's target. */
		fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_NOCTTY, 0644);
		if (fd == -1)
			return LOCK_OPEN_FAILED;
		r = lock_once(path, fd, holder);
		if (r == LOCK_TAKEN) {
			*fdp = fd;
			return r;
		}
		saved = errno;
		(void)close(fd);
		errno = saved;
		if (r != LOCK_STALE)
			return r;
	}
	errno = EAGAIN;
	return LOCK_FAILED;
}

/* Takes the lock on fd, or finds out who holds it. */
static enum lock_result
lock_once(const char *path, int fd, pid_t *holder)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	struct stat opened, named;

	if (fstat(fd, &opened) == -1)
		return LOCK_FAILED;
	if (!S_ISREG(opened.st_mode))
		return LOCK_NOT_FILE;
	if (fcntl(fd, F_SETLK, &fl) == -1) {
		if (errno != EAGAIN && errno != EACCES)
			return LOCK_FAILED;
		if (fcntl(fd, F_GETLK, &fl) == -1)
			return LOCK_FAILED;
		if (fl.l_type == F_UNLCK)
			return LOCK_STALE;	/* released meanwhile */
		*holder = fl.l_pid;
		return LOCK_HELD;
	}
	/*
	 * A daemon that fails to start unlinks the pidfile it locked.  If that
	 * happened between our open and our lock, we hold a lock on a file
	 * nobody can see: open the path again.
	 */
	if (lstat(path, &named) == -1)
		return errno == ENOENT ? LOCK_STALE : LOCK_FAILED;
	return same_inode(&opened, &named) ? LOCK_TAKEN : LOCK_STALE;
}

static int
same_inode(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/* Replaces the file's contents with pid and a newline. */
int
pidfile_write(int fd, pid_t pid)
{
	char buf[24];
	ssize_t n;
	int len;

	len = snprintf(buf, sizeof(buf), "%ld\n", (long)pid);
	if (ftruncate(fd, 0) == -1)
		return -1;
	n = pwrite(fd, buf, (size_t)len, 0);
	if (n == -1)
		return -1;
	if (n != len) {
		errno = ENOSPC;
		return -1;
	}
	return 0;
}

/*
 * Who holds the lock on path: LOCK_HELD and *holder, LOCK_FREE, or why it
 * cannot be told (LOCK_OPEN_FAILED with ENOENT: no such file).  It takes no
 * lock, so closing its descriptor releases nothing of ours, and it does not
 * block on a FIFO put at the path.
 */
enum lock_result
lock_holder(const char *path, pid_t *holder)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	enum lock_result r = LOCK_FREE;
	struct stat sb;
	int fd, saved;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK |
	    O_CLOEXEC);
	if (fd == -1)
		return LOCK_OPEN_FAILED;
	if (fstat(fd, &sb) == -1)
		r = LOCK_FAILED;
	else if (!S_ISREG(sb.st_mode))
		r = LOCK_NOT_FILE;
	else if (fcntl(fd, F_GETLK, &fl) == -1)
		r = LOCK_FAILED;
	else if (fl.l_type != F_UNLCK) {
		*holder = fl.l_pid;
		r = LOCK_HELD;
	}
	saved = errno;
	(void)close(fd);
	errno = saved;
	return r;
}

/* The PID written in path, or 0 if it holds none. */
pid_t
pidfile_read(const char *path)
{
	char buf[32], *end;
	ssize_t n;
	long pid;
	int fd;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK |
	    O_CLOEXEC);
	if (fd == -1)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	(void)close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	pid = strtol(buf, &end, 10);
	if (end == buf || (*end != '\n' && *end != '\0') || pid <= 0 ||
	    pid != (pid_t)pid)
		return 0;
	return (pid_t)pid;
}

/*
 * Removes path if nobody holds its lock.  It takes the lock first, so that
 * a daemon starting meanwhile keeps its pidfile.  Returns 0 when removed or
 * already gone, 1 when held, -1 with errno.
 */
int
pidfile_remove_unlocked(const char *path)
{
	struct stat sb;
	pid_t holder;
	int fd, r;

	/* Not there: nothing to do, and nothing to create to find that out. */
	if (lstat(path, &sb) == -1 && errno == ENOENT)
		return 0;
	switch (lock_acquire(path, &fd, &holder)) {
	case LOCK_TAKEN:
		r = unlink(path) == -1 && errno != ENOENT ? -1 : 0;
		(void)close(fd);
		return r;
	case LOCK_HELD:
		return 1;
	default:
		return errno == ENOENT ? 0 : -1;
	}
}
