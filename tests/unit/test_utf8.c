#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "utf8.h"

struct seq_case {
	const char *bytes;
	size_t len;
	size_t expect; /* utf8_sequence_length of the whole input */
};

#define S(lit, expect) {lit, sizeof(lit) - 1, expect}

static void test_valid_sequences(void **state)
{
	(void)state;
	static const struct seq_case cases[] = {
		S("A", 1),
		S("\x7F", 1),
		S("\xC2\x80", 2),         /* U+0080, smallest 2-byte */
		S("\xDF\xBF", 2),         /* U+07FF */
		S("\xC3\xB1", 2),         /* ñ */
		S("\xE0\xA0\x80", 3),     /* U+0800, smallest 3-byte */
		S("\xED\x9F\xBF", 3),     /* U+D7FF, just below the surrogates */
		S("\xEE\x80\x80", 3),     /* U+E000, just above */
		S("\xEF\xBF\xBF", 3),     /* U+FFFF */
		S("\xE2\x82\xAC", 3),     /* € */
		S("\xF0\x90\x80\x80", 4), /* U+10000 */
		S("\xF4\x8F\xBF\xBF", 4), /* U+10FFFF, the last code point */
		S("\xF0\x9F\x98\x80", 4), /* emoji */
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const unsigned char *b = (const unsigned char *)cases[i].bytes;
		assert_int_equal(utf8_sequence_length(b, cases[i].len), cases[i].expect);
		assert_true(utf8_valid(cases[i].bytes, cases[i].len));
	}
	/* NUL is a valid one-byte sequence when it is inside the given length */
	assert_int_equal(utf8_sequence_length((const unsigned char *)"\0", 1), 1);
}

static void test_invalid_sequences(void **state)
{
	(void)state;
	static const struct seq_case cases[] = {
		S("\x80", 0),             /* lone continuation */
		S("\xBF", 0),
		S("\xC0\x80", 0),         /* overlong NUL */
		S("\xC1\xBF", 0),         /* overlong U+007F */
		S("\xE0\x80\x80", 0),     /* overlong 3-byte */
		S("\xE0\x9F\xBF", 0),     /* overlong U+07FF */
		S("\xF0\x80\x80\x80", 0), /* overlong 4-byte */
		S("\xF0\x8F\xBF\xBF", 0), /* overlong U+FFFF */
		S("\xED\xA0\x80", 0),     /* U+D800 surrogate */
		S("\xED\xBF\xBF", 0),     /* U+DFFF surrogate */
		S("\xF4\x90\x80\x80", 0), /* U+110000 */
		S("\xF5\x80\x80\x80", 0),
		S("\xF8\x88\x80\x80\x80", 0), /* old 5-byte form */
		S("\xFE", 0),
		S("\xFF", 0),
		S("\xC3", 0),             /* truncated */
		S("\xE2\x82", 0),
		S("\xF0\x9F\x98", 0),
		S("\xC3\x41", 0),         /* continuation missing */
		S("\xE2\x41\xAC", 0),
		S("\xE2\x82\x41", 0),
		S("\xF0\x9F\x41\x80", 0),
		S("\xF0\x9F\x98\xC0", 0),
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const unsigned char *b = (const unsigned char *)cases[i].bytes;
		assert_int_equal(utf8_sequence_length(b, cases[i].len), 0);
		assert_false(utf8_valid(cases[i].bytes, cases[i].len));
	}
}

static void test_length_limit(void **state)
{
	(void)state;
	const unsigned char euro[] = {0xE2, 0x82, 0xAC};
	assert_int_equal(utf8_sequence_length(euro, 0), 0);
	assert_int_equal(utf8_sequence_length(euro, 1), 0);
	assert_int_equal(utf8_sequence_length(euro, 2), 0);
	assert_int_equal(utf8_sequence_length(euro, 3), 3);
}

static void test_strings(void **state)
{
	(void)state;
	const char ok[] = "Mart\xC3\xADn Pe\xC3\xB1" "a \xE2\x82\xAC 100 \xF0\x9F\x98\x80";
	assert_true(utf8_valid(ok, sizeof ok - 1));
	assert_true(utf8_valid("", 0));
	assert_true(utf8_valid(NULL, 0));
	/* one bad byte anywhere spoils the string */
	const char bad_mid[] = "abc\xC3(def";
	assert_false(utf8_valid(bad_mid, sizeof bad_mid - 1));
	const char bad_end[] = "abc\xE2\x82";
	assert_false(utf8_valid(bad_end, sizeof bad_end - 1));
	assert_true(utf8_valid(bad_end, 3));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_sequences),
		cmocka_unit_test(test_invalid_sequences),
		cmocka_unit_test(test_length_limit),
		cmocka_unit_test(test_strings),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
