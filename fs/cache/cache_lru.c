/* cache_lru.c - the index behind --cache-size (cache_lru.h): a hash table of
 * the cache's objects keyed by their random 16-byte keys (SipHash with a
 * per-process key, chained buckets), an intrusive doubly linked list of the
 * clean ones in least-recently-used order, and the writers' wait for room.
 * It must never unlink a file (the cache does that), never offer a pinned
 * object as a victim, and never call out while holding its mutex. */
#include "cache_lru.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mono.h"
#include <sodium.h>

#define CACHE_LRU_BUCKETS_MIN 1024u

struct cache_lru_entry {
	uint8_t key[CACHE_LRU_KEY_BYTES];
	bool pinned;
	uint64_t size;			     /* accounted bytes */
	uint64_t tick;			     /* last use */
	struct cache_lru_entry *hnext;	     /* hash chain */
	struct cache_lru_entry *prev, *next; /* clean entries only: the LRU list */
};

struct cache_lru {
	pthread_mutex_t lock; /* everything below */
	pthread_cond_t room;  /* writers waiting for pinned bytes to go */
	unsigned char hkey[crypto_shorthash_KEYBYTES];
	struct cache_lru_entry **buckets;
	size_t nbuckets; /* a power of two */
	size_t count;
	size_t npinned;
	struct cache_lru_entry lru; /* sentinel: lru.next is the least recent */
	uint64_t bytes, pinned_bytes, reserved, tick;
	bool evicting; /* over the limit: go on down to the low-water mark */
	struct cache_lru_limit limit;
};

/* ---- the hash table ---- */

static size_t cache_lru_bucket(const struct cache_lru *l, const uint8_t *key, size_t nbuckets)
{
	unsigned char h[crypto_shorthash_BYTES];
	uint64_t v = 0;

	crypto_shorthash(h, key, CACHE_LRU_KEY_BYTES, l->hkey);
	for (size_t i = 0; i < sizeof(v); i++)
		v |= (uint64_t)h[i] << (8 * i);
	return (size_t)(v & (nbuckets - 1));
}

static struct cache_lru_entry **cache_lru_slot(struct cache_lru *l, const uint8_t *key)
{
	struct cache_lru_entry **p = &l->buckets[cache_lru_bucket(l, key, l->nbuckets)];

	while (*p && memcmp((*p)->key, key, CACHE_LRU_KEY_BYTES) != 0)
		p = &(*p)->hnext;
	return p;
}

static struct cache_lru_entry *cache_lru_find(struct cache_lru *l, const uint8_t *key)
{
	return *cache_lru_slot(l, key);
}

/* Doubles the table when it holds more entries than buckets (best effort:
 * without memory the chains just get longer). */
static void cache_lru_grow(struct cache_lru *l)
{
	size_t n = l->nbuckets * 2;
	struct cache_lru_entry **b;

	if (l->count < l->nbuckets)
		return;
	b = calloc(n, sizeof(*b));
	if (!b)
		return;
	for (size_t i = 0; i < l->nbuckets; i++) {
		struct cache_lru_entry *e = l->buckets[i], *next;

		for (; e; e = next) {
			size_t k = cache_lru_bucket(l, e->key, n);

			next = e->hnext;
			e->hnext = b[k];
			b[k] = e;
		}
	}
	free(l->buckets);
	l->buckets = b;
	l->nbuckets = n;
}

/* ---- the LRU list (clean entries) ---- */

static void cache_lru_unlink(struct cache_lru_entry *e)
{
	e->prev->next = e->next;
	e->next->prev = e->prev;
	e->prev = e->next = NULL;
}

static void cache_lru_append(struct cache_lru *l, struct cache_lru_entry *e)
{
	e->prev = l->lru.prev;
	e->next = &l->lru;
	l->lru.prev->next = e;
	l->lru.prev = e;
}

/* Makes e the most recent (lock held). */
static void cache_lru_use(struct cache_lru *l, struct cache_lru_entry *e)
{
	e->tick = ++l->tick;
	if (e->pinned)
		return;
	if (e->next)
		cache_lru_unlink(e);
	cache_lru_append(l, e);
}

static void cache_lru_set_pinned(struct cache_lru *l, struct cache_lru_entry *e, bool pin)
{
	if (e->pinned == pin)
		return;
	e->pinned = pin;
	if (pin) {
		cache_lru_unlink(e);
		l->npinned++;
		l->pinned_bytes += e->size;
		return;
	}
	l->npinned--;
	l->pinned_bytes -= e->size;
	cache_lru_use(l, e);
	pthread_cond_broadcast(&l->room);
}

/* ---- the interface ---- */

int cache_lru_new(struct cache_lru **out)
{
	struct cache_lru *l = calloc(1, sizeof(*l));
	pthread_condattr_t ca;

	*out = NULL;
	if (!l)
		return -ENOMEM;
	l->nbuckets = CACHE_LRU_BUCKETS_MIN;
	l->buckets = calloc(l->nbuckets, sizeof(*l->buckets));
	if (!l->buckets) {
		free(l);
		return -ENOMEM;
	}
	crypto_shorthash_keygen(l->hkey);
	l->lru.prev = l->lru.next = &l->lru;
	pthread_mutex_init(&l->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&l->room, &ca);
	pthread_condattr_destroy(&ca);
	*out = l;
	return 0;
}

void cache_lru_free(struct cache_lru *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->nbuckets; i++) {
		struct cache_lru_entry *e = l->buckets[i], *next;

		for (; e; e = next) {
			next = e->hnext;
			free(e);
		}
	}
	free(l->buckets);
	pthread_cond_destroy(&l->room);
	pthread_mutex_destroy(&l->lock);
	free(l);
}

uint64_t cache_lru_round(uint64_t size)
{
	return (size + CACHE_LRU_BLOCK_BYTES - 1) / CACHE_LRU_BLOCK_BYTES * CACHE_LRU_BLOCK_BYTES;
}

/* Adds a new entry (lock held). */
static int cache_lru_insert(struct cache_lru *l, const uint8_t *key, uint64_t size, bool pin)
{
	struct cache_lru_entry *e = calloc(1, sizeof(*e)), **slot;

	if (!e)
		return -ENOMEM;
	cache_lru_grow(l);
	memcpy(e->key, key, CACHE_LRU_KEY_BYTES);
	e->size = size;
	slot = &l->buckets[cache_lru_bucket(l, key, l->nbuckets)];
	e->hnext = *slot;
	*slot = e;
	l->count++;
	l->bytes += size;
	cache_lru_use(l, e);
	if (pin)
		cache_lru_set_pinned(l, e, true);
	return 0;
}

static void cache_lru_set_size(struct cache_lru *l, struct cache_lru_entry *e, uint64_t size)
{
	l->bytes = l->bytes - e->size + size;
	if (e->pinned)
		l->pinned_bytes = l->pinned_bytes - e->size + size;
	e->size = size;
}

int cache_lru_put(struct cache_lru *l, const uint8_t key[CACHE_LRU_KEY_BYTES], uint64_t size,
		  bool pin)
{
	struct cache_lru_entry *e;
	int r = 0;

	size = cache_lru_round(size);
	pthread_mutex_lock(&l->lock);
	e = cache_lru_find(l, key);
	if (!e) {
		r = cache_lru_insert(l, key, size, pin);
	} else {
		cache_lru_set_size(l, e, size);
		cache_lru_use(l, e);
		if (pin)
			cache_lru_set_pinned(l, e, true);
	}
	pthread_mutex_unlock(&l->lock);
	return r;
}

void cache_lru_touch(struct cache_lru *l, const uint8_t key[CACHE_LRU_KEY_BYTES])
{
	struct cache_lru_entry *e;

	pthread_mutex_lock(&l->lock);
	e = cache_lru_find(l, key);
	if (e)
		cache_lru_use(l, e);
	pthread_mutex_unlock(&l->lock);
}

void cache_lru_resize(struct cache_lru *l, const uint8_t key[CACHE_LRU_KEY_BYTES], uint64_t size)
{
	struct cache_lru_entry *e;

	size = cache_lru_round(size);
	pthread_mutex_lock(&l->lock);
	e = cache_lru_find(l, key);
	if (e)
		cache_lru_set_size(l, e, size);
	if (e && e->pinned)
		pthread_cond_broadcast(&l->room); /* it may have shrunk */
	pthread_mutex_unlock(&l->lock);
}

/* Takes the entry at *slot out of the table and the list (lock held). */
static void cache_lru_delete(struct cache_lru *l, struct cache_lru_entry **slot)
{
	struct cache_lru_entry *e = *slot;

	*slot = e->hnext;
	if (e->pinned) {
		l->npinned--;
		l->pinned_bytes -= e->size;
		pthread_cond_broadcast(&l->room);
	} else {
		cache_lru_unlink(e);
	}
	l->count--;
	l->bytes -= e->size;
	free(e);
}

void cache_lru_remove(struct cache_lru *l, const uint8_t key[CACHE_LRU_KEY_BYTES])
{
	struct cache_lru_entry **slot;

	pthread_mutex_lock(&l->lock);
	slot = cache_lru_slot(l, key);
	if (*slot)
		cache_lru_delete(l, slot);
	pthread_mutex_unlock(&l->lock);
}

static void cache_lru_mark(struct cache_lru *l, const uint8_t *key, bool pin)
{
	struct cache_lru_entry *e;

	pthread_mutex_lock(&l->lock);
	e = cache_lru_find(l, key);
	if (e)
		cache_lru_set_pinned(l, e, pin);
	pthread_mutex_unlock(&l->lock);
}

void cache_lru_pin(struct cache_lru *l, const uint8_t key[CACHE_LRU_KEY_BYTES])
{
	cache_lru_mark(l, key, true);
}

void cache_lru_unpin(struct cache_lru *l, const uint8_t key[CACHE_LRU_KEY_BYTES])
{
	cache_lru_mark(l, key, false);
}

bool cache_lru_lookup(struct cache_lru *l, const uint8_t key[CACHE_LRU_KEY_BYTES], bool *pinned)
{
	struct cache_lru_entry *e;

	pthread_mutex_lock(&l->lock);
	e = cache_lru_find(l, key);
	if (e && pinned)
		*pinned = e->pinned;
	pthread_mutex_unlock(&l->lock);
	return e != NULL;
}

void cache_lru_set_limit(struct cache_lru *l, const struct cache_lru_limit *lim)
{
	pthread_mutex_lock(&l->lock);
	l->limit = *lim;
	l->evicting = false;
	pthread_cond_broadcast(&l->room);
	pthread_mutex_unlock(&l->lock);
}

static uint64_t cache_lru_low_water(uint64_t max)
{
	uint64_t band = max / 100 * (100 - CACHE_LRU_LOW_WATER_PERCENT);

	return max - (band < CACHE_LRU_BAND_MAX_BYTES ? band : CACHE_LRU_BAND_MAX_BYTES);
}

bool cache_lru_victim(struct cache_lru *l, uint8_t key[CACHE_LRU_KEY_BYTES])
{
	struct cache_lru_entry *e;
	bool found = false;
	uint64_t max;

	pthread_mutex_lock(&l->lock);
	max = l->limit.bytes;
	if (max > 0 && l->bytes > max)
		l->evicting = true;
	if (l->evicting && l->bytes <= cache_lru_low_water(max))
		l->evicting = false;
	e = l->lru.next;
	if (max > 0 && l->evicting && e != &l->lru) {
		memcpy(key, e->key, CACHE_LRU_KEY_BYTES);
		cache_lru_delete(l, cache_lru_slot(l, e->key));
		found = true;
	} else {
		l->evicting = false; /* nothing clean left: start again when over */
	}
	pthread_mutex_unlock(&l->lock);
	return found;
}

/* ---- writers waiting for room ---- */

static const struct timespec *cache_lru_first(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec) ? a : b;
}

static bool cache_lru_fits(const struct cache_lru *l, uint64_t bytes)
{
	if (l->pinned_bytes == 0 && l->reserved == 0)
		return true; /* a limit below one write must not block forever */
	return l->pinned_bytes + l->reserved + bytes <= l->limit.bytes;
}

/* Calls the "full" callback without the lock (lock held on entry and exit). */
static void cache_lru_kick(struct cache_lru *l, struct timespec *next)
{
	void (*full)(void *) = l->limit.full;
	void *arg = l->limit.arg;

	mono_deadline(next, CACHE_LRU_KICK_MS);
	if (!full)
		return;
	pthread_mutex_unlock(&l->lock);
	full(arg);
	pthread_mutex_lock(&l->lock);
}

int cache_lru_reserve(struct cache_lru *l, uint64_t bytes)
{
	struct timespec due, kick = {0};
	int r = 0;

	pthread_mutex_lock(&l->lock);
	if (l->limit.bytes == 0)
		goto out;
	mono_deadline(&due, l->limit.wait_ms);
	if (!cache_lru_fits(l, bytes))
		cache_lru_kick(l, &kick);
	while (l->limit.bytes > 0 && !cache_lru_fits(l, bytes)) {
		if (mono_passed(&due)) {
			r = -ENOSPC;
			goto out;
		}
		if (mono_passed(&kick)) {
			cache_lru_kick(l, &kick);
			continue;
		}
		pthread_cond_timedwait(&l->room, &l->lock, cache_lru_first(&kick, &due));
	}
	l->reserved += bytes;
out:
	pthread_mutex_unlock(&l->lock);
	return r;
}

void cache_lru_release(struct cache_lru *l, uint64_t bytes)
{
	pthread_mutex_lock(&l->lock);
	l->reserved -= bytes < l->reserved ? bytes : l->reserved;
	pthread_cond_broadcast(&l->room);
	pthread_mutex_unlock(&l->lock);
}

void cache_lru_usage(struct cache_lru *l, struct cache_lru_usage *out)
{
	pthread_mutex_lock(&l->lock);
	out->bytes = l->bytes;
	out->pinned_bytes = l->pinned_bytes;
	out->reserved = l->reserved;
	out->objects = l->count;
	out->pinned = l->npinned;
	pthread_mutex_unlock(&l->lock);
}

/* ---- keys and the scan ---- */

static int cache_lru_hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	return -1;
}

/* 32 lower-case hex digits (exactly) into 16 bytes. */
static bool cache_lru_hex(uint8_t out[CACHE_LRU_KEY_BYTES], const char *hex)
{
	for (size_t i = 0; i < CACHE_LRU_KEY_BYTES; i++) {
		int hi = cache_lru_hexval(hex[2 * i]),
		    lo = hi < 0 ? -1 : cache_lru_hexval(hex[2 * i + 1]);

		if (lo < 0)
			return false;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return hex[2 * CACHE_LRU_KEY_BYTES] == '\0';
}

bool cache_lru_parse_key(uint8_t out[CACHE_LRU_KEY_BYTES], const char *key_text)
{
	if (strncmp(key_text, "o/", 2) != 0 ||
	    strlen(key_text) != 2 + 3 + 2 * CACHE_LRU_KEY_BYTES || key_text[4] != '/' ||
	    strncmp(key_text + 2, key_text + 5, 2) != 0)
		return false;
	return cache_lru_hex(out, key_text + 5);
}

/* Adds the objects of one CACHE/o/<hh> directory. */
static int cache_lru_scan_dir(struct cache_lru *l, int dfd, const char *hh)
{
	uint8_t key[CACHE_LRU_KEY_BYTES];
	struct dirent *de;
	struct stat st;
	int fd = openat(dfd, hh, O_RDONLY | O_DIRECTORY | O_CLOEXEC), r = 0;
	DIR *d = fd < 0 ? NULL : fdopendir(fd);

	if (!d) {
		if (fd >= 0)
			close(fd);
		return 0; /* not a directory: not ours */
	}
	while (r == 0 && (de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, hh, 2) != 0 || !cache_lru_hex(key, de->d_name) ||
		    fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		r = cache_lru_put(l, key, (uint64_t)st.st_size, false);
	}
	closedir(d);
	return r;
}

int cache_lru_scan(struct cache_lru *l, const char *o_dir)
{
	struct dirent *de;
	DIR *d = opendir(o_dir);
	int r = 0;

	if (!d)
		return -errno;
	while (r == 0 && (de = readdir(d)) != NULL) {
		if (strlen(de->d_name) == 2 && cache_lru_hexval(de->d_name[0]) >= 0 &&
		    cache_lru_hexval(de->d_name[1]) >= 0)
			r = cache_lru_scan_dir(l, dirfd(d), de->d_name);
	}
	closedir(d);
	return r;
}
