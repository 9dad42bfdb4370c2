/* config_server: the server's config.ini ([DEFAULT] section, read with inih) and its keys. */
#include "config_values.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <ini.h>

#include "duration.h"

static const struct config_key server_keys[] = {
	{"SERVER_PORT", "SERVER_PORT", CONFIG_KIND_U16, CONFIG_FIELD(struct server_config, port), 0,
	 65535},
	{"SERVER_IP", "SERVER_IP", CONFIG_KIND_TEXT, CONFIG_FIELD(struct server_config, ip), 0, 0},
	{"SERVER_LISTEN_BACKLOG", "SERVER_LISTEN_BACKLOG", CONFIG_KIND_INT,
	 CONFIG_FIELD(struct server_config, listen_backlog), 1, 65535},
	{"LOGGING_LEVEL", "LOGGING_LEVEL", CONFIG_KIND_LEVEL,
	 CONFIG_FIELD(struct server_config, logging_level), 0, 0},
	{"AGENCIES", "AGENCIES", CONFIG_KIND_U32, CONFIG_FIELD(struct server_config, agencies), 1,
	 9999},
	{"MAX_WORKERS", "MAX_WORKERS", CONFIG_KIND_U32,
	 CONFIG_FIELD(struct server_config, max_workers), 1, 4096},
	{"IDLE_TIMEOUT", "IDLE_TIMEOUT", CONFIG_KIND_DURATION,
	 CONFIG_FIELD(struct server_config, idle_timeout_ns), 1, 0},
	{"FRAME_TIMEOUT", "FRAME_TIMEOUT", CONFIG_KIND_DURATION,
	 CONFIG_FIELD(struct server_config, frame_timeout_ns), 1, 0},
	{"BETS_FILE", "BETS_FILE", CONFIG_KIND_TEXT,
	 CONFIG_FIELD(struct server_config, bets_file), 0, 0},
	{"FSYNC", "FSYNC", CONFIG_KIND_U32, CONFIG_FIELD(struct server_config, fsync), 0, 1},
	{"LOG_SETTLE", "LOG_SETTLE", CONFIG_KIND_DURATION,
	 CONFIG_FIELD(struct server_config, log_settle_ns), 0, LOG_SETTLE_MAX_MS},
	{"AGENCY_KEYS", "AGENCY_KEYS", CONFIG_KIND_TEXT,
	 CONFIG_FIELD(struct server_config, agency_keys), 0, 0},
};

#define SERVER_KEYS (sizeof server_keys / sizeof server_keys[0])

static int on_ini_pair(void *user, const char *section, const char *name, const char *value)
{
	const struct config_collect *c = user;
	size_t i;

	if (strcasecmp(section, "DEFAULT") != 0 || config_find_key(c, name, &i) == NULL)
		return 1;
	config_raw_set_file_value(&c->raw[i], value, strlen(value));
	return 1;
}

/* inih reads lines into a fixed buffer and would parse the rest of an over-long line as a line
 * of its own (silently cutting the value); this reader hands it whole lines only, and remembers
 * the first one that did not fit. A line needs room for its newline too: inih 59 (Debian 13)
 * takes a full buffer without one for an error of its own, inih 55 (Debian 12) does not, so
 * both are told the same. It reads bytes, not strings as fgets() does: a NUL inside a line
 * would hide the line's end (fgets() has already read the newline after it), so the line was
 * taken for too long and the next one was swallowed with it; such a line is refused as what it
 * is. */
enum ini_problem { INI_OK, INI_TOO_LONG, INI_NUL };

struct ini_input {
	FILE *fp;
	int line;
	int bad_line; /* the first line with a problem; 0: none */
	enum ini_problem problem;
	int too_long_max;
};

static void ini_note(struct ini_input *in, enum ini_problem problem, int max)
{
	if (in->bad_line != 0)
		return;
	in->bad_line = in->line;
	in->problem = problem;
	in->too_long_max = max;
}

static char *ini_read_line(char *str, int num, void *stream)
{
	struct ini_input *in = stream;
	size_t cap = num > 1 ? (size_t)num - 1 : 0; /* bytes of a line, its newline included */
	size_t len = 0;
	bool nul = false;
	int ch = EOF;

	while (len < cap && (ch = getc(in->fp)) != EOF) {
		str[len++] = (char)ch;
		if (ch == '\n')
			break;
		nul = nul || ch == '\0';
	}
	if (len == 0)
		return NULL;
	in->line++;
	str[len] = '\0';
	if (str[len - 1] != '\n' && ch != EOF) {
		do
			ch = getc(in->fp);
		while (ch != '\n' && ch != EOF);
		ini_note(in, INI_TOO_LONG, num - 2);
		str[0] = '\0'; /* a blank line to inih */
	} else if (nul) {
		ini_note(in, INI_NUL, 0);
		str[0] = '\0';
	}
	return str;
}

static int read_ini(const char *path, struct config_collect *c, char *err, size_t err_cap)
{
	struct ini_input in = {.fp = config_open(path, err, err_cap)};
	if (in.fp == NULL)
		return -1;
	int line = ini_parse_stream(ini_read_line, &in, on_ini_pair, c);
	int read_errno = errno;
	bool read_failed = ferror(in.fp) != 0;
	fclose(in.fp);

	if (read_failed)
		return config_fail(err, err_cap, "%s: cannot read: %s", path, strerror(read_errno));
	if (in.bad_line > 0 && (line <= 0 || in.bad_line < line)) {
		if (in.problem == INI_NUL)
			return config_fail(err, err_cap, "%s: line %d: contains a NUL byte", path,
			                   in.bad_line);
		return config_fail(err, err_cap, "%s: line %d: line too long (at most %d bytes)",
		                   path, in.bad_line, in.too_long_max);
	}
	if (line > 0)
		return config_fail(err, err_cap,
		                   "%s: line %d: syntax error (expected KEY = VALUE or [SECTION])",
		                   path, line);
	if (line < 0)
		return config_fail(err, err_cap, "%s: out of memory while parsing", path);
	return 0;
}

void server_config_defaults(struct server_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->port = 12345;
	snprintf(cfg->ip, sizeof cfg->ip, "server");
	cfg->listen_backlog = 5;
	cfg->logging_level = LOG_INFO;
	cfg->agencies = 5;
	cfg->max_workers = 64;
	cfg->idle_timeout_ns = DURATION_FROM_MS(30 * 1000);
	cfg->frame_timeout_ns = DURATION_FROM_MS(5 * 1000);
	snprintf(cfg->bets_file, sizeof cfg->bets_file, "bets.csv");
	cfg->fsync = 1;
	cfg->log_settle_ns = DURATION_FROM_MS(LOG_SETTLE_DEFAULT_MS);
}

int server_config_load(struct server_config *cfg, const char *path, char *err, size_t err_cap)
{
	struct server_config out;
	struct config_raw raw[SERVER_KEYS];
	struct config_collect c = {server_keys, SERVER_KEYS, raw};

	server_config_defaults(&out);
	if (config_load(&c, read_ini, path, &out, err, err_cap) != 0)
		return -1;
	*cfg = out;
	return 0;
}
