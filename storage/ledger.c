#define _GNU_SOURCE /* sync_file_range */
#include "ledger.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <zlib.h>

#include "csv.h"
#include "io.h"
#include "number.h"

#define LEDGER_FIELDS 6
#define LEDGER_AGENCY_DIGITS 10 /* UINT32_MAX */
#define LEDGER_NUMBER_DIGITS 5  /* UINT16_MAX */

struct ledger {
	int fd;
	bool broken;  /* a failed write could not be cut back: the file is no longer trusted */
	size_t size;  /* bytes of whole rows; where a failed write is cut back to */
	char *buf;    /* rows of one request, reused */
	size_t cap;
	char path[];
};

int ledger_open(struct ledger **out, const char *path)
{
	size_t len = strlen(path);
	struct ledger *l = calloc(1, sizeof(*l) + len + 1);
	struct stat st;

	if (l == NULL)
		return -1;
	memcpy(l->path, path, len + 1);
	/* O_APPEND: after a cut-back the next write lands at the new end without an lseek. */
	l->fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (l->fd < 0 || fstat(l->fd, &st) != 0) {
		int saved = errno;

		if (l->fd >= 0)
			io_close(l->fd);
		free(l);
		errno = saved;
		return -1;
	}
	l->size = (size_t)st.st_size;
	*out = l;
	return 0;
}

int ledger_cut(struct ledger *l, size_t size)
{
	if (ftruncate(l->fd, (off_t)size) != 0)
		return -1;
	l->size = size;
	return 0;
}

int ledger_crc_range(const struct ledger *l, size_t from, size_t to, uint32_t *crc)
{
	unsigned char chunk[16384];
	uLong sum = crc32(0L, Z_NULL, 0);

	while (from < to) {
		size_t want = to - from < sizeof(chunk) ? to - from : sizeof(chunk);
		ssize_t n = pread(l->fd, chunk, want, (off_t)from);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0) {
			errno = EBADMSG;
			return -1;
		}
		sum = crc32(sum, chunk, (uInt)n);
		from += (size_t)n;
	}
	*crc = (uint32_t)sum;
	return 0;
}

void ledger_start_writeback(struct ledger *l)
{
	/* A hint: a failure here (an old kernel, a file system without it) changes nothing that
	 * ledger_sync promises, and ledger_sync reports any write error itself. */
	(void)sync_file_range(l->fd, 0, 0, SYNC_FILE_RANGE_WRITE);
}

int ledger_sync(struct ledger *l)
{
	return fdatasync(l->fd);
}

bool ledger_broken(const struct ledger *l)
{
	return l->broken;
}

const char *ledger_path(const struct ledger *l)
{
	return l->path;
}

size_t ledger_size(const struct ledger *l)
{
	return l->size;
}

int ledger_file_size(const struct ledger *l, uint64_t *size)
{
	struct stat st;

	if (fstat(l->fd, &st) != 0)
		return -1;
	*size = (uint64_t)st.st_size;
	return 0;
}

/* The most bytes the rows of these bets can take: a field quoted is at most twice its bytes
 * plus two quotes, and a bet's fields are fewer bytes than the bet on the wire. */
static size_t rows_max(const struct proto_cursor *bets)
{
	return bets->remaining * (LEDGER_AGENCY_DIGITS + 4 * 2 + LEDGER_NUMBER_DIGITS +
	                          (LEDGER_FIELDS - 1) + 1) +
	       2 * bets->left;
}

static int reserve(struct ledger *l, size_t need)
{
	char *grown;

	if (need <= l->cap)
		return 0;
	grown = realloc(l->buf, need);
	if (grown == NULL)
		return -1;
	l->buf = grown;
	l->cap = need;
	return 0;
}

/* The decimal digits of v at out, without a NUL: their count. snprintf, per bet, was a tenth of
 * storage's time. */
static size_t put_decimal(char *out, uint32_t v)
{
	char digits[LEDGER_AGENCY_DIGITS];
	size_t n = 0;

	do {
		digits[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	for (size_t i = 0; i < n; i++)
		out[i] = digits[n - 1 - i];
	return n;
}

/* One row, into l->buf at *pos (room reserved): the agency's "N," is given, as it is the same
 * for every bet of a request. */
static int put_row(struct ledger *l, size_t *pos, const char *agency, size_t agency_len,
                   const struct proto_bet_view *v)
{
	const uint8_t *fields[] = {v->first_name, v->last_name, v->document, v->birthdate};
	const size_t lengths[] = {v->first_name_len, v->last_name_len, v->document_len,
	                          v->birthdate_len};

	/* Rows that recovery could not read back would stop every later start: such a bet (which
	 * no worker forwards: they validate) is refused here, at the cost of a compare, and of a
	 * NUL test in csv_put_text_field's pass over each field. */
	if (v->number > BET_NUMBER_MAX)
		return -1;
	memcpy(l->buf + *pos, agency, agency_len);
	*pos += agency_len;
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		if (csv_put_text_field(l->buf, l->cap, pos, (const char *)fields[i], lengths[i]) != 0)
			return -1;
		l->buf[(*pos)++] = ',';
	}
	*pos += put_decimal(l->buf + *pos, v->number);
	l->buf[(*pos)++] = '\n';
	return 0;
}

/* Formats the bets (agency's) as rows into l->buf: 0 with *len set, or -1 with errno. */
static int format_rows(struct ledger *l, uint32_t agency, const struct proto_cursor *bets,
                       size_t *len)
{
	struct proto_cursor c = *bets;
	struct proto_bet_view v;
	char prefix[LEDGER_AGENCY_DIGITS + 1];
	size_t prefix_len = put_decimal(prefix, agency);
	uint32_t rows = 0;

	prefix[prefix_len++] = ',';
	*len = 0;
	if (reserve(l, rows_max(bets)) < 0)
		return -1;
	for (; proto_next_bet_view(&c, &v) == 1; rows++) {
		if (put_row(l, len, prefix, prefix_len, &v) < 0) {
			/* rows_max is an upper bound: only a bet the file could not hold gets here */
			errno = EINVAL;
			return -1;
		}
	}
	/* Every bet, to the cursor's last byte: a cursor proto_decode did not check could end
	 * early, and its journal record would then count bets that have no row. */
	if (rows != bets->remaining || c.left != 0) {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

static uint32_t buf_crc(const struct ledger *l, size_t len)
{
	return (uint32_t)crc32(crc32(0L, Z_NULL, 0), (const Bytef *)l->buf, (uInt)len);
}

int ledger_rows_crc(struct ledger *l, uint32_t agency, const struct proto_cursor *bets,
                    uint32_t *rows_crc)
{
	size_t len;

	*rows_crc = 0; /* zlib's CRC-32 of nothing */
	if (bets->remaining == 0)
		return 0;
	if (format_rows(l, agency, bets, &len) != 0)
		return -1;
	*rows_crc = buf_crc(l, len);
	return 0;
}

int ledger_store_bets(struct ledger *l, uint32_t agency, const struct proto_cursor *bets,
                      uint32_t *rows_crc)
{
	size_t len = 0;
	ssize_t written;
	int saved;

	if (l->broken) {
		errno = EIO;
		return -1;
	}
	if (bets->remaining == 0) {
		if (rows_crc != NULL)
			*rows_crc = 0; /* zlib's CRC-32 of nothing */
		return 0;
	}
	if (format_rows(l, agency, bets, &len) != 0)
		return -1;
	/* One write, not io_write_full: a second write after a short one would only meet the same
	 * full disk, and a batch must land whole or not at all. */
	written = write(l->fd, l->buf, len);
	if (written >= 0 && (size_t)written == len) {
		l->size += len;
		if (rows_crc != NULL)
			*rows_crc = buf_crc(l, len);
		return 0;
	}
	saved = written < 0 ? errno : ENOSPC;
	if (ftruncate(l->fd, (off_t)l->size) != 0)
		l->broken = true;
	errno = saved;
	return -1;
}

static int row_to_bet(const struct csv_record *rec, struct bet *bet)
{
	uint32_t agency;

	if (rec->count != LEDGER_FIELDS || strlen(rec->fields[0]) != rec->lengths[0] ||
	    number_parse_u32(rec->fields[0], 0, UINT32_MAX, &agency) < 0)
		return -1;
	if (bet_from_fields(bet, agency, rec->fields[1], rec->lengths[1], rec->fields[2],
	                    rec->lengths[2], rec->fields[3], rec->lengths[3], rec->fields[4],
	                    rec->lengths[4], rec->fields[5], rec->lengths[5]) != BET_OK)
		return -1;
	return 0;
}

int ledger_load_bets(const struct ledger *l, ledger_bet_fn fn, void *arg, unsigned long *bad_line)
{
	struct csv_reader *reader;
	struct csv_record rec;
	struct bet bet;
	FILE *fp;
	int fd, status, rc = 0, saved = 0;

	fd = open(l->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	fp = fdopen(fd, "r");
	if (fp == NULL) {
		saved = errno;
		io_close(fd);
		errno = saved;
		return -1;
	}
	/* The reader holds a whole record's buffer: too big for the stacks of nng's threads. */
	reader = malloc(sizeof(*reader));
	if (reader == NULL) {
		saved = errno;
		fclose(fp);
		errno = saved;
		return -1;
	}
	csv_reader_init(reader, fp);
	while ((status = csv_read_record(reader, &rec)) == CSV_RECORD) {
		if (row_to_bet(&rec, &bet) < 0) {
			status = CSV_ERR_QUOTE; /* any value that is not CSV_END: a bad row */
			break;
		}
		rc = fn(arg, &bet);
		if (rc != 0)
			break;
	}
	if (rc == 0 && status != CSV_END) {
		saved = status == CSV_ERR_IO ? errno : EBADMSG;
		if (bad_line != NULL)
			*bad_line = rec.line;
	}
	free(reader);
	if (fclose(fp) != 0 && rc == 0 && saved == 0)
		saved = errno;
	if (rc != 0)
		return rc;
	if (saved != 0) {
		errno = saved;
		return -1;
	}
	return 0;
}

int ledger_close(struct ledger *l)
{
	int rc = 0, saved = 0;

	if (fsync(l->fd) != 0) {
		saved = errno;
		rc = -1;
	}
	if (io_close(l->fd) != 0 && rc == 0) {
		saved = errno;
		rc = -1;
	}
	free(l->buf);
	free(l);
	if (rc != 0)
		errno = saved;
	return rc;
}
