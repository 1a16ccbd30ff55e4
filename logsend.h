/*
 * Lines to the system log, through /dev/log, without syslog(3): that one
 * blocks while the log daemon does not read, and a supervisor must never
 * wait on anything but its own children and signals.
 */
#ifndef LOGSEND_H
#define LOGSEND_H

#include <sys/types.h>

struct logsend {
	int fd;			/* our datagram socket, or -1 until used */
	int avoid;		/* where no descriptor of ours may sit */
	long retry_at;		/* no log daemon: not asked again before */
};

void logsend_line(struct logsend *l, int priority, pid_t pid,
    const char *text);
void logsend_close(struct logsend *l);

#endif
