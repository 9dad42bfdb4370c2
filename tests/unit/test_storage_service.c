/* The storage service over real nng, in-process: a REP service on ipc:// in a temporary
 * directory, driven by REQ sockets (plain ones and the workers' storage_link). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "bet_fixture.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/util/platform.h>

#include "../../acceptor/storage_link.h"
#include "../../storage/barrier.h"
#include "../../storage/journal.h"
#include "../../storage/ledger.h"
#include "../../storage/service.h"
#include "../../storage/store.h"
#include "digest.h"
#include "io.h"
#include "log.h"
#include "proto.h"

#define AGENCIES 2
#define CONTEXTS 4
#define WAIT_MS 5000 /* the bound of every wait; passing tests never come near it */

struct fixture {
	char dir[32];
	char url[96];
	char bets[64];
	char log[64];
	int log_fd;
	char journal[80];
	struct store *store;
	struct storage_service *svc;
};

/* fdatasync is defined here, so the store's calls (linked from its archive) land in this one:
 * the tests count the syncs that finished, or make them fail, without a hook in the store. */
static atomic_uint syncs_done;
static atomic_bool syncs_fail;

int fdatasync(int fd)
{
	if (atomic_load(&syncs_fail)) {
		errno = EIO;
		return -1;
	}
	int rc = fsync(fd);

	atomic_fetch_add(&syncs_done, 1);
	return rc;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char err[256];

	if (f == NULL)
		return -1;
	atomic_store(&syncs_fail, false);
	snprintf(f->dir, sizeof(f->dir), "/tmp/tp0-svc-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->url, sizeof(f->url), "ipc://%s/storage.ipc", f->dir);
	snprintf(f->bets, sizeof(f->bets), "%s/bets.csv", f->dir);
	snprintf(f->log, sizeof(f->log), "%s/log", f->dir);
	f->log_fd = open(f->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (f->log_fd < 0)
		return -1;
	log_set_fd(f->log_fd);
	log_set_level(LOG_INFO);
	snprintf(f->journal, sizeof(f->journal), "%s.journal", f->bets);
	struct store_options so = {.bets_path = f->bets, .agencies = AGENCIES, .sync = true};
	struct store_recovery rec;
	if (store_open(&f->store, &so, &rec, err, sizeof(err)) != 0) {
		fprintf(stderr, "store_open: %s\n", err);
		return -1;
	}
	if (service_open(&f->svc, f->url, CONTEXTS, f->store, err, sizeof(err)) != 0) {
		fprintf(stderr, "service_open: %s\n", err);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	if (f->svc != NULL)
		service_close(f->svc);
	store_close(f->store, false);
	log_set_fd(STDOUT_FILENO);
	close(f->log_fd);
	unlink(f->bets);
	unlink(f->journal);
	unlink(f->log);
	rmdir(f->dir);
	free(f);
	return 0;
}

static nng_socket client(const struct fixture *f)
{
	nng_socket s;

	assert_int_equal(nng_req0_open(&s), 0);
	assert_int_equal(nng_socket_set_ms(s, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE), 0);
	assert_int_equal(nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, WAIT_MS), 0);
	assert_int_equal(nng_socket_set_ms(s, NNG_OPT_SENDTIMEO, WAIT_MS), 0);
	assert_int_equal(nng_socket_set_size(s, NNG_OPT_RECVMAXSZ, SERVICE_RECV_MAX), 0);
	assert_int_equal(nng_dial(s, f->url, NULL, 0), 0);
	return s;
}

/* A message as a worker sends it: the session (proto.h), then the frames. */
static void send_from(nng_socket s, uint64_t session, const uint8_t *frames, size_t len)
{
	static uint8_t msg[PROTO_SESSION_SIZE + PROTO_FORWARD_MAX * PROTO_FRAME_MAX];

	assert_true(len <= sizeof(msg) - PROTO_SESSION_SIZE);
	proto_put_session(msg, session);
	memcpy(msg + PROTO_SESSION_SIZE, frames, len);
	assert_int_equal(nng_send(s, msg, PROTO_SESSION_SIZE + len, 0), 0);
}

static void send_frame(nng_socket s, const struct proto_writer *w)
{
	send_from(s, 0, w->buf, w->len);
}

/* Receives one reply and decodes it into msg; the frame stays in buf for the cursors. */
static void recv_reply(nng_socket s, uint8_t buf[PROTO_FRAME_MAX], struct proto_msg *msg)
{
	struct proto_header h;
	size_t len = PROTO_FRAME_MAX;

	assert_int_equal(nng_recv(s, buf, &len, 0), 0);
	assert_true(len >= PROTO_HEADER_SIZE);
	assert_int_equal(proto_header_decode(buf, &h), PROTO_E_NONE);
	assert_int_equal(h.length, len - PROTO_HEADER_SIZE);
	assert_int_equal(proto_decode(h.type, buf + PROTO_HEADER_SIZE, h.length, msg),
	                 PROTO_E_NONE);
	msg->type = h.type;
}

static void call(nng_socket s, const struct proto_writer *w, uint8_t buf[PROTO_FRAME_MAX],
                 struct proto_msg *msg)
{
	send_frame(s, w);
	recv_reply(s, buf, msg);
}

/* call(), and the reply must be ERROR with code (msg keeps it, for its reason). */
static void expect_error(nng_socket s, const struct proto_writer *w, uint8_t buf[PROTO_FRAME_MAX],
                         struct proto_msg *msg, int code)
{
	call(s, w, buf, msg);
	assert_int_equal(msg->type, PROTO_ERROR);
	assert_int_equal(msg->u.error.code, code);
}

static struct bet make_bet(const char *document, uint16_t number)
{
	return fixture_bet(0, "Juana", "Azurduy, de Padilla", document, "1980-07-12", number);
}

/* DONE for agency with total, carrying the digest of the agency's bets as they are in bets.csv
 * now (what an agency that had them all acknowledged computed). */
struct agency_digest {
	struct digest d;
	uint32_t agency;
};

static int add_if_agency(void *arg, const struct bet *bet)
{
	struct agency_digest *a = arg;

	if (bet->agency == a->agency)
		digest_add_bet(&a->d, bet);
	return 0;
}

static void encode_done(const struct fixture *f, struct proto_writer *w, uint32_t agency,
                        uint32_t total)
{
	struct agency_digest a = {.agency = agency};
	uint8_t value[DIGEST_SIZE];
	struct ledger *l;

	digest_init(&a.d);
	assert_int_equal(ledger_open(&l, f->bets), 0);
	assert_int_equal(ledger_load_bets(l, add_if_agency, &a, NULL), 0);
	assert_int_equal(ledger_close(l), 0);
	digest_value(&a.d, value);
	proto_encode_done(w, agency, total, value);
}

static void batch(struct proto_writer *w, uint32_t agency, uint32_t seq, size_t count,
                  uint16_t number)
{
	proto_begin_batch(w, agency, seq);
	for (size_t i = 0; i < count; i++) {
		char document[BET_DOCUMENT_MAX + 1];
		struct bet bet;

		snprintf(document, sizeof(document), "%u%03u", (unsigned)agency,
		         (unsigned)(seq * 100 + i));
		bet = make_bet(document, number);
		assert_int_equal(proto_add_batch_bet(w, &bet), 0);
	}
	proto_finish(w);
}

static int count_bet(void *arg, const struct bet *bet)
{
	(void)bet;
	++*(size_t *)arg;
	return 0;
}

struct agency_rows {
	uint32_t agency;
	size_t mine, others;
};

static int count_agency_bet(void *arg, const struct bet *bet)
{
	struct agency_rows *r = arg;

	if (bet->agency == r->agency)
		r->mine++;
	else
		r->others++;
	return 0;
}

/* bets.csv's rows, each given to fn (read through a ledger of its own). */
static void load_rows(const struct fixture *f, ledger_bet_fn fn, void *arg)
{
	struct ledger *l;

	assert_int_equal(ledger_open(&l, f->bets), 0);
	assert_int_equal(ledger_load_bets(l, fn, arg, NULL), 0);
	assert_int_equal(ledger_close(l), 0);
}

/* The rows of bets.csv stored as agency's; any other agency's row fails the test. */
static size_t rows_of(const struct fixture *f, uint32_t agency)
{
	struct agency_rows r = {.agency = agency};

	load_rows(f, count_agency_bet, &r);
	assert_int_equal(r.others, 0);
	return r.mine;
}

static size_t rows(const struct fixture *f)
{
	size_t n = 0;

	load_rows(f, count_bet, &n);
	return n;
}

/* Bounded polling for a state that another thread reaches. */
static void wait_held(const struct fixture *f, uint32_t want)
{
	int64_t deadline = io_deadline_after(WAIT_MS);

	while (service_held(f->svc) != want) {
		assert_true(io_now_ms() < deadline);
		nng_msleep(1);
	}
}

static size_t log_count(const struct fixture *f, const char *needle)
{
	static char text[65536];
	size_t n = 0;
	ssize_t len;
	int fd = open(f->log, O_RDONLY);

	assert_true(fd >= 0);
	len = read(fd, text, sizeof(text) - 1);
	close(fd);
	assert_true(len >= 0);
	text[len] = '\0';
	for (const char *p = strstr(text, needle); p != NULL; p = strstr(p + 1, needle))
		n++;
	return n;
}

static void test_batch_ack_and_duplicate(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[PROTO_FRAME_MAX];
	struct proto_writer w;
	struct proto_msg msg;
	nng_socket s = client(f);

	batch(&w, 1, 0, 3, 1);
	call(s, &w, buf, &msg);
	assert_int_equal(msg.type, PROTO_ACK);
	assert_int_equal(msg.u.ack.seq, 0);
	assert_int_equal(msg.u.ack.count, 3);
	/* The same batch again (an ACK lost on the way): acknowledged as storing nothing more. */
	call(s, &w, buf, &msg);
	assert_int_equal(msg.type, PROTO_ACK);
	assert_int_equal(msg.u.ack.seq, 0);
	assert_int_equal(msg.u.ack.count, 0);
	assert_int_equal(rows(f), 3);

	batch(&w, 1, 1, 2, 1);
	call(s, &w, buf, &msg);
	assert_int_equal(msg.type, PROTO_ACK);
	assert_int_equal(msg.u.ack.seq, 1);
	assert_int_equal(rows(f), 5);

	/* A single bet. */
	{
		struct bet bet = make_bet("555", 7);

		bet.agency = 2;
		proto_encode_bet(&w, &bet);
	}
	call(s, &w, buf, &msg);
	assert_int_equal(msg.type, PROTO_ACK);
	assert_int_equal(msg.u.ack.seq, 0);
	assert_int_equal(msg.u.ack.count, 1);
	assert_int_equal(rows(f), 6);
	nng_close(s);
}

/* The frames of one reply, decoded in order: their count. */
static size_t split_replies(const uint8_t *buf, size_t len, struct proto_msg *msgs, size_t cap)
{
	size_t n = 0, at = 0;

	while (at < len) {
		struct proto_header h;

		assert_true(n < cap && len - at >= PROTO_HEADER_SIZE);
		assert_int_equal(proto_header_decode(buf + at, &h), PROTO_E_NONE);
		assert_true(h.length <= len - at - PROTO_HEADER_SIZE);
		assert_int_equal(proto_decode(h.type, buf + at + PROTO_HEADER_SIZE, h.length, &msgs[n]),
		                 PROTO_E_NONE);
		msgs[n++].type = h.type;
		at += PROTO_HEADER_SIZE + h.length;
	}
	return n;
}

/* Batches a worker forwards together: one reply frame each, in order, each stored once and
 * logged once; sent again, each is acknowledged with count 0; a frame that is not a batch is
 * refused alone. */
static void test_frames_forwarded_together(void **state)
{
	struct fixture *f = *state;
	nng_socket s = client(f);
	static uint8_t req[4 * PROTO_FRAME_MAX], reply[2 * PROTO_FRAME_MAX];
	struct proto_msg got[8];
	struct proto_writer w;
	size_t len = 0, rlen;

	struct digest sent;
	uint8_t value[DIGEST_SIZE];

	digest_init(&sent);
	for (uint32_t seq = 0; seq < 3; seq++) {
		batch(&w, 1, seq, 5, 1);
		memcpy(req + len, w.buf, w.len);
		len += w.len;
		digest_add(&sent, w.buf + PROTO_HEADER_SIZE + PROTO_BATCH_HEADER_SIZE,
		           w.len - PROTO_HEADER_SIZE - PROTO_BATCH_HEADER_SIZE);
	}
	digest_value(&sent, value);
	proto_encode_done(&w, 1, 15, value);
	memcpy(req + len, w.buf, w.len);
	for (int round = 0; round < 2; round++) {
		send_from(s, 0, req, len + w.len);
		rlen = sizeof(reply);
		assert_int_equal(nng_recv(s, reply, &rlen, 0), 0);
		assert_int_equal(split_replies(reply, rlen, got, 8), 4);
		for (uint32_t seq = 0; seq < 3; seq++) {
			assert_int_equal(got[seq].type, PROTO_ACK);
			assert_int_equal(got[seq].u.ack.seq, seq);
			assert_int_equal(got[seq].u.ack.count, round == 0 ? 5 : 0);
		}
		assert_int_equal(got[3].type, PROTO_ERROR);
		assert_int_equal(got[3].u.error.code, PROTO_E_TYPE);
	}
	assert_int_equal(rows(f), 15);
	assert_int_equal(log_count(f, "action: apuesta_recibida | result: success | cantidad: 5"), 3);
	nng_close(s);
}

static void test_sequence_agency_total_refused(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[PROTO_FRAME_MAX];
	struct proto_writer w;
	struct proto_msg msg;
	nng_socket s = client(f);

	batch(&w, 2, 1, 2, 1);
	expect_error(s, &w, buf, &msg, PROTO_E_SEQUENCE);
	assert_int_equal(rows(f), 0);

	/* Not in the draw. */
	batch(&w, AGENCIES + 1, 0, 1, 1);
	expect_error(s, &w, buf, &msg, PROTO_E_AGENCY);

	/* DONE with the wrong total. */
	encode_done(f, &w, 2, 5);
	expect_error(s, &w, buf, &msg, PROTO_E_TOTAL);
	nng_close(s);
}

/* Storage trusts what a worker forwards: the worker is the one place a bet is validated
 * (README, "One trust boundary"; tests/integration check that it refuses them). A BATCH or BET
 * whose bets are well formed but not valid, sent to storage directly, is stored as given. */
static void test_invalid_contents_stored_as_given(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[PROTO_FRAME_MAX];
	struct proto_writer w;
	struct proto_msg msg;
	struct bet bet;
	nng_socket s = client(f);
	char *text;
	size_t len;
	int fd;

	proto_begin_batch(&w, 2, 0);
	for (int i = 0; i < 3; i++) {
		bet = make_bet(i == 2 ? "12x" : "12", 3); /* a document that is not digits */
		assert_int_equal(proto_add_batch_bet(&w, &bet), 0);
	}
	proto_finish(&w);
	call(s, &w, buf, &msg);
	assert_int_equal(msg.type, PROTO_ACK);
	assert_int_equal(msg.u.ack.count, 3);
	assert_int_equal(rows_of(f, 2), 3);

	bet = make_bet("abc", 7);
	bet.agency = 1;
	snprintf(bet.birthdate, sizeof(bet.birthdate), "2999-01-01"); /* in the future */
	proto_encode_bet(&w, &bet);
	call(s, &w, buf, &msg);
	assert_int_equal(msg.type, PROTO_ACK);
	assert_int_equal(msg.u.ack.count, 1);
	assert_int_equal(rows(f), 4);

	text = calloc(1, 4096);
	assert_non_null(text);
	fd = open(f->bets, O_RDONLY);
	assert_true(fd >= 0);
	len = (size_t)read(fd, text, 4095);
	close(fd);
	assert_true(len > 0);
	assert_non_null(strstr(text, "2,Juana,\"Azurduy, de Padilla\",12x,1980-07-12,3\n"));
	assert_non_null(strstr(text, "1,Juana,\"Azurduy, de Padilla\",abc,2999-01-01,7\n"));
	free(text);
	nng_close(s);
}

/* Another batch under a used sequence number: ERROR CONFLICT (14) with its reason, nothing
 * stored, and the stored batch still acknowledged when it comes again. */
static void test_conflict_under_used_seq(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[PROTO_FRAME_MAX];
	struct proto_writer w;
	struct proto_msg msg;
	nng_socket s = client(f);

	batch(&w, 1, 0, 3, 1);
	call(s, &w, buf, &msg);
	assert_int_equal(msg.type, PROTO_ACK);
	batch(&w, 1, 0, 3, 2); /* same documents, other numbers */
	expect_error(s, &w, buf, &msg, PROTO_E_CONFLICT);
	assert_int_equal(msg.u.error.code, 14);
	assert_string_equal(msg.u.error.reason, "batch 0 differs from the one stored");
	assert_int_equal(log_count(f, "action: batch_conflict | result: fail"), 1);
	batch(&w, 1, 0, 3, 1);
	call(s, &w, buf, &msg);
	assert_int_equal(msg.type, PROTO_ACK);
	assert_int_equal(msg.u.ack.count, 0);
	assert_int_equal(rows(f), 3);
	nng_close(s);
}

/* Forwarded together: after a refused batch the later ones are refused with its code, and not
 * stored, even one that alone would have been the next in sequence. */
static void test_frames_after_refused_one_not_stored(void **state)
{
	struct fixture *f = *state;
	nng_socket s = client(f);
	static uint8_t req[4 * PROTO_FRAME_MAX], reply[2 * PROTO_FRAME_MAX];
	static const uint32_t seqs[] = {0, 5, 1};
	struct proto_msg got[4];
	struct proto_writer w;
	size_t len = 0, rlen = sizeof(reply);

	for (size_t i = 0; i < 3; i++) {
		batch(&w, 1, seqs[i], 2, 1);
		memcpy(req + len, w.buf, w.len);
		len += w.len;
	}
	send_from(s, 0, req, len);
	assert_int_equal(nng_recv(s, reply, &rlen, 0), 0);
	assert_int_equal(split_replies(reply, rlen, got, 4), 3);
	assert_int_equal(got[0].type, PROTO_ACK);
	assert_int_equal(got[0].u.ack.count, 2);
	assert_int_equal(got[1].type, PROTO_ERROR);
	assert_int_equal(got[1].u.error.code, PROTO_E_SEQUENCE);
	assert_int_equal(got[2].type, PROTO_ERROR);
	assert_int_equal(got[2].u.error.code, PROTO_E_SEQUENCE);
	assert_int_equal(rows(f), 2);
	nng_close(s);
}

/* A store that can no longer promise anything (a failed sync) refuses with ERROR STORAGE. */
static void test_failed_store_refuses_requests(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[PROTO_FRAME_MAX];
	struct proto_writer w;
	struct proto_msg msg;
	nng_socket s = client(f);

	batch(&w, 1, 0, 1, 1);
	call(s, &w, buf, &msg);
	assert_int_equal(msg.type, PROTO_ACK);
	store_fail(f->store);
	call(s, &w, buf, &msg); /* a repeat: not even that is acknowledged */
	assert_int_equal(msg.type, PROTO_ERROR);
	assert_int_equal(msg.u.error.code, PROTO_E_STORAGE);
	batch(&w, 1, 1, 1, 1);
	expect_error(s, &w, buf, &msg, PROTO_E_STORAGE);
	encode_done(f, &w, 1, 1);
	expect_error(s, &w, buf, &msg, PROTO_E_STORAGE);
	assert_int_equal(rows(f), 1);
	nng_close(s);
}

/* An ACK means both files were flushed: the bets' sync and their record's had finished before
 * it was sent. */
static void test_ack_waits_for_both_syncs(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[PROTO_FRAME_MAX];
	struct proto_writer w;
	struct proto_msg msg;
	nng_socket s = client(f);
	unsigned before = atomic_load(&syncs_done);

	batch(&w, 1, 0, 2, 1);
	call(s, &w, buf, &msg);
	assert_int_equal(msg.type, PROTO_ACK);
	assert_int_equal(msg.u.ack.count, 2);
	assert_true(atomic_load(&syncs_done) >= before + 2);
	nng_close(s);
}

/* A failed fdatasync is fatal: the parked ACK is never sent, the service asks its process to
 * exit (SIGUSR1, blocked in main so it stays pending here), and every later request is ERROR
 * STORAGE, a repeat of a stored batch included. */
static void test_failed_sync_acknowledges_nothing(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[PROTO_FRAME_MAX];
	struct proto_writer w;
	struct proto_msg msg;
	struct timespec bound = {.tv_sec = WAIT_MS / 1000};
	sigset_t usr1;
	size_t len = PROTO_FRAME_MAX;
	nng_socket s = client(f);

	batch(&w, 1, 0, 2, 1);
	call(s, &w, buf, &msg);
	assert_int_equal(msg.type, PROTO_ACK);

	atomic_store(&syncs_fail, true);
	batch(&w, 1, 1, 2, 1);
	send_frame(s, &w);
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	assert_int_equal(sigtimedwait(&usr1, NULL, &bound), SIGUSR1);
	assert_int_equal(log_count(f, "action: storage_sync | result: fail"), 1);
	assert_int_equal(log_count(f, "action: apuesta_recibida | result: success"), 1);
	assert_int_equal(nng_recv(s, buf, &len, NNG_FLAG_NONBLOCK), NNG_EAGAIN);
	nng_close(s);

	s = client(f);
	batch(&w, 1, 0, 2, 1);
	expect_error(s, &w, buf, &msg, PROTO_E_STORAGE);
	nng_close(s);
}

/* A DONE is recorded in the journal before its ACK: the record a restart resumes it from. */
static void test_done_recorded_before_ack(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[PROTO_FRAME_MAX], raw[JOURNAL_RECORD_SIZE];
	struct journal_record r;
	struct proto_writer w;
	struct proto_msg msg;
	nng_socket s = client(f);
	int fd;

	batch(&w, 2, 0, 3, 1);
	call(s, &w, buf, &msg);
	assert_int_equal(msg.type, PROTO_ACK);
	assert_int_equal(rows_of(f, 2), 3); /* every bet of agency 2's batch is agency 2's */
	encode_done(f, &w, 2, 3);
	call(s, &w, buf, &msg);
	assert_int_equal(msg.type, PROTO_ACK);
	assert_int_equal(msg.u.ack.count, 3);
	fd = open(f->journal, O_RDONLY);
	assert_true(fd >= 0);
	off_t end = lseek(fd, 0, SEEK_END);
	assert_int_equal(pread(fd, raw, sizeof(raw), end - JOURNAL_RECORD_SIZE), sizeof(raw));
	close(fd);
	assert_int_equal(journal_decode(raw, &r), 0);
	assert_int_equal(r.type, JOURNAL_DONE);
	assert_int_equal(r.agency, 2);
	assert_int_equal(r.count, 3);
	nng_close(s);
}

static void test_malformed(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[PROTO_FRAME_MAX];
	struct proto_writer w;
	struct proto_msg msg;
	nng_socket s = client(f);

	proto_encode_ack(&w, 0, 1); /* a reply type sent as a request */
	expect_error(s, &w, buf, &msg, PROTO_E_TYPE);

	encode_done(f, &w, 1, 0);
	w.buf[0] = 'G'; /* not the magic */
	expect_error(s, &w, buf, &msg, PROTO_E_BAD_MAGIC);

	encode_done(f, &w, 1, 0);
	w.len -= 2; /* shorter than its header says */
	expect_error(s, &w, buf, &msg, PROTO_E_TRUNCATED);

	w.len = 3;
	expect_error(s, &w, buf, &msg, PROTO_E_TRUNCATED);
	nng_close(s);
}

/* A batch that fills the whole frame passes nng's receive limit (which counts the REQ header). */
static void test_full_frame(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[PROTO_FRAME_MAX];
	struct proto_writer w;
	struct proto_msg msg;
	struct bet bet = make_bet("1", 1);
	size_t count = 0;
	nng_socket s = client(f);

	memset(bet.first_name, 'a', BET_NAME_MAX);
	bet.first_name[BET_NAME_MAX] = '\0';
	proto_begin_batch(&w, 1, 0);
	while (proto_add_batch_bet(&w, &bet) == 0)
		count++;
	/* Top it up with the smallest bets, to within one of them of the limit. */
	bet.first_name[1] = '\0';
	bet.last_name[1] = '\0';
	while (proto_add_batch_bet(&w, &bet) == 0)
		count++;
	proto_finish(&w);
	assert_true(w.len > PROTO_FRAME_MAX - PROTO_BET_SIZE_MIN);
	call(s, &w, buf, &msg);
	assert_int_equal(msg.type, PROTO_ACK);
	assert_int_equal(msg.u.ack.count, count);
	assert_int_equal(rows(f), count);
	nng_close(s);
}

/* The most bets a frame can carry (PROTO_BATCH_LIMIT of the smallest): one batch, stored whole. */
static void test_batch_of_the_most_bets(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[PROTO_FRAME_MAX];
	static struct proto_writer w;
	struct proto_msg msg;
	struct bet bet = fixture_bet(0, "A", "B", "1", "1980-07-12", 1);
	size_t count = 0;
	nng_socket s = client(f);

	proto_begin_batch(&w, 1, 0);
	while (proto_add_batch_bet(&w, &bet) == 0)
		count++;
	proto_finish(&w);
	assert_int_equal(count, PROTO_BATCH_LIMIT);
	call(s, &w, buf, &msg);
	assert_int_equal(msg.type, PROTO_ACK);
	assert_int_equal(msg.u.ack.count, PROTO_BATCH_LIMIT);
	assert_int_equal(rows_of(f, 1), PROTO_BATCH_LIMIT);
	nng_close(s);
}

static void test_query_held_until_all_done(void **state)
{
	struct fixture *f = *state;
	char document[BET_DOCUMENT_MAX + 1];
	uint8_t buf[PROTO_FRAME_MAX];
	struct proto_writer w;
	struct proto_msg msg;
	nng_socket s = client(f), q = client(f);

	batch(&w, 1, 0, 2, LOTTERY_WINNER_NUMBER);
	call(s, &w, buf, &msg);
	assert_int_equal(msg.type, PROTO_ACK);
	batch(&w, 2, 0, 1, 12);
	call(s, &w, buf, &msg);
	assert_int_equal(msg.type, PROTO_ACK);

	proto_encode_query(&w, 1, 0);
	send_frame(q, &w);
	wait_held(f, 1);

	encode_done(f, &w, 1, 2);
	call(s, &w, buf, &msg);
	assert_int_equal(msg.type, PROTO_ACK);
	assert_int_equal(msg.u.ack.count, 2);
	/* One of two agencies done: still held. */
	{
		size_t len = PROTO_FRAME_MAX;

		assert_int_equal(nng_recv(q, buf, &len, NNG_FLAG_NONBLOCK), NNG_EAGAIN);
	}
	assert_int_equal(service_held(f->svc), 1);
	assert_int_equal(log_count(f, "action: sorteo | result: success"), 0);

	encode_done(f, &w, 2, 1);
	call(s, &w, buf, &msg);
	assert_int_equal(msg.type, PROTO_ACK);

	recv_reply(q, buf, &msg);
	assert_int_equal(msg.type, PROTO_WINNERS);
	assert_int_equal(msg.u.winners.total, 2);
	assert_int_equal(msg.u.winners.count, 2);
	assert_int_equal(proto_next_document(&msg.u.winners.documents, document), 1);
	assert_string_equal(document, "1000");
	assert_int_equal(proto_next_document(&msg.u.winners.documents, document), 1);
	assert_string_equal(document, "1001");
	assert_int_equal(service_held(f->svc), 0);

	/* From an offset: the page after the winners already read, total unchanged. */
	proto_encode_query(&w, 1, 1);
	call(q, &w, buf, &msg);
	assert_int_equal(msg.type, PROTO_WINNERS);
	assert_int_equal(msg.u.winners.total, 2);
	assert_int_equal(msg.u.winners.offset, 1);
	assert_int_equal(msg.u.winners.count, 1);
	assert_int_equal(proto_next_document(&msg.u.winners.documents, document), 1);
	assert_string_equal(document, "1001");

	/* After the draw a query is answered at once; a repeated DONE is acknowledged. */
	proto_encode_query(&w, 2, 0);
	call(q, &w, buf, &msg);
	assert_int_equal(msg.type, PROTO_WINNERS);
	assert_int_equal(msg.u.winners.total, 0);
	encode_done(f, &w, 2, 1);
	call(s, &w, buf, &msg);
	assert_int_equal(msg.type, PROTO_ACK);
	assert_int_equal(log_count(f, "action: sorteo | result: success"), 1);
	nng_close(q);
	nng_close(s);
}

/* A held query whose worker goes away frees its context. */
static void test_held_query_released_when_worker_leaves(void **state)
{
	struct fixture *f = *state;
	struct proto_writer w;
	nng_socket q[CONTEXTS - 1];

	for (int i = 0; i < CONTEXTS - 1; i++) {
		q[i] = client(f);
		proto_encode_query(&w, 1, 0);
		send_frame(q[i], &w);
	}
	wait_held(f, CONTEXTS - 1);
	for (int i = 0; i < CONTEXTS - 1; i++)
		nng_close(q[i]);
	wait_held(f, 0);
}

static void test_shutdown_answers_held_query(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[PROTO_FRAME_MAX];
	struct proto_writer w;
	struct proto_msg msg;
	nng_socket s = client(f), q = client(f);

	proto_encode_query(&w, 2, 0);
	send_frame(q, &w);
	wait_held(f, 1);
	service_stop(f->svc, WAIT_MS);

	recv_reply(q, buf, &msg);
	assert_int_equal(msg.type, PROTO_ERROR);
	assert_int_equal(msg.u.error.code, PROTO_E_SHUTTING_DOWN);
	assert_int_equal(service_held(f->svc), 0);

	/* Closing with a client still connected. */
	service_close(f->svc);
	f->svc = NULL;
	nng_close(q);
	nng_close(s);
}

/* Between service_stop and service_close every request is refused. */
static void test_stopping_refuses_requests(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[PROTO_FRAME_MAX];
	struct proto_writer w;
	struct proto_msg msg;
	nng_socket s = client(f);

	service_stop(f->svc, WAIT_MS);
	batch(&w, 1, 0, 1, 1);
	expect_error(s, &w, buf, &msg, PROTO_E_SHUTTING_DOWN);
	proto_encode_query(&w, 1, 0);
	expect_error(s, &w, buf, &msg, PROTO_E_SHUTTING_DOWN);
	assert_int_equal(rows(f), 0);
	nng_close(s);
}

/* --------------------------------------------------------------------------------------------
 * storage_link, the worker's side */

/* How a call waits: reach and reply deadlines after these many ms (0: none), watching fd. */
static struct storage_call wait_for(int64_t reach_ms, int64_t reply_ms, int watch_fd,
                                    bool stoppable)
{
	struct storage_call call = {
		.reach_deadline = reach_ms > 0 ? io_deadline_after(reach_ms) : IO_NO_DEADLINE,
		.reply_deadline = reply_ms > 0 ? io_deadline_after(reply_ms) : IO_NO_DEADLINE,
		.watch_fd = watch_fd,
		.stoppable = stoppable,
	};
	return call;
}

static int link_call(struct storage_link *link, const struct proto_writer *w,
                     uint8_t reply[PROTO_FRAME_MAX], struct storage_call call)
{
	size_t len;

	return storage_link_call(link, w->buf, w->len, reply, &len, &call);
}

static void assert_ack(const uint8_t reply[PROTO_FRAME_MAX])
{
	struct proto_header h;

	assert_int_equal(proto_header_decode(reply, &h), PROTO_E_NONE);
	assert_int_equal(h.type, PROTO_ACK);
}

static void test_link_call(void **state)
{
	struct fixture *f = *state;
	uint8_t reply[PROTO_FRAME_MAX];
	struct proto_writer w;
	struct proto_header h;
	struct proto_msg msg;
	struct storage_link *link;

	assert_int_equal(storage_link_open(&link, f->url), 0);
	batch(&w, 2, 0, 4, 9);
	assert_int_equal(link_call(link, &w, reply, wait_for(WAIT_MS, WAIT_MS, -1, false)), IO_OK);
	assert_int_equal(proto_header_decode(reply, &h), PROTO_E_NONE);
	assert_int_equal(h.type, PROTO_ACK);
	assert_int_equal(proto_decode(h.type, reply + PROTO_HEADER_SIZE, h.length, &msg), 0);
	assert_int_equal(msg.u.ack.count, 4);
	storage_link_close(link);

	assert_int_equal(storage_link_open(&link, "nope:///x"), -1); /* no such transport */
	assert_int_equal(errno, EINVAL);
	assert_non_null(strstr(storage_link_error(NULL), "nng_dial"));
}

/* Storage may be down when a worker needs it (the supervisor restarts it at the same path): a
 * call waits for it until its reach deadline, and the link finds it again once it is back. */
static void test_link_waits_for_storage_and_reconnects(void **state)
{
	struct fixture *f = *state;
	uint8_t reply[PROTO_FRAME_MAX];
	struct proto_writer w;
	struct storage_link *link;
	char err[256];

	assert_int_equal(storage_link_open(&link, f->url), 0);
	encode_done(f, &w, 1, 0);
	assert_int_equal(link_call(link, &w, reply, wait_for(WAIT_MS, WAIT_MS, -1, false)), IO_OK);
	assert_ack(reply);

	service_close(f->svc); /* storage is gone; so is the connection */
	f->svc = NULL;
	encode_done(f, &w, 2, 0);
	/* Lost, if the request went out before our side saw the connection close; else it waits
	 * for a connection that does not come. */
	int rc = link_call(link, &w, reply, wait_for(50, 50, -1, false));
	assert_true(rc == STORAGE_LINK_LOST || rc == IO_TIMEOUT);
	assert_int_equal(link_call(link, &w, reply, wait_for(50, 50, -1, false)), IO_TIMEOUT);

	assert_int_equal(service_open(&f->svc, f->url, CONTEXTS, f->store, err, sizeof(err)),
	                 0);
	assert_int_equal(link_call(link, &w, reply, wait_for(WAIT_MS, WAIT_MS, -1, false)), IO_OK);
	assert_ack(reply);
	storage_link_close(link);

	/* A link opened while storage is down finds it too. */
	service_close(f->svc);
	f->svc = NULL;
	assert_int_equal(storage_link_open(&link, f->url), 0);
	assert_int_equal(service_open(&f->svc, f->url, CONTEXTS, f->store, err, sizeof(err)),
	                 0);
	assert_int_equal(link_call(link, &w, reply, wait_for(WAIT_MS, WAIT_MS, -1, false)), IO_OK);
	assert_ack(reply);
	storage_link_close(link);
}

static void test_link_abandoned_query(void **state)
{
	struct fixture *f = *state;
	uint8_t reply[PROTO_FRAME_MAX];
	struct proto_writer w;
	struct storage_link *link;
	int pair[2];

	assert_int_equal(storage_link_open(&link, f->url), 0);

	/* The deadline passes while the query is held. */
	proto_encode_query(&w, 1, 0);
	assert_int_equal(link_call(link, &w, reply, wait_for(WAIT_MS, 50, -1, true)), IO_TIMEOUT);

	/* The client hangs up while its query is held. */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair), 0);
	assert_int_equal(close(pair[1]), 0);
	assert_int_equal(link_call(link, &w, reply, wait_for(WAIT_MS, WAIT_MS, pair[0], true)),
	                 IO_EOF);
	close(pair[0]);

	/* The link works after both. */
	encode_done(f, &w, 1, 0);
	assert_int_equal(link_call(link, &w, reply, wait_for(WAIT_MS, WAIT_MS, -1, false)), IO_OK);
	assert_ack(reply);
	storage_link_close(link);
}

/* A stop requested before or during the wait cuts a stoppable call short, and leaves an
 * unstoppable one waiting for its answer (here: until its deadline, the query being held). */
static void test_link_stop_flag(void **state)
{
	struct fixture *f = *state;
	static volatile sig_atomic_t stop;
	uint8_t reply[PROTO_FRAME_MAX];
	struct proto_writer w;
	struct storage_link *link;
	sigset_t mask;

	assert_int_equal(sigprocmask(SIG_BLOCK, NULL, &mask), 0);
	assert_int_equal(storage_link_open(&link, f->url), 0);
	stop = 1;
	io_set_stop(&stop, &mask);
	proto_encode_query(&w, 1, 0);
	assert_int_equal(link_call(link, &w, reply, wait_for(WAIT_MS, WAIT_MS, -1, true)),
	                 IO_STOPPED);
	assert_int_equal(link_call(link, &w, reply, wait_for(WAIT_MS, 50, -1, false)), IO_TIMEOUT);
	/* And an answer that comes is taken, stop or not. */
	encode_done(f, &w, 2, 0);
	assert_int_equal(link_call(link, &w, reply, wait_for(WAIT_MS, WAIT_MS, -1, false)), IO_OK);
	io_set_stop(NULL, NULL);
	storage_link_close(link);
}

/* Of two sessions of one agency only the newer writes: once session 200 has written, session
 * 100's batch and DONE are ERROR SESSION and nothing of them is stored; queries pass. */
static void test_older_session_is_fenced(void **state)
{
	struct fixture *f = *state;
	nng_socket s = client(f);
	uint8_t buf[PROTO_FRAME_MAX];
	struct proto_writer w;
	struct proto_msg msg;

	batch(&w, 1, 0, 2, 1);
	send_from(s, 100, w.buf, w.len);
	recv_reply(s, buf, &msg);
	assert_int_equal(msg.type, PROTO_ACK);
	batch(&w, 1, 1, 2, 1);
	send_from(s, 200, w.buf, w.len);
	recv_reply(s, buf, &msg);
	assert_int_equal(msg.type, PROTO_ACK);
	batch(&w, 1, 2, 2, 1);
	send_from(s, 100, w.buf, w.len);
	recv_reply(s, buf, &msg);
	assert_int_equal(msg.type, PROTO_ERROR);
	assert_int_equal(msg.u.error.code, PROTO_E_SESSION);
	assert_non_null(strstr(msg.u.error.reason, "newer connection of agency 1"));
	assert_int_equal(rows(f), 4);
	encode_done(f, &w, 1, 4);
	send_from(s, 100, w.buf, w.len);
	recv_reply(s, buf, &msg);
	assert_int_equal(msg.u.error.code, PROTO_E_SESSION);
	/* another agency is not affected by agency 1's sessions */
	batch(&w, 2, 0, 1, 1);
	send_from(s, 50, w.buf, w.len);
	recv_reply(s, buf, &msg);
	assert_int_equal(msg.type, PROTO_ACK);
	/* the newer session goes on */
	send_from(s, 200, w.buf, 0); /* an empty message: refused, not a session change */
	recv_reply(s, buf, &msg);
	assert_int_equal(msg.type, PROTO_ERROR);
	encode_done(f, &w, 1, 4);
	send_from(s, 200, w.buf, w.len);
	recv_reply(s, buf, &msg);
	assert_int_equal(msg.type, PROTO_ACK);
	nng_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_batch_ack_and_duplicate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_frames_forwarded_together, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sequence_agency_total_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_invalid_contents_stored_as_given, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_conflict_under_used_seq, setup, teardown),
		cmocka_unit_test_setup_teardown(test_older_session_is_fenced, setup, teardown),
		cmocka_unit_test_setup_teardown(test_frames_after_refused_one_not_stored, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_failed_store_refuses_requests, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ack_waits_for_both_syncs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_sync_acknowledges_nothing, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_done_recorded_before_ack, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_full_frame, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batch_of_the_most_bets, setup, teardown),
		cmocka_unit_test_setup_teardown(test_query_held_until_all_done, setup, teardown),
		cmocka_unit_test_setup_teardown(test_held_query_released_when_worker_leaves, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_shutdown_answers_held_query, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stopping_refuses_requests, setup, teardown),
		cmocka_unit_test_setup_teardown(test_link_call, setup, teardown),
		cmocka_unit_test_setup_teardown(test_link_waits_for_storage_and_reconnects, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_link_abandoned_query, setup, teardown),
		cmocka_unit_test_setup_teardown(test_link_stop_flag, setup, teardown),
	};

	sigset_t usr1;

	/* Before nng starts its threads, so they inherit it: the service's "exit now" signal
	 * (SIGUSR1 to its own process) stays pending for test_failed_sync_acknowledges_nothing. */
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	if (pthread_sigmask(SIG_BLOCK, &usr1, NULL) != 0)
		return 1;

	int failed = cmocka_run_group_tests(tests, NULL, NULL);

	nng_fini(); /* nng's own threads and descriptors, so valgrind sees a clean exit */
	return failed;
}
