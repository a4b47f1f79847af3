/* slab.c - header-less allocation of small objects from 1 MiB mmap'ed chunks, a
 * free list per 8-byte size class (slab.h). Must never hand out memory that
 * is not zeroed, nor keep a freed object's bytes (it is wiped before it goes
 * on its free list: inodes hold names and keys' ids). */
#include "slab.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <sodium.h>

#if defined(__SANITIZE_ADDRESS__)
#define SLAB_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SLAB_SANITIZED 1
#endif
#endif
#ifndef SLAB_SANITIZED
#define SLAB_SANITIZED 0
#endif

static size_t slab_round(size_t size)
{
	return (size + SLAB_ALIGN - 1) & ~(size_t)(SLAB_ALIGN - 1);
}

/* A new chunk becomes the current one (the old one's tail, less than
 * SLAB_MAX bytes, stays unused). Called with the lock held. */
static int slab_grow(struct slab *s)
{
	/* mmap'ed, not malloc'ed: chunks in the heap would land in the holes
	 * that freed transient buffers (a decoded directory) leave, and pin
	 * them; the heap then grows for the next such buffer. Neighbouring
	 * chunks merge into one mapping. */
	char *c =
	    mmap(NULL, SLAB_CHUNK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (c == MAP_FAILED)
		return -1;
	*(void **)c = s->chunks;
	s->chunks = c;
	s->nchunks++;
	s->cur = c + SLAB_ALIGN;
	s->left = SLAB_CHUNK - SLAB_ALIGN;
	return 0;
}

void *slab_alloc(struct slab *s, size_t size)
{
	size_t r = slab_round(size), k = r / SLAB_ALIGN - 1;
	void *p = NULL;

	if (SLAB_SANITIZED || r > SLAB_MAX)
		return calloc(1, size);
	pthread_mutex_lock(&s->lock);
	if (s->free[k]) {
		p = s->free[k];
		s->free[k] = *(void **)p;
	} else if (s->left >= r || slab_grow(s) == 0) {
		p = s->cur;
		s->cur += r;
		s->left -= r;
	}
	pthread_mutex_unlock(&s->lock);
	if (p)
		memset(p, 0, r);
	return p;
}

void slab_free(struct slab *s, void *p, size_t size)
{
	size_t r = slab_round(size), k = r / SLAB_ALIGN - 1;

	if (!p)
		return;
	if (SLAB_SANITIZED || r > SLAB_MAX) {
		free(p);
		return;
	}
	sodium_memzero(p, r);
	pthread_mutex_lock(&s->lock);
	*(void **)p = s->free[k];
	s->free[k] = p;
	pthread_mutex_unlock(&s->lock);
}

size_t slab_bytes(struct slab *s)
{
	size_t n;

	pthread_mutex_lock(&s->lock);
	n = s->nchunks * (size_t)SLAB_CHUNK;
	pthread_mutex_unlock(&s->lock);
	return n;
}

void slab_destroy(struct slab *s)
{
	pthread_mutex_lock(&s->lock);
	while (s->chunks) {
		void *c = s->chunks;
		s->chunks = *(void **)c;
		munmap(c, SLAB_CHUNK);
	}
	memset(s->free, 0, sizeof(s->free));
	s->cur = NULL;
	s->left = 0;
	s->nchunks = 0;
	pthread_mutex_unlock(&s->lock);
}
