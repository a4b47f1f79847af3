/* journal_stream.c - a journal record's bytes encoded whole or in pieces,
 * and read back without its objects' bytes (journal_stream.h; the layout is
 * docs/FORMAT.md, "Cache"). One encoder serves both ways, so a streamed
 * record is byte for byte the buffered one. It must never accept a record
 * whose checksum or layout is wrong (the same checks as journal_parse.c),
 * never read outside what it was given, and holds only sealed bytes and
 * random keys (nothing to log). */
#include "journal_stream.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "fdio.h"

/* ---- encoding ---- */

/* Where encoded bytes go: buf (whole: fd < 0), or fd through buf. */
struct jsink {
	unsigned char *buf;
	size_t cap, fill;
	int fd;
	uint64_t off; /* fd: the file offset of buf[0] */
	crypto_generichash_state h;
	int r;
};

static void jsink_flush(struct jsink *s)
{
	if (s->fd >= 0 && s->fill > 0 && s->r == 0)
		s->r = fdio_pwrite_all(s->fd, s->buf, s->fill, s->off);
	if (s->fd >= 0) {
		s->off += s->fill;
		s->fill = 0;
	}
}

/* Appends len bytes; a streamed sink hashes them (sum: the checksum
 * itself, not hashed) and writes a piece larger than its buffer directly. */
static void jsink_raw(struct jsink *s, const void *p, size_t len, bool sum)
{
	if (s->fd < 0) {
		memcpy(s->buf + s->fill, p, len);
		s->fill += len;
		return;
	}
	if (!sum)
		crypto_generichash_update(&s->h, p, len);
	if (len >= s->cap) {
		jsink_flush(s);
		if (s->r == 0)
			s->r = fdio_pwrite_all(s->fd, p, len, s->off);
		s->off += len;
		return;
	}
	if (s->fill + len > s->cap)
		jsink_flush(s);
	memcpy(s->buf + s->fill, p, len);
	s->fill += len;
}

static void jsink_put(struct jsink *s, const void *p, size_t len) { jsink_raw(s, p, len, false); }

static void jsink_u32(struct jsink *s, uint32_t v)
{
	unsigned char b[4];

	for (int i = 0; i < 4; i++)
		b[i] = (unsigned char)(v >> (8 * i));
	jsink_put(s, b, sizeof(b));
}

static void jsink_u64(struct jsink *s, uint64_t v)
{
	jsink_u32(s, (uint32_t)v);
	jsink_u32(s, (uint32_t)(v >> 32));
}

/* The record's fields in their order, then the checksum of all of them. */
static void jsink_record(struct jsink *s, const struct journal_record *rec)
{
	unsigned char sum[JOURNAL_SUM_BYTES];

	jsink_put(s, JOURNAL_MAGIC, JOURNAL_MAGIC_BYTES);
	jsink_u32(s, rec->npatched ? JOURNAL_VERSION : JOURNAL_VERSION_PLAIN);
	jsink_u64(s, rec->seq);
	jsink_u32(s, (uint32_t)rec->head_len);
	jsink_put(s, rec->head, rec->head_len);
	jsink_u32(s, (uint32_t)rec->nobjs);
	for (size_t i = 0; i < rec->nobjs; i++) {
		jsink_put(s, rec->objs[i].key, OBJECT_ID_BYTES);
		jsink_u32(s, (uint32_t)rec->objs[i].len);
		jsink_put(s, rec->objs[i].data, rec->objs[i].len);
	}
	jsink_u32(s, (uint32_t)rec->nsegs);
	if (rec->nsegs)
		jsink_put(s, rec->segs, rec->nsegs * OBJECT_ID_BYTES);
	jsink_u32(s, (uint32_t)rec->ngarbage);
	if (rec->ngarbage)
		jsink_put(s, rec->garbage, rec->ngarbage * OBJECT_ID_BYTES);
	jsink_u32(s, (uint32_t)rec->ndead);
	if (rec->ndead)
		jsink_put(s, rec->dead, rec->ndead * JOURNAL_DEAD_BYTES);
	if (rec->npatched) {
		jsink_u32(s, (uint32_t)rec->npatched);
		jsink_put(s, rec->patched, rec->npatched * JOURNAL_PATCHED_BYTES);
		jsink_u32(s, (uint32_t)rec->patches_len);
		jsink_put(s, rec->patches, rec->patches_len);
	}
	if (s->fd < 0) /* one pass over the whole buffer */
		crypto_generichash(sum, sizeof(sum), s->buf, s->fill, NULL, 0);
	else
		crypto_generichash_final(&s->h, sum, sizeof(sum));
	jsink_raw(s, sum, sizeof(sum), true);
	jsink_flush(s);
}

size_t jstream_size(const struct journal_record *rec, bool *too_big)
{
	size_t n = JOURNAL_MAGIC_BYTES + 4 + 8 + 4 + rec->head_len + 4 + 4 + 4 + JOURNAL_SUM_BYTES;

	n += (rec->nsegs + rec->ngarbage) * OBJECT_ID_BYTES + 4 + rec->ndead * JOURNAL_DEAD_BYTES;
	if (rec->npatched)
		n += 4 + rec->npatched * JOURNAL_PATCHED_BYTES + 4 + rec->patches_len;
	for (size_t i = 0; i < rec->nobjs; i++)
		n += OBJECT_ID_BYTES + 4 + rec->objs[i].len;
	*too_big =
	    n > JOURNAL_RECORD_MAX || rec->head_len > UINT32_MAX || rec->patches_len > UINT32_MAX;
	return n;
}

void jstream_encode(unsigned char *buf, size_t size, const struct journal_record *rec)
{
	struct jsink s = {.buf = buf, .cap = size, .fd = -1};

	jsink_record(&s, rec);
}

int jstream_write(int fd, const struct journal_record *rec)
{
	struct jsink s = {.buf = malloc(JSTREAM_BUF), .cap = JSTREAM_BUF, .fd = fd};

	if (!s.buf)
		return -ENOMEM;
	crypto_generichash_init(&s.h, NULL, 0, JOURNAL_SUM_BYTES);
	jsink_record(&s, rec);
	free(s.buf);
	return s.r;
}

/* ---- reading without the objects' bytes ---- */

/* The file read in order through buf; every byte before the checksum is
 * hashed as it is read. */
struct jsrc {
	int fd;
	unsigned char *buf;
	size_t pos, have; /* buf[pos..have) not consumed yet */
	uint64_t next;	  /* the file offset after buf[have - 1] */
	uint64_t end;	  /* where the checksum starts */
	uint64_t used;	  /* bytes consumed */
	crypto_generichash_state h;
};

/* Consumes len bytes before the checksum into dst (NULL: skipped). */
static int jsrc_take(struct jsrc *s, void *dst, size_t len)
{
	if (len > s->end - s->used)
		return -EBADMSG;
	while (len > 0) {
		size_t n;
		if (s->pos == s->have) {
			size_t want = s->end - s->next < JSTREAM_BUF ? (size_t)(s->end - s->next)
								     : JSTREAM_BUF;
			int r = fdio_pread_all(s->fd, s->buf, want, s->next, NULL);
			if (r)
				return r == -ENODATA ? -EBADMSG : r; /* shrank: torn */
			crypto_generichash_update(&s->h, s->buf, want);
			s->pos = 0;
			s->have = want;
			s->next += want;
		}
		n = s->have - s->pos < len ? s->have - s->pos : len;
		if (dst) {
			memcpy(dst, s->buf + s->pos, n);
			dst = (unsigned char *)dst + n;
		}
		s->pos += n;
		s->used += n;
		len -= n;
	}
	return 0;
}

static int jsrc_u32(struct jsrc *s, uint32_t *v)
{
	unsigned char b[4] = {0};
	int r = jsrc_take(s, b, sizeof(b));

	*v = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
	return r;
}

/* What jstream_read keeps: head, keys and dead entries, appended to one
 * buffer (offsets; the pointers are set once it stops moving). */
struct jkeep {
	unsigned char *p;
	size_t len, cap;
};

/* Appends len bytes from s to k; *at: their offset in k. */
static int jkeep_take(struct jkeep *k, struct jsrc *s, size_t len, size_t *at)
{
	if (len > s->end - s->used)
		return -EBADMSG; /* before any allocation of a length read from the file */
	if (k->len + len > k->cap) {
		size_t cap = k->cap ? k->cap : 4096;
		unsigned char *p;
		while (cap < k->len + len)
			cap *= 2;
		p = realloc(k->p, cap);
		if (!p)
			return -ENOMEM;
		k->p = p;
		k->cap = cap;
	}
	*at = k->len;
	if (len == 0)
		return 0; /* k->p may still be NULL: no pointer arithmetic on it */
	k->len += len;
	return jsrc_take(s, k->p + *at, len);
}

/* A count, then count entries of size bytes each, kept. */
static int jkeep_list(struct jkeep *k, struct jsrc *s, size_t size, size_t *count, size_t *at)
{
	uint32_t n = 0;
	int r = jsrc_u32(s, &n);

	*count = n;
	return r ? r : jkeep_take(k, s, (size_t)n * size, at);
}

static int jstream_objs(struct journal_record *out, struct jsrc *s)
{
	uint32_t count = 0, len = 0;
	int r = jsrc_u32(s, &count);

	if (r == 0 && count > (s->end - s->used) / (OBJECT_ID_BYTES + 4))
		r = -EBADMSG;
	if (r)
		return r;
	out->objs_owned = calloc(count ? count : 1, sizeof(*out->objs_owned));
	if (!out->objs_owned)
		return -ENOMEM;
	out->objs = out->objs_owned;
	for (out->nobjs = 0; out->nobjs < count; out->nobjs++) {
		struct journal_object *o = &out->objs_owned[out->nobjs];
		r = jsrc_take(s, o->key, OBJECT_ID_BYTES);
		if (r == 0)
			r = jsrc_u32(s, &len);
		o->len = len;
		o->off = s->used;
		if (r == 0)
			r = jsrc_take(s, NULL, len);
		if (r)
			return r;
	}
	return 0;
}

/* Version 3's patch entries, read through without keeping their chunks:
 * each checked as journal_patch_next checks it, its keys against the
 * patched list kept at patched_at. */
static int jstream_patches(struct journal_record *out, struct jsrc *s, struct jkeep *k,
			   size_t patched_at)
{
	unsigned char head[JOURNAL_PATCH_HEAD_BYTES];
	struct journal_patch jp;
	uint32_t len = 0, prev = 0;
	uint64_t left;
	size_t i = 0;
	int r = jsrc_u32(s, &len);

	if (r == 0 && len > s->end - s->used)
		r = -EBADMSG;
	for (left = len; r == 0 && left > 0; i++) {
		if (left < JOURNAL_PATCH_HEAD_BYTES || i >= out->npatched)
			return -EBADMSG;
		r = jsrc_take(s, head, sizeof(head));
		left -= sizeof(head);
		if (r == 0 && (journal_patch_head(head, &jp) != 0 ||
			       left / (4u + jp.chunk_bytes) < jp.nchunks ||
			       memcmp(k->p + patched_at + i * JOURNAL_PATCHED_BYTES, head,
				      JOURNAL_PATCHED_BYTES) != 0))
			return -EBADMSG; /* a bad entry, or not the listed new key and base */
		for (uint32_t c = 0; r == 0 && c < jp.nchunks; c++) {
			uint32_t j = 0;
			r = jsrc_u32(s, &j);
			if (r == 0 && (j >= 256 || (c > 0 && j <= prev)))
				return -EBADMSG;
			prev = j;
			if (r == 0)
				r = jsrc_take(s, NULL, jp.chunk_bytes);
			left -= 4u + jp.chunk_bytes;
		}
	}
	return r == 0 && i != out->npatched ? -EBADMSG : r;
}

/* The fields after the checksum's range was opened: out's lists point into
 * k once every field is read. */
static int jstream_fields(struct journal_record *out, struct jsrc *s, struct jkeep *k)
{
	unsigned char magic[JOURNAL_MAGIC_BYTES], b8[8];
	size_t head_at = 0, segs_at = 0, garbage_at = 0, dead_at = 0, patched_at = 0;
	uint32_t version = 0, head_len = 0;
	int r = jsrc_take(s, magic, sizeof(magic));

	if (r == 0 && memcmp(magic, JOURNAL_MAGIC, JOURNAL_MAGIC_BYTES) != 0)
		r = -EBADMSG;
	if (r == 0)
		r = jsrc_u32(s, &version);
	if (r == 0 && (version < 1 || version > JOURNAL_VERSION))
		r = version > JOURNAL_VERSION ? -EPROTONOSUPPORT : -EBADMSG;
	if (r == 0)
		r = jsrc_take(s, b8, sizeof(b8));
	for (int i = 7; r == 0 && i >= 0; i--)
		out->seq = out->seq << 8 | b8[i];
	if (r == 0)
		r = jsrc_u32(s, &head_len);
	out->head_len = r == 0 ? head_len : 0;
	if (r == 0)
		r = jkeep_take(k, s, out->head_len, &head_at);
	if (r == 0)
		r = jstream_objs(out, s);
	if (r == 0)
		r = jkeep_list(k, s, OBJECT_ID_BYTES, &out->nsegs, &segs_at);
	if (r == 0)
		r = jkeep_list(k, s, OBJECT_ID_BYTES, &out->ngarbage, &garbage_at);
	if (r == 0 && version >= 2)
		r = jkeep_list(k, s, JOURNAL_DEAD_BYTES, &out->ndead, &dead_at);
	/* version 3: the patched list kept, the entries checked but their
	 * chunks not kept (the whole read at a mount keeps them) */
	if (r == 0 && version >= 3)
		r = jkeep_list(k, s, JOURNAL_PATCHED_BYTES, &out->npatched, &patched_at);
	if (r == 0 && version >= 3)
		r = jstream_patches(out, s, k, patched_at);
	if (r == 0 && s->used != s->end)
		r = -EBADMSG;
	if (r)
		return r;
	out->head = k->p ? k->p + head_at : NULL;
	out->segs = out->nsegs ? (const uint8_t(*)[OBJECT_ID_BYTES])(k->p + segs_at) : NULL;
	out->garbage =
	    out->ngarbage ? (const uint8_t(*)[OBJECT_ID_BYTES])(k->p + garbage_at) : NULL;
	out->dead = out->ndead ? k->p + dead_at : NULL;
	out->patched = out->npatched ? k->p + patched_at : NULL;
	return 0;
}

int jstream_read(struct journal_record *out, int fd, uint64_t size)
{
	unsigned char sum[JOURNAL_SUM_BYTES], want[JOURNAL_SUM_BYTES];
	struct jsrc s = {.fd = fd, .end = size - JOURNAL_SUM_BYTES};
	struct jkeep k = {.p = NULL};
	int r;

	memset(out, 0, sizeof(*out));
	if (size < JOURNAL_MAGIC_BYTES + JOURNAL_SUM_BYTES || size > JOURNAL_RECORD_MAX)
		return -EBADMSG;
	s.buf = malloc(JSTREAM_BUF);
	if (!s.buf)
		return -ENOMEM;
	crypto_generichash_init(&s.h, NULL, 0, JOURNAL_SUM_BYTES);
	r = jstream_fields(out, &s, &k);
	if (r == 0) {
		crypto_generichash_final(&s.h, sum, sizeof(sum));
		r = fdio_pread_all(fd, want, sizeof(want), s.end, NULL);
		r = r == -ENODATA ? -EBADMSG : r;
	}
	if (r == 0 && sodium_memcmp(sum, want, sizeof(sum)) != 0)
		r = -EBADMSG;
	free(s.buf);
	out->buf = k.p; /* owned from here, also on failure */
	if (r)
		journal_record_release(out);
	return r;
}
