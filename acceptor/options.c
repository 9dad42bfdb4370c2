#include "options.h"

#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <string.h>

#include "duration.h"
#include "number.h"

void acceptor_options_usage(FILE *out)
{
	fprintf(out,
	        "usage: acceptor (--listen-fd FD | --port P) --backlog B --max-workers N\n"
	        "                --idle-timeout DURATION [--frame-timeout DURATION] --ipc URL --agencies N [--log-level LEVEL]\n"
	        "                [--agency-keys FILE]\n"
	        "\n"
	        "Accepts connections on the listening socket FD (inherited) or on TCP port P, and\n"
	        "serves each in a worker process of its own (at most N at once): echo lines, or the\n"
	        "lottery protocol, forwarding bets to the storage daemon at URL. Started by the\n"
	        "supervisor, which owns the listener and passes these options. With FILE (one\n"
	        "agency:hexkey line per agency), a lottery session must prove its agency's key first.\n");
}

int acceptor_options_parse(struct acceptor_options *o, int argc, char **argv, char *err,
                           size_t err_cap)
{
	static const struct option options[] = {
		{"listen-fd", required_argument, NULL, 'f'},
		{"port", required_argument, NULL, 'p'},
		{"backlog", required_argument, NULL, 'b'},
		{"max-workers", required_argument, NULL, 'w'},
		{"idle-timeout", required_argument, NULL, 't'},
		{"frame-timeout", required_argument, NULL, 'F'},
		{"ipc", required_argument, NULL, 'i'},
		{"agencies", required_argument, NULL, 'a'},
		{"log-level", required_argument, NULL, 'l'},
		{"agency-keys", required_argument, NULL, 'k'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	uint32_t value;
	int64_t ns;
	bool port_given = false;
	int opt, index = 0;

	memset(o, 0, sizeof(*o));
	o->listen_fd = -1;
	o->port = 12345;
	o->backlog = 5;
	o->max_workers = 64;
	o->idle_timeout_ms = 30000;
	o->frame_timeout_ms = 5000;
	o->agencies = 5;
	o->log_level = LOG_INFO;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "", options, &index)) != -1) {
		switch (opt) {
		case 'f':
			if (number_parse_u32(optarg, 0, INT_MAX, &value) < 0)
				goto bad;
			o->listen_fd = (int)value;
			break;
		case 'p':
			if (number_parse_u32(optarg, 0, 65535, &value) < 0)
				goto bad;
			o->port = (uint16_t)value;
			port_given = true;
			break;
		case 'b':
			if (number_parse_u32(optarg, 1, 65535, &value) < 0)
				goto bad;
			o->backlog = (int)value;
			break;
		case 'w':
			if (number_parse_u32(optarg, 1, 4096, &o->max_workers) < 0)
				goto bad;
			break;
		case 't':
			if (duration_parse(optarg, &ns) < 0 || ns <= 0)
				goto bad;
			o->idle_timeout_ms = DURATION_MS(ns) > 0 ? DURATION_MS(ns) : 1;
			break;
		case 'F':
			if (duration_parse(optarg, &ns) < 0 || ns <= 0)
				goto bad;
			o->frame_timeout_ms = DURATION_MS(ns) > 0 ? DURATION_MS(ns) : 1;
			break;
		case 'i':
			o->ipc_url = optarg;
			break;
		case 'a':
			if (number_parse_u32(optarg, 1, 9999, &o->agencies) < 0)
				goto bad;
			break;
		case 'l':
			if (log_level_parse(optarg, &o->log_level) < 0)
				goto bad;
			break;
		case 'k':
			o->agency_keys = optarg;
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
	if (o->ipc_url == NULL) {
		snprintf(err, err_cap, "--ipc is required");
		return OPTIONS_BAD;
	}
	if (port_given && o->listen_fd >= 0) {
		snprintf(err, err_cap, "--port and --listen-fd exclude each other");
		return OPTIONS_BAD;
	}
	return OPTIONS_OK;
bad:
	snprintf(err, err_cap, "invalid value for --%s: \"%s\"", options[index].name, optarg);
	return OPTIONS_BAD;
}
