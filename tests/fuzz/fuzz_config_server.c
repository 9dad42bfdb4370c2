/* fuzz_config_server: arbitrary bytes as config.ini, loaded by server_config_load with none of
 * its environment overrides set. Checked: a load that fails says why in a terminated err naming
 * the file, and a line it calls too long is longer than the limit it gives; one that succeeds
 * leaves every value within its documented range. */
#include "fuzz_config.h"

#include "config.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char *const overrides[] = {
		"SERVER_", "LOGGING_LEVEL", "AGENCIES", "MAX_WORKERS", "IDLE_TIMEOUT",
		"BETS_FILE", "FSYNC", "LOG_SETTLE", NULL,
	};

	(void)argc;
	(void)argv;
	fuzz_clear_env(overrides);
	return 0;
}

/* "<path>: line N: line too long (at most M bytes)": line N of the input has more than M bytes.
 * (A value quoted in another message may say anything.) */
static void check_too_long(const char *err, const char *path, const uint8_t *data, size_t size)
{
	size_t path_len = strlen(path);
	unsigned long line, max, n = 1;
	size_t i = 0, start;
	char end;

	if (strncmp(err, path, path_len) != 0 ||
	    sscanf(err + path_len, ": line %lu: line too long (at most %lu bytes%c", &line, &max,
	           &end) != 3 || end != ')')
		return;
	while (n < line && i < size)
		if (data[i++] == '\n')
			n++;
	check(n == line);
	start = i;
	while (i < size && data[i] != '\n')
		i++;
	check(i - start > max);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct server_config cfg;
	char path[64];
	char err[CONFIG_ERR_MAX];

	fuzz_write_file(data, size, path, sizeof(path));
	server_config_defaults(&cfg);
	memset(err, 'x', sizeof(err));
	if (server_config_load(&cfg, path, err, sizeof(err)) != 0) {
		check(memchr(err, '\0', sizeof(err)) != NULL);
		check(err[0] != '\0');
		check_too_long(err, path, data, size);
		return 0;
	}
	check(cfg.ip[0] != '\0' && memchr(cfg.ip, '\0', sizeof(cfg.ip)) != NULL);
	check(cfg.bets_file[0] != '\0' && memchr(cfg.bets_file, '\0', sizeof(cfg.bets_file)) != NULL);
	check(cfg.listen_backlog >= 1 && cfg.listen_backlog <= 65535);
	check(cfg.agencies >= 1 && cfg.agencies <= 9999);
	check(cfg.max_workers >= 1 && cfg.max_workers <= 4096);
	check(cfg.idle_timeout_ns > 0);
	check(cfg.fsync <= 1);
	check(cfg.log_settle_ns >= 0 && cfg.log_settle_ns <= 1000000000);
	return 0;
}
