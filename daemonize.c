/*
 * daemonize: run a command as a Unix daemon.
 *
 * The launcher checks everything it can, puts the process state back to
 * defaults (signals, descriptors), then forks, calls setsid and forks again,
 * so the daemon is in a session of its own and can never acquire a
 * controlling terminal.  The daemon sets itself up and execs the command.
 * Any failure on the way travels back to the launcher through a close-on-exec
 * status pipe, so the launcher returns only once the command runs, with the
 * pidfile complete, or with the reason it did not.  The steps below appear in
 * the order main() takes them.
 */
/* For pipe2, initgroups, strchrnul, getauxval and syscall numbers. */
#define _GNU_SOURCE

#include <sys/auxv.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemonize.h"
#include "pidfile.h"

#ifndef VERSION
#define VERSION "unknown"
#endif

/*
 * Test builds set CLOSE_FDS_FALLBACK to 1 to skip close_range(2), or to 2
 * to skip the /proc/self/fd scan as well, so that every fallback is run.
 */
#ifndef CLOSE_FDS_FALLBACK
#define CLOSE_FDS_FALLBACK 0
#endif

#define DEFAULT_PATH "/usr/local/bin:/usr/bin:/bin"

enum mode {
	MODE_START,		/* the default: start a daemon */
	MODE_STATUS,		/* --status */
	MODE_STOP,		/* --stop */
	MODE_SIGNAL,		/* --signal without --stop */
	MODE_NOTIFY		/* --notify */
};

/* Long options without a letter. */
enum {
	OPT_NOTIFY = 256,
	OPT_READY_FD,
	OPT_SIGNAL,
	OPT_STATUS,
	OPT_STOP,
	OPT_TIMEOUT
};

#define DEFAULT_WAIT 60
#define DEFAULT_TIMEOUT 10

struct options {
	const char *pidfile;
	const char *lockfile;
	const char *dir;
	const char *out;
	const char *err;
	const char *user;
	char **env;		/* NAME=VALUE strings, from argv */
	int nenv;
	mode_t umask;
	bool append;
	bool foreground;
	bool verbose;
	bool quiet;
	int wait;		/* -w: seconds to wait for readiness, or 0 */
	int ready_fd;		/* --ready-fd, or -1 */
	int signal;		/* --signal, or 0 */
	int timeout;		/* --timeout */
	char **argv;		/* the command and its arguments */
};

struct state {
	enum mode mode;
	struct options opt;
	char path[PATH_MAX];	/* the command's absolute path */
	bool switch_user;
	uid_t uid;
	gid_t gid;
	char *username;
	int devnull;
	int report_fd;		/* status pipe, in the children; else -1 */
	int msg_fd;		/* where messages go when not to the pipe */
	int pid_fd;		/* the locked pidfile, once written */
	int lock_fd;
	struct ready ready;	/* -w */
};

static struct state st = {
	.opt = { .umask = 022, .ready_fd = -1, .timeout = DEFAULT_TIMEOUT },
	.devnull = -1, .report_fd = -1, .msg_fd = STDERR_FILENO,
	.pid_fd = -1, .lock_fd = -1, .ready = { -1, -1, false },
};

static void parse_args(int, char *[]);
static void parse_option(int, char *);
static void parse_long_option(int, char *);
static void check_mode(void);
static int parse_uint(const char *, const char *, int, int);
_Noreturn static void start(void);
static void add_env(char *);
static mode_t parse_umask(const char *);
_Noreturn static void print_and_exit(const char *);
static void refuse_setid(void);
static void find_user(void);
static void set_environment(void);
static void find_command(void);
static bool try_command(const char *, size_t, const char *, int *);
static void check_paths(void);
static void reset_signals(void);
static void reset_signal(int);
static void clear_signal_mask(void);
static void close_inherited_fds(void);
static int close_fds_from_proc(void);
static void open_devnull(void);
_Noreturn static void launch(void);
static pid_t read_report(int);
static void detach(void);
static void report_pid(pid_t);
_Noreturn static void run_daemon(void);
static void lock_files(void);
static int lock_file(const char *, const char *);
static void redirect_stdio(void);
static int open_output(const char *);
static void change_dir(void);
static void switch_user(void);
_Noreturn static void exec_command(void);
static void vsay(const char *, va_list) PRINTF_LIKE(1, 0);
static void put(int, const char *, size_t);
static size_t format_line(char *, size_t, int, const char *, va_list)
    PRINTF_LIKE(4, 0);
_Noreturn static void vdie(int, int, const char *, va_list)
    PRINTF_LIKE(3, 0);
_Noreturn static void usage_error(const char *, ...) PRINTF_LIKE(1, 2);

static const char usage_text[] =
"usage: daemonize [-afhqvV] [-c dir] [-E name=value] [-e file] [-l lockfile]\n"
"                 [-m umask] [-o file] [-p pidfile] [-u user[:group]]\n"
"                 [-w[secs]] [--ready-fd=n] [--] command [arg ...]\n"
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
"  -f, --foreground          do not fork: exec command in this process\n"
"  -h, --help                show this help and exit\n"
"  -l, --lockfile=FILE       hold a lock on FILE while command runs\n"
"  -m, --umask=MODE          octal file creation mask (default 022)\n"
"  -o, --stdout=FILE         standard output to FILE (default /dev/null)\n"
"  -p, --pidfile=FILE        write command's PID to FILE and hold its lock\n"
"  -q, --quiet               --status and --stop print nothing\n"
"  -u, --user=USER[:GROUP]   run command as USER (root only)\n"
"  -v, --verbose             report each step on standard error\n"
"  -V, --version             show the version and exit\n"
"  -w, --wait[=SECS]         return once command is ready (sd_notify READY=1\n"
"                            to $NOTIFY_SOCKET), within SECS (default 60)\n"
"      --ready-fd=N          with -w: wait for a newline on fd N instead\n"
"      --notify [LINE ...]   send LINEs (default READY=1) to $NOTIFY_SOCKET\n"
"      --signal=SIG          send SIG to the daemon of -p (--stop: first)\n"
"      --status              is the daemon of -p running? (LSB 0, 1, 3, 4)\n"
"      --stop                stop the daemon of -p: SIG or TERM, then KILL\n"
"      --timeout=SECS        --stop waits SECS before KILL (default 10)\n"
"\n"
"Exit status:\n"
"    0  command runs (is ready, with -w)\n"
"    1  another instance holds the pidfile or lockfile\n"
"    2  usage error\n"
"  124  -w: command was not ready in time, and was stopped\n"
"  125  daemonize failed before command ran\n"
"  126  command cannot be executed\n"
"  127  command not found\n"
"With -w, a command that exits before it is ready gives its own status\n"
"(128+N for signal N); a signal N to daemonize stops it and exits 128+N.\n"
"--status exits 0 running, 1 not running but pidfile left, 3 not running,\n"
"4 unknown; --stop exits 0 once stopped or not running, 1 if it cannot stop.\n";

int
main(int argc, char *argv[])
{
	refuse_setid();
	parse_args(argc, argv);
	switch (st.mode) {
	case MODE_STATUS:
		return status_daemon(st.opt.pidfile, st.opt.quiet);
	case MODE_STOP:
		return stop_daemon(st.opt.pidfile, st.opt.signal != 0 ?
		    st.opt.signal : SIGTERM, st.opt.timeout, st.opt.quiet);
	case MODE_SIGNAL:
		return signal_daemon(st.opt.pidfile, st.opt.signal);
	case MODE_NOTIFY:
		return notify_send(st.opt.argv);
	case MODE_START:
		break;
	}
	start();
}

/* The daemon(7) sequence: check, clean up, detach, exec. */
static void
start(void)
{
	find_user();
	set_environment();
	find_command();
	check_paths();
	reset_signals();
	close_inherited_fds();
	open_devnull();
	if (st.opt.foreground)
		run_daemon();
	launch();
}

/* Fills st.opt from the command line; stops at the first non-option. */
static void
parse_args(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "append",	no_argument,		NULL, 'a' },
		{ "chdir",	required_argument,	NULL, 'c' },
		{ "env",	required_argument,	NULL, 'E' },
		{ "stderr",	required_argument,	NULL, 'e' },
		{ "foreground",	no_argument,		NULL, 'f' },
		{ "help",	no_argument,		NULL, 'h' },
		{ "lockfile",	required_argument,	NULL, 'l' },
		{ "umask",	required_argument,	NULL, 'm' },
		{ "stdout",	required_argument,	NULL, 'o' },
		{ "pidfile",	required_argument,	NULL, 'p' },
		{ "user",	required_argument,	NULL, 'u' },
		{ "verbose",	no_argument,		NULL, 'v' },
		{ "version",	no_argument,		NULL, 'V' },
		{ "wait",	optional_argument,	NULL, 'w' },
		{ "notify",	no_argument,		NULL, OPT_NOTIFY },
		{ "quiet",	no_argument,		NULL, 'q' },
		{ "ready-fd",	required_argument,	NULL, OPT_READY_FD },
		{ "signal",	required_argument,	NULL, OPT_SIGNAL },
		{ "status",	no_argument,		NULL, OPT_STATUS },
		{ "stop",	no_argument,		NULL, OPT_STOP },
		{ "timeout",	required_argument,	NULL, OPT_TIMEOUT },
		{ NULL,		0,			NULL, 0 }
	};
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:ac:E:e:fhl:m:o:p:qu:vVw::",
	    longopts, NULL)) != -1) {
		if (c == '?' && optopt != 0 && optopt < 256)
			usage_error("unknown option -%c", optopt);
		if (c == '?')
			usage_error("unknown option %s", argv[optind - 1]);
		if (c == ':' && argv[optind - 1][1] == '-')
			usage_error("option %s needs an argument",
			    argv[optind - 1]);
		if (c == ':')
			usage_error("option -%c needs an argument", optopt);
		parse_option(c, optarg);
	}
	st.opt.argv = argv + optind;
	check_mode();
}

/* Checks that the options fit together, and the command if one is due. */
static void
check_mode(void)
{
	if (st.opt.signal != 0 && st.mode == MODE_START)
		st.mode = MODE_SIGNAL;
	if (st.mode == MODE_NOTIFY)
		return;
	if (st.mode != MODE_START) {
		if (st.opt.pidfile == NULL)
			usage_error("--status, --stop and --signal need -p");
		if (st.opt.argv[0] != NULL)
			usage_error("--status, --stop and --signal take no "
			    "command");
		return;
	}
	if (st.opt.ready_fd != -1 && st.opt.wait == 0)
		st.opt.wait = DEFAULT_WAIT;
	if (st.opt.wait != 0 && st.opt.foreground)
		usage_error("-w and --ready-fd do not go with -f");
	if (st.opt.argv[0] == NULL)
		usage_error("no command given");
	if (st.opt.argv[0][0] == '\0')
		usage_error("the command is an empty string");
}

/* A whole number from min to max for option opt. */
static int
parse_uint(const char *opt, const char *arg, int min, int max)
{
	unsigned long n;
	char *end;

	errno = 0;
	n = strtoul(arg, &end, 10);
	if (arg[0] < '0' || arg[0] > '9' || *end != '\0' || errno != 0 ||
	    n < (unsigned long)min || n > (unsigned long)max)
		usage_error("option %s wants a number from %d to %d, not '%s'",
		    opt, min, max, arg);
	return (int)n;
}

/* Takes one option letter and its argument. */
static void
parse_option(int c, char *arg)
{
	switch (c) {
	case 'a':
		st.opt.append = true;
		break;
	case 'c':
		st.opt.dir = arg;
		break;
	case 'E':
		if (strchr(arg, '=') == NULL || arg[0] == '=')
			usage_error("option -E wants NAME=VALUE, not '%s'",
			    arg);
		add_env(arg);
		break;
	case 'e':
		st.opt.err = arg;
		break;
	case 'f':
		st.opt.foreground = true;
		break;
	case 'h':
		print_and_exit(usage_text);
		/* NOTREACHED */
	case 'l':
		st.opt.lockfile = arg;
		break;
	case 'm':
		st.opt.umask = parse_umask(arg);
		break;
	case 'o':
		st.opt.out = arg;
		break;
	case 'p':
		st.opt.pidfile = arg;
		break;
	case 'q':
		st.opt.quiet = true;
		break;
	case 'u':
		st.opt.user = arg;
		break;
	case 'v':
		st.opt.verbose = true;
		break;
	case 'V':
		print_and_exit("daemonize " VERSION "\n");
		/* NOTREACHED */
	case 'w':
		st.opt.wait = arg != NULL ? parse_uint("-w", arg, 1, 86400) :
		    DEFAULT_WAIT;
		break;
	default:
		parse_long_option(c, arg);
	}
}

/* Takes one option that has no letter, and its argument. */
static void
parse_long_option(int c, char *arg)
{
	switch (c) {
	case OPT_NOTIFY:
		st.mode = MODE_NOTIFY;
		break;
	case OPT_READY_FD:
		st.opt.ready_fd = parse_uint("--ready-fd", arg, 3, 1023);
		break;
	case OPT_SIGNAL:
		st.opt.signal = parse_signal(arg);
		if (st.opt.signal == -1)
			usage_error("option --signal: unknown signal '%s'", arg);
		break;
	case OPT_STATUS:
		st.mode = MODE_STATUS;
		break;
	case OPT_STOP:
		st.mode = MODE_STOP;
		break;
	case OPT_TIMEOUT:
		st.opt.timeout = parse_uint("--timeout", arg, 0, 86400);
		break;
	}
}

/*
 * Keeps NAME=VALUE for set_environment.  Allocated on first use only: most
 * launches have no -E, and the first malloc costs system calls.
 */
static void
add_env(char *arg)
{
	static int room;
	char **env;

	if (st.opt.nenv == room) {
		room = room == 0 ? 8 : room * 2;
		env = realloc(st.opt.env, (size_t)room * sizeof(*env));
		if (env == NULL)
			die(EXIT_SELF, "allocate memory");
		st.opt.env = env;
	}
	st.opt.env[st.opt.nenv++] = arg;
}

/* An octal mode from 0 to 0777, with nothing after it. */
static mode_t
parse_umask(const char *arg)
{
	unsigned long mask;
	char *end;

	errno = 0;
	mask = strtoul(arg, &end, 8);
	if (arg[0] < '0' || arg[0] > '7' || *end != '\0' || errno != 0 ||
	    mask > 0777)
		usage_error("option -m wants an octal mode up to 0777, not '%s'",
		    arg);
	return (mode_t)mask;
}

/* --help and --version: exit 0 only if the text was written. */
static void
print_and_exit(const char *text)
{
	if (fputs(text, stdout) == EOF || fflush(stdout) == EOF)
		die(EXIT_SELF, "write standard output");
	exit(EXIT_OK);
}

/*
 * A setuid daemonize would let any user run anything as its owner, with
 * files and directories of their choosing: refuse to run at all.
 */
static void
refuse_setid(void)
{
#ifdef AT_SECURE
	/* The kernel's own word on it, and no system call to ask. */
	if (getauxval(AT_SECURE) != 0)
#else
	if (getuid() != geteuid() || getgid() != getegid())
#endif
		diex(EXIT_SELF, "start: refusing to run setuid or setgid");
}

/* Looks up -u USER[:GROUP] now, so a bad name starts nothing. */
static void
find_user(void)
{
	struct passwd *pw;
	struct group *gr;
	char *name, *group;

	if (st.opt.user == NULL)
		return;
	name = strdup(st.opt.user);
	if (name == NULL)
		die(EXIT_SELF, "allocate memory");
	group = strchr(name, ':');
	if (group != NULL)
		*group++ = '\0';
	errno = 0;
	pw = getpwnam(name);
	if (pw == NULL && errno != 0)
		die(EXIT_SELF, "find user %s", name);
	if (pw == NULL)
		diex(EXIT_SELF, "find user %s: no such user", name);
	st.uid = pw->pw_uid;
	st.gid = pw->pw_gid;
	if (group != NULL) {
		errno = 0;
		gr = getgrnam(group);
		if (gr == NULL && errno != 0)
			die(EXIT_SELF, "find group %s", group);
		if (gr == NULL)
			diex(EXIT_SELF, "find group %s: no such group", group);
		st.gid = gr->gr_gid;
	}
	st.username = name;
	if (setenv("HOME", pw->pw_dir, 1) == -1 ||
	    setenv("USER", pw->pw_name, 1) == -1 ||
	    setenv("LOGNAME", pw->pw_name, 1) == -1)
		die(EXIT_SELF, "set environment");
	st.switch_user = getuid() != st.uid || getgid() != st.gid;
	if (st.switch_user && geteuid() != 0)
		diex(EXIT_SELF, "switch to user %s: only root can do that",
		    st.opt.user);
}

/*
 * Applies -E after -u, so that an explicit HOME=... wins, and before the
 * PATH search, so that -E PATH=... is the PATH the command is found in.
 */
static void
set_environment(void)
{
	int i;

	for (i = 0; i < st.opt.nenv; i++)
		if (putenv(st.opt.env[i]) != 0)
			die(EXIT_SELF, "set %s", st.opt.env[i]);
}

/*
 * Finds the command as execvp(3) would, but now, so that a missing command
 * starts nothing, and as an absolute path, since the daemon changes
 * directory before it execs.
 */
static void
find_command(void)
{
	const char *name = st.opt.argv[0], *dirs, *end;
	int denied = 0;

	if (strchr(name, '/') != NULL) {
		if (try_command("", 0, name, &denied))
			return;
	} else {
		dirs = getenv("PATH");
		if (dirs == NULL)
			dirs = DEFAULT_PATH;
		for (;; dirs = end + 1) {
			end = strchrnul(dirs, ':');
			if (try_command(dirs, (size_t)(end - dirs), name,
			    &denied))
				return;
			if (*end == '\0')
				break;
		}
		errno = 0;
	}
	if (denied != 0) {
		errno = denied;
		die(EXIT_NOEXEC, "execute %s", name);
	}
	if (errno == 0)
		diex(EXIT_NOTFOUND, "find command %s: not found in PATH", name);
	die(EXIT_NOTFOUND, "find command %s", name);
}

/*
 * Tries dir/name (dir has len bytes; an empty one is the working directory)
 * and leaves it in st.path as an absolute path.  A file there that cannot be
 * run leaves its errno in *denied, to report if nothing better turns up.
 */
static bool
try_command(const char *dir, size_t len, const char *name, int *denied)
{
	char cwd[PATH_MAX];
	const char *base = "", *sep = "";
	struct stat sb;
	int n;

	if (len > 0 ? dir[0] != '/' : name[0] != '/') {
		if (getcwd(cwd, sizeof(cwd)) == NULL)
			die(EXIT_SELF, "get working directory");
		base = cwd;
		sep = "/";
		while (len == 0 && name[0] == '.' && name[1] == '/')
			name += 2;
	}
	n = snprintf(st.path, sizeof(st.path), "%s%s%.*s%s%s", base, sep,
	    (int)len, dir, len > 0 ? "/" : "", name);
	if (n < 0 || (size_t)n >= sizeof(st.path))
		errno = ENAMETOOLONG;
	else if (stat(st.path, &sb) == 0) {
		if (S_ISREG(sb.st_mode) && access(st.path, X_OK) == 0)
			return true;
		if (*denied == 0)
			*denied = S_ISDIR(sb.st_mode) ? EISDIR : EACCES;
	}
	st.path[0] = '\0';
	return false;
}

/*
 * Checks the directories named on the command line now, so that a typo
 * starts nothing.  The files themselves are opened by the daemon.
 */
static void
check_paths(void)
{
	const char *files[] = { st.opt.pidfile, st.opt.lockfile, st.opt.out,
	    st.opt.err };
	const char *what[] = { "pidfile ", "lockfile ", "", "" };
	char dir[PATH_MAX];
	struct stat sb;
	size_t i;
	char *slash;

	if (st.opt.dir != NULL && stat(st.opt.dir, &sb) == -1)
		die(EXIT_SELF, "change directory to %s", st.opt.dir);
	if (st.opt.dir != NULL && !S_ISDIR(sb.st_mode)) {
		errno = ENOTDIR;
		die(EXIT_SELF, "change directory to %s", st.opt.dir);
	}
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		if (files[i] == NULL || strlen(files[i]) >= sizeof(dir))
			continue;
		strcpy(dir, files[i]);
		slash = strrchr(dir, '/');
		if (slash == NULL)
			continue;
		slash[slash == dir] = '\0';
		if (stat(dir, &sb) == -1)
			die(EXIT_SELF, "open %s%s", what[i], files[i]);
		if (!S_ISDIR(sb.st_mode)) {
			errno = ENOTDIR;
			die(EXIT_SELF, "open %s%s", what[i], files[i]);
		}
	}
}

/*
 * Ignored signals and the signal mask survive execve(2): a daemon started
 * from a script that blocks SIGTERM could not be stopped.  Put every
 * disposition back to the default and empty the mask.  Handlers need no
 * reset: none is installed, and exec resets caught signals anyway.
 */
static void
reset_signals(void)
{
	int sig;

	for (sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			reset_signal(sig);
	clear_signal_mask();
}

static void
clear_signal_mask(void)
{
	sigset_t none;

	sigemptyset(&none);
	if (sigprocmask(SIG_SETMASK, &none, NULL) == -1)
		die(EXIT_SELF, "reset signal mask");
}

/*
 * glibc refuses to touch the two real-time signals it reserves for itself
 * (32 and 33), yet a caller can leave them ignored (GNU make does), so on
 * Linux ask the kernel directly.  SIG_DFL is 0, so an all-zero struct
 * sigaction means the default whatever the kernel's field order, and the
 * kernel's signal set is NSIG / 8 bytes.  EINVAL means the signal does not
 * exist, which is fine.
 */
static void
reset_signal(int sig)
{
#if defined(__linux__) && defined(SYS_rt_sigaction)
	static const unsigned long dfl[8];

	(void)syscall(SYS_rt_sigaction, sig, dfl, NULL, NSIG / 8);
#else
	(void)signal(sig, SIG_DFL);
#endif
}

/*
 * Closes every descriptor above 2 in as few system calls as the kernel
 * allows: close_range(2) (Linux 5.9), else a scan of /proc/self/fd, and a
 * loop up to the descriptor limit only when neither is there, since at a
 * limit of a million that loop alone is a million system calls.
 */
static void
close_inherited_fds(void)
{
	struct rlimit rl;
	int fd;

#if defined(SYS_close_range) && CLOSE_FDS_FALLBACK < 1
	if (syscall(SYS_close_range, 3U, ~0U, 0U) == 0)
		return;
#endif
	if (CLOSE_FDS_FALLBACK < 2 && close_fds_from_proc() == 0)
		return;
	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		die(EXIT_SELF, "get descriptor limit");
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > INT_MAX)
		rl.rlim_cur = INT_MAX;
	for (fd = 3; fd < (int)rl.rlim_cur; fd++)
		(void)close(fd);
}

/* Closes the descriptors above 2 that /proc/self/fd lists. */
static int
close_fds_from_proc(void)
{
	struct dirent *d;
	DIR *dir;
	long fd;
	bool closed;

	dir = opendir("/proc/self/fd");
	if (dir == NULL)
		return -1;
	/* Rescan after closing, since closing changes what readdir sees. */
	do {
		closed = false;
		while ((d = readdir(dir)) != NULL) {
			fd = strtol(d->d_name, NULL, 10);
			if (fd > 2 && fd != dirfd(dir)) {
				(void)close((int)fd);
				closed = true;
			}
		}
		rewinddir(dir);
	} while (closed);
	(void)closedir(dir);
	return 0;
}

/*
 * Opens /dev/null for the daemon's standard input.  If 0, 1 or 2 was
 * closed, the open lands there: keep it there, so that no file opened
 * later can become the command's standard input or output by accident.
 */
static void
open_devnull(void)
{
	int fd;

	while ((fd = open("/dev/null", O_RDWR | O_CLOEXEC)) <= STDERR_FILENO) {
		if (fd == -1)
			die(EXIT_SELF, "open /dev/null");
		if (fcntl(fd, F_SETFD, 0) == -1)
			die(EXIT_SELF, "open /dev/null");
	}
	st.devnull = fd;
}

/*
 * Starts the daemon and exits with what it reports.  With -w, waits for it
 * to be ready too, as its subreaper: when the middle process exits the
 * daemon becomes our child, so we learn its exit status if it dies first.
 */
static void
launch(void)
{
	int report[2], status;
	pid_t pid, daemon;

	if (st.opt.wait != 0) {
		if (prctl(PR_SET_CHILD_SUBREAPER, 1) == -1)
			die(EXIT_SELF, "become subreaper");
		st.ready.fd = ready_open(st.opt.ready_fd);
		st.ready.is_pipe = st.opt.ready_fd != -1;
		st.ready.sigfd = ready_catch();
	}
	if (pipe2(report, O_CLOEXEC) == -1)
		die(EXIT_SELF, "create status pipe");
	(void)fflush(NULL);
	pid = fork();
	if (pid == -1)
		die(EXIT_SELF, "fork");
	if (pid == 0) {
		if (st.opt.wait != 0)	/* ready_catch blocked some */
			clear_signal_mask();
		st.report_fd = report[1];
		detach();
		run_daemon();
	}
	(void)close(report[1]);
	if (st.opt.ready_fd != -1)
		(void)close(st.opt.ready_fd);
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR)
			die(EXIT_SELF, "wait for child %ld", (long)pid);
	daemon = read_report(report[0]);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		diex(EXIT_SELF, "start daemon: child exited abnormally");
	verbose("daemon started");
	if (st.opt.wait != 0)
		ready_wait(&st.ready, daemon, pid, st.opt.wait,
		    st.opt.pidfile);
	exit(EXIT_OK);
}

/*
 * Waits for the status pipe to close.  It closes when the daemon execs the
 * command (close-on-exec), or after a failing child has written one record:
 * the exit code in a byte, then the message, in one write no larger than
 * buf.  Reading to the end means that a failed daemon has exited, and
 * removed its pidfile, before we return.  With -w, the middle process
 * writes the daemon's PID first, after a 0 byte; that PID is returned,
 * and a signal that interrupts the wait stops that daemon.
 */
static pid_t
read_report(int fd)
{
	pid_t daemon = 0;
	char buf[1024];
	size_t len = 0;
	ssize_t n;

	for (;;) {
		if (st.ready.sigfd != -1)
			ready_wait_report(fd, st.ready.sigfd, daemon,
			    st.opt.pidfile);
		n = read(fd, buf + len, sizeof(buf) - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			die(EXIT_SELF, "read status pipe");
		if (n == 0)
			break;
		len += (size_t)n;
		if (daemon == 0 && buf[0] == 0 && len >= 1 + sizeof(daemon)) {
			memcpy(&daemon, buf + 1, sizeof(daemon));
			len -= 1 + sizeof(daemon);
			memmove(buf, buf + 1 + sizeof(daemon), len);
		}
	}
	if (len == 0)
		return daemon;
	put(STDERR_FILENO, buf + 1, len - 1);
	exit((unsigned char)buf[0]);
}

/*
 * fork, setsid, fork: the daemon is in a new session, but not its leader,
 * so opening a terminal can never make it the daemon's controlling one.
 * The middle process exits at once; the launcher reaps it.
 */
static void
detach(void)
{
	pid_t pid;

	if (setsid() == -1)
		die(EXIT_SELF, "create session");
	pid = fork();
	if (pid == -1)
		die(EXIT_SELF, "fork daemon");
	if (pid > 0 && st.opt.wait != 0)
		report_pid(pid);
	if (pid > 0)
		_exit(EXIT_OK);
}

/* Tells the launcher which PID to wait for: a 0 byte, then the PID. */
static void
report_pid(pid_t pid)
{
	char rec[1 + sizeof(pid)] = { 0 };

	memcpy(rec + 1, &pid, sizeof(pid));
	if (write(st.report_fd, rec, sizeof(rec)) != (ssize_t)sizeof(rec))
		die(EXIT_SELF, "report daemon pid");
}

/* The daemon's own steps, ending in exec.  Never returns. */
static void
run_daemon(void)
{
	if (st.opt.verbose)
		verbose("daemon pid %ld", (long)getpid());
	lock_files();
	umask(st.opt.umask);
	ready_keep(st.opt.ready_fd);
	redirect_stdio();
	change_dir();
	switch_user();
	exec_command();
}

/*
 * Takes the lock file and the pidfile, and writes our PID.  This runs in
 * the daemon, since record locks are not inherited across fork(2).  The
 * umask is 022 here, so a new pidfile is 0644 whatever -m says.
 */
static void
lock_files(void)
{
	if (st.opt.pidfile == NULL && st.opt.lockfile == NULL)
		return;
	umask(022);
	if (st.opt.lockfile != NULL)
		st.lock_fd = lock_file(st.opt.lockfile, "lockfile");
	if (st.opt.pidfile == NULL)
		return;
	if (st.opt.lockfile != NULL &&
	    strcmp(st.opt.pidfile, st.opt.lockfile) == 0)
		st.pid_fd = st.lock_fd;
	else
		st.pid_fd = lock_file(st.opt.pidfile, "pidfile");
	if (pidfile_write(st.pid_fd, getpid()) == -1)
		die(EXIT_SELF, "write pidfile %s", st.opt.pidfile);
	verbose("pidfile %s written", st.opt.pidfile);
}

/* Locks one file, or says why not. */
static int
lock_file(const char *path, const char *what)
{
	pid_t holder = 0;
	int fd = -1;

	switch (lock_acquire(path, &fd, &holder)) {
	case LOCK_TAKEN:
		break;
	case LOCK_HELD:
		if (holder == 0)
			diex(EXIT_RUNNING,
			    "already running (pid outside this PID namespace)");
		diex(EXIT_RUNNING, "already running (pid %ld)", (long)holder);
		/* NOTREACHED */
	case LOCK_OPEN_FAILED:
		if (errno == ELOOP)
			diex(EXIT_SELF, "open %s %s: is a symbolic link, "
			    "not followed", what, path);
		die(EXIT_SELF, "open %s %s", what, path);
		/* NOTREACHED */
	case LOCK_NOT_FILE:
		diex(EXIT_SELF, "open %s %s: not a regular file", what, path);
		/* NOTREACHED */
	case LOCK_FAILED:
	case LOCK_FREE:
	case LOCK_STALE:
		die(EXIT_SELF, "lock %s %s", what, path);
	}
	return fd;
}

/*
 * Standard input from /dev/null; output and errors to /dev/null or the
 * files.  In the foreground, streams without a file stay as they are.
 */
static void
redirect_stdio(void)
{
	int out, err;
	struct stat a, b;

	out = st.opt.out != NULL ? open_output(st.opt.out) : st.devnull;
	err = st.opt.err != NULL ? open_output(st.opt.err) : st.devnull;
	/* One file for both: share one offset, as 2>&1 would. */
	if (st.opt.out != NULL && st.opt.err != NULL && fstat(out, &a) == 0 &&
	    fstat(err, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino)
		err = out;
	if (st.opt.foreground) {
		out = st.opt.out != NULL ? out : STDOUT_FILENO;
		err = st.opt.err != NULL ? err : STDERR_FILENO;
	} else if (dup2(st.devnull, STDIN_FILENO) == -1)
		die(EXIT_SELF, "redirect standard input");
	/* Keep reporting to the caller's stderr after fd 2 is replaced. */
	if (err != STDERR_FILENO && (st.opt.verbose || st.opt.foreground)) {
		st.msg_fd = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
		if (st.msg_fd == -1)
			die(EXIT_SELF, "duplicate standard error");
	}
	if (out != STDOUT_FILENO && dup2(out, STDOUT_FILENO) == -1)
		die(EXIT_SELF, "redirect standard output");
	if (err != STDERR_FILENO && dup2(err, STDERR_FILENO) == -1)
		die(EXIT_SELF, "redirect standard error");
}

/* Opens -o or -e as the shell would for > (or >> with -a). */
static int
open_output(const char *path)
{
	int fd;

	fd = open(path, O_WRONLY | O_CREAT | O_NOCTTY | O_CLOEXEC |
	    (st.opt.append ? O_APPEND : O_TRUNC), 0666);
	if (fd == -1)
		die(EXIT_SELF, "open %s", path);
	return fd;
}

static void
change_dir(void)
{
	const char *dir = st.opt.dir != NULL ? st.opt.dir : "/";

	if (chdir(dir) == -1)
		die(EXIT_SELF, "change directory to %s", dir);
	verbose("working directory %s", dir);
}

/*
 * Groups first, then the group ID, then the user ID: each step needs the
 * privilege the next one gives up.  Then make sure it cannot be undone.
 */
static void
switch_user(void)
{
	if (!st.switch_user)
		return;
	if (initgroups(st.username, st.gid) == -1)
		die(EXIT_SELF, "set groups of user %s", st.username);
	if (setgid(st.gid) == -1)
		die(EXIT_SELF, "set group ID %ld", (long)st.gid);
	if (setuid(st.uid) == -1)
		die(EXIT_SELF, "set user ID %ld", (long)st.uid);
	if (st.uid != 0 && setuid(0) != -1)
		diex(EXIT_SELF, "switch to user %s: root could be regained",
		    st.username);
	verbose("user %s (uid %ld, gid %ld)", st.username, (long)st.uid,
	    (long)st.gid);
}

/*
 * ENOENT from a file we found means its #! interpreter (or ELF loader) is
 * missing; the shell reports that with 127 too.
 */
static void
exec_command(void)
{
	const char *name = st.opt.argv[0];

	verbose("exec %s", st.path);
	execv(st.path, st.opt.argv);
	if (errno == ENOENT && access(st.path, F_OK) == 0)
		diex(EXIT_NOTFOUND, "execute %s: interpreter not found", name);
	die(errno == ENOENT ? EXIT_NOTFOUND : EXIT_NOEXEC, "execute %s", name);
}

/* With -v: one line on the caller's standard error. */
void
verbose(const char *fmt, ...)
{
	va_list ap;

	if (!st.opt.verbose)
		return;
	va_start(ap, fmt);
	vsay(fmt, ap);
	va_end(ap);
}

/* "daemonize: <what>" on standard error, and go on. */
void
errorx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay(fmt, ap);
	va_end(ap);
}

static void
vsay(const char *fmt, va_list ap)
{
	char buf[1024];

	put(st.msg_fd, buf, format_line(buf, sizeof(buf), 0, fmt, ap));
}

/* Exits with code after "daemonize: <what>: <strerror(errno)>". */
void
die(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vdie(code, errno, fmt, ap);
}

/* Exits with code after "daemonize: <what>". */
void
diex(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vdie(code, 0, fmt, ap);
}

/* A bad command line: one line, with a pointer to --help. */
static void
usage_error(const char *fmt, ...)
{
	char what[512];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	diex(EXIT_USAGE, "%s (try 'daemonize --help')", what);
}

/*
 * Prints the message, or in a child hands it to the launcher through the
 * status pipe, with the exit code in a byte in front.  A process that has
 * written the pidfile removes it first: the launcher must not return while
 * a failed daemon's pidfile is still there.
 */
static void
vdie(int code, int err, const char *fmt, va_list ap)
{
	char buf[1024];
	size_t len;

	buf[0] = (char)code;
	len = 1 + format_line(buf + 1, sizeof(buf) - 1, err, fmt, ap);
	if (st.pid_fd != -1)
		(void)unlink(st.opt.pidfile);
	if (st.report_fd != -1) {
		put(st.report_fd, buf, len);
		_exit(code);
	}
	put(st.msg_fd, buf + 1, len - 1);
	exit(code);
}

/*
 * Writes all of buf, or as much as fd takes: a message that cannot be
 * written has nowhere else to go.
 */
static void
put(int fd, const char *buf, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = write(fd, buf, len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		buf += n;
		len -= (size_t)n;
	}
}

/* Formats "daemonize: <what>[: <strerror(err)>]\n", cut to fit in size. */
static size_t
format_line(char *buf, size_t size, int err, const char *fmt, va_list ap)
{
	static const char prefix[] = "daemonize: ";
	size_t len = sizeof(prefix) - 1, room = size - 1;
	int n;

	memcpy(buf, prefix, len);
	n = vsnprintf(buf + len, room - len, fmt, ap);
	len += n < 0 ? 0 : (size_t)n;
	if (err != 0 && len < room) {
		n = snprintf(buf + len, room - len, ": %s", strerror(err));
		len += n < 0 ? 0 : (size_t)n;
	}
	if (len > room - 1)
		len = room - 1;
	buf[len++] = '\n';
	return len;
}
