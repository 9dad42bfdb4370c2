/* The storage daemon's command line: what the supervisor passes, and what a person may get
 * wrong. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <getopt.h>
#include <string.h>

#include "../../storage/options.h"

static int parse(struct storage_options *o, char *err, size_t cap, int argc, char **argv)
{
	optind = 0; /* glibc: 0 re-initialises getopt between calls */
	return storage_options_parse(o, argc, argv, err, cap);
}

static void test_full_command_line(void **state)
{
	(void)state;
	char *argv[] = {"storage", "--ipc", "ipc:///tmp/x/storage.ipc", "--bets", "b.csv",
	                "--agencies", "5", "--contexts", "12", "--ready-fd", "7", "--log-level",
	                "DEBUG", "--log-settle", "250ms", "--new-draw", "--no-sync", NULL};
	struct storage_options o;
	char err[256];

	assert_int_equal(parse(&o, err, sizeof(err), 17, argv), OPTIONS_OK);
	assert_string_equal(o.ipc_url, "ipc:///tmp/x/storage.ipc");
	assert_string_equal(o.bets_path, "b.csv");
	assert_int_equal(o.agencies, 5);
	assert_int_equal(o.contexts, 12);
	assert_int_equal(o.ready_fd, 7);
	assert_int_equal(o.log_level, LOG_DEBUG);
	assert_int_equal(o.log_settle_ms, 250);
	assert_true(o.new_draw);
	assert_false(o.sync);
}

static void test_defaults(void **state)
{
	(void)state;
	char *argv[] = {"storage", "--ipc", "ipc:///x", "--bets", "b.csv", "--agencies", "1",
	                "--contexts", "2", NULL};
	struct storage_options o;
	char err[256];

	assert_int_equal(parse(&o, err, sizeof(err), 9, argv), OPTIONS_OK);
	assert_int_equal(o.ready_fd, -1);
	assert_int_equal(o.log_level, LOG_INFO);
	assert_int_equal(o.log_settle_ms, LOG_SETTLE_DEFAULT_MS);
	assert_false(o.new_draw);
	assert_true(o.sync);
}

static void test_bad_values_are_named(void **state)
{
	(void)state;
	char *cases[][2] = {
		{"--agencies", "0"},     {"--agencies", "10000"}, {"--contexts", "1"},
		{"--contexts", "65537"}, {"--ready-fd", "-1"},    {"--log-level", "LOUD"},
		{"--log-settle", "2s"},  {"--log-settle", "5"},   {"--bets", ""},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *argv[] = {"storage", "--ipc", "ipc:///x", cases[i][0], cases[i][1], NULL};
		struct storage_options o;
		char err[256] = "";

		assert_int_equal(parse(&o, err, sizeof(err), 5, argv), OPTIONS_BAD);
		assert_non_null(strstr(err, cases[i][0]));
		assert_non_null(strstr(err, cases[i][1]));
	}
}

static void test_settle_never_rounds_down_to_off(void **state)
{
	(void)state;
	char *argv[] = {"storage", "--ipc", "ipc:///x", "--bets", "b.csv", "--agencies", "1",
	                "--contexts", "2", "--log-settle", "1us", NULL};
	struct storage_options o;
	char err[256];

	assert_int_equal(parse(&o, err, sizeof(err), 11, argv), OPTIONS_OK);
	assert_int_equal(o.log_settle_ms, 1);
	argv[10] = "0s";
	assert_int_equal(parse(&o, err, sizeof(err), 11, argv), OPTIONS_OK);
	assert_int_equal(o.log_settle_ms, 0);
}

static void test_required_unknown_and_stray(void **state)
{
	(void)state;
	char *missing[] = {"storage", "--ipc", "ipc:///x", "--bets", "b.csv", "--agencies", "1",
	                   NULL};
	char *unknown[] = {"storage", "--ipc", "ipc:///x", "--colour", NULL};
	char *stray[] = {"storage", "--ipc", "ipc:///x", "extra", NULL};
	struct storage_options o;
	char err[256] = "";

	assert_int_equal(parse(&o, err, sizeof(err), 7, missing), OPTIONS_BAD);
	assert_non_null(strstr(err, "--contexts"));
	assert_int_equal(parse(&o, err, sizeof(err), 4, unknown), OPTIONS_BAD);
	assert_non_null(strstr(err, "--colour"));
	assert_int_equal(parse(&o, err, sizeof(err), 4, stray), OPTIONS_BAD);
	assert_non_null(strstr(err, "extra"));
}

static void test_help(void **state)
{
	(void)state;
	char *argv[] = {"storage", "--help", NULL};
	struct storage_options o;
	char err[256];

	assert_int_equal(parse(&o, err, sizeof(err), 2, argv), OPTIONS_HELP);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_command_line),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_bad_values_are_named),
		cmocka_unit_test(test_settle_never_rounds_down_to_off),
		cmocka_unit_test(test_required_unknown_and_stray),
		cmocka_unit_test(test_help),
	};
	return cmocka_run_group_tests_name("storage_options", tests, NULL, NULL);
}
