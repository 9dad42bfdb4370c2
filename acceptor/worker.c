#include "worker.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "io.h"
#include "log.h"
#include "proto.h"
#include "session.h"
#include "signals.h"
#include "storage_link.h"

/* Waits for the first byte and looks at it without consuming it. 1 with *byte set, 0 when the
 * session is over before it began (already logged). */
static int peek_first_byte(const struct session *s, unsigned char *byte)
{
	int rc = io_wait(s->fd, POLLIN, s->first_deadline);
	ssize_t n;

	if (rc == IO_OK) {
		/* poll said readable, so this cannot block */
		n = recv(s->fd, byte, 1, MSG_PEEK | MSG_DONTWAIT);
		if (n == 1)
			return 1;
		if (n == 0) {
			log_warning("receive_first_byte", "fail",
			            "ip: %s | error: peer closed before sending", s->ip);
			return 0;
		}
		rc = IO_ERROR;
	}
	if (rc == IO_STOPPED)
		log_info("shutdown", "success", "ip: %s | reason: stopped before the first byte", s->ip);
	else
		log_warning("receive_first_byte", "fail", "ip: %s | error: %s", s->ip,
		            io_status_text(rc));
	return 0;
}

void session_identified(struct session *s)
{
	int32_t pid = (int32_t)getpid();

	if (s->identified)
		return;
	s->identified = true;
	/* 4 bytes to a pipe: all or nothing. Should it fail (it cannot fill: see accept_loop.h),
	 * the worker merely stays drainable. */
	if (s->identify_fd >= 0 && write(s->identify_fd, &pid, sizeof(pid)) != sizeof(pid))
		log_warning("worker_identify", "fail", "ip: %s | error: %s", s->ip, strerror(errno));
	if (s->identify_fd >= 0) {
		io_close(s->identify_fd);
		s->identify_fd = -1;
	}
}

int worker_serve(const struct acceptor_options *options, struct accepted *conn)
{
	int64_t first_ms = options->frame_timeout_ms < options->idle_timeout_ms
	                           ? options->frame_timeout_ms
	                           : options->idle_timeout_ms;
	struct session s = {
		.fd = conn->fd, .ip = conn->ip, .options = options, .link = NULL, .agency = 0,
		.first_deadline = conn->accepted_ms + first_ms, .identify_fd = conn->identify_fd,
		.identified = false, .session = conn->session,
	};
	unsigned char first;
	int code = 0;

	/* SIGTERM/SIGINT are still blocked (as in the acceptor); they get in only inside io's
	 * waits, which use the acceptor's original mask. */
	if (signals_install_stop(&conn->wait_mask) < 0) {
		log_error("signals", "fail", "ip: %s | error: %s", conn->ip, strerror(errno));
		code = 1;
	} else if (peek_first_byte(&s, &first) == 1) {
		code = first == PROTO_MAGIC ? lottery_session_run(&s) : echo_session_run(&s);
	}
	if (s.identify_fd >= 0)
		io_close(s.identify_fd);
	conn->identify_fd = -1;
	if (s.link != NULL) {
		/* nng 1.5 to 1.7 can deadlock in nng_close (nanomsg/nng#1543, seen once here in CI
		 * under valgrind). The peer must not wait for that, nor may a worker hold its slot
		 * forever: the connection is shut down first, so the peer sees the session's end at
		 * once (its descriptor is still closed last, by its owner, below), and the link's
		 * teardown runs under an alarm whose default action ends a worker stuck in it; the
		 * acceptor reaps it like any other. ENOTCONN (the peer left) needs nothing. */
		(void)shutdown(conn->fd, SHUT_RDWR);
		storage_link_close_bounded(s.link);
		log_debug("storage_link_close", "success", "ip: %s", conn->ip);
	}
	if (io_close(conn->fd) < 0)
		log_warning("connection_close", "fail", "ip: %s | error: %s", conn->ip, strerror(errno));
	else
		log_debug("connection_close", "success", "ip: %s", conn->ip);
	conn->fd = -1;
	return code;
}
