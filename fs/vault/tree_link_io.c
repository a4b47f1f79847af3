/* tree_link_io.c - the inode table's stored pages (docs/FORMAT.md, "Inode
 * table"): reading the whole table when the tree opens (through the cache,
 * before anyone else sees the tree) and sealing the pages a commit changed
 * with their index (kind 6, copy on write: replaced pages are the commit's
 * garbage). Must never log a name, never reuse a store key, never return a
 * page that failed to authenticate. */
#include "tree_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cache.h"
#include "log.h"
#include "meta.h"
#include "tree_itable.h"

static void tree_itable_ad(struct meta_ad *ad, const struct tree *t, const struct dirobj_ref *ref)
{
	meta_ad_set(ad, META_KIND_INODE_PAGE, t->vault_id, NULL, ref->version, ref->store_key);
}

/* ---- reading ---- */

int tree_itable_read(struct tree *t, const struct dirobj_ref *ref, char **plain, size_t *len)
{
	char key[OBJECT_KEY_TEXT_BYTES];
	unsigned char *sealed = NULL;
	size_t sealed_len = 0;
	struct meta_ad ad;
	int r;

	object_key_text(key, ref->store_key);
	r = cache_read_object(t->cctx.cache, key, META_MAX_SEALED_BYTES, &sealed, &sealed_len);
	if (r) {
		log_msg(LOG_ERR, "inode table page %s: reading it failed (errno %d)", key, -r);
		return r == -ENOENT || r == -EFBIG ? -EIO : r;
	}
	tree_itable_ad(&ad, t, ref);
	r = meta_open(plain, len, sealed, sealed_len, &ad, t->meta_key);
	free(sealed);
	if (r == -EBADMSG) {
		log_msg(LOG_ERR, "inode table page %s: failed to authenticate", key);
		cache_drop_object(t->cctx.cache, key);
	}
	return r;
}

/* Every record of leaf l becomes a linked file inode. */
static int tree_itable_adopt_leaf(struct tree *t, struct itable_leaf *l)
{
	for (size_t i = 0; i < l->n; i++) {
		struct tree_link *link = calloc(1, sizeof(*link));
		struct inode *file = NULL;
		int r = link ? tree_links_reserve_locked(t) : -ENOMEM;
		if (r == 0)
			r = tree_inode_from_entry(&file, &l->recs[i].e);
		if (r == 0 && tree_link_find_locked(t, file->id))
			r = -EBADMSG; /* in two pages */
		if (r) {
			if (file)
				tree_inode_free(file);
			free(link);
			return r;
		}
		file->linked = true;
		link->file = file;
		link->nlink = l->recs[i].nlink;
		tree_link_insert_locked(t, link);
		t->ninodes++;
	}
	return 0;
}

static int tree_itable_load_leaf(struct tree *t, size_t slot)
{
	struct tree_itable *it = t->itable;
	struct itable_leaf l;
	char *plain = NULL;
	size_t len = 0;
	int r = tree_itable_read(t, &it->slots[slot].ref, &plain, &len);

	if (r)
		return r;
	r = itable_leaf_decode_fmt(&l, plain, len, slot, it->nslots, t->cctx.format);
	meta_free_plain(plain, len);
	if (r == 0) {
		r = tree_itable_adopt_leaf(t, &l);
		itable_leaf_release(&l);
	}
	return r;
}

int tree_links_load(struct tree *t, const struct dirobj_ref *ref)
{
	struct tree_itable *it = t->itable;
	struct itable_index ix;
	char *plain = NULL;
	size_t len = 0;
	int r = tree_itable_read(t, ref, &plain, &len);

	if (r)
		return r;
	r = itable_index_decode(&ix, plain, len);
	meta_free_plain(plain, len);
	if (r)
		return r;
	it->dirty = calloc(ix.n, sizeof(*it->dirty));
	if (!it->dirty) {
		itable_index_release(&ix);
		return -ENOMEM;
	}
	it->slots = ix.slots;
	it->nslots = ix.n;
	it->has_root = true;
	it->root = *ref;
	for (size_t i = 0; r == 0 && i < it->nslots; i++)
		if (it->slots[i].present)
			r = tree_itable_load_leaf(t, i);
	if (r)
		log_msg(LOG_ERR, "the inode table failed to load (errno %d)", -r);
	return r;
}

void tree_links_free(struct tree *t)
{
	struct tree_itable *it = t->itable;

	if (!it)
		return;
	for (size_t i = 0; it->hash && i < it->hash_size; i++) {
		struct tree_link *l = it->hash[i], *next;
		for (; l; l = next) {
			next = l->next;
			tree_inode_free(l->file);
			free(l);
		}
	}
	free(it->hash);
	free(it->slots);
	free(it->dirty);
	free(it);
	t->itable = NULL;
}

/* ---- sealing (commit_lock and tree_lock held) ---- */

/* The slot count for the table's files (itable_slots_want). */
static size_t tree_itable_want(const struct tree_itable *it)
{
	return itable_slots_want(it->n, it->nslots);
}

/* A new partition of want slots: every old page is garbage, every slot dirty. */
static int tree_itable_repartition(struct tree_itable *it, size_t want,
				   const struct tree_itable_cb *cb)
{
	struct itable_slot *slots = want ? calloc(want, sizeof(*slots)) : NULL;
	bool *dirty = want ? calloc(want, sizeof(*dirty)) : NULL;

	if (want && (!slots || !dirty)) {
		free(slots);
		free(dirty);
		return -ENOMEM;
	}
	for (size_t i = 0; i < it->nslots; i++)
		if (it->slots[i].present)
			cb->garbage(cb->arg, it->slots[i].ref.store_key, it->slots[i].ref.created);
	for (size_t i = 0; i < want; i++)
		dirty[i] = true;
	free(it->slots);
	free(it->dirty);
	it->slots = slots;
	it->dirty = dirty;
	it->nslots = want;
	return 0;
}

/* Seals plain JSON as a kind-6 object of commit seq + 1 under a new key. */
static int tree_itable_seal_obj(struct tree *t, uint64_t seq, char *json, size_t len,
				struct dirobj_ref *ref, const struct tree_itable_cb *cb)
{
	unsigned char *data = NULL;
	size_t dlen = 0;
	struct meta_ad ad;
	int r;

	ref->version = ref->created = seq + 1;
	randombytes_buf(ref->store_key, OBJECT_ID_BYTES);
	tree_itable_ad(&ad, t, ref);
	r = meta_seal(&data, &dlen, json, len, &ad, t->meta_key);
	sodium_memzero(json, len);
	free(json);
	if (r == 0)
		r = cb->object(cb->arg, ref->store_key, data, dlen);
	return r;
}

/* The linked files by slot, in one pass (a counting sort): slot s's are
 * by[at[s]] .. by[at[s + 1]). New arrays, or -ENOMEM. */
static int tree_itable_by_slot(const struct tree_itable *it, struct tree_link ***by, size_t **at)
{
	size_t *pos = calloc(it->nslots + 1, sizeof(*pos));

	*at = calloc(it->nslots + 1, sizeof(**at));
	*by = calloc(it->n ? it->n : 1, sizeof(**by));
	if (!pos || !*at || !*by) {
		free(pos);
		free(*at);
		free(*by);
		return -ENOMEM;
	}
	for (size_t i = 0; i < it->hash_size; i++)
		for (struct tree_link *k = it->hash[i]; k; k = k->next)
			(*at)[itable_slot_of(k->file->id, it->nslots) + 1]++;
	for (size_t s = 0; s < it->nslots; s++)
		pos[s + 1] = (*at)[s + 1] += (*at)[s];
	for (size_t i = 0; i < it->hash_size; i++)
		for (struct tree_link *k = it->hash[i]; k; k = k->next)
			(*by)[pos[itable_slot_of(k->file->id, it->nslots)]++] = k;
	free(pos);
	return 0;
}

/* The records of files k[0..n), each entry filled by the commit. */
static int tree_itable_leaf(struct tree_link **k, size_t n, struct itable_leaf *l,
			    const struct tree_itable_cb *cb)
{
	int r = 0;

	memset(l, 0, sizeof(*l));
	l->recs = calloc(n ? n : 1, sizeof(*l->recs));
	if (!l->recs)
		return -ENOMEM;
	for (size_t i = 0; r == 0 && i < n; i++) {
		l->recs[l->n].nlink = k[i]->nlink;
		r = cb->entry(cb->arg, &l->recs[l->n++].e, k[i]->file);
	}
	return r;
}

static void tree_itable_leaf_free(struct itable_leaf *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->recs[i].e.segments); /* the rest is borrowed */
	free(l->recs);
}

/* A new version of slot s's leaf from its files k[0..n), or none when
 * no file is left in it. */
static int tree_itable_seal_slot(struct tree *t, uint64_t seq, size_t s, struct tree_link **k,
				 size_t n, const struct tree_itable_cb *cb)
{
	struct tree_itable *it = t->itable;
	struct itable_slot was = it->slots[s];
	struct itable_leaf l;
	char *json = NULL;
	size_t len = 0;
	int r = tree_itable_leaf(k, n, &l, cb);

	if (r == 0 && l.n > 0)
		r = itable_leaf_encode_fmt(&json, &len, &l, s, it->nslots, t->cctx.format);
	tree_itable_leaf_free(&l);
	if (r == 0 && l.n > 0)
		r = tree_itable_seal_obj(t, seq, json, len, &it->slots[s].ref, cb);
	else if (json)
		free(json);
	if (r) {
		it->slots[s] = was;
		return r;
	}
	it->slots[s].present = l.n > 0;
	if (was.present)
		cb->garbage(cb->arg, was.ref.store_key, was.ref.created);
	it->dirty[s] = false;
	return 0;
}

static int tree_itable_seal_index(struct tree *t, uint64_t seq, const struct tree_itable_cb *cb)
{
	struct tree_itable *it = t->itable;
	struct itable_index ix = {.slots = it->slots, .n = it->nslots};
	struct dirobj_ref was = it->root, ref;
	bool had = it->has_root, any = false;
	char *json = NULL;
	size_t len = 0;
	int r = 0;

	for (size_t i = 0; i < it->nslots; i++)
		any |= it->slots[i].present;
	if (any && (r = itable_index_encode(&json, &len, &ix)) == 0)
		r = tree_itable_seal_obj(t, seq, json, len, &ref, cb);
	if (r)
		return r;
	it->has_root = any;
	if (any)
		it->root = ref;
	if (had)
		cb->garbage(cb->arg, was.store_key, was.created);
	return 0;
}

int tree_itable_seal_locked(struct tree *t, uint64_t seq, const struct tree_itable_cb *cb)
{
	struct tree_itable *it = t->itable;
	struct tree_link **by = NULL;
	size_t want, *at = NULL;
	int r = 0;

	if (!it->changed)
		return 0;
	want = tree_itable_want(it);
	if (want != it->nslots)
		r = tree_itable_repartition(it, want, cb);
	if (r == 0 && it->nslots)
		r = tree_itable_by_slot(it, &by, &at);
	for (size_t s = 0; r == 0 && s < it->nslots; s++)
		if (it->dirty[s])
			r = tree_itable_seal_slot(t, seq, s, by + at[s], at[s + 1] - at[s], cb);
	free(by);
	free(at);
	if (r == 0)
		r = tree_itable_seal_index(t, seq, cb);
	if (r)
		return r;
	t->head_tmpl.has_inodes = it->has_root;
	t->head_tmpl.inodes = it->root;
	it->changed = false;
	return 1;
}
