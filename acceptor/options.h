/* options: the acceptor's command line, as the supervisor writes it. The supervisor hands over
 * the listener it owns (--listen-fd); --port makes the acceptor listen by itself instead, for
 * running it on its own. */
#ifndef TP0_ACCEPTOR_OPTIONS_H
#define TP0_ACCEPTOR_OPTIONS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "log.h"

struct auth_keys;

struct acceptor_options {
	int listen_fd;  /* an inherited listener (the supervisor's), or -1: listen on port */
	uint16_t port;
	int backlog;    /* with --listen-fd, only reported: the listener's owner chose it */
	uint32_t max_workers;
	int64_t idle_timeout_ms;  /* a silent connection is closed after this */
	int64_t frame_timeout_ms; /* a frame, once begun, and the first frame or line must be whole */
	const char *ipc_url;
	uint32_t agencies;
	enum log_level log_level;
	const char *agency_keys;  /* --agency-keys FILE, or NULL: agencies are not authenticated */
	/* Not an option: FILE's keys, read by main before the first fork (NULL without FILE). */
	const struct auth_keys *keys;
};

enum { OPTIONS_OK = 0, OPTIONS_HELP = 1, OPTIONS_BAD = -1 };

/* Parses argv; on OPTIONS_BAD a one-line reason is in err. */
int acceptor_options_parse(struct acceptor_options *o, int argc, char **argv, char *err,
                           size_t err_cap);
void acceptor_options_usage(FILE *out);

#endif
