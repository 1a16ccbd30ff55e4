/*
 * --status, --stop and --signal: find the daemon through its pidfile's
 * lock, and signal it without a window for PID reuse: the pidfd is opened
 * first, then the lock is asked again whether that PID still holds it.
 * Without pidfds, the lock is asked before every signal.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "control.h"
#include "fmt.h"
#include "msg.h"
#include "pidfile.h"
#include "proc.h"
#include "supervise.h"

/* How long to wait for the daemon to die after SIGKILL. */
#define KILL_WAIT_MS 5000
/* How often a daemon that keeps changing under us is looked up again. */
#define FIND_TRIES 5

static int find_daemon(const char *, struct proc_ref *);
static int check_named(const char *, const struct pidfile_info *);
static bool holds_lock(const char *, pid_t);
static int stop_daemon(const char *, const struct proc_ref *, int, long);
static int signal_daemon(const char *, const struct proc_ref *, int);
static bool wait_gone(const char *, const struct proc_ref *, long);
static void remove_leftover(const char *, pid_t);
static void print_workers(const char *, pid_t);
static char *read_workers(const char *, pid_t, long *);
static char *read_small_file(int, size_t);
static long stop_time(const char *, pid_t, int, int);
static bool runs_under(long, pid_t);
static void print_worker(int, long, long, int, int, int);

/* --status: one line, and the LSB exit status. */
int
control_status(const char *pidfile, bool quiet)
{
	struct pidfile_info pi;
	enum lock_result r;

	r = pidfile_inspect(pidfile, &pi);
	if (r == LOCK_MISSING) {
		if (!quiet)
			(void)msg_out("not running\n");
		return LSB_NOT_RUNNING;
	}
	if (r == LOCK_FREE) {
		if (!quiet)
			(void)msg_out("not running (stale pidfile %s)\n", pidfile);
		return LSB_DEAD_PIDFILE;
	}
	if (r != LOCK_HELD) {
		if (!quiet)
			warning("read pidfile %s: %s", pidfile,
			    lock_result_text(r));
		return LSB_UNKNOWN;
	}
	if (!quiet && pi.holder == 0)
		(void)msg_out("running (pid outside this PID namespace)\n");
	else if (!quiet && pi.holder < 0)
		(void)msg_out("running (lock held with no pid)\n");
	else if (!quiet) {
		(void)msg_out("running (pid %ld)\n", (long)pi.holder);
		print_workers(pidfile, pi.holder);
	}
	return LSB_RUNNING;
}

/*
 * --stop: sig, up to timeout seconds, then SIGKILL; then the pidfile the
 * daemon left.  Stopping a daemon that is not running succeeds, as LSB
 * asks.  An exit status, or -1 with the failure recorded.
 */
int
control_stop(const char *pidfile, int sig, int timeout, bool quiet)
{
	struct proc_ref d = { .pid = 0, .pidfd = -1 };
	int r;

	r = find_daemon(pidfile, &d);
	if (r == -1)
		return -1;
	if (r == 0) {
		if (!quiet)
			(void)msg_out("not running\n");
		remove_leftover(pidfile, 0);
		return EXIT_OK;
	}
	r = stop_daemon(pidfile, &d, sig, stop_time(pidfile, d.pid, sig,
	    timeout));
	proc_ref_close(&d);
	if (r == -1)
		return -1;
	remove_leftover(pidfile, d.pid);
	if (!quiet)
		(void)msg_out("stopped (pid %ld)\n", (long)d.pid);
	return EXIT_OK;
}

/* --signal without --stop: sends sig to the daemon and returns. */
int
control_signal(const char *pidfile, int sig)
{
	struct proc_ref d = { .pid = 0, .pidfd = -1 };
	int r;

	r = find_daemon(pidfile, &d);
	if (r == -1)
		return -1;
	if (r == 0)
		return failx(EXIT_RUNNING, "signal %s: not running", pidfile);
	r = signal_daemon(pidfile, &d, sig);
	proc_ref_close(&d);
	if (r == -1 && errno != ESRCH)
		return fail(errno == EPERM ? EXIT_RUNNING : EXIT_SELF,
		    "signal pid %ld", (long)d.pid);
	return EXIT_OK;
}

/*
 * The daemon: the process holding the pidfile's lock, if the file names
 * it too.  1 with *d open on it, 0 when nobody holds the lock, -1 with a
 * failure.  The pidfd is opened before the lock is asked again, so that
 * the process it names is the one that held the lock after it was opened.
 */
static int
find_daemon(const char *pidfile, struct proc_ref *d)
{
	struct pidfile_info pi;
	enum lock_result r;
	int tries;

	for (tries = 0; tries < FIND_TRIES; tries++) {
		r = pidfile_inspect(pidfile, &pi);
		if (r == LOCK_FREE || r == LOCK_MISSING)
			return 0;
		if (r != LOCK_HELD)
			return failx(EXIT_SELF, "read pidfile %s: %s", pidfile,
			    lock_result_text(r));
		if (check_named(pidfile, &pi) == -1)
			return -1;
		proc_ref_open(d, pi.holder);
		if (holds_lock(pidfile, pi.holder))
			return 1;
		proc_ref_close(d);
	}
	return failx(EXIT_RUNNING, "read pidfile %s: its lock changed hands "
	    "%d times; not signalling", pidfile, FIND_TRIES);
}

/* A file that names another process than its lock's holder: signal nobody. */
static int
check_named(const char *pidfile, const struct pidfile_info *pi)
{
	if (pi->holder == 0)
		return failx(EXIT_RUNNING, "read pidfile %s: its lock is held "
		    "by a process outside this PID namespace; not signalling",
		    pidfile);
	/* An open file description lock (F_OFD_SETLK) has no owner. */
	if (pi->holder < 0)
		return failx(EXIT_RUNNING, "read pidfile %s: its lock is held "
		    "with no pid; not signalling", pidfile);
	if (pi->named == 0)
		return failx(EXIT_RUNNING, "read pidfile %s: it names no pid, "
		    "but pid %ld holds its lock; not signalling", pidfile,
		    (long)pi->holder);
	if (pi->named == -1)
		return failx(EXIT_RUNNING, "read pidfile %s: it holds "
		    "something other than a pid, but pid %ld holds its lock; "
		    "not signalling", pidfile, (long)pi->holder);
	if (pi->named != pi->holder)
		return failx(EXIT_RUNNING, "read pidfile %s: it names pid %ld, "
		    "but pid %ld holds its lock; not signalling", pidfile,
		    (long)pi->named, (long)pi->holder);
	return 0;
}

static bool
holds_lock(const char *pidfile, pid_t pid)
{
	struct pidfile_info pi = { .holder = 0 };

	return pidfile_inspect(pidfile, &pi) == LOCK_HELD && pi.holder == pid;
}

/* sig, then SIGKILL after timeout seconds; 0 once gone. */
static int
stop_daemon(const char *pidfile, const struct proc_ref *d, int sig,
    long ms)
{
	if (signal_daemon(pidfile, d, sig) == -1 && errno != ESRCH)
		return fail(EXIT_RUNNING, "stop pid %ld", (long)d->pid);
	/* A stopped daemon would not act on sig until continued. */
	if (sig != SIGSTOP && sig != SIGTSTP && sig != SIGTTIN &&
	    sig != SIGTTOU)
		(void)signal_daemon(pidfile, d, SIGCONT);
	test_pause("stop-signalled");
	if (wait_gone(pidfile, d, ms))
		return 0;
	verbose("pid %ld still there after %ld ms: SIGKILL", (long)d->pid,
	    ms);
	if (signal_daemon(pidfile, d, SIGKILL) == -1 && errno != ESRCH)
		return fail(EXIT_RUNNING, "kill pid %ld", (long)d->pid);
	if (!wait_gone(pidfile, d, KILL_WAIT_MS))
		return failx(EXIT_RUNNING, "kill pid %ld: still running",
		    (long)d->pid);
	return 0;
}

/*
 * Through the pidfd, or, without one, only while the PID still holds the
 * lock: else it is gone (ESRCH), and the PID may be another process's.
 */
static int
signal_daemon(const char *pidfile, const struct proc_ref *d, int sig)
{
	if (d->pidfd == -1 && !holds_lock(pidfile, d->pid)) {
		errno = ESRCH;
		return -1;
	}
	return proc_ref_signal(d, sig);
}

/*
 * A pidfd polls readable once the process has exited.  Without one, the
 * daemon is gone when its PID is, or no longer holds the lock: a PID
 * reused meanwhile must not keep us waiting, nor be killed.
 */
static bool
wait_gone(const char *pidfile, const struct proc_ref *d, long ms)
{
	long deadline = now_ms() + ms, step = 1;

	if (d->pidfd != -1)
		return proc_ref_wait_gone(d, ms);
	while (!proc_is_gone(d->pid) && holds_lock(pidfile, d->pid)) {
		if (now_ms() >= deadline)
			return false;
		nap_ms(step);
		step = step < 100 ? step * 2 : 100;
	}
	return true;
}

/*
 * Removes the pidfile a stopped daemon left, if it still names that
 * daemon (pid; 0: any PID) or nothing.  A file that holds anything else
 * was named by mistake, and is left as it is.
 */
static void
remove_leftover(const char *pidfile, pid_t pid)
{
	enum lock_result r;

	r = pidfile_remove(pidfile, pid);
	if (r == LOCK_NOT_PIDFILE || r == LOCK_FAILED ||
	    r == LOCK_OPEN_FAILED || r == LOCK_NOT_FILE)
		warning("remove pidfile %s: %s", pidfile, lock_result_text(r));
}

/*
 * How long to wait before SIGKILL: --timeout, or longer for a supervisor
 * stopped by TERM or INT, which needs its own --kill-timeout to stop its
 * workers' groups; killed before, it would leave them running.
 */
static long
stop_time(const char *pidfile, pid_t pid, int sig, int timeout)
{
	long ms = timeout * 1000L, need = 0;

	if (sig != SIGTERM && sig != SIGINT)
		return ms;
	free(read_workers(pidfile, pid, &need));
	/* A supervisor's --kill-timeout is at most a day. */
	if (need > 86400000L + SUPERVISE_KILL_WAIT_MS)
		need = 86400000L + SUPERVISE_KILL_WAIT_MS;
	return need + 1000 > ms ? need + 1000 : ms;
}

/*
 * A supervisor's workers, from the file it keeps beside its pidfile:
 * shown only if the file names the process that holds the lock now.
 */
static void
print_workers(const char *pidfile, pid_t holder)
{
	long v[6];	/* id, pid, start, restarts, how it ended, status */
	char *text, *line;

	text = read_workers(pidfile, holder, NULL);
	if (text == NULL)
		return;
	for (line = strchr(text, '\n'); line != NULL && scan_longs(line + 1, v,
	    6) == 6; line = strchr(line + 1, '\n'))
		print_worker((int)v[0], runs_under(v[1], holder) ? v[1] : 0,
		    v[2], (int)v[3], (int)v[4], (int)v[5]);
	free(text);
}

/*
 * The file is written when a worker has exec'd, not on the way to its
 * restart: a worker it names that is dead, or is no child of the
 * supervisor's (its PID reused), is not running.
 */
static bool
runs_under(long pid, pid_t holder)
{
	char buf[512];
	const char *p;
	long ppid;

	p = pid > 0 ? proc_stat((pid_t)pid, buf, sizeof(buf)) : NULL;
	return p != NULL && scan_longs(p + 1, &ppid, 1) == 1 &&
	    p[0] != 'Z' && p[0] != 'X' && ppid == holder;
}

/*
 * PIDFILE.workers, whole, if holder holds its lock (a lock dies with its
 * process: no file a killed supervisor left qualifies) and its first line
 * names it: a string to free, or NULL.  *stop_ms: the longest the
 * supervisor takes to stop.
 */
static char *
read_workers(const char *pidfile, pid_t holder, long *stop_ms)
{
	struct flock lock = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	char path[PATH_MAX], *text = NULL;
	struct stat a, b;
	long v[2];	/* the supervisor, how long it takes to stop */
	int fd, n;

	n = fmt(path, sizeof(path), "%s" WORKERS_SUFFIX, pidfile);
	if (n < 0 || (size_t)n >= sizeof(path))
		return NULL;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd == -1)
		return NULL;
	/* Only a file of the pidfile's owner, that the daemon holds. */
	if (fstat(fd, &a) == 0 && stat(pidfile, &b) == 0 &&
	    a.st_uid == b.st_uid && S_ISREG(a.st_mode) &&
	    fcntl(fd, F_GETLK, &lock) == 0 && lock.l_type != F_UNLCK &&
	    lock.l_pid == holder)
		text = read_small_file(fd, WORKERS_MAX);
	(void)close(fd);
	if (text != NULL &&
	    strncmp(text, WORKERS_HEADER " ", sizeof(WORKERS_HEADER)) == 0 &&
	    scan_longs(text + sizeof(WORKERS_HEADER), v, 2) == 2 &&
	    v[0] == holder) {
		if (stop_ms != NULL)
			*stop_ms = v[1];
		return text;
	}
	free(text);
	return NULL;
}

/* All of fd, up to max bytes, as a string to free; NULL if longer. */
static char *
read_small_file(int fd, size_t max)
{
	char *text = malloc(max + 1);
	size_t len = 0;
	ssize_t n;

	while (text != NULL && len <= max) {
		n = read(fd, text + len, max + 1 - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	if (text != NULL && len <= max) {
		text[len] = '\0';
		return text;
	}
	free(text);
	return NULL;
}

/* "worker 0: pid 1234, up 12s, 0 restarts, last exit none" */
static void
print_worker(int id, long pid, long started, int restarts, int how,
    int code)
{
	char last[32] = "none";
	long up = (now_ms() - started) / 1000;

	if (how == CLD_EXITED)
		(void)fmt(last, sizeof(last), "status %d", code);
	else if (how != 0)
		(void)fmt(last, sizeof(last), "signal %d", code - 128);
	if (pid > 0)
		(void)msg_out("worker %d: pid %ld, up %lds, %d restarts, last "
		    "exit %s\n", id, pid, up > 0 ? up : 0, restarts, last);
	else
		(void)msg_out("worker %d: not running, %d restarts, last exit "
		    "%s\n", id, restarts, last);
}
