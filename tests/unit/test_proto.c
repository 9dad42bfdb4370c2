/* Unit tests of lib/proto: header checks, round trips of every type, strict decoding, and the
 * writers' room checks (batches and winners pages). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "bet_fixture.h"

#include <stdio.h>
#include <string.h>

#include "proto.h"

/* ------------------------------------------------------------------------------------------- */
/* helpers */

static struct bet make_bet(uint32_t agency, const char *first, const char *last,
                           const char *document, const char *birthdate, uint16_t number)
{
	return fixture_bet(agency, first, last, document, birthdate, number);
}

/* A bet of PROTO_BET_SIZE_MAX bytes on the wire. */
static struct bet largest_bet(uint16_t number)
{
	struct bet b = make_bet(1, "", "", "1234567890", "1999-12-31", number);

	memset(b.first_name, 'F', BET_NAME_MAX);
	memset(b.last_name, 'L', BET_NAME_MAX);
	return b;
}

/* Checks the frame's header and decodes its payload. */
static int decode_frame(const struct proto_writer *w, struct proto_msg *msg)
{
	struct proto_header h;

	assert_true(w->len >= PROTO_HEADER_SIZE);
	assert_true(w->len <= PROTO_FRAME_MAX);
	assert_int_equal(proto_header_decode(w->buf, &h), PROTO_E_NONE);
	assert_int_equal(h.length, w->len - PROTO_HEADER_SIZE);
	return proto_decode(h.type, w->buf + PROTO_HEADER_SIZE, h.length, msg);
}

/* A payload assembled by hand, for the malformed cases. */
struct bytes {
	uint8_t b[PROTO_FRAME_MAX];
	size_t n;
};

static void add_u8(struct bytes *p, unsigned v)
{
	p->b[p->n++] = (uint8_t)v;
}

static void add_u16(struct bytes *p, unsigned v)
{
	add_u8(p, v >> 8);
	add_u8(p, v & 0xFF);
}

static void add_u32(struct bytes *p, uint32_t v)
{
	add_u16(p, v >> 16);
	add_u16(p, v & 0xFFFF);
}

static void add_str(struct bytes *p, const char *s)
{
	size_t len = strlen(s);

	add_u8(p, (unsigned)len);
	memcpy(p->b + p->n, s, len);
	p->n += len;
}

static void add_bet(struct bytes *p, const char *document, const char *birthdate)
{
	add_str(p, "Ana");
	add_str(p, "Pérez");
	add_str(p, document);
	add_str(p, birthdate);
	add_u16(p, 1234);
}

static void assert_writer_equal(const struct proto_writer *a, const struct proto_writer *b)
{
	assert_int_equal(a->len, b->len);
	assert_int_equal(a->count_at, b->count_at);
	assert_int_equal(a->count, b->count);
	assert_memory_equal(a->buf, b->buf, sizeof(a->buf));
}

static int decode_bytes(uint8_t type, const struct bytes *p)
{
	struct proto_msg msg;

	return proto_decode(type, p->b, p->n, &msg);
}

/* ------------------------------------------------------------------------------------------- */
/* constants and header */

static void test_constants(void **state)
{
	(void)state;
	assert_int_equal(PROTO_BET_SIZE_MAX, 536);
	assert_int_equal(PROTO_BATCH_FIT, 15);
	assert_int_equal(PROTO_PAYLOAD_MAX, 8184);
	assert_int_equal(PROTO_BATCH_LIMIT, 430);
	assert_int_equal(PROTO_BATCH_DEFAULT, PROTO_BATCH_LIMIT);
}

static void test_header_good(void **state)
{
	(void)state;
	const uint8_t raw[PROTO_HEADER_SIZE] = { 0xFE, 1, PROTO_BATCH, 0, 0, 0, 0x01, 0x02 };
	struct proto_header h;

	assert_int_equal(proto_header_decode(raw, &h), PROTO_E_NONE);
	assert_int_equal(h.type, PROTO_BATCH);
	assert_int_equal(h.length, 0x0102);
}

static void test_header_errors(void **state)
{
	(void)state;
	struct proto_header h;
	uint8_t raw[PROTO_HEADER_SIZE] = { 0xFE, 1, PROTO_ACK, 0, 0, 0, 0, 8 };

	raw[0] = 'H';
	assert_int_equal(proto_header_decode(raw, &h), PROTO_E_BAD_MAGIC);
	raw[0] = 0xFE;
	raw[1] = 2;
	assert_int_equal(proto_header_decode(raw, &h), PROTO_E_VERSION);
	raw[1] = 0;
	assert_int_equal(proto_header_decode(raw, &h), PROTO_E_VERSION);
	raw[1] = 1;
	raw[3] = 1;
	assert_int_equal(proto_header_decode(raw, &h), PROTO_E_MALFORMED);
	raw[3] = 0;

	const uint8_t unknown[] = { 0x00, 0x07, 0x7F, 0x80, 0x86, 0xFF };
	for (size_t i = 0; i < sizeof(unknown); i++) {
		raw[2] = unknown[i];
		assert_int_equal(proto_header_decode(raw, &h), PROTO_E_TYPE);
	}
	raw[2] = PROTO_ACK;

	/* Length: PROTO_PAYLOAD_MAX is fine, one more is too large, and so is 0xFFFFFFFF. */
	raw[4] = 0;
	raw[5] = 0;
	raw[6] = PROTO_PAYLOAD_MAX >> 8;
	raw[7] = PROTO_PAYLOAD_MAX & 0xFF;
	assert_int_equal(proto_header_decode(raw, &h), PROTO_E_NONE);
	raw[7]++;
	assert_int_equal(proto_header_decode(raw, &h), PROTO_E_TOO_LARGE);
	assert_int_equal(h.length, PROTO_PAYLOAD_MAX + 1);
	memset(raw + 4, 0xFF, 4);
	assert_int_equal(proto_header_decode(raw, &h), PROTO_E_TOO_LARGE);
}

static void test_names_and_texts(void **state)
{
	(void)state;
	assert_string_equal(proto_type_name(PROTO_BATCH), "BATCH");
	assert_string_equal(proto_type_name(PROTO_WINNERS_QUERY), "WINNERS_QUERY");
	assert_string_equal(proto_type_name(0x55), "UNKNOWN");
	assert_string_equal(proto_error_text(PROTO_E_VERSION), "unsupported version");
	for (int code = PROTO_E_NONE; code <= PROTO_E_BAD_MAGIC; code++)
		assert_null(strchr(proto_error_text(code), '|'));
	assert_non_null(proto_error_text(200));
}

/* ------------------------------------------------------------------------------------------- */
/* round trips */

static void test_round_trip_bet(void **state)
{
	(void)state;
	static struct proto_writer w;
	struct proto_msg msg;
	struct bet b = make_bet(4, "José María", "Ñandú", "30904465", "1999-03-17", 7574);

	proto_encode_bet(&w, &b);
	assert_int_equal(w.buf[0], PROTO_MAGIC);
	assert_int_equal(w.buf[2], PROTO_BET);
	assert_int_equal(decode_frame(&w, &msg), PROTO_E_NONE);
	assert_int_equal(msg.type, PROTO_BET);
	assert_int_equal(msg.u.bet.agency, 4);
	assert_bet_equal(&msg.u.bet.bet, &b);

	/* The largest bet also fits a BET frame. */
	b = largest_bet(9999);
	b.agency = 9999;
	proto_encode_bet(&w, &b);
	assert_int_equal(w.len, PROTO_HEADER_SIZE + 4 + PROTO_BET_SIZE_MAX);
	assert_int_equal(decode_frame(&w, &msg), PROTO_E_NONE);
	assert_bet_equal(&msg.u.bet.bet, &b);
}

static void test_round_trip_batch(void **state)
{
	(void)state;
	static struct proto_writer w;
	struct proto_msg msg;
	struct bet bets[3] = {
		make_bet(2, "A", "B", "1", "2000-02-29", 0),
		make_bet(2, "Ana, \"la\" de|arriba", "O'Neil", "1234567890", "1950-01-01", 9999),
		make_bet(2, "李", "😀", "42", "1980-10-10", 7574),
	};
	struct bet got;

	proto_begin_batch(&w, 2, 77);
	for (int i = 0; i < 3; i++)
		assert_int_equal(proto_add_batch_bet(&w, &bets[i]), 0);
	proto_finish(&w);
	assert_int_equal(decode_frame(&w, &msg), PROTO_E_NONE);
	assert_int_equal(msg.type, PROTO_BATCH);
	assert_int_equal(msg.u.batch.agency, 2);
	assert_int_equal(msg.u.batch.seq, 77);
	assert_int_equal(msg.u.batch.count, 3);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(proto_next_bet(&msg.u.batch.bets, 2, &got), 1);
		assert_bet_equal(&got, &bets[i]);
	}
	assert_int_equal(proto_next_bet(&msg.u.batch.bets, 2, &got), 0);
	assert_int_equal(proto_next_bet(&msg.u.batch.bets, 2, &got), 0);

	/* An empty batch is well formed. */
	proto_begin_batch(&w, 1, 0);
	assert_int_equal(proto_finish(&w), PROTO_HEADER_SIZE + PROTO_BATCH_HEADER_SIZE);
	assert_int_equal(decode_frame(&w, &msg), PROTO_E_NONE);
	assert_int_equal(msg.u.batch.count, 0);
	assert_int_equal(proto_next_bet(&msg.u.batch.bets, 1, &got), 0);
}

/* The view's field against the bet's C string: the same bytes, the same length. */
static void assert_field(const uint8_t *field, uint8_t len, const char *want)
{
	assert_int_equal(len, strlen(want));
	assert_memory_equal(field, want, len);
}

/* proto_next_bet_view gives each bet where it lies: the same fields, lengths and number as
 * proto_next_bet's copy, its bytes exactly the bet's encoding, and the cursor's bytes
 * [p, p + left) the bets back to back (what storage hashes and formats rows from). */
static void test_next_bet_view(void **state)
{
	(void)state;
	static struct proto_writer w;
	static uint8_t encoded[4 * PROTO_BET_SIZE_MAX];
	struct bet bets[4] = {
		make_bet(2, "A", "B", "1", "2000-02-29", 0),
		make_bet(2, "Ana, \"la\" de|arriba", "O'Neil", "1234567890", "1950-01-01", 9999),
		make_bet(2, "", "😀", "42", "1980-10-10", 7574),
		largest_bet(UINT16_MAX),
	};
	struct proto_cursor copies, views;
	struct proto_bet_view v;
	struct proto_msg msg;
	size_t total = 0;
	struct bet got;

	bets[3].agency = 2;
	proto_begin_batch(&w, 2, 77);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(proto_add_batch_bet(&w, &bets[i]), 0);
		total += proto_bet_encode(&bets[i], encoded + total);
	}
	proto_finish(&w);
	assert_int_equal(decode_frame(&w, &msg), PROTO_E_NONE);
	/* The cursor: the bets' bytes, back to back, right after the batch's header. */
	assert_ptr_equal(msg.u.batch.bets.p, w.buf + PROTO_HEADER_SIZE + PROTO_BATCH_HEADER_SIZE);
	assert_int_equal(msg.u.batch.bets.left, total);
	assert_int_equal(msg.u.batch.bets.left,
	                 w.len - PROTO_HEADER_SIZE - PROTO_BATCH_HEADER_SIZE);
	assert_memory_equal(msg.u.batch.bets.p, encoded, total);
	assert_int_equal(msg.u.batch.bets.remaining, 4);

	copies = views = msg.u.batch.bets;
	total = 0;
	for (int i = 0; i < 4; i++) {
		const uint8_t *at = views.p;
		size_t left = views.left, size = proto_bet_encode(&bets[i], encoded);

		assert_int_equal(proto_next_bet(&copies, 2, &got), 1);
		assert_bet_equal(&got, &bets[i]);
		assert_int_equal(proto_next_bet_view(&views, &v), 1);
		assert_field(v.first_name, v.first_name_len, bets[i].first_name);
		assert_field(v.last_name, v.last_name_len, bets[i].last_name);
		assert_field(v.document, v.document_len, bets[i].document);
		assert_field(v.birthdate, v.birthdate_len, bets[i].birthdate);
		assert_int_equal(v.number, bets[i].number);
		assert_int_equal(v.number, got.number);
		/* Where it lies, not a copy: the bet's bytes in the frame, exactly its encoding. */
		assert_ptr_equal(v.bytes, at);
		assert_int_equal(v.size, size);
		assert_memory_equal(v.bytes, encoded, size);
		assert_ptr_equal(v.first_name, v.bytes + 1);
		assert_ptr_equal(v.last_name, v.first_name + v.first_name_len + 1);
		assert_ptr_equal(v.document, v.last_name + v.last_name_len + 1);
		assert_ptr_equal(v.birthdate, v.document + v.document_len + 1);
		assert_true(v.bytes >= w.buf && v.bytes + v.size <= w.buf + w.len);
		/* Both walks are at the next bet. */
		assert_ptr_equal(views.p, at + size);
		assert_int_equal(views.left, left - size);
		assert_ptr_equal(copies.p, views.p);
		assert_int_equal(copies.left, views.left);
		assert_int_equal(views.remaining, 3 - i);
		assert_int_equal(copies.remaining, views.remaining);
		total += size;
	}
	assert_int_equal(total, msg.u.batch.bets.left);
	assert_int_equal(views.left, 0);
	assert_int_equal(proto_next_bet_view(&views, &v), 0);
	assert_int_equal(proto_next_bet_view(&views, &v), 0);

	/* A BET's raw cursor: the one bet, as a batch's. */
	proto_encode_bet(&w, &bets[1]);
	assert_int_equal(decode_frame(&w, &msg), PROTO_E_NONE);
	views = msg.u.bet.raw;
	assert_ptr_equal(views.p, w.buf + PROTO_HEADER_SIZE + 4);
	assert_int_equal(views.left, proto_bet_encode(&bets[1], encoded));
	assert_int_equal(views.remaining, 1);
	assert_int_equal(proto_next_bet_view(&views, &v), 1);
	assert_ptr_equal(v.bytes, w.buf + PROTO_HEADER_SIZE + 4);
	assert_int_equal(v.size, msg.u.bet.raw.left);
	assert_field(v.first_name, v.first_name_len, bets[1].first_name);
	assert_field(v.document, v.document_len, bets[1].document);
	assert_int_equal(v.number, 9999);
	assert_int_equal(proto_next_bet_view(&views, &v), 0);
	copies = msg.u.bet.raw;
	assert_int_equal(proto_next_bet(&copies, msg.u.bet.agency, &got), 1);
	assert_bet_equal(&got, &msg.u.bet.bet);

	/* A cursor proto_decode did not check, cut inside a bet: ended, not read past. */
	proto_begin_batch(&w, 2, 0);
	assert_int_equal(proto_add_batch_bet(&w, &bets[1]), 0);
	proto_finish(&w);
	views = (struct proto_cursor){.p = w.buf + PROTO_HEADER_SIZE + PROTO_BATCH_HEADER_SIZE,
	                              .left = w.len - PROTO_HEADER_SIZE - PROTO_BATCH_HEADER_SIZE - 1,
	                              .remaining = 1};
	assert_int_equal(proto_next_bet_view(&views, &v), 0);
	assert_int_equal(views.remaining, 0);
	assert_int_equal(proto_next_bet_view(&views, &v), 0);
}

static void test_round_trip_small(void **state)
{
	(void)state;
	static struct proto_writer w;
	struct proto_msg msg;

	uint8_t digest[PROTO_DIGEST_SIZE];

	for (size_t i = 0; i < sizeof(digest); i++)
		digest[i] = (uint8_t)(0xA0 + i);
	proto_encode_done(&w, 5, 123456, digest);
	assert_int_equal(w.len, PROTO_HEADER_SIZE + 8 + PROTO_DIGEST_SIZE);
	assert_int_equal(decode_frame(&w, &msg), PROTO_E_NONE);
	assert_int_equal(msg.type, PROTO_DONE);
	assert_int_equal(msg.u.done.agency, 5);
	assert_int_equal(msg.u.done.total, 123456);
	assert_memory_equal(msg.u.done.digest, digest, PROTO_DIGEST_SIZE);

	proto_encode_query(&w, 3, 0xDEADBEEF);
	assert_int_equal(decode_frame(&w, &msg), PROTO_E_NONE);
	assert_int_equal(msg.type, PROTO_WINNERS_QUERY);
	assert_int_equal(msg.u.query.agency, 3);
	assert_int_equal(msg.u.query.offset, 0xDEADBEEF);

	proto_encode_ack(&w, 9, 15);
	assert_int_equal(decode_frame(&w, &msg), PROTO_E_NONE);
	assert_int_equal(msg.type, PROTO_ACK);
	assert_int_equal(msg.u.ack.seq, 9);
	assert_int_equal(msg.u.ack.count, 15);
	/* Big-endian on the wire. */
	assert_memory_equal(w.buf + PROTO_HEADER_SIZE, "\0\0\0\x09\0\0\0\x0f", 8);
	assert_memory_equal(w.buf, "\xFE\x01\x81\0\0\0\0\x08", 8);
}

static void test_round_trip_reject_error(void **state)
{
	(void)state;
	static struct proto_writer w;
	struct proto_msg msg;

	proto_encode_reject(&w, PROTO_E_INVALID_BET, 12, "invalid document");
	assert_int_equal(decode_frame(&w, &msg), PROTO_E_NONE);
	assert_int_equal(msg.type, PROTO_REJECT);
	assert_int_equal(msg.u.reject.code, PROTO_E_INVALID_BET);
	assert_int_equal(msg.u.reject.index, 12);
	assert_string_equal(msg.u.reject.reason, "invalid document");

	proto_encode_error(&w, PROTO_E_SEQUENCE, "batch out of sequence");
	assert_int_equal(decode_frame(&w, &msg), PROTO_E_NONE);
	assert_int_equal(msg.type, PROTO_ERROR);
	assert_int_equal(msg.u.error.code, PROTO_E_SEQUENCE);
	assert_string_equal(msg.u.error.reason, "batch out of sequence");

	proto_encode_error(&w, PROTO_E_STORAGE, NULL);
	assert_int_equal(decode_frame(&w, &msg), PROTO_E_NONE);
	assert_string_equal(msg.u.error.reason, "");
}

static void test_reply_reason(void **state)
{
	(void)state;
	static struct proto_writer w;
	struct proto_msg msg;
	int code = -1;

	proto_encode_reject(&w, PROTO_E_INVALID_BET, 3, "invalid number");
	assert_int_equal(decode_frame(&w, &msg), PROTO_E_NONE);
	assert_string_equal(proto_reply_reason(&msg, &code), "invalid number");
	assert_int_equal(code, PROTO_E_INVALID_BET);

	/* An empty reason falls back to the code's own text. */
	proto_encode_error(&w, PROTO_E_STORAGE, NULL);
	assert_int_equal(decode_frame(&w, &msg), PROTO_E_NONE);
	assert_string_equal(proto_reply_reason(&msg, &code), proto_error_text(PROTO_E_STORAGE));
	assert_int_equal(code, PROTO_E_STORAGE);

	proto_encode_ack(&w, 1, 2);
	assert_int_equal(decode_frame(&w, &msg), PROTO_E_NONE);
	assert_string_equal(proto_reply_reason(&msg, &code), "unexpected reply ACK");
	assert_int_equal(code, 0);
}

static void test_reason_cut(void **state)
{
	(void)state;
	static struct proto_writer w;
	struct proto_msg msg;
	char reason[400];

	/* Exactly 255 bytes survive whole. */
	memset(reason, 'r', PROTO_REASON_MAX);
	reason[PROTO_REASON_MAX] = '\0';
	proto_encode_error(&w, PROTO_E_STORAGE, reason);
	assert_int_equal(decode_frame(&w, &msg), PROTO_E_NONE);
	assert_int_equal(strlen(msg.u.error.reason), PROTO_REASON_MAX);

	/* 254 bytes then a two-byte character: cutting at 255 would split it, so 254 remain. */
	memset(reason, 'r', 254);
	strcpy(reason + 254, "é and more");
	proto_encode_reject(&w, PROTO_E_INVALID_BET, 0, reason);
	assert_int_equal(decode_frame(&w, &msg), PROTO_E_NONE);
	assert_int_equal(strlen(msg.u.reject.reason), 254);

	/* 253 bytes then a four-byte character: 253 remain. */
	memset(reason, 'r', 253);
	strcpy(reason + 253, "😀😀");
	proto_encode_error(&w, PROTO_E_STORAGE, reason);
	assert_int_equal(decode_frame(&w, &msg), PROTO_E_NONE);
	assert_int_equal(strlen(msg.u.error.reason), 253);

	/* 253 bytes then a two-byte character ending exactly at 255: kept. */
	memset(reason, 'r', 253);
	strcpy(reason + 253, "éxyz");
	proto_encode_error(&w, PROTO_E_STORAGE, reason);
	assert_int_equal(decode_frame(&w, &msg), PROTO_E_NONE);
	assert_int_equal(strlen(msg.u.error.reason), 255);
	assert_memory_equal(msg.u.error.reason + 253, "é", 2);
}

static void test_round_trip_winners(void **state)
{
	(void)state;
	static struct proto_writer w;
	struct proto_msg msg;
	const char *docs[] = { "30904465", "1", "1234567890" };
	char doc[BET_DOCUMENT_MAX + 1];

	proto_begin_winners(&w, 10, 7);
	for (int i = 0; i < 3; i++)
		assert_int_equal(proto_add_winner(&w, docs[i]), 0);
	proto_finish(&w);
	assert_int_equal(decode_frame(&w, &msg), PROTO_E_NONE);
	assert_int_equal(msg.type, PROTO_WINNERS);
	assert_int_equal(msg.u.winners.total, 10);
	assert_int_equal(msg.u.winners.offset, 7);
	assert_int_equal(msg.u.winners.count, 3);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(proto_next_document(&msg.u.winners.documents, doc), 1);
		assert_string_equal(doc, docs[i]);
	}
	assert_int_equal(proto_next_document(&msg.u.winners.documents, doc), 0);

	proto_begin_winners(&w, 0, 0);
	proto_finish(&w);
	assert_int_equal(decode_frame(&w, &msg), PROTO_E_NONE);
	assert_int_equal(msg.u.winners.count, 0);
	assert_int_equal(proto_next_document(&msg.u.winners.documents, doc), 0);
}

/* ------------------------------------------------------------------------------------------- */
/* writers: room */

static void test_largest_bets_fit(void **state)
{
	(void)state;
	static struct proto_writer w, before;
	struct proto_msg msg;
	struct bet got;

	proto_begin_batch(&w, 1, 0);
	for (uint16_t i = 0; i < PROTO_BATCH_FIT; i++) {
		struct bet b = largest_bet(i);

		assert_int_equal(proto_add_batch_bet(&w, &b), 0);
	}
	assert_true(w.len <= PROTO_FRAME_MAX);
	before = w;
	struct bet extra = largest_bet(99);
	assert_int_equal(proto_add_batch_bet(&w, &extra), -1);
	/* Nothing written: the frame is exactly as it was. */
	assert_writer_equal(&w, &before);

	/* A small bet still fits in what is left. */
	struct bet small = make_bet(1, "A", "B", "1", "2000-01-01", 5);
	assert_int_equal(proto_add_batch_bet(&w, &small), 0);

	proto_finish(&w);
	assert_int_equal(decode_frame(&w, &msg), PROTO_E_NONE);
	assert_int_equal(msg.u.batch.count, PROTO_BATCH_FIT + 1);
	for (uint16_t i = 0; i < PROTO_BATCH_FIT; i++) {
		assert_int_equal(proto_next_bet(&msg.u.batch.bets, 1, &got), 1);
		assert_int_equal(got.number, i);
		assert_int_equal(strlen(got.first_name), BET_NAME_MAX);
	}
	assert_int_equal(proto_next_bet(&msg.u.batch.bets, 1, &got), 1);
	assert_bet_equal(&got, &small);
	assert_int_equal(proto_next_bet(&msg.u.batch.bets, 1, &got), 0);
}

/* The frame limit is inclusive: a batch of exactly 8192 bytes is built and decodes; one byte
 * more does not fit. */
static void test_batch_fills_frame_exactly(void **state)
{
	(void)state;
	static struct proto_writer w;
	struct proto_msg msg;
	struct bet last = make_bet(1, "", "", "1", "1999-12-31", 1);
	struct bet small = make_bet(1, "A", "B", "1", "2000-01-01", 5);

	proto_begin_batch(&w, 1, 0);
	for (uint16_t i = 0; i < PROTO_BATCH_FIT; i++) {
		struct bet b = largest_bet(i);

		assert_int_equal(proto_add_batch_bet(&w, &b), 0);
	}
	/* What is left, to the byte: its names take all but the bet's other 17 bytes (four length
	 * bytes, a one-digit document, the date, the number). */
	size_t left = PROTO_FRAME_MAX - w.len, names = left - (4 + 1 + BET_DATE_LEN + 2);

	assert_true(names >= 2 && names - 1 <= BET_NAME_MAX);
	memset(last.first_name, 'F', names - 1);
	last.last_name[0] = 'L';
	assert_int_equal(proto_add_batch_bet(&w, &last), 0);
	assert_int_equal(w.len, PROTO_FRAME_MAX);
	assert_int_equal(proto_add_batch_bet(&w, &small), -1);
	assert_int_equal(proto_finish(&w), PROTO_FRAME_MAX);
	assert_int_equal(decode_frame(&w, &msg), PROTO_E_NONE);
	assert_int_equal(msg.u.batch.count, PROTO_BATCH_FIT + 1);
}

static void test_batch_limit_smallest(void **state)
{
	(void)state;
	static struct proto_writer w;
	struct proto_msg msg;
	struct bet b = make_bet(1, "A", "B", "1", "2000-01-01", 1);
	unsigned n = 0;

	proto_begin_batch(&w, 1, 3);
	while (proto_add_batch_bet(&w, &b) == 0)
		n++;
	assert_int_equal(n, PROTO_BATCH_LIMIT);
	assert_true(w.len <= PROTO_FRAME_MAX);
	proto_finish(&w);
	assert_int_equal(decode_frame(&w, &msg), PROTO_E_NONE);
	assert_int_equal(msg.u.batch.count, PROTO_BATCH_LIMIT);
}

static void test_winners_paging(void **state)
{
	(void)state;
	static struct proto_writer w, before;
	static char all[2000][BET_DOCUMENT_MAX + 1];
	struct proto_msg msg;
	char doc[BET_DOCUMENT_MAX + 1];
	const uint32_t total = 2000;
	uint32_t offset = 0, pages = 0;

	for (uint32_t i = 0; i < total; i++)
		snprintf(all[i], sizeof(all[i]), "%010u", 1000000000u + i);

	/* The storage's loop: fill a page from offset until no more fits, then the client asks
	 * again from where the page ended. */
	while (offset < total) {
		uint32_t i = offset;

		proto_begin_winners(&w, total, offset);
		while (i < total && proto_add_winner(&w, all[i]) == 0)
			i++;
		if (i < total) {
			before = w;
			assert_int_equal(proto_add_winner(&w, all[i]), -1);
			assert_writer_equal(&w, &before);
			/* A full page: the next 11-byte string would pass the frame. */
			assert_true(w.len + 1 + BET_DOCUMENT_MAX > PROTO_FRAME_MAX);
		}
		proto_finish(&w);
		assert_true(w.len <= PROTO_FRAME_MAX);

		assert_int_equal(decode_frame(&w, &msg), PROTO_E_NONE);
		assert_int_equal(msg.u.winners.total, total);
		assert_int_equal(msg.u.winners.offset, offset);
		assert_true(msg.u.winners.count > 0);
		for (uint16_t k = 0; k < msg.u.winners.count; k++) {
			assert_int_equal(proto_next_document(&msg.u.winners.documents, doc), 1);
			assert_string_equal(doc, all[offset + k]);
		}
		assert_int_equal(proto_next_document(&msg.u.winners.documents, doc), 0);
		offset += msg.u.winners.count;
		pages++;
	}
	assert_int_equal(offset, total);
	/* (8192 - 8 - 10) / 11 = 743 documents per page. */
	assert_int_equal(pages, (total + 742) / 743);
}

/* ------------------------------------------------------------------------------------------- */
/* strict decoding */

static void test_decode_unknown_type(void **state)
{
	(void)state;
	struct bytes p = { .n = 0 };

	add_u32(&p, 1);
	add_u32(&p, 2);
	assert_int_equal(decode_bytes(0x07, &p), PROTO_E_TYPE);
	assert_int_equal(decode_bytes(0x00, &p), PROTO_E_TYPE);
	assert_int_equal(decode_bytes(0xFF, &p), PROTO_E_TYPE);
	assert_int_equal(decode_bytes(PROTO_WINNERS_QUERY, &p), PROTO_E_NONE);
}

static void test_decode_fixed_sizes(void **state)
{
	(void)state;
	const uint8_t types[] = { PROTO_WINNERS_QUERY, PROTO_ACK };
	struct bytes p = { .n = 0 };

	add_u32(&p, 1);
	add_u32(&p, 2);
	add_u8(&p, 0);
	for (size_t t = 0; t < sizeof(types); t++) {
		p.n = 9; /* one trailing byte */
		assert_int_equal(decode_bytes(types[t], &p), PROTO_E_MALFORMED);
		p.n = 7; /* one short */
		assert_int_equal(decode_bytes(types[t], &p), PROTO_E_MALFORMED);
		p.n = 0;
		assert_int_equal(decode_bytes(types[t], &p), PROTO_E_MALFORMED);
		p.n = 8;
		assert_int_equal(decode_bytes(types[t], &p), PROTO_E_NONE);
	}
	/* DONE: agency, total and the 32-byte digest, exactly */
	p.n = 0;
	add_u32(&p, 1);
	add_u32(&p, 2);
	for (int i = 0; i < PROTO_DIGEST_SIZE; i++)
		add_u8(&p, (uint8_t)i);
	assert_int_equal(decode_bytes(PROTO_DONE, &p), PROTO_E_NONE);
	p.n = 8 + PROTO_DIGEST_SIZE - 1;
	assert_int_equal(decode_bytes(PROTO_DONE, &p), PROTO_E_MALFORMED);
	p.n = 8;
	assert_int_equal(decode_bytes(PROTO_DONE, &p), PROTO_E_MALFORMED);
	add_u8(&p, 0);
	p.n = 8 + PROTO_DIGEST_SIZE + 1;
	assert_int_equal(decode_bytes(PROTO_DONE, &p), PROTO_E_MALFORMED);
}

static void test_decode_batch_count_mismatch(void **state)
{
	(void)state;
	struct bytes p = { .n = 0 };

	add_u32(&p, 1);
	add_u32(&p, 0);
	add_u16(&p, 2);
	add_bet(&p, "123", "2000-01-01");
	add_bet(&p, "456", "2000-01-01");
	assert_int_equal(decode_bytes(PROTO_BATCH, &p), PROTO_E_NONE);

	/* The count says three: the third runs past the end. */
	p.b[9] = 3;
	assert_int_equal(decode_bytes(PROTO_BATCH, &p), PROTO_E_MALFORMED);
	/* The count says one: the second bet is trailing bytes. */
	p.b[9] = 1;
	assert_int_equal(decode_bytes(PROTO_BATCH, &p), PROTO_E_MALFORMED);
	p.b[9] = 0;
	assert_int_equal(decode_bytes(PROTO_BATCH, &p), PROTO_E_MALFORMED);
	/* One trailing byte after a correct count. */
	p.b[9] = 2;
	add_u8(&p, 0);
	assert_int_equal(decode_bytes(PROTO_BATCH, &p), PROTO_E_MALFORMED);
}

static void test_decode_truncated_everywhere(void **state)
{
	(void)state;
	static struct proto_writer frames[5];
	struct proto_msg msg;
	struct bet b = make_bet(1, "Ana", "Pérez", "30904465", "1999-03-17", 7574);

	proto_begin_batch(&frames[0], 1, 0);
	assert_int_equal(proto_add_batch_bet(&frames[0], &b), 0);
	assert_int_equal(proto_add_batch_bet(&frames[0], &b), 0);
	proto_finish(&frames[0]);
	proto_encode_bet(&frames[1], &b);
	proto_encode_reject(&frames[2], PROTO_E_INVALID_BET, 1, "invalid birthdate");
	proto_encode_error(&frames[3], PROTO_E_TOTAL, "total does not match");
	proto_begin_winners(&frames[4], 3, 1);
	assert_int_equal(proto_add_winner(&frames[4], "123"), 0);
	assert_int_equal(proto_add_winner(&frames[4], "4567890"), 0);
	proto_finish(&frames[4]);

	/* Every shorter payload (copied so ASan sees any read past it) is malformed. */
	for (size_t f = 0; f < 5; f++) {
		const struct proto_writer *w = &frames[f];
		size_t full = w->len - PROTO_HEADER_SIZE;

		assert_int_equal(decode_frame(w, &msg), PROTO_E_NONE);
		for (size_t len = 0; len < full; len++) {
			uint8_t *copy = test_malloc(len + 1);

			memcpy(copy, w->buf + PROTO_HEADER_SIZE, len);
			assert_int_equal(proto_decode(w->buf[2], copy, len, &msg), PROTO_E_MALFORMED);
			test_free(copy);
		}
	}
}

static void test_decode_string_past_end(void **state)
{
	(void)state;
	struct bytes p = { .n = 0 };

	add_u32(&p, 1);
	add_str(&p, "Ana");
	add_u8(&p, 200); /* last name: 200 bytes announced, 3 present */
	memcpy(p.b + p.n, "abc", 3);
	p.n += 3;
	assert_int_equal(decode_bytes(PROTO_BET, &p), PROTO_E_MALFORMED);

	p.n = 0;
	add_u8(&p, PROTO_E_STORAGE);
	add_u8(&p, 10);
	memcpy(p.b + p.n, "short", 5);
	p.n += 5;
	assert_int_equal(decode_bytes(PROTO_ERROR, &p), PROTO_E_MALFORMED);

	p.n = 0;
	add_u8(&p, PROTO_E_INVALID_BET);
	add_u16(&p, 0);
	assert_int_equal(decode_bytes(PROTO_REJECT, &p), PROTO_E_MALFORMED); /* no reason byte */
	add_str(&p, "why");
	assert_int_equal(decode_bytes(PROTO_REJECT, &p), PROTO_E_NONE);
	add_u8(&p, 0);
	assert_int_equal(decode_bytes(PROTO_REJECT, &p), PROTO_E_MALFORMED);
}

static void test_decode_field_too_long(void **state)
{
	(void)state;
	struct bytes p = { .n = 0 };

	/* An 11-digit document does not fit struct bet: malformed, not cut. */
	add_u32(&p, 1);
	add_bet(&p, "12345678901", "2000-01-01");
	assert_int_equal(decode_bytes(PROTO_BET, &p), PROTO_E_MALFORMED);

	p.n = 0;
	add_u32(&p, 1);
	add_bet(&p, "1", "2000-01-011");
	assert_int_equal(decode_bytes(PROTO_BET, &p), PROTO_E_MALFORMED);

	p.n = 0;
	add_u32(&p, 1);
	add_u32(&p, 0);
	add_u16(&p, 2);
	add_bet(&p, "1", "2000-01-01");
	add_bet(&p, "12345678901", "2000-01-01");
	assert_int_equal(decode_bytes(PROTO_BATCH, &p), PROTO_E_MALFORMED);

	p.n = 0;
	add_u32(&p, 2);
	add_u32(&p, 0);
	add_u16(&p, 2);
	add_str(&p, "1234567890");
	add_str(&p, "12345678901");
	assert_int_equal(decode_bytes(PROTO_WINNERS, &p), PROTO_E_MALFORMED);
	p.b[9] = 1;
	p.n -= 12;
	assert_int_equal(decode_bytes(PROTO_WINNERS, &p), PROTO_E_NONE);
}

/* A string given with its length, that is, with bytes a C string cannot hold. */
static void add_raw(struct bytes *p, const char *s, size_t len)
{
	add_u8(p, (unsigned)len);
	memcpy(p->b + p->n, s, len);
	p->n += len;
}

/* A NUL inside a string neither cuts the value ("Ju\0an" read as "Ju") nor passes validation:
 * the bet is refused, whichever field carries it. */
static void test_decode_nul_inside_string(void **state)
{
	static const struct {
		const char *first, *last, *document;
		size_t first_len, last_len, document_len;
	} cases[] = {
		{"Ju\0an", "Perez", "123", 5, 5, 3},
		{"Juan", "P\xc3\xa9\0rez", "123", 4, 7, 3},
		{"Juan", "Perez", "123\0", 4, 5, 4},
	};
	struct bet_date today = {2026, 1, 1};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct bytes p = {.n = 0};
		struct proto_msg msg;

		add_u32(&p, 1);
		add_raw(&p, cases[i].first, cases[i].first_len);
		add_raw(&p, cases[i].last, cases[i].last_len);
		add_raw(&p, cases[i].document, cases[i].document_len);
		add_str(&p, "1990-01-02");
		add_u16(&p, 7574);
		assert_int_equal(proto_decode(PROTO_BET, p.b, p.n, &msg), PROTO_E_NONE);
		assert_int_equal(strlen(msg.u.bet.bet.first_name), cases[i].first_len);
		assert_int_equal(strlen(msg.u.bet.bet.last_name), cases[i].last_len);
		assert_int_equal(strlen(msg.u.bet.bet.document), cases[i].document_len);
		assert_int_not_equal(bet_validate(&msg.u.bet.bet, 5, &today), BET_OK);

		/* Where it lies (the worker's check): the NUL is there, and refused. */
		struct proto_cursor raw = msg.u.bet.raw;
		struct proto_bet_view v;

		assert_int_equal(proto_next_bet_view(&raw, &v), 1);
		assert_int_equal(v.first_name_len, cases[i].first_len);
		assert_int_equal(v.last_name_len, cases[i].last_len);
		assert_int_equal(v.document_len, cases[i].document_len);
		assert_memory_equal(v.first_name, cases[i].first, cases[i].first_len);
		assert_memory_equal(v.last_name, cases[i].last, cases[i].last_len);
		assert_memory_equal(v.document, cases[i].document, cases[i].document_len);
		const struct bet_fields f = {
			.agency = 1,
			.first_name = (const char *)v.first_name, .first_name_len = v.first_name_len,
			.last_name = (const char *)v.last_name, .last_name_len = v.last_name_len,
			.document = (const char *)v.document, .document_len = v.document_len,
			.birthdate = (const char *)v.birthdate, .birthdate_len = v.birthdate_len,
			.number = v.number,
		};
		assert_int_not_equal(bet_validate_fields(&f, 5, &today), BET_OK);
	}
}

static void test_decode_winners_count_mismatch(void **state)
{
	(void)state;
	struct bytes p = { .n = 0 };

	add_u32(&p, 5);
	add_u32(&p, 0);
	add_u16(&p, 2);
	add_str(&p, "1");
	add_str(&p, "2");
	assert_int_equal(decode_bytes(PROTO_WINNERS, &p), PROTO_E_NONE);
	p.b[9] = 3;
	assert_int_equal(decode_bytes(PROTO_WINNERS, &p), PROTO_E_MALFORMED);
	p.b[9] = 1;
	assert_int_equal(decode_bytes(PROTO_WINNERS, &p), PROTO_E_MALFORMED);
}

static void test_decode_oversize_payload(void **state)
{
	(void)state;
	static uint8_t big[PROTO_FRAME_MAX];
	struct proto_msg msg;

	assert_int_equal(proto_decode(PROTO_BATCH, big, PROTO_PAYLOAD_MAX + 1, &msg),
	                 PROTO_E_MALFORMED);
}

/* Appends one bet as it travels, its fields given as they are (no limit applied). */
static size_t put_raw_bet(uint8_t *out, const char *const fields[4], uint16_t number)
{
	size_t at = 0;

	for (int f = 0; f < 4; f++) {
		size_t len = strlen(fields[f]);

		out[at++] = (uint8_t)len;
		memcpy(out + at, fields[f], len);
		at += len;
	}
	out[at++] = (uint8_t)(number >> 8);
	out[at++] = (uint8_t)number;
	return at;
}

/* A bet far from the payload's end is read without a bounds check a field (the fast path), but
 * a document or birthdate one byte longer than its slot is still malformed there: the first of
 * forty well-formed bets, each field with its true length. */
static void test_fast_path_keeps_the_limits(void **state)
{
	(void)state;
	static const char *const good[4] = {"Ana", "Paz", "123", "1990-01-01"};
	static const char *const long_document[4] = {"Ana", "Paz", "12345678901", "1990-01-01"};
	static const char *const long_date[4] = {"Ana", "Paz", "123", "1990-01-011"};
	const char *const *first[] = {good, long_document, long_date};
	const int want[] = {PROTO_E_NONE, PROTO_E_MALFORMED, PROTO_E_MALFORMED};
	static uint8_t payload[PROTO_PAYLOAD_MAX];
	struct proto_msg msg;

	for (int c = 0; c < 3; c++) {
		size_t len = 0;

		memset(payload, 0, 8); /* agency 1, seq 0 */
		payload[3] = 1;
		payload[8] = 0;
		payload[9] = 40;
		len = PROTO_BATCH_HEADER_SIZE;
		len += put_raw_bet(payload + len, first[c], 7);
		for (int i = 1; i < 40; i++)
			len += put_raw_bet(payload + len, good, 7);
		assert_true(len - PROTO_BATCH_HEADER_SIZE >= PROTO_BET_SIZE_MAX);
		assert_int_equal(proto_decode(PROTO_BATCH, payload, len, &msg), want[c]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_constants),
		cmocka_unit_test(test_header_good),
		cmocka_unit_test(test_header_errors),
		cmocka_unit_test(test_names_and_texts),
		cmocka_unit_test(test_round_trip_bet),
		cmocka_unit_test(test_round_trip_batch),
		cmocka_unit_test(test_next_bet_view),
		cmocka_unit_test(test_fast_path_keeps_the_limits),
		cmocka_unit_test(test_round_trip_small),
		cmocka_unit_test(test_round_trip_reject_error),
		cmocka_unit_test(test_reason_cut),
		cmocka_unit_test(test_round_trip_winners),
		cmocka_unit_test(test_largest_bets_fit),
		cmocka_unit_test(test_batch_fills_frame_exactly),
		cmocka_unit_test(test_batch_limit_smallest),
		cmocka_unit_test(test_winners_paging),
		cmocka_unit_test(test_decode_unknown_type),
		cmocka_unit_test(test_decode_fixed_sizes),
		cmocka_unit_test(test_decode_batch_count_mismatch),
		cmocka_unit_test(test_decode_truncated_everywhere),
		cmocka_unit_test(test_decode_string_past_end),
		cmocka_unit_test(test_decode_field_too_long),
		cmocka_unit_test(test_decode_nul_inside_string),
		cmocka_unit_test(test_decode_winners_count_mismatch),
		cmocka_unit_test(test_decode_oversize_payload),
		cmocka_unit_test(test_reply_reason),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
