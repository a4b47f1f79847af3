/* cache_pool.h - a bounded pool of empty cache files made in advance for new
 * objects (docs/INTERNALS.md, "Cache"): a background thread draws random
 * keys and creates their files under their final names, so that a writer of
 * a new segment takes an open fd instead of creating a file (the dearest
 * metadata operation of a small write). The keys are libsodium's OS
 * randomness (store keys: public). Knows no cache layout: the cache
 * (cache.c) makes and removes the files through struct cache_pool_ops. It
 * must never hand out a key twice, never block a taker on file-system work,
 * and never remove a file that is not empty. */
#ifndef SEALFS_CACHE_POOL_H
#define SEALFS_CACHE_POOL_H

#include <stdint.h>

#define CACHE_POOL_KEY_BYTES 16
#define CACHE_POOL_CAP 64 /* ready files at most (each an open fd) */
#define CACHE_POOL_LOW 32 /* a take that leaves this many wakes the filler */

struct cache_pool_ops {
	/* Creates the empty file of key, a new random key the pool drew
	 * (O_EXCL): the fd, or -errno. Called on the pool's thread, any time. */
	int (*make)(void *arg, const uint8_t key[CACHE_POOL_KEY_BYTES]);
	/* Removes key's file if it exists and is empty (a file someone wrote
	 * to is never removed). */
	void (*drop)(void *arg, const uint8_t key[CACHE_POOL_KEY_BYTES]);
	void *arg; /* borrowed */
};

struct cache_pool;

/* A new pool (no thread until the first take). list_fd (owned from now on,
 * -1: none) is the file where the pool keeps the keys of its ready files
 * (CACHE/pool, docs/FORMAT.md "Cache"): the files a list names from an
 * earlier process that ended without cache_pool_free (a crash) are dropped
 * first. ops is copied. 0 or -ENOMEM (list_fd is closed then). */
int cache_pool_new(struct cache_pool **out, const struct cache_pool_ops *ops, int list_fd);
/* A ready file: its fd (the caller's from now on) and key, or -EAGAIN when
 * none is ready (the caller makes its own). Never waits for file-system
 * work: it only starts or wakes the filler. NULL pool: -EAGAIN. Thread-safe. */
int cache_pool_take(struct cache_pool *p, uint8_t key[CACHE_POOL_KEY_BYTES]);
/* Stops the filler, closes and drops every ready file, empties the list.
 * NULL is ignored. No take may run during or after it. */
void cache_pool_free(struct cache_pool *p);

#endif
