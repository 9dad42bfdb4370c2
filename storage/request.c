#include "request.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "barrier.h"
#include "io.h"
#include "log.h"
#include "store.h"

void request_handler_init(struct request_handler *h, struct store *store)
{
	h->store = store;
	h->barrier = store_barrier(store);
	h->stopping = false;
	h->first_store_ms = 0;
	h->session = 0;
}

void request_log_stored(const struct request_result *res)
{
	/* Logged by the one process that stores and draws, once durable: every apuesta_recibida
	 * is written before the sorteo line, and none is lost with a worker killed between the
	 * commit and its reply. */
	if (res->note == REQUEST_NOTE_BATCH)
		log_info("apuesta_recibida", "success", "cantidad: %u", (unsigned)res->count);
	else if (res->note == REQUEST_NOTE_BET)
		log_info("apuesta_almacenada", "success", "dni: %s | numero: %u", res->dni,
		         (unsigned)res->numero);
}

/* Docker stamps each container's lines when its own log copier reads them, and the server's
 * copier lags the agencies' after a burst: without a wait here an agency's consulta_ganadores
 * was stamped before this sorteo (and the last apuesta_recibida) in most runs at DEBUG. Every
 * reply of the draw goes out after this, under the service's lock: the DONE's ACK, the held
 * queries, and any query that comes later. See log_settle. */
static void settle_log(void)
{
	int64_t drain_ms;
	int rc = log_settle(&drain_ms);

	if (rc > 0)
		log_debug("log_settle", "success", "drain_ms: %lld", (long long)drain_ms);
	else if (rc < 0)
		log_warning("log_settle", "fail", "drain_ms: %lld | error: stdout's pipe not emptied",
		            (long long)drain_ms);
}

/* One line for an operator: how much the draw held and how fast it came in (since the first bet
 * this process stored: after a restart, since the restart). */
static void log_summary(const struct request_handler *h)
{
	uint64_t bets = 0;
	int64_t elapsed = h->first_store_ms > 0 ? io_now_ms() - h->first_store_ms : 0;

	for (uint32_t a = 1; a <= barrier_agencies(h->barrier); a++)
		bets += barrier_stored(h->barrier, a);
	log_info("draw_summary", "success",
	         "bets: %llu | agencies: %u | elapsed_ms: %lld | bets_per_s: %llu",
	         (unsigned long long)bets, (unsigned)barrier_agencies(h->barrier),
	         (long long)elapsed,
	         elapsed > 0 ? (unsigned long long)(bets * 1000 / (uint64_t)elapsed) : 0ULL);
}

int request_run_draw(struct request_handler *h, bool announced)
{
	if (store_draw(h->store) != 0) {
		/* not "sorteo": that contract line means the draw was held */
		if (barrier_draw_mismatch(h->barrier) != 0)
			log_event(LOG_CRITICAL, "draw", "fail",
			          "agency: %u | error: bets.csv no longer holds the bets stored for "
			          "this agency (changed behind the server's back): no draw",
			          (unsigned)barrier_draw_mismatch(h->barrier));
		else if (errno == EBADMSG)
			log_event(LOG_CRITICAL, "draw", "fail",
			          "error: bets.csv holds rows past the last one stored, or the journal "
			          "does not say where they end (changed behind the server's back): no "
			          "draw");
		else
			log_error("draw", "fail", "error: %s", strerror(errno));
		return -1;
	}
	if (announced) {
		log_info("draw_recovered", "success", "agencies: %u",
		         (unsigned)barrier_agencies(h->barrier));
		return 0;
	}
	/* DRAWN is made durable at once after the line, before the settle's wait: a crash between
	 * the two has the next start log sorteo again, so the window is one sync, not also the
	 * settle (up to 100 ms by default; a swarm test's kill once landed in it). A crash before
	 * the line has the next start log it. */
	log_info("sorteo", "success", NULL);
	if (store_drawn(h->store) != 0) {
		log_error("draw_record", "fail", "error: %s", strerror(errno));
		return -1;
	}
	settle_log();
	log_summary(h);
	return 0;
}

/* What the agency is told when the barrier refuses: the wire's code, and a reason with the
 * numbers that explain it. what: "batch 5", "bet", "DONE", "query". */
static int refusal(const struct barrier *b, enum barrier_status st, uint32_t agency,
                   const char *what, uint32_t seq, uint32_t total, char *reason, size_t cap)
{
	switch (st) {
	case BARRIER_E_AGENCY:
		snprintf(reason, cap, "agency %u not in the draw (1..%u)", (unsigned)agency,
		         (unsigned)barrier_agencies(b));
		return PROTO_E_AGENCY;
	case BARRIER_E_AHEAD:
		snprintf(reason, cap, "batch %u ahead of the next expected, %u", (unsigned)seq,
		         (unsigned)barrier_next_seq(b, agency));
		return PROTO_E_SEQUENCE;
	case BARRIER_E_DONE:
		snprintf(reason, cap, "agency %u is done: no new %s accepted", (unsigned)agency, what);
		return PROTO_E_SEQUENCE;
	case BARRIER_E_TOTAL:
		snprintf(reason, cap, "total %u differs from the %u bets stored", (unsigned)total,
		         (unsigned)barrier_stored(b, agency));
		return PROTO_E_TOTAL;
	case BARRIER_E_CONFLICT:
		snprintf(reason, cap, "batch %u differs from the one stored", (unsigned)seq);
		return PROTO_E_CONFLICT;
	case BARRIER_E_DIGEST:
		snprintf(reason, cap,
		         "the %u bets stored for agency %u are not the ones it sent (digest differs)",
		         (unsigned)barrier_stored(b, agency), (unsigned)agency);
		return PROTO_E_DIGEST;
	default: /* BARRIER_E_DRAW; OK and PENDING are not refusals */
		snprintf(reason, cap, "the draw could not read the bets");
		return PROTO_E_STORAGE;
	}
}

void request_encode_winners(struct proto_writer *w, const barrier_document *docs, uint32_t count,
                            uint32_t offset)
{
	proto_begin_winners(w, count, offset);
	for (uint32_t i = offset; i < count; i++) {
		if (proto_add_winner(w, docs[i]) != 0)
			break; /* the frame is full: the agency asks for the next page */
	}
	proto_finish(w);
}

static void reply_error(struct proto_writer *reply, int code, const char *reason)
{
	proto_encode_error(reply, (uint8_t)code,
	                   reason != NULL && reason[0] != '\0' ? reason : proto_error_text(code));
}

/* Logged at DEBUG: a refused request is the worker's to report, at its own level. */
static void log_refused(const char *type, uint32_t agency, int code, const char *reason)
{
	log_debug("storage_request", "fail", "type: %s | agency: %u | error: %s | reason: %s", type,
	          (unsigned)agency, proto_error_text(code), reason);
}

/* Stores the one bet of a BET (single) or a batch's. */
static bool store(struct request_handler *h, bool single, uint32_t agency, uint32_t seq,
                  const struct proto_cursor *bets, struct proto_writer *reply)
{
	const char *type = single ? "BET" : "BATCH";
	size_t count = bets->remaining;
	int rc = single ? store_bet(h->store, agency, bets)
	                : store_batch(h->store, agency, seq, bets);

	if (rc == 0) {
		if (h->first_store_ms == 0)
			h->first_store_ms = io_now_ms();
		return true;
	}
	log_error("store_bets", "fail", "type: %s | agency: %u | cantidad: %zu | error: %s", type,
	          (unsigned)agency, count, strerror(errno));
	reply_error(reply, PROTO_E_STORAGE, "the bets could not be written");
	return false;
}

static void handle_bet(struct request_handler *h, const struct proto_msg *msg,
                       struct proto_writer *reply, struct request_result *res)
{
	char reason[PROTO_REASON_MAX + 1] = "";
	uint32_t agency = msg->u.bet.agency;
	enum barrier_status st;
	int code;

	st = barrier_bet_check(h->barrier, agency);
	if (st != BARRIER_OK) {
		code = refusal(h->barrier, st, agency, "bet", 0, 0, reason, sizeof(reason));
		log_refused("BET", agency, code, reason);
		reply_error(reply, code, reason);
		return;
	}
	if (!store(h, true, agency, 0, &msg->u.bet.raw, reply))
		return;
	res->wrote = true;
	res->note = REQUEST_NOTE_BET;
	snprintf(res->dni, sizeof(res->dni), "%s", msg->u.bet.bet.document);
	res->numero = msg->u.bet.bet.number;
	proto_encode_ack(reply, 0, 1);
}

/* A batch under a sequence number already stored: a retry after a lost ACK is the same batch
 * (its rows give the stored rows' CRC) and is acknowledged again, storing nothing; anything else
 * under that number is a conflict, never a silent ACK: another agency using this one's id, or
 * a client that lost its place. */
static void handle_repeat(struct request_handler *h, uint32_t agency, uint32_t seq,
                          const struct proto_cursor *bets, struct proto_writer *reply,
                          struct request_result *res)
{
	char reason[PROTO_REASON_MAX + 1];
	size_t count = bets->remaining;
	enum barrier_status st;
	uint32_t crc;
	int code;

	if (store_rows_crc(h->store, agency, bets, &crc) != 0) {
		log_error("batch_digest", "fail", "agency: %u | seq: %u | error: %s",
		          (unsigned)agency, (unsigned)seq, strerror(errno));
		reply_error(reply, PROTO_E_STORAGE, "the batch could not be compared");
		return;
	}
	st = barrier_batch_repeat(h->barrier, agency, seq, crc);
	if (st != BARRIER_OK) {
		code = refusal(h->barrier, st, agency, "batch", seq, 0, reason, sizeof(reason));
		log_warning("batch_conflict", "fail", "agency: %u | seq: %u | cantidad: %zu | "
		            "error: %s", (unsigned)agency, (unsigned)seq, count, reason);
		reply_error(reply, code, reason);
		return;
	}
	/* Not an apuesta_recibida, so those add up to the file's rows. */
	log_info("apuesta_repetida", "success", "cantidad: %zu | agency: %u | seq: %u", count,
	         (unsigned)agency, (unsigned)seq);
	res->durable = true;
	proto_encode_ack(reply, seq, 0);
}

static void handle_batch(struct request_handler *h, const struct proto_msg *msg,
                         struct proto_writer *reply, struct request_result *res)
{
	char reason[PROTO_REASON_MAX + 1] = "";
	uint32_t agency = msg->u.batch.agency, seq = msg->u.batch.seq;
	const struct proto_cursor *bets = &msg->u.batch.bets;
	enum barrier_status st;
	char what[24];
	bool fresh;
	int code;

	st = barrier_batch_check(h->barrier, agency, seq, &fresh);
	if (st != BARRIER_OK) {
		snprintf(what, sizeof(what), "batch %u", (unsigned)seq);
		code = refusal(h->barrier, st, agency, what, seq, 0, reason, sizeof(reason));
		log_refused("BATCH", agency, code, reason);
		reply_error(reply, code, reason);
		return;
	}
	/* The bets are not validated again: the worker that took them off the wire did (README,
	 * "One trust boundary"); proto_decode has checked their structure. */
	if (!fresh) {
		handle_repeat(h, agency, seq, bets, reply, res);
		return;
	}
	if (!store(h, false, agency, seq, bets, reply))
		return;
	res->wrote = true;
	res->note = REQUEST_NOTE_BATCH;
	res->count = bets->remaining;
	proto_encode_ack(reply, seq, bets->remaining);
}

static void handle_done(struct request_handler *h, const struct proto_msg *msg,
                        struct proto_writer *reply, struct request_result *res)
{
	char reason[PROTO_REASON_MAX + 1] = "";
	uint32_t agency = msg->u.done.agency, total = msg->u.done.total;
	bool draw_now, was_done = barrier_agency_done(h->barrier, agency);
	enum barrier_status st;
	int code;

	/* The digest is compared once the total is right: a wrong total is the clearer reason. */
	st = barrier_stored(h->barrier, agency) == total
	             ? barrier_digest_check(h->barrier, agency, msg->u.done.digest)
	             : BARRIER_OK;
	if (st == BARRIER_OK)
		st = barrier_done(h->barrier, agency, total, &draw_now);
	if (st != BARRIER_OK) {
		code = refusal(h->barrier, st, agency, "DONE", 0, total, reason, sizeof(reason));
		log_refused("DONE", agency, code, reason);
		reply_error(reply, code, reason);
		return;
	}
	if (!was_done) {
		if (store_done(h->store, agency, total) != 0) {
			log_error("store_done", "fail", "agency: %u | error: %s", (unsigned)agency,
			          strerror(errno));
			reply_error(reply, PROTO_E_STORAGE, "the DONE could not be recorded");
			return;
		}
		res->wrote = true;
	}
	res->durable = true;
	log_debug("storage_request", "success", "type: DONE | agency: %u | total: %u | done: %u/%u",
	          (unsigned)agency, (unsigned)total, (unsigned)barrier_done_count(h->barrier),
	          (unsigned)barrier_agencies(h->barrier));
	res->completes = draw_now;
	proto_encode_ack(reply, 0, total);
}

static void handle_query(struct request_handler *h, const struct proto_msg *msg,
                         struct proto_writer *reply, struct request_result *res)
{
	char reason[PROTO_REASON_MAX + 1] = "";
	uint32_t agency = msg->u.query.agency, offset = msg->u.query.offset, count;
	const barrier_document *docs;
	enum barrier_status st;
	int code;

	st = barrier_winners(h->barrier, agency, &docs, &count);
	if (st == BARRIER_E_PENDING) {
		res->held = true;
		res->agency = agency;
		res->offset = offset;
	} else if (st != BARRIER_OK) {
		code = refusal(h->barrier, st, agency, "query", 0, 0, reason, sizeof(reason));
		log_refused("WINNERS_QUERY", agency, code, reason);
		reply_error(reply, code, reason);
		return;
	} else {
		request_encode_winners(reply, docs, count, offset);
	}
	log_debug("storage_request", "success",
	          "type: WINNERS_QUERY | agency: %u | offset: %u | held: %s", (unsigned)agency,
	          (unsigned)offset, res->held ? "until the draw" : "no");
}

/* A write from a session older than the agency's newest: refused, so that of two connections
 * of one agency only the newer writes (a client that reconnected and one it lost, or two
 * programs using one id). Queries only read: they pass. */
static uint32_t agency_of(const struct proto_msg *msg)
{
	return msg->type == PROTO_BET     ? msg->u.bet.agency
	       : msg->type == PROTO_BATCH ? msg->u.batch.agency
	                                  : msg->u.done.agency;
}

static bool fenced(struct request_handler *h, const struct proto_msg *msg,
                   struct proto_writer *reply)
{
	char reason[PROTO_REASON_MAX + 1];
	uint32_t agency = agency_of(msg);

	if (barrier_session_check(h->barrier, agency, h->session) != BARRIER_E_SESSION)
		return false;
	snprintf(reason, sizeof(reason), "a newer connection of agency %u took over from this one",
	         (unsigned)agency);
	log_info("session_fenced", "success", "agency: %u | type: %s", (unsigned)agency,
	         proto_type_name(msg->type));
	reply_error(reply, PROTO_E_SESSION, reason);
	return true;
}

static bool is_request(uint8_t type)
{
	return type == PROTO_BET || type == PROTO_BATCH || type == PROTO_DONE ||
	       type == PROTO_WINNERS_QUERY;
}

void request_handle(struct request_handler *h, const uint8_t *frame, size_t len,
                    struct proto_writer *reply, struct request_result *res)
{
	struct proto_header header;
	struct proto_msg msg;
	size_t payload_len;
	int code;

	memset(res, 0, sizeof(*res));
	if (len < PROTO_HEADER_SIZE) {
		code = PROTO_E_TRUNCATED;
		goto refuse;
	}
	code = proto_header_decode(frame, &header);
	if (code != PROTO_E_NONE)
		goto refuse;
	payload_len = len - PROTO_HEADER_SIZE;
	if (header.length != payload_len) {
		code = header.length > payload_len ? PROTO_E_TRUNCATED : PROTO_E_MALFORMED;
		goto refuse;
	}
	if (!is_request(header.type)) {
		code = PROTO_E_TYPE;
		goto refuse;
	}
	if (h->stopping) {
		code = PROTO_E_SHUTTING_DOWN;
		goto refuse;
	}
	if (store_failed(h->store)) {
		code = PROTO_E_STORAGE;
		goto refuse;
	}
	code = proto_decode(header.type, frame + PROTO_HEADER_SIZE, payload_len, &msg);
	if (code != PROTO_E_NONE)
		goto refuse;
	if (header.type != PROTO_WINNERS_QUERY && fenced(h, &msg, reply))
		return;
	switch (header.type) {
	case PROTO_BET:
		handle_bet(h, &msg, reply, res);
		break;
	case PROTO_BATCH:
		handle_batch(h, &msg, reply, res);
		break;
	case PROTO_DONE:
		handle_done(h, &msg, reply, res);
		break;
	default:
		handle_query(h, &msg, reply, res);
		return;
	}
	if (reply->len > 2 && reply->buf[2] == PROTO_ACK)
		barrier_session_wrote(h->barrier, agency_of(&msg), h->session);
	return;
refuse:
	log_debug("storage_request", "fail", "bytes: %zu | error: %s", len, proto_error_text(code));
	reply_error(reply, code, NULL);
}

void request_answer_held(struct request_handler *h, uint32_t agency, uint32_t offset,
                         struct proto_writer *reply)
{
	char reason[PROTO_REASON_MAX + 1] = "";
	const barrier_document *docs;
	enum barrier_status st;
	uint32_t count;

	st = barrier_winners(h->barrier, agency, &docs, &count);
	if (st != BARRIER_OK) {
		/* PENDING cannot happen after the draw; answer rather than leave a context parked. */
		reply_error(reply, refusal(h->barrier, st, agency, "query", 0, 0, reason, sizeof(reason)),
		            reason);
		return;
	}
	request_encode_winners(reply, docs, count, offset);
	log_debug("storage_request", "success",
	          "type: WINNERS_QUERY | agency: %u | offset: %u | held: answered",
	          (unsigned)agency, (unsigned)offset);
}
