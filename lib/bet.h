/* bet: the bet model, its validation (one function shared by client, worker and storage) and the
 * course's has_won(). */
#ifndef TP0_BET_H
#define TP0_BET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BET_NAME_MAX 255      /* bytes of UTF-8: what a one-byte length prefix can say */
#define BET_DOCUMENT_MAX 10   /* digits */
#define BET_DATE_LEN 10       /* YYYY-MM-DD */
#define BET_NUMBER_MAX 9999
#define BET_AGENCY_MAX 9999
#define LOTTERY_WINNER_NUMBER 7574

struct bet {
	uint32_t agency;
	char first_name[BET_NAME_MAX + 1];
	char last_name[BET_NAME_MAX + 1];
	char document[BET_DOCUMENT_MAX + 1];
	char birthdate[BET_DATE_LEN + 1];
	uint16_t number;
};

enum bet_error {
	BET_OK = 0,
	BET_BAD_AGENCY,       /* not in 1..agencies */
	BET_BAD_FIRST_NAME,   /* empty, too long, invalid UTF-8 or a control character */
	BET_BAD_LAST_NAME,
	BET_BAD_DOCUMENT,     /* not 1..10 digits */
	BET_BAD_BIRTHDATE,    /* not a real calendar date YYYY-MM-DD */
	BET_FUTURE_BIRTHDATE, /* after today */
	BET_BAD_NUMBER,       /* not 0..9999 */
};

struct bet_date {
	int year, month, day;
};

const char *bet_error_text(enum bet_error err); /* "invalid document", ... */
/* Whether year-month-day is a day of the (proleptic) Gregorian calendar, year 1..9999. */
bool bet_date_exists(int year, int month, int day);
/* Today in UTC. */
void bet_today(struct bet_date *today);

/* Fills bet from text fields (a CSV row or the environment), copying with bounds: a field too
 * long for its slot, or a number that is not 1..4 decimal digits, is reported with the field's
 * error. Does not run bet_validate(). Lengths are in bytes (an embedded NUL is an error). */
enum bet_error bet_from_fields(struct bet *bet, uint32_t agency, const char *first_name,
                               size_t first_len, const char *last_name, size_t last_len,
                               const char *document, size_t document_len, const char *birthdate,
                               size_t birthdate_len, const char *number, size_t number_len);

/* A bet's fields where they lie (a frame's bytes, proto_bet_view): not NUL-terminated, any
 * byte allowed. */
struct bet_fields {
	uint32_t agency;
	const char *first_name, *last_name, *document, *birthdate;
	size_t first_name_len, last_name_len, document_len, birthdate_len;
	uint16_t number;
};

/* The one validation: agency in 1..agencies, names non-empty valid UTF-8 without control
 * characters (a NUL among them), document 1..10 digits, birthdate a real date not after today,
 * number 0..9999. today NULL: today's date is read. bet_validate checks a struct bet the same
 * way. */
enum bet_error bet_validate_fields(const struct bet_fields *f, uint32_t agencies,
                                   const struct bet_date *today);
enum bet_error bet_validate(const struct bet *bet, uint32_t agencies, const struct bet_date *today);

bool has_won(const struct bet *bet);

#endif
