/* prefetch.c - background fetches of store objects into the cache, and
 * warming of cached ones into the page cache (prefetch.h). It must never
 * fetch a key twice at once, never fetch a key queued to be warmed only, never
 * hold its lock across a store call or a disk read, and never log names
 * (keys are random). */
#include "prefetch.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct prefetch {
	struct cache *cache; /* borrowed */
	pthread_t threads[PREFETCH_THREADS];
	size_t nthreads;

	pthread_mutex_t lock; /* everything below */
	pthread_cond_t work;  /* a key was queued, or stop */
	pthread_cond_t done;  /* a fetch ended */
	char queue[PREFETCH_QUEUE][OBJECT_KEY_TEXT_BYTES];
	uint64_t queue_max[PREFETCH_QUEUE];		    /* each queued object's bound */
	uint8_t queue_how[PREFETCH_QUEUE];		    /* PF_FETCH, PF_WARM */
	size_t head, count;				    /* ring */
	char busy[PREFETCH_THREADS][OBJECT_KEY_TEXT_BYTES]; /* "" when idle */
	bool stop;
};

/* Index of key in the queue, or SIZE_MAX (lock held). */
static size_t prefetch_queued(const struct prefetch *p, const char *key)
{
	for (size_t i = 0; i < p->count; i++) {
		size_t at = (p->head + i) % PREFETCH_QUEUE;
		if (strcmp(p->queue[at], key) == 0)
			return i;
	}
	return SIZE_MAX;
}

static bool prefetch_busy(const struct prefetch *p, const char *key)
{
	for (size_t t = 0; t < p->nthreads; t++)
		if (strcmp(p->busy[t], key) == 0)
			return true;
	return false;
}

/* Removes the i-th queued key, keeping the order of the others, each with
 * its own bound and kind (lock held). */
static void prefetch_unqueue(struct prefetch *p, size_t i)
{
	for (; i + 1 < p->count; i++) {
		size_t to = (p->head + i) % PREFETCH_QUEUE,
		       from = (p->head + i + 1) % PREFETCH_QUEUE;

		memcpy(p->queue[to], p->queue[from], OBJECT_KEY_TEXT_BYTES);
		p->queue_max[to] = p->queue_max[from];
		p->queue_how[to] = p->queue_how[from];
	}
	p->count--;
}

/* What a queued key asks: fetch it into the cache when it is not cached
 * (from the store, on the thread: prefetch_add, and prefetch_warm with
 * PREFETCH_FETCH); warm its cache file into the page cache (prefetch_warm). */
#define PF_FETCH PREFETCH_FETCH
#define PF_WARM 2u
_Static_assert(PREFETCH_FETCH != PF_WARM && PREFETCH_FIRST != PF_WARM, "distinct bits");

/* One queued key's work, without the lock. A warm opens the cache file
 * (reading its directory entry and inode now) and asks the kernel to read
 * its bytes in (asynchronously). Failures are the reader's to meet. */
static void prefetch_one(struct prefetch *p, const char *key, uint64_t max, unsigned how)
{
	int fd = (how & PF_FETCH) ? cache_open_object(p->cache, key, max)
				  : cache_open_cached(p->cache, key);

	if (fd < 0)
		return;
	if (how & PF_WARM)
		(void)posix_fadvise(fd, 0, (off_t)max, POSIX_FADV_WILLNEED);
	close(fd);
}

struct prefetch_arg {
	struct prefetch *p;
	size_t slot;
};

static void *prefetch_main(void *arg)
{
	struct prefetch_arg *a = arg;
	struct prefetch *p = a->p;
	char *mine = p->busy[a->slot];

	free(a);
	pthread_mutex_lock(&p->lock);
	while (!p->stop) {
		if (p->count == 0) {
			pthread_cond_wait(&p->work, &p->lock);
			continue;
		}
		memcpy(mine, p->queue[p->head], OBJECT_KEY_TEXT_BYTES);
		uint64_t max = p->queue_max[p->head];
		unsigned how = p->queue_how[p->head];
		p->head = (p->head + 1) % PREFETCH_QUEUE;
		p->count--;
		pthread_mutex_unlock(&p->lock);
		prefetch_one(p, mine, max, how);
		pthread_mutex_lock(&p->lock);
		mine[0] = '\0';
		pthread_cond_broadcast(&p->done);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

int prefetch_start(struct prefetch **out, struct cache *cache)
{
	struct prefetch *p = calloc(1, sizeof(*p));
	sigset_t all, old;
	int r = 0;

	*out = NULL;
	if (!p)
		return -ENOMEM;
	p->cache = cache;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->work, NULL);
	pthread_cond_init(&p->done, NULL);
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old); /* signals belong to the FUSE loop */
	for (size_t t = 0; t < PREFETCH_THREADS && r == 0; t++) {
		struct prefetch_arg *a = malloc(sizeof(*a));

		if (!a) {
			r = -ENOMEM;
			break;
		}
		*a = (struct prefetch_arg){.p = p, .slot = t};
		r = -pthread_create(&p->threads[t], NULL, prefetch_main, a);
		if (r)
			free(a);
		else
			p->nthreads++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r && p->nthreads == 0) {
		prefetch_stop(p);
		return r;
	}
	*out = p;
	return 0;
}

void prefetch_stop(struct prefetch *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	p->count = 0;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->lock);
	for (size_t t = 0; t < p->nthreads; t++)
		pthread_join(p->threads[t], NULL);
	pthread_cond_destroy(&p->work);
	pthread_cond_destroy(&p->done);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

/* Queues key (at the front with PREFETCH_FIRST, else at the back) unless
 * it is queued or being fetched, or the queue is full; true when queued
 * (lock held). */
static bool prefetch_queue_locked(struct prefetch *p, const char *key, uint64_t max, unsigned how)
{
	size_t at;

	if (p->stop || p->count >= PREFETCH_QUEUE || strlen(key) >= OBJECT_KEY_TEXT_BYTES ||
	    prefetch_queued(p, key) != SIZE_MAX || prefetch_busy(p, key))
		return false;
	if (how & PREFETCH_FIRST)
		at = p->head = (p->head + PREFETCH_QUEUE - 1) % PREFETCH_QUEUE;
	else
		at = (p->head + p->count) % PREFETCH_QUEUE;
	how &= PF_FETCH | PF_WARM;
	memcpy(p->queue[at], key, strlen(key) + 1);
	p->queue_max[at] = max;
	p->queue_how[at] = (uint8_t)how;
	p->count++;
	return true;
}

void prefetch_add(struct prefetch *p, const char *key, uint64_t max)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	if (prefetch_queue_locked(p, key, max, PF_FETCH))
		pthread_cond_signal(&p->work);
	pthread_mutex_unlock(&p->lock);
}

void prefetch_warm(struct prefetch *p, const char (*keys)[OBJECT_KEY_TEXT_BYTES],
		   const uint64_t *lens, size_t n, unsigned flags)
{
	unsigned how = PF_WARM | (flags & (PREFETCH_FETCH | PREFETCH_FIRST));
	size_t queued = 0;

	if (!p || n == 0)
		return;
	pthread_mutex_lock(&p->lock);
	/* at the front: last key first, so that keys[0] is taken first */
	for (size_t k = 0; k < n; k++) {
		size_t i = (flags & PREFETCH_FIRST) ? n - 1 - k : k;
		queued += prefetch_queue_locked(p, keys[i], lens[i], how);
	}
	/* one wake for the batch: a thread per key, as many as there are */
	if (queued == 1)
		pthread_cond_signal(&p->work);
	else if (queued > 1)
		pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->lock);
}

void prefetch_claim(struct prefetch *p, const char *key)
{
	size_t i;

	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	i = prefetch_queued(p, key);
	if (i != SIZE_MAX)
		prefetch_unqueue(p, i);
	while (prefetch_busy(p, key))
		pthread_cond_wait(&p->done, &p->lock);
	pthread_mutex_unlock(&p->lock);
}
