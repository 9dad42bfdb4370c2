/* fuzz_csv: arbitrary bytes read as CSV through a FILE from fmemopen, every record to the end.
 * Checked: each field is NUL-terminated at its length and inside the reader's buffer, records
 * count at most CSV_MAX_FIELDS fields, line numbers never go back, every status is a known one,
 * and the reader always ends. A record read back is written with csv_put_record and read again:
 * the same fields. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"

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
	} while (rc != CSV_ERR_IO);
	fclose(fp);
	free(copy);
	return 0;
}
