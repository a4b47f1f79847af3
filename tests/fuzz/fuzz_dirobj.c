/* fuzz_dirobj.c - dirobj_decode on any bytes, under every format: whatever
 * decodes must encode, and decode again to the same encoding (the encoder
 * and decoder agree) under the same format. dirobj_decode tries the
 * one-pass parser of canonical bytes first (dirobj_fast.c); the jansson
 * decoder alone must give the same answer and, on success, the same
 * encoding, so the fast path never accepts or reads differently. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dirobj.h"
#include "dirobj_fast.h"
#include "fuzz.h"

/* The jansson decoder alone agrees with dirobj_decode: same result and, when
 * both decode, the same encoding as enc (alen bytes; NULL when r != 0). */
static void fuzz_same_as_jansson(const uint8_t *data, size_t size, int format, int r,
				 const char *enc, size_t alen)
{
	struct dirobj j;
	char *c = NULL;
	size_t clen = 0;
	int rj = dirobj_decode_jansson(&j, (const char *)data, size, format);

	if (r == -ENOMEM || rj == -ENOMEM)
		return;
	FUZZ_ASSERT(rj == r);
	if (rj != 0)
		return;
	FUZZ_ASSERT(dirobj_encode(&c, &clen, &j, format) == 0);
	FUZZ_ASSERT(clen == alen && memcmp(c, enc, alen) == 0);
	free(c);
	dirobj_release(&j);
}

static int fuzz_one(const uint8_t *data, size_t size, int format)
{
	struct dirobj d, d2;
	char *a = NULL, *b = NULL;
	size_t alen = 0, blen = 0;
	int r = dirobj_decode(&d, (const char *)data, size, format);

	FUZZ_ASSERT(r == 0 || r == -EBADMSG || r == -ENOMEM);
	if (r != 0) {
		FUZZ_ASSERT(d.entries == NULL && d.nentries == 0);
		fuzz_same_as_jansson(data, size, format, r, NULL, 0);
		return r;
	}
	FUZZ_ASSERT(dirobj_encode(&a, &alen, &d, format) == 0);
	fuzz_same_as_jansson(data, size, format, r, a, alen);
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
