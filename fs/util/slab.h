/* slab.h - many small objects without malloc's per-object header and
 * 16-byte rounding: objects of up to SLAB_MAX bytes are carved, rounded to
 * 8 bytes, from 1 MiB mmap'ed chunks (only the pages used count), and a
 * freed one goes on the free list of its size for the next object of that
 * size. What the in-memory tree uses for its inodes.
 *
 * Chunks are never returned to the system while the slab lives: memory stays
 * at its peak, reused by later objects (slab_destroy frees it all). Built
 * with AddressSanitizer, every object is its own calloc, so overflows and
 * uses after free are still caught. Thread-safe (one mutex). Must never hand
 * out memory that is not zeroed. */
#ifndef SEALFS_SLAB_H
#define SEALFS_SLAB_H

#include <pthread.h>
#include <stddef.h>

#define SLAB_ALIGN 8
#define SLAB_MAX 512 /* larger objects: calloc and free */
#define SLAB_CHUNK (1024 * 1024)

struct slab {
	pthread_mutex_t lock;
	void *free[SLAB_MAX / SLAB_ALIGN]; /* per size class, linked through their first word */
	char *cur;			   /* the current chunk's unused tail */
	size_t left;			   /* bytes in it */
	void *chunks;			   /* every chunk, linked through their first word */
	size_t nchunks;
};

/* A static initialiser for an empty slab. */
#define SLAB_INIT                                                                                  \
	{                                                                                          \
		.lock = PTHREAD_MUTEX_INITIALIZER                                                  \
	}

/* A zeroed object of size bytes (size > 0), or NULL (out of memory). */
void *slab_alloc(struct slab *s, size_t size);
/* Returns p (from slab_alloc with the same size; NULL is ignored). */
void slab_free(struct slab *s, void *p, size_t size);
/* Bytes held in chunks (0 under AddressSanitizer). */
size_t slab_bytes(struct slab *s);
/* Frees every chunk: every object must have been freed or be unused. */
void slab_destroy(struct slab *s);

#endif
