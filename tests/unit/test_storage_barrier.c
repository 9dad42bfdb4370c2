/* The storage daemon's barrier: batch sequence numbers, DONE, the draw, and winners paging
 * (the WINNERS frame is the request layer's, built from the barrier's lists). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "bet_fixture.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../storage/barrier.h"
#include "../../storage/request.h"
#include "digest.h"
#include "proto.h"

static struct bet make_bet(uint32_t agency, const char *document, uint16_t number)
{
	return fixture_bet(agency, "Nombre", "Apellido", document, "1990-01-02", number);
}

/* The agency's winners as a WINNERS frame from offset, decoded. BARRIER_OK or why not. */
static enum barrier_status query(const struct barrier *b, uint32_t agency, uint32_t offset,
                                 struct proto_writer *w, struct proto_msg *msg)
{
	const barrier_document *docs;
	struct proto_header h;
	uint32_t count;
	enum barrier_status st = barrier_winners(b, agency, &docs, &count);

	if (st != BARRIER_OK)
		return st;
	request_encode_winners(w, docs, count, offset);

	assert_int_equal(proto_header_decode(w->buf, &h), PROTO_E_NONE);
	assert_int_equal(h.type, PROTO_WINNERS);
	assert_int_equal(h.length, w->len - PROTO_HEADER_SIZE);
	assert_int_equal(proto_decode(h.type, w->buf + PROTO_HEADER_SIZE, h.length, msg),
	                 PROTO_E_NONE);
	return BARRIER_OK;
}

static void test_sequence(void **state)
{
	struct barrier *b = barrier_new(3);
	bool store;

	(void)state;
	assert_non_null(b);
	assert_int_equal(barrier_batch_check(b, 2, 0, &store), 0);
	assert_true(store);
	assert_int_equal(barrier_batch_stored(b, 2, 10, 0x210u), 0);
	assert_int_equal(barrier_stored(b, 2), 10);

	/* The same batch again (its ACK was lost): acknowledged, not stored twice. */
	assert_int_equal(barrier_batch_check(b, 2, 0, &store), 0);
	assert_false(store);

	/* Ahead of the next expected (1). */
	assert_int_equal(barrier_batch_check(b, 2, 2, &store), BARRIER_E_AHEAD);
	assert_false(store);
	assert_int_equal(barrier_next_seq(b, 2), 1);

	assert_int_equal(barrier_batch_check(b, 2, 1, &store), 0);
	assert_true(store);
	assert_int_equal(barrier_batch_stored(b, 2, 5, 0x25u), 0);
	assert_int_equal(barrier_stored(b, 2), 15);

	/* Agencies keep their own numbering. */
	assert_int_equal(barrier_batch_check(b, 1, 0, &store), 0);
	assert_true(store);
	assert_int_equal(barrier_batch_check(b, 1, 1, &store), BARRIER_E_AHEAD);
	barrier_free(b);
}

/* A batch under a stored seq is the same batch only if its rows' CRC is the stored one. */
static void test_repeat_digest(void **state)
{
	struct barrier *b = barrier_new(2);

	(void)state;
	assert_non_null(b);
	/* More batches than the first allocation holds: the digests survive each growth. */
	for (uint32_t seq = 0; seq < 1000; seq++)
		assert_int_equal(barrier_batch_stored(b, 1, 1, 0xC0DE0000u + seq), 0);
	assert_int_equal(barrier_next_seq(b, 1), 1000);
	for (uint32_t seq = 0; seq < 1000; seq++) {
		assert_int_equal(barrier_batch_repeat(b, 1, seq, 0xC0DE0000u + seq), BARRIER_OK);
		assert_int_equal(barrier_batch_repeat(b, 1, seq, 0xC0DE0001u + seq),
		                 BARRIER_E_CONFLICT);
	}
	/* Not stored yet, another agency's numbering, an unknown agency. */
	assert_int_equal(barrier_batch_repeat(b, 1, 1000, 0xC0DE0000u + 1000), BARRIER_E_AHEAD);
	assert_int_equal(barrier_batch_repeat(b, 2, 0, 0xC0DE0000u), BARRIER_E_AHEAD);
	assert_int_equal(barrier_batch_repeat(b, 3, 0, 0), BARRIER_E_AGENCY);
	barrier_free(b);
}

static void test_unknown_agency(void **state)
{
	struct barrier *b = barrier_new(2);
	struct proto_writer w;
	struct proto_msg msg;
	bool flag;

	(void)state;
	assert_non_null(b);
	assert_int_equal(barrier_batch_check(b, 0, 0, &flag), BARRIER_E_AGENCY);
	assert_int_equal(barrier_batch_check(b, 3, 0, &flag), BARRIER_E_AGENCY);
	assert_int_equal(barrier_bet_check(b, 3), BARRIER_E_AGENCY);
	assert_int_equal(barrier_done(b, 3, 0, &flag), BARRIER_E_AGENCY);
	assert_false(flag);
	assert_int_equal(query(b, 0, 0, &w, &msg), BARRIER_E_AGENCY);
	assert_int_equal(query(b, 3, 0, &w, &msg), BARRIER_E_AGENCY);
	assert_int_equal(barrier_next_seq(b, 3), 0);
	assert_int_equal(barrier_done_count(b), 0);
	assert_null(barrier_new(0));
	assert_null(barrier_new(BET_AGENCY_MAX + 1));
	barrier_free(b);
}

static void test_done_counted_once(void **state)
{
	struct barrier *b = barrier_new(2);
	bool draw_now, store;

	(void)state;
	assert_non_null(b);
	assert_int_equal(barrier_batch_stored(b, 1, 4, 0x14u), 0);
	assert_int_equal(barrier_done(b, 1, 4, &draw_now), 0);
	assert_false(draw_now);
	assert_int_equal(barrier_done_count(b), 1);
	assert_int_equal(barrier_done(b, 1, 4, &draw_now), 0);
	assert_false(draw_now);
	assert_int_equal(barrier_done_count(b), 1);

	/* After DONE: an old batch is acknowledged again, a new one or a bet refused. */
	assert_int_equal(barrier_batch_check(b, 1, 0, &store), 0);
	assert_false(store);
	assert_int_equal(barrier_batch_check(b, 1, 1, &store), BARRIER_E_DONE);
	assert_int_equal(barrier_bet_check(b, 1), BARRIER_E_DONE);

	/* The last agency completes the set, once. */
	assert_int_equal(barrier_done(b, 2, 0, &draw_now), 0);
	assert_true(draw_now);
	assert_int_equal(barrier_done(b, 2, 0, &draw_now), 0);
	assert_false(draw_now);
	assert_int_equal(barrier_done_count(b), 2);
	barrier_free(b);
}

static void test_total_mismatch(void **state)
{
	struct barrier *b = barrier_new(1);
	bool draw_now;

	(void)state;
	assert_non_null(b);
	assert_int_equal(barrier_batch_stored(b, 1, 3, 0x13u), 0);
	barrier_bet_stored(b, 1);
	assert_int_equal(barrier_done(b, 1, 3, &draw_now), BARRIER_E_TOTAL);
	assert_false(draw_now);
	assert_int_equal(barrier_stored(b, 1), 4);
	assert_int_equal(barrier_done_count(b), 0);
	assert_int_equal(barrier_done(b, 1, 4, &draw_now), 0);
	assert_true(draw_now);
	barrier_free(b);
}

static void test_query_held_until_draw(void **state)
{
	struct barrier *b = barrier_new(2);
	struct proto_writer w;
	struct proto_msg msg;
	bool draw_now;

	(void)state;
	assert_non_null(b);
	assert_int_equal(query(b, 1, 0, &w, &msg), BARRIER_E_PENDING);
	assert_int_equal(barrier_done(b, 1, 0, &draw_now), 0);
	/* One agency done is not enough. */
	assert_int_equal(query(b, 1, 0, &w, &msg), BARRIER_E_PENDING);
	assert_false(barrier_drawn(b));
	assert_int_equal(barrier_done(b, 2, 0, &draw_now), 0);
	assert_true(draw_now);

	assert_int_equal(barrier_winner_add(b, 1, "123", 3), 0);
	/* Kept, but not answered before the draw. */
	assert_int_equal(barrier_winner_count(b, 1), 1);
	assert_int_equal(query(b, 1, 0, &w, &msg), BARRIER_E_PENDING);
	assert_int_equal(barrier_draw(b), 0);
	assert_true(barrier_drawn(b));
	assert_int_equal(query(b, 1, 0, &w, &msg), BARRIER_OK);
	assert_int_equal(msg.u.winners.total, 1);
	assert_int_equal(msg.u.winners.offset, 0);
	assert_int_equal(msg.u.winners.count, 1);
	assert_int_equal(query(b, 2, 0, &w, &msg), BARRIER_OK);
	assert_int_equal(msg.u.winners.total, 0);
	assert_int_equal(msg.u.winners.count, 0);
	barrier_free(b);
}

/* Winners are added as their bets are stored (which bets win is the store's: store.c and
 * test_storage_store); each agency gets its own, in the order added, and an agency not in the
 * draw gets none and takes no one's place. */
static void test_winners_per_agency_in_order(void **state)
{
	static const struct {
		uint32_t agency;
		const char *document;
	} winners[] = {
		{2, "200"}, {1, "101"}, {3, "300"}, {4, "400"}, {0, "0"},
		{1, "102"}, {2, "202"}, {1, "1234567890"},
	};
	static const char *const expected[4][4] = {
		{NULL}, {"101", "102", "1234567890", NULL}, {"200", "202", NULL}, {"300", NULL},
	};
	struct barrier *b = barrier_new(3);
	char document[BET_DOCUMENT_MAX + 1];
	struct proto_writer w;
	struct proto_msg msg;

	(void)state;
	assert_non_null(b);
	for (size_t i = 0; i < sizeof(winners) / sizeof(winners[0]); i++)
		assert_int_equal(barrier_winner_add(b, winners[i].agency, winners[i].document,
		                                    strlen(winners[i].document)),
		                 0);
	assert_int_equal(barrier_draw(b), 0);
	assert_int_equal(barrier_winner_count(b, 4), 0);
	assert_int_equal(barrier_winner_count(b, 0), 0);
	for (uint32_t agency = 1; agency <= 3; agency++) {
		size_t n = 0;

		assert_int_equal(query(b, agency, 0, &w, &msg), BARRIER_OK);
		while (expected[agency][n] != NULL)
			n++;
		assert_int_equal(msg.u.winners.total, n);
		assert_int_equal(msg.u.winners.count, n);
		assert_int_equal(barrier_winner_count(b, agency), n);
		for (size_t i = 0; i < n; i++) {
			assert_int_equal(
			    proto_next_document(&msg.u.winners.documents, document), 1);
			assert_string_equal(document, expected[agency][i]);
		}
		assert_int_equal(proto_next_document(&msg.u.winners.documents, document), 0);
	}
	barrier_free(b);
}

static void test_paging(void **state)
{
	enum { WINNERS = 2000 };
	struct barrier *b = barrier_new(1);
	char document[BET_DOCUMENT_MAX + 1], want[BET_DOCUMENT_MAX + 1];
	struct proto_writer w;
	struct proto_msg msg;
	uint32_t offset = 0, pages = 0;

	(void)state;
	assert_non_null(b);
	for (uint32_t i = 0; i < WINNERS; i++) {
		snprintf(want, sizeof(want), "%010u", (unsigned)(1000000000u + i));
		assert_int_equal(barrier_winner_add(b, 1, want, strlen(want)), 0);
	}
	assert_int_equal(barrier_draw(b), 0);
	while (offset < WINNERS) {
		assert_int_equal(query(b, 1, offset, &w, &msg), BARRIER_OK);
		assert_int_equal(msg.u.winners.total, WINNERS);
		assert_int_equal(msg.u.winners.offset, offset);
		assert_true(msg.u.winners.count > 0);
		assert_true(w.len <= PROTO_FRAME_MAX);
		for (uint16_t i = 0; i < msg.u.winners.count; i++) {
			snprintf(want, sizeof(want), "%010u", (unsigned)(1000000000u + offset + i));
			assert_int_equal(
			    proto_next_document(&msg.u.winners.documents, document), 1);
			assert_string_equal(document, want);
		}
		offset += msg.u.winners.count;
		pages++;
	}
	assert_int_equal(offset, WINNERS);
	assert_true(pages > 1);
	/* Past the end: the total, no documents. */
	assert_int_equal(query(b, 1, WINNERS + 5, &w, &msg), BARRIER_OK);
	assert_int_equal(msg.u.winners.total, WINNERS);
	assert_int_equal(msg.u.winners.count, 0);
	barrier_free(b);
}

/* barrier_draw holds the draw once: every later call says what the first did, and a failure
 * reported after it changes nothing. */
static void test_draw_runs_once(void **state)
{
	struct barrier *b = barrier_new(2);
	struct proto_writer w;
	struct proto_msg msg;

	(void)state;
	assert_non_null(b);
	assert_false(barrier_drawn(b));
	assert_int_equal(barrier_winner_add(b, 2, "23", 2), 0);
	assert_int_equal(barrier_draw(b), 0);
	assert_true(barrier_drawn(b));
	assert_int_equal(barrier_draw(b), 0); /* once: the second call is a no-op */
	barrier_draw_fail(b, EIO, 1);         /* too late: the draw was held */
	assert_true(barrier_drawn(b));
	assert_int_equal(barrier_draw(b), 0);
	assert_int_equal(barrier_draw_mismatch(b), 0);
	assert_int_equal(query(b, 2, 0, &w, &msg), BARRIER_OK);
	assert_int_equal(msg.u.winners.total, 1);
	assert_int_equal(query(b, 1, 0, &w, &msg), BARRIER_OK);
	assert_int_equal(msg.u.winners.total, 0);
	barrier_free(b);
}

/* A draw that cannot be held (the store could not read or check bets.csv): it is over, every
 * later barrier_draw fails with the first failure's errno, and queries get BARRIER_E_DRAW,
 * not the winners kept. */
static void test_draw_fail(void **state)
{
	struct barrier *b = barrier_new(2);
	const barrier_document *docs;
	struct proto_writer w;
	struct proto_msg msg;
	uint32_t count;

	(void)state;
	assert_non_null(b);
	assert_int_equal(barrier_winner_add(b, 1, "11", 2), 0);
	barrier_draw_fail(b, ENOENT, 0);
	assert_true(barrier_drawn(b));
	assert_int_equal(barrier_draw_mismatch(b), 0);
	errno = 0;
	assert_int_equal(barrier_draw(b), -1);
	assert_int_equal(errno, ENOENT);
	barrier_draw_fail(b, EBADMSG, 2); /* the first failure stands */
	errno = 0;
	assert_int_equal(barrier_draw(b), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(barrier_draw_mismatch(b), 0);
	assert_int_equal(query(b, 1, 0, &w, &msg), BARRIER_E_DRAW);
	assert_int_equal(query(b, 2, 0, &w, &msg), BARRIER_E_DRAW);
	assert_int_equal(barrier_winners(b, 1, &docs, &count), BARRIER_E_DRAW);
	assert_null(docs);
	assert_int_equal(count, 0);
	assert_int_equal(query(b, 3, 0, &w, &msg), BARRIER_E_AGENCY);
	barrier_free(b);
}

/* The store found rows in bets.csv that are not the ones stored: the failure names the agency. */
static void test_draw_fail_names_agency(void **state)
{
	struct barrier *b = barrier_new(3);
	const barrier_document *docs;
	uint32_t count;

	(void)state;
	assert_non_null(b);
	barrier_draw_fail(b, EBADMSG, 2);
	errno = 0;
	assert_int_equal(barrier_draw(b), -1);
	assert_int_equal(errno, EBADMSG);
	assert_int_equal(barrier_draw_mismatch(b), 2);
	assert_int_equal(barrier_winners(b, 1, &docs, &count), BARRIER_E_DRAW);
	barrier_free(b);
}

/* Room made first, the winners added after their rows are written need no memory (store.c
 * aborts if one cannot be added): the list does not move while they are added. */
static void test_winners_reserve(void **state)
{
	enum { MORE = 1000 };
	struct barrier *b = barrier_new(2);
	const barrier_document *before, *after;
	char document[BET_DOCUMENT_MAX + 1];
	uint32_t count;

	(void)state;
	assert_non_null(b);
	assert_int_equal(barrier_winners_reserve(b, 1, 0), 0);
	assert_int_equal(barrier_winners_reserve(b, 3, MORE), 0); /* not in the draw: ignored */
	assert_int_equal(barrier_winners_reserve(b, 0, MORE), 0);
	assert_int_equal(barrier_winners_reserve(b, 1, MORE), 0);
	assert_int_equal(barrier_winner_count(b, 1), 0);
	assert_int_equal(barrier_winner_add(b, 1, "1", 1), 0);
	assert_int_equal(barrier_draw(b), 0);
	assert_int_equal(barrier_winners(b, 1, &before, &count), BARRIER_OK);
	assert_int_equal(count, 1);
	for (uint32_t i = 1; i < MORE; i++) {
		snprintf(document, sizeof(document), "%u", (unsigned)i + 1);
		assert_int_equal(barrier_winner_add(b, 1, document, strlen(document)), 0);
	}
	assert_int_equal(barrier_winners(b, 1, &after, &count), BARRIER_OK);
	assert_int_equal(count, MORE);
	assert_ptr_equal(after, before);
	for (uint32_t i = 0; i < MORE; i++) {
		snprintf(document, sizeof(document), "%u", (unsigned)i + 1);
		assert_string_equal(after[i], document);
	}
	/* Reserving what is already there allocates nothing either. */
	assert_int_equal(barrier_winners_reserve(b, 1, 0), 0);
	assert_int_equal(barrier_winners(b, 1, &after, &count), BARRIER_OK);
	assert_ptr_equal(after, before);
	/* Another agency's list is its own. */
	assert_int_equal(barrier_winners_reserve(b, 2, 3), 0);
	assert_int_equal(barrier_winner_count(b, 2), 0);
	barrier_free(b);
}

/* A document is kept as given, by its length (not a C string: the bytes of a frame), and
 * never past the slot: one longer than BET_DOCUMENT_MAX is cut to it. */
static void test_winner_add_by_length(void **state)
{
	struct barrier *b = barrier_new(1);
	const barrier_document *docs;
	uint32_t count;

	(void)state;
	assert_non_null(b);
	assert_int_equal(barrier_winner_add(b, 1, "123456", 3), 0);
	assert_int_equal(barrier_winner_add(b, 1, "123456789012", 12), 0);
	assert_int_equal(barrier_winner_add(b, 1, "9", 1), 0);
	assert_int_equal(barrier_draw(b), 0);
	assert_int_equal(barrier_winners(b, 1, &docs, &count), BARRIER_OK);
	assert_int_equal(count, 3);
	assert_string_equal(docs[0], "123");
	assert_string_equal(docs[1], "1234567890");
	assert_string_equal(docs[2], "9");
	barrier_free(b);
}

/* DONE's digest is checked against the bets stored for the agency, in order. */
static void test_digest_check(void **state)
{
	struct bet bets[2] = {make_bet(1, "11", 5), make_bet(1, "12", 6)};
	struct barrier *b = barrier_new(2);
	uint8_t want[DIGEST_SIZE], empty[DIGEST_SIZE], swapped[DIGEST_SIZE];
	struct digest d;

	(void)state;
	assert_non_null(b);
	digest_init(&d);
	digest_value(&d, empty);
	assert_int_equal(barrier_digest_check(b, 2, empty), BARRIER_OK); /* sent nothing */
	for (int i = 0; i < 2; i++) {
		barrier_digest_bet(b, &bets[i]);
		digest_add_bet(&d, &bets[i]);
	}
	digest_value(&d, want);
	assert_int_equal(barrier_digest_check(b, 1, want), BARRIER_OK);
	assert_int_equal(barrier_digest_check(b, 1, empty), BARRIER_E_DIGEST);
	assert_int_equal(barrier_digest_check(b, 2, want), BARRIER_E_DIGEST);
	assert_int_equal(barrier_digest_check(b, 3, want), BARRIER_E_AGENCY);
	/* the same bets in another order are not the same stream */
	digest_init(&d);
	digest_add_bet(&d, &bets[1]);
	digest_add_bet(&d, &bets[0]);
	digest_value(&d, swapped);
	assert_int_equal(barrier_digest_check(b, 1, swapped), BARRIER_E_DIGEST);
	want[31] ^= 1;
	assert_int_equal(barrier_digest_check(b, 1, want), BARRIER_E_DIGEST);
	barrier_free(b);
}

/* The store hashes a request's bets as they travelled (the cursor's bytes, in one update): the
 * agency's digest is then the one its client computed bet by bet (digest_add_bet), and two
 * requests follow each other in the stream as their bets do. */
static void test_digest_bytes(void **state)
{
	struct bet bets[3] = {make_bet(1, "11", 5), make_bet(1, "12", LOTTERY_WINNER_NUMBER),
	                      make_bet(1, "1234567890", 0)};
	struct fixture_frame *frame = calloc(1, sizeof(*frame));
	struct barrier *b = barrier_new(2), *split = barrier_new(2);
	uint8_t want[DIGEST_SIZE], empty[DIGEST_SIZE];
	const struct proto_cursor *c;
	struct digest d;

	(void)state;
	assert_non_null(frame);
	assert_non_null(b);
	assert_non_null(split);
	digest_init(&d);
	digest_value(&d, empty);
	for (int i = 0; i < 3; i++)
		digest_add_bet(&d, &bets[i]);
	digest_value(&d, want);

	c = fixture_cursor(frame, 1, bets, 3);
	barrier_digest_bytes(b, 1, c->p, c->left);
	assert_int_equal(barrier_digest_check(b, 1, want), BARRIER_OK);
	assert_int_equal(barrier_digest_check(b, 2, empty), BARRIER_OK); /* not another's */
	barrier_digest_bytes(b, 3, c->p, c->left); /* not in the draw: ignored */
	barrier_digest_bytes(b, 0, c->p, c->left);
	assert_int_equal(barrier_digest_check(b, 1, want), BARRIER_OK);
	assert_int_equal(barrier_digest_check(b, 2, empty), BARRIER_OK);

	c = fixture_cursor(frame, 1, bets, 1);
	barrier_digest_bytes(split, 1, c->p, c->left);
	assert_int_equal(barrier_digest_check(split, 1, want), BARRIER_E_DIGEST);
	c = fixture_cursor(frame, 1, bets + 1, 2);
	barrier_digest_bytes(split, 1, c->p, c->left);
	assert_int_equal(barrier_digest_check(split, 1, want), BARRIER_OK);
	/* and bet by bet, as recovery rebuilds it from bets.csv */
	barrier_free(split);
	split = barrier_new(2);
	assert_non_null(split);
	for (int i = 0; i < 3; i++)
		barrier_digest_bet(split, &bets[i]);
	assert_int_equal(barrier_digest_check(split, 1, want), BARRIER_OK);
	barrier_free(split);
	barrier_free(b);
	free(frame);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sequence),
		cmocka_unit_test(test_repeat_digest),
		cmocka_unit_test(test_unknown_agency),
		cmocka_unit_test(test_done_counted_once),
		cmocka_unit_test(test_total_mismatch),
		cmocka_unit_test(test_query_held_until_draw),
		cmocka_unit_test(test_winners_per_agency_in_order),
		cmocka_unit_test(test_paging),
		cmocka_unit_test(test_draw_runs_once),
		cmocka_unit_test(test_draw_fail),
		cmocka_unit_test(test_draw_fail_names_agency),
		cmocka_unit_test(test_winners_reserve),
		cmocka_unit_test(test_winner_add_by_length),
		cmocka_unit_test(test_digest_check),
		cmocka_unit_test(test_digest_bytes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
