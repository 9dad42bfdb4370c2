/* client: one lottery agency. Reads config.yaml (env CLI_* overrides), then runs the configured
 * mode: echo, bet or lottery. Exit 0 when the mode finished or a SIGTERM/SIGINT stopped it. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "client.h"
#include "config.h"
#include "duration.h"
#include "log.h"
#include "signals.h"

#define CLIENT_DEFAULT_CONFIG "config.yaml"
#define EXIT_USAGE            2

static void usage(FILE *out)
{
	fputs("usage: client [--config FILE] [--help]\n"
	      "\n"
	      "Lottery agency client. Reads FILE (default: config.yaml in the working directory);\n"
	      "environment variables CLI_ID, CLI_SERVER_ADDRESS, CLI_LOOP_AMOUNT, "
	      "CLI_LOOP_PERIOD,\n"
	      "CLI_LOG_LEVEL, CLI_BATCH_MAXAMOUNT, CLI_MODE, CLI_BETS_FILE, ... override it.\n"
	      "Modes: echo (loop of echo messages), bet (the bet in NOMBRE, APELLIDO, DOCUMENTO,\n"
	      "NACIMIENTO, NUMERO), lottery (send bets.file in batches, then ask for the "
	      "winners).\n",
	      out);
}

/* 0 with *path set, 1 after --help, -1 on a bad command line. */
static int parse_args(int argc, char **argv, const char **path)
{
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0)
			return 1;
		if (strcmp(arg, "--config") == 0 || strcmp(arg, "-c") == 0) {
			if (i + 1 >= argc) {
				log_error("command_line", "fail", "error: %s needs a file", arg);
				return -1;
			}
			*path = argv[++i];
		} else if (strncmp(arg, "--config=", 9) == 0) {
			*path = arg + 9;
		} else {
			log_error("command_line", "fail", "error: unknown argument %s", arg);
			return -1;
		}
	}
	return 0;
}

static enum client_status run_mode(const struct client_config *cfg)
{
	switch (cfg->mode) {
	case CLIENT_MODE_ECHO:
		return client_echo_run(cfg);
	case CLIENT_MODE_BET:
		return client_bet_run(cfg);
	case CLIENT_MODE_LOTTERY:
		return client_lottery_run(cfg);
	}
	log_error("mode_selected", "fail", "client_id: %u | error: unknown mode", cfg->id);
	return CLIENT_FAIL;
}

int main(int argc, char **argv)
{
	/* Before anything else, so no signal can arrive unhandled. */
	if (signals_install_stop(NULL) != 0 || signal(SIGPIPE, SIG_IGN) == SIG_ERR) {
		/* A write to a vanished server must be an error code, not a death: SIGPIPE ignored. */
		perror("client: signals");
		return 1;
	}

	const char *path = CLIENT_DEFAULT_CONFIG;
	int rc = parse_args(argc, argv, &path);
	if (rc > 0) {
		usage(stdout);
		return 0;
	}
	if (rc < 0) {
		usage(stderr);
		return EXIT_USAGE;
	}

	static struct client_config cfg;
	char err[CONFIG_ERR_MAX];
	/* libsodium (keys, the digest of the bets) picks its implementations here, once. */
	if (auth_init() != 0) {
		log_error("client_start", "fail", "error: libsodium failed to initialise");
		return 1;
	}
	if (client_config_load(&cfg, path, err, sizeof err) != 0) {
		/* not "config": that contract line carries the values in use */
		log_error("config_load", "fail", "error: %s", err);
		return 1;
	}
	log_set_level(cfg.log_level);

	char period[DURATION_TEXT_MAX];
	duration_format(cfg.loop_period_ns, period, sizeof period);
	log_info("config", "success",
	         "client_id: %u | server_address: %s | loop_amount: %u | loop_period: %s | "
	         "log_level: %s",
	         cfg.id, cfg.server_address, cfg.loop_amount, period,
	         log_level_name(cfg.log_level));
	log_debug("mode_selected", "success",
	          "client_id: %u | mode: %s | bets_file: %s | batch_max_amount: %u", cfg.id,
	          client_mode_name(cfg.mode), cfg.bets_file, cfg.batch_max_amount);

	enum client_status st = run_mode(&cfg);
	if (st == CLIENT_STOPPED) {
		log_info("shutdown", "success", "client_id: %u | signal: %s", cfg.id,
		         signal_name(signals_stop_received()));
		return 0;
	}
	return st == CLIENT_OK ? 0 : 1;
}
