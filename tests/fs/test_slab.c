/* test_slab.c - fs/util/slab.h: objects come zeroed, rounded to 8 bytes,
 * never overlap while live, a freed object is wiped and reused by the next
 * one of its size class, objects larger than SLAB_MAX go to malloc, and
 * every chunk is 1 MiB (the bytes held grow by chunks, not by objects).
 * Under AddressSanitizer the slab is plain calloc/free: the checks that
 * depend on reuse are skipped there. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "slab.h"

#define N 20000

static bool all_zero(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

int main(void)
{
	static struct slab s = SLAB_INIT;
	static unsigned char *p[N];
	bool pooled;

	for (int i = 0; i < N; i++) {
		size_t size = 140 + (size_t)(i % 40); /* inode-like sizes, several classes */
		p[i] = slab_alloc(&s, size);
		CHECK(p[i] != NULL);
		CHECK(((uintptr_t)p[i] & (SLAB_ALIGN - 1)) == 0);
		CHECK(p[i] && all_zero(p[i], size));
		if (p[i])
			memset(p[i], 0xa5 ^ (i & 0xff), size);
	}
	/* Live objects never overlap: each still holds its own pattern. */
	for (int i = 0; i < N; i++)
		CHECK(p[i] && p[i][0] == (0xa5 ^ (i & 0xff)) &&
		      p[i][139 + i % 40] == (0xa5 ^ (i & 0xff)));
	pooled = slab_bytes(&s) > 0;
	if (pooled) /* 20,000 objects of ~160 bytes: 3 or 4 chunks of 1 MiB */
		CHECK(slab_bytes(&s) <= 4 * (size_t)SLAB_CHUNK);
	/* A freed object of a class comes back, zeroed, for the same class. */
	slab_free(&s, p[7], 140 + 7);
	{
		unsigned char *q = slab_alloc(&s, 144); /* class 144: not p[7]'s */
		unsigned char *r = slab_alloc(&s, 150); /* class 152, as 147 */
		CHECK(q && r && all_zero(r, 150) && all_zero(q, 144));
		if (pooled)
			CHECK(r == p[7]);
		slab_free(&s, q, 144);
		slab_free(&s, r, 150);
	}
	/* Larger than SLAB_MAX: malloc's, freed the same way. */
	{
		unsigned char *big = slab_alloc(&s, SLAB_MAX + 1);
		CHECK(big && all_zero(big, SLAB_MAX + 1));
		slab_free(&s, big, SLAB_MAX + 1);
	}
	for (int i = 0; i < N; i++)
		if (i != 7)
			slab_free(&s, p[i], 140 + (size_t)(i % 40));
	slab_destroy(&s);
	CHECK(slab_bytes(&s) == 0);
	return check_done("test_slab");
}
