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
 * own events as lines of their own between them.
 *
 * The input: a byte of flags (1: -T; 2: standard error to the file of
 * standard output, as 2>&1; 4: standard error to nowhere), then pieces,
 * each a byte (high bit: which stream; the rest: a length, 0 for an
 * event line instead) and that many bytes.
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
    bool stamps, const uint8_t *data, size_t size)
{
	size_t n;
	int to;

	while (size > 0) {
		to = data[0] >> 7;
		n = data[0] & 0x7f;
		data++, size--;
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

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct expect e[2] = { { 0 }, { 0 } };
	struct model_stream m[2] = { { .to = &e[0] }, { .to = &e[1] } };
	struct relay_setup s = { .avoid = -1 };
	struct relay r;
	int file[2], fds[2], to;
	uint8_t flags;

	if (size == 0)
		return 0;
	flags = data[0];
	s.stamps = flags & 1;
	file[0] = s.out = memfd_create("out", MFD_CLOEXEC);
	file[1] = memfd_create("err", MFD_CLOEXEC);
	s.err = flags & 2 ? s.out : flags & 4 ? -1 : file[1];
	m[1].to = flags & 2 ? &e[0] : flags & 4 ? NULL : &e[1];
	if (file[0] == -1 || file[1] == -1 || relay_open(&r, &s, 1) == -1 ||
	    relay_pipes(&r, 0, fds) == -1)
		abort();
	relay_started(&r, 0, getpid());
	play(&r, fds, m, s.stamps, data + 1, size - 1);
	for (to = 0; to < 2; to++)
		if (fds[to] != -1)
			(void)close(fds[to]);
	relay_close(&r);
	relay_free(&r);
	model_end(&m[0], s.stamps);
	model_end(&m[1], s.stamps);
	for (to = 0; to < 2; to++) {
		check_file(file[to], &e[to]);
		(void)close(file[to]);
		free(e[to].text);
		free(e[to].stamps);
	}
	return 0;
}
