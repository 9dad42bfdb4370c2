/* store: recovery at start, one test per rule of store.h. Each test builds the files a run (or a
 * crash, or someone else's hand) leaves behind in a temporary directory, opens the store again
 * and checks what it resumed, cut and archived. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "bet_fixture.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../storage/barrier.h"
#include "../../storage/journal.h"
#include "../../storage/ledger.h"
#include "../../storage/store.h"
#include "digest.h"
#include "proto.h"

#define BATCH_MAX 16
#define SYNCED_MAX 16

struct fixture {
	char dir[32];
	char bets[64];
	char journal[80];
};

struct blob {
	size_t len;
	unsigned char *bytes;
};

/* --- the disk as the test sees it --------------------------------------------------------- *
 * fdatasync and rename are defined here, so the store's calls (linked from its archive) land in
 * these: each call can be recorded, or made to fail, without a test hook in the store. */

static struct {
	bool recording;
	size_t synced;
	struct stat synced_file[SYNCED_MAX]; /* which file: st_dev and st_ino */
	unsigned renames;
	unsigned rename_fails; /* the rename with this number (from 1) fails with EIO; 0: none */
} disk;

int fdatasync(int fd)
{
	if (disk.recording && disk.synced < SYNCED_MAX &&
	    fstat(fd, &disk.synced_file[disk.synced]) == 0)
		disk.synced++;
	return fsync(fd); /* the real thing, and more */
}

int rename(const char *from, const char *to)
{
	if (disk.rename_fails != 0 && ++disk.renames == disk.rename_fails) {
		errno = EIO;
		return -1;
	}
	return renameat(AT_FDCWD, from, AT_FDCWD, to);
}

static bool synced(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	for (size_t i = 0; i < disk.synced; i++)
		if (disk.synced_file[i].st_dev == st.st_dev && disk.synced_file[i].st_ino == st.st_ino)
			return true;
	return false;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	memset(&disk, 0, sizeof(disk));
	snprintf(f->dir, sizeof(f->dir), "/tmp/tp0-store-XXXXXX");
	if (mkdtemp(f->dir) == NULL) {
		free(f);
		return -1;
	}
	snprintf(f->bets, sizeof(f->bets), "%s/bets.csv", f->dir);
	snprintf(f->journal, sizeof(f->journal), "%s%s", f->bets, JOURNAL_SUFFIX);
	*state = f;
	return 0;
}

/* Every test leaves its own set of files (archives included): remove whatever is there. */
static int teardown(void **state)
{
	struct fixture *f = *state;
	DIR *d = opendir(f->dir);
	struct dirent *e;
	char path[sizeof(f->dir) + 1 + sizeof(e->d_name)];

	while (d != NULL && (e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", f->dir, e->d_name);
		unlink(path);
	}
	if (d != NULL)
		closedir(d);
	rmdir(f->dir);
	free(f);
	return 0;
}

/* --- files ------------------------------------------------------------------------------- */

static bool exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

static off_t fsize(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return st.st_size;
}

static struct blob slurp(const char *path)
{
	struct blob b = {0};
	FILE *fp = fopen(path, "rb");

	assert_non_null(fp);
	b.len = (size_t)fsize(path);
	b.bytes = malloc(b.len + 1);
	assert_non_null(b.bytes);
	assert_int_equal(fread(b.bytes, 1, b.len, fp), b.len);
	fclose(fp);
	return b;
}

static void assert_file_is(const char *path, const struct blob *want)
{
	struct blob got = slurp(path);

	assert_int_equal(got.len, want->len);
	assert_memory_equal(got.bytes, want->bytes, want->len);
	free(got.bytes);
}

static void write_file(const char *path, const void *bytes, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, bytes, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
}

static void append_bytes(const char *path, const void *bytes, size_t len)
{
	int fd = open(path, O_WRONLY | O_APPEND);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, bytes, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
}

static void append_record(const char *path, const struct journal_record *r, size_t len)
{
	uint8_t raw[JOURNAL_RECORD_SIZE];

	journal_encode(r, raw);
	append_bytes(path, raw, len);
}

static struct journal_record last_record(const char *path)
{
	struct blob b = slurp(path);
	struct journal_record r;

	assert_true(b.len >= JOURNAL_RECORD_SIZE);
	assert_int_equal(journal_decode(b.bytes + b.len - JOURNAL_RECORD_SIZE, &r), 0);
	free(b.bytes);
	return r;
}

/* --- the store --------------------------------------------------------------------------- */

static struct store *open_store(const struct fixture *f, uint32_t agencies, bool new_draw,
                                struct store_recovery *rec)
{
	struct store_options o = {.bets_path = f->bets, .agencies = agencies,
	                          .new_draw = new_draw, .sync = true};
	struct store *s = NULL;
	char err[256] = "";

	if (store_open(&s, &o, rec, err, sizeof(err)) != 0)
		fail_msg("store_open: %s", err);
	return s;
}

/* The bets of batch seq of agency: count of them, documents unique per agency, seq and
 * variant (another variant is another batch under the same number). */
static void make_batch(struct bet *bets, uint32_t agency, uint32_t seq, size_t count,
                       unsigned variant)
{
	char document[BET_DOCUMENT_MAX + 1];

	assert_true(count <= BATCH_MAX);
	for (size_t i = 0; i < count; i++) {
		snprintf(document, sizeof(document), "%u",
		         (unsigned)(variant * 10000000u + agency * 10000 + seq * 100 + i));
		bets[i] = fixture_bet(agency, "Nombre", "Apellido", document, "1990-01-02",
		                      (uint16_t)(i == 0 ? LOTTERY_WINNER_NUMBER : i));
	}
}

/* Stores these bets as batch seq of agency, as the service does: the barrier's check first,
 * then the bets as the decoded frame carries them. */
static void store_these(struct store *s, uint32_t agency, uint32_t seq, const struct bet *bets,
                        size_t count)
{
	static struct fixture_frame frame;
	bool store;

	assert_int_equal(barrier_batch_check(store_barrier(s), agency, seq, &store), BARRIER_OK);
	assert_true(store);
	assert_int_equal(store_batch(s, agency, seq, fixture_cursor(&frame, agency, bets, count)), 0);
}

/* The CRC of the rows these bets would be as agency's (store_rows_crc). */
static uint32_t rows_crc(struct store *s, uint32_t agency, const struct bet *bets, size_t count)
{
	static struct fixture_frame frame;
	uint32_t crc;

	assert_int_equal(store_rows_crc(s, agency, fixture_cursor(&frame, agency, bets, count), &crc),
	                 0);
	return crc;
}

/* Stores batch seq of agency (count bets, make_batch's variant 0), as the service does: the
 * barrier's check first. */
static void batch(struct store *s, uint32_t agency, uint32_t seq, size_t count)
{
	struct bet bets[BATCH_MAX];

	make_batch(bets, agency, seq, count, 0);
	store_these(s, agency, seq, bets, count);
}

/* What the barrier says of batch seq of agency sent again as make_batch's variant. */
static enum barrier_status repeat_verdict(struct store *s, uint32_t agency, uint32_t seq,
                                          size_t count, unsigned variant)
{
	struct bet bets[BATCH_MAX];

	make_batch(bets, agency, seq, count, variant);
	return barrier_batch_repeat(store_barrier(s), agency, seq, rows_crc(s, agency, bets, count));
}

static void done(struct store *s, uint32_t agency)
{
	uint32_t total = barrier_stored(store_barrier(s), agency);
	bool draw_now;

	assert_int_equal(barrier_done(store_barrier(s), agency, total, &draw_now), BARRIER_OK);
	assert_int_equal(store_done(s, agency, total), 0);
}

/* What barrier_batch_check says of (agency, seq): 1 store it, 0 already stored, -1 refused. */
static int batch_verdict(const struct store *s, uint32_t agency, uint32_t seq)
{
	bool store = false;

	if (barrier_batch_check(store_barrier(s), agency, seq, &store) != BARRIER_OK)
		return -1;
	return store ? 1 : 0;
}

static int count_bet(void *arg, const struct bet *bet)
{
	(void)bet;
	++*(size_t *)arg;
	return 0;
}

/* The bets bets.csv holds (read through a ledger of its own). */
static size_t bets_in_file(const struct fixture *f)
{
	struct ledger *l;
	size_t n = 0;

	assert_int_equal(ledger_open(&l, f->bets), 0);
	assert_int_equal(ledger_load_bets(l, count_bet, &n, NULL), 0);
	assert_int_equal(ledger_close(l), 0);
	return n;
}

static void assert_nothing_cut(const struct store_recovery *rec)
{
	assert_int_equal(rec->ledger_cut, 0);
	assert_int_equal(rec->journal_cut, 0);
	assert_string_equal(rec->cut_reason, "");
}

/* One agency's draw, drawn and stopped cleanly: the next start begins a new one. */
static void closed_draw(const struct fixture *f)
{
	struct store_recovery rec;
	struct store *s = open_store(f, 1, false, &rec);

	batch(s, 1, 0, 3);
	done(s, 1);
	assert_int_equal(store_sync(s), 0);
	assert_int_equal(store_drawn(s), 0);
	assert_int_equal(store_close(s, true), 0);
	assert_int_equal(last_record(f->journal).type, JOURNAL_CLOSED);
}

/* A fresh draw: nothing archived, nothing stored, the journal only its OPEN record. */
static void assert_new_draw(const struct fixture *f, const struct store *s,
                            const struct store_recovery *rec, uint32_t agencies)
{
	struct journal_record open_rec;

	assert_false(rec->resumed);
	assert_int_equal(rec->batches, 0);
	assert_int_equal(rec->bets, 0);
	assert_false(rec->drawn);
	assert_nothing_cut(rec);
	assert_int_equal(fsize(f->bets), 0);
	assert_int_equal(fsize(f->journal), JOURNAL_RECORD_SIZE);
	open_rec = last_record(f->journal);
	assert_int_equal(open_rec.type, JOURNAL_OPEN);
	assert_int_equal(open_rec.agency, agencies);
	for (uint32_t a = 1; a <= agencies; a++) {
		assert_int_equal(barrier_stored(store_barrier(s), a), 0);
		assert_false(barrier_agency_done(store_barrier(s), a));
		assert_int_equal(batch_verdict(s, a, 0), 1);
	}
}

/* --- a draw in progress ------------------------------------------------------------------ */

/* Per agency: the next sequence number, the bets stored and DONE all come back. */
static void test_resume_keeps_sequence_stored_and_done(void **state)
{
	struct fixture *f = *state;
	struct bet single = fixture_bet(3, "Una", "Sola", "3000001", "1980-05-06", 42);
	static struct fixture_frame frame;
	struct store_recovery rec;
	struct store *s = open_store(f, 3, false, &rec);
	off_t size;

	batch(s, 1, 0, 5);
	batch(s, 1, 1, 5);
	batch(s, 2, 0, 4);
	assert_int_equal(barrier_bet_check(store_barrier(s), 3), BARRIER_OK);
	assert_int_equal(store_bet(s, 3, fixture_bet_cursor(&frame, 3, &single)), 0);
	done(s, 1);
	assert_int_equal(store_sync(s), 0);
	assert_int_equal(store_close(s, false), 0); /* a crash, as far as the draw goes */
	size = fsize(f->bets);

	s = open_store(f, 3, false, &rec);
	assert_true(rec.resumed);
	assert_string_equal(rec.archived, "");
	assert_int_equal(rec.batches, 3);
	assert_int_equal(rec.bets, 15);
	assert_int_equal(rec.done, 1);
	assert_false(rec.drawn);
	assert_nothing_cut(&rec);
	assert_int_equal(fsize(f->bets), size);

	assert_int_equal(barrier_stored(store_barrier(s), 1), 10);
	assert_int_equal(barrier_stored(store_barrier(s), 2), 4);
	assert_int_equal(barrier_stored(store_barrier(s), 3), 1);
	assert_true(barrier_agency_done(store_barrier(s), 1));
	assert_false(barrier_agency_done(store_barrier(s), 2));
	assert_int_equal(barrier_done_count(store_barrier(s)), 1);
	assert_int_equal(batch_verdict(s, 1, 1), 0);  /* stored: acknowledged again */
	assert_int_equal(batch_verdict(s, 1, 2), -1); /* agency 1 said DONE */
	assert_int_equal(batch_verdict(s, 2, 0), 0);
	assert_int_equal(batch_verdict(s, 2, 1), 1);  /* the next one */
	assert_int_equal(batch_verdict(s, 2, 2), -1); /* ahead */

	/* And the resumed draw goes on where it was. */
	batch(s, 2, 1, 2);
	assert_int_equal(store_close(s, false), 0);
	s = open_store(f, 3, false, &rec);
	assert_int_equal(rec.batches, 4);
	assert_int_equal(rec.bets, 17);
	assert_int_equal(bets_in_file(f), 17);
	assert_int_equal(store_close(s, false), 0);
}

/* A batch under a stored seq is acknowledged again only if it is the same batch: its rows' CRC
 * (the journal's rows_crc) is kept per agency and seq, and rebuilt by recovery. */
static void test_repeat_digest_rule_and_recovery(void **state)
{
	struct fixture *f = *state;
	struct store_recovery rec;
	struct store *s = open_store(f, 2, false, &rec);
	struct bet bets[BATCH_MAX];

	for (uint32_t seq = 0; seq < 70; seq++) /* past the first allocation of digests */
		batch(s, 1, seq, 3);
	batch(s, 2, 0, 5);
	for (int round = 0; round < 2; round++) {
		for (uint32_t seq = 0; seq < 70; seq++) {
			assert_int_equal(repeat_verdict(s, 1, seq, 3, 0), BARRIER_OK);
			assert_int_equal(repeat_verdict(s, 1, seq, 3, 1), BARRIER_E_CONFLICT);
			assert_int_equal(repeat_verdict(s, 1, seq, 2, 0), BARRIER_E_CONFLICT); /* fewer */
		}
		/* Same bets, another agency's number: not that agency's batch 0. */
		assert_int_equal(repeat_verdict(s, 2, 0, 5, 0), BARRIER_OK);
		make_batch(bets, 1, 0, 3, 0);
		assert_int_equal(barrier_batch_repeat(store_barrier(s), 2, 0, rows_crc(s, 1, bets, 3)),
		                 BARRIER_E_CONFLICT);
		assert_int_equal(repeat_verdict(s, 2, 1, 5, 0), BARRIER_E_AHEAD);
		/* Recovery rebuilds every digest from the journal: the same answers again. */
		assert_int_equal(store_close(s, false), 0);
		s = open_store(f, 2, false, &rec);
		assert_true(rec.resumed);
		assert_int_equal(rec.batches, 71);
	}
	/* Nothing of the comparisons reached the file. */
	assert_int_equal(bets_in_file(f), 70 * 3 + 5);
	assert_int_equal(store_close(s, false), 0);
}

/* A clean stop before the sorteo is no end of the draw: the next start resumes it. */
static void test_clean_stop_before_draw_resumes(void **state)
{
	struct fixture *f = *state;
	struct store_recovery rec;
	struct store *s = open_store(f, 2, false, &rec);

	batch(s, 1, 0, 2);
	assert_int_equal(store_close(s, true), 0);
	assert_int_equal(last_record(f->journal).type, JOURNAL_BATCH);
	s = open_store(f, 2, false, &rec);
	assert_true(rec.resumed);
	assert_string_equal(rec.archived, "");
	assert_int_equal(rec.bets, 2);
	assert_int_equal(store_close(s, true), 0);
}

/* The sorteo was announced, then the process died: the restart knows, and does not announce
 * it again. */
static void test_drawn_persists(void **state)
{
	struct fixture *f = *state;
	struct store_recovery rec;
	struct store *s = open_store(f, 2, false, &rec);

	batch(s, 1, 0, 2);
	batch(s, 2, 0, 3);
	done(s, 1);
	done(s, 2);
	assert_int_equal(store_sync(s), 0);
	assert_int_equal(store_close(s, false), 0);
	s = open_store(f, 2, false, &rec);
	assert_true(rec.resumed);
	assert_false(rec.drawn); /* every DONE, no sorteo yet */
	assert_int_equal(rec.done, 2);
	assert_int_equal(store_drawn(s), 0);
	assert_int_equal(store_close(s, false), 0);

	s = open_store(f, 2, false, &rec);
	assert_true(rec.resumed);
	assert_true(rec.drawn);
	assert_int_equal(rec.done, 2);
	assert_int_equal(rec.bets, 5);
	assert_int_equal(store_close(s, false), 0);
}

/* The previous process may have died between a write and its sync: what recovery accepts can
 * be in the page cache only, and a batch sent again is acknowledged at once on the strength of
 * it. So a resumed draw is synced before the store is used, even when nothing was cut. */
static void test_resumed_draw_synced(void **state)
{
	struct fixture *f = *state;
	struct store_recovery rec;
	struct store *s = open_store(f, 1, false, &rec);

	batch(s, 1, 0, 2);
	assert_int_equal(store_close(s, false), 0);
	disk.recording = true;
	s = open_store(f, 1, false, &rec);
	disk.recording = false;
	assert_true(rec.resumed);
	assert_nothing_cut(&rec);
	assert_true(synced(f->bets));
	assert_true(synced(f->journal));
	assert_int_equal(store_close(s, false), 0);
}

/* A commit's sync covers both files: the rows and their record (an ACK waits for it). */
static void test_commit_syncs_both_files(void **state)
{
	struct fixture *f = *state;
	struct store_recovery rec;
	struct store *s = open_store(f, 1, false, &rec);

	batch(s, 1, 0, 2);
	disk.recording = true;
	assert_int_equal(store_sync(s), 0);
	disk.recording = false;
	assert_int_equal(disk.synced, 2);
	assert_true(synced(f->bets));
	assert_true(synced(f->journal));
	assert_int_equal(store_close(s, false), 0);
}

/* The journal's write fails (the file size limit: a full disk) after the rows were written:
 * the rows are taken back out, nothing is counted (the agency's digest and winners neither),
 * and the batch can be stored later. */
static void test_record_write_failure_takes_rows_back(void **state)
{
	struct fixture *f = *state;
	struct store_recovery rec;
	struct store *s = open_store(f, 1, false, &rec);
	struct sigaction ignore, old_action;
	struct rlimit old_limit, limit;
	struct bet bet = fixture_bet(1, "A", "B", "1", "1990-01-02", LOTTERY_WINNER_NUMBER);
	static struct fixture_frame frame;
	uint8_t empty[DIGEST_SIZE], one[DIGEST_SIZE];
	const barrier_document *docs;
	struct digest d;
	uint32_t count;
	int rc;

	digest_init(&d);
	digest_value(&d, empty);
	digest_add_bet(&d, &bet);
	digest_value(&d, one);

	assert_int_equal(fsize(f->journal), JOURNAL_RECORD_SIZE);
	memset(&ignore, 0, sizeof(ignore));
	ignore.sa_handler = SIG_IGN;
	assert_int_equal(sigaction(SIGXFSZ, &ignore, &old_action), 0);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old_limit), 0);
	limit = old_limit;
	limit.rlim_cur = JOURNAL_RECORD_SIZE; /* room for the row, none for its record */
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &limit), 0);
	rc = store_batch(s, 1, 0, fixture_cursor(&frame, 1, &bet, 1));
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old_limit), 0);
	assert_int_equal(sigaction(SIGXFSZ, &old_action, NULL), 0);
	assert_int_equal(rc, -1);
	assert_false(store_failed(s));
	assert_int_equal(fsize(f->bets), 0);
	assert_int_equal(fsize(f->journal), JOURNAL_RECORD_SIZE);
	assert_int_equal(barrier_stored(store_barrier(s), 1), 0);
	assert_int_equal(batch_verdict(s, 1, 0), 1);
	assert_int_equal(barrier_digest_check(store_barrier(s), 1, empty), BARRIER_OK);
	assert_int_equal(barrier_winner_count(store_barrier(s), 1), 0);
	assert_int_equal(store_batch(s, 1, 0, fixture_cursor(&frame, 1, &bet, 1)), 0);
	assert_int_equal(barrier_digest_check(store_barrier(s), 1, one), BARRIER_OK);
	assert_int_equal(store_draw(s), 0);
	assert_int_equal(barrier_winners(store_barrier(s), 1, &docs, &count), BARRIER_OK);
	assert_int_equal(count, 1); /* once: the failed attempt left none */
	assert_string_equal(docs[0], "1");
	assert_int_equal(store_close(s, false), 0);
}

/* --- bets.csv past the last committed record ----------------------------------------------- */

/* Something after the last committed batch in bets.csv: cut, its bytes reported, and the next
 * batch lands right after the committed ones. */
static void check_ledger_tail_cut(const struct fixture *f, const char *tail, size_t len)
{
	struct store_recovery rec;
	struct store *s = open_store(f, 1, false, &rec);
	off_t committed;

	batch(s, 1, 0, 3);
	assert_int_equal(store_close(s, false), 0);
	committed = fsize(f->bets);
	append_bytes(f->bets, tail, len);

	s = open_store(f, 1, false, &rec);
	assert_true(rec.resumed);
	assert_int_equal(rec.ledger_cut, len);
	assert_int_equal(rec.journal_cut, 0);
	assert_int_equal(rec.bets, 3);
	assert_int_equal(fsize(f->bets), committed);
	assert_int_equal(batch_verdict(s, 1, 1), 1);
	batch(s, 1, 1, 2);
	assert_int_equal(store_close(s, false), 0);

	s = open_store(f, 1, false, &rec);
	assert_nothing_cut(&rec);
	assert_int_equal(rec.bets, 5);
	assert_int_equal(bets_in_file(f), 5);
	assert_int_equal(store_close(s, false), 0);
}

static void test_half_row_cut(void **state)
{
	static const char half[] = "1,Medio,Reng";

	check_ledger_tail_cut(*state, half, sizeof(half) - 1);
}

/* A whole, valid row, but its journal record never made it: not committed. */
static void test_row_without_record_cut(void **state)
{
	static const char row[] = "1,Sin,Registro,12345678,1990-01-02,7574\n";

	check_ledger_tail_cut(*state, row, sizeof(row) - 1);
}

static void test_garbage_cut(void **state)
{
	static const unsigned char junk[] = {0x00, 0xff, 0xfe, 'x', '\n', 0x00, '"', ',', 0x80};

	check_ledger_tail_cut(*state, (const char *)junk, sizeof(junk));
}

/* --- the journal's tail ---------------------------------------------------------------------- */

/* A crash in the middle of a commit: the rows are in, their record only part-way. Both go. */
static void test_torn_record_cut(void **state)
{
	static const char row[] = "1,Torn,Commit,12345678,1990-01-02,1\n";
	struct fixture *f = *state;
	struct store_recovery rec;
	struct store *s = open_store(f, 1, false, &rec);
	struct journal_record torn;
	off_t committed, journal;

	batch(s, 1, 0, 3);
	assert_int_equal(store_close(s, false), 0);
	committed = fsize(f->bets);
	journal = fsize(f->journal);
	append_bytes(f->bets, row, sizeof(row) - 1);
	torn = (struct journal_record){.type = JOURNAL_BATCH, .agency = 1, .seq = 1, .count = 1,
	                               .ledger_end = (uint64_t)committed + sizeof(row) - 1};
	append_record(f->journal, &torn, 20);

	s = open_store(f, 1, false, &rec);
	assert_true(rec.resumed);
	assert_int_equal(rec.journal_cut, 20);
	assert_string_equal(rec.cut_reason, "torn record");
	assert_int_equal(rec.ledger_cut, sizeof(row) - 1);
	assert_int_equal(fsize(f->journal), journal);
	assert_int_equal(fsize(f->bets), committed);
	assert_int_equal(rec.batches, 1);
	assert_int_equal(batch_verdict(s, 1, 1), 1);
	batch(s, 1, 1, 1);
	assert_int_equal(store_close(s, false), 0);

	s = open_store(f, 1, false, &rec);
	assert_nothing_cut(&rec);
	assert_int_equal(rec.batches, 2);
	assert_int_equal(store_close(s, false), 0);
}

/* The rows of the second batch were changed after their commit: that record does not check,
 * and neither it nor anything after it is trusted; the cut says why. */
static void test_altered_rows_refused_with_the_rest(void **state)
{
	struct fixture *f = *state;
	struct store_recovery rec;
	struct store *s = open_store(f, 2, false, &rec);
	size_t first_end;
	off_t before;
	int fd;

	batch(s, 1, 0, 3);
	first_end = (size_t)fsize(f->bets);
	batch(s, 1, 1, 3);
	batch(s, 2, 0, 2);
	done(s, 2);
	assert_int_equal(store_close(s, false), 0);
	before = fsize(f->bets);
	/* "1,Nombre,..." -> "1,Mombre,...": same length, other bytes. */
	fd = open(f->bets, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "M", 1, (off_t)first_end + 2), 1);
	assert_int_equal(close(fd), 0);

	s = open_store(f, 2, false, &rec);
	assert_true(rec.resumed);
	assert_string_equal(rec.cut_reason, "rows do not match their checksum");
	assert_int_equal(rec.journal_cut, 3 * JOURNAL_RECORD_SIZE); /* BATCH, BATCH, DONE */
	assert_int_equal(fsize(f->journal), 2 * JOURNAL_RECORD_SIZE);
	assert_int_equal(rec.ledger_cut, (size_t)before - first_end);
	assert_int_equal(fsize(f->bets), first_end);
	assert_int_equal(rec.batches, 1);
	assert_int_equal(rec.bets, 3);
	assert_int_equal(rec.done, 0);
	assert_int_equal(batch_verdict(s, 1, 1), 1);
	assert_int_equal(batch_verdict(s, 2, 0), 1);
	assert_false(barrier_agency_done(store_barrier(s), 2));
	assert_int_equal(store_close(s, false), 0);
}

/* A record that does not follow from the ones before it (here: a batch out of sequence, intact
 * and with rows that check) is refused like a damaged one. */
static void test_record_out_of_sequence_refused(void **state)
{
	static const char row[] = "1,Fuera,De,12345678,1990-01-02,1\n";
	struct fixture *f = *state;
	struct store_recovery rec;
	struct store *s = open_store(f, 1, false, &rec);
	struct journal_record ahead;
	off_t committed;

	batch(s, 1, 0, 2);
	assert_int_equal(store_close(s, false), 0);
	committed = fsize(f->bets);
	append_bytes(f->bets, row, sizeof(row) - 1);
	ahead = (struct journal_record){.type = JOURNAL_BATCH, .agency = 1, .seq = 5, .count = 1,
	                                .ledger_end = (uint64_t)committed + sizeof(row) - 1,
	                                .rows_crc = 0};
	{
		struct ledger *l;

		assert_int_equal(ledger_open(&l, f->bets), 0);
		assert_int_equal(ledger_crc_range(l, (size_t)committed, ledger_size(l),
		                                  &ahead.rows_crc),
		                 0);
		assert_int_equal(ledger_close(l), 0);
	}
	append_record(f->journal, &ahead, JOURNAL_RECORD_SIZE);

	s = open_store(f, 1, false, &rec);
	assert_string_equal(rec.cut_reason, "batch out of sequence");
	assert_int_equal(rec.journal_cut, JOURNAL_RECORD_SIZE);
	assert_int_equal(rec.ledger_cut, sizeof(row) - 1);
	assert_int_equal(rec.batches, 1);
	assert_int_equal(store_close(s, false), 0);
}

/* A DRAWN record while an agency is not done cannot come from a real run: refused. */
static void test_drawn_before_done_refused(void **state)
{
	struct fixture *f = *state;
	struct store_recovery rec;
	struct store *s = open_store(f, 2, false, &rec);
	struct journal_record drawn;

	batch(s, 1, 0, 2);
	done(s, 1);
	assert_int_equal(store_close(s, false), 0);
	drawn = (struct journal_record){.type = JOURNAL_DRAWN,
	                                .ledger_end = (uint64_t)fsize(f->bets)};
	append_record(f->journal, &drawn, JOURNAL_RECORD_SIZE);

	s = open_store(f, 2, false, &rec);
	assert_string_equal(rec.cut_reason, "DRAWN before every agency was done");
	assert_int_equal(rec.journal_cut, JOURNAL_RECORD_SIZE);
	assert_false(rec.drawn);
	assert_int_equal(rec.done, 1);
	assert_int_equal(store_close(s, false), 0);
}

/* --- the draw ------------------------------------------------------------------------------- */

/* One bet as a BET request of agency, stored as the service does. */
static void single(struct store *s, uint32_t agency, const struct bet *bet)
{
	static struct fixture_frame frame;

	assert_int_equal(barrier_bet_check(store_barrier(s), agency), BARRIER_OK);
	assert_int_equal(store_bet(s, agency, fixture_bet_cursor(&frame, agency, bet)), 0);
}

static void assert_winners(const struct store *s, uint32_t agency, const char (*want)[16],
                           size_t n)
{
	const barrier_document *docs;
	uint32_t count;

	assert_int_equal(barrier_winners(store_barrier(s), agency, &docs, &count), BARRIER_OK);
	assert_int_equal(count, n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(docs[i], want[i]);
}

static void assert_no_draw(const struct store *s, uint32_t agencies)
{
	const barrier_document *docs;
	uint32_t count;

	assert_true(barrier_drawn(store_barrier(s)));
	for (uint32_t a = 1; a <= agencies; a++)
		assert_int_equal(barrier_winners(store_barrier(s), a, &docs, &count), BARRIER_E_DRAW);
}

/* bets.csv as the store wrote it (batches, single bets, an empty batch): the draw is held, once. */
static void test_draw_on_untouched_file(void **state)
{
	struct fixture *f = *state;
	struct bet bet = fixture_bet(2, "Una", "Sola", "2000001", "1980-05-06", 42);
	struct store_recovery rec;
	struct store *s = open_store(f, 2, false, &rec);

	batch(s, 1, 0, 3);
	batch(s, 2, 0, 2);
	single(s, 2, &bet);
	batch(s, 1, 1, 4);
	batch(s, 1, 2, 0);
	done(s, 1);
	done(s, 2);
	assert_false(barrier_drawn(store_barrier(s)));
	assert_int_equal(store_draw(s), 0);
	assert_true(barrier_drawn(store_barrier(s)));
	assert_int_equal(barrier_draw_mismatch(store_barrier(s)), 0);
	assert_int_equal(store_draw(s), 0); /* once: the same answer */
	assert_int_equal(barrier_winner_count(store_barrier(s), 1), 2); /* make_batch: bet 0 wins */
	assert_int_equal(barrier_winner_count(store_barrier(s), 2), 1);
	assert_int_equal(store_close(s, false), 0);

	/* The same after a restart. */
	s = open_store(f, 2, false, &rec);
	assert_true(rec.resumed);
	assert_int_equal(store_draw(s), 0);
	assert_int_equal(store_close(s, false), 0);
}

/* The draw in progress with 3 agencies, one byte of target's first row changed after it was
 * stored ("N,Nombre" -> "N,Mombre": same length): no draw, EBADMSG, target named, though rows
 * of later records check; and asked again, the same answer. */
static void check_altered_row(const struct fixture *f, uint32_t target)
{
	struct store_recovery rec;
	struct store *s = open_store(f, 3, true, &rec);
	off_t start[4];
	int fd;

	for (uint32_t a = 1; a <= 3; a++) {
		start[a] = fsize(f->bets);
		batch(s, a, 0, 3);
	}
	batch(s, 1, 1, 2);
	for (uint32_t a = 1; a <= 3; a++)
		done(s, a);
	fd = open(f->bets, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "M", 1, start[target] + 2), 1);
	assert_int_equal(close(fd), 0);

	for (int round = 0; round < 2; round++) {
		errno = 0;
		assert_int_equal(store_draw(s), -1);
		assert_int_equal(errno, EBADMSG);
		assert_int_equal(barrier_draw_mismatch(store_barrier(s)), target);
		assert_no_draw(s, 3);
	}
	assert_int_equal(store_close(s, false), 0);
}

static void test_draw_altered_row_names_agency(void **state)
{
	for (uint32_t target = 1; target <= 3; target++)
		check_altered_row(*state, target);
}

/* Rows added to bets.csv after the last record (here a valid row, a winner): they belong to no
 * record, so no agency can be named; no draw all the same. */
static void test_draw_rows_appended(void **state)
{
	static const char row[] = "1,Extra,Row,99,1990-01-02,7574\n";
	struct fixture *f = *state;
	struct store_recovery rec;
	struct store *s = open_store(f, 2, false, &rec);

	batch(s, 1, 0, 2);
	batch(s, 2, 0, 2);
	done(s, 1);
	done(s, 2);
	append_bytes(f->bets, row, sizeof(row) - 1);
	errno = 0;
	assert_int_equal(store_draw(s), -1);
	assert_int_equal(errno, EBADMSG);
	assert_int_equal(barrier_draw_mismatch(store_barrier(s)), 0);
	assert_no_draw(s, 2);
	assert_int_equal(store_close(s, false), 0);
}

/* Rows lost (bets.csv cut short behind the server's back): the record whose rows are missing
 * does not check, and its agency is named. */
static void test_draw_rows_lost(void **state)
{
	struct fixture *f = *state;
	struct store_recovery rec;
	struct store *s = open_store(f, 2, false, &rec);

	batch(s, 1, 0, 2);
	batch(s, 2, 0, 2);
	done(s, 1);
	done(s, 2);
	assert_int_equal(truncate(f->bets, fsize(f->bets) - 1), 0);
	errno = 0;
	assert_int_equal(store_draw(s), -1);
	assert_int_equal(errno, EBADMSG);
	assert_int_equal(barrier_draw_mismatch(store_barrier(s)), 2);
	assert_no_draw(s, 2);
	assert_int_equal(store_close(s, false), 0);
}

/* The winners are the documents of the bets numbered 7574 (not 7573, 7575 or any other), each
 * agency's in the order stored, batches and single bets alike; a restart rebuilds them from
 * bets.csv, before and after the sorteo was announced. */
static void test_winners_in_store_order_and_recovered(void **state)
{
	struct fixture *f = *state;
	struct bet a0[5] = {
		fixture_bet(1, "A", "B", "1001", "1990-01-02", LOTTERY_WINNER_NUMBER),
		fixture_bet(1, "A", "B", "1002", "1990-01-02", LOTTERY_WINNER_NUMBER - 1),
		fixture_bet(1, "A", "B", "1003", "1990-01-02", LOTTERY_WINNER_NUMBER),
		fixture_bet(1, "A", "B", "1004", "1990-01-02", LOTTERY_WINNER_NUMBER + 1),
		fixture_bet(1, "A", "B", "1005", "1990-01-02", 0),
	};
	struct bet b0[2] = {
		fixture_bet(2, "C", "D", "2001", "1990-01-02", LOTTERY_WINNER_NUMBER),
		fixture_bet(2, "C", "D", "2002", "1990-01-02", 1),
	};
	struct bet b1[2] = {
		fixture_bet(2, "C", "D", "2004", "1990-01-02", 9999),
		fixture_bet(2, "C", "D", "2005", "1990-01-02", 4757),
	};
	struct bet a1[20], bet;
	char want1[32][16];
	const char want2[1][16] = {"2001"};
	size_t n1 = 0;
	struct store_recovery rec;
	struct store *s = open_store(f, 2, false, &rec);

	store_these(s, 1, 0, a0, 5);
	snprintf(want1[n1++], sizeof(want1[0]), "1001");
	snprintf(want1[n1++], sizeof(want1[0]), "1003");
	store_these(s, 2, 0, b0, 2);
	bet = fixture_bet(1, "E", "F", "1006", "1990-01-02", LOTTERY_WINNER_NUMBER);
	single(s, 1, &bet);
	snprintf(want1[n1++], sizeof(want1[0]), "1006");
	bet = fixture_bet(2, "E", "F", "2003", "1990-01-02", 9999);
	single(s, 2, &bet);
	/* More winners in one batch than the first allocation holds. */
	for (size_t i = 0; i < 20; i++) {
		char document[BET_DOCUMENT_MAX + 1];

		snprintf(document, sizeof(document), "%zu", 1100 + i);
		a1[i] = fixture_bet(1, "G", "H", document, "1990-01-02", LOTTERY_WINNER_NUMBER);
		snprintf(want1[n1++], sizeof(want1[0]), "%s", document);
	}
	store_these(s, 1, 1, a1, 20);
	store_these(s, 2, 1, b1, 2);
	bet = fixture_bet(1, "E", "F", "1007", "1990-01-02", LOTTERY_WINNER_NUMBER);
	single(s, 1, &bet);
	snprintf(want1[n1++], sizeof(want1[0]), "1007");
	done(s, 1);
	done(s, 2);

	for (int run = 0; run < 3; run++) {
		const barrier_document *docs;
		uint32_t count;

		/* Kept, and not answered before the draw. */
		assert_int_equal(barrier_winner_count(store_barrier(s), 1), n1);
		assert_int_equal(barrier_winner_count(store_barrier(s), 2), 1);
		assert_int_equal(barrier_winners(store_barrier(s), 1, &docs, &count),
		                 BARRIER_E_PENDING);
		assert_int_equal(store_draw(s), 0);
		assert_winners(s, 1, want1, n1);
		assert_winners(s, 2, want2, 1);
		if (run == 1)
			assert_int_equal(store_drawn(s), 0);
		assert_int_equal(store_close(s, false), 0);
		s = open_store(f, 2, false, &rec);
		assert_true(rec.resumed);
		assert_int_equal(rec.drawn, run >= 1);
		assert_int_equal(rec.bets, 5 + 2 + 1 + 1 + 20 + 2 + 1);
	}
	assert_int_equal(store_close(s, false), 0);
}

/* Each agency's digest, kept as its bets are stored (their bytes as they travelled) and rebuilt
 * from bets.csv at a restart, is the one its client computed bet by bet; names that the rows
 * quote included. */
static void test_digest_live_and_recovered(void **state)
{
	struct fixture *f = *state;
	struct bet one[3] = {
		fixture_bet(1, "Ana, \"la\"", "Pérez\r\nGómez", "1", "1990-01-02", 7574),
		fixture_bet(1, "李", "😀", "1234567890", "1990-01-02", 0),
		fixture_bet(1, "A", "B", "3", "1990-01-02", 9999),
	};
	struct bet lone = fixture_bet(1, "Una", "Sola", "4", "1980-05-06", 42);
	struct bet two[1] = {fixture_bet(2, "C", "D", "5", "1990-01-02", 5)};
	uint8_t want1[DIGEST_SIZE], want2[DIGEST_SIZE];
	struct store_recovery rec;
	struct store *s = open_store(f, 2, false, &rec);
	struct digest d;

	digest_init(&d);
	for (int i = 0; i < 3; i++)
		digest_add_bet(&d, &one[i]);
	digest_add_bet(&d, &lone);
	digest_value(&d, want1);
	digest_init(&d);
	digest_add_bet(&d, &two[0]);
	digest_value(&d, want2);

	store_these(s, 1, 0, one, 3);
	store_these(s, 2, 0, two, 1);
	single(s, 1, &lone);
	for (int run = 0; run < 2; run++) {
		assert_int_equal(barrier_digest_check(store_barrier(s), 1, want1), BARRIER_OK);
		assert_int_equal(barrier_digest_check(store_barrier(s), 2, want2), BARRIER_OK);
		assert_int_equal(barrier_digest_check(store_barrier(s), 1, want2), BARRIER_E_DIGEST);
		assert_int_equal(store_close(s, false), 0);
		s = open_store(f, 2, false, &rec);
		assert_true(rec.resumed);
	}
	assert_int_equal(store_close(s, false), 0);
}

/* Storage does not validate bets (the worker that took them off the wire did): a bet whose
 * contents are not valid but whose structure is is stored as given. */
static void test_bets_stored_as_given(void **state)
{
	static char rows[] = "1,,x,12a,9999-99-99,9999\n";
	static struct fixture_frame frame;
	struct fixture *f = *state;
	struct bet odd = fixture_bet(1, "", "x", "12a", "9999-99-99", 9999);
	struct bet unreadable = fixture_bet(1, "A", "B", "1", "1990-01-02", 10000);
	struct store_recovery rec;
	struct store *s = open_store(f, 1, false, &rec);
	struct blob want = {sizeof(rows) - 1, (unsigned char *)rows};

	store_these(s, 1, 0, &odd, 1);
	assert_int_equal(barrier_stored(store_barrier(s), 1), 1);
	assert_file_is(f->bets, &want);
	/* ... but not one whose row recovery could not read back (a number past 9999 has no row):
	 * refused, nothing stored, and the store goes on. */
	errno = 0;
	assert_int_equal(store_batch(s, 1, 1, fixture_cursor(&frame, 1, &unreadable, 1)), -1);
	assert_int_equal(errno, EINVAL);
	assert_false(store_failed(s));
	assert_int_equal(barrier_stored(store_barrier(s), 1), 1);
	assert_int_equal(barrier_next_seq(store_barrier(s), 1), 1);
	assert_file_is(f->bets, &want);
	assert_int_equal(store_close(s, false), 0);
}

/* --- a new draw ------------------------------------------------------------------------------ */

/* Drawn and stopped cleanly: the files become <bets>.1 and <bets>.1.journal as they were, and
 * the new draw starts empty. */
static void test_closed_draw_archived(void **state)
{
	struct fixture *f = *state;
	struct store_recovery rec;
	struct blob old_bets, old_journal;
	char archived[96], archived_journal[112];
	struct store *s;

	closed_draw(f);
	old_bets = slurp(f->bets);
	old_journal = slurp(f->journal);
	s = open_store(f, 1, false, &rec);
	snprintf(archived, sizeof(archived), "%s.1", f->bets);
	snprintf(archived_journal, sizeof(archived_journal), "%s.1%s", f->bets, JOURNAL_SUFFIX);
	assert_string_equal(rec.archived, archived);
	assert_file_is(archived, &old_bets);
	assert_file_is(archived_journal, &old_journal);
	assert_new_draw(f, s, &rec, 1);
	assert_int_equal(store_close(s, false), 0);
	free(old_bets.bytes);
	free(old_journal.bytes);
}

/* Nothing may follow CLOSED. Whatever does, the draw was closed: it is archived as found (the
 * trailing record included, an archive is never altered) and a new one begins. (Replay refuses
 * the records after CLOSED too, but a closed draw is archived whatever follows, so that refusal
 * cannot be seen from outside the store.) */
static void test_records_after_closed(void **state)
{
	struct fixture *f = *state;
	struct journal_record extra = {.type = JOURNAL_DONE, .agency = 1, .count = 3};
	struct store_recovery rec;
	struct blob old_journal;
	char archived_journal[112];
	struct store *s;

	closed_draw(f);
	extra.ledger_end = (uint64_t)fsize(f->bets);
	append_record(f->journal, &extra, JOURNAL_RECORD_SIZE);
	old_journal = slurp(f->journal);
	s = open_store(f, 1, false, &rec);
	snprintf(archived_journal, sizeof(archived_journal), "%s.1%s", f->bets, JOURNAL_SUFFIX);
	assert_file_is(archived_journal, &old_journal);
	assert_new_draw(f, s, &rec, 1);
	assert_int_equal(store_close(s, false), 0);
	free(old_journal.bytes);
}

/* --new-draw: an unfinished draw is archived, never lost, and the new one starts empty. */
static void test_new_draw_archives_unfinished(void **state)
{
	struct fixture *f = *state;
	struct store_recovery rec;
	struct blob old_bets, old_journal;
	char archived[96], archived_journal[112];
	struct store *s = open_store(f, 2, false, &rec);

	batch(s, 1, 0, 4);
	assert_int_equal(store_close(s, false), 0);
	old_bets = slurp(f->bets);
	old_journal = slurp(f->journal);
	s = open_store(f, 2, true, &rec);
	snprintf(archived, sizeof(archived), "%s.1", f->bets);
	snprintf(archived_journal, sizeof(archived_journal), "%s.1%s", f->bets, JOURNAL_SUFFIX);
	assert_string_equal(rec.archived, archived);
	assert_file_is(archived, &old_bets);
	assert_file_is(archived_journal, &old_journal);
	assert_new_draw(f, s, &rec, 2);
	assert_int_equal(store_close(s, false), 0);
	free(old_bets.bytes);
	free(old_journal.bytes);
}

/* An archive number taken by either file is skipped; the files found there are left alone. */
static void test_archive_numbering_skips_existing(void **state)
{
	struct fixture *f = *state;
	struct store_recovery rec;
	struct blob keep1 = {6, (unsigned char *)"keep1\n"}, keep2 = {6, (unsigned char *)"keep2\n"};
	struct blob old_bets;
	char one[96], two[96], two_journal[112], three[96], three_journal[112];
	struct store *s;

	snprintf(one, sizeof(one), "%s.1", f->bets);
	snprintf(two, sizeof(two), "%s.2", f->bets);
	snprintf(two_journal, sizeof(two_journal), "%s.2%s", f->bets, JOURNAL_SUFFIX);
	snprintf(three, sizeof(three), "%s.3", f->bets);
	snprintf(three_journal, sizeof(three_journal), "%s.3%s", f->bets, JOURNAL_SUFFIX);
	write_file(one, keep1.bytes, keep1.len);
	write_file(two_journal, keep2.bytes, keep2.len);

	closed_draw(f);
	old_bets = slurp(f->bets);
	s = open_store(f, 1, false, &rec);
	assert_string_equal(rec.archived, three);
	assert_file_is(three, &old_bets);
	assert_true(exists(three_journal));
	assert_file_is(one, &keep1);
	assert_file_is(two_journal, &keep2);
	assert_false(exists(two));
	assert_new_draw(f, s, &rec, 1);
	assert_int_equal(store_close(s, false), 0);
	free(old_bets.bytes);
}

/* Whether some file of the folder other than the live two holds exactly want. */
static bool archived_somewhere(const struct fixture *f, const struct blob *want)
{
	DIR *d = opendir(f->dir);
	struct dirent *e;
	char path[sizeof(f->dir) + 1 + sizeof(e->d_name)];
	bool found = false;

	assert_non_null(d);
	while (!found && (e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.' || strcmp(e->d_name, "bets.csv") == 0 ||
		    strcmp(e->d_name, "bets.csv" JOURNAL_SUFFIX) == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", f->dir, e->d_name);
		struct blob got = slurp(path);

		found = got.len == want->len && memcmp(got.bytes, want->bytes, want->len) == 0;
		free(got.bytes);
	}
	closedir(d);
	return found;
}

/* The archive is two renames; a crash (here: a failure) between them must lose nothing: the
 * next start finds every byte of the old draw in an archive, and begins a new draw. */
static void test_archive_interrupted_loses_nothing(void **state)
{
	struct fixture *f = *state;
	struct store_options o = {.bets_path = f->bets, .agencies = 1, .sync = true};
	struct store_recovery rec;
	struct blob old_bets, old_journal;
	struct store *s = NULL;
	char err[256] = "";

	closed_draw(f);
	old_bets = slurp(f->bets);
	old_journal = slurp(f->journal);
	disk.rename_fails = 2;
	assert_int_equal(store_open(&s, &o, &rec, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "archive"));
	assert_int_equal(disk.renames, 2);
	disk.rename_fails = 0;

	s = open_store(f, 1, false, &rec);
	assert_true(archived_somewhere(f, &old_bets));
	assert_true(archived_somewhere(f, &old_journal));
	assert_new_draw(f, s, &rec, 1);
	assert_int_equal(store_close(s, false), 0);
	free(old_bets.bytes);
	free(old_journal.bytes);
}

/* A bets.csv with no journal (an older server's, or someone's copy): nothing says what of it is
 * committed, so it is archived whole and a new draw begins. */
static void test_no_journal_archives_bets_file(void **state)
{
	static char rows[] = "1,Sin,Diario,12345678,1990-01-02,7574\n";
	struct fixture *f = *state;
	struct blob old = {sizeof(rows) - 1, (unsigned char *)rows};
	struct store_recovery rec;
	char archived[96];
	struct store *s;

	write_file(f->bets, rows, sizeof(rows) - 1);
	s = open_store(f, 1, false, &rec);
	snprintf(archived, sizeof(archived), "%s.1", f->bets);
	assert_string_equal(rec.archived, archived);
	assert_file_is(archived, &old);
	assert_new_draw(f, s, &rec, 1);
	assert_int_equal(store_close(s, false), 0);
}

/* The draw in progress has 3 agencies; a start with 5 is refused, saying both, and the files
 * are left as they were. */
static void test_agency_count_mismatch(void **state)
{
	struct fixture *f = *state;
	struct store_options o = {.bets_path = f->bets, .agencies = 5, .sync = true};
	struct store_recovery rec;
	struct blob old_bets, old_journal;
	struct store *s = open_store(f, 3, false, &rec), *other = NULL;
	char err[256] = "", archived[96];

	batch(s, 1, 0, 2);
	assert_int_equal(store_close(s, false), 0);
	old_bets = slurp(f->bets);
	old_journal = slurp(f->journal);

	assert_int_equal(store_open(&other, &o, &rec, err, sizeof(err)), -1);
	assert_null(other);
	assert_non_null(strstr(err, "3 agencies"));
	assert_non_null(strstr(err, "not 5"));
	assert_file_is(f->bets, &old_bets);
	assert_file_is(f->journal, &old_journal);
	snprintf(archived, sizeof(archived), "%s.1", f->bets);
	assert_false(exists(archived));

	/* The right count resumes it. */
	s = open_store(f, 3, false, &rec);
	assert_true(rec.resumed);
	assert_int_equal(rec.bets, 2);
	assert_int_equal(store_close(s, false), 0);
	free(old_bets.bytes);
	free(old_journal.bytes);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_resume_keeps_sequence_stored_and_done),
		T(test_repeat_digest_rule_and_recovery),
		T(test_clean_stop_before_draw_resumes),
		T(test_drawn_persists),
		T(test_resumed_draw_synced),
		T(test_commit_syncs_both_files),
		T(test_record_write_failure_takes_rows_back),
		T(test_half_row_cut),
		T(test_row_without_record_cut),
		T(test_garbage_cut),
		T(test_torn_record_cut),
		T(test_altered_rows_refused_with_the_rest),
		T(test_record_out_of_sequence_refused),
		T(test_drawn_before_done_refused),
		T(test_draw_on_untouched_file),
		T(test_draw_altered_row_names_agency),
		T(test_draw_rows_appended),
		T(test_draw_rows_lost),
		T(test_winners_in_store_order_and_recovered),
		T(test_digest_live_and_recovered),
		T(test_bets_stored_as_given),
		T(test_closed_draw_archived),
		T(test_records_after_closed),
		T(test_new_draw_archives_unfinished),
		T(test_archive_numbering_skips_existing),
		T(test_archive_interrupted_loses_nothing),
		T(test_no_journal_archives_bets_file),
		T(test_agency_count_mismatch),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
