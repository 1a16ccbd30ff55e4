/*
 * libFuzzer harness: the sd_notify datagrams that -w and a supervisor
 * read.  The input is a datagram's text, made a string as the receiver
 * makes it (it ends at a NUL byte), then optionally a NUL and a line to
 * look for.  What ready.c finds in the text must be what its lines say:
 * ready_has_line() is true for a line equal to the one looked for (and
 * READY=1), ready_find_line() gives the first line that begins with it
 * (and STATUS=), and walking on from there, as -v does, gives each such
 * line in turn.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../ready.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * The lines of text that want is (exact) or begins (!exact): how many,
 * and where the first is, in *first with its length in *len.
 */
static int
model(const char *text, const char *want, bool exact, const char **first,
    size_t *len)
{
	size_t wn = strlen(want), n;
	const char *line = text, *nl;
	int count = 0;

	*first = NULL;
	for (;;) {
		nl = strchr(line, '\n');
		n = nl != NULL ? (size_t)(nl - line) : strlen(line);
		if ((exact ? n == wn : n >= wn) && memcmp(line, want, wn) == 0) {
			if (count++ == 0) {
				*first = line;
				*len = n;
			}
		}
		if (nl == NULL)
			return count;
		line = nl + 1;
	}
}

/* Every line of text beginning with prefix, as read_lines() walks them. */
static void
check_walk(const char *text, const char *prefix)
{
	const char *line = text, *first;
	size_t len, mlen;
	int want, count = 0;

	want = model(text, prefix, false, &first, &mlen);
	while ((line = ready_find_line(line, prefix, &len)) != NULL) {
		if (count == 0 && (line != first || len != mlen))
			abort();
		if (strncmp(line, prefix, strlen(prefix)) != 0 ||
		    memchr(line, '\n', len) != NULL ||
		    (line[len] != '\n' && line[len] != '\0'))
			abort();
		count++;
		line += len;
	}
	if (count != want)
		abort();
}

static void
check(const char *text, const char *want)
{
	const char *first;
	size_t len;

	if (ready_has_line(text, want) != (model(text, want, true, &first,
	    &len) > 0))
		abort();
	/* The walk goes on from a line's end: for prefixes, not for "". */
	if (want[0] != '\0')
		check_walk(text, want);
	else if (ready_find_line(text, want, &len) != text ||
	    len != strcspn(text, "\n"))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy, *want;

	copy = malloc(size + 2);
	if (copy == NULL)
		return 0;
	memcpy(copy, data, size);
	copy[size] = copy[size + 1] = '\0';
	check(copy, "READY=1");
	check(copy, "STATUS=");
	/* The line to look for, after the text's end; a newline ends it. */
	want = copy + strlen(copy) + 1;
	if (want <= copy + size)
		want[strcspn(want, "\n")] = '\0';
	else
		want = copy + size;
	check(copy, want);
	free(copy);
	return 0;
}
