/* bets.csv.journal: records that survive the round trip, and the ones replay must refuse (a
 * flipped bit, a torn tail, a record its reader does not accept). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../storage/journal.h"

#define RECORDS_MAX 8

#define TMP_FILE_NAME "bets.csv.journal"
#define TMP_FILE_PREFIX "/tmp/tp0-journal-"
#include "tmp_file_fixture.h"

/* Every field far from zero, and the ledger end past 32 bits. */
static struct journal_record sample(uint8_t type, uint32_t seq)
{
	return (struct journal_record){.type = type, .agency = 0x01020304u, .seq = seq,
	                               .count = 0xa0b0c0d0u, .ledger_end = 0x123456789abcdef0ull,
	                               .rows_crc = 0xdeadbeefu};
}

static void assert_record_equal(const struct journal_record *a, const struct journal_record *b)
{
	assert_int_equal(a->type, b->type);
	assert_int_equal(a->agency, b->agency);
	assert_int_equal(a->seq, b->seq);
	assert_int_equal(a->count, b->count);
	assert_int_equal(a->ledger_end, b->ledger_end);
	assert_int_equal(a->rows_crc, b->rows_crc);
}

struct seen {
	size_t count;
	size_t refuse_at; /* the callback refuses the record with this index (0: none) */
	struct journal_record records[RECORDS_MAX];
};

static int remember(void *arg, const struct journal_record *r)
{
	struct seen *s = arg;

	if (s->refuse_at != 0 && s->count + 1 == s->refuse_at)
		return 1;
	if (s->count == RECORDS_MAX)
		return 2;
	s->records[s->count++] = *r;
	return 0;
}

static off_t file_size(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return st.st_size;
}

static void append_bytes(const char *path, const void *bytes, size_t len)
{
	int fd = open(path, O_WRONLY | O_APPEND);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, bytes, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
}

static void test_round_trip(void **state)
{
	uint8_t raw[JOURNAL_RECORD_SIZE];
	struct journal_record back;

	(void)state;
	for (uint8_t type = JOURNAL_OPEN; type <= JOURNAL_CLOSED; type++) {
		struct journal_record r = sample(type, 0x11223344u + type);

		journal_encode(&r, raw);
		/* The layout journal.h documents: "TPJ1", the type, then big-endian fields. */
		assert_memory_equal(raw, "TPJ1", 4);
		assert_int_equal(raw[4], type);
		assert_int_equal(raw[8], 0x01);
		assert_int_equal(raw[20], 0x12);
		assert_int_equal(raw[27], 0xf0);
		memset(&back, 0, sizeof(back));
		assert_int_equal(journal_decode(raw, &back), 0);
		assert_record_equal(&back, &r);
	}
}

/* Any one bit flipped anywhere in a record makes it unreadable, never another record. */
static void test_flipped_bit_refused(void **state)
{
	struct journal_record r = sample(JOURNAL_BATCH, 7), back;
	uint8_t raw[JOURNAL_RECORD_SIZE];

	(void)state;
	journal_encode(&r, raw);
	for (size_t bit = 0; bit < JOURNAL_RECORD_SIZE * 8; bit++) {
		raw[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		if (journal_decode(raw, &back) == 0)
			fail_msg("a record with bit %zu flipped was accepted", bit);
		raw[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	assert_int_equal(journal_decode(raw, &back), 0);
}

/* A checksum that matches does not make an unknown type or non-zero padding a record. */
static void test_unknown_type_refused(void **state)
{
	struct journal_record r = sample(JOURNAL_CLOSED + 1, 0), back;
	uint8_t raw[JOURNAL_RECORD_SIZE];

	(void)state;
	journal_encode(&r, raw);
	assert_int_equal(journal_decode(raw, &back), -1);
	r.type = 0;
	journal_encode(&r, raw);
	assert_int_equal(journal_decode(raw, &back), -1);
}

static void write_records(const char *path, size_t n)
{
	struct journal *j;

	assert_int_equal(journal_open(&j, path), 0);
	for (size_t i = 0; i < n; i++) {
		struct journal_record r = sample(i == 0 ? JOURNAL_OPEN : JOURNAL_BATCH,
		                                 (uint32_t)i);

		assert_int_equal(journal_append(j, &r), 0);
		assert_int_equal(journal_size(j), (i + 1) * JOURNAL_RECORD_SIZE);
	}
	assert_int_equal(journal_sync(j), 0);
	assert_int_equal(journal_close(j), 0);
}

/* A crash in the middle of an append leaves less than a record: replay stops before it, and
 * after a cut the next record lands where the torn one began. */
static void test_short_tail_ignored(void **state)
{
	struct tmp *t = *state;
	struct journal_record next = sample(JOURNAL_DONE, 0);
	uint8_t raw[JOURNAL_RECORD_SIZE];
	struct seen seen = {0};
	struct journal *j;
	uint64_t valid_end = 1;

	write_records(t->path, 3);
	journal_encode(&next, raw);
	append_bytes(t->path, raw, JOURNAL_RECORD_SIZE - 1);

	assert_int_equal(journal_open(&j, t->path), 0);
	assert_int_equal(journal_size(j), 4 * JOURNAL_RECORD_SIZE - 1);
	assert_int_equal(journal_replay(j, remember, &seen, &valid_end), 0);
	assert_int_equal(seen.count, 3);
	assert_int_equal(valid_end, 3 * JOURNAL_RECORD_SIZE);
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(seen.records[i].seq, i);

	assert_int_equal(journal_truncate(j, valid_end), 0);
	assert_int_equal(journal_size(j), 3 * JOURNAL_RECORD_SIZE);
	assert_int_equal(journal_append(j, &next), 0);
	assert_int_equal(journal_close(j), 0);
	assert_int_equal(file_size(t->path), 4 * JOURNAL_RECORD_SIZE);

	memset(&seen, 0, sizeof(seen));
	assert_int_equal(journal_open(&j, t->path), 0);
	assert_int_equal(journal_replay(j, remember, &seen, &valid_end), 0);
	assert_int_equal(seen.count, 4);
	assert_int_equal(valid_end, 4 * JOURNAL_RECORD_SIZE);
	assert_record_equal(&seen.records[3], &next);
	assert_int_equal(journal_close(j), 0);
}

/* A damaged record in the middle ends the replay there: what follows it is not trusted. */
static void test_damaged_record_ends_replay(void **state)
{
	struct tmp *t = *state;
	struct seen seen = {0};
	struct journal *j;
	uint64_t valid_end = 0;
	int fd;

	write_records(t->path, 4);
	fd = open(t->path, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "X", 1, 2 * JOURNAL_RECORD_SIZE + 13), 1);
	assert_int_equal(close(fd), 0);

	assert_int_equal(journal_open(&j, t->path), 0);
	assert_int_equal(journal_replay(j, remember, &seen, &valid_end), 0);
	assert_int_equal(seen.count, 2);
	assert_int_equal(valid_end, 2 * JOURNAL_RECORD_SIZE);
	assert_int_equal(journal_close(j), 0);
}

/* The reader refuses the third record: replay stops there, and that record is not valid. */
static void test_replay_stops_where_callback_refuses(void **state)
{
	struct tmp *t = *state;
	struct seen seen = {.refuse_at = 3};
	struct journal *j;
	uint64_t valid_end = 0;

	write_records(t->path, 5);
	assert_int_equal(journal_open(&j, t->path), 0);
	assert_int_equal(journal_replay(j, remember, &seen, &valid_end), 0);
	assert_int_equal(seen.count, 2);
	assert_int_equal(valid_end, 2 * JOURNAL_RECORD_SIZE);
	assert_int_equal(journal_close(j), 0);
}

struct counted {
	uint32_t count;
	uint32_t out_of_order;
};

static int count_in_order(void *arg, const struct journal_record *r)
{
	struct counted *c = arg;

	if (r->seq != c->count)
		c->out_of_order++;
	c->count++;
	return 0;
}

/* More records than one read holds: the records on either side of a chunk's end count too. */
static void test_replay_across_chunks(void **state)
{
	struct tmp *t = *state;
	const uint32_t n = 5000; /* journal.c reads 1820 records at a time */
	struct counted c = {0};
	struct journal *j;
	uint64_t valid_end = 0;

	write_records(t->path, n);
	append_bytes(t->path, "torn", 4);
	assert_int_equal(journal_open(&j, t->path), 0);
	assert_int_equal(journal_replay(j, count_in_order, &c, &valid_end), 0);
	assert_int_equal(c.count, n);
	assert_int_equal(c.out_of_order, 0);
	assert_int_equal(valid_end, (uint64_t)n * JOURNAL_RECORD_SIZE);
	assert_int_equal(journal_close(j), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_flipped_bit_refused),
		cmocka_unit_test(test_unknown_type_refused),
		cmocka_unit_test_setup_teardown(test_short_tail_ignored, setup, teardown),
		cmocka_unit_test_setup_teardown(test_damaged_record_ends_replay, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replay_stops_where_callback_refuses, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_replay_across_chunks, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
