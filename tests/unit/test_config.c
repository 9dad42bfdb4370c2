/* config: the server's INI and the client's YAML, environment overrides, and every error message
 * naming its file (or variable) and key. Each test starts from a clean environment. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "duration.h"
#include "proto.h"

/* ---------------------------------------------------------------------------------------------
 * fixtures */

#define FILES_MAX 256

static char tmp_dir[] = "/tmp/tp0-test-config-XXXXXX";
static char *files[FILES_MAX];
static size_t file_count;

static const char *const all_env[] = {
	"SERVER_PORT", "SERVER_IP", "SERVER_LISTEN_BACKLOG", "LOGGING_LEVEL", "AGENCIES",
	"MAX_WORKERS", "IDLE_TIMEOUT", "FRAME_TIMEOUT", "BETS_FILE", "FSYNC", "LOG_SETTLE",
	"CLI_ID", "CLI_SERVER_ADDRESS", "CLI_LOOP_AMOUNT", "CLI_LOOP_PERIOD", "CLI_LOG_LEVEL",
	"CLI_BATCH_MAXAMOUNT", "CLI_BATCH_WINDOW", "CLI_MODE", "CLI_BETS_FILE", "CLI_WINNERS_FILE",
	"CLI_SERVER_TIMEOUT", "CLI_RETRY_ATTEMPTS", "CLI_DRAW_TIMEOUT",
};

static int group_setup(void **state)
{
	(void)state;
	return mkdtemp(tmp_dir) == NULL ? -1 : 0;
}

static int group_teardown(void **state)
{
	(void)state;
	for (size_t i = 0; i < file_count; i++) {
		unlink(files[i]);
		free(files[i]);
	}
	file_count = 0;
	return rmdir(tmp_dir);
}

static int clean_env(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof all_env / sizeof all_env[0]; i++)
		unsetenv(all_env[i]);
	return 0;
}

/* A new file in the temporary folder holding len bytes of content; the path lives until the
 * group ends. */
static const char *write_bytes(const char *content, size_t len)
{
	assert_true(file_count < FILES_MAX);
	char *path = malloc(PATH_MAX);
	assert_non_null(path);
	snprintf(path, PATH_MAX, "%s/config-XXXXXX", tmp_dir);
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
	files[file_count++] = path;
	return path;
}

static const char *write_file(const char *content)
{
	return write_bytes(content, strlen(content));
}

static void set_env(const char *name, const char *value)
{
	assert_int_equal(setenv(name, value, 1), 0);
}

/* The repository's root, from this file's path as the compiler saw it. */
static void repo_path(char *out, size_t cap, const char *relative)
{
	const char *self = __FILE__;
	const char *tail = strstr(self, "tests/unit/test_config.c");
	int prefix = tail != NULL ? (int)(tail - self) : 0;
	snprintf(out, cap, "%.*s%s", prefix, self, relative);
}

static void expect_message(const char *err, const char *expected)
{
	if (strcmp(err, expected) != 0)
		fail_msg("error message\n  got:      %s\n  expected: %s", err, expected);
}

/* ---------------------------------------------------------------------------------------------
 * server */

static void test_server_defaults(void **state)
{
	(void)state;
	struct server_config cfg;
	server_config_defaults(&cfg);
	assert_int_equal(cfg.port, 12345);
	assert_string_equal(cfg.ip, "server");
	assert_int_equal(cfg.listen_backlog, 5);
	assert_int_equal(cfg.logging_level, LOG_INFO);
	assert_int_equal(cfg.agencies, 5);
	assert_int_equal(cfg.max_workers, 64);
	assert_true(cfg.idle_timeout_ns == DURATION_FROM_MS(30000));
	assert_true(cfg.frame_timeout_ns == DURATION_FROM_MS(5000));
	assert_string_equal(cfg.bets_file, "bets.csv");
	assert_int_equal(cfg.fsync, 1); /* an ACK means on stable storage, unless told otherwise */
	assert_true(cfg.log_settle_ns == DURATION_FROM_MS(100));
}

static void test_server_empty_file_gives_defaults(void **state)
{
	(void)state;
	struct server_config cfg, def;
	char err[CONFIG_ERR_MAX];
	const char *path = write_file("[DEFAULT]\n");
	assert_int_equal(server_config_load(&cfg, path, err, sizeof err), 0);
	server_config_defaults(&def);
	assert_memory_equal(&cfg, &def, sizeof cfg);
}

static void test_server_file_values(void **state)
{
	(void)state;
	struct server_config cfg;
	char err[CONFIG_ERR_MAX];
	const char *path = write_file("# a comment\n"
	                              "; another\n"
	                              "[DEFAULT]\n"
	                              "SERVER_PORT = 4000\n"
	                              "SERVER_IP=lottery.example\n"
	                              "SERVER_LISTEN_BACKLOG=128 ; inline comment\n"
	                              "LOGGING_LEVEL=debug\n"
	                              "AGENCIES=9999\n"
	                              "MAX_WORKERS=4096\n"
	                              "IDLE_TIMEOUT=1m30s\n"
	                              "FRAME_TIMEOUT=2500ms\n"
	                              "BETS_FILE=/var/lib/tp0/bets.csv\n"
	                              "FSYNC=0\n"
	                              "LOG_SETTLE=120ms\n");
	assert_int_equal(server_config_load(&cfg, path, err, sizeof err), 0);
	assert_int_equal(cfg.port, 4000);
	assert_string_equal(cfg.ip, "lottery.example");
	assert_int_equal(cfg.listen_backlog, 128);
	assert_int_equal(cfg.logging_level, LOG_DEBUG);
	assert_int_equal(cfg.agencies, 9999);
	assert_int_equal(cfg.max_workers, 4096);
	assert_true(cfg.idle_timeout_ns == DURATION_FROM_MS(90000));
	assert_true(cfg.frame_timeout_ns == DURATION_FROM_MS(2500));
	assert_string_equal(cfg.bets_file, "/var/lib/tp0/bets.csv");
	assert_int_equal(cfg.fsync, 0);
	assert_true(cfg.log_settle_ns == DURATION_FROM_MS(120));
}

static void test_server_limits_accepted(void **state)
{
	(void)state;
	struct server_config cfg;
	char err[CONFIG_ERR_MAX];
	const char *path = write_file("[DEFAULT]\nSERVER_PORT=0\nSERVER_LISTEN_BACKLOG=1\n"
	                              "AGENCIES=1\nMAX_WORKERS=1\nIDLE_TIMEOUT=1ns\nLOG_SETTLE=0\n");
	assert_int_equal(server_config_load(&cfg, path, err, sizeof err), 0);
	assert_int_equal(cfg.port, 0);
	assert_int_equal(cfg.listen_backlog, 1);
	assert_int_equal(cfg.agencies, 1);
	assert_int_equal(cfg.max_workers, 1);
	assert_true(cfg.idle_timeout_ns == 1);
	assert_true(cfg.log_settle_ns == 0);

	path = write_file("[DEFAULT]\nSERVER_PORT=65535\nSERVER_LISTEN_BACKLOG=65535\n"
	                  "LOG_SETTLE=1s\n");
	assert_int_equal(server_config_load(&cfg, path, err, sizeof err), 0);
	assert_int_equal(cfg.port, 65535);
	assert_int_equal(cfg.listen_backlog, 65535);
	assert_true(cfg.log_settle_ns == DURATION_FROM_MS(1000));
}

static void test_server_unknown_keys_and_sections_ignored(void **state)
{
	(void)state;
	struct server_config cfg;
	char err[CONFIG_ERR_MAX];
	const char *path = write_file("[DEFAULT]\n"
	                              "server_port=2000\n" /* keys match case-insensitively */
	                              "SOMETHING_ELSE=whatever\n"
	                              "[other]\n"
	                              "SERVER_PORT=3000\n"
	                              "AGENCIES=not checked here\n");
	assert_int_equal(server_config_load(&cfg, path, err, sizeof err), 0);
	assert_int_equal(cfg.port, 2000);
	assert_int_equal(cfg.agencies, 5);
}

static void test_server_env_overrides_file(void **state)
{
	(void)state;
	struct server_config cfg;
	char err[CONFIG_ERR_MAX];
	const char *path = write_file("[DEFAULT]\nSERVER_PORT=4000\nAGENCIES=3\nLOGGING_LEVEL=DEBUG\n"
	                              "FRAME_TIMEOUT=2s\nFSYNC=1\n");
	set_env("SERVER_PORT", "5000");
	set_env("SERVER_IP", "10.0.0.1");
	set_env("SERVER_LISTEN_BACKLOG", "50");
	set_env("LOGGING_LEVEL", "ERROR");
	set_env("AGENCIES", "7");
	set_env("MAX_WORKERS", "8");
	set_env("IDLE_TIMEOUT", "250ms");
	set_env("FRAME_TIMEOUT", "750ms");
	set_env("BETS_FILE", "other.csv");
	set_env("FSYNC", "0");
	set_env("LOG_SETTLE", "0s");
	assert_int_equal(server_config_load(&cfg, path, err, sizeof err), 0);
	assert_int_equal(cfg.port, 5000);
	assert_string_equal(cfg.ip, "10.0.0.1");
	assert_int_equal(cfg.listen_backlog, 50);
	assert_int_equal(cfg.logging_level, LOG_ERROR);
	assert_int_equal(cfg.agencies, 7);
	assert_int_equal(cfg.max_workers, 8);
	assert_true(cfg.idle_timeout_ns == DURATION_FROM_MS(250));
	assert_true(cfg.frame_timeout_ns == DURATION_FROM_MS(750));
	assert_string_equal(cfg.bets_file, "other.csv");
	assert_int_equal(cfg.fsync, 0);
	assert_true(cfg.log_settle_ns == 0);
}

static void test_server_empty_env_is_unset(void **state)
{
	(void)state;
	struct server_config cfg;
	char err[CONFIG_ERR_MAX];
	const char *path = write_file("[DEFAULT]\nAGENCIES=3\n");
	set_env("AGENCIES", "");
	assert_int_equal(server_config_load(&cfg, path, err, sizeof err), 0);
	assert_int_equal(cfg.agencies, 3);
}

static void test_server_env_fixes_bad_file_value(void **state)
{
	(void)state;
	struct server_config cfg;
	char err[CONFIG_ERR_MAX];
	const char *path = write_file("[DEFAULT]\nAGENCIES=lots\n");
	set_env("AGENCIES", "2");
	assert_int_equal(server_config_load(&cfg, path, err, sizeof err), 0);
	assert_int_equal(cfg.agencies, 2);
}

struct bad_value {
	const char *key;
	const char *value;
	const char *why; /* the message after "<file>: <key>: " */
};

static const struct bad_value server_bad[] = {
	{"SERVER_PORT", "abc", "not a whole number: \"abc\""},
	{"SERVER_PORT", "-1", "not a whole number: \"-1\""},
	{"SERVER_PORT", "+80", "not a whole number: \"+80\""},
	{"SERVER_PORT", "80x", "not a whole number: \"80x\""},
	{"SERVER_PORT", "0x50", "not a whole number: \"0x50\""},
	{"SERVER_PORT", "65536", "out of range 0..65535: \"65536\""},
	{"SERVER_PORT", "99999999999999999999999", "out of range 0..65535: \"99999999999999999999999\""},
	{"SERVER_IP", "", "must not be empty"},
	{"SERVER_LISTEN_BACKLOG", "0", "out of range 1..65535: \"0\""},
	{"SERVER_LISTEN_BACKLOG", "65536", "out of range 1..65535: \"65536\""},
	{"LOGGING_LEVEL", "LOUD",
	 "unknown log level \"LOUD\" (DEBUG, INFO, WARNING, ERROR or CRITICAL)"},
	{"AGENCIES", "0", "out of range 1..9999: \"0\""},
	{"AGENCIES", "10000", "out of range 1..9999: \"10000\""},
	{"AGENCIES", "1.5", "not a whole number: \"1.5\""},
	{"MAX_WORKERS", "0", "out of range 1..4096: \"0\""},
	{"MAX_WORKERS", "4097", "out of range 1..4096: \"4097\""},
	{"IDLE_TIMEOUT", "5x", "invalid duration \"5x\""},
	{"IDLE_TIMEOUT", "30", "invalid duration \"30\""},
	{"IDLE_TIMEOUT", "0s", "must be longer than 0: \"0s\""},
	{"IDLE_TIMEOUT", "-1s", "must be longer than 0: \"-1s\""},
	{"FRAME_TIMEOUT", "0s", "must be longer than 0: \"0s\""},
	{"FRAME_TIMEOUT", "5", "invalid duration \"5\""},
	{"BETS_FILE", "", "must not be empty"},
	{"FSYNC", "2", "out of range 0..1: \"2\""},
	{"FSYNC", "yes", "not a whole number: \"yes\""},
	{"LOG_SETTLE", "50", "invalid duration \"50\""},
	{"LOG_SETTLE", "-1ms", "must not be negative: \"-1ms\""},
	{"LOG_SETTLE", "1001ms", "at most 1s: \"1001ms\""},
};

static void test_server_bad_values_in_file(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof server_bad / sizeof server_bad[0]; i++) {
		const struct bad_value *b = &server_bad[i];
		char content[256], expected[CONFIG_ERR_MAX], err[CONFIG_ERR_MAX];
		struct server_config cfg;

		snprintf(content, sizeof content, "[DEFAULT]\n%s=%s\n", b->key, b->value);
		const char *path = write_file(content);
		server_config_defaults(&cfg);
		cfg.port = 1;
		assert_int_equal(server_config_load(&cfg, path, err, sizeof err), -1);
		snprintf(expected, sizeof expected, "%s: %s: %s", path, b->key, b->why);
		expect_message(err, expected);
		assert_int_equal(cfg.port, 1); /* untouched on failure */
	}
}

static void test_server_bad_values_in_env(void **state)
{
	(void)state;
	const char *path = write_file("[DEFAULT]\n");
	for (size_t i = 0; i < sizeof server_bad / sizeof server_bad[0]; i++) {
		const struct bad_value *b = &server_bad[i];
		char expected[CONFIG_ERR_MAX], err[CONFIG_ERR_MAX];
		struct server_config cfg;

		if (b->value[0] == '\0')
			continue; /* an empty variable counts as unset */
		set_env(b->key, b->value);
		assert_int_equal(server_config_load(&cfg, path, err, sizeof err), -1);
		snprintf(expected, sizeof expected, "%s: %s", b->key, b->why);
		expect_message(err, expected);
		unsetenv(b->key);
	}
}

static void test_server_too_long_values(void **state)
{
	(void)state;
	struct server_config cfg;
	char err[CONFIG_ERR_MAX], expected[CONFIG_ERR_MAX];
	const char *path = write_file("[DEFAULT]\n");
	char *value = malloc(PATH_MAX + 1);
	assert_non_null(value);

	memset(value, 'a', CONFIG_TEXT_MAX);
	value[CONFIG_TEXT_MAX] = '\0';
	set_env("SERVER_IP", value);
	assert_int_equal(server_config_load(&cfg, path, err, sizeof err), -1);
	snprintf(expected, sizeof expected, "SERVER_IP: too long (at most %d bytes)",
	         CONFIG_TEXT_MAX - 1);
	expect_message(err, expected);
	value[CONFIG_TEXT_MAX - 1] = '\0';
	set_env("SERVER_IP", value);
	assert_int_equal(server_config_load(&cfg, path, err, sizeof err), 0);
	assert_string_equal(cfg.ip, value);

	memset(value, 'b', PATH_MAX);
	value[PATH_MAX] = '\0';
	set_env("BETS_FILE", value);
	assert_int_equal(server_config_load(&cfg, path, err, sizeof err), -1);
	snprintf(expected, sizeof expected, "BETS_FILE: too long (at most %d bytes)", PATH_MAX - 1);
	expect_message(err, expected);
	free(value);
}

static void test_server_long_value_shown_short(void **state)
{
	(void)state;
	struct server_config cfg;
	char err[CONFIG_ERR_MAX];
	char value[200];
	const char *path = write_file("[DEFAULT]\n");

	memset(value, '9', sizeof value - 1);
	value[sizeof value - 1] = '\0';
	value[3] = '\n'; /* never splits the message over lines */
	set_env("AGENCIES", value);
	assert_int_equal(server_config_load(&cfg, path, err, sizeof err), -1);
	assert_null(strchr(err, '\n'));
	assert_non_null(strstr(err, "AGENCIES: not a whole number: \"999?999"));
	assert_non_null(strstr(err, "...\""));
	assert_true(strlen(err) < 120);
}

static void test_server_missing_file(void **state)
{
	(void)state;
	struct server_config cfg;
	char err[CONFIG_ERR_MAX], path[128], expected[CONFIG_ERR_MAX];
	snprintf(path, sizeof path, "%s/no-such-config.ini", tmp_dir);
	assert_int_equal(server_config_load(&cfg, path, err, sizeof err), -1);
	snprintf(expected, sizeof expected, "%s: cannot open: No such file or directory", path);
	expect_message(err, expected);

	/* a path through a plain file: unreadable even for root */
	snprintf(path, sizeof path, "%s/config.ini", write_file("[DEFAULT]\n"));
	assert_int_equal(server_config_load(&cfg, path, err, sizeof err), -1);
	snprintf(expected, sizeof expected, "%s: cannot open: %s", path, strerror(ENOTDIR));
	expect_message(err, expected);
}

static void test_server_directory_is_not_a_file(void **state)
{
	(void)state;
	struct server_config cfg;
	char err[CONFIG_ERR_MAX], expected[CONFIG_ERR_MAX];
	assert_int_equal(server_config_load(&cfg, tmp_dir, err, sizeof err), -1);
	snprintf(expected, sizeof expected, "%s: cannot open: %s", tmp_dir, strerror(EISDIR));
	expect_message(err, expected);
}

static void test_server_unreadable_file(void **state)
{
	(void)state;
	struct server_config cfg;
	char err[CONFIG_ERR_MAX], expected[CONFIG_ERR_MAX];
	const char *path = write_file("[DEFAULT]\n");

	/* A directory is refused, even to root (CI runs as root). */
	char dir[256];
	snprintf(dir, sizeof dir, "%.200s.d", path);
	assert_int_equal(mkdir(dir, 0700), 0);
	assert_int_equal(server_config_load(&cfg, dir, err, sizeof err), -1);
	snprintf(expected, sizeof expected, "%s: cannot open: %s", dir, strerror(EISDIR));
	expect_message(err, expected);
	assert_int_equal(rmdir(dir), 0);

	if (geteuid() == 0)
		return; /* root opens anything: the permission case needs another user */
	assert_int_equal(chmod(path, 0), 0);
	assert_int_equal(server_config_load(&cfg, path, err, sizeof err), -1);
	snprintf(expected, sizeof expected, "%s: cannot open: %s", path, strerror(EACCES));
	expect_message(err, expected);
}

static void test_server_syntax_error(void **state)
{
	(void)state;
	struct server_config cfg;
	char err[CONFIG_ERR_MAX], expected[CONFIG_ERR_MAX];
	const char *path = write_file("[DEFAULT]\nSERVER_PORT=1\nthis line has no equals sign\n");
	assert_int_equal(server_config_load(&cfg, path, err, sizeof err), -1);
	snprintf(expected, sizeof expected,
	         "%s: line 3: syntax error (expected KEY = VALUE or [SECTION])", path);
	expect_message(err, expected);

	path = write_file("[DEFAULT\nSERVER_PORT=1\n");
	assert_int_equal(server_config_load(&cfg, path, err, sizeof err), -1);
	snprintf(expected, sizeof expected,
	         "%s: line 1: syntax error (expected KEY = VALUE or [SECTION])", path);
	expect_message(err, expected);
}

/* inih's line buffer is small: a longer line is an error, never a value cut short. */
static void test_server_line_too_long(void **state)
{
	(void)state;
	struct server_config cfg;
	char err[CONFIG_ERR_MAX], expected[CONFIG_ERR_MAX], content[512];
	int longest = 0;

	for (int len = 150; len < 400; len++) {
		snprintf(content, sizeof content, "[DEFAULT]\nBETS_FILE=%0*d\nAGENCIES=2\n", len - 10, 0);
		const char *path = write_file(content);
		if (server_config_load(&cfg, path, err, sizeof err) != 0) {
			snprintf(expected, sizeof expected, "%s: line 2: line too long (at most %d bytes)",
			         path, len - 1);
			expect_message(err, expected);
			break;
		}
		assert_int_equal(strlen(cfg.bets_file), (size_t)len - 10);
		assert_int_equal(cfg.agencies, 2);
		longest = len;
	}
	assert_true(longest >= 150 && longest < 399);
}

/* Found by fuzz_config_server: a NUL byte made a short line "too long" (and swallowed the next
 * line with it). It is refused as what it is, at its own line, and the lines after it are read. */
static void test_server_nul_byte(void **state)
{
	(void)state;
	struct server_config cfg;
	char err[CONFIG_ERR_MAX], expected[CONFIG_ERR_MAX];
	static const char nul_line[] = "[DEFAULT]\nAGENCIES = 3\0x\nMAX_WORKERS = 7\n";
	const char *path = write_bytes(nul_line, sizeof nul_line - 1);
	assert_int_equal(server_config_load(&cfg, path, err, sizeof err), -1);
	snprintf(expected, sizeof expected, "%s: line 2: contains a NUL byte", path);
	expect_message(err, expected);

	path = write_bytes("\0\n", 2); /* the fuzzer's input */
	assert_int_equal(server_config_load(&cfg, path, err, sizeof err), -1);
	snprintf(expected, sizeof expected, "%s: line 1: contains a NUL byte", path);
	expect_message(err, expected);

	/* The line after it is still a line of its own: an earlier error wins, a later one counts. */
	static const char syntax_first[] = "[DEFAULT]\nno equals sign\nX = \0\n";
	path = write_bytes(syntax_first, sizeof syntax_first - 1);
	assert_int_equal(server_config_load(&cfg, path, err, sizeof err), -1);
	snprintf(expected, sizeof expected,
	         "%s: line 2: syntax error (expected KEY = VALUE or [SECTION])", path);
	expect_message(err, expected);
	static const char last_no_newline[] = "[DEFAULT]\nAGENCIES = 2\nX = \0";
	path = write_bytes(last_no_newline, sizeof last_no_newline - 1);
	assert_int_equal(server_config_load(&cfg, path, err, sizeof err), -1);
	snprintf(expected, sizeof expected, "%s: line 3: contains a NUL byte", path);
	expect_message(err, expected);
}

static void test_server_tiny_error_buffer(void **state)
{
	(void)state;
	struct server_config cfg;
	char err[8];
	const char *path = write_file("[DEFAULT]\nAGENCIES=x\n");
	assert_int_equal(server_config_load(&cfg, path, err, sizeof err), -1);
	assert_int_equal(strlen(err), sizeof err - 1);
	assert_int_equal(server_config_load(&cfg, path, NULL, 0), -1);
}

static void test_server_shipped_config(void **state)
{
	(void)state;
	struct server_config cfg;
	char err[CONFIG_ERR_MAX], path[PATH_MAX];
	repo_path(path, sizeof path, "supervisor/config.ini");
	if (access(path, R_OK) != 0)
		skip();
	if (server_config_load(&cfg, path, err, sizeof err) != 0)
		fail_msg("%s", err);
	assert_int_equal(cfg.port, 12345);
	assert_string_equal(cfg.ip, "server");
	assert_int_equal(cfg.listen_backlog, 5);
	assert_int_equal(cfg.logging_level, LOG_INFO);
	assert_int_equal(cfg.agencies, 5);
	assert_int_equal(cfg.max_workers, 64);
	assert_true(cfg.idle_timeout_ns == DURATION_FROM_MS(30000));
	assert_string_equal(cfg.bets_file, "bets.csv");
	assert_int_equal(cfg.fsync, 1); /* an ACK means on stable storage, unless told otherwise */
	assert_true(cfg.log_settle_ns == DURATION_FROM_MS(100));
}

/* ---------------------------------------------------------------------------------------------
 * client */

static const char contract_sample[] = "server:\n"
                                      "  address: \"server:12345\"\n"
                                      "loop:\n"
                                      "  amount: 5\n"
                                      "  period: \"5s\"\n"
                                      "log:\n"
                                      "  level: \"INFO\"\n"
                                      "batch:\n"
                                      "  maxAmount: 10   # default chosen so that no batch frame "
                                      "exceeds 8 KiB\n";

static void test_client_defaults(void **state)
{
	(void)state;
	struct client_config cfg;
	client_config_defaults(&cfg);
	assert_int_equal(cfg.id, 0);
	assert_string_equal(cfg.server_address, "server:12345");
	assert_int_equal(cfg.loop_amount, 5);
	assert_true(cfg.loop_period_ns == DURATION_FROM_MS(5000));
	assert_int_equal(cfg.log_level, LOG_INFO);
	assert_int_equal(cfg.batch_max_amount, PROTO_BATCH_DEFAULT);
	assert_int_equal(cfg.batch_window, 16);
	assert_int_equal(cfg.mode, CLIENT_MODE_LOTTERY);
	assert_true(cfg.server_timeout_ns == DURATION_FROM_MS(30000));
	assert_int_equal(cfg.retry_attempts, 10);
	assert_true(cfg.draw_timeout_ns == DURATION_FROM_MS(600000));
}

static void test_client_mode_names(void **state)
{
	(void)state;
	assert_string_equal(client_mode_name(CLIENT_MODE_ECHO), "echo");
	assert_string_equal(client_mode_name(CLIENT_MODE_BET), "bet");
	assert_string_equal(client_mode_name(CLIENT_MODE_LOTTERY), "lottery");
	assert_string_equal(client_mode_name((enum client_mode)42), "unknown");
}

static void test_client_contract_sample(void **state)
{
	(void)state;
	struct client_config cfg;
	char err[CONFIG_ERR_MAX];
	const char *path = write_file(contract_sample);
	set_env("CLI_ID", "3");
	if (client_config_load(&cfg, path, err, sizeof err) != 0)
		fail_msg("%s", err);
	assert_int_equal(cfg.id, 3);
	assert_string_equal(cfg.server_address, "server:12345");
	assert_int_equal(cfg.loop_amount, 5);
	assert_true(cfg.loop_period_ns == DURATION_FROM_MS(5000));
	assert_int_equal(cfg.log_level, LOG_INFO);
	assert_int_equal(cfg.batch_max_amount, 10);
	assert_int_equal(cfg.mode, CLIENT_MODE_LOTTERY);
	assert_string_equal(cfg.bets_file, "agency-3.csv");
	assert_true(cfg.server_timeout_ns == DURATION_FROM_MS(30000));
	assert_int_equal(cfg.retry_attempts, 10);
	assert_true(cfg.draw_timeout_ns == DURATION_FROM_MS(600000));
}

static void test_client_missing_id(void **state)
{
	(void)state;
	struct client_config cfg;
	char err[CONFIG_ERR_MAX], expected[CONFIG_ERR_MAX];
	const char *path = write_file(contract_sample);
	assert_int_equal(client_config_load(&cfg, path, err, sizeof err), -1);
	snprintf(expected, sizeof expected, "%s: id: missing (set id in the file or CLI_ID)", path);
	expect_message(err, expected);
}

static void test_client_all_keys_plain_and_quoted(void **state)
{
	(void)state;
	struct client_config cfg;
	char err[CONFIG_ERR_MAX];
	const char *path = write_file("id: 42\n"
	                              "mode: echo\n"
	                              "server:\n"
	                              "  address: 'lottery.example:4000'\n"
	                              "  timeout: 2s\n"
	                              "loop:\n"
	                              "  amount: \"1000000\"\n"
	                              "  period: 0\n"
	                              "log: {level: warning}\n"
	                              "batch:\n"
	                              "  maxAmount: '1'\n"
	                              "bets:\n"
	                              "  file: /data/agency.csv\n"
	                              "retry:\n"
	                              "  attempts: 1000\n"
	                              "draw:\n"
	                              "  timeout: \"1h\"\n");
	if (client_config_load(&cfg, path, err, sizeof err) != 0)
		fail_msg("%s", err);
	assert_int_equal(cfg.id, 42);
	assert_int_equal(cfg.mode, CLIENT_MODE_ECHO);
	assert_string_equal(cfg.server_address, "lottery.example:4000");
	assert_true(cfg.server_timeout_ns == DURATION_FROM_MS(2000));
	assert_int_equal(cfg.loop_amount, 1000000);
	assert_true(cfg.loop_period_ns == 0);
	assert_int_equal(cfg.log_level, LOG_WARNING);
	assert_int_equal(cfg.batch_max_amount, 1);
	assert_string_equal(cfg.bets_file, "/data/agency.csv");
	assert_int_equal(cfg.retry_attempts, 1000);
	assert_true(cfg.draw_timeout_ns == DURATION_FROM_MS(3600000));
}

static void test_client_limits_accepted(void **state)
{
	(void)state;
	struct client_config cfg;
	char err[CONFIG_ERR_MAX], content[256];
	snprintf(content, sizeof content,
	         "id: 9999\nloop: {amount: 0}\nbatch: {maxAmount: %d}\nmode: bet\n"
	         "retry: {attempts: 1}\nserver: {address: \"[::1]:1\"}\n",
	         (int)PROTO_BATCH_LIMIT);
	const char *path = write_file(content);
	if (client_config_load(&cfg, path, err, sizeof err) != 0)
		fail_msg("%s", err);
	assert_int_equal(cfg.id, 9999);
	assert_int_equal(cfg.loop_amount, 0);
	assert_int_equal(cfg.batch_max_amount, PROTO_BATCH_LIMIT);
	assert_int_equal(cfg.mode, CLIENT_MODE_BET);
	assert_int_equal(cfg.retry_attempts, 1);
	assert_string_equal(cfg.server_address, "[::1]:1");
}

static void test_client_bets_file_default_follows_id(void **state)
{
	(void)state;
	struct client_config cfg;
	char err[CONFIG_ERR_MAX];
	const char *path = write_file("id: 7\n");
	assert_int_equal(client_config_load(&cfg, path, err, sizeof err), 0);
	assert_string_equal(cfg.bets_file, "agency-7.csv");

	set_env("CLI_ID", "12");
	assert_int_equal(client_config_load(&cfg, path, err, sizeof err), 0);
	assert_int_equal(cfg.id, 12);
	assert_string_equal(cfg.bets_file, "agency-12.csv");

	set_env("CLI_BETS_FILE", "mine.csv");
	assert_int_equal(client_config_load(&cfg, path, err, sizeof err), 0);
	assert_string_equal(cfg.bets_file, "mine.csv");
}

static void test_client_env_overrides_file(void **state)
{
	(void)state;
	struct client_config cfg;
	char err[CONFIG_ERR_MAX];
	const char *path = write_file("id: 1\n"
	                              "mode: echo\n"
	                              "server: {address: \"a:1\", timeout: 1s}\n"
	                              "loop: {amount: 1, period: 1s}\n"
	                              "log: {level: DEBUG}\n"
	                              "batch: {maxAmount: 2, window: 5}\n"
	                              "bets: {file: a.csv}\n"
	                              "retry: {attempts: 3}\n"
	                              "draw: {timeout: 1s}\n");
	set_env("CLI_ID", "2");
	set_env("CLI_MODE", "lottery");
	set_env("CLI_SERVER_ADDRESS", "b:2");
	set_env("CLI_SERVER_TIMEOUT", "100ms");
	set_env("CLI_LOOP_AMOUNT", "20");
	set_env("CLI_LOOP_PERIOD", "1m30s");
	set_env("CLI_LOG_LEVEL", "critical");
	set_env("CLI_BATCH_MAXAMOUNT", "15");
	set_env("CLI_BATCH_WINDOW", "3");
	set_env("CLI_BETS_FILE", "b.csv");
	set_env("CLI_RETRY_ATTEMPTS", "4");
	set_env("CLI_DRAW_TIMEOUT", "2h");
	assert_int_equal(client_config_load(&cfg, path, err, sizeof err), 0);
	assert_int_equal(cfg.id, 2);
	assert_int_equal(cfg.mode, CLIENT_MODE_LOTTERY);
	assert_string_equal(cfg.server_address, "b:2");
	assert_true(cfg.server_timeout_ns == DURATION_FROM_MS(100));
	assert_int_equal(cfg.loop_amount, 20);
	assert_true(cfg.loop_period_ns == DURATION_FROM_MS(90000));
	assert_int_equal(cfg.log_level, LOG_CRITICAL);
	assert_int_equal(cfg.batch_max_amount, 15);
	assert_int_equal(cfg.batch_window, 3);
	assert_string_equal(cfg.bets_file, "b.csv");
	assert_int_equal(cfg.retry_attempts, 4);
	assert_true(cfg.draw_timeout_ns == DURATION_FROM_MS(7200000));
}

static void test_client_unknown_keys_ignored(void **state)
{
	(void)state;
	struct client_config cfg;
	char err[CONFIG_ERR_MAX];
	const char *path = write_file("%YAML 1.1\n"
	                              "---\n"
	                              "id: 5\n"
	                              "colour: blue\n"
	                              "extra: &anchor\n"
	                              "  nested: {deep: [1, 2, {x: y}]}\n"
	                              "  list:\n"
	                              "    - a\n"
	                              "    - b: c\n"
	                              "copy: *anchor\n"
	                              "loop:\n"
	                              "  amount: 9\n"
	                              "  jitter: lots\n"
	                              "server:\n"
	                              "  address:port: nonsense\n"
	                              "? [complex, key]\n"
	                              ": value\n"
	                              "batch:\n"
	                              "  maxamount: 3\n" /* keys match case-insensitively */
	                              "log: just text\n" /* a section given as a scalar: not a key */
	                              "...\n");
	if (client_config_load(&cfg, path, err, sizeof err) != 0)
		fail_msg("%s", err);
	assert_int_equal(cfg.id, 5);
	assert_int_equal(cfg.loop_amount, 9);
	assert_int_equal(cfg.batch_max_amount, 3);
	assert_string_equal(cfg.server_address, "server:12345");
	assert_int_equal(cfg.log_level, LOG_INFO);
}

static void test_client_later_value_wins(void **state)
{
	(void)state;
	struct client_config cfg;
	char err[CONFIG_ERR_MAX];
	const char *path = write_file("id: 5\nloop: {amount: 1}\n---\nloop: {amount: 2}\n");
	assert_int_equal(client_config_load(&cfg, path, err, sizeof err), 0);
	assert_int_equal(cfg.id, 5);
	assert_int_equal(cfg.loop_amount, 2);
}

static void test_client_empty_file(void **state)
{
	(void)state;
	struct client_config cfg, def;
	char err[CONFIG_ERR_MAX];
	const char *path = write_file("# nothing but a comment\n");
	set_env("CLI_ID", "4");
	assert_int_equal(client_config_load(&cfg, path, err, sizeof err), 0);
	client_config_defaults(&def);
	assert_int_equal(cfg.id, 4);
	assert_string_equal(cfg.bets_file, "agency-4.csv");
	assert_string_equal(cfg.winners_file, "winners-4.csv");
	def.id = cfg.id;
	memcpy(def.bets_file, cfg.bets_file, sizeof def.bets_file);
	memcpy(def.winners_file, cfg.winners_file, sizeof def.winners_file);
	assert_memory_equal(&cfg, &def, sizeof cfg);

	/* The winners are kept beside the agency's data, unless told otherwise. */
	set_env("CLI_BETS_FILE", "/data/agency.csv");
	assert_int_equal(client_config_load(&cfg, path, err, sizeof err), 0);
	assert_string_equal(cfg.winners_file, "/data/winners-4.csv");
	set_env("CLI_WINNERS_FILE", "/tmp/w.csv");
	assert_int_equal(client_config_load(&cfg, path, err, sizeof err), 0);
	assert_string_equal(cfg.winners_file, "/tmp/w.csv");
	unsetenv("CLI_WINNERS_FILE");
	unsetenv("CLI_BETS_FILE");

	path = write_file("---\n");
	assert_int_equal(client_config_load(&cfg, path, err, sizeof err), 0);
	path = write_file("");
	assert_int_equal(client_config_load(&cfg, path, err, sizeof err), 0);
}

static const struct bad_value client_bad[] = {
	{"id", "0", "out of range 1..9999: \"0\""},
	{"id", "10000", "out of range 1..9999: \"10000\""},
	{"id", "abc", "not a whole number: \"abc\""},
	{"id", "-3", "not a whole number: \"-3\""},
	{"id", "3.0", "not a whole number: \"3.0\""},
	{"server.address", "nohostport", "invalid address \"nohostport\" (expected host:port)"},
	{"server.address", "host:99999", "invalid address \"host:99999\" (expected host:port)"},
	{"server.address", "\"\"", "must not be empty"},
	{"loop.amount", "1000001", "out of range 0..1000000: \"1000001\""},
	{"loop.amount", "five", "not a whole number: \"five\""},
	{"loop.amount", "18446744073709551617", "out of range 0..1000000: \"18446744073709551617\""},
	{"loop.period", "5x", "invalid duration \"5x\""},
	{"loop.period", "-1s", "must not be negative: \"-1s\""},
	{"log.level", "verbose",
	 "unknown log level \"verbose\" (DEBUG, INFO, WARNING, ERROR or CRITICAL)"},
	{"batch.maxAmount", "0", NULL},
	{"batch.maxAmount", "100000", NULL},
	{"batch.window", "0", "out of range 1..16: \"0\""},
	{"batch.window", "17", "out of range 1..16: \"17\""},
	{"mode", "party", "unknown mode \"party\" (echo, bet or lottery)"},
	{"bets.file", "''", "must not be empty"},
	{"server.timeout", "0s", "must be longer than 0: \"0s\""},
	{"server.timeout", "soon", "invalid duration \"soon\""},
	{"retry.attempts", "0", "out of range 1..1000: \"0\""},
	{"retry.attempts", "1001", "out of range 1..1000: \"1001\""},
	{"draw.timeout", "0", "must be longer than 0: \"0\""},
	{"draw.timeout", "1y", "invalid duration \"1y\""},
	{"draw.timeout", "~", "has no value"},
	{"loop.amount", "", "has no value"},
	{"loop.amount", "null", "has no value"},
	{"loop.amount", "[1, 2]", "expected a single value, found a list"},
	{"loop.amount", "{a: 1}", "expected a single value, found a mapping"},
	{"loop.amount", "*a", "YAML aliases are not supported"},
	{"loop.amount", "\"1\\0\"", "contains a NUL byte"},
};

static const char *client_why(const struct bad_value *b, char *buf, size_t cap)
{
	if (b->why != NULL)
		return b->why;
	snprintf(buf, cap, "out of range 1..%d: \"%s\"", (int)PROTO_BATCH_LIMIT, b->value);
	return buf;
}

static void test_client_bad_values_in_file(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof client_bad / sizeof client_bad[0]; i++) {
		const struct bad_value *b = &client_bad[i];
		char content[512], expected[CONFIG_ERR_MAX], err[CONFIG_ERR_MAX], why[128];
		struct client_config cfg;
		const char *dot = strchr(b->key, '.');

		/* the key itself in a nested form, plus an anchor for the alias case */
		if (dot != NULL)
			snprintf(content, sizeof content, "anchor: &a 1\nid: 1\n%.*s:\n  %s: %s\n",
			         (int)(dot - b->key), b->key, dot + 1, b->value);
		else if (strcmp(b->key, "id") == 0)
			snprintf(content, sizeof content, "id: %s\n", b->value);
		else
			snprintf(content, sizeof content, "id: 1\n%s: %s\n", b->key, b->value);
		const char *path = write_file(content);
		client_config_defaults(&cfg);
		cfg.id = 77;
		assert_int_equal(client_config_load(&cfg, path, err, sizeof err), -1);
		snprintf(expected, sizeof expected, "%s: %s: %s", path, b->key,
		         client_why(b, why, sizeof why));
		expect_message(err, expected);
		assert_int_equal(cfg.id, 77); /* untouched on failure */
	}
}

static void test_client_bad_values_in_env(void **state)
{
	(void)state;
	static const struct {
		const char *env, *value, *why;
	} cases[] = {
		{"CLI_ID", "0", "out of range 1..9999: \"0\""},
		{"CLI_ID", "x1", "not a whole number: \"x1\""},
		{"CLI_SERVER_ADDRESS", "server", "invalid address \"server\" (expected host:port)"},
		{"CLI_LOOP_AMOUNT", "abc", "not a whole number: \"abc\""},
		{"CLI_LOOP_AMOUNT", " 5", "not a whole number: \" 5\""},
		{"CLI_LOOP_PERIOD", "5x", "invalid duration \"5x\""},
		{"CLI_LOG_LEVEL", "LOUD",
		 "unknown log level \"LOUD\" (DEBUG, INFO, WARNING, ERROR or CRITICAL)"},
		{"CLI_BATCH_MAXAMOUNT", "0", NULL},
		{"CLI_MODE", "bets", "unknown mode \"bets\" (echo, bet or lottery)"},
		{"CLI_SERVER_TIMEOUT", "-5s", "must be longer than 0: \"-5s\""},
		{"CLI_RETRY_ATTEMPTS", "1e3", "not a whole number: \"1e3\""},
		{"CLI_DRAW_TIMEOUT", "0ms", "must be longer than 0: \"0ms\""},
	};
	const char *path = write_file("id: 1\n");
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char expected[CONFIG_ERR_MAX], err[CONFIG_ERR_MAX], why[128];
		struct client_config cfg;
		const char *reason = cases[i].why;
		if (reason == NULL) {
			snprintf(why, sizeof why, "out of range 1..%d: \"%s\"", (int)PROTO_BATCH_LIMIT,
			         cases[i].value);
			reason = why;
		}
		set_env(cases[i].env, cases[i].value);
		assert_int_equal(client_config_load(&cfg, path, err, sizeof err), -1);
		snprintf(expected, sizeof expected, "%s: %s", cases[i].env, reason);
		expect_message(err, expected);
		unsetenv(cases[i].env);
	}
}

static void test_client_env_fixes_bad_file_value(void **state)
{
	(void)state;
	struct client_config cfg;
	char err[CONFIG_ERR_MAX];
	const char *path = write_file("id: 1\nloop:\n  period: \"5x\"\n  amount: [1]\n");
	set_env("CLI_LOOP_PERIOD", "1s");
	set_env("CLI_LOOP_AMOUNT", "2");
	assert_int_equal(client_config_load(&cfg, path, err, sizeof err), 0);
	assert_true(cfg.loop_period_ns == DURATION_FROM_MS(1000));
	assert_int_equal(cfg.loop_amount, 2);
}

static void test_client_contract_example_message(void **state)
{
	(void)state;
	struct client_config cfg;
	char err[CONFIG_ERR_MAX], expected[CONFIG_ERR_MAX];
	const char *path = write_file("id: 1\nloop:\n  amount: 5\n  period: \"5x\"\n");
	assert_int_equal(client_config_load(&cfg, path, err, sizeof err), -1);
	snprintf(expected, sizeof expected, "%s: loop.period: invalid duration \"5x\"", path);
	expect_message(err, expected);
}

static void test_client_value_too_long(void **state)
{
	(void)state;
	struct client_config cfg;
	char err[CONFIG_ERR_MAX], expected[CONFIG_ERR_MAX];
	size_t cap = PATH_MAX + 64;
	char *content = malloc(cap);
	assert_non_null(content);
	int n = snprintf(content, cap, "id: 1\nbets:\n  file: ");
	memset(content + n, 'x', PATH_MAX);
	snprintf(content + n + PATH_MAX, cap - (size_t)n - PATH_MAX, "\n");
	const char *path = write_file(content);
	free(content);
	assert_int_equal(client_config_load(&cfg, path, err, sizeof err), -1);
	snprintf(expected, sizeof expected, "%s: bets.file: value too long", path);
	expect_message(err, expected);
}

static void test_client_yaml_syntax_errors(void **state)
{
	(void)state;
	static const struct {
		const char *content;
		int line;
	} cases[] = {
		{"id: 1\nloop:\n  amount: 5\n period: 1s\n", 4},
		{"id: 1\nserver:\n  address: \"unterminated\n", 4},
		{"id: 1\nloop: [1, 2\n", 3},
		{"id: 1\nlog: level: INFO\n", 2},
		{"id: 1\n\tmode: echo\n", 2},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct client_config cfg;
		char err[CONFIG_ERR_MAX], prefix[CONFIG_ERR_MAX];
		const char *path = write_file(cases[i].content);
		assert_int_equal(client_config_load(&cfg, path, err, sizeof err), -1);
		snprintf(prefix, sizeof prefix, "%s: line %d: YAML parse error: ", path, cases[i].line);
		if (strncmp(err, prefix, strlen(prefix)) != 0)
			fail_msg("case %zu: got \"%s\", expected it to start with \"%s\"", i, err, prefix);
		assert_null(strchr(err, '\n'));
	}
}

static void test_client_yaml_not_a_mapping(void **state)
{
	(void)state;
	struct client_config cfg;
	char err[CONFIG_ERR_MAX], expected[CONFIG_ERR_MAX];
	const char *path = write_file("# comment\n- id: 1\n");
	assert_int_equal(client_config_load(&cfg, path, err, sizeof err), -1);
	snprintf(expected, sizeof expected, "%s: line 2: expected a mapping of keys at the top",
	         path);
	expect_message(err, expected);

	path = write_file("just words\n");
	assert_int_equal(client_config_load(&cfg, path, err, sizeof err), -1);
	snprintf(expected, sizeof expected, "%s: line 1: expected a mapping of keys at the top",
	         path);
	expect_message(err, expected);
}

static void test_client_yaml_bad_utf8(void **state)
{
	(void)state;
	struct client_config cfg;
	char err[CONFIG_ERR_MAX], prefix[CONFIG_ERR_MAX];
	const char *path = write_file("id: 1\nmode: \xff\xfe\n");
	assert_int_equal(client_config_load(&cfg, path, err, sizeof err), -1);
	snprintf(prefix, sizeof prefix, "%s: byte ", path);
	assert_true(strncmp(err, prefix, strlen(prefix)) == 0);
	assert_non_null(strstr(err, "YAML parse error: "));
}

static void test_client_yaml_too_deep(void **state)
{
	(void)state;
	struct client_config cfg;
	char err[CONFIG_ERR_MAX], content[512];
	size_t n = 0;
	n += (size_t)snprintf(content + n, sizeof content - n, "id: 1\nx: ");
	for (int i = 0; i < 40; i++)
		content[n++] = '[';
	for (int i = 0; i < 40; i++)
		content[n++] = ']';
	snprintf(content + n, sizeof content - n, "\n");
	const char *path = write_file(content);
	assert_int_equal(client_config_load(&cfg, path, err, sizeof err), -1);
	assert_non_null(strstr(err, "nested deeper than"));
	assert_true(strncmp(err, path, strlen(path)) == 0);
}

static void test_client_missing_file(void **state)
{
	(void)state;
	struct client_config cfg;
	char err[CONFIG_ERR_MAX], path[128], expected[CONFIG_ERR_MAX];
	snprintf(path, sizeof path, "%s/no-such-config.yaml", tmp_dir);
	set_env("CLI_ID", "1");
	assert_int_equal(client_config_load(&cfg, path, err, sizeof err), -1);
	snprintf(expected, sizeof expected, "%s: cannot open: No such file or directory", path);
	expect_message(err, expected);

	assert_int_equal(client_config_load(&cfg, tmp_dir, err, sizeof err), -1);
	snprintf(expected, sizeof expected, "%s: cannot open: %s", tmp_dir, strerror(EISDIR));
	expect_message(err, expected);
}

static void test_client_shipped_config(void **state)
{
	(void)state;
	struct client_config cfg;
	char err[CONFIG_ERR_MAX], path[PATH_MAX];
	repo_path(path, sizeof path, "client/config.yaml");
	if (access(path, R_OK) != 0)
		skip();
	set_env("CLI_ID", "2");
	if (client_config_load(&cfg, path, err, sizeof err) != 0)
		fail_msg("%s", err);
	assert_int_equal(cfg.id, 2);
	assert_string_equal(cfg.server_address, "server:12345");
	assert_int_equal(cfg.loop_amount, 5);
	assert_true(cfg.loop_period_ns == DURATION_FROM_MS(5000));
	assert_int_equal(cfg.log_level, LOG_INFO);
	assert_int_equal(cfg.batch_max_amount, PROTO_BATCH_DEFAULT);
	assert_int_equal(cfg.mode, CLIENT_MODE_LOTTERY);
	assert_string_equal(cfg.bets_file, "agency-2.csv");
	assert_true(cfg.draw_timeout_ns == DURATION_FROM_MS(600000));
}

#define T(fn) cmocka_unit_test_setup(fn, clean_env)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_server_defaults),
		T(test_server_empty_file_gives_defaults),
		T(test_server_file_values),
		T(test_server_limits_accepted),
		T(test_server_unknown_keys_and_sections_ignored),
		T(test_server_env_overrides_file),
		T(test_server_empty_env_is_unset),
		T(test_server_env_fixes_bad_file_value),
		T(test_server_bad_values_in_file),
		T(test_server_bad_values_in_env),
		T(test_server_too_long_values),
		T(test_server_long_value_shown_short),
		T(test_server_missing_file),
		T(test_server_directory_is_not_a_file),
		T(test_server_unreadable_file),
		T(test_server_syntax_error),
		T(test_server_line_too_long),
		T(test_server_nul_byte),
		T(test_server_tiny_error_buffer),
		T(test_server_shipped_config),
		T(test_client_defaults),
		T(test_client_mode_names),
		T(test_client_contract_sample),
		T(test_client_missing_id),
		T(test_client_all_keys_plain_and_quoted),
		T(test_client_limits_accepted),
		T(test_client_bets_file_default_follows_id),
		T(test_client_env_overrides_file),
		T(test_client_unknown_keys_ignored),
		T(test_client_later_value_wins),
		T(test_client_empty_file),
		T(test_client_bad_values_in_file),
		T(test_client_bad_values_in_env),
		T(test_client_env_fixes_bad_file_value),
		T(test_client_contract_example_message),
		T(test_client_value_too_long),
		T(test_client_yaml_syntax_errors),
		T(test_client_yaml_not_a_mapping),
		T(test_client_yaml_bad_utf8),
		T(test_client_yaml_too_deep),
		T(test_client_missing_file),
		T(test_client_shipped_config),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
