/*
 * The two readiness protocols, and --notify.
 */
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fmt.h"
#include "msg.h"
#include "proc.h"
#include "ready.h"

/* How long --notify waits for the datagram to be read. */
#define NOTIFY_LINGER_MS 5000

static int open_notify_socket(struct ready *, int);
static enum ready_state read_notification(int, pid_t, pid_t);
static bool read_lines(const char *);
static ssize_t receive(int, int, pid_t *, char *, size_t);
static bool from_daemon(pid_t, pid_t, pid_t);
static int make_address(const char *, struct sockaddr_un *, socklen_t *);

/*
 * In the launcher, before the fork: with ready_fd -1, a socket whose
 * address goes to the daemon in NOTIFY_SOCKET; else a pipe, whose write
 * end the daemon gets at ready_fd.  Neither at ready_fd yet.
 */
int
ready_open(struct ready *r, int ready_fd, int avoid)
{
	int p[2];

	r->is_pipe = ready_fd != -1;
	r->write_fd = -1;
	if (!r->is_pipe)
		return open_notify_socket(r, avoid);
	if (pipe2(p, O_CLOEXEC) == -1)
		return fail(EXIT_SELF, "create ready pipe");
	r->fd = move_fd_off(p[0], avoid);
	r->write_fd = move_fd_off(p[1], avoid);
	if (r->fd == -1 || r->write_fd == -1)
		return fail(EXIT_SELF, "create ready pipe");
	return 0;
}

/*
 * An abstract socket: nothing to remove from the file system afterwards.
 * SO_PASSCRED makes the kernel tell us who sent each datagram.
 */
static int
open_notify_socket(struct ready *r, int avoid)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	char name[64];
	socklen_t len;
	int one = 1;

	(void)fmt(name, sizeof(name), "@daemonize/notify/%ld/%ld",
	    (long)getpid(), now_ms());
	/* Two numbers after the prefix: far from sun_path's size. */
	(void)make_address(name, &addr, &len);
	r->fd = move_fd_off(socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0),
	    avoid);
	if (r->fd == -1)
		return fail(EXIT_SELF, "create notify socket");
	if (setsockopt(r->fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) ==
	    -1)
		return fail(EXIT_SELF, "set SO_PASSCRED on notify socket");
	if (bind(r->fd, (struct sockaddr *)&addr, len) == -1)
		return fail(EXIT_SELF, "bind notify socket %s", name);
	if (setenv("NOTIFY_SOCKET", name, 1) == -1)
		return fail(EXIT_SELF, "set NOTIFY_SOCKET");
	return 0;
}

/*
 * What the readable descriptor says: for the daemon pid, in session sid,
 * or a process of that session.
 */
enum ready_state
ready_read(const struct ready *r, pid_t pid, pid_t sid)
{
	return r->is_pipe ? ready_read_pipe(r->fd) :
	    read_notification(r->fd, pid, sid);
}

/* What a ready pipe (--ready-fd) says. */
enum ready_state
ready_read_pipe(int fd)
{
	char buf[64];
	ssize_t n;

	n = read(fd, buf, sizeof(buf));
	if (n == -1 && (errno == EINTR || errno == EAGAIN))
		return READY_NOT_YET;
	if (n == -1)
		return fail(EXIT_SELF, "read ready pipe");
	if (n == 0)
		return READY_CLOSED;
	return memchr(buf, '\n', (size_t)n) != NULL ? READY_YES :
	    READY_NOT_YET;
}

/*
 * Reads one datagram.  It is peeked first and dropped after the check,
 * so a sender that waits for its datagram to be consumed (--notify does)
 * is still there to be checked in /proc.
 */
static enum ready_state
read_notification(int fd, pid_t pid, pid_t sid)
{
	char buf[4096];
	bool ready = false;
	pid_t sender;
	ssize_t n;

	n = receive(fd, MSG_PEEK, &sender, buf, sizeof(buf));
	if (n <= 0)
		return n == 0 ? READY_NOT_YET : READY_ERROR;
	if (sender == 0 || !from_daemon(sender, pid, sid))
		verbose("ignoring notification from pid %ld",
		    sender != 0 ? (long)sender : -1L);
	else
		ready = read_lines(buf);
	ready_drop(fd);
	return ready ? READY_YES : READY_NOT_YET;
}

/*
 * One datagram into buf (size bytes, made a string), and who sent it (0
 * if the kernel did not say).  Its length, 0 if there was nothing, or -1
 * with a failure recorded.  An empty datagram peeked at is taken at once:
 * left, it would stay first in the queue, readable, hiding the rest.
 */
static ssize_t
receive(int fd, int flags, pid_t *sender, char *buf, size_t size)
{
	char ctl[CMSG_SPACE(sizeof(struct ucred))];
	struct iovec iov = { buf, size - 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
	    .msg_control = ctl, .msg_controllen = sizeof(ctl) };
	struct cmsghdr *c;
	ssize_t n;

	*sender = 0;
	n = recvmsg(fd, &msg, flags | MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n == -1 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (n == -1)
		return fail(EXIT_SELF, "read notify socket");
	if (n == 0 && (flags & MSG_PEEK))
		ready_drop(fd);
	buf[n] = '\0';
	for (c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c))
		if (c->cmsg_level == SOL_SOCKET &&
		    c->cmsg_type == SCM_CREDENTIALS)
			*sender = ((struct ucred *)(void *)CMSG_DATA(c))->pid;
	return n;
}

/* True if a line says READY=1; STATUS= lines are shown with -v. */
static bool
read_lines(const char *buf)
{
	const char *line = buf;
	size_t len;

	while ((line = ready_find_line(line, "STATUS=", &len)) != NULL) {
		verbose("status: %.*s", (int)(len - 7), line + 7);
		line += len;
	}
	return ready_has_line(buf, "READY=1");
}

/* The daemon itself, or a process in the session it leads. */
static bool
from_daemon(pid_t sender, pid_t pid, pid_t sid)
{
	return sender == pid || proc_stat_field(sender, 6) == (long)sid;
}

/* NOTIFY_SOCKET's value as an address: a leading @ means abstract. */
static int
make_address(const char *name, struct sockaddr_un *addr, socklen_t *len)
{
	size_t n = strlen(name);

	*len = 0;
	if (n >= sizeof(addr->sun_path) || n == 0 ||
	    (name[0] != '@' && name[0] != '/'))
		return failx(EXIT_SELF, "notify socket %s: not a socket "
		    "address", name);
	memcpy(addr->sun_path, name, n);
	if (name[0] == '@')
		addr->sun_path[0] = '\0';
	*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n +
	    (name[0] == '/'));
	return 0;
}

/*
 * --notify: sends the lines (READY=1 by default) to $NOTIFY_SOCKET, then
 * waits until the datagram has been read (SIOCOUTQ counts it until then),
 * so that the receiver can still check who sent it.  An exit status.
 */
int
notify_send(char *const lines[])
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	const char *name = getenv("NOTIFY_SOCKET");
	char msg[4096];
	size_t len = 0;
	socklen_t alen;
	int fd, i, queued = 0;

	if (name == NULL)
		return failx(EXIT_SELF, "notify: NOTIFY_SOCKET is not set");
	if (make_address(name, &addr, &alen) == -1)
		return -1;
	for (i = 0; lines[i] != NULL && len < sizeof(msg); i++)
		len += (size_t)fmt(msg + len, sizeof(msg) - len, "%s\n",
		    lines[i]);
	if (i == 0)
		len = (size_t)fmt(msg, sizeof(msg), "READY=1\n");
	if (len >= sizeof(msg))
		return failx(EXIT_USAGE, "notify: message too long");
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return fail(EXIT_SELF, "notify: create socket");
	if (sendto(fd, msg, len, 0, (struct sockaddr *)&addr, alen) == -1)
		return fail(EXIT_SELF, "notify %s", name);
	/* SIOCOUTQ, the same request as TIOCOUTQ. */
	for (i = 0; i < NOTIFY_LINGER_MS; i++) {
		if (ioctl(fd, TIOCOUTQ, &queued) == -1 || queued == 0)
			break;
		nap_ms(1);
	}
	(void)close(fd);
	return EXIT_OK;
}

/*
 * A supervisor's notify socket: one datagram, as receive() says, peeked:
 * its sender may wait until it is taken (--notify does), and exit then, so
 * it is looked up first, and ready_drop() takes it after.
 */
ssize_t
ready_receive(int fd, pid_t *sender, char *buf, size_t size)
{
	return receive(fd, MSG_PEEK, sender, buf, size);
}

/* Takes the datagram ready_receive() peeked at, if there is one. */
void
ready_drop(int fd)
{
	char c;

	(void)recv(fd, &c, 1, MSG_DONTWAIT);
}

/*
 * The first line of a notification text that begins with prefix, and
 * its length, newline not counted, in *len; NULL if no line does.
 */
const char *
ready_find_line(const char *text, const char *prefix, size_t *len)
{
	size_t n = strlen(prefix);
	const char *p = text;

	for (;;) {
		if (strncmp(p, prefix, n) == 0) {
			*len = strcspn(p, "\n");
			return p;
		}
		p = strchr(p, '\n');
		if (p == NULL)
			return NULL;
		p++;
	}
}

/* True if the notification text has the line want. */
bool
ready_has_line(const char *text, const char *want)
{
	size_t n = strlen(want);
	const char *p = text;

	for (;;) {
		if (strncmp(p, want, n) == 0 && (p[n] == '\n' || p[n] == '\0'))
			return true;
		p = strchr(p, '\n');
		if (p == NULL)
			return false;
		p++;
	}
}

/*
 * Sends text to the socket named (a NOTIFY_SOCKET value) without waiting:
 * a manager that does not read must not stall a supervisor.
 */
int
ready_forward(const char *name, const char *text, size_t len)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	socklen_t alen;
	int fd, r;

	if (make_address(name, &addr, &alen) == -1)
		return -1;
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return fail(EXIT_SELF, "notify: create socket");
	r = (int)sendto(fd, text, len, MSG_DONTWAIT | MSG_NOSIGNAL,
	    (struct sockaddr *)&addr, alen);
	if (r == -1)
		(void)fail(EXIT_SELF, "notify %s", name);
	(void)close(fd);
	return r == -1 ? -1 : 0;
}
