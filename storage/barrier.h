/* barrier: the draw's bookkeeping, with no I/O of its own (the service calls it under its lock).
 *
 * Per agency 1..N: the next batch sequence number expected and, for every batch stored, the
 * CRC-32 of its rows (batches are stored exactly once: an older one is acknowledged again if
 * it is the same batch, a different one under a used number is a conflict, a newer one is
 * refused), the bets stored, and whether it
 * has said DONE, and the winners' documents per agency in file order, noted as their bets are
 * stored. When the last agency is done the draw is held once (store_draw checks bets.csv
 * first); only then are winners queries answered.
 *
 * Domain results only (enum barrier_status): the request layer turns them into wire errors. */
#ifndef TP0_STORAGE_BARRIER_H
#define TP0_STORAGE_BARRIER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bet.h"

struct barrier;

enum barrier_status {
	BARRIER_OK = 0,
	BARRIER_E_AGENCY,  /* not one of the draw's agencies */
	BARRIER_E_AHEAD,   /* a batch sequence number past the next expected (barrier_next_seq) */
	BARRIER_E_DONE,    /* the agency said DONE: nothing new from it */
	BARRIER_E_TOTAL,   /* DONE's total differs from barrier_stored */
	BARRIER_E_PENDING, /* winners asked for before the draw */
	BARRIER_E_DRAW,    /* the draw could not read the bets */
	BARRIER_E_CONFLICT, /* a batch under a stored sequence number, with other rows */
	BARRIER_E_DIGEST,  /* DONE's digest is not that of the agency's bets as stored */
	BARRIER_E_SESSION, /* a write from a session older than the agency's newest */
};

typedef char barrier_document[BET_DOCUMENT_MAX + 1];

/* NULL when out of memory. agencies: 1..BET_AGENCY_MAX. */
struct barrier *barrier_new(uint32_t agencies);
void barrier_free(struct barrier *b);

uint32_t barrier_agencies(const struct barrier *b);

/* BATCH(agency, seq): BARRIER_OK and *store true (seq is the next one expected: store its
 * bets, then barrier_batch_stored) or false (already stored: acknowledge again, write nothing);
 * BARRIER_E_AGENCY, BARRIER_E_AHEAD, BARRIER_E_DONE (a new batch after DONE). */
enum barrier_status barrier_batch_check(const struct barrier *b, uint32_t agency, uint32_t seq,
                                        bool *store);
/* A batch under a stored seq (barrier_batch_check said *store false): BARRIER_OK when its rows'
 * CRC-32 is the stored batch's (the same batch again: acknowledge it), BARRIER_E_CONFLICT when
 * not; BARRIER_E_AGENCY, BARRIER_E_AHEAD (seq not stored). */
enum barrier_status barrier_batch_repeat(const struct barrier *b, uint32_t agency, uint32_t seq,
                                         uint32_t rows_crc);
/* Makes room for the next batch's CRC, so that barrier_batch_stored cannot fail after its rows
 * are written. 0, or -1 with errno ENOMEM. */
int barrier_batch_reserve(struct barrier *b, uint32_t agency);
/* The next batch is stored: count bets whose rows have rows_crc. 0, or -1 (ENOMEM, nothing
 * changed) when barrier_batch_reserve was not called first and memory ran out. */
int barrier_batch_stored(struct barrier *b, uint32_t agency, uint32_t count, uint32_t rows_crc);

/* A write of agency from session (a connection's, proto.h: later connections have larger ones):
 * BARRIER_E_SESSION when a newer session of the agency has had a write accepted already, else
 * BARRIER_OK (session 0, none, and an agency not in the draw pass). barrier_session_wrote
 * records an accepted write (acknowledged): a newer session takes over only by writing what
 * the agency's sequence accepts, so a stranger's refused batch (a CONFLICT) fences no one.
 * Kept in memory only: after a restart the first session to write is the newest. */
enum barrier_status barrier_session_check(const struct barrier *b, uint32_t agency,
                                          uint64_t session);
void barrier_session_wrote(struct barrier *b, uint32_t agency, uint64_t session);

/* Adds a stored bet to its agency's digest (lib/digest.h), in the order stored; an agency not
 * in the draw is ignored. */
void barrier_digest_bet(struct barrier *b, const struct bet *bet);
/* The same for a request's bets, all of agency, as they travel (proto_bet_encode's bytes, back to
 * back: a cursor's), in one update. */
void barrier_digest_bytes(struct barrier *b, uint32_t agency, const uint8_t *bytes, size_t len);
/* DONE's digest against the agency's: BARRIER_OK, BARRIER_E_DIGEST, BARRIER_E_AGENCY. */
enum barrier_status barrier_digest_check(const struct barrier *b, uint32_t agency,
                                         const uint8_t digest[32]);

/* BET(agency): BARRIER_OK (store it, then barrier_bet_stored), BARRIER_E_AGENCY,
 * BARRIER_E_DONE. */
enum barrier_status barrier_bet_check(const struct barrier *b, uint32_t agency);
void barrier_bet_stored(struct barrier *b, uint32_t agency);

/* DONE(agency, total): BARRIER_OK (a repeated DONE counts once); *draw_now is true for the one
 * call that completed the set, whose caller must run the draw (store_draw). BARRIER_E_AGENCY,
 * BARRIER_E_TOTAL. */
enum barrier_status barrier_done(struct barrier *b, uint32_t agency, uint32_t total,
                                 bool *draw_now);

uint32_t barrier_stored(const struct barrier *b, uint32_t agency); /* 0 for an unknown agency */
uint32_t barrier_next_seq(const struct barrier *b, uint32_t agency); /* 0 for an unknown one */
bool barrier_agency_done(const struct barrier *b, uint32_t agency);  /* false for an unknown one */
uint32_t barrier_done_count(const struct barrier *b);

/* Winners are kept as their bets are stored (and rebuilt from bets.csv at recovery), so the draw
 * reads no bets. barrier_winners_reserve makes room for `more` of the agency's, so that adding
 * them after their rows are written cannot fail; barrier_winner_add adds one, in bets.csv order
 * (0, or -1 with errno when out of room and memory). An agency not in the draw is ignored. */
int barrier_winners_reserve(struct barrier *b, uint32_t agency, uint32_t more);
int barrier_winner_add(struct barrier *b, uint32_t agency, const char *document, size_t len);

/* Holds the draw: from now on barrier_winners answers. 0; or, after barrier_draw_fail, -1 with
 * its errno (later calls return what the first one did). The store checks bets.csv first
 * (store_draw). */
int barrier_draw(struct barrier *b);
/* The draw cannot be held: winners queries get BARRIER_E_DRAW. mismatch: the first agency whose
 * rows in bets.csv are not the ones stored (0: none known). */
void barrier_draw_fail(struct barrier *b, int err, uint32_t mismatch);
uint32_t barrier_draw_mismatch(const struct barrier *b); /* 0: none */
bool barrier_drawn(const struct barrier *b);

/* The agency's winners' documents, in bets.csv order: BARRIER_OK with *docs and *count set;
 * BARRIER_E_AGENCY, BARRIER_E_PENDING (no draw yet: hold the query), BARRIER_E_DRAW. */
enum barrier_status barrier_winners(const struct barrier *b, uint32_t agency,
                                    const barrier_document **docs, uint32_t *count);
uint32_t barrier_winner_count(const struct barrier *b, uint32_t agency);

#endif
