/* The client's batch builder: CSV rows in, BATCH frames out. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../client/batcher.h"
#include "../../client/session.h"
#include "log.h"
#include "proto.h"

static const struct bet_date today = {2024, 6, 1};

/* Log lines go to a temporary file the test can read back. */
static FILE *log_file;

static int setup(void **state)
{
	(void)state;
	log_file = tmpfile();
	assert_non_null(log_file);
	log_set_fd(fileno(log_file));
	log_set_level(LOG_DEBUG);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	log_set_fd(STDOUT_FILENO);
	fclose(log_file);
	return 0;
}

static char *read_log(void)
{
	static char text[16384];
	long end = lseek(fileno(log_file), 0, SEEK_CUR);
	assert_true(end >= 0 && (size_t)end < sizeof text);
	ssize_t got = pread(fileno(log_file), text, (size_t)end, 0);
	assert_int_equal(got, end);
	text[got] = '\0';
	return text;
}

/* Decodes the frame w holds as a BATCH and checks agency, seq and count. */
static void check_batch(const struct proto_writer *w, uint32_t agency, uint32_t seq, uint16_t count,
                        struct proto_msg *msg)
{
	struct proto_header h;
	assert_true(w->len <= PROTO_FRAME_MAX);
	assert_int_equal(proto_header_decode(w->buf, &h), PROTO_E_NONE);
	assert_int_equal(h.type, PROTO_BATCH);
	assert_int_equal(h.length + PROTO_HEADER_SIZE, w->len);
	assert_int_equal(proto_decode(h.type, w->buf + PROTO_HEADER_SIZE, h.length, msg),
	                 PROTO_E_NONE);
	assert_int_equal(msg->u.batch.agency, agency);
	assert_int_equal(msg->u.batch.seq, seq);
	assert_int_equal(msg->u.batch.count, count);
}

static FILE *open_text(const char *text)
{
	FILE *fp = tmpfile();
	assert_non_null(fp);
	assert_int_equal(fputs(text, fp) >= 0, 1);
	rewind(fp);
	return fp;
}

static void test_one_batch(void **state)
{
	(void)state;
	FILE *fp = open_text("Santiago Lionel,Lorca,30904465,1999-03-17,2201\n"
	                     "Joaquín,Pérez,1234,2000-02-29,7574\r\n"
	                     "\"Ana, María\",\"O\"\"Neil\",7,1950-12-31,0");
	struct batcher b;
	client_batcher_init(&b, fp, 3, 10, &today);
	static struct proto_writer w;
	struct proto_msg msg;
	struct bet bet;

	assert_int_equal(client_batcher_next(&b, &w, 0), 3);
	check_batch(&w, 3, 0, 3, &msg);
	assert_int_equal(proto_next_bet(&msg.u.batch.bets, 3, &bet), 1);
	assert_string_equal(bet.first_name, "Santiago Lionel");
	assert_string_equal(bet.document, "30904465");
	assert_int_equal(bet.number, 2201);
	assert_int_equal(proto_next_bet(&msg.u.batch.bets, 3, &bet), 1);
	assert_string_equal(bet.first_name, "Joaquín");
	assert_string_equal(bet.birthdate, "2000-02-29");
	assert_int_equal(bet.number, 7574);
	assert_int_equal(proto_next_bet(&msg.u.batch.bets, 3, &bet), 1);
	assert_string_equal(bet.first_name, "Ana, María");
	assert_string_equal(bet.last_name, "O\"Neil");
	assert_int_equal(bet.number, 0);
	assert_int_equal(proto_next_bet(&msg.u.batch.bets, 3, &bet), 0);

	assert_int_equal(client_batcher_line(&b, 0), 1);
	assert_int_equal(client_batcher_line(&b, 2), 3);
	assert_int_equal(client_batcher_line(&b, 3), 0);
	assert_int_equal(b.skipped, 0);

	assert_int_equal(client_batcher_next(&b, &w, 1), 0);
	fclose(fp);
}

static void test_max_amount_splits(void **state)
{
	(void)state;
	FILE *fp = open_text("a,b,1,1990-01-01,1\n"
	                     "a,b,2,1990-01-01,2\n"
	                     "a,b,3,1990-01-01,3\n"
	                     "a,b,4,1990-01-01,4\n"
	                     "a,b,5,1990-01-01,5\n");
	struct batcher b;
	client_batcher_init(&b, fp, 1, 2, &today);
	static struct proto_writer w;
	struct proto_msg msg;
	struct bet bet;
	const uint16_t expect[] = {2, 2, 1};
	unsigned number = 1;

	for (uint32_t seq = 0; seq < 3; seq++) {
		assert_int_equal(client_batcher_next(&b, &w, seq), expect[seq]);
		check_batch(&w, 1, seq, expect[seq], &msg);
		for (unsigned i = 0; i < expect[seq]; i++, number++) {
			assert_int_equal(proto_next_bet(&msg.u.batch.bets, 1, &bet), 1);
			assert_int_equal(bet.number, number);
			assert_int_equal(client_batcher_line(&b, i), number);
		}
	}
	assert_int_equal(client_batcher_next(&b, &w, 3), 0);
	fclose(fp);
}

static void test_invalid_rows_skipped(void **state)
{
	(void)state;
	FILE *fp = open_text("a,b,1,1990-01-01,1\n"           /* 1 ok */
	                     "a,b,1,1990-01-01\n"             /* 2 four fields */
	                     "a,b,12345678901,1990-01-01,1\n" /* 3 document too long */
	                     "a,b,1,1990-02-30,1\n"           /* 4 no such date */
	                     "a,b,1,2030-01-01,1\n"           /* 5 after today */
	                     "a,b,1,1990-01-01,10000\n"       /* 6 number too large */
	                     ",b,1,1990-01-01,1\n"            /* 7 empty first name */
	                     "a,b\"x,1,1990-01-01,1\n"        /* 8 stray quote */
	                     "\n"                             /* 9 empty: not a record */
	                     "c,d,2,1990-01-01,2\n"           /* 10 ok */
	                     "a,b,1,1990-01-01,1,extra\n");   /* 11 six fields */
	struct batcher b;
	client_batcher_init(&b, fp, 7, 10, &today);
	static struct proto_writer w;
	struct proto_msg msg;

	assert_int_equal(client_batcher_next(&b, &w, 0), 2);
	check_batch(&w, 7, 0, 2, &msg);
	assert_int_equal(client_batcher_line(&b, 0), 1);
	assert_int_equal(client_batcher_line(&b, 1), 10);
	assert_int_equal(client_batcher_next(&b, &w, 1), 0);
	assert_int_equal(b.skipped, 8);

	const char *log = read_log();
	const unsigned long lines[] = {2, 3, 4, 5, 6, 7, 8, 11};
	for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
		char want[128];
		snprintf(want, sizeof want,
		         "WARNING  action: bet_skipped | result: fail | client_id: 7 | line: %lu | "
		         "error: ",
		         lines[i]);
		if (strstr(log, want) == NULL)
			fail_msg("no skip line for line %lu in:\n%s", lines[i], log);
	}
	assert_non_null(strstr(log, "line: 2 | error: expected 5 fields, got 4"));
	assert_non_null(strstr(log, "line: 11 | error: expected 5 fields, got 6"));
	fclose(fp);
}

/* With maxAmount at its bound, large bets close a batch early: every frame stays within 8 KiB
 * and no bet is lost or repeated. */
static void test_frame_fills_before_max_amount(void **state)
{
	(void)state;
	char name[BET_NAME_MAX + 1];
	memset(name, 'x', BET_NAME_MAX);
	name[BET_NAME_MAX] = '\0';
	FILE *fp = tmpfile();
	assert_non_null(fp);
	const unsigned rows = 40;
	for (unsigned i = 0; i < rows; i++)
		fprintf(fp, "%s,%s,%u,1990-01-01,%u\n", name, name, 1000000000u + i, i);
	rewind(fp);

	struct batcher b;
	client_batcher_init(&b, fp, 2, PROTO_BATCH_LIMIT, &today);
	static struct proto_writer w;
	struct proto_msg msg;
	struct bet bet;
	unsigned seen = 0, first_of_batch = 0;
	uint32_t seq = 0;
	int n;
	while ((n = client_batcher_next(&b, &w, seq)) > 0) {
		assert_true(n <= (int)PROTO_BATCH_FIT);
		check_batch(&w, 2, seq, (uint16_t)n, &msg);
		first_of_batch = seen;
		while (proto_next_bet(&msg.u.batch.bets, 2, &bet) == 1) {
			assert_int_equal(bet.number, seen);
			assert_int_equal(client_batcher_line(&b, seen - first_of_batch), seen + 1);
			seen++;
		}
		seq++;
	}
	assert_int_equal(n, 0);
	assert_int_equal(seen, rows);
	assert_true(seq >= 3); /* 40 bets of 536 bytes cannot go in fewer than 3 frames */
	assert_int_equal(b.skipped, 0);
	fclose(fp);
}

static void test_max_amount_clamped(void **state)
{
	(void)state;
	FILE *fp = open_text("a,b,1,1990-01-01,1\na,b,2,1990-01-01,2\n");
	struct batcher b;
	client_batcher_init(&b, fp, 1, 0, &today);
	assert_int_equal(b.max_amount, 1);
	static struct proto_writer w;
	assert_int_equal(client_batcher_next(&b, &w, 0), 1);
	assert_int_equal(client_batcher_next(&b, &w, 1), 1);
	assert_int_equal(client_batcher_next(&b, &w, 2), 0);
	fclose(fp);

	fp = open_text("");
	client_batcher_init(&b, fp, 1, 100000, &today);
	assert_int_equal(b.max_amount, PROTO_BATCH_LIMIT);
	assert_int_equal(client_batcher_next(&b, &w, 0), 0);
	fclose(fp);
}

static void test_backoff(void **state)
{
	(void)state;
	assert_int_equal(client_backoff_ms(0), 100);
	assert_int_equal(client_backoff_ms(1), 100);
	assert_int_equal(client_backoff_ms(2), 200);
	assert_int_equal(client_backoff_ms(3), 400);
	assert_int_equal(client_backoff_ms(6), 3200);
	assert_int_equal(client_backoff_ms(7), 5000);
	assert_int_equal(client_backoff_ms(1000000), 5000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_one_batch),
	        cmocka_unit_test(test_max_amount_splits),
	        cmocka_unit_test(test_invalid_rows_skipped),
	        cmocka_unit_test(test_frame_fills_before_max_amount),
	        cmocka_unit_test(test_max_amount_clamped),
	        cmocka_unit_test(test_backoff),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
