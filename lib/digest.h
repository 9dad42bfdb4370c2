/* digest: what an agency and storage both compute over the agency's bets, so that DONE can say
 * "these are the bets you stored for me" and be checked: BLAKE2b-256 (libsodium's
 * crypto_generichash) of the bets' wire encodings (proto_bet_encode), concatenated in the order
 * they were acknowledged, which is the order storage wrote them. A lost, repeated, reordered or
 * altered bet changes it. */
#ifndef TP0_DIGEST_H
#define TP0_DIGEST_H

#include <stddef.h>
#include <stdint.h>

#include <sodium.h>

#include "bet.h"
#include "proto.h"

#define DIGEST_SIZE PROTO_DIGEST_SIZE

/* Aligned as libsodium wants (64 bytes): on the stack, static, or digest_array_new. */
struct digest {
	crypto_generichash_state state;
};

void digest_init(struct digest *d);
void digest_add(struct digest *d, const uint8_t *bytes, size_t len);
void digest_add_bet(struct digest *d, const struct bet *bet);
/* The digest of what was added so far; d goes on unchanged. */
void digest_value(const struct digest *d, uint8_t out[DIGEST_SIZE]);

/* n digests, each initialised, suitably aligned (free with digest_array_free); NULL with errno
 * when out of memory. */
struct digest *digest_array_new(size_t n);
void digest_array_free(struct digest *array);

#endif
