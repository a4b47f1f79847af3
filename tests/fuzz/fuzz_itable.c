/* fuzz_itable.c - the inode table's pages (crypto/itable.h) on any bytes:
 * the first byte picks the decoder (0: the index; else a leaf, slot = the
 * byte's low bits among 1 << (byte >> 4) slots); whatever decodes must
 * encode and decode again to the same encoding. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "itable.h"

static void fuzz_index(const char *s, size_t n)
{
	struct itable_index ix, ix2;
	char *a = NULL, *b = NULL;
	size_t alen = 0, blen = 0;
	int r = itable_index_decode(&ix, s, n);

	FUZZ_ASSERT(r == 0 || r == -EBADMSG || r == -ENOMEM);
	if (r != 0)
		return;
	FUZZ_ASSERT(ix.n >= 1 && ix.n <= ITABLE_SLOTS_MAX && (ix.n & (ix.n - 1)) == 0);
	FUZZ_ASSERT(itable_index_encode(&a, &alen, &ix) == 0);
	FUZZ_ASSERT(itable_index_decode(&ix2, a, alen) == 0);
	FUZZ_ASSERT(itable_index_encode(&b, &blen, &ix2) == 0);
	FUZZ_ASSERT(alen == blen && memcmp(a, b, alen) == 0);
	free(a);
	free(b);
	itable_index_release(&ix2);
	itable_index_release(&ix);
}

static void fuzz_leaf(const char *s, size_t n, size_t slot, size_t nslots)
{
	struct itable_leaf l, l2;
	char *a = NULL, *b = NULL;
	size_t alen = 0, blen = 0;
	int r = itable_leaf_decode(&l, s, n, slot, nslots);

	FUZZ_ASSERT(r == 0 || r == -EBADMSG || r == -ENOMEM);
	if (r != 0)
		return;
	for (size_t i = 0; i < l.n; i++)
		FUZZ_ASSERT(l.recs[i].nlink >= 1 && itable_slot_of(l.recs[i].e.id, nslots) == slot);
	FUZZ_ASSERT(itable_leaf_encode(&a, &alen, &l, slot, nslots) == 0);
	FUZZ_ASSERT(itable_leaf_decode(&l2, a, alen, slot, nslots) == 0);
	FUZZ_ASSERT(itable_leaf_encode(&b, &blen, &l2, slot, nslots) == 0);
	FUZZ_ASSERT(alen == blen && memcmp(a, b, alen) == 0);
	free(a);
	free(b);
	itable_leaf_release(&l2);
	itable_leaf_release(&l);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t nslots;

	if (size < 1)
		return 0;
	if (data[0] == 0) {
		fuzz_index((const char *)data + 1, size - 1);
		return 0;
	}
	nslots = (size_t)1 << (data[0] >> 4);
	fuzz_leaf((const char *)data + 1, size - 1, (data[0] & 0x0f) & (nslots - 1), nslots);
	return 0;
}
