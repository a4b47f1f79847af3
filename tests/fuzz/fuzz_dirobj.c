/* fuzz_dirobj.c - dirobj_decode on any bytes, under every format (1 and 2):
 * whatever decodes must encode, and decode again to the same encoding (the
 * encoder and decoder agree) under the same format. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dirobj.h"
#include "fuzz.h"

static int fuzz_one(const uint8_t *data, size_t size, int format)
{
	struct dirobj d, d2;
	char *a = NULL, *b = NULL;
	size_t alen = 0, blen = 0;
	int r = dirobj_decode(&d, (const char *)data, size, format);

	FUZZ_ASSERT(r == 0 || r == -EBADMSG || r == -ENOMEM);
	if (r != 0) {
		FUZZ_ASSERT(d.entries == NULL && d.nentries == 0);
		return r;
	}
	FUZZ_ASSERT(dirobj_encode(&a, &alen, &d, format) == 0);
	FUZZ_ASSERT(dirobj_decode(&d2, a, alen, format) == 0);
	FUZZ_ASSERT(dirobj_encode(&b, &blen, &d2, format) == 0);
	FUZZ_ASSERT(alen == blen && memcmp(a, b, alen) == 0);
	free(a);
	free(b);
	dirobj_release(&d2);
	dirobj_release(&d);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	for (int f = DIROBJ_FORMAT_MIN; f <= DIROBJ_FORMAT_MAX; f++)
		fuzz_one(data, size, f);
	return 0;
}
