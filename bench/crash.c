/*
 * crash: a worker that dies at once, for the crash loop of bench/soak.sh.
 *
 *	crash COUNTFILE [HOLD]...
 *
 * Appends its PID to COUNTFILE as one 8-byte record ("%7ld\n", with
 * O_APPEND, so the file's size counts the runs exactly), then kills itself
 * with SIGKILL.  The run whose record is number HOLD (from 1) waits in
 * pause() instead, until bench/soak.sh has looked at the supervisor and
 * kills it.  Built static: each restart then costs the supervisor's fork
 * and an exec with no dynamic loader.
 */
#define _GNU_SOURCE

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define RECORD 8

int
main(int argc, char *argv[])
{
	char rec[24];
	off_t end;
	long n;
	int fd, i;

	if (argc < 2)
		return 2;
	fd = open(argv[1], O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	/* PIDs are at most 4194304 (PID_MAX_LIMIT): 7 digits. */
	if (fd == -1 || snprintf(rec, sizeof(rec), "%7ld\n",
	    (long)getpid()) != RECORD || write(fd, rec, RECORD) != RECORD ||
	    (end = lseek(fd, 0, SEEK_CUR)) == -1)
		return 125;
	n = (long)(end / RECORD);
	for (i = 2; i < argc; i++)
		if (atol(argv[i]) == n)
			for (;;)
				pause();
	kill(getpid(), SIGKILL);
	return 1;
}
