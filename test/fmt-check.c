/*
 * fmt.c against the C library: each format our messages may use, printed
 * by fmt() and by snprintf(3) into buffers of every size up to the whole
 * text, must give the same bytes and the same length; what fmt() leaves
 * out of printf(3), and its reader of numbers and its clock, as the
 * manual of fmt.h says.  Prints each difference; exits 1 if there was one.
 * Run by test/fmt.bats.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../fmt.h"

static int failures;

static void
differ(int line, const char *want, int want_n, const char *got, int got_n,
    size_t size)
{
	printf("line %d, size %zu: want \"%s\" (%d), got \"%s\" (%d)\n",
	    line, size, want, want_n, got, got_n);
	failures++;
}

/* Both printers, into a buffer of each size from 0 to the text's. */
#define SAME(...) do { \
	char want[256], got[256]; \
	int want_n, got_n; \
	size_t size, full = (size_t)snprintf(want, sizeof(want), \
	    __VA_ARGS__) + 1; \
	for (size = 0; size <= full && size <= sizeof(want); size++) { \
		memset(want, 'W', sizeof(want)); \
		memset(got, 'W', sizeof(got)); \
		want_n = snprintf(want, size, __VA_ARGS__); \
		got_n = fmt(got, size, __VA_ARGS__); \
		if (want_n != got_n || memcmp(want, got, size) != 0) \
			differ(__LINE__, size ? want : "", want_n, \
			    size ? got : "", got_n, size); \
	} \
} while (0)

static void
check_subset(void)
{
	SAME("plain text");
	SAME("%s|%5s|%.3s|%.*s|%.64s", "abc", "ab", "abcdef", 2, "xyz", "t");
	SAME("%d %d %d %d", 0, 7, -7, INT_MIN);
	SAME("%ld %ld %lld %lld", LONG_MAX, LONG_MIN, LLONG_MAX, LLONG_MIN);
	SAME("%02d:%02d:%02d %04d %2d %03ld", 1, 2, 59, 2026, 3, 5L);
	SAME("%05d|%5d|%.5d|%.0d|%.0d|%3d", -42, -42, 17, 0, 3, 12345);
	SAME("%03o %o %lo", 0644, 0, 8L);
	SAME("%c%c|%3c", 'a', 'b', 'q');
	SAME("%s: %s (%d)", "daemonize", "a longer message than some", 125);
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat"
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
#pragma GCC diagnostic ignored "-Wformat-extra-args"

/* Outside the subset: as written, so that it shows. */
static void
check_outside(void)
{
	struct { const char *format, *want; } t[] = {
		{ "100%%", "100%" },
		{ "%y|%u", "%y|%u" },
		{ "%", "%" },
	};
	const char *volatile none = NULL;	/* unseen by the compiler */
	char got[64];
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		(void)fmt(got, sizeof(got), t[i].format, 1);
		if (strcmp(got, t[i].want) != 0)
			differ(__LINE__, t[i].want, 0, got, 0, sizeof(got));
	}
	(void)fmt(got, sizeof(got), "%s", none);
	if (strcmp(got, "(null)") != 0)
		differ(__LINE__, "(null)", 0, got, 0, sizeof(got));
}

#pragma GCC diagnostic pop

static void
check_scan(void)
{
	long v[3] = { 0, 0, 0 };

	if (scan_longs(" 12 -3 x 4", v, 3) != 2 || v[0] != 12 || v[1] != -3)
		differ(__LINE__, "2: 12 -3", 0, "other", 0, 0);
	if (scan_longs("99999999999999999999", v, 1) != 0)
		differ(__LINE__, "0 (out of range)", 0, "other", 0, 0);
}

/* fmt_time against strftime(3), in zones east and west of UTC. */
static void
check_time(const char *zone, time_t sec, long nsec)
{
	struct timespec ts = { .tv_sec = sec, .tv_nsec = nsec };
	struct fmt_clock c = { .sec = -1 };
	char want[64], zonepart[8], got[64];
	struct tm tm;
	size_t n;

	(void)setenv("TZ", zone, 1);
	tzset();
	(void)localtime_r(&sec, &tm);
	(void)strftime(want, sizeof(want), "%Y-%m-%dT%H:%M:%S", &tm);
	(void)strftime(zonepart, sizeof(zonepart), "%z", &tm);
	(void)snprintf(want + strlen(want), sizeof(want) - strlen(want),
	    ".%03ld%.3s:%s", nsec / 1000000, zonepart, zonepart + 3);
	n = fmt_time(got, sizeof(got), &ts, &c);
	if (n != strlen(want) || strcmp(got, want) != 0)
		differ(__LINE__, want, (int)strlen(want), got, (int)n, 0);
}

int
main(void)
{
	struct timespec far = { .tv_sec = (time_t)LLONG_MAX };
	struct fmt_clock c = { .sec = -1 };
	char buf[64];

	check_subset();
	check_outside();
	check_scan();
	check_time("UTC0", 1796000000, 123456789);
	check_time("NST3:30NDT,M3.2.0,M11.1.0", 1796000000, 999000000);
	check_time("IST-5:30", 0, 5000000);
	/* A time with no local form gives nothing. */
	if (fmt_time(buf, sizeof(buf), &far, &c) != 0)
		differ(__LINE__, "", 0, buf, 0, sizeof(buf));
	return failures != 0;
}
