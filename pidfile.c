/*
 * Pidfiles and lock files: open without following a symbolic link, lock,
 * write the holder's PID, inspect and remove them without ever being
 * taken for the daemon.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include "fmt.h"
#include "msg.h"
#include "pidfile.h"
#include "proc.h"

/* How long to wait for a guard to go, or a new daemon to write its PID. */
#define GUARD_WAIT_MS 5000
#define WRITE_WAIT_MS 1000

/* The largest PID a pidfile may hold: pid_t is an int on Linux. */
#define PID_LARGEST INT_MAX

/* Internal results, beside enum lock_result. */
#define LOCK_RETRY (-1)		/* a guard, or the file changed: again */

static int lock_once(const char *, int, const struct stat *, pid_t *);
static int who_holds(int, pid_t *);
static pid_t read_pid(int);
static bool still_named(const char *, const struct stat *);
static int open_pidfile(const char *, int, struct stat *,
    enum lock_result *);
static int remove_guarded(const char *, int, const struct stat *, pid_t);
static void backoff(long *);
static void remove_workers(const char *);
static void remove_unlocked(const char *);

/*
 * Opens path (creating it), off avoid, and takes a daemon's lock,
 * without waiting for another daemon; a guard is waited for.  The
 * descriptor is close-on-exec: whoever keeps it across exec says so.
 */
enum lock_result
lock_acquire(const char *path, int avoid, int *fdp, pid_t *holder)
{
	long deadline = now_ms() + GUARD_WAIT_MS, step = 1;
	enum lock_result why;
	struct stat sb;
	int fd, r, saved;
	bool late;

	for (;;) {
		/* An attempt begun in time is not the last, however long it
		 * was stopped: its holder may have let go meanwhile. */
		late = now_ms() >= deadline;
		fd = open_pidfile(path, O_RDWR | O_CREAT, &sb, &why);
		if (fd == -1)
			return why;
		fd = move_fd_off(fd, avoid);
		if (fd == -1)
			return LOCK_FAILED;
		r = lock_once(path, fd, &sb, holder);
		if (r == LOCK_TAKEN) {
			*fdp = fd;
			return LOCK_TAKEN;
		}
		saved = errno;
		(void)close(fd);
		errno = saved;
		if (r != LOCK_RETRY)
			return (enum lock_result)r;
		if (late) {
			errno = EAGAIN;
			return LOCK_FAILED;
		}
		backoff(&step);
	}
}

/* Takes the whole file's lock on fd, or finds out who holds it. */
static int
lock_once(const char *path, int fd, const struct stat *opened, pid_t *holder)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	int r;

	if (fcntl(fd, F_SETLK, &fl) == 0)
		/*
		 * A failed start's pidfile is unlinked.  If that happened
		 * between our open and our lock, we hold a lock on a file
		 * nobody can see: open the path again.
		 */
		return still_named(path, opened) ? LOCK_TAKEN : LOCK_RETRY;
	if (errno != EAGAIN && errno != EACCES)
		return LOCK_FAILED;
	test_pause("lock-busy");
	r = who_holds(fd, holder);
	/* The holder let go between our two calls: take it again. */
	return r == LOCK_FREE ? LOCK_RETRY : r;
}

/*
 * LOCK_HELD with the daemon's PID, LOCK_FREE, or LOCK_RETRY for a guard.
 * A daemon's lock spans the whole file, which F_GETLK reports as length 0.
 */
static int
who_holds(int fd, pid_t *holder)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };

	if (fcntl(fd, F_GETLK, &fl) == -1)
		return LOCK_FAILED;
	if (fl.l_type == F_UNLCK)
		return LOCK_FREE;
	if (fl.l_start != 0 || fl.l_len != 0)
		return LOCK_RETRY;
	*holder = fl.l_pid;
	return LOCK_HELD;
}

/*
 * Reads the PID, the lock's holder and the PID again from one descriptor,
 * until they agree: a daemon that has just taken the lock may not have
 * written its PID yet, and a guard is gone in a moment.
 */
enum lock_result
pidfile_inspect(const char *path, struct pidfile_info *pi)
{
	long start = now_ms(), step = 1;
	enum lock_result why;
	struct stat sb;
	pid_t again = 0;
	int fd, r, saved;

	fd = open_pidfile(path, O_RDONLY, &sb, &why);
	if (fd == -1)
		return why;
	for (;;) {
		pi->holder = 0;
		r = who_holds(fd, &pi->holder);
		if (r == LOCK_FAILED)	/* its errno says why: keep it */
			break;
		pi->named = read_pid(fd);
		if (r == LOCK_HELD && (who_holds(fd, &again) != LOCK_HELD ||
		    again != pi->holder))
			r = LOCK_RETRY;
		if (r == LOCK_HELD && pi->named != pi->holder &&
		    pi->holder > 0 && now_ms() - start < WRITE_WAIT_MS)
			r = LOCK_RETRY;
		if (r != LOCK_RETRY || now_ms() - start >= GUARD_WAIT_MS)
			break;
		backoff(&step);
	}
	saved = errno;
	(void)close(fd);
	errno = saved;
	if (r == LOCK_RETRY) {
		errno = EAGAIN;
		return LOCK_FAILED;
	}
	return (enum lock_result)r;
}

/*
 * Before a new daemon writes into a file it took over: 0 if it is empty
 * or holds a PID, -1 otherwise, so that a file named by mistake (or
 * through a planted link) keeps what it holds.
 */
int
pidfile_check(int fd)
{
	return read_pid(fd) == -1 ? -1 : 0;
}

/* Replaces the file's contents with pid and a newline. */
int
pidfile_write(int fd, pid_t pid)
{
	char buf[24];
	ssize_t n;
	int len;

	len = fmt(buf, sizeof(buf), "%ld\n", (long)pid);
	if (ftruncate(fd, 0) == -1)
		return -1;
	test_pause("pidfile-truncated");
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
 * Removes path if no daemon holds it and it is empty or holds a PID: pid,
 * or any when pid is 0; and with it a killed supervisor's PIDFILE.workers
 * and its temporary file, if nobody locks them.  LOCK_TAKEN once removed;
 * LOCK_MISSING if there was nothing to remove; LOCK_HELD if a daemon
 * holds it; LOCK_NOT_PIDFILE or LOCK_FREE if it holds something else or
 * another PID, and is left.
 */
enum lock_result
pidfile_remove(const char *path, pid_t pid)
{
	enum lock_result why;
	struct stat sb;
	int fd, r, saved;

	fd = open_pidfile(path, O_RDWR, &sb, &why);
	if (fd == -1)
		return why;
	r = remove_guarded(path, fd, &sb, pid);
	saved = errno;
	(void)close(fd);
	errno = saved;
	return (enum lock_result)r;
}

/* Takes the guard on fd, then checks and unlinks. */
static int
remove_guarded(const char *path, int fd, const struct stat *opened, pid_t pid)
{
	struct flock guard = { .l_type = F_WRLCK, .l_whence = SEEK_SET,
	    .l_len = 1 };
	long deadline = now_ms() + GUARD_WAIT_MS, step = 1;
	pid_t holder, named;
	int r;

	while (fcntl(fd, F_SETLK, &guard) == -1) {
		if (errno != EAGAIN && errno != EACCES)
			return LOCK_FAILED;
		r = who_holds(fd, &holder);
		if (r != LOCK_RETRY && r != LOCK_FREE)
			return r;
		if (now_ms() >= deadline) {
			errno = EAGAIN;
			return LOCK_FAILED;
		}
		backoff(&step);
	}
	if (!still_named(path, opened))
		return LOCK_MISSING;
	named = read_pid(fd);
	if (named == -1)
		return LOCK_NOT_PIDFILE;
	if (pid != 0 && named != 0 && named != pid)
		return LOCK_FREE;
	/* Under the guard no supervisor of this pidfile is alive. */
	remove_workers(path);
	if (unlink(path) == -1)
		return errno == ENOENT ? LOCK_MISSING : LOCK_FAILED;
	return LOCK_TAKEN;
}

/*
 * What a killed supervisor left beside its pidfile, removed with it:
 * PIDFILE.workers and its temporary file.
 */
static void
remove_workers(const char *pidfile)
{
	char path[PATH_MAX];
	int n;

	n = fmt(path, sizeof(path), "%s" WORKERS_SUFFIX, pidfile);
	if (n > 0 && (size_t)n < sizeof(path))
		remove_unlocked(path);
	n = fmt(path, sizeof(path), "%s" WORKERS_SUFFIX ".tmp", pidfile);
	if (n > 0 && (size_t)n < sizeof(path))
		remove_unlocked(path);
}

/*
 * Removes path if it is a state file, empty or ours, that nobody locks,
 * and path still names it: a live supervisor renames a new file over the
 * one we opened, then lets go of that one.
 */
static void
remove_unlocked(const char *path)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	char head[sizeof(WORKERS_HEADER) - 1];
	struct stat sb;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY |
	    O_CLOEXEC);
	if (fd == -1)
		return;
	n = pread(fd, head, sizeof(head), 0);
	if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && (n == 0 ||
	    (n == (ssize_t)sizeof(head) && memcmp(head, WORKERS_HEADER,
	    sizeof(head)) == 0)) && fcntl(fd, F_GETLK, &fl) == 0 &&
	    fl.l_type == F_UNLCK && still_named(path, &sb))
		(void)unlink(path);
	(void)close(fd);
}

/* The end of a message saying why r is not what was hoped for. */
const char *
lock_result_text(enum lock_result r)
{
	switch (r) {
	case LOCK_NOT_FILE:
		return "not a regular file";
	case LOCK_NOT_PIDFILE:
		return "holds something other than a PID; left as it is";
	case LOCK_MISSING:
		return strerror(ENOENT);
	case LOCK_OPEN_FAILED:
		if (errno == ELOOP)
			return "is a symbolic link, not followed";
		return strerror(errno);
	case LOCK_FAILED:
		if (errno == EAGAIN)
			return "held by another process for too long";
		return strerror(errno);
	default:
		return "unexpected lock state";
	}
}

/*
 * Opens path without following a symbolic link, without blocking on a
 * FIFO, and only if it is a regular file; -1 and *why otherwise.
 */
static int
open_pidfile(const char *path, int flags, struct stat *sb,
    enum lock_result *why)
{
	int fd, saved;

	fd = open(path, flags | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK |
	    O_CLOEXEC, 0644);
	if (fd == -1) {
		*why = errno == ENOENT ? LOCK_MISSING : LOCK_OPEN_FAILED;
		return -1;
	}
	if (fstat(fd, sb) == 0 && S_ISREG(sb->st_mode))
		return fd;
	*why = S_ISREG(sb->st_mode) ? LOCK_FAILED : LOCK_NOT_FILE;
	saved = errno;
	(void)close(fd);
	errno = saved;
	return -1;
}

/* The PID the file holds; 0 if it is empty, -1 if it holds another thing. */
static pid_t
read_pid(int fd)
{
	char buf[PIDFILE_MAX + 1];
	ssize_t n;

	n = pread(fd, buf, sizeof(buf), 0);
	return n == -1 ? -1 : pidfile_parse(buf, (size_t)n);
}

/*
 * A pidfile's bytes, all len of them: the PID (decimal digits, then a
 * newline or not, and nothing else); 0 if there are none; -1 for any
 * other thing, however much it begins like a PID.
 */
pid_t
pidfile_parse(const char *buf, size_t len)
{
	size_t i, digits = len;
	long pid = 0;

	if (len == 0)
		return 0;
	if (buf[len - 1] == '\n')
		digits--;
	if (digits == 0 || len > PIDFILE_MAX)
		return -1;
	for (i = 0; i < digits; i++) {
		if (buf[i] < '0' || buf[i] > '9' ||
		    pid > (PID_LARGEST - (buf[i] - '0')) / 10)
			return -1;
		pid = pid * 10 + (buf[i] - '0');
	}
	return pid == 0 ? -1 : (pid_t)pid;
}

/* True while path still names the file opened, whose fstat is given. */
static bool
still_named(const char *path, const struct stat *opened)
{
	struct stat named;

	return lstat(path, &named) == 0 && opened->st_dev == named.st_dev &&
	    opened->st_ino == named.st_ino;
}

/* Sleeps step ms, doubling it up to 50 ms: a guard lasts microseconds. */
static void
backoff(long *step)
{
	nap_ms(*step);
	if (*step < 50)
		*step *= 2;
}

/*
 * The daemon's own pidfile, by a process that holds its lock and may have
 * changed directory since: name is looked up in dirfd, and removed only
 * if it is still the file locked on fd, and holds a PID or nothing.
 */
int
pidfile_unlink_own(int dirfd, const char *name, int fd)
{
	struct stat a, b;

	if (fstat(fd, &a) == -1 ||
	    fstatat(dirfd, name, &b, AT_SYMLINK_NOFOLLOW) == -1 ||
	    a.st_dev != b.st_dev || a.st_ino != b.st_ino ||
	    pidfile_check(fd) == -1)
		return 0;
	return unlinkat(dirfd, name, 0);
}
