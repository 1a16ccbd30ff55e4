/*
 * floor: the smallest correct daemon launcher, the yardstick for make bench.
 *
 *	floor PIDFILE COMMAND [ARG]...
 *
 * fork, setsid, fork; chdir, umask, /dev/null on 0-2, close_range, pidfile;
 * a close-on-exec status pipe so the launcher returns once COMMAND has been
 * exec'd, and fails if it was not.  No signal reset, no lock, no checks
 * beyond what correctness needs.
 */
#define _GNU_SOURCE

#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

/* Tells the launcher through the pipe that the start failed. */
static void
fail(int fd, int code)
{
	ssize_t n = write(fd, "x", 1);

	(void)n;
	_exit(code);
}

int
main(int argc, char *argv[])
{
	char buf[24];
	int fd, len, report[2], status;
	pid_t pid;

	if (argc < 3)
		return 2;
	syscall(SYS_close_range, 3U, ~0U, 0U);
	if (pipe2(report, O_CLOEXEC) == -1 || (pid = fork()) == -1)
		return 125;
	if (pid > 0) {
		close(report[1]);
		waitpid(pid, &status, 0);
		return read(report[0], buf, 1) == 0 ? 0 : 125;
	}
	if (setsid() == -1 || (pid = fork()) == -1)
		fail(report[1], 125);
	if (pid > 0)
		_exit(0);
	umask(022);
	fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	len = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (fd == -1 || write(fd, buf, (size_t)len) != len || chdir("/") == -1)
		fail(report[1], 125);
	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (fd == -1 || dup2(fd, 0) == -1 || dup2(fd, 1) == -1 ||
	    dup2(fd, 2) == -1)
		fail(report[1], 125);
	execvp(argv[2], argv + 2);
	fail(report[1], 127);
}
