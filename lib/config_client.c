/* config_client: the client's config.yaml, walked as libyaml events, and its keys. Every event
 * parsed is deleted by whoever parsed it, before anything that can fail. */
#include "config_values.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>
#include <yaml.h>

#include "auth.h"
#include "duration.h"
#include "proto.h"

static const struct config_key client_keys[] = {
	{"id", "CLI_ID", CONFIG_KIND_U32, CONFIG_FIELD(struct client_config, id), 1,
	 BET_AGENCY_MAX},
	{"server.address", "CLI_SERVER_ADDRESS", CONFIG_KIND_ADDRESS,
	 CONFIG_FIELD(struct client_config, server_address), 0, 0},
	{"loop.amount", "CLI_LOOP_AMOUNT", CONFIG_KIND_U32,
	 CONFIG_FIELD(struct client_config, loop_amount), 0, 1000000},
	{"loop.period", "CLI_LOOP_PERIOD", CONFIG_KIND_DURATION,
	 CONFIG_FIELD(struct client_config, loop_period_ns), 0, 0},
	{"log.level", "CLI_LOG_LEVEL", CONFIG_KIND_LEVEL,
	 CONFIG_FIELD(struct client_config, log_level), 0, 0},
	{"batch.maxAmount", "CLI_BATCH_MAXAMOUNT", CONFIG_KIND_U32,
	 CONFIG_FIELD(struct client_config, batch_max_amount), 1, PROTO_BATCH_LIMIT},
	{"batch.window", "CLI_BATCH_WINDOW", CONFIG_KIND_U32,
	 CONFIG_FIELD(struct client_config, batch_window), 1, CONFIG_WINDOW_MAX},
	{"mode", "CLI_MODE", CONFIG_KIND_MODE, CONFIG_FIELD(struct client_config, mode), 0, 0},
	{"bets.file", "CLI_BETS_FILE", CONFIG_KIND_TEXT,
	 CONFIG_FIELD(struct client_config, bets_file), 0, 0},
	{"winners.file", "CLI_WINNERS_FILE", CONFIG_KIND_TEXT,
	 CONFIG_FIELD(struct client_config, winners_file), 0, 0},
	{"server.timeout", "CLI_SERVER_TIMEOUT", CONFIG_KIND_DURATION,
	 CONFIG_FIELD(struct client_config, server_timeout_ns), 1, 0},
	{"retry.attempts", "CLI_RETRY_ATTEMPTS", CONFIG_KIND_U32,
	 CONFIG_FIELD(struct client_config, retry_attempts), 1, 1000},
	{"draw.timeout", "CLI_DRAW_TIMEOUT", CONFIG_KIND_DURATION,
	 CONFIG_FIELD(struct client_config, draw_timeout_ns), 1, 0},
	{"auth.key", "CLI_AUTH_KEY", CONFIG_KIND_TEXT, CONFIG_FIELD(struct client_config, auth_key),
	 0, 0},
	{"auth.keyFile", "CLI_AUTH_KEY_FILE", CONFIG_KIND_TEXT,
	 CONFIG_FIELD(struct client_config, auth_key_file), 0, 0},
};

#define CLIENT_KEYS (sizeof client_keys / sizeof client_keys[0])

#define YAML_DEPTH_MAX 32
#define YAML_PATH_MAX 128

struct yaml_walk {
	yaml_parser_t parser;
	FILE *fp;
	const char *path;
	struct config_collect *c;
	char *err;
	size_t err_cap;
};

static int yaml_fail(struct yaml_walk *w)
{
	const yaml_parser_t *p = &w->parser;

	if (p->error == YAML_MEMORY_ERROR)
		return config_fail(w->err, w->err_cap, "%s: out of memory while parsing YAML",
		                   w->path);
	if (p->error == YAML_READER_ERROR) {
		if (ferror(w->fp))
			return config_fail(w->err, w->err_cap, "%s: cannot read: %s", w->path,
			                   strerror(errno));
		return config_fail(w->err, w->err_cap, "%s: byte %zu: YAML parse error: %s",
		                   w->path, p->problem_offset,
		                   p->problem != NULL ? p->problem : "unreadable input");
	}
	if (p->context != NULL)
		return config_fail(w->err, w->err_cap, "%s: line %zu: YAML parse error: %s (%s)",
		                   w->path, p->problem_mark.line + 1,
		                   p->problem != NULL ? p->problem : "?", p->context);
	return config_fail(w->err, w->err_cap, "%s: line %zu: YAML parse error: %s", w->path,
	                   p->problem_mark.line + 1,
	                   p->problem != NULL ? p->problem : "invalid YAML");
}

static int yaml_next(struct yaml_walk *w, yaml_event_t *ev)
{
	if (!yaml_parser_parse(&w->parser, ev))
		return yaml_fail(w);
	return 0;
}

/* A plain scalar YAML reads as null. */
static bool yaml_is_null(const yaml_event_t *ev)
{
	static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};
	if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	for (size_t i = 0; i < sizeof nulls / sizeof nulls[0]; i++) {
		if (strcmp((const char *)ev->data.scalar.value, nulls[i]) == 0)
			return true;
	}
	return false;
}

/* The raw slot of the key at path, or NULL when path is no key of ours (or NULL itself: inside
 * something skipped). */
static struct config_raw *yaml_slot(const struct yaml_walk *w, const char *path)
{
	size_t i;
	if (path == NULL || config_find_key(w->c, path, &i) == NULL)
		return NULL;
	return &w->c->raw[i];
}

static int yaml_node(struct yaml_walk *w, yaml_event_t *ev, const char *path, int depth);

/* The entries of a mapping or sequence whose start event was already consumed; each entry is
 * one node (a sequence) or a key node then a value node (a mapping). */
static int yaml_children(struct yaml_walk *w, bool mapping, const char *path, int depth)
{
	yaml_event_t ev;

	if (depth > YAML_DEPTH_MAX)
		return config_fail(w->err, w->err_cap, "%s: line %zu: nested deeper than %d levels",
		                   w->path, w->parser.mark.line + 1, YAML_DEPTH_MAX);
	for (;;) {
		if (yaml_next(w, &ev) != 0)
			return -1;
		if (ev.type == YAML_MAPPING_END_EVENT || ev.type == YAML_SEQUENCE_END_EVENT) {
			yaml_event_delete(&ev);
			return 0;
		}
		if (!mapping) {
			if (yaml_node(w, &ev, NULL, depth) != 0)
				return -1;
			continue;
		}

		char child[YAML_PATH_MAX];
		const char *child_path = NULL;
		if (ev.type == YAML_SCALAR_EVENT) {
			if (path != NULL) {
				int n = snprintf(child, sizeof child, "%s%s%s", path,
				                 path[0] != '\0' ? "." : "",
				                 (const char *)ev.data.scalar.value);
				if (n >= 0 && (size_t)n < sizeof child)
					child_path = child;
			}
			yaml_event_delete(&ev);
		} else if (yaml_node(w, &ev, NULL, depth) != 0) { /* a complex key: never ours */
			return -1;
		}
		if (yaml_next(w, &ev) != 0)
			return -1;
		if (yaml_node(w, &ev, child_path, depth) != 0)
			return -1;
	}
}

/* Consumes the node that starts with ev (deleting ev). */
static int yaml_node(struct yaml_walk *w, yaml_event_t *ev, const char *path, int depth)
{
	struct config_raw *slot = yaml_slot(w, path);
	yaml_event_type_t type = ev->type;

	if (type == YAML_SCALAR_EVENT) {
		if (slot != NULL) {
			if (yaml_is_null(ev))
				config_raw_set_problem(slot, "has no value");
			else
				config_raw_set_file_value(slot, (const char *)ev->data.scalar.value,
				                          ev->data.scalar.length);
		}
		yaml_event_delete(ev);
		return 0;
	}
	yaml_event_delete(ev);
	if (type == YAML_ALIAS_EVENT) {
		if (slot != NULL)
			config_raw_set_problem(slot, "YAML aliases are not supported");
		return 0;
	}
	if (type == YAML_MAPPING_START_EVENT || type == YAML_SEQUENCE_START_EVENT) {
		bool mapping = type == YAML_MAPPING_START_EVENT;
		if (slot != NULL) {
			config_raw_set_problem(slot,
			                       mapping ? "expected a single value, found a mapping"
			                               : "expected a single value, found a list");
			path = NULL;
		}
		return yaml_children(w, mapping, mapping ? path : NULL, depth + 1);
	}
	return config_fail(w->err, w->err_cap, "%s: line %zu: unexpected YAML structure", w->path,
	                   w->parser.mark.line + 1);
}

/* One document: empty, or a mapping at the top. */
static int yaml_document(struct yaml_walk *w)
{
	yaml_event_t ev;

	if (yaml_next(w, &ev) != 0)
		return -1;
	if (ev.type == YAML_MAPPING_START_EVENT) {
		if (yaml_node(w, &ev, "", 0) != 0)
			return -1;
	} else if (ev.type == YAML_SCALAR_EVENT && yaml_is_null(&ev)) {
		yaml_event_delete(&ev);
	} else {
		size_t line = ev.start_mark.line + 1;
		yaml_event_delete(&ev);
		return config_fail(w->err, w->err_cap,
		                   "%s: line %zu: expected a mapping of keys at the top", w->path,
		                   line);
	}
	if (yaml_next(w, &ev) != 0)
		return -1;
	yaml_event_delete(&ev); /* the document's end: the parser checked the structure */
	return 0;
}

static int yaml_stream(struct yaml_walk *w)
{
	yaml_event_t ev;

	if (yaml_next(w, &ev) != 0)
		return -1;
	yaml_event_delete(&ev); /* the stream's start */
	for (;;) {
		if (yaml_next(w, &ev) != 0)
			return -1;
		yaml_event_type_t type = ev.type;
		yaml_event_delete(&ev);
		if (type == YAML_STREAM_END_EVENT)
			return 0;
		/* later documents override earlier ones, as later keys do */
		if (yaml_document(w) != 0)
			return -1;
	}
}

static int read_yaml(const char *path, struct config_collect *c, char *err, size_t err_cap)
{
	struct yaml_walk w = {.path = path, .c = c, .err = err, .err_cap = err_cap};

	w.fp = config_open(path, err, err_cap);
	if (w.fp == NULL)
		return -1;
	if (!yaml_parser_initialize(&w.parser)) {
		fclose(w.fp);
		return config_fail(err, err_cap, "%s: out of memory while parsing YAML", path);
	}
	yaml_parser_set_input_file(&w.parser, w.fp);
	int rc = yaml_stream(&w);
	yaml_parser_delete(&w.parser);
	fclose(w.fp);
	return rc;
}

const char *client_mode_name(enum client_mode mode)
{
	switch (mode) {
	case CLIENT_MODE_ECHO:
		return "echo";
	case CLIENT_MODE_BET:
		return "bet";
	case CLIENT_MODE_LOTTERY:
		return "lottery";
	}
	return "unknown";
}

void client_config_defaults(struct client_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	snprintf(cfg->server_address, sizeof cfg->server_address, "server:12345");
	cfg->loop_amount = 5;
	cfg->loop_period_ns = DURATION_FROM_MS(5 * 1000);
	cfg->log_level = LOG_INFO;
	cfg->batch_max_amount = PROTO_BATCH_DEFAULT;
	cfg->batch_window = 16;
	cfg->mode = CLIENT_MODE_LOTTERY;
	cfg->server_timeout_ns = DURATION_FROM_MS(30 * 1000);
	cfg->retry_attempts = 10;
	cfg->draw_timeout_ns = DURATION_FROM_MS(10 * 60 * 1000);
	/* id 0 means "not given yet"; bets_file "" means "agency-<id>.csv" once id is known */
}

/* The agency's key, from auth.key or auth.keyFile (one of them, or neither), into cfg->key; the
 * key's text does not stay in the config. */
static int load_key(struct client_config *cfg, const char *path, char *err, size_t err_cap)
{
	char why[CONFIG_ERR_MAX / 2];
	int rc = 0;

	if (cfg->auth_key[0] != '\0' && cfg->auth_key_file[0] != '\0')
		rc = config_fail(err, err_cap, "%s: auth.key, auth.keyFile: set one of them, not both",
		                 path);
	else if (cfg->auth_key[0] != '\0' &&
	         auth_key_parse(cfg->auth_key, cfg->key, why, sizeof(why)) != 0)
		rc = config_fail(err, err_cap, "%s: auth.key: %s", path, why);
	else if (cfg->auth_key_file[0] != '\0' &&
	         auth_key_load(cfg->auth_key_file, cfg->key, why, sizeof(why)) != 0)
		rc = config_fail(err, err_cap, "%s: auth.keyFile: %s", path, why);
	else
		cfg->have_key = cfg->auth_key[0] != '\0' || cfg->auth_key_file[0] != '\0';
	sodium_memzero(cfg->auth_key, sizeof(cfg->auth_key));
	return rc;
}

int client_config_load(struct client_config *cfg, const char *path, char *err, size_t err_cap)
{
	struct client_config out;
	struct config_raw raw[CLIENT_KEYS];
	struct config_collect c = {client_keys, CLIENT_KEYS, raw};

	client_config_defaults(&out);
	if (config_load(&c, read_yaml, path, &out, err, err_cap) != 0)
		return -1;
	if (out.id == 0)
		return config_fail(err, err_cap, "%s: id: missing (set id in the file or CLI_ID)",
		                   path);
	if (out.bets_file[0] == '\0')
		snprintf(out.bets_file, sizeof out.bets_file, "agency-%u.csv", (unsigned)out.id);
	if (out.winners_file[0] == '\0') {
		/* Beside the agency's data: the folder of bets.file. */
		const char *slash = strrchr(out.bets_file, '/');
		int dir_len = slash != NULL ? (int)(slash - out.bets_file) + 1 : 0;

		if ((size_t)snprintf(out.winners_file, sizeof out.winners_file, "%.*swinners-%u.csv",
		                     dir_len, out.bets_file, (unsigned)out.id) >=
		    sizeof out.winners_file)
			return config_fail(err, err_cap, "%s: winners.file: path too long", path);
	}
	if (load_key(&out, path, err, err_cap) != 0)
		return -1;
	*cfg = out;
	sodium_memzero(&out, sizeof(out));
	return 0;
}
