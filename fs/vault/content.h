/* content.h - a file's content: reading and writing plaintext at any offset
 * over sealed segment files in the cache (docs/FORMAT.md, "Content"). Knows
 * chunks and segments; knows nothing of FUSE or directories.
 *
 * Copy on write per segment: a segment that is in the store is never changed.
 * The first write to such a "clean" segment after a commit gives it a new
 * random store key, reseals its chunks under that key into a new cache file,
 * and queues the old key as garbage (deleted from the store after the next
 * commit). A "dirty" segment's cache file is written in place. The old cache
 * file is left in place (a commit may still be uploading it): whoever deletes
 * a garbage key from the store also drops it from the cache.
 *
 * Thread safety: none per file; the caller holds the file's lock for every
 * call. Different files may be used from different threads at once; each
 * thread gets a scratch buffer of about 1 MiB on its first call. */
#ifndef SEALFS_CONTENT_H
#define SEALFS_CONTENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cache.h"
#include "dirobj.h"
#include "prefetch.h"
#include "secmem.h"
#include "vault.h"

/* Cache files a file keeps open at most (content_ctx.fds_max); more are
 * closed and reopened. A reader at random in a file of 256 segments or
 * fewer then opens each segment's file once (docs/PERFORMANCE.md, "Random
 * reads: more cache files kept open (session 11)"). With --cache-size the
 * default, 32: an evicted segment a file still holds open keeps its disk. */
#define CONTENT_FDS_MAX 256
#define CONTENT_FDS_DEFAULT 32
/* Largest file size accepted (16 TiB, ext4's limit): -EFBIG beyond. A
 * file's entry lists every segment, holes included (16 M of them here). */
#define CONTENT_SIZE_MAX ((uint64_t)1 << 44)

/* Shared, read-only after mount. */
struct content_ctx {
	struct cache *cache;
	enum suite_id suite;
	int format;			  /* the vault's format (vault_config.format): 1 to 3 */
	const unsigned char *content_key; /* borrowed: vault_keys.content */
	/* Borrowed: the locked slots the per-file keys live in (made by
	 * chunk_key_pool_new; tree_open makes the tree's own). Thread-safe. */
	struct secmem_pool *keys;
	uint8_t vault_id[OBJECT_ID_BYTES];
	struct prefetch *prefetch; /* borrowed; NULL: no read-ahead (a local store) */
	/* Borrowed; NULL: none. Hands the next cached segment files of a
	 * sequential reader to the kernel's read-ahead (prefetch_warm). */
	struct prefetch *warm;
	size_t fds_max; /* cache fds per file (content_fds_bound); 0: CONTENT_FDS_DEFAULT */
};

/* content_ctx.fds_max for a mount: CONTENT_FDS_MAX, or CONTENT_FDS_DEFAULT
 * when the cache has a size limit; at most RLIMIT_NOFILE / 64 (at least 8),
 * so that one file read at random leaves the others fds. */
size_t content_fds_bound(bool cache_limited);

/* content_seg.created of a segment version no commit has recorded yet
 * (format 2): its chunks are sealed under its own key; content_commit sets
 * the commit's seq. */
#define CONTENT_CREATED_PENDING UINT64_MAX

/* A dirty segment version copied on write from a clean one (format 2): what
 * a commit needs to journal only the chunks that changed since, instead of
 * flushing the whole new cache file (docs/INTERNALS.md, "Commit"). Every
 * chunk not marked touched holds the same plaintext as the base's chunk of
 * the same index, sealed again for the new version. */
struct content_patch {
	uint8_t base[OBJECT_ID_BYTES];	     /* the clean version's store key */
	uint64_t base_created;		     /* its created (0: sealed under the file's key) */
	uint64_t n0;			     /* the file's chunk count the base was sealed for */
	uint8_t touched[SEGMENT_CHUNKS / 8]; /* by index in the segment */
};

struct content_seg {
	bool present;		      /* false: a hole, reads as zeros */
	bool dirty;		      /* changed since the last commit */
	uint8_t key[OBJECT_ID_BYTES]; /* current store key */
	/* The seq of the commit that created this version (dirobj_segment.
	 * created): 0 seals its chunks under the file's key (format 1, or
	 * made before an upgrade), anything else under its own key (format 2,
	 * docs/FORMAT.md "Keys"), derived into skey on first use and freed
	 * with the version (or by content_idle). */
	uint64_t created;
	struct chunk_key *skey;
	int fd;		 /* open cache file, or -1 */
	bool unsynced;	 /* dirty data written since the last content_sync */
	bool new_dirent; /* cache file created since the last content_sync: fsync its dir */
	struct content_patch *patch; /* dirty and copied from a clean version, or NULL */
};

/* One segment as the last commit recorded it. */
struct content_snapseg {
	bool present;
	uint8_t key[OBJECT_ID_BYTES];
	uint64_t created;
};

/* A segment a call needed from the store (see content_file.nofetch). */
struct content_want {
	uint8_t key[OBJECT_ID_BYTES];
	size_t seg;
	uint64_t max; /* the most bytes its object can have (content_seg_max) */
};

/* A replaced segment version: its store key and created seq (0: unknown,
 * or format 1). */
struct content_garbage {
	uint8_t key[OBJECT_ID_BYTES];
	uint64_t created;
};

struct content_file {
	uint8_t file_id[OBJECT_ID_BYTES];
	uint64_t size;
	struct chunk_key *key; /* the per-file key, derived lazily (segments with created 0) */
	struct content_seg *segs;
	size_t nsegs;	 /* == ceil(size / SEGMENT_PLAIN_BYTES) */
	size_t segs_cap; /* allocated length of segs */
	size_t nfds;	 /* segs[].fd that are open; at most content_ctx.fds_max */
	/* Store keys replaced since the last commit, each with the seq that
	 * created it (its created: the garbage triple's c, docs/FORMAT.md
	 * "Garbage lists"): deleted after it. NULL until a key is queued. */
	struct content_garbage *garbage;
	size_t ngarbage;
	size_t garbage_cap; /* allocated length of garbage */
	/* CLOCK_MONOTONIC ms until which a read of a segment that is not in the
	 * cache fails at once with EIO, without asking the store: it just failed
	 * to deliver one (the kernel retries a failed read at once). 0: none. */
	uint64_t unreachable_until_ms;
	/* 1 + the segment the last read ended in (0: none yet), to see a
	 * sequential reader and fetch ahead of it (ctx->prefetch). */
	size_t read_seg;
	/* 1 + the last segment handed to ctx->warm (0: none since the last
	 * jump), and how many reads in a row moved on in order (ctx->warm only
	 * follows a reader from the file's start or after two: one random read
	 * that happens to land on the next segment warms nothing). */
	size_t warm_seg;
	unsigned seq_moves;
	/* No fetch under the file's lock (docs/INTERNALS.md, "Locks"): while
	 * nofetch is set, a call that needs a clean segment that is not in the
	 * cache fails with -EWOULDBLOCK and names it in want, instead of
	 * fetching it with the lock held. Both under the file's lock. */
	bool nofetch;
	struct content_want want;
	/* The content as the last content_commit handed it out (or as loaded):
	 * what content_revert goes back to. Taken by the first change after a
	 * commit (before it changes anything), dropped by the next commit.
	 * snap_valid false: nothing changed since (no snapshot held). */
	bool snap_valid;
	uint64_t snap_size;
	size_t snap_nsegs;
	struct content_snapseg *snap_segs; /* snap_nsegs entries; NULL when none */
};

/* A file's content while it is "cold": no handle open, nothing changed since
 * the last commit (or the load), no fd, no key, nothing to revert. Only the
 * size and the segments' store keys and created seqs, in 24 bytes plus 16 a
 * segment beyond the first (plus 8 a segment when any created is not 0, or
 * for one segment when its created does not fit 18 bits): what a closed
 * file the kernel still references costs (docs/INTERNALS.md, "In memory").
 * content_thaw makes a content_file of it for a read or change,
 * content_freeze turns an idle clean one back. Same thread rules as
 * content_file. */
struct content_cold {
	/* Bits 0..44: the size (at most CONTENT_SIZE_MAX = 2^44). Bit 63: its
	 * one segment is a hole. Bits 45..62 (content_cold.c): the one
	 * segment's created seq, or a mark that keys holds everything. */
	uint64_t size_bits;
	union {
		uint8_t key[OBJECT_ID_BYTES]; /* one segment: its store key */
		/* Otherwise malloc'ed: nsegs keys, then (if marked) nsegs
		 * created seqs (u64, unaligned), then nsegs bits "present". */
		uint8_t *keys;
	};
};

/* Initialises from a directory entry (copies size and segment keys).
 * 0, -EINVAL as content_load, -ENOMEM. */
int content_cold_load(struct content_cold *c, const struct dirobj_entry *e);
uint64_t content_cold_size(const struct content_cold *c);
size_t content_cold_nsegs(const struct content_cold *c);
/* Segment s's store key (borrowed), or NULL for a hole. s < the segment count. */
const uint8_t *content_cold_key(const struct content_cold *c, size_t s);
/* Segment s's created seq (0 for a hole). s < the segment count. */
uint64_t content_cold_created(const struct content_cold *c, size_t s);
/* As content_store, from a cold file. */
int content_cold_store(const struct content_cold *c, struct dirobj_entry *e);
/* Frees the keys; c is then an empty file. */
void content_cold_free(struct content_cold *c);
/* A new content_file (*out) holding c's content under file id file_id; c is
 * emptied. 0 or -ENOMEM (c unchanged). */
int content_thaw(struct content_file **out, const uint8_t file_id[OBJECT_ID_BYTES],
		 struct content_cold *c);
/* If *f is clean (nothing changed since its last commit, no garbage queued,
 * no store failure being held), makes it cold into c (freeing *f, which
 * becomes NULL) and returns true; else false and only closes its fds and
 * drops its key (content_idle). Call only when the file has no handle open.
 * Allocation failure keeps it as it is. */
bool content_freeze(struct content_file **f, struct content_cold *c);

/* Initialises from a directory entry (copies size and segments; every segment
 * starts clean, no fd open). Returns 0, -EINVAL if e is not a file or its
 * segment count does not match its size, -ENOMEM. */
int content_load(struct content_file *f, const struct dirobj_entry *e);
/* A new empty file with a fresh random file id. Returns 0. */
int content_new(struct content_file *f);
/* Fills e->size, e->segments (with each one's created), e->nsegments (new
 * allocation; e->segments is overwritten, not freed: release the old array
 * first) from f. NULL segments when the file has none. Returns 0, -ENOMEM,
 * or -EINVAL when a segment was never handed to content_commit (its created
 * is not known yet). */
int content_store(const struct content_file *f, struct dirobj_entry *e);

/* Fetches w's segment into the cache (waiting for a read-ahead of it in
 * progress instead), with no lock held: what a caller does after a
 * -EWOULDBLOCK, before it calls again. 0, -ENOENT when the store no longer
 * has it (the file changed meanwhile: call again), or the store's error. */
int content_fetch(const struct content_ctx *ctx, const struct content_want *w);
/* After content_fetch of w failed with rc, under the file's lock: -EAGAIN
 * when f no longer uses that segment (call again); a store that is out logs
 * one line (file id), holds further uncached reads of f for a second, and
 * gives -EIO; a segment missing from the store is logged and gives -EIO too;
 * other errors are returned as they are. */
int content_fetch_failed(struct content_file *f, const struct content_want *w, int rc);

/* Reads up to len bytes at off; returns the count (short only at EOF), or
 * -EIO when a chunk fails to authenticate (logged with the file id), or a
 * store error. Holes read as zeros. */
ssize_t content_read(const struct content_ctx *ctx, struct content_file *f, void *buf, size_t len,
		     uint64_t off);
/* Writes len bytes at off, growing the file (gaps read as zeros). Returns len
 * or -errno; after an error the content may be half changed: the caller must
 * call content_revert before the next commit. */
ssize_t content_write(const struct content_ctx *ctx, struct content_file *f, const void *buf,
		      size_t len, uint64_t off);
/* Sets the size, growing with zeros or shrinking. Returns 0, -EFBIG over
 * CONTENT_SIZE_MAX, -EIO (a chunk that must be resealed fails to
 * authenticate), or a cache/store error; after an error, as content_write. */
int content_truncate(const struct content_ctx *ctx, struct content_file *f, uint64_t size);
/* Drops every change since the last content_commit (or load): dirty cache
 * files are removed, the segments, size and garbage list are as they were.
 * Cannot fail (allocates nothing). After it the file holds exactly what a
 * commit recorded or is about to record, never a half-done change. */
void content_revert(const struct content_ctx *ctx, struct content_file *f);
/* fdatasync()s every dirty segment's cache file written since the last call,
 * and fsync()s the cache directory of each one created since. */
int content_sync(const struct content_ctx *ctx, struct content_file *f);

/* For a commit: calls cb for every dirty segment with its store key text and
 * cache path, then marks them clean (the next write copies on write). Moves the
 * garbage list out into *garbage / *ngarbage (caller frees; NULL when empty).
 * If cb returns non-zero, stops and returns that value: nothing is marked
 * clean and the garbage stays. The cache files handed to cb are never changed
 * or removed by this module afterwards (replaced segments are only queued as
 * garbage), so cb may read them later without the file's lock: the caller
 * drops a garbage key from the cache (cache_drop_object) when it deletes it
 * from the store. fd is the segment's cache file when f holds it open (else
 * -1), valid during the call only (cb may pread it: a commit copies a small
 * segment without opening its file again); len is that file's size, the
 * segment's sealed bytes. */
/* patch (NULL: none) describes a version copied on write from a clean one:
 * its base, and the chunks that changed since (struct content_patch), with the
 * file's id, the segment's index and the file's chunk count now. */
struct content_patch_info {
	const struct content_patch *p;
	const uint8_t *file_id;
	uint64_t seg, n1;
};
typedef int (*content_upload_cb)(void *arg, const char *key_text, const char *cache_path, int fd,
				 uint64_t len, const struct content_patch_info *patch);
/* seq is the seq of the head this commit writes: the created of every
 * segment version it records for the first time (format 2). */
int content_commit(const struct content_ctx *ctx, struct content_file *f, uint64_t seq,
		   content_upload_cb cb, void *arg, struct content_garbage **garbage,
		   size_t *ngarbage);

/* The file is gone (unlinked and closed): every present segment's key, clean
 * or dirty, moves to the garbage list; dirty cache files are removed. */
void content_forget(const struct content_ctx *ctx, struct content_file *f);
/* The file has no open handle left: closes its cache fds and frees its
 * chunk keys, the file's and its segments' (all come back on demand). Keeps the segments and the
 * garbage list, so it is right in any state, dirty too. Bounds the fds and the key memory (locked
 * pages) of a mount to what open files use. */
void content_idle(struct content_file *f);
/* Closes fds, frees the key and the segments (not the garbage list, which
 * content_commit hands out; it is NULL when nothing is queued). */
void content_release(struct content_file *f);

#endif
