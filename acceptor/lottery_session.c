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

#include "bet.h"
#include "frame.h"
#include "io.h"
#include "log.h"
#include "proto.h"
#include "session.h"
#include "storage_link.h"

#define FINAL_WRITE_MS 1000      /* a reply owed after a stop: short, and not interruptible */
#define STORAGE_REPLY_MS 30000    /* a write's whole budget, resends included */
#define STORAGE_ATTEMPT_MS 10000  /* storage answers writes in microseconds; this means it hung */
#define STORAGE_REACH_MS 30000    /* a restarted storage is back well within this */
#define RESEND_PAUSE_FIRST_MS 50
#define RESEND_PAUSE_MAX_MS 1000

struct exchange {
	uint8_t request[PROTO_FRAME_MAX];
	struct proto_header header;
	struct proto_msg msg;
	uint8_t reply[PROTO_FRAME_MAX];
	size_t reply_len;
	struct proto_msg answer; /* the reply, decoded */
};

enum { SESSION_GO_ON = 0, SESSION_END = 1, SESSION_FAILED = 2 };

/* Writes a whole frame to the client. After a stop the reply still goes out, with a short
 * deadline that the stop flag no longer cuts. */
static int send_raw(struct session *s, const uint8_t *frame, size_t len)
{
	int64_t deadline;
	int rc;

	if (io_stop_requested()) {
		io_set_stop(NULL, NULL);
		deadline = io_deadline_after(FINAL_WRITE_MS);
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

/* Sends the request to storage and decodes its reply into x->answer.
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
	size_t len = PROTO_HEADER_SIZE + x->header.length;
	bool idempotent = x->msg.type != PROTO_BET;
	int64_t total = io_deadline_after(STORAGE_REPLY_MS);
	int64_t pause_ms = RESEND_PAUSE_FIRST_MS;
	struct storage_call call = {
		.reach_deadline = total,
		.reply_deadline = total,
		.watch_fd = is_query ? s->fd : -1,
		.stoppable = is_query,
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
	if (x->reply_len < PROTO_HEADER_SIZE || proto_header_decode(x->reply, &h) != PROTO_E_NONE ||
	    PROTO_HEADER_SIZE + h.length != x->reply_len ||
	    proto_decode(h.type, x->reply + PROTO_HEADER_SIZE, h.length, &x->answer) != PROTO_E_NONE) {
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
	if (x->answer.type == PROTO_ACK)
		return SESSION_GO_ON; /* storage logged apuesta_almacenada as it stored it */
	const char *reason = proto_reply_reason(&x->answer, &code);
	log_warning("bet_refused", "fail", "ip: %s | dni: %s | numero: %u | code: %d | error: %s",
	            s->ip, bet->document, (unsigned)bet->number, code, reason);
	return x->answer.type == PROTO_REJECT ? SESSION_GO_ON : SESSION_END;
}

/* A batch that was not stored: the contract's line, exactly its keys, then the details under a
 * project action. index < 0: no bet in particular. */
static void log_batch_refused(const struct session *s, const struct exchange *x, int index,
                              int code, const char *reason)
{
	unsigned count = x->msg.u.batch.count, agency = (unsigned)x->msg.u.batch.agency;
	unsigned seq = (unsigned)x->msg.u.batch.seq;

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

static int handle_batch(struct session *s, struct exchange *x)
{
	const char *why;
	uint32_t agency = x->msg.u.batch.agency;
	struct proto_cursor cursor = x->msg.u.batch.bets;
	struct bet_date today;
	struct proto_writer w;
	struct bet bet;
	uint16_t index = 0;
	int rc, code;

	if ((why = check_agency(s, agency)) != NULL) {
		log_batch_refused(s, x, -1, PROTO_E_AGENCY, why);
		send_error(s, PROTO_E_AGENCY, why);
		return SESSION_END;
	}
	bet_today(&today);
	/* The whole batch or nothing: one invalid bet rejects it before storage sees it. */
	while (proto_next_bet(&cursor, agency, &bet) == 1) {
		enum bet_error err = bet_validate(&bet, s->options->agencies, &today);

		if (err != BET_OK) {
			log_batch_refused(s, x, index, PROTO_E_INVALID_BET, bet_error_text(err));
			proto_encode_reject(&w, PROTO_E_INVALID_BET, index, bet_error_text(err));
			return send_raw(s, w.buf, w.len) == IO_OK ? SESSION_GO_ON : SESSION_END;
		}
		index++;
	}
	rc = forward(s, x, false);
	if (rc != SESSION_GO_ON)
		return rc;
	if (x->answer.type == PROTO_ACK)
		return SESSION_GO_ON; /* storage logged apuesta_recibida (or _repetida) as it stored */
	const char *reason = proto_reply_reason(&x->answer, &code);
	log_batch_refused(s, x, -1, code, reason);
	return x->answer.type == PROTO_REJECT ? SESSION_GO_ON : SESSION_END;
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
	if (x->answer.type == PROTO_ACK) {
		log_info("agency_done", "success", "agency: %u | total: %u", (unsigned)agency,
		         (unsigned)x->msg.u.done.total);
		return SESSION_GO_ON;
	}
	const char *reason = proto_reply_reason(&x->answer, &code);
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
	if (x->answer.type == PROTO_WINNERS) {
		log_debug("winners_query", "success", "agency: %u | total: %u | sent: %u",
		          (unsigned)agency, (unsigned)x->answer.u.winners.total,
		          (unsigned)x->answer.u.winners.count);
		return SESSION_GO_ON;
	}
	const char *reason = proto_reply_reason(&x->answer, &code);
	log_warning("winners_query", "fail", "agency: %u | code: %d | error: %s",
	            (unsigned)agency, code, reason);
	return SESSION_END;
}

/* Reads one request; anything but a well-formed request ends the session with an ERROR. */
static int read_request(struct session *s, struct exchange *x)
{
	/* frame_read waits (and so lets a pending SIGTERM in) only when no bytes are there; a
	 * client that keeps requests queued must not keep a stopping worker busy. */
	int rc = io_stop_pending() ? IO_STOPPED
	                           : frame_read(s->fd, x->request, &x->header,
	                                        io_deadline_after(s->options->idle_timeout_ms));

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
		return fail_session(s, "receive_frame", PROTO_E_TIMEOUT, "idle timeout");
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
		switch (x.msg.type) {
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
