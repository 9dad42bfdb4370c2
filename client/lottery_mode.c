/* Mode lottery (exercises 6-8): stream the agency's file in batches, say DONE, wait for the draw
 * and page through the agency's winners, all on one connection that is re-opened if lost. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "batcher.h"
#include "bet.h"
#include "client.h"
#include "frame.h"
#include "io.h"
#include "log.h"
#include "proto.h"
#include "session.h"

#define LOTTERY_ERROR_MAX 256

struct lottery {
	const struct client_config *cfg;
	struct session s;
	struct batcher batcher;
	struct proto_writer req;
	uint8_t reply[PROTO_FRAME_MAX];
	struct proto_msg msg; /* the last reply; its cursors point into reply */
	char error[LOTTERY_ERROR_MAX];
};

enum exchange_result {
	EXCHANGE_OK,      /* lt->msg holds the decoded reply */
	EXCHANGE_FAIL,    /* lt->error says why */
	EXCHANGE_TIMEOUT, /* no reply before the deadline */
	EXCHANGE_STOPPED,
};

/* Sends lt->req and reads its reply. deadline 0 means server.timeout for every attempt. A lost
 * connection is re-opened and the request sent again, retry.attempts times at most: every
 * request of this mode is idempotent on the server (a BATCH is kept per seq, a DONE counts once,
 * a query only reads), so a request that did arrive before the loss does no harm twice. */
/* ERROR SHUTTING_DOWN and ERROR STORAGE say "not now": the server is stopping or restarting,
 * or its storage is (and stored nothing of the request). Every request of this mode is
 * idempotent, so the agency rides through: it reconnects and sends the request again, within
 * retry.attempts, as after a lost connection. */
static bool server_restarting(const struct proto_msg *m)
{
	return m->type == PROTO_ERROR &&
	       (m->u.error.code == PROTO_E_SHUTTING_DOWN || m->u.error.code == PROTO_E_STORAGE);
}

static enum exchange_result exchange(struct lottery *lt, int64_t deadline)
{
	const struct client_config *cfg = lt->cfg;
	unsigned attempts = cfg->retry_attempts > 0 ? cfg->retry_attempts : 1;

	for (unsigned losses = 0;;) {
		lt->error[0] = '\0';
		if (lt->s.fd < 0) {
			enum client_status st = client_session_connect(&lt->s);
			if (st == CLIENT_STOPPED)
				return EXCHANGE_STOPPED;
			if (st != CLIENT_OK) {
				snprintf(lt->error, sizeof lt->error, "could not reconnect");
				return EXCHANGE_FAIL;
			}
		}
		struct proto_header h;
		int rc = frame_write(lt->s.fd, &lt->req,
		                     client_deadline_after_ns(cfg->server_timeout_ns));
		if (rc == IO_OK)
			rc = frame_read(lt->s.fd, lt->reply, &h,
			                deadline
			                        ? deadline
			                        : client_deadline_after_ns(cfg->server_timeout_ns));
		if (rc == IO_OK) {
			int perr = proto_decode(h.type, lt->reply + PROTO_HEADER_SIZE, h.length,
			                        &lt->msg);
			if (perr != PROTO_E_NONE) {
				snprintf(lt->error, sizeof lt->error, "bad reply: %s",
				         proto_error_text(perr));
				return EXCHANGE_FAIL;
			}
			if (!server_restarting(&lt->msg))
				return EXCHANGE_OK;
			snprintf(lt->error, sizeof lt->error, "server answered: %s",
			         proto_error_text(lt->msg.u.error.code));
			rc = IO_EOF; /* handled as a lost connection: the same request again, later */
		}
		if (rc == IO_STOPPED)
			return EXCHANGE_STOPPED;
		if (rc == IO_TIMEOUT) {
			snprintf(lt->error, sizeof lt->error, "%s", io_status_text(rc));
			return EXCHANGE_TIMEOUT;
		}
		if (rc > 0) {
			snprintf(lt->error, sizeof lt->error, "bad reply: %s",
			         proto_error_text(rc));
			return EXCHANGE_FAIL;
		}

		/* IO_EOF, IO_TRUNCATED, IO_ERROR: the connection is gone. */
		if (rc != IO_EOF || lt->error[0] == '\0')
			snprintf(lt->error, sizeof lt->error, "connection lost: %s", io_status_text(rc));
		if (++losses >= attempts) {
			client_session_close(&lt->s);
			return EXCHANGE_FAIL;
		}
		log_warning("connection_lost", "in_progress",
		            "client_id: %u | request: %s | attempt: %u | error: %s", cfg->id,
		            proto_type_name(lt->req.buf[2]), losses, lt->error);
		client_session_close(&lt->s);
		if (client_backoff_sleep(losses) == CLIENT_STOPPED)
			return EXCHANGE_STOPPED;
	}
}

/* Logs a reply that is not the one expected (REJECT, ERROR, another type) under action. */
static void log_bad_reply(const struct lottery *lt, const char *action)
{
	int code;
	const char *reason = proto_reply_reason(&lt->msg, &code);

	if (lt->msg.type == PROTO_REJECT)
		log_error(action, "fail", "client_id: %u | code: %d | index: %u | error: %s",
		          lt->cfg->id, code, (unsigned)lt->msg.u.reject.index, reason);
	else
		log_error(action, "fail", "client_id: %u | code: %d | error: %s", lt->cfg->id, code,
		          reason);
}

static enum client_status send_bets(struct lottery *lt, uint32_t *total)
{
	const struct client_config *cfg = lt->cfg;
	int code;
	*total = 0;
	for (uint32_t seq = 0;; seq++) {
		int n = client_batcher_next(&lt->batcher, &lt->req, seq);
		if (n < 0) {
			log_error("bets_file_read", "fail", "client_id: %u | file: %s | error: %s",
			          cfg->id, cfg->bets_file, strerror(errno));
			return CLIENT_FAIL;
		}
		if (n == 0)
			return CLIENT_OK;

		enum exchange_result x = exchange(lt, 0);
		if (x == EXCHANGE_STOPPED)
			return CLIENT_STOPPED;
		if (x != EXCHANGE_OK) {
			log_error("batch_send", "fail",
			          "client_id: %u | seq: %u | cantidad: %d | error: %s", cfg->id,
			          seq, n, lt->error);
			return CLIENT_FAIL;
		}
		const struct proto_msg *m = &lt->msg;
		if (m->type == PROTO_ACK && m->u.ack.seq == seq) {
			*total += (uint32_t)n;
			log_debug("batch_send", "success", "client_id: %u | seq: %u | cantidad: %d",
			          cfg->id, seq, n);
			continue;
		}
		if (m->type == PROTO_ACK)
			log_error("batch_send", "fail",
			          "client_id: %u | seq: %u | cantidad: %d | error: acknowledged "
			          "seq %u",
			          cfg->id, seq, n, m->u.ack.seq);
		else if (m->type == PROTO_REJECT)
			log_error("batch_send", "fail",
			          "client_id: %u | seq: %u | cantidad: %d | code: %u | index: %u | "
			          "line: %lu | error: %s",
			          cfg->id, seq, n, (unsigned)m->u.reject.code,
			          (unsigned)m->u.reject.index,
			          client_batcher_line(&lt->batcher, m->u.reject.index),
			          proto_reply_reason(m, &code));
		else if (m->type == PROTO_ERROR)
			log_error("batch_send", "fail",
			          "client_id: %u | seq: %u | cantidad: %d | code: %u | error: %s",
			          cfg->id, seq, n, (unsigned)m->u.error.code,
			          proto_reply_reason(m, &code));
		else
			log_bad_reply(lt, "batch_send");
		return CLIENT_FAIL;
	}
}

static enum client_status send_done(struct lottery *lt, uint32_t total)
{
	const struct client_config *cfg = lt->cfg;
	proto_encode_done(&lt->req, cfg->id, total);
	enum exchange_result x = exchange(lt, 0);
	if (x == EXCHANGE_STOPPED)
		return CLIENT_STOPPED;
	if (x != EXCHANGE_OK) {
		log_error("bets_done", "fail", "client_id: %u | total: %u | error: %s", cfg->id,
		          total, lt->error);
		return CLIENT_FAIL;
	}
	if (lt->msg.type != PROTO_ACK) {
		log_bad_reply(lt, "bets_done");
		return CLIENT_FAIL;
	}
	log_info("bets_done", "success", "client_id: %u | total: %u | skipped: %lu", cfg->id, total,
	         lt->batcher.skipped);
	return CLIENT_OK;
}

/* The first query is held by the server until every agency is done, hence draw.timeout for its
 * reply; the following pages come at once. The contract's consulta_ganadores is logged once, when
 * every page has come, with exactly cant_ganadores; progress and failures are winners_query. */
static enum client_status query_winners(struct lottery *lt)
{
	int code;
	const struct client_config *cfg = lt->cfg;
	int64_t draw_deadline = client_deadline_after_ns(cfg->draw_timeout_ns);
	uint32_t offset = 0, total = 0;
	unsigned idle_retries = 0;
	bool first = true;

	log_debug("winners_query", "in_progress", "client_id: %u", cfg->id);
	while (first || offset < total) {
		proto_encode_query(&lt->req, cfg->id, offset);
		enum exchange_result x = exchange(lt, first ? draw_deadline : 0);
		if (x == EXCHANGE_STOPPED)
			return CLIENT_STOPPED;
		if (x == EXCHANGE_TIMEOUT && first) {
			log_error("winners_query", "fail",
			          "client_id: %u | error: timed out waiting for the draw", cfg->id);
			return CLIENT_FAIL;
		}
		if (x != EXCHANGE_OK) {
			log_error("winners_query", "fail", "client_id: %u | error: %s", cfg->id,
			          lt->error);
			return CLIENT_FAIL;
		}
		const struct proto_msg *m = &lt->msg;
		if (first && m->type == PROTO_ERROR && m->u.error.code == PROTO_E_TIMEOUT &&
		    io_now_ms() < draw_deadline) {
			/* The server dropped us as idle while we waited for the draw; the wait
			 * is still within draw.timeout, so ask again on a new connection. */
			log_info("winners_query", "in_progress", "client_id: %u | error: %s",
			         cfg->id, proto_reply_reason(m, &code));
			client_session_close(&lt->s);
			if (client_backoff_sleep(++idle_retries) == CLIENT_STOPPED)
				return CLIENT_STOPPED;
			continue;
		}
		if (m->type != PROTO_WINNERS) {
			log_bad_reply(lt, "winners_query");
			return CLIENT_FAIL;
		}
		/* A page must continue where the last one ended and make progress, or paging
		 * could loop forever. */
		if (m->u.winners.offset != offset || (!first && m->u.winners.total != total) ||
		    (m->u.winners.count == 0 && offset < m->u.winners.total)) {
			log_error("winners_query", "fail",
			          "client_id: %u | error: inconsistent page (offset %u of %u, "
			          "asked for %u)",
			          cfg->id, m->u.winners.offset, m->u.winners.total, offset);
			return CLIENT_FAIL;
		}
		total = m->u.winners.total;
		first = false;

		struct proto_cursor c = m->u.winners.documents;
		char document[BET_DOCUMENT_MAX + 1];
		while (proto_next_document(&c, document) == 1) {
			offset++;
			log_debug("ganador", "success", "client_id: %u | dni: %s", cfg->id,
			          document);
		}
	}

	log_info("consulta_ganadores", "success", "cant_ganadores: %u", total);
	return CLIENT_OK;
}

static enum client_status lottery_session(struct lottery *lt)
{
	enum client_status st = client_session_connect(&lt->s);
	uint32_t total = 0;
	if (st == CLIENT_OK)
		st = send_bets(lt, &total);
	if (st == CLIENT_OK)
		st = send_done(lt, total);
	if (st == CLIENT_OK)
		st = query_winners(lt);
	client_session_close(&lt->s);
	return st;
}

enum client_status client_lottery_run(const struct client_config *cfg)
{
	/* About 30 KiB: kept off the stack, one per process. */
	static struct lottery lt;
	lt.cfg = cfg;
	if (client_session_init(&lt.s, cfg) != 0)
		return CLIENT_FAIL;

	FILE *fp = fopen(cfg->bets_file, "r");
	if (fp == NULL) {
		log_error("bets_file_open", "fail", "client_id: %u | file: %s | error: %s", cfg->id,
		          cfg->bets_file, strerror(errno));
		return CLIENT_FAIL;
	}
	log_debug("bets_file_open", "success", "client_id: %u | file: %s", cfg->id, cfg->bets_file);

	struct bet_date today;
	bet_today(&today);
	client_batcher_init(&lt.batcher, fp, cfg->id, cfg->batch_max_amount, &today);

	enum client_status st = lottery_session(&lt);

	if (fclose(fp) != 0) {
		log_warning("bets_file_close", "fail", "client_id: %u | error: %s", cfg->id,
		            strerror(errno));
	} else {
		log_info("bets_file_close", "success", "client_id: %u", cfg->id);
	}
	return st;
}
