/* proto: the binary protocol between agencies and the server (and, unchanged, between a worker
 * and the storage daemon: a worker forwards the client's frame as one nng message and relays the
 * reply frame).
 *
 * Frame = 8-byte header + payload, big-endian, at most PROTO_FRAME_MAX bytes in all:
 *   0  u8   magic   0xFE (never the first byte of a UTF-8 text line, so the same port still
 *                   serves the echo health check)
 *   1  u8   version 1
 *   2  u8   type    enum proto_type
 *   3  u8   reserved, 0
 *   4  u32  length  of the payload, <= PROTO_PAYLOAD_MAX
 * Strings are a u8 length then that many bytes of UTF-8 (no terminator, nothing to escape).
 *
 * Payloads:
 *   BET            agency u32, bet
 *   BATCH          agency u32, seq u32, count u16, bet * count
 *   DONE           agency u32, total u32 (bets the agency sent and had acknowledged),
 *                  digest u8[32] (lib/digest.h: of those bets, in the order acknowledged)
 *   WINNERS_QUERY  agency u32, offset u32 (index of the first winner wanted)
 *   HELLO          agency u32 (the session is agency's from now on; see "Agency keys")
 *   AUTH           mac u8[32] (the answer to CHALLENGE: auth_mac() of the nonce)
 *   ACK            seq u32, count u32 (bets stored by the acknowledged request: 0 when it
 *                  repeats a batch already stored)
 *   REJECT         code u8, index u16 (offending bet within the request), reason str
 *   WINNERS        total u32, offset u32, count u16, document str * count
 *   ERROR          code u8, reason str
 *   CHALLENGE      nonce u8[32] (the answer to HELLO when the server holds agency keys)
 * where bet = first_name str, last_name str, document str, birthdate str (YYYY-MM-DD), number u16.
 *
 * Agency keys: a server that holds them serves a lottery request only on a session that began
 * HELLO(agency) -> CHALLENGE(nonce) -> AUTH(mac) -> ACK(0, 0), the mac proving the agency's key
 * without sending it (lib/auth.h). A server without keys answers HELLO with ACK(0, 0) at once.
 */
#ifndef TP0_PROTO_H
#define TP0_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "bet.h"

#define PROTO_MAGIC 0xFE
#define PROTO_VERSION 1
#define PROTO_HEADER_SIZE 8
#define PROTO_FRAME_MAX 8192
#define PROTO_PAYLOAD_MAX (PROTO_FRAME_MAX - PROTO_HEADER_SIZE)
#define PROTO_REASON_MAX 255
/* What a NUL inside a decoded string becomes (a control byte, which validation refuses). */
#define PROTO_NUL_STAND_IN '\x01'
/* A worker forwards up to this many batch frames to storage in one message (the most a client's
 * window keeps in flight); the replies to them, at most 267 bytes each, fit in one frame's size. */
#define PROTO_FORWARD_MAX 16
/* CHALLENGE's nonce and AUTH's mac (crypto_auth_BYTES, HMAC-SHA-512-256). */
#define PROTO_NONCE_SIZE 32
#define PROTO_MAC_SIZE 32
/* Between a worker and storage every message starts with the session u64 (big-endian): when its
 * connection was accepted, in CLOCK_MONOTONIC nanoseconds, so a newer connection of an agency
 * has a larger one (storage fences the older, see storage/barrier.h). 0: no session. */
#define PROTO_SESSION_SIZE 8
/* DONE's digest of the agency's bets (BLAKE2b-256, lib/digest.h). */
#define PROTO_DIGEST_SIZE 32

/* Bytes of one bet inside a batch: the largest and the smallest. */
#define PROTO_BET_SIZE_MAX ((1 + BET_NAME_MAX) * 2 + (1 + BET_DOCUMENT_MAX) + (1 + BET_DATE_LEN) + 2)
#define PROTO_BET_SIZE_MIN ((1 + 1) * 2 + (1 + 1) + (1 + BET_DATE_LEN) + 2)
#define PROTO_BATCH_HEADER_SIZE 10
/* The most bets of the largest size that always fit in one frame ((8192 - 8 - 10) / 536 = 15). */
#define PROTO_BATCH_FIT ((PROTO_PAYLOAD_MAX - PROTO_BATCH_HEADER_SIZE) / PROTO_BET_SIZE_MAX)
/* The most bets any batch frame can carry (all of the smallest size): the bound for maxAmount. */
#define PROTO_BATCH_LIMIT ((PROTO_PAYLOAD_MAX - PROTO_BATCH_HEADER_SIZE) / PROTO_BET_SIZE_MIN)
/* The default batch.maxAmount is that bound, so frames are cut by bytes: a batch takes bets until
 * the next one would not fit in 8 KiB (about 190 bets of the course's data, not 15). */
#define PROTO_BATCH_DEFAULT PROTO_BATCH_LIMIT

enum proto_type {
	PROTO_BET = 0x01,
	PROTO_BATCH = 0x02,
	PROTO_DONE = 0x03,
	PROTO_WINNERS_QUERY = 0x04,
	PROTO_HELLO = 0x05,
	PROTO_AUTH = 0x06,
	PROTO_ACK = 0x81,
	PROTO_REJECT = 0x82,
	PROTO_WINNERS = 0x83,
	PROTO_ERROR = 0x84,
	PROTO_CHALLENGE = 0x85,
};

/* Error codes carried by REJECT and ERROR. Every one closes the connection except
 * PROTO_E_INVALID_BET (the agency may fix the batch and go on). */
enum proto_error {
	PROTO_E_NONE = 0,
	PROTO_E_VERSION = 1,       /* unsupported protocol version */
	PROTO_E_TYPE = 2,          /* unknown message type, or a reply type sent as a request */
	PROTO_E_TOO_LARGE = 3,     /* length field over PROTO_PAYLOAD_MAX */
	PROTO_E_TRUNCATED = 4,     /* the stream ended inside a frame */
	PROTO_E_MALFORMED = 5,     /* payload does not parse: count vs. payload, trailing bytes,
	                              a string running past the end, reserved byte not 0 */
	PROTO_E_INVALID_BET = 6,   /* REJECT: a bet failed validation; nothing of the batch stored */
	PROTO_E_AGENCY = 7,        /* agency not in the draw, or not the session's agency */
	PROTO_E_SEQUENCE = 8,      /* batch sequence number ahead of the next expected one */
	PROTO_E_TOTAL = 9,         /* DONE's total differs from the bets stored for the agency */
	PROTO_E_SHUTTING_DOWN = 10,/* the server is stopping; try again later */
	PROTO_E_STORAGE = 11,      /* the bets could not be written; nothing of the request stored */
	PROTO_E_TIMEOUT = 12,      /* the peer was idle too long */
	PROTO_E_BAD_MAGIC = 13,    /* (decoder only) the first byte is not PROTO_MAGIC */
	PROTO_E_CONFLICT = 14,     /* a batch under a stored sequence number differs from it */
	PROTO_E_AUTH = 15,         /* no HELLO/AUTH before a lottery request, or a wrong mac */
	PROTO_E_DIGEST = 16,       /* DONE's digest differs from that of the bets stored */
	PROTO_E_SESSION = 17,      /* a newer connection of the agency took over from this one */
};
const char *proto_error_text(int code);   /* "unsupported version", ... */
void proto_put_session(uint8_t out[PROTO_SESSION_SIZE], uint64_t session);
uint64_t proto_get_session(const uint8_t in[PROTO_SESSION_SIZE]);
const char *proto_type_name(int type);    /* "BATCH", ... or "UNKNOWN" */

struct proto_header {
	uint8_t type;
	uint32_t length;
};

/* Checks magic, version, reserved byte, type and length: PROTO_E_NONE or the error. */
int proto_header_decode(const uint8_t raw[PROTO_HEADER_SIZE], struct proto_header *h);

/* A cursor over the bets of a decoded BATCH or the documents of a decoded WINNERS. */
struct proto_cursor {
	const uint8_t *p;
	size_t left;
	uint32_t remaining;
};

/* One bet of a decoded BATCH or BET where it lies in the payload: its fields are not copied or
 * NUL-terminated (a field may hold any byte; bet_validate_fields says whether it is a valid bet).
 * bytes/size: the whole bet as it travels. */
struct proto_bet_view {
	const uint8_t *first_name, *last_name, *document, *birthdate;
	uint8_t first_name_len, last_name_len, document_len, birthdate_len;
	uint16_t number;
	const uint8_t *bytes;
	size_t size;
};

struct proto_msg {
	uint8_t type;
	union {
		/* raw: a cursor over the one bet, as a BATCH's (proto_next_bet_view) */
		struct { uint32_t agency; struct bet bet; struct proto_cursor raw; } bet;
		struct { uint32_t agency, seq; uint16_t count; struct proto_cursor bets; } batch;
		struct { uint32_t agency, total; uint8_t digest[PROTO_DIGEST_SIZE]; } done;
		struct { uint32_t agency, offset; } query;
		struct { uint32_t seq, count; } ack;
		struct { uint8_t code; uint16_t index; char reason[PROTO_REASON_MAX + 1]; } reject;
		struct { uint32_t total, offset; uint16_t count; struct proto_cursor documents; } winners;
		struct { uint8_t code; char reason[PROTO_REASON_MAX + 1]; } error;
		struct { uint32_t agency; } hello;
		struct { uint8_t mac[PROTO_MAC_SIZE]; } auth;
		struct { uint8_t nonce[PROTO_NONCE_SIZE]; } challenge;
	} u;
};

/* Decodes a payload of the given type, checking its whole structure (every string inside the
 * payload, count matching, no trailing bytes); fields are not validated (bet_validate_fields
 * does that).
 * Cursors point into payload, which must outlive them. PROTO_E_NONE, PROTO_E_TYPE or
 * PROTO_E_MALFORMED. bet.agency of decoded bets is the message's agency. */
int proto_decode(uint8_t type, const uint8_t *payload, size_t len, struct proto_msg *msg);
/* Why a decoded reply is not an answer: for REJECT and ERROR their code and reason (the
 * code's text when the reason came empty); for any other type code 0 and "unexpected reply
 * <TYPE>". */
const char *proto_reply_reason(const struct proto_msg *reply, int *code);
/* Next bet of a BATCH (agency filled in) / next document of a WINNERS: 1, or 0 at the end. */
int proto_next_bet(struct proto_cursor *c, uint32_t agency, struct bet *bet);
/* The same bet without a copy: 1, or 0 at the end. The bets of a cursor are bytes [c->p,
 * c->p + c->left) of the payload, back to back, as proto_bet_encode writes them. */
int proto_next_bet_view(struct proto_cursor *c, struct proto_bet_view *v);
int proto_next_document(struct proto_cursor *c, char document[BET_DOCUMENT_MAX + 1]);

/* Builds one frame in place. Every put returns 0, or -1 when the frame would pass
 * PROTO_FRAME_MAX (nothing written, so the caller can close this batch and start another). */
struct proto_writer {
	size_t len;
	size_t count_at;  /* BATCH/WINNERS: where the u16 count goes; 0 for other types */
	uint16_t count;
	uint8_t buf[PROTO_FRAME_MAX];
};

void proto_begin(struct proto_writer *w, enum proto_type type);
int proto_put_bet(struct proto_writer *w, const struct bet *bet); /* without agency */
/* The bet as it travels (without agency) into out: its size. */
size_t proto_bet_encode(const struct bet *bet, uint8_t out[PROTO_BET_SIZE_MAX]);
/* Sets the header's length (and a BATCH/WINNERS count); returns the frame's size. */
size_t proto_finish(struct proto_writer *w);

/* Whole messages. */
void proto_encode_bet(struct proto_writer *w, const struct bet *bet);
void proto_begin_batch(struct proto_writer *w, uint32_t agency, uint32_t seq);
int proto_add_batch_bet(struct proto_writer *w, const struct bet *bet); /* 0 or -1: no room */
void proto_encode_done(struct proto_writer *w, uint32_t agency, uint32_t total,
                       const uint8_t digest[PROTO_DIGEST_SIZE]);
void proto_encode_query(struct proto_writer *w, uint32_t agency, uint32_t offset);
void proto_encode_ack(struct proto_writer *w, uint32_t seq, uint32_t count);
void proto_encode_reject(struct proto_writer *w, uint8_t code, uint16_t index, const char *reason);
void proto_encode_error(struct proto_writer *w, uint8_t code, const char *reason);
void proto_encode_hello(struct proto_writer *w, uint32_t agency);
void proto_encode_auth(struct proto_writer *w, const uint8_t mac[PROTO_MAC_SIZE]);
void proto_encode_challenge(struct proto_writer *w, const uint8_t nonce[PROTO_NONCE_SIZE]);
void proto_begin_winners(struct proto_writer *w, uint32_t total, uint32_t offset);
int proto_add_winner(struct proto_writer *w, const char *document); /* 0 or -1: no room */
/* All proto_encode_* leave a finished frame: w->buf, w->len. proto_begin_* need proto_finish(). */

#endif
