/*
 * Messages: one line each, "daemonize: what: why", and the failure that
 * decides the exit status.  The bottom layer: it calls nothing of ours.
 *
 * A layer that fails records why with fail() or failx() and returns -1;
 * main() prints the recorded failure once and exits with its code.  A
 * child between fork and exec sends the same record to its launcher.
 */
#ifndef MSG_H
#define MSG_H

#include <stdbool.h>
#include <stddef.h>

enum exit_code {
	EXIT_OK = 0,		/* the command runs */
	EXIT_RUNNING = 1,	/* another instance holds the lock */
	EXIT_USAGE = 2,		/* bad command line */
	EXIT_TIMEOUT = 124,	/* -w: not ready in time */
	EXIT_SELF = 125,	/* daemonize failed before the command ran */
	EXIT_NOEXEC = 126,	/* the command cannot be executed */
	EXIT_NOTFOUND = 127	/* the command was not found */
};

/* Room for one message, escapes included; longer ones are cut. */
#define MSG_MAX 1000

#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))

void msg_set_verbose(bool on);
bool msg_is_verbose(void);
void msg_set_fd(int fd);
int msg_fd(void);

void verbose(const char *fmt, ...) PRINTF_LIKE(1, 2);
void warning(const char *fmt, ...) PRINTF_LIKE(1, 2);
int fail(int code, const char *fmt, ...) PRINTF_LIKE(2, 3);
int failx(int code, const char *fmt, ...) PRINTF_LIKE(2, 3);
void fail_set(int code, const char *text);
int fail_code(void);
const char *fail_text(void);
int fail_report(void);
int write_all(int fd, const void *buf, size_t len);

#endif
