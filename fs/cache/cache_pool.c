/* cache_pool.c - the pool of empty cache files made in advance for new
 * objects (cache_pool.h; docs/INTERNALS.md, "Cache"). One filler thread,
 * started by the first take, keeps up to CACHE_POOL_CAP files ready and
 * refills when a take leaves CACHE_POOL_LOW: one wake-up per 32 takes, and
 * the file creations run on the other core while the writer's thread goes
 * on. Before it creates a batch it writes the keys of every ready file and of
 * the batch to the list file, so that what a crash leaves is found and
 * removed by the next process. It must never hand out a key twice, never
 * make a taker wait for file-system work, and never log a key. */
#include "cache_pool.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "fdio.h"

/* The list of an earlier process is read up to this many keys. */
#define POOL_LIST_MAX 4096

struct pool_file {
	uint8_t key[CACHE_POOL_KEY_BYTES];
	int fd;
};

struct cache_pool {
	pthread_mutex_t lock;
	pthread_cond_t wake;			/* the filler waits here */
	struct pool_file ready[CACHE_POOL_CAP]; /* lock */
	size_t n;				/* lock: ready files */
	bool started;				/* lock: the first take came */
	bool running;				/* lock: the filler thread exists */
	bool stop;				/* lock: cache_pool_free wants the filler gone */
	bool waiting;				/* lock: the filler sleeps until a take wakes it */
	pthread_t thread;
	struct cache_pool_ops ops;
	int list_fd;	 /* the filler's (and cache_pool_new's, cache_pool_free's) */
	size_t list_len; /* its size as last written; SIZE_MAX: unknown */
};

/* Drops every file an earlier process listed (those it never handed out are
 * empty; a file someone wrote to is kept by ops.drop), then empties the list. */
static void pool_clean_list(struct cache_pool *p)
{
	uint8_t *keys = malloc(POOL_LIST_MAX * CACHE_POOL_KEY_BYTES);
	ssize_t got;

	p->list_len = SIZE_MAX;
	if (!keys)
		return;
	got = pread(p->list_fd, keys, POOL_LIST_MAX * CACHE_POOL_KEY_BYTES, 0);
	for (ssize_t i = 0; got > 0 && i + CACHE_POOL_KEY_BYTES <= got; i += CACHE_POOL_KEY_BYTES)
		p->ops.drop(p->ops.arg, keys + i);
	free(keys);
	if (got == 0 || (got > 0 && ftruncate(p->list_fd, 0) == 0))
		p->list_len = 0;
}

int cache_pool_new(struct cache_pool **out, const struct cache_pool_ops *ops, int list_fd)
{
	struct cache_pool *p = calloc(1, sizeof(*p));

	*out = NULL;
	if (!p) {
		if (list_fd >= 0)
			close(list_fd);
		return -ENOMEM;
	}
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->wake, NULL);
	p->ops = *ops;
	p->list_fd = list_fd;
	if (list_fd >= 0)
		pool_clean_list(p);
	*out = p;
	return 0;
}

/* Writes the keys of the n ready files (copied from the pool) and of the
 * batch about to be made into the list: best effort, no flush (a crash of
 * the process leaves it in the page cache; after a power cut the files it
 * misses are empty files in CACHE/o, as a crash between a segment's create
 * and its write leaves). */
static void pool_write_list(struct cache_pool *p, const uint8_t *keys, size_t nkeys)
{
	size_t len = nkeys * CACHE_POOL_KEY_BYTES;

	if (p->list_fd < 0)
		return;
	if (fdio_pwrite_all(p->list_fd, keys, len, 0) != 0)
		p->list_len = SIZE_MAX;
	else if (len == p->list_len || ftruncate(p->list_fd, (off_t)len) == 0)
		p->list_len = len; /* a whole pool's keys each time: no ftruncate */
	else
		p->list_len = SIZE_MAX;
}

/* Sleeps until a take wakes the filler, cache_pool_free stops it, or (after
 * a failed make: retry) one second passed. Called with the lock held. */
static void pool_sleep(struct cache_pool *p, bool timed)
{
	struct timespec until;

	p->waiting = true;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 1;
	while (p->waiting && !p->stop) {
		if (!timed)
			pthread_cond_wait(&p->wake, &p->lock);
		else if (pthread_cond_timedwait(&p->wake, &p->lock, &until) == ETIMEDOUT)
			break;
	}
	p->waiting = false;
}

/* Makes the files of keys [0, n) in turn and adds each to the ready ones.
 * false when a make failed (the rest of the batch is not made). Called and
 * returns with the lock held; drops it around each make. */
static bool pool_make_batch(struct cache_pool *p, uint8_t (*keys)[CACHE_POOL_KEY_BYTES], size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int fd;

		pthread_mutex_unlock(&p->lock);
		fd = p->ops.make(p->ops.arg, keys[i]);
		pthread_mutex_lock(&p->lock);
		if (fd < 0)
			return false;
		/* Only the filler adds, takes only remove: there is room. */
		p->ready[p->n].fd = fd;
		memcpy(p->ready[p->n].key, keys[i], CACHE_POOL_KEY_BYTES);
		p->n++;
		if (p->stop)
			break; /* cache_pool_free drops what is ready */
	}
	return true;
}

static void *pool_main(void *arg)
{
	struct cache_pool *p = arg;
	uint8_t keys[CACHE_POOL_CAP][CACHE_POOL_KEY_BYTES]; /* the batch, then the ready */
	size_t n, batch;
	bool ok = true;

	pthread_mutex_lock(&p->lock);
	while (!p->stop) {
		if (!ok || p->n >= CACHE_POOL_CAP) {
			pool_sleep(p, !ok);
			ok = true;
			continue;
		}
		n = p->n;
		batch = CACHE_POOL_CAP - n;
		for (size_t i = 0; i < n; i++)
			memcpy(keys[batch + i], p->ready[i].key, CACHE_POOL_KEY_BYTES);
		pthread_mutex_unlock(&p->lock);
		/* Store keys: public randomness, never a secret (crypto/chunk.h). */
		randombytes_buf(keys, batch * CACHE_POOL_KEY_BYTES);
		pool_write_list(p, &keys[0][0], batch + n);
		pthread_mutex_lock(&p->lock);
		ok = pool_make_batch(p, keys, batch);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

/* Starts the filler with every signal blocked (the daemon's threads leave
 * signals to the one that waits for them). On failure the pool stays empty:
 * every take answers -EAGAIN and the writers make their own files. */
static void pool_start(struct cache_pool *p)
{
	sigset_t all, old;

	p->started = true;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	p->running = pthread_create(&p->thread, NULL, pool_main, p) == 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

int cache_pool_take(struct cache_pool *p, uint8_t key[CACHE_POOL_KEY_BYTES])
{
	int fd = -EAGAIN;

	if (!p)
		return -EAGAIN;
	pthread_mutex_lock(&p->lock);
	if (!p->started)
		pool_start(p);
	if (p->n > 0) {
		p->n--;
		fd = p->ready[p->n].fd;
		memcpy(key, p->ready[p->n].key, CACHE_POOL_KEY_BYTES);
	}
	/* One wake-up per CACHE_POOL_CAP - CACHE_POOL_LOW takes, not one each:
	 * a futex wake costs the writer's core two context switches. */
	if (p->waiting && p->n <= CACHE_POOL_LOW) {
		p->waiting = false;
		pthread_cond_signal(&p->wake);
	}
	pthread_mutex_unlock(&p->lock);
	return fd;
}

void cache_pool_free(struct cache_pool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_cond_signal(&p->wake);
	pthread_mutex_unlock(&p->lock);
	if (p->running)
		pthread_join(p->thread, NULL);
	for (size_t i = 0; i < p->n; i++) {
		close(p->ready[i].fd);
		p->ops.drop(p->ops.arg, p->ready[i].key);
	}
	if (p->list_fd >= 0) {
		(void)ftruncate(p->list_fd, 0);
		close(p->list_fd);
	}
	pthread_cond_destroy(&p->wake);
	pthread_mutex_destroy(&p->lock);
	free(p);
}
