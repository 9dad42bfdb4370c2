/* Unit tests of lib/frame over a socketpair: whole frames, every way a stream can end early,
 * headers refused before their payload is read, and deadlines. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "bet_fixture.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "frame.h"
#include "io.h"

struct pair {
	int reader;
	int writer;
	uint8_t buf[PROTO_FRAME_MAX];
	struct proto_header h;
};

static int setup(void **state)
{
	struct pair *p = test_malloc(sizeof(*p));
	int fds[2];

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0) {
		test_free(p);
		return -1;
	}
	p->reader = fds[0];
	p->writer = fds[1];
	*state = p;
	return 0;
}

static int teardown(void **state)
{
	struct pair *p = *state;

	if (p->reader >= 0)
		close(p->reader);
	if (p->writer >= 0)
		close(p->writer);
	test_free(p);
	return 0;
}

static void send_raw(struct pair *p, const void *data, size_t len)
{
	assert_int_equal(write(p->writer, data, len), (ssize_t)len);
}

static void close_writer(struct pair *p)
{
	assert_int_equal(close(p->writer), 0);
	p->writer = -1;
}

static int read_frame(struct pair *p)
{
	return frame_read(p->reader, p->buf, &p->h, io_deadline_after(2000));
}

static void test_good_frames(void **state)
{
	struct pair *p = *state;
	static struct proto_writer w;
	struct proto_msg msg;
	struct bet b = fixture_bet(3, "Ana", "Pérez", "30904465", "1999-03-17", 7574);

	proto_begin_batch(&w, 3, 1);
	assert_int_equal(proto_add_batch_bet(&w, &b), 0);
	assert_int_equal(proto_add_batch_bet(&w, &b), 0);
	proto_finish(&w);
	assert_int_equal(frame_write(p->writer, &w, io_deadline_after(2000)), IO_OK);
	proto_encode_done(&w, 3, 2, (const uint8_t[PROTO_DIGEST_SIZE]){7});
	assert_int_equal(frame_write(p->writer, &w, io_deadline_after(2000)), IO_OK);

	/* Two frames back to back: the first read must stop exactly at its end. */
	assert_int_equal(read_frame(p), 0);
	assert_int_equal(p->h.type, PROTO_BATCH);
	assert_int_equal(proto_decode(p->h.type, p->buf + PROTO_HEADER_SIZE, p->h.length, &msg),
	                 PROTO_E_NONE);
	assert_int_equal(msg.u.batch.count, 2);
	assert_int_equal(msg.u.batch.seq, 1);

	assert_int_equal(read_frame(p), 0);
	assert_int_equal(p->h.type, PROTO_DONE);
	assert_int_equal(p->h.length, 8 + PROTO_DIGEST_SIZE);
	assert_int_equal(proto_decode(p->h.type, p->buf + PROTO_HEADER_SIZE, p->h.length, &msg),
	                 PROTO_E_NONE);
	assert_int_equal(msg.u.done.total, 2);

	close_writer(p);
	assert_int_equal(read_frame(p), IO_EOF);
}

static void test_largest_frame(void **state)
{
	struct pair *p = *state;
	static struct proto_writer w;
	static uint8_t sent[PROTO_FRAME_MAX];
	struct bet b;
	int n = 0;

	memset(&b, 0, sizeof(b));
	strcpy(b.first_name, "A");
	strcpy(b.last_name, "B");
	strcpy(b.document, "1");
	strcpy(b.birthdate, "2000-01-01");
	proto_begin_batch(&w, 1, 0);
	while (proto_add_batch_bet(&w, &b) == 0)
		n++;
	assert_true(n > 0);
	proto_finish(&w);
	memcpy(sent, w.buf, w.len);
	/* A whole 8 KiB frame fits the pair's buffer, so one thread can write it, then read it. */
	assert_int_equal(frame_write(p->writer, &w, io_deadline_after(2000)), IO_OK);
	assert_int_equal(read_frame(p), 0);
	assert_int_equal(p->h.length, w.len - PROTO_HEADER_SIZE);
	assert_memory_equal(p->buf, sent, w.len);
}

static void test_empty_payload(void **state)
{
	struct pair *p = *state;
	const uint8_t header[] = { 0xFE, 1, PROTO_DONE, 0, 0, 0, 0, 0 };

	send_raw(p, header, sizeof(header));
	assert_int_equal(read_frame(p), 0);
	assert_int_equal(p->h.type, PROTO_DONE);
	assert_int_equal(p->h.length, 0);
}

static void test_eof_before_anything(void **state)
{
	struct pair *p = *state;

	close_writer(p);
	assert_int_equal(read_frame(p), IO_EOF);
}

static void test_truncated_header(void **state)
{
	struct pair *p = *state;
	const uint8_t header[] = { 0xFE, 1, PROTO_ACK, 0, 0 };

	send_raw(p, header, sizeof(header));
	close_writer(p);
	assert_int_equal(read_frame(p), IO_TRUNCATED);
}

static void test_one_byte_header(void **state)
{
	struct pair *p = *state;

	send_raw(p, "\xFE", 1);
	close_writer(p);
	assert_int_equal(read_frame(p), IO_TRUNCATED);
}

static void test_truncated_payload(void **state)
{
	struct pair *p = *state;
	const uint8_t header[] = { 0xFE, 1, PROTO_BATCH, 0, 0, 0, 0, 100 };
	uint8_t part[50];

	memset(part, 0, sizeof(part));
	send_raw(p, header, sizeof(header));
	send_raw(p, part, sizeof(part));
	close_writer(p);
	assert_int_equal(read_frame(p), IO_TRUNCATED);
}

static void test_header_then_eof(void **state)
{
	struct pair *p = *state;
	const uint8_t header[] = { 0xFE, 1, PROTO_ACK, 0, 0, 0, 0, 8 };

	send_raw(p, header, sizeof(header));
	close_writer(p);
	assert_int_equal(read_frame(p), IO_TRUNCATED);
}

/* The header is refused and what follows it is left in the socket, unread. */
static void assert_refused(struct pair *p, const uint8_t header[PROTO_HEADER_SIZE], int want)
{
	char rest[16];

	send_raw(p, header, PROTO_HEADER_SIZE);
	send_raw(p, "payload", 7);
	assert_int_equal(read_frame(p), want);
	assert_int_equal(recv(p->reader, rest, sizeof(rest), MSG_DONTWAIT), 7);
	assert_memory_equal(rest, "payload", 7);
}

static void test_oversize_length(void **state)
{
	struct pair *p = *state;
	const uint8_t header[] = { 0xFE, 1, PROTO_BATCH, 0, 0, 0, 0x1F, 0xF9 }; /* 8185 */
	const uint8_t huge[] = { 0xFE, 1, PROTO_BATCH, 0, 0xFF, 0xFF, 0xFF, 0xFF };

	assert_int_equal(0x1FF9, PROTO_PAYLOAD_MAX + 1);
	assert_refused(p, header, PROTO_E_TOO_LARGE);
	assert_refused(p, huge, PROTO_E_TOO_LARGE);
}

static void test_bad_magic(void **state)
{
	struct pair *p = *state;
	const uint8_t header[] = { 'H', 'E', 'L', 'L', 'O', ' ', 'W', 'O' };

	assert_refused(p, header, PROTO_E_BAD_MAGIC);
}

static void test_bad_version_type_reserved(void **state)
{
	struct pair *p = *state;
	const uint8_t version[] = { 0xFE, 2, PROTO_ACK, 0, 0, 0, 0, 8 };
	const uint8_t type[] = { 0xFE, 1, 0x42, 0, 0, 0, 0, 8 };
	const uint8_t reserved[] = { 0xFE, 1, PROTO_ACK, 7, 0, 0, 0, 8 };

	assert_refused(p, version, PROTO_E_VERSION);
	assert_refused(p, type, PROTO_E_TYPE);
	assert_refused(p, reserved, PROTO_E_MALFORMED);
}

static void test_timeout(void **state)
{
	struct pair *p = *state;
	int64_t start = io_now_ms();

	assert_int_equal(frame_read(p->reader, p->buf, &p->h, io_deadline_after(50)), IO_TIMEOUT);
	assert_true(io_now_ms() - start >= 45);
}

static void test_timeout_inside_payload(void **state)
{
	struct pair *p = *state;
	const uint8_t header[] = { 0xFE, 1, PROTO_ACK, 0, 0, 0, 0, 8 };

	send_raw(p, header, sizeof(header));
	send_raw(p, "\0\0", 2);
	assert_int_equal(frame_read(p->reader, p->buf, &p->h, io_deadline_after(50)), IO_TIMEOUT);
}

static void test_write_to_closed_peer(void **state)
{
	struct pair *p = *state;
	static struct proto_writer w;

	assert_int_equal(close(p->reader), 0);
	p->reader = -1;
	proto_encode_ack(&w, 0, 1);
	errno = 0;
	assert_int_equal(frame_write(p->writer, &w, io_deadline_after(2000)), IO_ERROR);
	assert_int_equal(errno, EPIPE);
}

#define PAIR_TEST(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		PAIR_TEST(test_good_frames),
		PAIR_TEST(test_largest_frame),
		PAIR_TEST(test_empty_payload),
		PAIR_TEST(test_eof_before_anything),
		PAIR_TEST(test_truncated_header),
		PAIR_TEST(test_one_byte_header),
		PAIR_TEST(test_truncated_payload),
		PAIR_TEST(test_header_then_eof),
		PAIR_TEST(test_oversize_length),
		PAIR_TEST(test_bad_magic),
		PAIR_TEST(test_bad_version_type_reserved),
		PAIR_TEST(test_timeout),
		PAIR_TEST(test_timeout_inside_payload),
		PAIR_TEST(test_write_to_closed_peer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
