/*
 * A bounded printf(3) subset and a reader of decimal fields; see fmt.h.
 */
#include <sys/types.h>

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "fmt.h"

/* The text so far: len counts what would be written, like snprintf. */
struct out {
	char *buf;
	size_t size;
	size_t len;
};

/* One conversion: %[0][width][.precision][l|ll]conversion. */
struct spec {
	bool zero;
	int width, prec;	/* prec -1: none given */
	int longs;		/* how many l */
	char conv;
};

static const char *parse_spec(const char *, struct spec *, va_list *);
static void put_conversion(struct out *, const struct spec *, va_list *);
static void put_number(struct out *, const struct spec *, uintmax_t, bool);
static void put_char(struct out *, char);
static void put_padding(struct out *, int, char);
static void put_text(struct out *, const struct spec *, const char *);

int
fmt(char *buf, size_t size, const char *format, ...)
{
	va_list ap;
	int n;

	va_start(ap, format);
	n = fmt_v(buf, size, format, ap);
	va_end(ap);
	return n;
}

/* As vsnprintf(3): the length the whole text needs; buf gets what fits. */
int
fmt_v(char *buf, size_t size, const char *format, va_list ap)
{
	struct out o = { .buf = buf, .size = size };
	struct spec s;
	va_list args;

	/* A copy: a va_list parameter may be an array, and we pass its address. */
	va_copy(args, ap);
	while (*format != '\0') {
		if (*format != '%') {
			put_text(&o, &(struct spec){ .prec = 1 }, format++);
			continue;
		}
		format = parse_spec(format + 1, &s, &args);
		put_conversion(&o, &s, &args);
	}
	va_end(args);
	if (size > 0)
		buf[o.len < size ? o.len : size - 1] = '\0';
	return o.len > INT_MAX ? INT_MAX : (int)o.len;
}

static int
take_count(const char **f, va_list *ap)
{
	int n = 0;

	if (**f == '*') {
		(*f)++;
		return va_arg(*ap, int);
	}
	while (**f >= '0' && **f <= '9' && n < INT_MAX / 10)
		n = n * 10 + *(*f)++ - '0';
	return n;
}

static const char *
parse_spec(const char *f, struct spec *s, va_list *ap)
{
	*s = (struct spec){ .prec = -1 };
	while (*f == '0') {
		s->zero = true;
		f++;
	}
	s->width = take_count(&f, ap);
	if (*f == '.') {
		f++;
		s->prec = take_count(&f, ap);
	}
	while (*f == 'l' && s->longs < 2) {
		s->longs++;
		f++;
	}
	s->conv = *f;
	return *f != '\0' ? f + 1 : f;
}

static void
put_conversion(struct out *o, const struct spec *s, va_list *ap)
{
	long long v;

	switch (s->conv) {
	case 'd':
	case 'o':
		v = s->longs == 2 ? va_arg(*ap, long long) :
		    s->longs == 1 ? va_arg(*ap, long) : va_arg(*ap, int);
		put_number(o, s, v < 0 ? -(uintmax_t)v : (uintmax_t)v, v < 0);
		break;
	case 'c':
		put_padding(o, s->width - 1, ' ');
		put_char(o, (char)va_arg(*ap, int));
		break;
	case 's':
		put_text(o, s, va_arg(*ap, const char *));
		break;
	default:	/* "%%", or a conversion we do not know: as written */
		put_text(o, &(struct spec){ .prec = 1 }, "%");
		if (s->conv != '%' && s->conv != '\0')
			put_text(o, &(struct spec){ .prec = 1 }, &s->conv);
	}
}

static void
put_char(struct out *o, char c)
{
	if (o->len + 1 < o->size)
		o->buf[o->len] = c;
	o->len++;
}

static void
put_padding(struct out *o, int n, char c)
{
	while (n-- > 0)
		put_char(o, c);
}

/* At most prec bytes of text (all of it if prec is -1), padded to width. */
static void
put_text(struct out *o, const struct spec *s, const char *text)
{
	int n = 0;

	if (text == NULL)
		text = "(null)";
	while ((s->prec < 0 || n < s->prec) && text[n] != '\0')
		n++;
	put_padding(o, s->width - n, ' ');
	for (int i = 0; i < n; i++)
		put_char(o, text[i]);
}

static void
put_number(struct out *o, const struct spec *s, uintmax_t v, bool negative)
{
	unsigned base = s->conv == 'o' ? 8 : 10;
	char digits[sizeof(uintmax_t) * CHAR_BIT / 3 + 1];
	int n = 0, zeros, width;

	/* Zero with a precision of 0 has no digit at all. */
	if (v != 0 || s->prec != 0)
		do {
			digits[n++] = (char)('0' + v % base);
			v /= base;
		} while (v != 0);
	zeros = s->prec > n ? s->prec - n : 0;
	width = s->width - n - zeros - (negative ? 1 : 0);
	if (s->zero && s->prec < 0) {
		zeros += width > 0 ? width : 0;
		width = 0;
	}
	put_padding(o, width, ' ');
	if (negative)
		put_char(o, '-');
	put_padding(o, zeros, '0');
	while (n > 0)
		put_char(o, digits[--n]);
}

/*
 * Reads up to n decimal numbers separated by blanks from s into v;
 * returns how many it read before the first that is not one.
 */
int
scan_longs(const char *s, long *v, int n)
{
	int saved = errno, i;
	char *end;

	for (i = 0; i < n; i++) {
		errno = 0;
		v[i] = strtol(s, &end, 10);
		if (end == s || errno != 0)
			break;
		s = end;
	}
	errno = saved;
	return i;
}

/*
 * "2026-11-30T01:02:03.456+01:00": ISO 8601 local time with milliseconds
 * and the UTC offset; its length, or 0 if the time has no local form.
 */
size_t
fmt_time(char *buf, size_t size, const struct timespec *ts,
    struct fmt_clock *c)
{
	long off;
	int n;

	if (ts->tv_sec != c->sec) {
		if (localtime_r(&ts->tv_sec, &c->tm) == NULL)
			return 0;
		c->sec = ts->tv_sec;
	}
	off = c->tm.tm_gmtoff / 60;
	n = fmt(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03ld%c%02ld:%02ld",
	    c->tm.tm_year + 1900, c->tm.tm_mon + 1, c->tm.tm_mday,
	    c->tm.tm_hour, c->tm.tm_min, c->tm.tm_sec, ts->tv_nsec / 1000000,
	    off < 0 ? '-' : '+', labs(off) / 60, labs(off) % 60);
	return n < 0 ? 0 : (size_t)n < size ? (size_t)n : size - 1;
}
