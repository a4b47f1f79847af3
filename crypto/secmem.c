/* secmem.c - fixed-size secret slots in a few locked sodium_malloc regions
 * (secmem.h). Must never hand out a slot that is not zeroed, return one to
 * the free list unwiped, or keep more than one empty region mapped. */
#include "secmem.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

/* sodium_malloc puts a 16-byte canary before the user bytes and rounds the
 * two up to whole pages, the user bytes ending at a page end: asking for
 * region size minus the canary maps exactly the region size, and slots that
 * are multiples of 16 bytes counted back from a page end stay 16-aligned. */
#define SECMEM_CANARY_BYTES 16u

/* One sodium_malloc'ed region; the bookkeeping lives in ordinary memory
 * (it holds no secret: free slot indexes and in-use flags). */
struct secmem_region {
	unsigned char *data; /* nslots * slot bytes, sodium_malloc'ed */
	size_t nslots;
	size_t nfree;
	uint32_t *free_idx;  /* stack of free slot indexes, free_idx[0..nfree) */
	unsigned char *used; /* used[i]: slot i is handed out */
};

struct secmem_pool {
	pthread_mutex_t lock;
	size_t slot_bytes;
	secmem_refused_fn refused;
	void *arg;
	/* Under lock. */
	struct secmem_region **regions;
	size_t nregions, regions_cap;
	size_t hint;   /* a region that last had a free slot */
	size_t nempty; /* regions with every slot free: 0 or 1 */
	size_t used;
	bool mlock_refused;
	pid_t pid; /* the process that locked the regions (see pool_relock_locked) */
};

struct secmem_pool *secmem_pool_new(size_t slot_bytes, secmem_refused_fn refused, void *arg)
{
	struct secmem_pool *p;

	if (slot_bytes == 0 || slot_bytes > SECMEM_SLOT_MAX)
		return NULL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	pthread_mutex_init(&p->lock, NULL);
	p->slot_bytes = (slot_bytes + SECMEM_ALIGN - 1) / SECMEM_ALIGN * SECMEM_ALIGN;
	p->refused = refused;
	p->arg = arg;
	p->pid = getpid();
	return p;
}

static void region_free(struct secmem_region *r)
{
	if (!r)
		return;
	sodium_free(r->data); /* wipes, unlocks, unmaps */
	free(r);
}

void secmem_pool_free(struct secmem_pool *pool)
{
	if (!pool)
		return;
	for (size_t i = 0; i < pool->nregions; i++)
		region_free(pool->regions[i]);
	free(pool->regions);
	pthread_mutex_destroy(&pool->lock);
	free(pool);
}

/* Bytes of the next region: doubling with the count, up to the maximum. */
static size_t region_size(const struct secmem_pool *p)
{
	size_t size = SECMEM_REGION_MIN;

	for (size_t i = 0; i < p->nregions && size < SECMEM_REGION_MAX; i++)
		size *= 2;
	return size < SECMEM_REGION_MAX ? size : SECMEM_REGION_MAX;
}

/* A new region of all-free, zeroed slots; *lock_err is 0, or the errno of a
 * refused mlock (sodium_malloc itself goes on silently when that happens:
 * locking again here is how we find out). NULL when out of memory. */
static struct secmem_region *region_new(const struct secmem_pool *p, int *lock_err)
{
	size_t nslots = (region_size(p) - SECMEM_CANARY_BYTES) / p->slot_bytes;
	size_t bytes = nslots * p->slot_bytes;
	struct secmem_region *r;

	r = malloc(sizeof(*r) + nslots * (sizeof(uint32_t) + 1));
	if (!r)
		return NULL;
	r->data = sodium_malloc(bytes);
	if (!r->data) {
		free(r);
		return NULL;
	}
	*lock_err = sodium_mlock(r->data, bytes) == 0 ? 0 : errno;
	sodium_memzero(r->data, bytes); /* sodium_malloc fills with garbage */
	r->nslots = r->nfree = nslots;
	r->free_idx = (uint32_t *)(r + 1);
	r->used = (unsigned char *)(r->free_idx + nslots);
	for (size_t i = 0; i < nslots; i++)
		r->free_idx[i] = (uint32_t)(nslots - 1 - i); /* lowest index first */
	memset(r->used, 0, nslots);
	return r;
}

/* Maps a region and appends it (lock held). *lock_err as for region_new. */
static struct secmem_region *pool_grow_locked(struct secmem_pool *p, int *lock_err)
{
	struct secmem_region *r;

	if (p->nregions == p->regions_cap) {
		size_t cap = p->regions_cap ? 2 * p->regions_cap : 8;
		struct secmem_region **n = realloc(p->regions, cap * sizeof(*n));
		if (!n)
			return NULL;
		p->regions = n;
		p->regions_cap = cap;
	}
	r = region_new(p, lock_err);
	if (!r)
		return NULL;
	p->regions[p->nregions] = r;
	p->hint = p->nregions++;
	p->nempty++;
	return r;
}

/* A region with a free slot (lock held), or NULL when all are full. */
static struct secmem_region *pool_find_free_locked(struct secmem_pool *p)
{
	if (p->hint < p->nregions && p->regions[p->hint]->nfree > 0)
		return p->regions[p->hint];
	for (size_t i = 0; i < p->nregions; i++) {
		if (p->regions[i]->nfree > 0) {
			p->hint = i;
			return p->regions[i];
		}
	}
	return NULL;
}

/* Memory locks are not inherited across fork(): a pool made before the fork
 * (a store opened by the CLI, then handed to the daemon) is locked again by
 * the child on its first allocation (lock held). Returns the errno of a
 * refusal, else 0; *bytes gets the refused region's size. */
static int pool_relock_locked(struct secmem_pool *p, size_t *bytes)
{
	pid_t pid = getpid();
	int err = 0;

	if (pid == p->pid)
		return 0;
	p->pid = pid;
	for (size_t i = 0; i < p->nregions; i++) {
		size_t n = p->regions[i]->nslots * p->slot_bytes;
		if (sodium_mlock(p->regions[i]->data, n) != 0 && !err) {
			err = errno;
			*bytes = n;
		}
	}
	return err;
}

void *secmem_alloc(struct secmem_pool *pool)
{
	struct secmem_region *r;
	bool notify = false;
	int lock_err, grow_err = 0;
	size_t bytes = 0;
	uint32_t idx;

	pthread_mutex_lock(&pool->lock);
	lock_err = pool_relock_locked(pool, &bytes);
	r = pool_find_free_locked(pool);
	if (!r && (r = pool_grow_locked(pool, &grow_err)) != NULL && grow_err) {
		lock_err = grow_err;
		bytes = r->nslots * pool->slot_bytes;
	}
	if (lock_err) {
		notify = !pool->mlock_refused;
		pool->mlock_refused = true;
	}
	if (!r) {
		pthread_mutex_unlock(&pool->lock);
		if (notify && pool->refused)
			pool->refused(pool->arg, lock_err, bytes);
		return NULL;
	}
	if (r->nfree == r->nslots)
		pool->nempty--;
	idx = r->free_idx[--r->nfree];
	r->used[idx] = 1;
	pool->used++;
	pthread_mutex_unlock(&pool->lock);
	if (notify && pool->refused)
		pool->refused(pool->arg, lock_err, bytes);
	return r->data + (size_t)idx * pool->slot_bytes;
}

/* The index of the region holding p (lock held); aborts when none does. */
static size_t pool_region_of_locked(const struct secmem_pool *pool, const unsigned char *p)
{
	for (size_t i = 0; i < pool->nregions; i++) {
		const struct secmem_region *r = pool->regions[i];
		if ((uintptr_t)p >= (uintptr_t)r->data &&
		    (uintptr_t)p < (uintptr_t)r->data + r->nslots * pool->slot_bytes)
			return i;
	}
	abort(); /* not a slot of this pool: memory corruption, never continue */
}

/* Drops region i (lock held): the last one takes its place. */
static void pool_drop_locked(struct secmem_pool *pool, size_t i)
{
	region_free(pool->regions[i]);
	pool->regions[i] = pool->regions[--pool->nregions];
	pool->hint = 0;
}

void secmem_free(struct secmem_pool *pool, void *slot)
{
	unsigned char *p = slot;
	struct secmem_region *r;
	size_t i, off, idx;

	if (!slot)
		return;
	pthread_mutex_lock(&pool->lock);
	i = pool_region_of_locked(pool, p);
	r = pool->regions[i];
	off = (size_t)(p - r->data);
	idx = off / pool->slot_bytes;
	if (off % pool->slot_bytes != 0 || !r->used[idx])
		abort(); /* inside a slot, or a double free */
	sodium_memzero(p, pool->slot_bytes);
	r->used[idx] = 0;
	r->free_idx[r->nfree++] = (uint32_t)idx;
	pool->used--;
	pool->hint = i;
	if (r->nfree == r->nslots) {
		/* Keep one empty region so that a file opened and closed in a
		 * loop does not map and unmap one each time. */
		if (pool->nempty > 0)
			pool_drop_locked(pool, i);
		else
			pool->nempty++;
	}
	pthread_mutex_unlock(&pool->lock);
}

size_t secmem_slot_bytes(const struct secmem_pool *pool) { return pool->slot_bytes; }

void secmem_pool_stats(struct secmem_pool *pool, struct secmem_stats *out)
{
	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&pool->lock);
	out->slot_bytes = pool->slot_bytes;
	out->regions = pool->nregions;
	for (size_t i = 0; i < pool->nregions; i++) {
		out->region_bytes += pool->regions[i]->nslots * pool->slot_bytes;
		out->slots_total += pool->regions[i]->nslots;
	}
	out->slots_used = pool->used;
	out->mlock_refused = pool->mlock_refused;
	pthread_mutex_unlock(&pool->lock);
}
