/* merge_decide.c - the merge's rules for one id (merge.h): whether it stays,
 * where (which directory), under which name, with which attributes and
 * content, and the conflict copy when both sides changed a file. Each aspect
 * is merged three-way on its own: a side that left it as in the base yields
 * to the other; two different changes go to the later version. Pure; must
 * never pick by side label (local or remote), only by content and device. */
#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "merge_int.h"

/* Whether side s changed the entry in any way (absent base: it is new). */
static bool side_changed(const struct mnode *n, int s)
{
	const struct dirobj_entry *b = n->e[MB], *x = n->e[s];

	if (!b || !x)
		return b != x;
	return n->par[s] != n->par[MB] || !ment_same_name(b, x) || !ment_same_body(b, x);
}

/* The winner of two different versions, l's and r's. */
static int later_side(const struct mstate *st, const struct mnode *n)
{
	return ment_later(st, n->e[ML], ML, n->e[MR], MR) ? ML : MR;
}

/* Three-way choice of one aspect: same(x, y) says whether two versions
 * agree on it. Returns the side to take it from. */
static int pick3(const struct mnode *n, int winner,
		 bool (*same)(const struct dirobj_entry *, const struct dirobj_entry *))
{
	const struct dirobj_entry *b = n->e[MB], *l = n->e[ML], *r = n->e[MR];

	if (same(l, r))
		return winner;
	if (b && same(l, b))
		return MR;
	if (b && same(r, b))
		return ML;
	return winner;
}

static int pick3_parent(const struct mnode *n, int winner)
{
	if (n->par[ML] == n->par[MR])
		return winner;
	if (n->e[MB] && n->par[ML] == n->par[MB])
		return MR;
	if (n->e[MB] && n->par[MR] == n->par[MB])
		return ML;
	return winner;
}

/* The conflict copy's id: BLAKE2b-128 of the file's id, the losing device
 * and the losing version's segment keys, so both devices derive the same. */
static void copy_id(const struct mstate *st, const struct mnode *n, int loser,
		    uint8_t out[OBJECT_ID_BYTES])
{
	static const char tag[] = "sealfs merge copy";
	const struct dirobj_entry *e = n->e[loser];
	crypto_generichash_state h;

	crypto_generichash_init(&h, NULL, 0, OBJECT_ID_BYTES);
	crypto_generichash_update(&h, (const unsigned char *)tag, sizeof(tag));
	crypto_generichash_update(&h, n->id, OBJECT_ID_BYTES);
	crypto_generichash_update(&h, st->dev[loser]->id, OBJECT_ID_BYTES);
	for (size_t i = 0; i < e->nsegments; i++)
		crypto_generichash_update(&h, e->segments[i].store_key, OBJECT_ID_BYTES);
	crypto_generichash_update(&h, (const unsigned char *)&e->mtime.sec, sizeof(e->mtime.sec));
	crypto_generichash_final(&h, out, OBJECT_ID_BYTES);
}

static int make_copy(struct mstate *st, struct mnode *n, int loser)
{
	uint8_t id[OBJECT_ID_BYTES];
	struct mnode *c;

	copy_id(st, n, loser, id);
	c = mstate_find(st, id);
	if (!c)
		c = mstate_add(st, id);
	if (!c)
		return -ENOMEM;
	if (c->e[MB] || c->e[ML] || c->e[MR])
		return -EINVAL; /* a real entry with that id: never in practice */
	c->is_copy = true;
	c->source = n;
	c->keep = true;
	c->body = c->nm = c->ref = n->e[loser];
	c->side = loser;
	return 0;
}

static void take_side(struct mnode *n, int s)
{
	n->parent = n->par[s];
	n->body = n->nm = n->ref = n->e[s];
	n->side = s;
}

/* Both sides hold the entry: merge place, name and body separately. */
static int decide_both(struct mstate *st, struct mnode *n)
{
	const struct dirobj_entry *l = n->e[ML], *r = n->e[MR];
	bool cl = side_changed(n, ML), cr = side_changed(n, MR);
	int w = later_side(st, n);

	if (l->type != r->type || (n->e[MB] && n->e[MB]->type != l->type))
		return -EINVAL;
	n->side = cl && !cr ? ML : !cl && cr ? MR : w;
	n->parent = n->par[pick3_parent(n, w)];
	n->nm = n->e[pick3(n, w, ment_same_name)];
	if (l->type == DIROBJ_DIR) {
		n->body = n->e[pick3(n, w, ment_same_attrs)];
		n->ref = n->e[pick3(n, w, ment_same_ref)];
		return 0;
	}
	if (ment_same_body(l, r)) {
		n->body = n->ref = n->e[w];
		return 0;
	}
	if (n->e[MB] && (ment_same_body(l, n->e[MB]) || ment_same_body(r, n->e[MB]))) {
		n->body = n->ref = n->e[ment_same_body(l, n->e[MB]) ? MR : ML];
		return 0;
	}
	/* Both changed the content, differently: the winner keeps it. */
	n->body = n->ref = n->e[w];
	return make_copy(st, n, w == ML ? MR : ML);
}

/* One side deleted it (or never had it), the other holds it. */
static void decide_one(const struct mstate *st, struct mnode *n, int s)
{
	const struct dirobj_entry *b = n->e[MB];

	if (b && !side_changed(n, s) && !merge_links_touched(st, n, s))
		return; /* deleted on the other side, untouched here: gone (a
			 * name of a file this side edited stays) */
	n->keep = true;
	take_side(n, s);
	/* A directory deleted on the other side stays only for what changed in
	 * it here; merge.c drops it when nothing does. */
	n->tentative = b && n->e[s]->type == DIROBJ_DIR;
}

static int decide_node(struct mstate *st, struct mnode *n)
{
	const struct dirobj_entry *l = n->e[ML], *r = n->e[MR];

	n->keep = n->tentative = n->rebuild = false;
	n->parent = NULL;
	n->body = n->nm = n->ref = NULL;
	if (n->alias)
		return 0; /* merged into another directory of its name */
	if (l && r) {
		n->keep = true;
		return decide_both(st, n);
	}
	if (l || r)
		decide_one(st, n, l ? ML : MR);
	return 0;
}

/* A kept entry whose directory went: the directory comes back (from the
 * side that holds it), kept only if something stays in it. */
static bool resurrect(struct mnode *n)
{
	struct mnode *p = n->parent;

	while (p && p->alias)
		p = n->parent = p->alias;
	if (!p || p->keep)
		return false;
	p->keep = p->tentative = true;
	take_side(p, p->e[n->side] ? n->side : p->e[ML] ? ML : MR);
	return true;
}

int merge_decide(struct mstate *st)
{
	bool again = true;
	int rc;

	for (size_t i = 0; i < st->nall; i++)
		if (st->all[i]->is_copy)
			st->all[i]->keep = false; /* made again below if still needed */
	for (size_t i = 0; i < st->nall; i++) {
		struct mnode *n = st->all[i];

		if (n->is_copy || n == st->root)
			continue;
		rc = decide_node(st, n);
		if (rc)
			return rc;
	}
	for (size_t i = 0; i < st->nall; i++) {
		struct mnode *n = st->all[i];

		if (n->is_copy && n->keep)
			n->parent = n->source->parent;
	}
	while (again) {
		again = false;
		for (size_t i = 0; i < st->nall; i++)
			if (st->all[i]->keep && st->all[i] != st->root)
				again |= resurrect(st->all[i]);
	}
	return 0;
}

int merge_decide_root(struct mstate *st)
{
	struct mnode *n = st->root;
	int w;

	n->keep = true;
	n->parent = NULL;
	w = later_side(st, n);
	n->side = w;
	n->nm = n->e[MR];
	n->body = n->e[pick3(n, w, ment_same_attrs)];
	n->ref = n->e[pick3(n, w, ment_same_ref)];
	return 0;
}
