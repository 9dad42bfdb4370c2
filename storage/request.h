/* request: one request frame in, one reply frame out (or "hold it until the draw"). The storage
 * daemon's whole behaviour, free of nng so it can be tested alone; the service calls it under
 * its lock, with every frame a worker forwarded.
 *
 * Stored state is not durable when request_handle returns: see request_result.
 *
 *   BET            store one bet                       -> ACK(0, 1)
 *   BATCH          store a whole batch exactly once    -> ACK(seq, count) | REJECT | ERROR
 *   DONE           count the agency done (once)        -> ACK(0, total) | ERROR
 *   WINNERS_QUERY  after the draw                      -> WINNERS(total, offset, documents)
 *                  before it                           -> held
 * A BET, BATCH or DONE from a session older than the newest the agency's requests came from is
 * refused (ERROR SESSION): at most one connection of an agency writes (barrier_session).
 * Anything else (bad header, reply types, malformed payload) -> ERROR with its code. */
#ifndef TP0_STORAGE_REQUEST_H
#define TP0_STORAGE_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "barrier.h"
#include "bet.h"
#include "proto.h"

struct store;

struct request_handler {
	struct store *store;     /* not owned */
	struct barrier *barrier; /* the store's */
	bool stopping;           /* every request gets ERROR SHUTTING_DOWN */
	int64_t first_store_ms;  /* when this process stored its first bet (0: not yet) */
	uint64_t session;        /* the session of the frames being handled (0: none) */
};

/* What the service must do with the reply besides sending it. A reply that reports stored
 * state (an ACK) may leave only once that state is durable: the service sends it after the
 * next sync when wrote or durable is set, and logs the note then, so the log never claims more
 * than the disk holds. */
enum request_note { REQUEST_NOTE_NONE, REQUEST_NOTE_BATCH, REQUEST_NOTE_BET };

struct request_result {
	bool held;       /* a WINNERS_QUERY before the draw: no reply now */
	uint32_t agency; /* of a held query */
	uint32_t offset;
	bool wrote;      /* the request appended to the store: its reply waits for a sync */
	bool durable;    /* the reply reports state that may not be synced yet (a repeated ACK) */
	bool completes;  /* the last DONE: once synced, run the draw, then answer held queries */
	enum request_note note;
	uint32_t count;  /* bets stored (NOTE_BATCH) */
	char dni[BET_DOCUMENT_MAX + 1]; /* NOTE_BET */
	uint16_t numero;
};

void request_handler_init(struct request_handler *h, struct store *store);

/* Logs what a durable request stored (the contract's apuesta_recibida / apuesta_almacenada). */
void request_log_stored(const struct request_result *res);

/* Runs the draw once every agency is done and the DONEs are durable; announces it (sorteo)
 * unless announced is true (a restart that finds it announced already). 0, or -1 after logging
 * why (held queries are then answered ERROR STORAGE). */
int request_run_draw(struct request_handler *h, bool announced);

/* Handles frame (len bytes, header included): a finished reply frame in reply, or res->held. */
void request_handle(struct request_handler *h, const uint8_t *frame, size_t len,
                    struct proto_writer *reply, struct request_result *res);

/* A WINNERS frame: the total, offset, and as many of docs[offset..count) as fit. */
void request_encode_winners(struct proto_writer *w, const barrier_document *docs, uint32_t count,
                            uint32_t offset);

/* The reply to a held query once the draw has run (WINNERS, or ERROR STORAGE if it failed). */
void request_answer_held(struct request_handler *h, uint32_t agency, uint32_t offset,
                         struct proto_writer *reply);

#endif
