#include "request.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "barrier.h"
#include "ledger.h"
#include "log.h"

void request_handler_init(struct request_handler *h, struct barrier *barrier,
                          struct ledger *ledger)
{
	h->barrier = barrier;
	h->ledger = ledger;
	h->stopping = false;
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

static bool store(struct request_handler *h, const char *type, uint32_t agency, size_t count,
                  struct proto_writer *reply)
{
	if (ledger_store_bets(h->ledger, h->bets, count) == 0)
		return true;
	log_error("store_bets", "fail", "type: %s | agency: %u | cantidad: %zu | error: %s", type,
	          (unsigned)agency, count, strerror(errno));
	reply_error(reply, PROTO_E_STORAGE, "the bets could not be written");
	return false;
}

static void handle_bet(struct request_handler *h, const struct proto_msg *msg,
                       struct proto_writer *reply)
{
	char reason[PROTO_REASON_MAX + 1] = "";
	uint32_t agency = msg->u.bet.agency;
	struct bet_date today;
	enum bet_error err;
	int code;

	code = barrier_bet_check(h->barrier, agency, reason, sizeof(reason));
	if (code != PROTO_E_NONE) {
		log_refused("BET", agency, code, reason);
		reply_error(reply, code, reason);
		return;
	}
	h->bets[0] = msg->u.bet.bet;
	h->bets[0].agency = agency;
	bet_today(&today);
	err = bet_validate(&h->bets[0], barrier_agencies(h->barrier), &today);
	if (err != BET_OK) {
		log_refused("BET", agency, PROTO_E_INVALID_BET, bet_error_text(err));
		proto_encode_reject(reply, PROTO_E_INVALID_BET, 0, bet_error_text(err));
		return;
	}
	if (!store(h, "BET", agency, 1, reply))
		return;
	barrier_bet_stored(h->barrier, agency);
	/* Logged here, where it is stored: a worker killed before it could log cannot make the
	 * log disagree with the file. */
	log_info("apuesta_almacenada", "success", "dni: %s | numero: %u", h->bets[0].document,
	         (unsigned)h->bets[0].number);
	proto_encode_ack(reply, 0, 1);
}

static void handle_batch(struct request_handler *h, const struct proto_msg *msg,
                         struct proto_writer *reply)
{
	char reason[PROTO_REASON_MAX + 1] = "";
	uint32_t agency = msg->u.batch.agency, seq = msg->u.batch.seq;
	struct proto_cursor cursor = msg->u.batch.bets;
	struct bet_date today;
	enum bet_error err;
	size_t count = 0;
	bool fresh;
	int code;

	code = barrier_batch_check(h->barrier, agency, seq, &fresh, reason, sizeof(reason));
	if (code != PROTO_E_NONE) {
		log_refused("BATCH", agency, code, reason);
		reply_error(reply, code, reason);
		return;
	}
	if (!fresh) {
		/* A retry after a lost ACK: the bets are in the file already, and this request
		 * stores none. Not an apuesta_recibida, so those add up to the file's rows. */
		log_info("apuesta_repetida", "success", "cantidad: %u | agency: %u | seq: %u",
		         (unsigned)msg->u.batch.count, (unsigned)agency, (unsigned)seq);
		proto_encode_ack(reply, seq, 0);
		return;
	}
	while (count < PROTO_BATCH_LIMIT && proto_next_bet(&cursor, agency, &h->bets[count]))
		count++;
	if (count != msg->u.batch.count) {
		/* proto_decode checked the count; only a frame past PROTO_BATCH_LIMIT gets here. */
		log_refused("BATCH", agency, PROTO_E_MALFORMED, "more bets than a frame can hold");
		reply_error(reply, PROTO_E_MALFORMED, NULL);
		return;
	}
	bet_today(&today);
	for (size_t i = 0; i < count; i++) {
		err = bet_validate(&h->bets[i], barrier_agencies(h->barrier), &today);
		if (err != BET_OK) {
			snprintf(reason, sizeof(reason), "bet %zu: %s", i, bet_error_text(err));
			log_refused("BATCH", agency, PROTO_E_INVALID_BET, reason);
			proto_encode_reject(reply, PROTO_E_INVALID_BET, (uint16_t)i,
			                    bet_error_text(err));
			return;
		}
	}
	if (!store(h, "BATCH", agency, count, reply))
		return;
	barrier_batch_stored(h->barrier, agency, (uint32_t)count);
	/* Logged by the one process that stores and draws, under its lock: every
	 * apuesta_recibida line is written before the sorteo line, and none is lost with a
	 * worker killed between the write and its reply. */
	log_info("apuesta_recibida", "success", "cantidad: %zu", count);
	proto_encode_ack(reply, seq, (uint32_t)count);
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

static void handle_done(struct request_handler *h, const struct proto_msg *msg,
                        struct proto_writer *reply, struct request_result *res)
{
	char reason[PROTO_REASON_MAX + 1] = "";
	uint32_t agency = msg->u.done.agency, total = msg->u.done.total;
	bool draw_now;
	int code;

	code = barrier_done(h->barrier, agency, total, &draw_now, reason, sizeof(reason));
	if (code != PROTO_E_NONE) {
		log_refused("DONE", agency, code, reason);
		reply_error(reply, code, reason);
		return;
	}
	log_debug("storage_request", "success", "type: DONE | agency: %u | total: %u | done: %u/%u",
	          (unsigned)agency, (unsigned)total, (unsigned)barrier_done_count(h->barrier),
	          (unsigned)barrier_agencies(h->barrier));
	if (draw_now) {
		if (barrier_draw(h->barrier, h->ledger) == 0)
			log_info("sorteo", "success", NULL);
		else
			log_error("sorteo", "fail", "error: %s", strerror(errno));
		settle_log();
		res->drew = true;
	}
	proto_encode_ack(reply, 0, total);
}

static void handle_query(struct request_handler *h, const struct proto_msg *msg,
                         struct proto_writer *reply, struct request_result *res)
{
	char reason[PROTO_REASON_MAX + 1] = "";
	uint32_t agency = msg->u.query.agency, offset = msg->u.query.offset;
	int code;

	code = barrier_query(h->barrier, agency, offset, reply, &res->held, reason, sizeof(reason));
	if (code != PROTO_E_NONE) {
		log_refused("WINNERS_QUERY", agency, code, reason);
		reply_error(reply, code, reason);
		return;
	}
	if (res->held) {
		res->agency = agency;
		res->offset = offset;
	}
	log_debug("storage_request", "success",
	          "type: WINNERS_QUERY | agency: %u | offset: %u | held: %s", (unsigned)agency,
	          (unsigned)offset, res->held ? "until the draw" : "no");
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
	code = proto_decode(header.type, frame + PROTO_HEADER_SIZE, payload_len, &msg);
	if (code != PROTO_E_NONE)
		goto refuse;
	switch (header.type) {
	case PROTO_BET:
		handle_bet(h, &msg, reply);
		break;
	case PROTO_BATCH:
		handle_batch(h, &msg, reply);
		break;
	case PROTO_DONE:
		handle_done(h, &msg, reply, res);
		break;
	default:
		handle_query(h, &msg, reply, res);
		break;
	}
	return;
refuse:
	log_debug("storage_request", "fail", "bytes: %zu | error: %s", len, proto_error_text(code));
	reply_error(reply, code, NULL);
}

void request_answer_held(struct request_handler *h, uint32_t agency, uint32_t offset,
                         struct proto_writer *reply)
{
	char reason[PROTO_REASON_MAX + 1] = "";
	bool held;
	int code;

	code = barrier_query(h->barrier, agency, offset, reply, &held, reason, sizeof(reason));
	if (code != PROTO_E_NONE || held) {
		/* held cannot be true after the draw; answer rather than leave a context parked. */
		reply_error(reply, code != PROTO_E_NONE ? code : PROTO_E_STORAGE, reason);
		return;
	}
	log_debug("storage_request", "success",
	          "type: WINNERS_QUERY | agency: %u | offset: %u | held: answered",
	          (unsigned)agency, (unsigned)offset);
}
