#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "utf8.h"

#define WHEN ((time_t)1700000000) /* 2023-11-14 22:13:20 UTC */
#define STAMP "2023-11-14 22:13:20 "

static int setup(void **state)
{
	(void)state;
	/* the stamp is local time, as Python's logging prints it: pin the zone */
	setenv("TZ", "UTC", 1);
	tzset();
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

static size_t line_at(char *buf, size_t cap, enum log_level level, const char *action,
                      const char *result, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static size_t line_at(char *buf, size_t cap, enum log_level level, const char *action,
                      const char *result, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	size_t n = log_format(buf, cap, WHEN, level, action, result, fmt, ap);
	va_end(ap);
	assert_int_equal(n, strlen(buf));
	return n;
}

/* The fields part of a formatted line, without the newline. */
static const char *fields(char *buf)
{
	static const char head[] = STAMP "INFO     action: t | result: success | ";
	if (strncmp(buf, head, sizeof head - 1) != 0)
		fail_msg("unexpected line: %s", buf);
	size_t n = strlen(buf);
	assert_true(n > 0 && buf[n - 1] == '\n');
	buf[n - 1] = '\0';
	return buf + sizeof head - 1;
}

#define FIELDS(...)                                                                                \
	(line_at(buf, sizeof buf, LOG_INFO, "t", "success", __VA_ARGS__), fields(buf))

static void test_exact_line(void **state)
{
	(void)state;
	char buf[LOG_LINE_MAX];
	size_t n = line_at(buf, sizeof buf, LOG_INFO, "config", "success",
			   "port: %d | listen_backlog: %d | logging_level: %s", 12345, 5, "INFO");
	const char *want = STAMP "INFO     action: config | result: success | port: 12345 | "
				 "listen_backlog: 5 | logging_level: INFO\n";
	assert_string_equal(buf, want);
	assert_int_equal(n, strlen(want));

	line_at(buf, sizeof buf, LOG_INFO, "sorteo", "success", NULL);
	assert_string_equal(buf, STAMP "INFO     action: sorteo | result: success\n");
	line_at(buf, sizeof buf, LOG_INFO, "sorteo", "success", "%s", "");
	assert_string_equal(buf, STAMP "INFO     action: sorteo | result: success | \n");
}

static void test_level_padding(void **state)
{
	(void)state;
	static const struct {
		enum log_level level;
		const char *text;
	} cases[] = {
		{LOG_DEBUG, STAMP "DEBUG    action: a | result: in_progress\n"},
		{LOG_INFO, STAMP "INFO     action: a | result: in_progress\n"},
		{LOG_WARNING, STAMP "WARNING  action: a | result: in_progress\n"},
		{LOG_ERROR, STAMP "ERROR    action: a | result: in_progress\n"},
		{LOG_CRITICAL, STAMP "CRITICAL action: a | result: in_progress\n"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char buf[256];
		line_at(buf, sizeof buf, cases[i].level, "a", "in_progress", NULL);
		assert_string_equal(buf, cases[i].text);
	}
}

static void test_level_names(void **state)
{
	(void)state;
	assert_string_equal(log_level_name(LOG_DEBUG), "DEBUG");
	assert_string_equal(log_level_name(LOG_INFO), "INFO");
	assert_string_equal(log_level_name(LOG_WARNING), "WARNING");
	assert_string_equal(log_level_name(LOG_ERROR), "ERROR");
	assert_string_equal(log_level_name(LOG_CRITICAL), "CRITICAL");

	static const struct {
		const char *text;
		enum log_level level;
	} ok[] = {
		{"DEBUG", LOG_DEBUG},     {"debug", LOG_DEBUG},       {"Info", LOG_INFO},
		{"WARNING", LOG_WARNING}, {"warn", LOG_WARNING},      {"ERROR", LOG_ERROR},
		{"critical", LOG_CRITICAL}, {"FATAL", LOG_CRITICAL},
	};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		enum log_level l = LOG_INFO;
		assert_int_equal(log_level_parse(ok[i].text, &l), 0);
		assert_int_equal(l, ok[i].level);
	}
	static const char *const bad[] = {"", "INF", "INFOO", " INFO", "INFO ", "TRACE", "10"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		enum log_level l = LOG_ERROR;
		assert_int_equal(log_level_parse(bad[i], &l), -1);
		assert_int_equal(l, LOG_ERROR);
	}
	enum log_level l;
	assert_int_equal(log_level_parse(NULL, &l), -1);
}

static void test_sanitize_values(void **state)
{
	(void)state;
	char buf[LOG_LINE_MAX];
	/* a peer trying to forge a field and a second line */
	assert_string_equal(FIELDS("msg: %s", "hi | result: fail\n2023 INFO action: x"),
			    "msg: hi   result: fail 2023 INFO action: x");
	assert_string_equal(FIELDS("msg: %s", "a|b\nc\rd\te\x01" "f\x7fg\x1b[31m"),
			    "msg: a b c d e f g [31m");
	/* invalid UTF-8: each bad byte becomes '?' */
	assert_string_equal(FIELDS("msg: %s", "\xC3(x\xFF\xED\xA0\x80z\xC0\xAF"),
			    "msg: ?(x????z??");
	/* valid UTF-8 is kept; C1 controls (NEL) are spaces */
	assert_string_equal(FIELDS("msg: %s", "[CLIENT 1] Message N\xC2\xB0" "1 \xC3\xB1 \xE2\x82\xAC"),
			    "msg: [CLIENT 1] Message N\xC2\xB0" "1 \xC3\xB1 \xE2\x82\xAC");
	assert_string_equal(FIELDS("msg: %s", "a\xC2\x85" "b"), "msg: a b");
	/* the trusted format keeps its separators; action and result are cleaned too */
	line_at(buf, sizeof buf, LOG_INFO, "a|b\n", "success", "k: %s", "v");
	assert_string_equal(buf, STAMP "INFO     action: a b  | result: success | k: v\n");
	const char *volatile none = NULL; /* hidden from the compiler's own format check */
	assert_string_equal(FIELDS("s: %s", none), "s: (null)");
}

static void test_log_sanitize(void **state)
{
	(void)state;
	char dst[64];
	assert_int_equal(log_sanitize(dst, sizeof dst, "ok|\r\n\xFF"), 6);
	assert_string_equal(dst, "ok   ?");
	assert_int_equal(log_sanitize(dst, sizeof dst, ""), 0);
	assert_string_equal(dst, "");
	/* bounded, and never ends in half a character */
	assert_int_equal(log_sanitize(dst, 4, "abcdef"), 3);
	assert_string_equal(dst, "abc");
	assert_int_equal(log_sanitize(dst, 4, "a\xE2\x82\xAC"), 1);
	assert_string_equal(dst, "a");
	assert_int_equal(log_sanitize(dst, 5, "a\xE2\x82\xAC"), 4);
	assert_string_equal(dst, "a\xE2\x82\xAC");
	assert_int_equal(log_sanitize(dst, 1, "abc"), 0);
	assert_string_equal(dst, "");
	dst[0] = 'z';
	assert_int_equal(log_sanitize(dst, 0, "abc"), 0);
	assert_int_equal(dst[0], 'z');
}

static void expect_same(const char *got, const char *want)
{
	assert_string_equal(got, want);
}

static void test_conversions(void **state)
{
	(void)state;
	char buf[LOG_LINE_MAX];
	char want[256];

	expect_same(FIELDS("n: %d %i %u %x %d", -42, 7, 42u, 0xbeefu, 0), "n: -42 7 42 beef 0");
	expect_same(FIELDS("%d %d %u", INT_MIN, INT_MAX, UINT_MAX), "-2147483648 2147483647 4294967295");
	snprintf(want, sizeof want, "%ld %lu %lld %llu", LONG_MIN, ULONG_MAX, LLONG_MIN, ULLONG_MAX);
	expect_same(FIELDS("%ld %lu %lld %llu", LONG_MIN, ULONG_MAX, LLONG_MIN, ULLONG_MAX), want);
	snprintf(want, sizeof want, "%zu %zd %zd", SIZE_MAX, (ssize_t)-1, (ssize_t)0);
	expect_same(FIELDS("%zu %zd %zd", SIZE_MAX, (ssize_t)-1, (ssize_t)0), want);
	expect_same(FIELDS("%lx %llx %zx", 0xabcdefUL, 0xABCDEFULL, (size_t)255), "abcdef abcdef ff");
	expect_same(FIELDS("100%% %s", "done"), "100% done");
}

static const char *unchecked_fields(char *buf, size_t cap, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_format(buf, cap, WHEN, LOG_INFO, "t", "success", fmt, ap);
	va_end(ap);
	return fields(buf);
}

/* What the formatter does not know shows up in the line instead of being guessed at, and
 * nothing after it is read (the argument's type is unknown). */
static void test_unsupported_conversion(void **state)
{
	(void)state;
	char buf[LOG_LINE_MAX];
	expect_same(FIELDS("a: %d | b: %f | c: %s", 1, 2.5, "x"), "a: 1 | b: %?");
	expect_same(FIELDS("%5d|", 7), "%?");
	expect_same(FIELDS("%c", 'x'), "%?");
	expect_same(FIELDS("%hd", (short)1), "%?");
	expect_same(FIELDS("%p", (void *)buf), "%?");
	/* formats the compiler would reject, through a helper it does not check */
	expect_same(unchecked_fields(buf, sizeof buf, "end %"), "end %?");
	expect_same(unchecked_fields(buf, sizeof buf, "end %l"), "end %?");
	expect_same(unchecked_fields(buf, sizeof buf, "%ls|", 1), "%?");
}

static void test_truncation(void **state)
{
	(void)state;
	char big[LOG_LINE_MAX * 2];
	memset(big, 'v', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	char buf[LOG_LINE_MAX];
	size_t n = line_at(buf, sizeof buf, LOG_INFO, "t", "success", "msg: %s", big);
	assert_int_equal(n, LOG_LINE_MAX - 1);
	assert_int_equal(buf[n - 1], '\n');
	assert_int_equal(buf[n - 2], 'v');
	assert_int_equal(buf[n], '\0');

	/* cut between characters, never inside one */
	char euros[3 * 2000 + 1];
	for (size_t i = 0; i < 2000; i++)
		memcpy(euros + 3 * i, "\xE2\x82\xAC", 3);
	euros[sizeof euros - 1] = '\0';
	for (size_t cap = 60; cap < 70; cap++) {
		n = line_at(buf, cap, LOG_INFO, "t", "success", "msg: %s", euros);
		assert_true(n < cap);
		assert_int_equal(buf[n - 1], '\n');
		assert_true(utf8_valid(buf, n));
	}
	/* the same for multi-byte text in the trusted format */
	for (size_t cap = 50; cap < 60; cap++) {
		n = line_at(buf, cap, LOG_INFO, "t", "success",
			    "k: \xE2\x82\xAC\xE2\x82\xAC\xE2\x82\xAC\xE2\x82\xAC\xE2\x82\xAC\xE2\x82\xAC");
		assert_true(n < cap);
		assert_int_equal(buf[n - 1], '\n');
		assert_true(utf8_valid(buf, n));
	}
	/* tiny buffers */
	assert_int_equal(line_at(buf, 2, LOG_INFO, "t", "success", NULL), 1);
	assert_string_equal(buf, "\n");
	assert_int_equal(line_at(buf, 1, LOG_INFO, "t", "success", NULL), 0);
	assert_string_equal(buf, "");
}

/* Reads whatever is in the pipe right now (it is non-blocking). */
static ssize_t drain(int fd, char *buf, size_t cap)
{
	ssize_t n = read(fd, buf, cap - 1);
	buf[n > 0 ? n : 0] = '\0';
	return n;
}

static void test_level_filter(void **state)
{
	(void)state;
	int p[2];
	assert_int_equal(pipe(p), 0);
	assert_int_equal(fcntl(p[0], F_SETFL, O_NONBLOCK), 0);
	log_set_fd(p[1]);
	char buf[8192];

	assert_int_equal(log_get_level(), LOG_INFO); /* the default */
	log_debug("dropped", "success", NULL);
	assert_int_equal(drain(p[0], buf, sizeof buf), -1);
	assert_int_equal(errno, EAGAIN);
	log_info("kept", "success", "n: %d", 1);
	assert_true(drain(p[0], buf, sizeof buf) > 0);
	assert_non_null(strstr(buf, " INFO     action: kept | result: success | n: 1\n"));

	log_set_level(LOG_WARNING);
	assert_int_equal(log_get_level(), LOG_WARNING);
	log_info("dropped", "success", NULL);
	assert_int_equal(drain(p[0], buf, sizeof buf), -1);
	log_warning("kept", "fail", NULL);
	log_error("kept", "fail", NULL);
	log_event(LOG_CRITICAL, "kept", "fail", NULL);
	assert_true(drain(p[0], buf, sizeof buf) > 0);
	assert_non_null(strstr(buf, " WARNING  action: kept | result: fail\n"));
	assert_non_null(strstr(buf, " ERROR    action: kept | result: fail\n"));
	assert_non_null(strstr(buf, " CRITICAL action: kept | result: fail\n"));

	log_set_level(LOG_DEBUG);
	log_debug("kept", "success", NULL);
	assert_true(drain(p[0], buf, sizeof buf) > 0);
	assert_non_null(strstr(buf, " DEBUG    action: kept | result: success\n"));

	/* errno survives a log call, so callers can log first and decide after */
	errno = ENOSPC;
	log_error("x", "fail", "error: %s", "disk full");
	assert_int_equal(errno, ENOSPC);
	assert_true(drain(p[0], buf, sizeof buf) > 0);

	log_set_level(LOG_INFO);
	log_set_fd(STDOUT_FILENO);
	close(p[0]);
	close(p[1]);
}

/* A SEQPACKET socket keeps write boundaries: each recv returns what one write sent. */
static void test_one_write_per_line(void **state)
{
	(void)state;
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	int sndbuf = 65536;
	assert_int_equal(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf), 0);
	log_set_fd(sv[0]);

	char big[LOG_LINE_MAX * 2];
	memset(big, 'm', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	log_info("first", "success", "msg: %s", "short");
	log_info("second", "success", "msg: %s", big);
	log_info("third", "success", NULL);

	char buf[LOG_LINE_MAX * 3];
	ssize_t n = recv(sv[1], buf, sizeof buf - 1, 0);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_true(memchr(buf, '\n', (size_t)n) == buf + n - 1);
	assert_non_null(strstr(buf, "action: first"));

	n = recv(sv[1], buf, sizeof buf - 1, 0);
	assert_int_equal(n, LOG_LINE_MAX - 1);
	buf[n] = '\0';
	assert_true(memchr(buf, '\n', (size_t)n) == buf + n - 1);
	assert_non_null(strstr(buf, "action: second"));

	n = recv(sv[1], buf, sizeof buf - 1, 0);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_true(memchr(buf, '\n', (size_t)n) == buf + n - 1);
	assert_non_null(strstr(buf, "action: third"));

	log_set_fd(STDOUT_FILENO);
	close(sv[0]);
	close(sv[1]);
}

/* Several processes on one pipe, as the server's processes share stdout: lines never mix. */
static void test_processes_do_not_interleave(void **state)
{
	(void)state;
	enum { CHILDREN = 4, LINES = 300, VALUE = 1500 };
	int p[2];
	assert_int_equal(pipe(p), 0);
	pid_t pids[CHILDREN];
	for (int c = 0; c < CHILDREN; c++) {
		pids[c] = fork();
		assert_true(pids[c] >= 0);
		if (pids[c] == 0) {
			close(p[0]);
			log_set_fd(p[1]);
			char value[VALUE + 1];
			memset(value, 'a' + c, VALUE);
			value[VALUE] = '\0';
			for (int i = 0; i < LINES; i++)
				log_info("child", "success", "c: %d | v: %s", c, value);
			_exit(0);
		}
	}
	close(p[1]);

	size_t cap = (size_t)CHILDREN * LINES * (VALUE + 100);
	char *all = malloc(cap);
	assert_non_null(all);
	size_t len = 0;
	for (;;) {
		ssize_t n = read(p[0], all + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		assert_true(n >= 0);
		if (n == 0)
			break;
		len += (size_t)n;
		assert_true(len < cap);
	}
	close(p[0]);
	for (int c = 0; c < CHILDREN; c++) {
		int st;
		assert_int_equal(waitpid(pids[c], &st, 0), pids[c]);
		assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}

	int count[CHILDREN] = {0};
	char *line = all;
	while (line < all + len) {
		char *nl = memchr(line, '\n', (size_t)(all + len - line));
		assert_non_null(nl);
		*nl = '\0';
		char *c = strstr(line, "action: child | result: success | c: ");
		assert_non_null(c);
		int who = c[37] - '0';
		assert_true(who >= 0 && who < CHILDREN);
		const char *v = strstr(c, " | v: ");
		assert_non_null(v);
		v += 6;
		assert_int_equal(strlen(v), VALUE);
		for (size_t i = 0; i < VALUE; i++)
			assert_int_equal(v[i], 'a' + who);
		count[who]++;
		line = nl + 1;
	}
	for (int c = 0; c < CHILDREN; c++)
		assert_int_equal(count[c], LINES);
	free(all);
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Off, or lines going to a regular file: no wait at all, whatever the pipe holds. */
static void test_settle_returns_at_once(void **state)
{
	(void)state;
	int p[2];
	int64_t drain = -1, start;
	assert_int_equal(pipe(p), 0);
	log_set_fd(p[1]);
	assert_int_equal(write(p[1], "x\n", 2), 2);
	log_set_settle(0, 1000);
	start = now_ms();
	assert_int_equal(log_settle(&drain), 0);
	assert_int_equal(drain, 0);

	FILE *f = tmpfile();
	assert_non_null(f);
	log_set_fd(fileno(f));
	log_set_settle(200, 1000);
	errno = ENOSPC;
	assert_int_equal(log_settle(&drain), 0);
	assert_int_equal(errno, ENOSPC);
	assert_true(now_ms() - start < 150);

	log_set_settle(0, 0);
	log_set_fd(STDOUT_FILENO);
	fclose(f);
	close(p[0]);
	close(p[1]);
}

/* An empty pipe: only the settle time. A pipe its reader empties later: that wait, then the
 * settle time. */
static void test_settle_waits_for_the_reader(void **state)
{
	(void)state;
	int p[2];
	int64_t drain = -1, start;
	assert_int_equal(pipe(p), 0);
	log_set_fd(p[1]);
	log_set_settle(30, 5000);
	start = now_ms();
	assert_int_equal(log_settle(&drain), 1);
	assert_true(drain < 20);
	assert_true(now_ms() - start >= 30);

	log_info("pending", "success", NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char buf[LOG_LINE_MAX];
		struct timespec pause = {.tv_sec = 0, .tv_nsec = 80 * 1000000L};
		nanosleep(&pause, NULL);
		_exit(read(p[0], buf, sizeof buf) > 0 ? 0 : 1);
	}
	start = now_ms();
	assert_int_equal(log_settle(&drain), 1);
	assert_true(drain >= 60);
	assert_true(now_ms() - start >= drain + 30);
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);

	log_set_settle(0, 0);
	log_set_fd(STDOUT_FILENO);
	close(p[0]);
	close(p[1]);
}

/* Nobody reads: the wait ends at the drain bound, and says so. */
static void test_settle_is_bounded(void **state)
{
	(void)state;
	int p[2];
	int64_t drain = -1, start;
	assert_int_equal(pipe(p), 0);
	log_set_fd(p[1]);
	log_info("never_read", "success", NULL);
	log_set_settle(10, 40);
	start = now_ms();
	assert_int_equal(log_settle(&drain), -1);
	assert_true(drain >= 40 && drain < 1000);
	assert_true(now_ms() - start >= 50);

	log_set_settle(0, 0);
	log_set_fd(STDOUT_FILENO);
	close(p[0]);
	close(p[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exact_line),
		cmocka_unit_test(test_level_padding),
		cmocka_unit_test(test_level_names),
		cmocka_unit_test(test_sanitize_values),
		cmocka_unit_test(test_log_sanitize),
		cmocka_unit_test(test_conversions),
		cmocka_unit_test(test_unsupported_conversion),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_level_filter),
		cmocka_unit_test(test_one_write_per_line),
		cmocka_unit_test(test_processes_do_not_interleave),
		cmocka_unit_test(test_settle_returns_at_once),
		cmocka_unit_test(test_settle_waits_for_the_reader),
		cmocka_unit_test(test_settle_is_bounded),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
