/* content_int.h - what the content files (content.c, content_fetch.c,
 * content_read.c, content_write.c) share and nobody else may call: chunk and
 * segment arithmetic, the pool of scratch buffers, a file's key and
 * associated data, its segments array, open fds and garbage list. Every call
 * needs the file's lock (content.h); none logs anything but ids and chunk
 * indexes. */
#ifndef SEALFS_CONTENT_INT_H
#define SEALFS_CONTENT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "content.h"

#define CHUNK_BYTES ((uint64_t)CHUNK_PLAIN_BYTES)
#define SEG_BYTES ((uint64_t)SEGMENT_PLAIN_BYTES)
#define SEALED_MAX_BYTES (SUITE_MAX_NONCE_BYTES + CHUNK_PLAIN_BYTES + SUITE_TAG_BYTES)

/* Scratch space for one content call: one chunk of plaintext and one whole
 * segment of sealed chunks (~1 MiB; a call touches only the chunks it uses). */
struct content_tbuf {
	unsigned char plain[CHUNK_PLAIN_BYTES];
	unsigned char sealed[SEGMENT_CHUNKS * SEALED_MAX_BYTES];
};

/* A scratch buffer for the caller until content_tbuf_put, from a small shared
 * pool (content.c): NULL when out of memory. Thread-safe. */
struct content_tbuf *content_tbuf_get(void);
/* Gives tb back to the pool, or unmaps it (plaintext wiped) when the pool has
 * enough idle buffers. NULL is ignored. Thread-safe. */
void content_tbuf_put(struct content_tbuf *tb);

static inline uint64_t content_nchunks(uint64_t size)
{
	return (size + CHUNK_BYTES - 1) / CHUNK_BYTES;
}

static inline size_t content_nsegs_for(uint64_t size)
{
	return (size_t)((size + SEG_BYTES - 1) / SEG_BYTES);
}

static inline uint64_t min_u64(uint64_t a, uint64_t b) { return a < b ? a : b; }

static inline uint64_t max_u64(uint64_t a, uint64_t b) { return a > b ? a : b; }

/* Logs a missing or forged chunk (-ENODATA, -ENOENT, -EBADMSG) and returns
 * -EIO; any other rc is returned as it is, unlogged. */
int content_bad_chunk(const struct content_file *f, uint64_t index, int rc);
/* Derives f's chunk key into the key pool if it has none. 0 or -ENOMEM. */
int content_key(const struct content_ctx *ctx, struct content_file *f);
/* *out = the key segment s's chunks are sealed under (content.h, struct
 * content_seg.created): the file's key or the segment's own, derived into
 * the key pool if not held yet. 0 or -ENOMEM. */
int content_seg_key(const struct content_ctx *ctx, struct content_file *f, size_t s,
		    const struct chunk_key **out);
/* Replaces seg's own key by skey (owned from now on; NULL: none), freeing
 * the one it held. */
void seg_set_key(struct content_seg *seg, struct chunk_key *skey);
/* Frees seg's patch (a commit recorded it, or the version is gone). */
void seg_patch_drop(struct content_seg *seg);
/* The associated data of the chunks of segment seg_key of f (index 0). */
void content_ad_init(struct chunk_ad *ad, const struct content_ctx *ctx,
		     const struct content_file *f, const uint8_t seg_key[OBJECT_ID_BYTES]);

/* ---- segments array, fds, garbage (content.c) ---- */

void seg_close(struct content_file *f, struct content_seg *seg);
/* Closes every cache fd f holds. */
void content_close_all(struct content_file *f);
/* Adopts fd for seg, closing the file's other fds first when at the bound
 * (ctx->fds_max). */
void seg_adopt_fd(const struct content_ctx *ctx, struct content_file *f, struct content_seg *seg,
		  int fd);
/* Sets the number of segments to n; new ones are holes. 0 or -ENOMEM. */
int segs_resize(struct content_file *f, size_t n);
/* Makes room for extra more garbage keys (none: allocates nothing). */
int garbage_reserve(struct content_file *f, size_t extra);
/* Needs room reserved by garbage_reserve. */
void garbage_push(struct content_file *f, const uint8_t key[OBJECT_ID_BYTES], uint64_t created);
/* Turns segment s into a hole: a clean one's key becomes garbage (room
 * reserved by the caller), a dirty one's cache file is removed. */
void seg_remove(const struct content_ctx *ctx, struct content_file *f, size_t s);
/* Before the first change after a commit: remember what it recorded
 * (content_revert goes back to it). 0 or -ENOMEM. */
int content_snapshot(struct content_file *f);

/* ---- a segment's cache file (content_fetch.c) ---- */

/* The open cache file of present segment s: read-write when dirty, read-only
 * (fetched from the store if needed, unless f->nofetch: -EWOULDBLOCK) when
 * clean. The fd stays f's. */
int seg_fd(const struct content_ctx *ctx, struct content_file *f, size_t s);

/* CLOCK_MONOTONIC in milliseconds (content_file.unreachable_until_ms). */
uint64_t content_now_ms(void);

/* The most bytes clean segment s's object can have (content_fetch.c). */
uint64_t content_seg_max(const struct content_ctx *ctx, const struct content_file *f, size_t s);

#endif
