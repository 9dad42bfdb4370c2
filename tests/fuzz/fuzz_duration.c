/* fuzz_duration: duration_parse on arbitrary text; whatever parses is printed with
 * duration_format (into a buffer of exactly DURATION_TEXT_MAX bytes) and must parse back to the
 * same value, and print the same again; and any int64 (the input's first 8 bytes) prints as text
 * that parses back to it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "duration.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define check(cond) ((cond) ? (void)0 : abort())

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	char *printed = malloc(DURATION_TEXT_MAX);
	char again[DURATION_TEXT_MAX];
	int64_t ns, back;

	if (text == NULL || printed == NULL) {
		free(text);
		free(printed);
		return 0;
	}
	memcpy(text, data, size);
	text[size] = '\0';
	if (duration_parse(text, &ns) == 0) {
		duration_format(ns, printed, DURATION_TEXT_MAX);
		check(memchr(printed, '\0', DURATION_TEXT_MAX) != NULL);
		check(duration_parse(printed, &back) == 0);
		check(back == ns);
		duration_format(back, again, sizeof(again));
		check(strcmp(again, printed) == 0);
	}
	/* Any value prints as something that parses back to it (the first 8 bytes, as a value). */
	if (size >= sizeof(ns)) {
		memcpy(&ns, data, sizeof(ns));
		duration_format(ns, printed, DURATION_TEXT_MAX);
		check(duration_parse(printed, &back) == 0);
		check(back == ns);
	}
	free(text);
	free(printed);
	return 0;
}
