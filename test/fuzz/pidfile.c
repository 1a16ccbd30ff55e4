/*
 * libFuzzer harness: what a pidfile holds.  The input is the file's
 * bytes.  What pidfile.c makes of them, from memory (pidfile_parse) and
 * read from a real file (a memfd), must be what the manual says (FILES): empty, a PID (decimal digits from
 * 1 to the largest pid_t, a newline after them or not, nothing else), or
 * something else, which is refused.  And a PID that pidfile_write() puts
 * in a file reads back as itself.
 */
#include <sys/mman.h>

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../msg.h"
#include "../../pidfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The manual's word on the bytes: 0 empty, -1 no PID, else the PID. */
static long
model(const uint8_t *data, size_t size)
{
	size_t i, digits = size;
	long pid = 0;

	if (size == 0)
		return 0;
	if (data[size - 1] == '\n')
		digits--;
	if (digits == 0 || size > PIDFILE_MAX)
		return -1;
	for (i = 0; i < digits; i++) {
		if (data[i] < '0' || data[i] > '9')
			return -1;
		/* PIDFILE_MAX digits do not overflow a long: stop early. */
		if (pid <= INT_MAX)
			pid = pid * 10 + (data[i] - '0');
	}
	return pid >= 1 && pid <= INT_MAX ? pid : -1;
}

/* A file holding data: a memfd, closed by the caller. */
static int
file_of(const uint8_t *data, size_t size)
{
	int fd = memfd_create("pidfile", MFD_CLOEXEC);

	if (fd == -1 || write_all(fd, data, size) == -1)
		abort();
	return fd;
}

/* A PID from the input, for the round trip. */
static pid_t
some_pid(const uint8_t *data, size_t size)
{
	uint32_t v = 0;

	memcpy(&v, data, size < sizeof(v) ? size : sizeof(v));
	return (pid_t)(v % INT_MAX) + 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	long want = model(data, size);
	char back[PIDFILE_MAX + 1];
	pid_t pid;
	ssize_t n;
	int fd;

	if (pidfile_parse((const char *)data, size) != want)
		abort();
	fd = file_of(data, size);
	if (pidfile_check(fd) != (want == -1 ? -1 : 0))
		abort();
	pid = want > 0 ? (pid_t)want : some_pid(data, size);
	if (pidfile_write(fd, pid) == -1 || pidfile_check(fd) != 0)
		abort();
	n = pread(fd, back, sizeof(back), 0);
	if (n <= 0 || model((const uint8_t *)back, (size_t)n) != pid)
		abort();
	(void)close(fd);
	return 0;
}
