/* supervisor: PID 1 of the server container. Reads config.ini, starts the storage daemon and
 * the acceptor, forwards SIGTERM/SIGINT down the tree, reaps every child, exits 0 after a clean
 * stop. See supervisor.h for its life cycle. */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "config.h"
#include "log.h"
#include "supervisor.h"

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: supervisor [--config FILE] [--new-draw]\n"
	        "\n"
	        "Runs the Lotería Nacional server: the storage daemon and the acceptor, both started\n"
	        "from this program's folder. Reads FILE (default: config.ini in the working directory;\n"
	        "keys SERVER_PORT, SERVER_IP, SERVER_LISTEN_BACKLOG, LOGGING_LEVEL, AGENCIES,\n"
	        "MAX_WORKERS, IDLE_TIMEOUT, FRAME_TIMEOUT, BETS_FILE, FSYNC, LOG_SETTLE in\n"
	        "section [DEFAULT]); environment\n"
	        "variables of the same names override it. SIGTERM or SIGINT stops everything\n"
	        "gracefully. A draw left unfinished in the working directory is resumed; one that\n"
	        "was drawn and stopped cleanly is archived (BETS_FILE.1, ...) and a new one begins.\n"
	        "--new-draw archives the draw in progress too and begins a new one.\n");
}

/* A bad keys file stops the server before it starts, with the reason; the acceptor reads it
 * again itself. Without one, the server says once that agencies are not authenticated. */
static int check_agency_keys(const struct server_config *config)
{
	struct auth_keys *keys;
	char err[CONFIG_ERR_MAX];

	if (config->agency_keys[0] == '\0') {
		log_warning("agency_keys", "success",
		            "file: none | authenticated: no | warning: AGENCY_KEYS not set, so any "
		            "peer may send, finish or read the bets of any agency");
		return 0;
	}
	if (auth_init() < 0) {
		log_error("agency_keys", "fail", "error: libsodium failed to initialise");
		return -1;
	}
	if (auth_keys_load(config->agency_keys, config->agencies, &keys, err, sizeof(err)) < 0) {
		log_error("config_load", "fail", "error: AGENCY_KEYS: %s", err);
		return -1;
	}
	auth_keys_free(keys);
	log_info("agency_keys", "success", "file: %s | authenticated: yes | agencies: %u",
	         config->agency_keys, (unsigned)config->agencies);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{"config", required_argument, NULL, 'c'},
		{"new-draw", no_argument, NULL, 'n'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *config_path = "config.ini";
	struct server_config config;
	struct supervisor supervisor;
	char err[CONFIG_ERR_MAX];
	bool new_draw = false;
	int opt, code;

	while ((opt = getopt_long(argc, argv, "c:h", options, NULL)) != -1) {
		switch (opt) {
		case 'c':
			config_path = optarg;
			break;
		case 'n':
			new_draw = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}

	if (server_config_load(&config, config_path, err, sizeof(err)) < 0) {
		/* not "config": that contract line carries the values in use */
		log_error("config_load", "fail", "error: %s", err);
		return 1;
	}
	log_set_level(config.logging_level);
	log_info("config", "success", "port: %u | listen_backlog: %d | logging_level: %s",
	         (unsigned)config.port, config.listen_backlog, log_level_name(config.logging_level));
	if (check_agency_keys(&config) < 0)
		return 1;

	if (supervisor_open(&supervisor, &config, new_draw) < 0) {
		supervisor_close(&supervisor);
		return 1;
	}
	code = supervisor_run(&supervisor);
	supervisor_close(&supervisor);
	log_info("shutdown", code == 0 ? "success" : "fail", "exit_code: %d", code);
	return code;
}
