/* csv: a streaming RFC 4180 reader (one record in memory) and a minimal-quoting writer. */
#include "csv.h"

#include <stdbool.h>
#include <string.h>

/* getc_unlocked: the stream belongs to one reader, so the per-character lock of getc() buys
 * nothing but time on files of tens of thousands of records. */
static int next_char(struct csv_reader *r)
{
	int c = getc_unlocked(r->fp);

	if (c == '\n')
		r->line++;
	return c;
}

/* After a CR: a following LF, or the end of the input, makes it a line end; anything else is
 * pushed back and the CR stays in the field as data (RFC 4180 has no bare CR; kept, it is a
 * control character that bet_validate() rejects, rather than a silent record split). */
static bool cr_ends_line(struct csv_reader *r)
{
	int c = getc_unlocked(r->fp);

	if (c == '\n') {
		r->line++;
		return true;
	}
	if (c == EOF)
		return true;
	ungetc(c, r->fp);
	return false;
}

/* Recovery after a misplaced quote: drop everything up to the end of the physical line, since the
 * quoting can no longer be trusted to tell where the record ends. */
static void skip_line(struct csv_reader *r)
{
	int c;

	do
		c = next_char(r);
	while (c != '\n' && c != EOF);
}

void csv_reader_init(struct csv_reader *r, FILE *fp)
{
	r->fp = fp;
	r->line = 1;
}

enum parse_state {
	FIELD_START,
	UNQUOTED,
	QUOTED,
	QUOTE_IN_QUOTED, /* a '"' inside a quoted field: an escape or the closing quote */
};

struct parse {
	struct csv_record *rec;
	char *buf;
	size_t used;       /* bytes of buf in use, terminators included */
	size_t data;       /* field bytes, terminators excluded: the CSV_RECORD_MAX measure */
	size_t start;      /* where the current field begins in buf */
	int error;         /* the first error of this record; once set, bytes are not kept */
};

static void put_byte(struct parse *p, int c)
{
	if (p->error != 0)
		return;
	if (p->data >= CSV_RECORD_MAX) {
		p->error = CSV_ERR_TOO_LONG;
		return;
	}
	p->buf[p->used++] = (char)c;
	p->data++;
}

static void end_field(struct parse *p)
{
	struct csv_record *rec = p->rec;

	if (p->error != 0)
		return;
	if (rec->count == CSV_MAX_FIELDS) {
		p->error = CSV_ERR_TOO_MANY_FIELDS;
		return;
	}
	p->buf[p->used++] = '\0';
	rec->fields[rec->count] = p->buf + p->start;
	rec->lengths[rec->count] = p->used - 1 - p->start;
	rec->count++;
	p->start = p->used;
}

static int finish(struct parse *p, int status)
{
	if (p->error != 0) {
		p->rec->count = 0;
		return p->error;
	}
	return status;
}

/* Skips empty lines; returns the first character of the record, or EOF. */
static int record_start(struct csv_reader *r)
{
	for (;;) {
		int c = next_char(r);

		if (c == '\n')
			continue;
		if (c == '\r' && cr_ends_line(r))
			continue;
		return c;
	}
}

int csv_read_record(struct csv_reader *r, struct csv_record *rec)
{
	struct parse p = { .rec = rec, .buf = r->buf };
	enum parse_state state = FIELD_START;
	int c;

	rec->count = 0;
	c = record_start(r);
	rec->line = r->line;
	if (c == EOF)
		return ferror(r->fp) ? CSV_ERR_IO : CSV_END;

	for (;; c = next_char(r)) {
		if (c == EOF && ferror(r->fp)) {
			rec->count = 0;
			return CSV_ERR_IO;
		}
		switch (state) {
		case FIELD_START:
		case UNQUOTED:
			if (c == EOF || c == '\n') {
				end_field(&p);
				return finish(&p, CSV_RECORD);
			}
			if (c == '\r' && cr_ends_line(r)) {
				end_field(&p);
				return finish(&p, CSV_RECORD);
			}
			if (c == ',') {
				end_field(&p);
				state = FIELD_START;
			} else if (c == '"') {
				if (state == UNQUOTED) {
					skip_line(r);
					rec->count = 0;
					return p.error != 0 ? p.error : CSV_ERR_QUOTE;
				}
				state = QUOTED;
			} else {
				put_byte(&p, c);
				state = UNQUOTED;
			}
			break;
		case QUOTED:
			if (c == EOF) {
				rec->count = 0;
				return p.error != 0 ? p.error : CSV_ERR_QUOTE;
			}
			if (c == '"')
				state = QUOTE_IN_QUOTED;
			else
				put_byte(&p, c);
			break;
		case QUOTE_IN_QUOTED:
			if (c == '"') {
				put_byte(&p, c);
				state = QUOTED;
			} else if (c == ',') {
				end_field(&p);
				state = FIELD_START;
			} else if (c == EOF || c == '\n' || (c == '\r' && cr_ends_line(r))) {
				end_field(&p);
				return finish(&p, CSV_RECORD);
			} else {
				/* Junk after the closing quote. */
				skip_line(r);
				rec->count = 0;
				return p.error != 0 ? p.error : CSV_ERR_QUOTE;
			}
			break;
		}
	}
}

const char *csv_status_text(int status)
{
	switch (status) {
	case CSV_RECORD:
		return "record";
	case CSV_END:
		return "end of input";
	case CSV_ERR_QUOTE:
		return "misplaced or unterminated quote";
	case CSV_ERR_TOO_LONG:
		return "record too long";
	case CSV_ERR_TOO_MANY_FIELDS:
		return "too many fields";
	case CSV_ERR_IO:
		return "read error";
	default:
		return "unknown csv status";
	}
}

/* What a byte means to the writer: one table lookup a byte, not five compares (the rows of
 * storage pass through here). */
enum { CSV_SPECIAL = 1, CSV_QUOTE = 2, CSV_NUL = 4 };
static const unsigned char byte_class[256] = {
	['\0'] = CSV_NUL,
	['"'] = CSV_SPECIAL | CSV_QUOTE,
	[','] = CSV_SPECIAL,
	['\r'] = CSV_SPECIAL,
	['\n'] = CSV_SPECIAL,
};

/* Whether the field must be quoted, and how many quotes it holds; *nul: whether it holds a NUL
 * (found in the same pass: no reader of C strings could give the field back). */
static bool needs_quotes(const char *field, size_t len, size_t *quotes, bool *nul)
{
	const unsigned char *p = (const unsigned char *)field;
	unsigned seen = 0;

	for (size_t i = 0; i < len; i++)
		seen |= byte_class[p[i]];
	*quotes = 0;
	if (seen & CSV_QUOTE) {
		for (size_t i = 0; i < len; i++)
			*quotes += p[i] == '"';
	}
	*nul = (seen & CSV_NUL) != 0;
	return (seen & CSV_SPECIAL) != 0;
}

static int put_field(char *dst, size_t cap, size_t *pos, const char *field, size_t len,
                     bool force_quotes, bool refuse_nul)
{
	size_t quotes;
	bool nul, quoted = needs_quotes(field, len, &quotes, &nul) || force_quotes;
	size_t need = quoted ? len + quotes + 2 : len;
	size_t at = *pos;

	if ((nul && refuse_nul) || at > cap || need > cap - at)
		return -1;
	if (!quoted) {
		if (len > 0)
			memcpy(dst + at, field, len);
		*pos = at + len;
		return 0;
	}
	dst[at++] = '"';
	for (size_t i = 0; i < len; i++) {
		if (field[i] == '"')
			dst[at++] = '"';
		dst[at++] = field[i];
	}
	dst[at++] = '"';
	*pos = at;
	return 0;
}

int csv_put_field(char *dst, size_t cap, size_t *pos, const char *field, size_t len)
{
	return put_field(dst, cap, pos, field, len, false, false);
}

int csv_put_text_field(char *dst, size_t cap, size_t *pos, const char *field, size_t len)
{
	return put_field(dst, cap, pos, field, len, false, true);
}

int csv_put_record(char *dst, size_t cap, size_t *pos, const char *const *fields,
                   const size_t *lengths, size_t count)
{
	size_t at = *pos;

	for (size_t i = 0; i < count; i++) {
		if (i > 0) {
			if (at >= cap)
				return -1;
			dst[at++] = ',';
		}
		/* A lone empty field unquoted would be an empty line, which readers skip. */
		bool force = count == 1 && lengths[0] == 0;

		if (put_field(dst, cap, &at, fields[i], lengths[i], force, false) != 0)
			return -1;
	}
	if (at >= cap)
		return -1;
	dst[at++] = '\n';
	*pos = at;
	return 0;
}
