/* The line is formatted here rather than by vsnprintf because every %s value must be sanitised
 * on its way in: a peer-supplied "x | result: success" or "\n" must not forge fields or lines. */
#include "log.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io.h"
#include "utf8.h"

/* Set at start-up, before any thread or child exists; read-only afterwards. */
static enum log_level min_level = LOG_INFO;
static int log_fd = STDOUT_FILENO;
static int64_t settle_ms;          /* 0: log_settle returns at once */
static int64_t settle_drain_max_ms;

static const struct {
	enum log_level level;
	const char *name;
} level_names[] = {
	{LOG_DEBUG, "DEBUG"},       {LOG_INFO, "INFO"},         {LOG_WARNING, "WARNING"},
	{LOG_ERROR, "ERROR"},       {LOG_CRITICAL, "CRITICAL"}, {LOG_WARNING, "WARN"},
	{LOG_CRITICAL, "FATAL"},
};

const char *log_level_name(enum log_level level)
{
	for (size_t i = 0; i < sizeof level_names / sizeof level_names[0]; i++)
		if (level_names[i].level == level)
			return level_names[i].name;
	return "UNKNOWN";
}

/* ASCII only, whatever the locale. */
static bool same_name(const char *a, const char *b)
{
	for (; *a != '\0' && *b != '\0'; a++, b++) {
		char ca = *a >= 'a' && *a <= 'z' ? (char)(*a - 'a' + 'A') : *a;
		if (ca != *b)
			return false;
	}
	return *a == *b;
}

int log_level_parse(const char *text, enum log_level *out)
{
	if (text == NULL)
		return -1;
	for (size_t i = 0; i < sizeof level_names / sizeof level_names[0]; i++) {
		if (same_name(text, level_names[i].name)) {
			*out = level_names[i].level;
			return 0;
		}
	}
	return -1;
}

void log_set_level(enum log_level level)
{
	min_level = level;
}

enum log_level log_get_level(void)
{
	return min_level;
}

void log_set_fd(int fd)
{
	log_fd = fd;
}

/* ------------------------------------------------------------------------------------------- */
/* output buffer: silently full, never overflowing */

struct out {
	char *buf;
	size_t limit; /* bytes of text allowed */
	size_t len;
	bool cut;
};

static void out_bytes(struct out *o, const char *s, size_t n)
{
	if (o->cut)
		return;
	if (n > o->limit - o->len) {
		n = o->limit - o->len;
		o->cut = true;
	}
	memcpy(o->buf + o->len, s, n);
	o->len += n;
}

static void out_sanitized(struct out *o, const char *src)
{
	if (src == NULL)
		src = "(null)";
	const unsigned char *s = (const unsigned char *)src;
	size_t n = strlen(src);
	size_t i = 0;
	while (i < n && !o->cut) {
		size_t k = utf8_sequence_length(s + i, n - i);
		if (k == 0) {
			out_bytes(o, "?", 1);
			i++;
		} else if ((k == 1 && (s[i] < 0x20 || s[i] == 0x7F || s[i] == '|')) ||
			   (k == 2 && s[i] == 0xC2 && s[i + 1] < 0xA0)) {
			/* C1 controls (U+0080..U+009F) too: NEL ends a line for some readers */
			out_bytes(o, " ", 1);
			i += k;
		} else {
			out_bytes(o, src + i, k);
			i += k;
		}
	}
}

/* After a cut, drop a UTF-8 sequence left incomplete at the end of the text. */
static void trim_partial_sequence(struct out *o)
{
	if (!o->cut)
		return;
	size_t start = o->len;
	while (start > 0 && o->len - start < 3 && ((unsigned char)o->buf[start - 1] & 0xC0) == 0x80)
		start--;
	if (start == 0 || (unsigned char)o->buf[start - 1] < 0x80)
		return;
	start--;
	if (utf8_sequence_length((const unsigned char *)o->buf + start, o->len - start) == 0)
		o->len = start;
}

size_t log_sanitize(char *dst, size_t cap, const char *src)
{
	if (cap == 0)
		return 0;
	struct out o = {.buf = dst, .limit = cap - 1, .len = 0, .cut = false};
	out_sanitized(&o, src != NULL ? src : "");
	trim_partial_sequence(&o);
	dst[o.len] = '\0';
	return o.len;
}

/* ------------------------------------------------------------------------------------------- */
/* the few conversions the callers use */

static void out_number(struct out *o, uintmax_t v, bool negative, unsigned base)
{
	char digits[3 * sizeof v + 1];
	size_t at = sizeof digits;
	do {
		digits[--at] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v > 0);
	if (negative)
		digits[--at] = '-';
	out_bytes(o, digits + at, sizeof digits - at);
}

/* %s, %d, %i, %u, %x with an optional l, ll or z, and %%. Anything else prints "%?" and ends
 * the line there: the argument's type is unknown, so nothing after it can be read safely. */
static void format_fields(struct out *o, const char *fmt, va_list ap)
{
	for (const char *p = fmt; *p != '\0'; p++) {
		if (*p != '%') {
			out_bytes(o, p, 1);
			continue;
		}
		p++;
		char size = ' ';
		if (p[0] == 'l' && p[1] == 'l') {
			size = 'L';
			p += 2;
		} else if (*p == 'l' || *p == 'z') {
			size = *p++;
		}
		if (*p == '%' && size == ' ') {
			out_bytes(o, "%", 1);
		} else if (*p == 's' && size == ' ') {
			out_sanitized(o, va_arg(ap, const char *));
		} else if (*p == 'd' || *p == 'i') {
			intmax_t v = size == 'L'   ? va_arg(ap, long long)
				     : size == 'l' ? va_arg(ap, long)
				     : size == 'z' ? va_arg(ap, ssize_t)
						   : va_arg(ap, int);
			/* negated in unsigned arithmetic, INTMAX_MIN included */
			out_number(o, v < 0 ? 0 - (uintmax_t)v : (uintmax_t)v, v < 0, 10);
		} else if (*p == 'u' || *p == 'x') {
			uintmax_t v = size == 'L'   ? va_arg(ap, unsigned long long)
				      : size == 'l' ? va_arg(ap, unsigned long)
				      : size == 'z' ? va_arg(ap, size_t)
						    : va_arg(ap, unsigned);
			out_number(o, v, false, *p == 'x' ? 16 : 10);
		} else {
			out_bytes(o, "%?", 2);
			return;
		}
	}
}

/* ------------------------------------------------------------------------------------------- */

size_t log_format(char *buf, size_t cap, time_t when, enum log_level level, const char *action,
                  const char *result, const char *fmt, va_list ap)
{
	if (cap == 0)
		return 0;
	if (cap == 1) {
		buf[0] = '\0';
		return 0;
	}
	/* room for the '\n' and the NUL */
	struct out o = {.buf = buf, .limit = cap - 2, .len = 0, .cut = false};

	struct tm tm;
	char stamp[32];
	if (localtime_r(&when, &tm) == NULL ||
	    strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S", &tm) == 0)
		snprintf(stamp, sizeof stamp, "%s", "0000-00-00 00:00:00");
	out_bytes(&o, stamp, strlen(stamp));

	/* Python's " %(levelname)-8s " */
	char name[16];
	snprintf(name, sizeof name, " %-8s ", log_level_name(level));
	out_bytes(&o, name, strlen(name));

	out_bytes(&o, "action: ", 8);
	out_sanitized(&o, action != NULL ? action : "");
	out_bytes(&o, " | result: ", 11);
	out_sanitized(&o, result != NULL ? result : "");
	if (fmt != NULL && fmt[0] != '\0') {
		out_bytes(&o, " | ", 3);
		format_fields(&o, fmt, ap);
	}
	trim_partial_sequence(&o);
	buf[o.len++] = '\n';
	buf[o.len] = '\0';
	return o.len;
}

void log_eventv(enum log_level level, const char *action, const char *result, const char *fmt,
                va_list ap)
{
	if (level < min_level)
		return;
	int saved = errno; /* callers log a failure and may still look at errno afterwards */
	char line[LOG_LINE_MAX];
	size_t n = log_format(line, sizeof line, time(NULL), level, action, result, fmt, ap);
	/* One write of at most LOG_LINE_MAX < PIPE_BUF bytes: atomic on a pipe. A failure has
	 * nowhere to be reported. */
	(void)io_write_full(log_fd, line, n, IO_NO_DEADLINE);
	errno = saved;
}

void log_event(enum log_level level, const char *action, const char *result, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_eventv(level, action, result, fmt, ap);
	va_end(ap);
}

/* ------------------------------------------------------------------------------------------- */

void log_set_settle(int64_t ms, int64_t drain_max_ms)
{
	settle_ms = ms > 0 ? ms : 0;
	settle_drain_max_ms = drain_max_ms > 0 ? drain_max_ms : 0;
}

int log_settle(int64_t *drain_ms)
{
	int saved = errno, rc = 1, pending = 0;
	struct stat st;

	*drain_ms = 0;
	if (settle_ms == 0 || fstat(log_fd, &st) != 0 || !S_ISFIFO(st.st_mode)) {
		errno = saved;
		return 0;
	}
	int64_t start = io_now_ms(), deadline = start + settle_drain_max_ms;
	/* No event says "the pipe is empty" (POLLOUT only says there is room), hence the polling:
	 * at most drain_max_ms of it, once per draw. */
	for (;;) {
		if (ioctl(log_fd, FIONREAD, &pending) != 0) {
			errno = saved;
			return 0;
		}
		if (pending == 0)
			break;
		int64_t now = io_now_ms();
		if (now >= deadline) {
			rc = -1;
			break;
		}
		(void)io_sleep_until(now + 1 < deadline ? now + 1 : deadline);
	}
	*drain_ms = io_now_ms() - start;
	(void)io_sleep_until(io_deadline_after(settle_ms));
	errno = saved;
	return rc;
}
