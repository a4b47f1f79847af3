/* cache.h - the local ciphertext cache: a directory holding sealed objects
 * under the same keys as the store, plus a lock file. It never holds
 * plaintext. Thread-safe.
 *
 * Layout: CACHE/lock (flock'ed while mounted), CACHE/o/<hh>/<32 hex> objects,
 * CACHE/tmp/ files being built, CACHE/pool the keys of the empty files made
 * in advance for new objects (cache_new_object). */
#ifndef SEALFS_CACHE_H
#define SEALFS_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend.h"

#define CACHE_PATH_MAX 4096

struct cache;

/* Opens (creating if needed, mode 0700) the cache at dir and takes its lock.
 * Returns 0, -EBUSY if another mount holds it, -EACCES/-EROFS if unwritable
 * (err gets a one-line reason). *out is new. */
int cache_open(struct cache **out, const char *dir, struct backend *store, char *err,
	       size_t err_size);
/* Releases the lock and frees. */
void cache_close(struct cache *c);

/* Path of the cache file for store key (e.g. "o/ab/ab12..."). Never fails. */
void cache_path(const struct cache *c, const char *key, char out[CACHE_PATH_MAX]);
/* Path for a new temporary file under CACHE/tmp (unique). */
void cache_tmp_path(struct cache *c, char out[CACHE_PATH_MAX]);

/* Opens the cache file for key read-only, fetching it from the store first if
 * it is not cached; max is the most bytes the object can have (known from
 * authenticated metadata): a larger one is refused with -EFBIG and nothing
 * of it stays in the cache. Returns an fd >= 0, -ENOENT if the store lacks
 * it, or the store's error. Tracked: the object becomes the most recently
 * used; a fetched one is clean. */
int cache_open_object(struct cache *c, const char *key, uint64_t max);
/* The same without fetching: -ENOENT when key is not in the cache. */
int cache_open_cached(struct cache *c, const char *key);
/* Whether key is in the cache now (no fetch, no use recorded). */
bool cache_has_object(struct cache *c, const char *key);
/* Reads a whole object (cache first, then the store, filling the cache) into a
 * new malloc'ed buffer; -EFBIG (nothing read) when it has more than max
 * bytes, in the store or in the cache. */
int cache_read_object(struct cache *c, const char *key, uint64_t max, unsigned char **out,
		      size_t *out_len);
/* Writes a whole object into the cache (atomic: tmp file + rename, no fsync).
 * Tracked (cache_track): the object is pinned. */
int cache_write_object(struct cache *c, const char *key, const void *data, size_t len);
/* Removes an object from the cache; missing is fine. */
int cache_drop_object(struct cache *c, const char *key);

/* Creates a new empty temporary file (O_RDWR, mode 0600) under CACHE/tmp;
 * its path goes to path. Returns the fd, or -errno. */
int cache_tmp_create(struct cache *c, char path[CACHE_PATH_MAX]);
/* Creates the cache file of a new object under its final name (O_EXCL,
 * O_RDWR, mode 0600), creating CACHE/o/<hh> if needed; path gets its path.
 * For objects whose key is new and random and that nothing references until
 * the caller has written and flushed them (new segments). Like cache_install
 * it starts pinned (--cache-size), at size 0: the caller reports what it
 * wrote with cache_account_fd. Returns the fd or -errno (-EEXIST: the key is
 * taken). */
int cache_create_object(struct cache *c, const char *key, char path[CACHE_PATH_MAX]);
/* The same for a new object under a new random key (a store key, public
 * randomness): the fd of an empty file made in advance by the cache's pool
 * (fs/cache/cache_pool.c) when one is ready, so that the caller does no
 * file-system metadata work, else one created now. key gets the key, path
 * its path; pinned at size 0 like cache_create_object. The fd or -errno.
 * Thread-safe. An unused file is for cache_drop_object. */
int cache_new_object(struct cache *c, uint8_t key[16], char path[CACHE_PATH_MAX]);
/* Renames the temporary file tmp_path into place as the cache file of key,
 * creating CACHE/o/<hh> if needed (no fsync). Returns 0 or -errno; on error
 * tmp_path is left for the caller to unlink. Tracked: the object is pinned
 * and the cache may evict others. */
int cache_install(struct cache *c, const char *tmp_path, const char *key);
/* fsync()s the directory holding key's cache file, so that a file installed
 * there survives a crash. Returns 0 or -errno. */
int cache_sync_parent(struct cache *c, const char *key);

/* ---- --cache-size (docs/INTERNALS.md, "Cache size"; fs/cache/cache_lru.h) ----
 *
 * Once cache_track has run, the cache keeps an index of its objects: every
 * object the fs layer creates (cache_install, cache_write_object,
 * cache_create_object, cache_new_object) starts
 * pinned; fetched and scanned objects are clean. With a limit set, clean
 * objects are evicted least recently used first whenever the accounted
 * bytes pass the limit; pinned ones never are. Without cache_track the
 * functions below do nothing (no limit, nobody waits). All thread-safe. */

struct cache_limit {
	uint64_t bytes;		 /* 0: no limit */
	unsigned wait_ms;	 /* how long cache_room_wait waits before -ENOSPC */
	void (*full)(void *arg); /* called when a writer starts waiting and every
				    second while it waits: ask for a commit and an
				    upload; never called with a cache lock held */
	void *arg;		 /* borrowed */
};

struct cache_usage {
	uint64_t bytes; /* accounted: sizes rounded up to 4 KiB */
	uint64_t pinned_bytes;
	size_t objects;
	size_t pinned;
};

/* Scans CACHE/o and starts the index (everything scanned is clean). 0,
 * -ENOMEM, -errno. Call once, before other threads use the cache. */
int cache_track(struct cache *c);
/* Sets (or clears, bytes 0) the limit and evicts down to it. lim is copied. */
void cache_set_limit(struct cache *c, const struct cache_limit *lim);
/* Pins / unpins the object of a 16-byte key (not indexed: nothing). An
 * unpinned object may be evicted at once: only unpin what the store holds. */
void cache_pin(struct cache *c, const uint8_t key[16]);
void cache_unpin(struct cache *c, const uint8_t key[16]);
/* Notes the new size of key's cache file, open as fd (written in place). */
void cache_account_fd(struct cache *c, const uint8_t key[16], int fd);
/* Before a write that adds up to bytes of pinned data: waits for room (see
 * struct cache_limit), then reserves it. 0, or -ENOSPC after the wait. */
int cache_room_wait(struct cache *c, uint64_t bytes);
/* Releases the room reserved by cache_room_wait (same bytes). */
void cache_room_release(struct cache *c, uint64_t bytes);
/* Totals of the index (zeros without cache_track). */
void cache_usage(struct cache *c, struct cache_usage *out);

/* pwrite() of exactly len bytes at off (fdio_pwrite_all), through the
 * test-only failure hook (fault.h, FAULT_CACHE): what every write of a
 * cache or journal file goes through. 0 or -errno. */
int cache_pwrite_full(int fd, const void *buf, size_t len, uint64_t off);

/* The store key text for a 16-byte object key: "o/<hh>/<32 hex>" + NUL. */
#define OBJECT_KEY_TEXT_BYTES 40
void object_key_text(char out[OBJECT_KEY_TEXT_BYTES], const uint8_t key[16]);
/* Makes the 256 directories "o/<hh>" of a new vault's store ready
 * (backend_make_dir: nothing on S3), so that its first large commit does not
 * create them while it uploads; durable with the store's next sync. */
int object_key_dirs_make(struct backend *store);

#endif
