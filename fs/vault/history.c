/* history.c - the committer's history of a format-2 vault: opening it, and
 * per commit the head record of the previous head (unless the commit
 * supersedes it: same minute), the new first page and the garbage list
 * (history_seal), adopted only once the journal record is durable
 * (history_done). Thinning is history_prune.c, the garbage list
 * history_garbage.c. It must never drop a head record whose head is not in
 * the store yet, never turn into a deletion an object a retained head
 * reaches, and never reuse a store key. */
#include "history_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "chunk.h"
#include "fault.h"

/* ---- pages ---- */

void history_pages_free(struct history_page *p, size_t n)
{
	for (size_t i = 0; p && i < n; i++)
		free(p[i].e);
	free(p);
}

static void history_pend_clear(struct history *h)
{
	history_pages_free(h->new_pages, h->new_npages);
	h->new_pages = NULL;
	h->new_npages = 0;
	free(h->adopt);
	h->adopt = NULL;
	history_gl_clear(&h->pend_gl);
	if (h->pend_json) {
		sodium_memzero(h->pend_json, h->pend_len);
		free(h->pend_json);
	}
	h->pend_json = NULL;
}

/* A fresh reference for an object commit seq creates. */
static void history_new_ref(struct dirobj_ref *ref, uint64_t seq)
{
	chunk_random_public(ref->store_key, OBJECT_ID_BYTES);
	ref->version = seq;
	ref->created = seq;
}

int history_out_add(struct history_out *o, const struct dirobj_ref *ref, unsigned char *data,
		    size_t len)
{
	struct history_obj *p =
	    fault_fire(FAULT_ALLOC) ? NULL : realloc(o->objs, (o->nobjs + 1) * sizeof(*p));

	if (!p) {
		free(data);
		return -ENOMEM;
	}
	o->objs = p;
	memcpy(p[o->nobjs].key, ref->store_key, OBJECT_ID_BYTES);
	p[o->nobjs].data = data;
	p[o->nobjs].len = len;
	o->nobjs++;
	return 0;
}

void history_out_free(struct history_out *o)
{
	for (size_t i = 0; i < o->nobjs; i++)
		free(o->objs[i].data);
	free(o->objs);
	free(o->deletes);
	free(o->dead);
	memset(o, 0, sizeof(*o));
}

/* ---- open ---- */

static int history_load_pages(struct history *h, const struct dirobj_ref *first)
{
	struct dirobj_ref ref = *first;
	uint64_t below = UINT64_MAX; /* seqs fall strictly across pages: no cycle */

	for (;;) {
		struct histobj_page p;
		struct history_page *np;
		int r = history_read_page(&p, &ref, &h->io);
		if (r)
			return r;
		np = realloc(h->pages, (h->npages + 1) * sizeof(*np));
		if (!np || p.entries[0].seq >= below) {
			histobj_page_release(&p);
			return np ? -EBADMSG : -ENOMEM;
		}
		h->pages = np;
		np[h->npages++] = (struct history_page){.ref = ref, .e = p.entries, .n = p.n};
		below = p.entries[p.n - 1].seq;
		if (!p.has_next)
			return 0;
		ref = p.next;
	}
}

int history_open(struct history **out, const struct dirobj_head *head, const struct history_io *io)
{
	struct history *h = calloc(1, sizeof(*h));
	int r;

	*out = NULL;
	if (!h)
		return -ENOMEM;
	h->io = *io;
	h->keep = head->keep;
	h->grace = head->grace;
	h->slot = HISTORY_SLOT;
	h->prev_seq = head->seq;
	h->prev_time = head->time;
	memcpy(h->prev_dev, head->device, OBJECT_ID_BYTES);
	r = dirobj_head_encode(&h->prev_json, &h->prev_len, head, 2);
	if (r == 0 && head->has_history)
		r = history_load_pages(h, &head->history);
	if (r) {
		history_free(h);
		return r;
	}
	*out = h;
	return 0;
}

int history_reopen(struct history **out, const struct history *old, const struct dirobj_head *head)
{
	return history_open(out, head, &old->io);
}

void history_free(struct history *h)
{
	if (!h)
		return;
	history_pages_free(h->pages, h->npages);
	history_pend_clear(h);
	history_prep_clear(h);
	history_prep_meta_reset(h);
	history_gl_clear(&h->prev_gl);
	if (h->prev_json) {
		sodium_memzero(h->prev_json, h->prev_len);
		free(h->prev_json);
	}
	free(h);
}

uint64_t history_keep(const struct history *h) { return h->keep; }

void history_set_slot(struct history *h, uint32_t slot) { h->slot = slot; }

/* Floor division, as history_thin.c's slots. */
static int64_t history_slot_of(int64_t t, int64_t g)
{
	return t >= 0 ? t / g : -((-t + g - 1) / g);
}

/* next supersedes the previous head: this history sealed that one (so its
 * garbage list is known) and both fall in one slot. */
static bool history_supersedes(const struct history *h, const struct dirobj_head *next)
{
	return h->prev_own && h->slot > 0 && next->time.sec >= h->prev_time.sec &&
	       history_slot_of(next->time.sec, h->slot) ==
		   history_slot_of(h->prev_time.sec, h->slot);
}

/* ---- seal ---- */

/* Seals the previous head as a record; *e gets its history entry. */
static int history_archive(struct history *h, uint64_t seq, struct histobj_entry *e,
			   struct history_out *out)
{
	unsigned char *data;
	size_t len;
	int r;

	memset(e, 0, sizeof(*e));
	history_new_ref(&e->rec, seq);
	r = history_seal_record(&data, &len, h->prev_json, h->prev_len, &e->rec, &h->io);
	if (r)
		return r;
	e->seq = h->prev_seq;
	e->time = h->prev_time;
	memcpy(e->device, h->prev_dev, OBJECT_ID_BYTES);
	e->size = len;
	return history_out_add(out, &e->rec, data, len);
}

/* Packs es[0..n) (newest first) into new pages of HISTORY_PAGE_FILL, the
 * oldest chained to tail (if any), sealed from the oldest up. */
static int history_pack(struct history *h, uint64_t seq, const struct histobj_entry *es, size_t n,
			const struct dirobj_ref *tail, struct history_out *out)
{
	size_t np = (n + HISTORY_PAGE_FILL - 1) / HISTORY_PAGE_FILL;
	bool has_next = tail != NULL;
	struct dirobj_ref next = tail ? *tail : (struct dirobj_ref){.version = 0};
	int r = 0;

	h->new_pages = calloc(np ? np : 1, sizeof(*h->new_pages));
	if (!h->new_pages)
		return -ENOMEM;
	h->new_npages = np;
	for (size_t k = np; r == 0 && k > 0; k--) {
		struct history_page *pg = &h->new_pages[k - 1];
		size_t first = (k - 1) * HISTORY_PAGE_FILL;
		struct histobj_page p = {.n = n - first < HISTORY_PAGE_FILL ? n - first
									    : HISTORY_PAGE_FILL};
		unsigned char *data;
		size_t len;

		pg->e = malloc(p.n * sizeof(*pg->e));
		if (!pg->e)
			return -ENOMEM;
		memcpy(pg->e, es + first, p.n * sizeof(*pg->e));
		pg->n = p.n;
		history_new_ref(&pg->ref, seq);
		p.entries = pg->e;
		p.has_next = has_next;
		p.next = next;
		r = history_seal_page(&data, &len, &p, &pg->ref, &h->io);
		if (r == 0)
			r = history_out_add(out, &pg->ref, data, len);
		has_next = true;
		next = pg->ref;
	}
	return r;
}

/* The new pages: e (if any: NULL when the commit supersedes the previous
 * head) prepended to the pages up to the oldest one thinning changes (or
 * to the first one while it has room); the pages replaced are added to the
 * commit's garbage as history objects. Sets next's history. */
static int history_paginate(struct history *h, struct dirobj_head *next,
			    const struct histobj_entry *e, struct history_out *out)
{
	size_t upto = history_prep_oldest_page(h); /* pages [0, upto) are rewritten */
	size_t n = e ? 1 : 0, k = 0;
	uint64_t seq = next->seq;
	struct histobj_entry *es;
	int r;

	if (e && upto == 0 && h->npages > 0 && h->pages[0].n < HISTORY_PAGE_FILL)
		upto = 1;
	for (size_t i = 0; i < upto; i++)
		n += h->pages[i].n;
	es = malloc((n ? n : 1) * sizeof(*es));
	if (!es)
		return -ENOMEM;
	if (e)
		es[k++] = *e;
	for (size_t i = 0; i < upto; i++)
		for (size_t j = 0; j < h->pages[i].n; j++)
			if (!history_prep_drops(h, h->pages[i].e[j].seq))
				es[k++] = h->pages[i].e[j];
	r = history_pack(h, seq, es, k, upto < h->npages ? &h->pages[upto].ref : NULL, out);
	free(es);
	h->new_upto = upto;
	/* The array history_done installs, allocated now so that adopting a
	 * durable commit cannot fail. */
	h->adopt = r ? NULL : malloc((h->new_npages + h->npages - upto + 1) * sizeof(*h->adopt));
	if (r == 0 && !h->adopt)
		r = -ENOMEM;
	for (size_t i = 0; r == 0 && i < upto; i++)
		r = history_prep_meta(h, &h->pages[i].ref);
	next->has_history = r == 0 && (h->new_npages > 0 || upto < h->npages);
	if (next->has_history)
		next->history = h->new_npages > 0 ? h->new_pages[0].ref : h->pages[upto].ref;
	return r;
}

int history_seal(struct history *h, struct dirobj_head *next, const struct history_garbage *g,
		 size_t n, int64_t now, struct history_out *out)
{
	struct histobj_entry e;
	bool supersede = history_supersedes(h, next);
	int r = 0;

	memset(out, 0, sizeof(*out));
	history_pend_clear(h);
	history_prep_meta_reset(h);
	/* The window is the head's (carried from the mounted head, or set by
	 * sealfs config): thinning from the next commit on follows it. */
	if (h->keep != next->keep || h->grace != next->grace)
		h->next_thin = 0; /* a new window: thin by it at the next commit */
	h->keep = next->keep;
	h->grace = next->grace;
	if (!supersede) /* the newest head of its slot: retained */
		r = history_archive(h, next->seq, &e, out);
	if (r == 0)
		r = history_paginate(h, next, supersede ? NULL : &e, out);
	if (r == 0)
		r = history_garbage_seal(h, next, g, n, supersede, out);
	if (r == 0)
		r = history_prep_deletes(h, out);
	if (r == 0)
		r = dirobj_head_encode(&h->pend_json, &h->pend_len, next, 2);
	if (r) {
		history_out_free(out);
		history_pend_clear(h);
		return r;
	}
	h->pend_seq = next->seq;
	h->pend_time = next->time;
	h->pend_now = now;
	memcpy(h->pend_dev, next->device, OBJECT_ID_BYTES);
	return 0;
}

/* The pages after the commit: the new ones, then the untouched older ones. */
static void history_adopt_pages(struct history *h)
{
	size_t keep = h->npages - h->new_upto, n = h->new_npages + keep;
	struct history_page *p = h->adopt;

	h->adopt = NULL;
	if (h->new_npages > 0) /* the arrays may be NULL when empty */
		memcpy(p, h->new_pages, h->new_npages * sizeof(*p));
	if (keep > 0)
		memcpy(p + h->new_npages, h->pages + h->new_upto, keep * sizeof(*p));
	for (size_t i = 0; i < h->new_upto; i++)
		free(h->pages[i].e);
	free(h->pages);
	free(h->new_pages);
	h->pages = p;
	h->npages = n;
	h->new_pages = NULL;
	h->new_npages = 0;
}

void history_done(struct history *h, bool ok)
{
	if (!ok || !h->pend_json) {
		history_pend_clear(h);
		return;
	}
	history_adopt_pages(h);
	sodium_memzero(h->prev_json, h->prev_len);
	free(h->prev_json);
	h->prev_json = h->pend_json;
	h->prev_len = h->pend_len;
	h->pend_json = NULL;
	h->prev_seq = h->pend_seq;
	h->prev_time = h->pend_time;
	memcpy(h->prev_dev, h->pend_dev, OBJECT_ID_BYTES);
	history_gl_clear(&h->prev_gl);
	h->prev_gl = h->pend_gl; /* taken over */
	memset(&h->pend_gl, 0, sizeof(h->pend_gl));
	h->prev_own = true;
	history_prep_done(h);
}
