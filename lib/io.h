/* io: the one place where short reads and writes, EINTR, deadlines and the stop signal are handled.
 *
 * Deadlines are absolute CLOCK_MONOTONIC milliseconds (io_deadline_after(ms)); IO_NO_DEADLINE
 * waits forever. A process that wants SIGTERM to interrupt blocking I/O keeps those signals
 * blocked and registers, with io_set_stop(), its stop flag and the mask to wait with: every wait
 * then happens in ppoll() with that mask, after checking the flag, so a signal can never slip in
 * between "check the flag" and "sleep" (OpenSSH's accept-loop pattern). Without io_set_stop(),
 * EINTR is retried, until the deadline: interrupted calls end in IO_TIMEOUT once it has passed. */
#ifndef TP0_IO_H
#define TP0_IO_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <poll.h>
#include <sys/types.h>

#define IO_NO_DEADLINE INT64_MAX

enum io_status {
	IO_OK = 0,
	IO_EOF = -1,       /* the peer closed before the first byte */
	IO_TRUNCATED = -2, /* the peer closed part-way through */
	IO_TIMEOUT = -3,   /* the deadline passed */
	IO_STOPPED = -4,   /* the registered stop flag was set (a signal arrived) */
	IO_ERROR = -5,     /* a system call failed; errno says why */
	IO_TOO_LONG = -6,  /* io_read_line: no newline within the buffer */
};

const char *io_status_text(int status); /* "timed out", "peer closed", ... (errno's text for IO_ERROR) */

int64_t io_now_ms(void); /* CLOCK_MONOTONIC */
int64_t io_now_ns(void); /* the same, in nanoseconds */
int64_t io_deadline_after(int64_t ms);

/* Registers the stop flag and the signal mask to wait with (usually the mask from before the
 * caller blocked SIGTERM/SIGINT). Either may be NULL to unregister. */
void io_set_stop(volatile sig_atomic_t *stop, const sigset_t *wait_mask);
int io_stop_requested(void);
/* Lets a pending stop signal in (a wait of zero length with the registered mask) and then
 * answers as io_stop_requested(): for loops that may go on without ever waiting. */
int io_stop_pending(void);

/* Waits until fd is ready for events (POLLIN/POLLOUT); IO_OK, IO_TIMEOUT, IO_STOPPED, IO_ERROR.
 * POLLHUP/POLLERR count as ready (the next read/write reports them). */
int io_wait(int fd, short events, int64_t deadline);
/* ppoll() over several fds with the registered mask: the number of ready fds (> 0), IO_TIMEOUT,
 * IO_STOPPED or IO_ERROR. */
int io_poll(struct pollfd *fds, nfds_t nfds, int64_t deadline);
/* The same, but a stop does not end the wait: for work that must finish once started (a
 * request in flight at shutdown). The stop signals stay blocked, pending for the next wait. */
int io_poll_unstoppable(struct pollfd *fds, nfds_t nfds, int64_t deadline);
/* Sleeps until the deadline: IO_OK when it passed, IO_STOPPED if stopped first. */
int io_sleep_until(int64_t deadline);

/* Reads exactly len bytes: IO_OK, IO_EOF (nothing read), IO_TRUNCATED, IO_TIMEOUT, IO_STOPPED,
 * IO_ERROR. Works on blocking and non-blocking fds. */
int io_read_full(int fd, void *buf, size_t len, int64_t deadline);
/* Writes exactly len bytes (MSG_NOSIGNAL on sockets, so a vanished peer is EPIPE, not SIGPIPE). */
int io_write_full(int fd, const void *buf, size_t len, int64_t deadline);

/* Reads one '\n'-terminated line into buf (cap bytes): on IO_OK *len counts the bytes before the
 * newline, buf[*len] is NUL, and nothing past the newline has been consumed. IO_TOO_LONG when
 * cap - 1 bytes came with no newline. Reads byte by byte: meant for the short echo lines only. */
int io_read_line(int fd, char *buf, size_t cap, size_t *len, int64_t deadline);

/* Closes fd, retrying nothing (EINTR on close must not be retried on Linux); -1 on error. */
int io_close(int fd);

#endif
