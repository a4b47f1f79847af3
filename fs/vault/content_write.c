/* content_write.c - changing a file's bytes: writes and truncates, each cut
 * into changes of one segment; a dirty segment is patched in place, a clean
 * one or a hole is rebuilt whole under a new random key (copy on write). It
 * must never change a clean segment's cache file, leave a change half done
 * on failure, or log anything but object ids and chunk indexes. */
#include "content_int.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "fault.h"
#include "fdio.h"
#include "par.h"

/* One change of the file: the size goes from old_size to new_size and
 * [woff, woff + wlen) (possibly empty) gets wbuf. */
struct content_op {
	uint64_t old_size, new_size;
	const unsigned char *wbuf;
	uint64_t woff, wlen;
};

/* Rebuilding or patching one segment under an op. */
struct seg_build {
	const struct content_op *op;
	struct content_file *f;
	struct content_tbuf *tb;
	size_t sz;	  /* sealed chunk bytes */
	uint64_t ca;	  /* chunk in the first slot of tb->sealed */
	uint64_t n0, n1;  /* chunk counts before and after */
	bool old_present; /* the old cache file holds the chunks below n0 */
	struct chunk_ad old_ad, new_ad;
	/* The keys the old chunks are opened and the new ones sealed under
	 * (the same for a patch; for a rebuild in format 2 the new version's
	 * own key). old_k is NULL when nothing old is read. */
	const struct chunk_key *old_k, *new_k;
};

/* The write covers chunk c entirely: no need to read it. */
static bool op_covers(const struct content_op *op, uint64_t c)
{
	uint64_t cs = c * CHUNK_BYTES;

	return op->wlen > 0 && op->woff <= cs && op->woff + op->wlen >= cs + CHUNK_BYTES;
}

static bool build_needs_old(const struct seg_build *b, uint64_t c)
{
	return b->old_present && c < b->n0 && !op_covers(b->op, c);
}

/* Chunks [*ca, *cb) of the dirty segment with chunks [a, b) that op changes:
 * the written ones, the new ones, the old last chunk (its flag changes) and
 * the new last chunk when shrinking (tail zeroed, flag set). */
static void op_dirty_range(const struct content_op *op, uint64_t a, uint64_t b, uint64_t *ca,
			   uint64_t *cb)
{
	uint64_t n0 = content_nchunks(op->old_size), n1 = content_nchunks(op->new_size);
	uint64_t lo = UINT64_MAX, hi = 0;

	if (op->wlen > 0) {
		lo = op->woff / CHUNK_BYTES;
		hi = content_nchunks(op->woff + op->wlen);
	}
	if (n1 > n0) {
		lo = min_u64(lo, n0 > 0 ? n0 - 1 : 0);
		hi = max_u64(hi, n1);
	}
	if (op->new_size < op->old_size && n1 > 0) {
		lo = min_u64(lo, n1 - 1);
		hi = max_u64(hi, n1);
	}
	*ca = max_u64(lo, a);
	*cb = min_u64(hi, b);
}

/* Reads the old sealed chunks of [ca, cb) that are needed, one pread per run. */
static int build_read_old(const struct content_ctx *ctx, struct seg_build *b, size_t s, uint64_t cb)
{
	uint64_t c = b->ca, e;
	int fd = -1, rc;

	while (c < cb) {
		if (!build_needs_old(b, c)) {
			c++;
			continue;
		}
		for (e = c; e < cb && build_needs_old(b, e); e++)
			;
		if (fd < 0)
			fd = seg_fd(ctx, b->f, s);
		if (fd < 0)
			return fd;
		rc = fdio_pread_all(fd, b->tb->sealed + (c - b->ca) * b->sz, (e - c) * b->sz,
				    (c % SEGMENT_CHUNKS) * b->sz, NULL);
		if (rc < 0)
			return content_bad_chunk(b->f, c, rc);
		c = e;
	}
	return 0;
}

/* Seals the new chunk c into its slot (the old sealed chunk, if needed, is
 * there). Safe to run for different chunks at once (par_run): it changes
 * nothing in b but c's slot, and its plaintext lives on its own stack. */
static int build_chunk(const struct seg_build *b, uint64_t c)
{
	const struct content_op *op = b->op;
	unsigned char *slot = b->tb->sealed + (c - b->ca) * b->sz, plain[CHUNK_PLAIN_BYTES];
	uint64_t cs = c * CHUNK_BYTES, ce = cs + CHUNK_BYTES;
	struct chunk_ad new_ad = b->new_ad, old_ad = b->old_ad;
	int rc;

	new_ad.index = c;
	new_ad.last = c == b->n1 - 1;
	if (fault_fire(FAULT_CRYPTO))
		return -EIO;
	if (op_covers(op, c))
		return chunk_seal(slot, op->wbuf + (cs - op->woff), CHUNK_PLAIN_BYTES, &new_ad,
				  b->new_k);
	if (build_needs_old(b, c)) {
		old_ad.index = c;
		old_ad.last = c == b->n0 - 1;
		rc = chunk_open(plain, slot, &old_ad, b->old_k);
		if (rc < 0) {
			sodium_memzero(plain, sizeof(plain));
			return content_bad_chunk(b->f, c, rc);
		}
	} else {
		memset(plain, 0, CHUNK_PLAIN_BYTES);
	}
	if (op->wlen > 0) {
		uint64_t lo = max_u64(cs, op->woff), hi = min_u64(ce, op->woff + op->wlen);

		if (lo < hi)
			memcpy(plain + (lo - cs), op->wbuf + (lo - op->woff), hi - lo);
	}
	if (op->new_size > cs && op->new_size < ce)
		memset(plain + (op->new_size - cs), 0, ce - op->new_size);
	rc = chunk_seal(slot, plain, CHUNK_PLAIN_BYTES, &new_ad, b->new_k);
	sodium_memzero(plain, sizeof(plain));
	return rc;
}

/* par_run callback: chunk ca + i. */
static int build_one(void *arg, size_t i)
{
	const struct seg_build *b = arg;

	return build_chunk(b, b->ca + i);
}

/* Marks chunks [from, to) of a segment (indexes in it) as not a reseal of
 * its base's; p NULL: nothing to mark. */
static void patch_touch(struct content_patch *p, uint64_t from, uint64_t to)
{
	for (uint64_t j = from; p && j < to; j++)
		p->touched[j / 8] |= (uint8_t)(1u << (j % 8));
}

/* The patch of a version copied on write from clean segment s under op
 * (format 2; NULL otherwise, or out of memory: the commit then flushes the
 * whole file): its base, and the chunks op changes. */
static struct content_patch *patch_new(const struct content_ctx *ctx, const struct content_file *f,
				       size_t s, const struct content_op *op, uint64_t cb)
{
	const struct content_seg *seg = &f->segs[s];
	uint64_t a = (uint64_t)s * SEGMENT_CHUNKS, ta, tb;
	struct content_patch *p;

	if (ctx->format < 2 || !seg->present || seg->dirty)
		return NULL;
	p = fault_fire(FAULT_ALLOC) ? NULL : calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	memcpy(p->base, seg->key, OBJECT_ID_BYTES);
	p->base_created = seg->created;
	p->n0 = content_nchunks(op->old_size);
	op_dirty_range(op, a, cb, &ta, &tb);
	patch_touch(p, ta - a, tb > ta ? tb - a : ta - a);
	return p;
}

/* Removes the cache file of a new segment that was not installed. */
static void seg_drop_new(const struct content_ctx *ctx, const uint8_t key[OBJECT_ID_BYTES], int fd)
{
	char kt[OBJECT_KEY_TEXT_BYTES];

	close(fd);
	object_key_text(kt, key);
	cache_drop_object(ctx->cache, kt);
}

/* Puts the freshly sealed segment in tb->sealed (len bytes) into its new
 * cache file fd (empty, under key: cache_new_object; the segment's from now
 * on, dropped on failure) and makes it segment s; a replaced clean key
 * becomes garbage. skey (the new version's own key, or NULL) becomes the
 * segment's on success only. */
static int seg_install(const struct content_ctx *ctx, struct content_file *f, size_t s,
		       const uint8_t key[OBJECT_ID_BYTES], struct chunk_key *skey, int fd,
		       const unsigned char *data, size_t len)
{
	struct content_seg *seg = &f->segs[s];
	int rc = garbage_reserve(f, seg->present);

	if (rc == 0)
		rc = cache_pwrite_full(fd, data, len, 0);
	if (rc < 0) {
		seg_drop_new(ctx, key, fd);
		return rc;
	}
	cache_account_fd(ctx->cache, key, fd); /* --cache-size */
	seg_close(f, seg);
	if (seg->present)
		garbage_push(f, seg->key,
			     seg->created); /* its cache file stays: a commit may be reading it */
	seg->present = seg->dirty = true;
	seg->unsynced = seg->new_dirent = true;
	memcpy(seg->key, key, OBJECT_ID_BYTES);
	seg->created = skey ? CONTENT_CREATED_PENDING : 0;
	seg_set_key(seg, skey);
	seg_adopt_fd(ctx, f, seg, fd);
	return 0;
}

/* Writes the patched chunks [ca, cb) of dirty segment s in place; cuts the
 * file when the segment lost chunks. */
static int seg_patch(const struct content_ctx *ctx, struct seg_build *b, size_t s, uint64_t cb,
		     uint64_t b1)
{
	uint64_t a = (uint64_t)s * SEGMENT_CHUNKS;
	uint64_t old_end = min_u64(a + SEGMENT_CHUNKS, b->n0);
	int fd = seg_fd(ctx, b->f, s), rc;

	if (fd < 0)
		return fd;
	rc = cache_pwrite_full(fd, b->tb->sealed, (cb - b->ca) * b->sz, (b->ca - a) * b->sz);
	if (rc == 0 && old_end > b1 && fault_fire(FAULT_CACHE))
		rc = -EIO;
	else if (rc == 0 && old_end > b1 && ftruncate(fd, (off_t)((b1 - a) * b->sz)) < 0)
		rc = -errno;
	b->f->segs[s].unsynced = true;
	cache_account_fd(ctx->cache, b->f->segs[s].key, fd); /* --cache-size */
	patch_touch(b->f->segs[s].patch, b->ca - a, cb - a);
	return rc;
}

/* Brings segment s (which has chunks under op->new_size) to its state after
 * op: a dirty segment is patched in place, a clean one or a hole is rebuilt
 * whole under a new random key. */
/* The keys of b (old_k, new_k) for segment s; *fresh is the new version's
 * own key when it has one (the caller frees it unless installed). */
static int seg_build_keys(const struct content_ctx *ctx, struct seg_build *b, size_t s,
			  bool rebuild, const uint8_t new_key[OBJECT_ID_BYTES],
			  struct chunk_key **fresh)
{
	int rc = 0;

	*fresh = NULL;
	if (b->old_present)
		rc = content_seg_key(ctx, b->f, s, &b->old_k);
	if (rc < 0 || !rebuild) {
		b->new_k = b->old_k;
		return rc;
	}
	if (ctx->format < 2) { /* format 1: every version under the file's key */
		rc = content_key(ctx, b->f);
		b->new_k = b->f->key;
		return rc;
	}
	if (!fault_fire(FAULT_ALLOC))
		*fresh = chunk_key_new_segment(ctx->keys, ctx->suite, ctx->content_key,
					       b->f->file_id, new_key);
	b->new_k = *fresh;
	return *fresh ? 0 : -ENOMEM;
}

/* Brings segment s (which has chunks under op->new_size) to its state after
 * op: a dirty segment is patched in place, a clean one or a hole is rebuilt
 * whole under a new random key (in format 2 sealed under that version's own
 * key). */
static int seg_update(const struct content_ctx *ctx, struct content_file *f, size_t s,
		      const struct content_op *op, struct content_tbuf *tb)
{
	struct content_seg *seg = &f->segs[s];
	uint64_t a = (uint64_t)s * SEGMENT_CHUNKS, cb;
	bool rebuild = !seg->present || !seg->dirty;
	struct seg_build b = {.op = op, .f = f, .tb = tb, .ca = a, .old_present = seg->present};
	uint8_t new_key[OBJECT_ID_BYTES];
	char path[CACHE_PATH_MAX];
	struct chunk_key *fresh = NULL;
	int rc, fd = -1;

	b.sz = chunk_sealed_bytes(ctx->suite);
	b.n0 = content_nchunks(op->old_size);
	b.n1 = content_nchunks(op->new_size);
	cb = min_u64(a + SEGMENT_CHUNKS, b.n1);
	if (!rebuild)
		op_dirty_range(op, a, cb, &b.ca, &cb);
	if (b.ca >= cb)
		return 0;
	/* The new version's key and its empty cache file under its final name,
	 * before sealing (the key is in every chunk's associated data): from
	 * the cache's pool, so that a small write does no file-system metadata
	 * work (docs/INTERNALS.md, "Cache"). */
	if (rebuild && (fd = cache_new_object(ctx->cache, new_key, path)) < 0)
		return fd;
	content_ad_init(&b.old_ad, ctx, f, seg->key);
	content_ad_init(&b.new_ad, ctx, f, rebuild ? new_key : seg->key);
	rc = seg_build_keys(ctx, &b, s, rebuild, new_key, &fresh);
	if (rc == 0)
		rc = build_read_old(ctx, &b, s, cb);
	if (rc == 0)
		rc = par_run(build_one, &b, (size_t)(cb - b.ca));
	if (rc == 0 && rebuild) {
		struct content_patch *p = patch_new(ctx, f, s, op, cb);

		rc = seg_install(ctx, f, s, new_key, fresh, fd, tb->sealed, (cb - a) * b.sz);
		if (rc < 0) {
			free(p);
			chunk_key_free(fresh); /* not installed; seg_install dropped the file */
		} else {
			f->segs[s].patch = p;
		}
		return rc;
	}
	if (rc == 0)
		return seg_patch(ctx, &b, s, cb, min_u64(a + SEGMENT_CHUNKS, b.n1));
	chunk_key_free(fresh); /* not installed */
	if (fd >= 0)
		seg_drop_new(ctx, new_key, fd);
	return rc;
}

/* ---- writing and truncating ---- */

/* Drops segments [from, f->nsegs) that a failed growth added (dirty or holes). */
static void content_undo_growth(const struct content_ctx *ctx, struct content_file *f, size_t from)
{
	for (size_t s = from; s < f->nsegs; s++)
		seg_remove(ctx, f, s);
	f->nsegs = from;
}

/* Writes [woff, woff + wlen), which lies inside one segment. */
static int write_piece(const struct content_ctx *ctx, struct content_file *f,
		       const unsigned char *wbuf, uint64_t wlen, uint64_t woff,
		       struct content_tbuf *tb)
{
	struct content_op op = {f->size, max_u64(f->size, woff + wlen), wbuf, woff, wlen};
	struct content_op grow = op;
	size_t k = (size_t)(woff / SEG_BYTES), old_nsegs = f->nsegs, s0;
	uint64_t n0 = content_nchunks(f->size);
	int rc;

	rc = segs_resize(f, max_u64(old_nsegs, content_nsegs_for(op.new_size)));
	if (rc < 0)
		return rc;
	rc = seg_update(ctx, f, k, &op, tb);
	/* Growing past the segment of the old last chunk: it needs its flag
	 * cleared and zero chunks up to its end. */
	s0 = n0 > 0 ? (size_t)((n0 - 1) / SEGMENT_CHUNKS) : 0;
	grow.wlen = 0;
	if (rc == 0 && n0 > 0 && s0 < k && f->segs[s0].present)
		rc = seg_update(ctx, f, s0, &grow, tb);
	if (rc < 0) {
		content_undo_growth(ctx, f, old_nsegs);
		return rc;
	}
	f->size = op.new_size;
	return 0;
}

/* content_write's loop over the segments the write touches, with tb. */
static ssize_t write_pieces(const struct content_ctx *ctx, struct content_file *f,
			    const unsigned char *buf, size_t len, uint64_t off,
			    struct content_tbuf *tb)
{
	uint64_t done = 0;
	int rc = content_snapshot(f);

	if (rc < 0)
		return rc;
	while (done < len) {
		uint64_t pos = off + done;
		uint64_t n = min_u64(len - done, (pos / SEG_BYTES + 1) * SEG_BYTES - pos);

		rc = write_piece(ctx, f, buf + done, n, pos, tb);
		if (rc < 0)
			return rc; /* never a short count: writeback would drop the rest silently */
		done += n;
	}
	return (ssize_t)done;
}

ssize_t content_write(const struct content_ctx *ctx, struct content_file *f, const void *buf,
		      size_t len, uint64_t off)
{
	struct content_tbuf *tb;
	ssize_t rc;

	if (len == 0)
		return 0;
	if (len > SSIZE_MAX)
		len = SSIZE_MAX;
	if (off > CONTENT_SIZE_MAX || len > CONTENT_SIZE_MAX - off)
		return -EFBIG;
	tb = content_tbuf_get(); /* the chunk keys come on demand (content_seg_key) */
	if (!tb)
		return -ENOMEM;
	rc = write_pieces(ctx, f, buf, len, off, tb);
	content_tbuf_put(tb);
	return rc;
}

static int content_grow(const struct content_ctx *ctx, struct content_file *f, uint64_t size,
			struct content_tbuf *tb)
{
	struct content_op op = {f->size, size, NULL, 0, 0};
	uint64_t n0 = content_nchunks(f->size);
	size_t s0 = n0 > 0 ? (size_t)((n0 - 1) / SEGMENT_CHUNKS) : 0, old_nsegs = f->nsegs;
	int rc;

	rc = segs_resize(f, content_nsegs_for(size));
	if (rc == 0 && n0 > 0 && content_nchunks(size) > n0 && f->segs[s0].present)
		rc = seg_update(ctx, f, s0, &op, tb);
	if (rc < 0) {
		content_undo_growth(ctx, f, old_nsegs);
		return rc;
	}
	f->size = size;
	return 0;
}

static int content_shrink(const struct content_ctx *ctx, struct content_file *f, uint64_t size,
			  struct content_tbuf *tb)
{
	struct content_op op = {f->size, size, NULL, 0, 0};
	size_t nsegs = content_nsegs_for(size), nclean = 0;
	int rc;

	/* Room for every key this can queue, so nothing fails half way: the
	 * dropped clean segments and the new last one if it is copied on write. */
	for (size_t s = nsegs > 0 ? nsegs - 1 : 0; s < f->nsegs; s++)
		nclean += f->segs[s].present && !f->segs[s].dirty;
	rc = garbage_reserve(f, nclean);
	if (rc == 0 && nsegs > 0 && f->segs[nsegs - 1].present)
		rc = seg_update(ctx, f, nsegs - 1, &op, tb);
	if (rc < 0)
		return rc;
	for (size_t s = nsegs; s < f->nsegs; s++)
		seg_remove(ctx, f, s);
	f->nsegs = nsegs;
	f->size = size;
	return 0;
}

int content_truncate(const struct content_ctx *ctx, struct content_file *f, uint64_t size)
{
	struct content_tbuf *tb;
	int rc;

	if (size == f->size)
		return 0;
	if (size > CONTENT_SIZE_MAX)
		return -EFBIG;
	tb = content_tbuf_get();
	if (!tb)
		return -ENOMEM;
	rc = content_snapshot(f);
	if (rc == 0 && size > f->size)
		rc = content_grow(ctx, f, size, tb);
	else if (rc == 0)
		rc = content_shrink(ctx, f, size, tb);
	content_tbuf_put(tb);
	return rc;
}
