/* merge_hist.c - the history and garbage list of a merged head M (merge_hist.h,
 * docs/INTERNALS.md "Merge"): M continues the store's head R's history, as a
 * commit on R would. R (another device's head, or this device's merged one,
 * always a stored head) becomes a head record and R's retained heads are
 * thinned at M's time, as a commit on R does (merge_thin.c); keep and gr are R's; the garbage list
 * holds what R reached and M does not
 * ([c, M)), and what this device's pending records stored that M does not
 * reach ([M, M): no retained head reaches it), with R's replaced first page.
 * The local records' own history never reaches M. Never writes the store
 * (objects go to the caller), never lists an object M reaches, never logs. */
#include "merge_hist.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "history_int.h"
#include "merge_thin.h"

static void mh_ref(struct dirobj_ref *ref, uint64_t seq)
{
	randombytes_buf(ref->store_key, OBJECT_ID_BYTES);
	ref->version = seq;
	ref->created = seq;
}

static int mh_push(struct histobj_garbage_item **a, size_t *n, size_t *cap,
		   const uint8_t key[OBJECT_ID_BYTES], uint64_t c, uint64_t d)
{
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 256;
		struct histobj_garbage_item *p = realloc(*a, nc * sizeof(*p));
		if (!p)
			return -ENOMEM;
		*a = p;
		*cap = nc;
	}
	memcpy((*a)[*n].key, key, OBJECT_ID_BYTES);
	(*a)[*n].created = c;
	(*a)[(*n)++].dropped = d;
	return 0;
}

static int mh_item_cmp(const void *a, const void *b) { return memcmp(a, b, OBJECT_ID_BYTES); }

/* Every triple of M's list, sorted, each key once (the union of its
 * intervals), none of them an object M reaches. */
static int mh_items(const struct merge_hist_in *in, const struct dirobj_ref *old_page,
		    struct histobj_garbage_item **out, size_t *nout)
{
	struct histobj_garbage_item *a = NULL;
	size_t n = 0, cap = 0, k = 0;
	uint64_t seq = in->seq;
	int r = 0;

	for (size_t i = 0; r == 0 && i < in->gone->n; i++) {
		uint64_t c = in->gone->a[i].created;
		r = mh_push(&a, &n, &cap, in->gone->a[i].key, c < seq ? c : 0, seq);
	}
	for (size_t i = 0; r == 0 && i < in->nfresh; i++)
		if (!merge_gc_set_has(in->m_seen, in->fresh[i]))
			r = mh_push(&a, &n, &cap, in->fresh[i], seq, seq);
	if (r == 0 && old_page)
		r = mh_push(&a, &n, &cap, old_page->store_key, seq, seq);
	if (r) {
		free(a);
		return r;
	}
	if (n > 1)
		qsort(a, n, sizeof(*a), mh_item_cmp);
	for (size_t i = 0; i < n; i++) {
		struct histobj_garbage_item *last = k ? &a[k - 1] : NULL;
		if (last && memcmp(last->key, a[i].key, OBJECT_ID_BYTES) == 0) {
			last->created = a[i].created < last->created ? a[i].created : last->created;
			continue;
		}
		a[k++] = a[i];
	}
	*out = a;
	*nout = k;
	return 0;
}

/* Seals items in chunks of HISTOBJ_GARBAGE_MAX from the last, each naming
 * the next, the last naming tail (if any); *first: the first chunk's ref. */
static int mh_seal_list(const struct merge_hist_in *in, const struct histobj_garbage_item *items,
			size_t n, const struct dirobj_ref *tail, struct dirobj_ref *first,
			struct history_out *out)
{
	struct dirobj_ref ref = tail ? *tail : (struct dirobj_ref){.version = 0};
	bool has_next = tail != NULL;
	int r = 0;

	for (size_t k = (n + HISTOBJ_GARBAGE_MAX - 1) / HISTOBJ_GARBAGE_MAX; r == 0 && k > 0; k--) {
		size_t from = (k - 1) * HISTOBJ_GARBAGE_MAX;
		struct histobj_garbage g = {
		    .items = (struct histobj_garbage_item *)items + from,
		    .n = n - from < HISTOBJ_GARBAGE_MAX ? n - from : HISTOBJ_GARBAGE_MAX,
		    .has_next = has_next,
		    .next = ref};
		struct dirobj_ref mine;
		unsigned char *data;
		size_t len;

		mh_ref(&mine, in->seq);
		r = history_seal_garbage(&data, &len, &g, &mine, in->io);
		if (r == 0)
			r = history_out_add(out, &mine, data, len);
		ref = mine;
		has_next = true;
	}
	*first = ref;
	return r;
}

/* The pending records' objects neither M nor the local head reaches: no
 * stored head ever reached them (they are newer than every stored head), and
 * this device's tree (the local head's view, until a refresh) does not show
 * them, so nobody can be reading them. What R reached waits for thinning
 * even when R is superseded: the other device may show R for long (while it
 * writes on, its poll never finds it quiet); so does what the local head
 * reaches. */
static int mh_dead(const struct merge_hist_in *in, struct merge_hist_dead *dead)
{
	int r = 0;

	for (size_t i = 0; r == 0 && i < in->nfresh; i++)
		if (!merge_gc_set_has(in->m_seen, in->fresh[i]) &&
		    !merge_gc_set_has(in->local, in->fresh[i]))
			r = merge_gc_set_add(&dead->now, in->fresh[i], in->seq);
	merge_gc_set_sort(&dead->now);
	return r;
}

int merge_hist_seal(struct dirobj_head *m, const struct merge_hist_in *in, struct history_out *out,
		    struct merge_hist_dead *dead)
{
	const struct dirobj_head *rh = in->remote;
	const struct dirobj_ref *tail = in->supersede && rh->has_garbage ? &rh->garbage : NULL;
	struct histobj_garbage_item *items = NULL;
	size_t n = 0;
	int r;

	memset(out, 0, sizeof(*out));
	m->keep = rh->keep;
	m->grace = rh->grace;
	m->has_history = m->has_garbage = false;
	r = mh_items(in, NULL, &items, &n);
	if (r == 0 && !in->supersede) /* R retained, and thinned: merge_thin.c */
		r = merge_thin_seal(m, rh, in->slot, items, n, in->local, in->io, out, &dead->now);
	if (r == 0 && in->supersede) { /* R is not retained: its pages are M's, its list M's tail */
		m->has_history = rh->has_history;
		m->history = rh->history;
		if (n > 0)
			r = mh_seal_list(in, items, n, tail, &m->garbage, out);
		m->has_garbage = r == 0 && (n > 0 || tail);
		if (r == 0 && n == 0 && tail)
			m->garbage = *tail;
	}
	if (r == 0)
		r = mh_dead(in, dead);
	free(items);
	if (r)
		history_out_free(out);
	return r;
}
