/* log: the contract's log lines.
 *
 *   YYYY-MM-DD HH:MM:SS LEVEL    action: <action> | result: <result> | key: value | ...
 *
 * Every line is built in one buffer and leaves in one write(2) (at most LOG_LINE_MAX bytes, below
 * PIPE_BUF), so lines from several processes sharing stdout never interleave. Values substituted
 * for %s are sanitised: '|' and control characters become ' ' (invalid UTF-8 bytes become '?'),
 * so nothing that came off the wire can forge a field or a line. The format string itself is
 * trusted and may contain the " | key: " separators. Not async-signal-safe: never call it from a
 * signal handler. */
#ifndef TP0_LOG_H
#define TP0_LOG_H

#include <stdarg.h>
#include <stddef.h>
#include <time.h>

#define LOG_LINE_MAX 4000 /* < PIPE_BUF (4096): one atomic write */

enum log_level { LOG_DEBUG = 10, LOG_INFO = 20, LOG_WARNING = 30, LOG_ERROR = 40, LOG_CRITICAL = 50 };

/* Python's level names: DEBUG, INFO, WARNING, ERROR, CRITICAL. */
const char *log_level_name(enum log_level level);
/* Accepts those names case-insensitively (and WARN, FATAL as aliases). 0 or -1. */
int log_level_parse(const char *text, enum log_level *out);

/* Lines below the level are dropped. Default LOG_INFO. */
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Where lines go; default STDOUT_FILENO. Tests point it at a pipe. */
void log_set_fd(int fd);

/* fmt holds the fields after result ("ip: %s | msg: %s"), or is NULL for none. Conversions:
 * %s (sanitised; NULL prints "(null)"), %d %i %u %x with an optional l, ll or z, and %%; no
 * flags, width or precision. Anything else prints "%?" and ends the line there.
 * result is "success", "fail" or "in_progress". */
void log_event(enum log_level level, const char *action, const char *result, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void log_eventv(enum log_level level, const char *action, const char *result, const char *fmt,
                va_list ap);

/* Formats one whole line (with the trailing '\n') into buf; the work of log_event, exposed for
 * tests. Returns its length (always < cap; an over-long line is cut and still ends in '\n'). */
size_t log_format(char *buf, size_t cap, time_t when, enum log_level level, const char *action,
                  const char *result, const char *fmt, va_list ap);

/* Copies src into dst (cap bytes, always NUL-terminated) with '|' and control characters
 * replaced by ' ' and bytes that are not valid UTF-8 replaced by '?'. Returns strlen(dst). */
size_t log_sanitize(char *dst, size_t cap, const char *src);

#define log_debug(action, result, ...) log_event(LOG_DEBUG, action, result, __VA_ARGS__)
#define log_info(action, result, ...) log_event(LOG_INFO, action, result, __VA_ARGS__)
#define log_warning(action, result, ...) log_event(LOG_WARNING, action, result, __VA_ARGS__)
#define log_error(action, result, ...) log_event(LOG_ERROR, action, result, __VA_ARGS__)

#endif
