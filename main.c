/*
 * daemonize: run a command as a Unix daemon, and control it.
 *
 * main() parses the command line, hands it to the part that does the
 * work, and decides the exit status: the only place, with a child
 * between fork and exec, where the process ends.
 */
#include <sys/auxv.h>

#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "control.h"
#include "launch.h"
#include "msg.h"
#include "options.h"
#include "proc.h"
#include "ready.h"

#ifndef VERSION
#define VERSION "unknown"
#endif

static int refuse_setid(void);
static int print_text(const char *);
static int run(const struct options *);

int
main(int argc, char *argv[])
{
	struct options o;
	int r;

	/*
	 * A reader gone from our output must not kill us before we say why
	 * we exit: writes fail with EPIPE instead.  The command gets SIGPIPE
	 * back at its default (spawn_exec).
	 */
	if (set_sigpipe(true) == -1 || refuse_setid() == -1)
		return fail_report();
	r = options_parse(&o, argc, argv);
	if (r == 0)
		r = run(&o);
	options_free(&o);
	if (r == -1)
		return fail_report();
	return r;
}

/* Does what the mode says: an exit status, or -1 with a failure. */
static int
run(const struct options *o)
{
	switch (o->mode) {
	case MODE_HELP:
		return print_text(usage_text) == EXIT_OK ?
		    print_text(usage_status_text) : -1;
	case MODE_VERSION:
		return print_text("daemonize " VERSION "\n");
	case MODE_STATUS:
		return control_status(o->pidfile, o->quiet);
	case MODE_STOP:
		return control_stop(o->pidfile, o->signal != 0 ? o->signal :
		    SIGTERM, o->timeout, o->quiet);
	case MODE_SIGNAL:
		return control_signal(o->pidfile, o->signal);
	case MODE_NOTIFY:
		return notify_send(o->argv);
	case MODE_START:
		break;
	}
	return launch(o);
}

/* --help and --version: exit 0 only if the text was written. */
static int
print_text(const char *text)
{
	if (write_all(STDOUT_FILENO, text, strlen(text)) == -1)
		return fail(EXIT_SELF, "write standard output");
	return EXIT_OK;
}

/*
 * A setuid daemonize would let any user run anything as its owner, with
 * files and directories of their choosing: refuse to run at all.
 */
static int
refuse_setid(void)
{
#ifdef AT_SECURE
	/* The kernel's own word on it, and no system call to ask. */
	if (getauxval(AT_SECURE) != 0)
#else
	if (getuid() != geteuid() || getgid() != getegid())
#endif
		return failx(EXIT_SELF, "start: refusing to run setuid or "
		    "setgid");
	return 0;
}
