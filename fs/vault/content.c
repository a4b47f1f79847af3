/* content.c - a file's bytes over sealed segment files in the cache: the
 * shared pool of scratch buffers, the file's key, its segments array, fds and
 * garbage, the last commit's state and going back to it, and a file's
 * lifecycle (load, store, sync, commit, forget). Fetching is in
 * content_fetch.c, reading in content_read.c, writing and truncating in
 * content_write.c (docs/FORMAT.md, "Content"). It must never write plaintext
 * to disk, change a clean segment's cache file, or log anything but object
 * ids and chunk indexes. */
#include "content_int.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <sodium.h>

#include "fault.h"
#include "log.h"

/* Scratch buffers are lent per call, not kept per thread: a FUSE worker or a
 * pool thread that once wrote would otherwise pin a whole segment buffer
 * (~1 MiB) for its life. At most CONTENT_TBUF_KEEP idle buffers stay mapped
 * for the next call (as many as libfuse keeps idle workers: the kernel's
 * read-ahead sends a few 128 KiB reads at once); others are unmapped on
 * return, so memory follows the requests in flight. Buffers are mmapped, not malloced: pages are
 * only touched (resident) for the chunks a call uses, and an unmapped buffer goes back to the
 * kernel at once instead of fragmenting a malloc arena. */
#define CONTENT_TBUF_KEEP 4

static pthread_mutex_t content_tbuf_lock = PTHREAD_MUTEX_INITIALIZER;
static struct content_tbuf *content_tbuf_idle[CONTENT_TBUF_KEEP]; /* content_tbuf_lock */
static unsigned content_tbuf_nidle;				  /* content_tbuf_lock */

struct content_tbuf *content_tbuf_get(void)
{
	struct content_tbuf *tb = NULL;
	void *p;

	pthread_mutex_lock(&content_tbuf_lock);
	if (content_tbuf_nidle > 0)
		tb = content_tbuf_idle[--content_tbuf_nidle];
	pthread_mutex_unlock(&content_tbuf_lock);
	if (tb || fault_fire(FAULT_ALLOC))
		return tb;
	p = mmap(NULL, sizeof(*tb), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

void content_tbuf_put(struct content_tbuf *tb)
{
	if (!tb)
		return;
	pthread_mutex_lock(&content_tbuf_lock);
	if (content_tbuf_nidle < CONTENT_TBUF_KEEP) {
		content_tbuf_idle[content_tbuf_nidle++] = tb;
		tb = NULL;
	}
	pthread_mutex_unlock(&content_tbuf_lock);
	if (tb) {
		sodium_memzero(tb->plain, sizeof(tb->plain)); /* plaintext, until unmapped */
		munmap(tb, sizeof(*tb));
	}
}

int content_bad_chunk(const struct content_file *f, uint64_t index, int rc)
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

int content_key(const struct content_ctx *ctx, struct content_file *f)
{
	if (!f->key && !fault_fire(FAULT_ALLOC))
		f->key = chunk_key_new(ctx->keys, ctx->suite, ctx->content_key, f->file_id);
	return f->key ? 0 : -ENOMEM;
}

int content_seg_key(const struct content_ctx *ctx, struct content_file *f, size_t s,
		    const struct chunk_key **out)
{
	struct content_seg *seg = &f->segs[s];
	int rc;

	*out = NULL;
	if (seg->created == 0) {
		rc = content_key(ctx, f);
		*out = f->key;
		return rc;
	}
	if (!seg->skey && !fault_fire(FAULT_ALLOC))
		seg->skey = chunk_key_new_segment(ctx->keys, ctx->suite, ctx->content_key,
						  f->file_id, seg->key);
	*out = seg->skey;
	return seg->skey ? 0 : -ENOMEM;
}

void seg_set_key(struct content_seg *seg, struct chunk_key *skey)
{
	chunk_key_free(seg->skey);
	seg->skey = skey;
}

void seg_patch_drop(struct content_seg *seg)
{
	free(seg->patch);
	seg->patch = NULL;
}

void content_ad_init(struct chunk_ad *ad, const struct content_ctx *ctx,
		     const struct content_file *f, const uint8_t seg_key[OBJECT_ID_BYTES])
{
	memcpy(ad->vault_id, ctx->vault_id, OBJECT_ID_BYTES);
	memcpy(ad->file_id, f->file_id, OBJECT_ID_BYTES);
	memcpy(ad->segment_key, seg_key, OBJECT_ID_BYTES);
	ad->index = 0;
	ad->last = false;
}

/* ---- segments array, fds, garbage ---- */

void seg_close(struct content_file *f, struct content_seg *seg)
{
	if (seg->fd < 0)
		return;
	close(seg->fd);
	seg->fd = -1;
	f->nfds--;
}

void content_close_all(struct content_file *f)
{
	for (size_t s = 0; s < f->nsegs && f->nfds > 0; s++)
		seg_close(f, &f->segs[s]);
}

/* Adopts fd for seg, closing the file's other fds first when at the bound. */
size_t content_fds_bound(bool cache_limited)
{
	size_t m = cache_limited ? CONTENT_FDS_DEFAULT : CONTENT_FDS_MAX;
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur / 64 < m)
		m = rl.rlim_cur / 64 > 8 ? (size_t)(rl.rlim_cur / 64) : 8;
	return m;
}

void seg_adopt_fd(const struct content_ctx *ctx, struct content_file *f, struct content_seg *seg,
		  int fd)
{
	if (f->nfds >= (ctx->fds_max ? ctx->fds_max : CONTENT_FDS_DEFAULT))
		content_close_all(f);
	seg->fd = fd;
	f->nfds++;
}

int segs_resize(struct content_file *f, size_t n)
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
int garbage_reserve(struct content_file *f, size_t extra)
{
	size_t cap = f->garbage_cap > 0 ? f->garbage_cap : 8;
	struct content_garbage *p;

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
void garbage_push(struct content_file *f, const uint8_t key[OBJECT_ID_BYTES], uint64_t created)
{
	assert(f->ngarbage < f->garbage_cap);
	memcpy(f->garbage[f->ngarbage].key, key, OBJECT_ID_BYTES);
	f->garbage[f->ngarbage++].created = created;
}

/* Turns segment s into a hole: a clean one's key becomes garbage (room
 * reserved by the caller), a dirty one's cache file is removed. */
void seg_remove(const struct content_ctx *ctx, struct content_file *f, size_t s)
{
	struct content_seg *seg = &f->segs[s];
	char key[OBJECT_KEY_TEXT_BYTES];

	seg_close(f, seg);
	if (seg->present && seg->dirty) {
		object_key_text(key, seg->key);
		cache_drop_object(ctx->cache, key);
	} else if (seg->present) {
		garbage_push(f, seg->key, seg->created);
	}
	chunk_key_free(seg->skey);
	seg_patch_drop(seg);
	memset(seg, 0, sizeof(*seg));
	seg->fd = -1;
}

/* ---- the last commit's state, and going back to it ---- */

/* Frees every chunk key f holds (each comes back on demand). */
static void content_idle_keys(struct content_file *f)
{
	chunk_key_free(f->key);
	f->key = NULL;
	for (size_t s = 0; s < f->nsegs; s++)
		seg_set_key(&f->segs[s], NULL);
}

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
int content_snapshot(struct content_file *f)
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
		ss[s].created = f->segs[s].created;
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
		seg_patch_drop(&f->segs[s]);
		if (f->segs[s].present && f->segs[s].dirty) {
			object_key_text(key, f->segs[s].key);
			cache_drop_object(ctx->cache, key);
		}
	}
	/* segs_cap never shrinks, so the snapshot's segments fit. */
	assert(f->snap_nsegs <= f->segs_cap);
	content_idle_keys(f);
	for (size_t s = 0; s < f->snap_nsegs; s++) {
		memset(&f->segs[s], 0, sizeof(f->segs[s]));
		f->segs[s].fd = -1;
		f->segs[s].present = f->snap_segs[s].present;
		memcpy(f->segs[s].key, f->snap_segs[s].key, OBJECT_ID_BYTES);
		f->segs[s].created = f->snap_segs[s].created;
	}
	f->nsegs = f->snap_nsegs;
	f->size = f->snap_size;
	/* Every queued key was a clean segment of the snapshot: live again. */
	f->ngarbage = 0;
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

int content_commit(const struct content_ctx *ctx, struct content_file *f, uint64_t seq,
		   content_upload_cb cb, void *arg, struct content_garbage **garbage,
		   size_t *ngarbage)
{
	char key[OBJECT_KEY_TEXT_BYTES], path[CACHE_PATH_MAX];
	int rc;

	for (size_t s = 0; s < f->nsegs; s++) {
		struct content_patch_info pi = {f->segs[s].patch, f->file_id, s,
						(f->size + CHUNK_BYTES - 1) / CHUNK_BYTES};

		if (!f->segs[s].present || !f->segs[s].dirty)
			continue;
		object_key_text(key, f->segs[s].key);
		cache_path(ctx->cache, key, path);
		rc = cb(arg, key, path, f->segs[s].fd,
			chunk_segment_stored_bytes(ctx->suite, f->size, s), pi.p ? &pi : NULL);
		if (rc != 0)
			return rc;
	}
	for (size_t s = 0; s < f->nsegs; s++) {
		if (f->segs[s].dirty && f->segs[s].created == CONTENT_CREATED_PENDING)
			f->segs[s].created = seq; /* this commit records it first */
		f->segs[s].dirty = false;
		seg_patch_drop(&f->segs[s]);
	}
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
		seg_patch_drop(seg);
		if (seg->present && keep)
			garbage_push(f, seg->key, seg->dirty ? 0 : seg->created);
		if (seg->present && seg->dirty) {
			object_key_text(key, seg->key);
			cache_drop_object(ctx->cache, key);
		}
		seg->present = seg->dirty = false;
		seg_set_key(seg, NULL);
		seg->created = 0;
	}
	f->nsegs = 0;
	f->size = 0;
	content_snap_drop(f);
}

void content_idle(struct content_file *f)
{
	content_close_all(f); /* content_sync reopens an unsynced segment's file */
	content_idle_keys(f);
}

void content_release(struct content_file *f)
{
	content_idle(f);
	for (size_t s = 0; s < f->nsegs; s++)
		seg_patch_drop(&f->segs[s]);
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
	/* An id, not a secret: the salt of the file's key derivation, kept in
	 * the sealed directory objects. So it comes from the thread's pool of
	 * public randomness (crypto/chunk.h): no getrandom per created file. */
	chunk_random_public(f->file_id, sizeof(f->file_id));
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
		f->segs[s].created = e->segments[s].present ? e->segments[s].created : 0;
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
		segs[s].created = segs[s].present ? f->segs[s].created : 0;
		if (segs[s].created == CONTENT_CREATED_PENDING) {
			/* Never recorded: only content_commit gives it its seq. */
			free(segs);
			return -EINVAL;
		}
	}
	e->size = f->size;
	e->segments = segs;
	e->nsegments = f->nsegs;
	return 0;
}
