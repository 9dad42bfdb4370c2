#include "number.h"

#include <stddef.h>

int number_parse_u32(const char *text, uint32_t min, uint32_t max, uint32_t *out)
{
	uint64_t value = 0;

	if (text == NULL || *text == '\0')
		return -1;
	for (const char *p = text; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		value = value * 10 + (uint64_t)(*p - '0');
		if (value > UINT32_MAX)
			return -1;
	}
	if (value < min || value > max)
		return -1;
	*out = (uint32_t)value;
	return 0;
}
