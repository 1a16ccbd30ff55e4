/*
 * The command line: what to do, and with what.  Filled once by
 * options_parse() and read-only after that.
 */
#ifndef OPTIONS_H
#define OPTIONS_H

#include <stdbool.h>
#include <sys/types.h>

/* The most workers -n takes. */
#define WORKERS_LIMIT 1024

enum mode {
	MODE_START,		/* the default: start a daemon */
	MODE_STATUS,		/* --status */
	MODE_STOP,		/* --stop */
	MODE_SIGNAL,		/* --signal without --stop */
	MODE_NOTIFY,		/* --notify */
	MODE_HELP,		/* -h */
	MODE_VERSION		/* -V */
};

enum restart {
	RESTART_NONE,		/* no supervisor: the daemon is the command */
	RESTART_NO,		/* supervise, never restart */
	RESTART_ON_FAILURE,	/* after a signal or a non-zero status */
	RESTART_ALWAYS
};

struct options {
	enum mode mode;
	const char *pidfile;
	const char *lockfile;
	const char *dir;
	const char *out;
	const char *err;
	const char *user;
	char **env;		/* -E NAME=VALUE strings, from argv */
	int nenv;
	int env_room;		/* entries env has room for */
	mode_t umask;
	bool append;
	bool foreground;
	bool verbose;
	bool quiet;
	int wait;		/* -w: seconds to wait for readiness, or 0 */
	int ready_fd;		/* --ready-fd, or -1 */
	int signal;		/* --signal, or 0 */
	int timeout;		/* --timeout */
	enum restart restart;	/* -r, --restart; -n implies on-failure */
	int workers;		/* -n */
	int max_restarts;	/* --max-restarts: rapid failures; 0: no end */
	int min_uptime;		/* --min-uptime: seconds */
	int kill_timeout;	/* --kill-timeout: seconds */
	bool syslog;		/* -S */
	int facility;		/* -S: LOG_DAEMON, ... */
	int level;		/* -S: of standard output; errors at LOG_ERR */
	const char *tag;	/* -t, or NULL for the command's basename */
	bool timestamps;	/* -T */
	bool reopen;		/* -H */
	bool relay;		/* -S, -T or -H: the supervisor relays output */
	bool workers_set;	/* -n was given */
	bool supervise_set;	/* one of the three numbers was given */
	char **argv;		/* the command and its arguments */
};

extern const char usage_text[];
extern const char usage_status_text[];

int options_parse(struct options *o, int argc, char *argv[]);
void options_free(struct options *o);

#endif
