/* options: the acceptor's command line, as the supervisor writes it. */
#ifndef TP0_ACCEPTOR_OPTIONS_H
#define TP0_ACCEPTOR_OPTIONS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "log.h"

struct acceptor_options {
	uint16_t port;
	int backlog;
	uint32_t max_workers;
	int64_t idle_timeout_ms;
	const char *ipc_url;
	uint32_t agencies;
	enum log_level log_level;
};

enum { OPTIONS_OK = 0, OPTIONS_HELP = 1, OPTIONS_BAD = -1 };

/* Parses argv; on OPTIONS_BAD a one-line reason is in err. */
int acceptor_options_parse(struct acceptor_options *o, int argc, char **argv, char *err,
                           size_t err_cap);
void acceptor_options_usage(FILE *out);

#endif
