/*
 * The log relay: reads the workers' standard output and error from pipes
 * and passes them on a whole line at a time, to files (stamped with -T)
 * and to syslog (-S), never blocking a worker on a full disk and never
 * blocking the supervisor on a slow reader.
 */
#ifndef RELAY_H
#define RELAY_H

#include <poll.h>
#include <stdbool.h>
#include <sys/types.h>

#include "fmt.h"
#include "logsend.h"

/*
 * Lines longer than this are cut; the rest goes on a marked line.  The
 * fuzz harness makes it small, so that small inputs reach the cut.
 */
#ifndef RELAY_LINE_MAX
#define RELAY_LINE_MAX (16L << 20)
#endif
/* Text in one syslog message, at most. */
#define RELAY_SYSLOG_MAX 1024

struct relay_setup {
	int out, err;		/* where the streams go: fds, -1 nowhere */
	bool stamps;		/* -T */
	bool syslog;		/* -S */
	int facility, level;
	const char *tag;
	int avoid;		/* where no descriptor of ours may sit */
};

/* One pipe read: a worker's standard output or error. */
struct relay_stream {
	int fd;			/* the read end, or -1 once at its end */
	int worker;
	pid_t pid;		/* the worker's, for syslog */
	int to;			/* 0: standard output, 1: standard error */
	bool old;		/* its worker was restarted; orphans of it may
				   still write, and it is read until they go */
	char *line;		/* the line so far */
	size_t len, size;
	bool continued;		/* the line goes on a cut one */
	int pipe_size;		/* what it holds; -1 once it cannot grow */
};

/* A destination: what is written, and what could not be. */
struct relay_output {
	int fd;			/* -1: nowhere */
	int given;		/* the descriptor we were given for it */
	bool ours;		/* fd was opened again by us, non-blocking */
	bool socket;		/* sent to with MSG_DONTWAIT */
	bool nonblocking;	/* either: what it cannot take now waits */
	char *pending;		/* waiting for the reader (ours only) */
	size_t pending_len, pending_size;
	long long lost;		/* bytes not written since writing failed */
	int lost_errno;
	bool cut;		/* a write stopped inside a line */
	bool gone;		/* a pipe or socket whose reader went away */
};

struct relay {
	struct relay_setup s;
	struct relay_stream *streams;
	int nstreams, max_streams;
	struct relay_output out[2];
	bool same;		/* one file for both */
	char *buf;		/* a read's worth, a mapping of its own */
	size_t buf_used;	/* of buf: what reads touched since */
	char *gather;		/* -T: stamps and lines, copied together */
	size_t gather_used;	/* of gather: what flushes touched since */
	bool draining;		/* reading a stream to its end */
	struct logsend log;
	bool syslog_up;		/* for the lines of this read */
	pid_t self;
	struct fmt_clock clock;	/* for -T */
	char stamp_text[48];
	size_t stamp_len;
};

int relay_open(struct relay *r, const struct relay_setup *s, int workers);
int relay_pipes(struct relay *r, int worker, int fds[2]);
void relay_started(struct relay *r, int worker, pid_t pid);
int relay_pollfds(struct relay *r, struct pollfd *pfd);
void relay_take(struct relay *r, const struct pollfd *pfd, int n);
void relay_drain(struct relay *r, int worker);
void relay_write(struct relay *r, int to, const char *line, size_t n);
void relay_reopen(struct relay *r, int out, int err);
void relay_close(struct relay *r);
void relay_free(struct relay *r);
const char *relay_loss(const struct relay *r, int to, long long *bytes);

#endif
