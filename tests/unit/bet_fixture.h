/* bet_fixture: building and comparing bets in the unit tests (include after cmocka.h). */
#ifndef TP0_TEST_BET_FIXTURE_H
#define TP0_TEST_BET_FIXTURE_H

#include <stdio.h>
#include <string.h>

#include "bet.h"

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

#endif
