/* recovery.c - the recovery key as text: 16 key bytes and a 2-byte checksum,
 * 144 bits in 29 Crockford base32 digits, grouped by 4 (docs/FORMAT.md,
 * "Recovery key"). Must never accept a text whose checksum does not match,
 * nor leave a partly decoded key behind on failure. */
#include "recovery.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include <sodium.h>

#define RECOVERY_CHECK_BYTES 2
#define RECOVERY_RAW_BYTES (RECOVERY_KEY_BYTES + RECOVERY_CHECK_BYTES)
#define RECOVERY_DIGITS 29 /* ceil(144 / 5); the last digit's low bit is 0 */
#define RECOVERY_GROUP 4
#define RECOVERY_CHECK_PERSONAL "sealfs-rcvcheck1"

static const char recovery_alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/* First two bytes of BLAKE2b-256(key), personal "sealfs-rcvcheck1", no key, zero salt. */
static void recovery_checksum(unsigned char out[RECOVERY_CHECK_BYTES],
			      const unsigned char key[RECOVERY_KEY_BYTES])
{
	unsigned char h[32];

	crypto_generichash_blake2b_salt_personal(h, sizeof(h), key, RECOVERY_KEY_BYTES, NULL, 0,
						 NULL,
						 (const unsigned char *)RECOVERY_CHECK_PERSONAL);
	memcpy(out, h, RECOVERY_CHECK_BYTES);
	sodium_memzero(h, sizeof(h));
}

/* Bit i of raw, most significant bit of byte 0 first; 0 past the end. */
static unsigned recovery_bit(const unsigned char raw[RECOVERY_RAW_BYTES], size_t i)
{
	if (i >= 8 * RECOVERY_RAW_BYTES)
		return 0;
	return (raw[i / 8] >> (7 - i % 8)) & 1u;
}

int recovery_encode(char *text, size_t size, const unsigned char key[RECOVERY_KEY_BYTES])
{
	const size_t need = RECOVERY_DIGITS + (RECOVERY_DIGITS - 1) / RECOVERY_GROUP + 1;
	unsigned char raw[RECOVERY_RAW_BYTES];
	char *p = text;

	if (size < need)
		return -ENOSPC;
	memcpy(raw, key, RECOVERY_KEY_BYTES);
	recovery_checksum(raw + RECOVERY_KEY_BYTES, key);
	for (size_t d = 0; d < RECOVERY_DIGITS; d++) {
		unsigned v = 0;
		for (size_t b = 0; b < 5; b++)
			v = (v << 1) | recovery_bit(raw, 5 * d + b);
		if (d > 0 && d % RECOVERY_GROUP == 0)
			*p++ = '-';
		*p++ = recovery_alphabet[v];
	}
	*p = '\0';
	sodium_memzero(raw, sizeof(raw));
	return 0;
}

/* Value of one digit, or -1; case-insensitive, O reads 0, I and L read 1. */
static int recovery_digit(char c)
{
	if (c >= 'a' && c <= 'z')
		c = (char)(c - 'a' + 'A');
	if (c == 'O')
		c = '0';
	if (c == 'I' || c == 'L')
		c = '1';
	for (int i = 0; i < 32; i++)
		if (recovery_alphabet[i] == c)
			return i;
	return -1;
}

static bool recovery_is_separator(char c)
{
	return c == '-' || c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Packs the digits of text into raw; 0, or -EINVAL for a bad digit or count. */
static int recovery_unpack(unsigned char raw[RECOVERY_RAW_BYTES], const char *text)
{
	unsigned char pad = 0;
	size_t nbits = 0;

	memset(raw, 0, RECOVERY_RAW_BYTES);
	for (const char *p = text; *p; p++) {
		int v = recovery_digit(*p);
		if (recovery_is_separator(*p))
			continue;
		if (v < 0 || nbits >= 5 * RECOVERY_DIGITS)
			return -EINVAL;
		for (int b = 4; b >= 0; b--, nbits++) {
			unsigned bit = ((unsigned)v >> b) & 1u;
			if (nbits < 8 * RECOVERY_RAW_BYTES)
				raw[nbits / 8] |= (unsigned char)(bit << (7 - nbits % 8));
			else
				pad |= (unsigned char)bit;
		}
	}
	return nbits == 5 * RECOVERY_DIGITS && pad == 0 ? 0 : -EINVAL;
}

int recovery_decode(unsigned char key[RECOVERY_KEY_BYTES], const char *text)
{
	unsigned char raw[RECOVERY_RAW_BYTES], check[RECOVERY_CHECK_BYTES];
	int r = text ? recovery_unpack(raw, text) : -EINVAL;

	if (r == 0) {
		recovery_checksum(check, raw);
		if (sodium_memcmp(check, raw + RECOVERY_KEY_BYTES, RECOVERY_CHECK_BYTES) != 0)
			r = -EINVAL;
	}
	if (r == 0)
		memcpy(key, raw, RECOVERY_KEY_BYTES);
	else
		sodium_memzero(key, RECOVERY_KEY_BYTES);
	sodium_memzero(raw, sizeof(raw));
	return r;
}
