/* The acceptor's command line: what the supervisor passes, and what a person may get wrong. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <getopt.h>
#include <string.h>

#include "../../acceptor/options.h"

static int parse(struct acceptor_options *o, char *err, size_t cap, int argc, char **argv)
{
	optind = 0; /* glibc: 0 re-initialises getopt between calls */
	return acceptor_options_parse(o, argc, argv, err, cap);
}

static void test_full_command_line(void **state)
{
	(void)state;
	char *argv[] = {"acceptor", "--port", "0", "--backlog", "7", "--max-workers", "3",
	                "--idle-timeout", "1m30s", "--frame-timeout", "2s", "--ipc",
	                "ipc:///tmp/x/storage.ipc", "--agencies", "5", "--log-level", "DEBUG", NULL};
	struct acceptor_options o;
	char err[256];

	assert_int_equal(parse(&o, err, sizeof(err), 17, argv), OPTIONS_OK);
	assert_int_equal(o.port, 0);
	assert_int_equal(o.backlog, 7);
	assert_int_equal(o.max_workers, 3);
	assert_int_equal(o.idle_timeout_ms, 90000);
	assert_int_equal(o.frame_timeout_ms, 2000);
	assert_string_equal(o.ipc_url, "ipc:///tmp/x/storage.ipc");
	assert_int_equal(o.agencies, 5);
	assert_int_equal(o.log_level, LOG_DEBUG);
}

static void test_bad_values_are_named(void **state)
{
	(void)state;
	char *cases[][3] = {
		{"--port", "65536", "--port"},       {"--port", "-1", "--port"},
		{"--backlog", "0", "--backlog"},     {"--max-workers", "4097", "--max-workers"},
		{"--idle-timeout", "5", "--idle-timeout"}, {"--idle-timeout", "0s", "--idle-timeout"},
		{"--frame-timeout", "5", "--frame-timeout"}, {"--frame-timeout", "0s", "--frame-timeout"},
		{"--agencies", "0", "--agencies"},   {"--log-level", "LOUD", "--log-level"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *argv[] = {"acceptor", "--ipc", "ipc:///x", cases[i][0], cases[i][1], NULL};
		struct acceptor_options o;
		char err[256] = "";

		assert_int_equal(parse(&o, err, sizeof(err), 5, argv), OPTIONS_BAD);
		assert_non_null(strstr(err, cases[i][2]));
		assert_non_null(strstr(err, cases[i][1]));
	}
}

static void test_ipc_is_required(void **state)
{
	(void)state;
	char *argv[] = {"acceptor", "--port", "1", NULL};
	struct acceptor_options o;
	char err[256] = "";

	assert_int_equal(parse(&o, err, sizeof(err), 3, argv), OPTIONS_BAD);
	assert_non_null(strstr(err, "--ipc"));
}

static void test_unknown_option_and_stray_argument(void **state)
{
	(void)state;
	char *unknown[] = {"acceptor", "--ipc", "ipc:///x", "--colour", NULL};
	char *stray[] = {"acceptor", "--ipc", "ipc:///x", "extra", NULL};
	struct acceptor_options o;
	char err[256] = "";

	assert_int_equal(parse(&o, err, sizeof(err), 4, unknown), OPTIONS_BAD);
	assert_int_equal(parse(&o, err, sizeof(err), 4, stray), OPTIONS_BAD);
	assert_non_null(strstr(err, "extra"));
}

static void test_listen_fd_instead_of_port(void **state)
{
	(void)state;
	char *inherited[] = {"acceptor", "--listen-fd", "3", "--ipc", "ipc:///x", NULL};
	char *both[] = {"acceptor", "--listen-fd", "3", "--port", "1", "--ipc", "ipc:///x", NULL};
	char *bad[] = {"acceptor", "--listen-fd", "-1", "--ipc", "ipc:///x", NULL};
	char *alone[] = {"acceptor", "--ipc", "ipc:///x", NULL};
	struct acceptor_options o;
	char err[256] = "";

	assert_int_equal(parse(&o, err, sizeof(err), 5, inherited), OPTIONS_OK);
	assert_int_equal(o.listen_fd, 3);
	assert_int_equal(parse(&o, err, sizeof(err), 7, both), OPTIONS_BAD);
	assert_non_null(strstr(err, "--listen-fd"));
	assert_int_equal(parse(&o, err, sizeof(err), 5, bad), OPTIONS_BAD);
	assert_non_null(strstr(err, "--listen-fd"));
	assert_int_equal(parse(&o, err, sizeof(err), 3, alone), OPTIONS_OK);
	assert_int_equal(o.listen_fd, -1); /* listens by itself, on the default port */
	assert_int_equal(o.port, 12345);
}

static void test_help(void **state)
{
	(void)state;
	char *argv[] = {"acceptor", "--help", NULL};
	struct acceptor_options o;
	char err[256];

	assert_int_equal(parse(&o, err, sizeof(err), 2, argv), OPTIONS_HELP);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_command_line),
		cmocka_unit_test(test_bad_values_are_named),
		cmocka_unit_test(test_ipc_is_required),
		cmocka_unit_test(test_unknown_option_and_stray_argument),
		cmocka_unit_test(test_listen_fd_instead_of_port),
		cmocka_unit_test(test_help),
	};
	return cmocka_run_group_tests_name("acceptor_options", tests, NULL, NULL);
}
