/* hex.c - lowercase hexadecimal: libsodium's constant-time encoder, and a
 * decoder with the same constant-time arithmetic.
 * Never accepts upper case or separators: stored hex has one spelling. */
#include "hex.h"

#include <endian.h>
#include <errno.h>
#include <stdint.h>
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

#define HEX_L 0x0101010101010101ull
#define HEX_H 0x8080808080808080ull

/* Eight digits at once, the same arithmetic on each byte of a 64-bit word
 * (no branch or table on their values): the 4 bytes they spell go to out,
 * and the result has a byte's high bit clear for each character that is
 * not a lowercase digit. For bytes below 0x80, (x | H) - k*L sets a byte's
 * high bit iff that byte >= k, and ((k | 0x80) * L) - x iff it is <= k,
 * without a borrow crossing bytes. */
static uint64_t hex_decode8(unsigned char out[4], const char *hex)
{
	uint64_t x, ok, alpha, v, t;
	uint32_t w;

	memcpy(&x, hex, sizeof(x));
	x = le64toh(x); /* the first digit in the low byte, whatever the host */
	alpha = ((x | HEX_H) - 0x61 * HEX_L) & ((0xe6 * HEX_L) - x) & HEX_H; /* 'a'..'f' */
	ok =
	    (((x | HEX_H) - 0x30 * HEX_L) & ((0xb9 * HEX_L) - x) & HEX_H) | alpha; /* or '0'..'9' */
	ok &= ~x;								   /* and ASCII */
	v = (x & (0x0f * HEX_L)) + (alpha >> 7) * 9; /* each byte its digit's value */
	t = ((v & 0x000f000f000f000full) << 4) | ((v >> 8) & 0x000f000f000f000full);
	t = (t | (t >> 8)) & 0x0000ffff0000ffffull;
	t = (t | (t >> 16)) & 0xffffffffull;
	w = htole32((uint32_t)t);
	memcpy(out, &w, sizeof(w));
	return ok;
}

int hex_decode(unsigned char *bin, size_t bin_len, const char *hex, size_t hex_len)
{
	uint64_t ok = HEX_H;
	unsigned bad = 0;
	size_t i = 0;

	if (hex_len / 2 != bin_len || hex_len % 2 != 0) {
		memset(bin, 0, bin_len);
		return -EINVAL;
	}
	for (; i + 4 <= bin_len; i += 4)
		ok &= hex_decode8(bin + i, hex + 2 * i);
	bad = ok != HEX_H ? 0x100u : 0;
	for (; i < bin_len; i++) {
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
