/* history_view_link.c - files with several names in a retained head
 * (history_view.h): an `h` entry names its file's record in that head's
 * inode table (docs/FORMAT.md, "Inode table"), read from the store: the
 * index the head's "it" names, then the leaf of the file's slot. The last
 * index and leaf opened are kept, so consecutive heads that share them
 * (copy on write rewrites only what changed) read each once. Must never
 * return a record it did not open and authenticate under its own REF,
 * nor log a name. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "history_view_int.h"
#include "meta.h"

/* Reads and opens the kind-6 object ref into new plaintext
 * (meta_free_plain). */
static int history_view_link_read(struct history_view *v, const struct dirobj_ref *ref,
				  char **plain, size_t *len)
{
	struct meta_ad ad = {.kind = META_KIND_INODE_PAGE, .version = ref->version};
	char key[OBJECT_KEY_TEXT_BYTES];
	unsigned char *sealed = NULL;
	size_t sealed_len = 0;
	int r;

	memcpy(ad.vault_id, v->cfg->vault_id, OBJECT_ID_BYTES);
	memcpy(ad.store_key, ref->store_key, OBJECT_ID_BYTES);
	object_key_text(key, ref->store_key);
	r = backend_get_max(v->store, key, META_MAX_SEALED_BYTES, &sealed, &sealed_len);
	if (r == -EFBIG)
		r = -EBADMSG;
	if (r == 0)
		r = meta_open(plain, len, sealed, sealed_len, &ad, v->keys->meta);
	free(sealed);
	return r;
}

static bool history_view_link_same(const struct history_view_page *p, const struct dirobj_ref *ref)
{
	return p->used && p->version == ref->version &&
	       memcmp(p->key, ref->store_key, OBJECT_ID_BYTES) == 0;
}

static void history_view_link_note(struct history_view_page *p, const struct dirobj_ref *ref)
{
	p->used = true;
	p->version = ref->version;
	memcpy(p->key, ref->store_key, OBJECT_ID_BYTES);
}

/* The index of head h into v->it.index (kept while it is the same object). */
static int history_view_link_index(struct history_view *v, const struct dirobj_head *h)
{
	struct history_view_itable *it = &v->it;
	char *plain = NULL;
	size_t len = 0;
	int r;

	if (history_view_link_same(&it->index, &h->inodes))
		return 0;
	if (it->index.used)
		itable_index_release(&it->ix);
	it->index.used = false;
	r = history_view_link_read(v, &h->inodes, &plain, &len);
	if (r == 0) {
		r = itable_index_decode(&it->ix, plain, len);
		meta_free_plain(plain, len);
	}
	if (r == 0)
		history_view_link_note(&it->index, &h->inodes);
	return r;
}

/* The leaf of slot into v->it.leaf (kept while it is the same object). */
static int history_view_link_leaf(struct history_view *v, size_t slot)
{
	struct history_view_itable *it = &v->it;
	const struct dirobj_ref *ref = &it->ix.slots[slot].ref;
	char *plain = NULL;
	size_t len = 0;
	int r;

	if (history_view_link_same(&it->leaf, ref) && it->leaf_slot == slot &&
	    it->leaf_nslots == it->ix.n)
		return 0;
	if (it->leaf.used)
		itable_leaf_release(&it->l);
	it->leaf.used = false;
	r = history_view_link_read(v, ref, &plain, &len);
	if (r == 0) {
		r = itable_leaf_decode_fmt(&it->l, plain, len, slot, it->ix.n, v->cfg->format);
		meta_free_plain(plain, len);
	}
	if (r == 0) {
		history_view_link_note(&it->leaf, ref);
		it->leaf_slot = slot;
		it->leaf_nslots = it->ix.n;
	}
	return r;
}

int history_view_resolve(struct history_view *v, size_t i, const struct dirobj_entry *e,
			 const struct dirobj_entry **out)
{
	const struct dirobj_head *h = history_view_head(v, i);
	size_t slot;
	int r;

	*out = NULL;
	if (!h)
		return -EINVAL;
	if (e->type != DIROBJ_HARDLINK) {
		*out = e;
		return 0;
	}
	if (!h->has_inodes)
		return -EBADMSG; /* a name of a file with several names, and no table */
	r = history_view_link_index(v, h);
	if (r)
		return r;
	slot = itable_slot_of(e->id, v->it.ix.n);
	if (!v->it.ix.slots[slot].present)
		return -EBADMSG;
	r = history_view_link_leaf(v, slot);
	for (size_t k = 0; r == 0 && k < v->it.l.n; k++)
		if (memcmp(v->it.l.recs[k].e.id, e->id, OBJECT_ID_BYTES) == 0) {
			*out = &v->it.l.recs[k].e;
			return 0;
		}
	return r ? r : -EBADMSG; /* every h entry's id has a record */
}

void history_view_link_free(struct history_view *v)
{
	if (v->it.index.used)
		itable_index_release(&v->it.ix);
	if (v->it.leaf.used)
		itable_leaf_release(&v->it.l);
	memset(&v->it, 0, sizeof(v->it));
}
