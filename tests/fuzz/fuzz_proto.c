/* fuzz_proto: one input is a frame (8-byte header + payload). The header is checked, the payload
 * decoded as every type (a peer's type byte says nothing of its payload's shape), each decoded
 * cursor walked to its end with every bet validated (against an oracle: fuzz_bet.h), and every
 * frame that decodes is built again with the writers: the same bytes, except where a NUL inside a
 * string became PROTO_NUL_STAND_IN. ASan catches any read past the input, which is copied to a
 * buffer of its exact size. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bet.h"
#include "fuzz_bet.h"
#include "proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t types[] = {
	PROTO_BET, PROTO_BATCH, PROTO_DONE, PROTO_WINNERS_QUERY,
	PROTO_ACK, PROTO_REJECT, PROTO_WINNERS, PROTO_ERROR,
	PROTO_HELLO, PROTO_AUTH, PROTO_CHALLENGE,
};

#define check(cond) ((cond) ? (void)0 : abort())

/* The writer's frame against the decoded one: same length, same bytes but for NULs in strings. */
static void check_same_frame(uint8_t type, const uint8_t *payload, size_t len,
                             const struct proto_writer *w)
{
	check(w->len == PROTO_HEADER_SIZE + len);
	check(w->buf[0] == PROTO_MAGIC && w->buf[1] == PROTO_VERSION && w->buf[2] == type);
	for (size_t i = 0; i < len; i++) {
		uint8_t got = w->buf[PROTO_HEADER_SIZE + i];

		check(got == payload[i] || (payload[i] == 0 && got == (uint8_t)PROTO_NUL_STAND_IN));
	}
}

/* Walks a decoded message's cursor (validating each bet) and builds the frame again. */
static void reencode(uint8_t type, const uint8_t *payload, size_t len, struct proto_msg *msg)
{
	static struct proto_writer w;
	struct bet bet;
	char document[BET_DOCUMENT_MAX + 1];
	uint32_t walked = 0;
	int code;

	switch (type) {
	case PROTO_BET:
		check(msg->u.bet.bet.agency == msg->u.bet.agency);
		fuzz_check_bet(&msg->u.bet.bet, BET_AGENCY_MAX);
		proto_encode_bet(&w, &msg->u.bet.bet);
		break;
	case PROTO_BATCH:
		proto_begin_batch(&w, msg->u.batch.agency, msg->u.batch.seq);
		while (proto_next_bet(&msg->u.batch.bets, msg->u.batch.agency, &bet)) {
			check(bet.agency == msg->u.batch.agency);
			fuzz_check_bet(&bet, BET_AGENCY_MAX);
			check(proto_add_batch_bet(&w, &bet) == 0);
			walked++;
		}
		check(walked == msg->u.batch.count && msg->u.batch.bets.left == 0);
		proto_finish(&w);
		break;
	case PROTO_DONE:
		proto_encode_done(&w, msg->u.done.agency, msg->u.done.total, msg->u.done.digest);
		break;
	case PROTO_WINNERS_QUERY:
		proto_encode_query(&w, msg->u.query.agency, msg->u.query.offset);
		break;
	case PROTO_ACK:
		proto_encode_ack(&w, msg->u.ack.seq, msg->u.ack.count);
		break;
	case PROTO_REJECT:
		(void)proto_reply_reason(msg, &code);
		check(code == msg->u.reject.code);
		proto_encode_reject(&w, msg->u.reject.code, msg->u.reject.index, msg->u.reject.reason);
		break;
	case PROTO_WINNERS:
		proto_begin_winners(&w, msg->u.winners.total, msg->u.winners.offset);
		while (proto_next_document(&msg->u.winners.documents, document)) {
			check(strlen(document) <= BET_DOCUMENT_MAX);
			check(proto_add_winner(&w, document) == 0);
			walked++;
		}
		check(walked == msg->u.winners.count && msg->u.winners.documents.left == 0);
		proto_finish(&w);
		break;
	case PROTO_ERROR:
		(void)proto_reply_reason(msg, &code);
		check(code == msg->u.error.code);
		proto_encode_error(&w, msg->u.error.code, msg->u.error.reason);
		break;
	case PROTO_HELLO:
		proto_encode_hello(&w, msg->u.hello.agency);
		break;
	case PROTO_AUTH:
		proto_encode_auth(&w, msg->u.auth.mac);
		break;
	case PROTO_CHALLENGE:
		proto_encode_challenge(&w, msg->u.challenge.nonce);
		break;
	default:
		abort();
	}
	check_same_frame(type, payload, len, &w);
}

static void walk_raw(const uint8_t *payload, size_t len)
{
	struct proto_cursor c = { .p = payload, .left = len, .remaining = UINT32_MAX };
	char document[BET_DOCUMENT_MAX + 1];
	struct bet bet;

	/* Every bet and document takes at least one byte: each walk ends on one that does not fit. */
	while (proto_next_bet(&c, 1, &bet)) {
		check(c.left < len);
		fuzz_check_bet(&bet, BET_AGENCY_MAX);
	}
	check(c.remaining == 0);
	c = (struct proto_cursor){ .p = payload, .left = len, .remaining = UINT32_MAX };
	while (proto_next_document(&c, document))
		check(strlen(document) <= BET_DOCUMENT_MAX);
	check(c.remaining == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct proto_msg msg;
	struct proto_header h;
	uint8_t *copy;
	const uint8_t *payload;
	size_t len;

	/* An exact-size heap copy, so ASan sees a read one byte past the input. */
	copy = malloc(size > 0 ? size : 1);
	if (copy == NULL)
		return 0;
	if (size > 0)
		memcpy(copy, data, size);

	if (size >= PROTO_HEADER_SIZE) {
		int rc = proto_header_decode(copy, &h);

		if (rc == PROTO_E_NONE) {
			check(h.length <= PROTO_PAYLOAD_MAX);
			check(proto_type_name(h.type)[0] != 'U');
		}
		(void)proto_error_text(rc);
	}

	/* The payload is what follows a header when there is one, else the whole input. */
	payload = size >= PROTO_HEADER_SIZE ? copy + PROTO_HEADER_SIZE : copy;
	len = size >= PROTO_HEADER_SIZE ? size - PROTO_HEADER_SIZE : size;
	for (size_t t = 0; t < sizeof(types); t++) {
		int rc = proto_decode(types[t], len > 0 ? payload : NULL, len, &msg);

		check(rc == PROTO_E_NONE || rc == PROTO_E_MALFORMED);
		check(msg.type == types[t]);
		if (rc == PROTO_E_NONE) {
			check(len <= PROTO_PAYLOAD_MAX);
			reencode(types[t], payload, len, &msg);
		}
	}
	/* Cursors proto_decode() never checked, over the raw payload: they end at the first bet or
	 * document that does not fit, without reading past it. */
	walk_raw(payload, len);
	/* An unknown type is refused whatever the payload. */
	check(proto_decode(0x7F, len > 0 ? payload : NULL, len, &msg) == PROTO_E_TYPE);

	free(copy);
	return 0;
}
