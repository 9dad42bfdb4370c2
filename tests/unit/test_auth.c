/* auth: keys as text and as a keys file, and the proof (mac) bound to its nonce, agency and key;
 * the HELLO, AUTH and CHALLENGE frames. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#define TMP_FILE_NAME "agency-keys"
#define TMP_FILE_PREFIX "/tmp/tp0-auth-"
#include "tmp_file_fixture.h"

#include "auth.h"
#include "proto.h"

#define HEX_AB "abababababababababababababababababababababababababababababababab"
#define HEX_CD "cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd"

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static void test_key_parse(void **state)
{
	uint8_t key[AUTH_KEY_SIZE];
	char err[160];

	(void)state;
	assert_int_equal(auth_key_parse(HEX_AB, key, err, sizeof(err)), 0);
	for (size_t i = 0; i < AUTH_KEY_SIZE; i++)
		assert_int_equal(key[i], 0xab);
	/* what a key file or a compose secret holds: a newline, maybe blanks */
	assert_int_equal(auth_key_parse("  " HEX_CD "\n", key, err, sizeof(err)), 0);
	assert_int_equal(key[0], 0xcd);
	assert_int_equal(auth_key_parse("ABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABAB",
	                                key, err, sizeof(err)), 0);
	assert_int_equal(key[31], 0xab);

	static const char *const bad[] = {
		"", HEX_AB "ab", "ab", HEX_AB "\nx",
		"zbababababababababababababababababababababababababababababababab",
		"ab abababababababababababababababababababababababababababababab",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(auth_key_parse(bad[i], key, err, sizeof(err)), -1);
		assert_non_null(strstr(err, "64 hex digits"));
	}
}

static void test_keys_file(void **state)
{
	struct tmp *t = *state;
	struct auth_keys *keys;
	char err[256];

	write_file(t->path, "# agencies\n\n2:" HEX_CD "\n  1:" HEX_AB "\n");
	assert_int_equal(auth_keys_load(t->path, 2, &keys, err, sizeof(err)), 0);
	assert_int_equal(auth_keys_get(keys, 1)[0], 0xab);
	assert_int_equal(auth_keys_get(keys, 2)[0], 0xcd);
	assert_null(auth_keys_get(keys, 0));
	assert_null(auth_keys_get(keys, 3));
	auth_keys_free(keys);
	auth_keys_free(NULL);
}

static void test_keys_file_errors(void **state)
{
	static const struct { const char *text; uint32_t agencies; const char *why; } cases[] = {
		{"1:" HEX_AB "\n", 2, "no key for agency 2"},
		{"1:" HEX_AB "\n2:" HEX_AB "\n3:" HEX_AB "\n", 2, "line 3: agency 3 is not in the draw"},
		{"1:" HEX_AB "\n1:" HEX_CD "\n", 1, "line 2: a second key for agency 1"},
		{"0:" HEX_AB "\n", 1, "line 1: agency 0 is not in the draw"},
		{"x:" HEX_AB "\n", 1, "line 1: the agency is not a number"},
		{"-1:" HEX_AB "\n", 1, "line 1: the agency is not a number"},
		{"1 " HEX_AB "\n", 1, "line 1: not agency:hexkey"},
		{"1:" HEX_AB "0\n", 1, "line 1: a key is 64 hex digits"},
		{"", 1, "no key for agency 1"},
	};
	struct tmp *t = *state;
	struct auth_keys *keys;
	char err[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		write_file(t->path, cases[i].text);
		keys = (struct auth_keys *)&err; /* must come back NULL */
		err[0] = '\0';
		assert_int_equal(auth_keys_load(t->path, cases[i].agencies, &keys, err, sizeof(err)),
		                 -1);
		assert_null(keys);
		if (strstr(err, cases[i].why) == NULL)
			fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err, cases[i].why);
		assert_non_null(strstr(err, t->path));
	}
	assert_int_equal(auth_keys_load("/nonexistent/keys", 1, &keys, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "No such file"));
}

static void test_key_file(void **state)
{
	struct tmp *t = *state;
	uint8_t key[AUTH_KEY_SIZE];
	char err[256];

	write_file(t->path, HEX_CD "\n");
	assert_int_equal(auth_key_load(t->path, key, err, sizeof(err)), 0);
	assert_int_equal(key[5], 0xcd);
	write_file(t->path, "1:" HEX_CD "\n");
	assert_int_equal(auth_key_load(t->path, key, err, sizeof(err)), -1);
	assert_int_equal(auth_key_load("/nonexistent/key", key, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "/nonexistent/key"));
}

/* The proof holds for its own nonce, agency and key only. */
static void test_mac_is_bound(void **state)
{
	uint8_t key[AUTH_KEY_SIZE], other_key[AUTH_KEY_SIZE], nonce[PROTO_NONCE_SIZE];
	uint8_t other_nonce[PROTO_NONCE_SIZE], mac[PROTO_MAC_SIZE];
	char err[160];

	(void)state;
	assert_int_equal(auth_init(), 0);
	assert_int_equal(auth_key_parse(HEX_AB, key, err, sizeof(err)), 0);
	assert_int_equal(auth_key_parse(HEX_CD, other_key, err, sizeof(err)), 0);
	auth_nonce(nonce);
	auth_nonce(other_nonce);
	assert_memory_not_equal(nonce, other_nonce, PROTO_NONCE_SIZE);
	auth_mac(mac, key, 7, nonce);
	assert_true(auth_verify(mac, key, 7, nonce));
	assert_false(auth_verify(mac, key, 7, other_nonce));
	assert_false(auth_verify(mac, key, 8, nonce));
	assert_false(auth_verify(mac, other_key, 7, nonce));
	mac[31] ^= 1;
	assert_false(auth_verify(mac, key, 7, nonce));
}

/* The same inputs give the same mac (tests/integration/test_auth.py computes it independently,
 * with Python's hmac and sha512, and the server accepts it). */
static void test_mac_is_deterministic(void **state)
{
	uint8_t key[AUTH_KEY_SIZE] = {1}, nonce[PROTO_NONCE_SIZE] = {2};
	uint8_t a[PROTO_MAC_SIZE], b[PROTO_MAC_SIZE];

	(void)state;
	auth_mac(a, key, 1, nonce);
	auth_mac(b, key, 1, nonce);
	assert_memory_equal(a, b, PROTO_MAC_SIZE);
}

static void test_frames(void **state)
{
	uint8_t bytes[PROTO_MAC_SIZE];
	struct proto_writer w;
	struct proto_header h;
	struct proto_msg m;

	(void)state;
	for (size_t i = 0; i < sizeof(bytes); i++)
		bytes[i] = (uint8_t)(i * 7);

	proto_encode_hello(&w, 4242);
	assert_int_equal(w.len, PROTO_HEADER_SIZE + 4);
	assert_int_equal(proto_header_decode(w.buf, &h), PROTO_E_NONE);
	assert_int_equal(h.type, PROTO_HELLO);
	assert_int_equal(proto_decode(h.type, w.buf + PROTO_HEADER_SIZE, h.length, &m), 0);
	assert_int_equal(m.u.hello.agency, 4242);

	proto_encode_auth(&w, bytes);
	assert_int_equal(w.len, PROTO_HEADER_SIZE + PROTO_MAC_SIZE);
	assert_int_equal(proto_decode(PROTO_AUTH, w.buf + PROTO_HEADER_SIZE, PROTO_MAC_SIZE, &m), 0);
	assert_memory_equal(m.u.auth.mac, bytes, PROTO_MAC_SIZE);

	proto_encode_challenge(&w, bytes);
	assert_int_equal(proto_header_decode(w.buf, &h), PROTO_E_NONE);
	assert_int_equal(h.type, PROTO_CHALLENGE);
	assert_int_equal(proto_decode(h.type, w.buf + PROTO_HEADER_SIZE, h.length, &m), 0);
	assert_memory_equal(m.u.challenge.nonce, bytes, PROTO_NONCE_SIZE);

	/* exactly their size: a byte short or over is malformed */
	assert_int_equal(proto_decode(PROTO_AUTH, bytes, PROTO_MAC_SIZE - 1, &m), PROTO_E_MALFORMED);
	assert_int_equal(proto_decode(PROTO_CHALLENGE, w.buf + PROTO_HEADER_SIZE,
	                              PROTO_NONCE_SIZE + 1, &m), PROTO_E_MALFORMED);
	assert_int_equal(proto_decode(PROTO_HELLO, bytes, 3, &m), PROTO_E_MALFORMED);
	assert_int_equal(proto_decode(PROTO_HELLO, bytes, 5, &m), PROTO_E_MALFORMED);
	assert_string_equal(proto_type_name(PROTO_HELLO), "HELLO");
	assert_string_equal(proto_type_name(PROTO_AUTH), "AUTH");
	assert_string_equal(proto_type_name(PROTO_CHALLENGE), "CHALLENGE");
	assert_string_equal(proto_error_text(PROTO_E_AUTH), "agency not authenticated");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_parse),
		cmocka_unit_test_setup_teardown(test_keys_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keys_file_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_key_file, setup, teardown),
		cmocka_unit_test(test_mac_is_bound),
		cmocka_unit_test(test_mac_is_deterministic),
		cmocka_unit_test(test_frames),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
