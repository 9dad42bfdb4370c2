/* The supervisor's child handling: spawning into a process group with a given signal mask,
 * signalling the group, and describing how a child ended. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <signal.h>
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

static void test_signal_group_reaches_grandchildren(void **state)
{
	(void)state;
	struct child c = {.name = "sh"};
	/* The grandchild sleeps in the child's group; killing the group must end both. */
	char *argv[] = {"/bin/sh", "-c", "sleep 30 & wait", NULL};
	sigset_t empty;

	sigemptyset(&empty);
	assert_int_equal(child_spawn(&c, "/bin/sh", argv, &empty, -1), 0);
	assert_true(child_group_alive(&c));
	assert_int_equal(child_signal_group(&c, SIGKILL), 0);
	int status = wait_for(c.pid);
	assert_true(WIFSIGNALED(status));
	/* The orphaned sleep was killed too: once reaped by init it leaves the group empty. A
	 * bounded poll, since init reaps it on its own schedule. */
	for (int i = 0; i < 2000 && child_group_alive(&c); i++)
		nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);
	assert_false(child_group_alive(&c));
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
