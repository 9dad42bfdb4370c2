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

#include "../../storage/ledger.h"

#define TMP_FILE_NAME "bets.csv"
#define TMP_FILE_PREFIX "/tmp/tp0-ledger-"
#include "tmp_file_fixture.h"

static struct bet make_bet(uint32_t agency, const char *first, const char *last,
                           const char *document, uint16_t number)
{
	return fixture_bet(agency, first, last, document, "1985-12-31", number);
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
	assert_int_equal(ledger_store_bets(l, bets, 2, NULL), 0);
	assert_int_equal(ledger_store_bets(l, bets + 2, 2, NULL), 0);
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
	assert_int_equal(ledger_store_bets(l, bets, 70, NULL), 0);
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
	assert_int_equal(ledger_store_bets(l, &bet, 1, &crc), 0);
	uint32_t check = 0;
	assert_int_equal(ledger_crc_range(l, 28, ledger_size(l), &check), 0);
	assert_int_equal(check, crc);
	assert_int_equal(ledger_crc_range(l, 28, ledger_size(l) + 1, &check), -1);
	assert_int_equal(errno, EBADMSG);
	assert_int_equal(ledger_store_bets(l, &bet, 0, &crc), 0); /* nothing to write */
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
	assert_int_equal(ledger_store_bets(l, first, 2, NULL), 0);
	before = ledger_size(l);

	memset(&ignore, 0, sizeof(ignore));
	ignore.sa_handler = SIG_IGN;
	assert_int_equal(sigaction(SIGXFSZ, &ignore, &old_action), 0);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old_limit), 0);
	limit = old_limit;
	limit.rlim_cur = (rlim_t)(before + 100); /* room for a part of the batch only */
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &limit), 0);
	rc = ledger_store_bets(l, big, 20, NULL);
	saved = errno;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old_limit), 0);
	assert_int_equal(sigaction(SIGXFSZ, &old_action, NULL), 0);

	assert_int_equal(rc, -1);
	assert_true(saved == ENOSPC || saved == EFBIG);
	assert_int_equal(ledger_size(l), before);
	assert_int_equal(file_size(t->path), (off_t)before);

	assert_int_equal(ledger_store_bets(l, &last, 1, NULL), 0);
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
	assert_int_equal(ledger_store_bets(l, &bet, 1, NULL), 0);
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
		cmocka_unit_test_setup_teardown(test_callback_stops_load, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kept_at_start, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batch_whole_or_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_row, setup, teardown),
		cmocka_unit_test(test_open_fails),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
