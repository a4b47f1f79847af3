/* check.h - the tiny assertion kit of the crypto unit tests: each failed check
 * prints one line and the test exits non-zero. Never aborts on the first
 * failure, so one run shows every broken case. */
#ifndef SEALFS_TEST_CHECK_H
#define SEALFS_TEST_CHECK_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

static int check_failures;
static int check_count;

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		check_count++;                                                                     \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);   \
			check_failures++;                                                          \
		}                                                                                  \
	} while (0)

#define CHECK_RC(expr, want)                                                                       \
	do {                                                                                       \
		int check_rc_ = (expr);                                                            \
		check_count++;                                                                     \
		if (check_rc_ != (want)) {                                                         \
			fprintf(stderr, "%s:%d: %s returned %d, want %d\n", __FILE__, __LINE__,    \
				#expr, check_rc_, (int)(want));                                    \
			check_failures++;                                                          \
		}                                                                                  \
	} while (0)

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

/* Lines of /proc/self/maps: the process's mappings, or -1 when unreadable. */
static inline long check_maps_count(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	long n = 0;
	int c;

	if (!f)
		return -1;
	while ((c = getc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

static inline int check_done(const char *name)
{
	if (check_failures) {
		fprintf(stderr, "%s: %d of %d checks failed\n", name, check_failures, check_count);
		return 1;
	}
	printf("%s: %d checks passed\n", name, check_count);
	return 0;
}

#endif
