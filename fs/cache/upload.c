/* upload.c - the background uploader of journal records into the store
 * (upload.h). It must never put a head
 * before every object it reaches is durable in the store, never delete an
 * object a head in the store or a pending record still reaches, never remove
 * a record before its head is in the store, and never log names or contents
 * (store keys are random and may be logged). */
#include "upload_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "env.h"
#include "fault.h"
#include "head.h"
#include "journal.h"
#include "log.h"
#include "mono.h"
#include "upload_par.h"

#define UPLOAD_BACKOFF_MIN_MS 1000u
#define UPLOAD_DRAIN_RETRY_MS 1000u
/* A round starts this long after the first kick, so that the records of a
 * burst of fsyncs share one round's store syncs (unless someone waits), or
 * as soon as UPLOAD_GATHER_RECORDS records wait (upload.h): a backlog's
 * records each hold a journal slot, and slots reused are overwrites. */
#define UPLOAD_GATHER_MS 250u

/* ---- one round: every pending record ---- */

struct upload_job {
	uint8_t key[OBJECT_ID_BYTES];
	/* A record's object (directory object, inlined segment) in the round's
	 * batch, its bytes in memory or, NULL, at o->off in record seq's file
	 * (journal_read_lean); NULL for a segment's cache file. */
	const struct journal_object *o;
	uint64_t seq;
};

struct upload_round {
	struct upload *u;
	struct journal_batch b; /* every pending record */
	struct upload_job *jobs;
	size_t njobs;
	bool merged;			 /* its head was merged with another device's */
	uint8_t (*del)[OBJECT_ID_BYTES]; /* the garbage keys it deletes (upload_deletable) */
	size_t ndel;
	struct upload_dead_round dead; /* the records' dead entries (upload_dead.c) */
};

/* Rounds in a row whose merge found a newer record (-EAGAIN) before the
 * round fails and backs off. */
#define UPLOAD_AGAIN_TRIES 4

/* Reads the records of seqs into the round. */
static int upload_load(struct upload_round *rd, const uint64_t *seqs, size_t n)
{
	uint64_t bad = 0;
	int r = journal_batch_load(&rd->b, rd->u->journal, seqs, n, false, &bad);

	if (r && r != -ENOMEM)
		log_msg(LOG_ERR, "upload: journal record %016" PRIx64 " unreadable (errno %d)", bad,
			-r);
	return r;
}

/* Adds a job for key: a segment (o NULL) or record rec's object o. */
static void upload_add_job(struct upload_round *rd, const uint8_t *key,
			   const struct journal_record *rec, const struct journal_object *o)
{
	struct upload_job *j;

	if (journal_batch_is_garbage(&rd->b, key) || upload_dead_skips(&rd->dead, key))
		return; /* a later pending commit replaced it: never upload it */
	j = &rd->jobs[rd->njobs++];
	memcpy(j->key, key, OBJECT_ID_BYTES);
	j->o = o;
	j->seq = rec ? rec->seq : 0;
}

/* The objects of the records not yet in the store, minus the garbage. */
static int upload_plan(struct upload_round *rd)
{
	size_t max = 0;

	for (size_t i = 0; i < rd->b.n; i++)
		max += rd->b.recs[i].nsegs + rd->b.recs[i].nobjs;
	rd->jobs = calloc(max ? max : 1, sizeof(*rd->jobs));
	if (!rd->jobs || upload_dead_plan(rd->u, &rd->b, &rd->dead) != 0)
		return -ENOMEM;
	for (size_t i = 0; i < rd->b.n; i++) {
		const struct journal_record *rec = &rd->b.recs[i];
		if (rec->seq <= rd->u->stored_seq)
			continue; /* its head (or a newer one) is in the store */
		for (size_t k = 0; k < rec->nsegs; k++)
			upload_add_job(rd, rec->segs[k], NULL, NULL);
		for (size_t k = 0; k < rec->nobjs; k++)
			upload_add_job(rd, rec->objs[k].key, rec, &rec->objs[k]);
	}
	return 0;
}

int64_t upload_now_s(clockid_t clock)
{
	struct timespec now;

	clock_gettime(clock, &now);
	return (int64_t)now.tv_sec;
}

static int upload_put_one(void *arg, size_t i)
{
	struct upload_round *rd = arg;
	const struct upload_job *j = &rd->jobs[i];
	char text[OBJECT_KEY_TEXT_BYTES], path[CACHE_PATH_MAX];
	struct backend *s = rd->u->store;

	object_key_text(text, j->key);
	cache_path(rd->u->cache, text, path);
	if (!j->o)
		return s->ops->put_file(s, text, path);
	if (j->o->data)
		return upload_put_object(rd->u, text, path, j->o->data, j->o->len);
	return upload_put_lean(rd->u, text, path, j->seq, j->o->off, j->o->len);
}

/* upload_put_one, counting the bytes the store took (sized before the put). */
static int upload_put_counted(void *arg, size_t i)
{
	struct upload_round *rd = arg;
	const struct upload_job *j = &rd->jobs[i];
	char text[OBJECT_KEY_TEXT_BYTES], path[CACHE_PATH_MAX];
	uint64_t len = j->o ? j->o->len : 0;
	struct stat st;
	int r;

	if (!j->o) {
		object_key_text(text, j->key);
		cache_path(rd->u->cache, text, path);
		len = stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
	}
	r = upload_put_one(arg, i);
	if (r == 0) {
		upload_count(rd->u, len);
		upload_count_object(rd->u, j->key);
	}
	return r;
}

static int upload_del_one(void *arg, size_t i)
{
	struct upload_round *rd = arg;
	char text[OBJECT_KEY_TEXT_BYTES];
	int r;

	object_key_text(text, rd->del[i]);
	r = backend_del(rd->u->store, text);
	if (r == 0)
		cache_drop_object(rd->u->cache, text);
	return r;
}

/* Runs fn over n jobs; the first failure (logged with its key) or 0. */
static int upload_run(struct upload_round *rd, int (*fn)(void *, size_t), size_t n,
		      const char *what, bool jobs)
{
	char text[OBJECT_KEY_TEXT_BYTES];
	int *rc, r = 0;

	if (n == 0)
		return 0;
	rc = upload_parallel(fn, rd, n);
	if (!rc)
		return -ENOMEM;
	for (size_t i = 0; i < n && r == 0; i++) {
		if (!rc[i])
			continue;
		r = rc[i];
		object_key_text(text, jobs ? rd->jobs[i].key : rd->del[i]);
		log_msg(LOG_DEBUG, "upload: %s %s failed (errno %d)", what, text, -r);
	}
	free(rc);
	return r;
}

/* Advances the pin (CACHE/state) to the stored head before any record
 * goes: a mount tells this cache's own heads from another device's by it. */
int upload_remember(struct upload *u, const unsigned char *head, size_t len)
{
	int r = u->pin ? head_pin_advance(u->pin, u->stored_seq, u->stored_hash, head, len) : 0;

	if (r)
		log_msg(LOG_WARNING, "upload: remembering head seq %" PRIu64 " failed (errno %d)",
			u->stored_seq, -r);
	return r;
}

/* The cache files of the round's patched segments (journal.h, struct
 * journal_patch), flushed before the head that reaches them goes in, as a
 * commit flushes the others: once the records are removed nothing could
 * rebuild them. A later record's garbage is never stored: not flushed. */
static int upload_sync_patched(struct upload_round *rd)
{
	char text[OBJECT_KEY_TEXT_BYTES], path[CACHE_PATH_MAX];

	for (size_t i = 0; i < rd->b.n; i++) {
		const struct journal_record *rec = &rd->b.recs[i];
		for (size_t k = 0; rec->seq > rd->u->stored_seq && k < rec->npatched; k++) {
			const uint8_t *key = rec->patched + k * JOURNAL_PATCHED_BYTES;
			int fd, r = 0;
			if (journal_batch_is_garbage(&rd->b, key) ||
			    upload_dead_skips(&rd->dead, key))
				continue;
			object_key_text(text, key);
			cache_path(rd->u->cache, text, path);
			fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
			if (fd < 0 || fdatasync(fd) != 0)
				r = -errno;
			if (fd >= 0)
				close(fd);
			if (r)
				return r;
		}
	}
	return 0;
}

/* Objects, sync, the newest head (or a merge of it), sync, remember the
 * seq of what went in. */
static int upload_heads(struct upload_round *rd)
{
	const struct journal_record *last = &rd->b.recs[rd->b.n - 1];
	struct upload *u = rd->u;
	const unsigned char *head = NULL;
	size_t len = 0;
	uint64_t seq = 0;
	int r;

	if (last->seq <= u->stored_seq)
		return upload_remember(u, NULL, 0);
	/* From here objects of these records may be in the store. */
	if (u->put_upto != UINT64_MAX && u->put_upto < last->seq)
		u->put_upto = last->seq;
	r = upload_run(rd, upload_put_counted, rd->njobs, "storing", true);
	if (r == 0)
		r = upload_sync_patched(rd);
	if (r == 0 && rd->njobs > 0)
		r = backend_sync(u->store);
	if (r == 0)
		r = upload_put_head(u, &rd->b, &head, &len, &seq);
	if (r == 0)
		upload_count(u, len);
	if (r == 0)
		r = backend_sync(u->store);
	if (r)
		return r;
	rd->merged = u->diverged;
	head_hash(u->stored_hash, head, len);
	pthread_mutex_lock(&u->lock);
	u->stored_seq = seq;
	memcpy(u->known_hash, u->stored_hash, HEAD_HASH_BYTES);
	u->known_merged = rd->merged;
	u->put_heads++;
	pthread_mutex_unlock(&u->lock);
	return upload_remember(u, head, len);
}

static int upload_finish(struct upload_round *rd)
{
	/* The dropped dead entries were never reachable from a stored head (a
	 * merge builds on the newest record, which does not reach them). A
	 * merged record's other garbage stays: this device's history chose it,
	 * and the merged head's history may still reach it (upload_merge.c). */
	int r;

	if (rd->merged && fault_die("merged-finish"))
		_exit(137); /* a test's crash: merged head stored, records not removed */
	r = upload_dead_after_head(rd->u, &rd->dead, rd->merged);
	if (r == 0 && rd->merged)
		r = upload_dead_merged(rd->u);

	if (r == 0)
		r = upload_deletable(rd->u, &rd->b, rd->merged, &rd->del, &rd->ndel);
	if (r == 0)
		r = upload_run(rd, upload_del_one, rd->ndel, "deleting", false);

	/* No flush: a removed record that comes back after a crash is one whose
	 * head is in the store, which the next round only clears up. */
	for (size_t i = 0; r == 0 && i < rd->b.n; i++)
		r = journal_remove(rd->u->journal, rd->b.recs[i].seq);
	return r;
}

/* Every record's head (or a newer one) is in the store now: what they list
 * is stored or garbage, so the cache may evict it (--cache-size). */
static void upload_unpin(const struct upload_round *rd)
{
	for (size_t i = 0; i < rd->b.n; i++) {
		for (size_t k = 0; k < rd->b.recs[i].nsegs; k++)
			cache_unpin(rd->u->cache, rd->b.recs[i].segs[k]);
		for (size_t k = 0; k < rd->b.recs[i].nobjs; k++)
			cache_unpin(rd->u->cache, rd->b.recs[i].objs[k].key);
	}
}

static void upload_round_release(struct upload_round *rd)
{
	journal_batch_release(&rd->b);
	free(rd->jobs);
	free(rd->del);
	upload_dead_round_free(&rd->dead);
}

/* Uploads every record pending now; *left: records pending afterwards. */
static int upload_round_once(struct upload *u, size_t *left)
{
	struct upload_round rd = {.u = u};
	uint64_t *seqs;
	size_t n;
	int r = journal_list(&seqs, &n, u->journal);

	if (r == 0 && n > 0 && fault_die("round"))
		_exit(137); /* a test's crash: records in the journal, none uploaded */
	*left = 0;
	if (r == 0)
		r = upload_apply_rebase(u);
	if (r || n == 0) {
		free(seqs); /* NULL unless a rebase failed after the listing */
		return r;
	}
	r = upload_load(&rd, seqs, n);
	if (r == 0)
		r = upload_plan(&rd);
	if (r == 0)
		r = upload_heads(&rd);
	if (r == 0)
		upload_unpin(&rd);
	if (r == 0)
		r = upload_finish(&rd);
	if (r == 0) {
		/* Every object of these records is stored or deleted now. */
		u->put_upto = rd.b.recs[rd.b.n - 1].seq;
		pthread_mutex_lock(&u->lock);
		u->done_seq = rd.b.recs[rd.b.n - 1].seq;
		if (u->done_seq < u->stored_seq) /* a merged head: its seq is above */
			u->done_seq = u->stored_seq;
		pthread_mutex_unlock(&u->lock);
	}
	upload_round_release(&rd);
	free(seqs);
	if (r == 0 && journal_list(&seqs, &n, u->journal) == 0) {
		*left = n;
		free(seqs);
	}
	return r;
}

/* A merge that found a newer record runs the round again at once. */
static int upload_round(struct upload *u, size_t *left)
{
	int r = -EAGAIN;

	for (int i = 0; i < UPLOAD_AGAIN_TRIES && r == -EAGAIN; i++)
		r = upload_round_once(u, left);
	return r;
}

/* ---- the thread ---- */

/* Logs once per change of state (lock held). */
static void upload_note(struct upload *u, int r)
{
	if (r == 0)
		upload_taken_clear(u);
	if (u->conflict)
		return; /* logged once by upload_head.c */
	if (r == 0) {
		if (u->failing)
			log_msg(LOG_INFO,
				"upload: the store works again; pending commits uploaded");
		u->failing = false;
		clock_gettime(CLOCK_MONOTONIC, &u->progress);
		return;
	}
	if (!u->failing || u->last_err != r)
		log_msg(LOG_WARNING,
			"upload: storing pending commits failed (errno %d); they stay in the local "
			"journal and are retried",
			-r);
	u->failing = true;
	u->last_err = r;
	u->last_err_time = upload_now_s(CLOCK_REALTIME);
}

/* Waits out the back-off after a failure (lock held); drain shortens it. */
static void upload_backoff(struct upload *u, unsigned ms)
{
	struct timespec due, drain_due;

	mono_deadline(&due, ms);
	mono_deadline(&drain_due, UPLOAD_DRAIN_RETRY_MS);
	while (!u->stop && !mono_passed(&due) && !(u->draining && mono_passed(&drain_due)) &&
	       u->flush_want <= u->round_begun)
		pthread_cond_timedwait(&u->cond, &u->lock, u->draining ? &drain_due : &due);
}

/* Lets more records arrive before a round (lock held). */
static void upload_gather(struct upload *u)
{
	struct timespec due;

	mono_deadline(&due, u->gather_ms);
	while (!u->stop && !u->draining && !u->urgent && u->flush_want <= u->round_begun &&
	       u->kicks < UPLOAD_GATHER_RECORDS && !mono_passed(&due))
		pthread_cond_timedwait(&u->cond, &u->lock, &due);
}

/* Idle (lock held): deletes the dead objects whose grace passed, then
 * waits for work or until the next one is due. */
static void upload_idle_wait(struct upload *u)
{
	struct timespec due;
	int64_t next = 0;

	if (u->ngq > 0 && !u->conflict) {
		pthread_mutex_unlock(&u->lock);
		if (upload_dead_due(u, &next) != 0)
			next = upload_now_s(CLOCK_REALTIME) + UPLOAD_BACKOFF_MAX_MS / 1000;
		pthread_mutex_lock(&u->lock);
	}
	if (u->stop || (u->work && !u->conflict))
		return; /* (with a conflict, work waits: the caller would spin) */
	if (next == 0 || u->conflict) {
		pthread_cond_wait(&u->cond, &u->lock);
		return;
	}
	next -= upload_now_s(CLOCK_REALTIME);
	mono_deadline(&due, next <= 0 ? 1 : next > 3600 ? 3600000u : (unsigned)next * 1000u);
	pthread_cond_timedwait(&u->cond, &u->lock, &due);
}

static void *upload_main(void *arg)
{
	struct upload *u = arg;
	unsigned backoff = 0;
	size_t left;
	int r;

	pthread_mutex_lock(&u->lock);
	while (!u->stop) {
		if (!u->work || u->conflict) {
			u->idle = true;
			pthread_cond_broadcast(&u->done);
			upload_idle_wait(u);
			continue;
		}
		u->idle = false;
		upload_gather(u);
		u->work = false;
		u->urgent = false;
		u->kicks = 0;
		u->round_begun++;
		pthread_mutex_unlock(&u->lock);
		r = upload_round(u, &left);
		pthread_mutex_lock(&u->lock);
		u->round_done = u->round_begun;
		u->round_rc = r;
		upload_note(u, r);
		pthread_cond_broadcast(&u->done);
		if (r == 0) {
			backoff = 0;
			u->work = u->work || left > 0;
			continue;
		}
		u->work = true;
		/* -EAGAIN is local and passes (the merge is not ready yet, or a newer
		 * record raced it): retry after the minimum, never the store's
		 * doubling back-off, which could outlast a caller's flush. */
		backoff = r == -EAGAIN || !backoff		? UPLOAD_BACKOFF_MIN_MS
			  : backoff > UPLOAD_BACKOFF_MAX_MS / 2 ? UPLOAD_BACKOFF_MAX_MS
								: backoff * 2;
		upload_backoff(u, backoff);
	}
	pthread_mutex_unlock(&u->lock);
	return NULL;
}

/* ---- the interface ---- */

int upload_start(struct upload **out, struct backend *store, struct cache *cache,
		 struct journal *journal, const char *cache_dir,
		 const uint8_t vault_id[OBJECT_ID_BYTES], const struct upload_base *base)
{
	struct upload *u = calloc(1, sizeof(*u));
	pthread_condattr_t ca;
	sigset_t all, old;
	int r;

	*out = NULL;
	if (!u)
		return -ENOMEM;
	if (strlen(cache_dir) >= sizeof(u->cache_dir)) {
		free(u);
		return -ENAMETOOLONG;
	}
	memcpy(u->cache_dir, cache_dir, strlen(cache_dir) + 1);
	memcpy(u->vault_id, vault_id, OBJECT_ID_BYTES);
	u->store = store;
	u->gather_ms = (unsigned)env_count("SEALFS_UPLOAD_GATHER_MS", UPLOAD_GATHER_MS, 600000);
	u->cache = cache;
	u->journal = journal;
	u->stored_seq = base->stored_seq;
	u->pin = base->pin;
	memcpy(u->stored_hash, base->hash, HEAD_HASH_BYTES);
	memcpy(u->known_hash, base->hash, HEAD_HASH_BYTES);
	u->head_ver = base->ver;
	u->merge = base->merge;
	u->merge_ctx = base->merge_ctx;
	u->reseal = base->reseal;
	u->reseal_ctx = base->reseal_ctx;
	u->descends = base->descends;
	u->diverged = base->merge && base->diverged;
	if (base->merge && upload_attempt_load_strays(u) != 0)
		log_msg(LOG_WARNING, "upload: the record of lost merges is unreadable: their "
				     "objects are left to fsck --repair");
	if (base->merge && base->head && upload_set_base(u, base->head, base->head_len) != 0) {
		free(u);
		return -ENOMEM;
	}
	u->cas = base->cas;
	u->lease = base->lease;
	u->lease_ctx = base->lease_ctx;
	u->conflict = base->conflict;
	u->conflict_seq = base->conflict_seq;
	u->failing = base->conflict;
	u->last_err = base->conflict ? -ESTALE : 0;
	u->work = true; /* the backlog of an earlier mount */
	u->grace = UINT64_MAX;
	u->put_upto = UINT64_MAX; /* an earlier mount may have put some */
	if (upload_read_merged(cache_dir, &u->merged_upto) != 0) {
		log_msg(LOG_WARNING, "upload: CACHE/merged-upto unreadable: this mount deletes "
				     "no garbage of its commits");
		u->merged_upto = UINT64_MAX;
	}
	clock_gettime(CLOCK_MONOTONIC, &u->progress);
	u->started_s = u->progress.tv_sec;
	pthread_mutex_init(&u->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&u->cond, &ca);
	pthread_cond_init(&u->done, &ca);
	pthread_condattr_destroy(&ca);
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old); /* signals belong to the FUSE loop */
	r = pthread_create(&u->thread, NULL, upload_main, u);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r) {
		pthread_cond_destroy(&u->cond);
		pthread_cond_destroy(&u->done);
		pthread_mutex_destroy(&u->lock);
		free(u);
		return -r;
	}
	*out = u;
	return 0;
}

void upload_stop(struct upload *u)
{
	if (!u)
		return;
	pthread_mutex_lock(&u->lock);
	u->stop = true;
	pthread_cond_broadcast(&u->cond);
	pthread_mutex_unlock(&u->lock);
	pthread_join(u->thread, NULL);
	upload_dead_free(u);
	free(u->stray);
	upload_taken_clear(u);
	pthread_cond_destroy(&u->cond);
	pthread_cond_destroy(&u->done);
	pthread_mutex_destroy(&u->lock);
	upload_merge_out_release(&u->put);
	free(u->resealed);
	free(u->base_head);
	free(u->rebase);
	free(u);
}
