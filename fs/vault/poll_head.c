/* poll_head.c - showing another device's changes in a mounted format-2 vault
 * (poll_head.h). One poll: read the store's head (a conditional read: nothing
 * sent while it is the version last looked at); if it is new and not this
 * mount's own (or its own merge with another device's), commit and upload this mount's changes (the
 * uploader merges them onto it), read the head again, and bring the tree to it under commit_lock
 * with no commit pending (tree_refresh); then rebase the uploader on it and tell the kernel what
 * changed. Must never refresh onto a head that failed to authenticate, is older than the one
 * shown, or provably does not descend from it (a fork), and never call the kernel with a lock
 * held. Logs seqs and counts only. */
#include "poll_head.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "commit.h"
#include "head.h"
#include "log.h"
#include "meta.h"
#include "mono.h"
#include "seal.h"
#include "tree.h"
#include "upload.h"

#define POLL_SLICE_MS 500u

struct poll {
	struct poll_deps d;
	uint8_t shown[HEAD_HASH_BYTES]; /* hash of the last head looked at */
	uint64_t fork_said;		/* the seq of the forked head last logged (poll thread) */
	struct backend_version seen;	/* its version, set with shown: the next poll reads
					   the head only if it moved (If-None-Match) */
	pthread_t thread;
	bool started;
	unsigned period_s;
	pthread_mutex_t lock; /* the fields below */
	pthread_cond_t cond;
	bool stop;
	struct poll_stats stats;
};

/* The store's head, its version and hash, opened. */
struct poll_head {
	unsigned char *sealed;
	size_t len;
	struct backend_version ver;
	uint8_t hash[HEAD_HASH_BYTES];
	struct dirobj_head head;
};

static void poll_head_release(struct poll_head *h)
{
	free(h->sealed);
	dirobj_head_release(&h->head);
	memset(h, 0, sizeof(*h));
}

static int poll_read(struct poll *p, struct poll_head *h, bool open)
{
	int r = head_get(p->d.store, META_MAX_SEALED_BYTES, &h->sealed, &h->len, &h->ver);

	if (r)
		return r;
	head_hash(h->hash, h->sealed, h->len);
	if (!open)
		return 0;
	return seal_open_head(&h->head, h->sealed, h->len, p->d.cfg->vault_id, p->d.meta_key,
			      p->d.cfg->format);
}

struct poll_refresh {
	struct poll *p;
	struct poll_head *h;
	struct tree_inval *inval;
	size_t ninval;
};

/* Under commit_lock, no commit pending: the tree, then the uploader. */
static int poll_apply(void *ctx)
{
	struct poll_refresh *pr = ctx;
	int r;

	r = tree_refresh(pr->p->d.tree, &pr->h->head.root,
			 pr->h->head.has_inodes ? &pr->h->head.inodes : NULL, &pr->inval,
			 &pr->ninval);

	if (r == -ENOMEM)
		log_msg(LOG_ERR,
			"poll: showing the store's head seq %" PRIu64
			" ran out of memory; remount to see it whole",
			pr->h->head.seq);
	if (r == 0)
		r = upload_rebase(pr->p->d.up, pr->h->sealed, pr->h->len, &pr->h->ver,
				  pr->h->head.seq);
	return r;
}

/* This mount's changes into the store first (merged there by the uploader). */
static int poll_flush_own(struct poll *p)
{
	uint64_t before = commit_seq(p->d.commit);
	int r = commit_run(p->d.commit);

	if (r)
		return r;
	upload_kick(p->d.up);
	if (commit_seq(p->d.commit) == before)
		return 0; /* nothing new; records still waiting make commit_quiet wait */
	/* In slices, so that an unmount does not wait for the store. */
	for (unsigned waited = 0; waited < p->d.wait_ms; waited += POLL_SLICE_MS) {
		if (upload_wait(p->d.up, commit_seq(p->d.commit), POLL_SLICE_MS))
			return 0;
		pthread_mutex_lock(&p->lock);
		bool stop = p->stop;
		pthread_mutex_unlock(&p->lock);
		if (stop)
			break;
	}
	return -EAGAIN;
}

/* The store's head is not a descendant of the one this mount showed or
 * stored last (docs/SECURITY.md, "Forks"): never shown; said once. */
static int poll_fork(struct poll *p, const struct poll_head *h)
{
	if (p->fork_said != h->head.seq)
		log_msg(LOG_ERR,
			"poll: the store's head (seq %" PRIu64
			") does not descend from the one this "
			"mount shows: the store forked or was rolled back; not shown (remount "
			"with --accept-store-head to take it)",
			h->head.seq);
	p->fork_said = h->head.seq;
	return -EXDEV;
}

static void poll_tell(struct poll *p, struct poll_refresh *pr)
{
	for (size_t i = 0; p->d.inval && i < pr->ninval; i++)
		p->d.inval(p->d.inval_ctx, &pr->inval[i]);
	pthread_mutex_lock(&p->lock);
	p->stats.refreshes++;
	p->stats.last_refresh_time = (int64_t)time(NULL);
	p->stats.last_changes = pr->ninval;
	pthread_mutex_unlock(&p->lock);
}

/* The poll's first read: 1 when the head is still the version last seen
 * (nothing sent where the store can tell), else poll_read's. */
static int poll_read_changed(struct poll *p, struct poll_head *h)
{
	int r = head_get_changed(p->d.store, META_MAX_SEALED_BYTES, &p->seen, &h->sealed, &h->len,
				 &h->ver);

	pthread_mutex_lock(&p->lock);
	p->stats.polls += r >= 0;
	p->stats.unchanged += r == 1;
	pthread_mutex_unlock(&p->lock);
	if (r == 0)
		head_hash(h->hash, h->sealed, h->len);
	return r;
}

/* Whether h is what the tree shows already: the head shown last, or this
 * mount's own last upload, unless that merged another device's head in.
 * Then it becomes the head shown; own gets the mount's last upload. */
static bool poll_shows(struct poll *p, const struct poll_head *h, uint8_t own[HEAD_HASH_BYTES])
{
	bool merged = upload_known_hash(p->d.up, own);

	if (memcmp(h->hash, p->shown, HEAD_HASH_BYTES) != 0 &&
	    (merged || memcmp(h->hash, own, HEAD_HASH_BYTES) != 0))
		return false;
	memcpy(p->shown, h->hash, HEAD_HASH_BYTES);
	p->seen = h->ver;
	return true;
}

int poll_once(struct poll *p)
{
	struct poll_head h = {0};
	struct poll_refresh pr = {.p = p, .h = &h};
	uint8_t own[HEAD_HASH_BYTES];
	int r = poll_read_changed(p, &h);

	if (r) /* 1: unchanged since the last poll, which looked at it */
		return r == 1 ? 0 : r;
	if (poll_shows(p, &h, own)) {
		poll_head_release(&h);
		return 0;
	}
	poll_head_release(&h);
	r = poll_flush_own(p);
	if (r == 0)
		r = poll_read(p, &h, true);
	/* This mount's own upload since the first read (the head read first
	 * was an upload older than the one the uploader knew by then): no
	 * other device's change to show. */
	if (r == 0 && poll_shows(p, &h, own)) {
		poll_head_release(&h);
		return 0;
	}
	if (r == 0 && h.head.seq < commit_seq(p->d.commit) &&
	    memcmp(h.hash, own, HEAD_HASH_BYTES) != 0) {
		log_msg(LOG_WARNING,
			"poll: the store's head (seq %" PRIu64 ") is older than this mount's "
			"(seq %" PRIu64 "): not shown",
			h.head.seq, commit_seq(p->d.commit));
		r = -ESTALE;
	}
	if (r == 0 && upload_descends(p->d.up, h.sealed, h.len) == 0)
		r = poll_fork(p, &h);
	if (r == 0)
		r = commit_quiet(p->d.commit, &h.head, h.hash, poll_apply, &pr);
	if (r == 0) {
		memcpy(p->shown, h.hash, HEAD_HASH_BYTES);
		p->seen = h.ver;
		poll_tell(p, &pr);
		log_msg(LOG_INFO, "poll: showing another device's head (seq %" PRIu64 ")",
			h.head.seq);
	}
	tree_inval_free(pr.inval, pr.ninval);
	poll_head_release(&h);
	return r == 0 ? 1 : r;
}

static void *poll_main(void *arg)
{
	struct poll *p = arg;
	unsigned seconds = p->period_s;
	struct timespec due;
	int last = 0;

	pthread_mutex_lock(&p->lock);
	while (!p->stop) {
		mono_deadline(&due, seconds * 1000u);
		while (!p->stop && !mono_passed(&due))
			pthread_cond_timedwait(&p->cond, &p->lock, &due);
		if (p->stop)
			break;
		pthread_mutex_unlock(&p->lock);
		int r = poll_once(p);
		if (r < 0 && r != -EAGAIN && r != -EXDEV && r != last)
			log_msg(LOG_WARNING, "poll: reading the store's head failed (errno %d)",
				-r);
		last = r < 0 ? r : 0;
		pthread_mutex_lock(&p->lock);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

struct poll *poll_new(const struct poll_deps *deps)
{
	struct poll *p = calloc(1, sizeof(*p));
	pthread_condattr_t ca;

	if (!p)
		return NULL;
	p->d = *deps;
	if (upload_known_hash(deps->up, p->shown)) /* a merge: not what the tree shows */
		memset(p->shown, 0, sizeof(p->shown));
	pthread_mutex_init(&p->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->cond, &ca);
	pthread_condattr_destroy(&ca);
	return p;
}

int poll_start(struct poll *p, unsigned seconds)
{
	sigset_t all, old;
	int r;

	if (seconds == 0)
		return -EINVAL;
	p->period_s = seconds;
	if (p->d.wait_ms == 0)
		p->d.wait_ms = seconds * 1000u;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old); /* signals belong to the FUSE loop */
	r = pthread_create(&p->thread, NULL, poll_main, p);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	p->started = r == 0;
	return -r;
}

void poll_stats(struct poll *p, struct poll_stats *out)
{
	pthread_mutex_lock(&p->lock);
	*out = p->stats;
	pthread_mutex_unlock(&p->lock);
}

void poll_stop(struct poll *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	if (p->started)
		pthread_join(p->thread, NULL);
	p->started = false;
}

void poll_free(struct poll *p)
{
	if (!p)
		return;
	poll_stop(p);
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
	free(p);
}
