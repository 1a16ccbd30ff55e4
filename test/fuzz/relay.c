/*
 * libFuzzer harness: the log relay, differential.  The input drives a
 * real relay in this process: one worker's standard output and error are
 * pipes, written to in pieces the input chooses, each piece read by the
 * relay before the next; its files are memfds.  What the files hold at
 * the end must be what the manual's LOGGING section says, computed by a
 * model here: each line whole, a newline added to a last line without
 * one, a line longer than RELAY_LINE_MAX (32 bytes in this build) cut
 * after RELAY_LINE_MAX bytes and continued on lines that begin with
 * "... ", with -T a stamp before each of those lines, and the relay's
 * own events as lines of their own between them.  With -H, the files
 * are opened again: each line goes whole to the file of its time, the
 * one it ended in.
 *
 * The input: a byte of flags (1: -T; 2: standard error to the file of
 * standard output, as 2>&1; 4: standard error to nowhere), then pieces,
 * each a byte (high bit: which stream; the rest: a length, 0 for an
 * event line instead, 127 for -H's reopening) and that many bytes.
 */
#include <sys/mman.h>
#include <sys/stat.h>

#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../msg.h"
#include "../../relay.h"

#define STAMP_LEN 30		/* "2026-11-30T03:48:27.123+01:00 " */
#define EVENT "daemonize: an event\n"
#define REOPEN 127
/* Files of each stream, at most: the first, and those of -H. */
#define FILES 8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What a file should hold: bytes, and the offsets where a stamp goes. */
struct expect {
	char *text;
	size_t len, size;
	size_t *stamps;
	size_t nstamps, stamps_size;
};

/* A stream as the model sees it: the line so far. */
struct model_stream {
	char line[RELAY_LINE_MAX + 1];
	size_t len;
	bool continued;
	struct expect *to;	/* NULL: nowhere */
};

static void *
grow(void *p, size_t *size, size_t need, size_t each)
{
	if (need <= *size)
		return p;
	*size = need * 2;
	p = realloc(p, *size * each);
	if (p == NULL)
		abort();
	return p;
}

static void
expect_text(struct expect *e, const char *text, size_t n)
{
	if (n == 0)
		return;
	e->text = grow(e->text, &e->size, e->len + n, 1);
	memcpy(e->text + e->len, text, n);
	e->len += n;
}

static void
expect_stamp(struct expect *e)
{
	e->stamps = grow(e->stamps, &e->stamps_size, e->nstamps + 1,
	    sizeof(*e->stamps));
	e->stamps[e->nstamps++] = e->len;
}

/* One line out, whole or cut: stamp, mark, text, newline. */
static void
model_emit(struct model_stream *m, bool stamps, bool whole)
{
	if (m->to != NULL) {
		if (stamps)
			expect_stamp(m->to);
		if (m->continued)
			expect_text(m->to, "... ", 4);
		expect_text(m->to, m->line, m->len);
		expect_text(m->to, "\n", 1);
	}
	m->continued = !whole;
	m->len = 0;
}

/* A line goes out once its newline comes, or its byte past the most. */
static void
model_feed(struct model_stream *m, bool stamps, const uint8_t *p, size_t n)
{
	char extra;

	for (; n > 0; p++, n--) {
		if (*p == '\n') {
			model_emit(m, stamps, true);
			continue;
		}
		m->line[m->len++] = (char)*p;
		if (m->len == RELAY_LINE_MAX + 1) {
			extra = m->line[RELAY_LINE_MAX];
			m->len = RELAY_LINE_MAX;
			model_emit(m, stamps, false);
			m->line[m->len++] = extra;
		}
	}
}

/* At the stream's end, its last line, given a newline. */
static void
model_end(struct model_stream *m, bool stamps)
{
	if (m->len > 0)
		model_emit(m, stamps, false);
	m->continued = false;
}

/* "dddd-dd-ddTdd:dd:dd.ddd+dd:dd ": where d is a digit, one. */
static bool
is_stamp(const char *s)
{
	static const char form[] = "dddd-dd-ddTdd:dd:dd.ddd+dd:dd ";
	int i;

	for (i = 0; i < STAMP_LEN; i++)
		if (form[i] == 'd' ? s[i] < '0' || s[i] > '9' :
		    form[i] == '+' ? s[i] != '+' && s[i] != '-' :
		    s[i] != form[i])
			return false;
	return true;
}

/* The file holds what is expected, with a stamp wherever one goes. */
static void
check_file(int fd, const struct expect *e)
{
	struct stat sb;
	size_t at = 0, got = 0, k, n;
	char *text;

	if (fstat(fd, &sb) == -1 ||
	    (size_t)sb.st_size != e->len + e->nstamps * STAMP_LEN)
		abort();
	text = malloc((size_t)sb.st_size + 1);
	if (text == NULL || pread(fd, text, (size_t)sb.st_size, 0) !=
	    sb.st_size)
		abort();
	for (k = 0; k <= e->nstamps; k++) {
		n = (k < e->nstamps ? e->stamps[k] : e->len) - at;
		if (n > 0 && memcmp(text + got, e->text + at, n) != 0)
			abort();
		at += n;
		got += n;
		if (k < e->nstamps) {
			if (!is_stamp(text + got))
				abort();
			got += STAMP_LEN;
		}
	}
	free(text);
}

/* The files of a run, ours to read: [which][stream]; -1: none. */
struct files {
	int fd[FILES][2];
	struct expect e[FILES][2];
	int n;
	bool same, nowhere;	/* 2>&1; standard error to nowhere */
};

/* New files for both streams, in the model and in the relay's hands. */
static void
open_files(struct files *f, struct model_stream m[2], int give[2])
{
	int k = f->n++;

	f->fd[k][0] = memfd_create("out", MFD_CLOEXEC);
	f->fd[k][1] = f->same || f->nowhere ? -1 :
	    memfd_create("err", MFD_CLOEXEC);
	if (f->fd[k][0] == -1 || (!f->same && !f->nowhere &&
	    f->fd[k][1] == -1))
		abort();
	m[0].to = &f->e[k][0];
	m[1].to = f->same ? &f->e[k][0] : f->nowhere ? NULL : &f->e[k][1];
	/* The relay closes what it was given when it opens anew. */
	give[0] = dup(f->fd[k][0]);
	give[1] = f->same ? give[0] : f->nowhere ? -1 : dup(f->fd[k][1]);
	if (give[0] == -1 || (!f->nowhere && give[1] == -1))
		abort();
}

/* -H: the relay takes new files; the model sends lines there from now. */
static void
reopen(struct relay *r, struct files *f, struct model_stream m[2])
{
	int give[2];

	if (f->n == FILES)
		return;
	open_files(f, m, give);
	relay_reopen(r, give[0], f->nowhere ? -2 : give[1]);
}

/* The relay reads what its pipes hold now, as the supervisor's loop does. */
static void
pump(struct relay *r)
{
	struct pollfd pfd[2 + 4];
	int n;

	n = relay_pollfds(r, pfd);
	if (poll(pfd, (nfds_t)n, 0) > 0)
		relay_take(r, pfd, n);
}

/* The pieces of the input, to the pipes and to the model. */
static void
play(struct relay *r, const int fds[2], struct model_stream m[2],
    struct files *f, const uint8_t *data, size_t size)
{
	bool stamps = r->s.stamps;
	size_t n;
	int to;

	while (size > 0) {
		to = data[0] >> 7;
		n = data[0] & 0x7f;
		data++, size--;
		if (n == REOPEN) {
			reopen(r, f, m);
			continue;
		}
		if (n == 0) {
			relay_write(r, to, EVENT, sizeof(EVENT) - 1);
			if (m[to].to != NULL)
				expect_text(m[to].to, EVENT, sizeof(EVENT) - 1);
			continue;
		}
		n = n < size ? n : size;
		if (fds[to] != -1) {
			if (write_all(fds[to], data, n) == -1)
				abort();
			model_feed(&m[to], stamps, data, n);
			pump(r);
		}
		data += n, size -= n;
	}
}

/* Every file holds what the model says; the relay's last ones closed. */
static void
check_files(const struct relay *r, struct files *f)
{
	int k, to;

	if (r->out[0].given >= 0)
		(void)close(r->out[0].given);
	if (r->out[1].given >= 0 && r->out[1].given != r->out[0].given)
		(void)close(r->out[1].given);
	for (k = 0; k < f->n; k++)
		for (to = 0; to < 2; to++) {
			if (f->fd[k][to] != -1) {
				check_file(f->fd[k][to], &f->e[k][to]);
				(void)close(f->fd[k][to]);
			}
			free(f->e[k][to].text);
			free(f->e[k][to].stamps);
		}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct files f = { .n = 0 };
	struct model_stream m[2] = { { .to = NULL }, { .to = NULL } };
	struct relay_setup s = { .avoid = -1 };
	struct relay r;
	int give[2], fds[2], to;

	if (size == 0)
		return 0;
	s.stamps = data[0] & 1;
	f.same = data[0] & 2;
	f.nowhere = !f.same && (data[0] & 4);
	open_files(&f, m, give);
	s.out = give[0];
	s.err = give[1];
	if (relay_open(&r, &s, 1) == -1 || relay_pipes(&r, 0, fds) == -1)
		abort();
	relay_started(&r, 0, getpid());
	play(&r, fds, m, &f, data + 1, size - 1);
	for (to = 0; to < 2; to++)
		if (fds[to] != -1)
			(void)close(fds[to]);
	relay_close(&r);
	relay_free(&r);
	model_end(&m[0], s.stamps);
	model_end(&m[1], s.stamps);
	check_files(&r, &f);
	return 0;
}
