/* Mode bet (exercise 5): the one bet described by the environment. */
#include <stdlib.h>
#include <string.h>

#include "bet.h"
#include "client.h"
#include "frame.h"
#include "io.h"
#include "log.h"
#include "proto.h"
#include "session.h"

/* The environment's names, in bet_from_fields' order. */
static const char *const bet_env_names[] = {"NOMBRE", "APELLIDO", "DOCUMENTO", "NACIMIENTO",
                                            "NUMERO"};
#define BET_ENV_COUNT (sizeof bet_env_names / sizeof bet_env_names[0])

/* Reads and validates the bet; on failure logs why and returns -1. */
static int bet_from_env(const struct client_config *cfg, struct bet *bet)
{
	const char *values[BET_ENV_COUNT];
	for (size_t i = 0; i < BET_ENV_COUNT; i++) {
		values[i] = getenv(bet_env_names[i]);
		if (values[i] == NULL) {
			log_error("bet_read", "fail", "client_id: %u | error: %s is not set",
			          cfg->id, bet_env_names[i]);
			return -1;
		}
	}
	enum bet_error err = bet_from_fields(
	        bet, cfg->id, values[0], strlen(values[0]), values[1], strlen(values[1]), values[2],
	        strlen(values[2]), values[3], strlen(values[3]), values[4], strlen(values[4]));
	if (err == BET_OK) {
		struct bet_date today;
		bet_today(&today);
		/* The real number of agencies is the server's to check. */
		err = bet_validate(bet, BET_AGENCY_MAX, &today);
	}
	if (err != BET_OK) {
		log_error("bet_read", "fail", "client_id: %u | error: %s", cfg->id,
		          bet_error_text(err));
		return -1;
	}
	return 0;
}

/* Logs the outcome of the server's reply to the BET: apuesta_enviada (the contract's line, exactly
 * its keys) once the bet is confirmed, bet_send with the details otherwise. */
static enum client_status bet_reply(const struct bet *bet, const uint8_t *frame,
                                    const struct proto_header *h)
{
	struct proto_msg msg;
	int perr = proto_decode(h->type, frame + PROTO_HEADER_SIZE, h->length, &msg);
	if (perr != PROTO_E_NONE) {
		log_error("bet_send", "fail",
		          "client_id: %u | dni: %s | numero: %u | error: bad reply: %s",
		          (unsigned)bet->agency, bet->document, (unsigned)bet->number,
		          proto_error_text(perr));
		return CLIENT_FAIL;
	}
	if (msg.type == PROTO_ACK) {
		log_info("apuesta_enviada", "success", "dni: %s | numero: %u", bet->document,
		         (unsigned)bet->number);
		return CLIENT_OK;
	}
	int code;
	const char *reason = proto_reply_reason(&msg, &code);
	log_error("bet_send", "fail", "client_id: %u | dni: %s | numero: %u | code: %d | error: %s",
	          (unsigned)bet->agency, bet->document, (unsigned)bet->number, code, reason);
	return CLIENT_FAIL;
}

enum client_status client_bet_run(const struct client_config *cfg)
{
	struct bet bet;
	if (bet_from_env(cfg, &bet) != 0)
		return CLIENT_FAIL;

	struct session s;
	if (client_session_init(&s, cfg) != 0)
		return CLIENT_FAIL;
	enum client_status st = client_session_open_agency(&s);
	if (st != CLIENT_OK)
		return st;

	struct proto_writer w;
	proto_encode_bet(&w, &bet);
	/* A BET is not idempotent (the server stores every one it gets), so a lost connection is
	 * reported rather than retried: resending could store the bet twice. */
	int rc = frame_write(s.fd, &w, client_deadline_after_ns(cfg->server_timeout_ns));
	uint8_t frame[PROTO_FRAME_MAX];
	struct proto_header h;
	if (rc == IO_OK)
		rc = frame_read(s.fd, frame, &h, client_deadline_after_ns(cfg->server_timeout_ns));

	if (rc == IO_OK) {
		st = bet_reply(&bet, frame, &h);
	} else if (rc == IO_STOPPED) {
		st = CLIENT_STOPPED;
	} else {
		log_error("bet_send", "fail", "client_id: %u | dni: %s | numero: %u | error: %s",
		          cfg->id, bet.document, (unsigned)bet.number,
		          rc > 0 ? proto_error_text(rc) : io_status_text(rc));
		st = CLIENT_FAIL;
	}
	client_session_close(&s);
	return st;
}
