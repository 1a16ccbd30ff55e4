/*
 * Readiness: -w makes the launcher return only once the daemon says it is
 * ready, by the sd_notify protocol (a datagram "READY=1" to $NOTIFY_SOCKET)
 * or by the s6 one (a newline on the descriptor --ready-fd names).  Also the
 * --notify client, for daemons written as shell scripts.
 */
#define _GNU_SOURCE

#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemonize.h"
#include "pidfile.h"

/* How often to look at the daemon where there is no pidfd. */
#define POLL_MS 20
/* How long --notify waits for the datagram to be read. */
#define NOTIFY_LINGER_MS 5000

static int open_notify_socket(void);
static int open_ready_pipe(int);
static int read_ready_pipe(int);
static int read_notification(int, pid_t, pid_t);
static bool from_daemon(const struct ucred *, pid_t, pid_t);
static void daemon_exited(pid_t, const char *);
_Noreturn static void interrupted(int, pid_t, const char *);
_Noreturn static void give_up(pid_t, const char *, int, const char *);
static long now_ms(void);
static void make_address(const char *, struct sockaddr_un *, socklen_t *);

/*
 * In the launcher, before the fork: the descriptor to wait on.  With
 * ready_fd -1, a socket whose address goes to the daemon in NOTIFY_SOCKET;
 * else a pipe whose write end is already at ready_fd.
 */
int
ready_open(int ready_fd)
{
	return ready_fd == -1 ? open_notify_socket() : open_ready_pipe(ready_fd);
}

/*
 * An abstract socket: nothing to remove from the file system afterwards.
 * SO_PASSCRED makes the kernel tell us who sent each datagram.
 */
static int
open_notify_socket(void)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	char name[64];
	socklen_t len;
	int fd, one = 1;

	(void)snprintf(name, sizeof(name), "@daemonize/notify/%ld/%ld",
	    (long)getpid(), now_ms());
	make_address(name, &addr, &len);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd == -1)
		die(EXIT_SELF, "create notify socket");
	if (setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) == -1)
		die(EXIT_SELF, "set SO_PASSCRED on notify socket");
	if (bind(fd, (struct sockaddr *)&addr, len) == -1)
		die(EXIT_SELF, "bind notify socket %s", name);
	if (setenv("NOTIFY_SOCKET", name, 1) == -1)
		die(EXIT_SELF, "set NOTIFY_SOCKET");
	return fd;
}

/*
 * The write end goes to fd n now, close-on-exec until the daemon keeps it
 * (ready_keep), so nothing opened later can take that number.
 */
static int
open_ready_pipe(int n)
{
	int p[2], r;

	if (pipe2(p, O_CLOEXEC) == -1)
		die(EXIT_SELF, "create ready pipe");
	r = p[0];
	if (r == n) {
		r = fcntl(p[0], F_DUPFD_CLOEXEC, n + 1);
		if (r == -1)
			die(EXIT_SELF, "create ready pipe");
		(void)close(p[0]);
	}
	if (p[1] != n) {
		if (dup3(p[1], n, O_CLOEXEC) == -1)
			die(EXIT_SELF, "put ready pipe on fd %d", n);
		(void)close(p[1]);
	}
	return r;
}

/* In the daemon: fd n survives exec. */
void
ready_keep(int n)
{
	if (n != -1 && fcntl(n, F_SETFD, 0) == -1)
		die(EXIT_SELF, "keep ready fd %d", n);
}

/*
 * A launcher stopped by ^C or kill while it waits must not leave behind a
 * daemon it never reported as started: block those signals before the
 * fork and take them through a signalfd, so that the daemon is stopped
 * first.  Without a signalfd they keep their default action.  The child
 * unblocks them at once.
 */
int
ready_catch(void)
{
	sigset_t set;
	int fd;

	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGQUIT);
	sigaddset(&set, SIGTERM);
	fd = signalfd(-1, &set, SFD_CLOEXEC);
	if (fd != -1 && sigprocmask(SIG_BLOCK, &set, NULL) == -1)
		die(EXIT_SELF, "block signals");
	return fd;
}

/*
 * Until the daemon has exec'd: waits for the status pipe to be readable,
 * and gives up on a signal.  What the pipe holds is read first, since it
 * may be the daemon's PID (pid is 0 until then) or the news of its exec.
 */
void
ready_wait_report(int fd, int sigfd, pid_t pid, const char *pidfile)
{
	struct pollfd pfd[2] = {
		{ .fd = fd, .events = POLLIN },
		{ .fd = sigfd, .events = POLLIN },
	};

	while (poll(pfd, 2, -1) == -1)
		if (errno != EINTR)
			die(EXIT_SELF, "wait for status pipe");
	if (pfd[1].revents != 0 && pfd[0].revents == 0)
		interrupted(sigfd, pid, pidfile);
}

/*
 * Waits until the daemon (pid, in session sid, our child: we are its
 * subreaper) is ready, exits, or secs pass, and exits: 0 when ready; with
 * the daemon's status (128+N for signal N) if it exited first; 124 after
 * stopping it on timeout; 128+N after stopping it if signal N came first.
 */
void
ready_wait(const struct ready *r, pid_t pid, pid_t sid, int secs,
    const char *pidfile)
{
	struct pollfd pfd[3];
	char why[64];
	long deadline = now_ms() + secs * 1000L, left;
	int pidfd, n;

	pidfd = open_pidfd(pid);
	pfd[0] = (struct pollfd){ .fd = r->fd, .events = POLLIN };
	pfd[1] = (struct pollfd){ .fd = pidfd, .events = POLLIN };
	pfd[2] = (struct pollfd){ .fd = r->sigfd, .events = POLLIN };
	while ((left = deadline - now_ms()) > 0) {
		n = poll(pfd, 3, pidfd == -1 && left > POLL_MS ? POLL_MS :
		    (int)left);
		if (n == -1 && errno != EINTR)
			die(EXIT_SELF, "wait for readiness");
		if (pfd[2].revents != 0)
			interrupted(r->sigfd, pid, pidfile);
		if (pfd[0].revents != 0) {
			n = r->is_pipe ? read_ready_pipe(r->fd) :
			    read_notification(r->fd, pid, sid);
			if (n == 1) {
				verbose("ready");
				exit(EXIT_OK);
			}
			if (n == -1)	/* EOF: only the exit can tell now */
				pfd[0].fd = -1;
		}
		daemon_exited(pid, pidfile);
	}
	(void)snprintf(why, sizeof(why), "not ready after %d s", secs);
	give_up(pid, pidfile, EXIT_TIMEOUT, why);
}

/* Signal N came: stop the daemon, if there is one yet, and exit 128+N. */
static void
interrupted(int sigfd, pid_t pid, const char *pidfile)
{
	struct signalfd_siginfo si;
	char why[64];

	if (read(sigfd, &si, sizeof(si)) != (ssize_t)sizeof(si))
		die(EXIT_SELF, "read signal");
	(void)snprintf(why, sizeof(why), "interrupted by signal %d",
	    (int)si.ssi_signo);
	if (pid <= 0)
		diex(128 + (int)si.ssi_signo, "wait: %s", why);
	give_up(pid, pidfile, 128 + (int)si.ssi_signo, why);
}

/* Stops the daemon that did not get ready, removes its pidfile, exits. */
static void
give_up(pid_t pid, const char *pidfile, int code, const char *why)
{
	(void)stop_process(pid, SIGTERM, 5);
	(void)waitpid(pid, NULL, 0);
	if (pidfile != NULL)
		(void)pidfile_remove_unlocked(pidfile);
	diex(code, "wait: %s; pid %ld stopped", why, (long)pid);
}

/* 1 once a newline arrives, -1 at end of file, 0 otherwise. */
static int
read_ready_pipe(int fd)
{
	char buf[64];
	ssize_t n;

	n = read(fd, buf, sizeof(buf));
	if (n == -1 && errno != EINTR && errno != EAGAIN)
		die(EXIT_SELF, "read ready pipe");
	if (n == 0)
		return -1;
	return n > 0 && memchr(buf, '\n', (size_t)n) != NULL;
}

/*
 * Reads one datagram; 1 if it says READY=1 and comes from the daemon or a
 * process of its session.  It is peeked first and dropped after the check,
 * so a sender that waits for its datagram to be consumed (--notify does)
 * is still there to be checked in /proc.
 */
static int
read_notification(int fd, pid_t pid, pid_t sid)
{
	char buf[4096], ctl[CMSG_SPACE(sizeof(struct ucred))], *line, *next;
	struct iovec iov = { buf, sizeof(buf) - 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
	    .msg_control = ctl, .msg_controllen = sizeof(ctl) };
	struct cmsghdr *c;
	struct ucred *cred = NULL;
	ssize_t n;
	int ready = 0;

	n = recvmsg(fd, &msg, MSG_PEEK | MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n == -1) {
		if (errno == EINTR || errno == EAGAIN)
			return 0;
		die(EXIT_SELF, "read notify socket");
	}
	buf[n] = '\0';
	for (c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c))
		if (c->cmsg_level == SOL_SOCKET &&
		    c->cmsg_type == SCM_CREDENTIALS)
			cred = (struct ucred *)(void *)CMSG_DATA(c);
	if (cred == NULL || !from_daemon(cred, pid, sid))
		verbose("ignoring notification from pid %ld",
		    cred != NULL ? (long)cred->pid : -1L);
	else
		for (line = buf; line != NULL; line = next) {
			next = strchr(line, '\n');
			if (next != NULL)
				*next++ = '\0';
			if (strcmp(line, "READY=1") == 0)
				ready = 1;
			else if (strncmp(line, "STATUS=", 7) == 0)
				verbose("status: %s", line + 7);
		}
	(void)recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
	return ready;
}

/* The daemon itself, or a process in the session it leads. */
static bool
from_daemon(const struct ucred *cred, pid_t pid, pid_t sid)
{
	char buf[512];
	const char *p;
	int field;

	if (cred->pid == pid)
		return true;
	p = proc_stat(cred->pid, buf, sizeof(buf));
	/* state, ppid, pgrp, then the session. */
	for (field = 0; p != NULL && field < 3; field++)
		p = strchr(p, ' ') != NULL ? strchr(p, ' ') + 1 : NULL;
	return p != NULL && strtol(p, NULL, 10) == (long)sid;
}

/* If the daemon has exited: remove its pidfile and exit with its status. */
static void
daemon_exited(pid_t pid, const char *pidfile)
{
	int status;

	if (waitpid(pid, &status, WNOHANG) != pid)
		return;
	if (pidfile != NULL)
		(void)pidfile_remove_unlocked(pidfile);
	if (WIFSIGNALED(status))
		diex(128 + WTERMSIG(status), "wait: pid %ld killed by signal "
		    "%d before it was ready", (long)pid, WTERMSIG(status));
	/* Exit status 0 is no success: the daemon never became ready. */
	diex(WEXITSTATUS(status) != 0 ? WEXITSTATUS(status) : EXIT_SELF,
	    "wait: pid %ld exited with status %d before it was ready",
	    (long)pid, WEXITSTATUS(status));
}

static long
now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

/* NOTIFY_SOCKET's value as an address: a leading @ means abstract. */
static void
make_address(const char *name, struct sockaddr_un *addr, socklen_t *len)
{
	size_t n = strlen(name);

	if (n >= sizeof(addr->sun_path) || n == 0 ||
	    (name[0] != '@' && name[0] != '/'))
		diex(EXIT_SELF, "notify socket %s: not a socket address", name);
	memcpy(addr->sun_path, name, n);
	if (name[0] == '@')
		addr->sun_path[0] = '\0';
	*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n +
	    (name[0] == '/'));
}

/*
 * --notify: sends the lines (READY=1 by default) to $NOTIFY_SOCKET, then
 * waits until the datagram has been read (SIOCOUTQ counts it until then),
 * so that the receiver can still check who sent it.
 */
int
notify_send(char *const lines[])
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct timespec nap = { 0, 1000000 };
	const char *name = getenv("NOTIFY_SOCKET");
	char msg[4096];
	size_t len = 0;
	socklen_t alen;
	int fd, i, queued = 0;

	if (name == NULL)
		diex(EXIT_SELF, "notify: NOTIFY_SOCKET is not set");
	make_address(name, &addr, &alen);
	for (i = 0; lines[i] != NULL && len < sizeof(msg); i++)
		len += (size_t)snprintf(msg + len, sizeof(msg) - len, "%s\n",
		    lines[i]);
	if (i == 0)
		len = (size_t)snprintf(msg, sizeof(msg), "READY=1\n");
	if (len >= sizeof(msg))
		diex(EXIT_USAGE, "notify: message too long");
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd == -1)
		die(EXIT_SELF, "notify: create socket");
	if (sendto(fd, msg, len, 0, (struct sockaddr *)&addr, alen) == -1)
		die(EXIT_SELF, "notify %s", name);
	for (i = 0; i < NOTIFY_LINGER_MS; i++) {
		/* SIOCOUTQ, the same request as TIOCOUTQ. */
		if (ioctl(fd, TIOCOUTQ, &queued) == -1 || queued == 0)
			break;
		(void)nanosleep(&nap, NULL);
	}
	(void)close(fd);
	return EXIT_OK;
}
