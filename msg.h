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
#include <stdint.h>

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
void msg_set_fd(int fd);

void verbose(const char *fmt, ...) PRINTF_LIKE(1, 2);
void warning(const char *fmt, ...) PRINTF_LIKE(1, 2);
int msg_out(const char *fmt, ...) PRINTF_LIKE(1, 2);
int fail(int code, const char *fmt, ...) PRINTF_LIKE(2, 3);
int failx(int code, const char *fmt, ...) PRINTF_LIKE(2, 3);
void fail_set(int code, const char *text);
int fail_code(void);
const char *fail_text(void);
int fail_report(void);
int write_all(int fd, const void *buf, size_t len);

/*
 * A child between fork and exec talks to its parent in records on a pipe:
 * fixed-size, each in one write(2) well under PIPE_BUF, so never split nor
 * mixed, and the parent can tell a PID from a message from a lost byte.
 */
enum report_type {
	REPORT_PID = 1,		/* the daemon's PID, first */
	REPORT_FAIL = 2,	/* it failed: its exit status, why, and its
				   PID if the pidfile may hold it */
	REPORT_VERBOSE = 3,	/* a -v line, for the parent to print */
	REPORT_RUNNING = 4	/* a supervisor's workers have all exec'd */
};

struct report {
	int32_t type;
	int32_t code;
	int64_t pid;
	char text[MSG_MAX];
};

void msg_to_pipe(int fd);
void msg_print(const char *text);
int report_send(int fd, enum report_type type, int code, long pid,
    const char *text);
int report_receive(int fd, struct report *r);

#endif
