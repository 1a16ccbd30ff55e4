/*
 * Readiness: -w makes the launcher return only once the daemon says it is
 * ready, by the sd_notify protocol (a datagram "READY=1" to $NOTIFY_SOCKET)
 * or by the s6 one (a newline on the descriptor --ready-fd names).  Also
 * the --notify client, for daemons written as shell scripts.
 */
#ifndef READY_H
#define READY_H

#include <stdbool.h>
#include <sys/types.h>

struct ready {
	int fd;			/* what the launcher reads: the notify socket
				   or the pipe's read end; -1 without -w */
	int write_fd;		/* --ready-fd: the pipe's write end */
	bool is_pipe;
};

enum ready_state {
	READY_ERROR = -1,
	READY_NOT_YET = 0,
	READY_YES = 1,
	READY_CLOSED = 2	/* the pipe's writers are gone unready */
};

int ready_open(struct ready *r, int ready_fd, int avoid);
enum ready_state ready_read(const struct ready *r, pid_t pid, pid_t sid);
enum ready_state ready_read_pipe(int fd);
int notify_send(char *const lines[]);
ssize_t ready_receive(int fd, pid_t *sender, char *buf, size_t size);
void ready_drop(int fd);
bool ready_has_line(const char *text, const char *want);
const char *ready_find_line(const char *text, const char *prefix,
    size_t *len);
int ready_forward(const char *name, const char *text, size_t len);

#endif
