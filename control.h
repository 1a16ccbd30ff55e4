/*
 * --status, --stop and --signal: the daemon is the process that holds its
 * pidfile's lock, never just the number written in it.
 */
#ifndef CONTROL_H
#define CONTROL_H

#include <stdbool.h>

/* --status answers with the LSB codes. */
enum lsb_status {
	LSB_RUNNING = 0,
	LSB_DEAD_PIDFILE = 1,
	LSB_NOT_RUNNING = 3,
	LSB_UNKNOWN = 4
};

int control_status(const char *pidfile, bool quiet);
int control_stop(const char *pidfile, int sig, int timeout, bool quiet);
int control_signal(const char *pidfile, int sig);

#endif
