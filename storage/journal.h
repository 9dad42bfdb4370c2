/* journal: the draw's commit log, a file of fixed-size binary records beside bets.csv
 * (<bets file>.journal).
 *
 * bets.csv holds the rows the contract names and nothing else, so what makes a row committed
 * lives here: a BATCH or BET record says which agency stored how many bets under which sequence
 * number, where the rows end in bets.csv and the CRC-32 of those rows. A row is committed once
 * its record and the rows are both on stable storage; recovery replays the records, checks each
 * one's rows against their CRC, and cuts both files back to the last record that checks (a torn
 * tail: a crash in the middle of a commit). DONE records make the barrier durable, DRAWN says
 * the sorteo was announced, CLOSED that the draw ended with a clean stop (the next start begins a
 * new draw).
 *
 * Record (JOURNAL_RECORD_SIZE bytes, big-endian):
 *   0  u32 magic "TPJ1"        4  u8 type, 3 bytes 0
 *   8  u32 agency (OPEN: the agencies of the draw)
 *  12  u32 seq (BATCH)         16 u32 count (BATCH, BET: bets; DONE: total)
 *  20  u64 ledger_end          28 u32 rows_crc
 *  32  u32 crc of bytes 0..31
 * Not thread-safe: the caller serialises (journal_sync may run beside an append). */
#ifndef TP0_STORAGE_JOURNAL_H
#define TP0_STORAGE_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JOURNAL_RECORD_SIZE 36
#define JOURNAL_SUFFIX ".journal"

enum journal_type {
	JOURNAL_OPEN = 1,   /* first record: a new draw of `agency` agencies */
	JOURNAL_BATCH = 2,
	JOURNAL_BET = 3,
	JOURNAL_DONE = 4,
	JOURNAL_DRAWN = 5,
	JOURNAL_CLOSED = 6,
};

struct journal_record {
	uint8_t type;
	uint32_t agency;
	uint32_t seq;
	uint32_t count;
	uint64_t ledger_end; /* bytes of bets.csv once this record's rows are in */
	uint32_t rows_crc;   /* CRC-32 (zlib's) of this record's rows */
};

void journal_encode(const struct journal_record *r, uint8_t out[JOURNAL_RECORD_SIZE]);
/* 0, or -1 when the bytes are not a whole, intact record of a known type. */
int journal_decode(const uint8_t in[JOURNAL_RECORD_SIZE], struct journal_record *r);

struct journal;

/* Opens (creating, 0644) path for appending. 0, or -1 with errno. */
int journal_open(struct journal **out, const char *path);

/* Called for each intact record, in order; a non-zero return stops the replay there (the record
 * is not counted as valid). */
typedef int (*journal_record_fn)(void *arg, const struct journal_record *r);
/* Reads the file from the start. *valid_end: the bytes of the records accepted, where a torn or
 * refused tail begins. 0, or -1 with errno on a read error. */
int journal_replay(struct journal *j, journal_record_fn fn, void *arg, uint64_t *valid_end);

/* Appends one record with one write; a failed or short write is cut back. 0, or -1 with errno
 * (and then the file is as before, or journal_broken() is true). */
int journal_append(struct journal *j, const struct journal_record *r);
/* Cuts the file to size bytes (recovery). 0, or -1 with errno. */
int journal_truncate(struct journal *j, uint64_t size);
/* Starts writing the file's dirty pages out, without waiting (a hint before journal_sync). */
void journal_start_writeback(struct journal *j);
/* fdatasync. 0, or -1 with errno: then the kernel may have dropped the dirty pages, and nothing
 * written since the last good sync may be taken as durable (the caller must stop). */
int journal_sync(struct journal *j);
uint64_t journal_size(const struct journal *j);
bool journal_broken(const struct journal *j);

/* Closes (no sync: the caller syncs first when it needs to). 0, or -1 with errno; freed anyway. */
int journal_close(struct journal *j);

#endif
