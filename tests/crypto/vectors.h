/* vectors.h - test-vector helpers of the crypto tests: hex literals of
 * published or spec-derived vectors decoded and compared, and a zero check for
 * outputs that must be wiped. The checks themselves are tests/include/check.h's. */
#ifndef SEALFS_TEST_VECTORS_H
#define SEALFS_TEST_VECTORS_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "check.h"

static inline bool check_all_zero(const void *buf, size_t len)
{
	const unsigned char *p = buf;

	for (size_t i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

/* Decodes a hex literal of a test vector; aborts on a malformed literal. */
static inline void check_unhex(unsigned char *out, size_t len, const char *hex)
{
	size_t got = 0;

	if (strlen(hex) != 2 * len ||
	    sodium_hex2bin(out, len, hex, strlen(hex), NULL, &got, NULL) != 0 || got != len) {
		fprintf(stderr, "bad test vector literal %s\n", hex);
		exit(2);
	}
}

/* Whether bin equals the hex literal; prints both when not. */
static inline bool check_hex_eq(const unsigned char *bin, size_t len, const char *hex)
{
	char *got = malloc(2 * len + 1);
	bool ok;

	if (!got)
		return false;
	sodium_bin2hex(got, 2 * len + 1, bin, len);
	ok = strcmp(got, hex) == 0;
	if (!ok)
		fprintf(stderr, "  got  %s\n  want %s\n", got, hex);
	free(got);
	return ok;
}

#endif
