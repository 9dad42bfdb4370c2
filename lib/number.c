#include "number.h"

#include <stddef.h>

int number_parse_u64(const char *text, uint64_t min, uint64_t max, uint64_t *out)
{
	uint64_t value = 0;

	if (text == NULL || *text == '\0')
		return -1;
	for (const char *p = text; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		unsigned digit = (unsigned)(*p - '0');
		if (value > (UINT64_MAX - digit) / 10)
			return -1;
		value = value * 10 + digit;
	}
	if (value < min || value > max)
		return -1;
	*out = value;
	return 0;
}

int number_parse_u32(const char *text, uint32_t min, uint32_t max, uint32_t *out)
{
	uint64_t value;

	if (number_parse_u64(text, min, max, &value) != 0)
		return -1;
	*out = (uint32_t)value;
	return 0;
}
