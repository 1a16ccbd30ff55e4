/*
 * The message writer.  Its state (verbosity, where lines go, the failure
 * recorded last) is the program's one deliberate global.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

#include "fmt.h"
#include "msg.h"

static const char prefix[] = "daemonize: ";

static struct {
	bool verbose;
	int fd;			/* where lines go: standard error, or a copy */
	int pipe;		/* a child's -v lines go there as records */
	int code;		/* the recorded failure's exit status */
	char text[MSG_MAX];	/* and its message, escaped */
} msg = { .fd = STDERR_FILENO, .pipe = -1, .code = EXIT_SELF };

static void vformat(char *, size_t, int, const char *, va_list)
    PRINTF_LIKE(4, 0);
static size_t escape(char *, size_t, const char *, bool);
static void put_line(const char *);

void
msg_set_verbose(bool on)
{
	msg.verbose = on;
}

/* Lines go to fd from now on: a copy of standard error that outlives it. */
void
msg_set_fd(int fd)
{
	msg.fd = fd;
}

/* In a child: -v lines go to the parent, as records on fd, to print. */
void
msg_to_pipe(int fd)
{
	msg.pipe = fd;
}

/* Text of ours on standard output (--status, --stop): 0, or -1 with errno. */
int
msg_out(const char *format, ...)
{
	char text[PATH_MAX + MSG_MAX];
	va_list ap;
	int n;

	va_start(ap, format);
	n = fmt_v(text, sizeof(text), format, ap);
	va_end(ap);
	return write_all(STDOUT_FILENO, text, (size_t)n < sizeof(text) ?
	    (size_t)n : sizeof(text) - 1);
}

/* A line another process formatted: "daemonize: text". */
void
msg_print(const char *text)
{
	put_line(text);
}

/* With -v: one line now. */
void
verbose(const char *format, ...)
{
	char text[MSG_MAX];
	va_list ap;

	if (!msg.verbose)
		return;
	va_start(ap, format);
	vformat(text, sizeof(text), 0, format, ap);
	va_end(ap);
	if (msg.pipe != -1)
		(void)report_send(msg.pipe, REPORT_VERBOSE, 0, 0, text);
	else
		put_line(text);
}

/* One line now, and go on. */
void
warning(const char *format, ...)
{
	char text[MSG_MAX];
	va_list ap;

	va_start(ap, format);
	vformat(text, sizeof(text), 0, format, ap);
	va_end(ap);
	put_line(text);
}

/* Records "what: strerror(errno)" and exit status code; returns -1. */
int
fail(int code, const char *format, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, format);
	vformat(msg.text, sizeof(msg.text), saved, format, ap);
	va_end(ap);
	msg.code = code;
	errno = saved;
	return -1;
}

/* Records "what" and exit status code; returns -1. */
int
failx(int code, const char *format, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, format);
	vformat(msg.text, sizeof(msg.text), 0, format, ap);
	va_end(ap);
	msg.code = code;
	errno = saved;
	return -1;
}

/* A failure that another process recorded and sent us. */
void
fail_set(int code, const char *text)
{
	msg.code = code;
	(void)fmt(msg.text, sizeof(msg.text), "%s", text);
}

int
fail_code(void)
{
	return msg.code;
}

const char *
fail_text(void)
{
	return msg.text;
}

/* Prints the recorded failure and returns its exit status. */
int
fail_report(void)
{
	put_line(msg.text);
	return msg.code;
}

/*
 * Formats "what[: strerror(err)]" into buf, with every control character
 * escaped (a newline becomes \n), so that a message is always one line,
 * whatever path or argument it quotes.  What does not fit is cut, with
 * "..." where it was, but the reason after it is kept whole.
 */
static void
vformat(char *buf, size_t size, int err, const char *format, va_list ap)
{
	char raw[MSG_MAX], why[128] = "";
	size_t len;
	int n;

	n = fmt_v(raw, sizeof(raw), format, ap);
	if (err != 0)
		(void)fmt(why, sizeof(why), ": %s", strerror(err));
	len = escape(buf, size - strlen(why), raw,
	    n > 0 && (size_t)n >= sizeof(raw));
	memcpy(buf + len, why, strlen(why) + 1);
}

/*
 * Escapes raw into buf (size bytes, its NUL included); returns the length.
 * Each character takes at most 4 bytes (\ooo), and "..." 3 at the end.
 */
static size_t
escape(char *buf, size_t size, const char *raw, bool cut)
{
	size_t i, len = 0, room = size - sizeof("...");
	unsigned char c;

	for (i = 0; raw[i] != '\0' && len + 4 <= room; i++) {
		c = (unsigned char)raw[i];
		if (c >= 0x20 && c != 0x7f)
			buf[len++] = (char)c;
		else if (c == '\n' || c == '\t')
			len += (size_t)fmt(buf + len, 3, "\\%c",
			    c == '\n' ? 'n' : 't');
		else
			len += (size_t)fmt(buf + len, 5, "\\%03o", c);
	}
	if (raw[i] != '\0' || cut)
		len += (size_t)fmt(buf + len, 4, "...");
	buf[len] = '\0';
	return len;
}

/* "daemonize: text\n" in one write, as far as the descriptor takes it. */
static void
put_line(const char *text)
{
	char line[sizeof(prefix) + MSG_MAX + 1];
	int n;

	n = fmt(line, sizeof(line), "%s%s\n", prefix, text);
	if (n > 0)
		(void)write_all(msg.fd, line, (size_t)n < sizeof(line) ?
		    (size_t)n : sizeof(line) - 1);
}

/*
 * Writes all of buf, retrying after a signal or a short write; -1 with
 * errno when the descriptor takes no more.
 */
int
write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -1;
		if (n == 0) {
			errno = EIO;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* One record, in one write. */
int
report_send(int fd, enum report_type type, int code, long pid,
    const char *text)
{
	struct report r = { .type = type, .code = code, .pid = pid };

	if (text != NULL)
		(void)fmt(r.text, sizeof(r.text), "%s", text);
	return write_all(fd, &r, sizeof(r));
}

/*
 * Reads one record: 1 when one came, 0 at the end, -1 with errno on an
 * error or a torn record (EPROTO), which no honest writer leaves.
 */
int
report_receive(int fd, struct report *r)
{
	size_t got = 0;
	ssize_t n;

	while (got < sizeof(*r)) {
		n = read(fd, (char *)r + got, sizeof(*r) - got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -1;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	if (got == sizeof(*r)) {
		r->text[sizeof(r->text) - 1] = '\0';
		return 1;
	}
	if (got != 0)
		errno = EPROTO;
	return got == 0 ? 0 : -1;
}
