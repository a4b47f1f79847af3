/* journal_parse.c - the decoder of journal records (journal.h,
 * journal_record_parse): bytes read back from CACHE/journal, which may be
 * torn or damaged, to a record pointing into them. Pure: no I/O, so that a
 * fuzz target (tests/fuzz/fuzz_journal.c) drives it. It must never read
 * outside the buffer or accept a record whose checksum or layout is wrong. */
#include "journal.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

struct journal_cursor {
	const unsigned char *p, *end;
};

static bool journal_take(struct journal_cursor *c, const unsigned char **out, size_t len)
{
	if ((size_t)(c->end - c->p) < len)
		return false;
	*out = c->p;
	c->p += len;
	return true;
}

static bool journal_take_u32(struct journal_cursor *c, uint32_t *v)
{
	const unsigned char *b;

	if (!journal_take(c, &b, 4))
		return false;
	*v = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
	return true;
}

static bool journal_take_u64(struct journal_cursor *c, uint64_t *v)
{
	uint32_t lo, hi;

	if (!journal_take_u32(c, &lo) || !journal_take_u32(c, &hi))
		return false;
	*v = (uint64_t)hi << 32 | lo;
	return true;
}

/* A list of n 16-byte keys. */
static bool journal_take_keys(struct journal_cursor *c, const uint8_t (**keys)[OBJECT_ID_BYTES],
			      size_t *n)
{
	const unsigned char *b;
	uint32_t count;

	if (!journal_take_u32(c, &count) || count > (size_t)(c->end - c->p) / OBJECT_ID_BYTES ||
	    !journal_take(c, &b, (size_t)count * OBJECT_ID_BYTES))
		return false;
	*keys = count ? (const uint8_t(*)[OBJECT_ID_BYTES])b : NULL;
	*n = count;
	return true;
}

/* Version 2: the dead entries (count, then JOURNAL_DEAD_BYTES each). */
static bool journal_take_dead(struct journal_cursor *c, struct journal_record *r)
{
	uint32_t count;

	if (!journal_take_u32(c, &count) || count > (size_t)(c->end - c->p) / JOURNAL_DEAD_BYTES ||
	    !journal_take(c, &r->dead, (size_t)count * JOURNAL_DEAD_BYTES))
		return false;
	r->ndead = count;
	return true;
}

static uint64_t journal_le(const unsigned char *b, int n)
{
	uint64_t v = 0;

	for (int k = n - 1; k >= 0; k--)
		v = v << 8 | b[k];
	return v;
}

int journal_patch_head(const unsigned char *b, struct journal_patch *out)
{
	memcpy(out->key, b, OBJECT_ID_BYTES);
	memcpy(out->base, b + 16, OBJECT_ID_BYTES);
	memcpy(out->file_id, b + 32, OBJECT_ID_BYTES);
	out->seg = journal_le(b + 48, 8);
	out->n0 = journal_le(b + 56, 8);
	out->n1 = journal_le(b + 64, 8);
	out->base_created = journal_le(b + 72, 8);
	out->chunk_bytes = (uint32_t)journal_le(b + 80, 4);
	out->nchunks = (uint32_t)journal_le(b + 84, 4);
	out->chunks = NULL;
	return out->chunk_bytes == 0 || out->chunk_bytes > JOURNAL_PATCH_CHUNK_MAX ||
		       out->nchunks > 256 || out->seg > UINT64_MAX / 256
		   ? -EBADMSG
		   : 0;
}

int journal_patch_next(const unsigned char **p, const unsigned char *end, struct journal_patch *out)
{
	const unsigned char *b = *p;
	uint32_t prev = 0;

	if (b == end)
		return 0;
	if ((size_t)(end - b) < JOURNAL_PATCH_HEAD_BYTES || journal_patch_head(b, out) != 0)
		return -EBADMSG;
	b += JOURNAL_PATCH_HEAD_BYTES;
	out->chunks = b;
	if ((size_t)(end - b) / (4u + out->chunk_bytes) < out->nchunks)
		return -EBADMSG;
	for (uint32_t i = 0; i < out->nchunks; i++, b += 4u + out->chunk_bytes) {
		uint32_t j = (uint32_t)journal_le(b, 4);
		if (j >= 256 || (i > 0 && j <= prev)) /* ascending: each chunk once */
			return -EBADMSG;
		prev = j;
	}
	*p = b;
	return 1;
}

void journal_patch_put_head(unsigned char *out, const struct journal_patch *patch)
{
	const uint64_t v[4] = {patch->seg, patch->n0, patch->n1, patch->base_created};

	memcpy(out, patch->key, OBJECT_ID_BYTES);
	memcpy(out + 16, patch->base, OBJECT_ID_BYTES);
	memcpy(out + 32, patch->file_id, OBJECT_ID_BYTES);
	for (int i = 0; i < 4; i++)
		for (int k = 0; k < 8; k++)
			out[48 + 8 * i + k] = (unsigned char)(v[i] >> (8 * k));
	for (int k = 0; k < 4; k++) {
		out[80 + k] = (unsigned char)(patch->chunk_bytes >> (8 * k));
		out[84 + k] = (unsigned char)(patch->nchunks >> (8 * k));
	}
}

/* Version 3: the patched list and the patch entries, which must match it
 * one for one. */
static bool journal_take_patches(struct journal_cursor *c, struct journal_record *r)
{
	const unsigned char *p, *end;
	struct journal_patch pt;
	uint32_t count, len;
	size_t i = 0;
	int got;

	if (!journal_take_u32(c, &count) ||
	    count > (size_t)(c->end - c->p) / JOURNAL_PATCHED_BYTES ||
	    !journal_take(c, &r->patched, (size_t)count * JOURNAL_PATCHED_BYTES) ||
	    !journal_take_u32(c, &len) || !journal_take(c, &r->patches, len))
		return false;
	r->npatched = count;
	r->patches_len = len;
	for (p = r->patches, end = p + len; (got = journal_patch_next(&p, end, &pt)) == 1; i++)
		if (i >= count ||
		    memcmp(r->patched + i * JOURNAL_PATCHED_BYTES, pt.key, OBJECT_ID_BYTES) != 0 ||
		    memcmp(r->patched + i * JOURNAL_PATCHED_BYTES + OBJECT_ID_BYTES, pt.base,
			   OBJECT_ID_BYTES) != 0)
			return false;
	return got == 0 && i == count;
}

static int journal_take_objs(struct journal_cursor *c, struct journal_record *r)
{
	const unsigned char *key;
	uint32_t count, len;

	if (!journal_take_u32(c, &count) || count > (size_t)(c->end - c->p) / (OBJECT_ID_BYTES + 4))
		return -EBADMSG;
	r->objs_owned = calloc(count ? count : 1, sizeof(*r->objs_owned));
	if (!r->objs_owned)
		return -ENOMEM;
	r->objs = r->objs_owned;
	for (r->nobjs = 0; r->nobjs < count; r->nobjs++) {
		struct journal_object *o = &r->objs_owned[r->nobjs];
		if (!journal_take(c, &key, OBJECT_ID_BYTES) || !journal_take_u32(c, &len) ||
		    !journal_take(c, &o->data, len))
			return -EBADMSG;
		memcpy(o->key, key, OBJECT_ID_BYTES);
		o->len = len;
	}
	return 0;
}

/* Parses r->buf (len bytes, at least the magic and the checksum, checksum
 * verified). */
static int journal_decode(struct journal_record *r, size_t len)
{
	struct journal_cursor c = {r->buf, r->buf + len - JOURNAL_SUM_BYTES};
	const unsigned char *magic;
	uint32_t version, head_len;
	int e;

	if (!journal_take(&c, &magic, JOURNAL_MAGIC_BYTES) ||
	    memcmp(magic, JOURNAL_MAGIC, JOURNAL_MAGIC_BYTES) != 0 ||
	    !journal_take_u32(&c, &version) || version < 1 || version > JOURNAL_VERSION ||
	    !journal_take_u64(&c, &r->seq) || !journal_take_u32(&c, &head_len) ||
	    !journal_take(&c, &r->head, head_len))
		return -EBADMSG;
	r->head_len = head_len;
	e = journal_take_objs(&c, r);
	if (e)
		return e;
	if (!journal_take_keys(&c, &r->segs, &r->nsegs) ||
	    !journal_take_keys(&c, &r->garbage, &r->ngarbage) ||
	    (version >= 2 && !journal_take_dead(&c, r)) ||
	    (version >= 3 && !journal_take_patches(&c, r)) || c.p != c.end)
		return -EBADMSG;
	return 0;
}

void journal_dead_get(const struct journal_record *rec, size_t i, uint8_t key[OBJECT_ID_BYTES],
		      uint64_t *created)
{
	const unsigned char *p = rec->dead + i * JOURNAL_DEAD_BYTES;

	memcpy(key, p, OBJECT_ID_BYTES);
	*created = 0;
	for (int k = 7; k >= 0; k--)
		*created = *created << 8 | p[OBJECT_ID_BYTES + k];
}

void journal_dead_put(unsigned char *out, const uint8_t key[OBJECT_ID_BYTES], uint64_t created)
{
	memcpy(out, key, OBJECT_ID_BYTES);
	for (int k = 0; k < 8; k++)
		out[OBJECT_ID_BYTES + k] = (unsigned char)(created >> (8 * k));
}

bool journal_newer(const unsigned char *buf, size_t len)
{
	struct journal_cursor c = {buf, buf + len};
	const unsigned char *magic;
	uint32_t version;

	return journal_take(&c, &magic, JOURNAL_MAGIC_BYTES) &&
	       memcmp(magic, JOURNAL_MAGIC, JOURNAL_MAGIC_BYTES) == 0 &&
	       journal_take_u32(&c, &version) && version > JOURNAL_VERSION;
}

int journal_record_parse(struct journal_record *out, unsigned char *buf, size_t len)
{
	unsigned char sum[JOURNAL_SUM_BYTES];
	int r;

	memset(out, 0, sizeof(*out));
	out->buf = buf;
	if (len < JOURNAL_MAGIC_BYTES + JOURNAL_SUM_BYTES || len > JOURNAL_RECORD_MAX) {
		journal_record_release(out);
		return -EBADMSG;
	}
	if (journal_newer(buf, len - JOURNAL_SUM_BYTES)) {
		r = -EPROTONOSUPPORT;
	} else {
		crypto_generichash(sum, sizeof(sum), buf, len - JOURNAL_SUM_BYTES, NULL, 0);
		r = sodium_memcmp(sum, buf + len - JOURNAL_SUM_BYTES, JOURNAL_SUM_BYTES) == 0
			? journal_decode(out, len)
			: -EBADMSG;
	}
	if (r)
		journal_record_release(out);
	return r;
}

int journal_record_parse_own(struct journal_record *out, unsigned char *buf, size_t len)
{
	int r;

	memset(out, 0, sizeof(*out));
	out->buf = buf;
	r = len < JOURNAL_MAGIC_BYTES + JOURNAL_SUM_BYTES || len > JOURNAL_RECORD_MAX
		? -EBADMSG
		: journal_decode(out, len);
	if (r)
		journal_record_release(out);
	return r;
}

void journal_record_release(struct journal_record *r)
{
	free(r->objs_owned);
	free(r->buf);
	memset(r, 0, sizeof(*r));
}
