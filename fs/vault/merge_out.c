/* merge_out.c - from the merge's decisions to listings: every kept entry
 * hung under its directory, directories left with nothing of what kept them
 * dropped, clashing names settled (two directories become one; otherwise the
 * later version keeps the name and the others get conflict names), and each
 * directory either matched to an object one side already has or emitted as
 * a new listing. Pure. Must never emit a listing that lost a kept entry: an
 * entry that cannot reach the root fails the merge (-ELOOP). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "merge_int.h"

#define MERGE_NAME_TRIES 1000

static const char *fname(const struct mnode *n, size_t *len)
{
	if (n->name) {
		*len = n->name_len;
		return n->name;
	}
	*len = n->nm->name_len;
	return n->nm->name;
}

static int add_kid(struct mnode *p, struct mnode *k)
{
	if (p->nkids == p->kcap) {
		size_t cap = p->kcap ? p->kcap * 2 : 8;
		struct mnode **kids = realloc(p->kids, cap * sizeof(*kids));

		if (!kids)
			return -ENOMEM;
		p->kids = kids;
		p->kcap = cap;
	}
	p->kids[p->nkids++] = k;
	return 0;
}

static int attach(struct mstate *st)
{
	for (size_t i = 0; i < st->nall; i++) {
		struct mnode *n = st->all[i];

		free(n->name);
		n->name = NULL;
		n->nkids = 0;
		n->visiting = n->done = n->rebuild = false;
	}
	for (size_t i = 0; i < st->nall; i++) {
		struct mnode *n = st->all[i];
		int rc;

		if (!n->keep || n == st->root)
			continue;
		if (!n->parent || !n->parent->keep)
			return -ELOOP;
		rc = add_kid(n->parent, n);
		if (rc)
			return rc;
	}
	return 0;
}

/* Post-order from the root: drops directories kept only for what stays in
 * them when nothing does; marks what it reaches (each node has one parent,
 * so only a cycle is out of reach). */
static void prune(struct mnode *n)
{
	size_t j = 0;

	n->visiting = true;
	for (size_t i = 0; i < n->nkids; i++) {
		struct mnode *k = n->kids[i];

		prune(k);
		if (k->keep)
			n->kids[j++] = k;
	}
	n->nkids = j;
	if (n->tentative && n->nkids == 0)
		n->keep = false;
}

static bool kid_later(const struct mstate *st, const struct mnode *a, const struct mnode *b)
{
	if (a->is_copy != b->is_copy)
		return b->is_copy; /* a copy never keeps the name */
	return ment_later(st, a->body, a->side, b->body, b->side);
}

/* By name, then the later version first. */
static int kid_cmp(const void *pa, const void *pb, void *ctx)
{
	const struct mnode *a = *(struct mnode *const *)pa, *b = *(struct mnode *const *)pb;
	size_t la, lb;
	const char *na = fname(a, &la), *nb = fname(b, &lb);
	int c = memcmp(na, nb, la < lb ? la : lb);

	if (c)
		return c;
	if (la != lb)
		return la < lb ? -1 : 1;
	if (a == b)
		return 0;
	return kid_later(ctx, a, b) ? -1 : 1;
}

static bool name_taken(const struct mnode *p, const struct mnode *self, const char *nm, size_t len)
{
	for (size_t i = 0; i < p->nkids; i++) {
		size_t l;
		const char *x = fname(p->kids[i], &l);

		if (p->kids[i] != self && l == len && memcmp(x, nm, len) == 0)
			return true;
	}
	return false;
}

static int rename_loser(struct mstate *st, struct mnode *p, struct mnode *k)
{
	size_t len;
	const char *nm = fname(k, &len);

	for (unsigned n = 1; n <= MERGE_NAME_TRIES; n++) {
		char *out;
		size_t out_len;
		int rc =
		    merge_conflict_name(&out, &out_len, nm, len, mnode_is_dir(k) && !k->is_copy,
					st->dev[k->side]->name, merge_links_mtime(k), n);

		if (rc)
			return rc;
		if (!name_taken(p, k, out, out_len)) {
			free(k->name);
			k->name = out;
			k->name_len = out_len;
			return 0;
		}
		free(out);
	}
	return -ENAMETOOLONG;
}

/* Two or more directories of one name: the later keeps its id and takes
 * the others' entries (read in full first). Returns 1: run the rules again. */
static int alias_dirs(struct mstate *st, struct mnode **g, size_t ng)
{
	struct mnode *w = NULL;

	for (size_t i = 0; i < ng; i++)
		if (mnode_is_dir(g[i]) && !g[i]->is_copy && !w)
			w = g[i]; /* the group is sorted, later first */
	for (size_t i = 0; i < ng; i++) {
		if (g[i] == w || !mnode_is_dir(g[i]) || g[i]->is_copy)
			continue;
		g[i]->alias = w;
		for (int s = 0; s < MSIDES; s++) {
			int rc = mstate_load_side(st, g[i], s);

			if (rc)
				return rc;
		}
	}
	return 1;
}

static int settle_names(struct mstate *st, struct mnode *p)
{
	size_t i = 0;
	int rc;

	qsort_r(p->kids, p->nkids, sizeof(*p->kids), kid_cmp, st);
	while (i < p->nkids) {
		size_t j = i + 1, ndirs = 0, la, lb;
		const char *na = fname(p->kids[i], &la);

		for (; j < p->nkids; j++) {
			const char *nb = fname(p->kids[j], &lb);

			if (la != lb || memcmp(na, nb, la) != 0)
				break;
		}
		for (size_t k = i; k < j; k++)
			ndirs += mnode_is_dir(p->kids[k]) && !p->kids[k]->is_copy;
		if (ndirs > 1)
			return alias_dirs(st, p->kids + i, j - i);
		for (size_t k = (p->kids[i]->is_copy ? i : i + 1); k < j; k++) {
			rc = rename_loser(st, p, p->kids[k]);
			if (rc)
				return rc;
			st->nconflicts++;
		}
		i = j;
	}
	return 0;
}

static int settle_all(struct mstate *st, struct mnode *n)
{
	int rc = n->nkids > 1 || (n->nkids == 1 && n->kids[0]->is_copy) ? settle_names(st, n) : 0;

	for (size_t i = 0; !rc && i < n->nkids; i++)
		if (n->kids[i]->nkids)
			rc = settle_all(st, n->kids[i]);
	return rc;
}

int merge_arrange(struct mstate *st)
{
	int rc = attach(st);

	if (rc)
		return rc;
	st->nconflicts = 0;
	prune(st->root);
	for (size_t i = 0; i < st->nall; i++)
		if (st->all[i]->keep && !st->all[i]->visiting)
			return -ELOOP; /* moves on both sides made a cycle */
	return settle_all(st, st->root);
}
