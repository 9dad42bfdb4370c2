/* bets.csv: rows that survive the round trip, batches that land whole or not at all. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "bet_fixture.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

#include "../../storage/ledger.h"

#define TMP_FILE_NAME "bets.csv"
#define TMP_FILE_PREFIX "/tmp/tp0-ledger-"
#include "tmp_file_fixture.h"

static struct bet make_bet(uint32_t agency, const char *first, const char *last,
                           const char *document, uint16_t number)
{
	return fixture_bet(agency, first, last, document, "1985-12-31", number);
}

/* ledger_store_bets of count bets of agency, as a decoded frame carries them. */
static int store(struct ledger *l, uint32_t agency, const struct bet *bets, size_t count,
                 uint32_t *rows_crc)
{
	static struct fixture_frame frame;

	return ledger_store_bets(l, agency, fixture_cursor(&frame, agency, bets, count), rows_crc);
}

struct collected {
	size_t count;
	struct bet bets[64];
};

static int collect(void *arg, const struct bet *bet)
{
	struct collected *c = arg;

	if (c->count == sizeof(c->bets) / sizeof(c->bets[0]))
		return 7;
	c->bets[c->count++] = *bet;
	return 0;
}

static off_t file_size(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return st.st_size;
}

static char *read_file(const char *path)
{
	static char buf[4096];
	FILE *fp = fopen(path, "r");
	size_t n;

	assert_non_null(fp);
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	buf[n] = '\0';
	fclose(fp);
	return buf;
}

static void test_round_trip_with_quoting(void **state)
{
	struct tmp *t = *state;
	struct bet bets[] = {
		make_bet(1, "Santiago Lionel", "Lorca", "30904465", 7574),
		make_bet(2, "Muñoz, Pepe", "D'Artagnan \"el Gato\"", "1", 0),
		make_bet(9999, "Ana\nMaría", "Pérez\r\nGómez", "1234567890", 9999),
		make_bet(3, "José", "Ñandú", "42", 12),
	};
	struct collected *got = calloc(1, sizeof(*got));
	struct ledger *l;
	const char *text;

	assert_non_null(got);
	assert_int_equal(ledger_open(&l, t->path), 0);
	assert_string_equal(ledger_path(l), t->path);
	for (size_t i = 0; i < 4; i++) /* one request each: every bet is another agency's */
		assert_int_equal(store(l, bets[i].agency, &bets[i], 1, NULL), 0);
	assert_int_equal(ledger_size(l), (size_t)file_size(t->path));

	text = read_file(t->path);
	assert_non_null(strstr(text, "1,Santiago Lionel,Lorca,30904465,1985-12-31,7574\n"));
	assert_non_null(
	    strstr(text, "2,\"Muñoz, Pepe\",\"D'Artagnan \"\"el Gato\"\"\",1,1985-12-31,0\n"));
	assert_non_null(strstr(text, "3,José,Ñandú,42,1985-12-31,12\n"));

	assert_int_equal(ledger_load_bets(l, collect, got, NULL), 0);
	assert_int_equal(got->count, 4);
	for (size_t i = 0; i < 4; i++)
		assert_bet_equal(&got->bets[i], &bets[i]);
	assert_int_equal(ledger_close(l), 0);
	free(got);
}

/* The whole file, its length in *len (freed by the caller). */
static char *slurp(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	char *buf;

	assert_non_null(fp);
	*len = (size_t)file_size(path);
	buf = malloc(*len + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, *len, fp), *len);
	buf[*len] = '\0';
	fclose(fp);
	return buf;
}

static uint32_t crc_of(const char *bytes, size_t len)
{
	return (uint32_t)crc32(crc32(0L, Z_NULL, 0), (const Bytef *)bytes, (uInt)len);
}

/* Requests of one agency each, and the rows the contract wants of them, byte for byte: RFC 4180
 * quoting (a field with a comma, a quote, CR or LF quoted, quotes doubled; nothing else quoted,
 * an empty field included), the agency's and the number's digits (0, 9999, 65535 and the
 * largest agency). */
static const struct {
	uint32_t agency;
	size_t count;
	struct {
		const char *first, *last, *document;
		uint16_t number;
	} bets[6];
	const char *rows;
} cases[] = {
	{1, 6, {{"Santiago Lionel", "Lorca", "30904465", 7574},
	        {"Muñoz, Pepe", "D'Artagnan \"el Gato\"", "1", 0},
	        {"Ana\nMaría", "Pérez\r\nGómez", "1234567890", 9999},
	        {"\"", ",", "10", 9998},
	        {"", "Sin nombre", "7", 10},
	        {"a b", " lead", "100", 100}},
	 "1,Santiago Lionel,Lorca,30904465,1985-12-31,7574\n"
	 "1,\"Muñoz, Pepe\",\"D'Artagnan \"\"el Gato\"\"\",1,1985-12-31,0\n"
	 "1,\"Ana\nMaría\",\"Pérez\r\nGómez\",1234567890,1985-12-31,9999\n"
	 "1,\"\"\"\",\",\",10,1985-12-31,9998\n"
	 "1,,Sin nombre,7,1985-12-31,10\n"
	 "1,a b, lead,100,1985-12-31,100\n"},
	{65535, 1, {{"José", "Ñandú", "42", 1}}, "65535,José,Ñandú,42,1985-12-31,1\n"},
	{UINT32_MAX, 1, {{"X", "Y", "5", 5}}, "4294967295,X,Y,5,1985-12-31,5\n"},
	{10, 2, {{"X", "Y", "5", 1000}, {"Z", "W", "6", 9}},
	 "10,X,Y,5,1985-12-31,1000\n10,Z,W,6,1985-12-31,9\n"},
	{9999, 1, {{"A", "B", "0", 9999}}, "9999,A,B,0,1985-12-31,9999\n"},
	{0, 1, {{"A", "B", "0", 0}}, "0,A,B,0,1985-12-31,0\n"},
};

static size_t case_bets(size_t c, struct bet *bets)
{
	for (size_t i = 0; i < cases[c].count; i++)
		bets[i] = make_bet(cases[c].agency, cases[c].bets[i].first, cases[c].bets[i].last,
		                   cases[c].bets[i].document, cases[c].bets[i].number);
	return cases[c].count;
}

static void test_rows_from_cursor_byte_identical(void **state)
{
	struct tmp *t = *state;
	struct fixture_frame *frame = calloc(1, sizeof(*frame));
	char *expected = calloc(1, 4096), *got;
	struct ledger *l;
	struct bet bets[6];
	size_t len;

	assert_non_null(frame);
	assert_non_null(expected);
	assert_int_equal(ledger_open(&l, t->path), 0);
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		size_t n = case_bets(c, bets);

		assert_int_equal(
		    ledger_store_bets(l, cases[c].agency, fixture_cursor(frame, cases[c].agency, bets, n),
		                      NULL),
		    0);
		strcat(expected, cases[c].rows);
	}
	got = slurp(t->path, &len);
	assert_int_equal(len, strlen(expected));
	assert_memory_equal(got, expected, len);
	assert_int_equal(ledger_size(l), len);
	assert_int_equal(ledger_close(l), 0);
	free(got);
	free(expected);
	free(frame);
}

/* Rows recovery could not read back would stop every later start: a bet numbered past 9999, or
 * with a NUL in a field, is refused (EINVAL) and nothing of its request is written. */
static void test_unreadable_rows_refused(void **state)
{
	struct tmp *t = *state;
	struct fixture_frame *frame = calloc(1, sizeof(*frame));
	struct ledger *l;
	struct bet bets[2];

	assert_non_null(frame);
	assert_int_equal(ledger_open(&l, t->path), 0);
	bets[0] = make_bet(1, "Ana", "Paz", "1", 1);
	bets[1] = make_bet(1, "Ana", "Paz", "2", 10000);
	errno = 0;
	assert_int_equal(ledger_store_bets(l, 1, fixture_cursor(frame, 1, bets, 2), NULL), -1);
	assert_int_equal(errno, EINVAL);
	/* "P\0z": a length-prefixed field carries the NUL (the encoder stops at one, so it is put
	 * into the frame's bytes). */
	bets[1] = make_bet(1, "Ana", "Paz", "2", 9999);
	const struct proto_cursor *c = fixture_cursor(frame, 1, bets, 2);
	uint8_t *bytes = frame->w.buf + (c->p - frame->w.buf);
	size_t at = c->left - (2 + BET_DATE_LEN + 1 + 1 + 1 + 3); /* bet 2's last name */

	assert_memory_equal(bytes + at, "Paz", 3);
	bytes[at + 1] = '\0';
	errno = 0;
	assert_int_equal(ledger_store_bets(l, 1, c, NULL), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(ledger_size(l), 0);
	assert_int_equal(file_size(t->path), 0);
	assert_int_equal(ledger_close(l), 0);
	free(frame);
}

/* A cursor that promises more bets than its bytes hold (none proto_decode made) stores nothing:
 * its journal record would count bets without rows. So does one with bytes past its bets. */
static void test_short_cursor_refused(void **state)
{
	struct tmp *t = *state;
	struct fixture_frame *frame = calloc(1, sizeof(*frame));
	struct bet bets[2] = {make_bet(1, "Ana", "Paz", "1", 1), make_bet(1, "Ana", "Paz", "2", 2)};
	struct proto_cursor c;
	struct ledger *l;

	assert_non_null(frame);
	assert_int_equal(ledger_open(&l, t->path), 0);
	c = *fixture_cursor(frame, 1, bets, 2);
	c.remaining = 3;
	errno = 0;
	assert_int_equal(ledger_store_bets(l, 1, &c, NULL), -1);
	assert_int_equal(errno, EINVAL);
	c = *fixture_cursor(frame, 1, bets, 2);
	c.remaining = 1;
	errno = 0;
	assert_int_equal(ledger_store_bets(l, 1, &c, NULL), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(ledger_size(l), 0);
	assert_int_equal(file_size(t->path), 0);
	assert_int_equal(ledger_close(l), 0);
	free(frame);
}

/* The CRC a request's rows would give (a repeated batch is told by it) is the CRC of the rows
 * ledger_store_bets writes, and reports, for the journal; computing it writes nothing. */
static void test_rows_crc_is_what_was_written(void **state)
{
	struct tmp *t = *state;
	struct fixture_frame *frame = calloc(1, sizeof(*frame));
	struct ledger *l;
	struct bet bets[6];

	assert_non_null(frame);
	assert_int_equal(ledger_open(&l, t->path), 0);
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		size_t n = case_bets(c, bets), before = ledger_size(l), len;
		const struct proto_cursor *cursor = fixture_cursor(frame, cases[c].agency, bets, n);
		uint32_t would = 0, other = 0, wrote = 0, in_file = 0;
		char *text;

		assert_int_equal(ledger_rows_crc(l, cases[c].agency, cursor, &would), 0);
		assert_int_equal(ledger_size(l), before);
		assert_int_equal(file_size(t->path), (off_t)before);
		assert_int_equal(would, crc_of(cases[c].rows, strlen(cases[c].rows)));
		/* the same bets as another agency's are other rows */
		assert_int_equal(ledger_rows_crc(l, cases[c].agency + 1, cursor, &other), 0);
		assert_int_not_equal(other, would);

		assert_int_equal(ledger_store_bets(l, cases[c].agency, cursor, &wrote), 0);
		assert_int_equal(wrote, would);
		assert_int_equal(ledger_crc_range(l, before, ledger_size(l), &in_file), 0);
		assert_int_equal(in_file, wrote);
		text = slurp(t->path, &len);
		assert_int_equal(len, ledger_size(l));
		assert_int_equal(crc_of(text + before, len - before), wrote);
		free(text);
	}
	/* No bets: the CRC of nothing, and nothing written. */
	{
		size_t before = ledger_size(l);
		uint32_t crc = 1;

		assert_int_equal(ledger_rows_crc(l, 1, fixture_cursor(frame, 1, bets, 0), &crc), 0);
		assert_int_equal(crc, 0);
		assert_int_equal(ledger_size(l), before);
	}
	assert_int_equal(ledger_close(l), 0);
	free(frame);
}

/* The largest bets a frame holds, every byte of their names a quote (each doubled in the row):
 * the rows are twice the bets' bytes and more, and still come out whole. */
static void test_worst_case_quoting(void **state)
{
	struct tmp *t = *state;
	struct fixture_frame *frame = calloc(1, sizeof(*frame));
	struct bet bets[PROTO_BATCH_FIT];
	char *expected = malloc(PROTO_BATCH_FIT * 1200), *got, *at;
	struct ledger *l;
	uint32_t crc = 0;
	size_t len;

	assert_non_null(frame);
	assert_non_null(expected);
	at = expected;
	for (size_t i = 0; i < PROTO_BATCH_FIT; i++) {
		bets[i] = make_bet(7, "", "", "1234567890", (uint16_t)(i * 700));
		memset(bets[i].first_name, '"', BET_NAME_MAX);
		memset(bets[i].last_name, '"', BET_NAME_MAX);
		for (int field = 0; field < 2; field++) {
			at += sprintf(at, "%s\"", field == 0 ? "7," : ",");
			memset(at, '"', 2 * BET_NAME_MAX);
			at += 2 * BET_NAME_MAX;
			*at++ = '"';
		}
		at += sprintf(at, ",1234567890,1985-12-31,%u\n", (unsigned)(i * 700));
	}
	assert_int_equal(ledger_open(&l, t->path), 0);
	assert_int_equal(
	    ledger_store_bets(l, 7, fixture_cursor(frame, 7, bets, PROTO_BATCH_FIT), &crc), 0);
	got = slurp(t->path, &len);
	assert_int_equal(len, (size_t)(at - expected));
	assert_memory_equal(got, expected, len);
	assert_int_equal(crc, crc_of(expected, len));
	assert_int_equal(ledger_close(l), 0);
	free(got);
	free(expected);
	free(frame);
}

static void test_callback_stops_load(void **state)
{
	struct tmp *t = *state;
	struct bet bets[70];
	struct collected *got = calloc(1, sizeof(*got));
	struct ledger *l;

	assert_non_null(got);
	for (size_t i = 0; i < 70; i++)
		bets[i] = make_bet(1, "A", "B", "7", (uint16_t)i);
	assert_int_equal(ledger_open(&l, t->path), 0);
	assert_int_equal(store(l, 1, bets, 70, NULL), 0);
	assert_int_equal(ledger_load_bets(l, collect, got, NULL), 7);
	assert_int_equal(got->count, 64);
	assert_int_equal(ledger_close(l), 0);
	free(got);
}

static void test_kept_at_start(void **state)
{
	struct tmp *t = *state;
	struct collected *got = calloc(1, sizeof(*got));
	struct bet bet = make_bet(4, "X", "Y", "5", 5);
	struct ledger *l;
	struct stat st;
	mode_t old_mask;
	FILE *fp;

	assert_non_null(got);
	/* A new file is 0644. */
	old_mask = umask(022);
	assert_int_equal(ledger_open(&l, t->path), 0);
	umask(old_mask);
	assert_int_equal(stat(t->path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);
	assert_int_equal(ledger_close(l), 0);

	/* A previous run's file is kept as found (recovery decides what of it counts), and new
	 * rows go after it; a cut takes rows back out. */
	fp = fopen(t->path, "w");
	assert_non_null(fp);
	fputs("1,Old,Run,1,2000-01-01,7574\n", fp);
	fclose(fp);
	assert_int_equal(ledger_open(&l, t->path), 0);
	assert_int_equal(ledger_size(l), 28);
	assert_int_equal(ledger_load_bets(l, collect, got, NULL), 0);
	assert_int_equal(got->count, 1);
	uint32_t crc = 1;
	assert_int_equal(store(l, 4, &bet, 1, &crc), 0);
	uint32_t check = 0;
	assert_int_equal(ledger_crc_range(l, 28, ledger_size(l), &check), 0);
	assert_int_equal(check, crc);
	assert_int_equal(ledger_crc_range(l, 28, ledger_size(l) + 1, &check), -1);
	assert_int_equal(errno, EBADMSG);
	assert_int_equal(store(l, 4, &bet, 0, &crc), 0); /* nothing to write */
	assert_int_equal(crc, 0);
	assert_int_equal(ledger_load_bets(l, collect, got, NULL), 0);
	assert_int_equal(got->count, 1 + 2);
	assert_int_equal(ledger_cut(l, 28), 0);
	assert_int_equal(file_size(t->path), 28);
	assert_int_equal(ledger_close(l), 0);
	free(got);
}

/* A write that fails part-way (here: the file size limit, RLIMIT_FSIZE) is cut back: the
 * batch is not in the file at all, and the next batch lands right after the previous one. */
static void test_batch_whole_or_nothing(void **state)
{
	struct tmp *t = *state;
	struct collected *got = calloc(1, sizeof(*got));
	struct bet first[2], big[20], last;
	struct sigaction ignore, old_action;
	struct rlimit old_limit, limit;
	struct ledger *l;
	size_t before;
	int rc, saved;

	assert_non_null(got);
	for (size_t i = 0; i < 2; i++)
		first[i] = make_bet(1, "First", "Batch", "1", (uint16_t)i);
	for (size_t i = 0; i < 20; i++)
		big[i] = make_bet(2, "A rather long first name", "And a long last name", "2",
		                  (uint16_t)i);
	last = make_bet(3, "Last", "One", "3", 3);
	assert_int_equal(ledger_open(&l, t->path), 0);
	assert_int_equal(store(l, 1, first, 2, NULL), 0);
	before = ledger_size(l);

	memset(&ignore, 0, sizeof(ignore));
	ignore.sa_handler = SIG_IGN;
	assert_int_equal(sigaction(SIGXFSZ, &ignore, &old_action), 0);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old_limit), 0);
	limit = old_limit;
	limit.rlim_cur = (rlim_t)(before + 100); /* room for a part of the batch only */
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &limit), 0);
	rc = store(l, 2, big, 20, NULL);
	saved = errno;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old_limit), 0);
	assert_int_equal(sigaction(SIGXFSZ, &old_action, NULL), 0);

	assert_int_equal(rc, -1);
	assert_true(saved == ENOSPC || saved == EFBIG);
	assert_int_equal(ledger_size(l), before);
	assert_int_equal(file_size(t->path), (off_t)before);

	assert_int_equal(store(l, 3, &last, 1, NULL), 0);
	assert_int_equal(ledger_load_bets(l, collect, got, NULL), 0);
	assert_int_equal(got->count, 3);
	assert_bet_equal(&got->bets[0], &first[0]);
	assert_bet_equal(&got->bets[1], &first[1]);
	assert_bet_equal(&got->bets[2], &last);
	assert_int_equal(ledger_close(l), 0);
	free(got);
}

static void test_bad_row(void **state)
{
	struct tmp *t = *state;
	struct collected *got = calloc(1, sizeof(*got));
	struct bet bet = make_bet(1, "Ok", "Row", "1", 1);
	unsigned long line = 0;
	struct ledger *l;
	int fd;

	assert_non_null(got);
	assert_int_equal(ledger_open(&l, t->path), 0);
	assert_int_equal(store(l, 1, &bet, 1, NULL), 0);
	/* Someone else wrote to the file: the draw must not trust it. */
	fd = open(t->path, O_WRONLY | O_APPEND);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "1,only,four,fields\n", 19), 19);
	close(fd);
	assert_int_equal(ledger_load_bets(l, collect, got, &line), -1);
	assert_int_equal(errno, EBADMSG);
	assert_int_equal(line, 2);
	assert_int_equal(got->count, 1);
	assert_int_equal(ledger_close(l), 0);
	free(got);
}

/* ledger_file_size is the file as it is on disk now (what the draw compares with the journal),
 * rows written by someone else or cut off included; ledger_size stays what this ledger wrote. */
static void test_file_size_sees_other_writers(void **state)
{
	struct tmp *t = *state;
	struct bet bet = make_bet(1, "Ok", "Row", "1", 1);
	struct ledger *l;
	uint64_t size = 1;
	size_t mine;
	int fd;

	assert_int_equal(ledger_open(&l, t->path), 0);
	assert_int_equal(ledger_file_size(l, &size), 0);
	assert_int_equal(size, 0);
	assert_int_equal(store(l, 1, &bet, 1, NULL), 0);
	mine = ledger_size(l);
	assert_int_equal(ledger_file_size(l, &size), 0);
	assert_int_equal(size, mine);
	fd = open(t->path, O_WRONLY | O_APPEND);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "xyz", 3), 3);
	close(fd);
	assert_int_equal(ledger_file_size(l, &size), 0);
	assert_int_equal(size, mine + 3);
	assert_int_equal(ledger_size(l), mine);
	assert_int_equal(truncate(t->path, 5), 0);
	assert_int_equal(ledger_file_size(l, &size), 0);
	assert_int_equal(size, 5);
	assert_int_equal(ledger_close(l), 0);
}

static void test_open_fails(void **state)
{
	struct ledger *l = NULL;

	(void)state;
	assert_int_equal(ledger_open(&l, "/nonexistent-dir/bets.csv"), -1);
	assert_int_equal(errno, ENOENT);
	assert_null(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip_with_quoting, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rows_from_cursor_byte_identical, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unreadable_rows_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_short_cursor_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rows_crc_is_what_was_written, setup, teardown),
		cmocka_unit_test_setup_teardown(test_worst_case_quoting, setup, teardown),
		cmocka_unit_test_setup_teardown(test_callback_stops_load, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kept_at_start, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batch_whole_or_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_row, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_size_sees_other_writers, setup, teardown),
		cmocka_unit_test(test_open_fails),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
