/* fuzz_itable.c - the inode table's pages (crypto/itable.h) on any bytes:
 * the first byte picks the decoder (0: the index; else a leaf, slot = the
 * byte's low bits among 1 << (byte >> 4) slots, under the rules of format 2
 * and of format 3); whatever decodes must encode and decode again to the
 * same encoding, and format 3 must read what format 2 reads. */
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

/* One leaf under format fmt's rules; returns the decoder's result. */
static int fuzz_leaf_fmt(const char *s, size_t n, size_t slot, size_t nslots, int fmt)
{
	struct itable_leaf l, l2;
	char *a = NULL, *b = NULL;
	size_t alen = 0, blen = 0;
	int r = itable_leaf_decode_fmt(&l, s, n, slot, nslots, fmt);

	FUZZ_ASSERT(r == 0 || r == -EBADMSG || r == -ENOMEM);
	if (r != 0)
		return r;
	for (size_t i = 0; i < l.n; i++)
		FUZZ_ASSERT(l.recs[i].nlink >= 1 &&
			    itable_slot_of(l.recs[i].e.id, nslots) == slot &&
			    (fmt >= 3 || l.recs[i].e.type == DIROBJ_FILE) &&
			    l.recs[i].e.type != DIROBJ_DIR && l.recs[i].e.type != DIROBJ_HARDLINK);
	FUZZ_ASSERT(itable_leaf_encode_fmt(&a, &alen, &l, slot, nslots, fmt) == 0);
	FUZZ_ASSERT(itable_leaf_decode_fmt(&l2, a, alen, slot, nslots, fmt) == 0);
	FUZZ_ASSERT(itable_leaf_encode_fmt(&b, &blen, &l2, slot, nslots, fmt) == 0);
	FUZZ_ASSERT(alen == blen && memcmp(a, b, alen) == 0);
	free(a);
	free(b);
	itable_leaf_release(&l2);
	itable_leaf_release(&l);
	return 0;
}

/* Format 3 reads every format-2 leaf (its records are regular files). */
static void fuzz_leaf(const char *s, size_t n, size_t slot, size_t nslots)
{
	int r2 = fuzz_leaf_fmt(s, n, slot, nslots, 2);
	int r3 = fuzz_leaf_fmt(s, n, slot, nslots, 3);

	FUZZ_ASSERT(r2 != 0 || r3 == 0);
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
