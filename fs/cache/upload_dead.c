/* upload_dead.c - the uploader's side of the journal records' dead entries
 * (docs/FORMAT.md "Cache", "Deferred deletion"): keys a format-2 commit made
 * garbage that no retained head reaches. A round that stores head X over
 * S_prev (the newest head stored before it) never uploads an entry created
 * after S_prev (only heads in (S_prev, X), never stored, reached it) and
 * deletes it from the cache (and the store, when an earlier round may have
 * put it) once X is stored; an entry created at or before S_prev was
 * reachable from a stored head, which another device may still be reading:
 * it waits in memory for the grace (the head's gr) from X's put, then goes.
 * Both stay in the sealed garbage lists, so thinning deletes whatever a
 * mount ended before deleting. It must never delete before X is stored, nor
 * a graced entry before its grace, and logs store keys only. Thread: the
 * uploader's (grace: u->lock). */
#include "upload_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "journal.h"
#include "log.h"

static int upload_dead_cmp(const void *a, const void *b) { return memcmp(a, b, OBJECT_ID_BYTES); }

static int upload_dead_push(struct upload_dead **a, size_t *n, const uint8_t *key, uint64_t c,
			    int64_t since)
{
	struct upload_dead *p = realloc(*a, (*n + 1) * sizeof(*p));

	if (!p)
		return -ENOMEM;
	*a = p;
	memcpy(p[*n].key, key, OBJECT_ID_BYTES);
	p[*n].created = c;
	p[(*n)++].since = since;
	return 0;
}

int upload_dead_plan(struct upload *u, const struct journal_batch *b, struct upload_dead_round *d)
{
	int r = 0;

	memset(d, 0, sizeof(*d));
	d->s_prev = u->stored_seq;
	d->put_upto = u->put_upto;
	for (size_t i = 0; r == 0 && i < b->n; i++) {
		const struct journal_record *rec = &b->recs[i];
		for (size_t k = 0; r == 0 && k < rec->ndead; k++) {
			uint8_t key[OBJECT_ID_BYTES];
			uint64_t c;
			journal_dead_get(rec, k, key, &c);
			/* A record at or below S_prev: its head went in before
			 * (a crash, or a failed round's end): graced. */
			if (rec->seq > d->s_prev && c > d->s_prev)
				r = upload_dead_push(&d->drop, &d->ndrop, key, c, 0);
			else if (!upload_rec_merged(u, rec->seq))
				r = upload_dead_push(&d->keep, &d->nkeep, key, c, 0);
			/* else merged (before a crash): the merged head's
			 * history decides (thinning), never this device's */
		}
	}
	if (r == 0 && d->ndrop > 1)
		qsort(d->drop, d->ndrop, sizeof(*d->drop), upload_dead_cmp);
	return r;
}

bool upload_dead_skips(const struct upload_dead_round *d, const uint8_t key[OBJECT_ID_BYTES])
{
	return d->ndrop > 0 &&
	       bsearch(key, d->drop, d->ndrop, sizeof(*d->drop), upload_dead_cmp) != NULL;
}

int upload_dead_after_head(struct upload *u, struct upload_dead_round *d, bool merged)
{
	int64_t now = upload_now_s(CLOCK_REALTIME);
	char text[OBJECT_KEY_TEXT_BYTES];
	int r = 0;

	for (size_t i = 0; r == 0 && i < d->ndrop; i++) {
		object_key_text(text, d->drop[i].key);
		/* Never put unless a round that failed (or an earlier mount's)
		 * got to its record. */
		if (d->drop[i].created <= d->put_upto)
			r = backend_del(u->store, text);
		if (r == 0)
			cache_drop_object(u->cache, text);
		else
			log_msg(LOG_DEBUG, "upload: deleting %s failed (errno %d)", text, -r);
	}
	/* After a merge the others stay: this device's history chose them, and
	 * the merged head's history (the other device's) may still reach them;
	 * its thinning deletes them in time. */
	for (size_t i = 0; r == 0 && !merged && i < d->nkeep; i++)
		r = upload_dead_push(&u->gq, &u->ngq, d->keep[i].key, d->keep[i].created, now);
	if (r == 0)
		u->dropped += d->ndrop;
	return r;
}

int upload_dead_merged(struct upload *u)
{
	const struct upload_merge_out *mo = &u->put;
	char text[OBJECT_KEY_TEXT_BYTES];
	int r = 0;

	for (size_t i = 0; r == 0 && i < mo->ndead_now; i++) {
		object_key_text(text, mo->dead_now[i]);
		r = backend_del(u->store, text);
		if (r == 0)
			cache_drop_object(u->cache, text);
		else
			log_msg(LOG_DEBUG, "upload: deleting %s failed (errno %d)", text, -r);
	}
	if (r == 0)
		u->dropped += mo->ndead_now;
	return r;
}

void upload_dead_round_free(struct upload_dead_round *d)
{
	free(d->drop);
	free(d->keep);
	memset(d, 0, sizeof(*d));
}

int upload_dead_due(struct upload *u, int64_t *next_due)
{
	int64_t now = upload_now_s(CLOCK_REALTIME);
	char text[OBJECT_KEY_TEXT_BYTES];
	uint64_t grace;
	size_t k = 0;
	int r = 0;

	pthread_mutex_lock(&u->lock);
	grace = u->grace;
	pthread_mutex_unlock(&u->lock);
	*next_due = 0;
	for (size_t i = 0; i < u->ngq; i++) {
		const struct upload_dead *e = &u->gq[i];
		bool due = grace != UINT64_MAX && now - e->since >= 0 &&
			   (uint64_t)(now - e->since) >= grace;
		if (due && r == 0) {
			object_key_text(text, e->key);
			r = backend_del(u->store, text);
			if (r == 0) {
				cache_drop_object(u->cache, text);
				continue;
			}
			log_msg(LOG_DEBUG, "upload: deleting %s after its grace failed (errno %d)",
				text, -r);
		}
		if (!due && grace != UINT64_MAX &&
		    (*next_due == 0 || e->since + (int64_t)grace < *next_due))
			*next_due = e->since + (int64_t)grace;
		u->gq[k++] = *e;
	}
	if (r == 0 && u->ngq > k)
		log_msg(LOG_DEBUG, "upload: %zu objects deleted after their grace", u->ngq - k);
	u->ngq = k;
	return r;
}

void upload_dead_free(struct upload *u)
{
	free(u->gq);
	u->gq = NULL;
	u->ngq = 0;
}

void upload_set_grace(struct upload *u, uint64_t seconds)
{
	pthread_mutex_lock(&u->lock);
	u->grace = seconds;
	pthread_mutex_unlock(&u->lock);
}
