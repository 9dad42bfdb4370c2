#include "options.h"

#include <getopt.h>
#include <limits.h>
#include <string.h>

#include "bet.h"
#include "duration.h"
#include "number.h"
#include "service.h"

void storage_options_usage(FILE *out)
{
	fprintf(out,
	        "usage: storage --ipc URL --bets FILE --agencies N --contexts N [--ready-fd FD]\n"
	        "               [--log-level LEVEL] [--log-settle DURATION] [--new-draw]\n"
	        "               [--no-sync]\n"
	        "\n"
	        "Stores the bets the workers forward (nng REP, listening on URL, e.g.\n"
	        "ipc:///run/tp0/storage.ipc) in FILE, with its journal FILE.journal, and runs\n"
	        "the draw once all N agencies are done. A bet is acknowledged once it is on\n"
	        "stable storage. At start it resumes the draw in progress in FILE; it begins a\n"
	        "new one (the old files renamed FILE.1, FILE.2, ...) when the last one was\n"
	        "drawn and stopped cleanly, or with --new-draw. --no-sync never syncs (unsafe:\n"
	        "a crash of the machine loses acknowledged bets; for benchmarks).\n"
	        "--contexts bounds the requests served at once, queries waiting for the draw\n"
	        "included (%u..%u; give one per worker plus one). Once listening it writes one\n"
	        "byte to FD and closes it. SIGTERM or SIGINT stops it: waiting queries are\n"
	        "answered SHUTTING_DOWN, the files are synced and closed. Exits 1 when the\n"
	        "disk fails it.\n"
	        "After logging the draw, and before any reply of it, it waits until stdout's\n"
	        "pipe is empty and then --log-settle more (Go duration, 0..1s, default %dms;\n"
	        "0: no wait), so a log reader stamps the draw before any agency's result.\n"
	        "Started by the supervisor.\n",
	        (unsigned)SERVICE_CONTEXTS_MIN, (unsigned)SERVICE_CONTEXTS_MAX,
	        LOG_SETTLE_DEFAULT_MS);
}

int storage_options_parse(struct storage_options *o, int argc, char **argv, char *err,
                          size_t err_cap)
{
	static const struct option options[] = {
		{"ipc", required_argument, NULL, 'i'},
		{"bets", required_argument, NULL, 'b'},
		{"agencies", required_argument, NULL, 'a'},
		{"contexts", required_argument, NULL, 'c'},
		{"ready-fd", required_argument, NULL, 'r'},
		{"log-level", required_argument, NULL, 'l'},
		{"new-draw", no_argument, NULL, 'n'},
		{"no-sync", no_argument, NULL, 'S'},
		{"log-settle", required_argument, NULL, 's'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	uint32_t value;
	int64_t ns;
	int opt, index = 0;

	memset(o, 0, sizeof(*o));
	o->ready_fd = -1;
	o->log_level = LOG_INFO;
	o->sync = true;
	o->log_settle_ms = LOG_SETTLE_DEFAULT_MS;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "", options, &index)) != -1) {
		switch (opt) {
		case 'i':
			o->ipc_url = optarg;
			break;
		case 'b':
			if (optarg[0] == '\0')
				goto bad;
			o->bets_path = optarg;
			break;
		case 'a':
			if (number_parse_u32(optarg, 1, BET_AGENCY_MAX, &o->agencies) < 0)
				goto bad;
			break;
		case 'c':
			if (number_parse_u32(optarg, SERVICE_CONTEXTS_MIN, SERVICE_CONTEXTS_MAX,
			                     &o->contexts) < 0)
				goto bad;
			break;
		case 'r':
			if (number_parse_u32(optarg, 0, INT_MAX, &value) < 0)
				goto bad;
			o->ready_fd = (int)value;
			break;
		case 'l':
			if (log_level_parse(optarg, &o->log_level) < 0)
				goto bad;
			break;
		case 'n':
			o->new_draw = true;
			break;
		case 'S':
			o->sync = false;
			break;
		case 's':
			if (duration_parse(optarg, &ns) != 0 || ns < 0 ||
			    ns > DURATION_FROM_MS(LOG_SETTLE_MAX_MS))
				goto bad;
			/* whole milliseconds, and a positive value never rounds down to off */
			o->log_settle_ms = ns > 0 && DURATION_MS(ns) == 0 ? 1 : DURATION_MS(ns);
			break;
		case 'h':
			return OPTIONS_HELP;
		default:
			snprintf(err, err_cap, "unknown option or missing value: %s",
			         argv[optind - 1]);
			return OPTIONS_BAD;
		}
	}
	if (optind != argc) {
		snprintf(err, err_cap, "unexpected argument: %s", argv[optind]);
		return OPTIONS_BAD;
	}
	if (o->ipc_url == NULL || o->bets_path == NULL || o->agencies == 0 || o->contexts == 0) {
		snprintf(err, err_cap, "--ipc, --bets, --agencies and --contexts are required");
		return OPTIONS_BAD;
	}
	return OPTIONS_OK;
bad:
	snprintf(err, err_cap, "invalid value for --%s: \"%s\"", options[index].name, optarg);
	return OPTIONS_BAD;
}
