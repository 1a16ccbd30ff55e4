/*
 * timer: times launches of several commands, interleaved, so that drift in
 * the machine's speed falls on all of them alike.
 *
 *	timer [-n runs] [-w warmups] [-p prepare] command ...
 *
 * Each command is one argument, split at spaces; one that starts with
 * "sh -c " is given to sh whole.  Before every launch, timed or not, the
 * shell command prepare runs (untimed) to clean up the last one.  A launch
 * is timed from just before posix_spawn to the launcher's exit, with its
 * standard streams on /dev/null.  Prints, per command and in order, the
 * median and the first and third quartiles, in milliseconds.
 */
#define _POSIX_C_SOURCE 200809L

#include <sys/wait.h>

#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAXARGS 64

extern char **environ;

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void
split(char *cmd, char **argv)
{
	static char sh[] = "sh", dash_c[] = "-c";
	int n = 0;

	if (strncmp(cmd, "sh -c ", 6) == 0) {
		argv[0] = sh;
		argv[1] = dash_c;
		argv[2] = cmd + 6;
		argv[3] = NULL;
		return;
	}
	for (argv[n] = strtok(cmd, " "); argv[n] != NULL && n < MAXARGS - 1;)
		argv[++n] = strtok(NULL, " ");
	argv[n] = NULL;
}

static double
launch(char **argv, const posix_spawn_file_actions_t *fa)
{
	double t0;
	pid_t pid;
	int status;

	t0 = now_ms();
	if (posix_spawnp(&pid, argv[0], fa, NULL, argv, environ) != 0) {
		perror("timer: spawn");
		exit(1);
	}
	waitpid(pid, &status, 0);
	return now_ms() - t0;
}

static int
compare(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int
main(int argc, char *argv[])
{
	posix_spawn_file_actions_t fa;
	const char *prepare = NULL;
	char *(*args)[MAXARGS];
	double *t, *tc, elapsed;
	int c, n, r, runs = 100, warm = 5;

	while ((c = getopt(argc, argv, "n:p:w:")) != -1) {
		if (c == 'n')
			runs = atoi(optarg);
		else if (c == 'w')
			warm = atoi(optarg);
		else if (c == 'p')
			prepare = optarg;
		else
			return 2;
	}
	n = argc - optind;
	if (n < 1 || runs < 1)
		return 2;
	args = calloc((size_t)n, sizeof(*args));
	t = calloc((size_t)n * (size_t)runs, sizeof(*t));
	if (args == NULL || t == NULL)
		return 1;
	for (c = 0; c < n; c++)
		split(argv[optind + c], args[c]);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	for (r = -warm; r < runs; r++)
		for (c = 0; c < n; c++) {
			if (prepare != NULL && system(prepare) != 0) {
				fprintf(stderr, "timer: prepare failed\n");
				return 1;
			}
			elapsed = launch(args[c], &fa);
			if (r >= 0)
				t[c * runs + r] = elapsed;
		}
	for (c = 0; c < n; c++) {
		tc = t + c * runs;
		qsort(tc, (size_t)runs, sizeof(*tc), compare);
		printf("%.3f %.3f %.3f\n", tc[runs / 2], tc[runs / 4],
		    tc[(3 * runs) / 4]);
	}
	return 0;
}
