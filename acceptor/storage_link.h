/* storage_link: a worker's line to the storage daemon (nng REQ, one request at a time).
 *
 * Open it in the worker, after the fork (nng is not fork-safe), and close it before the worker
 * exits. A call sends one request frame unchanged and waits for the one reply frame:
 *
 *   struct storage_link *link;
 *   if (storage_link_open(&link, ipc_url) != 0) ... log storage_link_error(NULL) ...
 *   rc = storage_link_call(link, frame, frame_len, reply, &reply_len,
 *                          io_deadline_after(timeout_ms), client_fd, false);
 *   if (rc == IO_ERROR) ... log storage_link_error(link) ...
 *   storage_link_close(link);
 *
 * nng's completion callback writes a byte to a self-pipe; the call waits on that pipe and on the
 * client's socket (a client that hangs up, POLLRDHUP/POLLHUP, abandons the request). A stoppable
 * call waits in io_poll (ppoll with the mask registered by io_set_stop); an unstoppable one in
 * io_poll_unstoppable (SIGTERM stays blocked and pending). Requests are never resent by nng
 * (NNG_OPT_REQ_RESENDTIME disabled): a retry is the client's decision. BATCH, DONE and
 * WINNERS_QUERY are idempotent, so a client may resend them; a BET is not, so mode bet never
 * resends. An abandoned request may still be carried out by storage. */
#ifndef TP0_ACCEPTOR_STORAGE_LINK_H
#define TP0_ACCEPTOR_STORAGE_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto.h"

struct storage_link;

/* Opens a REQ socket and dials url (synchronously: storage listens before the acceptor starts;
 * a refused connection is retried briefly). 0 with *out set; or -1, *out untouched, errno set
 * (ECONNREFUSED, ENOENT, ENOMEM, ... EIO for the rest) and the whole reason in
 * storage_link_error(NULL). */
int storage_link_open(struct storage_link **out, const char *url);

/* Sends req (req_len <= PROTO_FRAME_MAX) and waits for the reply, copied into reply with its
 * length in *reply_len. Returns an io_status:
 *   IO_OK       the reply is in reply
 *   IO_TIMEOUT  deadline (absolute, io_now_ms() clock; IO_NO_DEADLINE) passed: request abandoned
 *   IO_EOF      watch_fd (>= 0; -1 for none) hung up: request abandoned
 *   IO_STOPPED  the stop flag was set (only when stoppable): request abandoned
 *   IO_ERROR    nng failed, or the reply is too long: storage_link_error() says why
 * When not stoppable a stop signal does not cut the wait short (the request in flight is
 * finished, as the shutdown order wants); the signal stays pending for the next stoppable wait.
 * The link is usable again after any return. */
int storage_link_call(struct storage_link *link, const uint8_t *req, size_t req_len,
                      uint8_t reply[PROTO_FRAME_MAX], size_t *reply_len, int64_t deadline,
                      int watch_fd, bool stoppable);

/* The reason for link's last IO_ERROR ("nng_ctx_send: Object closed", ...); with NULL, the
 * reason the last storage_link_open failed ("ipc:///x: nng_dial: Connection refused"). */
const char *storage_link_error(const struct storage_link *link);

/* Abandons nothing (no call is in flight between calls): closes the socket and frees. NULL ok. */
void storage_link_close(struct storage_link *link);

#endif
