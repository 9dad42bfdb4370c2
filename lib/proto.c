/* proto: encoding and strict decoding of the frames described in proto.h. */
#include "proto.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

const char *proto_error_text(int code)
{
	switch (code) {
	case PROTO_E_NONE:
		return "no error";
	case PROTO_E_VERSION:
		return "unsupported version";
	case PROTO_E_TYPE:
		return "unknown message type";
	case PROTO_E_TOO_LARGE:
		return "frame too large";
	case PROTO_E_TRUNCATED:
		return "truncated frame";
	case PROTO_E_MALFORMED:
		return "malformed payload";
	case PROTO_E_INVALID_BET:
		return "invalid bet";
	case PROTO_E_AGENCY:
		return "agency not allowed";
	case PROTO_E_SEQUENCE:
		return "batch out of sequence";
	case PROTO_E_TOTAL:
		return "total does not match";
	case PROTO_E_SHUTTING_DOWN:
		return "server shutting down";
	case PROTO_E_STORAGE:
		return "storage failure";
	case PROTO_E_TIMEOUT:
		return "idle timeout";
	case PROTO_E_BAD_MAGIC:
		return "bad magic";
	case PROTO_E_CONFLICT:
		return "batch conflicts with the stored one";
	case PROTO_E_AUTH:
		return "agency not authenticated";
	case PROTO_E_DIGEST:
		return "the bets stored differ from the bets sent";
	case PROTO_E_SESSION:
		return "a newer session of the agency took over";
	default:
		return "unknown error";
	}
}

const char *proto_type_name(int type)
{
	switch (type) {
	case PROTO_BET:
		return "BET";
	case PROTO_BATCH:
		return "BATCH";
	case PROTO_DONE:
		return "DONE";
	case PROTO_WINNERS_QUERY:
		return "WINNERS_QUERY";
	case PROTO_HELLO:
		return "HELLO";
	case PROTO_AUTH:
		return "AUTH";
	case PROTO_CHALLENGE:
		return "CHALLENGE";
	case PROTO_ACK:
		return "ACK";
	case PROTO_REJECT:
		return "REJECT";
	case PROTO_WINNERS:
		return "WINNERS";
	case PROTO_ERROR:
		return "ERROR";
	default:
		return "UNKNOWN";
	}
}

static bool type_known(int type)
{
	switch (type) {
	case PROTO_BET:
	case PROTO_BATCH:
	case PROTO_DONE:
	case PROTO_WINNERS_QUERY:
	case PROTO_HELLO:
	case PROTO_AUTH:
	case PROTO_ACK:
	case PROTO_REJECT:
	case PROTO_WINNERS:
	case PROTO_ERROR:
	case PROTO_CHALLENGE:
		return true;
	default:
		return false;
	}
}

static uint16_t get_u16(const uint8_t *p)
{
	return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static uint32_t get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void set_u16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void set_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

void proto_put_session(uint8_t out[PROTO_SESSION_SIZE], uint64_t session)
{
	set_u32(out, (uint32_t)(session >> 32));
	set_u32(out + 4, (uint32_t)session);
}

uint64_t proto_get_session(const uint8_t in[PROTO_SESSION_SIZE])
{
	return (uint64_t)get_u32(in) << 32 | get_u32(in + 4);
}

int proto_header_decode(const uint8_t raw[PROTO_HEADER_SIZE], struct proto_header *h)
{
	h->type = raw[2];
	h->length = get_u32(raw + 4);
	if (raw[0] != PROTO_MAGIC)
		return PROTO_E_BAD_MAGIC;
	if (raw[1] != PROTO_VERSION)
		return PROTO_E_VERSION;
	if (raw[3] != 0)
		return PROTO_E_MALFORMED;
	if (!type_known(raw[2]))
		return PROTO_E_TYPE;
	if (h->length > PROTO_PAYLOAD_MAX)
		return PROTO_E_TOO_LARGE;
	return PROTO_E_NONE;
}

/* ------------------------------------------------------------------------------------------- */
/* decoding: a bounds-checked reader; the first overrun makes it fail for good */

struct reader {
	const uint8_t *p;
	size_t left;
	bool bad;
};

static bool take(struct reader *r, size_t n, const uint8_t **out)
{
	if (r->bad || n > r->left) {
		r->bad = true;
		return false;
	}
	*out = r->p;
	r->p += n;
	r->left -= n;
	return true;
}

static void read_bytes(struct reader *r, uint8_t *out, size_t n)
{
	const uint8_t *p;

	if (take(r, n, &p))
		memcpy(out, p, n);
}

static uint8_t read_u8(struct reader *r)
{
	const uint8_t *p;

	return take(r, 1, &p) ? p[0] : 0;
}

static uint16_t read_u16(struct reader *r)
{
	const uint8_t *p;

	return take(r, 2, &p) ? get_u16(p) : 0;
}

static uint32_t read_u32(struct reader *r)
{
	const uint8_t *p;

	return take(r, 4, &p) ? get_u32(p) : 0;
}

/* A field as a C string: a NUL inside cannot be held by one, and left as it is it would
 * silently cut the value ("Ju\0an" stored as "Ju"); another control byte stands in for it, so
 * that validation refuses the bet, as it refuses every control byte. */
static void copy_field(char *dst, const uint8_t *src, size_t len)
{
	memcpy(dst, src, len);
	dst[len] = '\0';
	for (char *nul = dst; (nul = memchr(nul, '\0', len - (size_t)(nul - dst))) != NULL;)
		*nul = PROTO_NUL_STAND_IN;
}

/* A string into dst (cap bytes with the NUL): one longer than the slot makes the reader bad. */
static void read_str(struct reader *r, char *dst, size_t cap)
{
	const uint8_t *p;
	size_t len = read_u8(r);

	if (!take(r, len, &p))
		return;
	if (len >= cap) {
		r->bad = true;
		return;
	}
	copy_field(dst, p, len);
}

/* A string slot where it lies: one longer than max makes the reader bad. */
static const uint8_t *view_str(struct reader *r, uint8_t *len, size_t max)
{
	const uint8_t *p;

	*len = read_u8(r);
	if (!take(r, *len, &p) || *len > max) {
		r->bad = true;
		return NULL;
	}
	return p;
}

/* The fast path below checks no name's length: a length byte cannot pass a name's slot. */
_Static_assert(BET_NAME_MAX == UINT8_MAX, "read_bet_view's fast path needs names of 255 bytes");

/* A field of a bet known to lie whole in the payload: its length byte, then the bytes. */
static const uint8_t *view_field(const uint8_t **p, uint8_t *len)
{
	const uint8_t *at = *p + 1;

	*len = **p;
	*p = at + *len;
	return at;
}

static void read_bet_view(struct reader *r, struct proto_bet_view *v)
{
	/* Most bets of a frame lie far from its end: then no field can run past the payload, and
	 * only the slots' limits are checked (the walk is a tenth of storage's time). */
	if (!r->bad && r->left >= PROTO_BET_SIZE_MAX) {
		const uint8_t *p = r->p;

		v->bytes = p;
		v->first_name = view_field(&p, &v->first_name_len);
		v->last_name = view_field(&p, &v->last_name_len);
		v->document = view_field(&p, &v->document_len);
		/* Each limit before the next length byte is read: past it, a field could lie beyond
		 * the PROTO_BET_SIZE_MAX bytes known to be there. */
		if (v->document_len > BET_DOCUMENT_MAX) {
			r->bad = true;
			return;
		}
		v->birthdate = view_field(&p, &v->birthdate_len);
		if (v->birthdate_len > BET_DATE_LEN) {
			r->bad = true;
			return;
		}
		v->number = get_u16(p);
		p += 2;
		v->size = (size_t)(p - v->bytes);
		r->p = p;
		r->left -= v->size;
		return;
	}
	v->bytes = r->p;
	v->first_name = view_str(r, &v->first_name_len, BET_NAME_MAX);
	v->last_name = view_str(r, &v->last_name_len, BET_NAME_MAX);
	v->document = view_str(r, &v->document_len, BET_DOCUMENT_MAX);
	v->birthdate = view_str(r, &v->birthdate_len, BET_DATE_LEN);
	v->number = read_u16(r);
	v->size = (size_t)(r->p - v->bytes);
}

static void bet_of_view(const struct proto_bet_view *v, uint32_t agency, struct bet *bet)
{
	bet->agency = agency;
	copy_field(bet->first_name, v->first_name, v->first_name_len);
	copy_field(bet->last_name, v->last_name, v->last_name_len);
	copy_field(bet->document, v->document, v->document_len);
	copy_field(bet->birthdate, v->birthdate, v->birthdate_len);
	bet->number = v->number;
}

static void read_bet(struct reader *r, uint32_t agency, struct bet *bet)
{
	struct proto_bet_view v;

	memset(bet, 0, sizeof(*bet));
	read_bet_view(r, &v);
	if (!r->bad)
		bet_of_view(&v, agency, bet);
}

static void decode_batch(struct reader *r, struct proto_msg *msg)
{
	struct proto_bet_view scratch;

	msg->u.batch.agency = read_u32(r);
	msg->u.batch.seq = read_u32(r);
	msg->u.batch.count = read_u16(r);
	msg->u.batch.bets.p = r->p;
	msg->u.batch.bets.left = r->left;
	msg->u.batch.bets.remaining = msg->u.batch.count;
	/* Walk every bet now, so proto_next_bet() can never meet a broken one later. */
	for (uint16_t i = 0; i < msg->u.batch.count && !r->bad; i++)
		read_bet_view(r, &scratch);
}

static void decode_winners(struct reader *r, struct proto_msg *msg)
{
	char document[BET_DOCUMENT_MAX + 1];

	msg->u.winners.total = read_u32(r);
	msg->u.winners.offset = read_u32(r);
	msg->u.winners.count = read_u16(r);
	msg->u.winners.documents.p = r->p;
	msg->u.winners.documents.left = r->left;
	msg->u.winners.documents.remaining = msg->u.winners.count;
	for (uint16_t i = 0; i < msg->u.winners.count && !r->bad; i++)
		read_str(r, document, sizeof(document));
}

int proto_decode(uint8_t type, const uint8_t *payload, size_t len, struct proto_msg *msg)
{
	struct reader r = { .p = payload, .left = len, .bad = false };

	memset(msg, 0, sizeof(*msg));
	msg->type = type;
	if (!type_known(type))
		return PROTO_E_TYPE;
	if (len > PROTO_PAYLOAD_MAX || (len > 0 && payload == NULL))
		return PROTO_E_MALFORMED;

	switch (type) {
	case PROTO_BET:
		msg->u.bet.agency = read_u32(&r);
		msg->u.bet.raw = (struct proto_cursor){.p = r.p, .left = r.left, .remaining = 1};
		read_bet(&r, msg->u.bet.agency, &msg->u.bet.bet);
		break;
	case PROTO_BATCH:
		decode_batch(&r, msg);
		break;
	case PROTO_DONE:
		msg->u.done.agency = read_u32(&r);
		msg->u.done.total = read_u32(&r);
		read_bytes(&r, msg->u.done.digest, sizeof(msg->u.done.digest));
		break;
	case PROTO_WINNERS_QUERY:
		msg->u.query.agency = read_u32(&r);
		msg->u.query.offset = read_u32(&r);
		break;
	case PROTO_ACK:
		msg->u.ack.seq = read_u32(&r);
		msg->u.ack.count = read_u32(&r);
		break;
	case PROTO_REJECT:
		msg->u.reject.code = read_u8(&r);
		msg->u.reject.index = read_u16(&r);
		read_str(&r, msg->u.reject.reason, sizeof(msg->u.reject.reason));
		break;
	case PROTO_WINNERS:
		decode_winners(&r, msg);
		break;
	case PROTO_ERROR:
		msg->u.error.code = read_u8(&r);
		read_str(&r, msg->u.error.reason, sizeof(msg->u.error.reason));
		break;
	case PROTO_HELLO:
		msg->u.hello.agency = read_u32(&r);
		break;
	case PROTO_AUTH:
		read_bytes(&r, msg->u.auth.mac, sizeof(msg->u.auth.mac));
		break;
	case PROTO_CHALLENGE:
		read_bytes(&r, msg->u.challenge.nonce, sizeof(msg->u.challenge.nonce));
		break;
	default:
		return PROTO_E_TYPE;
	}
	if (r.bad || r.left != 0)
		return PROTO_E_MALFORMED;
	return PROTO_E_NONE;
}

int proto_next_bet_view(struct proto_cursor *c, struct proto_bet_view *v)
{
	struct reader r = { .p = c->p, .left = c->left, .bad = false };

	if (c->remaining == 0)
		return 0;
	read_bet_view(&r, v);
	if (r.bad) {
		/* Only a cursor proto_decode() did not check can get here: end it. */
		c->remaining = 0;
		return 0;
	}
	c->p = r.p;
	c->left = r.left;
	c->remaining--;
	return 1;
}

int proto_next_bet(struct proto_cursor *c, uint32_t agency, struct bet *bet)
{
	struct proto_bet_view v;

	if (proto_next_bet_view(c, &v) == 0)
		return 0;
	memset(bet, 0, sizeof(*bet));
	bet_of_view(&v, agency, bet);
	return 1;
}

int proto_next_document(struct proto_cursor *c, char document[BET_DOCUMENT_MAX + 1])
{
	struct reader r = { .p = c->p, .left = c->left, .bad = false };

	if (c->remaining == 0)
		return 0;
	read_str(&r, document, BET_DOCUMENT_MAX + 1);
	if (r.bad) {
		c->remaining = 0;
		return 0;
	}
	c->p = r.p;
	c->left = r.left;
	c->remaining--;
	return 1;
}

/* ------------------------------------------------------------------------------------------- */
/* encoding: every put checks the room first and writes nothing when it is short */

static bool room(const struct proto_writer *w, size_t n)
{
	return w->len <= PROTO_FRAME_MAX && n <= PROTO_FRAME_MAX - w->len;
}

static void put_u8(struct proto_writer *w, uint8_t v)
{
	w->buf[w->len++] = v;
}

static void put_u16(struct proto_writer *w, uint16_t v)
{
	set_u16(w->buf + w->len, v);
	w->len += 2;
}

static void put_u32(struct proto_writer *w, uint32_t v)
{
	set_u32(w->buf + w->len, v);
	w->len += 4;
}

static void put_str(struct proto_writer *w, const char *s, size_t len)
{
	put_u8(w, (uint8_t)len);
	if (len > 0)
		memcpy(w->buf + w->len, s, len);
	w->len += len;
}

void proto_begin(struct proto_writer *w, enum proto_type type)
{
	w->buf[0] = PROTO_MAGIC;
	w->buf[1] = PROTO_VERSION;
	w->buf[2] = (uint8_t)type;
	w->buf[3] = 0;
	set_u32(w->buf + 4, 0);
	w->len = PROTO_HEADER_SIZE;
	w->count_at = 0;
	w->count = 0;
}

/* A string slot's length, bounded by what the field can hold: a bet that passed bet_validate()
 * is never cut, and an unterminated field cannot run past its array. */
static size_t field_len(const char *s, size_t max)
{
	return strnlen(s, max);
}

static size_t bet_size(const struct bet *bet)
{
	return 4 + field_len(bet->first_name, BET_NAME_MAX) + field_len(bet->last_name, BET_NAME_MAX) +
	       field_len(bet->document, BET_DOCUMENT_MAX) + field_len(bet->birthdate, BET_DATE_LEN) +
	       2;
}

static uint8_t *encode_str(uint8_t *out, const char *s, size_t max)
{
	size_t len = field_len(s, max);

	*out++ = (uint8_t)len;
	memcpy(out, s, len);
	return out + len;
}

size_t proto_bet_encode(const struct bet *bet, uint8_t out[PROTO_BET_SIZE_MAX])
{
	uint8_t *p = out;

	p = encode_str(p, bet->first_name, BET_NAME_MAX);
	p = encode_str(p, bet->last_name, BET_NAME_MAX);
	p = encode_str(p, bet->document, BET_DOCUMENT_MAX);
	p = encode_str(p, bet->birthdate, BET_DATE_LEN);
	set_u16(p, bet->number);
	return (size_t)(p + 2 - out);
}

int proto_put_bet(struct proto_writer *w, const struct bet *bet)
{
	size_t need = bet_size(bet);

	if (!room(w, need) || (w->count_at != 0 && w->count == UINT16_MAX))
		return -1;
	w->len += proto_bet_encode(bet, w->buf + w->len);
	if (w->count_at != 0)
		w->count++;
	return 0;
}

size_t proto_finish(struct proto_writer *w)
{
	set_u32(w->buf + 4, (uint32_t)(w->len - PROTO_HEADER_SIZE));
	if (w->count_at != 0)
		set_u16(w->buf + w->count_at, w->count);
	return w->len;
}

void proto_encode_bet(struct proto_writer *w, const struct bet *bet)
{
	proto_begin(w, PROTO_BET);
	put_u32(w, bet->agency);
	/* Header + agency + the largest bet is far below PROTO_FRAME_MAX: it always fits. */
	(void)proto_put_bet(w, bet);
	proto_finish(w);
}

void proto_begin_batch(struct proto_writer *w, uint32_t agency, uint32_t seq)
{
	proto_begin(w, PROTO_BATCH);
	put_u32(w, agency);
	put_u32(w, seq);
	w->count_at = w->len;
	put_u16(w, 0);
}

int proto_add_batch_bet(struct proto_writer *w, const struct bet *bet)
{
	return proto_put_bet(w, bet);
}

static void encode_pair(struct proto_writer *w, enum proto_type type, uint32_t a, uint32_t b)
{
	proto_begin(w, type);
	put_u32(w, a);
	put_u32(w, b);
	proto_finish(w);
}

void proto_encode_done(struct proto_writer *w, uint32_t agency, uint32_t total,
                       const uint8_t digest[PROTO_DIGEST_SIZE])
{
	proto_begin(w, PROTO_DONE);
	put_u32(w, agency);
	put_u32(w, total);
	memcpy(w->buf + w->len, digest, PROTO_DIGEST_SIZE);
	w->len += PROTO_DIGEST_SIZE;
	proto_finish(w);
}

void proto_encode_query(struct proto_writer *w, uint32_t agency, uint32_t offset)
{
	encode_pair(w, PROTO_WINNERS_QUERY, agency, offset);
}

void proto_encode_ack(struct proto_writer *w, uint32_t seq, uint32_t count)
{
	encode_pair(w, PROTO_ACK, seq, count);
}

void proto_encode_hello(struct proto_writer *w, uint32_t agency)
{
	proto_begin(w, PROTO_HELLO);
	put_u32(w, agency);
	proto_finish(w);
}

static void encode_bytes(struct proto_writer *w, enum proto_type type, const uint8_t *bytes,
                         size_t n)
{
	proto_begin(w, type);
	memcpy(w->buf + w->len, bytes, n);
	w->len += n;
	proto_finish(w);
}

void proto_encode_auth(struct proto_writer *w, const uint8_t mac[PROTO_MAC_SIZE])
{
	encode_bytes(w, PROTO_AUTH, mac, PROTO_MAC_SIZE);
}

void proto_encode_challenge(struct proto_writer *w, const uint8_t nonce[PROTO_NONCE_SIZE])
{
	encode_bytes(w, PROTO_CHALLENGE, nonce, PROTO_NONCE_SIZE);
}

/* At most PROTO_REASON_MAX bytes, cut before a UTF-8 continuation byte so the text stays whole
 * characters. */
static size_t reason_len(const char *reason)
{
	size_t len = strnlen(reason, PROTO_REASON_MAX + 1);

	if (len <= PROTO_REASON_MAX)
		return len;
	len = PROTO_REASON_MAX;
	while (len > 0 && ((unsigned char)reason[len] & 0xC0) == 0x80)
		len--;
	return len;
}

void proto_encode_reject(struct proto_writer *w, uint8_t code, uint16_t index, const char *reason)
{
	if (reason == NULL)
		reason = "";
	proto_begin(w, PROTO_REJECT);
	put_u8(w, code);
	put_u16(w, index);
	put_str(w, reason, reason_len(reason));
	proto_finish(w);
}

void proto_encode_error(struct proto_writer *w, uint8_t code, const char *reason)
{
	if (reason == NULL)
		reason = "";
	proto_begin(w, PROTO_ERROR);
	put_u8(w, code);
	put_str(w, reason, reason_len(reason));
	proto_finish(w);
}

void proto_begin_winners(struct proto_writer *w, uint32_t total, uint32_t offset)
{
	proto_begin(w, PROTO_WINNERS);
	put_u32(w, total);
	put_u32(w, offset);
	w->count_at = w->len;
	put_u16(w, 0);
}

int proto_add_winner(struct proto_writer *w, const char *document)
{
	size_t len = field_len(document, BET_DOCUMENT_MAX);

	if (!room(w, 1 + len) || w->count == UINT16_MAX)
		return -1;
	put_str(w, document, len);
	w->count++;
	return 0;
}

const char *proto_reply_reason(const struct proto_msg *reply, int *code)
{
	static _Thread_local char unexpected[48];
	const char *reason;

	switch (reply->type) {
	case PROTO_REJECT:
		*code = reply->u.reject.code;
		reason = reply->u.reject.reason;
		break;
	case PROTO_ERROR:
		*code = reply->u.error.code;
		reason = reply->u.error.reason;
		break;
	default:
		*code = 0;
		snprintf(unexpected, sizeof(unexpected), "unexpected reply %s",
		         proto_type_name(reply->type));
		return unexpected;
	}
	return reason[0] != '\0' ? reason : proto_error_text(*code);
}
