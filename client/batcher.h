/* batcher: turns an agency's CSV file into BATCH frames, one at a time, never holding more than
 * one batch. Rows that are not a valid bet are logged (`bet_skipped`, WARNING) and counted. */
#ifndef TP0_CLIENT_BATCHER_H
#define TP0_CLIENT_BATCHER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "bet.h"
#include "csv.h"
#include "proto.h"

#define BATCHER_FIELDS 5 /* first_name,last_name,document,birthdate,number */

struct batcher {
	struct csv_reader csv;
	uint32_t agency;
	uint32_t max_amount;
	struct bet_date today;
	bool has_pending; /* a valid bet that did not fit in the previous batch */
	struct bet pending;
	unsigned long pending_line;
	unsigned long skipped; /* rows skipped so far */
	/* CSV line of each bet of the batch last built, so a REJECT's index names a line. */
	unsigned long lines[PROTO_BATCH_LIMIT];
	unsigned built; /* bets in the batch last built */
};

/* fp is not owned. max_amount is clamped to 1..PROTO_BATCH_LIMIT. */
void client_batcher_init(struct batcher *b, FILE *fp, uint32_t agency, uint32_t max_amount,
                         const struct bet_date *today);
/* Builds the next BATCH(agency, seq) in w, finished: at most max_amount bets, fewer when the
 * next bet would not fit in the frame. Returns the number of bets (> 0), 0 at the end of the
 * file, or -1 on a read error (errno set). */
int client_batcher_next(struct batcher *b, struct proto_writer *w, uint32_t seq);
/* The CSV line of the index-th bet of the batch last built, or 0 if out of range. */
unsigned long client_batcher_line(const struct batcher *b, unsigned index);

#endif
