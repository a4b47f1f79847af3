/* content_read.c - reading a file's bytes: opening its sealed chunks (on
 * several threads for a large read) and queueing read-ahead. It must never
 * return a byte that did not authenticate, keep a damaged clean segment in
 * the cache, or log anything but object ids and chunk indexes. */
#include "content_int.h"

#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "fdio.h"
#include "par.h"

/* A clean segment that failed to read or authenticate leaves the cache, so that
 * the next read fetches it from the store again (a repaired store, or a cache
 * file torn by a crash, then reads fine). A dirty one exists only here: keep it. */
static int seg_reject(const struct content_ctx *ctx, struct content_file *f, size_t s,
		      uint64_t index, int rc)
{
	struct content_seg *seg = &f->segs[s];
	char key[OBJECT_KEY_TEXT_BYTES];

	rc = content_bad_chunk(f, index, rc);
	if (rc == -EIO && !seg->dirty) {
		seg_close(f, seg);
		object_key_text(key, seg->key);
		cache_drop_object(ctx->cache, key);
	}
	return rc;
}

/* Reads [po, pe) (inside one segment, pe <= size) into dst. */
/* Opening the chunks [c0, ...) of one piece of a read, possibly on several
 * threads (par_run). */
struct read_job {
	const struct content_file *f;
	const struct chunk_key *key; /* the segment's chunk key (content_seg_key) */
	unsigned char *dst;	     /* plaintext of [po, pe) */
	const unsigned char *sealed; /* the sealed chunks from c0 on */
	size_t sz;
	uint64_t po, pe, c0, last;
	struct chunk_ad ad;
	_Atomic uint64_t bad; /* the lowest chunk that failed */
};

static int read_one(void *arg, size_t i)
{
	struct read_job *j = arg;
	uint64_t c = j->c0 + i, cs = c * CHUNK_BYTES, lo = max_u64(cs, j->po),
		 hi = min_u64(cs + CHUNK_BYTES, j->pe);
	bool whole = lo == cs && hi == cs + CHUNK_BYTES;
	unsigned char plain[CHUNK_PLAIN_BYTES];
	struct chunk_ad ad = j->ad;
	int rc;

	ad.index = c;
	ad.last = c == j->last;
	rc = chunk_open(whole ? j->dst + (cs - j->po) : plain, j->sealed + i * j->sz, &ad, j->key);
	if (rc == 0 && !whole)
		memcpy(j->dst + (lo - j->po), plain + (lo - cs), hi - lo);
	if (!whole)
		sodium_memzero(plain, sizeof(plain));
	if (rc < 0) {
		uint64_t seen = atomic_load(&j->bad);
		while (c < seen && !atomic_compare_exchange_weak(&j->bad, &seen, c))
			;
	}
	return rc;
}

static int read_piece(const struct content_ctx *ctx, struct content_file *f, unsigned char *dst,
		      uint64_t po, uint64_t pe, struct content_tbuf *tb)
{
	size_t s = (size_t)(po / SEG_BYTES), sz = chunk_sealed_bytes(ctx->suite);
	uint64_t c0 = po / CHUNK_BYTES, c1 = content_nchunks(pe), n = content_nchunks(f->size);
	struct read_job j = {.f = f,
			     .dst = dst,
			     .sealed = tb->sealed,
			     .sz = sz,
			     .po = po,
			     .pe = pe,
			     .c0 = c0,
			     .last = n - 1,
			     .bad = UINT64_MAX};
	int fd, rc;

	if (!f->segs[s].present) {
		memset(dst, 0, pe - po);
		return 0;
	}
	rc = content_seg_key(ctx, f, s, &j.key);
	if (rc < 0)
		return rc;
	fd = seg_fd(ctx, f, s);
	if (fd < 0)
		return fd;
	rc = fdio_pread_all(fd, tb->sealed, (c1 - c0) * sz, (c0 % SEGMENT_CHUNKS) * sz, NULL);
	if (rc < 0)
		return seg_reject(ctx, f, s, c0, rc);
	content_ad_init(&j.ad, ctx, f, f->segs[s].key);
	rc = par_run(read_one, &j, (size_t)(c1 - c0));
	if (rc < 0)
		return seg_reject(ctx, f, s, j.bad, rc);
	return 0;
}

/* A read of segments [first, last]: when it starts the file or follows on
 * from the previous read (same or next segment) and reaches a segment not
 * seen yet, queue the next PREFETCH_AHEAD clean segments that are not in
 * the cache to be fetched (a remote store), and hand those that are, once
 * each, to the kernel's read-ahead: the FUSE reads of a file are 128 KiB,
 * and each segment is a file of its own whose first read would otherwise
 * wait for its inode and then its data, one at a time. */
static void content_read_ahead(const struct content_ctx *ctx, struct content_file *f, size_t first,
			       size_t last)
{
	char key[OBJECT_KEY_TEXT_BYTES], path[CACHE_PATH_MAX];
	char warm[PREFETCH_AHEAD][OBJECT_KEY_TEXT_BYTES];
	uint64_t lens[PREFETCH_AHEAD];
	size_t nwarm = 0;
	bool sequential =
	    f->read_seg == 0 ? first == 0 : first + 1 >= f->read_seg && first <= f->read_seg;
	bool moved = last + 1 != f->read_seg, start = f->read_seg == 0, warming;

	f->read_seg = last + 1;
	if (!sequential)
		f->warm_seg = f->seq_moves = 0;
	if (!sequential || !moved)
		return;
	if (f->seq_moves < 2)
		f->seq_moves++;
	warming = ctx->warm && (start || f->seq_moves >= 2);
	for (size_t s = last + 1; s < f->nsegs && s <= last + PREFETCH_AHEAD; s++) {
		const struct content_seg *seg = &f->segs[s];
		bool warm_it = warming && s + 1 > f->warm_seg, cached;

		if (!seg->present || seg->dirty || seg->fd >= 0 || !(ctx->prefetch || warm_it))
			continue;
		object_key_text(key, seg->key);
		cache_path(ctx->cache, key, path);
		cached = access(path, F_OK) == 0;
		if (!cached && ctx->prefetch)
			prefetch_add(ctx->prefetch, key, content_seg_max(ctx, f, s));
		if (cached && warm_it) {
			memcpy(warm[nwarm], key, sizeof(key));
			lens[nwarm++] = content_seg_max(ctx, f, s);
		}
	}
	if (nwarm) {
		f->warm_seg = last + PREFETCH_AHEAD + 1; /* above every s that was warmed */
		prefetch_warm(ctx->warm, (const char(*)[OBJECT_KEY_TEXT_BYTES])warm, lens, nwarm,
			      0);
	}
}

/* content_read's loop over the segments [off, end) touches, with tb. */
static ssize_t read_pieces(const struct content_ctx *ctx, struct content_file *f, void *buf,
			   uint64_t off, uint64_t end, struct content_tbuf *tb)
{
	for (uint64_t pos = off; pos < end;) {
		uint64_t pe = min_u64(end, (pos / SEG_BYTES + 1) * SEG_BYTES);
		int rc = read_piece(ctx, f, (unsigned char *)buf + (pos - off), pos, pe, tb);

		if (rc < 0)
			return rc;
		pos = pe;
	}
	return (ssize_t)(end - off);
}

ssize_t content_read(const struct content_ctx *ctx, struct content_file *f, void *buf, size_t len,
		     uint64_t off)
{
	struct content_tbuf *tb;
	uint64_t end;
	ssize_t rc;

	if (off >= f->size || len == 0)
		return 0;
	end = off + min_u64(min_u64(len, SSIZE_MAX), f->size - off);
	tb = content_tbuf_get();
	if (!tb)
		return -ENOMEM;
	content_read_ahead(ctx, f, (size_t)(off / SEG_BYTES), (size_t)((end - 1) / SEG_BYTES));
	rc = read_pieces(ctx, f, buf, off, end, tb);
	content_tbuf_put(tb);
	return rc;
}
