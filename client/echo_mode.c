/* Mode echo (exercises 1-4): one connection per message, as the course's client did. */
#include <stdio.h>
#include <string.h>

#include "client.h"
#include "echo.h"
#include "io.h"
#include "log.h"
#include "session.h"

/* One round trip on a fresh connection; the connection is closed before returning. */
static enum client_status echo_once(struct session *s, uint32_t n)
{
	const struct client_config *cfg = s->cfg;
	enum client_status st = client_session_connect(s);
	if (st != CLIENT_OK)
		return st;

	/* The reply is the line sent back: room for any line the server accepts, and its NUL. */
	char line[ECHO_LINE_MAX + 1];
	int len = snprintf(line, sizeof line, "[CLIENT %u] Message N°%u\n", (unsigned)cfg->id,
	                   (unsigned)n);
	int rc = io_write_full(s->fd, line, (size_t)len,
	                       client_deadline_after_ns(cfg->server_timeout_ns));
	const char *action = "send_message";
	size_t got = 0;
	if (rc == IO_OK) {
		action = "receive_line"; /* receive_message is the contract's, success only */
		rc = io_read_line(s->fd, line, sizeof line, &got,
		                  client_deadline_after_ns(cfg->server_timeout_ns));
	}
	if (rc == IO_STOPPED) {
		client_session_close(s);
		return CLIENT_STOPPED;
	}
	if (rc != IO_OK) {
		log_error(action, "fail", "client_id: %u | error: %s", cfg->id, io_status_text(rc));
		client_session_close(s);
		return CLIENT_FAIL;
	}
	if (got > 0 && line[got - 1] == '\r')
		line[--got] = '\0';
	log_info("receive_message", "success", "client_id: %u | msg: %s", cfg->id, line);
	client_session_close(s);
	return CLIENT_OK;
}

enum client_status client_echo_run(const struct client_config *cfg)
{
	struct session s;
	if (client_session_init(&s, cfg) != 0)
		return CLIENT_FAIL;

	for (uint32_t n = 1; n <= cfg->loop_amount; n++) {
		enum client_status st = echo_once(&s, n);
		if (st != CLIENT_OK)
			return st;
		/* Like the course's client, it also waits after the last message. */
		if (io_sleep_until(client_deadline_after_ns(cfg->loop_period_ns)) == IO_STOPPED)
			return CLIENT_STOPPED;
	}
	log_info("loop_finished", "success", "client_id: %u", cfg->id);
	return CLIENT_OK;
}
