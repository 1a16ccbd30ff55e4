/*
 * Formatting and reading numbers without stdio: the subset of printf(3)
 * our messages use (flag 0, width, precision, l and ll; d o c s %), and
 * decimal fields.  Anything else is printed as written, so that a new
 * conversion shows in its first test rather than printing a wrong number.  Below the message writer; it calls
 * nothing of ours.
 *
 * The daemon runs for months: what it touches stays mapped.  stdio's
 * printf, scanf and their tables are large, and the long-lived processes
 * (the supervisor, a child between fork and exec) use these instead.
 */
#ifndef FMT_H
#define FMT_H

#include <stdarg.h>
#include <stddef.h>
#include <time.h>

#define FMT_LIKE(f, a) __attribute__((format(printf, f, a)))

int fmt(char *buf, size_t size, const char *format, ...) FMT_LIKE(3, 4);
int fmt_v(char *buf, size_t size, const char *format, va_list ap)
    FMT_LIKE(3, 0);
int scan_longs(const char *s, long *v, int n);

/* The local time of one second, kept: looked up again once a second. */
struct fmt_clock {
	time_t sec;
	struct tm tm;
};

size_t fmt_time(char *buf, size_t size, const struct timespec *ts,
    struct fmt_clock *c);

#endif
