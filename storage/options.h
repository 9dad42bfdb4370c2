/* options: the storage daemon's command line, as the supervisor writes it (it can also be run
 * on its own: storage --help). */
#ifndef TP0_STORAGE_OPTIONS_H
#define TP0_STORAGE_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "log.h"

struct storage_options {
	const char *ipc_url;
	const char *bets_path;
	uint32_t agencies;
	uint32_t contexts;
	int ready_fd;
	enum log_level log_level;
	bool new_draw;
	bool sync;
	int64_t log_settle_ms;
};

enum { OPTIONS_OK = 0, OPTIONS_HELP = 1, OPTIONS_BAD = -1 };

/* Parses argv; on OPTIONS_BAD a one-line reason is in err. */
int storage_options_parse(struct storage_options *o, int argc, char **argv, char *err,
                          size_t err_cap);
void storage_options_usage(FILE *out);

#endif
