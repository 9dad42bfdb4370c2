/* The line is formatted here rather than by vsnprintf because every %s value must be sanitised
 * on its way in: a peer-supplied "x | result: success" or "\n" must not forge fields or lines. */
#include "log.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "io.h"
#include "utf8.h"

/* Set at start-up, before any thread or child exists; read-only afterwards. */
static enum log_level min_level = LOG_INFO;
static int log_fd = STDOUT_FILENO;

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
/* output buffer: silently full, never overflowing; with buf == NULL it only counts */

struct out {
	char *buf;
	size_t limit; /* bytes of text allowed */
	size_t len;
	bool cut;
};

static void out_bytes(struct out *o, const char *s, size_t n)
{
	if (o->buf == NULL) {
		o->len += n;
		return;
	}
	if (o->cut)
		return;
	if (n > o->limit - o->len) {
		n = o->limit - o->len;
		o->cut = true;
	}
	memcpy(o->buf + o->len, s, n);
	o->len += n;
}

/* Whole UTF-8 sequences only: once one does not fit, nothing more goes in. */
static void out_atom(struct out *o, const char *s, size_t n)
{
	if (o->buf != NULL && !o->cut && n > o->limit - o->len) {
		o->cut = true;
		return;
	}
	out_bytes(o, s, n);
}

static void out_repeat(struct out *o, char c, size_t n)
{
	while (n-- > 0)
		out_bytes(o, &c, 1);
}

static void out_sanitized(struct out *o, const char *src, size_t n)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t i = 0;
	while (i < n && !(o->buf != NULL && o->cut)) {
		size_t k = utf8_sequence_length(s + i, n - i);
		if (k == 0) {
			out_atom(o, "?", 1);
			i++;
		} else if (k == 1 && (s[i] < 0x20 || s[i] == 0x7F || s[i] == '|')) {
			out_atom(o, " ", 1);
			i++;
		} else if (k == 2 && s[i] == 0xC2 && s[i + 1] < 0xA0) {
			/* C1 controls (U+0080..U+009F): NEL ends a line for some readers */
			out_atom(o, " ", 1);
			i += 2;
		} else {
			out_atom(o, src + i, k);
			i += k;
		}
	}
}

size_t log_sanitize(char *dst, size_t cap, const char *src)
{
	if (cap == 0)
		return 0;
	struct out o = {.buf = dst, .limit = cap - 1, .len = 0, .cut = false};
	if (src != NULL)
		out_sanitized(&o, src, strlen(src));
	dst[o.len] = '\0';
	return o.len;
}

/* ------------------------------------------------------------------------------------------- */
/* the small printf */

struct spec {
	bool minus, plus, space, zero, alt;
	size_t width;
	int prec; /* -1: none */
};

static void pad_field(struct out *o, const struct spec *sp, size_t body, bool left_side)
{
	if (sp->width > body && sp->minus != left_side)
		out_repeat(o, ' ', sp->width - body);
}

static void put_string(struct out *o, const struct spec *sp, const char *s)
{
	if (s == NULL)
		s = "(null)";
	/* strnlen: with a precision the array need not be NUL-terminated */
	size_t n = sp->prec >= 0 ? strnlen(s, (size_t)sp->prec) : strlen(s);
	struct out count = {.buf = NULL, .limit = 0, .len = 0, .cut = false};
	out_sanitized(&count, s, n);
	pad_field(o, sp, count.len, true);
	out_sanitized(o, s, n);
	pad_field(o, sp, count.len, false);
}

static void put_integer(struct out *o, const struct spec *sp, char conv, uintmax_t mag, bool neg)
{
	char digits[3 * sizeof(uintmax_t) + 2];
	const char *set = conv == 'X' ? "0123456789ABCDEF" : "0123456789abcdef";
	unsigned base = conv == 'x' || conv == 'X' || conv == 'p' ? 16 : conv == 'o' ? 8 : 10;
	size_t nd = 0;
	for (uintmax_t v = mag; v > 0; v /= base)
		digits[sizeof digits - ++nd] = set[v % base];

	size_t zeros = 0;
	size_t min_digits = sp->prec >= 0 ? (size_t)sp->prec : 1;
	if (nd < min_digits)
		zeros = min_digits - nd;
	if (conv == 'o' && sp->alt && zeros == 0)
		zeros = 1; /* '#' makes octal start with 0 */

	const char *prefix = "";
	if (neg)
		prefix = "-";
	else if ((conv == 'd' || conv == 'i') && sp->plus)
		prefix = "+";
	else if ((conv == 'd' || conv == 'i') && sp->space)
		prefix = " ";
	else if ((sp->alt && mag != 0 && (conv == 'x' || conv == 'X')) || conv == 'p')
		prefix = conv == 'X' ? "0X" : "0x";

	size_t body = strlen(prefix) + zeros + nd;
	if (sp->zero && !sp->minus && sp->prec < 0 && sp->width > body) {
		zeros += sp->width - body;
		body = sp->width;
	}
	pad_field(o, sp, body, true);
	out_bytes(o, prefix, strlen(prefix));
	out_repeat(o, '0', zeros);
	out_bytes(o, digits + sizeof digits - nd, nd);
	pad_field(o, sp, body, false);
}

static void put_double(struct out *o, const struct spec *sp, char conv, double v)
{
	char tmp[64];
	int prec = sp->prec >= 0 ? sp->prec : 6;
	if (prec > 30)
		prec = 30;
	int n;
	/* Literal formats, one per conversion, keep -Wformat-nonliteral quiet. */
	switch (conv) {
	case 'e':
		n = snprintf(tmp, sizeof tmp, "%.*e", prec, v);
		break;
	case 'E':
		n = snprintf(tmp, sizeof tmp, "%.*E", prec, v);
		break;
	case 'g':
		n = snprintf(tmp, sizeof tmp, "%.*g", prec, v);
		break;
	case 'G':
		n = snprintf(tmp, sizeof tmp, "%.*G", prec, v);
		break;
	default:
		n = snprintf(tmp, sizeof tmp, "%.*f", prec, v);
		break;
	}
	if (n < 0)
		return;
	size_t len = (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1;
	pad_field(o, sp, len, true);
	out_bytes(o, tmp, len);
	pad_field(o, sp, len, false);
}

enum length { LEN_NONE, LEN_HH, LEN_H, LEN_L, LEN_LL, LEN_Z, LEN_J, LEN_T };

static void format_fields(struct out *o, const char *fmt, va_list ap)
{
	const char *p = fmt;
	while (*p != '\0') {
		const char *pct = strchr(p, '%');
		if (pct == NULL) {
			out_bytes(o, p, strlen(p));
			return;
		}
		out_bytes(o, p, (size_t)(pct - p));
		p = pct + 1;

		struct spec sp = {false, false, false, false, false, 0, -1};
		for (;; p++) {
			if (*p == '-')
				sp.minus = true;
			else if (*p == '+')
				sp.plus = true;
			else if (*p == ' ')
				sp.space = true;
			else if (*p == '0')
				sp.zero = true;
			else if (*p == '#')
				sp.alt = true;
			else
				break;
		}
		if (*p == '*') {
			int w = va_arg(ap, int);
			if (w < 0) {
				sp.minus = true;
				w = -w;
			}
			sp.width = (size_t)w;
			p++;
		} else {
			for (; *p >= '0' && *p <= '9'; p++)
				sp.width = sp.width * 10 + (size_t)(*p - '0');
		}
		if (sp.width > LOG_LINE_MAX)
			sp.width = LOG_LINE_MAX;
		if (*p == '.') {
			p++;
			sp.prec = 0;
			if (*p == '*') {
				int pr = va_arg(ap, int);
				sp.prec = pr < 0 ? -1 : pr;
				p++;
			} else {
				for (; *p >= '0' && *p <= '9'; p++)
					if (sp.prec < 100000)
						sp.prec = sp.prec * 10 + (*p - '0');
			}
		}
		if (sp.prec > LOG_LINE_MAX)
			sp.prec = LOG_LINE_MAX;

		enum length len = LEN_NONE;
		if (p[0] == 'h' && p[1] == 'h') {
			len = LEN_HH;
			p += 2;
		} else if (p[0] == 'l' && p[1] == 'l') {
			len = LEN_LL;
			p += 2;
		} else if (*p == 'h') {
			len = LEN_H;
			p++;
		} else if (*p == 'l') {
			len = LEN_L;
			p++;
		} else if (*p == 'z') {
			len = LEN_Z;
			p++;
		} else if (*p == 'j') {
			len = LEN_J;
			p++;
		} else if (*p == 't') {
			len = LEN_T;
			p++;
		}

		char conv = *p;
		if (conv != '\0')
			p++;
		switch (conv) {
		case '%':
			out_bytes(o, "%", 1);
			break;
		case 's':
			put_string(o, &sp, va_arg(ap, const char *));
			break;
		case 'c': {
			char c = (char)va_arg(ap, int);
			/* one byte on its own: sanitised like a string of length 1 */
			pad_field(o, &sp, 1, true);
			out_sanitized(o, &c, 1);
			pad_field(o, &sp, 1, false);
			break;
		}
		case 'd':
		case 'i': {
			intmax_t v;
			switch (len) {
			case LEN_HH:
				v = (signed char)va_arg(ap, int);
				break;
			case LEN_H:
				v = (short)va_arg(ap, int);
				break;
			case LEN_L:
				v = va_arg(ap, long);
				break;
			case LEN_LL:
				v = va_arg(ap, long long);
				break;
			case LEN_Z:
				v = va_arg(ap, ssize_t);
				break;
			case LEN_J:
				v = va_arg(ap, intmax_t);
				break;
			case LEN_T:
				v = va_arg(ap, ptrdiff_t);
				break;
			default:
				v = va_arg(ap, int);
				break;
			}
			/* negated in unsigned arithmetic, INTMAX_MIN included */
			uintmax_t mag = v < 0 ? 0 - (uintmax_t)v : (uintmax_t)v;
			put_integer(o, &sp, conv, mag, v < 0);
			break;
		}
		case 'u':
		case 'x':
		case 'X':
		case 'o': {
			uintmax_t v;
			switch (len) {
			case LEN_HH:
				v = (unsigned char)va_arg(ap, unsigned);
				break;
			case LEN_H:
				v = (unsigned short)va_arg(ap, unsigned);
				break;
			case LEN_L:
				v = va_arg(ap, unsigned long);
				break;
			case LEN_LL:
				v = va_arg(ap, unsigned long long);
				break;
			case LEN_Z:
				v = va_arg(ap, size_t);
				break;
			case LEN_J:
				v = va_arg(ap, uintmax_t);
				break;
			case LEN_T:
				v = (uintmax_t)va_arg(ap, ptrdiff_t);
				break;
			default:
				v = va_arg(ap, unsigned);
				break;
			}
			put_integer(o, &sp, conv, v, false);
			break;
		}
		case 'p': {
			const void *ptr = va_arg(ap, const void *);
			if (ptr == NULL) {
				struct spec plain = sp;
				plain.prec = -1;
				put_string(o, &plain, "(nil)");
			} else {
				put_integer(o, &sp, 'p', (uintmax_t)(uintptr_t)ptr, false);
			}
			break;
		}
		case 'f':
		case 'F':
		case 'e':
		case 'E':
		case 'g':
		case 'G':
			put_double(o, &sp, conv, va_arg(ap, double));
			break;
		default:
			/* Unknown conversion: the argument's type is unknown too, so nothing after it can
			 * be formatted safely. The format attribute makes this a compile-time error. */
			out_bytes(o, "%?", 2);
			return;
		}
	}
}

/* ------------------------------------------------------------------------------------------- */

/* After a cut, drop a UTF-8 sequence left incomplete at the end of the text. */
static void trim_partial_sequence(struct out *o)
{
	size_t start = o->len;
	size_t back = 0;
	while (start > 0 && back < 4 && ((unsigned char)o->buf[start - 1] & 0xC0) == 0x80) {
		start--;
		back++;
	}
	if (start == 0)
		return;
	start--;
	unsigned char lead = (unsigned char)o->buf[start];
	if (lead < 0x80)
		return;
	if (utf8_sequence_length((const unsigned char *)o->buf + start, o->len - start) == 0)
		o->len = start;
}

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
	out_bytes(&o, " ", 1);

	/* Python's "%(levelname)-8s " */
	const char *name = log_level_name(level);
	size_t nlen = strlen(name);
	out_bytes(&o, name, nlen);
	out_repeat(&o, ' ', (nlen < 8 ? 8 - nlen : 0) + 1);

	out_bytes(&o, "action: ", 8);
	out_sanitized(&o, action != NULL ? action : "", action != NULL ? strlen(action) : 0);
	out_bytes(&o, " | result: ", 11);
	out_sanitized(&o, result != NULL ? result : "", result != NULL ? strlen(result) : 0);
	if (fmt != NULL && fmt[0] != '\0') {
		out_bytes(&o, " | ", 3);
		format_fields(&o, fmt, ap);
	}
	if (o.cut)
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
