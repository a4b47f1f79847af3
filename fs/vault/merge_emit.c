/* merge_emit.c - the merge's output (merge.h): for each kept directory whose
 * merged listing is exactly one side's object, that object's ref; for the
 * others a new listing (entries sorted by id), children before parents; the
 * conflict copies whose content the caller must re-seal; the counts. Pure.
 * Must never hand out an entry borrowed from the inputs: all are copies. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "merge_int.h"

static bool same_name_bytes(const struct mnode *k, const struct dirobj_entry *x)
{
	if (k->name)
		return k->name_len == x->name_len && memcmp(k->name, x->name, x->name_len) == 0;
	return ment_same_name(k->nm, x);
}

/* Whether kid k's merged entry is x, byte for byte as far as it is stored. */
static bool final_is(const struct mnode *k, const struct dirobj_entry *x)
{
	const struct dirobj_entry *b = k->body;

	if (k->is_copy || !same_name_bytes(k, x) || b->atime.sec != x->atime.sec ||
	    b->atime.nsec != x->atime.nsec || b->type != x->type)
		return false;
	if (b->type == DIROBJ_DIR)
		return !k->rebuild && ment_same_attrs(b, x) && ment_same_ref(k->ref, x);
	return ment_same_body(b, x);
}

/* Post-order: whether each directory's listing is one a side already has. */
static void settle_refs(struct mnode *n)
{
	bool loaded = false;

	for (size_t i = 0; i < n->nkids; i++)
		if (n->kids[i]->nkids || mnode_is_dir(n->kids[i]))
			settle_refs(n->kids[i]);
	for (int s = 0; s < MSIDES; s++) {
		size_t i;

		if (!n->loaded[s])
			continue;
		loaded = true;
		if (n->noreuse[s] || n->nent[s] != n->nkids)
			continue; /* noreuse: its object has an `f` the merge made `h` */
		for (i = 0; i < n->nkids; i++) {
			const struct mnode *k = n->kids[i];

			if (!k->e[s] || k->par[s] != n || !final_is(k, k->e[s]))
				break;
		}
		if (i == n->nkids) {
			n->ref = n->e[s];
			return;
		}
	}
	n->rebuild = loaded;
}

static int id_cmp(const void *pa, const void *pb)
{
	const struct mnode *a = *(struct mnode *const *)pa, *b = *(struct mnode *const *)pb;

	return memcmp(a->id, b->id, OBJECT_ID_BYTES);
}

static int entry_of(struct dirobj_entry *e, const struct mnode *k)
{
	int rc = ment_copy(e, k->body);
	size_t len;
	const char *nm;

	if (rc)
		return rc;
	nm = k->name ? k->name : k->nm->name;
	len = k->name ? k->name_len : k->nm->name_len;
	free(e->name);
	e->name = malloc(len + 1);
	if (!e->name) {
		dirobj_entry_release(e);
		return -ENOMEM;
	}
	memcpy(e->name, nm, len);
	e->name[len] = '\0';
	e->name_len = len;
	memcpy(e->id, merge_links_id(k), OBJECT_ID_BYTES);
	if (e->type == DIROBJ_DIR)
		e->ref = k->rebuild ? (struct dirobj_ref){0} : k->ref->ref;
	return 0;
}

static int add_copy(struct merge_result *out, const struct mnode *p, const struct mnode *k)
{
	struct merge_copy *c = realloc(out->copies, (out->ncopies + 1) * sizeof(*c));

	if (!c)
		return -ENOMEM;
	out->copies = c;
	c += out->ncopies++;
	memcpy(c->dir_id, p->id, OBJECT_ID_BYTES);
	memcpy(c->id, k->id, OBJECT_ID_BYTES);
	memcpy(c->source_id, k->source->id, OBJECT_ID_BYTES);
	return 0;
}

/* One new listing for n: its entries, the pending flags, the copies in it
 * and how many entries differ from the remote's listing. */
static int emit_dir(struct merge_result *out, struct mnode *n)
{
	struct merge_dir *d = realloc(out->dirs, (out->ndirs + 1) * sizeof(*d));
	int rc = 0;

	if (!d)
		return -ENOMEM;
	out->dirs = d;
	d += out->ndirs++;
	memset(d, 0, sizeof(*d));
	memcpy(d->dir.dir_id, n->id, OBJECT_ID_BYTES);
	if (n->nkids > 1)
		qsort(n->kids, n->nkids, sizeof(*n->kids), id_cmp);
	d->dir.entries = calloc(n->nkids ? n->nkids : 1, sizeof(*d->dir.entries));
	d->pending = calloc(n->nkids ? n->nkids : 1, sizeof(*d->pending));
	if (!d->dir.entries || !d->pending)
		return -ENOMEM;
	for (size_t i = 0; !rc && i < n->nkids; i++) {
		const struct mnode *k = n->kids[i];

		rc = entry_of(&d->dir.entries[i], k);
		if (rc)
			break;
		d->dir.nentries++;
		d->pending[i] = d->dir.entries[i].type == DIROBJ_DIR && k->rebuild;
		if (k->is_copy && k->body->type == DIROBJ_FILE)
			rc = add_copy(out, n, k);
		if (!k->e[MR] || k->par[MR] != n || !final_is(k, k->e[MR]))
			out->merged++;
	}
	return rc;
}

static int emit_tree(struct merge_result *out, struct mnode *n)
{
	int rc = 0;

	for (size_t i = 0; !rc && i < n->nkids; i++)
		if (n->kids[i]->rebuild)
			rc = emit_tree(out, n->kids[i]);
	if (!rc && n->rebuild)
		rc = emit_dir(out, n);
	return rc;
}

int merge_emit(struct mstate *st, struct merge_result *out)
{
	int rc;

	settle_refs(st->root);
	rc = emit_tree(out, st->root);
	if (!rc)
		rc = entry_of(&out->root, st->root);
	if (rc)
		return rc;
	out->root_pending = st->root->rebuild;
	out->conflicts = st->nconflicts;
	/* Entries the remote held in a rebuilt directory that are gone. */
	for (size_t i = 0; i < st->nall; i++) {
		const struct mnode *n = st->all[i];

		if (n->e[MR] && n->par[MR] && n->par[MR]->rebuild && n->par[MR]->keep && !n->keep)
			out->merged++;
	}
	return 0;
}
