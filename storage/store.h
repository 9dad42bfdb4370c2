/* store: the draw's durable state. It owns bets.csv (ledger), its journal and the in-memory
 * bookkeeping rebuilt from them (barrier), and keeps the three in step.
 *
 * A write (store_batch, store_bet, store_done) appends the rows and one journal record with
 * write(2): visible to the draw, not yet durable. store_sync makes everything written so far
 * durable (fdatasync of both files); only then may a write be acknowledged. The service runs
 * that sync on a thread of its own, so one sync covers every write that arrived meanwhile
 * (group commit). A failed sync is final: the page cache may have dropped the pages, so nothing
 * may be acknowledged any more and the process must exit; the next start recovers.
 *
 * Recovery (store_open): the journal is replayed; every BATCH/BET record's rows are checked
 * against their CRC in bets.csv; the first record that is torn or does not check ends the
 * committed state, and both files are cut back to it (the bytes cut are reported) and synced
 * (what was accepted may not have reached the disk before a crash). Resumes the draw in
 * progress; starts a new one (the old files renamed to <bets>.<n>, never deleted) when asked to,
 * when the last draw was closed (drawn, then stopped cleanly), or when there is no journal to
 * resume from. Not thread-safe: the caller serialises everything but store_sync. */
#ifndef TP0_STORAGE_STORE_H
#define TP0_STORAGE_STORE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bet.h"
#include "proto.h"

struct barrier;
struct ledger;
struct store;

struct store_options {
	const char *bets_path;
	uint32_t agencies;
	bool new_draw; /* start a new draw even if one is in progress */
	bool sync;     /* false: never fdatasync (unsafe: for benchmarks only) */
};

struct store_recovery {
	bool resumed;              /* a draw in progress was recovered (false: a new draw) */
	char archived[PATH_MAX];   /* where the previous draw's bets went, "" when nowhere */
	uint32_t batches, bets, done;
	bool drawn;                /* its sorteo was already announced */
	uint64_t ledger_cut;       /* bytes of bets.csv past the last committed record, cut */
	uint64_t journal_cut;      /* bytes of torn or refused journal records, cut */
	char cut_reason[96];       /* why the journal's tail was refused, "" when nothing was */
};

/* 0, or -1 with a one-line reason in err. */
int store_open(struct store **out, const struct store_options *o, struct store_recovery *rec,
               char *err, size_t err_cap);

struct barrier *store_barrier(const struct store *s);
bool store_syncs(const struct store *s);

/* Each appends rows and a record and updates the barrier; 0, or -1 with errno and nothing of it
 * stored (store_failed() true when the files could not even be cut back: stop). The caller has
 * checked the request with the barrier first. */
/* The bets are a cursor of a decoded BATCH (or BET, one bet) of the agency: formatted into rows
 * where they lie, hashed into the agency's digest as they travelled; not validated here (the
 * worker did). */
int store_batch(struct store *s, uint32_t agency, uint32_t seq, const struct proto_cursor *bets);
int store_bet(struct store *s, uint32_t agency, const struct proto_cursor *bet);
/* The CRC-32 of the rows these bets would be (what a BATCH record keeps as its rows_crc): a batch
 * sent again under a stored seq is the same batch only if it gives the stored one
 * (barrier_batch_repeat). 0, or -1 with errno. */
int store_rows_crc(struct store *s, uint32_t agency, const struct proto_cursor *bets,
                   uint32_t *rows_crc);
/* Records the agency's DONE (barrier_done already counted it). */
int store_done(struct store *s, uint32_t agency, uint32_t total);
/* Holds the draw (barrier_draw) once bets.csv is checked against the journal: every record's
 * rows must give its CRC and nothing may follow the last. 0; or -1 with errno and the draw
 * failed (barrier_draw_fail): EBADMSG when the file was changed behind the server's back,
 * barrier_draw_mismatch naming the first agency whose rows do not check (0: rows were added).
 * Runs once: later calls return what the first did. */
int store_draw(struct store *s);
/* Records that the sorteo was announced, durably. */
int store_drawn(struct store *s);

/* Makes every write so far durable. 0, or -1 with errno: fatal, see above. May run on another
 * thread while writes are appended (they are then covered by the next sync); it changes no
 * state, so after a failure the caller marks the store failed (store_fail) under its lock. */
int store_sync(struct store *s);
void store_fail(struct store *s);
/* A write could not be cut back or a sync failed: every write is refused from now on. */
bool store_failed(const struct store *s);

/* clean: a requested stop; a drawn draw is then closed, so the next start begins a new one.
 * Syncs and closes both files. 0, or -1 with errno of the first failure; freed anyway. */
int store_close(struct store *s, bool clean);

#endif
