/* fuzz_journal.c - journal_record_parse on any bytes, as a damaged or torn
 * CACHE/journal slot would hold them: once as they are (the checksum must
 * refuse nearly all), once with a correct checksum appended, so the fuzzer
 * reaches the field decoder. An accepted record must point only inside its
 * buffer and encode the counts it holds; a refused one leaves *out zeroed.
 * The reader in pieces (jstream_read, fs/cache/journal_stream.c, over the
 * same bytes in a memfd) must give the same verdict and the same fields,
 * each object's bytes at its offset, version 3's patched list (not its
 * patch entries). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <sodium.h>

#include "fuzz.h"
#include "journal.h"
#include "journal_stream.h"

/* jstream_read of data agrees with journal_record_parse's verdict e and
 * record r (valid when e == 0). */
static void check_stream(const unsigned char *data, size_t size, int e,
			 const struct journal_record *r)
{
	struct journal_record s;
	int fd = memfd_create("fuzz-journal", MFD_CLOEXEC), es;

	if (fd < 0)
		return;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return;
	}
	es = jstream_read(&s, fd, size);
	FUZZ_ASSERT(es == e || es == -ENOMEM || e == -ENOMEM);
	if (es == 0 && e == 0) {
		FUZZ_ASSERT(s.seq == r->seq && s.head_len == r->head_len &&
			    (!r->head_len || memcmp(s.head, r->head, r->head_len) == 0));
		FUZZ_ASSERT(s.nobjs == r->nobjs && s.nsegs == r->nsegs &&
			    s.ngarbage == r->ngarbage && s.ndead == r->ndead);
		for (size_t i = 0; i < s.nobjs; i++) {
			FUZZ_ASSERT(!s.objs[i].data && s.objs[i].len == r->objs[i].len);
			FUZZ_ASSERT(memcmp(s.objs[i].key, r->objs[i].key, OBJECT_ID_BYTES) == 0);
			FUZZ_ASSERT(r->objs[i].data == data + s.objs[i].off);
		}
		FUZZ_ASSERT(!s.nsegs || memcmp(s.segs, r->segs, s.nsegs * OBJECT_ID_BYTES) == 0);
		FUZZ_ASSERT(!s.ngarbage ||
			    memcmp(s.garbage, r->garbage, s.ngarbage * OBJECT_ID_BYTES) == 0);
		FUZZ_ASSERT(!s.ndead || memcmp(s.dead, r->dead, s.ndead * JOURNAL_DEAD_BYTES) == 0);
		FUZZ_ASSERT(s.npatched == r->npatched && !s.patches);
		FUZZ_ASSERT(!s.npatched ||
			    memcmp(s.patched, r->patched, s.npatched * JOURNAL_PATCHED_BYTES) == 0);
	}
	journal_record_release(&s);
	close(fd);
}

static void check(const unsigned char *data, size_t size)
{
	struct journal_record r;
	unsigned char *buf = malloc(size ? size : 1);
	int e;

	if (!buf)
		return;
	memcpy(buf, data, size);
	e = journal_record_parse(&r, buf, size); /* takes buf */
	FUZZ_ASSERT(e == 0 || e == -EBADMSG || e == -ENOMEM || e == -EPROTONOSUPPORT);
	/* a newer sealfs's record is told apart from a torn one */
	FUZZ_ASSERT((e == -EPROTONOSUPPORT) == (size >= JOURNAL_MAGIC_BYTES + JOURNAL_SUM_BYTES &&
						journal_newer(data, size - JOURNAL_SUM_BYTES)));
	if (e) {
		FUZZ_ASSERT(!r.buf && !r.objs && !r.nobjs && !r.head);
		check_stream(data, size, e, &r);
		return;
	}
	check_stream(r.buf, size, e, &r);
	const unsigned char *lo = r.buf, *hi = r.buf + size - JOURNAL_SUM_BYTES;
	FUZZ_ASSERT(r.head >= lo && r.head + r.head_len <= hi);
	for (size_t i = 0; i < r.nobjs; i++)
		FUZZ_ASSERT(r.objs[i].data >= lo && r.objs[i].data + r.objs[i].len <= hi);
	FUZZ_ASSERT(!r.nsegs || ((const unsigned char *)r.segs >= lo &&
				 (const unsigned char *)(r.segs + r.nsegs) <= hi));
	FUZZ_ASSERT(!r.ngarbage || ((const unsigned char *)r.garbage >= lo &&
				    (const unsigned char *)(r.garbage + r.ngarbage) <= hi));
	/* version 3: every patch entry inside, one per listed key, in order */
	FUZZ_ASSERT(!r.npatched ||
		    (r.patched >= lo && r.patched + r.npatched * JOURNAL_PATCHED_BYTES <= hi));
	FUZZ_ASSERT(!r.patches_len || (r.patches >= lo && r.patches + r.patches_len <= hi));
	{
		const unsigned char *p = r.patches, *end = p ? p + r.patches_len : NULL;
		struct journal_patch jp;
		size_t n = 0;
		while (p && journal_patch_next(&p, end, &jp) == 1) {
			FUZZ_ASSERT(n < r.npatched &&
				    jp.chunks + (size_t)jp.nchunks * (4u + jp.chunk_bytes) <= end);
			FUZZ_ASSERT(memcmp(jp.key, r.patched + n * JOURNAL_PATCHED_BYTES,
					   OBJECT_ID_BYTES) == 0);
			n++;
		}
		FUZZ_ASSERT(n == r.npatched && p == end);
	}
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
