/* mount_cap.c - the inode cap thread (mount_cap.h). It must never hold
 * tree_lock while it tells the kernel, never log a name (counts only), and
 * never fail the mount. */
#include "mount_cap.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>

#include "env.h"
#include "log.h"
#include "mono.h"
#include "notify.h"
#include "tree_cap.h"

struct mount_cap {
	struct fuse_session *se;
	struct tree *t;
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv; /* with mu: stop */
	bool stop;
	bool warned; /* "the kernel keeps them" said once */
};

/* Waits ms or until stopped; true when stopped. */
static bool cap_sleep(struct mount_cap *c, unsigned ms)
{
	struct timespec due;
	bool stop;

	mono_deadline(&due, ms);
	pthread_mutex_lock(&c->mu);
	while (!c->stop && pthread_cond_timedwait(&c->cv, &c->mu, &due) != ETIMEDOUT)
		;
	stop = c->stop;
	pthread_mutex_unlock(&c->mu);
	return stop;
}

/* One round: the names to drop, chosen under tree_lock, told to the kernel
 * without it. *unloaded: the tree's count of unloaded inodes before. */
static void cap_round(struct mount_cap *c, uint64_t *unloaded)
{
	struct tree_inval *v;
	size_t n;
	int r;

	pthread_mutex_lock(&c->t->lock);
	*unloaded = c->t->unloaded;
	r = tree_cap_pick_locked(c->t, &v, &n);
	pthread_mutex_unlock(&c->t->lock);
	if (r)
		return; /* -ENOMEM: counts as a round that freed nothing */
	for (size_t i = 0; i < n; i++)
		notify_kernel(c->se, c->t, &v[i]);
	tree_inval_free(v, n);
}

/* After a round that freed nothing: the next waits twice as long. */
static unsigned cap_backoff(struct mount_cap *c, unsigned wait, uint64_t ninodes)
{
	wait = wait * 2 < MOUNT_CAP_BACKOFF_MAX_MS ? wait * 2 : MOUNT_CAP_BACKOFF_MAX_MS;
	if (wait == MOUNT_CAP_BACKOFF_MAX_MS && !c->warned) {
		c->warned = true;
		log_msg(LOG_INFO,
			"%" PRIu64 " inodes in memory, over the cap of %" PRIu64
			": the kernel keeps their names (open files, working directories)",
			ninodes, c->t->inode_cap);
	}
	return wait;
}

static void *cap_main(void *arg)
{
	struct mount_cap *c = arg;
	unsigned wait = MOUNT_CAP_TICK_MS;
	uint64_t before = 0, now, unloaded;
	bool asked = false;

	while (!cap_sleep(c, wait)) {
		pthread_mutex_lock(&c->t->lock);
		now = c->t->ninodes;
		unloaded = c->t->unloaded;
		pthread_mutex_unlock(&c->t->lock);
		if (now <= c->t->inode_cap) {
			wait = MOUNT_CAP_TICK_MS;
			asked = false;
			continue;
		}
		/* Something was unloaded since the last round: the kernel lets
		 * go, go on at the tick; else it keeps the names (or none was
		 * idle): wait longer each time, up to a round a minute. */
		if (asked && unloaded == before)
			wait = cap_backoff(c, wait, now);
		else
			wait = MOUNT_CAP_TICK_MS;
		cap_round(c, &before);
		asked = true;
	}
	return NULL;
}

struct mount_cap *mount_cap_start(struct fuse_session *se, struct tree *t)
{
	struct mount_cap *c;
	sigset_t all, old;
	uint64_t cap = env_count("SEALFS_INODE_CAP", TREE_INODE_CAP, UINT64_MAX);
	int r;

	pthread_mutex_lock(&t->lock);
	t->inode_cap = cap;
	pthread_mutex_unlock(&t->lock);
	if (!cap || !(c = calloc(1, sizeof(*c))))
		return NULL;
	c->se = se;
	c->t = t;
	pthread_mutex_init(&c->mu, NULL);
	pthread_condattr_t ca;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* mono.h */
	pthread_cond_init(&c->cv, &ca);
	pthread_condattr_destroy(&ca);
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old); /* signals belong to the FUSE loop */
	r = pthread_create(&c->th, NULL, cap_main, c);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r == 0)
		return c;
	log_msg(LOG_WARNING, "no inode cap thread (errno %d): the kernel decides the memory", r);
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->mu);
	free(c);
	return NULL;
}

void mount_cap_stop(struct mount_cap *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->mu);
	c->stop = true;
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
	pthread_join(c->th, NULL);
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->mu);
	free(c);
}
