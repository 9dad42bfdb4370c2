/* fuzz_config_client: arbitrary bytes as config.yaml, loaded by client_config_load with no CLI_*
 * variable set. Checked: a load that fails says why in a terminated err; one that succeeds
 * leaves every value within its documented range. */
#include "fuzz_config.h"

#include "config.h"
#include "proto.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char *const overrides[] = { "CLI_", NULL };

	(void)argc;
	(void)argv;
	fuzz_clear_env(overrides);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct client_config cfg;
	char path[64];
	char err[CONFIG_ERR_MAX];

	fuzz_write_file(data, size, path, sizeof(path));
	client_config_defaults(&cfg);
	memset(err, 'x', sizeof(err));
	if (client_config_load(&cfg, path, err, sizeof(err)) != 0) {
		check(memchr(err, '\0', sizeof(err)) != NULL);
		check(err[0] != '\0');
		return 0;
	}
	check(cfg.id >= 1 && cfg.id <= BET_AGENCY_MAX);
	check(memchr(cfg.server_address, '\0', sizeof(cfg.server_address)) != NULL);
	check(strchr(cfg.server_address, ':') != NULL);
	check(cfg.loop_amount <= 1000000);
	check(cfg.loop_period_ns >= 0);
	check(cfg.batch_max_amount >= 1 && cfg.batch_max_amount <= PROTO_BATCH_LIMIT);
	check(cfg.batch_window >= 1 && cfg.batch_window <= CONFIG_WINDOW_MAX);
	check(cfg.mode == CLIENT_MODE_ECHO || cfg.mode == CLIENT_MODE_BET ||
	      cfg.mode == CLIENT_MODE_LOTTERY);
	check(cfg.bets_file[0] != '\0' && memchr(cfg.bets_file, '\0', sizeof(cfg.bets_file)) != NULL);
	check(cfg.server_timeout_ns > 0 && cfg.draw_timeout_ns > 0);
	check(cfg.retry_attempts >= 1 && cfg.retry_attempts <= 1000);
	return 0;
}
