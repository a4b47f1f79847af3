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

static int test_failures;

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);            \
			test_failures++;                                                           \
		}                                                                                  \
	} while (0)

/* Checks an int result against what the contract promises, printing both. */
#define CHECK_RC(expr, want)                                                                       \
	do {                                                                                       \
		long long got_ = (long long)(expr);                                                \
		if (got_ != (long long)(want)) {                                                   \
			fprintf(stderr, "FAIL %s:%d: %s = %lld, want %lld\n", __FILE__, __LINE__,  \
				#expr, got_, (long long)(want));                                   \
			test_failures++;                                                           \
		}                                                                                  \
	} while (0)

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

static inline int test_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* rm -rf path. */
static inline void test_rm_rf(const char *path)
{
	nftw(path, test_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

#endif
