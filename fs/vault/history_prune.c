/* history_prune.c - thinning the retained heads and deferred deletion
 * (docs/FORMAT.md, "Deferred deletion"): which heads a commit drops, what of
 * their garbage may now be deleted and what is carried into the commit's own
 * garbage list, and sealing that list. It must never turn into a deletion an
 * object whose interval [c, d) meets a retained head, nor one whose grace
 * has not passed, and never drop a head whose objects are not yet stored. */
#include "history_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "fault.h"
#include "log.h"

/* Thinning runs at most this often (and at every commit of a window shorter
 * than four times it): a run that drops nothing costs a pass over the
 * entries in memory; one that drops heads reads their records and garbage
 * lists and rewrites the pages up to the oldest it changes. A minute: heads
 * leave the first tier (a minute's newest for an hour) one a minute. */
#define HISTORY_THIN_EVERY 60

static int history_grow(void **arr, size_t n, size_t elem)
{
	void *p = fault_fire(FAULT_ALLOC) ? NULL : realloc(*arr, (n + 1) * elem);

	if (!p)
		return -ENOMEM;
	*arr = p;
	return 0;
}

void history_prep_clear(struct history *h)
{
	free(h->prep.dropped);
	free(h->prep.carry);
	free(h->prep.dels);
	free(h->prep.meta);
	free(h->prep.gdead);
	memset(&h->prep, 0, sizeof(h->prep));
}

static int history_u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

bool history_prep_drops(const struct history *h, uint64_t seq)
{
	return h->prep.ready && h->prep.ndropped > 0 &&
	       bsearch(&seq, h->prep.dropped, h->prep.ndropped, sizeof(seq), history_u64_cmp);
}

size_t history_prep_oldest_page(const struct history *h)
{
	for (size_t i = h->npages; h->prep.ready && i > 0; i--)
		for (size_t j = 0; j < h->pages[i - 1].n; j++)
			if (history_prep_drops(h, h->pages[i - 1].e[j].seq))
				return i;
	return 0;
}

void history_prep_meta_reset(struct history *h)
{
	free(h->smeta);
	h->smeta = NULL;
	h->nsmeta = 0;
}

int history_prep_meta(struct history *h, const struct dirobj_ref *ref)
{
	if (history_grow((void **)&h->smeta, h->nsmeta, sizeof(*h->smeta)))
		return -ENOMEM;
	memcpy(h->smeta[h->nsmeta].key, ref->store_key, OBJECT_ID_BYTES);
	h->smeta[h->nsmeta++].created = ref->created;
	return 0;
}

/* ---- prepare: what the dropped heads leave behind ---- */

static int history_add_item(struct histobj_garbage_item **a, size_t *n,
			    const struct histobj_garbage_item *it)
{
	if (history_grow((void **)a, *n, sizeof(**a)))
		return -ENOMEM;
	(*a)[(*n)++] = *it;
	return 0;
}

static int history_add_key(uint8_t (**a)[OBJECT_ID_BYTES], size_t *n,
			   const uint8_t key[OBJECT_ID_BYTES])
{
	if (history_grow((void **)a, *n, sizeof(**a)))
		return -ENOMEM;
	memcpy((*a)[(*n)++], key, OBJECT_ID_BYTES);
	return 0;
}

/* Sorts each triple of one garbage list of dropped head e into deletions
 * (no retained head in [c, d), grace passed since e's commit, which is no
 * earlier than the commit that made it garbage) and carried ones. */
static int history_sort_items(struct history *h, const struct histobj_garbage *g,
			      const struct histobj_entry *e, const uint64_t *kept, size_t nkept)
{
	bool graced =
	    h->prep.now - e->time.sec >= 0 && (uint64_t)(h->prep.now - e->time.sec) >= h->grace;
	int r = 0;

	for (size_t i = 0; r == 0 && i < g->n; i++) {
		const struct histobj_garbage_item *it = &g->items[i];
		bool reached = history_meets(kept, nkept, it->created, it->dropped);
		if (graced && !reached) {
			r = history_add_key(&h->prep.dels, &h->prep.ndels, it->key);
			continue;
		}
		r = history_add_item(&h->prep.carry, &h->prep.ncarry, it);
		if (r == 0 && !reached &&
		    history_grow((void **)&h->prep.gdead, h->prep.ngdead, sizeof(*h->prep.gdead)) ==
			0) {
			/* only the grace keeps it: the uploader may delete it then */
			memcpy(h->prep.gdead[h->prep.ngdead].key, it->key, OBJECT_ID_BYTES);
			h->prep.gdead[h->prep.ngdead++].created = it->created;
		}
	}
	return r;
}

/* Reads dropped head e's record and garbage lists and sorts their triples;
 * the record and the lists themselves become history objects to delete. */
static int history_drop_one(struct history *h, const struct histobj_entry *e, const uint64_t *kept,
			    size_t nkept)
{
	struct dirobj_head rec;
	struct dirobj_ref ref;
	bool more;
	int r = history_read_record(&rec, &e->rec, e->size, &h->io);

	if (r)
		return r;
	more = rec.has_garbage;
	ref = rec.garbage;
	dirobj_head_release(&rec);
	r = history_add_key(&h->prep.meta, &h->prep.nmeta, e->rec.store_key);
	while (r == 0 && more) {
		struct histobj_garbage g;
		r = history_read_garbage(&g, &ref, &h->io);
		if (r)
			break;
		r = history_sort_items(h, &g, e, kept, nkept);
		if (r == 0)
			r = history_add_key(&h->prep.meta, &h->prep.nmeta, ref.store_key);
		more = g.has_next;
		ref = g.next;
		histobj_garbage_release(&g);
		if (h->prep.nmeta > (size_t)1 << 24)
			r = -EBADMSG; /* a chain longer than any commit writes */
	}
	return r;
}

/* The entries of every page, newest first (pointers into the pages). */
static const struct histobj_entry **history_flatten(const struct history *h, size_t *n)
{
	const struct histobj_entry **es;
	size_t k = 0;

	*n = 0;
	for (size_t i = 0; i < h->npages; i++)
		*n += h->pages[i].n;
	es = malloc((*n ? *n : 1) * sizeof(*es));
	for (size_t i = 0; es && i < h->npages; i++)
		for (size_t j = 0; j < h->pages[i].n; j++)
			es[k++] = &h->pages[i].e[j];
	return es;
}

/* Marks the dropped entries (thinning, and only heads whose successor is in
 * the store: their records and lists are there to be read) and collects the
 * seqs of the retained heads, ascending, the current head among them. */
static int history_choose(struct history *h, const struct histobj_entry **es, size_t n, bool *kept,
			  uint64_t stored_seq, uint64_t **seqs, size_t *nseqs)
{
	struct histobj_entry *flat = malloc((n ? n : 1) * sizeof(*flat));
	size_t k = 0;

	*seqs = malloc((n + 1) * sizeof(**seqs));
	if (!flat || !*seqs) {
		free(flat);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		flat[i] = *es[i];
	history_thin(flat, n, h->prep.now, h->keep, h->slot, kept);
	free(flat);
	for (size_t i = 0; i < n; i++) {
		if (!kept[i] && es[i]->seq >= stored_seq)
			kept[i] = true; /* not in the store yet: next time */
		if (kept[i])
			(*seqs)[k++] = es[i]->seq;
		else if (history_grow((void **)&h->prep.dropped, h->prep.ndropped,
				      sizeof(uint64_t)) == 0)
			h->prep.dropped[h->prep.ndropped++] = es[i]->seq;
		else
			return -ENOMEM;
	}
	(*seqs)[k++] = h->prev_seq;
	qsort(*seqs, k, sizeof(**seqs), history_u64_cmp);
	if (h->prep.ndropped > 0) /* dropped may be NULL when empty */
		qsort(h->prep.dropped, h->prep.ndropped, sizeof(uint64_t), history_u64_cmp);
	*nseqs = k;
	return 0;
}

int history_prepare(struct history *h, int64_t now, uint64_t stored_seq)
{
	const struct histobj_entry **es;
	uint64_t *seqs = NULL;
	size_t n, nseqs = 0;
	bool *kept;
	int r;

	if (h->prep.ready || now < h->next_thin)
		return 0;
	history_prep_clear(h);
	h->prep.now = now;
	es = history_flatten(h, &n);
	kept = calloc(n ? n : 1, sizeof(*kept));
	r = es && kept ? history_choose(h, es, n, kept, stored_seq, &seqs, &nseqs) : -ENOMEM;
	for (size_t i = 0; r == 0 && i < n; i++)
		if (!kept[i])
			r = history_drop_one(h, es[i], seqs, nseqs);
	free(seqs);
	free(kept);
	free(es);
	if (r) {
		log_msg(LOG_WARNING, "history: thinning postponed (errno %d)", -r);
		history_prep_clear(h);
		return r;
	}
	h->prep.ready = true;
	return 0;
}

int history_prep_deletes(const struct history *h, struct history_out *out)
{
	if (!h->prep.ready || h->prep.ndels == 0)
		return 0;
	out->deletes = malloc(h->prep.ndels * OBJECT_ID_BYTES);
	if (!out->deletes)
		return -ENOMEM;
	memcpy(out->deletes, h->prep.dels, h->prep.ndels * OBJECT_ID_BYTES);
	out->ndeletes = h->prep.ndels;
	return 0;
}

void history_prep_done(struct history *h)
{
	if (h->prep.ready) {
		int64_t every = (int64_t)(h->keep / 4);
		every = every < 1 ? 1 : every > HISTORY_THIN_EVERY ? HISTORY_THIN_EVERY : every;
		h->next_thin = h->prep.now + every;
		if (h->prep.ndropped > 0)
			log_msg(LOG_INFO,
				"history: thinned %zu heads: %zu objects to delete, %zu kept",
				h->prep.ndropped, h->prep.ndels, h->prep.ncarry);
	}
	history_prep_clear(h);
	history_prep_meta_reset(h);
}
