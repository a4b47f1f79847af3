/* hex.c - lowercase hexadecimal: libsodium's constant-time encoder, and a
 * decoder with the same constant-time arithmetic.
 * Never accepts upper case or separators: stored hex has one spelling. */
#include "hex.h"

#include <errno.h>
#include <string.h>

#include <sodium.h>

int hex_encode(char *out, size_t out_size, const unsigned char *bin, size_t bin_len)
{
	if (bin_len > (out_size - 1) / 2 || out_size == 0)
		return -ENOSPC;
	sodium_bin2hex(out, out_size, bin, bin_len);
	return 0;
}

/* The value of one lowercase hex digit c (0..255) in the low 4 bits, and
 * bit 8 set when c is not one: libsodium's sodium_hex2bin arithmetic
 * (masks, no branch or table indexed by c, so no timing that depends on the
 * digits) without its separators and upper case, which stored hex never
 * has. sodium_hex2bin plus a separate check of the spelling was 19 % of the
 * daemon's instructions in a cold `find` (docs/PERFORMANCE.md, session 7);
 * test_hex_suite compares this with sodium_hex2bin on every byte value. */
static unsigned hex_digit(unsigned c)
{
	unsigned num = c ^ 48u;					  /* '0'..'9' -> 0..9 */
	unsigned num_ok = (num - 10u) >> 8;			  /* all ones iff num < 10 */
	unsigned alpha = c - 87u;				  /* 'a'..'f' -> 10..15 */
	unsigned alpha_ok = ((alpha - 10u) ^ (alpha - 16u)) >> 8; /* iff 10 <= alpha < 16 */

	return (((num_ok & num) | (alpha_ok & alpha)) & 0xfu) | ((~(num_ok | alpha_ok) & 1u) << 8);
}

int hex_decode(unsigned char *bin, size_t bin_len, const char *hex, size_t hex_len)
{
	unsigned bad = 0;

	if (hex_len / 2 != bin_len || hex_len % 2 != 0) {
		memset(bin, 0, bin_len);
		return -EINVAL;
	}
	for (size_t i = 0; i < bin_len; i++) {
		unsigned hi = hex_digit((unsigned char)hex[2 * i]);
		unsigned lo = hex_digit((unsigned char)hex[2 * i + 1]);

		bad |= hi | lo;
		bin[i] = (unsigned char)((hi << 4) | (lo & 0xfu));
	}
	if (bad & 0x100u) {
		memset(bin, 0, bin_len);
		return -EINVAL;
	}
	return 0;
}
