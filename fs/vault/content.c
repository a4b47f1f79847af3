/* content.c - a file's bytes over sealed segment files in the cache: chunk and
 * segment arithmetic, copy on write, sealing and opening (docs/FORMAT.md,
 * "Content"). It must never write plaintext to disk, change a clean segment's
 * cache file, or log anything but object ids and chunk indexes. */
#include "content.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "fault.h"
#include "fdio.h"
#include "log.h"
#include "par.h"

#define CHUNK_BYTES ((uint64_t)CHUNK_PLAIN_BYTES)
#define SEG_BYTES ((uint64_t)SEGMENT_PLAIN_BYTES)
#define SEALED_MAX_BYTES (SUITE_MAX_NONCE_BYTES + CHUNK_PLAIN_BYTES + SUITE_TAG_BYTES)
#define CONTENT_UNREACHABLE_HOLD_MS 1000u /* see seg_open_clean */

/* Per-thread scratch space, so the hot path allocates nothing: one chunk of
 * plaintext and one whole segment of sealed chunks. */
struct content_tbuf {
	unsigned char plain[CHUNK_PLAIN_BYTES];
	unsigned char sealed[SEGMENT_CHUNKS * SEALED_MAX_BYTES];
};

static pthread_once_t content_tbuf_once = PTHREAD_ONCE_INIT;
static pthread_key_t content_tbuf_key;

static void content_tbuf_free(void *p)
{
	sodium_memzero(p, CHUNK_PLAIN_BYTES);
	free(p);
}

static void content_tbuf_init(void)
{
	if (pthread_key_create(&content_tbuf_key, content_tbuf_free) != 0)
		abort(); /* only fails when the process is out of keys */
}

/* The calling thread's scratch buffer (borrowed), or NULL when out of memory. */
static struct content_tbuf *content_tbuf(void)
{
	struct content_tbuf *tb;

	pthread_once(&content_tbuf_once, content_tbuf_init);
	tb = pthread_getspecific(content_tbuf_key);
	if (tb)
		return tb;
	tb = fault_fire(FAULT_ALLOC) ? NULL : malloc(sizeof(*tb));
	if (tb && pthread_setspecific(content_tbuf_key, tb) != 0) {
		free(tb);
		tb = NULL;
	}
	return tb;
}

static uint64_t content_nchunks(uint64_t size) { return (size + CHUNK_BYTES - 1) / CHUNK_BYTES; }

static size_t content_nsegs_for(uint64_t size)
{
	return (size_t)((size + SEG_BYTES - 1) / SEG_BYTES);
}

static uint64_t min_u64(uint64_t a, uint64_t b) { return a < b ? a : b; }

static uint64_t max_u64(uint64_t a, uint64_t b) { return a > b ? a : b; }

static int content_bad_chunk(const struct content_file *f, uint64_t index, int rc)
{
	char id[33];

	log_id(id, f->file_id);
	if (rc == -ENODATA)
		log_msg(LOG_ERR, "chunk %" PRIu64 " of file %s is missing from its segment", index,
			id);
	else if (rc == -ENOENT)
		log_msg(LOG_ERR, "segment of chunk %" PRIu64 " of file %s is missing", index, id);
	else if (rc == -EBADMSG)
		log_msg(LOG_ERR, "chunk %" PRIu64 " of file %s failed to authenticate", index, id);
	else if (rc == -EFBIG)
		log_msg(LOG_ERR,
			"segment of chunk %" PRIu64 " of file %s is larger in the store than "
			"the file's size allows: refused",
			index, id);
	else
		return rc;
	return -EIO;
}

static int content_key(const struct content_ctx *ctx, struct content_file *f)
{
	if (!f->key && !fault_fire(FAULT_ALLOC))
		f->key = chunk_key_new(ctx->keys, ctx->suite, ctx->content_key, f->file_id);
	return f->key ? 0 : -ENOMEM;
}

static void content_ad_init(struct chunk_ad *ad, const struct content_ctx *ctx,
			    const struct content_file *f, const uint8_t seg_key[OBJECT_ID_BYTES])
{
	memcpy(ad->vault_id, ctx->vault_id, OBJECT_ID_BYTES);
	memcpy(ad->file_id, f->file_id, OBJECT_ID_BYTES);
	memcpy(ad->segment_key, seg_key, OBJECT_ID_BYTES);
	ad->index = 0;
	ad->last = false;
}

/* ---- segments array, fds, garbage ---- */

static void seg_close(struct content_file *f, struct content_seg *seg)
{
	if (seg->fd < 0)
		return;
	close(seg->fd);
	seg->fd = -1;
	f->nfds--;
}

static void content_close_all(struct content_file *f)
{
	for (size_t s = 0; s < f->nsegs && f->nfds > 0; s++)
		seg_close(f, &f->segs[s]);
}

/* Adopts fd for seg, closing the file's other fds first when at the bound. */
static void seg_adopt_fd(struct content_file *f, struct content_seg *seg, int fd)
{
	if (f->nfds >= CONTENT_FDS_MAX)
		content_close_all(f);
	seg->fd = fd;
	f->nfds++;
}

static uint64_t content_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Errors of a store that cannot be reached, never answered within its bound
 * (backends/http.h, HTTP_FOREGROUND_BOUND_MS) or answered nonsense. */
static bool content_store_down(int rc)
{
	return rc == -ECONNREFUSED || rc == -ETIMEDOUT || rc == -EHOSTUNREACH ||
	       rc == -ENETUNREACH || rc == -ECONNRESET || rc == -EIO || rc == -EPROTO;
}

/* The most bytes clean segment s's object can have, from the authenticated
 * size (the store is not trusted with it: backend.h "Bounded reads"): the
 * exact size for a file unchanged since it was loaded or committed; once
 * changed (its committed size is then snap_size, and segments may have been
 * cut or added since), the larger of the two sizes' bounds. Caller holds
 * the file's lock. */
static uint64_t content_seg_max(const struct content_ctx *ctx, const struct content_file *f,
				size_t s)
{
	uint64_t now = chunk_segment_stored_bytes(ctx->suite, f->size, s);
	uint64_t then = f->snap_valid ? chunk_segment_stored_bytes(ctx->suite, f->snap_size, s) : 0;

	return now > then ? now : then;
}

/* Opens the cache file of clean segment s, fetching it from the store if it
 * is not cached, unless f->nofetch: then -EWOULDBLOCK with the segment in
 * f->want, and the caller fetches it without the file's lock. When the store
 * does not deliver it, see content_fetch_failed. */
static int seg_open_clean(const struct content_ctx *ctx, struct content_file *f, size_t s,
			  const char *key, const char *path)
{
	struct content_want w = {.seg = s, .max = content_seg_max(ctx, f, s)};
	int fd;

	if (content_now_ms() < f->unreachable_until_ms) {
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd >= 0 || errno != ENOENT)
			return fd >= 0 ? fd : -errno;
		return -EIO;
	}
	fd = cache_open_cached(ctx->cache, key);
	if (fd != -ENOENT)
		return fd;
	memcpy(w.key, f->segs[s].key, OBJECT_ID_BYTES);
	if (f->nofetch) {
		f->want = w;
		return -EWOULDBLOCK;
	}
	fd = content_fetch(ctx, &w);
	if (fd < 0)
		return content_fetch_failed(f, &w, fd);
	return cache_open_cached(ctx->cache, key);
}

int content_fetch(const struct content_ctx *ctx, const struct content_want *w)
{
	char key[OBJECT_KEY_TEXT_BYTES];
	int fd;

	object_key_text(key, w->key);
	prefetch_claim(ctx->prefetch, key); /* a fetch of it in progress: wait for that one */
	fd = cache_open_object(ctx->cache, key, w->max);
	if (fd < 0)
		return fd;
	close(fd);
	return 0;
}

/* When the store does not deliver a segment, the read fails with EIO, the
 * log says why (one line, the file id, never a name), and for
 * CONTENT_UNREACHABLE_HOLD_MS further reads of this file's uncached segments
 * fail at once: the kernel's immediate retry of the failed read must not
 * double the wait. */
int content_fetch_failed(struct content_file *f, const struct content_want *w, int rc)
{
	const struct content_seg *seg = w->seg < f->nsegs ? &f->segs[w->seg] : NULL;
	char id[33];

	if (rc == -ENOENT &&
	    !(seg && seg->present && !seg->dirty && memcmp(seg->key, w->key, OBJECT_ID_BYTES) == 0))
		return -EAGAIN; /* the file changed meanwhile: not that segment any more */
	if (!content_store_down(rc))
		return content_bad_chunk(f, (uint64_t)w->seg * SEGMENT_CHUNKS, rc);
	log_msg(LOG_ERR,
		"segment %zu of file %s is not cached and the store did not deliver it "
		"(%s): read fails with EIO",
		w->seg, log_id(id, f->file_id), strerror(-rc));
	f->unreachable_until_ms = content_now_ms() + CONTENT_UNREACHABLE_HOLD_MS;
	return -EIO;
}

/* The open cache file of present segment s: read-write when dirty, read-only
 * (fetched from the store if needed) when clean. */
static int seg_fd(const struct content_ctx *ctx, struct content_file *f, size_t s)
{
	struct content_seg *seg = &f->segs[s];
	char key[OBJECT_KEY_TEXT_BYTES], path[CACHE_PATH_MAX];
	int fd;

	if (seg->fd >= 0)
		return seg->fd;
	object_key_text(key, seg->key);
	cache_path(ctx->cache, key, path);
	for (int tries = 0; tries < 2; tries++) {
		fd = seg->dirty ? open(path, O_RDWR | O_CLOEXEC)
				: seg_open_clean(ctx, f, s, key, path);
		if (seg->dirty && fd < 0)
			fd = -errno;
		if ((fd != -EMFILE && fd != -ENFILE) || f->nfds == 0)
			break;
		content_close_all(f); /* out of fds: give back ours and retry once */
	}
	if (fd < 0)
		return content_bad_chunk(f, (uint64_t)s * SEGMENT_CHUNKS, fd);
	seg_adopt_fd(f, seg, fd);
	return fd;
}

static int segs_resize(struct content_file *f, size_t n)
{
	if (n > f->segs_cap) {
		size_t cap = max_u64(n, max_u64(2 * f->segs_cap, 4));
		struct content_seg *p =
		    fault_fire(FAULT_ALLOC) ? NULL : realloc(f->segs, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		f->segs = p;
		f->segs_cap = cap;
	}
	for (size_t s = f->nsegs; s < n; s++) {
		memset(&f->segs[s], 0, sizeof(f->segs[s]));
		f->segs[s].fd = -1;
	}
	f->nsegs = n;
	return 0;
}

/* Makes room for extra more garbage keys (none: allocates nothing). */
static int garbage_reserve(struct content_file *f, size_t extra)
{
	size_t cap = f->garbage_cap > 0 ? f->garbage_cap : 8;
	uint8_t(*p)[OBJECT_ID_BYTES];

	if (f->ngarbage + extra <= f->garbage_cap)
		return 0;
	while (cap < f->ngarbage + extra)
		cap *= 2;
	p = fault_fire(FAULT_ALLOC) ? NULL : realloc(f->garbage, cap * sizeof(*p));
	if (!p)
		return -ENOMEM;
	f->garbage = p;
	f->garbage_cap = cap;
	return 0;
}

/* Needs room reserved by garbage_reserve. */
static void garbage_push(struct content_file *f, const uint8_t key[OBJECT_ID_BYTES])
{
	assert(f->ngarbage < f->garbage_cap);
	memcpy(f->garbage[f->ngarbage++], key, OBJECT_ID_BYTES);
}

/* Turns segment s into a hole: a clean one's key becomes garbage (room
 * reserved by the caller), a dirty one's cache file is removed. */
static void seg_remove(const struct content_ctx *ctx, struct content_file *f, size_t s)
{
	struct content_seg *seg = &f->segs[s];
	char key[OBJECT_KEY_TEXT_BYTES];

	seg_close(f, seg);
	if (seg->present && seg->dirty) {
		object_key_text(key, seg->key);
		cache_drop_object(ctx->cache, key);
	} else if (seg->present) {
		garbage_push(f, seg->key);
	}
	memset(seg, 0, sizeof(*seg));
	seg->fd = -1;
}

/* ---- the last commit's state, and going back to it ---- */

static void content_snap_drop(struct content_file *f)
{
	free(f->snap_segs);
	f->snap_segs = NULL;
	f->snap_nsegs = 0;
	f->snap_valid = false;
}

/* Before the first change after a commit: remember what it recorded. Every
 * segment is clean then (content_commit just marked them, or they were
 * loaded), so the snapshot is exactly the committed content. */
static int content_snapshot(struct content_file *f)
{
	struct content_snapseg *ss = NULL;

	if (f->snap_valid)
		return 0;
	if (f->nsegs > 0) {
		ss = fault_fire(FAULT_ALLOC) ? NULL : calloc(f->nsegs, sizeof(*ss));
		if (!ss)
			return -ENOMEM;
	}
	for (size_t s = 0; s < f->nsegs; s++) {
		ss[s].present = f->segs[s].present && !f->segs[s].dirty;
		memcpy(ss[s].key, f->segs[s].key, OBJECT_ID_BYTES);
	}
	f->snap_segs = ss;
	f->snap_nsegs = f->nsegs;
	f->snap_size = f->size;
	f->snap_valid = true;
	return 0;
}

void content_revert(const struct content_ctx *ctx, struct content_file *f)
{
	char key[OBJECT_KEY_TEXT_BYTES];

	if (!f->snap_valid)
		return; /* nothing changed since the last commit */
	content_close_all(f);
	for (size_t s = 0; s < f->nsegs; s++) {
		if (f->segs[s].present && f->segs[s].dirty) {
			object_key_text(key, f->segs[s].key);
			cache_drop_object(ctx->cache, key);
		}
	}
	/* segs_cap never shrinks, so the snapshot's segments fit. */
	assert(f->snap_nsegs <= f->segs_cap);
	for (size_t s = 0; s < f->snap_nsegs; s++) {
		memset(&f->segs[s], 0, sizeof(f->segs[s]));
		f->segs[s].fd = -1;
		f->segs[s].present = f->snap_segs[s].present;
		memcpy(f->segs[s].key, f->snap_segs[s].key, OBJECT_ID_BYTES);
	}
	f->nsegs = f->snap_nsegs;
	f->size = f->snap_size;
	/* Every queued key was a clean segment of the snapshot: live again. */
	f->ngarbage = 0;
}

/* ---- reading ---- */

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
	rc = chunk_open(whole ? j->dst + (cs - j->po) : plain, j->sealed + i * j->sz, &ad,
			j->f->key);
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
 * seen yet, queue
 * the next PREFETCH_AHEAD clean segments that are not in the cache. */
static void content_read_ahead(const struct content_ctx *ctx, struct content_file *f, size_t first,
			       size_t last)
{
	char key[OBJECT_KEY_TEXT_BYTES], path[CACHE_PATH_MAX];
	bool sequential =
	    f->read_seg == 0 ? first == 0 : first + 1 >= f->read_seg && first <= f->read_seg;
	bool moved = last + 1 != f->read_seg;

	f->read_seg = last + 1;
	if (!ctx->prefetch || !sequential || !moved)
		return;
	for (size_t s = last + 1; s < f->nsegs && s <= last + PREFETCH_AHEAD; s++) {
		const struct content_seg *seg = &f->segs[s];

		if (!seg->present || seg->dirty || seg->fd >= 0)
			continue;
		object_key_text(key, seg->key);
		cache_path(ctx->cache, key, path);
		if (access(path, F_OK) != 0)
			prefetch_add(ctx->prefetch, key, content_seg_max(ctx, f, s));
	}
}

ssize_t content_read(const struct content_ctx *ctx, struct content_file *f, void *buf, size_t len,
		     uint64_t off)
{
	struct content_tbuf *tb;
	uint64_t end, pos;
	int rc;

	if (off >= f->size || len == 0)
		return 0;
	end = off + min_u64(min_u64(len, SSIZE_MAX), f->size - off);
	rc = content_key(ctx, f);
	if (rc < 0)
		return rc;
	tb = content_tbuf();
	if (!tb)
		return -ENOMEM;
	content_read_ahead(ctx, f, (size_t)(off / SEG_BYTES), (size_t)((end - 1) / SEG_BYTES));
	for (pos = off; pos < end;) {
		uint64_t pe = min_u64(end, (pos / SEG_BYTES + 1) * SEG_BYTES);

		rc = read_piece(ctx, f, (unsigned char *)buf + (pos - off), pos, pe, tb);
		if (rc < 0)
			return rc;
		pos = pe;
	}
	return (ssize_t)(end - off);
}

/* ---- changing one segment ---- */

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
				  b->f->key);
	if (build_needs_old(b, c)) {
		old_ad.index = c;
		old_ad.last = c == b->n0 - 1;
		rc = chunk_open(plain, slot, &old_ad, b->f->key);
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
	rc = chunk_seal(slot, plain, CHUNK_PLAIN_BYTES, &new_ad, b->f->key);
	sodium_memzero(plain, sizeof(plain));
	return rc;
}

/* par_run callback: chunk ca + i. */
static int build_one(void *arg, size_t i)
{
	const struct seg_build *b = arg;

	return build_chunk(b, b->ca + i);
}

/* Puts the freshly sealed segment in tb->sealed (len bytes) into the cache
 * under key and makes it segment s; a replaced clean key becomes garbage. */
static int seg_install(const struct content_ctx *ctx, struct content_file *f, size_t s,
		       const uint8_t key[OBJECT_ID_BYTES], const unsigned char *data, size_t len)
{
	struct content_seg *seg = &f->segs[s];
	char path[CACHE_PATH_MAX], kt[OBJECT_KEY_TEXT_BYTES];
	int fd, rc;

	rc = garbage_reserve(f, seg->present);
	if (rc < 0)
		return rc;
	object_key_text(kt, key);
	/* Under its final name at once: a new random key nothing references
	 * until a commit has flushed it; no rename, and the file's inode comes
	 * from its own CACHE/o/<hh> directory's block group. */
	fd = cache_create_object(ctx->cache, kt, path);
	if (fd < 0)
		return fd;
	rc = cache_pwrite_full(fd, data, len, 0);
	if (rc < 0) {
		close(fd);
		cache_drop_object(ctx->cache, kt);
		return rc;
	}
	cache_account_fd(ctx->cache, key, fd); /* --cache-size */
	seg_close(f, seg);
	if (seg->present)
		garbage_push(f, seg->key); /* its cache file stays: a commit may be reading it */
	seg->present = seg->dirty = true;
	seg->unsynced = seg->new_dirent = true;
	memcpy(seg->key, key, OBJECT_ID_BYTES);
	seg_adopt_fd(f, seg, fd);
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
	return rc;
}

/* Brings segment s (which has chunks under op->new_size) to its state after
 * op: a dirty segment is patched in place, a clean one or a hole is rebuilt
 * whole under a new random key. */
static int seg_update(const struct content_ctx *ctx, struct content_file *f, size_t s,
		      const struct content_op *op, struct content_tbuf *tb)
{
	struct content_seg *seg = &f->segs[s];
	uint64_t a = (uint64_t)s * SEGMENT_CHUNKS, cb;
	bool rebuild = !seg->present || !seg->dirty;
	struct seg_build b = {.op = op, .f = f, .tb = tb, .ca = a, .old_present = seg->present};
	uint8_t new_key[OBJECT_ID_BYTES];
	int rc;

	b.sz = chunk_sealed_bytes(ctx->suite);
	b.n0 = content_nchunks(op->old_size);
	b.n1 = content_nchunks(op->new_size);
	cb = min_u64(a + SEGMENT_CHUNKS, b.n1);
	if (rebuild)
		randombytes_buf(new_key, sizeof(new_key));
	else
		op_dirty_range(op, a, cb, &b.ca, &cb);
	if (b.ca >= cb)
		return 0;
	content_ad_init(&b.old_ad, ctx, f, seg->key);
	content_ad_init(&b.new_ad, ctx, f, rebuild ? new_key : seg->key);
	rc = build_read_old(ctx, &b, s, cb);
	if (rc == 0)
		rc = par_run(build_one, &b, (size_t)(cb - b.ca));
	if (rc < 0)
		return rc;
	if (rebuild)
		return seg_install(ctx, f, s, new_key, tb->sealed, (cb - a) * b.sz);
	return seg_patch(ctx, &b, s, cb, min_u64(a + SEGMENT_CHUNKS, b.n1));
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

ssize_t content_write(const struct content_ctx *ctx, struct content_file *f, const void *buf,
		      size_t len, uint64_t off)
{
	struct content_tbuf *tb;
	uint64_t done = 0;
	int rc;

	if (len == 0)
		return 0;
	if (len > SSIZE_MAX)
		len = SSIZE_MAX;
	if (off > CONTENT_SIZE_MAX || len > CONTENT_SIZE_MAX - off)
		return -EFBIG;
	rc = content_key(ctx, f);
	if (rc < 0)
		return rc;
	tb = content_tbuf();
	if (!tb)
		return -ENOMEM;
	rc = content_snapshot(f);
	if (rc < 0)
		return rc;
	while (done < len) {
		uint64_t pos = off + done;
		uint64_t n = min_u64(len - done, (pos / SEG_BYTES + 1) * SEG_BYTES - pos);

		rc = write_piece(ctx, f, (const unsigned char *)buf + done, n, pos, tb);
		if (rc < 0)
			return rc; /* never a short count: writeback would drop the rest silently */
		done += n;
	}
	return (ssize_t)done;
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
	rc = content_key(ctx, f);
	if (rc < 0)
		return rc;
	tb = content_tbuf();
	if (!tb)
		return -ENOMEM;
	rc = content_snapshot(f);
	if (rc < 0)
		return rc;
	if (size > f->size)
		return content_grow(ctx, f, size, tb);
	return content_shrink(ctx, f, size, tb);
}

/* ---- lifecycle ---- */

int content_sync(const struct content_ctx *ctx, struct content_file *f)
{
	for (size_t s = 0; s < f->nsegs; s++) {
		struct content_seg *seg = &f->segs[s];
		char key[OBJECT_KEY_TEXT_BYTES];
		int fd, rc;

		if (!seg->present)
			continue;
		if (seg->unsynced) {
			fd = seg_fd(ctx, f, s);
			if (fd < 0)
				return fd;
			if (fault_fire(FAULT_CACHE))
				return -EIO;
			if (fdatasync(fd) < 0)
				return -errno;
			seg->unsynced = false;
		}
		if (seg->new_dirent) {
			object_key_text(key, seg->key);
			rc = cache_sync_parent(ctx->cache, key);
			if (rc < 0)
				return rc;
			seg->new_dirent = false;
		}
	}
	return 0;
}

int content_commit(const struct content_ctx *ctx, struct content_file *f, content_upload_cb cb,
		   void *arg, uint8_t (**garbage)[OBJECT_ID_BYTES], size_t *ngarbage)
{
	char key[OBJECT_KEY_TEXT_BYTES], path[CACHE_PATH_MAX];
	int rc;

	for (size_t s = 0; s < f->nsegs; s++) {
		if (!f->segs[s].present || !f->segs[s].dirty)
			continue;
		object_key_text(key, f->segs[s].key);
		cache_path(ctx->cache, key, path);
		rc = cb(arg, key, path);
		if (rc != 0)
			return rc;
	}
	for (size_t s = 0; s < f->nsegs; s++)
		f->segs[s].dirty = false;
	content_snap_drop(f); /* the commit now records the current content */
	*garbage = f->garbage;
	*ngarbage = f->ngarbage;
	f->garbage = NULL;
	f->ngarbage = f->garbage_cap = 0;
	return 0;
}

void content_forget(const struct content_ctx *ctx, struct content_file *f)
{
	char key[OBJECT_KEY_TEXT_BYTES], id[33];
	size_t npresent = 0;
	bool keep = true;

	for (size_t s = 0; s < f->nsegs; s++)
		npresent += f->segs[s].present;
	if (garbage_reserve(f, npresent) < 0) {
		log_msg(LOG_WARNING, "out of memory: segments of file %s stay in the store",
			log_id(id, f->file_id));
		keep = false;
	}
	for (size_t s = 0; s < f->nsegs; s++) {
		struct content_seg *seg = &f->segs[s];

		seg_close(f, seg);
		if (seg->present && keep)
			garbage_push(f, seg->key);
		if (seg->present && seg->dirty) {
			object_key_text(key, seg->key);
			cache_drop_object(ctx->cache, key);
		}
		seg->present = seg->dirty = false;
	}
	f->nsegs = 0;
	f->size = 0;
	content_snap_drop(f);
}

void content_idle(struct content_file *f)
{
	content_close_all(f); /* content_sync reopens an unsynced segment's file */
	chunk_key_free(f->key);
	f->key = NULL;
}

void content_release(struct content_file *f)
{
	content_idle(f);
	content_snap_drop(f);
	free(f->segs);
	f->segs = NULL;
	f->nsegs = f->segs_cap = 0;
	f->nfds = 0;
}

static void content_init(struct content_file *f)
{
	memset(f, 0, sizeof(*f));
	f->key = NULL;
	f->segs = NULL;
	f->garbage = NULL;
}

int content_new(struct content_file *f)
{
	content_init(f);
	randombytes_buf(f->file_id, sizeof(f->file_id));
	return 0;
}

int content_load(struct content_file *f, const struct dirobj_entry *e)
{
	int rc;

	content_init(f);
	if (e->type != DIROBJ_FILE || e->size > CONTENT_SIZE_MAX ||
	    e->nsegments != content_nsegs_for(e->size))
		return -EINVAL;
	memcpy(f->file_id, e->id, OBJECT_ID_BYTES);
	rc = segs_resize(f, e->nsegments);
	if (rc < 0) {
		content_release(f);
		return rc;
	}
	for (size_t s = 0; s < e->nsegments; s++) {
		f->segs[s].present = e->segments[s].present;
		memcpy(f->segs[s].key, e->segments[s].store_key, OBJECT_ID_BYTES);
	}
	f->size = e->size;
	return 0;
}

int content_store(const struct content_file *f, struct dirobj_entry *e)
{
	struct dirobj_segment *segs = NULL;

	if (f->nsegs > 0) {
		segs = calloc(f->nsegs, sizeof(*segs));
		if (!segs)
			return -ENOMEM;
	}
	for (size_t s = 0; s < f->nsegs; s++) {
		segs[s].present = f->segs[s].present;
		if (segs[s].present)
			memcpy(segs[s].store_key, f->segs[s].key, OBJECT_ID_BYTES);
	}
	e->size = f->size;
	e->segments = segs;
	e->nsegments = f->nsegs;
	return 0;
}
