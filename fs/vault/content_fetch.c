/* content_fetch.c - a segment's cache file: opening it, fetching a clean
 * segment from the store into the cache (claimed from the read-ahead first),
 * and what a read sees while the store does not deliver (docs/INTERNALS.md,
 * "Reads while the store is out"). It must never fetch while f->nofetch is
 * set (the caller holds the file's lock then), nor log a name. */
#include "content_int.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define CONTENT_UNREACHABLE_HOLD_MS 1000u /* see seg_open_clean */

uint64_t content_now_ms(void)
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
uint64_t content_seg_max(const struct content_ctx *ctx, const struct content_file *f, size_t s)
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
int seg_fd(const struct content_ctx *ctx, struct content_file *f, size_t s)
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
	seg_adopt_fd(ctx, f, seg, fd);
	return fd;
}
