/*
 * The command line, read with getopt_long(3): options end at the first
 * argument that is not one, so the command keeps its own options.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "fmt.h"
#include "logsend.h"
#include "msg.h"
#include "options.h"
#include "proc.h"

#define DEFAULT_WAIT 60
#define DEFAULT_TIMEOUT 10
#define DEFAULT_MAX_RESTARTS 10
#define DEFAULT_MIN_UPTIME 10
#define DEFAULT_KILL_TIMEOUT 10

/* Long options without a letter. */
enum {
	OPT_NOTIFY = 256,
	OPT_READY_FD,
	OPT_SIGNAL,
	OPT_STATUS,
	OPT_STOP,
	OPT_TIMEOUT,
	OPT_MAX_RESTARTS,
	OPT_MIN_UPTIME,
	OPT_KILL_TIMEOUT
};

static const struct option longopts[] = {
	{ "append",	no_argument,		NULL, 'a' },
	{ "chdir",	required_argument,	NULL, 'c' },
	{ "env",	required_argument,	NULL, 'E' },
	{ "stderr",	required_argument,	NULL, 'e' },
	{ "foreground",	no_argument,		NULL, 'f' },
	{ "help",	no_argument,		NULL, 'h' },
	{ "reopen",	no_argument,		NULL, 'H' },
	{ "lockfile",	required_argument,	NULL, 'l' },
	{ "umask",	required_argument,	NULL, 'm' },
	{ "stdout",	required_argument,	NULL, 'o' },
	{ "workers",	required_argument,	NULL, 'n' },
	{ "pidfile",	required_argument,	NULL, 'p' },
	{ "quiet",	no_argument,		NULL, 'q' },
	{ "restart",	optional_argument,	NULL, 'r' },
	{ "syslog",	optional_argument,	NULL, 'S' },
	{ "tag",	required_argument,	NULL, 't' },
	{ "timestamps",	no_argument,		NULL, 'T' },
	{ "user",	required_argument,	NULL, 'u' },
	{ "verbose",	no_argument,		NULL, 'v' },
	{ "version",	no_argument,		NULL, 'V' },
	{ "wait",	optional_argument,	NULL, 'w' },
	{ "notify",	no_argument,		NULL, OPT_NOTIFY },
	{ "ready-fd",	required_argument,	NULL, OPT_READY_FD },
	{ "signal",	required_argument,	NULL, OPT_SIGNAL },
	{ "status",	no_argument,		NULL, OPT_STATUS },
	{ "stop",	no_argument,		NULL, OPT_STOP },
	{ "timeout",	required_argument,	NULL, OPT_TIMEOUT },
	{ "max-restarts", required_argument,	NULL, OPT_MAX_RESTARTS },
	{ "min-uptime",	required_argument,	NULL, OPT_MIN_UPTIME },
	{ "kill-timeout", required_argument,	NULL, OPT_KILL_TIMEOUT },
	{ NULL,		0,			NULL, 0 }
};

static int take_option(struct options *, int, char *);
static int take_long_option(struct options *, int, char *);
static int take_path(const char **, const char *, char *);
static int take_user(struct options *, char *);
static int take_restart(struct options *, const char *);
static int take_supervise_option(struct options *, int, const char *);
static int check_supervise(struct options *);
static int take_syslog(struct options *, const char *);
static int take_tag(struct options *, char *);
static int check_relay(struct options *);
static int bad_option(int, const char *);
static int match_long(const char *, size_t, const struct option **);
static int check_mode(struct options *);
static int parse_uint(const char *, const char *, int, int);
static int parse_umask(const char *, mode_t *);
static int add_env(struct options *, char *);
static int usage_error(const char *, ...) PRINTF_LIKE(1, 2);

const char usage_text[] =
"usage: daemonize [-afHhqrTvV] [-c dir] [-E name=value] [-e file]\n"
"                 [-l lockfile] [-m umask] [-n workers] [-o file] [-p pidfile]\n"
"                 [-S[facility[.level]]] [-t tag] [-u user[:group]] [-w[secs]]\n"
"                 [--ready-fd=n] [--restart[=when]] [--max-restarts=n]\n"
"                 [--min-uptime=secs] [--kill-timeout=secs]\n"
"                 [--] command [arg ...]\n"
"       daemonize --status [-q] -p pidfile\n"
"       daemonize --stop [-q] [--signal=sig] [--timeout=secs] -p pidfile\n"
"       daemonize --signal=sig -p pidfile\n"
"       daemonize --notify [line ...]\n"
"\n"
"Run command as a Unix daemon: detached from the terminal, in a session of\n"
"its own, with a clean process state.  Return once command runs.\n"
"\n"
"  -a, --append              append to the -o and -e files, do not truncate\n"
"  -c, --chdir=DIR           working directory (default /)\n"
"  -E, --env=NAME=VALUE      set a variable for command (repeatable)\n"
"  -e, --stderr=FILE         standard error to FILE (default /dev/null)\n"
"  -f, --foreground          do not fork: exec command (-r, -n: supervise)\n"
"                            in this process\n"
"  -H, --reopen              SIGHUP reopens the -o and -e files (rotation)\n"
"                            instead of going to command\n"
"  -h, --help                show this help and exit\n"
"  -l, --lockfile=FILE       hold a lock on FILE while command runs\n"
"  -m, --umask=MODE          octal file creation mask (default 022)\n"
"  -n, --workers=N           run N copies of command, each with\n"
"                            DAEMONIZE_WORKER=0..N-1 (implies -r)\n"
"  -o, --stdout=FILE         standard output to FILE (default /dev/null);\n"
"                            -o and -e may not name the pidfile or lockfile\n"
"  -p, --pidfile=FILE        write command's PID to FILE and hold its lock;\n"
"                            a FILE holding anything but a PID is refused\n"
"  -q, --quiet               --status and --stop print nothing\n"
"  -r, --restart[=WHEN]      the daemon is a supervisor that restarts command\n"
"                            on-failure (the default), always, or no\n"
"  -S, --syslog[=FACILITY[.LEVEL]]\n"
"                            command's stdout to syslog at FACILITY.LEVEL,\n"
"                            stderr at FACILITY.err (default daemon.notice)\n"
"  -T, --timestamps          begin each -o and -e line with the local time\n"
"  -t, --tag=TAG             syslog tag of -S (default: command's name)\n"
"  -u, --user=USER[:GROUP]   run command as USER (root only); -o and -e are\n"
"                            opened as USER; a supervisor keeps root\n"
"  -v, --verbose             report each step on standard error\n"
"  -V, --version             show the version and exit\n"
"  -w, --wait[=SECS]         return once command is ready (sd_notify READY=1\n"
"                            to $NOTIFY_SOCKET), within SECS (default 60)\n"
"      --ready-fd=N          with -w: wait for a newline on fd N instead\n"
"      --notify [LINE ...]   send LINEs (default READY=1) to $NOTIFY_SOCKET\n"
"      --signal=SIG          send SIG to the daemon of -p (--stop: first)\n"
"      --status              is the daemon of -p running? (LSB 0, 1, 3, 4);\n"
"                            a supervisor adds a line per worker\n"
"      --stop                stop the daemon of -p: SIG or TERM, then KILL;\n"
"                            remove its pidfile if it holds a PID\n"
"      --timeout=SECS        --stop waits SECS before KILL (default 10); a\n"
"                            supervisor gets its --kill-timeout and 6 more\n"
"      --max-restarts=N      -r, -n: give up after N+1 rapid failures in a row\n"
"                            (default 10; 0: never give up)\n"
"      --min-uptime=SECS     -r, -n: a shorter run is a rapid failure\n"
"                            (default 10)\n"
"      --kill-timeout=SECS   -r, -n: TERM, then KILL after SECS, for a stop and\n"
"                            for what a dead worker left (default 10)\n"
"\n";

/* Apart, since C11 promises string literals of 4095 bytes only. */
const char usage_status_text[] =
"Exit status:\n"
"    0  command runs (is ready, with -w)\n"
"    1  another instance holds the pidfile or lockfile\n"
"    2  usage error, or -o or -e names the pidfile or lockfile\n"
"  124  -w: command was not ready in time, and was stopped\n"
"  125  daemonize failed before command ran\n"
"  126  command cannot be executed\n"
"  127  command not found\n"
"With -w, a command that exits before it is ready gives its own status\n"
"(128+N for signal N); a signal N to daemonize stops it and exits 128+N.\n"
"A supervisor (-r, -n; its exit status with -f) exits 0 when stopped by TERM\n"
"or INT or when no worker is left to restart, else with the status of the\n"
"worker that failed (128+N for signal N).\n"
"--status exits 0 running, 1 not running but pidfile left, 3 not running,\n"
"4 unknown; --stop exits 0 once stopped or not running, 1 if it cannot stop.\n";

/* Fills *o from the command line; -1 with a usage failure recorded. */
int
options_parse(struct options *o, int argc, char *argv[])
{
	const char *cur;
	int c;

	*o = (struct options){ .umask = 022, .ready_fd = -1,
	    .timeout = DEFAULT_TIMEOUT, .workers = 1,
	    .max_restarts = DEFAULT_MAX_RESTARTS,
	    .min_uptime = DEFAULT_MIN_UPTIME,
	    .kill_timeout = DEFAULT_KILL_TIMEOUT };
	opterr = 0;
	for (;;) {
		/* The argument being read, for messages: never argv[optind]
		 * after the call, which musl leaves past the end. */
		cur = optind < argc ? argv[optind] : NULL;
		c = getopt_long(argc, argv, "+:ac:E:e:fHhl:m:n:o:p:qrS::Tt:u:vVw::",
		    longopts, NULL);
		if (c == -1)
			break;
		if (c == '?' || c == ':')
			return bad_option(c, cur);
		if (take_option(o, c, optarg) == -1)
			return -1;
		if (o->mode == MODE_HELP || o->mode == MODE_VERSION)
			return 0;
	}
	o->argv = argv + optind;
	msg_set_verbose(o->verbose);
	return check_mode(o);
}

/* Takes one option letter and its argument. */
static int
take_option(struct options *o, int c, char *arg)
{
	switch (c) {
	case 'a': o->append = true; return 0;
	case 'c': return take_path(&o->dir, "-c", arg);
	case 'E': return add_env(o, arg);
	case 'e': return take_path(&o->err, "-e", arg);
	case 'f': o->foreground = true; return 0;
	case 'H': o->reopen = true; return 0;
	case 'h': o->mode = MODE_HELP; return 0;
	case 'l': return take_path(&o->lockfile, "-l", arg);
	case 'm': return parse_umask(arg, &o->umask);
	case 'n': return take_supervise_option(o, c, arg);
	case 'o': return take_path(&o->out, "-o", arg);
	case 'p': return take_path(&o->pidfile, "-p", arg);
	case 'q': o->quiet = true; return 0;
	case 'r': return take_restart(o, arg);
	case 'S': return take_syslog(o, arg);
	case 'T': o->timestamps = true; return 0;
	case 't': return take_tag(o, arg);
	case 'u': return take_user(o, arg);
	case 'v': o->verbose = true; return 0;
	case 'V': o->mode = MODE_VERSION; return 0;
	case 'w':
		o->wait = arg != NULL ? parse_uint("-w", arg, 1, 86400) :
		    DEFAULT_WAIT;
		return o->wait == -1 ? -1 : 0;
	default:
		return take_long_option(o, c, arg);
	}
}

/* Takes one option that has no letter, and its argument. */
static int
take_long_option(struct options *o, int c, char *arg)
{
	switch (c) {
	case OPT_NOTIFY:
		o->mode = MODE_NOTIFY;
		return 0;
	case OPT_READY_FD:
		o->ready_fd = parse_uint("--ready-fd", arg, 3, 1023);
		return o->ready_fd == -1 ? -1 : 0;
	case OPT_SIGNAL:
		o->signal = signal_by_name(arg);
		if (o->signal == -1)
			return usage_error("option --signal: unknown signal "
			    "'%s'", arg);
		return 0;
	case OPT_STATUS:
		o->mode = MODE_STATUS;
		return 0;
	case OPT_STOP:
		o->mode = MODE_STOP;
		return 0;
	case OPT_MAX_RESTARTS:
	case OPT_MIN_UPTIME:
	case OPT_KILL_TIMEOUT:
		return take_supervise_option(o, c, arg);
	default:	/* OPT_TIMEOUT */
		o->timeout = parse_uint("--timeout", arg, 0, 86400);
		return o->timeout == -1 ? -1 : 0;
	}
}

/* A path or name: an empty one names nothing, and is a mistake. */
static int
take_path(const char **to, const char *opt, char *arg)
{
	if (arg[0] == '\0')
		return usage_error("option %s wants a name, not an empty "
		    "string", opt);
	*to = arg;
	return 0;
}

/* USER or USER:GROUP, neither name empty. */
static int
take_user(struct options *o, char *arg)
{
	const char *colon = strchr(arg, ':');

	if (arg[0] == '\0' || arg[0] == ':' ||
	    (colon != NULL && colon[1] == '\0'))
		return usage_error("option -u wants USER or USER:GROUP, not "
		    "'%s'", arg);
	o->user = arg;
	return 0;
}

/* -r, --restart[=no|on-failure|always]; bare: on-failure. */
static int
take_restart(struct options *o, const char *arg)
{
	static const char *const words[] = { "no", "on-failure", "always" };
	size_t i;

	if (arg == NULL) {
		o->restart = RESTART_ON_FAILURE;
		return 0;
	}
	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strcmp(arg, words[i]) == 0) {
			o->restart = (enum restart)(RESTART_NO + (int)i);
			return 0;
		}
	return usage_error("option --restart wants no, on-failure or always, "
	    "not '%s'", arg);
}

/* -S, --syslog[=FACILITY[.LEVEL]]: daemon.notice by default. */
static int
take_syslog(struct options *o, const char *arg)
{
	const char *dot = arg != NULL ? strchr(arg, '.') : NULL;
	size_t len = arg == NULL ? 0 : dot != NULL ? (size_t)(dot - arg) :
	    strlen(arg);

	o->syslog = true;
	o->facility = LOG_DAEMON;
	o->level = LOG_NOTICE;
	if (arg == NULL)
		return 0;
	o->facility = logsend_facility(arg, len);
	if (dot != NULL)
		o->level = logsend_level(dot + 1);
	if (o->facility == -1 || o->level == -1)
		return usage_error("option -S wants FACILITY[.LEVEL]: auth, "
		    "authpriv, cron, daemon, ftp, lpr, mail, news, syslog, "
		    "user, uucp or local0 to local7, then emerg, alert, crit, "
		    "err, warning, notice, info or debug; not '%s'", arg);
	return 0;
}

/* -t: a syslog tag is one word of printable bytes, or a log reads wrong. */
static int
take_tag(struct options *o, char *arg)
{
	const unsigned char *c;

	for (c = (const unsigned char *)arg; *c != '\0'; c++)
		if (*c <= ' ' || *c == 0x7f)
			return usage_error("option -t wants a tag of printable "
			    "characters without spaces, not '%s'", arg);
	return take_path(&o->tag, "-t", arg);
}

/* -n and the numbers that tune a supervisor. */
static int
take_supervise_option(struct options *o, int c, const char *arg)
{
	int *to;
	const char *name;
	int min = 0, max = 86400;

	if (c == 'n') {
		to = &o->workers;
		name = "-n";
		min = 1;
		max = WORKERS_LIMIT;
	} else if (c == OPT_MAX_RESTARTS) {
		to = &o->max_restarts;
		name = "--max-restarts";
		max = 1000000;
	} else {
		to = c == OPT_MIN_UPTIME ? &o->min_uptime : &o->kill_timeout;
		name = c == OPT_MIN_UPTIME ? "--min-uptime" : "--kill-timeout";
	}
	*to = parse_uint(name, arg, min, max);
	if (c == 'n')
		o->workers_set = true;
	else
		o->supervise_set = true;
	return *to == -1 ? -1 : 0;
}

/* Says what was wrong with argument cur, which getopt refused as c. */
static int
bad_option(int c, const char *cur)
{
	const struct option *lo = NULL;
	const char *eq;
	size_t len;
	int n;

	if (cur == NULL || strncmp(cur, "--", 2) != 0) {
		if (c == ':')
			return usage_error("option -%c needs an argument",
			    optopt);
		if (optopt > ' ' && optopt < 127)
			return usage_error("unknown option -%c", optopt);
		return usage_error("unknown option %s", cur ? cur : "");
	}
	eq = strchr(cur, '=');
	len = eq != NULL ? (size_t)(eq - cur) : strlen(cur);
	if (len == 2)
		return usage_error("unknown option %s", cur);
	n = match_long(cur + 2, len - 2, &lo);
	if (c == ':' && n == 1)
		return usage_error("option --%s needs an argument", lo->name);
	if (n == 1 && eq != NULL && lo->has_arg == no_argument)
		return usage_error("option --%s takes no argument", lo->name);
	if (n > 1)
		return usage_error("option %.*s is ambiguous", (int)len, cur);
	return usage_error("unknown option %.*s", (int)len, cur);
}

/*
 * How many long options name (len bytes) spells or abbreviates, as
 * getopt_long takes it: an exact match counts alone.  *found: the last.
 */
static int
match_long(const char *name, size_t len, const struct option **found)
{
	const struct option *lo;
	int n = 0;

	for (lo = longopts; lo->name != NULL; lo++) {
		if (strncmp(lo->name, name, len) != 0)
			continue;
		*found = lo;
		if (strlen(lo->name) == len)
			return 1;
		n++;
	}
	return n;
}

void
options_free(struct options *o)
{
	free(o->env);
	o->env = NULL;
	o->nenv = o->env_room = 0;
}

/* Checks that the options fit together, and the command if one is due. */
static int
check_mode(struct options *o)
{
	if (o->signal != 0 && o->mode == MODE_START)
		o->mode = MODE_SIGNAL;
	if (o->mode == MODE_NOTIFY)
		return 0;
	if (o->mode != MODE_START) {
		if (o->pidfile == NULL)
			return usage_error("--status, --stop and --signal "
			    "need -p");
		if (o->argv[0] != NULL)
			return usage_error("--status, --stop and --signal "
			    "take no command");
		return 0;
	}
	if (o->ready_fd != -1 && o->wait == 0)
		o->wait = DEFAULT_WAIT;
	if (o->wait != 0 && o->foreground)
		return usage_error("-w and --ready-fd do not go with -f");
	if (check_relay(o) == -1 || check_supervise(o) == -1)
		return -1;
	if (o->argv[0] == NULL)
		return usage_error("no command given");
	if (o->argv[0][0] == '\0')
		return usage_error("the command is an empty string");
	return 0;
}

/* -n implies -r; the numbers that tune a supervisor need one. */
static int
check_supervise(struct options *o)
{
	if (o->workers_set && o->restart == RESTART_NONE)
		o->restart = RESTART_ON_FAILURE;
	if (o->supervise_set && o->restart == RESTART_NONE)
		return usage_error("--max-restarts, --min-uptime and "
		    "--kill-timeout need a supervisor: -r, -n, -S, -T or -H");
	return 0;
}

/* -S, -T and -H put a relay between the command and its outputs. */
static int
check_relay(struct options *o)
{
	if (o->tag != NULL && !o->syslog)
		return usage_error("-t needs -S");
	if (o->reopen && o->out == NULL && o->err == NULL)
		return usage_error("-H needs -o or -e");
	if (o->timestamps && o->out == NULL && o->err == NULL &&
	    !o->foreground)
		return usage_error("-T needs -o, -e or -f");
	o->relay = o->syslog || o->timestamps || o->reopen;
	/* The relay is a supervisor: one that restarts nothing, unless
	 * told otherwise. */
	if (o->relay && o->restart == RESTART_NONE && !o->workers_set)
		o->restart = RESTART_NO;
	return 0;
}

/* A whole number from min to max for option opt; -1 if none. */
static int
parse_uint(const char *opt, const char *arg, int min, int max)
{
	unsigned long n;
	char *end;

	errno = 0;
	n = strtoul(arg, &end, 10);
	if (arg[0] < '0' || arg[0] > '9' || *end != '\0' || errno != 0 ||
	    n < (unsigned long)min || n > (unsigned long)max)
		return usage_error("option %s wants a number from %d to %d, "
		    "not '%s'", opt, min, max, arg);
	return (int)n;
}

/* An octal mode from 0 to 0777, with nothing after it. */
static int
parse_umask(const char *arg, mode_t *mask)
{
	unsigned long n;
	char *end;

	errno = 0;
	n = strtoul(arg, &end, 8);
	if (arg[0] < '0' || arg[0] > '7' || *end != '\0' || errno != 0 ||
	    n > 0777)
		return usage_error("option -m wants an octal mode up to 0777, "
		    "not '%s'", arg);
	*mask = (mode_t)n;
	return 0;
}

/*
 * Keeps -E NAME=VALUE.  Allocated on first use only: most launches have
 * no -E, and the first malloc costs system calls.
 */
static int
add_env(struct options *o, char *arg)
{
	char **env;
	int room;

	if (strchr(arg, '=') == NULL || arg[0] == '=')
		return usage_error("option -E wants NAME=VALUE, not '%s'", arg);
	if (o->nenv == o->env_room) {
		room = o->env_room == 0 ? 8 : o->env_room * 2;
		env = realloc(o->env, (size_t)room * sizeof(*env));
		if (env == NULL)
			return fail(EXIT_SELF, "allocate memory");
		o->env = env;
		o->env_room = room;
	}
	o->env[o->nenv++] = arg;
	return 0;
}

/* A bad command line: one line, with a pointer to --help. */
static int
usage_error(const char *format, ...)
{
	char what[MSG_MAX];
	va_list ap;

	va_start(ap, format);
	(void)fmt_v(what, sizeof(what), format, ap);
	va_end(ap);
	return failx(EXIT_USAGE, "%s (try 'daemonize --help')", what);
}
