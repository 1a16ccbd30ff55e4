/*
 * libFuzzer harness: the command line.  The input, split at NUL bytes,
 * is the argument list after "daemonize".  It is parsed twice, as if by
 * two processes: both parses must agree (no state kept between them), and
 * a parse that succeeds must leave options that hold together.
 */
#include <getopt.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../msg.h"
#include "../../options.h"

#define MAX_ARGS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct outcome {
	int r;
	struct options o;
	char text[MSG_MAX];
};

/* The argument list: argv[0], then the input's pieces, into words. */
static int
split(char *words, size_t size, char *argv[])
{
	static char name[] = "daemonize";
	size_t i;
	int argc = 0;

	argv[argc++] = name;
	if (size > 0)
		argv[argc++] = words;
	for (i = 0; i < size && argc < MAX_ARGS; i++)
		if (words[i] == '\0')
			argv[argc++] = words + i + 1;
	argv[argc] = NULL;
	return argc;
}

/* One parse, as main() does it: getopt from the start again. */
static void
parse(struct outcome *out, int argc, char *argv[])
{
	/* glibc: 0, not 1, makes getopt forget a previous scan entirely. */
	optind = 0;
	out->r = options_parse(&out->o, argc, argv);
	strcpy(out->text, out->r == -1 ? fail_text() : "");
	msg_set_verbose(false);
}

/* What a successful parse promises the rest of the program. */
static void
check_sane(const struct options *o, int argc, char *argv[])
{
	int i;

	if (o->mode == MODE_HELP || o->mode == MODE_VERSION)
		return;
	if (o->argv < argv + 1 || o->argv > argv + argc ||
	    (o->mode == MODE_START && (o->argv[0] == NULL ||
	    o->argv[0][0] == '\0')) || o->workers < 1 ||
	    o->workers > WORKERS_LIMIT || o->wait < 0 || o->wait > 86400 ||
	    (o->ready_fd != -1 && (o->ready_fd < 3 || o->ready_fd > 1023)) ||
	    (o->umask & ~(mode_t)0777) != 0 || o->nenv > argc ||
	    (o->mode != MODE_NOTIFY && o->mode != MODE_START &&
	    o->pidfile == NULL) ||
	    (o->relay && o->restart == RESTART_NONE))
		abort();
	for (i = 0; i < o->nenv; i++)
		if (strchr(o->env[i], '=') == NULL || o->env[i][0] == '=')
			abort();
}

/* The two parses of one argument list said the same. */
static void
check_same(const struct outcome *a, const struct outcome *b)
{
	const struct options *x = &a->o, *y = &b->o;
	int i;

	if (a->r != b->r || strcmp(a->text, b->text) != 0)
		abort();
	if (a->r == -1)
		return;
	if (x->mode != y->mode || x->pidfile != y->pidfile ||
	    x->lockfile != y->lockfile || x->dir != y->dir ||
	    x->out != y->out || x->err != y->err || x->user != y->user ||
	    x->nenv != y->nenv || x->umask != y->umask ||
	    x->append != y->append || x->foreground != y->foreground ||
	    x->verbose != y->verbose || x->quiet != y->quiet ||
	    x->wait != y->wait || x->ready_fd != y->ready_fd ||
	    x->signal != y->signal || x->timeout != y->timeout ||
	    x->restart != y->restart || x->workers != y->workers ||
	    x->max_restarts != y->max_restarts ||
	    x->min_uptime != y->min_uptime ||
	    x->kill_timeout != y->kill_timeout || x->syslog != y->syslog ||
	    x->facility != y->facility || x->level != y->level ||
	    x->tag != y->tag || x->timestamps != y->timestamps ||
	    x->reopen != y->reopen || x->relay != y->relay ||
	    x->argv != y->argv)
		abort();
	for (i = 0; i < x->nenv; i++)
		if (x->env[i] != y->env[i])
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *argv[MAX_ARGS + 1], *words;
	struct outcome a, b;
	int argc;

	words = malloc(size + 1);
	if (words == NULL)
		return 0;
	memcpy(words, data, size);
	words[size] = '\0';
	argc = split(words, size, argv);
	parse(&a, argc, argv);
	parse(&b, argc, argv);
	if (a.r == 0)
		check_sane(&a.o, argc, argv);
	check_same(&a, &b);
	options_free(&a.o);
	options_free(&b.o);
	free(words);
	return 0;
}
