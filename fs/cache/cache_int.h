/* cache_int.h - what the cache's own files (cache.c, cache_size.c) share and
 * nobody else may use: the struct behind struct cache and eviction. It must
 * never be included outside fs/cache/cache*.c. */
#ifndef SEALFS_CACHE_INT_H
#define SEALFS_CACHE_INT_H

#include <stdatomic.h>

#include "cache.h"

/* Room left in a path for "/" + a key or "tmp/<name>". */
#define CACHE_KEY_ROOM 300

struct cache {
	char dir[CACHE_PATH_MAX - CACHE_KEY_ROOM]; /* no trailing "/" */
	int lock_fd;				   /* flock'ed LOCK_EX for the cache's lifetime */
	struct backend *store;			   /* borrowed */
	atomic_ulong tmp_seq;			   /* makes tmp names unique within the process */
	struct cache_lru *lru;	 /* NULL until cache_track; set before threads use it */
	struct cache_pool *pool; /* files for new objects (NULL: none, made on demand) */
};

/* Unlinks clean objects, least recently used first, while over the limit
 * (--cache-size). Thread-safe. */
void cache_evict(struct cache *c);

#endif
