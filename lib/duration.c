/* Go's time.ParseDuration and time.Duration.String(), rule for rule, so configuration written
 * for the course's Go client keeps its meaning and prints back the same. */
#include "duration.h"

#include <stdbool.h>
#include <string.h>

#define NS_US 1000ULL
#define NS_MS (1000ULL * NS_US)
#define NS_S (1000ULL * NS_MS)
#define NS_MIN (60ULL * NS_S)
#define NS_H (60ULL * NS_MIN)
#define LIMIT (1ULL << 63) /* magnitude of INT64_MIN: the largest value a negative one may have */

struct unit {
	const char *name;
	uint64_t ns;
};

static const struct unit units[] = {
	{"ns", 1},
	{"us", NS_US},
	{"\xC2\xB5s", NS_US}, /* U+00B5 micro sign */
	{"\xCE\xBCs", NS_US}, /* U+03BC Greek small letter mu */
	{"ms", NS_MS},
	{"s", NS_S},
	{"m", NS_MIN},
	{"h", NS_H},
};

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* [0-9]*; -1 when the value exceeds 1<<63. */
static int leading_int(const char **s, uint64_t *out)
{
	uint64_t x = 0;
	const char *p = *s;
	for (; is_digit(*p); p++) {
		if (x > LIMIT / 10)
			return -1;
		x = x * 10 + (uint64_t)(*p - '0');
		if (x > LIMIT)
			return -1;
	}
	*s = p;
	*out = x;
	return 0;
}

/* [0-9]* after the point: extra digits only lose precision, never fail. */
static void leading_fraction(const char **s, uint64_t *out, double *scale)
{
	uint64_t x = 0;
	double sc = 1;
	bool overflow = false;
	const char *p = *s;
	for (; is_digit(*p); p++) {
		if (overflow)
			continue;
		if (x > (LIMIT - 1) / 10) {
			overflow = true;
			continue;
		}
		uint64_t y = x * 10 + (uint64_t)(*p - '0');
		if (y > LIMIT) {
			overflow = true;
			continue;
		}
		x = y;
		sc *= 10;
	}
	*s = p;
	*out = x;
	*scale = sc;
}

static const struct unit *find_unit(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
		if (strlen(units[i].name) == len && memcmp(units[i].name, name, len) == 0)
			return &units[i];
	return NULL;
}

int duration_parse(const char *text, int64_t *ns)
{
	if (text == NULL)
		return -1;
	const char *s = text;
	bool neg = false;
	if (*s == '-' || *s == '+') {
		neg = *s == '-';
		s++;
	}
	if (strcmp(s, "0") == 0) {
		*ns = 0;
		return 0;
	}
	if (*s == '\0')
		return -1;

	uint64_t d = 0;
	while (*s != '\0') {
		if (!(*s == '.' || is_digit(*s)))
			return -1;
		const char *start = s;
		uint64_t v = 0, f = 0;
		double scale = 1;
		if (leading_int(&s, &v) != 0)
			return -1;
		bool pre = s != start;
		bool post = false;
		if (*s == '.') {
			s++;
			const char *fstart = s;
			leading_fraction(&s, &f, &scale);
			post = s != fstart;
		}
		if (!pre && !post)
			return -1;

		size_t ulen = 0;
		while (s[ulen] != '\0' && s[ulen] != '.' && !is_digit(s[ulen]))
			ulen++;
		if (ulen == 0)
			return -1;
		const struct unit *u = find_unit(s, ulen);
		if (u == NULL)
			return -1;
		s += ulen;

		if (v > LIMIT / u->ns)
			return -1;
		v *= u->ns;
		if (f > 0) {
			/* double keeps fractions of an hour nanosecond-exact, as in Go */
			v += (uint64_t)((double)f * ((double)u->ns / scale));
			if (v > LIMIT)
				return -1;
		}
		d += v;
		if (d > LIMIT)
			return -1;
	}
	if (neg) {
		/* d <= 1<<63, so the result fits; spelled out to avoid signed overflow at INT64_MIN */
		*ns = d == LIMIT ? INT64_MIN : -(int64_t)d;
		return 0;
	}
	if (d > LIMIT - 1)
		return -1;
	*ns = (int64_t)d;
	return 0;
}

/* Writes the fraction v / 10^prec backwards ending at *w, without trailing zeros (and without
 * the point when it is all zeros); returns v / 10^prec. */
static uint64_t fmt_frac(char *buf, size_t *w, uint64_t v, int prec)
{
	bool print = false;
	for (int i = 0; i < prec; i++) {
		unsigned digit = (unsigned)(v % 10);
		print = print || digit != 0;
		if (print)
			buf[--*w] = (char)('0' + digit);
		v /= 10;
	}
	if (print)
		buf[--*w] = '.';
	return v;
}

static void fmt_int(char *buf, size_t *w, uint64_t v)
{
	do {
		buf[--*w] = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0);
}

void duration_format(int64_t ns, char *buf, size_t cap)
{
	char tmp[DURATION_TEXT_MAX];
	size_t w = sizeof tmp;
	bool neg = ns < 0;
	/* Unsigned negation is well defined, INT64_MIN included. */
	uint64_t u = neg ? 0 - (uint64_t)ns : (uint64_t)ns;

	tmp[--w] = '\0';
	if (u < NS_S) {
		int prec;
		tmp[--w] = 's';
		if (u == 0) {
			tmp[--w] = '0';
			goto done;
		} else if (u < NS_US) {
			prec = 0;
			tmp[--w] = 'n';
		} else if (u < NS_MS) {
			prec = 3;
			tmp[--w] = '\xB5'; /* U+00B5 as Go prints it */
			tmp[--w] = '\xC2';
		} else {
			prec = 6;
			tmp[--w] = 'm';
		}
		u = fmt_frac(tmp, &w, u, prec);
		fmt_int(tmp, &w, u);
	} else {
		tmp[--w] = 's';
		u = fmt_frac(tmp, &w, u, 9);
		fmt_int(tmp, &w, u % 60);
		u /= 60;
		if (u > 0) {
			tmp[--w] = 'm';
			fmt_int(tmp, &w, u % 60);
			u /= 60;
			/* hours are the largest unit: days vary in length */
			if (u > 0) {
				tmp[--w] = 'h';
				fmt_int(tmp, &w, u);
			}
		}
	}
done:
	if (neg)
		tmp[--w] = '-';

	if (cap == 0)
		return;
	size_t n = sizeof tmp - 1 - w;
	if (n > cap - 1)
		n = cap - 1;
	memcpy(buf, tmp + w, n);
	buf[n] = '\0';
}
