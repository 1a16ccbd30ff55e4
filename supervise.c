/*
 * The supervisor: the daemon itself, holding the pidfile's lock, with N
 * workers as its children.  It sleeps in poll(2) on a signalfd (and on a
 * starting worker's status pipe, and the readiness channels while a worker
 * is not ready yet), with a timeout only while a restart or a kill is due.
 *
 * A worker that dies is looked at with WNOWAIT and left a zombie while
 * what is left of its process group is stopped: its PID is its group's ID,
 * which cannot be reused while it is unreaped.  Only then is it reaped and,
 * by the restart rules, started again with the same number.
 */
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "creds.h"
#include "fmt.h"
#include "logsend.h"
#include "msg.h"
#include "pidfile.h"
#include "proc.h"
#include "ready.h"
#include "spawn.h"
#include "supervise.h"

/* The second restart in a row waits this long, each next one twice as long. */
#define DELAY_FIRST_MS 100
#define DELAY_MAX_MS 30000
/* How often a dead worker's group is looked at, at most. */
#define LOOK_MAX_MS 50

enum worker_state {
	W_NEW,			/* not started yet: the first start is in order */
	W_DOWN,			/* to be started at due */
	W_STARTING,		/* forked; its exec (or failure) not seen yet */
	W_RUNNING,
	W_DRAINING,		/* dead, unreaped; its group being stopped */
	W_DONE			/* not to be started again */
};

struct worker {
	enum worker_state state;
	pid_t pid;		/* running or draining: our child */
	long started;		/* now_ms() at the start */
	long due;		/* down: the restart; draining: the next look */
	long kill_at;		/* draining: SIGKILL then (or give up, killed) */
	long step;		/* draining: the wait before the next look */
	bool killed;
	bool ready;
	int ready_fd;		/* --ready-fd: its pipe's read end, or -1 */
	int exec_fd;		/* starting: its status pipe's read end */
	bool exec_failed;	/* starting: it sent a failure */
	int rapid;		/* rapid failures in a row */
	int restarts;
	int how;		/* the last exit: 0 none, CLD_EXITED, CLD_KILLED */
	int code;		/* its status, or 128+N for signal N */
};

struct supervisor {
	const struct supervise_setup *s;
	struct spawn_plan plan;	/* each worker's */
	struct worker *w;
	struct pollfd *pfd;	/* signals, notifications, workers' pipes */
	size_t pfd_size;
	int *which;		/* the worker of each pipe in pfd */
	pid_t *pins;		/* the workers' PIDs, for a reap or a stop */
	char *state;		/* room for the state file's text */
	size_t state_size;
	char state_name[NAME_MAX + 1];
	char state_tmp[NAME_MAX + 1];
	int state_fd;		/* the file's, locked while we live, or -1 */
	char upstream[108];	/* the manager's NOTIFY_SOCKET, or "" */
	int sigfd;
	int notify;		/* the workers' notify socket, or -1 */
	int events;		/* where event lines go, or -1 */
	bool events_socket;	/* a socket: sent without waiting */
	bool events_own;	/* our own, non-blocking description */
	struct logsend log;	/* and to syslog */
	struct relay relay;	/* -S, -T, -H */
	int relay_fds[2];	/* a starting worker's ends of its pipes */
	int relay_at, relay_n;	/* the relay's entries in pfd */
	int startdir;		/* -H: where -o and -e are opened from */
	pid_t self;
	bool announced;		/* every worker was ready, and we said so */
	bool running;		/* every worker was started once */
	bool done;
	bool start_failed;	/* a worker could not be started at first */
	int last_failed;	/* the status of the last worker to fail */
	int status;		/* the exit status, once done */
};

static int set_up(struct supervisor *);
static int catch_signals(struct supervisor *);
static int open_outputs(struct supervisor *);
static int open_files(const struct spawn_plan *, int *, int *);
static void open_events(struct supervisor *, int);
static int set_up_relay(struct supervisor *);
static void reopen_outputs(struct supervisor *);
static int reopen_one(struct supervisor *, const char *, const char *);
static void report_loss(struct supervisor *);
static int set_up_notify(struct supervisor *);
static void name_state(struct supervisor *);
static int start_all(struct supervisor *);
static int start_worker(struct supervisor *, int);
static void began(struct supervisor *, int, pid_t, int);
static void close_fd(int *);
static int open_pipe(int[2], int);
static _Noreturn void worker_child(struct supervisor *, int, int, int);
static void take_exec(struct supervisor *, int);
static void exec_done(struct supervisor *, int);
static void started(struct supervisor *);
static void fail_start(struct supervisor *);
static int run(struct supervisor *);
static nfds_t fill_pollfds(struct supervisor *);
static int pfd_room(struct supervisor *, nfds_t);
static int next_timeout(const struct supervisor *);
static int take_signals(struct supervisor *);
static void reap(struct supervisor *);
static int pins(struct supervisor *);
static void worker_exited(struct supervisor *, int, const siginfo_t *);
static void look_at_group(struct supervisor *, int);
static bool group_running(struct supervisor *, pid_t);
static void worker_gone(struct supervisor *, int);
static void schedule_restart(struct supervisor *, int);
static void give_up(struct supervisor *, int);
static void check_all_done(struct supervisor *);
static void stop_all(struct supervisor *);
static void relay_for(void *, long);
static void forward(struct supervisor *, int);
static void run_timers(struct supervisor *);
static void restart_worker(struct supervisor *, int);
static void take_notification(struct supervisor *);
static int worker_of(const struct supervisor *, pid_t);
static void take_ready_pipes(struct supervisor *, nfds_t);
static void take_exec_pipes(struct supervisor *, nfds_t);
static void died_starting(struct supervisor *, int);
static void announce(struct supervisor *);
static void save_state(struct supervisor *);
static int open_state(struct supervisor *);
static void finish(struct supervisor *, bool);
static void event(struct supervisor *, int, const char *, ...)
    PRINTF_LIKE(3, 4);
static bool has_room(int);
static size_t timestamp(char *, size_t);

/*
 * Runs the service until it stops, gives up or has no worker left: its
 * exit status.  -1 with the failure recorded if a worker could not be
 * started at all, with nothing left running; the pidfile is then the
 * caller's to remove.
 */
int
supervise(const struct supervise_setup *s)
{
	struct supervisor sv = { .s = s, .sigfd = -1, .notify = -1,
	    .events = -1, .state_fd = -1, .startdir = -1,
	    .relay_fds = { -1, -1 },
	    .log = { .fd = -1, .avoid = s->plan->avoid, .stamp_at = -1 } };
	int r;

	r = set_up(&sv);
	if (r == 0)
		r = start_all(&sv);
	if (r == 0)
		r = run(&sv);
	finish(&sv, r == 0);
	return r == 0 ? sv.status : -1;
}

/* Everything before the first worker: -1 with the failure recorded. */
static int
set_up(struct supervisor *sv)
{
	const struct supervise_setup *s = sv->s;
	size_t n = (size_t)s->workers;

	sv->self = getpid();
	sv->plan = *s->plan;
	sv->plan.locks[0] = sv->plan.locks[1] = -1;
	sv->plan.keep_root = false;
	sv->plan.parent = sv->self;
	sv->plan.dir = ".";
	sv->state_size = WORKERS_SIZE(n);
	sv->w = calloc(n, sizeof(*sv->w));
	/* Each worker has up to two pipes polled: status and ready; the
	 * relay, its two outputs and up to four streams a worker. */
	sv->pfd_size = 2 * n + 2 + (s->relay ? 2 * n + 2 : 0);
	sv->pfd = calloc(sv->pfd_size, sizeof(*sv->pfd));
	sv->which = calloc(2 * n + 2, sizeof(*sv->which));
	sv->pins = calloc(n, sizeof(*sv->pins));
	sv->state = malloc(sv->state_size);
	if (sv->w == NULL || sv->pfd == NULL || sv->which == NULL ||
	    sv->pins == NULL ||
	    sv->state == NULL)
		return fail(EXIT_SELF, "allocate memory");
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) == -1)
		return fail(EXIT_SELF, "become subreaper");
	if (catch_signals(sv) == -1 || open_outputs(sv) == -1 ||
	    set_up_relay(sv) == -1 || set_up_notify(sv) == -1)
		return -1;
	if (s->reopen && (sv->startdir = move_fd_off(open(".", O_PATH |
	    O_DIRECTORY | O_CLOEXEC), sv->plan.avoid)) == -1)
		return fail(EXIT_SELF, "open the working directory");
	if (chdir(s->plan->dir) == -1)
		return fail(EXIT_SELF, "change directory to %s", s->plan->dir);
	name_state(sv);
	test_pause("supervisor-set-up");
	return 0;
}

/* The signals a supervisor reads from its signalfd. */
static const int caught[] = { SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGQUIT,
    SIGUSR1, SIGUSR2, SIGWINCH };

/*
 * Blocks what a supervisor takes through its signalfd, before it writes
 * its pidfile, so that a signal sent as soon as its PID is known waits
 * for it instead of killing it.  TTIN and TTOU are blocked and never
 * read: with -f, an event written to a terminal we are in the background
 * of must not stop us (a worker's exec empties the mask, where ignoring
 * would be inherited).
 */
int
supervise_block_signals(void)
{
	sigset_t set;
	size_t i;

	sigemptyset(&set);
	for (i = 0; i < sizeof(caught) / sizeof(caught[0]); i++)
		sigaddset(&set, caught[i]);
	sigaddset(&set, SIGTTIN);
	sigaddset(&set, SIGTTOU);
	if (sigprocmask(SIG_BLOCK, &set, NULL) == -1)
		return fail(EXIT_SELF, "block signals");
	return 0;
}

static int
catch_signals(struct supervisor *sv)
{
	sigset_t set;
	size_t i;

	if (supervise_block_signals() == -1)
		return -1;
	sigemptyset(&set);
	for (i = 0; i < sizeof(caught) / sizeof(caught[0]); i++)
		sigaddset(&set, caught[i]);
	sv->sigfd = move_fd_off(signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC),
	    sv->plan.avoid);
	if (sv->sigfd == -1)
		return fail(EXIT_SELF, "create signalfd");
	return 0;
}

/*
 * -o and -e are opened once, as the user, truncated unless -a; every
 * worker, and every restart, then appends to the same open file, so that
 * no run truncates what the last one wrote, and two workers' writes never
 * overwrite each other.  Events go to the -e file.
 */
static int
open_outputs(struct supervisor *sv)
{
	struct spawn_plan *p = &sv->plan;
	int out, err;

	if (open_files(p, &out, &err) == -1)
		return -1;
	p->out_fd = out;
	p->err_fd = err;
	/* With a relay, events go through it: in order, on one description. */
	if (!sv->s->relay)
		open_events(sv, p->err != NULL ? err : sv->s->foreground ?
		    STDERR_FILENO : -1);
	return 0;
}

/* The files of p's -o and -e, opened as its user, appended to; -1 none. */
static int
open_files(const struct spawn_plan *p, int *out, int *err)
{
	struct creds_saved saved;
	mode_t mask;
	int r;

	if (p->creds != NULL && creds_assume(p->creds, &saved) == -1)
		return -1;
	mask = umask(p->umask);
	r = spawn_open_outputs(p, out, err);
	umask(mask);
	if (p->creds != NULL && creds_restore(p->creds, &saved) == -1)
		return -1;
	if (r == -1)
		return -1;
	if ((p->out != NULL && fcntl(*out, F_SETFL, O_APPEND) == -1) ||
	    (p->err != NULL && fcntl(*err, F_SETFL, O_APPEND) == -1))
		return fail(EXIT_SELF, "set outputs to append");
	if (p->out == NULL)
		*out = -1;
	if (p->err == NULL)
		*err = -1;
	return 0;
}

/*
 * Events must never block us: a pipe whose reader stopped reading would
 * stop the supervisor.  A file description of our own for the same file,
 * opened again through /proc/self/fd, can be non-blocking without making
 * the workers' one so; a socket is sent to with MSG_DONTWAIT instead.
 */
static void
open_events(struct supervisor *sv, int fd)
{
	char path[32];
	struct stat sb;
	int own;

	sv->events = fd;
	if (fd == -1)
		return;
	if (fstat(fd, &sb) == 0 && S_ISSOCK(sb.st_mode)) {
		sv->events_socket = true;
		return;
	}
	(void)fmt(path, sizeof(path), "/proc/self/fd/%d", fd);
	own = move_fd_off(open(path, O_WRONLY | O_APPEND | O_NONBLOCK |
	    O_NOCTTY | O_CLOEXEC), sv->plan.avoid);
	if (own != -1) {
		sv->events = own;
		sv->events_own = true;
	}
}

/*
 * -S, -T, -H: the files (or, with -f, our standard output and error) are
 * the relay's; each worker gets pipes to it when it starts.
 */
static int
set_up_relay(struct supervisor *sv)
{
	struct relay_setup rs = sv->s->relaying;
	struct spawn_plan *p = &sv->plan;

	if (!sv->s->relay)
		return 0;
	rs.out = p->out_fd != -1 ? p->out_fd : sv->s->foreground ?
	    STDOUT_FILENO : -1;
	rs.err = p->err_fd != -1 ? p->err_fd : sv->s->foreground ?
	    STDERR_FILENO : -1;
	p->out = p->err = NULL;
	p->out_fd = p->err_fd = -1;
	return relay_open(&sv->relay, &rs, sv->s->workers);
}

/*
 * -H and SIGHUP: -o and -e opened again, each on its own (one that fails
 * does not keep the other), from the directory we were started in, as
 * the user, appending.
 */
static void
reopen_outputs(struct supervisor *sv)
{
	const struct spawn_plan *p = sv->s->plan;
	int out = -2, err = -2;
	struct stat a, b;

	if (fchdir(sv->startdir) == -1) {
		event(sv, LOG_ERR, "reopen: open the start directory: %s",
		    strerror(errno));
		return;
	}
	if (p->out != NULL)
		out = reopen_one(sv, p->out, NULL);
	if (p->err != NULL)
		err = reopen_one(sv, NULL, p->err);
	/* One file for both, as at the start. */
	if (out >= 0 && err >= 0 && fstat(out, &a) == 0 &&
	    fstat(err, &b) == 0 && a.st_dev == b.st_dev &&
	    a.st_ino == b.st_ino) {
		(void)close(err);
		err = out;
	}
	if (chdir(p->dir) == -1)
		event(sv, LOG_ERR, "change directory to %s: %s", p->dir,
		    strerror(errno));
	relay_reopen(&sv->relay, out, err);
}

/* One of -o (out) and -e (err) opened again: its descriptor, or -1. */
static int
reopen_one(struct supervisor *sv, const char *out, const char *err)
{
	struct spawn_plan p = *sv->s->plan;
	int fds[2];

	p.out = out;
	p.err = err;
	p.append = true;
	p.out_fd = p.err_fd = -1;
	/* The launcher's pipes are long closed: their numbers mean nothing. */
	p.report_fd = p.ready_fd = -1;
	if (open_files(&p, &fds[0], &fds[1]) == 0)
		return out != NULL ? fds[0] : fds[1];
	event(sv, LOG_ERR, "reopen: %s", fail_text());
	return -1;
}

/*
 * Under a manager that speaks sd_notify (or -w), we are its main process:
 * the workers get a socket of ours, and we speak for them all.
 */
static int
set_up_notify(struct supervisor *sv)
{
	const char *up = getenv("NOTIFY_SOCKET");
	struct ready r;

	if (up == NULL || strlen(up) >= sizeof(sv->upstream))
		return 0;
	strcpy(sv->upstream, up);
	if (ready_open(&r, -1, sv->plan.avoid) == -1)
		return -1;
	sv->notify = r.fd;
	return 0;
}

/* PIDFILE.workers, beside the pidfile: the workers, for --status. */
static void
name_state(struct supervisor *sv)
{
	const char *name = sv->s->pidname;
	int a, b;

	if (sv->s->piddir == -1 || name == NULL)
		return;
	a = fmt(sv->state_name, sizeof(sv->state_name),
	    "%s" WORKERS_SUFFIX, name);
	b = fmt(sv->state_tmp, sizeof(sv->state_tmp),
	    "%s" WORKERS_SUFFIX ".tmp", name);
	if (a < 0 || b < 0 || (size_t)b >= sizeof(sv->state_tmp))
		sv->state_name[0] = sv->state_tmp[0] = '\0';
}

/*
 * Forks the first worker; the loop sees it exec, and starts the next
 * (one status pipe open at a time, however low the descriptor limit).
 * Without a readiness channel, all are ready once they run.
 */
static int
start_all(struct supervisor *sv)
{
	int i;

	for (i = 0; i < sv->s->workers; i++)
		sv->w[i].ready_fd = sv->w[i].exec_fd = -1;
	if (sv->notify == -1 && sv->s->ready_fd == -1)
		sv->announced = true;
	return start_worker(sv, 0);
}

/*
 * Forks worker i.  Its exec closes its close-on-exec status pipe, or it
 * sends its failure there: the loop reads it (take_exec), so that nothing
 * a worker does before its exec can keep us from the rest.  -1 with the
 * failure recorded, and errno, if it could not be forked.
 */
static int
start_worker(struct supervisor *sv, int i)
{
	int rep[2] = { -1, -1 }, rdy[2] = { -1, -1 }, saved;
	pid_t pid = -1;

	if (open_pipe(rep, sv->plan.avoid) == 0 && (sv->s->ready_fd == -1 ||
	    open_pipe(rdy, sv->plan.avoid) == 0) && (!sv->s->relay ||
	    relay_pipes(&sv->relay, i, sv->relay_fds) == 0)) {
		pid = fork();
		if (pid == -1)
			(void)fail(EXIT_SELF, "fork worker %d", i);
		else if (pid == 0)
			worker_child(sv, i, rep[1], rdy[1]);
	}
	saved = errno;
	close_fd(&rep[1]);
	close_fd(&rdy[1]);
	close_fd(&sv->relay_fds[0]);
	close_fd(&sv->relay_fds[1]);
	if (pid > 0) {
		test_pause("worker-forked");
		began(sv, i, pid, rdy[0]);
		sv->w[i].exec_fd = rep[0];
		if (sv->s->relay)
			relay_started(&sv->relay, i, pid);
		return 0;
	}
	close_fd(&rep[0]);
	close_fd(&rdy[0]);
	errno = saved;
	return -1;
}

/* Worker i runs as pid, in a process group of its own. */
static void
began(struct supervisor *sv, int i, pid_t pid, int ready_fd)
{
	struct worker *w = &sv->w[i];

	/* Also here, so that the group exists before we may signal it. */
	(void)setpgid(pid, pid);
	w->state = W_STARTING;
	w->exec_failed = false;
	w->pid = pid;
	w->started = now_ms();
	w->ready = false;
	w->ready_fd = ready_fd;
}

static void
close_fd(int *fd)
{
	if (*fd != -1)
		(void)close(*fd);
	*fd = -1;
}

static int
open_pipe(int p[2], int avoid)
{
	if (pipe2(p, O_CLOEXEC) == -1)
		return fail(EXIT_SELF, "create pipe");
	p[0] = move_fd_off(p[0], avoid);
	p[1] = move_fd_off(p[1], avoid);
	if (p[0] != -1 && p[1] != -1)
		return 0;
	close_fd(&p[0]);
	close_fd(&p[1]);
	return fail(EXIT_SELF, "create pipe");
}

/*
 * The worker, between fork and exec: a process group of its own, no
 * signal blocked, its number in DAEMONIZE_WORKER, then the plan.
 */
static _Noreturn void
worker_child(struct supervisor *sv, int i, int report, int ready)
{
	struct spawn_plan p = sv->plan;
	char id[16];

	test_pause("worker-started");
	p.report_fd = report;
	p.ready_fd = ready;
	p.out_fd = sv->s->relay ? sv->relay_fds[0] : p.out_fd;
	p.err_fd = sv->s->relay ? sv->relay_fds[1] : p.err_fd;
	msg_to_pipe(report);
	(void)fmt(id, sizeof(id), "%d", i);
	if (setpgid(0, 0) == -1)
		(void)fail(EXIT_SELF, "set process group");
	else if (setenv("DAEMONIZE_WORKER", id, 1) == -1)
		(void)fail(EXIT_SELF, "set DAEMONIZE_WORKER");
	else if (clear_signal_mask() == 0)
		(void)spawn_exec(&p);
	spawn_fail(&p);
}

/*
 * One record from starting worker i, or the end of its pipe.  While the
 * launcher waits, -v lines go on to it; with -f they are printed.  Later
 * they are dropped: the events tell a restart, and never block.
 */
static void
take_exec(struct supervisor *sv, int i)
{
	struct worker *w = &sv->w[i];
	struct report rec;
	int r;

	r = report_receive(w->exec_fd, &rec);
	if (r == 1 && rec.type == REPORT_VERBOSE && !sv->running &&
	    sv->s->report_fd != -1)
		(void)report_send(sv->s->report_fd, REPORT_VERBOSE, 0, 0,
		    rec.text);
	else if (r == 1 && rec.type == REPORT_VERBOSE && !sv->running &&
	    sv->s->foreground)
		msg_print(rec.text);
	else if (r == 1 && rec.type == REPORT_FAIL) {
		fail_set(rec.code, rec.text);
		w->exec_failed = true;
		/* A failure at the start is the launcher's to report. */
		if (sv->running)
			event(sv, LOG_ERR, "worker %d: %s", i, fail_text());
		else
			fail_start(sv);
	} else if (r != 1)
		exec_done(sv, i);
}

/*
 * Worker i's pipe closed: it has exec'd, unless it said it failed (then
 * it is dying, and reap() will see it).
 */
static void
exec_done(struct supervisor *sv, int i)
{
	struct worker *w = &sv->w[i];

	close_fd(&w->exec_fd);
	if (w->exec_failed || w->state != W_STARTING)
		return;
	w->state = W_RUNNING;
	save_state(sv);		/* before the event, which tells it */
	event(sv, LOG_NOTICE, "worker %d started as pid %ld", i, (long)w->pid);
	announce(sv);
	/* The first start goes on with the next worker; a restart during
	 * it is no step of it. */
	if (sv->running || sv->w[i].restarts > 0 || (i + 1 < sv->s->workers &&
	    sv->w[i + 1].state != W_NEW))
		return;
	if (i + 1 == sv->s->workers)
		started(sv);
	else if (start_worker(sv, i + 1) == -1)
		fail_start(sv);
}

/*
 * Every worker has exec'd once: the launcher can go (or, with -w, wait
 * for readiness), and what goes wrong from now on is an event.
 */
static void
started(struct supervisor *sv)
{
	if (sv->s->report_fd != -1) {
		(void)report_send(sv->s->report_fd, REPORT_RUNNING, 0, 0, NULL);
		(void)close(sv->s->report_fd);
	}
	msg_to_pipe(-1);
	sv->running = true;
	proc_drop_startup_pages();
}

/*
 * A worker could not be started at first: nothing is left running, and
 * the failure recorded goes to the launcher, as without a supervisor.
 */
static void
fail_start(struct supervisor *sv)
{
	sv->start_failed = true;
	stop_all(sv);
}

/* The service: until it stops, gives up, or has no worker left. */
static int
run(struct supervisor *sv)
{
	nfds_t n;

	while (!sv->done) {
		n = fill_pollfds(sv);
		if (poll(sv->pfd, n, next_timeout(sv)) == -1 &&
		    errno != EINTR) {
			event(sv, LOG_ERR, "poll: %s", strerror(errno));
			sv->status = EXIT_SELF;
			stop_all(sv);
			break;
		}
		if (sv->pfd[0].revents != 0 && take_signals(sv) == -1)
			break;
		/* Execs first: a worker is known to run before it is ready.
		 * The relay's entries, after ours, are its own. */
		n = (nfds_t)sv->relay_at;
		take_exec_pipes(sv, n);
		if (sv->pfd[1].revents != 0 && !sv->done)
			take_notification(sv);
		if (!sv->done)
			take_ready_pipes(sv, n);
		/* (A stop reused pfd to relay while it waited.) */
		if (sv->relay_n > 0 && !sv->done)
			relay_take(&sv->relay, sv->pfd + sv->relay_at,
			    sv->relay_n);
		if (!sv->done)
			run_timers(sv);
	}
	return sv->start_failed ? -1 : 0;
}

/*
 * The signalfd, the notify socket, and the status and ready pipes still
 * open: only those, since poll(2) refuses more entries than the
 * descriptor limit.
 */
static nfds_t
fill_pollfds(struct supervisor *sv)
{
	nfds_t n = 2;
	int i;

	sv->pfd[0] = (struct pollfd){ .fd = sv->sigfd, .events = POLLIN };
	sv->pfd[1] = (struct pollfd){ .fd = sv->notify, .events = POLLIN };
	for (i = 0; i < sv->s->workers; i++) {
		if (sv->w[i].exec_fd != -1) {
			sv->which[n] = i;
			sv->pfd[n++] = (struct pollfd){ .fd = sv->w[i].exec_fd,
			    .events = POLLIN };
		}
		if (sv->w[i].ready_fd != -1) {
			sv->which[n] = i;
			sv->pfd[n++] = (struct pollfd){ .fd = sv->w[i].ready_fd,
			    .events = POLLIN };
		}
	}
	sv->relay_at = (int)n;
	sv->relay_n = sv->s->relay && pfd_room(sv, n) == 0 ?
	    relay_pollfds(&sv->relay, sv->pfd + n) : 0;
	return n + (nfds_t)sv->relay_n;
}

/*
 * Room in pfd after our n entries for the relay's: its outputs and its
 * streams, which orphans keep open past their workers' restarts.
 */
static int
pfd_room(struct supervisor *sv, nfds_t n)
{
	size_t need = n + 2 + (size_t)sv->relay.nstreams;
	struct pollfd *more;

	if (need <= sv->pfd_size)
		return 0;
	more = realloc(sv->pfd, need * 2 * sizeof(*more));
	if (more == NULL)
		return -1;
	sv->pfd = more;
	sv->pfd_size = need * 2;
	return 0;
}

/* Until the next restart or look at a group; -1 (forever) if none. */
static int
next_timeout(const struct supervisor *sv)
{
	long next = -1, now = now_ms(), due;
	int i;

	for (i = 0; i < sv->s->workers; i++) {
		if (sv->w[i].state != W_DOWN && sv->w[i].state != W_DRAINING)
			continue;
		due = sv->w[i].due - now;
		if (due < 0)
			due = 0;
		if (next == -1 || due < next)
			next = due;
	}
	return next > INT_MAX ? INT_MAX : (int)next;
}

/* Every signal that came; -1 if the signalfd fails. */
static int
take_signals(struct supervisor *sv)
{
	struct signalfd_siginfo si;
	ssize_t n;

	while ((n = read(sv->sigfd, &si, sizeof(si))) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGCHLD)
			reap(sv);
		else if ((si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) &&
		    !sv->running) {
			(void)failx(128 + (int)si.ssi_signo, "start: interrupted "
			    "by signal %d", (int)si.ssi_signo);
			fail_start(sv);
			return 0;
		} else if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
			event(sv, LOG_NOTICE, "stopping on signal %d",
			    (int)si.ssi_signo);
			/* -w: stopped before ready, as a daemon killed then. */
			sv->status = sv->s->wait && !sv->announced ?
			    128 + (int)si.ssi_signo : EXIT_OK;
			stop_all(sv);
			return 0;
		} else if (si.ssi_signo == SIGHUP && sv->s->reopen)
			reopen_outputs(sv);
		else
			forward(sv, (int)si.ssi_signo);
		if (sv->done)
			return 0;
	}
	if (n == -1 && errno != EAGAIN && errno != EINTR) {
		event(sv, LOG_ERR, "read signals: %s", strerror(errno));
		sv->status = EXIT_SELF;
		stop_all(sv);
		return -1;
	}
	return 0;
}

/*
 * A worker that died is looked at without being reaped (its PID is its
 * group's ID, which must not be reused while we signal the group); every
 * other child that exited, an orphan we adopted, is reaped at once.
 */
static void
reap(struct supervisor *sv)
{
	siginfo_t si;
	int i;

	for (i = 0; i < sv->s->workers && !sv->done; i++) {
		if (sv->w[i].state != W_RUNNING &&
		    sv->w[i].state != W_STARTING)
			continue;
		si.si_pid = 0;
		if (waitid(P_PID, (id_t)sv->w[i].pid, &si, WEXITED | WNOHANG |
		    WNOWAIT) != 0 || si.si_pid != sv->w[i].pid)
			continue;
		if (sv->w[i].state == W_STARTING)
			died_starting(sv, i);
		if (!sv->done)
			worker_exited(sv, i, &si);
	}
	proc_reap_children(sv->pins, pins(sv));
}

/* The PIDs of the workers that are our children, not yet reaped. */
static int
pins(struct supervisor *sv)
{
	int i, n = 0;

	for (i = 0; i < sv->s->workers; i++)
		if (sv->w[i].state == W_STARTING ||
		    sv->w[i].state == W_RUNNING || sv->w[i].state == W_DRAINING)
			sv->pins[n++] = sv->w[i].pid;
	return n;
}

/*
 * Worker i died before we saw its pipe close: read what it said first
 * (all of it is there, since it is dead).  A pipe that closes with no
 * failure on it means an exec, as ever.
 */
static void
died_starting(struct supervisor *sv, int i)
{
	while (sv->w[i].exec_fd != -1 && !sv->done)
		take_exec(sv, i);
}

/* Worker i died: say so, and stop what is left of its process group. */
static void
worker_exited(struct supervisor *sv, int i, const siginfo_t *si)
{
	struct worker *w = &sv->w[i];
	long now = now_ms(), up = now - w->started;

	w->how = si->si_code == CLD_EXITED ? CLD_EXITED : CLD_KILLED;
	w->code = w->how == CLD_EXITED ? si->si_status : 128 + si->si_status;
	close_fd(&w->ready_fd);
	/* Its last words before the news of its end. */
	if (sv->s->relay)
		relay_drain(&sv->relay, i);
	w->state = W_DRAINING;
	w->killed = false;
	w->kill_at = now + sv->s->kill_timeout_ms;
	w->step = 1;
	proc_signal_group(w->pid, SIGTERM);
	/* --status says it is down before the event does, if it is to stay
	 * so while its group goes; a restart at once writes it later. */
	if (group_running(sv, w->pid))
		save_state(sv);
	if (w->how == CLD_EXITED)
		event(sv, w->code != 0 ? LOG_WARNING : LOG_NOTICE, "worker %d "
		    "(pid %ld) exited with status %d after %ld.%ld s", i,
		    (long)w->pid, si->si_status, up / 1000, up % 1000 / 100);
	else
		event(sv, LOG_WARNING, "worker %d (pid %ld) killed by signal %d "
		    "after %ld.%ld s", i, (long)w->pid, si->si_status,
		    up / 1000, up % 1000 / 100);
	look_at_group(sv, i);
}

/*
 * Is anything of the dead worker's group still running?  If so, look
 * again soon, and SIGKILL it when --kill-timeout is up; if not, or if
 * even SIGKILL did not empty it in time, the worker is gone.
 */
static void
look_at_group(struct supervisor *sv, int i)
{
	struct worker *w = &sv->w[i];
	long now = now_ms();
	bool left = group_running(sv, w->pid);

	if (!left || (w->killed && now >= w->kill_at)) {
		if (left)
			event(sv, LOG_ERR, "worker %d: processes left in its "
			    "group after SIGKILL", i);
		worker_gone(sv, i);
		return;
	}
	if (!w->killed && now >= w->kill_at) {
		event(sv, LOG_WARNING, "worker %d: processes left in its group "
		    "after %ld s: SIGKILL", i, sv->s->kill_timeout_ms / 1000);
		proc_signal_group(w->pid, SIGKILL);
		w->killed = true;
		w->kill_at = now + SUPERVISE_KILL_WAIT_MS;
	}
	w->due = now + w->step < w->kill_at ? now + w->step : w->kill_at;
	w->step = w->step * 2 < LOOK_MAX_MS ? w->step * 2 : LOOK_MAX_MS;
}

/*
 * Whether a process of group pgid runs.  All of /proc is read only when
 * we have children other than the workers, orphans: the dead worker's
 * descendants that still run are among them, or under them.
 */
static bool
group_running(struct supervisor *sv, pid_t pgid)
{
	return proc_other_children(sv->pins, pins(sv)) &&
	    proc_group_running(pgid);
}

/* Reaps worker i, whose group is empty, and decides what comes next. */
static void
worker_gone(struct supervisor *sv, int i)
{
	struct worker *w = &sv->w[i];
	bool failed = w->how != CLD_EXITED || w->code != 0;

	while (waitpid(w->pid, NULL, 0) == -1 && errno == EINTR)
		continue;
	if (sv->s->relay)
		relay_drain(&sv->relay, i);
	w->pid = 0;
	w->state = W_DONE;
	if (failed)
		sv->last_failed = w->code;
	if (sv->s->wait && !sv->announced) {
		/* -w: the start fails as it would without a supervisor. */
		sv->status = w->code;
		stop_all(sv);
	} else if (sv->s->restart == RESTART_ALWAYS ||
	    (sv->s->restart == RESTART_ON_FAILURE && failed))
		schedule_restart(sv, i);
	else
		check_all_done(sv);
	/* A restart at once writes the file once forked, not before. */
	if (w->state != W_DOWN || w->due > now_ms())
		save_state(sv);
}

/*
 * A run shorter than --min-uptime is a rapid failure: the first restart
 * after one is at once, the next ones wait 100 ms, then twice as long
 * each time, up to 30 s; one rapid failure more than --max-restarts in a
 * row, and we give up.  A longer run starts the count again.
 */
static void
schedule_restart(struct supervisor *sv, int i)
{
	struct worker *w = &sv->w[i];
	long now = now_ms(), delay = 0;
	int k;

	if (now - w->started >= sv->s->min_uptime_ms)
		w->rapid = 0;
	else
		w->rapid++;
	if (sv->s->max_restarts != 0 && w->rapid > sv->s->max_restarts) {
		give_up(sv, i);
		return;
	}
	for (k = 1; k < w->rapid && delay < DELAY_MAX_MS; k++)
		delay = delay == 0 ? DELAY_FIRST_MS : delay * 2;
	if (delay > DELAY_MAX_MS)
		delay = DELAY_MAX_MS;
	event(sv, LOG_NOTICE, "worker %d restarting in %ld ms", i, delay);
	w->state = W_DOWN;
	w->due = now + delay;
}

/* Too many rapid failures: stop the others, exit with its status. */
static void
give_up(struct supervisor *sv, int i)
{
	event(sv, LOG_ERR, "worker %d failed %d times in a row; giving up", i,
	    sv->w[i].rapid);
	sv->status = sv->w[i].code;
	stop_all(sv);
}

/*
 * No worker left to start: done, with 0 if each exited 0, else the
 * status of the last to fail.
 */
static void
check_all_done(struct supervisor *sv)
{
	int i;

	for (i = 0; i < sv->s->workers; i++)
		if (sv->w[i].state != W_DONE)
			return;
	event(sv, LOG_NOTICE, "no worker left; exiting with status %d",
	    sv->last_failed);
	sv->status = sv->last_failed;
	stop_all(sv);	/* the orphans they left */
}

/*
 * TERM and CONT to every worker's group and every child we have, the
 * orphans we adopted among them (also when no worker runs), SIGKILL to
 * what is left after --kill-timeout; all reaped.
 */
static void
stop_all(struct supervisor *sv)
{
	struct proc_wait relaying = { .fn = relay_for, .arg = sv };
	int i, n = pins(sv);

	test_pause("stopping");
	if (proc_stop_children(sv->pins, n, SIGTERM, sv->s->kill_timeout_ms,
	    sv->s->relay ? &relaying : NULL) == -1)
		event(sv, LOG_ERR, "processes left after SIGKILL");
	proc_reap_children(NULL, 0);
	for (i = 0; i < sv->s->workers; i++) {
		close_fd(&sv->w[i].ready_fd);
		sv->w[i].pid = 0;
		sv->w[i].state = W_DONE;
	}
	sv->done = true;
}

/*
 * While the workers stop: what they write as they go is passed on, or a
 * worker with much to say would block on its full pipe until SIGKILL.
 */
static void
relay_for(void *arg, long ms)
{
	struct supervisor *sv = arg;
	int n;

	if (pfd_room(sv, 0) == -1) {
		nap_ms(ms);
		return;
	}
	n = relay_pollfds(&sv->relay, sv->pfd);
	if (poll(sv->pfd, (nfds_t)n, (int)ms) > 0)
		relay_take(&sv->relay, sv->pfd, n);
}

/* HUP, QUIT, USR1, USR2, WINCH: to each worker, not to its group. */
static void
forward(struct supervisor *sv, int sig)
{
	int i;

	for (i = 0; i < sv->s->workers; i++)
		if (sv->w[i].state == W_RUNNING)
			(void)kill(sv->w[i].pid, sig);
}

/* The restarts and the looks at dead workers' groups that are due. */
static void
run_timers(struct supervisor *sv)
{
	long now = now_ms();
	int i;

	for (i = 0; i < sv->s->workers && !sv->done; i++) {
		if (sv->w[i].due > now)
			continue;
		if (sv->w[i].state == W_DRAINING)
			look_at_group(sv, i);
		else if (sv->w[i].state == W_DOWN)
			restart_worker(sv, i);
	}
}

/*
 * A worker that cannot even be forked counts as a rapid failure; one that
 * fails to exec says so, and dies.
 */
static void
restart_worker(struct supervisor *sv, int i)
{
	struct worker *w = &sv->w[i];
	int j;

	test_pause("restart");
	if (start_worker(sv, i) == 0) {
		/* PIDFILE.workers is written once it has exec'd: a write
		 * now would slow its start. */
		w->restarts++;
		return;
	}
	/* Out of descriptors while others start: theirs are ours, and
	 * close at their exec; that is no failure of this worker's. */
	for (j = 0; (errno == EMFILE || errno == ENFILE) &&
	    j < sv->s->workers; j++)
		if (sv->w[j].state == W_STARTING) {
			w->due = now_ms() + LOOK_MAX_MS;
			return;
		}
	w->restarts++;
	event(sv, LOG_ERR, "worker %d: %s", i, fail_text());
	w->how = CLD_EXITED;
	w->code = fail_code();
	w->started = now_ms();
	schedule_restart(sv, i);
	save_state(sv);
}

/*
 * A datagram on the workers' socket: READY=1 marks the worker whose
 * process (or a process of its group) sent it; STATUS= passes upstream.
 * Not inlined: its buffer would deepen the loop's frame for good.
 */
__attribute__((noinline)) static void
take_notification(struct supervisor *sv)
{
	char buf[4096];
	const char *status;
	pid_t sender;
	ssize_t n;
	size_t len;
	int i;

	n = ready_receive(sv->notify, &sender, buf, sizeof(buf));
	if (n <= 0)
		return;
	i = worker_of(sv, sender);
	ready_drop(sv->notify);
	if (i != -1 && ready_has_line(buf, "READY=1"))
		sv->w[i].ready = true;
	status = ready_find_line(buf, "STATUS=", &len);
	if (i != -1 && status != NULL)
		(void)ready_forward(sv->upstream, status, len);
	announce(sv);
}

/* The worker that pid is, or whose group pid is in; -1 if none. */
static int
worker_of(const struct supervisor *sv, pid_t pid)
{
	pid_t group = pid > 0 ? getpgid(pid) : -1;
	int i;

	for (i = 0; i < sv->s->workers; i++)
		if ((sv->w[i].state == W_RUNNING ||
		    sv->w[i].state == W_STARTING) && pid > 0 &&
		    (sv->w[i].pid == pid || sv->w[i].pid == group))
			return i;
	return -1;
}

/* The starting workers' status pipes that have something to say. */
static void
take_exec_pipes(struct supervisor *sv, nfds_t n)
{
	nfds_t k;
	int i;

	for (k = 2; k < n && !sv->done; k++) {
		i = sv->which[k];
		if (sv->pfd[k].revents != 0 && sv->w[i].exec_fd == sv->pfd[k].fd)
			take_exec(sv, i);
	}
}

/* --ready-fd: a newline on a worker's own pipe; its end if it closes. */
static void
take_ready_pipes(struct supervisor *sv, nfds_t n)
{
	enum ready_state st;
	nfds_t k;
	int i;

	for (k = 2; k < n; k++) {
		i = sv->which[k];
		if (sv->pfd[k].revents == 0 || sv->w[i].ready_fd != sv->pfd[k].fd)
			continue;
		st = ready_read_pipe(sv->w[i].ready_fd);
		if (st == READY_NOT_YET)
			continue;
		sv->w[i].ready = st == READY_YES;
		close_fd(&sv->w[i].ready_fd);
	}
	announce(sv);
}

/* Once every worker is ready: one READY=1, or newline, from us. */
static void
announce(struct supervisor *sv)
{
	int i;

	if (sv->announced)
		return;
	for (i = 0; i < sv->s->workers; i++)
		if (sv->w[i].state != W_RUNNING || !sv->w[i].ready)
			return;
	sv->announced = true;
	if (sv->upstream[0] != '\0' &&
	    ready_forward(sv->upstream, "READY=1\n", 8) == -1)
		event(sv, LOG_WARNING, "%s", fail_text());
	if (sv->s->ready_fd != -1) {
		(void)write_all(sv->s->ready_fd, "\n", 1);
		(void)close(sv->s->ready_fd);
	}
}

/*
 * PIDFILE.workers, for --status: our PID, then a line per worker (id,
 * PID or 0, start time on the monotonic clock, restarts, last exit),
 * written to a temporary name and renamed, so that a reader never sees
 * half of it.
 */
static void
save_state(struct supervisor *sv)
{
	size_t len;
	int i, fd;

	if (sv->state_name[0] == '\0')
		return;
	len = (size_t)fmt(sv->state, sv->state_size,
	    WORKERS_HEADER " %ld %ld\n", (long)sv->self,
	    sv->s->kill_timeout_ms + SUPERVISE_KILL_WAIT_MS);
	for (i = 0; i < sv->s->workers && len < sv->state_size; i++)
		len += (size_t)fmt(sv->state + len, sv->state_size - len,
		    "%d %ld %ld %d %d %d\n", i, sv->w[i].state == W_RUNNING ?
		    (long)sv->w[i].pid : 0L,
		    sv->w[i].started, sv->w[i].restarts, sv->w[i].how,
		    sv->w[i].code);
	fd = open_state(sv);
	test_pause("workers-writing");
	/* Better no worker lines at all than wrong ones. */
	if (fd == -1 || write_all(fd, sv->state, len < sv->state_size ? len :
	    sv->state_size) == -1 || renameat(sv->s->piddir, sv->state_tmp,
	    sv->s->piddir, sv->state_name) == -1) {
		(void)unlinkat(sv->s->piddir, sv->state_tmp, 0);
		(void)unlinkat(sv->s->piddir, sv->state_name, 0);
		close_fd(&fd);
	}
	close_fd(&sv->state_fd);
	sv->state_fd = fd;
}

/*
 * A new file each time, never one that someone else put there, locked
 * while we live: --status believes only a file its daemon holds, not one
 * a killed supervisor left to a process that reused its PID.
 */
static int
open_state(struct supervisor *sv)
{
	struct flock lock = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	int fd;

	fd = openat(sv->s->piddir, sv->state_tmp, O_WRONLY | O_CREAT |
	    O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd == -1 && errno == EEXIST &&
	    unlinkat(sv->s->piddir, sv->state_tmp, 0) == 0)
		fd = openat(sv->s->piddir, sv->state_tmp, O_WRONLY | O_CREAT |
		    O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	fd = move_fd_off(fd, sv->plan.avoid);
	if (fd != -1 && fcntl(fd, F_SETLK, &lock) == -1)
		close_fd(&fd);
	return fd;
}

/*
 * At the end: the state file goes; the pidfile too, if the service ran
 * (after a failed start the launcher removes it, as for any daemon).
 */
static void
finish(struct supervisor *sv, bool ran)
{
	const struct spawn_plan *p = sv->s->plan;

	if (sv->s->relay)
		report_loss(sv);
	if (sv->state_name[0] != '\0')
		(void)unlinkat(sv->s->piddir, sv->state_name, 0);
	test_pause("stopped");
	if (ran && sv->s->piddir != -1 && p->locks[0] != -1 &&
	    pidfile_unlink_own(sv->s->piddir, sv->s->pidname, p->locks[0]) ==
	    -1)
		event(sv, LOG_WARNING, "remove pidfile %s: %s", sv->s->pidname,
		    strerror(errno));
	logsend_close(&sv->log);
	free(sv->w);
	free(sv->pfd);
	free(sv->which);
	free(sv->pins);
	free(sv->state);
}

/*
 * The relay's end: what the workers wrote is all passed on, and what
 * could not be, and never was said in its file, is said here.
 */
static void
report_loss(struct supervisor *sv)
{
	long long bytes;
	const char *why;
	int to;

	relay_close(&sv->relay);
	for (to = 0; to < 2 && !(to == 1 && sv->relay.same); to++) {
		why = relay_loss(&sv->relay, to, &bytes);
		if (why != NULL)
			event(sv, LOG_ERR, "standard %s: %lld bytes lost: %s",
			    to == 0 ? "output" : "error", bytes, why);
	}
	relay_free(&sv->relay);
	if (sv->startdir != -1)
		close_fd(&sv->startdir);
}

/*
 * One line to the -e file (or, with -f, standard error) and syslog:
 * "2026-11-30T01:02:03.456+00:00 daemonize[PID]: text".
 */
static void
event(struct supervisor *sv, int prio, const char *format, ...)
{
	char line[MSG_MAX + 128];
	size_t len;
	va_list ap;
	int n;

	len = timestamp(line, sizeof(line));
	n = fmt(line + len, sizeof(line) - len, " daemonize[%ld]: ",
	    (long)sv->self);
	len += n > 0 ? (size_t)n : 0;
	va_start(ap, format);
	n = fmt_v(line + len, sizeof(line) - len - 1, format, ap);
	va_end(ap);
	if (n > 0)
		logsend_line(&sv->log, LOG_DAEMON | prio, "daemonize", sv->self,
		    "", line + len, (size_t)n < sizeof(line) - len - 1 ? (size_t)n :
		    sizeof(line) - len - 2);
	len += n < 0 ? 0 : (size_t)n < sizeof(line) - len - 1 ?
	    (size_t)n : sizeof(line) - len - 2;
	line[len++] = '\n';
	/* One write, under PIPE_BUF: whole, or not at all if full. */
	if (sv->s->relay && sv->relay.buf != NULL)
		relay_write(&sv->relay, 1, line, len);
	else if (sv->events_socket)
		(void)send(sv->events, line, len, MSG_DONTWAIT | MSG_NOSIGNAL);
	else if (sv->events != -1 && (sv->events_own || has_room(sv->events)))
		(void)write_all(sv->events, line, len);
}

/*
 * A descriptor we share with the workers, which we could not open again
 * as our own (a pipe of another user's): written only when poll(2) says
 * a write will not block.
 */
static bool
has_room(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLOUT };

	return poll(&p, 1, 0) == 1 && (p.revents & POLLOUT) != 0;
}

/* ISO 8601 local time with milliseconds and the UTC offset. */
static size_t
timestamp(char *buf, size_t size)
{
	struct fmt_clock c = { .sec = -1 };
	struct timespec ts;

	(void)clock_gettime(CLOCK_REALTIME, &ts);
	return fmt_time(buf, size, &ts, &c);
}
