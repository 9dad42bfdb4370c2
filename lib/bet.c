/* bet: building a bet from text fields and the one validation every process applies. */
#include "bet.h"

#include <string.h>
#include <time.h>

#include "utf8.h"

const char *bet_error_text(enum bet_error err)
{
	switch (err) {
	case BET_OK:
		return "ok";
	case BET_BAD_AGENCY:
		return "invalid agency";
	case BET_BAD_FIRST_NAME:
		return "invalid first name";
	case BET_BAD_LAST_NAME:
		return "invalid last name";
	case BET_BAD_DOCUMENT:
		return "invalid document";
	case BET_BAD_BIRTHDATE:
		return "invalid birthdate";
	case BET_FUTURE_BIRTHDATE:
		return "birthdate in the future";
	case BET_BAD_NUMBER:
		return "invalid number";
	}
	return "unknown bet error";
}

void bet_today(struct bet_date *today)
{
	time_t now = time(NULL);
	struct tm tm;

	if (now == (time_t)-1 || gmtime_r(&now, &tm) == NULL) {
		/* Without a clock no birthdate can be called future: better than rejecting every bet. */
		today->year = 9999;
		today->month = 12;
		today->day = 31;
		return;
	}
	today->year = tm.tm_year + 1900;
	today->month = tm.tm_mon + 1;
	today->day = tm.tm_mday;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool all_digits(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!is_digit(s[i]))
			return false;
	return true;
}

/* Copies len bytes into a slot of cap bytes (room for the NUL included); false if they do not
 * fit or hold a NUL, which would silently shorten the value. */
static bool copy_field(char *dst, size_t cap, const char *src, size_t len)
{
	if (len >= cap || (len > 0 && memchr(src, '\0', len) != NULL))
		return false;
	if (len > 0)
		memcpy(dst, src, len);
	dst[len] = '\0';
	return true;
}

enum bet_error bet_from_fields(struct bet *bet, uint32_t agency, const char *first_name,
                               size_t first_len, const char *last_name, size_t last_len,
                               const char *document, size_t document_len, const char *birthdate,
                               size_t birthdate_len, const char *number, size_t number_len)
{
	unsigned value = 0;

	memset(bet, 0, sizeof(*bet));
	bet->agency = agency;
	if (!copy_field(bet->first_name, sizeof(bet->first_name), first_name, first_len))
		return BET_BAD_FIRST_NAME;
	if (!copy_field(bet->last_name, sizeof(bet->last_name), last_name, last_len))
		return BET_BAD_LAST_NAME;
	if (!copy_field(bet->document, sizeof(bet->document), document, document_len))
		return BET_BAD_DOCUMENT;
	if (!copy_field(bet->birthdate, sizeof(bet->birthdate), birthdate, birthdate_len))
		return BET_BAD_BIRTHDATE;
	if (number_len < 1 || number_len > 4 || !all_digits(number, number_len))
		return BET_BAD_NUMBER;
	for (size_t i = 0; i < number_len; i++)
		value = value * 10 + (unsigned)(number[i] - '0');
	bet->number = (uint16_t)value;
	return BET_OK;
}

/* Names: 1..BET_NAME_MAX bytes of UTF-8 with no C0, DEL or C1 control character (a tab or a
 * newline in a name would break the log lines and the CSV rows built from it). */
static bool name_valid(const char *name, size_t len)
{
	const unsigned char *p = (const unsigned char *)name;
	size_t i = 0;

	if (len == 0 || len > BET_NAME_MAX)
		return false;
	/* Most names are printable ASCII: checked a byte at a time in one pass; the first byte
	 * past ASCII sends the rest through the UTF-8 decoder. */
	while (i < len && p[i] >= 0x20 && p[i] < 0x7F)
		i++;
	if (i == len)
		return true;
	if (p[i] < 0x80 || !utf8_valid(name + i, len - i))
		return false; /* a C0 control character or DEL, or not UTF-8 */
	for (; i < len; i++) {
		if (p[i] < 0x20 || p[i] == 0x7F)
			return false;
		/* U+0080..U+009F are C2 80..C2 9F; the UTF-8 is valid, so C2 is a lead byte here. */
		if (p[i] == 0xC2 && i + 1 < len && p[i + 1] <= 0x9F)
			return false;
	}
	return true;
}

static bool document_valid(const char *document, size_t len)
{
	return len >= 1 && len <= BET_DOCUMENT_MAX && all_digits(document, len);
}

bool bet_date_exists(int year, int month, int day)
{
	static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	if (year < 1 || year > 9999 || month < 1 || month > 12 || day < 1)
		return false;
	bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
	return day <= (month == 2 && leap ? 29 : days[month - 1]);
}

static int number_at(const char *s, size_t len)
{
	int value = 0;

	for (size_t i = 0; i < len; i++)
		value = value * 10 + (s[i] - '0');
	return value;
}

/* Exactly YYYY-MM-DD, a real Gregorian date from 1900 on. */
static enum bet_error birthdate_check(const char *text, size_t len, const struct bet_date *today)
{
	struct bet_date d;

	if (len != BET_DATE_LEN || text[4] != '-' || text[7] != '-' ||
	    !all_digits(text, 4) || !all_digits(text + 5, 2) || !all_digits(text + 8, 2))
		return BET_BAD_BIRTHDATE;
	d.year = number_at(text, 4);
	d.month = number_at(text + 5, 2);
	d.day = number_at(text + 8, 2);
	if (d.year < 1900 || !bet_date_exists(d.year, d.month, d.day))
		return BET_BAD_BIRTHDATE;
	if (d.year != today->year ? d.year > today->year
	    : d.month != today->month ? d.month > today->month
	    : d.day > today->day)
		return BET_FUTURE_BIRTHDATE;
	return BET_OK;
}

enum bet_error bet_validate_fields(const struct bet_fields *f, uint32_t agencies,
                                   const struct bet_date *today)
{
	struct bet_date now;
	enum bet_error err;

	if (today == NULL) {
		bet_today(&now);
		today = &now;
	}
	if (f->agency < 1 || f->agency > agencies)
		return BET_BAD_AGENCY;
	/* A NUL is a control character to name_valid and not a digit to the others: a field with
	 * one is refused, never cut short. */
	if (!name_valid(f->first_name, f->first_name_len))
		return BET_BAD_FIRST_NAME;
	if (!name_valid(f->last_name, f->last_name_len))
		return BET_BAD_LAST_NAME;
	if (!document_valid(f->document, f->document_len))
		return BET_BAD_DOCUMENT;
	err = birthdate_check(f->birthdate, f->birthdate_len, today);
	if (err != BET_OK)
		return err;
	if (f->number > BET_NUMBER_MAX)
		return BET_BAD_NUMBER;
	return BET_OK;
}

enum bet_error bet_validate(const struct bet *bet, uint32_t agencies, const struct bet_date *today)
{
	const struct bet_fields f = {
		.agency = bet->agency,
		.first_name = bet->first_name,
		.first_name_len = strnlen(bet->first_name, sizeof(bet->first_name)),
		.last_name = bet->last_name,
		.last_name_len = strnlen(bet->last_name, sizeof(bet->last_name)),
		.document = bet->document,
		.document_len = strnlen(bet->document, sizeof(bet->document)),
		.birthdate = bet->birthdate,
		.birthdate_len = strnlen(bet->birthdate, sizeof(bet->birthdate)),
		.number = bet->number,
	};

	return bet_validate_fields(&f, agencies, today);
}

bool has_won(const struct bet *bet)
{
	return bet->number == LOTTERY_WINNER_NUMBER;
}
