#define _GNU_SOURCE /* sync_file_range */
#include "journal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <zlib.h>

#include "io.h"

#define JOURNAL_MAGIC 0x54504a31u /* "TPJ1" */
#define JOURNAL_READ_CHUNK (JOURNAL_RECORD_SIZE * 1820) /* about 64 KiB of whole records */

struct journal {
	int fd;
	bool broken; /* a failed append could not be cut back */
	uint64_t size;
};

static void put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint32_t crc_of(const uint8_t *p, size_t len)
{
	return (uint32_t)crc32(crc32(0L, Z_NULL, 0), p, (uInt)len);
}

void journal_encode(const struct journal_record *r, uint8_t out[JOURNAL_RECORD_SIZE])
{
	memset(out, 0, JOURNAL_RECORD_SIZE);
	put_u32(out, JOURNAL_MAGIC);
	out[4] = r->type;
	put_u32(out + 8, r->agency);
	put_u32(out + 12, r->seq);
	put_u32(out + 16, r->count);
	put_u32(out + 20, (uint32_t)(r->ledger_end >> 32));
	put_u32(out + 24, (uint32_t)r->ledger_end);
	put_u32(out + 28, r->rows_crc);
	put_u32(out + 32, crc_of(out, 32));
}

int journal_decode(const uint8_t in[JOURNAL_RECORD_SIZE], struct journal_record *r)
{
	if (get_u32(in) != JOURNAL_MAGIC || get_u32(in + 32) != crc_of(in, 32) || in[5] != 0 ||
	    in[6] != 0 || in[7] != 0 || in[4] < JOURNAL_OPEN || in[4] > JOURNAL_CLOSED)
		return -1;
	r->type = in[4];
	r->agency = get_u32(in + 8);
	r->seq = get_u32(in + 12);
	r->count = get_u32(in + 16);
	r->ledger_end = (uint64_t)get_u32(in + 20) << 32 | get_u32(in + 24);
	r->rows_crc = get_u32(in + 28);
	return 0;
}

int journal_open(struct journal **out, const char *path)
{
	struct journal *j = calloc(1, sizeof(*j));
	struct stat st;
	int saved;

	if (j == NULL)
		return -1;
	/* O_APPEND: after a cut-back the next record lands at the new end without an lseek. */
	j->fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (j->fd < 0)
		goto fail;
	if (fstat(j->fd, &st) != 0) {
		saved = errno;
		io_close(j->fd);
		errno = saved;
		goto fail;
	}
	j->size = (uint64_t)st.st_size;
	*out = j;
	return 0;
fail:
	saved = errno;
	free(j);
	errno = saved;
	return -1;
}

int journal_replay(struct journal *j, journal_record_fn fn, void *arg, uint64_t *valid_end)
{
	uint8_t *buf = malloc(JOURNAL_READ_CHUNK);
	uint64_t offset = 0;
	size_t have = 0;

	*valid_end = 0;
	if (buf == NULL)
		return -1;
	for (;;) {
		ssize_t n = pread(j->fd, buf + have, JOURNAL_READ_CHUNK - have, (off_t)(offset + have));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int saved = errno;

			free(buf);
			errno = saved;
			return -1;
		}
		have += (size_t)n;
		size_t used = 0;

		while (have - used >= JOURNAL_RECORD_SIZE) {
			struct journal_record r;

			if (journal_decode(buf + used, &r) != 0 || fn(arg, &r) != 0)
				goto done;
			used += JOURNAL_RECORD_SIZE;
			*valid_end = offset + used;
		}
		if (n == 0)
			break; /* what is left is less than a record: a torn tail */
		memmove(buf, buf + used, have - used);
		offset += used;
		have -= used;
	}
done:
	free(buf);
	return 0;
}

int journal_append(struct journal *j, const struct journal_record *r)
{
	uint8_t raw[JOURNAL_RECORD_SIZE];
	ssize_t n;
	int saved;

	if (j->broken) {
		errno = EIO;
		return -1;
	}
	journal_encode(r, raw);
	/* One write of 36 bytes: whole, or cut back (see ledger_store_bets for why not a loop). */
	do
		n = write(j->fd, raw, sizeof(raw));
	while (n < 0 && errno == EINTR);
	if (n == (ssize_t)sizeof(raw)) {
		j->size += sizeof(raw);
		return 0;
	}
	saved = n < 0 ? errno : ENOSPC;
	if (ftruncate(j->fd, (off_t)j->size) != 0)
		j->broken = true;
	errno = saved;
	return -1;
}

int journal_truncate(struct journal *j, uint64_t size)
{
	if (ftruncate(j->fd, (off_t)size) != 0)
		return -1;
	j->size = size;
	return 0;
}

void journal_start_writeback(struct journal *j)
{
	/* A hint: a failure here (an old kernel, a file system without it) changes nothing that
	 * journal_sync promises, and journal_sync reports any write error itself. */
	(void)sync_file_range(j->fd, 0, 0, SYNC_FILE_RANGE_WRITE);
}

int journal_sync(struct journal *j)
{
	return fdatasync(j->fd);
}

uint64_t journal_size(const struct journal *j)
{
	return j->size;
}

bool journal_broken(const struct journal *j)
{
	return j->broken;
}

int journal_close(struct journal *j)
{
	int rc = io_close(j->fd);
	int saved = errno;

	free(j);
	errno = saved;
	return rc;
}
