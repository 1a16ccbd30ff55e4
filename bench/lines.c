/*
 * lines: the writer of the log relay rows of make bench.
 *
 *	lines N [CPUFILE]
 *
 * Writes N lines of 99 printable characters and a newline (100 bytes each)
 * to standard output, in writes of 64 KiB (the last one shorter), so that
 * the writer is never what limits the rate: each write is one copy from a
 * buffer filled once.  Lines run across the writes, as they do in any
 * buffered output.  Then, if CPUFILE is given, writes to it the CPU time the
 * writer used itself, "USER SYS" in seconds, so that a caller who times the
 * whole process tree can tell the writer's share from the rest.
 * Exits 1 if a write fails, 2 on a usage error.
 */
#define _XOPEN_SOURCE 700

#include <sys/resource.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LINE 100
#define CHUNK 65536
/* The least common multiple of LINE and CHUNK: 25 chunks, 16384 lines. */
#define PATTERN (25 * CHUNK)

static char pattern[PATTERN];

static int
write_all(const char *p, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = write(STDOUT_FILENO, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
main(int argc, char *argv[])
{
	unsigned long long lines, left;
	size_t off = 0, len;
	struct rusage ru;
	char *end;
	FILE *f;
	int i;

	if (argc < 2 || argc > 3)
		return 2;
	errno = 0;
	lines = strtoull(argv[1], &end, 10);
	if (errno != 0 || end == argv[1] || *end != '\0')
		return 2;
	for (i = 0; i < PATTERN; i++)
		pattern[i] = (i % LINE == LINE - 1) ? '\n' :
		    (char)('!' + (i % LINE + i / LINE) % 94);
	for (left = lines * LINE; left > 0; left -= len) {
		len = left < CHUNK ? (size_t)left : CHUNK;
		if (write_all(pattern + off, len) < 0) {
			perror("lines: write");
			return 1;
		}
		off = (off + len) % PATTERN;
	}
	if (argc == 3) {
		if (getrusage(RUSAGE_SELF, &ru) < 0 ||
		    (f = fopen(argv[2], "w")) == NULL)
			return 1;
		fprintf(f, "%ld.%06ld %ld.%06ld\n", (long)ru.ru_utime.tv_sec,
		    (long)ru.ru_utime.tv_usec, (long)ru.ru_stime.tv_sec,
		    (long)ru.ru_stime.tv_usec);
		if (fclose(f) != 0)
			return 1;
	}
	return 0;
}
