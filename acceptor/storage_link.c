#define _GNU_SOURCE /* pipe2, POLLRDHUP */
#include "storage_link.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include "io.h"

/* A reply is at most PROTO_FRAME_MAX; nng counts the 4-byte request id in front of it too. */
#define LINK_RECV_MAX (PROTO_FRAME_MAX + 64)
/* Redial soon after storage is back: the supervisor restarts it within a second or two. */
#define LINK_RECONNECT_MIN_MS 20
#define LINK_RECONNECT_MAX_MS 250

struct storage_link {
	nng_socket sock;
	nng_ctx ctx;
	nng_aio *aio;
	bool sock_open;
	bool ctx_open;
	int wake[2]; /* the aio callback writes to [1]; the waiting thread polls [0] */
	char error[256];
};

static void set_error(struct storage_link *l, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void set_error(struct storage_link *l, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(l->error, sizeof(l->error), fmt, ap);
	va_end(ap);
}

/* The reason of the last failed open (a worker is single-threaded). */
static char open_error[256];

const char *storage_link_error(const struct storage_link *link)
{
	return link != NULL ? link->error : open_error;
}

/* Runs on an nng thread: only a byte into the self-pipe, which never blocks (O_NONBLOCK). Its
 * one possible failure, EAGAIN, means the pipe is full of wake-ups already, so the result
 * needs no handling. */
static void on_complete(void *arg)
{
	struct storage_link *l = arg;
	ssize_t n = write(l->wake[1], "", 1);

	(void)n;
}

static void drain(struct storage_link *l)
{
	char buf[16];

	while (read(l->wake[0], buf, sizeof(buf)) > 0)
		;
}

void storage_link_close(struct storage_link *l)
{
	if (l == NULL)
		return;
	if (l->aio != NULL) {
		nng_aio_stop(l->aio);
		nng_aio_free(l->aio);
	}
	if (l->ctx_open)
		nng_ctx_close(l->ctx);
	if (l->sock_open)
		nng_close(l->sock); /* and its dialer */
	if (l->wake[0] >= 0)
		io_close(l->wake[0]);
	if (l->wake[1] >= 0)
		io_close(l->wake[1]);
	free(l);
}

void storage_link_close_bounded(struct storage_link *l)
{
	alarm(STORAGE_LINK_CLOSE_S);
	storage_link_close(l);
	alarm(0);
}

/* errno for a failed open, so a caller can report it with strerror() like any other failure. */
static int errno_of(int rv)
{
	if ((rv & NNG_ESYSERR) != 0)
		return rv & ~NNG_ESYSERR;
	switch (rv) {
	case NNG_ENOMEM:
		return ENOMEM;
	case NNG_ENOENT:
		return ENOENT;
	case NNG_EPERM:
		return EACCES;
	case NNG_EINVAL:
	case NNG_EADDRINVAL:
	case NNG_ENOTSUP:
		return EINVAL;
	default:
		return EIO;
	}
}

int storage_link_open(struct storage_link **out, const char *url)
{
	struct storage_link *l = calloc(1, sizeof(*l));
	const char *what;
	int rv;

	if (l == NULL) {
		snprintf(open_error, sizeof(open_error), "calloc: %s", strerror(errno));
		return -1;
	}
	l->wake[0] = l->wake[1] = -1;
	if (pipe2(l->wake, O_CLOEXEC | O_NONBLOCK) != 0) {
		int saved = errno;

		snprintf(open_error, sizeof(open_error), "pipe2: %s", strerror(saved));
		free(l);
		errno = saved;
		return -1;
	}
	what = "nng_req0_open";
	rv = nng_req0_open(&l->sock);
	if (rv != 0)
		goto fail;
	l->sock_open = true;
	/* Never resend on a timer: whether a request may be sent twice depends on the request, so
	 * the caller decides (see the header). With this disabled, a request whose connection
	 * closes fails its receive with NNG_ECONNRESET instead of going out again (req0_pipe_close,
	 * the same in nng 1.5.2 and 1.10.1). */
	what = "nng_socket_set_ms(req:resend-time)";
	rv = nng_socket_set_ms(l->sock, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
	if (rv != 0)
		goto fail;
	what = "nng_socket_set_size(recv-size-max)";
	rv = nng_socket_set_size(l->sock, NNG_OPT_RECVMAXSZ, LINK_RECV_MAX);
	if (rv != 0)
		goto fail;
	what = "nng_socket_set_ms(reconnect-time-min)";
	rv = nng_socket_set_ms(l->sock, NNG_OPT_RECONNMINT, LINK_RECONNECT_MIN_MS);
	if (rv != 0)
		goto fail;
	what = "nng_socket_set_ms(reconnect-time-max)";
	rv = nng_socket_set_ms(l->sock, NNG_OPT_RECONNMAXT, LINK_RECONNECT_MAX_MS);
	if (rv != 0)
		goto fail;
	what = "nng_ctx_open";
	rv = nng_ctx_open(&l->ctx, l->sock);
	if (rv != 0)
		goto fail;
	l->ctx_open = true;
	/* A context copies the socket's resend time when opened; set it anyway, explicitly. */
	what = "nng_ctx_set_ms(req:resend-time)";
	rv = nng_ctx_set_ms(l->ctx, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
	if (rv != 0)
		goto fail;
	what = "nng_aio_alloc";
	rv = nng_aio_alloc(&l->aio, on_complete, l);
	if (rv != 0)
		goto fail;
	/* In the background: storage may be restarting right now, and the dialer keeps trying. */
	what = "nng_dial";
	rv = nng_dial(l->sock, url, NULL, NNG_FLAG_NONBLOCK);
	if (rv != 0)
		goto fail;
	*out = l;
	return 0;
fail:
	snprintf(open_error, sizeof(open_error), "%s: %s: %s", url, what, nng_strerror(rv));
	storage_link_close(l);
	errno = errno_of(rv);
	return -1;
}

/* Waits for the aio's completion: IO_OK, or why the wait ended first. */
static int await(struct storage_link *l, int64_t deadline, int watch_fd, bool stoppable)
{
	struct pollfd fds[2] = {
		{.fd = l->wake[0], .events = POLLIN},
		{.fd = watch_fd, .events = POLLRDHUP},
	};
	nfds_t nfds = watch_fd >= 0 ? 2 : 1;

	for (;;) {
		char byte;
		int rc = stoppable ? io_poll(fds, nfds, deadline)
		                   : io_poll_unstoppable(fds, nfds, deadline);

		if (rc == IO_ERROR)
			set_error(l, "poll: %s", strerror(errno));
		if (rc < 0)
			return rc;
		/* A reply that is there wins over a hang-up seen at the same time. */
		if ((fds[0].revents & POLLIN) != 0 && read(l->wake[0], &byte, 1) == 1)
			return IO_OK;
		if (nfds == 2 && (fds[1].revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) != 0)
			return IO_EOF;
	}
}

/* Ends the operation in flight after a wait that did not see it complete: cancels it, and
 * returns its result once its callback ran (0 if it completed after all, just as the wait
 * ended). A cancelled REQ send or receive drops the request. */
static int settle(struct storage_link *l)
{
	nng_aio_cancel(l->aio);
	nng_aio_wait(l->aio); /* returns after the callback ran, so its wake-up is in the pipe */
	drain(l);
	return nng_aio_result(l->aio);
}

/* Frees whatever message the aio holds: a failed send hands the request back. */
static void drop_msg(struct storage_link *l)
{
	nng_msg *msg = nng_aio_get_msg(l->aio);

	if (msg != NULL)
		nng_msg_free(msg);
	nng_aio_set_msg(l->aio, NULL);
}

/* An nng failure of the send or the receive: a closed connection is a loss, the rest errors. */
static int failed(struct storage_link *l, const char *what, int rv)
{
	set_error(l, "%s: %s", what, nng_strerror(rv));
	return rv == NNG_ECONNRESET || rv == NNG_ECLOSED ? STORAGE_LINK_LOST : IO_ERROR;
}

int storage_link_call(struct storage_link *l, const uint8_t *req, size_t req_len,
                      uint8_t reply[PROTO_FRAME_MAX], size_t *reply_len,
                      const struct storage_call *call)
{
	nng_msg *msg;
	size_t len;
	int rc, rv;

	*reply_len = 0;
	if (req_len > PROTO_FORWARD_MAX * PROTO_FRAME_MAX) {
		set_error(l, "request of %zu bytes is over the frame limit", req_len);
		return IO_ERROR;
	}
	rv = nng_msg_alloc(&msg, PROTO_SESSION_SIZE + req_len);
	if (rv != 0) {
		set_error(l, "nng_msg_alloc: %s", nng_strerror(rv));
		return IO_ERROR;
	}
	proto_put_session(nng_msg_body(msg), call->session);
	if (req_len > 0)
		memcpy((uint8_t *)nng_msg_body(msg) + PROTO_SESSION_SIZE, req, req_len);
	nng_aio_set_msg(l->aio, msg);
	/* The send completes when the request is handed to a connection to storage. */
	nng_ctx_send(l->ctx, l->aio);
	rc = await(l, call->reach_deadline, call->watch_fd, call->stoppable);
	rv = rc == IO_OK ? nng_aio_result(l->aio) : settle(l);
	if (rv != 0) {
		drop_msg(l);
		return rc != IO_OK ? rc : failed(l, "nng_ctx_send", rv);
	}

	nng_ctx_recv(l->ctx, l->aio);
	rc = await(l, call->reply_deadline, call->watch_fd, call->stoppable);
	rv = rc == IO_OK ? nng_aio_result(l->aio) : settle(l);
	if (rv != 0) {
		drop_msg(l);
		return rc != IO_OK ? rc : failed(l, "nng_ctx_recv", rv);
	}
	msg = nng_aio_get_msg(l->aio);
	nng_aio_set_msg(l->aio, NULL);
	len = nng_msg_len(msg);
	if (len > PROTO_FRAME_MAX) {
		nng_msg_free(msg);
		set_error(l, "reply of %zu bytes is over the frame limit", len);
		return IO_ERROR;
	}
	memcpy(reply, nng_msg_body(msg), len);
	*reply_len = len;
	nng_msg_free(msg);
	return IO_OK;
}
