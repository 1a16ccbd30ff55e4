/*
 * copy: the floor of a log relay, for the relay rows of make bench.
 *
 *	copy [-s]
 *
 * Its standard input is a pipe, which it grows to 1 MiB, as the relay
 * grows the pipe of a fast writer.  It appends what the pipe holds to its
 * standard output, a file, which it sets to O_APPEND as the relay's files
 * are: a read of up to 1 MiB, then one write of it.  It looks at nothing it
 * copies.  With -s it moves the pipe's pages into the file with splice(2)
 * instead, which the kernel refuses for a file in O_APPEND: as little as
 * any relay can do, and more than ours may.
 * Exits 1 if a read, write or splice fails, 2 on a usage error.
 */
#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SIZE (1024 * 1024)

static int
copy(void)
{
	static char buf[SIZE];
	ssize_t n;

	if (fcntl(STDOUT_FILENO, F_SETFL, O_APPEND) < 0)
		return -1;
	while ((n = read(STDIN_FILENO, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		/* A file takes all of a write, or fails (a full disk). */
		if (write(STDOUT_FILENO, buf, (size_t)n) != n)
			return -1;
	}
	return 0;
}

static int
move(void)
{
	ssize_t n;

	while ((n = splice(STDIN_FILENO, NULL, STDOUT_FILENO, NULL, SIZE,
	    0)) != 0)
		if (n < 0 && errno != EINTR)
			return -1;
	return 0;
}

int
main(int argc, char *argv[])
{
	int spliced = argc == 2 && strcmp(argv[1], "-s") == 0;

	if (argc > 2 || (argc == 2 && !spliced))
		return 2;
	(void)fcntl(STDIN_FILENO, F_SETPIPE_SZ, SIZE);
	if ((spliced ? move() : copy()) < 0) {
		perror(spliced ? "copy: splice" : "copy");
		return 1;
	}
	return 0;
}
