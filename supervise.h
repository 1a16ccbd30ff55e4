/*
 * -r and -n: the daemon stays, as the supervisor of its workers.  It holds
 * the pidfile's lock, starts N copies of the command, reaps every child
 * and orphan, restarts a worker that failed, forwards signals, and stops
 * them all on TERM or INT.
 */
#ifndef SUPERVISE_H
#define SUPERVISE_H

#include <stdbool.h>

#include "options.h"
#include "relay.h"
#include "spawn.h"

/*
 * PIDFILE.workers (WORKERS_SUFFIX, pidfile.h), locked by the supervisor
 * while it lives: "daemonize-workers PID KILL_MS" (the supervisor, and
 * the longest it takes to stop), then a line per worker: its number, PID
 * (0: not running), start (now_ms()), restarts, last exit (0: none,
 * CLD_EXITED, CLD_KILLED) and its status or 128+signal.  Its size: the
 * first line, and a line per worker, at most.
 */
#define WORKERS_LINE_MAX 96
#define WORKERS_SIZE(n) (64 + (size_t)(n) * WORKERS_LINE_MAX)
#define WORKERS_MAX WORKERS_SIZE(WORKERS_LIMIT)
/* After SIGKILL, how long a group may take to go before a stop goes on. */
#define SUPERVISE_KILL_WAIT_MS 5000

struct supervise_setup {
	const struct spawn_plan *plan;	/* the daemon's: locks, outputs */
	int workers;
	enum restart restart;
	int max_restarts;	/* 0: never give up */
	long min_uptime_ms;
	long kill_timeout_ms;
	int report_fd;		/* the launcher's status pipe, or -1 (-f) */
	int ready_fd;		/* --ready-fd: the launcher's pipe, or -1 */
	bool wait;		/* -w: a worker that dies unready fails it */
	bool foreground;	/* -f: events to standard error without -e */
	int piddir;		/* the pidfile's directory, or -1 */
	const char *pidname;	/* the pidfile's name in it */
	bool relay;		/* -S, -T, -H: output through us */
	struct relay_setup relaying;	/* its settings (not out, err) */
	bool reopen;		/* -H: HUP opens -o and -e again */
};

int supervise_block_signals(void);
int supervise(const struct supervise_setup *s);

#endif
