/* config: both loaders collect raw text per key (file first, then the environment on top), and
 * only then parse and check the value that won. So a bad value in the file that the environment
 * overrides is no error, and every message can name where the winning value came from: the file
 * and the key, or the environment variable. */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <ini.h>
#include <yaml.h>

#include "duration.h"
#include "net.h"
#include "number.h"
#include "proto.h"

/* ---------------------------------------------------------------------------------------------
 * key tables */

enum kind {
	KIND_U16,      /* uint16_t within min..max */
	KIND_U32,      /* uint32_t within min..max */
	KIND_INT,      /* int within min..max */
	KIND_DURATION, /* int64_t ns; min 0: may be 0, min 1: must be > 0 */
	KIND_LEVEL,    /* enum log_level */
	KIND_MODE,     /* enum client_mode */
	KIND_TEXT,     /* char[size], non-empty */
	KIND_ADDRESS,  /* char[size], "host:port" */
};

struct key_spec {
	const char *name; /* in the file (matched case-insensitively) */
	const char *env;  /* the override */
	enum kind kind;
	size_t offset;
	size_t size;
	uint32_t min, max;
};

#define FIELD(type, member) offsetof(type, member), sizeof(((type *)0)->member)

static const struct key_spec server_keys[] = {
	{"SERVER_PORT", "SERVER_PORT", KIND_U16, FIELD(struct server_config, port), 0, 65535},
	{"SERVER_IP", "SERVER_IP", KIND_TEXT, FIELD(struct server_config, ip), 0, 0},
	{"SERVER_LISTEN_BACKLOG", "SERVER_LISTEN_BACKLOG", KIND_INT,
	 FIELD(struct server_config, listen_backlog), 1, 65535},
	{"LOGGING_LEVEL", "LOGGING_LEVEL", KIND_LEVEL, FIELD(struct server_config, logging_level), 0, 0},
	{"AGENCIES", "AGENCIES", KIND_U32, FIELD(struct server_config, agencies), 1, 9999},
	{"MAX_WORKERS", "MAX_WORKERS", KIND_U32, FIELD(struct server_config, max_workers), 1, 4096},
	{"IDLE_TIMEOUT", "IDLE_TIMEOUT", KIND_DURATION, FIELD(struct server_config, idle_timeout_ns),
	 1, 0},
	{"BETS_FILE", "BETS_FILE", KIND_TEXT, FIELD(struct server_config, bets_file), 0, 0},
};

static const struct key_spec client_keys[] = {
	{"id", "CLI_ID", KIND_U32, FIELD(struct client_config, id), 1, BET_AGENCY_MAX},
	{"server.address", "CLI_SERVER_ADDRESS", KIND_ADDRESS,
	 FIELD(struct client_config, server_address), 0, 0},
	{"loop.amount", "CLI_LOOP_AMOUNT", KIND_U32, FIELD(struct client_config, loop_amount), 0,
	 1000000},
	{"loop.period", "CLI_LOOP_PERIOD", KIND_DURATION, FIELD(struct client_config, loop_period_ns),
	 0, 0},
	{"log.level", "CLI_LOG_LEVEL", KIND_LEVEL, FIELD(struct client_config, log_level), 0, 0},
	{"batch.maxAmount", "CLI_BATCH_MAXAMOUNT", KIND_U32,
	 FIELD(struct client_config, batch_max_amount), 1, PROTO_BATCH_LIMIT},
	{"mode", "CLI_MODE", KIND_MODE, FIELD(struct client_config, mode), 0, 0},
	{"bets.file", "CLI_BETS_FILE", KIND_TEXT, FIELD(struct client_config, bets_file), 0, 0},
	{"server.timeout", "CLI_SERVER_TIMEOUT", KIND_DURATION,
	 FIELD(struct client_config, server_timeout_ns), 1, 0},
	{"retry.attempts", "CLI_RETRY_ATTEMPTS", KIND_U32, FIELD(struct client_config, retry_attempts),
	 1, 1000},
	{"draw.timeout", "CLI_DRAW_TIMEOUT", KIND_DURATION,
	 FIELD(struct client_config, draw_timeout_ns), 1, 0},
};

#define SERVER_KEYS (sizeof server_keys / sizeof server_keys[0])
#define CLIENT_KEYS (sizeof client_keys / sizeof client_keys[0])

/* ---------------------------------------------------------------------------------------------
 * raw values */

struct raw_value {
	const char *text;    /* NULL: not given */
	bool from_env;
	const char *problem; /* the file's value cannot even be held as text (wins over text) */
	char buf[PATH_MAX];  /* the file's copy; an environment value is used in place */
};

struct collect {
	const struct key_spec *keys;
	size_t count;
	struct raw_value *raw;
};

static const struct key_spec *find_key(const struct collect *c, const char *name, size_t *index)
{
	for (size_t i = 0; i < c->count; i++) {
		if (strcasecmp(c->keys[i].name, name) == 0) {
			*index = i;
			return &c->keys[i];
		}
	}
	return NULL;
}

static void raw_set_problem(struct raw_value *v, const char *problem)
{
	v->text = v->buf;
	v->buf[0] = '\0';
	v->from_env = false;
	v->problem = problem;
}

static void raw_set_file_value(struct raw_value *v, const char *text, size_t len)
{
	if (memchr(text, '\0', len) != NULL) {
		raw_set_problem(v, "contains a NUL byte");
		return;
	}
	if (len >= sizeof v->buf) {
		raw_set_problem(v, "value too long");
		return;
	}
	memcpy(v->buf, text, len);
	v->buf[len] = '\0';
	v->text = v->buf;
	v->from_env = false;
	v->problem = NULL;
}

/* An empty variable counts as unset (as Go's viper does): compose files often pass
 * VAR=${SOMETHING} through even when SOMETHING is not defined. */
static void collect_env(const struct collect *c)
{
	for (size_t i = 0; i < c->count; i++) {
		const char *value = getenv(c->keys[i].env);
		if (value != NULL && value[0] != '\0') {
			c->raw[i].text = value;
			c->raw[i].from_env = true;
			c->raw[i].problem = NULL;
		}
	}
}

/* ---------------------------------------------------------------------------------------------
 * errors */

__attribute__((format(printf, 3, 4))) static int fail(char *err, size_t cap, const char *fmt, ...)
{
	if (cap == 0)
		return -1;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, cap, fmt, ap);
	va_end(ap);
	return -1;
}

/* A value as shown inside a message: cut short, on a UTF-8 boundary, and never spanning lines. */
#define SHOWN_MAX 64
static const char *shown(const char *text, char buf[SHOWN_MAX + 4])
{
	size_t len = strlen(text);
	bool cut = len > SHOWN_MAX;
	if (cut) {
		len = SHOWN_MAX;
		while (len > 0 && ((unsigned char)text[len] & 0xC0) == 0x80)
			len--;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)text[i];
		buf[i] = (ch < 0x20 || ch == 0x7F) ? '?' : (char)ch;
	}
	if (cut) {
		memcpy(buf + len, "...", 4);
	} else {
		buf[len] = '\0';
	}
	return buf;
}

/* ---------------------------------------------------------------------------------------------
 * parsing one value */

static bool all_digits(const char *text)
{
	if (*text == '\0')
		return false;
	for (; *text != '\0'; text++) {
		if (*text < '0' || *text > '9')
			return false;
	}
	return true;
}

static int parse_mode(const char *text, enum client_mode *mode)
{
	static const enum client_mode modes[] = {CLIENT_MODE_ECHO, CLIENT_MODE_BET,
	                                         CLIENT_MODE_LOTTERY};
	for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
		if (strcasecmp(text, client_mode_name(modes[i])) == 0) {
			*mode = modes[i];
			return 0;
		}
	}
	return -1;
}

/* Stores text into k's field of cfg, or writes why it cannot (without any prefix). */
static int set_field(const struct key_spec *k, const char *text, void *cfg, char *why,
                     size_t why_cap)
{
	char *field = (char *)cfg + k->offset;
	char show[SHOWN_MAX + 4];

	switch (k->kind) {
	case KIND_U16:
	case KIND_U32:
	case KIND_INT: {
		uint32_t n;
		if (!all_digits(text))
			return fail(why, why_cap, "not a whole number: \"%s\"", shown(text, show));
		if (number_parse_u32(text, k->min, k->max, &n) != 0)
			return fail(why, why_cap, "out of range %u..%u: \"%s\"", (unsigned)k->min,
			            (unsigned)k->max, shown(text, show));
		if (k->kind == KIND_U16)
			*(uint16_t *)(void *)field = (uint16_t)n;
		else if (k->kind == KIND_U32)
			*(uint32_t *)(void *)field = n;
		else
			*(int *)(void *)field = (int)n;
		return 0;
	}
	case KIND_DURATION: {
		int64_t ns;
		if (duration_parse(text, &ns) != 0)
			return fail(why, why_cap, "invalid duration \"%s\"", shown(text, show));
		if (k->min > 0 && ns <= 0)
			return fail(why, why_cap, "must be longer than 0: \"%s\"", shown(text, show));
		if (ns < 0)
			return fail(why, why_cap, "must not be negative: \"%s\"", shown(text, show));
		*(int64_t *)(void *)field = ns;
		return 0;
	}
	case KIND_LEVEL: {
		enum log_level level;
		if (log_level_parse(text, &level) != 0)
			return fail(why, why_cap,
			            "unknown log level \"%s\" (DEBUG, INFO, WARNING, ERROR or CRITICAL)",
			            shown(text, show));
		*(enum log_level *)(void *)field = level;
		return 0;
	}
	case KIND_MODE: {
		enum client_mode mode;
		if (parse_mode(text, &mode) != 0)
			return fail(why, why_cap, "unknown mode \"%s\" (echo, bet or lottery)",
			            shown(text, show));
		*(enum client_mode *)(void *)field = mode;
		return 0;
	}
	case KIND_TEXT:
	case KIND_ADDRESS: {
		size_t len = strlen(text);
		if (len == 0)
			return fail(why, why_cap, "must not be empty");
		if (len >= k->size)
			return fail(why, why_cap, "too long (at most %zu bytes)", k->size - 1);
		if (k->kind == KIND_ADDRESS) {
			char host[CONFIG_TEXT_MAX];
			uint16_t port;
			if (net_split_address(text, host, sizeof host, &port) != 0)
				return fail(why, why_cap, "invalid address \"%s\" (expected host:port)",
				            shown(text, show));
		}
		memcpy(field, text, len + 1);
		return 0;
	}
	}
	return fail(why, why_cap, "unsupported key");
}

/* Parses every given value into cfg; the first failure becomes err, prefixed with its origin. */
static int apply(const struct collect *c, const char *path, void *cfg, char *err, size_t err_cap)
{
	for (size_t i = 0; i < c->count; i++) {
		const struct key_spec *k = &c->keys[i];
		const struct raw_value *v = &c->raw[i];
		char why[CONFIG_ERR_MAX];

		if (v->text == NULL)
			continue;
		if (v->problem != NULL) {
			snprintf(why, sizeof why, "%s", v->problem);
		} else if (set_field(k, v->text, cfg, why, sizeof why) == 0) {
			continue;
		}
		if (v->from_env)
			return fail(err, err_cap, "%s: %s", k->env, why);
		return fail(err, err_cap, "%s: %s: %s", path, k->name, why);
	}
	return 0;
}

/* The file, opened for reading; a directory is refused here because stdio would read it as an
 * empty file. */
static FILE *open_config(const char *path, char *err, size_t err_cap)
{
	FILE *fp = fopen(path, "r");
	if (fp == NULL) {
		fail(err, err_cap, "%s: cannot open: %s", path, strerror(errno));
		return NULL;
	}
	struct stat st;
	if (fstat(fileno(fp), &st) != 0) {
		fail(err, err_cap, "%s: cannot open: %s", path, strerror(errno));
		fclose(fp);
		return NULL;
	}
	if (S_ISDIR(st.st_mode)) {
		fail(err, err_cap, "%s: cannot open: %s", path, strerror(EISDIR));
		fclose(fp);
		return NULL;
	}
	return fp;
}

/* ---------------------------------------------------------------------------------------------
 * server: INI */

static int on_ini_pair(void *user, const char *section, const char *name, const char *value)
{
	const struct collect *c = user;
	size_t i;

	if (strcasecmp(section, "DEFAULT") != 0 || find_key(c, name, &i) == NULL)
		return 1;
	raw_set_file_value(&c->raw[i], value, strlen(value));
	return 1;
}

/* inih reads lines into a fixed buffer and would parse the rest of an over-long line as a line
 * of its own (silently cutting the value); this reader hands it whole lines only, and remembers
 * the first one that did not fit. A line needs room for its newline too: inih 59 (Debian 13)
 * takes a full buffer without one for an error of its own, inih 55 (Debian 12) does not, so
 * both are told the same. */
struct ini_input {
	FILE *fp;
	int line;
	int too_long_line; /* 0: none */
	int too_long_max;
};

static char *ini_read_line(char *str, int num, void *stream)
{
	struct ini_input *in = stream;

	if (fgets(str, num, in->fp) == NULL)
		return NULL;
	in->line++;
	size_t len = strlen(str);
	if ((len > 0 && str[len - 1] == '\n') || feof(in->fp))
		return str;
	int ch;
	do
		ch = getc(in->fp);
	while (ch != '\n' && ch != EOF);
	if (in->too_long_line == 0) {
		in->too_long_line = in->line;
		in->too_long_max = num - 2;
	}
	str[0] = '\0'; /* a blank line to inih */
	return str;
}

static int read_ini(const char *path, struct collect *c, char *err, size_t err_cap)
{
	struct ini_input in = {.fp = open_config(path, err, err_cap)};
	if (in.fp == NULL)
		return -1;
	int line = ini_parse_stream(ini_read_line, &in, on_ini_pair, c);
	int read_errno = errno;
	bool read_failed = ferror(in.fp) != 0;
	fclose(in.fp);

	if (read_failed)
		return fail(err, err_cap, "%s: cannot read: %s", path, strerror(read_errno));
	if (in.too_long_line > 0 && (line <= 0 || in.too_long_line < line))
		return fail(err, err_cap, "%s: line %d: line too long (at most %d bytes)", path,
		            in.too_long_line, in.too_long_max);
	if (line > 0)
		return fail(err, err_cap, "%s: line %d: syntax error (expected KEY = VALUE or [SECTION])",
		            path, line);
	if (line < 0)
		return fail(err, err_cap, "%s: out of memory while parsing", path);
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
	snprintf(cfg->bets_file, sizeof cfg->bets_file, "bets.csv");
}

int server_config_load(struct server_config *cfg, const char *path, char *err, size_t err_cap)
{
	struct server_config out;
	struct raw_value raw[SERVER_KEYS];
	struct collect c = {server_keys, SERVER_KEYS, raw};

	for (size_t i = 0; i < SERVER_KEYS; i++)
		raw[i].text = NULL;
	server_config_defaults(&out);
	if (read_ini(path, &c, err, err_cap) != 0)
		return -1;
	collect_env(&c);
	if (apply(&c, path, &out, err, err_cap) != 0)
		return -1;
	*cfg = out;
	return 0;
}

/* ---------------------------------------------------------------------------------------------
 * client: YAML, walked as libyaml events. Every event parsed is deleted by whoever parsed it,
 * before anything that can fail. */

#define YAML_DEPTH_MAX 32
#define YAML_PATH_MAX 128

struct yaml_walk {
	yaml_parser_t parser;
	FILE *fp;
	const char *path;
	struct collect *c;
	char *err;
	size_t err_cap;
};

static int yaml_fail(struct yaml_walk *w)
{
	const yaml_parser_t *p = &w->parser;

	if (p->error == YAML_MEMORY_ERROR)
		return fail(w->err, w->err_cap, "%s: out of memory while parsing YAML", w->path);
	if (p->error == YAML_READER_ERROR) {
		if (ferror(w->fp))
			return fail(w->err, w->err_cap, "%s: cannot read: %s", w->path, strerror(errno));
		return fail(w->err, w->err_cap, "%s: byte %zu: YAML parse error: %s", w->path,
		            p->problem_offset, p->problem != NULL ? p->problem : "unreadable input");
	}
	if (p->context != NULL)
		return fail(w->err, w->err_cap, "%s: line %zu: YAML parse error: %s (%s)", w->path,
		            p->problem_mark.line + 1, p->problem != NULL ? p->problem : "?", p->context);
	return fail(w->err, w->err_cap, "%s: line %zu: YAML parse error: %s", w->path,
	            p->problem_mark.line + 1, p->problem != NULL ? p->problem : "invalid YAML");
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
static struct raw_value *yaml_slot(const struct yaml_walk *w, const char *path)
{
	size_t i;
	if (path == NULL || find_key(w->c, path, &i) == NULL)
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
		return fail(w->err, w->err_cap, "%s: line %zu: nested deeper than %d levels", w->path,
		            w->parser.mark.line + 1, YAML_DEPTH_MAX);
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
				int n = snprintf(child, sizeof child, "%s%s%s", path, path[0] != '\0' ? "." : "",
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
	struct raw_value *slot = yaml_slot(w, path);
	yaml_event_type_t type = ev->type;

	if (type == YAML_SCALAR_EVENT) {
		if (slot != NULL) {
			if (yaml_is_null(ev))
				raw_set_problem(slot, "has no value");
			else
				raw_set_file_value(slot, (const char *)ev->data.scalar.value,
				                   ev->data.scalar.length);
		}
		yaml_event_delete(ev);
		return 0;
	}
	yaml_event_delete(ev);
	if (type == YAML_ALIAS_EVENT) {
		if (slot != NULL)
			raw_set_problem(slot, "YAML aliases are not supported");
		return 0;
	}
	if (type == YAML_MAPPING_START_EVENT || type == YAML_SEQUENCE_START_EVENT) {
		bool mapping = type == YAML_MAPPING_START_EVENT;
		if (slot != NULL) {
			raw_set_problem(slot, mapping ? "expected a single value, found a mapping"
			                              : "expected a single value, found a list");
			path = NULL;
		}
		return yaml_children(w, mapping, mapping ? path : NULL, depth + 1);
	}
	return fail(w->err, w->err_cap, "%s: line %zu: unexpected YAML structure", w->path,
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
		return fail(w->err, w->err_cap, "%s: line %zu: expected a mapping of keys at the top",
		            w->path, line);
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

static int read_yaml(const char *path, struct collect *c, char *err, size_t err_cap)
{
	struct yaml_walk w = {.path = path, .c = c, .err = err, .err_cap = err_cap};

	w.fp = open_config(path, err, err_cap);
	if (w.fp == NULL)
		return -1;
	if (!yaml_parser_initialize(&w.parser)) {
		fclose(w.fp);
		return fail(err, err_cap, "%s: out of memory while parsing YAML", path);
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
	cfg->mode = CLIENT_MODE_LOTTERY;
	cfg->server_timeout_ns = DURATION_FROM_MS(30 * 1000);
	cfg->retry_attempts = 10;
	cfg->draw_timeout_ns = DURATION_FROM_MS(10 * 60 * 1000);
	/* id 0 means "not given yet"; bets_file "" means "agency-<id>.csv" once id is known */
}

int client_config_load(struct client_config *cfg, const char *path, char *err, size_t err_cap)
{
	struct client_config out;
	struct raw_value raw[CLIENT_KEYS];
	struct collect c = {client_keys, CLIENT_KEYS, raw};

	for (size_t i = 0; i < CLIENT_KEYS; i++)
		raw[i].text = NULL;
	client_config_defaults(&out);
	if (read_yaml(path, &c, err, err_cap) != 0)
		return -1;
	collect_env(&c);
	if (apply(&c, path, &out, err, err_cap) != 0)
		return -1;
	if (out.id == 0)
		return fail(err, err_cap, "%s: id: missing (set id in the file or CLI_ID)", path);
	if (out.bets_file[0] == '\0')
		snprintf(out.bets_file, sizeof out.bets_file, "agency-%u.csv", (unsigned)out.id);
	*cfg = out;
	return 0;
}
