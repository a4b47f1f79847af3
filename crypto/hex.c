/* hex.c - lowercase hexadecimal through libsodium's constant-time codecs.
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

static int hex_is_lower_digits(const char *hex, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		char c = hex[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return 0;
	}
	return 1;
}

int hex_decode(unsigned char *bin, size_t bin_len, const char *hex, size_t hex_len)
{
	size_t got = 0;

	if (hex_len / 2 != bin_len || hex_len % 2 != 0 || !hex_is_lower_digits(hex, hex_len))
		goto bad;
	if (sodium_hex2bin(bin, bin_len, hex, hex_len, NULL, &got, NULL) != 0 || got != bin_len)
		goto bad;
	return 0;
bad:
	memset(bin, 0, bin_len);
	return -EINVAL;
}
