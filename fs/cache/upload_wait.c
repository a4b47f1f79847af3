/* upload_wait.c - the uploader's side that other threads call: kicking it,
 * waiting until the store holds a commit (fsync with --fsync-store, sync,
 * unmount), and its counters for `sealfs status`. Only takes the uploader's
 * lock and waits on its conditions; it never talks to the store itself. */
#include "upload_int.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fault.h"
#include "head.h"
#include "journal.h"
#include "log.h"
#include "mono.h"
#include "upload_par.h"

/* How often a drain looks again at the journal while it waits. */
#define UPLOAD_POLL_MS 200u

void upload_kick(struct upload *u)
{
	bool wake;

	pthread_mutex_lock(&u->lock);
	/* Only an idle uploader waits for work: a round's gather (a burst of
	 * commits kicks once each) and its back-off wait for their deadline and
	 * never look at u->work, so a signal would only wake the thread for
	 * nothing, on a core the committer needs; except the kick that makes
	 * the gather's UPLOAD_GATHER_RECORDS. */
	u->kicks++; /* counted when idle too: the round it wakes gathers them */
	wake = u->idle || u->kicks == UPLOAD_GATHER_RECORDS;
	u->work = true;
	u->idle = false;
	if (wake)
		pthread_cond_signal(&u->cond);
	pthread_mutex_unlock(&u->lock);
}

void upload_kick_now(struct upload *u)
{
	pthread_mutex_lock(&u->lock);
	u->work = true;
	u->idle = false;
	u->urgent = true;
	pthread_cond_signal(&u->cond);
	pthread_mutex_unlock(&u->lock);
}

/* Whether the store has failed, and taken nothing new, for give_up_ms since
 * since. Progress is also an object the store took for the first time
 * since the last good round (upload_count_object), not only a round that
 * succeeded: a round of a slow but working store may run longer than
 * give_up_ms, and its first failure is no reason to stop retrying. */
static bool upload_gave_up(const struct upload *u, const struct timespec *since,
			   unsigned give_up_ms)
{
	struct timespec from = u->progress, due;

	if (!u->failing)
		return false;
	if (mono_before(&from, since))
		from = *since;
	mono_after(&due, &from, give_up_ms);
	return mono_passed(&due);
}

size_t upload_drain(struct upload *u, unsigned give_up_ms)
{
	struct timespec start, tick;
	uint64_t *seqs;
	size_t n = 0;

	clock_gettime(CLOCK_MONOTONIC, &start);
	pthread_mutex_lock(&u->lock);
	u->draining = true;
	u->work = true;
	u->idle = false;
	pthread_cond_broadcast(&u->cond);
	while (!(u->idle && !u->work) && !u->conflict && !upload_gave_up(u, &start, give_up_ms)) {
		mono_deadline(&tick, UPLOAD_POLL_MS);
		pthread_cond_timedwait(&u->done, &u->lock, &tick);
	}
	u->draining = false;
	pthread_mutex_unlock(&u->lock);
	if (journal_list(&seqs, &n, u->journal) == 0)
		free(seqs);
	return n;
}

int upload_flush(struct upload *u, unsigned ms)
{
	struct timespec due;
	uint64_t want;
	int r;

	mono_deadline(&due, ms);
	pthread_mutex_lock(&u->lock);
	do {
		want = u->round_begun + 1; /* a round that starts after this call */
		u->flush_want = want;
		u->work = true;
		u->idle = false;
		pthread_cond_broadcast(&u->cond);
		while (u->round_done < want && !u->stop && !u->conflict && !mono_passed(&due))
			pthread_cond_timedwait(&u->done, &u->lock, &due);
		if (u->conflict)
			r = -ESTALE;
		else if (u->round_done < want)
			r = u->stop ? -ESHUTDOWN : -ETIMEDOUT;
		else
			r = u->round_rc;
		/* A round that left records (written meanwhile) asks for another. */
	} while (r == 0 && u->work);
	pthread_mutex_unlock(&u->lock);
	return r;
}

bool upload_wait(struct upload *u, uint64_t seq, unsigned ms)
{
	struct timespec due;
	bool stored;

	mono_deadline(&due, ms);
	pthread_mutex_lock(&u->lock);
	if (u->done_seq < seq) {
		u->urgent = true;
		pthread_cond_signal(&u->cond);
	}
	while (u->done_seq < seq && !u->failing && !u->stop && !mono_passed(&due))
		pthread_cond_timedwait(&u->done, &u->lock, &due);
	stored = u->done_seq >= seq;
	pthread_mutex_unlock(&u->lock);
	return stored;
}

void upload_stats(struct upload_stats *out, struct upload *u)
{
	int64_t now = upload_now_s(CLOCK_MONOTONIC), span;
	uint64_t sum = 0;

	pthread_mutex_lock(&u->lock);
	for (size_t i = 0; i < UPLOAD_RATE_WINDOW_S; i++)
		if (u->rate_sec[i] > now - UPLOAD_RATE_WINDOW_S)
			sum += u->rate_bytes[i];
	span = now - u->started_s + 1;
	*out = (struct upload_stats){
	    .stored_seq = u->stored_seq,
	    .done_seq = u->done_seq,
	    .sent_bytes = u->sent_bytes,
	    .rate = sum / (uint64_t)(span < UPLOAD_RATE_WINDOW_S ? span : UPLOAD_RATE_WINDOW_S),
	    .failing = u->failing,
	    .last_err = u->last_err,
	    .last_err_time = u->last_err_time,
	    .conflict = u->conflict,
	    .conflict_seq = u->conflict_seq,
	    .conflict_links = u->conflict_links,
	    .cas_ignored = u->cas == HEAD_CAS_IGNORED,
	    .merges = u->merges,
	    .last_merge_time = u->last_merge_time,
	    .last_merged = u->last_merged,
	    .last_conflicts = u->last_conflicts,
	    .put_objects = u->put_objects,
	    .put_heads = u->put_heads,
	    .dropped = u->dropped};
	pthread_mutex_unlock(&u->lock);
}
