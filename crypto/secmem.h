/* secmem.h - a pool of fixed-size slots for short-lived secrets (per-file
 * keys, SigV4 signing keys) carved out of a few locked sodium_malloc regions,
 * so that the number of secrets alive costs neither one mapping nor one
 * locked page each. Pure: no I/O, no globals; the pool is an explicit object.
 * It must never hand out a slot that is not zeroed, nor return one to the free
 * list unwiped.
 *
 * Regions are sodium_malloc'ed (guard pages and a canary around the whole
 * region, excluded from core dumps, mlock'ed) and grow from SECMEM_REGION_MIN
 * to SECMEM_REGION_MAX bytes as the pool grows. Slots inside one region are
 * NOT individually guard-paged nor read-only: an overflow of one slot reaches
 * its neighbours (docs/SECURITY.md, "Keys in memory"). At most one empty
 * region is kept; others are released when their last slot is freed. Locks
 * are not inherited across fork(): a forked child locks the regions again on
 * its first secmem_alloc (the fork must happen while no thread is inside a
 * pool call, as for any mutex). */
#ifndef SEALFS_SECMEM_H
#define SEALFS_SECMEM_H

#include <stdbool.h>
#include <stddef.h>

#define SECMEM_ALIGN 16u		     /* every slot is aligned to this */
#define SECMEM_SLOT_MAX 4096u		     /* largest slot_bytes accepted */
#define SECMEM_REGION_MIN ((size_t)64 << 10) /* the first region's bytes */
#define SECMEM_REGION_MAX ((size_t)1 << 20)  /* the largest region's bytes */

struct secmem_pool;

/* Called at most once per pool, the first time the kernel refuses to lock a
 * region (err: a positive errno, bytes: the region's size). The slots stay
 * usable but may be swapped out. Called without the pool's lock, from the
 * thread whose secmem_alloc grew the pool; must not block for long. */
typedef void (*secmem_refused_fn)(void *arg, int err, size_t bytes);

struct secmem_stats {
	size_t slot_bytes;   /* slot size, slot_bytes rounded up to SECMEM_ALIGN */
	size_t regions;	     /* regions currently mapped */
	size_t region_bytes; /* bytes of those regions (data only, no guard pages) */
	size_t slots_used;   /* slots handed out and not yet freed */
	size_t slots_total;  /* slots in the mapped regions */
	bool mlock_refused;  /* some region could not be locked */
};

/* A new empty pool of slots of slot_bytes (1..SECMEM_SLOT_MAX; rounded up to
 * SECMEM_ALIGN). refused may be NULL. sodium_init() must have succeeded.
 * Returns NULL on a bad size or out of memory. Free with secmem_pool_free. */
struct secmem_pool *secmem_pool_new(size_t slot_bytes, secmem_refused_fn refused, void *arg);

/* Releases every region, wiping it (sodium_free); NULL is fine. Every slot
 * must have been freed before (their pointers become invalid). */
void secmem_pool_free(struct secmem_pool *pool);

/* A zeroed slot of the pool's slot size, SECMEM_ALIGN-aligned, or NULL when
 * out of memory (a new region could not be mapped). Thread-safe. */
void *secmem_alloc(struct secmem_pool *pool);

/* Wipes the slot and returns it to its pool; NULL is fine. Aborts on a pointer
 * that is not a slot in use of this pool (a double free). Thread-safe. */
void secmem_free(struct secmem_pool *pool, void *slot);

/* The pool's slot size (fixed at creation). Thread-safe. */
size_t secmem_slot_bytes(const struct secmem_pool *pool);

/* A snapshot of the pool's counters. Thread-safe. */
void secmem_pool_stats(struct secmem_pool *pool, struct secmem_stats *out);

#endif
