/* config_values: both loaders collect raw text per key (file first, then the environment on top),
 * and only then parse and check the value that won. So a bad value in the file that the environment
 * overrides is no error, and every message can name where the winning value came from: the file
 * and the key, or the environment variable. */
#include "config_values.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "duration.h"
#include "net.h"
#include "number.h"

const struct config_key *config_find_key(const struct config_collect *c, const char *name,
                                         size_t *index)
{
	for (size_t i = 0; i < c->count; i++) {
		if (strcasecmp(c->keys[i].name, name) == 0) {
			*index = i;
			return &c->keys[i];
		}
	}
	return NULL;
}

void config_raw_set_problem(struct config_raw *v, const char *problem)
{
	v->text = v->buf;
	v->buf[0] = '\0';
	v->from_env = false;
	v->problem = problem;
}

void config_raw_set_file_value(struct config_raw *v, const char *text, size_t len)
{
	if (memchr(text, '\0', len) != NULL) {
		config_raw_set_problem(v, "contains a NUL byte");
		return;
	}
	if (len >= sizeof v->buf) {
		config_raw_set_problem(v, "value too long");
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
void config_collect_env(const struct config_collect *c)
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

int config_fail(char *err, size_t cap, const char *fmt, ...)
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
static int set_field(const struct config_key *k, const char *text, void *cfg, char *why,
                     size_t why_cap)
{
	char *field = (char *)cfg + k->offset;
	char show[SHOWN_MAX + 4];

	switch (k->kind) {
	case CONFIG_KIND_U16:
	case CONFIG_KIND_U32:
	case CONFIG_KIND_INT: {
		uint32_t n;
		if (!all_digits(text))
			return config_fail(why, why_cap, "not a whole number: \"%s\"",
			                   shown(text, show));
		if (number_parse_u32(text, k->min, k->max, &n) != 0)
			return config_fail(why, why_cap, "out of range %u..%u: \"%s\"",
			                   (unsigned)k->min, (unsigned)k->max, shown(text, show));
		if (k->kind == CONFIG_KIND_U16)
			*(uint16_t *)(void *)field = (uint16_t)n;
		else if (k->kind == CONFIG_KIND_U32)
			*(uint32_t *)(void *)field = n;
		else
			*(int *)(void *)field = (int)n;
		return 0;
	}
	case CONFIG_KIND_DURATION: {
		int64_t ns;
		if (duration_parse(text, &ns) != 0)
			return config_fail(why, why_cap, "invalid duration \"%s\"",
			                   shown(text, show));
		if (k->min > 0 && ns <= 0)
			return config_fail(why, why_cap, "must be longer than 0: \"%s\"",
			                   shown(text, show));
		if (ns < 0)
			return config_fail(why, why_cap, "must not be negative: \"%s\"",
			                   shown(text, show));
		if (k->max > 0 && ns > DURATION_FROM_MS(k->max)) {
			char most[DURATION_TEXT_MAX];
			duration_format(DURATION_FROM_MS(k->max), most, sizeof most);
			return config_fail(why, why_cap, "at most %s: \"%s\"", most,
			                   shown(text, show));
		}
		*(int64_t *)(void *)field = ns;
		return 0;
	}
	case CONFIG_KIND_LEVEL: {
		enum log_level level;
		if (log_level_parse(text, &level) != 0)
			return config_fail(
			    why, why_cap,
			    "unknown log level \"%s\" (DEBUG, INFO, WARNING, ERROR or CRITICAL)",
			    shown(text, show));
		*(enum log_level *)(void *)field = level;
		return 0;
	}
	case CONFIG_KIND_MODE: {
		enum client_mode mode;
		if (parse_mode(text, &mode) != 0)
			return config_fail(why, why_cap,
			                   "unknown mode \"%s\" (echo, bet or lottery)",
			                   shown(text, show));
		*(enum client_mode *)(void *)field = mode;
		return 0;
	}
	case CONFIG_KIND_TEXT:
	case CONFIG_KIND_ADDRESS: {
		size_t len = strlen(text);
		if (len == 0)
			return config_fail(why, why_cap, "must not be empty");
		if (len >= k->size)
			return config_fail(why, why_cap, "too long (at most %zu bytes)",
			                   k->size - 1);
		if (k->kind == CONFIG_KIND_ADDRESS) {
			char host[CONFIG_TEXT_MAX];
			uint16_t port;
			if (net_split_address(text, host, sizeof host, &port) != 0)
				return config_fail(why, why_cap,
				                   "invalid address \"%s\" (expected host:port)",
				                   shown(text, show));
		}
		memcpy(field, text, len + 1);
		return 0;
	}
	}
	return config_fail(why, why_cap, "unsupported key");
}

int config_apply(const struct config_collect *c, const char *path, void *cfg, char *err,
                 size_t err_cap)
{
	for (size_t i = 0; i < c->count; i++) {
		const struct config_key *k = &c->keys[i];
		const struct config_raw *v = &c->raw[i];
		char why[CONFIG_ERR_MAX];

		if (v->text == NULL)
			continue;
		if (v->problem != NULL) {
			snprintf(why, sizeof why, "%s", v->problem);
		} else if (set_field(k, v->text, cfg, why, sizeof why) == 0) {
			continue;
		}
		if (v->from_env)
			return config_fail(err, err_cap, "%s: %s", k->env, why);
		return config_fail(err, err_cap, "%s: %s: %s", path, k->name, why);
	}
	return 0;
}

FILE *config_open(const char *path, char *err, size_t err_cap)
{
	FILE *fp = fopen(path, "r");
	if (fp == NULL) {
		config_fail(err, err_cap, "%s: cannot open: %s", path, strerror(errno));
		return NULL;
	}
	struct stat st;
	if (fstat(fileno(fp), &st) != 0) {
		config_fail(err, err_cap, "%s: cannot open: %s", path, strerror(errno));
		fclose(fp);
		return NULL;
	}
	if (S_ISDIR(st.st_mode)) {
		config_fail(err, err_cap, "%s: cannot open: %s", path, strerror(EISDIR));
		fclose(fp);
		return NULL;
	}
	return fp;
}

int config_load(struct config_collect *c, config_reader_fn read_file, const char *path, void *cfg,
                char *err, size_t err_cap)
{
	for (size_t i = 0; i < c->count; i++)
		c->raw[i].text = NULL;
	if (read_file(path, c, err, err_cap) != 0)
		return -1;
	config_collect_env(c);
	return config_apply(c, path, cfg, err, err_cap);
}
