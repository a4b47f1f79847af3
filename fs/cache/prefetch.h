/* prefetch.h - fetching the next segments of a file being read in sequence
 * from a remote store into the cache, on a few background threads, so that a
 * large download is not one GET at a time; and warming the cache files of
 * the next files of a directory read in order into the page cache
 * (fs/vault/tree_ahead.c), so that the disk reads them in parallel. Knows
 * only store keys and the cache (fs/cache/cache.h); never sees plaintext or
 * names.
 *
 * A key is fetched at most once at a time: a reader that needs a key being
 * prefetched waits for that fetch (prefetch_claim) instead of starting a
 * second one. A full queue drops new keys (the reader fetches them itself).
 * Failures are not reported: the reader's own fetch reports them. */
#ifndef SEALFS_PREFETCH_H
#define SEALFS_PREFETCH_H

#include <stdint.h>

#include "cache.h"

#define PREFETCH_THREADS 4u
#define PREFETCH_QUEUE 128u
/* Segments fetched ahead of a sequential reader (8 MiB). */
#define PREFETCH_AHEAD 8u

struct prefetch;

/* Starts the threads over cache (borrowed; it must outlive them). *out new.
 * 0, -ENOMEM or pthread_create's error. */
int prefetch_start(struct prefetch **out, struct cache *cache);
/* Stops the threads (fetches in progress finish) and frees. NULL is fine. */
void prefetch_stop(struct prefetch *p);
/* Queues key (store key text; an object of at most max bytes, see
 * cache_open_object) unless it is queued, being fetched, or the queue is
 * full. Never blocks on the store. */
void prefetch_add(struct prefetch *p, const char *key, uint64_t max);
/* prefetch_warm's flags. */
#define PREFETCH_FETCH 1u /* fetch an object that is not cached (a remote store) */
#define PREFETCH_FIRST 4u /* ahead of every key queued: a reader needs them next */

/* Queues keys[0..n) (store key texts) to be warmed, with one wake of the
 * threads: each cache file is opened and its first lens[i] bytes handed to
 * the kernel's read-ahead (POSIX_FADV_WILLNEED). An object not cached is
 * fetched first with PREFETCH_FETCH (lens[i] is then its bound, as for
 * prefetch_add), else left alone. Same queue and rules as prefetch_add
 * (PREFETCH_FIRST: at its front, keys[0] first); never blocks on the disk
 * or the store. p NULL: nothing. */
void prefetch_warm(struct prefetch *p, const char (*keys)[OBJECT_KEY_TEXT_BYTES],
		   const uint64_t *lens, size_t n, unsigned flags);
/* Before a reader fetches key itself: takes it off the queue if it waits
 * there, or waits until a prefetch of it in progress ends. */
void prefetch_claim(struct prefetch *p, const char *key);

#endif
