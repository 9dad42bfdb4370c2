/* Expected values are Go's own (time_test.go and go run): ParseDuration and Duration.String(). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "duration.h"

#define NS 1LL
#define US (1000 * NS)
#define MS (1000 * US)
#define SEC (1000 * MS)
#define MIN (60 * SEC)
#define HOUR (60 * MIN)

struct fmt_case {
	int64_t ns;
	const char *text;
};

static const struct fmt_case format_cases[] = {
	{0, "0s"},
	{1 * NS, "1ns"},
	{999 * NS, "999ns"},
	{1 * US, "1\xC2\xB5s"},
	{1100 * NS, "1.1\xC2\xB5s"},
	{1500 * NS, "1.5\xC2\xB5s"},
	{2200 * US, "2.2ms"},
	{100 * MS, "100ms"},
	{250 * MS, "250ms"},
	{999999999 * NS, "999.999999ms"},
	{1 * SEC, "1s"},
	{1500 * MS, "1.5s"},
	{3300 * MS, "3.3s"},
	{5 * SEC, "5s"},
	{90 * SEC, "1m30s"},
	{4 * MIN + 5 * SEC, "4m5s"},
	{4 * MIN + 5001 * MS, "4m5.001s"},
	{1 * HOUR, "1h0m0s"},
	{2 * HOUR + 45 * MIN, "2h45m0s"},
	{5 * HOUR + 6 * MIN + 7001 * MS, "5h6m7.001s"},
	{8 * MIN + 1 * NS, "8m0.000000001s"},
	{-1 * NS, "-1ns"},
	{-1500 * MS, "-1.5s"},
	{-90 * SEC, "-1m30s"},
	{INT64_MAX, "2562047h47m16.854775807s"},
	{INT64_MIN, "-2562047h47m16.854775808s"},
};

static void test_format(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof format_cases / sizeof format_cases[0]; i++) {
		char buf[DURATION_TEXT_MAX];
		duration_format(format_cases[i].ns, buf, sizeof buf);
		assert_string_equal(buf, format_cases[i].text);
	}
}

static void test_format_small_buffer(void **state)
{
	(void)state;
	char buf[4];
	duration_format(HOUR, buf, sizeof buf);
	assert_string_equal(buf, "1h0");
	char one = 'x';
	duration_format(HOUR, &one, 1);
	assert_int_equal(one, '\0');
	duration_format(HOUR, NULL, 0); /* nothing written, nothing touched */
}

static void test_format_round_trip(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof format_cases / sizeof format_cases[0]; i++) {
		int64_t ns = -7;
		assert_int_equal(duration_parse(format_cases[i].text, &ns), 0);
		assert_true(ns == format_cases[i].ns);
	}
}

static const struct fmt_case parse_cases[] = {
	{0, "0"},
	{0, "-0"},
	{0, "+0"},
	{0, "0s"},
	{0, "0.0h"},
	{5 * SEC, "5s"},
	{30 * SEC, "30s"},
	{1478 * SEC, "1478s"},
	{-5 * SEC, "-5s"},
	{5 * SEC, "+5s"},
	{5 * SEC, "5.0s"},
	{5 * SEC + 600 * MS, "5.6s"},
	{5 * SEC, "5.s"},
	{500 * MS, ".5s"},
	{1 * SEC, "1.0s"},
	{1 * SEC, "1.00s"},
	{1 * SEC + 4 * MS, "1.004s"},
	{1 * SEC + 4 * MS, "1.0040s"},
	{100 * SEC + 1 * MS, "100.00100s"},
	{10 * NS, "10ns"},
	{11 * US, "11us"},
	{12 * US, "12\xC2\xB5s"}, /* U+00B5 */
	{12 * US, "12\xCE\xBCs"}, /* U+03BC */
	{13 * MS, "13ms"},
	{14 * SEC, "14s"},
	{15 * MIN, "15m"},
	{16 * HOUR, "16h"},
	{3 * HOUR + 30 * MIN, "3h30m"},
	{90 * MIN, "1.5h"},
	{2 * HOUR + 45 * MIN, "2h45m"},
	{1 * HOUR + 2 * MIN + 3 * SEC, "1h2m3s"},
	{4 * MIN + 10 * SEC + 500 * MS, "10.5s4m"},
	{-(2 * MIN + 3 * SEC + 400 * MS), "-2m3.4s"},
	{1 * HOUR + 2 * MIN + 3 * SEC + 4 * MS + 5 * US + 6 * NS, "1h2m3s4ms5us6ns"},
	{39 * HOUR + 9 * MIN + 14 * SEC + 425 * MS, "39h9m14.425s"},
	{52763797000 * NS, "52763797000ns"},
	{20 * MIN, "0.3333333333333333333h"},
	{(1LL << 53) + 1, "9007199254740993ns"},
	{INT64_MAX, "9223372036854775807ns"},
	{INT64_MAX, "9223372036854775.807us"},
	{INT64_MAX, "9223372036s854ms775us807ns"},
	{INT64_MIN, "-9223372036854775808ns"},
	{INT64_MIN, "-9223372036854775.808us"},
	{INT64_MIN, "-9223372036s854ms775us808ns"},
	{INT64_MIN, "-2562047h47m16.854775808s"},
	{6 * MIN, "0.100000000000000000000h"},
	{49 * MIN + 48 * SEC + 372539827 * NS, "0.830103483285477580700h"},
};

static void test_parse(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof parse_cases / sizeof parse_cases[0]; i++) {
		int64_t ns = -7;
		int r = duration_parse(parse_cases[i].text, &ns);
		if (r != 0 || ns != parse_cases[i].ns)
			fail_msg("\"%s\": r=%d ns=%lld want %lld", parse_cases[i].text, r, (long long)ns,
				 (long long)parse_cases[i].ns);
	}
}

static void test_parse_errors(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"",
		"3",
		"5",
		"-",
		"+",
		"s",
		".",
		"-.",
		".s",
		"+.s",
		"1d",
		"5x",
		"5S",
		"5 s",
		" 5s",
		"5s ",
		"1h-2m",
		"--5s",
		"\x85\x85",
		"\xFF" "ff",
		"hello \xFF" "ff world",
		"12\xC2s",
		"9223372036854775810ns",
		"9223372036854775808ns",
		"-9223372036854775809ns",
		"9223372036854775.808us",
		"3000000h",
		"2562048h",
		"2562047h47m16.854775808s",
		"18446744073709551616ns",
		"99999999999999999999999s",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int64_t ns = 42;
		if (duration_parse(bad[i], &ns) != -1)
			fail_msg("\"%s\" parsed as %lld", bad[i], (long long)ns);
		assert_true(ns == 42); /* untouched on failure */
	}
	int64_t ns;
	assert_int_equal(duration_parse(NULL, &ns), -1);
}

static void test_macros(void **state)
{
	(void)state;
	assert_true(DURATION_MS(1500 * MS) == 1500);
	assert_true(DURATION_FROM_MS(250) == 250 * MS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_format_small_buffer),
		cmocka_unit_test(test_format_round_trip),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_macros),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
