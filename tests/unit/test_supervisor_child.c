/* The supervisor's child handling: spawning into a process group with a given signal mask,
 * signalling the group, and describing how a child ended. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../supervisor/child.h"

static int wait_for(pid_t pid)
{
	int status;
	pid_t got;

	do
		got = waitpid(pid, &status, 0);
	while (got < 0 && errno == EINTR);
	assert_int_equal(got, pid);
	return status;
}

static void test_exit_code_is_reported(void **state)
{
	(void)state;
	struct child c = {.name = "sh"};
	char *argv[] = {"/bin/sh", "-c", "exit 3", NULL};
	sigset_t empty;
	char text[48];

	sigemptyset(&empty);
	assert_int_equal(child_spawn(&c, "/bin/sh", argv, &empty, -1), 0);
	assert_true(c.running);
	int status = wait_for(c.pid);
	assert_false(child_exited_cleanly(status));
	child_describe_status(status, text, sizeof(text));
	assert_string_equal(text, "exit_code: 3");
}

static void test_exec_failure_exits_127(void **state)
{
	(void)state;
	struct child c = {.name = "missing"};
	char *argv[] = {"/nonexistent/program", NULL};
	sigset_t empty;
	char text[48];

	sigemptyset(&empty);
	assert_int_equal(child_spawn(&c, argv[0], argv, &empty, -1), 0);
	child_describe_status(wait_for(c.pid), text, sizeof(text));
	assert_string_equal(text, "exit_code: 127");
}

/* The child must start with the mask we give it, not the supervisor's blocked one: otherwise
 * SIGTERM would never reach it. sh's `kill -TERM $$` only ends it if TERM is unblocked. */
static void test_child_gets_the_given_mask_and_own_group(void **state)
{
	(void)state;
	struct child c = {.name = "sh"};
	char *argv[] = {"/bin/sh", "-c", "kill -TERM $$; exit 0", NULL};
	sigset_t blocked, old, empty;
	char text[48];

	sigemptyset(&blocked);
	sigaddset(&blocked, SIGTERM);
	assert_int_equal(sigprocmask(SIG_BLOCK, &blocked, &old), 0);
	sigemptyset(&empty);
	assert_int_equal(child_spawn(&c, "/bin/sh", argv, &empty, -1), 0);
	child_describe_status(wait_for(c.pid), text, sizeof(text));
	assert_string_equal(text, "signal: 15");
	assert_int_equal(sigprocmask(SIG_SETMASK, &old, NULL), 0);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	assert_int_equal(clock_gettime(CLOCK_MONOTONIC, &ts), 0);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Dead means gone, or a zombie nobody has reaped yet: it runs no more either way. */
static bool process_dead(pid_t pid)
{
	char path[64], text[512];

	if (kill(pid, 0) < 0 && errno == ESRCH)
		return true;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return errno == ENOENT;
	size_t n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	const char *end = strrchr(text, ')'); /* the command name may hold spaces or ')' */
	return n == 0 || (end != NULL && end[1] == ' ' && end[2] == 'Z');
}

/* Reads the grandchild's pid, one decimal line, from fd within the deadline. */
static pid_t read_pid_line(int fd, int64_t deadline)
{
	char line[32];
	size_t len = 0;

	while (memchr(line, '\n', len) == NULL) {
		int64_t left = deadline - now_ms();
		assert_true(left > 0);
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		int r = poll(&pfd, 1, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		assert_true(r >= 0);
		if (r == 0)
			continue;
		assert_true(len < sizeof(line) - 1);
		ssize_t got = read(fd, line + len, sizeof(line) - 1 - len);
		assert_true(got > 0);
		len += (size_t)got;
	}
	line[len] = '\0';
	long pid = strtol(line, NULL, 10);
	assert_true(pid > 0);
	return (pid_t)pid;
}

static void test_signal_group_reaches_grandchildren(void **state)
{
	(void)state;
	struct child c = {.name = "sh"};
	int p[2];
	char script[64];
	sigset_t empty;

	/* The child reports its background sleep's pid before waiting on it, so the grandchild
	 * provably exists (and sits in the child's group) when the group is killed. */
	assert_int_equal(pipe(p), 0);
	assert_int_equal(fcntl(p[0], F_SETFD, FD_CLOEXEC), 0);
	assert_int_equal(fcntl(p[1], F_SETFD, FD_CLOEXEC), 0);
	assert_true(p[1] <= 9); /* sh redirections take a one-digit fd */
	snprintf(script, sizeof(script), "sleep 30 & echo $! >&%d; wait", p[1]);
	char *argv[] = {"/bin/sh", "-c", script, NULL};
	sigemptyset(&empty);
	assert_int_equal(child_spawn(&c, "/bin/sh", argv, &empty, p[1]), 0);
	assert_int_equal(close(p[1]), 0);
	int64_t deadline = now_ms() + 5000;
	pid_t grandchild = read_pid_line(p[0], deadline);
	assert_int_equal(close(p[0]), 0);

	assert_true(grandchild != c.pid);
	assert_false(process_dead(grandchild));
	assert_int_equal(getpgid(grandchild), c.pid);

	assert_int_equal(child_signal_group(&c, SIGKILL), 0);
	int status = wait_for(c.pid);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	/* The orphan is init's to reap, on its own schedule: poll, bounded. */
	while (!process_dead(grandchild) && now_ms() < deadline)
		nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);
	assert_true(process_dead(grandchild));
}

static void test_describe_signal(void **state)
{
	(void)state;
	char text[48];

	child_describe_status(9, text, sizeof(text)); /* WIFSIGNALED with SIGKILL */
	assert_string_equal(text, "signal: 9");
	assert_true(child_exited_cleanly(0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exit_code_is_reported),
		cmocka_unit_test(test_exec_failure_exits_127),
		cmocka_unit_test(test_child_gets_the_given_mask_and_own_group),
		cmocka_unit_test(test_signal_group_reaches_grandchildren),
		cmocka_unit_test(test_describe_signal),
	};
	return cmocka_run_group_tests_name("supervisor_child", tests, NULL, NULL);
}
