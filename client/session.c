#include "session.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "duration.h"
#include "io.h"
#include "log.h"
#include "net.h"

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
