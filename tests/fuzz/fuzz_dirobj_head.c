/* fuzz_dirobj_head.c - dirobj_head_decode on any bytes, under every format
 * (1 and 2); whatever decodes must encode and decode again to the same
 * encoding. No head decodes under both formats: each requires members the
 * other refuses. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dirobj.h"
#include "fuzz.h"

static int fuzz_one(const uint8_t *data, size_t size, int format)
{
	struct dirobj_head h, h2;
	char *a = NULL, *b = NULL;
	size_t alen = 0, blen = 0;
	int r = dirobj_head_decode(&h, (const char *)data, size, format);

	FUZZ_ASSERT(r == 0 || r == -EBADMSG || r == -ENOMEM);
	if (r != 0)
		return r;
	FUZZ_ASSERT(h.root.type == DIROBJ_DIR && h.root.name_len == 0);
	FUZZ_ASSERT(dirobj_head_encode(&a, &alen, &h, format) == 0);
	FUZZ_ASSERT(dirobj_head_decode(&h2, a, alen, format) == 0);
	FUZZ_ASSERT(dirobj_head_encode(&b, &blen, &h2, format) == 0);
	FUZZ_ASSERT(alen == blen && memcmp(a, b, alen) == 0 && h.seq == h2.seq);
	free(a);
	free(b);
	dirobj_head_release(&h2);
	dirobj_head_release(&h);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int r1 = fuzz_one(data, size, 1), r2 = fuzz_one(data, size, 2);

	FUZZ_ASSERT(r1 != 0 || r2 != 0);
	return 0;
}
