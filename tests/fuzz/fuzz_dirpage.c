/* fuzz_dirpage.c - paged directories (crypto/dirpage.h) on any bytes: the
 * first byte picks the decoder (0: the index; else a page of directory
 * 0123456789abcdef0123456789abcdef, among 2 << (byte >> 4) % 12 slots, slot
 * the byte's low bits); whatever decodes must keep the rules and encode and
 * decode again to the same encoding. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dirpage.h"
#include "fuzz.h"

static const uint8_t fuzz_dir_id[OBJECT_ID_BYTES] = {
    0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef};

static void fuzz_index(const char *s, size_t n)
{
	struct dirpage_index ix, ix2;
	char *a = NULL, *b = NULL;
	size_t alen = 0, blen = 0, present = 0;
	int r = dirpage_index_decode(&ix, s, n);

	FUZZ_ASSERT(r == 0 || r == -EBADMSG || r == -ENOMSG || r == -ENOMEM);
	if (r != 0)
		return;
	FUZZ_ASSERT(ix.nslots >= DIRPAGE_SLOTS_MIN && ix.nslots <= DIRPAGE_SLOTS_MAX &&
		    (ix.nslots & (ix.nslots - 1)) == 0);
	for (size_t i = 0; i < ix.nslots; i++)
		present += ix.slots[i].present;
	FUZZ_ASSERT(present >= 1 && present <= ix.nentries);
	FUZZ_ASSERT(dirpage_index_encode(&a, &alen, &ix) == 0);
	FUZZ_ASSERT(dirpage_maybe_index(a, alen));
	FUZZ_ASSERT(dirpage_index_decode(&ix2, a, alen) == 0);
	FUZZ_ASSERT(dirpage_index_encode(&b, &blen, &ix2) == 0);
	FUZZ_ASSERT(alen == blen && memcmp(a, b, alen) == 0);
	free(a);
	free(b);
	dirpage_index_release(&ix2);
	dirpage_index_release(&ix);
}

static void fuzz_page(const char *s, size_t n, size_t slot, size_t nslots)
{
	struct dirobj p, p2;
	char *a = NULL, *b = NULL;
	size_t alen = 0, blen = 0;
	int r = dirpage_page_decode(&p, s, n, fuzz_dir_id, slot, nslots, DIROBJ_FORMAT_MAX);

	FUZZ_ASSERT(r == 0 || r == -EBADMSG || r == -ENOMEM);
	if (r != 0)
		return;
	FUZZ_ASSERT(p.nentries >= 1 && memcmp(p.dir_id, fuzz_dir_id, OBJECT_ID_BYTES) == 0);
	for (size_t i = 0; i < p.nentries; i++)
		FUZZ_ASSERT(dirpage_slot_of(p.entries[i].id, nslots) == slot);
	FUZZ_ASSERT(dirpage_page_encode(&a, &alen, &p, slot, nslots, DIROBJ_FORMAT_MAX) == 0);
	FUZZ_ASSERT(!dirpage_maybe_index(a, alen));
	FUZZ_ASSERT(
	    dirpage_page_decode(&p2, a, alen, fuzz_dir_id, slot, nslots, DIROBJ_FORMAT_MAX) == 0);
	FUZZ_ASSERT(dirpage_page_encode(&b, &blen, &p2, slot, nslots, DIROBJ_FORMAT_MAX) == 0);
	FUZZ_ASSERT(alen == blen && memcmp(a, b, alen) == 0);
	free(a);
	free(b);
	dirobj_release(&p2);
	dirobj_release(&p);
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
	nslots = (size_t)2 << ((data[0] >> 4) % 12);
	fuzz_page((const char *)data + 1, size - 1, (data[0] & 0x0f) & (nslots - 1), nslots);
	return 0;
}
