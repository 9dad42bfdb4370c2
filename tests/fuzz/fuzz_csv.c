/* fuzz_csv: arbitrary bytes read as CSV through a FILE from fmemopen, every record to the end.
 * Checked: each field is NUL-terminated at its length and inside the reader's buffer, records
 * count at most CSV_MAX_FIELDS fields, line numbers never go back, every status is a known one,
 * and the reader always ends. A record read back is written with csv_put_record and read again:
 * the same fields. A record of five fields or more becomes a bet as the client makes one
 * (bet_from_fields), which bet_validate then judges as the oracle does (fuzz_bet.h). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bet.h"
#include "csv.h"
#include "fuzz_bet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define check(cond) ((cond) ? (void)0 : abort())

/* Writes rec as one line and reads it back: the same fields (a lone empty field is written
 * quoted, so it does not become an empty line, which the reader skips). */
static void round_trip(const struct csv_record *rec)
{
	static char line[CSV_RECORD_MAX * 2 + CSV_MAX_FIELDS * 4 + 2];
	static struct csv_reader again;
	struct csv_record back;
	const char *fields[CSV_MAX_FIELDS];
	size_t pos = 0;
	FILE *fp;
	int rc;

	for (size_t i = 0; i < rec->count; i++)
		fields[i] = rec->fields[i];
	check(csv_put_record(line, sizeof(line), &pos, fields, rec->lengths, rec->count) == 0);
	fp = fmemopen(line, pos, "r");
	check(fp != NULL);
	csv_reader_init(&again, fp);
	rc = csv_read_record(&again, &back);
	check(rc == CSV_RECORD);
	check(back.count == rec->count);
	for (size_t i = 0; i < rec->count; i++) {
		check(back.lengths[i] == rec->lengths[i]);
		check(memcmp(back.fields[i], rec->fields[i], rec->lengths[i]) == 0);
	}
	check(csv_read_record(&again, &back) == CSV_END);
	fclose(fp);
}

/* The client's path from a CSV row to a bet: what bet_from_fields accepts is the fields copied
 * whole, and then validated. */
static void as_bet(const struct csv_record *rec)
{
	static struct bet bet;
	enum bet_error rc;

	memset(&bet, 0x55, sizeof(bet));
	rc = bet_from_fields(&bet, 1, rec->fields[0], rec->lengths[0], rec->fields[1],
	                     rec->lengths[1], rec->fields[2], rec->lengths[2], rec->fields[3],
	                     rec->lengths[3], rec->fields[4], rec->lengths[4]);
	check(bet_error_text(rc) != NULL);
	if (rc != BET_OK)
		return;
	check(bet.agency == 1);
	check(strlen(bet.first_name) == rec->lengths[0] && strlen(bet.last_name) == rec->lengths[1]);
	check(strlen(bet.document) == rec->lengths[2] && strlen(bet.birthdate) == rec->lengths[3]);
	check(memcmp(bet.first_name, rec->fields[0], rec->lengths[0]) == 0);
	check(memcmp(bet.document, rec->fields[2], rec->lengths[2]) == 0);
	check(rec->lengths[4] >= 1 && rec->lengths[4] <= 4 && bet.number <= BET_NUMBER_MAX);
	check(bet.number == (uint16_t)strtoul(rec->fields[4], NULL, 10));
	fuzz_check_bet(&bet, BET_AGENCY_MAX);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct csv_reader reader;
	struct csv_record rec;
	unsigned long last_line = 0;
	size_t reads = 0;
	char *copy;
	FILE *fp;
	int rc;

	if (size == 0)
		return 0; /* fmemopen refuses a size of 0 */
	copy = malloc(size);
	if (copy == NULL)
		return 0;
	memcpy(copy, data, size);
	fp = fmemopen(copy, size, "r");
	check(fp != NULL);
	csv_reader_init(&reader, fp);
	do {
		rc = csv_read_record(&reader, &rec);
		check(rc >= CSV_ERR_IO && rc <= CSV_RECORD);
		check(csv_status_text(rc) != NULL);
		/* Every call consumes at least one byte or ends: more reads than bytes is a loop. */
		check(++reads <= size + 1);
		if (rc == CSV_END)
			break;
		check(rec.line >= last_line && rec.line >= 1);
		last_line = rec.line;
		if (rc != CSV_RECORD)
			continue;
		check(rec.count >= 1 && rec.count <= CSV_MAX_FIELDS);
		for (size_t i = 0; i < rec.count; i++) {
			check(rec.fields[i] >= reader.buf &&
			      rec.fields[i] + rec.lengths[i] < reader.buf + sizeof(reader.buf));
			check(rec.fields[i][rec.lengths[i]] == '\0');
		}
		round_trip(&rec);
		if (rec.count >= 5)
			as_bet(&rec);
	} while (rc != CSV_ERR_IO);
	fclose(fp);
	free(copy);
	return 0;
}
