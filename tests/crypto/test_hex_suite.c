/* test_hex_suite.c - hex codec and the cipher suite table. */
#include <errno.h>
#include <stdbool.h>

#include <sodium.h>

#include "hex.h"
#include "suite.h"
#include "vectors.h"

static void test_hex(void)
{
	const unsigned char bin[4] = {0x00, 0xab, 0x7f, 0xff};
	unsigned char back[4];
	char out[9];

	CHECK_RC(hex_encode(out, sizeof(out), bin, 4), 0);
	CHECK(strcmp(out, "00ab7fff") == 0);
	CHECK_RC(hex_encode(out, 8, bin, 4), -ENOSPC);
	CHECK_RC(hex_encode(out, 0, bin, 0), -ENOSPC);
	CHECK_RC(hex_encode(out, 1, bin, 0), 0);
	CHECK(out[0] == '\0');
	CHECK_RC(hex_decode(back, 4, "00ab7fff", 8), 0);
	CHECK(memcmp(back, bin, 4) == 0);
	CHECK_RC(hex_decode(back, 4, "00AB7FFF", 8), -EINVAL); /* lower case only */
	CHECK(check_all_zero(back, 4));
	CHECK_RC(hex_decode(back, 4, "00ab7ff", 7), -EINVAL);
	CHECK_RC(hex_decode(back, 4, "00ab7fff00", 10), -EINVAL);
	CHECK_RC(hex_decode(back, 4, "00ab7fgf", 8), -EINVAL);
	CHECK_RC(hex_decode(back, 4, "00ab:fff", 8), -EINVAL);
	CHECK_RC(hex_decode(back, 0, "", 0), 0);
}

/* Every byte value in either place of a digit pair decodes as libsodium's
 * sodium_hex2bin decodes it when that is a lowercase digit, and is refused
 * otherwise (upper case included), with the output zeroed. */
static void test_hex_every_byte(void)
{
	int fails = 0;

	for (unsigned c = 0; c < 256; c++) {
		bool lower = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
		for (int at = 0; at < 2; at++) {
			char pair[2] = {'7', '7'};
			unsigned char got = 0x5a, want = 0;
			size_t n = 0;
			int rc;

			pair[at] = (char)c;
			rc = hex_decode(&got, 1, pair, 2);
			if (lower) {
				if (sodium_hex2bin(&want, 1, pair, 2, NULL, &n, NULL) != 0 ||
				    n != 1 || rc != 0 || got != want)
					fails++;
			} else if (rc != -EINVAL || got != 0) {
				fails++;
			}
		}
	}
	CHECKF(fails == 0, "%d byte values decoded unlike sodium_hex2bin", fails);
}

/* The same for every byte value at every place of a 16-byte id's 32 digits
 * (the 8-digit words and what follows them), the other digits random. */
static void test_hex_every_place(void)
{
	static const char digits[] = "0123456789abcdef";
	int fails = 0;

	for (size_t at = 0; at < 34; at++) {
		for (unsigned c = 0; c < 256; c++) {
			size_t len = at < 32 ? 32 : 34; /* 34: a 17-byte value, its tail */
			char hex[34];
			unsigned char got[17], want[17];
			bool lower = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
			size_t n = 0;
			int rc;

			for (size_t i = 0; i < len; i++)
				hex[i] = digits[randombytes_uniform(16)];
			hex[at] = (char)c;
			rc = hex_decode(got, len / 2, hex, len);
			if (lower) {
				if (sodium_hex2bin(want, len / 2, hex, len, NULL, &n, NULL) != 0 ||
				    n != len / 2 || rc != 0 || memcmp(got, want, len / 2) != 0)
					fails++;
			} else if (rc != -EINVAL || !check_all_zero(got, len / 2)) {
				fails++;
			}
		}
	}
	CHECKF(fails == 0, "%d digits decoded unlike sodium_hex2bin", fails);
}

static void test_suite(void)
{
	enum suite_id s = SUITE_AES256GCM;

	CHECK(suite_nonce_bytes(SUITE_AES256GCM) == 12);
	CHECK(suite_nonce_bytes(SUITE_XCHACHA20POLY1305) == 24);
	CHECK(suite_nonce_bytes((enum suite_id)0) == 0);
	CHECK(strcmp(suite_name(SUITE_AES256GCM), "aes256gcm") == 0);
	CHECK(strcmp(suite_name(SUITE_XCHACHA20POLY1305), "xchacha20poly1305") == 0);
	CHECK(suite_name((enum suite_id)7) == NULL);
	CHECK_RC(suite_from_name("xchacha20poly1305", &s), 0);
	CHECK(s == SUITE_XCHACHA20POLY1305);
	CHECK_RC(suite_from_name("aes256gcm", &s), 0);
	CHECK(s == SUITE_AES256GCM);
	CHECK_RC(suite_from_name("AES256GCM", &s), -EINVAL);
	CHECK_RC(suite_from_name("chacha20poly1305", &s), -EINVAL);
	CHECK_RC(suite_from_name(NULL, &s), -EINVAL);
	CHECK(suite_available(SUITE_XCHACHA20POLY1305));
	CHECK(!suite_available((enum suite_id)9));
	CHECK(suite_available(SUITE_AES256GCM) == (crypto_aead_aes256gcm_is_available() != 0));
	CHECK(suite_default() ==
	      (crypto_aead_aes256gcm_is_available() ? SUITE_AES256GCM : SUITE_XCHACHA20POLY1305));
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	test_hex();
	test_hex_every_byte();
	test_hex_every_place();
	test_suite();
	return check_done("test_hex_suite");
}
