/* utf8: strict UTF-8 validation (no overlong forms, no surrogates, nothing above U+10FFFF). */
#ifndef TP0_UTF8_H
#define TP0_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* Length in bytes of the valid UTF-8 sequence starting at s (at most left bytes), or 0 if the
 * bytes there are not one. */
size_t utf8_sequence_length(const unsigned char *s, size_t left);
bool utf8_valid(const char *s, size_t len);

#endif
