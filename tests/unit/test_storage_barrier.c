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
#include "../../storage/ledger.h"
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
	struct bet bet;

	(void)state;
	assert_non_null(b);
	assert_int_equal(query(b, 1, 0, &w, &msg), BARRIER_E_PENDING);
	assert_int_equal(barrier_done(b, 1, 0, &draw_now), 0);
	/* One agency done is not enough. */
	assert_int_equal(query(b, 1, 0, &w, &msg), BARRIER_E_PENDING);
	assert_false(barrier_drawn(b));
	assert_int_equal(barrier_done(b, 2, 0, &draw_now), 0);
	assert_true(draw_now);

	bet = make_bet(1, "123", LOTTERY_WINNER_NUMBER);
	assert_int_equal(barrier_draw_bet(b, &bet), 0);
	barrier_draw_finish(b, true);
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

static void test_winners_per_agency_in_order(void **state)
{
	static const struct {
		uint32_t agency;
		const char *document;
		uint16_t number;
	} bets[] = {
		{2, "200", LOTTERY_WINNER_NUMBER}, {1, "100", 1},
		{1, "101", LOTTERY_WINNER_NUMBER}, {3, "300", LOTTERY_WINNER_NUMBER},
		{2, "201", 7575},                  {1, "102", LOTTERY_WINNER_NUMBER},
		{2, "202", LOTTERY_WINNER_NUMBER}, {1, "103", 0},
	};
	static const char *const expected[4][3] = {
		{NULL}, {"101", "102", NULL}, {"200", "202", NULL}, {"300", NULL},
	};
	struct barrier *b = barrier_new(3);
	char document[BET_DOCUMENT_MAX + 1];
	struct proto_writer w;
	struct proto_msg msg;

	(void)state;
	assert_non_null(b);
	for (size_t i = 0; i < sizeof(bets) / sizeof(bets[0]); i++) {
		struct bet bet = make_bet(bets[i].agency, bets[i].document, bets[i].number);

		assert_int_equal(barrier_draw_bet(b, &bet), 0);
	}
	barrier_draw_finish(b, true);
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
		struct bet bet;

		snprintf(want, sizeof(want), "%010u", (unsigned)(1000000000u + i));
		bet = make_bet(1, want, LOTTERY_WINNER_NUMBER);
		assert_int_equal(barrier_draw_bet(b, &bet), 0);
	}
	barrier_draw_finish(b, true);
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

/* The draw over a real ledger; and a draw that cannot read the file answers STORAGE. */
static void test_draw_from_ledger(void **state)
{
	char dir[] = "/tmp/tp0-barrier-XXXXXX", path[64];
	struct bet bets[3] = {
		make_bet(1, "11", LOTTERY_WINNER_NUMBER),
		make_bet(2, "22", 5),
		make_bet(2, "23", LOTTERY_WINNER_NUMBER),
	};
	struct barrier *b = barrier_new(2), *broken = barrier_new(1);
	struct ledger *ledger;
	struct proto_writer w;
	struct proto_msg msg;

	(void)state;
	assert_non_null(b);
	assert_non_null(broken);
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/bets.csv", dir);
	assert_int_equal(ledger_open(&ledger, path), 0);
	assert_int_equal(ledger_store_bets(ledger, bets, 3, NULL), 0);
	for (int i = 0; i < 3; i++)
		barrier_digest_bet(b, &bets[i]); /* as the store does for what it stores */
	assert_int_equal(barrier_draw(b, ledger), 0);
	assert_int_equal(barrier_draw(b, ledger), 0); /* once: the second call is a no-op */
	assert_int_equal(barrier_winner_count(b, 1), 1);
	assert_int_equal(barrier_winner_count(b, 2), 1);

	assert_int_equal(unlink(path), 0);
	assert_int_equal(barrier_draw(broken, ledger), -1);
	assert_int_equal(errno, ENOENT);
	assert_true(barrier_drawn(broken));
	assert_int_equal(query(broken, 1, 0, &w, &msg), BARRIER_E_DRAW);

	assert_int_equal(ledger_close(ledger), 0);
	assert_int_equal(rmdir(dir), 0);
	barrier_free(broken);
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

/* The draw's pass over bets.csv finds a row that is not what was stored: no draw, and the
 * agency named. */
static void test_draw_checks_the_file(void **state)
{
	char dir[] = "/tmp/tp0-barrier-XXXXXX", path[64];
	struct bet stored[2] = {make_bet(1, "11", LOTTERY_WINNER_NUMBER), make_bet(2, "22", 5)};
	struct bet altered = make_bet(2, "23", 5);
	struct barrier *b = barrier_new(2);
	const barrier_document *docs;
	struct ledger *ledger;
	uint32_t count;

	(void)state;
	assert_non_null(b);
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/bets.csv", dir);
	assert_int_equal(ledger_open(&ledger, path), 0);
	for (int i = 0; i < 2; i++)
		barrier_digest_bet(b, &stored[i]);
	/* what the file holds: agency 2's bet is another one */
	assert_int_equal(ledger_store_bets(ledger, &stored[0], 1, NULL), 0);
	assert_int_equal(ledger_store_bets(ledger, &altered, 1, NULL), 0);
	errno = 0;
	assert_int_equal(barrier_draw(b, ledger), -1);
	assert_int_equal(errno, EBADMSG);
	assert_int_equal(barrier_draw_mismatch(b), 2);
	assert_int_equal(barrier_winners(b, 1, &docs, &count), BARRIER_E_DRAW);
	assert_int_equal(ledger_close(ledger), 0);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0);
	barrier_free(b);
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
		cmocka_unit_test(test_draw_from_ledger),
		cmocka_unit_test(test_digest_check),
		cmocka_unit_test(test_draw_checks_the_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
