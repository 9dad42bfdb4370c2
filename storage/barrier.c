#include "barrier.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bet.h"
#include "ledger.h"

typedef char document_t[BET_DOCUMENT_MAX + 1];

struct agency_state {
	uint32_t next_seq;
	uint32_t stored;
	bool done;
	document_t *winners; /* in bets.csv order */
	uint32_t winner_count;
	uint32_t winner_cap;
};

enum draw_state { DRAW_PENDING, DRAW_OK, DRAW_FAILED };

struct barrier {
	uint32_t agencies;
	uint32_t done_count;
	enum draw_state draw;
	int draw_errno;
	struct agency_state agency[]; /* [0] is agency 1 */
};

static void set_reason(char *reason, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_reason(char *reason, size_t cap, const char *fmt, ...)
{
	va_list ap;

	if (reason == NULL || cap == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(reason, cap, fmt, ap);
	va_end(ap);
}

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
	return b;
}

void barrier_free(struct barrier *b)
{
	if (b == NULL)
		return;
	for (uint32_t i = 0; i < b->agencies; i++)
		free(b->agency[i].winners);
	free(b);
}

uint32_t barrier_agencies(const struct barrier *b)
{
	return b->agencies;
}

static bool known(const struct barrier *b, uint32_t agency, char *reason, size_t reason_cap)
{
	if (agency >= 1 && agency <= b->agencies)
		return true;
	set_reason(reason, reason_cap, "agency %u not in the draw (1..%u)", (unsigned)agency,
	           (unsigned)b->agencies);
	return false;
}

static const struct agency_state *find(const struct barrier *b, uint32_t agency, char *reason,
                                       size_t reason_cap)
{
	return known(b, agency, reason, reason_cap) ? &b->agency[agency - 1] : NULL;
}

static struct agency_state *find_mut(struct barrier *b, uint32_t agency, char *reason,
                                     size_t reason_cap)
{
	return known(b, agency, reason, reason_cap) ? &b->agency[agency - 1] : NULL;
}

int barrier_batch_check(const struct barrier *b, uint32_t agency, uint32_t seq, bool *store,
                        char *reason, size_t reason_cap)
{
	const struct agency_state *a = find(b, agency, reason, reason_cap);

	*store = false;
	if (a == NULL)
		return PROTO_E_AGENCY;
	if (seq < a->next_seq)
		return PROTO_E_NONE;
	if (a->done) {
		set_reason(reason, reason_cap, "agency %u is done: no new batch %u accepted",
		           (unsigned)agency, (unsigned)seq);
		return PROTO_E_SEQUENCE;
	}
	if (seq > a->next_seq) {
		set_reason(reason, reason_cap, "batch %u ahead of the next expected, %u",
		           (unsigned)seq, (unsigned)a->next_seq);
		return PROTO_E_SEQUENCE;
	}
	*store = true;
	return PROTO_E_NONE;
}

void barrier_batch_stored(struct barrier *b, uint32_t agency, uint32_t count)
{
	struct agency_state *a = find_mut(b, agency, NULL, 0);

	if (a == NULL)
		return;
	a->next_seq++;
	a->stored += count;
}

int barrier_bet_check(const struct barrier *b, uint32_t agency, char *reason, size_t reason_cap)
{
	const struct agency_state *a = find(b, agency, reason, reason_cap);

	if (a == NULL)
		return PROTO_E_AGENCY;
	if (a->done) {
		set_reason(reason, reason_cap, "agency %u is done: no new bet accepted",
		           (unsigned)agency);
		return PROTO_E_SEQUENCE;
	}
	return PROTO_E_NONE;
}

void barrier_bet_stored(struct barrier *b, uint32_t agency)
{
	struct agency_state *a = find_mut(b, agency, NULL, 0);

	if (a != NULL)
		a->stored++;
}

int barrier_done(struct barrier *b, uint32_t agency, uint32_t total, bool *draw_now,
                 char *reason, size_t reason_cap)
{
	struct agency_state *a = find_mut(b, agency, reason, reason_cap);

	*draw_now = false;
	if (a == NULL)
		return PROTO_E_AGENCY;
	if (total != a->stored) {
		set_reason(reason, reason_cap, "total %u differs from the %u bets stored",
		           (unsigned)total, (unsigned)a->stored);
		return PROTO_E_TOTAL;
	}
	if (a->done)
		return PROTO_E_NONE;
	a->done = true;
	b->done_count++;
	*draw_now = b->done_count == b->agencies;
	return PROTO_E_NONE;
}

uint32_t barrier_stored(const struct barrier *b, uint32_t agency)
{
	const struct agency_state *a = find(b, agency, NULL, 0);

	return a == NULL ? 0 : a->stored;
}

bool barrier_agency_done(const struct barrier *b, uint32_t agency)
{
	const struct agency_state *a = find(b, agency, NULL, 0);

	return a != NULL && a->done;
}

uint32_t barrier_done_count(const struct barrier *b)
{
	return b->done_count;
}

int barrier_draw_bet(void *arg, const struct bet *bet)
{
	struct barrier *b = arg;
	struct agency_state *a;

	if (!has_won(bet))
		return 0;
	a = find_mut(b, bet->agency, NULL, 0);
	if (a == NULL)
		return 0; /* not one of this draw's agencies: cannot be, the file is ours */
	if (a->winner_count == a->winner_cap) {
		uint32_t cap = a->winner_cap == 0 ? 8 : a->winner_cap * 2;
		document_t *grown = realloc(a->winners, cap * sizeof(*grown));

		if (grown == NULL)
			return 1;
		a->winners = grown;
		a->winner_cap = cap;
	}
	memcpy(a->winners[a->winner_count], bet->document, sizeof(document_t));
	a->winner_count++;
	return 0;
}

void barrier_draw_finish(struct barrier *b, bool ok)
{
	b->draw = ok ? DRAW_OK : DRAW_FAILED;
}

int barrier_draw(struct barrier *b, const struct ledger *ledger)
{
	int rc;

	if (b->draw != DRAW_PENDING) {
		errno = b->draw_errno;
		return b->draw == DRAW_OK ? 0 : -1;
	}
	rc = ledger_load_bets(ledger, barrier_draw_bet, b, NULL);
	if (rc != 0) {
		/* The callback stops the load only when out of memory. */
		b->draw_errno = rc == -1 ? errno : ENOMEM;
		barrier_draw_finish(b, false);
		errno = b->draw_errno;
		return -1;
	}
	barrier_draw_finish(b, true);
	return 0;
}

bool barrier_drawn(const struct barrier *b)
{
	return b->draw != DRAW_PENDING;
}

uint32_t barrier_winner_count(const struct barrier *b, uint32_t agency)
{
	const struct agency_state *a = find(b, agency, NULL, 0);

	return a == NULL ? 0 : a->winner_count;
}

int barrier_query(const struct barrier *b, uint32_t agency, uint32_t offset,
                  struct proto_writer *w, bool *held, char *reason, size_t reason_cap)
{
	const struct agency_state *a = find(b, agency, reason, reason_cap);

	*held = false;
	if (a == NULL)
		return PROTO_E_AGENCY;
	if (b->draw == DRAW_PENDING) {
		*held = true;
		return PROTO_E_NONE;
	}
	if (b->draw == DRAW_FAILED) {
		set_reason(reason, reason_cap, "the draw could not read the bets");
		return PROTO_E_STORAGE;
	}
	proto_begin_winners(w, a->winner_count, offset);
	for (uint32_t i = offset; i < a->winner_count; i++) {
		if (proto_add_winner(w, a->winners[i]) != 0)
			break;
	}
	proto_finish(w);
	return PROTO_E_NONE;
}
