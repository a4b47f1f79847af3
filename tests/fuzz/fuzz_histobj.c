/* fuzz_histobj.c - history pages and garbage lists (crypto/histobj.h) on any
 * bytes: the first byte picks the decoder (even: page, odd: garbage list);
 * whatever decodes must encode and decode again to the same encoding. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "histobj.h"

static void fuzz_page(const char *s, size_t n)
{
	struct histobj_page p, p2;
	char *a = NULL, *b = NULL;
	size_t alen = 0, blen = 0;
	int r = histobj_page_decode(&p, s, n);

	FUZZ_ASSERT(r == 0 || r == -EBADMSG || r == -ENOMEM);
	if (r != 0)
		return;
	FUZZ_ASSERT(p.n >= 1 && p.n <= HISTOBJ_PAGE_MAX);
	FUZZ_ASSERT(histobj_page_encode(&a, &alen, &p) == 0);
	FUZZ_ASSERT(histobj_page_decode(&p2, a, alen) == 0);
	FUZZ_ASSERT(histobj_page_encode(&b, &blen, &p2) == 0);
	FUZZ_ASSERT(alen == blen && memcmp(a, b, alen) == 0);
	free(a);
	free(b);
	histobj_page_release(&p2);
	histobj_page_release(&p);
}

static void fuzz_garbage(const char *s, size_t n)
{
	struct histobj_garbage g, g2;
	char *a = NULL, *b = NULL;
	size_t alen = 0, blen = 0;
	int r = histobj_garbage_decode(&g, s, n);

	FUZZ_ASSERT(r == 0 || r == -EBADMSG || r == -ENOMEM);
	if (r != 0)
		return;
	FUZZ_ASSERT(g.n <= HISTOBJ_GARBAGE_MAX);
	for (size_t i = 0; i < g.n; i++)
		FUZZ_ASSERT(g.items[i].created <= g.items[i].dropped);
	FUZZ_ASSERT(histobj_garbage_encode(&a, &alen, &g) == 0);
	FUZZ_ASSERT(histobj_garbage_decode(&g2, a, alen) == 0);
	FUZZ_ASSERT(histobj_garbage_encode(&b, &blen, &g2) == 0);
	FUZZ_ASSERT(alen == blen && memcmp(a, b, alen) == 0);
	free(a);
	free(b);
	histobj_garbage_release(&g2);
	histobj_garbage_release(&g);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	if (data[0] % 2 == 0)
		fuzz_page((const char *)data + 1, size - 1);
	else
		fuzz_garbage((const char *)data + 1, size - 1);
	return 0;
}
