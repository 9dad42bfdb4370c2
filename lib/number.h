/* number: strict parsing of whole numbers from text (config values, command-line options,
 * environment): decimal digits only, no sign, no spaces, no trailing junk, range-checked. */
#ifndef TP0_NUMBER_H
#define TP0_NUMBER_H

#include <stdint.h>

/* 0 with *out set, or -1 when text is not a decimal number within min..max. */
int number_parse_u32(const char *text, uint32_t min, uint32_t max, uint32_t *out);
int number_parse_u64(const char *text, uint64_t min, uint64_t max, uint64_t *out);

#endif
