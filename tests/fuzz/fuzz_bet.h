/* An oracle for bet_validate, written apart from lib/bet.c and lib/utf8.c (code points decoded
 * by value, not by byte ranges), for the harnesses that decode bets: the error it expects, in the
 * order bet_validate checks the fields. Today is fixed, so a birthdate is in the future exactly
 * when it sorts after FUZZ_TODAY_TEXT. */
#ifndef TP0_FUZZ_BET_H
#define TP0_FUZZ_BET_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bet.h"

#define FUZZ_TODAY_TEXT "2026-01-01"
static const struct bet_date fuzz_today = { 2026, 1, 1 };

/* Strict UTF-8 (shortest form, no surrogates, at most U+10FFFF) without C0, DEL or C1. */
static bool fuzz_name_ok(const char *s, size_t cap)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len = strnlen(s, cap);

	if (len == 0 || len > BET_NAME_MAX)
		return false;
	for (size_t i = 0; i < len;) {
		uint32_t cp;
		size_t n;

		if (p[i] < 0x80) {
			cp = p[i];
			n = 1;
		} else if ((p[i] & 0xE0) == 0xC0) {
			cp = p[i] & 0x1Fu;
			n = 2;
		} else if ((p[i] & 0xF0) == 0xE0) {
			cp = p[i] & 0x0Fu;
			n = 3;
		} else if ((p[i] & 0xF8) == 0xF0) {
			cp = p[i] & 0x07u;
			n = 4;
		} else {
			return false;
		}
		if (i + n > len)
			return false;
		for (size_t k = 1; k < n; k++) {
			if ((p[i + k] & 0xC0) != 0x80)
				return false;
			cp = cp << 6 | (p[i + k] & 0x3Fu);
		}
		if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000))
			return false; /* overlong */
		if ((cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
			return false;
		if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F))
			return false;
		i += n;
	}
	return true;
}

static bool fuzz_digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

static int fuzz_num(const char *s, size_t n)
{
	return n == 0 ? 0 : fuzz_num(s, n - 1) * 10 + (s[n - 1] - '0');
}

static enum bet_error fuzz_expected(const struct bet *b, uint32_t agencies)
{
	static const int month_days[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	const char *d = b->birthdate;
	size_t doc_len = strnlen(b->document, sizeof(b->document));
	int year, month, day;

	if (b->agency < 1 || b->agency > agencies)
		return BET_BAD_AGENCY;
	if (!fuzz_name_ok(b->first_name, sizeof(b->first_name)))
		return BET_BAD_FIRST_NAME;
	if (!fuzz_name_ok(b->last_name, sizeof(b->last_name)))
		return BET_BAD_LAST_NAME;
	if (doc_len < 1 || doc_len > BET_DOCUMENT_MAX || !fuzz_digits(b->document, doc_len))
		return BET_BAD_DOCUMENT;
	if (strnlen(d, sizeof(b->birthdate)) != BET_DATE_LEN || d[4] != '-' || d[7] != '-' ||
	    !fuzz_digits(d, 4) || !fuzz_digits(d + 5, 2) || !fuzz_digits(d + 8, 2))
		return BET_BAD_BIRTHDATE;
	year = fuzz_num(d, 4);
	month = fuzz_num(d + 5, 2);
	day = fuzz_num(d + 8, 2);
	if (year < 1900 || month < 1 || month > 12 || day < 1 || day > month_days[month - 1])
		return BET_BAD_BIRTHDATE;
	if (month == 2 && day == 29 && !(year % 400 == 0 || (year % 4 == 0 && year % 100 != 0)))
		return BET_BAD_BIRTHDATE;
	if (strcmp(d, FUZZ_TODAY_TEXT) > 0)
		return BET_FUTURE_BIRTHDATE;
	if (b->number > BET_NUMBER_MAX)
		return BET_BAD_NUMBER;
	return BET_OK;
}

/* bet_validate must agree with the oracle, and name what it refused. */
static void fuzz_check_bet(const struct bet *b, uint32_t agencies)
{
	enum bet_error got = bet_validate(b, agencies, &fuzz_today);

	if (got != fuzz_expected(b, agencies) || bet_error_text(got) == NULL)
		abort();
	if (bet_date_exists(fuzz_today.year, fuzz_today.month, fuzz_today.day) != true)
		abort();
}

#endif
