/* request: one request frame in, one reply frame out (or "hold it until the draw"). The storage
 * daemon's whole behaviour, free of nng so it can be tested alone; the service calls it under
 * its lock, with every frame a worker forwarded.
 *
 *   BET            store one bet                       -> ACK(0, 1)
 *   BATCH          store a whole batch exactly once    -> ACK(seq, count) | REJECT | ERROR
 *   DONE           count the agency done (once)        -> ACK(0, total) | ERROR
 *   WINNERS_QUERY  after the draw                      -> WINNERS(total, offset, documents)
 *                  before it                           -> held
 * Anything else (bad header, reply types, malformed payload) -> ERROR with its code. */
#ifndef TP0_STORAGE_REQUEST_H
#define TP0_STORAGE_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bet.h"
#include "proto.h"

struct barrier;
struct ledger;

struct request_handler {
	struct barrier *barrier; /* not owned */
	struct ledger *ledger;   /* not owned */
	bool stopping;           /* every request gets ERROR SHUTTING_DOWN */
	struct bet bets[PROTO_BATCH_LIMIT]; /* one batch, validated whole before it is stored */
};

struct request_result {
	bool held;       /* a WINNERS_QUERY before the draw: no reply now */
	uint32_t agency; /* of a held query */
	uint32_t offset;
	bool drew;       /* this request completed the set and the draw ran: answer held queries */
};

void request_handler_init(struct request_handler *h, struct barrier *barrier,
                          struct ledger *ledger);

/* Handles frame (len bytes, header included): a finished reply frame in reply, or res->held. */
void request_handle(struct request_handler *h, const uint8_t *frame, size_t len,
                    struct proto_writer *reply, struct request_result *res);

/* The reply to a held query once the draw has run (WINNERS, or ERROR STORAGE if it failed). */
void request_answer_held(struct request_handler *h, uint32_t agency, uint32_t offset,
                         struct proto_writer *reply);

#endif
