/* storage_link: a worker's line to the storage daemon (nng REQ, one request at a time).
 *
 * Open it in the worker, after the fork (nng is not fork-safe), and close it before the worker
 * exits. A call sends one request frame unchanged and waits for the one reply frame:
 *
 *   struct storage_link *link;
 *   if (storage_link_open(&link, ipc_url) != 0) ... log storage_link_error(NULL) ...
 *   struct storage_call call = {.reach_deadline = d, .reply_deadline = d, .watch_fd = -1};
 *   rc = storage_link_call(link, frame, frame_len, reply, &reply_len, &call);
 *   if (rc == STORAGE_LINK_LOST) ... the request may be resent if it is idempotent ...
 *   storage_link_close(link);
 *
 * The dialer connects in the background and reconnects by itself whenever the connection to
 * storage is lost (the supervisor restarts a storage that dies, at the same ipc path); a request
 * waits for a connection until its reach deadline. nng's completion callback writes a byte to a
 * self-pipe; the call waits on that pipe and on the client's socket (a client that hangs up,
 * POLLRDHUP/POLLHUP, abandons the request). A stoppable call waits in io_poll (ppoll with the
 * mask registered by io_set_stop); an unstoppable one in io_poll_unstoppable (SIGTERM stays
 * blocked and pending, for the next stoppable wait).
 *
 * nng never resends a request by itself here: NNG_OPT_REQ_RESENDTIME is disabled, so a request
 * whose connection closes before its reply fails its receive with NNG_ECONNRESET, in nng 1.5.2
 * and 1.10.1 alike (req0_pipe_close), and the call returns STORAGE_LINK_LOST. Whether to send it
 * again is the caller's decision: BATCH, DONE and WINNERS_QUERY are idempotent, a BET is not. A
 * request that was abandoned or lost may still have been carried out by storage. */
#ifndef TP0_ACCEPTOR_STORAGE_LINK_H
#define TP0_ACCEPTOR_STORAGE_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto.h"

struct storage_link;

/* Besides the io_status values, storage_link_call returns this when the connection to storage
 * closed while the request was in storage's hands (storage died): it may or may not have been
 * carried out, and the reply will never come. */
enum { STORAGE_LINK_LOST = -16 };

/* How one call waits. Deadlines are absolute (io_now_ms() clock) or IO_NO_DEADLINE. */
struct storage_call {
	int64_t reach_deadline; /* storage must have taken the request by then: IO_TIMEOUT */
	int64_t reply_deadline; /* and answered it by then: IO_TIMEOUT (none for a held query) */
	int watch_fd;           /* the client; its hang-up abandons the call (IO_EOF). -1: none */
	bool stoppable;         /* whether a stop ends the wait (IO_STOPPED) */
	uint64_t session;       /* the connection's session (proto.h, PROTO_SESSION_SIZE) */
};

/* Opens a REQ socket and starts dialing url in the background. 0 with *out set; or -1, *out
 * untouched, errno set (ENOMEM, EINVAL, ... EIO for the rest) and the whole reason in
 * storage_link_error(NULL). */
int storage_link_open(struct storage_link **out, const char *url);

/* Sends req (up to PROTO_FORWARD_MAX frames: req_len <= PROTO_FORWARD_MAX * PROTO_FRAME_MAX)
 * and waits for the reply, copied into reply with its length in *reply_len. Returns:
 *   IO_OK              the reply is in reply (a reply that is there wins over any other end)
 *   IO_TIMEOUT         a deadline of call passed: request abandoned
 *   IO_EOF             call->watch_fd hung up: request abandoned
 *   IO_STOPPED         the stop flag was set (only when stoppable): request abandoned
 *   STORAGE_LINK_LOST  the connection to storage closed before the reply
 *   IO_ERROR           nng failed, or the reply is too long
 * storage_link_error() says why for the last two. The link is usable again after any return. */
int storage_link_call(struct storage_link *link, const uint8_t *req, size_t req_len,
                      uint8_t reply[PROTO_FRAME_MAX], size_t *reply_len,
                      const struct storage_call *call);

/* The reason for link's last IO_ERROR or STORAGE_LINK_LOST ("nng_ctx_recv: Connection reset by
 * peer", ...); with NULL, the reason the last storage_link_open failed. */
const char *storage_link_error(const struct storage_link *link);

/* Abandons nothing (no call is in flight between calls): closes the socket and frees. NULL ok. */
void storage_link_close(struct storage_link *link);

/* How long storage_link_close_bounded lets the close take. */
#define STORAGE_LINK_CLOSE_S 10

/* storage_link_close under alarm(STORAGE_LINK_CLOSE_S): nng 1.5 to 1.7 can deadlock in nng_close
 * (nanomsg/nng#1543, seen once in CI under valgrind), and SIGALRM's default action then ends
 * the process, which is all a worker can do about it (its acceptor reaps it like any other, and
 * its agency reconnects). Only for a process that leaves SIGALRM at its default: a worker. */
void storage_link_close_bounded(struct storage_link *link);

#endif
