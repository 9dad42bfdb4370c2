/* Unit tests of lib/bet: bet_from_fields, bet_validate's every rule, bet_validate_fields (the
 * same rules over fields given by length, as a frame holds them), has_won. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "bet_fixture.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "bet.h"

#define AGENCIES 5

static const struct bet_date fixed_today = { 2024, 6, 15 };

static struct bet valid_bet(void)
{
	return fixture_bet(1, "Santiago Lionel", "Lorca", "30904465", "1999-03-17", 7574);
}

static enum bet_error check_date(const char *date, const struct bet_date *today)
{
	struct bet b = valid_bet();

	strcpy(b.birthdate, date);
	return bet_validate(&b, AGENCIES, today);
}

static enum bet_error check_document(const char *document)
{
	struct bet b = valid_bet();

	strcpy(b.document, document);
	return bet_validate(&b, AGENCIES, &fixed_today);
}

static enum bet_error from_fields(struct bet *b, const char *first, const char *last,
                                  const char *document, const char *birthdate, const char *number)
{
	return bet_from_fields(b, 3, first, strlen(first), last, strlen(last), document,
	                       strlen(document), birthdate, strlen(birthdate), number, strlen(number));
}

static void test_valid_bet(void **state)
{
	(void)state;
	struct bet b = valid_bet();

	assert_int_equal(bet_validate(&b, AGENCIES, &fixed_today), BET_OK);
	/* NULL means "today, from the clock". */
	assert_int_equal(bet_validate(&b, AGENCIES, NULL), BET_OK);
}

static void test_from_fields(void **state)
{
	(void)state;
	struct bet b;

	assert_int_equal(from_fields(&b, "Ana", "Pérez", "123", "1980-01-02", "0042"), BET_OK);
	assert_int_equal(b.agency, 3);
	assert_string_equal(b.first_name, "Ana");
	assert_string_equal(b.last_name, "Pérez");
	assert_string_equal(b.document, "123");
	assert_string_equal(b.birthdate, "1980-01-02");
	assert_int_equal(b.number, 42);
	assert_int_equal(bet_validate(&b, AGENCIES, &fixed_today), BET_OK);

	assert_int_equal(from_fields(&b, "A", "B", "1", "1980-01-02", "0"), BET_OK);
	assert_int_equal(b.number, 0);
	assert_int_equal(from_fields(&b, "A", "B", "1", "1980-01-02", "9999"), BET_OK);
	assert_int_equal(b.number, 9999);
}

static void test_from_fields_number(void **state)
{
	(void)state;
	struct bet b;

	assert_int_equal(from_fields(&b, "A", "B", "1", "1980-01-02", "10000"), BET_BAD_NUMBER);
	assert_int_equal(from_fields(&b, "A", "B", "1", "1980-01-02", ""), BET_BAD_NUMBER);
	assert_int_equal(from_fields(&b, "A", "B", "1", "1980-01-02", "-1"), BET_BAD_NUMBER);
	assert_int_equal(from_fields(&b, "A", "B", "1", "1980-01-02", "+1"), BET_BAD_NUMBER);
	assert_int_equal(from_fields(&b, "A", "B", "1", "1980-01-02", " 12"), BET_BAD_NUMBER);
	assert_int_equal(from_fields(&b, "A", "B", "1", "1980-01-02", "12a"), BET_BAD_NUMBER);
	assert_int_equal(from_fields(&b, "A", "B", "1", "1980-01-02", "٣"), BET_BAD_NUMBER);
}

static void test_from_fields_bounds(void **state)
{
	(void)state;
	struct bet b;
	char name[BET_NAME_MAX + 2];

	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	/* 256 bytes: one too many. */
	assert_int_equal(from_fields(&b, name, "B", "1", "1980-01-02", "1"), BET_BAD_FIRST_NAME);
	assert_int_equal(from_fields(&b, "A", name, "1", "1980-01-02", "1"), BET_BAD_LAST_NAME);
	/* 255 bytes fit. */
	name[BET_NAME_MAX] = '\0';
	assert_int_equal(from_fields(&b, name, name, "1", "1980-01-02", "1"), BET_OK);
	assert_int_equal(strlen(b.first_name), BET_NAME_MAX);
	assert_int_equal(bet_validate(&b, AGENCIES, &fixed_today), BET_OK);

	assert_int_equal(from_fields(&b, "A", "B", "12345678901", "1980-01-02", "1"),
	                 BET_BAD_DOCUMENT);
	assert_int_equal(from_fields(&b, "A", "B", "1", "1980-01-022", "1"), BET_BAD_BIRTHDATE);

	/* An embedded NUL would silently shorten the field. */
	assert_int_equal(bet_from_fields(&b, 1, "A\0B", 3, "B", 1, "1", 1, "1980-01-02", 10, "1", 1),
	                 BET_BAD_FIRST_NAME);
	assert_int_equal(bet_from_fields(&b, 1, "A", 1, "B", 1, "1\0002", 3, "1980-01-02", 10, "1", 1),
	                 BET_BAD_DOCUMENT);
}

static void test_leap_years(void **state)
{
	(void)state;
	assert_int_equal(check_date("2000-02-29", &fixed_today), BET_OK);
	assert_int_equal(check_date("2024-02-29", &fixed_today), BET_OK);
	assert_int_equal(check_date("2023-02-29", &fixed_today), BET_BAD_BIRTHDATE);
	assert_int_equal(check_date("1900-02-29", &fixed_today), BET_BAD_BIRTHDATE);
	assert_int_equal(check_date("2023-02-28", &fixed_today), BET_OK);
}

static void test_bad_dates(void **state)
{
	(void)state;
	assert_int_equal(check_date("2001-04-31", &fixed_today), BET_BAD_BIRTHDATE);
	assert_int_equal(check_date("2001-04-30", &fixed_today), BET_OK);
	assert_int_equal(check_date("2001-12-31", &fixed_today), BET_OK);
	assert_int_equal(check_date("2001-13-01", &fixed_today), BET_BAD_BIRTHDATE);
	assert_int_equal(check_date("2001-00-10", &fixed_today), BET_BAD_BIRTHDATE);
	assert_int_equal(check_date("2001-01-00", &fixed_today), BET_BAD_BIRTHDATE);
	assert_int_equal(check_date("2001-01-32", &fixed_today), BET_BAD_BIRTHDATE);
	assert_int_equal(check_date("1899-12-31", &fixed_today), BET_BAD_BIRTHDATE);
	assert_int_equal(check_date("1900-01-01", &fixed_today), BET_OK);
	assert_int_equal(check_date("2001-1-01", &fixed_today), BET_BAD_BIRTHDATE);
	assert_int_equal(check_date("2001/01/01", &fixed_today), BET_BAD_BIRTHDATE);
	assert_int_equal(check_date("2001-01/01", &fixed_today), BET_BAD_BIRTHDATE);
	assert_int_equal(check_date("2001/01-01", &fixed_today), BET_BAD_BIRTHDATE);
	assert_int_equal(check_date("01-01-2001", &fixed_today), BET_BAD_BIRTHDATE);
	assert_int_equal(check_date("2001-01-0a", &fixed_today), BET_BAD_BIRTHDATE);
	assert_int_equal(check_date("+001-01-01", &fixed_today), BET_BAD_BIRTHDATE);
	assert_int_equal(check_date("", &fixed_today), BET_BAD_BIRTHDATE);
}

static void test_future_fixed(void **state)
{
	(void)state;
	assert_int_equal(check_date("2024-06-15", &fixed_today), BET_OK);
	assert_int_equal(check_date("2024-06-16", &fixed_today), BET_FUTURE_BIRTHDATE);
	assert_int_equal(check_date("2024-07-01", &fixed_today), BET_FUTURE_BIRTHDATE);
	assert_int_equal(check_date("2025-01-01", &fixed_today), BET_FUTURE_BIRTHDATE);
	assert_int_equal(check_date("2024-05-31", &fixed_today), BET_OK);
	assert_int_equal(check_date("2023-12-31", &fixed_today), BET_OK);
}

static void format_day(char out[BET_DATE_LEN + 1], time_t when)
{
	struct tm tm;

	assert_non_null(gmtime_r(&when, &tm));
	assert_int_equal(strftime(out, BET_DATE_LEN + 1, "%Y-%m-%d", &tm), BET_DATE_LEN);
}

static void test_today_and_tomorrow(void **state)
{
	(void)state;
	struct bet_date today;
	char date[BET_DATE_LEN + 1];
	time_t now = time(NULL);

	bet_today(&today);
	format_day(date, now);
	char expected[BET_DATE_LEN + 8];
	snprintf(expected, sizeof(expected), "%04d-%02d-%02d", today.year, today.month, today.day);
	assert_string_equal(date, expected);

	assert_int_equal(check_date(date, &today), BET_OK);
	format_day(date, now + 86400);
	assert_int_equal(check_date(date, &today), BET_FUTURE_BIRTHDATE);
	format_day(date, now - 86400);
	assert_int_equal(check_date(date, &today), BET_OK);
}

static void test_documents(void **state)
{
	(void)state;
	assert_int_equal(check_document("1"), BET_OK);
	assert_int_equal(check_document("1234567890"), BET_OK);
	assert_int_equal(check_document(""), BET_BAD_DOCUMENT);
	assert_int_equal(check_document("12a4"), BET_BAD_DOCUMENT);
	assert_int_equal(check_document("-123"), BET_BAD_DOCUMENT);
	assert_int_equal(check_document(" 123"), BET_BAD_DOCUMENT);

	/* 11 digits: only reachable through a struct without its terminator. */
	struct bet b = valid_bet();
	memcpy(b.document, "12345678901", sizeof(b.document));
	assert_int_equal(bet_validate(&b, AGENCIES, &fixed_today), BET_BAD_DOCUMENT);

	struct bet c;
	assert_int_equal(from_fields(&c, "A", "B", "12345678901", "1980-01-02", "1"),
	                 BET_BAD_DOCUMENT);
	assert_int_equal(from_fields(&c, "A", "B", "", "1980-01-02", "1"), BET_OK);
	assert_int_equal(bet_validate(&c, 3, &fixed_today), BET_BAD_DOCUMENT);
}

static void test_numbers(void **state)
{
	(void)state;
	struct bet b = valid_bet();

	b.number = 0;
	assert_int_equal(bet_validate(&b, AGENCIES, &fixed_today), BET_OK);
	b.number = 9999;
	assert_int_equal(bet_validate(&b, AGENCIES, &fixed_today), BET_OK);
	b.number = 10000;
	assert_int_equal(bet_validate(&b, AGENCIES, &fixed_today), BET_BAD_NUMBER);
	b.number = UINT16_MAX;
	assert_int_equal(bet_validate(&b, AGENCIES, &fixed_today), BET_BAD_NUMBER);
}

static void test_names(void **state)
{
	(void)state;
	struct bet b = valid_bet();

	b.first_name[0] = '\0';
	assert_int_equal(bet_validate(&b, AGENCIES, &fixed_today), BET_BAD_FIRST_NAME);
	b = valid_bet();
	b.last_name[0] = '\0';
	assert_int_equal(bet_validate(&b, AGENCIES, &fixed_today), BET_BAD_LAST_NAME);

	/* 255 bytes fit; 256 (a struct with no terminator) do not. */
	b = valid_bet();
	memset(b.first_name, 'a', BET_NAME_MAX);
	b.first_name[BET_NAME_MAX] = '\0';
	assert_int_equal(bet_validate(&b, AGENCIES, &fixed_today), BET_OK);
	b.first_name[BET_NAME_MAX] = 'a';
	assert_int_equal(bet_validate(&b, AGENCIES, &fixed_today), BET_BAD_FIRST_NAME);

	/* 255 bytes of two-byte characters plus one: still counted in bytes. */
	b = valid_bet();
	for (int i = 0; i < 127; i++)
		memcpy(b.last_name + 2 * i, "é", 2);
	b.last_name[254] = 'x';
	b.last_name[255] = '\0';
	assert_int_equal(bet_validate(&b, AGENCIES, &fixed_today), BET_OK);

	const char *good[] = { "José María", "Ñandú", "O'Brien-Smith", "李", "😀", "\xC2\xA0nbsp" };
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		b = valid_bet();
		strcpy(b.first_name, good[i]);
		assert_int_equal(bet_validate(&b, AGENCIES, &fixed_today), BET_OK);
	}
	const char *bad[] = {
		"Jos\xE9",         /* Latin-1 */
		"\xC3\x28",        /* broken sequence */
		"\xC0\xAF",        /* overlong */
		"\xED\xA0\x80",    /* surrogate */
		"\xF4\x90\x80\x80", /* above U+10FFFF */
		"tab\there",
		"new\nline",
		"cr\r",
		"\x1B[31m",
		"us\x1F",          /* the last C0 byte */
		"del\x7F",
		"c1\xC2\x80",
		"c1\xC2\x9F",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		b = valid_bet();
		strcpy(b.first_name, bad[i]);
		assert_int_equal(bet_validate(&b, AGENCIES, &fixed_today), BET_BAD_FIRST_NAME);
		b = valid_bet();
		strcpy(b.last_name, bad[i]);
		assert_int_equal(bet_validate(&b, AGENCIES, &fixed_today), BET_BAD_LAST_NAME);
	}
}

/* A bet's fields as bet_validate_fields takes them, each its C string's length. */
static struct bet_fields fields_of(const struct bet *b)
{
	struct bet_fields f = {
		.agency = b->agency,
		.first_name = b->first_name,
		.first_name_len = strlen(b->first_name),
		.last_name = b->last_name,
		.last_name_len = strlen(b->last_name),
		.document = b->document,
		.document_len = strlen(b->document),
		.birthdate = b->birthdate,
		.birthdate_len = strlen(b->birthdate),
		.number = b->number,
	};
	return f;
}

/* A valid bet's fields with one name replaced by len bytes of name (first or last). */
static enum bet_error check_name_bytes(bool first, const char *name, size_t len)
{
	static struct bet b;
	struct bet_fields f;

	b = valid_bet();
	f = fields_of(&b);
	if (first) {
		f.first_name = name;
		f.first_name_len = len;
	} else {
		f.last_name = name;
		f.last_name_len = len;
	}
	return bet_validate_fields(&f, AGENCIES, &fixed_today);
}

static void assert_name_refused(const char *name, size_t len)
{
	assert_int_equal(check_name_bytes(true, name, len), BET_BAD_FIRST_NAME);
	assert_int_equal(check_name_bytes(false, name, len), BET_BAD_LAST_NAME);
}

static void assert_name_accepted(const char *name, size_t len)
{
	assert_int_equal(check_name_bytes(true, name, len), BET_OK);
	assert_int_equal(check_name_bytes(false, name, len), BET_OK);
}

#define NAME_REFUSED(literal) assert_name_refused(literal, sizeof(literal) - 1)
#define NAME_ACCEPTED(literal) assert_name_accepted(literal, sizeof(literal) - 1)

/* Fields given by length may hold a NUL, which must be refused, never read as the field's end:
 * anywhere in a name (after ASCII and after non-ASCII bytes) or a document. */
static void test_fields_nul_inside(void **state)
{
	(void)state;
	struct bet b = valid_bet();
	struct bet_fields f;

	NAME_REFUSED("Ju\0an");
	NAME_REFUSED("\0Juan");
	NAME_REFUSED("Juan\0");
	NAME_REFUSED("P\xC3\xA9\0rez");  /* after a non-ASCII prefix */
	NAME_REFUSED("\xC3\xA9\0");

	f = fields_of(&b);
	f.document = "12\0" "4";
	f.document_len = 4;
	assert_int_equal(bet_validate_fields(&f, AGENCIES, &fixed_today), BET_BAD_DOCUMENT);
	f.document = "123\0";
	assert_int_equal(bet_validate_fields(&f, AGENCIES, &fixed_today), BET_BAD_DOCUMENT);
	f.document = "\0";
	f.document_len = 1;
	assert_int_equal(bet_validate_fields(&f, AGENCIES, &fixed_today), BET_BAD_DOCUMENT);
	f = fields_of(&b);
	f.birthdate = "1999-03\0" "17";
	assert_int_equal(bet_validate_fields(&f, AGENCIES, &fixed_today), BET_BAD_BIRTHDATE);
}

/* The lengths given are the fields: bytes past them are not read, and a length past a field's
 * bound is refused whatever the bytes. */
static void test_fields_by_length(void **state)
{
	(void)state;
	static char name[BET_NAME_MAX + 2];
	struct bet b = valid_bet();
	struct bet_fields f;

	memset(name, 'n', BET_NAME_MAX + 1);
	assert_name_accepted("Juan\tXX", 4); /* what follows is not the field */
	assert_name_accepted("\xC3\xA9" "\xC2\x80", 2);
	assert_name_refused("Juan", 0);
	assert_name_accepted(name, BET_NAME_MAX);
	assert_name_refused(name, BET_NAME_MAX + 1);

	f = fields_of(&b);
	f.document = "1234567890123";
	f.document_len = 10;
	assert_int_equal(bet_validate_fields(&f, AGENCIES, &fixed_today), BET_OK);
	f.document_len = 11;
	assert_int_equal(bet_validate_fields(&f, AGENCIES, &fixed_today), BET_BAD_DOCUMENT);
	f.document_len = 0;
	assert_int_equal(bet_validate_fields(&f, AGENCIES, &fixed_today), BET_BAD_DOCUMENT);
	f = fields_of(&b);
	f.birthdate = "1999-03-170";
	f.birthdate_len = 10;
	assert_int_equal(bet_validate_fields(&f, AGENCIES, &fixed_today), BET_OK);
	f.birthdate_len = 11;
	assert_int_equal(bet_validate_fields(&f, AGENCIES, &fixed_today), BET_BAD_BIRTHDATE);
	f.birthdate_len = 9;
	assert_int_equal(bet_validate_fields(&f, AGENCIES, &fixed_today), BET_BAD_BIRTHDATE);
}

/* Names with non-ASCII bytes go through the UTF-8 checks wherever those bytes start: C1 controls
 * (C2 80..C2 9F) refused after an ASCII prefix, after a non-ASCII one and at the start; so are
 * C0 controls and DEL after non-ASCII bytes, and invalid UTF-8 after an ASCII prefix. */
static void test_fields_names_past_ascii(void **state)
{
	(void)state;
	NAME_ACCEPTED("Pérez");
	NAME_ACCEPTED("P\xC3\xA9rez");
	NAME_ACCEPTED("Pérez Ñandú O'Brien");
	NAME_ACCEPTED("Juan\xC2\xA0" "Pablo"); /* U+00A0, just past C1 */
	NAME_ACCEPTED("\xC3\xA9");

	NAME_REFUSED("Juan\xC2\x80");           /* C1 after an ASCII prefix */
	NAME_REFUSED("Juan\xC2\x9F" "x");
	NAME_REFUSED("Jos\xC3\xA9\xC2\x80");    /* after a non-ASCII prefix */
	NAME_REFUSED("P\xC3\xA9rez\xC2\x9F");
	NAME_REFUSED("\xC2\x85" "abc");         /* at the start */

	NAME_REFUSED("P\xC3\xA9rez\t");         /* C0 after non-ASCII bytes */
	NAME_REFUSED("\xC3\xA9\x1F");
	NAME_REFUSED("\xC3\xA9\n");
	NAME_REFUSED("P\xC3\xA9rez\x7F");       /* DEL after non-ASCII bytes */

	NAME_REFUSED("Jos\xE9");                /* Latin-1 after an ASCII prefix */
	NAME_REFUSED("abc\xC3\x28");            /* broken sequence */
	NAME_REFUSED("abc\xC3");                /* cut at the end */
	NAME_REFUSED("abc\xC0\xAF");            /* overlong */
	NAME_REFUSED("abc\xED\xA0\x80");        /* surrogate */
	NAME_REFUSED("abc\xF4\x90\x80\x80");    /* above U+10FFFF */
	NAME_REFUSED("abc\x80");                /* a lone continuation byte */
	NAME_REFUSED("P\xC3\xA9rez\xFF");       /* after valid non-ASCII bytes */
}

/* bet_validate is bet_validate_fields over the bet's C strings: the same verdict on every
 * rule, today from the clock included. */
static void test_fields_agree_with_bet_validate(void **state)
{
	(void)state;
	struct bet bets[14];
	size_t n = 0;

	bets[n++] = valid_bet();
	bets[n] = valid_bet();
	bets[n++].agency = 0;
	bets[n] = valid_bet();
	bets[n++].agency = AGENCIES + 1;
	bets[n] = valid_bet();
	bets[n++].first_name[0] = '\0';
	bets[n] = valid_bet();
	strcpy(bets[n++].last_name, "c1\xC2\x80");
	bets[n] = valid_bet();
	strcpy(bets[n++].first_name, "Pérez");
	bets[n] = valid_bet();
	strcpy(bets[n++].document, "12a");
	bets[n] = valid_bet();
	strcpy(bets[n++].birthdate, "2024-06-16");
	bets[n] = valid_bet();
	strcpy(bets[n++].birthdate, "2001-02-29");
	bets[n] = valid_bet();
	bets[n++].number = 10000;
	bets[n] = valid_bet();
	bets[n++].number = 9999;
	bets[n] = valid_bet();
	strcpy(bets[n++].birthdate, "2999-01-01");
	bets[n++] = fixture_bet(5, "李", "😀", "1", "1900-01-01", 0);
	bets[n] = valid_bet();
	memset(bets[n++].last_name, 'a', BET_NAME_MAX);
	for (size_t i = 0; i < n; i++) {
		struct bet_fields f = fields_of(&bets[i]);
		enum bet_error want = bet_validate(&bets[i], AGENCIES, &fixed_today);

		assert_int_equal(bet_validate_fields(&f, AGENCIES, &fixed_today), want);
		assert_int_equal(bet_validate_fields(&f, AGENCIES, NULL),
		                 bet_validate(&bets[i], AGENCIES, NULL));
	}
	/* and the verdicts are not all the same one */
	assert_int_equal(bet_validate(&bets[0], AGENCIES, &fixed_today), BET_OK);
	assert_int_equal(bet_validate(&bets[1], AGENCIES, &fixed_today), BET_BAD_AGENCY);
	assert_int_equal(bet_validate(&bets[4], AGENCIES, &fixed_today), BET_BAD_LAST_NAME);
	assert_int_equal(bet_validate(&bets[7], AGENCIES, &fixed_today), BET_FUTURE_BIRTHDATE);
	assert_int_equal(bet_validate(&bets[9], AGENCIES, &fixed_today), BET_BAD_NUMBER);
}

static void test_agency(void **state)
{
	(void)state;
	struct bet b = valid_bet();

	b.agency = 0;
	assert_int_equal(bet_validate(&b, AGENCIES, &fixed_today), BET_BAD_AGENCY);
	b.agency = AGENCIES + 1;
	assert_int_equal(bet_validate(&b, AGENCIES, &fixed_today), BET_BAD_AGENCY);
	b.agency = AGENCIES;
	assert_int_equal(bet_validate(&b, AGENCIES, &fixed_today), BET_OK);
	b.agency = 1;
	assert_int_equal(bet_validate(&b, 1, &fixed_today), BET_OK);
}

static void test_has_won(void **state)
{
	(void)state;
	struct bet b = valid_bet();

	b.number = LOTTERY_WINNER_NUMBER;
	assert_true(has_won(&b));
	b.number = 7573;
	assert_false(has_won(&b));
	b.number = 0;
	assert_false(has_won(&b));
}

static void test_error_text(void **state)
{
	(void)state;
	assert_string_equal(bet_error_text(BET_BAD_DOCUMENT), "invalid document");
	assert_string_equal(bet_error_text(BET_BAD_NUMBER), "invalid number");
	assert_string_equal(bet_error_text(BET_FUTURE_BIRTHDATE), "birthdate in the future");
	for (int e = BET_OK; e <= BET_BAD_NUMBER; e++) {
		const char *text = bet_error_text((enum bet_error)e);

		assert_non_null(text);
		assert_null(strchr(text, '|'));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_bet),
		cmocka_unit_test(test_from_fields),
		cmocka_unit_test(test_from_fields_number),
		cmocka_unit_test(test_from_fields_bounds),
		cmocka_unit_test(test_leap_years),
		cmocka_unit_test(test_bad_dates),
		cmocka_unit_test(test_future_fixed),
		cmocka_unit_test(test_today_and_tomorrow),
		cmocka_unit_test(test_documents),
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_fields_nul_inside),
		cmocka_unit_test(test_fields_by_length),
		cmocka_unit_test(test_fields_names_past_ascii),
		cmocka_unit_test(test_fields_agree_with_bet_validate),
		cmocka_unit_test(test_agency),
		cmocka_unit_test(test_has_won),
		cmocka_unit_test(test_error_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
