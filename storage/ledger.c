#define _GNU_SOURCE /* sync_file_range */
#include "ledger.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
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

/* A quoted field is at most twice its bytes plus the two quotes. */
static size_t quoted_max(const char *field, size_t cap)
{
	return 2 * strnlen(field, cap) + 2;
}

static size_t row_max(const struct bet *bet)
{
	return LEDGER_AGENCY_DIGITS + quoted_max(bet->first_name, sizeof(bet->first_name)) +
	       quoted_max(bet->last_name, sizeof(bet->last_name)) +
	       quoted_max(bet->document, sizeof(bet->document)) +
	       quoted_max(bet->birthdate, sizeof(bet->birthdate)) + LEDGER_NUMBER_DIGITS +
	       (LEDGER_FIELDS - 1) + 1;
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

static int put_row(struct ledger *l, size_t *pos, const struct bet *bet)
{
	char agency[LEDGER_AGENCY_DIGITS + 1], number[LEDGER_NUMBER_DIGITS + 1];
	const char *fields[LEDGER_FIELDS] = {agency, bet->first_name, bet->last_name,
	                                     bet->document, bet->birthdate, number};
	size_t lengths[LEDGER_FIELDS];

	snprintf(agency, sizeof(agency), "%" PRIu32, bet->agency);
	snprintf(number, sizeof(number), "%u", (unsigned)bet->number);
	lengths[0] = strlen(agency);
	lengths[1] = strnlen(bet->first_name, sizeof(bet->first_name));
	lengths[2] = strnlen(bet->last_name, sizeof(bet->last_name));
	lengths[3] = strnlen(bet->document, sizeof(bet->document));
	lengths[4] = strnlen(bet->birthdate, sizeof(bet->birthdate));
	lengths[5] = strlen(number);
	return csv_put_record(l->buf, l->cap, pos, fields, lengths, LEDGER_FIELDS);
}

/* Formats count (> 0) bets as rows into l->buf: 0 with *len set, or -1 with errno. */
static int format_rows(struct ledger *l, const struct bet *bets, size_t count, size_t *len)
{
	size_t need = 0;

	*len = 0;
	for (size_t i = 0; i < count; i++)
		need += row_max(&bets[i]);
	if (reserve(l, need) < 0)
		return -1;
	for (size_t i = 0; i < count; i++) {
		if (put_row(l, len, &bets[i]) < 0) {
			errno = EOVERFLOW; /* row_max is an upper bound: cannot happen */
			return -1;
		}
	}
	return 0;
}

static uint32_t buf_crc(const struct ledger *l, size_t len)
{
	return (uint32_t)crc32(crc32(0L, Z_NULL, 0), (const Bytef *)l->buf, (uInt)len);
}

int ledger_rows_crc(struct ledger *l, const struct bet *bets, size_t count, uint32_t *rows_crc)
{
	size_t len;

	*rows_crc = 0; /* zlib's CRC-32 of nothing */
	if (count == 0)
		return 0;
	if (format_rows(l, bets, count, &len) != 0)
		return -1;
	*rows_crc = buf_crc(l, len);
	return 0;
}

int ledger_store_bets(struct ledger *l, const struct bet *bets, size_t count, uint32_t *rows_crc)
{
	size_t len = 0;
	ssize_t written;
	int saved;

	if (l->broken) {
		errno = EIO;
		return -1;
	}
	if (count == 0) {
		if (rows_crc != NULL)
			*rows_crc = 0; /* zlib's CRC-32 of nothing */
		return 0;
	}
	if (format_rows(l, bets, count, &len) != 0)
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
