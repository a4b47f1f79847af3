/* cache_size.c - the cache's side of --cache-size (docs/INTERNALS.md, "Cache
 * size"): the calls cache.h offers over the index of fs/cache/cache_lru.c.
 * Without cache_track each does nothing. It only counts and unlinks sealed
 * objects: it must never see plaintext or log a key. */
#include "cache_int.h"

#include <stdio.h>
#include <sys/stat.h>

#include "cache_lru.h"

int cache_track(struct cache *c)
{
	char path[CACHE_PATH_MAX];
	int rc;

	if (c->lru)
		return 0;
	rc = cache_lru_new(&c->lru);
	if (rc < 0)
		return rc;
	snprintf(path, sizeof(path), "%s/o", c->dir);
	rc = cache_lru_scan(c->lru, path);
	if (rc < 0) {
		cache_lru_free(c->lru);
		c->lru = NULL;
	}
	return rc;
}

void cache_set_limit(struct cache *c, const struct cache_limit *lim)
{
	struct cache_lru_limit l = {
	    .bytes = lim->bytes, .wait_ms = lim->wait_ms, .full = lim->full, .arg = lim->arg};

	if (!c->lru)
		return;
	cache_lru_set_limit(c->lru, &l);
	cache_evict(c);
}

void cache_pin(struct cache *c, const uint8_t key[16])
{
	if (c->lru)
		cache_lru_pin(c->lru, key);
}

void cache_unpin(struct cache *c, const uint8_t key[16])
{
	if (!c->lru)
		return;
	cache_lru_unpin(c->lru, key);
	cache_evict(c); /* it may be over the limit while everything was pinned */
}

void cache_account_fd(struct cache *c, const uint8_t key[16], int fd)
{
	struct stat st;

	if (!c->lru || fstat(fd, &st) != 0)
		return;
	cache_lru_resize(c->lru, key, (uint64_t)st.st_size);
	cache_evict(c);
}

int cache_room_wait(struct cache *c, uint64_t bytes)
{
	return c->lru ? cache_lru_reserve(c->lru, bytes) : 0;
}

void cache_room_release(struct cache *c, uint64_t bytes)
{
	if (c->lru)
		cache_lru_release(c->lru, bytes);
}

void cache_usage(struct cache *c, struct cache_usage *out)
{
	struct cache_lru_usage u = {0};

	if (c->lru)
		cache_lru_usage(c->lru, &u);
	out->bytes = u.bytes;
	out->pinned_bytes = u.pinned_bytes;
	out->objects = u.objects;
	out->pinned = u.pinned;
}
