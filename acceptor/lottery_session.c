/* lottery_session: an agency's session. Each request frame is read, decoded and validated
 * here, so nothing malformed or invalid ever reaches storage; a valid one is forwarded unchanged
 * and storage's reply frame relayed. Failures are logged here; what was stored is logged by
 * storage as it stores it. Of the contract's actions a worker logs only apuesta_recibida's
 * failure (with exactly its cantidad); every other line here has an action of the project's. */
#define _GNU_SOURCE /* POLLRDHUP */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "auth.h"
#include "bet.h"
#include "frame.h"
#include "io.h"
#include "log.h"
#include "proto.h"
#include "session.h"
#include "shutdown.h"
#include "storage_link.h"

#define STORAGE_REPLY_MS 30000    /* a write's whole budget, resends included */
#define STORAGE_ATTEMPT_MS 10000  /* storage answers writes in microseconds; this means it hung */
#define STORAGE_REACH_MS 30000    /* a restarted storage is back well within this */
#define RESEND_PAUSE_FIRST_MS 50
#define RESEND_PAUSE_MAX_MS 1000

/* What a batch forwarded with others needs for its log lines. */
struct batch_info {
	uint32_t agency, seq;
	uint16_t count;
};

struct exchange {
	/* The request: one frame, or up to PROTO_FORWARD_MAX batch frames read together. */
	uint8_t request[PROTO_FORWARD_MAX * PROTO_FRAME_MAX];
	size_t request_len;
	unsigned frames;
	struct batch_info batches[PROTO_FORWARD_MAX];
	struct proto_header header; /* of the first frame */
	struct proto_msg msg;       /* the first frame, decoded */
	/* A frame read while gathering batches that could not join them (not valid): it is the
	 * next request, at request + deferred_at. */
	size_t deferred_at, deferred_len;
	uint8_t reply[PROTO_FRAME_MAX];
	size_t reply_len;
	struct proto_msg answers[PROTO_FORWARD_MAX]; /* the reply's frames, decoded, one a frame */
};
#define ANSWER(x) ((x)->answers[0])

enum { SESSION_GO_ON = 0, SESSION_END = 1, SESSION_FAILED = 2 };

/* Writes a whole frame to the client. After a stop the reply still goes out, with a short
 * deadline that the stop flag no longer cuts. */
static int send_raw(struct session *s, const uint8_t *frame, size_t len)
{
	int64_t deadline;
	int rc;

	if (io_stop_requested()) {
		io_set_stop(NULL, NULL);
		deadline = io_deadline_after(SHUTDOWN_FINAL_WRITE_MS);
	} else {
		deadline = io_deadline_after(s->options->idle_timeout_ms);
	}
	rc = io_write_full(s->fd, frame, len, deadline);
	if (rc != IO_OK)
		log_warning("send_reply", "fail", "ip: %s | error: %s", s->ip, io_status_text(rc));
	return rc;
}

static void send_error(struct session *s, int code, const char *reason)
{
	struct proto_writer w;

	proto_encode_error(&w, (uint8_t)code, reason);
	(void)send_raw(s, w.buf, w.len);
}

/* Ends the session with an ERROR frame and one log line. */
static int fail_session(struct session *s, const char *action, int code, const char *reason)
{
	log_warning(action, "fail", "ip: %s | code: %d | error: %s", s->ip, code, reason);
	send_error(s, code, reason);
	return SESSION_END;
}

/* A session speaks for one agency of the draw: the first message fixes it. NULL when agency
 * may be used, else the reason it may not (sent as ERROR AGENCY, ending the session). */
static const char *check_agency(struct session *s, uint32_t agency)
{
	if (agency < 1 || agency > s->options->agencies)
		return "agency not in the draw";
	if (s->agency == 0)
		s->agency = agency;
	return agency == s->agency ? NULL : "agency differs from the session's";
}

static int64_t earlier(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

/* Waits between two attempts at a request: IO_OK once until has come, IO_STOPPED, or IO_EOF
 * if watch_fd (>= 0) hung up meanwhile. */
static int pause_until(int64_t until, int watch_fd)
{
	struct pollfd pfd = {.fd = watch_fd, .events = POLLRDHUP};
	int rc = io_poll(&pfd, watch_fd >= 0 ? 1 : 0, until);

	if (rc == IO_TIMEOUT)
		return IO_OK;
	return rc > 0 ? IO_EOF : rc;
}

/* Whether an attempt that ended with rc is worth another: storage died with the request, or a
 * write's attempt got no reply in time. A query's timeout means storage stayed out of reach. */
static bool worth_resending(int rc, bool idempotent, bool is_query)
{
	return idempotent && (rc == STORAGE_LINK_LOST || (rc == IO_TIMEOUT && !is_query));
}

/* A request sent again goes out on a new socket with a new dialer, not on the old one: twice in
 * CI under valgrind, a worker whose storage was SIGSTOPped and then SIGKILLed got no answer to
 * any attempt on its socket from the storage started after it (the request sat on a connection
 * nng never delivered it on, or its dialer never reached the new storage), so its agency gave
 * up after 30 s. Whatever the old socket's state, a new one dials the storage there is now.
 * The close is bounded (storage_link_close_bounded): if nng deadlocks in it, the worker ends
 * and its agency reconnects, as after any lost worker. 0, or -1 with ERROR STORAGE sent. */
static int reopen_link(struct session *s)
{
	storage_link_close_bounded(s->link);
	s->link = NULL;
	if (storage_link_open(&s->link, s->options->ipc_url) < 0) {
		log_error("storage_link", "fail", "ip: %s | error: %s", s->ip, storage_link_error(NULL));
		send_error(s, PROTO_E_STORAGE, "storage unavailable");
		return -1;
	}
	log_debug("storage_link_reopen", "success", "ip: %s", s->ip);
	return 0;
}

/* Sends the request to storage and decodes its reply into ANSWER(x).
 *
 * A stop does not cut the first attempt at a write short, so the client learns what happened
 * to its bets; a query waiting for the draw may be cut short by a stop or by the client hanging
 * up. If storage dies with the request (the supervisor restarts it, see storage_link.h) or a
 * write's reply does not come within STORAGE_ATTEMPT_MS, an idempotent request (BATCH, DONE,
 * WINNERS_QUERY: storage keeps batches by sequence number, counts a DONE once, and a query only
 * reads) is sent again, after a pause of RESEND_PAUSE_FIRST_MS doubling to RESEND_PAUSE_MAX_MS,
 * until a write's STORAGE_REPLY_MS are spent or storage has been out of reach for
 * STORAGE_REACH_MS. A resent request has no outcome the client knows of, so a stop may end its
 * waits (the client gets SHUTTING_DOWN; it would resend anyway). A BET is never resent: it gets
 * ERROR STORAGE, as its outcome is unknown. */
static int forward(struct session *s, struct exchange *x, bool is_query)
{
	size_t len = x->request_len;
	bool idempotent = x->msg.type != PROTO_BET;
	int64_t total = io_deadline_after(STORAGE_REPLY_MS);
	int64_t pause_ms = RESEND_PAUSE_FIRST_MS;
	struct storage_call call = {
		.reach_deadline = total,
		.reply_deadline = total,
		.watch_fd = is_query ? s->fd : -1,
		.stoppable = is_query,
		.session = s->session,
	};
	struct proto_header h;
	int rc;

	if (is_query) {
		call.reach_deadline = io_deadline_after(STORAGE_REACH_MS);
		call.reply_deadline = IO_NO_DEADLINE; /* held until the draw */
	} else if (idempotent) {
		/* An attempt that cannot even reach storage ends too, so that the next one (which a
		 * stop may cut short) takes over during a long outage. */
		call.reply_deadline = earlier(total, io_deadline_after(STORAGE_ATTEMPT_MS));
		call.reach_deadline = call.reply_deadline;
	}
	if (s->link == NULL && storage_link_open(&s->link, s->options->ipc_url) < 0) {
		log_error("storage_link", "fail", "ip: %s | error: %s", s->ip, storage_link_error(NULL));
		send_error(s, PROTO_E_STORAGE, "storage unavailable");
		return SESSION_FAILED;
	}
	for (unsigned attempt = 1;; attempt++) {
		rc = storage_link_call(s->link, x->request, len, x->reply, &x->reply_len, &call);
		if (!worth_resending(rc, idempotent, is_query))
			break;
		/* A query's budget starts at the loss: it may have been held for an hour. */
		int64_t now = io_now_ms();
		int64_t give_up = is_query ? now + STORAGE_REACH_MS : total;
		if (now >= give_up)
			break;
		log_warning("storage_link", "in_progress",
		            "ip: %s | request: %s | attempt: %u | delay_ms: %lld | error: %s", s->ip,
		            proto_type_name(x->msg.type), attempt, (long long)pause_ms,
		            rc == IO_TIMEOUT ? "no reply in time" : storage_link_error(s->link));
		rc = pause_until(earlier(give_up, now + pause_ms), call.watch_fd);
		if (rc != IO_OK)
			break;
		if (reopen_link(s) != 0)
			return SESSION_FAILED;
		pause_ms = earlier(RESEND_PAUSE_MAX_MS, pause_ms * 2);
		call.reach_deadline = give_up;
		if (!is_query) {
			call.reply_deadline = earlier(total, io_deadline_after(STORAGE_ATTEMPT_MS));
			call.reach_deadline = call.reply_deadline;
		}
		call.stoppable = true;
	}
	if (rc == IO_EOF) {
		log_info("winners_query", "in_progress",
		         "ip: %s | error: client left while waiting", s->ip);
		return SESSION_END;
	}
	if (rc == IO_STOPPED) {
		send_error(s, PROTO_E_SHUTTING_DOWN, "server shutting down");
		log_info("shutdown", "success", "ip: %s | agency: %u", s->ip, (unsigned)s->agency);
		return SESSION_END;
	}
	if (rc != IO_OK) {
		log_error("storage_link", "fail", "ip: %s | request: %s | error: %s", s->ip,
		          proto_type_name(x->msg.type),
		          rc == IO_ERROR || rc == STORAGE_LINK_LOST ? storage_link_error(s->link)
		                                                    : io_status_text(rc));
		send_error(s, PROTO_E_STORAGE,
		           rc == STORAGE_LINK_LOST ? "storage went away" : "storage did not answer");
		return SESSION_FAILED;
	}
	/* One reply frame per request frame, each well formed: relayed as they came, in one write. */
	size_t at = 0;
	unsigned n = 0;

	while (at < x->reply_len && n < x->frames) {
		if (x->reply_len - at < PROTO_HEADER_SIZE ||
		    proto_header_decode(x->reply + at, &h) != PROTO_E_NONE ||
		    h.length > x->reply_len - at - PROTO_HEADER_SIZE ||
		    proto_decode(h.type, x->reply + at + PROTO_HEADER_SIZE, h.length,
		                 &x->answers[n]) != PROTO_E_NONE)
			break;
		at += PROTO_HEADER_SIZE + h.length;
		n++;
	}
	if (n != x->frames || at != x->reply_len) {
		log_error("storage_link", "fail", "ip: %s | error: malformed reply from storage", s->ip);
		send_error(s, PROTO_E_STORAGE, "storage answered nonsense");
		return SESSION_FAILED;
	}
	return send_raw(s, x->reply, x->reply_len) == IO_OK ? SESSION_GO_ON : SESSION_END;
}

static int handle_bet(struct session *s, struct exchange *x)
{
	const char *why;
	const struct bet *bet = &x->msg.u.bet.bet;
	struct bet_date today;
	struct proto_writer w;
	enum bet_error err;
	int rc, code;

	if ((why = check_agency(s, x->msg.u.bet.agency)) != NULL)
		return fail_session(s, "bet_refused", PROTO_E_AGENCY, why);
	bet_today(&today);
	err = bet_validate(bet, s->options->agencies, &today);
	if (err != BET_OK) {
		log_warning("bet_refused", "fail",
		            "ip: %s | dni: %s | numero: %u | code: %d | error: %s", s->ip,
		            bet->document, (unsigned)bet->number, PROTO_E_INVALID_BET,
		            bet_error_text(err));
		proto_encode_reject(&w, PROTO_E_INVALID_BET, 0, bet_error_text(err));
		return send_raw(s, w.buf, w.len) == IO_OK ? SESSION_GO_ON : SESSION_END;
	}
	rc = forward(s, x, false);
	if (rc != SESSION_GO_ON)
		return rc;
	if (ANSWER(x).type == PROTO_ACK)
		return SESSION_GO_ON; /* storage logged apuesta_almacenada as it stored it */
	const char *reason = proto_reply_reason(&ANSWER(x), &code);
	log_warning("bet_refused", "fail", "ip: %s | dni: %s | numero: %u | code: %d | error: %s",
	            s->ip, bet->document, (unsigned)bet->number, code, reason);
	return ANSWER(x).type == PROTO_REJECT ? SESSION_GO_ON : SESSION_END;
}

/* A batch that was not stored: the contract's line, exactly its keys, then the details under a
 * project action. index < 0: no bet in particular. */
static void log_batch_refused(const struct session *s, const struct batch_info *b, int index,
                              int code, const char *reason)
{
	unsigned count = b->count, agency = (unsigned)b->agency, seq = (unsigned)b->seq;

	log_warning("apuesta_recibida", "fail", "cantidad: %u", count);
	if (index >= 0)
		log_warning("batch_refused", "fail",
		            "ip: %s | agency: %u | seq: %u | cantidad: %u | index: %d | code: %d | "
		            "error: %s",
		            s->ip, agency, seq, count, index, code, reason);
	else
		log_warning("batch_refused", "fail",
		            "ip: %s | agency: %u | seq: %u | cantidad: %u | code: %d | error: %s",
		            s->ip, agency, seq, count, code, reason);
}

/* A batch's own checks: the session's agency, then every bet (the whole batch or nothing).
 * PROTO_E_NONE, or the code with *index (-1: no bet in particular) and *why set. */
static int check_batch(struct session *s, const struct proto_msg *msg, int *index,
                       const char **why)
{
	struct proto_cursor cursor = msg->u.batch.bets;
	struct proto_bet_view v;
	struct bet_date today;

	*index = -1;
	if ((*why = check_agency(s, msg->u.batch.agency)) != NULL)
		return PROTO_E_AGENCY;
	bet_today(&today);
	/* Checked where they lie, not copied: the worker is where bets are validated (a BATCH's
	 * here, a BET's in handle_bet); storage trusts what a worker forwards (README, "One trust
	 * boundary"). */
	for (int i = 0; proto_next_bet_view(&cursor, &v) == 1; i++) {
		const struct bet_fields f = {
			.agency = msg->u.batch.agency,
			.first_name = (const char *)v.first_name, .first_name_len = v.first_name_len,
			.last_name = (const char *)v.last_name, .last_name_len = v.last_name_len,
			.document = (const char *)v.document, .document_len = v.document_len,
			.birthdate = (const char *)v.birthdate, .birthdate_len = v.birthdate_len,
			.number = v.number,
		};
		enum bet_error err = bet_validate_fields(&f, s->options->agencies, &today);

		if (err != BET_OK) {
			*index = i;
			*why = bet_error_text(err);
			return PROTO_E_INVALID_BET;
		}
	}
	return PROTO_E_NONE;
}

/* The size of the next frame if a whole BATCH frame is already in the socket's buffer (so
 * reading it cannot wait), else 0. */
static size_t buffered_batch(int fd)
{
	uint8_t raw[PROTO_HEADER_SIZE];
	struct proto_header h;
	int pending;

	if (ioctl(fd, FIONREAD, &pending) != 0 || pending < PROTO_HEADER_SIZE ||
	    recv(fd, raw, sizeof(raw), MSG_PEEK | MSG_DONTWAIT) != (ssize_t)sizeof(raw) ||
	    proto_header_decode(raw, &h) != PROTO_E_NONE || h.type != PROTO_BATCH ||
	    (size_t)pending < PROTO_HEADER_SIZE + h.length)
		return 0;
	return PROTO_HEADER_SIZE + h.length;
}

/* Reads the valid batches that wait behind the first (a client keeps a window of them in
 * flight) into the request, so that storage gets them in one message and commits them in one
 * group. The first that is not valid stops the gathering: it becomes the next request, handled
 * on its own once these are answered. */
static void gather_batches(struct session *s, struct exchange *x)
{
	size_t size;

	while (x->frames < PROTO_FORWARD_MAX && (size = buffered_batch(s->fd)) > 0) {
		uint8_t *frame = x->request + x->request_len;
		struct proto_header h;
		struct proto_msg msg;
		const char *why;
		int index;

		if (frame_read(s->fd, frame, &h, io_deadline_after(SHUTDOWN_FINAL_WRITE_MS)) != IO_OK)
			return; /* cannot be: the whole frame was there */
		if (proto_decode(h.type, frame + PROTO_HEADER_SIZE, h.length, &msg) != PROTO_E_NONE ||
		    check_batch(s, &msg, &index, &why) != PROTO_E_NONE) {
			x->deferred_at = x->request_len;
			x->deferred_len = size;
			return;
		}
		x->batches[x->frames++] = (struct batch_info){
			.agency = msg.u.batch.agency, .seq = msg.u.batch.seq, .count = msg.u.batch.count};
		x->request_len += size;
	}
}

static int handle_batch(struct session *s, struct exchange *x)
{
	struct proto_writer w;
	const char *why;
	int rc, code, index;

	x->batches[0] = (struct batch_info){.agency = x->msg.u.batch.agency,
	                                    .seq = x->msg.u.batch.seq,
	                                    .count = x->msg.u.batch.count};
	code = check_batch(s, &x->msg, &index, &why);
	if (code == PROTO_E_AGENCY) {
		log_batch_refused(s, &x->batches[0], -1, code, why);
		send_error(s, code, why);
		return SESSION_END;
	}
	if (code != PROTO_E_NONE) {
		log_batch_refused(s, &x->batches[0], index, code, why);
		proto_encode_reject(&w, (uint8_t)code, (uint16_t)index, why);
		return send_raw(s, w.buf, w.len) == IO_OK ? SESSION_GO_ON : SESSION_END;
	}
	gather_batches(s, x);
	rc = forward(s, x, false);
	if (rc != SESSION_GO_ON)
		return rc;
	/* storage logged apuesta_recibida (or _repetida) for each ACK as it stored it */
	for (unsigned i = 0; i < x->frames; i++) {
		const struct proto_msg *answer = &x->answers[i];

		if (answer->type == PROTO_ACK)
			continue;
		const char *reason = proto_reply_reason(answer, &code);
		log_batch_refused(s, &x->batches[i], -1, code, reason);
		if (answer->type != PROTO_REJECT)
			rc = SESSION_END;
	}
	return rc;
}

static int handle_done(struct session *s, struct exchange *x)
{
	const char *why;
	uint32_t agency = x->msg.u.done.agency;
	int rc, code;

	if ((why = check_agency(s, agency)) != NULL)
		return fail_session(s, "agency_done", PROTO_E_AGENCY, why);
	rc = forward(s, x, false);
	if (rc != SESSION_GO_ON)
		return rc;
	if (ANSWER(x).type == PROTO_ACK) {
		log_info("agency_done", "success", "agency: %u | total: %u", (unsigned)agency,
		         (unsigned)x->msg.u.done.total);
		return SESSION_GO_ON;
	}
	const char *reason = proto_reply_reason(&ANSWER(x), &code);
	log_warning("agency_done", "fail", "agency: %u | code: %d | error: %s", (unsigned)agency,
	            code, reason);
	return SESSION_END;
}

static int handle_query(struct session *s, struct exchange *x)
{
	const char *why;
	uint32_t agency = x->msg.u.query.agency;
	int rc, code;

	if ((why = check_agency(s, agency)) != NULL)
		return fail_session(s, "winners_query", PROTO_E_AGENCY, why);
	log_debug("winners_query", "in_progress", "agency: %u | offset: %u", (unsigned)agency,
	          (unsigned)x->msg.u.query.offset);
	rc = forward(s, x, true);
	if (rc != SESSION_GO_ON)
		return rc;
	if (ANSWER(x).type == PROTO_WINNERS) {
		log_debug("winners_query", "success", "agency: %u | total: %u | sent: %u",
		          (unsigned)agency, (unsigned)ANSWER(x).u.winners.total,
		          (unsigned)ANSWER(x).u.winners.count);
		return SESSION_GO_ON;
	}
	const char *reason = proto_reply_reason(&ANSWER(x), &code);
	log_warning("winners_query", "fail", "agency: %u | code: %d | error: %s",
	            (unsigned)agency, code, reason);
	return SESSION_END;
}

/* HELLO(agency): the session is agency's. Without keys the answer is ACK at once; with them,
 * CHALLENGE(nonce), and the session goes on only if the next frame is AUTH with the mac of that
 * nonce under agency's key. Every failure is ERROR AUTH (or AGENCY) and ends the session: a
 * peer gets one try per connection. */
static int handle_hello(struct session *s, struct exchange *x)
{
	uint8_t nonce[PROTO_NONCE_SIZE];
	uint32_t agency = x->msg.u.hello.agency;
	struct proto_writer w;
	struct proto_header h;
	struct proto_msg reply;
	const uint8_t *key;
	const char *why;
	int rc;

	if (s->authenticated || s->agency != 0)
		return fail_session(s, "agency_auth", PROTO_E_AUTH, "HELLO must come first");
	if ((why = check_agency(s, agency)) != NULL)
		return fail_session(s, "agency_auth", PROTO_E_AGENCY, why);
	if (s->options->keys == NULL) {
		proto_encode_ack(&w, 0, 0);
		return send_raw(s, w.buf, w.len) == IO_OK ? SESSION_GO_ON : SESSION_END;
	}
	key = auth_keys_get(s->options->keys, agency);
	auth_nonce(nonce);
	proto_encode_challenge(&w, nonce);
	if (send_raw(s, w.buf, w.len) != IO_OK)
		return SESSION_END;
	rc = frame_read(s->fd, x->request, &h, io_deadline_after(s->options->frame_timeout_ms));
	if (rc == IO_OK)
		rc = proto_decode(h.type, x->request + PROTO_HEADER_SIZE, h.length, &reply);
	if (rc == IO_STOPPED) {
		send_error(s, PROTO_E_SHUTTING_DOWN, "server shutting down");
		return SESSION_END;
	}
	if (rc != IO_OK || reply.type != PROTO_AUTH)
		return fail_session(s, "agency_auth", PROTO_E_AUTH, "no AUTH after CHALLENGE");
	if (key == NULL || !auth_verify(reply.u.auth.mac, key, agency, nonce)) {
		log_warning("agency_auth", "fail", "ip: %s | agency: %u | code: %d | error: wrong key",
		            s->ip, (unsigned)agency, PROTO_E_AUTH);
		send_error(s, PROTO_E_AUTH, "wrong key");
		return SESSION_END;
	}
	s->authenticated = true;
	log_debug("agency_auth", "success", "ip: %s | agency: %u", s->ip, (unsigned)agency);
	proto_encode_ack(&w, 0, 0);
	return send_raw(s, w.buf, w.len) == IO_OK ? SESSION_GO_ON : SESSION_END;
}

/* Reads one request (or takes the one deferred by gather_batches); anything but a
 * well-formed request ends the session with an ERROR. */
static int read_request(struct session *s, struct exchange *x)
{
	bool idle = false;
	int rc;

	x->frames = 1;
	if (x->deferred_len > 0) {
		memmove(x->request, x->request + x->deferred_at, x->deferred_len);
		x->request_len = x->deferred_len;
		x->deferred_len = 0;
		/* It was read whole and its header checked (buffered_batch) */
		(void)proto_header_decode(x->request, &x->header);
		rc = IO_OK;
	} else {
		/* frame_read waits (and so lets a pending SIGTERM in) only when no bytes are there;
		 * a client that keeps requests queued must not keep a stopping worker busy.
		 *
		 * Two clocks: between frames a peer may be silent for IDLE_TIMEOUT, but a frame, once
		 * its first byte is here, must be whole within FRAME_TIMEOUT (the first frame: within
		 * that of the accept), so that trickling bytes cannot hold a worker for long. */
		int64_t deadline = s->first_deadline;

		rc = io_stop_pending() ? IO_STOPPED : IO_OK;
		if (rc == IO_OK && s->identified) {
			rc = io_wait(s->fd, POLLIN, io_deadline_after(s->options->idle_timeout_ms));
			idle = rc == IO_TIMEOUT;
			deadline = io_deadline_after(s->options->frame_timeout_ms);
		}
		if (rc == IO_OK)
			rc = frame_read(s->fd, x->request, &x->header, deadline);
		x->request_len = PROTO_HEADER_SIZE + x->header.length;
		if (rc == IO_OK)
			session_identified(s);
	}

	if (rc == IO_EOF) {
		log_debug("lottery_session", "success", "ip: %s | agency: %u", s->ip,
		          (unsigned)s->agency);
		return SESSION_END;
	}
	if (rc == IO_STOPPED) {
		send_error(s, PROTO_E_SHUTTING_DOWN, "server shutting down");
		log_info("shutdown", "success", "ip: %s | agency: %u", s->ip, (unsigned)s->agency);
		return SESSION_END;
	}
	if (rc == IO_TIMEOUT)
		return fail_session(s, "receive_frame", PROTO_E_TIMEOUT,
		                    idle ? "idle timeout" : "frame not whole within FRAME_TIMEOUT");
	if (rc == IO_TRUNCATED)
		return fail_session(s, "receive_frame", PROTO_E_TRUNCATED, "stream ended inside a frame");
	if (rc == IO_ERROR) {
		log_warning("receive_frame", "fail", "ip: %s | error: %s", s->ip, strerror(errno));
		return SESSION_END;
	}
	if (rc > 0)
		return fail_session(s, "receive_frame", rc, proto_error_text(rc));
	rc = proto_decode(x->header.type, x->request + PROTO_HEADER_SIZE, x->header.length, &x->msg);
	if (rc != PROTO_E_NONE)
		return fail_session(s, "receive_frame", rc, proto_error_text(rc));
	return SESSION_GO_ON;
}

int lottery_session_run(struct session *s)
{
	/* Two frames and a decoded bet: too big to want on a worker's stack twice over. */
	static struct exchange x;
	int rc;

	for (;;) {
		rc = read_request(s, &x);
		if (rc != SESSION_GO_ON)
			break;
		if (x.msg.type != PROTO_HELLO && s->options->keys != NULL && !s->authenticated) {
			rc = fail_session(s, "agency_auth", PROTO_E_AUTH,
			                  "authentication required: HELLO and AUTH first");
			break;
		}
		switch (x.msg.type) {
		case PROTO_HELLO: rc = handle_hello(s, &x); break;
		case PROTO_BET: rc = handle_bet(s, &x); break;
		case PROTO_BATCH: rc = handle_batch(s, &x); break;
		case PROTO_DONE: rc = handle_done(s, &x); break;
		case PROTO_WINNERS_QUERY: rc = handle_query(s, &x); break;
		default:
			rc = fail_session(s, "receive_frame", PROTO_E_TYPE, "not a request");
			break;
		}
		if (rc != SESSION_GO_ON)
			break;
	}
	return rc == SESSION_FAILED ? 1 : 0;
}
