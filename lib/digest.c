/* digest: see digest.h. */
#include "digest.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(crypto_generichash_BYTES == DIGEST_SIZE, "BLAKE2b-256");

void digest_init(struct digest *d)
{
	/* Cannot fail with no key and the default length. */
	(void)crypto_generichash_init(&d->state, NULL, 0, DIGEST_SIZE);
}

void digest_add(struct digest *d, const uint8_t *bytes, size_t len)
{
	(void)crypto_generichash_update(&d->state, bytes, len);
}

void digest_add_bet(struct digest *d, const struct bet *bet)
{
	uint8_t encoded[PROTO_BET_SIZE_MAX];

	digest_add(d, encoded, proto_bet_encode(bet, encoded));
}

void digest_value(const struct digest *d, uint8_t out[DIGEST_SIZE])
{
	struct digest copy = *d; /* final consumes its state */

	(void)crypto_generichash_final(&copy.state, out, DIGEST_SIZE);
	sodium_memzero(&copy, sizeof(copy));
}

struct digest *digest_array_new(size_t n)
{
	struct digest *array;

	if (n == 0 || n > SIZE_MAX / sizeof(*array)) {
		errno = n == 0 ? EINVAL : ENOMEM;
		return NULL;
	}
	/* sizeof is a multiple of the alignment, as aligned_alloc requires */
	array = aligned_alloc(_Alignof(struct digest), n * sizeof(*array));
	if (array == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++)
		digest_init(&array[i]);
	return array;
}

void digest_array_free(struct digest *array)
{
	free(array);
}
