/* cache_lru.h - the in-memory index of the cache's objects for --cache-size
 * (docs/INTERNALS.md, "Cache size"): key -> accounted bytes, last use, pinned
 * flag; the least-recently-used order of the clean (unpinned) objects; and
 * the wait of writers while pinned bytes fill the limit. It never touches
 * files except to scan CACHE/o at start, and never sees plaintext.
 *
 * Keys are the 16 random bytes of a store key "o/<hh>/<32 hex>". An object
 * is accounted as its size rounded up to CACHE_LRU_BLOCK_BYTES (what it
 * occupies on a file system with 4 KiB blocks; sealed files have no holes).
 *
 * Thread safety: every function takes the index's own mutex, a leaf lock;
 * only cache_lru_reserve waits, and it calls the "full" callback with the
 * mutex released. */
#ifndef SEALFS_CACHE_LRU_H
#define SEALFS_CACHE_LRU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CACHE_LRU_KEY_BYTES 16
#define CACHE_LRU_BLOCK_BYTES 4096u
/* Eviction, once started, goes on down to the low-water mark: this share of
 * the limit, but at most CACHE_LRU_BAND_MAX_BYTES below it (one inline
 * eviction then unlinks at most a few hundred segment files). */
#define CACHE_LRU_LOW_WATER_PERCENT 90u
#define CACHE_LRU_BAND_MAX_BYTES ((uint64_t)256 << 20)
/* While a writer waits, the "full" callback runs again this often. */
#define CACHE_LRU_KICK_MS 1000u

struct cache_lru;

/* What a mount sets (struct cache_limit is the public face, fs/cache/cache.h). */
struct cache_lru_limit {
	uint64_t bytes;		 /* 0: no limit, nothing evicted, nobody waits */
	unsigned wait_ms;	 /* how long a writer waits for room before -ENOSPC */
	void (*full)(void *arg); /* asks for a commit and an upload; may be NULL */
	void *arg;
};

struct cache_lru_usage {
	uint64_t bytes;	       /* accounted bytes of every indexed object */
	uint64_t pinned_bytes; /* of the pinned ones */
	uint64_t reserved;     /* held by writers between cache_lru_reserve and _release */
	size_t objects;
	size_t pinned;
};

/* A new empty index (no limit). 0 or -ENOMEM. */
int cache_lru_new(struct cache_lru **out);
/* Frees; NULL is fine. Nobody may be waiting in it. */
void cache_lru_free(struct cache_lru *l);

/* Adds every CACHE/o/<hh>/<32 hex> file under o_dir as clean (other names
 * are ignored). 0, -ENOMEM, or the errno of opening o_dir. */
int cache_lru_scan(struct cache_lru *l, const char *o_dir);
/* The 16 key bytes of a store key text "o/<hh>/<32 hex>"; false for any
 * other text (such keys are not indexed). */
bool cache_lru_parse_key(uint8_t out[CACHE_LRU_KEY_BYTES], const char *key_text);
/* Accounted bytes of a file of size bytes. */
uint64_t cache_lru_round(uint64_t size);

/* Adds key (or updates its size and makes it most recent); pinned entries
 * stay pinned, pin = true pins. 0 or -ENOMEM (then it is not indexed). */
int cache_lru_put(struct cache_lru *l, const uint8_t key[CACHE_LRU_KEY_BYTES], uint64_t size,
		  bool pin);
/* Makes key the most recently used (missing: nothing). */
void cache_lru_touch(struct cache_lru *l, const uint8_t key[CACHE_LRU_KEY_BYTES]);
/* Sets key's size (missing: nothing). */
void cache_lru_resize(struct cache_lru *l, const uint8_t key[CACHE_LRU_KEY_BYTES], uint64_t size);
/* Forgets key (missing: nothing); wakes writers when it was pinned. */
void cache_lru_remove(struct cache_lru *l, const uint8_t key[CACHE_LRU_KEY_BYTES]);
/* Pins / unpins key (missing: nothing). Unpinning makes it the most recent
 * clean object and wakes waiting writers. */
void cache_lru_pin(struct cache_lru *l, const uint8_t key[CACHE_LRU_KEY_BYTES]);
void cache_lru_unpin(struct cache_lru *l, const uint8_t key[CACHE_LRU_KEY_BYTES]);
/* Whether key is indexed; *pinned (may be NULL) gets its flag. */
bool cache_lru_lookup(struct cache_lru *l, const uint8_t key[CACHE_LRU_KEY_BYTES], bool *pinned);

/* Sets the limit (copied); wakes waiting writers. */
void cache_lru_set_limit(struct cache_lru *l, const struct cache_lru_limit *lim);
/* The next object to evict, removed from the index: the least recently used
 * clean one, when the accounted bytes are over the limit (and then until
 * they are under the low-water mark). false when nothing is to go. The
 * caller unlinks its file. */
bool cache_lru_victim(struct cache_lru *l, uint8_t key[CACHE_LRU_KEY_BYTES]);

/* Before writing up to bytes of new pinned data: waits while pinned +
 * reserved + bytes would pass the limit (calling the "full" callback at once
 * and every CACHE_LRU_KICK_MS), at most the limit's wait_ms; then reserves
 * bytes. 0 (reserved; always at once without a limit) or -ENOSPC (nothing
 * reserved). Nobody else holding room or pins lets one writer in. */
int cache_lru_reserve(struct cache_lru *l, uint64_t bytes);
/* Gives back what cache_lru_reserve reserved (pass the same bytes). */
void cache_lru_release(struct cache_lru *l, uint64_t bytes);

void cache_lru_usage(struct cache_lru *l, struct cache_lru_usage *out);

#endif
