/*
 * Applying a spawn plan in the child, then exec.  Nothing here may end
 * the process but spawn_fail(), on the child side of a fork.
 */
#include <sys/prctl.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "msg.h"
#include "proc.h"
#include "spawn.h"

static int die_with_parent(pid_t);
static int open_output(const struct spawn_plan *, const char *, const char *);
static bool is_fifo(const char *);
static bool same_file(int, const struct stat *);
static int check_output(const struct spawn_plan *, int, const char *,
    const char *);
static int keep_messages(const struct spawn_plan *);
static int place_fds(const struct spawn_plan *, int, int);
static int place(int, int, const char *);
static int keep_locks(const struct spawn_plan *);
static int exec_failed(const struct spawn_plan *);

/*
 * Becomes the plan's command: umask, user, outputs (opened as that user,
 * so that a link the user planted cannot redirect root's write), the
 * descriptors in place, the directory, exec.  Returns -1 only when the
 * plan has no report_fd; otherwise a failure ends the child.
 */
int
spawn_exec(const struct spawn_plan *p)
{
	int out, err;

	umask(p->umask);
	if ((p->creds != NULL && creds_apply(p->creds, p->keep_root) == -1) ||
	    (p->parent > 0 && die_with_parent(p->parent) == -1) ||
	    spawn_open_outputs(p, &out, &err) == -1 ||
	    keep_messages(p) == -1 || place_fds(p, out, err) == -1 ||
	    keep_locks(p) == -1)
		goto failed;
	if (chdir(p->dir) == -1) {
		(void)fail(EXIT_SELF, "change directory to %s", p->dir);
		goto failed;
	}
	verbose("working directory %s", p->dir);
	verbose("exec %s", p->path);
	/* No message after this: SIGPIPE is back at its default. */
	if (set_sigpipe(false) == -1)
		goto failed;
	test_pause("before-exec");
	coverage_flush();
	execv(p->path, p->argv);
	(void)set_sigpipe(true);
	(void)exec_failed(p);
failed:
	if (p->report_fd != -1)
		spawn_fail(p);
	return -1;
}

/*
 * In a child of the launcher: a new session, then a fork.  The middle
 * process ends there; the grandchild, in the session but not its leader,
 * so that no terminal it opens can become its controlling one, sends its
 * own PID first, so that the parent knows it even if the middle process
 * is killed before it exits, and goes on (returns that PID).  A failure
 * ends the child.
 */
pid_t
spawn_detach(const struct spawn_plan *p)
{
	pid_t pid;

	if (setsid() == -1) {
		(void)fail(EXIT_SELF, "create session");
		spawn_fail(p);
	}
	pid = fork();
	if (pid == -1) {
		(void)fail(EXIT_SELF, "fork daemon");
		spawn_fail(p);
	}
	if (pid > 0) {
		test_pause("middle-forked");
		coverage_flush();
		_exit(EXIT_OK);
	}
	test_pause("daemon-forked");
	pid = getpid();
	if (report_send(p->report_fd, REPORT_PID, 0, pid, NULL) == -1) {
		(void)fail(EXIT_SELF, "report daemon pid");
		spawn_fail(p);
	}
	return pid;
}

/*
 * Before the child takes a lock: its standard streams go to /dev/null
 * now, so that none of the caller's, which may be open on a file it is
 * about to lock, is closed later: closing any descriptor of a file drops
 * the locks on it.  For the same reason its -v lines go to the parent,
 * not to a copy of the caller's standard error.  The plan's output files
 * replace the streams at the end.
 */
int
spawn_null_stdio(struct spawn_plan *p)
{
	msg_to_pipe(p->report_fd);
	if (place(p->devnull, STDIN_FILENO, "standard input") == -1 ||
	    place(p->devnull, STDOUT_FILENO, "standard output") == -1 ||
	    place(p->devnull, STDERR_FILENO, "standard error") == -1)
		return -1;
	p->stdio_null = true;
	return 0;
}

/*
 * Ends a failed child: its locks go first, so that the parent, which
 * cleans up after it, finds them free when the record arrives.  The
 * record names our PID if we hold the pidfile, which may hold it now.
 */
void
spawn_fail(const struct spawn_plan *p)
{
	pid_t wrote = p->locks[0] != -1 ? getpid() : 0;
	int i;

	for (i = 0; i < 2; i++)
		if (p->locks[i] != -1)
			(void)close(p->locks[i]);
	(void)report_send(p->report_fd, REPORT_FAIL, fail_code(), wrote,
	    fail_text());
	coverage_flush();
	_exit(fail_code());
}

/*
 * A worker is killed with its supervisor, so that none is left holding
 * ports while the lock says nothing runs.  Set after the user switch,
 * which clears it; a supervisor gone before it was set is seen by the
 * parent PID no longer being its own.
 */
static int
die_with_parent(pid_t parent)
{
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1)
		return fail(EXIT_SELF, "set parent death signal");
	if (getppid() != parent)
		return failx(EXIT_SELF, "supervisor %ld is gone", (long)parent);
	return 0;
}

/*
 * -o and -e, or the plan's /dev/null; one file for both shares one.
 * A supervisor opens them once, for all its workers.
 */
int
spawn_open_outputs(const struct spawn_plan *p, int *out, int *err)
{
	struct stat a, b;

	*out = p->out_fd != -1 ? p->out_fd : p->out != NULL ?
	    open_output(p, p->out, "-o") : p->devnull;
	if (*out == -1)
		return -1;
	*err = p->err_fd != -1 ? p->err_fd : p->err != NULL ?
	    open_output(p, p->err, "-e") : p->devnull;
	if (*err == -1)
		return -1;
	/* One file for both: share one offset, as 2>&1 would.  The second
	 * descriptor, if we just opened it, is one too many. */
	if (p->out != NULL && p->err != NULL && *err != *out &&
	    fstat(*out, &a) == 0 && fstat(*err, &b) == 0 &&
	    a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
		if (p->err_fd == -1)
			(void)close(*err);
		*err = *out;
	}
	return 0;
}

/*
 * Opens an output as the shell would for > (or >> with -a), but without
 * blocking on a FIFO that has no reader, and truncating only once the
 * file is known to be fit for it.
 */
static int
open_output(const struct spawn_plan *p, const char *path, const char *opt)
{
	int fd;

	fd = open(path, O_WRONLY | O_CREAT | O_NOCTTY | O_NONBLOCK |
	    O_CLOEXEC | (p->append ? O_APPEND : 0), 0666);
	if (fd == -1 && errno == ENXIO && is_fifo(path))
		return failx(EXIT_SELF, "open %s: a FIFO with no reader", path);
	if (fd == -1)
		return fail(EXIT_SELF, "open %s", path);
	fd = move_fd_off(fd, p->avoid);
	if (fd == -1)
		return fail(EXIT_SELF, "open %s", path);
	return check_output(p, fd, path, opt);
}

static bool
is_fifo(const char *path)
{
	struct stat sb;
	int saved = errno;
	bool r;

	r = stat(path, &sb) == 0 && S_ISFIFO(sb.st_mode);
	errno = saved;
	return r;
}

/*
 * A regular file, a FIFO or a character device, and not a file we hold a
 * lock on: writing to it through another descriptor is harmless, but
 * closing that descriptor at exec would drop the lock.  Nor one of our
 * own pipes (through /dev/fd/N): the launcher would wait on the command.
 */
static int
check_output(const struct spawn_plan *p, int fd, const char *path,
    const char *opt)
{
	struct stat sb;
	int i, flags;

	if (fstat(fd, &sb) == -1)
		return fail(EXIT_SELF, "open %s", path);
	if (!S_ISREG(sb.st_mode) && !S_ISFIFO(sb.st_mode) &&
	    !S_ISCHR(sb.st_mode))
		return failx(EXIT_SELF, "open %s: not a regular file, FIFO or "
		    "character device", path);
	for (i = 0; i < 2; i++)
		if (same_file(p->locks[i], &sb))
			return failx(EXIT_USAGE, "option %s: %s is the %s; "
			    "writing there would drop its lock", opt, path,
			    p->lock_names[i]);
	if (same_file(p->report_fd, &sb) || same_file(p->ready_fd, &sb))
		return failx(EXIT_USAGE, "option %s: %s is a pipe of "
		    "daemonize's own", opt, path);
	flags = fcntl(fd, F_GETFL);
	if (flags == -1 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) == -1)
		return fail(EXIT_SELF, "open %s", path);
	if (S_ISREG(sb.st_mode) && !p->append && ftruncate(fd, 0) == -1)
		return fail(EXIT_SELF, "truncate %s", path);
	return fd;
}

/*
 * -f keeps the caller's standard streams, which must not be a file we
 * lock: replacing them, or the command closing them, would close a
 * descriptor of that file, which drops our lock on it.  (A daemon has put
 * /dev/null in their place before it locked anything.)
 */
int
spawn_check_streams(const struct spawn_plan *p)
{
	static const char *const streams[] = { "standard input",
	    "standard output", "standard error" };
	struct stat sb;
	int fd, i;

	if (!p->keep_stdio)
		return 0;
	for (fd = STDIN_FILENO; fd <= STDERR_FILENO; fd++)
		for (i = 0; i < 2; i++)
			if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) &&
			    same_file(p->locks[i], &sb))
				return failx(EXIT_USAGE, "%s is the %s; closing "
				    "it would drop its lock", streams[fd],
				    p->lock_names[i]);
	return 0;
}

/* True if descriptor fd (-1: none) is open on the file sb describes. */
static bool
same_file(int fd, const struct stat *sb)
{
	struct stat other;

	return fd != -1 && fstat(fd, &other) == 0 &&
	    other.st_dev == sb->st_dev && other.st_ino == sb->st_ino;
}

/*
 * -f -e: messages after standard error is replaced still go to the
 * caller's, where main() reports a failed exec.  (A daemon's go to its
 * parent: spawn_null_stdio.)
 */
static int
keep_messages(const struct spawn_plan *p)
{
	int fd;

	if (!p->keep_stdio || p->err == NULL || p->parent > 0)
		return 0;
	fd = move_fd_off(fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3), p->avoid);
	if (fd == -1)
		return fail(EXIT_SELF, "duplicate standard error");
	msg_set_fd(fd);
	return 0;
}

/*
 * Every source is at 3 or above and off the ready target, and the targets
 * are 0 to 2 and that target, so no dup2(2) here can replace a descriptor
 * still to be placed, nor a lock (which closing would drop).
 */
static int
place_fds(const struct spawn_plan *p, int out, int err)
{
	bool fill = !p->keep_stdio && !p->stdio_null;

	if (fill && place(p->devnull, STDIN_FILENO, "standard input") == -1)
		return -1;
	if ((fill || p->out != NULL || p->out_fd != -1) &&
	    place(out, STDOUT_FILENO, "standard output") == -1)
		return -1;
	if ((fill || p->err != NULL || p->err_fd != -1) &&
	    place(err, STDERR_FILENO, "standard error") == -1)
		return -1;
	if (p->ready_fd != -1 &&
	    place(p->ready_fd, p->ready_target, "the ready fd") == -1)
		return -1;
	return 0;
}

static int
place(int fd, int target, const char *what)
{
	if (dup2(fd, target) == -1)
		return fail(EXIT_SELF, "redirect %s", what);
	return 0;
}

/* The locks are close-on-exec until now: only the command keeps them. */
static int
keep_locks(const struct spawn_plan *p)
{
	int i;

	for (i = 0; i < 2; i++)
		if (p->locks[i] != -1 && fcntl(p->locks[i], F_SETFD, 0) == -1)
			return fail(EXIT_SELF, "keep %s", p->lock_names[i]);
	return 0;
}

/*
 * ENOENT from a file we found means its #! interpreter (or ELF loader) is
 * missing; the shell reports that with 127 too.
 */
static int
exec_failed(const struct spawn_plan *p)
{
	const char *name = p->argv[0];

	if (errno == ENOENT && access(p->path, F_OK) == 0)
		return failx(EXIT_NOTFOUND, "execute %s: interpreter not found",
		    name);
	return fail(errno == ENOENT ? EXIT_NOTFOUND : EXIT_NOEXEC,
	    "execute %s", name);
}
