#include <errno.h>
#include <string.h>

#include "echo.h"
#include "io.h"
#include "log.h"
#include "session.h"

static const char too_long_reply[] = "ERROR line too long\n";

int echo_session_run(struct session *s)
{
	char line[ECHO_LINE_MAX + 2]; /* the line, its newline, the NUL */
	size_t len = 0;
	int rc = io_read_line(s->fd, line, sizeof(line) - 1, &len, s->first_deadline);

	if (rc == IO_TOO_LONG) {
		/* Best effort: the peer may not even be reading. */
		(void)io_write_full(s->fd, too_long_reply, sizeof(too_long_reply) - 1,
		                    io_deadline_after(1000));
		log_warning("receive_line", "fail", "ip: %s | error: line longer than %d bytes",
		            s->ip, ECHO_LINE_MAX);
		return 0;
	}
	if (rc == IO_STOPPED) {
		log_info("shutdown", "success", "ip: %s", s->ip);
		return 0;
	}
	if (rc != IO_OK) {
		log_warning("receive_line", "fail", "ip: %s | error: %s", s->ip,
		            rc == IO_TRUNCATED ? "peer closed mid-line" : io_status_text(rc));
		return 0;
	}

	session_identified(s);
	/* Echo exactly what came, newline included; log it without the line end. */
	line[len] = '\n';
	rc = io_write_full(s->fd, line, len + 1, io_deadline_after(s->options->idle_timeout_ms));
	if (len > 0 && line[len - 1] == '\r')
		len--;
	line[len] = '\0';
	if (rc != IO_OK) {
		log_warning("send_message", "fail", "ip: %s | error: %s", s->ip, io_status_text(rc));
		return 0;
	}
	log_info("receive_message", "success", "ip: %s | msg: %s", s->ip, line);
	return 0;
}
