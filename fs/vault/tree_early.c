/* tree_early.c - decoding directories ahead of a walk: when a directory is
 * listed (tree_dirlist), its subdirectories that are not loaded are queued
 * for one worker thread, which reads each one's object from the cache,
 * authenticates and decodes it and builds its child inodes
 * (tree_decode_dir, quiet), on the second core while the kernel and the
 * walking program work; the request that then loads one of them
 * (tree_load_dir) takes that decode instead of doing it, or waits for it
 * when the worker is on it. A decode is used only for the very object
 * (directory id and REF) the load would read, so its result is what the
 * load would have made; what goes into the tree, and when, is unchanged.
 *
 * Must never: touch the tree or an inode in it (the worker knows ids and
 * REFs only, so a directory removed, renamed or unloaded meanwhile is no
 * danger), hold its lock over I/O, a decode or tree_lock, log, fetch from
 * the store (only cached objects are read: a remote one is fetched by
 * tree_ahead_list's warming or by the load), keep a failed decode (the
 * load decodes again and reports the failure once, as before), or hold
 * more than EARLY_INODES decoded inodes outside the tree (the inode cap
 * counts the tree's). */
#include "tree_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "dirio.h"

/* Waiting directories: a stack, the newest listing's first child on top,
 * since a walk (find, ls -R, tar) descends depth first into the directory
 * it listed last. */
#define EARLY_QUEUE 64u
/* Decodes kept for a load, at most EARLY_INODES inodes among them (a larger
 * directory is not decoded ahead). The worker stops when they are full (a
 * walk takes them in about the order they were made, so running further
 * ahead would push out what it needs next); a new listing, which is what a
 * walk needs now, makes room by dropping the oldest. */
#define EARLY_DONE 32u
#define EARLY_INODES 8192u

struct early_dir {
	uint8_t id[OBJECT_ID_BYTES];
	struct dirobj_ref ref;
};

struct early_done {
	struct early_dir dir;
	struct tree_decoded d;
};

struct tree_early {
	struct tree *t;
	pthread_t thread;
	pthread_mutex_t lock; /* tree_early.lock: a leaf; everything below */
	pthread_cond_t wake;  /* the worker: work or stop */
	pthread_cond_t done;  /* a load waiting for the decode in progress */
	pthread_cond_t idle;  /* tree_early_wait_idle: nothing queued or in progress */
	struct early_dir queue[EARLY_QUEUE];
	size_t nqueue;
	struct early_dir running; /* while busy */
	bool busy, stop;
	struct early_done kept[EARLY_DONE]; /* oldest first */
	size_t nkept;
	size_t kept_inodes;
	uint64_t used;			    /* loads that took a decode */
	struct early_done drop[EARLY_DONE]; /* the worker's alone: pushed out, to free */
};

static bool early_same(const struct early_dir *a, const uint8_t id[OBJECT_ID_BYTES],
		       const struct dirobj_ref *ref)
{
	return memcmp(a->id, id, OBJECT_ID_BYTES) == 0 && a->ref.version == ref->version &&
	       a->ref.created == ref->created &&
	       memcmp(a->ref.store_key, ref->store_key, OBJECT_ID_BYTES) == 0;
}

/* Index of the directory at ref in the queue (lock held), or -1. */
static ssize_t early_find_queued(const struct tree_early *e, const uint8_t id[OBJECT_ID_BYTES],
				 const struct dirobj_ref *ref)
{
	for (size_t i = 0; i < e->nqueue; i++)
		if (early_same(&e->queue[i], id, ref))
			return (ssize_t)i;
	return -1;
}

/* Index of a kept decode of the directory at ref (lock held), or -1. */
static ssize_t early_find_kept(const struct tree_early *e, const uint8_t id[OBJECT_ID_BYTES],
			       const struct dirobj_ref *ref)
{
	for (size_t i = 0; i < e->nkept; i++)
		if (early_same(&e->kept[i].dir, id, ref))
			return (ssize_t)i;
	return -1;
}

static bool early_full(const struct tree_early *e)
{
	return e->nkept == EARLY_DONE || e->kept_inodes >= EARLY_INODES;
}

/* Takes kept[i] out (lock held) into *out. */
static void early_unkeep(struct tree_early *e, size_t i, struct early_done *out)
{
	*out = e->kept[i];
	e->kept_inodes -= out->d.n;
	memmove(&e->kept[i], &e->kept[i + 1], (e->nkept - i - 1) * sizeof(e->kept[0]));
	e->nkept--;
}

void tree_early_add(struct tree_early *e, const uint8_t (*ids)[OBJECT_ID_BYTES],
		    const struct dirobj_ref *refs, size_t n)
{
	struct early_done old = {0};
	bool dropped = false;

	if (!e || n == 0)
		return;
	if (n > EARLY_QUEUE)
		n = EARLY_QUEUE;
	pthread_mutex_lock(&e->lock);
	if (e->nkept > 0 && early_full(e)) {
		early_unkeep(e, 0, &old);
		dropped = true;
	}
	/* Pushed last first, so ids[0] is on top; the oldest fall off the bottom. */
	for (size_t k = n; k-- > 0;) {
		if ((e->busy && early_same(&e->running, ids[k], &refs[k])) ||
		    early_find_queued(e, ids[k], &refs[k]) >= 0 ||
		    early_find_kept(e, ids[k], &refs[k]) >= 0)
			continue;
		if (e->nqueue == EARLY_QUEUE) {
			memmove(&e->queue[0], &e->queue[1],
				(EARLY_QUEUE - 1) * sizeof(e->queue[0]));
			e->nqueue--;
		}
		memcpy(e->queue[e->nqueue].id, ids[k], OBJECT_ID_BYTES);
		e->queue[e->nqueue++].ref = refs[k];
	}
	pthread_cond_signal(&e->wake);
	pthread_mutex_unlock(&e->lock);
	if (dropped)
		tree_decoded_free(&old.d);
}

bool tree_early_take(struct tree_early *e, const uint8_t id[OBJECT_ID_BYTES],
		     const struct dirobj_ref *ref, struct tree_decoded *out)
{
	struct early_done got;
	ssize_t i;

	memset(out, 0, sizeof(*out));
	if (!e)
		return false;
	pthread_mutex_lock(&e->lock);
	i = early_find_queued(e, id, ref);
	if (i >= 0) { /* not started: the load is as quick as the worker */
		memmove(&e->queue[i], &e->queue[i + 1],
			(e->nqueue - (size_t)i - 1) * sizeof(e->queue[0]));
		e->nqueue--;
	}
	while (e->busy && early_same(&e->running, id, ref))
		pthread_cond_wait(&e->done, &e->lock);
	i = early_find_kept(e, id, ref);
	if (i >= 0) {
		early_unkeep(e, (size_t)i, &got);
		*out = got.d;
		e->used++;
	}
	pthread_cond_signal(&e->wake); /* room for one more, or nothing left */
	pthread_mutex_unlock(&e->lock);
	return i >= 0;
}

/* Keeps a decode (lock held); what it pushes out goes to *drop (freed by
 * the caller without the lock). False: too large, not kept. */
static bool early_keep(struct tree_early *e, const struct early_dir *dir, struct tree_decoded *d,
		       struct early_done *drop, size_t *ndrop)
{
	*ndrop = 0;
	if (d->n > EARLY_INODES)
		return false;
	while (e->nkept == EARLY_DONE || e->kept_inodes + d->n > EARLY_INODES)
		early_unkeep(e, 0, &drop[(*ndrop)++]);
	e->kept[e->nkept].dir = *dir;
	e->kept[e->nkept++].d = *d;
	e->kept_inodes += d->n;
	return true;
}

static void *early_main(void *arg)
{
	struct tree_early *e = arg;
	struct tree_decoded d;
	struct early_dir dir;
	size_t ndrop;
	bool kept;

	pthread_mutex_lock(&e->lock);
	for (;;) {
		while (!e->stop && (e->nqueue == 0 || early_full(e))) {
			pthread_cond_broadcast(&e->idle);
			pthread_cond_wait(&e->wake, &e->lock);
		}
		if (e->stop)
			break;
		dir = e->queue[--e->nqueue];
		e->running = dir;
		e->busy = true;
		pthread_mutex_unlock(&e->lock);
		int r = tree_decode_dir(e->t, dir.id, &dir.ref, true, &d);
		pthread_mutex_lock(&e->lock);
		e->busy = false;
		kept = r == 0 && early_keep(e, &dir, &d, e->drop, &ndrop);
		pthread_cond_broadcast(&e->done);
		pthread_mutex_unlock(&e->lock);
		if (!kept)
			tree_decoded_free(&d);
		for (size_t i = 0; kept && i < ndrop; i++)
			tree_decoded_free(&e->drop[i].d);
		pthread_mutex_lock(&e->lock);
	}
	pthread_mutex_unlock(&e->lock);
	return NULL;
}

int tree_early_start(struct tree *t)
{
	struct tree_early *e = calloc(1, sizeof(*e));
	int r;

	if (!e)
		return -ENOMEM;
	e->t = t;
	pthread_mutex_init(&e->lock, NULL);
	pthread_cond_init(&e->wake, NULL);
	pthread_cond_init(&e->done, NULL);
	pthread_cond_init(&e->idle, NULL);
	r = pthread_create(&e->thread, NULL, early_main, e);
	if (r) {
		pthread_cond_destroy(&e->idle);
		pthread_cond_destroy(&e->done);
		pthread_cond_destroy(&e->wake);
		pthread_mutex_destroy(&e->lock);
		free(e);
		return -r;
	}
	t->early = e;
	return 0;
}

void tree_early_stop(struct tree *t)
{
	struct tree_early *e = t->early;

	if (!e)
		return;
	pthread_mutex_lock(&e->lock);
	e->stop = true;
	pthread_cond_signal(&e->wake);
	pthread_mutex_unlock(&e->lock);
	pthread_join(e->thread, NULL);
	t->early = NULL;
	for (size_t i = 0; i < e->nkept; i++)
		tree_decoded_free(&e->kept[i].d);
	pthread_cond_destroy(&e->idle);
	pthread_cond_destroy(&e->done);
	pthread_cond_destroy(&e->wake);
	pthread_mutex_destroy(&e->lock);
	free(e);
}

uint64_t tree_early_used(const struct tree *t)
{
	struct tree_early *e = t->early;
	uint64_t n;

	if (!e)
		return 0;
	pthread_mutex_lock(&e->lock);
	n = e->used;
	pthread_mutex_unlock(&e->lock);
	return n;
}

void tree_early_wait_idle(struct tree *t)
{
	struct tree_early *e = t->early;

	if (!e)
		return;
	pthread_mutex_lock(&e->lock);
	while (e->busy || (e->nqueue > 0 && !early_full(e)))
		pthread_cond_wait(&e->idle, &e->lock);
	pthread_mutex_unlock(&e->lock);
}
