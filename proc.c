/*
 * Process helpers shared by the launcher, --stop and the supervisor.
 */
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "fmt.h"
#include "msg.h"
#include "proc.h"

/* Test builds set NO_PIDFD to 1 to run the fallbacks for older kernels. */
#ifndef NO_PIDFD
#define NO_PIDFD 0
#endif

/*
 * Test builds set CLOSE_FDS_FALLBACK to 1 to skip close_range(2), or to 2
 * to skip the /proc/self/fd scan as well, so that every fallback is run.
 */
#ifndef CLOSE_FDS_FALLBACK
#define CLOSE_FDS_FALLBACK 0
#endif

/* make coverage sets COVERAGE to 1; gcov writes counts only at exit(). */
#ifndef COVERAGE
#define COVERAGE 0
#endif
#if COVERAGE
void __gcov_dump(void);
void __gcov_reset(void);
#endif

/* After SIGKILL, how long to wait for the processes to go. */
#define KILL_WAIT_MS 5000
/* How many process groups one stop signals. */
#define PINS_MAX 1024
/* How many mappings proc_drop_startup_pages() drops, at most. */
#define SMAPS_DROPS 32
/* How many children a stop remembers having signalled. */
#define SIGNALLED_MAX 256

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

/* The children a stop keeps as zombies until the end, and their groups. */
struct pins {
	const pid_t *pid;
	pid_t pgid[PINS_MAX];
	int n;
};

/* The mapping of /proc/self/smaps being read, and its line so far. */
struct smaps {
	char line[256];		/* enough for the address, mode and path */
	size_t len;
	uintptr_t start, end;
	bool clean_file;	/* private, read-only, of a file */
	uintptr_t stack_start, stack_end;
	struct {
		uintptr_t start, end;
	} drop[SMAPS_DROPS];	/* the mappings to drop */
	int ndrop;
};

/* A reading of our children's list: what to do with each not kept. */
struct children {
	const pid_t *keep;
	int n;
	bool reap;		/* reap it if it has exited */
	bool other;		/* else: found one */
};

/* The children a stop has signalled in its current phase. */
struct signalled {
	pid_t pid[SIGNALLED_MAX];
	int n;
};

/* What a process in /proc is to a stop. */
enum child_state {
	CHILD_NOT_OURS,
	CHILD_GONE,		/* a zombie child of ours */
	CHILD_IN_GROUP,		/* running, in the group signalled as one */
	CHILD_RUNNING		/* running, elsewhere */
};

static int signal_round(const struct pins *, int, struct signalled *);
static enum child_state child_state(pid_t, const struct pins *);
static bool pinned(const pid_t *, int, pid_t);
static bool all_gone(const struct pins *);
static void signal_groups(const struct pins *, int);
static int reap_by_scan(const pid_t *, int);
static int each_child(struct children *);
static void take_child(struct children *, long);
static bool take_signalled(struct signalled *, pid_t);
static void send_and_continue(pid_t, int);
static int close_fds_by_proc(int);
static void smaps_line(struct smaps *);
static void drop_stack_below(const struct smaps *, uintptr_t);
static void reset_signal(int);

/* A signal by name (TERM, SIGTERM, term) or number; -1 if none. */
int
signal_by_name(const char *name)
{
	char *end;
	long n;
	size_t i;

	if (isdigit((unsigned char)name[0])) {
		errno = 0;
		n = strtol(name, &end, 10);
		return *end == '\0' && errno == 0 && n > 0 && n < NSIG ?
		    (int)n : -1;
	}
	if (strncasecmp(name, "SIG", 3) == 0)
		name += 3;
	for (i = 0; i < sizeof(signals) / sizeof(signals[0]); i++)
		if (strcasecmp(name, signals[i].name) == 0)
			return signals[i].sig;
	return -1;
}

/*
 * A pidfd (Linux 5.3) names the process itself, not its number: signals
 * and waits through it cannot reach a later process that reused the PID.
 * Without one (older kernels, or the process is gone) pidfd is -1 and the
 * PID is used.
 */
void
proc_ref_open(struct proc_ref *p, pid_t pid)
{
	p->pid = pid;
#if defined(SYS_pidfd_open) && !NO_PIDFD
	p->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
#else
	p->pidfd = -1;
#endif
}

void
proc_ref_close(struct proc_ref *p)
{
	if (p->pidfd != -1)
		(void)close(p->pidfd);
	p->pidfd = -1;
}

int
proc_ref_signal(const struct proc_ref *p, int sig)
{
#ifdef SYS_pidfd_send_signal
	if (p->pidfd != -1)
		return (int)syscall(SYS_pidfd_send_signal, p->pidfd, sig, NULL,
		    0);
#endif
	return kill(p->pid, sig);
}

/*
 * Waits up to ms for the process, which has a pidfd, to exit: the pidfd
 * polls readable once it has.  A zombie counts as gone: it runs no code
 * and holds no lock.
 */
bool
proc_ref_wait_gone(const struct proc_ref *p, long ms)
{
	struct pollfd pfd = { .fd = p->pidfd, .events = POLLIN };
	long deadline = now_ms() + ms, left;
	int r;

	do {
		left = deadline - now_ms();
		r = poll(&pfd, 1, left > 0 ? (int)left : 0);
	} while (r == -1 && errno == EINTR);
	return r == 1;
}

/* True if pid no longer exists or is a zombie. */
bool
proc_is_gone(pid_t pid)
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
 * command's name begin (the state, field 3), or NULL.  The name may hold
 * spaces and parentheses, so the fields start after the last ')'.
 */
const char *
proc_stat(pid_t pid, char *buf, size_t size)
{
	char path[64], *paren;
	ssize_t n;
	int fd;

	(void)fmt(path, sizeof(path), "/proc/%ld/stat", (long)pid);
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

/* Numeric field n (4 is the parent, 6 the session) of /proc/PID/stat. */
long
proc_stat_field(pid_t pid, int field)
{
	char buf[512];
	const char *p;
	int i;

	p = proc_stat(pid, buf, sizeof(buf));
	for (i = 3; p != NULL && i < field; i++)
		p = strchr(p, ' ') != NULL ? strchr(p, ' ') + 1 : NULL;
	return p != NULL ? strtol(p, NULL, 10) : -1;
}

/*
 * Stops what is left of a service, as its subreaper: sig to the process
 * groups of the anchors (our children, not yet reaped, so that their group
 * IDs cannot be reused while we signal them) and to every child of ours,
 * including the orphans we adopt as their parents die; SIGKILL to what is
 * left after ms.  Reaps them all, the anchors last.  0 once none is left,
 * -1 if some are.  Waiting, it calls wait (if not NULL) instead of
 * sleeping: a caller with work to do meanwhile, such as reading what the
 * stopping processes write, does it there.
 */
int
proc_stop_children(const pid_t *anchors, int n, int sig, long ms,
    const struct proc_wait *wait)
{
	struct signalled done = { .n = 0 };
	struct pins pins = { .pid = anchors, .n = n < PINS_MAX ? n : PINS_MAX };
	long deadline = now_ms() + ms, step = 1;
	bool killing = sig == SIGKILL;
	int i;

	for (i = 0; i < pins.n; i++)
		pins.pgid[i] = getpgid(anchors[i]);
	signal_groups(&pins, sig);
	while (signal_round(&pins, sig, &done) > 0) {
		if (now_ms() < deadline) {
			if (wait != NULL)
				wait->fn(wait->arg, step);
			else
				nap_ms(step);
			step = step < 50 ? step * 2 : 50;
			continue;
		}
		if (killing)
			return -1;
		verbose("processes left after %ld ms: SIGKILL", ms);
		killing = true;
		sig = SIGKILL;
		done.n = 0;
		deadline = now_ms() + KILL_WAIT_MS;
		signal_groups(&pins, sig);
	}
	for (i = 0; i < pins.n; i++)
		while (waitpid(anchors[i], NULL, 0) == -1 && errno == EINTR)
			continue;
	return 0;
}

/*
 * Signals each child of ours not signalled yet, and reaps those that have
 * exited but the anchors.  Returns how many are still running.  Children
 * are found by their parent field in /proc: ours cannot be reused before
 * we reap them, so signalling them by PID is safe.  One in a group that
 * was signalled already gets nothing more: a second SIGTERM means "now"
 * to some programs.
 */
static int
signal_round(const struct pins *pins, int sig, struct signalled *done)
{
	struct dirent *d;
	DIR *dir;
	pid_t pid;
	int running = 0;

	dir = opendir("/proc");
	if (dir == NULL)
		return all_gone(pins) ? 0 : 1;
	while ((d = readdir(dir)) != NULL) {
		pid = (pid_t)strtol(d->d_name, NULL, 10);
		switch (child_state(pid, pins)) {
		case CHILD_GONE:
			if (!pinned(pins->pid, pins->n, pid))
				(void)waitpid(pid, NULL, WNOHANG);
			break;
		case CHILD_IN_GROUP:
			running++;
			(void)take_signalled(done, pid);
			break;
		case CHILD_RUNNING:
			running++;
			if (take_signalled(done, pid))
				send_and_continue(pid, sig);
			break;
		default:
			break;
		}
	}
	(void)closedir(dir);
	return running;
}

/* What pid is to us, from one read of /proc/PID/stat. */
static enum child_state
child_state(pid_t pid, const struct pins *pins)
{
	char buf[512];
	const char *p;
	long f[2];	/* its parent, its group */
	int i;

	if (pid <= 0)
		return CHILD_NOT_OURS;
	p = proc_stat(pid, buf, sizeof(buf));
	if (p == NULL || scan_longs(p + 1, f, 2) != 2 || f[0] != getpid())
		return CHILD_NOT_OURS;
	if (p[0] == 'Z')
		return CHILD_GONE;
	for (i = 0; i < pins->n; i++)
		if (f[1] == pins->pgid[i])
			return CHILD_IN_GROUP;
	return CHILD_RUNNING;
}

static bool
pinned(const pid_t *pids, int n, pid_t pid)
{
	int i;

	for (i = 0; i < n; i++)
		if (pids[i] == pid)
			return true;
	return false;
}

/*
 * Without /proc: the anchors are all that can be seen.  They are our
 * children, not yet reaped, so waitid(2) says whether each has exited;
 * kill(2) would find its zombie, and wait for it in vain.
 */
static bool
all_gone(const struct pins *pins)
{
	siginfo_t si;
	int i;

	for (i = 0; i < pins->n; i++) {
		si.si_pid = 0;
		if (waitid(P_PID, (id_t)pins->pid[i], &si, WEXITED | WNOHANG |
		    WNOWAIT) == 0 && si.si_pid == 0)
			return false;
	}
	return true;
}

static void
signal_groups(const struct pins *pins, int sig)
{
	int i;

	for (i = 0; i < pins->n; i++)
		proc_signal_group(pins->pgid[i], sig);
}

/*
 * Reaps every child of ours that has exited, but those in keep, which
 * the caller looks at with WNOWAIT.  The kernel lists our children in
 * /proc/self/task/PID/children; without that file, all of /proc is read.
 */
void
proc_reap_children(const pid_t *keep, int n)
{
	struct children c = { .keep = keep, .n = n, .reap = true };

	if (each_child(&c) == -1)
		(void)reap_by_scan(keep, n);
}

/*
 * True if we have a child not in keep, or cannot tell.  A dead worker's
 * descendants that still run are all in the trees of such children: as
 * their parents died, they were reparented to us, the subreaper.
 */
bool
proc_other_children(const pid_t *keep, int n)
{
	struct children c = { .keep = keep, .n = n };

	return each_child(&c) == -1 || c.other;
}

/*
 * Reads the kernel's list of our children (single-threaded: our one
 * task) with read(2), no stdio: a supervisor does this at every SIGCHLD.
 * Each child not in c->keep is reaped (c->reap) or ends the reading
 * (c->other).  -1 without the file.
 */
static int
each_child(struct children *c)
{
	char path[64], buf[256];
	long pid = -1;
	ssize_t n, i;
	int fd;

	(void)fmt(path, sizeof(path), "/proc/self/task/%ld/children",
	    (long)getpid());
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1)
		return -1;
	while (!c->other && (n = read(fd, buf, sizeof(buf))) > 0)
		for (i = 0; i < n && !c->other; i++) {
			if (buf[i] >= '0' && buf[i] <= '9') {
				pid = (pid < 0 ? 0 : pid * 10) + (buf[i] - '0');
				continue;
			}
			take_child(c, pid);
			pid = -1;
		}
	take_child(c, pid);
	(void)close(fd);
	return 0;
}

static void
take_child(struct children *c, long pid)
{
	if (pid <= 0 || c->other || pinned(c->keep, c->n, (pid_t)pid))
		return;
	if (c->reap)
		(void)waitpid((pid_t)pid, NULL, WNOHANG);
	else
		c->other = true;
}

/* The fallback of proc_reap_children(). */
static int
reap_by_scan(const pid_t *keep, int n)
{
	static const struct pins none;
	struct dirent *d;
	DIR *dir;
	pid_t pid;

	dir = opendir("/proc");
	if (dir == NULL)
		return -1;
	while ((d = readdir(dir)) != NULL) {
		pid = (pid_t)strtol(d->d_name, NULL, 10);
		if (child_state(pid, &none) == CHILD_GONE &&
		    !pinned(keep, n, pid))
			(void)waitpid(pid, NULL, WNOHANG);
	}
	(void)closedir(dir);
	return 0;
}

/* True while a process of group pgid runs (zombies do not count). */
bool
proc_group_running(pid_t pgid)
{
	char buf[512];
	struct dirent *d;
	const char *p;
	DIR *dir;
	long f[2];	/* its parent, its group */
	bool found = false;

	dir = opendir("/proc");
	if (dir == NULL)
		return kill(-pgid, 0) == 0;
	while (!found && (d = readdir(dir)) != NULL) {
		p = proc_stat((pid_t)strtol(d->d_name, NULL, 10), buf,
		    sizeof(buf));
		found = p != NULL && scan_longs(p + 1, f, 2) == 2 &&
		    f[1] == pgid && p[0] != 'Z';
	}
	(void)closedir(dir);
	return found;
}

/* Never our own group: the caller may share the daemon's with -f. */
void
proc_signal_group(pid_t pgid, int sig)
{
	if (pgid > 0 && pgid != getpgrp())
		send_and_continue(-pgid, sig);
}

/*
 * sig, then SIGCONT, as systemd does: a stopped process would not act on
 * SIGTERM until continued.
 */
static void
send_and_continue(pid_t pid, int sig)
{
	(void)kill(pid, sig);
	if (sig != SIGKILL)
		(void)kill(pid, SIGCONT);
}

/* True the first time pid is seen (or when the list is full). */
static bool
take_signalled(struct signalled *done, pid_t pid)
{
	int i;

	for (i = 0; i < done->n; i++)
		if (done->pid[i] == pid)
			return false;
	if (done->n < SIGNALLED_MAX)
		done->pid[done->n++] = pid;
	return true;
}

#if TEST_HOOKS
/* Stops here when DAEMONIZE_TEST_PAUSE names this step (proc.h). */
void
test_pause(const char *step)
{
	const char *want = getenv("DAEMONIZE_TEST_PAUSE");

	if (want != NULL && strcmp(want, step) == 0)
		(void)raise(SIGSTOP);
}
#endif

/*
 * Before _exit(2) or exec: a coverage build writes its counts now, or the
 * lines only children run would count as never run.  Then it starts them
 * again from zero: a process whose exec fails goes on, and writes the
 * rest at its next flush (gcov writes only once unless reset).
 */
void
coverage_flush(void)
{
#if COVERAGE
	__gcov_dump();
	__gcov_reset();
#endif
}

/*
 * A long-lived process maps what it ran only on its way (its start, the
 * loader's relocations): the pages stay in its page tables, and count in
 * its RSS and PSS, for as long as it lives.  Dropped here: the pages of
 * files mapped private and read-only with no private copy (code and
 * constants; a relocated table, copied once written, is kept), which come
 * back from the page cache if ever touched again, and the stack below our
 * frame.  Nothing is lost but the mappings.
 */
void
proc_drop_startup_pages(void)
{
	struct smaps m = { .len = 0 };
	char buf[1024];
	ssize_t n, i;
	int fd;

	fd = open("/proc/self/smaps", O_RDONLY | O_CLOEXEC);
	if (fd == -1)
		return;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		for (i = 0; i < n; i++) {
			if (buf[i] == '\n') {
				m.line[m.len] = '\0';
				smaps_line(&m);
				m.len = 0;
			} else if (m.len < sizeof(m.line) - 1)
				m.line[m.len++] = buf[i];
		}
	(void)close(fd);
	drop_stack_below(&m, (uintptr_t)&m);
	/* All at the end: a constant we read after its page was dropped
	 * would map it again, and the kernel maps its neighbours with it. */
	for (i = 0; i < m.ndrop; i++)
		(void)madvise((void *)m.drop[i].start,
		    m.drop[i].end - m.drop[i].start, MADV_DONTNEED);
}

/* A mapping's first line ("start-end mode offset dev inode path"), or one
 * of its fields: Anonymous says whether any page of it is a private copy. */
static void
smaps_line(struct smaps *m)
{
	char *p = m->line, *mode;

	if (isxdigit((unsigned char)p[0]) && !isupper((unsigned char)p[0])) {
		m->start = (uintptr_t)strtoull(p, &p, 16);
		m->end = (uintptr_t)strtoull(p + 1, &mode, 16);
		m->clean_file = strncmp(mode, " r-", 3) == 0 &&
		    mode[4] == 'p' && strchr(mode, '/') != NULL;
		if (strstr(mode, " [stack]") != NULL) {
			m->stack_start = m->start;
			m->stack_end = m->end;
		}
	} else if (strncmp(p, "Anonymous:", 10) == 0 && m->clean_file &&
	    strtoul(p + 10, NULL, 10) == 0 && m->ndrop < SMAPS_DROPS) {
		m->drop[m->ndrop].start = m->start;
		m->drop[m->ndrop++].end = m->end;
	}
}

/* The stack grows down: below sp, a page's margin kept, nothing is live. */
static void
drop_stack_below(const struct smaps *m, uintptr_t sp)
{
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE), top;

	/* (A sanitizer may keep our locals on a stack of its own.) */
	if (sp <= m->stack_start || sp >= m->stack_end)
		return;
	top = (sp & ~(page - 1)) - page;
	if (top > m->stack_start)
		(void)madvise((void *)m->stack_start, top - m->stack_start,
		    MADV_DONTNEED);
}

long
now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

void
nap_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		continue;
}

/*
 * Ignored signals and the signal mask survive execve(2): a daemon started
 * from a script that blocks SIGTERM could not be stopped.  Put every
 * disposition back to the default and empty the mask.  Handlers need no
 * reset: none is installed, and exec resets caught signals anyway.
 * SIGPIPE stays ignored (main) until the child restores it before exec.
 */
int
reset_signals(void)
{
	int sig;

	for (sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP && sig != SIGPIPE &&
		    sig != SIGXFSZ)
			reset_signal(sig);
	return clear_signal_mask();
}

/*
 * SIGPIPE and SIGXFSZ ignored (while we write: a reader gone, or a file
 * at the size limit, fails the write instead of killing us), or at their
 * default (for the command).
 */
int
set_sigpipe(bool ignored)
{
	struct sigaction sa = { .sa_handler = ignored ? SIG_IGN : SIG_DFL };

	if (sigaction(SIGPIPE, &sa, NULL) == -1 ||
	    sigaction(SIGXFSZ, &sa, NULL) == -1)
		return fail(EXIT_SELF, "set SIGPIPE and SIGXFSZ");
	return 0;
}

int
clear_signal_mask(void)
{
	sigset_t none;

	sigemptyset(&none);
	if (sigprocmask(SIG_SETMASK, &none, NULL) == -1)
		return fail(EXIT_SELF, "reset signal mask");
	return 0;
}

/*
 * glibc refuses to touch the two real-time signals it reserves for itself
 * (32 and 33), yet a caller can leave them ignored (GNU make does), so on
 * Linux ask the kernel directly.  SIG_DFL is 0, so an all-zero struct
 * sigaction means the default whatever the kernel's field order, and the
 * kernel's signal set is NSIG / 8 bytes.  EINVAL means the signal does not
 * exist, which is fine.
 */
static void
reset_signal(int sig)
{
#if defined(__linux__) && defined(SYS_rt_sigaction)
	static const unsigned long dfl[8];

	(void)syscall(SYS_rt_sigaction, sig, dfl, NULL, NSIG / 8);
#else
	(void)signal(sig, SIG_DFL);
#endif
}

/*
 * Closes every descriptor from lowfd up in as few system calls as the
 * kernel allows: close_range(2) (Linux 5.9), else a scan of /proc/self/fd,
 * and a loop up to the descriptor limit only when neither is there, since
 * at a limit of a million that loop alone is a million system calls.
 */
int
close_fds_from(int lowfd)
{
	struct rlimit rl;
	int fd;

#if defined(SYS_close_range) && CLOSE_FDS_FALLBACK < 1
	if (syscall(SYS_close_range, (unsigned)lowfd, ~0U, 0U) == 0)
		return 0;
#endif
	if (CLOSE_FDS_FALLBACK < 2 && close_fds_by_proc(lowfd) == 0)
		return 0;
	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return fail(EXIT_SELF, "get descriptor limit");
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > INT_MAX)
		rl.rlim_cur = INT_MAX;
	for (fd = lowfd; fd < (int)rl.rlim_cur; fd++)
		(void)close(fd);
	return 0;
}

/* Closes the descriptors from lowfd up that /proc/self/fd lists. */
static int
close_fds_by_proc(int lowfd)
{
	struct dirent *d;
	DIR *dir;
	long fd;
	bool closed;

	dir = opendir("/proc/self/fd");
	if (dir == NULL)
		return -1;
	/* Rescan after closing, since closing changes what readdir sees. */
	do {
		closed = false;
		while ((d = readdir(dir)) != NULL) {
			fd = strtol(d->d_name, NULL, 10);
			if (fd >= lowfd && fd != dirfd(dir)) {
				(void)close((int)fd);
				closed = true;
			}
		}
		rewinddir(dir);
	} while (closed);
	(void)closedir(dir);
	return 0;
}

/*
 * Moves fd, close-on-exec, off the number avoid (--ready-fd's, where the
 * daemon gets its pipe), so that placing the pipe there cannot replace a
 * descriptor of ours.  Only for a descriptor that holds no lock yet:
 * closing the old one would drop it.
 */
int
move_fd_off(int fd, int avoid)
{
	int up, saved;

	if (fd != avoid || fd == -1)
		return fd;
	up = fcntl(fd, F_DUPFD_CLOEXEC, avoid + 1);
	/* With avoid + 1 at the limit the kernel says EINVAL: no room. */
	saved = up == -1 && errno == EINVAL ? EMFILE : errno;
	(void)close(fd);
	errno = saved;
	return up;
}
