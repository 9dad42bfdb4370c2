/* csv: RFC 4180 records, read as a stream and written with minimal quoting.
 *
 * The reader accepts LF and CRLF line ends, quoted fields with doubled quotes and with commas and
 * line breaks inside, and a last line without a line end. It never holds more than one record. */
#ifndef TP0_CSV_H
#define TP0_CSV_H

#include <stddef.h>
#include <stdio.h>

#define CSV_MAX_FIELDS 16
#define CSV_RECORD_MAX 4096 /* bytes of one record's fields, after unquoting */

enum csv_status {
	CSV_RECORD = 1,             /* a record was read */
	CSV_END = 0,                /* end of input */
	CSV_ERR_QUOTE = -1,         /* a quote where none may be, or an unterminated quoted field */
	CSV_ERR_TOO_LONG = -2,      /* the record is over CSV_RECORD_MAX */
	CSV_ERR_TOO_MANY_FIELDS = -3,
	CSV_ERR_IO = -4,            /* read error; errno says why */
};

struct csv_record {
	size_t count;                       /* fields in this record */
	char *fields[CSV_MAX_FIELDS];       /* NUL-terminated, valid until the next read */
	size_t lengths[CSV_MAX_FIELDS];     /* bytes, so an embedded NUL can be detected */
	unsigned long line;                 /* line number (1-based) where the record starts */
};

struct csv_reader {
	FILE *fp;                   /* not owned */
	unsigned long line;         /* current line */
	char buf[CSV_RECORD_MAX + CSV_MAX_FIELDS];
};

void csv_reader_init(struct csv_reader *r, FILE *fp);
/* Reads the next record. After CSV_ERR_TOO_LONG or CSV_ERR_TOO_MANY_FIELDS the rest of that
 * record is skipped and reading can go on; after CSV_ERR_QUOTE it goes on at the next line. An
 * empty line is skipped. rec->line is set on errors too. */
int csv_read_record(struct csv_reader *r, struct csv_record *rec);
const char *csv_status_text(int status);

/* Appends field (len bytes) to dst at *pos, quoted only if it holds ',', '"', CR or LF (quotes
 * doubled). 0, or -1 if it does not fit in cap (then *pos is unchanged). */
int csv_put_field(char *dst, size_t cap, size_t *pos, const char *field, size_t len);
/* The same for a field that must come back as a C string: -1 too when it holds a NUL (found in
 * the same pass over its bytes). */
int csv_put_text_field(char *dst, size_t cap, size_t *pos, const char *field, size_t len);
/* Appends a whole record (fields separated by ',', ending in '\n'); 0 or -1 as above. */
int csv_put_record(char *dst, size_t cap, size_t *pos, const char *const *fields,
                   const size_t *lengths, size_t count);

#endif
