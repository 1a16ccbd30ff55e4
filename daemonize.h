/*
 * What the parts of daemonize share: exit statuses and messages.
 */
#ifndef DAEMONIZE_H
#define DAEMONIZE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

enum exit_code {
	EXIT_OK = 0,		/* the command runs */
	EXIT_RUNNING = 1,	/* another instance holds the lock */
	EXIT_USAGE = 2,		/* bad command line */
	EXIT_TIMEOUT = 124,	/* --wait: not ready in time */
	EXIT_SELF = 125,	/* daemonize failed before the command ran */
	EXIT_NOEXEC = 126,	/* the command cannot be executed */
	EXIT_NOTFOUND = 127	/* the command was not found */
};

/* --status answers with the LSB codes. */
enum lsb_status {
	LSB_RUNNING = 0,
	LSB_DEAD_PIDFILE = 1,
	LSB_NOT_RUNNING = 3,
	LSB_UNKNOWN = 4
};

#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))

_Noreturn void die(int, const char *, ...) PRINTF_LIKE(2, 3);
_Noreturn void diex(int, const char *, ...) PRINTF_LIKE(2, 3);
void errorx(const char *, ...) PRINTF_LIKE(1, 2);
void verbose(const char *, ...) PRINTF_LIKE(1, 2);

/* control.c: --status, --stop and --signal. */
int status_daemon(const char *pidfile, bool quiet);
int stop_daemon(const char *pidfile, int sig, int timeout, bool quiet);
int signal_daemon(const char *pidfile, int sig);
int stop_process(pid_t pid, int sig, int timeout);
int parse_signal(const char *name);
int open_pidfd(pid_t pid);
const char *proc_stat(pid_t pid, char *buf, size_t size);

/* ready.c: -w, --ready-fd and --notify. */
struct ready {
	int fd;			/* the notify socket or the ready pipe */
	int sigfd;		/* the signals that interrupt, or -1 */
	bool is_pipe;		/* --ready-fd */
};
int ready_open(int ready_fd);
int ready_catch(void);
void ready_keep(int ready_fd);
void ready_wait_report(int fd, int sigfd, pid_t pid, const char *pidfile);
_Noreturn void ready_wait(const struct ready *r, pid_t pid, pid_t sid,
    int secs, const char *pidfile);
int notify_send(char *const lines[]);

#endif
