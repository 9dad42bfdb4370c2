/* ledger: bets.csv, the one file of stored bets (the contract's
 * `agency,first_name,last_name,document,birthdate,number` rows, RFC 4180 quoting).
 *
 * The storage daemon is its only writer. A request's bets reach the file in one write(2) or not
 * at all: a failed or short write is cut back with ftruncate, so a batch is never half stored
 * and a retried batch cannot leave a partial copy behind. Not thread-safe: the caller
 * serialises. */
#ifndef TP0_STORAGE_LEDGER_H
#define TP0_STORAGE_LEDGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bet.h"
#include "proto.h"

struct ledger;

/* Opens path for appending, creating it (0644) if missing; an existing file is kept as it is
 * (recovery decides what of it is committed, see store.h). 0, or -1 with errno. */
int ledger_open(struct ledger **out, const char *path);

/* Appends the agency's bets (a cursor of a decoded BATCH or BET, proto.h) as CSV rows in one
 * write, formatted from the bytes where they lie; *rows_crc (when not NULL) gets the CRC-32 of
 * the bytes written, for the journal. The bets are not validated here: the worker that took
 * them off the wire did (README, "One trust boundary"). 0, or -1 with errno, and then the file
 * is as it was before the call (or ledger_broken() is true). */
int ledger_store_bets(struct ledger *l, uint32_t agency, const struct proto_cursor *bets,
                      uint32_t *rows_crc);

/* The CRC-32 ledger_store_bets would give these bets, without writing them: how a batch sent
 * again under a stored sequence number is told from a different one. 0, or -1 with errno. */
int ledger_rows_crc(struct ledger *l, uint32_t agency, const struct proto_cursor *bets,
                    uint32_t *rows_crc);

/* Cuts the file back to size bytes: an uncommitted tail at recovery, or rows whose journal
 * record could not be written. 0, or -1 with errno. */
int ledger_cut(struct ledger *l, size_t size);
/* CRC-32 of bytes [from, to) as they are in the file. 0, or -1 with errno (EBADMSG: the file
 * ends before to). */
int ledger_crc_range(const struct ledger *l, size_t from, size_t to, uint32_t *crc);
/* Starts writing the file's dirty pages out, without waiting (a hint before ledger_sync). */
void ledger_start_writeback(struct ledger *l);
/* fdatasync: 0, or -1 with errno (fatal: see journal_sync). */
int ledger_sync(struct ledger *l);
bool ledger_broken(const struct ledger *l);

/* Called once per stored bet, in file order; a non-zero return stops the load. */
typedef int (*ledger_bet_fn)(void *arg, const struct bet *bet);

/* Streams the file from the start (one record in memory at a time). 0; the callback's non-zero
 * value when it stopped the load; or -1 with errno (EBADMSG: a row that is not a bet, its line
 * in *bad_line when bad_line is not NULL). */
int ledger_load_bets(const struct ledger *l, ledger_bet_fn fn, void *arg, unsigned long *bad_line);

const char *ledger_path(const struct ledger *l);
/* Bytes of the file (after ledger_open: as found). */
size_t ledger_size(const struct ledger *l);
/* Bytes of the file as it is on disk now (fstat), whoever wrote them. 0, or -1 with errno. */
int ledger_file_size(const struct ledger *l, uint64_t *size);

/* fsync, then close. 0, or -1 with errno of the first failure (the ledger is freed anyway). */
int ledger_close(struct ledger *l);

#endif
