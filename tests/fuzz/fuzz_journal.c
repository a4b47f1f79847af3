/* fuzz_journal.c - journal_record_parse on any bytes, as a damaged or torn
 * CACHE/journal slot would hold them: once as they are (the checksum must
 * refuse nearly all), once with a correct checksum appended, so the fuzzer
 * reaches the field decoder. An accepted record must point only inside its
 * buffer and encode the counts it holds; a refused one leaves *out zeroed. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "fuzz.h"
#include "journal.h"

static void check(const unsigned char *data, size_t size)
{
	struct journal_record r;
	unsigned char *buf = malloc(size ? size : 1);
	int e;

	if (!buf)
		return;
	memcpy(buf, data, size);
	e = journal_record_parse(&r, buf, size); /* takes buf */
	FUZZ_ASSERT(e == 0 || e == -EBADMSG || e == -ENOMEM);
	if (e) {
		FUZZ_ASSERT(!r.buf && !r.objs && !r.nobjs && !r.head);
		return;
	}
	const unsigned char *lo = r.buf, *hi = r.buf + size - JOURNAL_SUM_BYTES;
	FUZZ_ASSERT(r.head >= lo && r.head + r.head_len <= hi);
	for (size_t i = 0; i < r.nobjs; i++)
		FUZZ_ASSERT(r.objs[i].data >= lo && r.objs[i].data + r.objs[i].len <= hi);
	FUZZ_ASSERT(!r.nsegs || ((const unsigned char *)r.segs >= lo &&
				 (const unsigned char *)(r.segs + r.nsegs) <= hi));
	FUZZ_ASSERT(!r.ngarbage || ((const unsigned char *)r.garbage >= lo &&
				    (const unsigned char *)(r.garbage + r.ngarbage) <= hi));
	journal_record_release(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char *sealed;

	if (size > ((size_t)1 << 20))
		return 0;
	check(data, size);
	sealed = malloc(size + JOURNAL_SUM_BYTES);
	if (!sealed)
		return 0;
	memcpy(sealed, data, size);
	crypto_generichash(sealed + size, JOURNAL_SUM_BYTES, sealed, size, NULL, 0);
	check(sealed, size + JOURNAL_SUM_BYTES);
	free(sealed);
	return 0;
}
