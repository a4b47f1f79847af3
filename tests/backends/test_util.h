/* test_util.h - checks and helpers shared by the store tests. Included by one
 * .c per test program; it must never hold anything a store depends on. */
#ifndef SEALFS_TEST_BACKENDS_UTIL_H
#define SEALFS_TEST_BACKENDS_UTIL_H

#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "check.h"
#include "testdir.h"

static inline uint64_t test_random64(void)
{
	uint64_t v = 0;

	if (getrandom(&v, sizeof(v), 0) != (ssize_t)sizeof(v))
		v = (uint64_t)getpid() * 0x9e3779b97f4a7c15ull;
	return v;
}

/* Fills buf with a pseudo-random stream chosen by seed (xorshift64*). */
static inline void test_fill(unsigned char *buf, size_t len, uint64_t seed)
{
	uint64_t x = seed | 1;
	size_t i;

	for (i = 0; i < len; i++) {
		if (i % 8 == 0) {
			x ^= x >> 12;
			x ^= x << 25;
			x ^= x >> 27;
		}
		buf[i] = (unsigned char)((x * 0x2545f4914f6cdd1dull) >> (8 * (i % 8)));
	}
}

/* "t/<16 hex>/": a key prefix no other run uses, so runs can share a store. */
static inline void test_run_prefix(char out[20])
{
	snprintf(out, 20, "t/%016llx/", (unsigned long long)test_random64());
}

#endif
