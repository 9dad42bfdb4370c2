#include "session.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "duration.h"
#include "frame.h"
#include "io.h"
#include "log.h"
#include "net.h"
#include "proto.h"

int client_session_init(struct session *s, const struct client_config *cfg)
{
	s->cfg = cfg;
	s->fd = -1;
	if (net_split_address(cfg->server_address, s->host, sizeof s->host, &s->port) != 0) {
		log_error("connect", "fail", "client_id: %u | server_address: %s | error: %s",
		          cfg->id, cfg->server_address, "invalid server address");
		return -1;
	}
	return 0;
}

int64_t client_backoff_ms(unsigned attempt)
{
	int64_t ms = SESSION_BACKOFF_FIRST_MS;
	for (unsigned i = 1; i < attempt && ms < SESSION_BACKOFF_MAX_MS; i++)
		ms *= 2;
	return ms < SESSION_BACKOFF_MAX_MS ? ms : SESSION_BACKOFF_MAX_MS;
}

enum client_status client_backoff_sleep(unsigned attempt)
{
	if (io_sleep_until(io_deadline_after(client_backoff_ms(attempt))) == IO_STOPPED)
		return CLIENT_STOPPED;
	return CLIENT_OK;
}

int64_t client_deadline_after_ns(int64_t ns)
{
	int64_t ms = DURATION_MS(ns);
	/* A zero or negative timeout in the config would make every wait fail at once. */
	return io_deadline_after(ms > 0 ? ms : 1);
}

enum client_status client_session_connect(struct session *s)
{
	const struct client_config *cfg = s->cfg;
	unsigned attempts = cfg->retry_attempts > 0 ? cfg->retry_attempts : 1;

	client_session_close(s);
	for (unsigned attempt = 1;; attempt++) {
		int64_t deadline = client_deadline_after_ns(cfg->server_timeout_ns);
		int rc = net_connect(s->host, s->port, deadline, &s->fd);
		if (rc == IO_OK) {
			log_debug("connect", "success",
			          "client_id: %u | server_address: %s | attempt: %u", cfg->id,
			          cfg->server_address, attempt);
			return CLIENT_OK;
		}
		s->fd = -1;
		if (rc == IO_STOPPED)
			return CLIENT_STOPPED;
		/* io_status_text may read errno: take the text before anything can change it. */
		char reason[128];
		snprintf(reason, sizeof reason, "%s", io_status_text(rc));
		if (attempt >= attempts) {
			log_error("connect", "fail",
			          "client_id: %u | attempt: %u | server_address: %s | error: %s",
			          cfg->id, attempt, cfg->server_address, reason);
			return CLIENT_FAIL;
		}
		log_info("connect", "in_progress", "client_id: %u | attempt: %u | error: %s",
		         cfg->id, attempt, reason);
		if (client_backoff_sleep(attempt) == CLIENT_STOPPED)
			return CLIENT_STOPPED;
	}
}

void client_session_close(struct session *s)
{
	if (s->fd < 0)
		return;
	int fd = s->fd;
	s->fd = -1;
	if (io_close(fd) != 0) {
		log_warning("socket_close", "fail", "client_id: %u | error: %s", s->cfg->id,
		            strerror(errno));
		return;
	}
	/* Routine closes (one per echo message) are detail; a close forced by a stop is what an
	 * operator watching a shutdown wants to see. */
	log_event(io_stop_requested() ? LOG_INFO : LOG_DEBUG, "socket_close", "success",
	          "client_id: %u", s->cfg->id);
}

/* Sends w and reads the reply into *m: IO_OK, an io status, or a positive PROTO_E_* code. */
static int ask(struct session *s, const struct proto_writer *w, uint8_t frame[PROTO_FRAME_MAX],
               struct proto_msg *m)
{
	struct proto_header h;
	int rc = frame_write(s->fd, w, client_deadline_after_ns(s->cfg->server_timeout_ns));

	if (rc == IO_OK)
		rc = frame_read(s->fd, frame, &h, client_deadline_after_ns(s->cfg->server_timeout_ns));
	if (rc == IO_OK)
		rc = proto_decode(h.type, frame + PROTO_HEADER_SIZE, h.length, m);
	return rc;
}

enum hello_result { HELLO_OK, HELLO_AGAIN, HELLO_REFUSED, HELLO_STOPPED };

/* HELLO, the CHALLENGE answered with the key's mac, and the server's ACK. A refusal leaves its
 * code in *refusal; every failure leaves its reason in why. */
static enum hello_result hello(struct session *s, int *refusal, char *why, size_t why_cap)
{
	const struct client_config *cfg = s->cfg;
	static uint8_t frame[PROTO_FRAME_MAX];
	uint8_t mac[PROTO_MAC_SIZE];
	struct proto_writer w;
	struct proto_msg m;
	bool challenged = false;
	int rc, code;

	proto_encode_hello(&w, cfg->id);
	rc = ask(s, &w, frame, &m);
	if (rc == IO_OK && m.type == PROTO_CHALLENGE) {
		challenged = true;
		auth_mac(mac, cfg->key, cfg->id, m.u.challenge.nonce);
		proto_encode_auth(&w, mac);
		rc = ask(s, &w, frame, &m);
	}
	if (rc == IO_STOPPED)
		return HELLO_STOPPED;
	if (rc != IO_OK) {
		snprintf(why, why_cap, "%s", rc > 0 ? proto_error_text(rc) : io_status_text(rc));
		return HELLO_AGAIN;
	}
	if (m.type == PROTO_ACK) {
		if (!challenged)
			log_warning("agency_auth", "success",
			            "client_id: %u | server: open (it did not ask for the key)", cfg->id);
		else
			log_debug("agency_auth", "success", "client_id: %u", cfg->id);
		return HELLO_OK;
	}
	const char *reason = proto_reply_reason(&m, &code);
	*refusal = code;
	snprintf(why, why_cap, "%s", reason);
	/* A server on its way down or up may be asked again; a refusal is final. */
	if (m.type == PROTO_ERROR &&
	    (code == PROTO_E_SHUTTING_DOWN || code == PROTO_E_STORAGE || code == PROTO_E_TIMEOUT))
		return HELLO_AGAIN;
	return HELLO_REFUSED;
}

enum client_status client_session_open_agency(struct session *s)
{
	const struct client_config *cfg = s->cfg;
	unsigned attempts = cfg->retry_attempts > 0 ? cfg->retry_attempts : 1;
	char why[PROTO_REASON_MAX + 64];
	int code = 0;

	for (unsigned attempt = 1;; attempt++) {
		enum client_status st = client_session_connect(s);

		if (st != CLIENT_OK || !cfg->have_key)
			return st;
		switch (hello(s, &code, why, sizeof(why))) {
		case HELLO_OK:
			return CLIENT_OK;
		case HELLO_STOPPED:
			client_session_close(s);
			return CLIENT_STOPPED;
		case HELLO_REFUSED:
			log_error("agency_auth", "fail", "client_id: %u | code: %d | error: %s", cfg->id,
			          code, why);
			client_session_close(s);
			return CLIENT_FAIL;
		case HELLO_AGAIN:
			break;
		}
		client_session_close(s);
		if (attempt >= attempts) {
			log_error("agency_auth", "fail", "client_id: %u | attempt: %u | error: %s",
			          cfg->id, attempt, why);
			return CLIENT_FAIL;
		}
		log_info("agency_auth", "in_progress", "client_id: %u | attempt: %u | error: %s",
		         cfg->id, attempt, why);
		if (client_backoff_sleep(attempt) == CLIENT_STOPPED)
			return CLIENT_STOPPED;
	}
}
