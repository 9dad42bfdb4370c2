/* Unit tests of lib/csv: the reader's RFC 4180 cases and recovery, and the writer's quoting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "csv.h"

struct fixture {
	FILE *fp;
	struct csv_reader reader;
	struct csv_record rec;
};

static struct fixture *open_text(const char *text, size_t len)
{
	struct fixture *f = test_malloc(sizeof(*f));
	FILE *fp = tmpfile();

	assert_non_null(fp);
	if (len > 0)
		assert_int_equal(fwrite(text, 1, len, fp), len);
	rewind(fp);
	f->fp = fp;
	csv_reader_init(&f->reader, fp);
	return f;
}

static struct fixture *open_str(const char *text)
{
	return open_text(text, strlen(text));
}

static void close_fixture(struct fixture *f)
{
	fclose(f->fp);
	test_free(f);
}

static int next(struct fixture *f)
{
	return csv_read_record(&f->reader, &f->rec);
}

static void assert_field(const struct csv_record *rec, size_t i, const char *want)
{
	assert_true(i < rec->count);
	assert_int_equal(rec->lengths[i], strlen(want));
	assert_memory_equal(rec->fields[i], want, strlen(want) + 1);
}

static void test_plain_records(void **state)
{
	(void)state;
	struct fixture *f = open_str("a,b,c\n1,2,3\n");

	assert_int_equal(next(f), CSV_RECORD);
	assert_int_equal(f->rec.count, 3);
	assert_int_equal(f->rec.line, 1);
	assert_field(&f->rec, 0, "a");
	assert_field(&f->rec, 1, "b");
	assert_field(&f->rec, 2, "c");
	assert_int_equal(next(f), CSV_RECORD);
	assert_int_equal(f->rec.line, 2);
	assert_field(&f->rec, 2, "3");
	assert_int_equal(next(f), CSV_END);
	assert_int_equal(next(f), CSV_END);
	close_fixture(f);
}

static void test_empty_input(void **state)
{
	(void)state;
	struct fixture *f = open_text("", 0);

	assert_int_equal(next(f), CSV_END);
	close_fixture(f);
}

static void test_quoted_fields(void **state)
{
	(void)state;
	struct fixture *f = open_str("\"plain\",\"with, comma\",\"say \"\"hi\"\"\",\"\"\n");

	assert_int_equal(next(f), CSV_RECORD);
	assert_int_equal(f->rec.count, 4);
	assert_field(&f->rec, 0, "plain");
	assert_field(&f->rec, 1, "with, comma");
	assert_field(&f->rec, 2, "say \"hi\"");
	assert_field(&f->rec, 3, "");
	assert_int_equal(next(f), CSV_END);
	close_fixture(f);
}

static void test_newline_inside_quotes(void **state)
{
	(void)state;
	struct fixture *f = open_str("x,\"two\nlines\",y\r\nnext,\"a\r\nb\"\nlast\n");

	assert_int_equal(next(f), CSV_RECORD);
	assert_int_equal(f->rec.line, 1);
	assert_int_equal(f->rec.count, 3);
	assert_field(&f->rec, 1, "two\nlines");
	assert_field(&f->rec, 2, "y");
	assert_int_equal(next(f), CSV_RECORD);
	assert_int_equal(f->rec.line, 3);
	assert_field(&f->rec, 1, "a\r\nb");
	assert_int_equal(next(f), CSV_RECORD);
	assert_int_equal(f->rec.line, 5);
	assert_field(&f->rec, 0, "last");
	assert_int_equal(next(f), CSV_END);
	close_fixture(f);
}

static void test_crlf(void **state)
{
	(void)state;
	struct fixture *f = open_str("a,b\r\nc,\"d\"\r\n");

	assert_int_equal(next(f), CSV_RECORD);
	assert_int_equal(f->rec.count, 2);
	assert_field(&f->rec, 1, "b");
	assert_int_equal(next(f), CSV_RECORD);
	assert_int_equal(f->rec.line, 2);
	assert_field(&f->rec, 0, "c");
	assert_field(&f->rec, 1, "d");
	assert_int_equal(next(f), CSV_END);
	close_fixture(f);
}

static void test_lone_cr_is_data(void **state)
{
	(void)state;
	struct fixture *f = open_str("a\rb,c\r");

	assert_int_equal(next(f), CSV_RECORD);
	assert_int_equal(f->rec.count, 2);
	assert_field(&f->rec, 0, "a\rb");
	assert_field(&f->rec, 1, "c");
	assert_int_equal(next(f), CSV_END);
	close_fixture(f);
}

static void test_missing_trailing_newline(void **state)
{
	(void)state;
	struct fixture *f = open_str("a,b\nc,d");

	assert_int_equal(next(f), CSV_RECORD);
	assert_int_equal(next(f), CSV_RECORD);
	assert_int_equal(f->rec.count, 2);
	assert_field(&f->rec, 1, "d");
	assert_int_equal(next(f), CSV_END);
	close_fixture(f);

	f = open_str("a,\"q\"");
	assert_int_equal(next(f), CSV_RECORD);
	assert_field(&f->rec, 1, "q");
	assert_int_equal(next(f), CSV_END);
	close_fixture(f);
}

static void test_empty_lines_skipped(void **state)
{
	(void)state;
	struct fixture *f = open_str("\n\r\na\n\n\nb\r\n\r\n\n");

	assert_int_equal(next(f), CSV_RECORD);
	assert_int_equal(f->rec.line, 3);
	assert_field(&f->rec, 0, "a");
	assert_int_equal(next(f), CSV_RECORD);
	assert_int_equal(f->rec.line, 6);
	assert_field(&f->rec, 0, "b");
	assert_int_equal(next(f), CSV_END);
	close_fixture(f);
}

static void test_empty_fields_and_counts(void **state)
{
	(void)state;
	struct fixture *f = open_str(",,\na,b,c,d,e\na,b,c,d,e,f,g\n\"\"\n");

	assert_int_equal(next(f), CSV_RECORD);
	assert_int_equal(f->rec.count, 3);
	assert_field(&f->rec, 0, "");
	assert_field(&f->rec, 2, "");
	assert_int_equal(next(f), CSV_RECORD);
	assert_int_equal(f->rec.count, 5);
	assert_int_equal(next(f), CSV_RECORD);
	assert_int_equal(f->rec.count, 7);
	assert_field(&f->rec, 6, "g");
	/* A quoted empty field is a record, not an empty line. */
	assert_int_equal(next(f), CSV_RECORD);
	assert_int_equal(f->rec.count, 1);
	assert_field(&f->rec, 0, "");
	assert_int_equal(next(f), CSV_END);
	close_fixture(f);
}

static void test_embedded_nul_length(void **state)
{
	(void)state;
	static const char text[] = "a\0b,c\n";
	struct fixture *f = open_text(text, sizeof(text) - 1);

	assert_int_equal(next(f), CSV_RECORD);
	assert_int_equal(f->rec.count, 2);
	assert_int_equal(f->rec.lengths[0], 3);
	assert_int_equal(strlen(f->rec.fields[0]), 1);
	close_fixture(f);
}

static void test_unterminated_quote(void **state)
{
	(void)state;
	struct fixture *f = open_str("ok,1\nbad,\"never closed\nmore\n");

	assert_int_equal(next(f), CSV_RECORD);
	assert_int_equal(next(f), CSV_ERR_QUOTE);
	assert_int_equal(f->rec.line, 2);
	assert_int_equal(f->rec.count, 0);
	assert_int_equal(next(f), CSV_END);
	close_fixture(f);
}

static void test_junk_after_closing_quote(void **state)
{
	(void)state;
	struct fixture *f = open_str("a,\"b\"x,c\nd,e\n\"f\" ,g\r\nh\n");

	assert_int_equal(next(f), CSV_ERR_QUOTE);
	assert_int_equal(f->rec.line, 1);
	assert_int_equal(next(f), CSV_RECORD);
	assert_int_equal(f->rec.line, 2);
	assert_field(&f->rec, 0, "d");
	assert_field(&f->rec, 1, "e");
	assert_int_equal(next(f), CSV_ERR_QUOTE);
	assert_int_equal(f->rec.line, 3);
	assert_int_equal(next(f), CSV_RECORD);
	assert_int_equal(f->rec.line, 4);
	assert_field(&f->rec, 0, "h");
	assert_int_equal(next(f), CSV_END);
	close_fixture(f);
}

static void test_quote_inside_unquoted(void **state)
{
	(void)state;
	struct fixture *f = open_str("ab\"c,d\ne,f\n");

	assert_int_equal(next(f), CSV_ERR_QUOTE);
	assert_int_equal(f->rec.line, 1);
	assert_int_equal(next(f), CSV_RECORD);
	assert_int_equal(f->rec.line, 2);
	assert_field(&f->rec, 0, "e");
	assert_int_equal(next(f), CSV_END);
	close_fixture(f);
}

static void test_too_long_and_recovery(void **state)
{
	(void)state;
	static char text[3 * CSV_RECORD_MAX];
	size_t n = 0;

	/* Exactly CSV_RECORD_MAX bytes of fields fits. */
	memset(text + n, 'x', CSV_RECORD_MAX - 1);
	n += CSV_RECORD_MAX - 1;
	text[n++] = ',';
	text[n++] = 'y';
	text[n++] = '\n';
	/* Over the limit: a quoted field with line breaks, so recovery must follow quotes. */
	text[n++] = '"';
	for (size_t i = 0; i < CSV_RECORD_MAX; i++)
		text[n++] = (i % 100 == 99) ? '\n' : 'z';
	memcpy(text + n, "\",tail\nafter,1\n", 15);
	n += 15;

	struct fixture *f = open_text(text, n);

	assert_int_equal(next(f), CSV_RECORD);
	assert_int_equal(f->rec.count, 2);
	assert_int_equal(f->rec.lengths[0], CSV_RECORD_MAX - 1);
	assert_field(&f->rec, 1, "y");
	assert_int_equal(next(f), CSV_ERR_TOO_LONG);
	assert_int_equal(f->rec.line, 2);
	assert_int_equal(next(f), CSV_RECORD);
	assert_int_equal(f->rec.line, 2 + CSV_RECORD_MAX / 100 + 1);
	assert_field(&f->rec, 0, "after");
	assert_field(&f->rec, 1, "1");
	assert_int_equal(next(f), CSV_END);
	close_fixture(f);
}

static void test_too_many_fields_and_recovery(void **state)
{
	(void)state;
	char text[256];
	size_t n = 0;

	for (int i = 0; i < CSV_MAX_FIELDS; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "%s%d", i ? "," : "", i);
	n += (size_t)snprintf(text + n, sizeof(text) - n, "\n");
	for (int i = 0; i <= CSV_MAX_FIELDS; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "%s\"%d\"", i ? "," : "", i);
	n += (size_t)snprintf(text + n, sizeof(text) - n, "\nok\n");

	struct fixture *f = open_text(text, n);

	assert_int_equal(next(f), CSV_RECORD);
	assert_int_equal(f->rec.count, CSV_MAX_FIELDS);
	assert_field(&f->rec, CSV_MAX_FIELDS - 1, "15");
	assert_int_equal(next(f), CSV_ERR_TOO_MANY_FIELDS);
	assert_int_equal(f->rec.line, 2);
	assert_int_equal(next(f), CSV_RECORD);
	assert_int_equal(f->rec.line, 3);
	assert_field(&f->rec, 0, "ok");
	assert_int_equal(next(f), CSV_END);
	close_fixture(f);
}

static void test_status_text(void **state)
{
	(void)state;
	assert_string_equal(csv_status_text(CSV_ERR_QUOTE), "misplaced or unterminated quote");
	assert_string_equal(csv_status_text(CSV_ERR_TOO_LONG), "record too long");
	assert_string_equal(csv_status_text(CSV_ERR_TOO_MANY_FIELDS), "too many fields");
	assert_non_null(csv_status_text(42));
}

static void test_put_field_quoting(void **state)
{
	(void)state;
	char buf[64];
	size_t pos = 0;

	assert_int_equal(csv_put_field(buf, sizeof(buf), &pos, "plain", 5), 0);
	assert_int_equal(csv_put_field(buf, sizeof(buf), &pos, "a,b", 3), 0);
	assert_int_equal(csv_put_field(buf, sizeof(buf), &pos, "say \"hi\"", 8), 0);
	assert_int_equal(csv_put_field(buf, sizeof(buf), &pos, "l1\nl2", 5), 0);
	assert_int_equal(csv_put_field(buf, sizeof(buf), &pos, "cr\r", 3), 0);
	assert_int_equal(csv_put_field(buf, sizeof(buf), &pos, "", 0), 0);
	static const char want[] = "plain\"a,b\"\"say \"\"hi\"\"\"\"l1\nl2\"\"cr\r\"";
	assert_int_equal(pos, sizeof(want) - 1);
	assert_memory_equal(buf, want, pos);
}

/* A NUL is data to csv_put_field (the reader gives it back with the field's length), and refused
 * by csv_put_text_field, for fields that must come back as C strings: nothing written. */
static void test_put_nul(void **state)
{
	(void)state;
	char buf[16];
	size_t pos = 0;

	assert_int_equal(csv_put_field(buf, sizeof(buf), &pos, "a\0b", 3), 0);
	assert_int_equal(pos, 3);
	assert_memory_equal(buf, "a\0b", 3);
	assert_int_equal(csv_put_text_field(buf, sizeof(buf), &pos, "c\0d", 3), -1);
	assert_int_equal(pos, 3);
	assert_int_equal(csv_put_text_field(buf, sizeof(buf), &pos, "c,d", 3), 0);
	assert_int_equal(pos, 8);
	assert_memory_equal(buf + 3, "\"c,d\"", 5);
}

static void test_put_no_room(void **state)
{
	(void)state;
	char buf[8];
	size_t pos = 2;

	assert_int_equal(csv_put_field(buf, sizeof(buf), &pos, "123456", 6), 0);
	assert_int_equal(pos, 8);
	pos = 2;
	/* Quoted, "12,456" needs 8 bytes: one too many. */
	assert_int_equal(csv_put_field(buf, sizeof(buf), &pos, "12,456", 6), -1);
	assert_int_equal(pos, 2);

	const char *fields[] = { "abc", "def" };
	const size_t lengths[] = { 3, 3 };
	pos = 1;
	/* "abc,def\n" is 8 bytes. */
	assert_int_equal(csv_put_record(buf, sizeof(buf), &pos, fields, lengths, 2), -1);
	assert_int_equal(pos, 1);
	pos = 0;
	assert_int_equal(csv_put_record(buf, sizeof(buf), &pos, fields, lengths, 2), 0);
	assert_int_equal(pos, 8);
	assert_memory_equal(buf, "abc,def\n", 8);
}

static void test_writer_round_trip(void **state)
{
	(void)state;
	const char *rows[][6] = {
		{ "1", "Ana", "Pérez", "30904465", "1999-03-17", "7574" },
		{ "2", "Juan, \"el\" Jefe", "O'Neil\nSegunda", "1", "2000-02-29", "0" },
		{ "3", "", "\r\n", "\"", ",", "9999" },
	};
	char buf[1024];
	size_t pos = 0;

	for (size_t r = 0; r < 3; r++) {
		size_t lengths[6];

		for (size_t i = 0; i < 6; i++)
			lengths[i] = strlen(rows[r][i]);
		assert_int_equal(csv_put_record(buf, sizeof(buf), &pos, rows[r], lengths, 6), 0);
	}
	/* A single empty field must not turn into an empty line (which readers skip). */
	const char *lone[] = { "" };
	const size_t lone_len[] = { 0 };
	assert_int_equal(csv_put_record(buf, sizeof(buf), &pos, lone, lone_len, 1), 0);
	assert_int_equal(buf[pos - 1], '\n');

	struct fixture *f = open_text(buf, pos);

	for (size_t r = 0; r < 3; r++) {
		assert_int_equal(next(f), CSV_RECORD);
		assert_int_equal(f->rec.count, 6);
		for (size_t i = 0; i < 6; i++)
			assert_field(&f->rec, i, rows[r][i]);
	}
	assert_int_equal(next(f), CSV_RECORD);
	assert_int_equal(f->rec.count, 1);
	assert_field(&f->rec, 0, "");
	assert_int_equal(next(f), CSV_END);
	close_fixture(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_records),
		cmocka_unit_test(test_empty_input),
		cmocka_unit_test(test_quoted_fields),
		cmocka_unit_test(test_newline_inside_quotes),
		cmocka_unit_test(test_crlf),
		cmocka_unit_test(test_lone_cr_is_data),
		cmocka_unit_test(test_missing_trailing_newline),
		cmocka_unit_test(test_empty_lines_skipped),
		cmocka_unit_test(test_empty_fields_and_counts),
		cmocka_unit_test(test_embedded_nul_length),
		cmocka_unit_test(test_unterminated_quote),
		cmocka_unit_test(test_junk_after_closing_quote),
		cmocka_unit_test(test_quote_inside_unquoted),
		cmocka_unit_test(test_too_long_and_recovery),
		cmocka_unit_test(test_too_many_fields_and_recovery),
		cmocka_unit_test(test_status_text),
		cmocka_unit_test(test_put_field_quoting),
		cmocka_unit_test(test_put_nul),
		cmocka_unit_test(test_put_no_room),
		cmocka_unit_test(test_writer_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
