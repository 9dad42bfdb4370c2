/* Mode lottery (exercises 6-8): stream the agency's file in batches, say DONE, wait for the draw
 * and page through the agency's winners, all on one connection that is re-opened if lost. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include "batcher.h"
#include "bet.h"
#include "client.h"
#include "digest.h"
#include "frame.h"
#include "io.h"
#include "log.h"
#include "proto.h"
#include "session.h"
#include "winners_file.h"

#define LOTTERY_ERROR_MAX 256
#define LOTTERY_PROGRESS_MS 5000 /* how often a long stream says how far it got */

struct lottery {
	const struct client_config *cfg;
	struct session s;
	struct batcher batcher;
	struct proto_writer req;
	uint8_t reply[PROTO_FRAME_MAX];
	struct proto_msg msg; /* the last reply; its cursors point into reply */
	char error[LOTTERY_ERROR_MAX];
	struct digest acknowledged; /* of every bet acknowledged, in order: DONE carries it */
};

enum exchange_result {
	EXCHANGE_OK,      /* lt->msg holds the decoded reply */
	EXCHANGE_FAIL,    /* lt->error says why */
	EXCHANGE_TIMEOUT, /* no reply before the deadline */
	EXCHANGE_STOPPED,
};

/* After a lost connection (lt->error says why): close, back off, and say whether to go on. */
static enum exchange_result after_loss(struct lottery *lt, unsigned *losses, const char *request)
{
	const struct client_config *cfg = lt->cfg;
	unsigned attempts = cfg->retry_attempts > 0 ? cfg->retry_attempts : 1;

	client_session_close(&lt->s);
	if (++*losses >= attempts)
		return EXCHANGE_FAIL;
	log_warning("connection_lost", "in_progress",
	            "client_id: %u | request: %s | attempt: %u | error: %s", cfg->id, request,
	            *losses, lt->error);
	if (client_backoff_sleep(*losses) == CLIENT_STOPPED)
		return EXCHANGE_STOPPED;
	return EXCHANGE_OK;
}

/* ERROR SHUTTING_DOWN and ERROR STORAGE say "not now": the server is stopping or restarting,
 * or its storage is (and stored nothing of the request). Every request of this mode is
 * idempotent, so the agency rides through: it reconnects and sends the request again, within
 * retry.attempts, as after a lost connection. */
static bool server_restarting(const struct proto_msg *m)
{
	return m->type == PROTO_ERROR &&
	       (m->u.error.code == PROTO_E_SHUTTING_DOWN || m->u.error.code == PROTO_E_STORAGE);
}

/* Sends lt->req and reads its reply. deadline 0 means server.timeout for every attempt. A lost
 * connection is re-opened and the request sent again, retry.attempts times at most: every
 * request of this mode is idempotent on the server (a BATCH is kept per seq, a DONE counts once,
 * a query only reads), so a request that did arrive before the loss does no harm twice. */
static enum exchange_result exchange(struct lottery *lt, int64_t deadline)
{
	const struct client_config *cfg = lt->cfg;

	for (unsigned losses = 0;;) {
		lt->error[0] = '\0';
		if (lt->s.fd < 0) {
			enum client_status st = client_session_open_agency(&lt->s);
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
		enum exchange_result x = after_loss(lt, &losses, proto_type_name(lt->req.buf[2]));
		if (x != EXCHANGE_OK)
			return x;
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

/* One batch sent and not yet acknowledged, kept so it can be sent again after a lost
 * connection. */
struct in_flight {
	struct proto_writer frame;
	uint32_t seq;
	int count;
	unsigned long lines[PROTO_BATCH_LIMIT]; /* CSV line of each bet, for a REJECT's index */
};

/* The window: batches sent ahead of their ACKs, oldest first. */
static struct in_flight window[CONFIG_WINDOW_MAX];

static void log_batch_refused(const struct lottery *lt, const struct in_flight *b)
{
	const struct client_config *cfg = lt->cfg;
	const struct proto_msg *m = &lt->msg;
	int code;

	if (m->type == PROTO_ACK)
		log_error("batch_send", "fail",
		          "client_id: %u | seq: %u | cantidad: %d | error: acknowledged seq %u",
		          cfg->id, b->seq, b->count, m->u.ack.seq);
	else if (m->type == PROTO_REJECT)
		log_error("batch_send", "fail",
		          "client_id: %u | seq: %u | cantidad: %d | code: %u | index: %u | "
		          "line: %lu | error: %s",
		          cfg->id, b->seq, b->count, (unsigned)m->u.reject.code,
		          (unsigned)m->u.reject.index,
		          m->u.reject.index < b->count ? b->lines[m->u.reject.index] : 0UL,
		          proto_reply_reason(m, &code));
	else if (m->type == PROTO_ERROR)
		log_error("batch_send", "fail",
		          "client_id: %u | seq: %u | cantidad: %d | code: %u | error: %s", cfg->id,
		          b->seq, b->count, (unsigned)m->u.error.code, proto_reply_reason(m, &code));
	else
		log_bad_reply(lt, "batch_send");
}

/* Whether a reply has (at least begun to) come, so reading it will not wait. */
static bool reply_waiting(int fd)
{
	int pending;

	return ioctl(fd, FIONREAD, &pending) == 0 && pending >= PROTO_HEADER_SIZE;
}

/* Reads the reply to the oldest batch in flight into lt->msg: IO_OK, IO_STOPPED, IO_TIMEOUT,
 * or an io/protocol failure that means the connection is gone (lt->error says why). */
static int read_ack(struct lottery *lt)
{
	struct proto_header h;
	int rc = frame_read(lt->s.fd, lt->reply, &h,
	                    client_deadline_after_ns(lt->cfg->server_timeout_ns));

	if (rc == IO_OK && proto_decode(h.type, lt->reply + PROTO_HEADER_SIZE, h.length,
	                                &lt->msg) != PROTO_E_NONE) {
		snprintf(lt->error, sizeof lt->error, "bad reply: malformed %s",
		         proto_type_name(h.type));
		return IO_ERROR;
	}
	if (rc == IO_OK && server_restarting(&lt->msg)) {
		snprintf(lt->error, sizeof lt->error, "server answered: %s",
		         proto_error_text(lt->msg.u.error.code));
		return IO_EOF;
	}
	if (rc > 0 || rc == IO_EOF || rc == IO_TRUNCATED || rc == IO_ERROR)
		snprintf(lt->error, sizeof lt->error, "connection lost: %s",
		         rc > 0 ? proto_error_text(rc) : io_status_text(rc));
	return rc;
}

/* Streams the file in batches, up to batch.window of them ahead of their ACKs, so the agency
 * never idles for a round trip and the server's group commit finds more than one batch per
 * sync. The ACKs come in order. After a lost connection every batch not yet acknowledged is
 * sent again, oldest first: the server acknowledges one it already stored with ACK(seq, 0)
 * without storing it twice. */
static enum client_status send_bets(struct lottery *lt, uint32_t *total)
{
	const struct client_config *cfg = lt->cfg;
	uint32_t width = cfg->batch_window >= 1 && cfg->batch_window <= CONFIG_WINDOW_MAX
	                         ? cfg->batch_window
	                         : 1;
	uint32_t head = 0, queued = 0, sent = 0, next_seq = 0;
	unsigned losses = 0;
	bool eof = false, draining = false;
	int64_t started = io_now_ms(), next_progress = started + LOTTERY_PROGRESS_MS;

	*total = 0;
	for (;;) {
		/* ACKs that have come already are all read before the window is refilled: the
		 * batches then leave together, and the worker forwards them together. */
		while (!draining && !eof && queued < width) {
			struct in_flight *b = &window[(head + queued) % width];
			int n = client_batcher_next(&lt->batcher, &b->frame, next_seq);

			if (n < 0) {
				log_error("bets_file_read", "fail",
				          "client_id: %u | file: %s | error: %s", cfg->id,
				          cfg->bets_file, strerror(errno));
				return CLIENT_FAIL;
			}
			if (n == 0) {
				eof = true;
				break;
			}
			b->seq = next_seq++;
			b->count = n;
			for (int i = 0; i < n; i++)
				b->lines[i] = client_batcher_line(&lt->batcher, (unsigned)i);
			queued++;
		}
		if (queued == 0)
			return CLIENT_OK;

		struct in_flight *oldest = &window[head];
		int rc = IO_OK;

		if (lt->s.fd < 0) {
			enum client_status st = client_session_open_agency(&lt->s);
			if (st != CLIENT_OK) {
				if (st == CLIENT_FAIL)
					log_error("batch_send", "fail",
					          "client_id: %u | seq: %u | cantidad: %d | error: could "
					          "not reconnect",
					          cfg->id, oldest->seq, oldest->count);
				return st;
			}
			sent = 0;
		}
		while (!draining && rc == IO_OK && sent < queued) {
			rc = frame_write(lt->s.fd, &window[(head + sent) % width].frame,
			                 client_deadline_after_ns(cfg->server_timeout_ns));
			if (rc == IO_OK)
				sent++;
			else if (rc != IO_STOPPED)
				snprintf(lt->error, sizeof lt->error, "connection lost: %s",
				         io_status_text(rc));
		}
		if (rc == IO_OK)
			rc = read_ack(lt);
		if (rc == IO_STOPPED)
			return CLIENT_STOPPED;
		if (rc == IO_TIMEOUT) {
			log_error("batch_send", "fail",
			          "client_id: %u | seq: %u | cantidad: %d | error: %s", cfg->id,
			          oldest->seq, oldest->count, io_status_text(rc));
			return CLIENT_FAIL;
		}
		draining = false;
		if (rc != IO_OK) {
			enum exchange_result x = after_loss(lt, &losses, "BATCH");
			if (x == EXCHANGE_STOPPED)
				return CLIENT_STOPPED;
			if (x == EXCHANGE_FAIL) {
				log_error("batch_send", "fail",
				          "client_id: %u | seq: %u | cantidad: %d | error: %s", cfg->id,
				          oldest->seq, oldest->count, lt->error);
				return CLIENT_FAIL;
			}
			continue;
		}
		if (lt->msg.type != PROTO_ACK || lt->msg.u.ack.seq != oldest->seq) {
			log_batch_refused(lt, oldest);
			return CLIENT_FAIL;
		}
		*total += (uint32_t)oldest->count;
		/* Its bets exactly as they travelled: after the frame's and the batch's headers. */
		digest_add(&lt->acknowledged,
		           oldest->frame.buf + PROTO_HEADER_SIZE + PROTO_BATCH_HEADER_SIZE,
		           oldest->frame.len - PROTO_HEADER_SIZE - PROTO_BATCH_HEADER_SIZE);
		log_debug("batch_send", "success", "client_id: %u | seq: %u | cantidad: %d", cfg->id,
		          oldest->seq, oldest->count);
		head = (head + 1) % width;
		queued--;
		sent--;
		losses = 0;
		draining = sent > 0 && reply_waiting(lt->s.fd);
		int64_t now = io_now_ms();
		if (now >= next_progress) {
			/* One line every few seconds for an operator watching a long run; none a bet. */
			log_info("batch_progress", "in_progress",
			         "client_id: %u | acknowledged: %u | bets_per_s: %llu", cfg->id, *total,
			         (unsigned long long)*total * 1000 / (unsigned long long)(now - started));
			next_progress = now + LOTTERY_PROGRESS_MS;
		}
	}
}

static enum client_status send_done(struct lottery *lt, uint32_t total)
{
	const struct client_config *cfg = lt->cfg;
	uint8_t digest[DIGEST_SIZE];

	digest_value(&lt->acknowledged, digest);
	proto_encode_done(&lt->req, cfg->id, total, digest);
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

/* Pages through the agency's winners (the first query waits for the draw), adding each
 * document to wf when given; *total: how many there are. */
static enum client_status query_pages(struct lottery *lt, int64_t draw_deadline,
                                      struct winners_file *wf, uint32_t *total_out)
{
	int code;
	const struct client_config *cfg = lt->cfg;
	uint32_t offset = 0, total = 0;
	unsigned idle_retries = 0;
	bool first = true;

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
			if (wf != NULL && winners_file_add(wf, document) != 0) {
				log_warning("winners_file", "fail", "client_id: %u | file: %s | error: %s",
				            cfg->id, wf->path, strerror(errno));
				winners_file_abort(wf);
				wf = NULL;
			}
		}
	}

	*total_out = total;
	return CLIENT_OK;
}

/* The first query is held by the server until every agency is done, hence draw.timeout for its
 * reply; the following pages come at once. The contract's consulta_ganadores is logged once, when
 * every page has come, with exactly cant_ganadores; progress and failures are winners_query. */
static enum client_status query_winners(struct lottery *lt)
{
	const struct client_config *cfg = lt->cfg;
	int64_t draw_deadline = client_deadline_after_ns(cfg->draw_timeout_ns);
	uint32_t total = 0;
	struct winners_file wf;
	/* The file is for the operator: failing to keep it does not fail the agency. */
	bool keep = winners_file_open(&wf, cfg->winners_file) == 0;

	if (!keep)
		log_warning("winners_file", "fail", "client_id: %u | file: %s | error: %s", cfg->id,
		            cfg->winners_file, strerror(errno));
	log_debug("winners_query", "in_progress", "client_id: %u", cfg->id);
	enum client_status st = query_pages(lt, draw_deadline, keep ? &wf : NULL, &total);
	if (st != CLIENT_OK) {
		if (keep)
			winners_file_abort(&wf);
		return st;
	}
	keep = keep && wf.fp != NULL; /* a failed write gave it up */
	if (keep && winners_file_commit(&wf) != 0)
		log_warning("winners_file", "fail", "client_id: %u | file: %s | error: %s", cfg->id,
		            cfg->winners_file, strerror(errno));
	else if (keep)
		log_debug("winners_file", "success", "client_id: %u | file: %s | winners: %u", cfg->id,
		          cfg->winners_file, total);
	log_info("consulta_ganadores", "success", "cant_ganadores: %u", total);
	return CLIENT_OK;
}


static enum client_status lottery_session(struct lottery *lt)
{
	enum client_status st = client_session_open_agency(&lt->s);
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
	digest_init(&lt.acknowledged);
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
