/* session: one worker process serving one connection. The first byte decides what the peer
 * speaks: PROTO_MAGIC starts a lottery session, anything else is an echo line. */
#ifndef TP0_ACCEPTOR_SESSION_H
#define TP0_ACCEPTOR_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include "options.h"

struct storage_link;

struct session {
	int fd;
	const char *ip;
	const struct acceptor_options *options;
	struct storage_link *link; /* opened on the first request that needs storage */
	uint32_t agency;           /* 0 until a message names it; then fixed for the session */
	/* The first frame or line must be whole by then (the accept + FRAME_TIMEOUT, or
	 * IDLE_TIMEOUT if shorter): a peer may not hold a worker by trickling it. */
	int64_t first_deadline;
	int identify_fd;           /* the acceptor's identification pipe (see accept_loop.h) */
	bool identified;           /* its first frame or line has come whole */
	bool authenticated;        /* HELLO + AUTH proved s->agency's key (options->keys) */
	uint64_t session;          /* the connection's, sent to storage with every request */
};

/* Tells the acceptor, once, that the peer has sent a whole first frame or line: from then on
 * its worker is never drained to make room for a new connection. */
void session_identified(struct session *s);

/* Each returns the worker's exit code: 0 when the session ended as the protocol allows (a bad
 * peer included), non-zero on an internal failure. Neither closes s->fd. */
int echo_session_run(struct session *s);
int lottery_session_run(struct session *s);

#endif
