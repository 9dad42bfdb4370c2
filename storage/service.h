/* service: the storage daemon's nng REP socket.
 *
 * A fixed array of contexts, each a small state machine driven by its aio's callback (nng's
 * demo/async/server.c shape): RECV -> request_handle -> SEND -> RECV, or HELD for a winners
 * query that arrives before the draw. The request that completes the draw answers every held
 * context. Callbacks run on several nng threads: one mutex serialises the handler, the barrier
 * and the ledger. A held context whose worker went away (its pipe closed) goes back to
 * receiving, so vanished workers do not use up the array.
 *
 * Contexts bound the requests in progress at once, held queries included: the supervisor gives
 * one per worker plus one, so a DONE can always be received while every other worker waits for
 * the draw. */
#ifndef TP0_STORAGE_SERVICE_H
#define TP0_STORAGE_SERVICE_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

struct storage_service;
struct store;

/* A request carries at most PROTO_FORWARD_MAX frames of at most PROTO_FRAME_MAX bytes; nng
 * counts the REQ backtrace (4 bytes a hop) too. */
#define SERVICE_FRAMES_MAX PROTO_FORWARD_MAX
#define SERVICE_RECV_MAX (PROTO_FORWARD_MAX * PROTO_FRAME_MAX + 64)
#define SERVICE_CONTEXTS_MIN 2
#define SERVICE_CONTEXTS_MAX 65536

/* Opens the REP socket, starts the committer thread, listens on url and starts receiving. store
 * stays the caller's (closed after service_close). 0, or -1 with a one-line reason in err. */
int service_open(struct storage_service **out, const char *url, uint32_t contexts,
                 struct store *store, char *err, size_t err_cap);

/* Graceful stop: from now on every request gets ERROR SHUTTING_DOWN; every held query is
 * answered so, and those answers are waited for (at most grace_ms). */
void service_stop(struct storage_service *s, int64_t grace_ms);

/* Closes the socket (and with it every context), waits for callbacks in flight, frees. */
void service_close(struct storage_service *s);

/* Releases nng's global threads and descriptors: once, after the last service_close, just
 * before the process exits (so a valgrind run ends clean). */
void service_library_fini(void);

/* Queries held until the draw right now. */
uint32_t service_held(struct storage_service *s);

#endif
