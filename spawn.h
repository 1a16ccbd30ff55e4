/*
 * The child side of every start: a plan, prepared by the parent, applied
 * with bare system calls between fork and exec.  A failure on the way is
 * sent to the parent as one fixed-size record, so the parent can tell the
 * child's PID from its failure, and a message from a lost byte.
 */
#ifndef SPAWN_H
#define SPAWN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "creds.h"
#include "msg.h"

enum report_type {
	REPORT_PID = 1,		/* the middle process: the daemon's PID */
	REPORT_FAIL = 2		/* a child failed: its exit status, why, and
				   its PID if the pidfile may hold it */
};

/* Written in one write(2), well under PIPE_BUF, so never split. */
struct report {
	int32_t type;
	int32_t code;
	int64_t pid;
	char text[MSG_MAX];
};

struct spawn_plan {
	const char *path;	/* absolute */
	char *const *argv;
	const char *dir;	/* the working directory */
	mode_t umask;
	const struct creds *creds;	/* NULL: stay who we are */
	bool keep_root;		/* -f: root stays in the saved user ID */
	int devnull;		/* checked to be the null device */
	const char *out;	/* files for standard output and error, opened */
	const char *err;	/* as the user, or NULL for devnull */
	bool append;
	bool keep_stdio;	/* -f: a stream without a file stays as it is */
	int ready_fd;		/* to place at ready_target, or -1 */
	int ready_target;
	int locks[2];		/* locked files, kept across exec, or -1 */
	const char *lock_names[2];
	int avoid;		/* ready_target, where no descriptor of ours
				   may sit, or -1 */
	int report_fd;		/* where a failure goes; -1: returned */
};

int spawn_detach(const struct spawn_plan *p);
int spawn_exec(const struct spawn_plan *p);
_Noreturn void spawn_fail(const struct spawn_plan *p);
int report_send(int fd, enum report_type type, int code, pid_t pid,
    const char *text);
int report_receive(int fd, struct report *r);

#endif
