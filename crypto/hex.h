/* hex.h - lowercase hexadecimal for ids, store keys and config fields
 * (docs/FORMAT.md: "hex" is lowercase). Pure: no I/O, no allocation. */
#ifndef SEALFS_HEX_H
#define SEALFS_HEX_H

#include <stddef.h>

/* Writes 2 * bin_len lowercase hex digits and a NUL into out (out_size bytes).
 * Returns 0, or -ENOSPC when out_size < 2 * bin_len + 1 (out untouched). */
int hex_encode(char *out, size_t out_size, const unsigned char *bin, size_t bin_len);

/* Decodes exactly bin_len bytes from hex[0..hex_len), which must be exactly
 * 2 * bin_len lowercase hex digits. Returns 0, or -EINVAL (bin zeroed). */
int hex_decode(unsigned char *bin, size_t bin_len, const char *hex, size_t hex_len);

#endif
