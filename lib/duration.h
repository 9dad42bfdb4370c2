/* duration: Go's time.Duration notation, so the client's config reads and prints as the course's
 * Go client did: "300ms", "5s", "1m30s", "1.5h", "2h45m", "-1.5s"; printed back as Go's String()
 * does: "100ms", "5s", "1m30s", "1h0m0s", "1.5µs", "0s". Nanoseconds in an int64_t. */
#ifndef TP0_DURATION_H
#define TP0_DURATION_H

#include <stddef.h>
#include <stdint.h>

#define DURATION_TEXT_MAX 32

/* Units: ns, us, µs (U+00B5 and U+03BC), ms, s, m, h; decimal fractions; an optional sign; "0"
 * alone. 0 on success, -1 on bad syntax, unknown unit or overflow. */
int duration_parse(const char *text, int64_t *ns);
/* Writes Go's String() of ns into buf (cap >= DURATION_TEXT_MAX is always enough). */
void duration_format(int64_t ns, char *buf, size_t cap);

#define DURATION_MS(ns) ((ns) / 1000000)
#define DURATION_FROM_MS(ms) ((int64_t)(ms) * 1000000)

#endif
