#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "number.h"

static void test_u32_accepts(void **state)
{
	(void)state;
	static const struct {
		const char *text;
		uint32_t min, max, want;
	} ok[] = {
		{"0", 0, UINT32_MAX, 0},
		{"7", 0, 10, 7},
		{"007", 0, 10, 7}, /* leading zeros are still decimal */
		{"1", 1, 65535, 1},
		{"65535", 1, 65535, 65535},
		{"4294967295", 0, UINT32_MAX, UINT32_MAX},
		{"42", 42, 42, 42},
	};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		uint32_t v = 12345;
		if (number_parse_u32(ok[i].text, ok[i].min, ok[i].max, &v) != 0)
			fail_msg("rejected \"%s\"", ok[i].text);
		assert_int_equal(v, ok[i].want);
	}
}

static void test_u32_rejects(void **state)
{
	(void)state;
	static const struct {
		const char *text;
		uint32_t min, max;
	} bad[] = {
		{"", 0, UINT32_MAX},           {"-1", 0, UINT32_MAX},     {"+1", 0, UINT32_MAX},
		{"-0", 0, UINT32_MAX},         {" 1", 0, UINT32_MAX},     {"1 ", 0, UINT32_MAX},
		{"1\n", 0, UINT32_MAX},        {"1x", 0, UINT32_MAX},     {"0x10", 0, UINT32_MAX},
		{"1.0", 0, UINT32_MAX},        {"1e3", 0, UINT32_MAX},    {"\xD9\xA1", 0, UINT32_MAX},
		{"4294967296", 0, UINT32_MAX}, /* one past UINT32_MAX */
		{"99999999999999999999999", 0, UINT32_MAX},
		{"0", 1, 65535},               {"65536", 1, 65535},       {"41", 42, 42},
		{"43", 42, 42},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		uint32_t v = 12345;
		if (number_parse_u32(bad[i].text, bad[i].min, bad[i].max, &v) != -1)
			fail_msg("accepted \"%s\"", bad[i].text);
		assert_int_equal(v, 12345); /* untouched on failure */
	}
	uint32_t v = 12345;
	assert_int_equal(number_parse_u32(NULL, 0, UINT32_MAX, &v), -1);
	assert_int_equal(v, 12345);
}

static void test_u64(void **state)
{
	(void)state;
	uint64_t v = 0;
	assert_int_equal(number_parse_u64("18446744073709551615", 0, UINT64_MAX, &v), 0);
	assert_true(v == UINT64_MAX);
	assert_int_equal(number_parse_u64("4294967296", 0, UINT64_MAX, &v), 0);
	assert_true(v == (uint64_t)UINT32_MAX + 1);
	assert_int_equal(number_parse_u64("0", 0, 0, &v), 0);
	assert_true(v == 0);
	assert_int_equal(number_parse_u64("10", 10, 20, &v), 0);
	assert_true(v == 10);

	static const char *const bad[] = {
		"",
		"-1",
		"+1",
		" 1",
		"1 ",
		"12a",
		"18446744073709551616",  /* one past UINT64_MAX */
		"18446744073709551620",  /* wraps to a small value if unchecked */
		"36893488147419103232",  /* 2^65 */
		"184467440737095516150", /* UINT64_MAX * 10 */
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		v = 7;
		if (number_parse_u64(bad[i], 0, UINT64_MAX, &v) != -1)
			fail_msg("accepted \"%s\"", bad[i]);
		assert_true(v == 7);
	}
	assert_int_equal(number_parse_u64("9", 10, 20, &v), -1);
	assert_int_equal(number_parse_u64("21", 10, 20, &v), -1);
	assert_int_equal(number_parse_u64(NULL, 0, UINT64_MAX, &v), -1);
	assert_true(v == 7);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_u32_accepts),
		cmocka_unit_test(test_u32_rejects),
		cmocka_unit_test(test_u64),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
