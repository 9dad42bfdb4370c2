#define _DEFAULT_SOURCE /* MAP_ANONYMOUS, TIOCOUTQ */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "io.h"

#define TEST_DEADLINE 10000 /* ms: generous, for valgrind */

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* The start of a /proc file as a string; false if it cannot be read. */
static bool read_proc(pid_t pid, const char *what, char *text, size_t cap)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, what);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	ssize_t n = read(fd, text, cap - 1);
	close(fd);
	if (n <= 0)
		return false;
	text[n] = '\0';
	return true;
}

/* Whether pid (single-threaded) is asleep in system call nr right now (SYS_ppoll: lib/io.c's
 * wait). /proc/<pid>/syscall names the call a blocked task is in ("running" when it runs); where
 * it cannot be read, the sleeping state 'S' of /proc/<pid>/stat has to do. */
static bool blocked_in(pid_t pid, long nr)
{
	char text[512];
	if (read_proc(pid, "syscall", text, sizeof text))
		return text[0] >= '0' && text[0] <= '9' && atol(text) == nr;
	if (!read_proc(pid, "stat", text, sizeof text))
		return false;
	const char *end = strrchr(text, ')'); /* the command name may hold spaces or ')' */
	return end != NULL && end[1] == ' ' && end[2] == 'S';
}

/* Polls, bounded, until pid is blocked in system call nr: the synchronisation a fixed sleep
 * would only make likely. False when the deadline passed first. */
static bool wait_until_blocked(pid_t pid, long nr, int64_t deadline)
{
	while (!blocked_in(pid, nr)) {
		if (io_now_ms() >= deadline)
			return false;
		sleep_ms(1);
	}
	return true;
}

/* Polls, bounded, until the peer of the AF_UNIX socket fd has read everything sent on it. */
static bool wait_until_read(int fd, int64_t deadline)
{
	for (;;) {
		int unread;
		if (ioctl(fd, TIOCOUTQ, &unread) != 0)
			return false;
		if (unread == 0)
			return true;
		if (io_now_ms() >= deadline)
			return false;
		sleep_ms(1);
	}
}

/* ------------------------------------------------------------------------------------------- */
/* Signals for the EINTR tests. They come one at a time from a helper process: each only once the
 * process under test is asleep in the call it must interrupt, the next only after the handler
 * has counted the last. So a bounded number of signals, each sure to interrupt a wait. (A free-
 * running 1 ms interval timer was neither: under valgrind it fired faster than the code between
 * two signals could run, and test_eintr_write never finished.) */

/* SIGALRMs handled, in memory shared with the helpers, which wait for each to be counted. */
static volatile sig_atomic_t *alarms;

static void on_alarm(int sig)
{
	(void)sig;
	(*alarms)++;
}

/* Makes handler catch SIGALRM, without SA_RESTART so that every blocking call it interrupts
 * fails with EINTR, and zeroes the count. The handler stays after the test: a signal still on its
 * way must not end the test binary with SIGALRM's default action. */
static void catch_alarms(void (*handler)(int))
{
	if (alarms == NULL) { /* mapped once, for the binary's life */
		void *shared = mmap(NULL, sizeof *alarms, PROT_READ | PROT_WRITE,
				    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		assert_true(shared != MAP_FAILED);
		alarms = shared;
	}
	*alarms = 0;
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = handler;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0;
	assert_int_equal(sigaction(SIGALRM, &sa, NULL), 0);
}

/* In a helper: count times, waits until pid is asleep in system call nr, sends it SIGALRM and
 * waits until the handler has counted it. False when pid stops getting there (TEST_DEADLINE). */
static bool interrupt(pid_t pid, long nr, int count)
{
	int64_t deadline = io_deadline_after(TEST_DEADLINE);
	for (int i = 0; i < count; i++) {
		sig_atomic_t before = *alarms;
		if (!wait_until_blocked(pid, nr, deadline) || kill(pid, SIGALRM) != 0)
			return false;
		while (*alarms == before) {
			if (io_now_ms() >= deadline)
				return false;
			sleep_ms(1);
		}
	}
	return true;
}

static void make_pair(int sv[2])
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
}

static void wait_child(pid_t pid)
{
	int st;
	while (waitpid(pid, &st, 0) < 0)
		assert_int_equal(errno, EINTR);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

/* Ends a helper that a failed test no longer waits for, before it can signal the tests after. */
static void kill_child(pid_t pid)
{
	if (kill(pid, SIGKILL) != 0)
		return;
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
}

/* A child that writes data to fd one byte at a time, gap_ms apart, then closes it. */
static pid_t slow_writer(int fd, int other, const char *data, size_t len, long gap_ms)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(other);
		for (size_t i = 0; i < len; i++) {
			if (write(fd, data + i, 1) != 1)
				_exit(1);
			if (gap_ms > 0)
				sleep_ms(gap_ms);
		}
		_exit(0);
	}
	return pid;
}

/* A child that waits until the parent is asleep in system call nr (its buffer towards fd full),
 * interrupts it there signals times, then reads len bytes of the pattern i % 251 from fd. */
static pid_t slow_reader(int fd, int other, size_t len, long nr, int signals)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(other);
		/* Let the writer fill the buffer first, so it really has to wait for room. */
		if (!wait_until_blocked(getppid(), nr, io_deadline_after(TEST_DEADLINE)))
			_exit(4);
		if (!interrupt(getppid(), nr, signals))
			_exit(5);
		size_t got = 0;
		char buf[4096];
		while (got < len) {
			ssize_t n = read(fd, buf, sizeof buf);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				_exit(2);
			for (ssize_t i = 0; i < n; i++)
				if ((unsigned char)buf[i] != (got + (size_t)i) % 251)
					_exit(3);
			got += (size_t)n;
		}
		_exit(0);
	}
	return pid;
}

static unsigned char *pattern(size_t len)
{
	unsigned char *p = malloc(len);
	assert_non_null(p);
	for (size_t i = 0; i < len; i++)
		p[i] = (unsigned char)(i % 251);
	return p;
}

static int teardown(void **state)
{
	(void)state;
	io_set_stop(NULL, NULL);
	return 0;
}

/* ------------------------------------------------------------------------------------------- */

static void test_read_full_byte_by_byte(void **state)
{
	(void)state;
	int sv[2];
	make_pair(sv);
	const char msg[] = "hello, one byte at a time";
	pid_t pid = slow_writer(sv[1], sv[0], msg, sizeof msg - 1, 1);
	close(sv[1]);
	char buf[sizeof msg] = {0};
	assert_int_equal(io_read_full(sv[0], buf, sizeof msg - 1, io_deadline_after(TEST_DEADLINE)),
			 IO_OK);
	assert_string_equal(buf, msg);
	/* then the writer is gone: EOF before the first byte */
	assert_int_equal(io_read_full(sv[0], buf, 1, io_deadline_after(TEST_DEADLINE)), IO_EOF);
	wait_child(pid);
	close(sv[0]);
}

static void test_read_full_nonblocking_fd(void **state)
{
	(void)state;
	int sv[2];
	make_pair(sv);
	assert_int_equal(fcntl(sv[0], F_SETFL, O_NONBLOCK), 0);
	const char msg[] = "non-blocking";
	pid_t pid = slow_writer(sv[1], sv[0], msg, sizeof msg - 1, 2);
	close(sv[1]);
	char buf[sizeof msg] = {0};
	assert_int_equal(io_read_full(sv[0], buf, sizeof msg - 1, IO_NO_DEADLINE), IO_OK);
	assert_string_equal(buf, msg);
	wait_child(pid);
	close(sv[0]);
}

static void test_read_full_pipe(void **state)
{
	(void)state;
	int p[2];
	assert_int_equal(pipe(p), 0);
	const char msg[] = "through a pipe";
	pid_t pid = slow_writer(p[1], p[0], msg, sizeof msg - 1, 1);
	close(p[1]);
	char buf[sizeof msg + 4] = {0};
	assert_int_equal(io_read_full(p[0], buf, sizeof msg - 1, io_deadline_after(TEST_DEADLINE)),
			 IO_OK);
	assert_string_equal(buf, msg);
	assert_int_equal(io_read_full(p[0], buf, 4, io_deadline_after(TEST_DEADLINE)), IO_EOF);
	wait_child(pid);
	close(p[0]);
}

static void test_write_full_slow_reader(void **state)
{
	(void)state;
	int sv[2];
	make_pair(sv);
	const size_t len = 1 << 20; /* far more than the socket buffer */
	unsigned char *data = pattern(len);
	pid_t pid = slow_reader(sv[1], sv[0], len, SYS_ppoll, 0);
	close(sv[1]);
	assert_int_equal(io_write_full(sv[0], data, len, io_deadline_after(TEST_DEADLINE)), IO_OK);
	wait_child(pid);
	close(sv[0]);
	free(data);
}

static void test_write_full_pipe(void **state)
{
	(void)state;
	int p[2];
	assert_int_equal(pipe(p), 0);
	/* not a socket: send() says ENOTSOCK and write() takes over */
	assert_int_equal(io_write_full(p[1], "abc", 3, IO_NO_DEADLINE), IO_OK);
	char buf[4] = {0};
	assert_int_equal(read(p[0], buf, sizeof buf), 3);
	assert_string_equal(buf, "abc");
	assert_int_equal(io_write_full(p[1], "", 0, IO_NO_DEADLINE), IO_OK);
	close(p[0]);
	close(p[1]);
}

static void test_write_to_closed_peer(void **state)
{
	(void)state;
	/* SIGPIPE keeps its default (fatal) action here: MSG_NOSIGNAL must turn it into EPIPE */
	int sv[2];
	make_pair(sv);
	close(sv[1]);
	errno = 0;
	assert_int_equal(io_write_full(sv[0], "x", 1, io_deadline_after(TEST_DEADLINE)), IO_ERROR);
	assert_int_equal(errno, EPIPE);
	close(sv[0]);
}

/* ------------------------------------------------------------------------------------------- */
/* EINTR */

static void test_eintr_read(void **state)
{
	(void)state;
	int sv[2];
	make_pair(sv);
	const char msg[] = "interrupted";
	const int bytes = (int)sizeof msg - 1;
	catch_alarms(on_alarm);
	pid_t parent = getpid();
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(sv[0]);
		/* A signal before each byte and one before the end, each once the byte before has
		 * been read: every wait of the reads below is interrupted once. */
		int64_t deadline = io_deadline_after(TEST_DEADLINE);
		for (int i = 0; i <= bytes; i++) {
			if (!wait_until_read(sv[1], deadline) || !interrupt(parent, SYS_ppoll, 1))
				_exit(2);
			if (i < bytes && write(sv[1], msg + i, 1) != 1)
				_exit(1);
		}
		_exit(0);
	}
	close(sv[1]);
	char buf[sizeof msg - 1];
	int r = io_read_full(sv[0], buf, sizeof buf, io_deadline_after(TEST_DEADLINE));
	char line[16];
	size_t len;
	int r2 = io_read_line(sv[0], line, sizeof line, &len, io_deadline_after(TEST_DEADLINE));
	if (r != IO_OK || r2 != IO_EOF)
		kill_child(pid);
	assert_int_equal(r, IO_OK);
	assert_memory_equal(buf, msg, sizeof buf);
	assert_int_equal(r2, IO_EOF);
	wait_child(pid);
	assert_int_equal(*alarms, bytes + 1);
	close(sv[0]);
}

/* Waiting for room in a socket (ppoll, lib/io.c's wait). */
static void test_eintr_write(void **state)
{
	(void)state;
	int sv[2];
	make_pair(sv);
	const size_t len = 1 << 20;
	unsigned char *data = pattern(len);
	catch_alarms(on_alarm);
	pid_t pid = slow_reader(sv[1], sv[0], len, SYS_ppoll, 5);
	close(sv[1]);
	int r = io_write_full(sv[0], data, len, io_deadline_after(TEST_DEADLINE));
	free(data);
	if (r != IO_OK)
		kill_child(pid);
	assert_int_equal(r, IO_OK);
	wait_child(pid);
	assert_int_equal(*alarms, 5);
	close(sv[0]);
}

/* Blocked in write(2) itself, to a pipe. The first signal cuts the first write short (64 KiB in);
 * the others find a full pipe and nothing written, so write fails with EINTR. */
static void test_eintr_write_pipe(void **state)
{
	(void)state;
	int p[2];
	assert_int_equal(pipe(p), 0);
	const size_t len = 1 << 20; /* far more than the pipe holds */
	unsigned char *data = pattern(len);
	catch_alarms(on_alarm);
	pid_t pid = slow_reader(p[0], p[1], len, SYS_write, 4);
	close(p[0]);
	int r = io_write_full(p[1], data, len, io_deadline_after(TEST_DEADLINE));
	free(data);
	if (r != IO_OK)
		kill_child(pid);
	assert_int_equal(r, IO_OK);
	wait_child(pid);
	assert_int_equal(*alarms, 4);
	close(p[1]);
}

static void test_eintr_sleep(void **state)
{
	(void)state;
	const int signals = 3;
	catch_alarms(on_alarm);
	pid_t parent = getpid();
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(interrupt(parent, SYS_ppoll, signals) ? 0 : 2);
	/* Sleeps of 50 ms until the helper is done: each must last its whole length. */
	int64_t give_up = io_deadline_after(TEST_DEADLINE);
	int r = IO_OK;
	int64_t slept = 50;
	while (*alarms < signals && io_now_ms() < give_up && r == IO_OK && slept >= 50) {
		int64_t start = io_now_ms();
		r = io_sleep_until(start + 50);
		slept = io_now_ms() - start;
	}
	if (r != IO_OK || slept < 50)
		kill_child(pid);
	assert_int_equal(r, IO_OK);
	assert_true(slept >= 50);
	wait_child(pid);
	assert_int_equal(*alarms, signals);
}

/* A blocking write to a pipe nobody reads, interrupted again and again: only the EINTR path can
 * notice the deadline. The write runs in a child that this process interrupts whenever it is
 * asleep in write(2); a child still there long after its deadline is killed, so that a
 * regression fails the test instead of hanging it. */
static void test_eintr_storm_write_deadline(void **state)
{
	(void)state;
	int p[2];
	assert_int_equal(pipe(p), 0);
	const size_t len = 1 << 20; /* far more than the pipe holds */
	unsigned char *data = pattern(len);
	catch_alarms(on_alarm);
	int64_t start = io_now_ms();
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		int r = io_write_full(p[1], data, len, io_deadline_after(100));
		free(data); /* unreachable now: valgrind's leak check would fail the child */
		_exit(-r);
	}
	free(data);
	close(p[1]);
	int64_t give_up = io_deadline_after(TEST_DEADLINE);
	int st, sent = 0;
	pid_t done;
	while ((done = waitpid(pid, &st, WNOHANG)) == 0 && io_now_ms() < give_up) {
		if (blocked_in(pid, SYS_write) && kill(pid, SIGALRM) == 0)
			sent++;
		sleep_ms(1);
	}
	if (done == 0)
		kill_child(pid);
	close(p[0]);
	if (done == 0)
		fail_msg("io_write_full still there %lld ms past its deadline, %d signals later",
			 (long long)(io_now_ms() - start - 100), sent);
	assert_int_equal(done, pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(-WEXITSTATUS(st), IO_TIMEOUT);
	assert_true(sent > 0);
}

static int64_t storm_until;
static volatile sig_atomic_t storm_failed;

/* Raises the signal again, until storm_until: it is blocked while this runs and, once this
 * returns, outside the waits, so it is pending at the start of every wait and interrupts it. */
static void on_alarm_again(int sig)
{
	int saved = errno;
	on_alarm(sig);
	if (io_now_ms() < storm_until && raise(sig) != 0)
		storm_failed = 1;
	errno = saved;
}

/* The programs' pattern (a signal blocked except inside lib/io.c's waits) with a signal that is
 * always pending: every ppoll fails with EINTR at once, the last look at the deadline too. */
static void test_eintr_storm_wait_deadline(void **state)
{
	(void)state;
	catch_alarms(on_alarm_again);
	sigset_t block, old_mask;
	sigemptyset(&block);
	sigaddset(&block, SIGALRM);
	assert_int_equal(sigprocmask(SIG_BLOCK, &block, &old_mask), 0);
	static volatile sig_atomic_t never;
	io_set_stop(&never, &old_mask);
	int sv[2];
	make_pair(sv);

	storm_failed = 0;
	storm_until = io_deadline_after(3000);
	int64_t storm_end = storm_until;
	assert_int_equal(raise(SIGALRM), 0);
	char c;
	int r = io_read_full(sv[0], &c, 1, io_deadline_after(50));
	int64_t end = io_now_ms();
	storm_until = 0;

	io_set_stop(NULL, NULL);
	assert_int_equal(sigprocmask(SIG_SETMASK, &old_mask, NULL), 0); /* the last one comes in */
	assert_int_equal(r, IO_TIMEOUT);
	assert_true(end < storm_end); /* not just when the storm ended */
	assert_false(storm_failed);
	assert_true(*alarms > 1);
	close(sv[0]);
	close(sv[1]);
}

/* ------------------------------------------------------------------------------------------- */
/* deadlines, EOF */

static void test_timeout(void **state)
{
	(void)state;
	int sv[2];
	make_pair(sv);
	char buf[8];
	int64_t start = io_now_ms();
	assert_int_equal(io_read_full(sv[0], buf, 1, io_deadline_after(50)), IO_TIMEOUT);
	assert_true(io_now_ms() - start >= 50);

	/* part of the data, then silence: still a timeout */
	assert_int_equal(write(sv[1], "abc", 3), 3);
	assert_int_equal(io_read_full(sv[0], buf, 8, io_deadline_after(30)), IO_TIMEOUT);

	/* a deadline in the past still takes what is already there */
	assert_int_equal(write(sv[1], "de", 2), 2);
	assert_int_equal(io_read_full(sv[0], buf, 2, io_now_ms() - 1000), IO_OK);
	assert_memory_equal(buf, "de", 2);
	assert_int_equal(io_read_full(sv[0], buf, 1, io_now_ms() - 1000), IO_TIMEOUT);

	/* a write that cannot proceed: the peer never reads */
	int small = 4096;
	assert_int_equal(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small), 0);
	const size_t len = 1 << 20;
	unsigned char *data = pattern(len);
	assert_int_equal(io_write_full(sv[0], data, len, io_deadline_after(50)), IO_TIMEOUT);
	free(data);
	close(sv[0]);
	close(sv[1]);
}

static void test_eof_and_truncated(void **state)
{
	(void)state;
	int sv[2];
	char buf[8];
	make_pair(sv);
	close(sv[1]);
	assert_int_equal(io_read_full(sv[0], buf, 4, io_deadline_after(TEST_DEADLINE)), IO_EOF);
	close(sv[0]);

	make_pair(sv);
	assert_int_equal(write(sv[1], "ab", 2), 2);
	close(sv[1]);
	assert_int_equal(io_read_full(sv[0], buf, 4, io_deadline_after(TEST_DEADLINE)),
			 IO_TRUNCATED);
	close(sv[0]);

	int p[2];
	assert_int_equal(pipe(p), 0);
	assert_int_equal(write(p[1], "ab", 2), 2);
	close(p[1]);
	assert_int_equal(io_read_full(p[0], buf, 4, IO_NO_DEADLINE), IO_TRUNCATED);
	assert_int_equal(io_read_full(p[0], buf, 4, IO_NO_DEADLINE), IO_EOF);
	close(p[0]);

	/* nothing asked, nothing read */
	assert_int_equal(io_read_full(-1, buf, 0, IO_NO_DEADLINE), IO_OK);
}

static void test_bad_fd(void **state)
{
	(void)state;
	int p[2];
	assert_int_equal(pipe(p), 0);
	close(p[0]);
	close(p[1]);
	char c;
	errno = 0;
	assert_int_equal(io_read_full(p[0], &c, 1, IO_NO_DEADLINE), IO_ERROR);
	assert_int_equal(errno, EBADF);
	errno = 0;
	assert_int_equal(io_wait(p[0], POLLIN, IO_NO_DEADLINE), IO_ERROR);
	assert_int_equal(errno, EBADF);
	assert_int_equal(io_close(-1), 0);
	assert_int_equal(io_close(p[0]), -1);
}

/* ------------------------------------------------------------------------------------------- */
/* the stop flag */

static volatile sig_atomic_t stop_flag;

static void on_usr1(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static void test_stop_flag_set(void **state)
{
	(void)state;
	int sv[2];
	make_pair(sv);
	char buf[4];
	stop_flag = 1;
	io_set_stop(&stop_flag, NULL);
	assert_true(io_stop_requested());
	assert_int_equal(io_read_full(sv[0], buf, 1, IO_NO_DEADLINE), IO_STOPPED);
	assert_int_equal(io_wait(sv[0], POLLIN, IO_NO_DEADLINE), IO_STOPPED);
	assert_int_equal(io_sleep_until(IO_NO_DEADLINE), IO_STOPPED);
	size_t len;
	assert_int_equal(io_read_line(sv[0], buf, sizeof buf, &len, IO_NO_DEADLINE), IO_STOPPED);

	/* data that is already there is still delivered: only waiting is refused */
	assert_int_equal(write(sv[1], "ok", 2), 2);
	assert_int_equal(io_read_full(sv[0], buf, 2, IO_NO_DEADLINE), IO_OK);
	assert_int_equal(io_write_full(sv[0], "answer", 6, IO_NO_DEADLINE), IO_OK);
	assert_int_equal(read(sv[1], buf, 4), 4);

	stop_flag = 0;
	assert_false(io_stop_requested());
	assert_int_equal(io_read_full(sv[0], buf, 1, io_deadline_after(10)), IO_TIMEOUT);
	io_set_stop(NULL, NULL);
	stop_flag = 1;
	assert_false(io_stop_requested());
	stop_flag = 0;
	close(sv[0]);
	close(sv[1]);
}

/* The pattern every process uses: the signal stays blocked except inside ppoll. */
static void test_stop_by_signal(void **state)
{
	(void)state;
	struct sigaction sa, old_sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_usr1;
	sigemptyset(&sa.sa_mask);
	assert_int_equal(sigaction(SIGUSR1, &sa, &old_sa), 0);
	sigset_t block, old_mask;
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	assert_int_equal(sigprocmask(SIG_BLOCK, &block, &old_mask), 0);
	stop_flag = 0;
	io_set_stop(&stop_flag, &old_mask);

	int sv[2];
	make_pair(sv);
	char buf[4];

	/* a signal that arrived before the wait is pending, not lost */
	assert_int_equal(raise(SIGUSR1), 0);
	assert_int_equal(stop_flag, 0);
	assert_int_equal(io_read_full(sv[0], buf, 1, IO_NO_DEADLINE), IO_STOPPED);
	assert_int_equal(stop_flag, 1);

	/* and one that arrives during the wait ends it: the child signals only once this process
	 * is blocked in ppoll (it exits 2 if that never happened, failing wait_child) */
	stop_flag = 0;
	pid_t parent = getpid();
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int64_t deadline = io_deadline_after(TEST_DEADLINE);
		bool blocked = wait_until_blocked(parent, SYS_ppoll, deadline);
		if (kill(parent, SIGUSR1) != 0)
			_exit(1);
		_exit(blocked ? 0 : 2);
	}
	int64_t start = io_now_ms();
	assert_int_equal(io_read_full(sv[0], buf, 1, io_deadline_after(TEST_DEADLINE)), IO_STOPPED);
	assert_true(io_now_ms() - start < TEST_DEADLINE);
	wait_child(pid);

	io_set_stop(NULL, NULL);
	assert_int_equal(sigprocmask(SIG_SETMASK, &old_mask, NULL), 0);
	assert_int_equal(sigaction(SIGUSR1, &old_sa, NULL), 0);
	stop_flag = 0;
	close(sv[0]);
	close(sv[1]);
}

/* ------------------------------------------------------------------------------------------- */
/* lines */

static void test_read_line(void **state)
{
	(void)state;
	int sv[2];
	make_pair(sv);
	char buf[8];
	size_t len = 99;
	int64_t dl = io_deadline_after(TEST_DEADLINE);

	/* exactly cap - 1 bytes before the newline fit */
	assert_int_equal(write(sv[1], "1234567\n", 8), 8);
	assert_int_equal(io_read_line(sv[0], buf, sizeof buf, &len, dl), IO_OK);
	assert_int_equal(len, 7);
	assert_string_equal(buf, "1234567");

	/* an empty line */
	assert_int_equal(write(sv[1], "\n", 1), 1);
	assert_int_equal(io_read_line(sv[0], buf, sizeof buf, &len, dl), IO_OK);
	assert_int_equal(len, 0);
	assert_string_equal(buf, "");

	/* nothing past the newline is consumed */
	assert_int_equal(write(sv[1], "ab\ncd\n", 6), 6);
	assert_int_equal(io_read_line(sv[0], buf, sizeof buf, &len, dl), IO_OK);
	assert_string_equal(buf, "ab");
	char rest[8] = {0};
	assert_int_equal(read(sv[0], rest, sizeof rest), 3);
	assert_string_equal(rest, "cd\n");

	/* one byte more is too long */
	assert_int_equal(write(sv[1], "12345678\n", 9), 9);
	assert_int_equal(io_read_line(sv[0], buf, sizeof buf, &len, dl), IO_TOO_LONG);
	assert_int_equal(len, 7);
	assert_int_equal(buf[7], '\0');
	assert_int_equal(read(sv[0], rest, sizeof rest), 1); /* the newline is still there */

	/* silence, then a timeout */
	assert_int_equal(write(sv[1], "xy", 2), 2);
	assert_int_equal(io_read_line(sv[0], buf, sizeof buf, &len, io_deadline_after(20)),
			 IO_TIMEOUT);
	assert_int_equal(len, 2);

	/* the peer closes mid-line, then before any byte */
	assert_int_equal(write(sv[1], "zz", 2), 2);
	close(sv[1]);
	assert_int_equal(io_read_line(sv[0], buf, sizeof buf, &len, dl), IO_TRUNCATED);
	assert_int_equal(io_read_line(sv[0], buf, sizeof buf, &len, dl), IO_EOF);
	assert_int_equal(len, 0);

	close(sv[0]);

	/* cap 1 holds only empty lines; cap 0 holds nothing */
	make_pair(sv);
	assert_int_equal(write(sv[1], "\nx\n", 3), 3);
	assert_int_equal(io_read_line(sv[0], buf, 1, &len, dl), IO_OK);
	assert_int_equal(len, 0);
	assert_int_equal(io_read_line(sv[0], buf, 1, &len, dl), IO_TOO_LONG);
	errno = 0;
	assert_int_equal(io_read_line(sv[0], buf, 0, &len, dl), IO_ERROR);
	assert_int_equal(errno, EINVAL);
	close(sv[0]);
	close(sv[1]);
}

static void test_read_line_slow(void **state)
{
	(void)state;
	int sv[2];
	make_pair(sv);
	const char msg[] = "[CLIENT 1] Message N\xC2\xB0" "1\nnext";
	pid_t pid = slow_writer(sv[1], sv[0], msg, sizeof msg - 1, 1);
	close(sv[1]);
	char buf[64];
	size_t len;
	assert_int_equal(io_read_line(sv[0], buf, sizeof buf, &len, io_deadline_after(TEST_DEADLINE)),
			 IO_OK);
	assert_string_equal(buf, "[CLIENT 1] Message N\xC2\xB0" "1");
	assert_int_equal(len, strlen(buf));
	assert_int_equal(io_read_line(sv[0], buf, sizeof buf, &len, io_deadline_after(TEST_DEADLINE)),
			 IO_TRUNCATED);
	assert_string_equal(buf, "next");
	wait_child(pid);
	close(sv[0]);
}

/* ------------------------------------------------------------------------------------------- */
/* clocks, sleeping, polling, texts */

static void test_clock_and_deadlines(void **state)
{
	(void)state;
	int64_t a = io_now_ms();
	int64_t b = io_now_ms();
	assert_true(b >= a);
	int64_t d = io_deadline_after(1000);
	assert_true(d >= a + 1000 && d <= io_now_ms() + 1000);
	assert_true(io_deadline_after(0) <= io_now_ms());
	assert_true(io_deadline_after(-5) <= io_now_ms());
	assert_true(io_deadline_after(INT64_MAX) == IO_NO_DEADLINE);
	assert_true(io_deadline_after(INT64_MAX - 1) == IO_NO_DEADLINE);
}

static void test_sleep_until(void **state)
{
	(void)state;
	int64_t start = io_now_ms();
	assert_int_equal(io_sleep_until(start + 40), IO_OK);
	assert_true(io_now_ms() - start >= 40);
	start = io_now_ms();
	assert_int_equal(io_sleep_until(start - 1000), IO_OK);
	assert_true(io_now_ms() - start < 1000);

	stop_flag = 1;
	io_set_stop(&stop_flag, NULL);
	assert_int_equal(io_sleep_until(io_deadline_after(5000)), IO_STOPPED);
	io_set_stop(NULL, NULL);
	stop_flag = 0;
}

static void test_poll(void **state)
{
	(void)state;
	int a[2], b[2];
	make_pair(a);
	make_pair(b);
	struct pollfd fds[2] = {{.fd = a[0], .events = POLLIN}, {.fd = b[0], .events = POLLIN}};
	assert_int_equal(io_poll(fds, 2, io_deadline_after(10)), IO_TIMEOUT);
	assert_int_equal(write(b[1], "x", 1), 1);
	assert_int_equal(io_poll(fds, 2, io_deadline_after(TEST_DEADLINE)), 1);
	assert_true(fds[1].revents & POLLIN);
	assert_false(fds[0].revents & POLLIN);
	assert_int_equal(write(a[1], "y", 1), 1);
	assert_int_equal(io_poll(fds, 2, IO_NO_DEADLINE), 2);

	/* a hang-up counts as ready; the read then tells what happened */
	close(a[1]);
	char c[2];
	assert_int_equal(read(a[0], c, 1), 1);
	assert_int_equal(io_wait(a[0], POLLIN, io_deadline_after(TEST_DEADLINE)), IO_OK);
	assert_int_equal(io_wait(b[0], POLLOUT, io_deadline_after(TEST_DEADLINE)), IO_OK);
	close(a[0]);
	close(b[0]);
	close(b[1]);
}

static void test_status_text(void **state)
{
	(void)state;
	static const int all[] = {IO_OK,      IO_EOF,   IO_TRUNCATED, IO_TIMEOUT,
				  IO_STOPPED, IO_ERROR, IO_TOO_LONG,  12345};
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
		const char *t = io_status_text(all[i]);
		assert_non_null(t);
		assert_true(t[0] != '\0');
	}
	assert_string_equal(io_status_text(IO_TIMEOUT), "timed out");
	assert_string_equal(io_status_text(IO_EOF), "peer closed");
	errno = ECONNREFUSED;
	assert_string_equal(io_status_text(IO_ERROR), strerror(ECONNREFUSED));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_read_full_byte_by_byte, teardown),
		cmocka_unit_test_teardown(test_read_full_nonblocking_fd, teardown),
		cmocka_unit_test_teardown(test_read_full_pipe, teardown),
		cmocka_unit_test_teardown(test_write_full_slow_reader, teardown),
		cmocka_unit_test_teardown(test_write_full_pipe, teardown),
		cmocka_unit_test_teardown(test_write_to_closed_peer, teardown),
		cmocka_unit_test_teardown(test_eintr_read, teardown),
		cmocka_unit_test_teardown(test_eintr_write, teardown),
		cmocka_unit_test_teardown(test_eintr_write_pipe, teardown),
		cmocka_unit_test_teardown(test_eintr_sleep, teardown),
		cmocka_unit_test_teardown(test_eintr_storm_write_deadline, teardown),
		cmocka_unit_test_teardown(test_eintr_storm_wait_deadline, teardown),
		cmocka_unit_test_teardown(test_timeout, teardown),
		cmocka_unit_test_teardown(test_eof_and_truncated, teardown),
		cmocka_unit_test_teardown(test_bad_fd, teardown),
		cmocka_unit_test_teardown(test_stop_flag_set, teardown),
		cmocka_unit_test_teardown(test_stop_by_signal, teardown),
		cmocka_unit_test_teardown(test_read_line, teardown),
		cmocka_unit_test_teardown(test_read_line_slow, teardown),
		cmocka_unit_test_teardown(test_clock_and_deadlines, teardown),
		cmocka_unit_test_teardown(test_sleep_until, teardown),
		cmocka_unit_test_teardown(test_poll, teardown),
		cmocka_unit_test_teardown(test_status_text, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
