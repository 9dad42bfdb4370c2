/* session: the client's one TCP connection to the server, opened with bounded retries. */
#ifndef TP0_CLIENT_SESSION_H
#define TP0_CLIENT_SESSION_H

#include <stdint.h>

#include "client.h"
#include "config.h"

#define SESSION_BACKOFF_FIRST_MS 100
#define SESSION_BACKOFF_MAX_MS   5000

struct session {
	const struct client_config *cfg; /* not owned */
	char host[CONFIG_TEXT_MAX];
	uint16_t port;
	int fd; /* -1 while closed; the session owns it */
};

/* Splits cfg->server_address; no socket yet. 0, or -1 (logged) when the address is invalid. */
int client_session_init(struct session *s, const struct client_config *cfg);
/* Connects, trying cfg->retry_attempts times with a doubling pause between attempts. Every
 * failed attempt but the last logs `connect | in_progress`; giving up logs `connect | fail`. */
enum client_status client_session_connect(struct session *s);
/* client_session_connect, then, with an agency key (cfg->have_key), the proof of it: HELLO,
 * CHALLENGE answered, ACK. A refusal (wrong key, agency not in the draw) is final and logged
 * `agency_auth | fail`; a lost connection or a server stopping is tried again, retry.attempts
 * times in all. Without a key it is client_session_connect (the server may run open). */
enum client_status client_session_open_agency(struct session *s);
/* Closes the socket if open and logs `socket_close`. Safe to call twice. */
void client_session_close(struct session *s);

/* The pause after the n-th failure (n >= 1): 100 ms doubling, at most 5 s. */
int64_t client_backoff_ms(unsigned attempt);
/* Sleeps client_backoff_ms(attempt): CLIENT_OK, or CLIENT_STOPPED if a signal came first. */
enum client_status client_backoff_sleep(unsigned attempt);

/* The io deadline a config duration (nanoseconds) from now; at least 1 ms away. */
int64_t client_deadline_after_ns(int64_t ns);

#endif
