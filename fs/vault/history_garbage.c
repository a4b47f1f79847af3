/* history_garbage.c - the garbage list a format-2 commit seals
 * (docs/FORMAT.md "Garbage lists", "Deferred deletion"): its own triples,
 * what thinning carries, the history objects it replaced; merged into a
 * copy of the superseded head's first list object while that is small, else
 * chained before it; and the journal record's dead entries (the keys no
 * retained head reaches, for the uploader). It must never lose a triple (a
 * listed object is deleted only through its list) and never call dead an
 * object whose interval meets a retained head. */
#include "history_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "chunk.h"
#include "fault.h"

/* A commit that supersedes the previous head rewrites that head's first
 * list object with its own triples while the result holds at most this
 * many (about 8 KiB of JSON), and chains a new object before it beyond:
 * a burst of commits in one minute writes a few list objects, not one each,
 * and no commit rewrites more than this. Every fsync seals, hashes and
 * journals that object: at 512 it was a third of an atomic save's
 * instructions (docs/PERFORMANCE.md, "Atomic saves (session 8)"). */
#define HISTORY_GARBAGE_FILL 128u

void history_gl_clear(struct history_gl *gl)
{
	free(gl->items);
	if (gl->json) {
		sodium_memzero(gl->json, gl->json_len);
		free(gl->json);
	}
	free(gl->offs);
	memset(gl, 0, sizeof(*gl));
}

/* A copy of from's triples and references (not its text: the next
 * encoding then writes every triple). */
static int history_gl_copy(struct history_gl *to, const struct history_gl *from)
{
	*to = *from;
	to->json = NULL;
	to->json_len = 0;
	to->offs = NULL;
	to->items = malloc((from->n ? from->n : 1) * sizeof(*to->items));
	if (!to->items) {
		memset(to, 0, sizeof(*to));
		return -ENOMEM;
	}
	memcpy(to->items, from->items, from->n * sizeof(*to->items));
	return 0;
}

int history_retained(const struct history *h, uint64_t **seqs, size_t *n)
{
	size_t total = 0, k = 0;

	for (size_t i = 0; i < h->npages; i++)
		total += h->pages[i].n;
	*seqs = malloc((total ? total : 1) * sizeof(**seqs));
	if (!*seqs)
		return -ENOMEM;
	/* Entries are newest first across the pages: backwards is ascending. */
	for (size_t i = h->npages; i > 0; i--)
		for (size_t j = h->pages[i - 1].n; j > 0; j--)
			if (!history_prep_drops(h, h->pages[i - 1].e[j - 1].seq))
				(*seqs)[k++] = h->pages[i - 1].e[j - 1].seq;
	*n = k;
	return 0;
}

static int history_dead_add(struct history_out *o, const uint8_t key[OBJECT_ID_BYTES], uint64_t c)
{
	struct history_dead *p =
	    fault_fire(FAULT_ALLOC) ? NULL : realloc(o->dead, (o->ndead + 1) * sizeof(*p));

	if (!p)
		return -ENOMEM;
	o->dead = p;
	memcpy(p[o->ndead].key, key, OBJECT_ID_BYTES);
	p[o->ndead++].created = c;
	return 0;
}

static void history_put(struct histobj_garbage_item *a, size_t *k,
			const uint8_t key[OBJECT_ID_BYTES], uint64_t c, uint64_t d)
{
	memcpy(a[*k].key, key, OBJECT_ID_BYTES);
	a[*k].created = c;
	a[(*k)++].dropped = d;
}

/* What a commit sealing seq found: its garbage g (created c), the heads
 * retained after it (ret, ascending; only when it supersedes the previous
 * head: else that head reaches all of g) and the superseded head's first
 * list object it merges (or NULL). */
struct history_batch {
	uint64_t seq;
	const struct history_garbage *g;
	size_t n;
	bool supersede;
	const uint64_t *ret;
	size_t nret;
	const struct history_gl *merge;
};

/* The dead entries: what no retained head reaches. The history objects a
 * commit replaces or thinning frees are reached by no tree; the uploader
 * keeps them for the grace unless no stored head named them. */
static int history_deads(const struct history *h, const struct history_batch *b,
			 struct history_out *out)
{
	int r = 0;

	for (size_t i = 0; r == 0 && b->supersede && i < b->n; i++) {
		uint64_t c = b->g[i].created <= b->seq ? b->g[i].created : 0;
		if (!history_meets(b->ret, b->nret, c, b->seq))
			r = history_dead_add(out, b->g[i].key, c);
	}
	for (size_t i = 0; r == 0 && h->prep.ready && i < h->prep.ngdead; i++)
		r = history_dead_add(out, h->prep.gdead[i].key, h->prep.gdead[i].created);
	for (size_t i = 0; r == 0 && h->prep.ready && i < h->prep.nmeta; i++)
		r = history_dead_add(out, h->prep.meta[i], 0);
	for (size_t i = 0; r == 0 && i < h->nsmeta; i++)
		r = history_dead_add(out, h->smeta[i].key, h->smeta[i].created);
	if (r == 0 && b->merge)
		r = history_dead_add(out, b->merge->ref.store_key, b->merge->ref.created);
	return r;
}

static int history_item_cmp(const void *a, const void *b) { return memcmp(a, b, OBJECT_ID_BYTES); }

/* Sorts a[0..k) by key, where a[0..m) is the merged list object's triples
 * (sorted by key already): only the commit's own few are sorted, then the
 * two runs merged, instead of sorting up to HISTORY_GARBAGE_FILL triples at
 * every commit. Equal keys end up adjacent either way. */
static void history_items_sort(struct histobj_garbage_item *a, size_t m, size_t k)
{
	struct histobj_garbage_item *t;
	size_t i = 0, j = m, o = 0;

	for (size_t x = 1; x < m; x++)
		if (history_item_cmp(&a[x - 1], &a[x]) > 0)
			m = 0; /* not sorted after all: sort everything */
	qsort(a + m, k - m, sizeof(*a), history_item_cmp);
	if (m == 0 || m == k || history_item_cmp(&a[m - 1], &a[m]) <= 0)
		return;
	t = fault_fire(FAULT_ALLOC) ? NULL : malloc(k * sizeof(*t));
	if (!t) {
		qsort(a, k, sizeof(*a), history_item_cmp);
		return;
	}
	while (i < m && j < k)
		t[o++] = history_item_cmp(&a[i], &a[j]) <= 0 ? a[i++] : a[j++];
	while (i < m)
		t[o++] = a[i++];
	while (j < k)
		t[o++] = a[j++];
	memcpy(a, t, k * sizeof(*a));
	free(t);
}

/* Every triple of this commit in one array, a key once (the union of its
 * intervals when it comes twice). */
static int history_items(const struct history *h, const struct history_batch *b,
			 struct histobj_garbage_item **out, size_t *nout)
{
	size_t total = b->n + h->nsmeta, k = 0, m = 0;
	struct histobj_garbage_item *a;

	if (h->prep.ready)
		total += h->prep.ncarry + h->prep.nmeta;
	if (b->merge)
		total += b->merge->n + 1;
	a = malloc((total ? total : 1) * sizeof(*a));
	if (!a)
		return -ENOMEM;
	if (b->merge) { /* its triples (sorted by key) first */
		memcpy(a, b->merge->items, b->merge->n * sizeof(*a));
		k = m = b->merge->n;
	}
	for (size_t i = 0; i < b->n; i++)
		/* created == seq: what no head reached (a merge's, [N, N)) */
		history_put(a, &k, b->g[i].key, b->g[i].created <= b->seq ? b->g[i].created : 0,
			    b->seq);
	for (size_t i = 0; h->prep.ready && i < h->prep.ncarry; i++)
		a[k++] = h->prep.carry[i];
	for (size_t i = 0; h->prep.ready && i < h->prep.nmeta; i++)
		history_put(a, &k, h->prep.meta[i], b->seq, b->seq);
	for (size_t i = 0; i < h->nsmeta; i++)
		history_put(a, &k, h->smeta[i].key, b->seq, b->seq);
	if (b->merge) /* itself: heads [its c, seq) named it */
		history_put(a, &k, b->merge->ref.store_key, b->merge->ref.created, b->seq);
	history_items_sort(a, m, k);
	*nout = 0;
	for (size_t i = 0; i < k; i++) {
		struct histobj_garbage_item *last = *nout ? &a[*nout - 1] : NULL;
		if (last && memcmp(last->key, a[i].key, OBJECT_ID_BYTES) == 0) {
			last->created = a[i].created < last->created ? a[i].created : last->created;
			last->dropped = a[i].dropped > last->dropped ? a[i].dropped : last->dropped;
		} else {
			a[(*nout)++] = a[i];
		}
	}
	*out = a;
	return 0;
}

/* The text of the superseded list's first object that a merge into it can
 * copy from, or NULL. */
static const struct histobj_garbage_text *history_gl_text(const struct history_gl *merge,
							  struct histobj_garbage_text *t)
{
	if (!merge || !merge->json || !merge->offs)
		return NULL;
	*t = (struct histobj_garbage_text){
	    .items = merge->items, .n = merge->n, .json = merge->json, .offs = merge->offs};
	return t;
}

/* Seals the first object of the list (gl, under mine), reusing the text of
 * the list it merges (merge, or NULL), and makes it h->pend_gl with its
 * text. */
static int history_first_chunk(struct history *h, const struct histobj_garbage *gl,
			       const struct dirobj_ref *mine, const struct history_gl *merge,
			       struct history_out *out)
{
	struct histobj_garbage_text prev, text = {.json = NULL};
	struct history_gl first_gl = {.has = true,
				      .ref = *mine,
				      .items = gl->items,
				      .n = gl->n,
				      .has_next = gl->has_next,
				      .next = gl->next};
	unsigned char *data;
	size_t len, text_len = 0;
	int r = history_seal_garbage_with(&data, &len, gl, mine, &h->io,
					  history_gl_text(merge, &prev), &text, &text_len);

	if (r == 0)
		r = history_out_add(out, mine, data, len);
	if (r == 0)
		r = history_gl_copy(&h->pend_gl, &first_gl);
	if (r == 0) { /* the text goes with it */
		h->pend_gl.json = (char *)text.json;
		h->pend_gl.json_len = text_len;
		h->pend_gl.offs = (size_t *)text.offs;
		return 0;
	}
	if (text.json) {
		sodium_memzero((char *)text.json, text_len);
		free((char *)text.json);
		free((size_t *)text.offs);
	}
	return r;
}

/* Seals items[0..ni) in objects of HISTOBJ_GARBAGE_MAX, the last chained
 * to tail (if any), from the last so each can name the next; the first
 * object becomes h->pend_gl and next's garbage. */
static int history_chunks(struct history *h, struct dirobj_head *next,
			  const struct histobj_garbage_item *items, size_t ni,
			  const struct dirobj_ref *tail, const struct history_gl *merge,
			  struct history_out *out)
{
	struct dirobj_ref ref = tail ? *tail : (struct dirobj_ref){.version = 0};
	bool has_next = tail != NULL;
	int r = 0;

	for (size_t k = (ni + HISTOBJ_GARBAGE_MAX - 1) / HISTOBJ_GARBAGE_MAX; r == 0 && k > 0;
	     k--) {
		size_t first = (k - 1) * HISTOBJ_GARBAGE_MAX;
		struct histobj_garbage gl = {
		    .items = (struct histobj_garbage_item *)items + first,
		    .n = ni - first < HISTOBJ_GARBAGE_MAX ? ni - first : HISTOBJ_GARBAGE_MAX,
		    .has_next = has_next,
		    .next = ref};
		unsigned char *data;
		size_t len;
		struct dirobj_ref mine;

		chunk_random_public(mine.store_key, OBJECT_ID_BYTES);
		mine.version = mine.created = next->seq;
		if (k == 1) {
			r = history_first_chunk(h, &gl, &mine, merge, out);
		} else {
			r = history_seal_garbage(&data, &len, &gl, &mine, &h->io);
			if (r == 0)
				r = history_out_add(out, &mine, data, len);
		}
		ref = mine;
		has_next = true;
	}
	if (r == 0) {
		next->has_garbage = true;
		next->garbage = ref;
	}
	return r;
}

int history_garbage_seal(struct history *h, struct dirobj_head *next,
			 const struct history_garbage *g, size_t n, bool supersede,
			 struct history_out *out)
{
	const struct history_gl *prev = supersede && h->prev_gl.has ? &h->prev_gl : NULL;
	struct history_batch b = {.seq = next->seq, .g = g, .n = n, .supersede = supersede};
	struct histobj_garbage_item *items = NULL;
	const struct dirobj_ref *tail = NULL;
	uint64_t *ret = NULL;
	size_t ni = 0, fresh = n + h->nsmeta;
	int r = 0;

	if (h->prep.ready)
		fresh += h->prep.ncarry + h->prep.nmeta;
	history_gl_clear(&h->pend_gl);
	next->has_garbage = false;
	if (prev && fresh == 0) { /* nothing new: the superseded head's list as it is */
		next->has_garbage = true;
		next->garbage = prev->ref;
		return history_gl_copy(&h->pend_gl, prev);
	}
	if (prev && prev->n + fresh <= HISTORY_GARBAGE_FILL) {
		b.merge = prev;
		tail = prev->has_next ? &prev->next : NULL;
	} else if (prev) {
		tail = &prev->ref;
	}
	if (supersede)
		r = history_retained(h, &ret, &b.nret);
	b.ret = ret;
	if (r == 0)
		r = history_deads(h, &b, out);
	if (r == 0)
		r = history_items(h, &b, &items, &ni);
	if (r == 0 && ni > 0)
		r = history_chunks(h, next, items, ni, tail, b.merge, out);
	free(items);
	free(ret);
	return r;
}
