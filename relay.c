/*
 * The log relay; see relay.h.
 *
 * A read takes what a pipe holds; the complete lines in it are written in
 * one writev(2) per destination, each line whole, so that lines of two
 * workers never mix.  What follows the last newline waits for the rest of
 * its line.
 */
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "fmt.h"
#include "logsend.h"
#include "msg.h"
#include "proc.h"
#include "relay.h"

/* What a pipe of a fast writer grows to (Linux's most, unprivileged). */
#define PIPE_MAX (1024 * 1024)
/* One read: all a pipe holds. */
#define READ_SIZE PIPE_MAX
/* What a new pipe holds: a read of no more is no burst. */
#define QUIET_READ (64 * 1024)
/* Reads of one stream before the others get their turn. */
#define READS_PER_TURN 4
/* A line being gathered takes memory in steps of this. */
#define LINE_CHUNK (64 * 1024)
/* A dead worker's pipe holds 1 MiB at most; orphans may add, not forever. */
#define DRAIN_BYTES (16L << 20)
/* Pieces in one writev(2): a stamp and a line, each, with -T. */
#define BATCH_IOV 1024
/* More pieces than this are copied together, up to this many bytes. */
#define GATHER_FROM 8
#define GATHER_SIZE (512 * 1024)
/* Waiting for a slow reader beyond this, the streams to it pause. */
#define PENDING_MAX (1L << 20)
/* While anything waits for a slow reader, a read takes no more than this:
 * -T makes up to 35 times as much of it (empty lines, continued). */
#define SLOW_READ (32 * 1024)
/* What waits for a reader is kept up to this; more is lost, and counted. */
#define PENDING_CAP (4L << 20)
/* At exit, how long a slow reader gets for what waits for it. */
#define FLUSH_MS 1000

static const char continued_mark[] = "... ";

/* Lines on their way to one destination. */
struct batch {
	struct iovec iov[BATCH_IOV];
	int n;
	size_t bytes;
};

static void set_output(struct relay_output *, int);
static ssize_t out_write(const struct relay_output *, const struct iovec *,
    int);
static struct relay_output *output(struct relay *, int);
static bool same_file(int, int);
static int room_for_one(struct relay *);
static size_t take_stream(struct relay *, struct relay_stream *, int);
static void grow_pipe(struct relay_stream *);
static void give_back_buf(struct relay *);
static char *map_buffer(size_t);
static void feed(struct relay *, struct relay_stream *, const char *,
    size_t);
static const char *take_lines(struct relay *, struct relay_stream *,
    const char *, const char *, struct batch *);
static const char *take_line(struct relay *, struct relay_stream *,
    const char *, const char *, struct batch *);
static int keep(struct relay_stream *, const char *, size_t);
static void drop_line(struct relay_stream *);
static void emit(struct relay *, struct relay_stream *, const char *, size_t,
    struct batch *);
static void to_syslog(struct relay *, struct relay_stream *, const char *,
    size_t);
static void add(struct relay *, int, struct batch *, const void *, size_t);
static void flush(struct relay *, int, struct batch *);
static void put(struct relay *, int, struct iovec *, int, size_t);
static char skip(struct iovec **, int *, size_t);
static bool say_loss(struct relay_output *);
static bool ends_line(int);
static void lose(struct relay *, struct relay_output *, size_t, int);
static void keep_pending(struct relay_output *, const struct iovec *, int);
static void write_pending(struct relay *, struct relay_output *);
static void end_stream(struct relay *, struct relay_stream *);
static void drain(struct relay *, struct relay_stream *, long);
static void flush_pending(struct relay *, struct relay_output *, size_t,
    long);
static void begin(struct relay *);
static void stamp(struct relay *);

int
relay_open(struct relay *r, const struct relay_setup *s, int workers)
{
	int to;

	*r = (struct relay){ .s = *s, .max_streams = 4 * workers,
	    .log = { .fd = -1, .avoid = s->avoid, .stamp_at = -1 },
	    .self = getpid(), .clock = { .sec = -1 } };
	r->streams = calloc((size_t)r->max_streams, sizeof(*r->streams));
	r->buf = map_buffer(READ_SIZE);
	r->gather = s->stamps ? map_buffer(GATHER_SIZE) : NULL;
	if (r->streams == NULL || r->buf == NULL ||
	    (s->stamps && r->gather == NULL))
		return fail(EXIT_SELF, "allocate memory");
	r->same = same_file(s->out, s->err);
	for (to = 0; to < 2; to++)
		set_output(&r->out[to], to == 0 ? s->out : s->err);
	return 0;
}

/* A buffer of its own, whose pages can be given back (give_back_buf). */
static char *
map_buffer(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/*
 * Whether a and b are one file, or one pipe (2>&1): then one description
 * takes both streams, or their writes could mix inside a line.
 */
static bool
same_file(int a, int b)
{
	struct stat sa, sb;

	return a >= 0 && b >= 0 && (a == b || (fstat(a, &sa) == 0 &&
	    fstat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
	    sa.st_ino == sb.st_ino));
}

/* Both streams go to out[0] when one file takes both. */
static struct relay_output *
output(struct relay *r, int to)
{
	return &r->out[r->same ? 0 : to];
}

/*
 * A pipe or a terminal could block us: we write to it through a
 * description of our own, opened again through /proc/self/fd, which can
 * be non-blocking without making the caller's so.  A socket cannot be
 * opened again, and is sent to without waiting instead.  Files are
 * written to as they are.
 */
static void
set_output(struct relay_output *o, int fd)
{
	char path[32];
	struct stat sb;

	*o = (struct relay_output){ .fd = fd, .given = fd,
	    .lost = o->lost, .lost_errno = o->lost_errno, .cut = o->cut };
	if (fd < 0 || fstat(fd, &sb) == -1 || S_ISREG(sb.st_mode) ||
	    (S_ISCHR(sb.st_mode) && major(sb.st_rdev) == 1 &&
	    minor(sb.st_rdev) == 3))
		return;
	if (S_ISSOCK(sb.st_mode)) {
		o->socket = o->nonblocking = true;
		return;
	}
	(void)fmt(path, sizeof(path), "/proc/self/fd/%d", fd);
	o->fd = open(path, O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	o->ours = o->nonblocking = o->fd != -1;
	if (o->fd == -1)
		o->fd = fd;
}

/*
 * The pipes worker is to write to: fds[0] for its standard output, fds[1]
 * for its error, -1 where nothing reads (it gets /dev/null).  Its streams
 * before are kept, as old, while orphans may write to them.
 */
int
relay_pipes(struct relay *r, int worker, int fds[2])
{
	int to, p[2], i;

	for (i = 0; i < r->nstreams; i++)
		if (r->streams[i].worker == worker)
			r->streams[i].old = true;
	fds[0] = fds[1] = -1;
	for (to = 0; to < 2; to++) {
		if (output(r, to)->fd == -1 && !r->s.syslog)
			continue;
		if (pipe2(p, O_CLOEXEC) == -1 ||
		    fcntl(p[0], F_SETFL, O_NONBLOCK) == -1)
			return fail(EXIT_SELF, "create pipe");
		p[0] = move_fd_off(p[0], r->s.avoid);
		p[1] = move_fd_off(p[1], r->s.avoid);
		if (p[0] == -1 || p[1] == -1 || room_for_one(r) == -1)
			return fail(EXIT_SELF, "create pipe");
		r->streams[r->nstreams++] = (struct relay_stream){ .fd = p[0],
		    .worker = worker, .to = to,
		    .pipe_size = fcntl(p[0], F_GETPIPE_SZ) };
		fds[to] = p[1];
	}
	return 0;
}

/*
 * Room for a stream more.  Old streams stay while orphans of their workers
 * hold them, so there is no fixed number: as many as those orphans.
 */
static int
room_for_one(struct relay *r)
{
	struct relay_stream *more;
	int n;

	if (r->nstreams < r->max_streams)
		return 0;
	n = r->max_streams * 2;
	more = realloc(r->streams, (size_t)n * sizeof(*more));
	if (more == NULL)
		return -1;
	r->streams = more;
	r->max_streams = n;
	return 0;
}

/* The worker's new streams are from pid. */
void
relay_started(struct relay *r, int worker, pid_t pid)
{
	int i;

	for (i = 0; i < r->nstreams; i++)
		if (r->streams[i].worker == worker && !r->streams[i].old)
			r->streams[i].pid = pid;
}

/*
 * What to poll: each stream, unless its destination waits for a slow
 * reader, and each destination that does.  Room: 2 + max_streams.
 */
int
relay_pollfds(struct relay *r, struct pollfd *pfd)
{
	int i, n = 0;

	for (i = 0; i < 2; i++)
		if (output(r, i) == &r->out[i] && r->out[i].pending_len > 0)
			pfd[n++] = (struct pollfd){ .fd = r->out[i].fd,
			    .events = POLLOUT };
	for (i = 0; i < r->nstreams; i++)
		if (r->streams[i].fd != -1 &&
		    output(r, r->streams[i].to)->pending_len <= PENDING_MAX)
			pfd[n++] = (struct pollfd){ .fd = r->streams[i].fd,
			    .events = POLLIN };
	return n;
}

/* Whatever poll(2) found ready in the n entries relay_pollfds gave. */
void
relay_take(struct relay *r, const struct pollfd *pfd, int n)
{
	int k, i;

	for (k = 0; k < n; k++) {
		if (pfd[k].revents == 0)
			continue;
		if (pfd[k].events == POLLOUT) {
			/* (A HUP may have put another file there since.) */
			for (i = 0; i < 2; i++)
				if (r->out[i].fd == pfd[k].fd &&
				    r->out[i].pending_len > 0)
					write_pending(r, &r->out[i]);
			continue;
		}
		for (i = 0; i < r->nstreams; i++)
			if (r->streams[i].fd == pfd[k].fd)
				take_stream(r, &r->streams[i],
				    READS_PER_TURN);
	}
	for (i = 0; i < r->nstreams; i++)
		if (r->streams[i].fd == -1)
			r->streams[i--] = r->streams[--r->nstreams];
}

/*
 * Up to turns reads of one stream, fewer once it is empty for now; at its
 * end, its last line goes too.  What it read, or 0 if it found the pipe
 * empty or at its end.
 */
static size_t
take_stream(struct relay *r, struct relay_stream *st, int turns)
{
	const struct relay_output *o = output(r, st->to);
	ssize_t n, last = 0;
	size_t got = 0;

	/* A slow reader's streams wait while it takes what waits for it;
	 * not a drain, which keeps a dead worker's lines before its end. */
	while (turns-- > 0 && st->fd != -1 &&
	    (o->pending_len <= PENDING_MAX || r->draining)) {
		n = read(st->fd, r->buf, o->pending_len > 0 ? SLOW_READ :
		    READ_SIZE);
		if (n > 0) {
			last = n;
			got += (size_t)n;
			if ((size_t)n > r->buf_used)
				r->buf_used = (size_t)n;
			if (n == st->pipe_size)
				grow_pipe(st);
			feed(r, st, r->buf, (size_t)n);
			/* Its reader gone, a pipe passes that on, as without
			 * us: the command gets SIGPIPE at its next write. */
			if (output(r, st->to)->gone && !r->s.syslog) {
				st->len = 0;
				end_stream(r, st);
			}
		} else if (n == -1 && errno == EINTR)
			continue;
		else if (n == -1 && errno == EAGAIN) {
			if (last < QUIET_READ)
				give_back_buf(r);
			return 0;
		} else {
			end_stream(r, st);
			return 0;
		}
	}
	return got;
}

/*
 * The pipe is empty, and its last read took no more than a new pipe holds:
 * a burst, if there was one, is over.  What reads of it touched of the
 * buffer beyond that goes back, or an idle supervisor would keep, for as
 * long as it lives, the memory of its busiest moment.
 */
static void
give_back_buf(struct relay *r)
{
	if (r->buf_used > QUIET_READ) {
		(void)madvise(r->buf + QUIET_READ, r->buf_used - QUIET_READ,
		    MADV_DONTNEED);
		r->buf_used = QUIET_READ;
	}
	if (r->gather_used > QUIET_READ) {
		(void)madvise(r->gather + QUIET_READ, r->gather_used -
		    QUIET_READ, MADV_DONTNEED);
		r->gather_used = QUIET_READ;
	}
}

/*
 * A read took all the pipe held: its writer waited for us.  A pipe of a
 * megabyte lets it write 16 times as long before it waits (and the kernel
 * wakes us as many times fewer); only such a pipe gets one, since all of a
 * user's pipes share a quota (fs.pipe-user-pages-soft), and beyond it the
 * kernel refuses, which is no matter: the pipe stays as it is.
 */
static void
grow_pipe(struct relay_stream *st)
{
	int size = fcntl(st->fd, F_GETPIPE_SZ);

	/* (Its writer may have grown it, past our most, as root can.) */
	if (size < PIPE_MAX)
		size = fcntl(st->fd, F_SETPIPE_SZ, PIPE_MAX);
	st->pipe_size = size > st->pipe_size ? size : -1;
}

/*
 * Worker died, and its group is gone: what its pipes still hold is read
 * now, before it starts again or we exit.  A pipe that orphans of it
 * still hold stays open, and is read as long as they write.
 */
void
relay_drain(struct relay *r, int worker)
{
	int i;

	for (i = 0; i < r->nstreams; i++)
		if (r->streams[i].worker == worker && !r->streams[i].old)
			drain(r, &r->streams[i], 0);
}

/*
 * Passes on the complete lines in data, keeping what follows the last
 * newline for the rest of its line.
 */
static void
feed(struct relay *r, struct relay_stream *st, const char *data, size_t n)
{
	const char *end = data + n;
	struct batch b = { .n = 0 };

	begin(r);
	data = take_lines(r, st, data, end, &b);
	while (data < end)
		data = take_line(r, st, data, end, &b);
	flush(r, st->to, &b);
}

/*
 * Where no line needs a look of its own (no stamp, no syslog, none begun
 * in an earlier read, none that could be too long), the complete lines at
 * the head of data go as one piece: where the rest begins.
 */
static const char *
take_lines(struct relay *r, struct relay_stream *st, const char *data,
    const char *end, struct batch *b)
{
	size_t n = (size_t)(end - data);
	const char *nl;

	if (r->s.stamps || r->syslog_up || st->len > 0 ||
	    n > (size_t)RELAY_LINE_MAX + 1)
		return data;
	nl = memrchr(data, '\n', n);
	if (nl == NULL)
		return data;
	emit(r, st, data, (size_t)(nl - data) + 1, b);
	return nl + 1;
}

/*
 * One line from data, or the start of one: where the next begins.  A line
 * begun in an earlier read is gathered in st->line; one longer than
 * RELAY_LINE_MAX (its newline not counted) is cut there.
 */
static const char *
take_line(struct relay *r, struct relay_stream *st, const char *data,
    const char *end, struct batch *b)
{
	const char *nl = memchr(data, '\n', (size_t)(end - data));
	size_t n = nl != NULL ? (size_t)(nl - data) + 1 : (size_t)(end - data);
	size_t room = (size_t)RELAY_LINE_MAX + 1 - st->len;
	char extra;

	if (st->len == 0 && nl != NULL && n <= room) {
		emit(r, st, data, n, b);
		return data + n;
	}
	if (n > room)
		n = room;
	if (keep(st, data, n) == -1) {
		/* No room to gather it: pass on what we have, in order. */
		if (st->len > 0)
			emit(r, st, st->line, st->len, b);
		emit(r, st, data, n, b);
		return data + n;
	}
	if (st->line[st->len - 1] == '\n')
		emit(r, st, st->line, st->len, b);
	else if (st->len == (size_t)RELAY_LINE_MAX + 1) {
		/* A byte past the most, and no newline: cut before it. */
		extra = st->line[RELAY_LINE_MAX];
		emit(r, st, st->line, (size_t)RELAY_LINE_MAX, b);
		(void)keep(st, &extra, 1);
	}
	return data + n;
}

/*
 * Appends n bytes to the line being gathered; -1 if there is no room.
 * Its buffer is a mapping of its own, grown twice as large each time and
 * unmapped once a long line is out: the memory goes back to the system
 * at once, whatever malloc's thresholds would do.
 */
static int
keep(struct relay_stream *st, const char *data, size_t n)
{
	size_t need = st->len + n, size;
	void *p;

	if (need > st->size) {
		size = st->size * 2 > need ? st->size * 2 : need;
		size = (size + LINE_CHUNK - 1) / LINE_CHUNK * LINE_CHUNK;
		p = st->line == NULL ? mmap(NULL, size, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) : mremap(st->line,
		    st->size, size, MREMAP_MAYMOVE);
		if (p == MAP_FAILED)
			return -1;
		st->line = p;
		st->size = size;
	}
	memcpy(st->line + st->len, data, n);
	st->len = need;
	return 0;
}

static void
drop_line(struct relay_stream *st)
{
	if (st->line != NULL)
		(void)munmap(st->line, st->size);
	st->line = NULL;
	st->len = st->size = 0;
}

/*
 * One line (with its newline, or cut without) to the stream's
 * destination and to syslog.  A gathered line is written at once, before
 * its buffer is used again.
 */
static void
emit(struct relay *r, struct relay_stream *st, const char *line, size_t n,
    struct batch *b)
{
	bool whole = line[n - 1] == '\n';

	if (r->syslog_up)
		to_syslog(r, st, line, whole ? n - 1 : n);
	if (output(r, st->to)->fd != -1 || output(r, st->to)->lost_errno != 0) {
		if (r->s.stamps)
			add(r, st->to, b, r->stamp_text, r->stamp_len);
		if (st->continued)
			add(r, st->to, b, continued_mark, sizeof(continued_mark) -
			    1);
		add(r, st->to, b, line, n);
		if (!whole)
			add(r, st->to, b, "\n", 1);
		if (line == st->line)
			flush(r, st->to, b);
	}
	st->continued = !whole;
	if (line == st->line) {
		st->len = 0;
		if (st->size > LINE_CHUNK)
			drop_line(st);
	}
}

/* A line in messages of at most RELAY_SYSLOG_MAX bytes: PID, the worker's. */
static void
to_syslog(struct relay *r, struct relay_stream *st, const char *line,
    size_t n)
{
	int prio = r->s.facility | (st->to == 0 ? r->s.level : LOG_ERR);
	bool more = st->continued;
	size_t k;

	do {
		/* The mark counts: no message carries more than the most. */
		k = RELAY_SYSLOG_MAX - (more ? sizeof(continued_mark) - 1 : 0);
		k = n < k ? n : k;
		logsend_line(&r->log, prio, r->s.tag, st->pid, more ?
		    continued_mark : "", line, k);
		line += k;
		n -= k;
		more = true;
	} while (n > 0);
}

/* A piece more; lines that follow each other in memory go as one. */
static void
add(struct relay *r, int to, struct batch *b, const void *p, size_t n)
{
	struct iovec *last = b->n > 0 ? &b->iov[b->n - 1] : NULL;

	if (last != NULL && (const char *)last->iov_base + last->iov_len == p) {
		last->iov_len += n;
		b->bytes += n;
		return;
	}
	if (b->n == BATCH_IOV || (b->n > 0 && b->bytes + n > GATHER_SIZE))
		flush(r, to, b);
	b->iov[b->n++] = (struct iovec){ .iov_base = (void *)(uintptr_t)p,
	    .iov_len = n };
	b->bytes += n;
}

/*
 * Writes the batch.  Many short pieces (stamps and their lines) are
 * copied together first: one write of them costs the kernel far less.
 */
static void
flush(struct relay *r, int to, struct batch *b)
{
	struct iovec one = { .iov_base = r->gather, .iov_len = 0 };
	int i;

	if (b->n > GATHER_FROM && r->gather != NULL) {
		for (i = 0; i < b->n; i++) {
			memcpy(r->gather + one.iov_len, b->iov[i].iov_base,
			    b->iov[i].iov_len);
			one.iov_len += b->iov[i].iov_len;
		}
		if (one.iov_len > r->gather_used)
			r->gather_used = one.iov_len;
		put(r, to, &one, 1, one.iov_len);
	} else if (b->n > 0)
		put(r, to, b->iov, b->n, b->bytes);
	b->n = 0;
	b->bytes = 0;
}

/*
 * Writes n pieces (bytes in all) to destination to: at once, or, to a
 * slow reader of ours, later.  What cannot be written is counted as
 * lost, and said once writing works again.
 */
static void
put(struct relay *r, int to, struct iovec *iov, int n, size_t bytes)
{
	struct relay_output *o = output(r, to);
	ssize_t w;

	if (o->pending_len > 0) {
		if (o->pending_len + bytes > (size_t)PENDING_CAP)
			lose(r, o, bytes, EAGAIN);
		else
			keep_pending(o, iov, n);
		return;
	}
	if (o->fd == -1 || (o->lost > 0 && !say_loss(o))) {
		lose(r, o, bytes, o->fd == -1 ? o->lost_errno : errno);
		return;
	}
	while (bytes > 0) {
		w = out_write(o, iov, n);
		if (w == -1 && errno == EINTR)
			continue;
		if (w == -1 && errno == EAGAIN && o->nonblocking) {
			keep_pending(o, iov, n);
			return;
		}
		if (w <= 0) {
			lose(r, o, bytes, w == 0 ? EIO : errno);
			return;
		}
		bytes -= (size_t)w;
		o->cut = skip(&iov, &n, (size_t)w) != '\n';
		if (bytes > 0 && o->nonblocking) {
			keep_pending(o, iov, n);
			return;
		}
	}
}

/* writev(2), or for a socket a send that does not wait. */
static ssize_t
out_write(const struct relay_output *o, const struct iovec *iov, int n)
{
	struct msghdr m = { .msg_iov = (struct iovec *)(uintptr_t)iov,
	    .msg_iovlen = (size_t)n };

	if (o->socket)
		return sendmsg(o->fd, &m, MSG_DONTWAIT | MSG_NOSIGNAL);
	return writev(o->fd, iov, n);
}

/* Moves past done bytes of the pieces: the last byte of them. */
static char
skip(struct iovec **iov, int *n, size_t done)
{
	char last = '\n';

	while (*n > 0 && done >= (*iov)->iov_len) {
		last = ((const char *)(*iov)->iov_base)[(*iov)->iov_len - 1];
		done -= (*iov)->iov_len;
		(*iov)++;
		(*n)--;
	}
	if (done > 0 && *n > 0) {
		last = ((const char *)(*iov)->iov_base)[done - 1];
		(*iov)->iov_base = (char *)(*iov)->iov_base + done;
		(*iov)->iov_len -= done;
	}
	return last;
}

/*
 * "daemonize: N bytes lost: REASON", once writing works again, on a line
 * of its own; false if it does not work yet.
 */
static bool
say_loss(struct relay_output *o)
{
	char line[128];
	int n;

	n = fmt(line, sizeof(line), "%sdaemonize: %lld bytes lost: %s\n",
	    o->cut && !ends_line(o->fd) ? "\n" : "", o->lost,
	    strerror(o->lost_errno));
	if (n <= 0 || (size_t)n >= sizeof(line) || out_write(o,
	    &(struct iovec){ .iov_base = line, .iov_len = (size_t)n }, 1) != n)
		return false;
	o->lost = 0;
	o->lost_errno = 0;
	o->cut = false;
	return true;
}

/*
 * Whether fd is where a line starts: a file that is empty (truncated by
 * its rotation, say) or ends in a newline; not known for others.  Our
 * descriptor is write-only: the last byte is read through one of its own.
 */
static bool
ends_line(int fd)
{
	char path[32], c;
	struct stat sb;
	bool ends;
	int rfd;

	if (fstat(fd, &sb) == -1 || !S_ISREG(sb.st_mode))
		return false;
	if (sb.st_size == 0)
		return true;
	(void)fmt(path, sizeof(path), "/proc/self/fd/%d", fd);
	rfd = open(path, O_RDONLY | O_NOCTTY | O_CLOEXEC);
	ends = rfd != -1 && pread(rfd, &c, 1, sb.st_size - 1) == 1 &&
	    c == '\n';
	if (rfd != -1)
		(void)close(rfd);
	return ends;
}

/* Counts what could not be written; syslog hears when the loss begins. */
static void
lose(struct relay *r, struct relay_output *o, size_t bytes, int err)
{
	char text[160];
	int n;

	if (o->lost == 0) {
		n = fmt(text, sizeof(text), "writing standard %s: %s; counting "
		    "what is lost", o == &r->out[0] ? "output" : "error",
		    strerror(err));
		if (n > 0)
			logsend_line(&r->log, (r->s.syslog ? r->s.facility :
			    LOG_DAEMON) | LOG_ERR, "daemonize", r->self, "",
			    text, (size_t)n < sizeof(text) ? (size_t)n :
			    sizeof(text) - 1);
	}
	if (err != 0)
		o->lost_errno = err;
	o->gone = err == EPIPE;
	o->lost += (long long)bytes;
}

/* Keeps what a slow reader has not taken yet. */
static void
keep_pending(struct relay_output *o, const struct iovec *iov, int n)
{
	size_t need = o->pending_len, size;
	char *p;
	int i;

	for (i = 0; i < n; i++)
		need += iov[i].iov_len;
	if (need > o->pending_size) {
		/* Twice as large: growing by what comes would copy it all
		 * again each time, where realloc cannot move pages. */
		size = o->pending_size * 2 > need ? o->pending_size * 2 : need;
		p = realloc(o->pending, size);
		if (p == NULL) {
			o->lost += (long long)(need - o->pending_len);
			o->lost_errno = ENOMEM;
			return;
		}
		o->pending = p;
		o->pending_size = size;
	}
	for (i = 0; i < n; i++) {
		memcpy(o->pending + o->pending_len, iov[i].iov_base,
		    iov[i].iov_len);
		o->pending_len += iov[i].iov_len;
	}
}

/* The slow reader can take more. */
static void
write_pending(struct relay *r, struct relay_output *o)
{
	ssize_t w;

	w = out_write(o, &(struct iovec){ .iov_base = o->pending,
	    .iov_len = o->pending_len }, 1);
	if (w == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (w <= 0) {
		lose(r, o, o->pending_len, w == 0 ? EIO : errno);
		w = (ssize_t)o->pending_len;
	}
	memmove(o->pending, o->pending + w, o->pending_len - (size_t)w);
	o->pending_len -= (size_t)w;
	if (o->pending_len == 0 && o->pending_size > PENDING_MAX) {
		free(o->pending);
		o->pending = NULL;
		o->pending_size = 0;
	}
}

/* A stream at its end: its last line, with a newline if it had none. */
static void
end_stream(struct relay *r, struct relay_stream *st)
{
	struct batch b = { .n = 0 };

	if (st->len > 0) {
		begin(r);
		emit(r, st, st->line, st->len, &b);
		flush(r, st->to, &b);
	}
	st->continued = false;
	drop_line(st);
	if (st->fd != -1)
		(void)close(st->fd);
	st->fd = -1;
}

/*
 * Before the lines of one read: one stamp for them all, and one look at
 * whether syslog takes any (with no log daemon, a look a line would cost
 * more than the lines).
 */
static void
begin(struct relay *r)
{
	if (r->s.stamps)
		stamp(r);
	r->syslog_up = r->s.syslog && logsend_up(&r->log);
}

/* The time now, as -T writes it, in r->stamp_text. */
static void
stamp(struct relay *r)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_REALTIME, &ts);
	r->stamp_len = fmt_time(r->stamp_text, sizeof(r->stamp_text) - 1, &ts,
	    &r->clock);
	r->stamp_text[r->stamp_len++] = ' ';
	r->stamp_text[r->stamp_len] = '\0';
}

/* A line of ours (an event) to destination to, in order with the rest. */
void
relay_write(struct relay *r, int to, const char *line, size_t n)
{
	struct iovec iov = { .iov_base = (void *)(uintptr_t)line,
	    .iov_len = n };

	if (output(r, to)->fd != -1 || output(r, to)->lost_errno != 0)
		put(r, to, &iov, 1, n);
}

/*
 * -H: the destinations, opened again (-1 where that failed, with errno:
 * what goes there is counted as lost until the next time; -2 where there
 * is none to open), take over from the old ones, once these have what
 * waits for them.
 */
void
relay_reopen(struct relay *r, int out, int err)
{
	int to, fd, saved = errno;

	for (to = 0; to < 2; to++) {
		if ((to == 0 ? out : err) == -2)
			continue;
		if (r->out[to].pending_len > 0)
			write_pending(r, &r->out[to]);
		if (r->out[to].ours && r->out[to].fd != -1)
			(void)close(r->out[to].fd);
		if (r->out[to].given > STDERR_FILENO &&
		    !(to == 1 && r->same))
			(void)close(r->out[to].given);
		fd = to == 0 ? out : err;
		/* What the old reader never took is lost with it, for the
		 * reason relay_loss gives for what waits at the end. */
		r->out[to].lost += (long long)r->out[to].pending_len;
		if (r->out[to].pending_len > 0 && r->out[to].lost_errno == 0)
			r->out[to].lost_errno = EAGAIN;
		free(r->out[to].pending);
		set_output(&r->out[to], fd);
		if (fd == -1 && r->out[to].lost_errno == 0)
			r->out[to].lost_errno = saved != 0 ? saved : EIO;
	}
	r->same = same_file(out, err);
}

/*
 * The end: every stream read to its end (or as far as orphans let us),
 * what waits for a slow reader written (for FLUSH_MS at most).
 */
void
relay_close(struct relay *r)
{
	long until = now_ms() + FLUSH_MS;
	int i, to;

	for (i = 0; i < r->nstreams; i++) {
		drain(r, &r->streams[i], until);
		end_stream(r, &r->streams[i]);
	}
	r->nstreams = 0;
	for (to = 0; to < 2; to++)
		flush_pending(r, &r->out[to], 0, until);
	for (to = 0; to < 2; to++)
		if (r->out[to].lost > 0 && r->out[to].fd != -1)
			(void)say_loss(&r->out[to]);
}

/*
 * A stream read until it is empty or at its end (DRAIN_BYTES at most:
 * orphans may write on), whatever waits for its reader: what it cannot
 * keep (PENDING_CAP) is lost, and counted.  With a deadline (until > 0),
 * the reader is waited for as it goes, until then.
 */
static void
drain(struct relay *r, struct relay_stream *st, long until)
{
	struct relay_output *o = output(r, st->to);
	size_t got, drained = 0;

	r->draining = true;
	do {
		if (until > 0)
			flush_pending(r, o, PENDING_MAX, until);
		got = take_stream(r, st, 1);
		drained += got;
	} while (got > 0 && drained < (size_t)DRAIN_BYTES);
	r->draining = false;
}

/* Writes what waits for a slow reader until no more than keep bytes wait,
 * or the deadline passes. */
static void
flush_pending(struct relay *r, struct relay_output *o, size_t keep,
    long until)
{
	struct pollfd p;
	long left;

	while (o->pending_len > keep && (left = until - now_ms()) > 0) {
		p = (struct pollfd){ .fd = o->fd, .events = POLLOUT };
		if (poll(&p, 1, (int)left) == 1)
			write_pending(r, o);
	}
}

/* The relay's memory and descriptors of its own. */
void
relay_free(struct relay *r)
{
	int to;

	logsend_close(&r->log);
	free(r->streams);
	if (r->buf != NULL)
		(void)munmap(r->buf, READ_SIZE);
	if (r->gather != NULL)
		(void)munmap(r->gather, GATHER_SIZE);
	r->streams = NULL;
	r->buf = r->gather = NULL;
	for (to = 0; to < 2; to++) {
		free(r->out[to].pending);
		r->out[to].pending = NULL;
		if (r->out[to].ours && r->out[to].fd != -1)
			(void)close(r->out[to].fd);
		r->out[to].fd = -1;
	}
}

/* What was lost and not said in the file: the reason, or NULL. */
const char *
relay_loss(const struct relay *r, int to, long long *bytes)
{
	const struct relay_output *o = &r->out[r->same ? 0 : to];

	*bytes = o->lost + (long long)o->pending_len;
	return *bytes > 0 ? strerror(o->lost_errno != 0 ? o->lost_errno :
	    EAGAIN) : NULL;
}
