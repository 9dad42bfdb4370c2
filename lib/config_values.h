/* config_values: what the server's and the client's readers share (private to lib/config_*.c).
 * A reader stores each key's raw text, config_collect_env() lays the environment over it, and
 * config_apply() parses and checks only the values that won. */
#ifndef TP0_CONFIG_VALUES_H
#define TP0_CONFIG_VALUES_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"

enum config_kind {
	CONFIG_KIND_U16,      /* uint16_t within min..max */
	CONFIG_KIND_U32,      /* uint32_t within min..max */
	CONFIG_KIND_INT,      /* int within min..max */
	CONFIG_KIND_DURATION, /* int64_t ns; min 0: may be 0, min 1: must be > 0; max: ms (0: none) */
	CONFIG_KIND_LEVEL,    /* enum log_level */
	CONFIG_KIND_MODE,     /* enum client_mode */
	CONFIG_KIND_TEXT,     /* char[size], non-empty */
	CONFIG_KIND_ADDRESS,  /* char[size], "host:port" */
};

struct config_key {
	const char *name; /* in the file (matched case-insensitively) */
	const char *env;  /* the override */
	enum config_kind kind;
	size_t offset;
	size_t size;
	uint32_t min, max;
};

#define CONFIG_FIELD(type, member) offsetof(type, member), sizeof(((type *)0)->member)

struct config_raw {
	const char *text;    /* NULL: not given */
	bool from_env;
	const char *problem; /* the file's value cannot even be held as text (wins over text) */
	char buf[PATH_MAX];  /* the file's copy; an environment value is used in place */
};

struct config_collect {
	const struct config_key *keys;
	size_t count;
	struct config_raw *raw; /* count slots, each with text NULL before reading */
};

const struct config_key *config_find_key(const struct config_collect *c, const char *name,
                                         size_t *index);
void config_raw_set_problem(struct config_raw *v, const char *problem);
void config_raw_set_file_value(struct config_raw *v, const char *text, size_t len);
void config_collect_env(const struct config_collect *c);

/* Reads path's raw values into c (a format's reader: 0, or -1 with err set). */
typedef int (*config_reader_fn)(const char *path, struct config_collect *c, char *err,
                                size_t err_cap);
/* The whole load: read with read_file, lay the environment over it, apply every value that won
 * to cfg (already holding the defaults). 0, or -1 with err set. */
int config_load(struct config_collect *c, config_reader_fn read_file, const char *path, void *cfg,
                char *err, size_t err_cap);

/* Parses every given value into cfg; the first failure becomes err, prefixed with its origin. */
int config_apply(const struct config_collect *c, const char *path, void *cfg, char *err,
                 size_t err_cap);

__attribute__((format(printf, 3, 4))) int config_fail(char *err, size_t cap, const char *fmt, ...);

/* The file, opened for reading; a directory is refused here because stdio would read it as an
 * empty file. */
FILE *config_open(const char *path, char *err, size_t err_cap);

#endif
