/* merge_itable.c - the inode tables of a merge (merge_itable.h): each head's
 * whole table read through the cache for the pure merge (merge_links.c),
 * the merged table sealed as kind-6 pages under fresh keys (the store's
 * head's leaves kept where their slot did not change, so a merge costs a
 * leaf and an index per changed slot), and the objects each table reaches
 * for the merged head's garbage list. Must never return a page that failed
 * to authenticate, never reuse a store key, never log a name; plaintext
 * pages are wiped. */
#include "merge_itable.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cache.h"
#include "log.h"
#include "merge_int.h"
#include "meta.h"

static void mi_ad(struct meta_ad *ad, const struct merge_store *m, const struct dirobj_ref *ref)
{
	meta_ad_set(ad, META_KIND_INODE_PAGE, m->vault_id, NULL, ref->version, ref->store_key);
}

/* ---- reading ---- */

static int mi_read_page(struct merge_store *m, const struct dirobj_ref *ref, char **plain,
			size_t *len)
{
	char key[OBJECT_KEY_TEXT_BYTES];
	unsigned char *sealed = NULL;
	size_t sealed_len = 0;
	struct meta_ad ad;
	int r;

	object_key_text(key, ref->store_key);
	r = cache_read_object(m->cache, key, META_MAX_SEALED_BYTES, &sealed, &sealed_len);
	if (r)
		return r == -EFBIG ? -EBADMSG : r;
	mi_ad(&ad, m, ref);
	r = meta_open(plain, len, sealed, sealed_len, &ad, m->meta_key);
	free(sealed);
	if (r == -EBADMSG)
		log_msg(LOG_ERR, "merge: inode table page %s failed to authenticate", key);
	return r;
}

static int mi_read_leaves(struct merge_store *m, struct merge_itable_side *s)
{
	size_t total = 0, k = 0;
	int r = 0;

	s->leaves = calloc(s->ix.n, sizeof(*s->leaves));
	if (!s->leaves)
		return -ENOMEM;
	for (size_t i = 0; r == 0 && i < s->ix.n; i++) {
		char *plain = NULL;
		size_t len = 0;

		if (!s->ix.slots[i].present)
			continue;
		r = mi_read_page(m, &s->ix.slots[i].ref, &plain, &len);
		if (r == 0) {
			r = itable_leaf_decode_fmt(&s->leaves[i], plain, len, i, s->ix.n,
						   m->format);
			meta_free_plain(plain, len);
		}
		if (r == 0)
			r = merge_gc_set_add(&s->objs, s->ix.slots[i].ref.store_key,
					     s->ix.slots[i].ref.created);
		total += s->leaves[i].n;
	}
	if (r == 0 && !(s->recs = calloc(total ? total : 1, sizeof(*s->recs))))
		r = -ENOMEM;
	for (size_t i = 0; r == 0 && i < s->ix.n; i++)
		for (size_t j = 0; r == 0 && j < s->leaves[i].n; j++) {
			const struct dirobj_entry *e = &s->leaves[i].recs[j].e;

			s->recs[k++] = s->leaves[i].recs[j];
			for (size_t g = 0; r == 0 && g < e->nsegments; g++)
				if (e->segments[g].present)
					r = merge_gc_set_add(&s->objs, e->segments[g].store_key,
							     e->segments[g].created);
		}
	s->nrecs = k;
	return r;
}

int merge_itable_read(struct merge_store *m, const struct dirobj_head *head,
		      struct merge_itable_side *s)
{
	char *plain = NULL;
	size_t len = 0;
	int r;

	memset(s, 0, sizeof(*s));
	if (!head->has_inodes)
		return 0;
	s->has = true;
	s->root = head->inodes;
	r = mi_read_page(m, &s->root, &plain, &len);
	if (r == 0) {
		r = itable_index_decode(&s->ix, plain, len);
		meta_free_plain(plain, len);
	}
	if (r == 0)
		r = merge_gc_set_add(&s->objs, s->root.store_key, s->root.created);
	if (r == 0)
		r = mi_read_leaves(m, s);
	if (r == 0)
		merge_gc_set_sort(&s->objs);
	else
		merge_itable_side_free(s);
	return r;
}

void merge_itable_side_free(struct merge_itable_side *s)
{
	for (size_t i = 0; s->leaves && i < s->ix.n; i++)
		itable_leaf_release(&s->leaves[i]);
	free(s->leaves);
	free(s->recs);
	itable_index_release(&s->ix);
	merge_gc_set_free(&s->objs);
	memset(s, 0, sizeof(*s));
}

struct merge_itable merge_itable_view(const struct merge_itable_side *s)
{
	return (struct merge_itable){.recs = s->recs, .n = s->nrecs};
}

/* ---- sealing ---- */

static size_t mi_want(size_t nrecs, size_t was) { return itable_slots_want(nrecs, was); }

static int mi_seal_obj(struct merge_store *m, uint64_t seq, char *json, size_t len,
		       struct dirobj_ref *ref, merge_itable_add_fn add, void *out)
{
	unsigned char *data = NULL;
	size_t dlen = 0;
	struct meta_ad ad;
	int r;

	ref->version = seq;
	ref->created = seq;
	randombytes_buf(ref->store_key, OBJECT_ID_BYTES);
	mi_ad(&ad, m, ref);
	r = meta_seal(&data, &dlen, json, len, &ad, m->meta_key);
	sodium_memzero(json, len);
	free(json);
	return r ? r : add(out, ref->store_key, data, dlen);
}

static bool mi_same_rec(const struct itable_record *a, const struct itable_record *b)
{
	return a->nlink == b->nlink && memcmp(a->e.id, b->e.id, OBJECT_ID_BYTES) == 0 &&
	       a->e.atime.sec == b->e.atime.sec && a->e.atime.nsec == b->e.atime.nsec &&
	       ment_same_body(&a->e, &b->e);
}

/* Whether slot s's merged records recs[0..n) are exactly r's leaf (any
 * order: the merged ones are sorted by id, a leaf's are not). */
static bool mi_same_leaf(const struct merge_itable_side *r, size_t s,
			 const struct itable_record *recs, size_t n)
{
	const struct itable_leaf *l = &r->leaves[s];

	if (!r->ix.slots[s].present || l->n != n)
		return false;
	for (size_t i = 0; i < n; i++) {
		size_t j = 0;

		while (j < n && memcmp(l->recs[j].e.id, recs[i].e.id, OBJECT_ID_BYTES) != 0)
			j++;
		if (j == n || !mi_same_rec(&l->recs[j], &recs[i]))
			return false;
	}
	return true;
}

/* Slot s's leaf: kept from r, or sealed anew. */
static int mi_seal_slot(struct merge_store *m, const struct merge_itable_side *r, size_t s,
			size_t nslots, const struct itable_record *recs, size_t n, uint64_t seq,
			struct itable_slot *slot, bool *kept, merge_itable_add_fn add, void *out)
{
	struct itable_leaf l = {.recs = (struct itable_record *)recs, .n = n};
	char *json = NULL;
	size_t len = 0;
	int rc;

	slot->present = n > 0;
	*kept = n == 0 ? !(r->ix.n == nslots && r->ix.slots[s].present)
		       : r->ix.n == nslots && mi_same_leaf(r, s, recs, n);
	if (n == 0)
		return 0;
	if (*kept) {
		slot->ref = r->ix.slots[s].ref;
		return 0;
	}
	rc = itable_leaf_encode_fmt(&json, &len, &l, s, nslots, m->format);
	return rc ? rc : mi_seal_obj(m, seq, json, len, &slot->ref, add, out);
}

/* The records of slot s, together (they are sorted by id, not by slot). */
static int mi_by_slot(const struct merge_result *res, size_t nslots, struct itable_record **by,
		      size_t **at)
{
	size_t *pos = calloc(nslots + 1, sizeof(*pos));

	*at = calloc(nslots + 1, sizeof(**at));
	*by = calloc(res->nrecords ? res->nrecords : 1, sizeof(**by));
	if (!pos || !*at || !*by) {
		free(pos);
		return -ENOMEM;
	}
	for (size_t i = 0; i < res->nrecords; i++)
		(*at)[itable_slot_of(res->records[i].e.id, nslots) + 1]++;
	for (size_t s = 0; s < nslots; s++)
		pos[s + 1] = (*at)[s + 1] += (*at)[s];
	for (size_t i = 0; i < res->nrecords; i++)
		(*by)[pos[itable_slot_of(res->records[i].e.id, nslots)]++] = res->records[i];
	free(pos);
	return 0;
}

static int mi_objs(const struct itable_index *ix, const struct dirobj_ref *root,
		   const struct merge_result *res, struct merge_gc_set *objs)
{
	int r = merge_gc_set_add(objs, root->store_key, root->created);

	for (size_t i = 0; r == 0 && i < ix->n; i++)
		if (ix->slots[i].present)
			r = merge_gc_set_add(objs, ix->slots[i].ref.store_key,
					     ix->slots[i].ref.created);
	for (size_t i = 0; r == 0 && i < res->nrecords; i++)
		for (size_t g = 0; r == 0 && g < res->records[i].e.nsegments; g++)
			if (res->records[i].e.segments[g].present)
				r = merge_gc_set_add(objs, res->records[i].e.segments[g].store_key,
						     res->records[i].e.segments[g].created);
	if (r == 0)
		merge_gc_set_sort(objs);
	return r;
}

int merge_itable_seal(struct merge_store *m, const struct merge_result *res,
		      const struct merge_itable_side *r, uint64_t seq, struct dirobj_head *head,
		      merge_itable_add_fn add, void *out, struct merge_gc_set *m_objs)
{
	size_t nslots = mi_want(res->nrecords, r->ix.n), *at = NULL;
	struct itable_index ix = {.n = nslots};
	struct itable_record *by = NULL;
	bool all_kept = r->has && r->ix.n == nslots;
	char *json = NULL;
	size_t len = 0;
	int rc;

	head->has_inodes = nslots > 0;
	memset(&head->inodes, 0, sizeof(head->inodes));
	if (!nslots)
		return 0; /* no file has several names any more */
	ix.slots = calloc(nslots, sizeof(*ix.slots));
	rc = ix.slots ? mi_by_slot(res, nslots, &by, &at) : -ENOMEM;
	for (size_t s = 0; rc == 0 && s < nslots; s++) {
		bool kept;

		rc = mi_seal_slot(m, r, s, nslots, by + at[s], at[s + 1] - at[s], seq, &ix.slots[s],
				  &kept, add, out);
		all_kept &= kept;
	}
	if (rc == 0 && all_kept)
		head->inodes = r->root;
	else if (rc == 0 && (rc = itable_index_encode(&json, &len, &ix)) == 0)
		rc = mi_seal_obj(m, seq, json, len, &head->inodes, add, out);
	if (rc == 0)
		rc = mi_objs(&ix, &head->inodes, res, m_objs);
	free(ix.slots);
	free(by);
	free(at);
	return rc;
}

/* ---- garbage ---- */

int merge_itable_gc(struct merge_gc_set *gone, struct merge_gc_set *seen,
		    const struct merge_gc_set *side, const struct merge_gc_set *m_objs)
{
	size_t k = 0;
	int r = 0;

	for (size_t i = 0; r == 0 && i < m_objs->n; i++)
		r = merge_gc_set_add(seen, m_objs->a[i].key, m_objs->a[i].created);
	merge_gc_set_sort(seen);
	for (size_t i = 0; r == 0 && i < side->n; i++)
		if (!merge_gc_set_has(seen, side->a[i].key))
			r = merge_gc_set_add(gone, side->a[i].key, side->a[i].created);
	for (size_t i = 0; r == 0 && i < gone->n; i++)
		if (!merge_gc_set_has(seen, gone->a[i].key))
			gone->a[k++] = gone->a[i];
	if (r == 0) {
		gone->n = k;
		merge_gc_set_sort(gone);
	}
	return r;
}
