/* merge.c - the three-way merge's walk (merge.h): the table of every id met,
 * and the reading of the directory objects of the part of the three trees
 * that differs (through the caller's loader), until every directory whose
 * versions differ has been read on each side that holds it. merge_decide.c
 * applies the rules per id, merge_out.c turns the decisions into listings.
 * Pure but for the loader; must never read a directory all three sides hold
 * unchanged (the merge costs what changed, not the size of the vault). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "merge_int.h"

static size_t id_hash(const uint8_t id[OBJECT_ID_BYTES])
{
	uint64_t h;

	memcpy(&h, id, sizeof(h)); /* ids are random (copies: a hash) */
	return (size_t)(h ^ (h >> 29));
}

struct mnode *mstate_find(struct mstate *st, const uint8_t id[OBJECT_ID_BYTES])
{
	if (!st->nslots)
		return NULL;
	for (size_t i = id_hash(id) & (st->nslots - 1);; i = (i + 1) & (st->nslots - 1)) {
		struct mnode *n = st->slots[i];

		if (!n || memcmp(n->id, id, OBJECT_ID_BYTES) == 0)
			return n;
	}
}

static int mstate_grow(struct mstate *st)
{
	size_t n = st->nslots ? st->nslots * 2 : 64;
	struct mnode **slots = calloc(n, sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < st->nslots; i++) {
		struct mnode *x = st->slots[i];
		size_t j;

		if (!x)
			continue;
		for (j = id_hash(x->id) & (n - 1); slots[j]; j = (j + 1) & (n - 1))
			;
		slots[j] = x;
	}
	free(st->slots);
	st->slots = slots;
	st->nslots = n;
	return 0;
}

/* Adds a node for an id not in the table. NULL: out of memory. */
struct mnode *mstate_add(struct mstate *st, const uint8_t id[OBJECT_ID_BYTES])
{
	struct mnode *n;
	size_t i;

	if (2 * (st->nnodes + 1) > st->nslots && mstate_grow(st))
		return NULL;
	if (st->nall == st->allcap) {
		size_t cap = st->allcap ? st->allcap * 2 : 64;
		struct mnode **all = realloc(st->all, cap * sizeof(*all));

		if (!all)
			return NULL;
		st->all = all;
		st->allcap = cap;
	}
	n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	memcpy(n->id, id, OBJECT_ID_BYTES);
	for (i = id_hash(id) & (st->nslots - 1); st->slots[i]; i = (i + 1) & (st->nslots - 1))
		;
	st->slots[i] = n;
	st->nnodes++;
	st->all[st->nall++] = n;
	return n;
}

static int keep_obj(struct mstate *st, struct dirobj *obj)
{
	if (st->nobjs == st->objcap) {
		size_t cap = st->objcap ? st->objcap * 2 : 16;
		struct dirobj **objs = realloc(st->objs, cap * sizeof(*objs));

		if (!objs)
			return -ENOMEM;
		st->objs = objs;
		st->objcap = cap;
	}
	st->objs[st->nobjs++] = obj;
	return 0;
}

/* Reads side s's object of directory n and files its entries under their
 * ids. An id twice on one side (in two directories) is refused. */
int mstate_load_side(struct mstate *st, struct mnode *n, int s)
{
	struct mlink **links = NULL;
	struct dirobj *obj;
	int rc;

	if (n->loaded[s] || !n->e[s])
		return 0;
	n->loaded[s] = true;
	obj = calloc(1, sizeof(*obj));
	if (!obj)
		return -ENOMEM;
	rc = st->in->load(st->in->ctx, n->e[s], obj);
	if (rc || (rc = keep_obj(st, obj))) {
		dirobj_release(obj);
		free(obj);
		return rc < 0 ? rc : -EIO;
	}
	if (memcmp(obj->dir_id, n->id, OBJECT_ID_BYTES) != 0)
		return -EINVAL;
	rc = merge_links_convert(st, n, s, obj, &links);
	n->nent[s] = obj->nentries;
	for (size_t i = 0; rc == 0 && i < obj->nentries; i++) {
		struct mnode *c = mstate_find(st, obj->entries[i].id);

		if (!c && !(c = mstate_add(st, obj->entries[i].id)))
			rc = -ENOMEM;
		else if (c->e[s] || c->is_copy || c == st->root)
			rc = -EINVAL;
		else {
			c->e[s] = &obj->entries[i];
			c->par[s] = n;
			if (links && links[i])
				c->link = links[i];
		}
	}
	free(links);
	return rc;
}

bool mnode_is_dir(const struct mnode *n)
{
	for (int s = 0; s < MSIDES; s++)
		if (n->e[s])
			return n->e[s]->type == DIROBJ_DIR;
	return false;
}

/* Whether a directory's versions differ (so its listings must be merged),
 * or it is held by one side only, other than the base (new there, or moved
 * from where the walk has not looked: its entries may be moved ones). With
 * inode tables, also one held by the base and one side only (deleted on the
 * other): the names of linked files it holds must be counted, so that every
 * directory left unread is one that both sides hold alike. */
static bool need_expand(const struct mstate *st, const struct mnode *n)
{
	const struct dirobj_entry *first = NULL;
	int found = 0;

	if (n->is_copy || !mnode_is_dir(n))
		return false;
	for (int s = 0; s < MSIDES; s++) {
		if (!n->e[s])
			continue;
		if (first && !ment_same_ref(first, n->e[s]))
			return true;
		first = n->e[s];
		found++;
	}
	return (found == 1 && !n->e[MB]) || (st->lk && found == 2 && n->e[MB]);
}

int mstate_expand(struct mstate *st)
{
	bool changed = true;
	int rc;

	while (changed) {
		changed = false;
		for (size_t i = 0; i < st->nall; i++) {
			struct mnode *n = st->all[i];

			if (!need_expand(st, n))
				continue;
			for (int s = 0; s < MSIDES; s++) {
				if (!n->e[s] || n->loaded[s])
					continue;
				rc = mstate_load_side(st, n, s);
				if (rc)
					return rc;
				changed = true;
			}
		}
	}
	return 0;
}

static void mstate_free(struct mstate *st)
{
	for (size_t i = 0; i < st->nall; i++) {
		free(st->all[i]->name);
		free(st->all[i]->kids);
		free(st->all[i]);
	}
	for (size_t i = 0; i < st->nobjs; i++) {
		dirobj_release(st->objs[i]);
		free(st->objs[i]);
	}
	free(st->objs);
	free(st->all);
	free(st->slots);
	merge_links_free(st);
}

static int mstate_root(struct mstate *st)
{
	const struct merge_input *in = st->in;
	const struct dirobj_entry *roots[MSIDES] = {in->base, in->local, in->remote};

	if (!in->local || !in->remote || !in->load)
		return -EINVAL;
	for (int s = 0; s < MSIDES; s++)
		if (roots[s] && (roots[s]->type != DIROBJ_DIR ||
				 memcmp(roots[s]->id, in->remote->id, OBJECT_ID_BYTES) != 0))
			return -EINVAL;
	st->root = mstate_add(st, in->remote->id);
	if (!st->root)
		return -ENOMEM;
	for (int s = 0; s < MSIDES; s++)
		st->root->e[s] = roots[s];
	return 0;
}

int merge_tree(struct merge_result *out, const struct merge_input *in)
{
	struct mstate st = {.in = in};
	int rc;

	memset(out, 0, sizeof(*out));
	st.dev[MB] = &in->remote_dev; /* the base never takes part in a tie */
	st.dev[ML] = &in->local_dev;
	st.dev[MR] = &in->remote_dev;
	rc = mstate_root(&st);
	if (!rc)
		rc = merge_links_init(&st);
	/* A directory merged into another of its name is read in full and the
	 * rules run again, until no two directories share a name. */
	while (!rc) {
		rc = mstate_expand(&st);
		if (!rc)
			rc = merge_decide(&st);
		if (!rc)
			rc = merge_decide_root(&st);
		if (!rc)
			rc = merge_links_decide(&st); /* 1: it read more; again */
		if (!rc)
			rc = merge_arrange(&st);
		if (rc != 1)
			break;
		rc = 0;
	}
	if (!rc)
		rc = merge_emit(&st, out);
	if (!rc)
		rc = merge_links_emit(&st, out);
	mstate_free(&st);
	if (rc)
		merge_result_release(out);
	return rc;
}

void merge_result_release(struct merge_result *r)
{
	for (size_t i = 0; r->dirs && i < r->ndirs; i++) {
		dirobj_release(&r->dirs[i].dir);
		free(r->dirs[i].pending);
	}
	free(r->dirs);
	free(r->copies);
	for (size_t i = 0; r->records && i < r->nrecords; i++)
		dirobj_entry_release(&r->records[i].e);
	free(r->records);
	dirobj_entry_release(&r->root);
	memset(r, 0, sizeof(*r));
}
