/*
 * The launcher checks everything it can, puts the process state back to
 * defaults (signals, descriptors), then forks, calls setsid and forks again,
 * so the daemon is in a session of its own and can never acquire a
 * controlling terminal.  The daemon locks its pidfile and becomes the
 * command through a spawn plan.  Every failure on the way comes back as a
 * record on a close-on-exec status pipe, so the launcher returns only once
 * the command runs, with the pidfile complete, or with the reason it did
 * not; and it is the launcher, still in the caller's directory and with the
 * caller's credentials, that removes what a failed start left.
 */
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "creds.h"
#include "fmt.h"
#include "launch.h"
#include "msg.h"
#include "pidfile.h"
#include "proc.h"
#include "ready.h"
#include "spawn.h"
#include "supervise.h"

#define DEFAULT_PATH "/usr/local/bin:/usr/bin:/bin"
/* How long a daemon that is being stopped gets after SIGTERM. */
#define STOP_WAIT_MS 5000
/* How often to look at the daemon where there is no pidfd. */
#define POLL_MS 20

struct launch {
	const struct options *o;
	struct creds creds;
	char *path;		/* the command, absolute */
	struct spawn_plan plan;
	struct ready ready;	/* -w */
	int sigfd;		/* -w: the signals that interrupt, or -1 */
	int report[2];		/* the status pipe */
	pid_t daemon;		/* once the daemon says */
	pid_t wrote;		/* a failed daemon that wrote the pidfile */
	pid_t self;		/* in the daemon: its PID */
	bool running;		/* a supervisor said its workers run */
	bool settled;		/* -w: the daemon is stopped and reaped */
	int piddir;		/* -f, -r: the pidfile's directory, or -1 */
	const char *pidname;	/* and its name there, in o->pidfile */
};

static int prepare(struct launch *);
static int set_environment(struct launch *);
static int find_command(struct launch *);
static int keep_path(struct launch *, const char *);
static bool try_command(char *, const char *, size_t, const char *, int *);
static int check_paths(const struct launch *);
static int is_dir(const char *);
static int same_file(const char *, const char *, const char *, const char *);
static int check_ready_fd(const struct launch *);
static int sanitize(struct launch *);
static int open_devnull(int);
static int prepare_wait(struct launch *);
static int catch_signals(int);
static void make_plan(struct launch *);
static int start_daemon(struct launch *);
static int await_exec(struct launch *, pid_t);
static int read_report(struct launch *, bool *);
static int take_signal(struct launch *);
static int await_ready(struct launch *);
static int daemon_exited(struct launch *);
static int give_up(struct launch *, int, const char *, ...) PRINTF_LIKE(3, 4);
static void remove_pidfile(const struct launch *, pid_t);
static int run_daemon(struct launch *);
static int lock_files(struct launch *);
static int lock_file(const char *, const char *, int, int *);
static int open_piddir(struct launch *);
static int run_supervisor(struct launch *);
static const char *command_name(const char *);
static int run_foreground(struct launch *);

/* Starts the daemon; 0 once it runs (is ready, with -w), else -1. */
int
launch(const struct options *o)
{
	struct launch l = { .o = o, .sigfd = -1, .report = { -1, -1 },
	    .ready = { -1, -1, false }, .piddir = -1 };
	int r;

	r = prepare(&l);
	if (r == 0 && o->foreground)
		r = run_foreground(&l);
	else if (r == 0)
		r = start_daemon(&l);
	if (r == 0 && o->wait != 0)
		r = await_ready(&l);
	/* Whatever failed, with -w nothing is left running. */
	if (r == -1 && o->wait != 0 && l.daemon <= 0 && l.report[0] != -1)
		(void)read_report(&l, &(bool){ false });
	if (r == -1 && o->wait != 0 && l.daemon > 0 && !l.settled)
		(void)give_up(&l, fail_code(), "%s", fail_text());
	creds_free(&l.creds);
	free(l.path);
	return r;
}

/* Everything that can be checked or done before the fork. */
static int
prepare(struct launch *l)
{
	const struct options *o = l->o;

	if (o->user != NULL && creds_lookup(o->user, &l->creds) == -1)
		return -1;
	if (set_environment(l) == -1 || find_command(l) == -1 ||
	    check_paths(l) == -1)
		return -1;
	make_plan(l);
	if (check_ready_fd(l) == -1 || sanitize(l) == -1)
		return -1;
	if (o->wait != 0 && prepare_wait(l) == -1)
		return -1;
	if (o->foreground)
		return 0;
	if (pipe2(l->report, O_CLOEXEC) == -1)
		return fail(EXIT_SELF, "create status pipe");
	l->report[0] = move_fd_off(l->report[0], l->plan.avoid);
	l->report[1] = move_fd_off(l->report[1], l->plan.avoid);
	if (l->report[0] == -1 || l->report[1] == -1)
		return fail(EXIT_SELF, "create status pipe");
	l->plan.report_fd = l->report[1];
	return 0;
}

/*
 * The user's variables first, then -E, so that an explicit HOME=... wins,
 * and both before the PATH search, so that -E PATH=... is the PATH the
 * command is found in.
 */
static int
set_environment(struct launch *l)
{
	int i;

	if (l->o->user != NULL && creds_set_environment(&l->creds) == -1)
		return -1;
	for (i = 0; i < l->o->nenv; i++)
		if (putenv(l->o->env[i]) != 0)
			return fail(EXIT_SELF, "set %s", l->o->env[i]);
	return 0;
}

/*
 * Finds the command as execvp(3) would, but now, so that a missing command
 * starts nothing, and as an absolute path, since the daemon changes
 * directory before it execs.
 */
static int
find_command(struct launch *l)
{
	const char *name = l->o->argv[0], *dirs, *end;
	char path[PATH_MAX];
	int denied = 0;

	errno = 0;
	if (strchr(name, '/') != NULL) {
		if (try_command(path, "", 0, name, &denied))
			return keep_path(l, path);
	} else {
		dirs = getenv("PATH");
		if (dirs == NULL)
			dirs = DEFAULT_PATH;
		for (;; dirs = end + 1) {
			end = strchrnul(dirs, ':');
			if (try_command(path, dirs, (size_t)(end - dirs), name,
			    &denied))
				return keep_path(l, path);
			if (*end == '\0')
				break;
		}
		errno = 0;
	}
	if (denied != 0) {
		errno = denied;
		return fail(EXIT_NOEXEC, "execute %s", name);
	}
	if (errno == 0)
		return failx(EXIT_NOTFOUND, "find command %s: not found in "
		    "PATH", name);
	return fail(EXIT_NOTFOUND, "find command %s", name);
}

/*
 * The path found, in l->path: on the heap, not in struct launch, whose
 * frame every call of the supervisor sits below for good.
 */
static int
keep_path(struct launch *l, const char *path)
{
	l->path = strdup(path);
	return l->path != NULL ? 0 : fail(EXIT_SELF, "find command %s",
	    l->o->argv[0]);
}

/*
 * Tries dir/name (dir has len bytes; an empty one is the working directory)
 * and leaves it in path (PATH_MAX bytes) as an absolute path.  A file there
 * that cannot be run leaves its errno in *denied, to report if nothing
 * better turns up.
 */
static bool
try_command(char *path, const char *dir, size_t len, const char *name,
    int *denied)
{
	size_t at = 0;
	struct stat sb;
	int n;

	/* The working directory goes first, into path itself. */
	if (len > 0 ? dir[0] != '/' : name[0] != '/') {
		if (getcwd(path, PATH_MAX) == NULL)
			return false;
		at = strlen(path);
		while (len == 0 && name[0] == '.' && name[1] == '/')
			name += 2;
	}
	n = fmt(path + at, PATH_MAX - at, "%s%.*s%s%s", at > 0 ? "/" : "",
	    (int)len, dir, len > 0 ? "/" : "", name);
	if (n < 0 || (size_t)n >= PATH_MAX - at)
		errno = ENAMETOOLONG;
	else if (stat(path, &sb) == 0) {
		if (S_ISREG(sb.st_mode) && access(path, X_OK) == 0)
			return true;
		if (*denied == 0)
			*denied = S_ISDIR(sb.st_mode) ? EISDIR : EACCES;
	}
	return false;
}

/*
 * Checks the directories named on the command line now, so that a typo
 * starts nothing, and that no output is a file we lock.  The files
 * themselves are opened by the daemon.
 */
static int
check_paths(const struct launch *l)
{
	const struct options *o = l->o;
	const char *files[] = { o->pidfile, o->lockfile, o->out, o->err };
	const char *what[] = { "pidfile ", "lockfile ", "", "" };
	char dir[PATH_MAX];
	size_t i;

	if (o->dir != NULL && is_dir(o->dir) == -1)
		return fail(EXIT_SELF, "change directory to %s", o->dir);
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		if (files[i] == NULL || strchr(files[i], '/') == NULL ||
		    strlen(files[i]) >= sizeof(dir))
			continue;
		strcpy(dir, files[i]);
		if (is_dir(dirname(dir)) == -1)
			return fail(EXIT_SELF, "open %s%s", what[i], files[i]);
	}
	if (same_file(o->out, "-o", o->pidfile, "pidfile") == -1 ||
	    same_file(o->out, "-o", o->lockfile, "lockfile") == -1 ||
	    same_file(o->err, "-e", o->pidfile, "pidfile") == -1 ||
	    same_file(o->err, "-e", o->lockfile, "lockfile") == -1)
		return -1;
	return 0;
}

static int
is_dir(const char *path)
{
	struct stat sb;

	if (stat(path, &sb) == -1)
		return -1;
	if (!S_ISDIR(sb.st_mode)) {
		errno = ENOTDIR;
		return -1;
	}
	return 0;
}

/*
 * An output that is a file we lock would drop the lock when the daemon
 * closes it: refuse it now when the names or the existing files show it.
 * The daemon checks again once both are open.
 */
static int
same_file(const char *out, const char *opt, const char *locked,
    const char *what)
{
	struct stat a, b;

	if (out == NULL || locked == NULL)
		return 0;
	if (strcmp(out, locked) == 0 || (stat(out, &a) == 0 &&
	    stat(locked, &b) == 0 && a.st_dev == b.st_dev &&
	    a.st_ino == b.st_ino))
		return failx(EXIT_USAGE, "option %s: %s is the %s; writing "
		    "there would drop its lock", opt, out, what);
	return 0;
}

/*
 * The plan for the daemon, as far as it is known before the fork.  The
 * ready target is where no descriptor of ours may sit.
 */
static void
make_plan(struct launch *l)
{
	const struct options *o = l->o;

	l->plan = (struct spawn_plan){
		.path = l->path, .argv = o->argv,
		.dir = o->dir != NULL ? o->dir : "/", .umask = o->umask,
		.creds = o->user != NULL ? &l->creds : NULL,
		.devnull = -1, .out = o->out, .err = o->err,
		.out_fd = -1, .err_fd = -1,
		.append = o->append, .keep_stdio = o->foreground,
		.keep_root = o->foreground,
		.ready_fd = -1, .ready_target = o->ready_fd,
		.locks = { -1, -1 }, .lock_names = { "pidfile", "lockfile" },
		.avoid = o->ready_fd,
		.report_fd = -1,
	};
}

/*
 * dup2(2) cannot make a descriptor at or above the soft limit: say so
 * before anything starts, rather than raise a limit the command inherits.
 */
static int
check_ready_fd(const struct launch *l)
{
	struct rlimit rl;

	if (l->o->ready_fd == -1)
		return 0;
	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return fail(EXIT_SELF, "get descriptor limit");
	if (rl.rlim_cur != RLIM_INFINITY &&
	    (rlim_t)l->o->ready_fd >= rl.rlim_cur)
		return failx(EXIT_SELF, "option --ready-fd %d: not under the "
		    "descriptor limit (%ld)", l->o->ready_fd, (long)rl.rlim_cur);
	return 0;
}

/*
 * The state a daemon must not inherit: every signal back to its default,
 * none blocked, every descriptor above 2 closed, and 0 to 2 open.
 */
static int
sanitize(struct launch *l)
{
	if (reset_signals() == -1 || close_fds_from(3) == -1)
		return -1;
	l->plan.devnull = open_devnull(l->plan.avoid);
	return l->plan.devnull;
}

/*
 * Opens /dev/null for the daemon's standard input.  If 0, 1 or 2 was
 * closed, the open lands there: keep it there, so that no file opened
 * later can become the command's standard input or output by accident.
 * What is there must be the null device, not a file bound over it.
 */
static int
open_devnull(int avoid)
{
	struct stat sb;
	int fd;

	for (;;) {
		fd = open("/dev/null", O_RDWR | O_NOCTTY | O_CLOEXEC);
		if (fd == -1)
			return fail(EXIT_SELF, "open /dev/null");
		if (fstat(fd, &sb) == -1)
			return fail(EXIT_SELF, "open /dev/null");
		if (!S_ISCHR(sb.st_mode) || sb.st_rdev != makedev(1, 3))
			return failx(EXIT_SELF, "open /dev/null: not the null "
			    "device");
		if (fd > STDERR_FILENO)
			break;
		if (fcntl(fd, F_SETFD, 0) == -1)
			return fail(EXIT_SELF, "open /dev/null");
	}
	fd = move_fd_off(fd, avoid);
	if (fd == -1)
		return fail(EXIT_SELF, "open /dev/null");
	return fd;
}

/*
 * -w: the launcher becomes a child subreaper, so that the daemon, and all
 * it leaves when it dies, become its children once their parents exit: it
 * learns the daemon's exact status, and can stop everything it started.
 */
static int
prepare_wait(struct launch *l)
{
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) == -1)
		return fail(EXIT_SELF, "become subreaper");
	if (ready_open(&l->ready, l->o->ready_fd, l->plan.avoid) == -1)
		return -1;
	l->plan.ready_fd = l->ready.write_fd;
	l->sigfd = catch_signals(l->plan.avoid);
	return l->sigfd == -2 ? -1 : 0;
}

/*
 * A launcher stopped by ^C or kill while it waits must not leave behind a
 * daemon it never reported as started: block those signals before the
 * fork and take them through a signalfd, so that the daemon is stopped
 * first.  Without a signalfd they keep their default action (-1); -2 is
 * a failure.  The child unblocks them at once.
 */
static int
catch_signals(int avoid)
{
	sigset_t set;
	int fd;

	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGQUIT);
	sigaddset(&set, SIGTERM);
	fd = move_fd_off(signalfd(-1, &set, SFD_CLOEXEC), avoid);
	if (fd != -1 && sigprocmask(SIG_BLOCK, &set, NULL) == -1) {
		(void)fail(EXIT_SELF, "block signals");
		return -2;
	}
	return fd;
}

/*
 * fork, setsid, fork (spawn_detach): the daemon is in a new session, but
 * not its leader, so opening a terminal can never make it the daemon's
 * controlling one.  Returns once the command runs, or with the failure.
 */
static int
start_daemon(struct launch *l)
{
	pid_t pid;
	int status;

	pid = fork();
	if (pid == -1) {
		/* Our end of the status pipe goes too: with -w, launch()
		 * reads that pipe to its end, which no daemon will write. */
		(void)fail(EXIT_SELF, "fork");
		(void)close(l->report[1]);
		l->report[1] = -1;
		return -1;
	}
	if (pid == 0) {
		test_pause("child-forked");
		/* -w blocked the signals it takes through its signalfd; a
		 * supervisor blocks its own before its PID is known. */
		if ((l->o->wait == 0 || clear_signal_mask() == 0) &&
		    (l->o->restart == RESTART_NONE ||
		    supervise_block_signals() == 0)) {
			l->self = spawn_detach(&l->plan);
			status = run_daemon(l);
			if (status >= 0) {	/* a supervisor's end */
				coverage_flush();
				_exit(status);
			}
		}
		spawn_fail(&l->plan);
	}
	(void)close(l->report[1]);
	if (l->ready.write_fd != -1)
		(void)close(l->ready.write_fd);
	return await_exec(l, pid);
}

/*
 * Reaps the middle process, and reads records until the pipe closes: at
 * the daemon's exec (close-on-exec), or after its failure record, when its
 * locks are already gone.  With -w a signal is taken only when the pipe
 * has nothing to say.
 */
static int
await_exec(struct launch *l, pid_t middle)
{
	struct pollfd pfd[2] = { { .fd = l->report[0], .events = POLLIN },
	    { .fd = l->sigfd, .events = POLLIN } };
	int status, r;
	bool failed = false;

	while (waitpid(middle, &status, 0) == -1)
		if (errno != EINTR)
			return fail(EXIT_SELF, "wait for child %ld",
			    (long)middle);
	do {
		while (l->sigfd != -1 && poll(pfd, 2, -1) == -1)
			if (errno != EINTR)
				return fail(EXIT_SELF, "wait for status pipe");
		if (l->sigfd != -1 && pfd[0].revents == 0)
			return take_signal(l);
		r = read_report(l, &failed);
	} while (r == 1);
	if (failed) {
		remove_pidfile(l, l->wrote);
		if (l->o->wait != 0 && l->daemon > 0)
			(void)waitpid(l->daemon, NULL, 0);
		l->settled = true;
	}
	if (r == -1 || failed)
		return -1;
	/* A daemon that said its PID has run: the middle's end is moot. */
	if (l->daemon <= 0)
		return failx(EXIT_SELF, "start daemon: child exited %s",
		    WIFEXITED(status) ? "before the daemon started" :
		    "abnormally");
	/* A supervisor says so once its workers run: it was killed, or
	 * gave up first.  (With -w, await_ready sees how it ended.) */
	if (l->o->restart != RESTART_NONE && !l->running && l->o->wait == 0) {
		remove_pidfile(l, l->daemon);
		return failx(EXIT_SELF, "start daemon: supervisor pid %ld ended "
		    "before its workers ran", (long)l->daemon);
	}
	verbose("daemon started");
	return 0;
}

/* One record: 1 when read, 0 at the end, -1 with a failure recorded. */
static int
read_report(struct launch *l, bool *failed)
{
	struct report rec;
	int r;

	r = report_receive(l->report[0], &rec);
	if (r == -1)
		return fail(EXIT_SELF, "read status pipe");
	if (r == 0)
		return 0;
	if (rec.type == REPORT_PID)
		l->daemon = (pid_t)rec.pid;
	else if (rec.type == REPORT_VERBOSE)
		msg_print(rec.text);
	else if (rec.type == REPORT_RUNNING)
		l->running = true;
	else if (rec.type == REPORT_FAIL) {
		fail_set(rec.code, rec.text);
		l->wrote = (pid_t)rec.pid;
		*failed = true;
	}
	return 1;
}

/* Signal N came: stop the daemon, if there is one yet, and exit 128+N. */
static int
take_signal(struct launch *l)
{
	struct signalfd_siginfo si;
	int sig;

	if (read(l->sigfd, &si, sizeof(si)) != (ssize_t)sizeof(si))
		return fail(EXIT_SELF, "read signal");
	sig = (int)si.ssi_signo;
	/* The middle is gone: the daemon's PID comes next, or nothing does. */
	if (l->daemon <= 0)
		(void)read_report(l, &(bool){ false });
	if (l->daemon <= 0)
		return failx(128 + sig, "wait: interrupted by signal %d", sig);
	return give_up(l, 128 + sig, "interrupted by signal %d", sig);
}

/*
 * -w: waits until the daemon (our child: we are its subreaper) is ready,
 * exits, or the time is up, or a signal comes.  0 once ready.
 */
static int
await_ready(struct launch *l)
{
	struct proc_ref d;
	struct pollfd pfd[3];
	long deadline = now_ms() + l->o->wait * 1000L, left;
	enum ready_state s;

	proc_ref_open(&d, l->daemon);
	pfd[0] = (struct pollfd){ .fd = l->ready.fd, .events = POLLIN };
	pfd[1] = (struct pollfd){ .fd = d.pidfd, .events = POLLIN };
	pfd[2] = (struct pollfd){ .fd = l->sigfd, .events = POLLIN };
	while ((left = deadline - now_ms()) > 0) {
		if (poll(pfd, 3, d.pidfd == -1 && left > POLL_MS ? POLL_MS :
		    (int)left) == -1 && errno != EINTR)
			return fail(EXIT_SELF, "wait for readiness");
		if (pfd[2].revents != 0)
			return take_signal(l);
		s = pfd[0].revents != 0 ? ready_read(&l->ready, l->daemon,
		    getsid(l->daemon)) : READY_NOT_YET;
		if (s == READY_YES) {
			verbose("ready");
			return 0;
		}
		if (s == READY_ERROR)
			return give_up(l, EXIT_SELF, "%s", fail_text());
		if (s == READY_CLOSED)	/* only the exit can tell now */
			pfd[0].fd = -1;
		if (daemon_exited(l))
			return -1;
	}
	return give_up(l, EXIT_TIMEOUT, "not ready after %d s", l->o->wait);
}

/*
 * If the daemon has exited: stops what it left, removes its pidfile, and
 * records its status (128+N for signal N) as the failure.  It is looked at
 * without being reaped, so its process group stays ours to signal.
 */
static int
daemon_exited(struct launch *l)
{
	siginfo_t si = { .si_pid = 0 };
	pid_t pid = l->daemon;
	int code;

	if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == -1 ||
	    si.si_pid == 0)
		return 0;
	(void)proc_stop_children(&pid, 1, SIGTERM, STOP_WAIT_MS, NULL);
	remove_pidfile(l, pid);
	l->settled = true;
	if (si.si_code != CLD_EXITED)
		return failx(128 + si.si_status, "wait: pid %ld killed by "
		    "signal %d before it was ready", (long)pid, si.si_status);
	/* Exit status 0 is no success: the daemon never became ready. */
	code = si.si_status != 0 ? si.si_status : EXIT_SELF;
	(void)failx(code, "wait: pid %ld exited with status %d before it was "
	    "ready", (long)pid, si.si_status);
	return 1;
}

/*
 * Stops the daemon that did not get ready, its process group and every
 * process it left to us, removes its pidfile, and records why.
 */
static int
give_up(struct launch *l, int code, const char *format, ...)
{
	char why[MSG_MAX];
	va_list ap;

	va_start(ap, format);
	(void)fmt_v(why, sizeof(why), format, ap);
	va_end(ap);
	(void)proc_stop_children(&l->daemon, 1, SIGTERM, STOP_WAIT_MS,
	    NULL);
	remove_pidfile(l, l->daemon);
	l->settled = true;
	return failx(code, "wait: %s; pid %ld stopped", why, (long)l->daemon);
}

/*
 * After a failed start: the pidfile, if it still holds the PID of the
 * daemon that wrote it (or nothing) and no daemon holds it.
 */
static void
remove_pidfile(const struct launch *l, pid_t pid)
{
	enum lock_result r;

	if (l->o->pidfile == NULL || pid <= 0)
		return;
	r = pidfile_remove(l->o->pidfile, pid);
	if (r == LOCK_FAILED || r == LOCK_OPEN_FAILED || r == LOCK_NOT_FILE)
		warning("remove pidfile %s: %s", l->o->pidfile,
		    lock_result_text(r));
}

/*
 * The daemon's own steps, ending in exec: the locks, the pidfile, then
 * the plan.  Returns only on failure, or with a supervisor's exit status.
 */
static int
run_daemon(struct launch *l)
{
	if (!l->plan.keep_stdio && spawn_null_stdio(&l->plan) == -1)
		return -1;
	verbose("daemon pid %ld", (long)l->self);
	if (lock_files(l) == -1)
		return -1;
	test_pause("daemon-locked");
	if (l->o->restart != RESTART_NONE)
		return run_supervisor(l);
	return spawn_exec(&l->plan);
}

/*
 * -r, -n: this process stays, as the supervisor.  It removes its pidfile
 * when it exits, after it changed directory: through the directory's
 * descriptor, opened now.
 */
static int
run_supervisor(struct launch *l)
{
	const struct options *o = l->o;
	struct supervise_setup s;

	/* The launcher's ends, which the command's exec would have closed. */
	if (l->report[0] != -1)
		(void)close(l->report[0]);
	if (l->ready.fd != -1)
		(void)close(l->ready.fd);
	if (l->sigfd != -1)
		(void)close(l->sigfd);
	l->report[0] = l->ready.fd = l->sigfd = -1;
	if (l->piddir == -1 && open_piddir(l) == -1)
		return -1;
	s = (struct supervise_setup){
		.plan = &l->plan, .workers = o->workers,
		.restart = o->restart, .max_restarts = o->max_restarts,
		.min_uptime_ms = o->min_uptime * 1000L,
		.kill_timeout_ms = o->kill_timeout * 1000L,
		.report_fd = o->foreground ? -1 : l->report[1],
		.ready_fd = l->ready.is_pipe ? l->plan.ready_fd : -1,
		.wait = o->wait != 0, .foreground = o->foreground,
		.piddir = l->piddir, .pidname = l->pidname,
		.relay = o->relay, .reopen = o->reopen,
		.relaying = { .stamps = o->timestamps, .syslog = o->syslog,
		    .facility = o->facility, .level = o->level,
		    .tag = o->tag != NULL ? o->tag : command_name(o->argv[0]),
		    .avoid = l->plan.avoid },
	};
	return supervise(&s);
}

/* The command's name, as syslog tags it: its last component. */
static const char *
command_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash != NULL && slash[1] != '\0' ? slash + 1 : path;
}

/* The pidfile's directory, and its name there; nothing without -p. */
static int
open_piddir(struct launch *l)
{
	const char *pidfile = l->o->pidfile, *slash;
	char dir[PATH_MAX];
	size_t len;

	if (pidfile == NULL)
		return 0;
	slash = strrchr(pidfile, '/');
	len = slash == NULL ? 0 : slash == pidfile ? 1 :
	    (size_t)(slash - pidfile);
	if (len >= sizeof(dir))
		return failx(EXIT_SELF, "open pidfile %s: name too long",
		    pidfile);
	memcpy(dir, len > 0 ? pidfile : ".", len > 0 ? len : 1);
	dir[len > 0 ? len : 1] = '\0';
	l->piddir = move_fd_off(open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC),
	    l->plan.avoid);
	if (l->piddir == -1)
		return fail(EXIT_SELF, "open directory of %s", pidfile);
	l->pidname = slash != NULL ? slash + 1 : pidfile;
	return 0;
}

/*
 * Takes the lock file and the pidfile, and writes our PID.  This runs in
 * the daemon, since record locks are not inherited across fork(2).  The
 * umask is 022 here, so a new pidfile is 0644 whatever -m says.
 */
static int
lock_files(struct launch *l)
{
	const struct options *o = l->o;
	int *locks = l->plan.locks;
	struct stat a, b;

	umask(022);
	if (o->lockfile != NULL && lock_file(o->lockfile, "lockfile",
	    l->plan.avoid, &locks[1]) == -1)
		return -1;
	if (o->pidfile == NULL)
		return spawn_check_streams(&l->plan);
	/* Never a second descriptor of a locked file: closing it unlocks. */
	if (o->lockfile != NULL && (strcmp(o->pidfile, o->lockfile) == 0 ||
	    (lstat(o->pidfile, &a) == 0 && fstat(locks[1], &b) == 0 &&
	    a.st_dev == b.st_dev && a.st_ino == b.st_ino))) {
		locks[0] = locks[1];
		locks[1] = -1;
	} else if (lock_file(o->pidfile, "pidfile", l->plan.avoid,
	    &locks[0]) == -1)
		return -1;
	test_pause("pidfile-locked");
	if (spawn_check_streams(&l->plan) == -1)
		return -1;
	if (pidfile_check(locks[0]) == -1) {
		(void)close(locks[0]);	/* not ours to clean up */
		locks[0] = -1;
		return failx(EXIT_SELF, "open pidfile %s: %s", o->pidfile,
		    lock_result_text(LOCK_NOT_PIDFILE));
	}
	if (pidfile_write(locks[0], l->self) == -1)
		return fail(EXIT_SELF, "write pidfile %s", o->pidfile);
	verbose("pidfile %s written", o->pidfile);
	return 0;
}

/* Locks one file, or says why not. */
static int
lock_file(const char *path, const char *what, int avoid, int *fdp)
{
	enum lock_result r;
	pid_t holder = 0;

	r = lock_acquire(path, avoid, fdp, &holder);
	if (r == LOCK_TAKEN)
		return 0;
	if (r == LOCK_HELD && holder == 0)
		return failx(EXIT_RUNNING, "already running (pid outside this "
		    "PID namespace)");
	if (r == LOCK_HELD && holder < 0)
		return failx(EXIT_RUNNING, "already running (lock held with "
		    "no pid)");
	if (r == LOCK_HELD)
		return failx(EXIT_RUNNING, "already running (pid %ld)",
		    (long)holder);
	if (r == LOCK_FAILED)
		return failx(EXIT_SELF, "lock %s %s: %s", what, path,
		    lock_result_text(r));
	return failx(EXIT_SELF, "open %s %s: %s", what, path,
	    lock_result_text(r));
}

/*
 * -f: every step but the forks, in this process.  If the exec fails we
 * have changed directory and maybe user: the pidfile we wrote goes
 * through the directory descriptor opened before.
 */
static int
run_foreground(struct launch *l)
{
	int r;

	if (open_piddir(l) == -1 || (l->o->restart != RESTART_NONE &&
	    supervise_block_signals() == -1))
		return -1;
	l->self = getpid();
	r = run_daemon(l);
	if (r >= 0 || l->plan.locks[0] == -1 || l->piddir == -1)
		return r;
	/* -u left root in the saved user ID for this (creds_apply); if it
	 * cannot be taken back, the unlink below fails and says so. */
	if (l->plan.creds != NULL && l->creds.change && seteuid(0) == -1)
		verbose("take back root: %s", strerror(errno));
	if (pidfile_unlink_own(l->piddir, l->pidname, l->plan.locks[0]) == -1)
		warning("remove pidfile %s: %s", l->o->pidfile,
		    strerror(errno));
	return -1;
}
