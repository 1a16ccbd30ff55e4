/*
 * --status, --stop and --signal: find the daemon through its pidfile's lock,
 * never through the number in the file alone, and signal it without a
 * window for PID reuse.
 */
#define _GNU_SOURCE

#include <sys/syscall.h>
#include <sys/types.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "daemonize.h"
#include "pidfile.h"

/* Test builds set NO_PIDFD to 1 to run the fallbacks for older kernels. */
#ifndef NO_PIDFD
#define NO_PIDFD 0
#endif

/* How long to wait for a process to die after SIGKILL. */
#define KILL_WAIT 5

static pid_t find_daemon(const char *);
static int send_signal(pid_t, int, int);
static bool wait_gone(pid_t, int, int);
static bool is_gone(pid_t);
static const char *unreadable(enum lock_result);
static void remove_pidfile(const char *);

static const struct {
	const char *name;
	int sig;
} signals[] = {
	{ "HUP", SIGHUP }, { "INT", SIGINT }, { "QUIT", SIGQUIT },
	{ "ILL", SIGILL }, { "TRAP", SIGTRAP }, { "ABRT", SIGABRT },
	{ "BUS", SIGBUS }, { "FPE", SIGFPE }, { "KILL", SIGKILL },
	{ "USR1", SIGUSR1 }, { "SEGV", SIGSEGV }, { "USR2", SIGUSR2 },
	{ "PIPE", SIGPIPE }, { "ALRM", SIGALRM }, { "TERM", SIGTERM },
	{ "CHLD", SIGCHLD }, { "CONT", SIGCONT }, { "STOP", SIGSTOP },
	{ "TSTP", SIGTSTP }, { "TTIN", SIGTTIN }, { "TTOU", SIGTTOU },
	{ "URG", SIGURG }, { "XCPU", SIGXCPU }, { "XFSZ", SIGXFSZ },
	{ "VTALRM", SIGVTALRM }, { "PROF", SIGPROF }, { "WINCH", SIGWINCH },
	{ "IO", SIGIO }, { "SYS", SIGSYS },
};

/* A signal by name (TERM, SIGTERM, term) or number; -1 if none. */
int
parse_signal(const char *name)
{
	char *end;
	long n;
	size_t i;

	if (isdigit((unsigned char)name[0])) {
		n = strtol(name, &end, 10);
		return *end == '\0' && n > 0 && n < NSIG ? (int)n : -1;
	}
	if (strncasecmp(name, "SIG", 3) == 0)
		name += 3;
	for (i = 0; i < sizeof(signals) / sizeof(signals[0]); i++)
		if (strcasecmp(name, signals[i].name) == 0)
			return signals[i].sig;
	return -1;
}

/* --status: one line, and the LSB exit status. */
int
status_daemon(const char *pidfile, bool quiet)
{
	enum lock_result r;
	pid_t pid = 0;

	r = lock_holder(pidfile, &pid);
	if (r == LOCK_OPEN_FAILED && errno == ENOENT) {
		if (!quiet)
			puts("not running");
		return LSB_NOT_RUNNING;
	}
	if (r == LOCK_FREE) {
		if (!quiet)
			printf("not running (stale pidfile %s)\n", pidfile);
		return LSB_DEAD_PIDFILE;
	}
	if (r != LOCK_HELD) {
		if (!quiet)
			errorx("read pidfile %s: %s", pidfile, unreadable(r));
		return LSB_UNKNOWN;
	}
	if (!quiet && pid == 0)
		puts("running (pid outside this PID namespace)");
	else if (!quiet)
		printf("running (pid %ld)\n", (long)pid);
	return LSB_RUNNING;
}

/*
 * --stop: sig, up to timeout seconds, then SIGKILL.  Stopping a daemon
 * that is not running succeeds, as LSB asks.
 */
int
stop_daemon(const char *pidfile, int sig, int timeout, bool quiet)
{
	pid_t pid;
	int r;

	pid = find_daemon(pidfile);
	if (pid == 0) {
		if (!quiet)
			puts("not running");
		remove_pidfile(pidfile);
		return EXIT_OK;
	}
	r = stop_process(pid, sig, timeout);
	if (r != EXIT_OK)
		return r;
	remove_pidfile(pidfile);
	if (!quiet)
		printf("stopped (pid %ld)\n", (long)pid);
	return EXIT_OK;
}

/* --signal without --stop: sends sig to the daemon and returns. */
int
signal_daemon(const char *pidfile, int sig)
{
	pid_t pid;
	int pidfd, r;

	pid = find_daemon(pidfile);
	if (pid == 0)
		diex(EXIT_RUNNING, "signal %s: not running", pidfile);
	pidfd = open_pidfd(pid);
	r = send_signal(pid, pidfd, sig);
	if (pidfd != -1)
		(void)close(pidfd);
	if (r == -1 && errno != ESRCH)
		die(errno == EPERM ? EXIT_RUNNING : EXIT_SELF,
		    "signal pid %ld", (long)pid);
	return EXIT_OK;
}

/*
 * Signals pid, waits up to timeout seconds for it to go, then kills it.
 * Returns 0 once it is gone, 1 if it could not be stopped.
 */
int
stop_process(pid_t pid, int sig, int timeout)
{
	int pidfd, r = EXIT_OK;

	pidfd = open_pidfd(pid);
	if (send_signal(pid, pidfd, sig) == -1 && errno != ESRCH) {
		errorx("stop pid %ld: %s", (long)pid, strerror(errno));
		r = EXIT_RUNNING;
	} else if (!wait_gone(pid, pidfd, timeout)) {
		verbose("pid %ld still there after %d s: SIGKILL", (long)pid,
		    timeout);
		if (send_signal(pid, pidfd, SIGKILL) == -1 && errno != ESRCH) {
			errorx("kill pid %ld: %s", (long)pid, strerror(errno));
			r = EXIT_RUNNING;
		} else if (!wait_gone(pid, pidfd, KILL_WAIT)) {
			errorx("kill pid %ld: still running", (long)pid);
			r = EXIT_RUNNING;
		}
	}
	if (pidfd != -1)
		(void)close(pidfd);
	return r;
}

/*
 * The PID holding the pidfile's lock, if the file names that PID too; 0 when
 * nobody holds it.  A file that names another process than the holder has
 * been tampered with: signal nobody.
 */
static pid_t
find_daemon(const char *pidfile)
{
	enum lock_result r;
	pid_t holder = 0, named;

	r = lock_holder(pidfile, &holder);
	if (r == LOCK_FREE || (r == LOCK_OPEN_FAILED && errno == ENOENT))
		return 0;
	if (r != LOCK_HELD)
		diex(EXIT_SELF, "read pidfile %s: %s", pidfile, unreadable(r));
	if (holder == 0)
		diex(EXIT_RUNNING, "read pidfile %s: its lock is held by a "
		    "process outside this PID namespace; not signalling",
		    pidfile);
	named = pidfile_read(pidfile);
	if (named == 0)
		diex(EXIT_RUNNING, "read pidfile %s: it names no pid, but pid "
		    "%ld holds its lock; not signalling", pidfile, (long)holder);
	if (named != holder)
		diex(EXIT_RUNNING, "read pidfile %s: it names pid %ld, but pid "
		    "%ld holds its lock; not signalling", pidfile, (long)named,
		    (long)holder);
	return holder;
}

/* Why lock_holder could not tell, as the end of a message. */
static const char *
unreadable(enum lock_result r)
{
	if (r == LOCK_NOT_FILE)
		return "not a regular file";
	if (r == LOCK_OPEN_FAILED && errno == ELOOP)
		return "is a symbolic link, not followed";
	return strerror(errno);
}

/*
 * A pidfd (Linux 5.3) names the process itself, not its number: signals
 * and waits through it cannot reach a later process that reused the PID.
 * -1 where the kernel has none; the callers fall back to the PID.
 */
int
open_pidfd(pid_t pid)
{
#if defined(SYS_pidfd_open) && !NO_PIDFD
	return (int)syscall(SYS_pidfd_open, pid, 0);
#else
	(void)pid;
	errno = ENOSYS;
	return -1;
#endif
}

static int
send_signal(pid_t pid, int pidfd, int sig)
{
#ifdef SYS_pidfd_send_signal
	if (pidfd != -1)
		return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
#else
	(void)pidfd;
#endif
	return kill(pid, sig);
}

/*
 * Waits up to secs for pid to exit.  A pidfd polls readable when it does,
 * with no busy waiting; without one, look at the process every few ms,
 * backing off to 100 ms.  A zombie counts as gone: it holds no lock and
 * runs no code, and its parent may reap it late.
 */
static bool
wait_gone(pid_t pid, int pidfd, int secs)
{
	struct pollfd pfd = { .fd = pidfd, .events = POLLIN };
	struct timespec nap = { 0, 1000000 };
	long waited_ms = 0;
	int r;

	if (pidfd != -1) {
		do
			r = poll(&pfd, 1, secs * 1000);
		while (r == -1 && errno == EINTR);
		return r == 1;
	}
	while (!is_gone(pid)) {
		if (waited_ms >= secs * 1000L)
			return false;
		(void)nanosleep(&nap, NULL);
		waited_ms += nap.tv_nsec / 1000000;
		if (nap.tv_nsec < 100000000)
			nap.tv_nsec *= 2;
	}
	return true;
}

/* True if pid no longer exists or is a zombie. */
static bool
is_gone(pid_t pid)
{
	char buf[512];
	const char *state;

	if (kill(pid, 0) == -1 && errno == ESRCH)
		return true;
	state = proc_stat(pid, buf, sizeof(buf));
	return state != NULL && state[0] == 'Z';
}

/*
 * Reads /proc/PID/stat into buf and returns where the fields after the
 * command's name begin (the state first), or NULL.
 */
const char *
proc_stat(pid_t pid, char *buf, size_t size)
{
	char path[64], *paren;
	ssize_t n;
	int fd;

	(void)snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1)
		return NULL;
	n = read(fd, buf, size - 1);
	(void)close(fd);
	if (n <= 0)
		return NULL;
	buf[n] = '\0';
	paren = strrchr(buf, ')');
	return paren != NULL && paren[1] == ' ' ? paren + 2 : NULL;
}

/* Removes a pidfile its daemon left behind, unless another holds it. */
static void
remove_pidfile(const char *pidfile)
{
	if (pidfile_remove_unlocked(pidfile) == -1)
		errorx("remove pidfile %s: %s", pidfile, strerror(errno));
}
