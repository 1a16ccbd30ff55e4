/*
 * A syslog client that cannot block: a non-blocking datagram socket,
 * connected on first use and again after the log daemon went away (with
 * none there, at most once a second).  A line the log daemon has no room
 * for is dropped.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fmt.h"
#include "logsend.h"
#include "msg.h"
#include "proc.h"

#define LOG_PATH "/dev/log"
/* With no log daemon, how long before we look for one again. */
#define RETRY_MS 1000

static int log_connect(struct logsend *);

/*
 * "<PRI>Mmm dd hh:mm:ss daemonize[PID]: text", the form syslog(3) sends,
 * with priority holding both the facility and the level.
 */
void
logsend_line(struct logsend *l, int priority, pid_t pid, const char *text)
{
	char head[64], stamp[32] = "";
	struct iovec iov[2] = { { .iov_base = head }, { .iov_base =
	    (char *)(uintptr_t)text, .iov_len = strlen(text) } };
	struct msghdr m = { .msg_iov = iov, .msg_iovlen = 2 };
	time_t now = time(NULL);
	struct tm tm;
	int n, try;

	if (localtime_r(&now, &tm) != NULL)
		(void)fmt(stamp, sizeof(stamp), "%.3s %2d %02d:%02d:%02d ",
		    &"JanFebMarAprMayJunJulAugSepOctNovDec"[tm.tm_mon % 12 * 3],
		    tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
	n = fmt(head, sizeof(head), "<%d>%sdaemonize[%ld]: ", priority, stamp,
	    (long)pid);
	if (n < 0 || (size_t)n >= sizeof(head))
		return;
	iov[0].iov_len = (size_t)n;
	/* A second try only if the log daemon restarted since the last. */
	for (try = 0; try < 2; try++) {
		if (l->fd == -1 && log_connect(l) == -1)
			return;
		if (sendmsg(l->fd, &m, MSG_DONTWAIT | MSG_NOSIGNAL) != -1 ||
		    errno == EAGAIN || errno == ENOBUFS)
			return;
		logsend_close(l);
	}
}

static int
log_connect(struct logsend *l)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX,
	    .sun_path = LOG_PATH };
	long now = now_ms();

	if (now < l->retry_at)
		return -1;
	l->retry_at = now + RETRY_MS;
	l->fd = move_fd_off(socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0), l->avoid);
	if (l->fd == -1)
		return -1;
	if (connect(l->fd, (struct sockaddr *)&addr, sizeof(addr)) == -1) {
		logsend_close(l);
		return -1;
	}
	l->retry_at = 0;
	return 0;
}

void
logsend_close(struct logsend *l)
{
	if (l->fd != -1)
		(void)close(l->fd);
	l->fd = -1;
}
