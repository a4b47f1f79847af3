/* fuzz_dirobj_head.c - dirobj_head_decode on any bytes; whatever decodes must
 * encode and decode again to the same encoding. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dirobj.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dirobj_head h, h2;
	char *a = NULL, *b = NULL;
	size_t alen = 0, blen = 0;
	int r = dirobj_head_decode(&h, (const char *)data, size);

	FUZZ_ASSERT(r == 0 || r == -EBADMSG || r == -ENOMEM);
	if (r != 0)
		return 0;
	FUZZ_ASSERT(h.root.type == DIROBJ_DIR && h.root.name_len == 0);
	FUZZ_ASSERT(dirobj_head_encode(&a, &alen, &h) == 0);
	FUZZ_ASSERT(dirobj_head_decode(&h2, a, alen) == 0);
	FUZZ_ASSERT(dirobj_head_encode(&b, &blen, &h2) == 0);
	FUZZ_ASSERT(alen == blen && memcmp(a, b, alen) == 0 && h.seq == h2.seq);
	free(a);
	free(b);
	dirobj_head_release(&h2);
	dirobj_head_release(&h);
	return 0;
}
