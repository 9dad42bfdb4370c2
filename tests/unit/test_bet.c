/* Unit tests of lib/bet: bet_from_fields, bet_validate's every rule, has_won. */
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
		cmocka_unit_test(test_agency),
		cmocka_unit_test(test_has_won),
		cmocka_unit_test(test_error_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
