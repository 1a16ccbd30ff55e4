/*
 * The child side of every start: a plan, prepared by the parent, applied
 * with bare system calls between fork and exec.  The child's PID, its -v
 * lines and a failure on the way go to the parent as records (msg.h).
 */
#ifndef SPAWN_H
#define SPAWN_H

#include <stdbool.h>
#include <sys/types.h>

#include "creds.h"
#include "msg.h"

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
	int out_fd, err_fd;	/* opened already (a supervisor's), or -1 */
	bool append;
	bool keep_stdio;	/* -f: a stream without a file stays as it is */
	bool stdio_null;	/* 0 to 2 are /dev/null already */
	int ready_fd;		/* to place at ready_target, or -1 */
	int ready_target;
	int locks[2];		/* locked files, kept across exec, or -1 */
	const char *lock_names[2];
	int avoid;		/* ready_target, where no descriptor of ours
				   may sit, or -1 */
	int report_fd;		/* where a failure goes; -1: returned */
	pid_t parent;		/* a worker: dies with this supervisor */
};

pid_t spawn_detach(const struct spawn_plan *p);
int spawn_null_stdio(struct spawn_plan *p);
int spawn_check_streams(const struct spawn_plan *p);
int spawn_open_outputs(const struct spawn_plan *p, int *out, int *err);
int spawn_exec(const struct spawn_plan *p);
_Noreturn void spawn_fail(const struct spawn_plan *p);

#endif
