/* ledger: bets.csv, the one file of stored bets (the contract's
 * `agency,first_name,last_name,document,birthdate,number` rows, RFC 4180 quoting).
 *
 * The storage daemon is its only writer. A request's bets reach the file in one write(2) or not
 * at all: a failed or short write is cut back with ftruncate, so a batch is never half stored
 * and a retried batch cannot leave a partial copy behind. Not thread-safe: the caller
 * serialises. */
#ifndef TP0_STORAGE_LEDGER_H
#define TP0_STORAGE_LEDGER_H

#include <stddef.h>

#include "bet.h"

struct ledger;

/* Creates path (0644) or truncates it: every server run is one draw. 0, or -1 with errno. */
int ledger_open(struct ledger **out, const char *path);

/* Appends count bets (agency included) as CSV rows in one write. 0, or -1 with errno, and then
 * the file is as it was before the call. */
int ledger_store_bets(struct ledger *l, const struct bet *bets, size_t count);

/* Called once per stored bet, in file order; a non-zero return stops the load. */
typedef int (*ledger_bet_fn)(void *arg, const struct bet *bet);

/* Streams the file from the start (one record in memory at a time). 0; the callback's non-zero
 * value when it stopped the load; or -1 with errno (EBADMSG: a row that is not a bet, its line
 * in *bad_line when bad_line is not NULL). */
int ledger_load_bets(const struct ledger *l, ledger_bet_fn fn, void *arg, unsigned long *bad_line);

const char *ledger_path(const struct ledger *l);
/* Bytes stored so far. */
size_t ledger_size(const struct ledger *l);

/* fsync, then close. 0, or -1 with errno of the first failure (the ledger is freed anyway). */
int ledger_close(struct ledger *l);

#endif
