/* bet_fixture: building and comparing bets in the unit tests (include after cmocka.h). */
#ifndef TP0_TEST_BET_FIXTURE_H
#define TP0_TEST_BET_FIXTURE_H

#include <stdio.h>
#include <string.h>

#include "bet.h"
#include "proto.h"

static inline struct bet fixture_bet(uint32_t agency, const char *first, const char *last,
                                     const char *document, const char *birthdate,
                                     uint16_t number)
{
	struct bet b;

	memset(&b, 0, sizeof(b));
	b.agency = agency;
	snprintf(b.first_name, sizeof(b.first_name), "%s", first);
	snprintf(b.last_name, sizeof(b.last_name), "%s", last);
	snprintf(b.document, sizeof(b.document), "%s", document);
	snprintf(b.birthdate, sizeof(b.birthdate), "%s", birthdate);
	b.number = number;
	return b;
}

static inline void assert_bet_equal(const struct bet *a, const struct bet *b)
{
	assert_int_equal(a->agency, b->agency);
	assert_string_equal(a->first_name, b->first_name);
	assert_string_equal(a->last_name, b->last_name);
	assert_string_equal(a->document, b->document);
	assert_string_equal(a->birthdate, b->birthdate);
	assert_int_equal(a->number, b->number);
}

/* Bets as storage is given them (storage/ledger.h, store.h): encoded into one frame and decoded
 * again, the cursor pointing into the frame's bytes. Keep the fixture_frame alive while its
 * cursor is used; the cursor is const: copy it to walk it. */
struct fixture_frame {
	struct proto_writer w;
	struct proto_msg msg;
};

static inline void fixture_decode(struct fixture_frame *f, uint8_t type)
{
	struct proto_header h;

	assert_int_equal(proto_header_decode(f->w.buf, &h), PROTO_E_NONE);
	assert_int_equal(h.type, type);
	assert_int_equal(h.length, f->w.len - PROTO_HEADER_SIZE);
	assert_int_equal(proto_decode(h.type, f->w.buf + PROTO_HEADER_SIZE, h.length, &f->msg),
	                 PROTO_E_NONE);
}

/* The count bets as the bets of a BATCH(agency, seq 0) frame. */
static inline const struct proto_cursor *fixture_cursor(struct fixture_frame *f, uint32_t agency,
                                                        const struct bet *bets, size_t count)
{
	proto_begin_batch(&f->w, agency, 0);
	for (size_t i = 0; i < count; i++)
		assert_int_equal(proto_add_batch_bet(&f->w, &bets[i]), 0);
	proto_finish(&f->w);
	fixture_decode(f, PROTO_BATCH);
	assert_int_equal(f->msg.u.batch.count, count);
	return &f->msg.u.batch.bets;
}

/* One bet as the one-bet cursor of a BET(agency) frame (msg.u.bet.raw). */
static inline const struct proto_cursor *fixture_bet_cursor(struct fixture_frame *f,
                                                            uint32_t agency,
                                                            const struct bet *bet)
{
	struct bet copy = *bet;

	copy.agency = agency;
	proto_encode_bet(&f->w, &copy);
	fixture_decode(f, PROTO_BET);
	assert_int_equal(f->msg.u.bet.raw.remaining, 1);
	return &f->msg.u.bet.raw;
}

#endif
