/*
 * Lines to the system log, through /dev/log, without syslog(3): that one
 * blocks while the log daemon does not read, and a supervisor must never
 * wait on anything but its own children and signals.
 */
#ifndef LOGSEND_H
#define LOGSEND_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

struct logsend {
	int fd;			/* our datagram socket, or -1 until used */
	int avoid;		/* where no descriptor of ours may sit */
	long retry_at;		/* no log daemon: not asked again before */
	time_t stamp_at;	/* the second stamp names */
	char stamp[20];		/* "Mmm dd hh:mm:ss " */
};

void logsend_line(struct logsend *l, int priority, const char *tag,
    pid_t pid, const char *mark, const char *text, size_t len);
int logsend_facility(const char *name, size_t len);
int logsend_level(const char *name);
bool logsend_up(const struct logsend *l);
void logsend_close(struct logsend *l);

#endif
