/* The supervisor's child handling: spawning into a process group with a given signal mask,
 * dying with the parent, signalling the group, describing how a child ended, and the restart
 * policy (backoff, giving up on a crash loop). */
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
#include <sys/prctl.h>
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
	assert_int_equal(c.state, CHILD_STARTING);
	assert_true(child_alive(&c));
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

/* A parent that is SIGKILLed takes its child with it: the helper process spawns a long sleep
 * and is killed; the sleep must die too (it is reparented to us, the subreaper, so we reap it).
 * The sleep reports its own pid once it has been exec'd, so its parent-death signal is set by
 * then (killed any earlier, the helper would leave it to exit 127 by itself instead). */
static void test_child_dies_with_its_parent(void **state)
{
	(void)state;
	int p[2];
	char script[64];
	sigset_t empty;

	assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
	assert_int_equal(pipe(p), 0);
	assert_int_equal(fcntl(p[0], F_SETFD, FD_CLOEXEC), 0);
	assert_int_equal(fcntl(p[1], F_SETFD, FD_CLOEXEC), 0);
	assert_true(p[1] <= 9); /* sh redirections take a one-digit fd */
	snprintf(script, sizeof(script), "echo $$ >&%d; exec sleep 30", p[1]);
	sigemptyset(&empty);
	pid_t helper = fork();
	assert_true(helper >= 0);
	if (helper == 0) {
		struct child c = {.name = "sh"};
		char *argv[] = {"/bin/sh", "-c", script, NULL};

		if (child_spawn(&c, argv[0], argv, &empty, p[1]) < 0)
			_exit(1);
		pause(); /* until killed */
		_exit(1);
	}
	assert_int_equal(close(p[1]), 0);
	int64_t deadline = now_ms() + 5000;
	pid_t grandchild = read_pid_line(p[0], deadline);
	assert_int_equal(close(p[0]), 0);
	assert_false(process_dead(grandchild));

	assert_int_equal(kill(helper, SIGKILL), 0);
	int status = wait_for(helper);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	while (!process_dead(grandchild) && now_ms() < deadline)
		nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);
	bool died = process_dead(grandchild);
	if (!died)
		kill(grandchild, SIGKILL); /* leave nothing behind, then fail */
	status = wait_for(grandchild); /* reparented to us, the subreaper */
	assert_true(died);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 0), 0);
}

/* A run that ended at now ms after its spawn, in the given state. */
static int64_t end_run(struct child *c, enum child_state state, int64_t ran_ms)
{
	c->started_ms = 1000000;
	c->state = state;
	return child_backoff_after_exit(c, c->started_ms + ran_ms);
}

static void test_backoff_doubles_and_gives_up_on_a_crash_loop(void **state)
{
	(void)state;
	struct child c = {.name = "storage"};

	/* Quick exits in a row: 100, 200, 400, 800 ms, then the fifth gives up. */
	assert_int_equal(end_run(&c, CHILD_STARTING, 5), 100);
	assert_int_equal(end_run(&c, CHILD_RUNNING, 999), 200);
	assert_int_equal(end_run(&c, CHILD_STARTING, 5), 400);
	assert_int_equal(end_run(&c, CHILD_STARTING, 5), 800);
	assert_int_equal(c.restarts, 4);
	assert_int_equal(end_run(&c, CHILD_STARTING, 5), -1);
	assert_int_equal(c.quick_exits, CHILD_QUICK_EXITS_MAX);
}

static void test_a_run_that_lasted_resets_the_count(void **state)
{
	(void)state;
	struct child c = {.name = "acceptor"};

	assert_int_equal(end_run(&c, CHILD_RUNNING, 10), 100);
	assert_int_equal(end_run(&c, CHILD_RUNNING, 10), 200);
	assert_int_equal(end_run(&c, CHILD_RUNNING, 10), 400);
	assert_int_equal(end_run(&c, CHILD_RUNNING, 10), 800);
	/* Ran fine for a second: restarted at once, however often that happens. */
	for (int i = 0; i < 20; i++)
		assert_int_equal(end_run(&c, CHILD_RUNNING, CHILD_QUICK_EXIT_MS), 100);
	assert_int_equal(c.quick_exits, 0);
	/* A run that lasted and was followed by quick ones gets more room than a boot loop:
	 * every restart doubles, up to the cap, and the fifth quick exit still gives up. */
	assert_int_equal(end_run(&c, CHILD_RUNNING, 10), 200);
	assert_int_equal(end_run(&c, CHILD_RUNNING, 10), 400);
	assert_int_equal(end_run(&c, CHILD_RUNNING, 10), 800);
	assert_int_equal(end_run(&c, CHILD_RUNNING, 10), 1600);
	assert_int_equal(end_run(&c, CHILD_RUNNING, 10), -1);
}

/* Long as a run may have been, a storage that never got ready is a failed start. */
static void test_never_ready_is_a_quick_exit(void **state)
{
	(void)state;
	struct child c = {.name = "storage"};

	for (int i = 1; i < CHILD_QUICK_EXITS_MAX; i++)
		assert_true(end_run(&c, CHILD_STARTING, 60000) > 0);
	assert_int_equal(end_run(&c, CHILD_STARTING, 60000), -1);
}

static void test_backoff_is_capped(void **state)
{
	(void)state;
	struct child c = {.name = "acceptor", .restarts = 30};

	assert_int_equal(end_run(&c, CHILD_STARTING, 0), CHILD_BACKOFF_MAX_MS);
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
		cmocka_unit_test(test_child_dies_with_its_parent),
		cmocka_unit_test(test_backoff_doubles_and_gives_up_on_a_crash_loop),
		cmocka_unit_test(test_a_run_that_lasted_resets_the_count),
		cmocka_unit_test(test_never_ready_is_a_quick_exit),
		cmocka_unit_test(test_backoff_is_capped),
		cmocka_unit_test(test_describe_signal),
	};
	return cmocka_run_group_tests_name("supervisor_child", tests, NULL, NULL);
}
