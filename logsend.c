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
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "fmt.h"
#include "logsend.h"
#include "msg.h"
#include "proc.h"

#define LOG_PATH "/dev/log"
/* With no log daemon, how long before we look for one again. */
#define RETRY_MS 1000

/* syslog(3)'s words for facilities and levels. */
static const struct word {
	const char *name;
	int value;
} facilities[] = {
	{ "auth", LOG_AUTH }, { "authpriv", LOG_AUTHPRIV },
	{ "cron", LOG_CRON }, { "daemon", LOG_DAEMON }, { "ftp", LOG_FTP },
	{ "lpr", LOG_LPR }, { "mail", LOG_MAIL }, { "news", LOG_NEWS },
	{ "syslog", LOG_SYSLOG }, { "user", LOG_USER }, { "uucp", LOG_UUCP },
	{ "local0", LOG_LOCAL0 }, { "local1", LOG_LOCAL1 },
	{ "local2", LOG_LOCAL2 }, { "local3", LOG_LOCAL3 },
	{ "local4", LOG_LOCAL4 }, { "local5", LOG_LOCAL5 },
	{ "local6", LOG_LOCAL6 }, { "local7", LOG_LOCAL7 }
}, levels[] = {
	{ "emerg", LOG_EMERG }, { "alert", LOG_ALERT }, { "crit", LOG_CRIT },
	{ "err", LOG_ERR }, { "warning", LOG_WARNING },
	{ "notice", LOG_NOTICE }, { "info", LOG_INFO }, { "debug", LOG_DEBUG }
};

static int value_of(const struct word *, size_t, const char *, size_t);
static int log_connect(struct logsend *);
static const char *stamp(struct logsend *);

/*
 * "<PRI>Mmm dd hh:mm:ss TAG[PID]: MARKtext", the form syslog(3) sends,
 * with priority holding both the facility and the level: one datagram.
 */
void
logsend_line(struct logsend *l, int priority, const char *tag, pid_t pid,
    const char *mark, const char *text, size_t len)
{
	char head[128];
	struct iovec iov[2] = { { .iov_base = head }, { .iov_base =
	    (char *)(uintptr_t)text, .iov_len = len } };
	struct msghdr m = { .msg_iov = iov, .msg_iovlen = 2 };
	int n, try;

	if (l->fd == -1 && log_connect(l) == -1)
		return;
	n = fmt(head, sizeof(head), "<%d>%s%.64s[%ld]: %s", priority,
	    stamp(l), tag, (long)pid, mark);
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

/* The time, as syslog(3) writes it, worked out once a second. */
static const char *
stamp(struct logsend *l)
{
	time_t now = time(NULL);
	struct tm tm;

	if (now == l->stamp_at)
		return l->stamp;
	l->stamp[0] = '\0';
	if (localtime_r(&now, &tm) != NULL)
		(void)fmt(l->stamp, sizeof(l->stamp), "%.3s %2d %02d:%02d:%02d ",
		    &"JanFebMarAprMayJunJulAugSepOctNovDec"[tm.tm_mon % 12 * 3],
		    tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
	l->stamp_at = now;
	return l->stamp;
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

/* The facility the first len bytes of name spell, or -1. */
int
logsend_facility(const char *name, size_t len)
{
	return value_of(facilities, sizeof(facilities) / sizeof(facilities[0]),
	    name, len);
}

/* The level name spells, or -1. */
int
logsend_level(const char *name)
{
	return value_of(levels, sizeof(levels) / sizeof(levels[0]), name,
	    strlen(name));
}

static int
value_of(const struct word *words, size_t n, const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strlen(words[i].name) == len &&
		    strncmp(name, words[i].name, len) == 0)
			return words[i].value;
	return -1;
}

/*
 * Whether a line now would be sent at all: with no log daemon, no more
 * than one look a second.  Lets a caller with many lines ask once.
 */
bool
logsend_up(const struct logsend *l)
{
	return l->fd != -1 || now_ms() >= l->retry_at;
}

void
logsend_close(struct logsend *l)
{
	if (l->fd != -1)
		(void)close(l->fd);
	l->fd = -1;
}
