#define _GNU_SOURCE /* ppoll */
#include "io.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t *stop_flag;
static sigset_t stop_mask;
static bool have_mask;

const char *io_status_text(int status)
{
	switch (status) {
	case IO_OK:
		return "ok";
	case IO_EOF:
		return "peer closed";
	case IO_TRUNCATED:
		return "peer closed mid-message";
	case IO_TIMEOUT:
		return "timed out";
	case IO_STOPPED:
		return "stopped by signal";
	case IO_ERROR:
		return strerror(errno);
	case IO_TOO_LONG:
		return "line too long";
	default:
		return "unknown status";
	}
}

int64_t io_now_ns(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		return 0;
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t io_now_ms(void)
{
	struct timespec ts;
	/* CLOCK_MONOTONIC cannot fail with a valid pointer; 0 keeps callers sane if it ever did. */
	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		return 0;
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t io_deadline_after(int64_t ms)
{
	int64_t now = io_now_ms();
	if (ms <= 0)
		return now;
	if (ms >= IO_NO_DEADLINE - now)
		return IO_NO_DEADLINE;
	return now + ms;
}

void io_set_stop(volatile sig_atomic_t *stop, const sigset_t *wait_mask)
{
	stop_flag = stop;
	if (wait_mask != NULL) {
		stop_mask = *wait_mask;
		have_mask = true;
	} else {
		have_mask = false;
	}
}

int io_stop_requested(void)
{
	return stop_flag != NULL && *stop_flag != 0;
}

/* The one ppoll loop. A stoppable wait checks the flag and waits with the registered mask; an
 * unstoppable one waits with the caller's mask (the stop signals stay blocked and pending). */
static int poll_until(struct pollfd *fds, nfds_t nfds, int64_t deadline, bool stoppable)
{
	bool last_look = false;
	for (;;) {
		/* Checked with the signals still blocked; ppoll unblocks them atomically, so a signal
		 * arriving after this check interrupts the wait instead of being missed. */
		if (stoppable && io_stop_requested())
			return IO_STOPPED;
		/* The last look was interrupted too: a signal pending at every wait (one that the
		 * wait mask lets in, raised again and again) must not keep us past the deadline. */
		if (last_look)
			return IO_TIMEOUT;
		struct timespec ts, *tsp = NULL;
		if (deadline != IO_NO_DEADLINE) {
			int64_t left = deadline - io_now_ms();
			if (left <= 0) {
				left = 0; /* one last look: ready fds still count at the deadline */
				last_look = true;
			}
			ts.tv_sec = (time_t)(left / 1000);
			ts.tv_nsec = (long)(left % 1000) * 1000000L;
			tsp = &ts;
		}
		int n = ppoll(fds, nfds, tsp, stoppable && have_mask ? &stop_mask : NULL);
		if (n > 0)
			return n;
		if (n == 0)
			return IO_TIMEOUT;
		if (errno != EINTR)
			return IO_ERROR;
	}
}

int io_poll(struct pollfd *fds, nfds_t nfds, int64_t deadline)
{
	return poll_until(fds, nfds, deadline, true);
}

int io_poll_unstoppable(struct pollfd *fds, nfds_t nfds, int64_t deadline)
{
	return poll_until(fds, nfds, deadline, false);
}

int io_stop_pending(void)
{
	if (stop_flag == NULL)
		return 0;
	return poll_until(NULL, 0, io_now_ms(), true) == IO_STOPPED;
}

int io_wait(int fd, short events, int64_t deadline)
{
	struct pollfd p = {.fd = fd, .events = events, .revents = 0};
	int n = io_poll(&p, 1, deadline);
	if (n < 0)
		return n;
	if (p.revents & POLLNVAL) {
		errno = EBADF;
		return IO_ERROR;
	}
	return IO_OK;
}

int io_sleep_until(int64_t deadline)
{
	int r = io_poll(NULL, 0, deadline);
	return r == IO_TIMEOUT ? IO_OK : r;
}

/* One transfer that does not wait for the fd: -1 with EAGAIN when it is not ready. Sockets use
 * MSG_DONTWAIT, so blocking sockets honour deadlines too; other fds are polled first when
 * reading. Writes to other fds (stdout, files) go straight to write(): they are not worth a
 * deadline, and a log line written during shutdown must not be dropped for a set stop flag. */
static ssize_t transfer(int fd, char *in, const char *out, size_t n, bool *sock)
{
	if (*sock) {
		ssize_t r = out ? send(fd, out, n, MSG_NOSIGNAL | MSG_DONTWAIT)
				: recv(fd, in, n, MSG_DONTWAIT);
		if (r >= 0 || errno != ENOTSOCK)
			return r;
		*sock = false;
	}
	if (out)
		return write(fd, out, n);
	struct pollfd p = {.fd = fd, .events = POLLIN, .revents = 0};
	int ready = poll(&p, 1, 0);
	if (ready < 0)
		return -1;
	if (ready == 0) {
		errno = EAGAIN;
		return -1;
	}
	return read(fd, in, n);
}

/* The data goes first and the wait (which checks the stop flag) only when the fd is not ready:
 * a worker stopped by SIGTERM can still send the answer to the request in flight. */
static int transfer_full(int fd, char *in, const char *out, size_t len, int64_t deadline)
{
	size_t done = 0;
	bool sock = true;
	while (done < len) {
		ssize_t r = transfer(fd, in ? in + done : NULL, out ? out + done : NULL, len - done,
				     &sock);
		if (r > 0) {
			done += (size_t)r;
			continue;
		}
		if (r == 0) {
			if (!out)
				return done == 0 ? IO_EOF : IO_TRUNCATED;
			errno = EAGAIN; /* a zero-byte write: wait as if the fd were full */
		} else if (errno == EINTR) {
			/* A blocking write(2) to a pipe or file ends early only for a signal, and
			 * its retry never passes through io_wait, which keeps the deadline: without
			 * this look at the clock, signals that keep coming (an interval timer)
			 * while the reader does not read would keep it retrying forever. */
			if (io_now_ms() >= deadline)
				return IO_TIMEOUT;
			continue;
		} else if (errno != EAGAIN && errno != EWOULDBLOCK) {
			return IO_ERROR;
		}
		int w = io_wait(fd, out ? POLLOUT : POLLIN, deadline);
		if (w != IO_OK)
			return w;
	}
	return IO_OK;
}

int io_read_full(int fd, void *buf, size_t len, int64_t deadline)
{
	return transfer_full(fd, buf, NULL, len, deadline);
}

int io_write_full(int fd, const void *buf, size_t len, int64_t deadline)
{
	return transfer_full(fd, NULL, buf, len, deadline);
}

int io_read_line(int fd, char *buf, size_t cap, size_t *len, int64_t deadline)
{
	*len = 0;
	if (cap == 0) {
		errno = EINVAL;
		return IO_ERROR;
	}
	buf[0] = '\0';
	size_t n = 0;
	for (;;) {
		char c;
		int r = io_read_full(fd, &c, 1, deadline);
		if (r == IO_EOF && n > 0)
			r = IO_TRUNCATED;
		if (r != IO_OK) {
			*len = n;
			return r;
		}
		if (c == '\n')
			break;
		/* A full buffer is only too long once the byte after it is not the newline. */
		if (n == cap - 1) {
			*len = n;
			return IO_TOO_LONG;
		}
		buf[n++] = c;
		buf[n] = '\0';
	}
	*len = n;
	return IO_OK;
}

int io_close(int fd)
{
	if (fd < 0)
		return 0;
	/* On Linux the fd is gone even when close reports EINTR: retrying could close a reused fd. */
	if (close(fd) != 0 && errno != EINTR)
		return -1;
	return 0;
}
