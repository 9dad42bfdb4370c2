#include "batcher.h"

#include <errno.h>

#include "log.h"

void client_batcher_init(struct batcher *b, FILE *fp, uint32_t agency, uint32_t max_amount,
                         const struct bet_date *today)
{
	csv_reader_init(&b->csv, fp);
	b->agency = agency;
	if (max_amount < 1)
		max_amount = 1;
	if (max_amount > PROTO_BATCH_LIMIT)
		max_amount = PROTO_BATCH_LIMIT;
	b->max_amount = max_amount;
	b->today = *today;
	b->has_pending = false;
	b->pending_line = 0;
	b->skipped = 0;
	b->built = 0;
}

static void batcher_skip(struct batcher *b, unsigned long line, const char *reason)
{
	b->skipped++;
	log_warning("bet_skipped", "fail", "client_id: %u | line: %lu | error: %s", b->agency, line,
	            reason);
}

/* Reads rows until one is a valid bet: 1 with b->pending filled, 0 at the end, -1 on error. */
static int batcher_read_bet(struct batcher *b)
{
	for (;;) {
		struct csv_record rec;
		int rc = csv_read_record(&b->csv, &rec);
		if (rc == CSV_END)
			return 0;
		if (rc == CSV_ERR_IO)
			return -1;
		if (rc != CSV_RECORD) {
			batcher_skip(b, rec.line, csv_status_text(rc));
			continue;
		}
		if (rec.count != BATCHER_FIELDS) {
			log_warning(
			        "bet_skipped", "fail",
			        "client_id: %u | line: %lu | error: expected %d fields, got %zu",
			        b->agency, rec.line, BATCHER_FIELDS, rec.count);
			b->skipped++;
			continue;
		}
		enum bet_error err = bet_from_fields(&b->pending, b->agency, rec.fields[0],
		                                     rec.lengths[0], rec.fields[1], rec.lengths[1],
		                                     rec.fields[2], rec.lengths[2], rec.fields[3],
		                                     rec.lengths[3], rec.fields[4], rec.lengths[4]);
		if (err == BET_OK)
			/* The real number of agencies is the server's to check. */
			err = bet_validate(&b->pending, BET_AGENCY_MAX, &b->today);
		if (err != BET_OK) {
			batcher_skip(b, rec.line, bet_error_text(err));
			continue;
		}
		b->pending_line = rec.line;
		return 1;
	}
}

int client_batcher_next(struct batcher *b, struct proto_writer *w, uint32_t seq)
{
	unsigned count = 0;
	b->built = 0;
	proto_begin_batch(w, b->agency, seq);
	while (count < b->max_amount) {
		if (!b->has_pending) {
			int rc = batcher_read_bet(b);
			if (rc < 0) {
				int saved = errno;
				proto_finish(w);
				errno = saved;
				return -1;
			}
			if (rc == 0)
				break;
			b->has_pending = true;
		}
		if (proto_add_batch_bet(w, &b->pending) != 0) {
			if (count > 0)
				break; /* it opens the next batch */
			/* Cannot happen with the frame size we have (any bet fits an empty batch),
			 * but a bet that never fits must not stall the stream. */
			b->has_pending = false;
			batcher_skip(b, b->pending_line, "bet too large for one frame");
			continue;
		}
		b->lines[count++] = b->pending_line;
		b->has_pending = false;
	}
	proto_finish(w);
	b->built = count;
	return (int)count;
}

unsigned long client_batcher_line(const struct batcher *b, unsigned index)
{
	if (index >= b->built)
		return 0;
	return b->lines[index];
}
