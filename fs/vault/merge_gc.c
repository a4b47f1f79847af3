/* merge_gc.c - the objects the store's head R reaches and a merged head M
 * does not (merge_gc.h): an id-matched walk of both trees over the part
 * where they differ. A directory id held by both sides with one object is
 * a subtree both reach and is never read; every other directory met is
 * read on its side, and its files' segments noted. An object is only ever
 * called gone when M's walk did not meet it: a pair of directories with one
 * object is read on both sides or on neither, so whatever R's walk met
 * inside a subtree M also reaches, M's walk met too. It must never call
 * gone an object M reaches (a garbage list entry is deleted one day), and
 * never writes or logs. */
#include "merge_gc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ---- sets ---- */

int merge_gc_set_add(struct merge_gc_set *s, const uint8_t key[OBJECT_ID_BYTES], uint64_t created)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		struct merge_gc_item *a = realloc(s->a, cap * sizeof(*a));

		if (!a)
			return -ENOMEM;
		s->a = a;
		s->cap = cap;
	}
	memcpy(s->a[s->n].key, key, OBJECT_ID_BYTES);
	s->a[s->n++].created = created;
	return 0;
}

static int merge_gc_cmp(const void *a, const void *b) { return memcmp(a, b, OBJECT_ID_BYTES); }

void merge_gc_set_sort(struct merge_gc_set *s)
{
	size_t k = 0;

	if (s->n > 1)
		qsort(s->a, s->n, sizeof(*s->a), merge_gc_cmp);
	for (size_t i = 0; i < s->n; i++) {
		if (k > 0 && memcmp(s->a[k - 1].key, s->a[i].key, OBJECT_ID_BYTES) == 0) {
			if (s->a[i].created < s->a[k - 1].created)
				s->a[k - 1].created = s->a[i].created;
			continue;
		}
		s->a[k++] = s->a[i];
	}
	s->n = k;
}

bool merge_gc_set_has(const struct merge_gc_set *s, const uint8_t key[OBJECT_ID_BYTES])
{
	return s->n > 0 && bsearch(key, s->a, s->n, sizeof(*s->a), merge_gc_cmp) != NULL;
}

void merge_gc_set_free(struct merge_gc_set *s)
{
	free(s->a);
	memset(s, 0, sizeof(*s));
}

/* ---- one side of the walk: its directories by id ---- */

enum { GC_NEW, GC_READ, GC_SHARED };

struct gc_node {
	const struct dirobj_entry *e; /* borrowed: a root, a new listing or a loaded object */
	int state;
};

struct gc_side {
	struct gc_node *nodes;
	size_t n, cap;
	uint32_t *slot; /* open addressing: node index + 1; 0 empty */
	size_t nslot;	/* a power of two, at least twice n */
	struct dirobj **loaded;
	size_t nloaded;
	struct merge_gc_set *set; /* what this side's walk met */
	bool merged;		  /* M: new listings, and every directory key on sight */
};

static size_t gc_hash(const uint8_t id[OBJECT_ID_BYTES], size_t nslot)
{
	uint64_t h;

	memcpy(&h, id, sizeof(h)); /* ids are random */
	return (size_t)h & (nslot - 1);
}

static int gc_rehash(struct gc_side *s)
{
	size_t nslot = s->nslot ? s->nslot * 2 : 256;
	uint32_t *slot = calloc(nslot, sizeof(*slot));

	if (!slot)
		return -ENOMEM;
	for (size_t i = 0; i < s->n; i++) {
		size_t h = gc_hash(s->nodes[i].e->id, nslot);
		while (slot[h])
			h = (h + 1) & (nslot - 1);
		slot[h] = (uint32_t)(i + 1);
	}
	free(s->slot);
	s->slot = slot;
	s->nslot = nslot;
	return 0;
}

static long gc_find(const struct gc_side *s, const uint8_t id[OBJECT_ID_BYTES])
{
	for (size_t h = s->nslot ? gc_hash(id, s->nslot) : 0; s->nslot && s->slot[h];
	     h = (h + 1) & (s->nslot - 1))
		if (memcmp(s->nodes[s->slot[h] - 1].e->id, id, OBJECT_ID_BYTES) == 0)
			return (long)s->slot[h] - 1;
	return -1;
}

static int gc_add_node(struct gc_side *s, const struct dirobj_entry *e)
{
	int r = 0;

	if (gc_find(s, e->id) >= 0)
		return -EINVAL; /* an id twice in one tree */
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		struct gc_node *p = realloc(s->nodes, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		s->nodes = p;
		s->cap = cap;
	}
	s->nodes[s->n++] = (struct gc_node){.e = e, .state = GC_NEW};
	if ((s->n + 1) * 2 > s->nslot)
		r = gc_rehash(s);
	else {
		size_t h = gc_hash(e->id, s->nslot);
		while (s->slot[h])
			h = (h + 1) & (s->nslot - 1);
		s->slot[h] = (uint32_t)s->n;
	}
	if (r == 0 && s->merged)
		r = merge_gc_set_add(s->set, e->ref.store_key, e->ref.created);
	return r;
}

/* The listing of a directory entry: a new one of M, or loaded. */
static int gc_listing(struct gc_side *s, const struct dirobj_entry *e, const struct merge_gc_new *f,
		      merge_load_fn load, void *ctx, const struct dirobj **out)
{
	struct dirobj *d, **p;
	int r;

	for (size_t i = 0; s->merged && i < f->n; i++)
		if (memcmp(f->refs[i].store_key, e->ref.store_key, OBJECT_ID_BYTES) == 0) {
			*out = &f->dirs[i].dir;
			return 0;
		}
	p = realloc(s->loaded, (s->nloaded + 1) * sizeof(*p));
	if (!p)
		return -ENOMEM;
	s->loaded = p;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	r = load(ctx, e, d);
	if (r) {
		free(d);
		return r;
	}
	s->loaded[s->nloaded++] = d;
	*out = d;
	return 0;
}

/* Reads node i's directory: its object (and pages) and its files' segments
 * go into the side's set, its subdirectories become nodes. */
static int gc_read(struct gc_side *s, size_t i, const struct merge_gc_new *f, merge_load_fn load,
		   void *ctx)
{
	const struct dirobj_entry *e = s->nodes[i].e;
	const struct dirobj *d;
	int r;

	s->nodes[i].state = GC_READ;
	r = s->merged ? 0 : merge_gc_set_add(s->set, e->ref.store_key, e->ref.created);
	if (r == 0)
		r = gc_listing(s, e, f, load, ctx, &d);
	for (size_t j = 0; r == 0 && j < d->npages; j++) /* format 3: a paged one's pages */
		r = merge_gc_set_add(s->set, d->pages[j].store_key, d->pages[j].created);
	for (size_t j = 0; r == 0 && j < d->nentries; j++) {
		const struct dirobj_entry *c = &d->entries[j];
		if (c->type == DIROBJ_DIR)
			r = gc_add_node(s, c);
		for (size_t k = 0; r == 0 && c->type == DIROBJ_FILE && k < c->nsegments; k++)
			if (c->segments[k].present)
				r = merge_gc_set_add(s->set, c->segments[k].store_key,
						     c->segments[k].created);
	}
	return r;
}

static void gc_side_free(struct gc_side *s)
{
	for (size_t i = 0; i < s->nloaded; i++) {
		dirobj_release(s->loaded[i]);
		free(s->loaded[i]);
	}
	free(s->loaded);
	free(s->nodes);
	free(s->slot);
}

/* One pass over the unsettled nodes of side s against side o. force: read
 * those o has not met (yet). *moved: something was settled. */
static int gc_pass(struct gc_side *s, struct gc_side *o, bool force, bool *moved,
		   const struct merge_gc_new *f, merge_load_fn load, void *ctx)
{
	int r = 0;

	for (size_t i = 0; r == 0 && i < s->n; i++) {
		long k;
		if (s->nodes[i].state != GC_NEW)
			continue;
		k = gc_find(o, s->nodes[i].e->id);
		if (k < 0 && !force)
			continue;
		*moved = true;
		if (k >= 0 &&
		    memcmp(o->nodes[k].e->ref.store_key, s->nodes[i].e->ref.store_key,
			   OBJECT_ID_BYTES) == 0 &&
		    o->nodes[k].state != GC_READ) {
			s->nodes[i].state = o->nodes[k].state = GC_SHARED;
			continue;
		}
		r = gc_read(s, i, f, load, ctx); /* differs, or o read its twin */
	}
	return r;
}

static bool gc_unsettled(const struct gc_side *s)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->nodes[i].state == GC_NEW)
			return true;
	return false;
}

int merge_gc_diff(const struct dirobj_entry *r_root, const struct dirobj_entry *m_root,
		  const struct merge_gc_new *fresh, merge_load_fn load, void *ctx,
		  struct merge_gc_set *gone, struct merge_gc_set *m_seen)
{
	struct merge_gc_set r_seen = {0};
	struct gc_side rs = {.set = &r_seen}, ms = {.set = m_seen, .merged = true};
	bool force = false;
	int r = gc_add_node(&rs, r_root);

	if (r == 0)
		r = gc_add_node(&ms, m_root);
	while (r == 0 && (gc_unsettled(&rs) || gc_unsettled(&ms))) {
		bool moved = false;
		r = gc_pass(&rs, &ms, force, &moved, fresh, load, ctx);
		if (r == 0)
			r = gc_pass(&ms, &rs, force, &moved, fresh, load, ctx);
		/* Nothing settles by pairing: read the unpaired ones (a directory
		 * only one side holds, or whose twin is deeper than read so far). */
		force = !moved;
	}
	merge_gc_set_sort(m_seen);
	for (size_t i = 0; r == 0 && i < r_seen.n; i++)
		if (!merge_gc_set_has(m_seen, r_seen.a[i].key))
			r = merge_gc_set_add(gone, r_seen.a[i].key, r_seen.a[i].created);
	if (r == 0)
		merge_gc_set_sort(gone);
	merge_gc_set_free(&r_seen);
	gc_side_free(&rs);
	gc_side_free(&ms);
	return r;
}
