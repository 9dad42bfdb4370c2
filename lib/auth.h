/* auth: agency keys, and the challenge-response that proves one without sending it.
 *
 * A key is 32 random bytes, written as 64 hex digits. The server's keys file (AGENCY_KEYS) has
 * one `agency:hexkey` line per agency of the draw; blank lines and lines starting with '#' are
 * skipped. The proof is libsodium's crypto_auth (HMAC-SHA-512-256) of a fresh server nonce
 * bound to the agency and to this protocol, checked with crypto_auth_verify (constant time):
 * a recorded AUTH is worth nothing on another connection, and the key never travels. */
#ifndef TP0_AUTH_H
#define TP0_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto.h"

#define AUTH_KEY_SIZE 32
#define AUTH_KEY_HEX_LEN (2 * AUTH_KEY_SIZE)

struct auth_keys; /* agency -> key, for agencies 1..agencies */

/* sodium_init(): once per process, before any other call here; 0 or -1. */
int auth_init(void);

/* Parses 64 hex digits (surrounding whitespace allowed). 0, or -1 with err set. */
int auth_key_parse(const char *text, uint8_t key[AUTH_KEY_SIZE], char *err, size_t err_cap);
/* Reads a file holding one key (as auth_key_parse). 0, or -1 with err set. */
int auth_key_load(const char *path, uint8_t key[AUTH_KEY_SIZE], char *err, size_t err_cap);

/* Reads the keys file: every agency 1..agencies must have exactly one key, and no line may
 * name another agency. 0 and *out, or -1 with err set ("line 3: ..."). */
int auth_keys_load(const char *path, uint32_t agencies, struct auth_keys **out, char *err,
                   size_t err_cap);
/* The agency's key, or NULL if it has none (not in 1..agencies). */
const uint8_t *auth_keys_get(const struct auth_keys *keys, uint32_t agency);
/* Wipes the keys and frees them; NULL is fine. */
void auth_keys_free(struct auth_keys *keys);

void auth_nonce(uint8_t nonce[PROTO_NONCE_SIZE]);
/* The mac of nonce for agency under key. */
void auth_mac(uint8_t mac[PROTO_MAC_SIZE], const uint8_t key[AUTH_KEY_SIZE], uint32_t agency,
              const uint8_t nonce[PROTO_NONCE_SIZE]);
/* Whether mac is auth_mac(key, agency, nonce), compared in constant time. */
bool auth_verify(const uint8_t mac[PROTO_MAC_SIZE], const uint8_t key[AUTH_KEY_SIZE],
                 uint32_t agency, const uint8_t nonce[PROTO_NONCE_SIZE]);

#endif
