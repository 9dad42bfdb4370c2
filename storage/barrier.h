/* barrier: the draw's bookkeeping, with no I/O of its own (the service calls it under its lock).
 *
 * Per agency 1..N: the next batch sequence number expected (batches are stored exactly once:
 * an older one is acknowledged again, a newer one is refused), the bets stored, and whether it
 * has said DONE. When the last agency is done the draw runs once over bets.csv, keeping the
 * winners' documents per agency in file order; only then are winners queries answered.
 *
 * Checks return PROTO_E_NONE or the proto_error to send back (with a reason in the caller's
 * buffer, when one is given). */
#ifndef TP0_STORAGE_BARRIER_H
#define TP0_STORAGE_BARRIER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto.h"

struct barrier;
struct ledger;

/* NULL when out of memory. agencies: 1..BET_AGENCY_MAX. */
struct barrier *barrier_new(uint32_t agencies);
void barrier_free(struct barrier *b);

uint32_t barrier_agencies(const struct barrier *b);

/* BATCH(agency, seq): PROTO_E_NONE and *store true (seq is the next one expected: store its
 * bets, then barrier_batch_stored) or false (already stored: acknowledge again, write nothing);
 * PROTO_E_AGENCY; PROTO_E_SEQUENCE (seq ahead of the next expected, or a new batch after DONE). */
int barrier_batch_check(const struct barrier *b, uint32_t agency, uint32_t seq, bool *store,
                        char *reason, size_t reason_cap);
void barrier_batch_stored(struct barrier *b, uint32_t agency, uint32_t count);

/* BET(agency): PROTO_E_NONE (store it, then barrier_bet_stored), PROTO_E_AGENCY, or
 * PROTO_E_SEQUENCE when the agency already said DONE. */
int barrier_bet_check(const struct barrier *b, uint32_t agency, char *reason, size_t reason_cap);
void barrier_bet_stored(struct barrier *b, uint32_t agency);

/* DONE(agency, total): PROTO_E_NONE (a repeated DONE counts once); *draw_now is true for the one
 * call that completed the set, whose caller must run barrier_draw. PROTO_E_AGENCY, PROTO_E_TOTAL
 * (total differs from the bets stored for the agency). */
int barrier_done(struct barrier *b, uint32_t agency, uint32_t total, bool *draw_now,
                 char *reason, size_t reason_cap);

uint32_t barrier_stored(const struct barrier *b, uint32_t agency); /* 0 for an unknown agency */
bool barrier_agency_done(const struct barrier *b, uint32_t agency);  /* false for an unknown one */
uint32_t barrier_done_count(const struct barrier *b);

/* Streams the ledger (has_won on every bet) and keeps each agency's winners. 0, or -1 with
 * errno; after a failure queries are answered with PROTO_E_STORAGE. Runs once: later calls
 * return what the first one did. */
int barrier_draw(struct barrier *b, const struct ledger *ledger);
/* The same from bets given one by one (a ledger_bet_fn; 1 when out of memory): the draw's core,
 * for tests. */
int barrier_draw_bet(void *b, const struct bet *bet);
void barrier_draw_finish(struct barrier *b, bool ok);
bool barrier_drawn(const struct barrier *b);

/* WINNERS_QUERY(agency, offset): PROTO_E_NONE with *held true (no draw yet: park the query) or
 * false and a finished WINNERS frame in w (total, offset, as many documents from offset as fit);
 * PROTO_E_AGENCY; PROTO_E_STORAGE (the draw failed). */
int barrier_query(const struct barrier *b, uint32_t agency, uint32_t offset,
                  struct proto_writer *w, bool *held, char *reason, size_t reason_cap);
uint32_t barrier_winner_count(const struct barrier *b, uint32_t agency);

#endif
