#include "barrier.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bet.h"
#include "digest.h"

struct agency_state {
	uint32_t next_seq;
	uint32_t *rows_crc;   /* [seq] for seq < next_seq: the CRC-32 of that batch's rows */
	uint32_t crc_cap;
	uint32_t stored;
	bool done;
	uint64_t newest_session;   /* the newest session a write came from (proto.h) */
	barrier_document *winners; /* in bets.csv order */
	uint32_t winner_count;
	uint32_t winner_cap;
};

enum draw_state { DRAW_PENDING, DRAW_OK, DRAW_FAILED };

struct barrier {
	uint32_t agencies;
	uint32_t done_count;
	enum draw_state draw;
	int draw_errno;
	uint32_t draw_mismatch;  /* the first agency whose bets in bets.csv are not what was stored */
	struct digest *digests;  /* [agency - 1]: of the agency's bets as stored, in order */
	struct agency_state agency[]; /* [0] is agency 1 */
};

struct barrier *barrier_new(uint32_t agencies)
{
	struct barrier *b;

	if (agencies < 1 || agencies > BET_AGENCY_MAX) {
		errno = EINVAL;
		return NULL;
	}
	b = calloc(1, sizeof(*b) + agencies * sizeof(b->agency[0]));
	if (b == NULL)
		return NULL;
	b->agencies = agencies;
	b->draw = DRAW_PENDING;
	b->digests = digest_array_new(agencies);
	if (b->digests == NULL) {
		free(b);
		return NULL;
	}
	return b;
}

void barrier_free(struct barrier *b)
{
	if (b == NULL)
		return;
	for (uint32_t i = 0; i < b->agencies; i++) {
		free(b->agency[i].winners);
		free(b->agency[i].rows_crc);
	}
	digest_array_free(b->digests);
	free(b);
}

uint32_t barrier_agencies(const struct barrier *b)
{
	return b->agencies;
}

static const struct agency_state *find(const struct barrier *b, uint32_t agency)
{
	return agency >= 1 && agency <= b->agencies ? &b->agency[agency - 1] : NULL;
}

static struct agency_state *find_mut(struct barrier *b, uint32_t agency)
{
	return agency >= 1 && agency <= b->agencies ? &b->agency[agency - 1] : NULL;
}

enum barrier_status barrier_batch_check(const struct barrier *b, uint32_t agency, uint32_t seq,
                                        bool *store)
{
	const struct agency_state *a = find(b, agency);

	*store = false;
	if (a == NULL)
		return BARRIER_E_AGENCY;
	if (seq < a->next_seq)
		return BARRIER_OK;
	if (a->done)
		return BARRIER_E_DONE;
	if (seq > a->next_seq)
		return BARRIER_E_AHEAD;
	*store = true;
	return BARRIER_OK;
}

enum barrier_status barrier_batch_repeat(const struct barrier *b, uint32_t agency, uint32_t seq,
                                         uint32_t rows_crc)
{
	const struct agency_state *a = find(b, agency);

	if (a == NULL)
		return BARRIER_E_AGENCY;
	if (seq >= a->next_seq)
		return BARRIER_E_AHEAD;
	return a->rows_crc[seq] == rows_crc ? BARRIER_OK : BARRIER_E_CONFLICT;
}

int barrier_batch_reserve(struct barrier *b, uint32_t agency)
{
	struct agency_state *a = find_mut(b, agency);
	uint32_t *grown, cap;

	if (a == NULL || a->next_seq < a->crc_cap)
		return 0;
	if (a->crc_cap > UINT32_MAX / 2) {
		errno = ENOMEM;
		return -1;
	}
	cap = a->crc_cap == 0 ? 64 : a->crc_cap * 2;
	grown = realloc(a->rows_crc, (size_t)cap * sizeof(*grown));
	if (grown == NULL)
		return -1;
	a->rows_crc = grown;
	a->crc_cap = cap;
	return 0;
}

int barrier_batch_stored(struct barrier *b, uint32_t agency, uint32_t count, uint32_t rows_crc)
{
	struct agency_state *a = find_mut(b, agency);

	if (a == NULL)
		return 0;
	if (barrier_batch_reserve(b, agency) != 0)
		return -1;
	a->rows_crc[a->next_seq] = rows_crc;
	a->next_seq++;
	a->stored += count;
	return 0;
}

enum barrier_status barrier_session_check(const struct barrier *b, uint32_t agency,
                                          uint64_t session)
{
	const struct agency_state *a = find(b, agency);

	if (a == NULL || session == 0)
		return BARRIER_OK; /* the request's own checks refuse an unknown agency */
	if (session < a->newest_session)
		return BARRIER_E_SESSION;
	return BARRIER_OK;
}

void barrier_session_wrote(struct barrier *b, uint32_t agency, uint64_t session)
{
	struct agency_state *a = find_mut(b, agency);

	if (a != NULL && session > a->newest_session)
		a->newest_session = session;
}

void barrier_digest_bet(struct barrier *b, const struct bet *bet)
{
	if (bet->agency >= 1 && bet->agency <= b->agencies)
		digest_add_bet(&b->digests[bet->agency - 1], bet);
}

void barrier_digest_bytes(struct barrier *b, uint32_t agency, const uint8_t *bytes, size_t len)
{
	if (agency >= 1 && agency <= b->agencies)
		digest_add(&b->digests[agency - 1], bytes, len);
}

enum barrier_status barrier_digest_check(const struct barrier *b, uint32_t agency,
                                         const uint8_t digest[DIGEST_SIZE])
{
	uint8_t ours[DIGEST_SIZE];

	if (find(b, agency) == NULL)
		return BARRIER_E_AGENCY;
	digest_value(&b->digests[agency - 1], ours);
	return sodium_memcmp(ours, digest, DIGEST_SIZE) == 0 ? BARRIER_OK : BARRIER_E_DIGEST;
}

enum barrier_status barrier_bet_check(const struct barrier *b, uint32_t agency)
{
	const struct agency_state *a = find(b, agency);

	if (a == NULL)
		return BARRIER_E_AGENCY;
	return a->done ? BARRIER_E_DONE : BARRIER_OK;
}

void barrier_bet_stored(struct barrier *b, uint32_t agency)
{
	struct agency_state *a = find_mut(b, agency);

	if (a != NULL)
		a->stored++;
}

enum barrier_status barrier_done(struct barrier *b, uint32_t agency, uint32_t total,
                                 bool *draw_now)
{
	struct agency_state *a = find_mut(b, agency);

	*draw_now = false;
	if (a == NULL)
		return BARRIER_E_AGENCY;
	if (total != a->stored)
		return BARRIER_E_TOTAL;
	if (a->done)
		return BARRIER_OK;
	a->done = true;
	b->done_count++;
	*draw_now = b->done_count == b->agencies;
	return BARRIER_OK;
}

uint32_t barrier_stored(const struct barrier *b, uint32_t agency)
{
	const struct agency_state *a = find(b, agency);

	return a == NULL ? 0 : a->stored;
}

uint32_t barrier_next_seq(const struct barrier *b, uint32_t agency)
{
	const struct agency_state *a = find(b, agency);

	return a == NULL ? 0 : a->next_seq;
}

bool barrier_agency_done(const struct barrier *b, uint32_t agency)
{
	const struct agency_state *a = find(b, agency);

	return a != NULL && a->done;
}

uint32_t barrier_done_count(const struct barrier *b)
{
	return b->done_count;
}

int barrier_winners_reserve(struct barrier *b, uint32_t agency, uint32_t more)
{
	struct agency_state *a = find_mut(b, agency);
	barrier_document *grown;
	uint32_t cap;

	if (a == NULL || a->winner_cap - a->winner_count >= more)
		return 0;
	if (more > UINT32_MAX / 4 || a->winner_count > UINT32_MAX / 4 - more) {
		errno = ENOMEM;
		return -1;
	}
	cap = a->winner_cap == 0 ? 8 : a->winner_cap;
	while (cap - a->winner_count < more)
		cap *= 2;
	grown = realloc(a->winners, (size_t)cap * sizeof(*grown));
	if (grown == NULL)
		return -1;
	a->winners = grown;
	a->winner_cap = cap;
	return 0;
}

int barrier_winner_add(struct barrier *b, uint32_t agency, const char *document, size_t len)
{
	struct agency_state *a = find_mut(b, agency);

	if (a == NULL)
		return 0; /* not one of this draw's agencies: cannot be, the rows are ours */
	if (barrier_winners_reserve(b, agency, 1) != 0)
		return -1;
	if (len > BET_DOCUMENT_MAX)
		len = BET_DOCUMENT_MAX;
	memcpy(a->winners[a->winner_count], document, len);
	a->winners[a->winner_count][len] = '\0';
	a->winner_count++;
	return 0;
}

int barrier_draw(struct barrier *b)
{
	if (b->draw == DRAW_PENDING)
		b->draw = DRAW_OK;
	if (b->draw == DRAW_OK)
		return 0;
	errno = b->draw_errno;
	return -1;
}

void barrier_draw_fail(struct barrier *b, int err, uint32_t mismatch)
{
	if (b->draw != DRAW_PENDING)
		return;
	b->draw = DRAW_FAILED;
	b->draw_errno = err;
	b->draw_mismatch = mismatch;
}

uint32_t barrier_draw_mismatch(const struct barrier *b)
{
	return b->draw_mismatch;
}

bool barrier_drawn(const struct barrier *b)
{
	return b->draw != DRAW_PENDING;
}

uint32_t barrier_winner_count(const struct barrier *b, uint32_t agency)
{
	const struct agency_state *a = find(b, agency);

	return a == NULL ? 0 : a->winner_count;
}

enum barrier_status barrier_winners(const struct barrier *b, uint32_t agency,
                                    const barrier_document **docs, uint32_t *count)
{
	const struct agency_state *a = find(b, agency);

	*docs = NULL;
	*count = 0;
	if (a == NULL)
		return BARRIER_E_AGENCY;
	if (b->draw == DRAW_PENDING)
		return BARRIER_E_PENDING;
	if (b->draw == DRAW_FAILED)
		return BARRIER_E_DRAW;
	*docs = a->winners;
	*count = a->winner_count;
	return BARRIER_OK;
}
