/* auth: see auth.h. libsodium does the cryptography and the constant-time work; this file only
 * reads keys and lays out what is authenticated. */
#include "auth.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

/* What the mac covers: a label (so the key proves nothing to any other use of it), the agency
 * (so agency 1's answer does not open a session for agency 2) and the server's nonce. */
#define AUTH_LABEL "tp0 agency auth v1"
#define AUTH_LINE_MAX 256

_Static_assert(crypto_auth_BYTES == PROTO_MAC_SIZE, "AUTH carries a crypto_auth mac");
_Static_assert(crypto_auth_KEYBYTES == AUTH_KEY_SIZE, "a key is a crypto_auth key");

struct auth_keys {
	uint32_t agencies;
	bool *have;                        /* [agency - 1] */
	uint8_t (*key)[AUTH_KEY_SIZE];     /* [agency - 1] */
};

int auth_init(void)
{
	return sodium_init() < 0 ? -1 : 0;
}

int auth_key_parse(const char *text, uint8_t key[AUTH_KEY_SIZE], char *err, size_t err_cap)
{
	size_t len, bin_len = 0;
	const char *end;

	while (isspace((unsigned char)*text))
		text++;
	len = strlen(text);
	while (len > 0 && isspace((unsigned char)text[len - 1]))
		len--;
	if (len != AUTH_KEY_HEX_LEN) {
		snprintf(err, err_cap, "a key is %d hex digits, not %zu characters", AUTH_KEY_HEX_LEN,
		         len);
		return -1;
	}
	if (sodium_hex2bin(key, AUTH_KEY_SIZE, text, len, NULL, &bin_len, &end) != 0 ||
	    bin_len != AUTH_KEY_SIZE || end != text + len) {
		sodium_memzero(key, AUTH_KEY_SIZE);
		snprintf(err, err_cap, "a key is %d hex digits: found another character",
		         AUTH_KEY_HEX_LEN);
		return -1;
	}
	return 0;
}

int auth_key_load(const char *path, uint8_t key[AUTH_KEY_SIZE], char *err, size_t err_cap)
{
	char text[AUTH_LINE_MAX];
	size_t n;
	FILE *f = fopen(path, "r");
	int rc;

	if (f == NULL) {
		snprintf(err, err_cap, "%s: %s", path, strerror(errno));
		return -1;
	}
	n = fread(text, 1, sizeof(text) - 1, f);
	rc = ferror(f) ? -1 : 0;
	if (fclose(f) != 0 || rc != 0) {
		snprintf(err, err_cap, "%s: read failed", path);
		sodium_memzero(text, sizeof(text));
		return -1;
	}
	text[n] = '\0';
	rc = auth_key_parse(text, key, err, err_cap);
	sodium_memzero(text, sizeof(text));
	return rc;
}

void auth_keys_free(struct auth_keys *keys)
{
	if (keys == NULL)
		return;
	if (keys->key != NULL) {
		sodium_memzero(keys->key, (size_t)keys->agencies * AUTH_KEY_SIZE);
		free(keys->key);
	}
	free(keys->have);
	free(keys);
}

/* One line "agency:hexkey" into keys. 0, or -1 with err set. */
static int keys_line(struct auth_keys *keys, char *line, char *err, size_t err_cap)
{
	char *colon = strchr(line, ':'), *end;
	unsigned long agency;

	if (colon == NULL) {
		snprintf(err, err_cap, "not agency:hexkey");
		return -1;
	}
	*colon = '\0';
	errno = 0;
	agency = strtoul(line, &end, 10);
	if (end == line || *end != '\0' || errno != 0 || line[0] == '-' || line[0] == '+') {
		snprintf(err, err_cap, "the agency is not a number");
		return -1;
	}
	if (agency < 1 || agency > keys->agencies) {
		snprintf(err, err_cap, "agency %lu is not in the draw (AGENCIES is %u)", agency,
		         (unsigned)keys->agencies);
		return -1;
	}
	if (keys->have[agency - 1]) {
		snprintf(err, err_cap, "a second key for agency %lu", agency);
		return -1;
	}
	if (auth_key_parse(colon + 1, keys->key[agency - 1], err, err_cap) != 0)
		return -1;
	keys->have[agency - 1] = true;
	return 0;
}

int auth_keys_load(const char *path, uint32_t agencies, struct auth_keys **out, char *err,
                   size_t err_cap)
{
	char line[AUTH_LINE_MAX], why[160];
	struct auth_keys *keys = calloc(1, sizeof(*keys));
	unsigned number = 0;
	FILE *f = NULL;
	int rc = -1;

	*out = NULL;
	if (keys == NULL || agencies == 0 || (keys->have = calloc(agencies, sizeof(bool))) == NULL ||
	    (keys->key = calloc(agencies, AUTH_KEY_SIZE)) == NULL) {
		snprintf(err, err_cap, agencies == 0 ? "no agencies" : "out of memory");
		goto out;
	}
	keys->agencies = agencies;
	if ((f = fopen(path, "r")) == NULL) {
		snprintf(err, err_cap, "%s: %s", path, strerror(errno));
		goto out;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		size_t len = strlen(line);
		char *p = line;

		number++;
		if (len == sizeof(line) - 1 && line[len - 1] != '\n' && !feof(f)) {
			snprintf(err, err_cap, "%s: line %u: too long", path, number);
			goto out;
		}
		while (isspace((unsigned char)*p))
			p++;
		if (*p == '\0' || *p == '#')
			continue;
		if (keys_line(keys, p, why, sizeof(why)) != 0) {
			snprintf(err, err_cap, "%s: line %u: %s", path, number, why);
			goto out;
		}
	}
	if (ferror(f)) {
		snprintf(err, err_cap, "%s: read failed", path);
		goto out;
	}
	for (uint32_t a = 1; a <= agencies; a++) {
		if (!keys->have[a - 1]) {
			snprintf(err, err_cap, "%s: no key for agency %u", path, (unsigned)a);
			goto out;
		}
	}
	*out = keys;
	keys = NULL;
	rc = 0;
out:
	sodium_memzero(line, sizeof(line));
	if (f != NULL)
		(void)fclose(f); /* read only: nothing to lose */
	auth_keys_free(keys);
	return rc;
}

const uint8_t *auth_keys_get(const struct auth_keys *keys, uint32_t agency)
{
	if (keys == NULL || agency < 1 || agency > keys->agencies || !keys->have[agency - 1])
		return NULL;
	return keys->key[agency - 1];
}

void auth_nonce(uint8_t nonce[PROTO_NONCE_SIZE])
{
	randombytes_buf(nonce, PROTO_NONCE_SIZE);
}

/* label || agency (u32, big-endian) || nonce */
static size_t authenticated_bytes(uint8_t *out, uint32_t agency,
                                  const uint8_t nonce[PROTO_NONCE_SIZE])
{
	size_t n = sizeof(AUTH_LABEL) - 1;

	memcpy(out, AUTH_LABEL, n);
	out[n++] = (uint8_t)(agency >> 24);
	out[n++] = (uint8_t)(agency >> 16);
	out[n++] = (uint8_t)(agency >> 8);
	out[n++] = (uint8_t)agency;
	memcpy(out + n, nonce, PROTO_NONCE_SIZE);
	return n + PROTO_NONCE_SIZE;
}

void auth_mac(uint8_t mac[PROTO_MAC_SIZE], const uint8_t key[AUTH_KEY_SIZE], uint32_t agency,
              const uint8_t nonce[PROTO_NONCE_SIZE])
{
	uint8_t msg[sizeof(AUTH_LABEL) - 1 + 4 + PROTO_NONCE_SIZE];
	size_t n = authenticated_bytes(msg, agency, nonce);

	crypto_auth(mac, msg, n, key);
}

bool auth_verify(const uint8_t mac[PROTO_MAC_SIZE], const uint8_t key[AUTH_KEY_SIZE],
                 uint32_t agency, const uint8_t nonce[PROTO_NONCE_SIZE])
{
	uint8_t msg[sizeof(AUTH_LABEL) - 1 + 4 + PROTO_NONCE_SIZE];
	size_t n = authenticated_bytes(msg, agency, nonce);

	return crypto_auth_verify(mac, msg, n, key) == 0;
}
