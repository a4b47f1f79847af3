/* merge_links.c - the merge of files with several names (merge.h): the
 * three inode tables' records, the names (`h` entries, and the `f` entry of
 * such a file on a side where it had one name) turned into entries of an id
 * per (file, directory, name) so that the walk and the rules of merge.c and
 * merge_decide.c place them like any entry, then each file's record merged
 * three-way on its own, a conflict copy when both sides changed it, and its
 * number of names counted on the merged tree. Pure; must never pick by side
 * label, never add counts up (a count is what the merged tree holds), and
 * never keep a record with no name or a name with no record. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "merge_int.h"

/* One file that has a record in some side's table. */
struct mlink {
	uint8_t id[OBJECT_ID_BYTES];
	/* The file's version on each side: its record, or its `f` entry where
	 * it had one name there (owned[s]); NULL: not on that side, or in a
	 * directory the walk did not read (then shared with another side). */
	const struct dirobj_entry *body[MSIDES];
	struct dirobj_entry *owned[MSIDES];
	uint32_t nl[MSIDES];		/* the record's count; 0: no record there */
	uint32_t seen[MSIDES];		/* names met in the directories read */
	struct mnode *file;		/* node of the file's own id: copies' source */
	const struct dirobj_entry *win; /* the merged record's body */
	uint32_t count;			/* names on the merged tree */
};

struct mlinks {
	struct mlink *a; /* sorted by id */
	size_t n;
	struct dirobj_entry nameless; /* a copy's name when no name was read */
};

static int mlink_cmp(const void *a, const void *b) { return memcmp(a, b, OBJECT_ID_BYTES); }

static struct mlink *mlink_find(const struct mlinks *lk, const uint8_t id[OBJECT_ID_BYTES])
{
	return lk ? bsearch(id, lk->a, lk->n, sizeof(*lk->a), mlink_cmp) : NULL;
}

/* What a copy is named after when none of the file's names was read. */
static char nameless[] = "linked file";

int merge_links_init(struct mstate *st)
{
	const struct merge_itable *it[MSIDES] = {&st->in->base_it, &st->in->local_it,
						 &st->in->remote_it};
	struct mlinks *lk;
	size_t total = 0, k = 0;

	for (int s = 0; s < MSIDES; s++)
		total += it[s]->n;
	if (!total)
		return 0;
	lk = calloc(1, sizeof(*lk));
	if (!lk || !(lk->a = calloc(total, sizeof(*lk->a)))) {
		free(lk);
		return -ENOMEM;
	}
	st->lk = lk;
	lk->nameless.name = nameless;
	lk->nameless.name_len = sizeof(nameless) - 1;
	for (int s = 0; s < MSIDES; s++)
		for (size_t i = 0; i < it[s]->n; i++)
			memcpy(lk->a[k++].id, it[s]->recs[i].e.id, OBJECT_ID_BYTES);
	qsort(lk->a, total, sizeof(*lk->a), mlink_cmp);
	for (size_t i = 0; i < total; i++)
		if (lk->n == 0 || memcmp(lk->a[lk->n - 1].id, lk->a[i].id, OBJECT_ID_BYTES) != 0)
			memmove(lk->a[lk->n++].id, lk->a[i].id, OBJECT_ID_BYTES);
	for (int s = 0; s < MSIDES; s++)
		for (size_t i = 0; i < it[s]->n; i++) {
			struct mlink *m = mlink_find(lk, it[s]->recs[i].e.id);

			if (m->body[s] || it[s]->recs[i].nlink == 0)
				return -EINVAL; /* an id twice in one table */
			m->body[s] = &it[s]->recs[i].e;
			m->nl[s] = it[s]->recs[i].nlink;
		}
	return 0;
}

void merge_links_free(struct mstate *st)
{
	if (!st->lk)
		return;
	for (size_t i = 0; i < st->lk->n; i++)
		for (int s = 0; s < MSIDES; s++)
			if (st->lk->a[i].owned[s]) {
				dirobj_entry_release(st->lk->a[i].owned[s]);
				free(st->lk->a[i].owned[s]);
			}
	free(st->lk->a);
	free(st->lk);
	st->lk = NULL;
}

/* The id of a name: BLAKE2b-128 of the file, its directory and the name, so
 * one name is one node on every side, whatever entry type it has there. */
static void name_id(const struct mlink *m, const struct mnode *dir, const struct dirobj_entry *e,
		    uint8_t out[OBJECT_ID_BYTES])
{
	static const char tag[] = "sealfs merge name";
	crypto_generichash_state h;

	crypto_generichash_init(&h, NULL, 0, OBJECT_ID_BYTES);
	crypto_generichash_update(&h, (const unsigned char *)tag, sizeof(tag));
	crypto_generichash_update(&h, m->id, OBJECT_ID_BYTES);
	crypto_generichash_update(&h, dir->id, OBJECT_ID_BYTES);
	crypto_generichash_update(&h, (const unsigned char *)e->name, e->name_len);
	crypto_generichash_final(&h, out, OBJECT_ID_BYTES);
}

/* Moves an `f` entry's body out of the listing (the file's version on side
 * s) and leaves a bare `h` entry of the same name in its place. */
static int take_body(struct mlink *m, int s, struct dirobj_entry *e)
{
	struct dirobj_entry *b = malloc(sizeof(*b));
	char *name = malloc(e->name_len + 1);

	if (!b || !name) {
		free(b);
		free(name);
		return -ENOMEM;
	}
	*b = *e;
	memcpy(name, e->name, e->name_len + 1);
	memset(e, 0, sizeof(*e));
	e->name = name;
	e->name_len = b->name_len;
	e->type = DIROBJ_HARDLINK;
	memcpy(e->id, b->id, OBJECT_ID_BYTES);
	m->owned[s] = b;
	m->body[s] = b;
	return 0;
}

int merge_links_convert(struct mstate *st, struct mnode *dir, int s, struct dirobj *obj,
			struct mlink ***links)
{
	*links = NULL;
	if (!st->lk) {
		for (size_t i = 0; i < obj->nentries; i++)
			if (obj->entries[i].type == DIROBJ_HARDLINK)
				return -EINVAL; /* a name with no table */
		return 0;
	}
	*links = calloc(obj->nentries ? obj->nentries : 1, sizeof(**links));
	if (!*links)
		return -ENOMEM;
	for (size_t i = 0; i < obj->nentries; i++) {
		struct dirobj_entry *e = &obj->entries[i];
		struct mlink *m;
		int rc;

		if (e->type == DIROBJ_DIR)
			continue;
		m = mlink_find(st->lk, e->id);
		if (!m && e->type != DIROBJ_HARDLINK)
			continue;
		if (!m || (e->type == DIROBJ_HARDLINK && !m->nl[s]))
			return -EINVAL;		  /* a name whose file has no record there */
		if (e->type != DIROBJ_HARDLINK) { /* its one name on this side */
			if (m->body[s])
				return -EINVAL; /* an entry whose id has a record */
			rc = take_body(m, s, e);
			if (rc)
				return rc;
			dir->noreuse[s] = true; /* the merged name is an `h` entry */
		}
		m->seen[s]++;
		name_id(m, dir, e, e->id);
		(*links)[i] = m;
	}
	return 0;
}

/* The same content and attributes but the times a new name or a read
 * changes (ctime, atime). */
static bool same_content(const struct dirobj_entry *a, const struct dirobj_entry *b)
{
	struct dirobj_entry x = *a;

	x.ctime = b->ctime;
	x.atime = b->atime;
	return ment_same_body(&x, b);
}

bool merge_links_touched(const struct mstate *st, const struct mnode *n, int s)
{
	const struct mlink *m = n->link;

	(void)st;
	if (!m || !m->body[s])
		return false;
	return !m->body[MB] || !same_content(m->body[s], m->body[MB]);
}

const uint8_t *merge_links_id(const struct mnode *k) { return k->link ? k->link->id : k->id; }

int64_t merge_links_mtime(const struct mnode *k)
{
	return k->link && k->link->win ? k->link->win->mtime.sec : k->body->mtime.sec;
}

/* ---- the records ---- */

/* Names before others: by directory id, then name bytes. */
static bool name_before(const struct mnode *a, const struct mnode *b)
{
	int c = memcmp(a->parent->id, b->parent->id, OBJECT_ID_BYTES);

	if (c)
		return c < 0;
	c = memcmp(a->nm->name, b->nm->name,
		   a->nm->name_len < b->nm->name_len ? a->nm->name_len : b->nm->name_len);
	return c ? c < 0 : a->nm->name_len < b->nm->name_len;
}

/* Names in directories the walk did not read: held alike by every side that
 * holds them (merge.c reads the others when tables exist), so both sides'
 * counts of them must agree. */
static int unseen(const struct mlink *m, uint32_t *out)
{
	uint32_t u[MSIDES] = {0};

	for (int s = ML; s <= MR; s++) {
		if (m->seen[s] > m->nl[s] && m->nl[s])
			return -EINVAL;
		u[s] = m->nl[s] ? m->nl[s] - m->seen[s] : 0;
	}
	if (m->nl[ML] && m->nl[MR] && u[ML] != u[MR])
		return -EINVAL;
	*out = u[ML] > u[MR] ? u[ML] : u[MR];
	return 0;
}

/* The side whose body the record takes; *loser: the side that becomes a
 * conflict copy, or -1. */
static int pick_body(const struct mstate *st, const struct mlink *m, int *loser)
{
	const struct dirobj_entry *b = m->body[MB], *l = m->body[ML], *r = m->body[MR];

	*loser = -1;
	if (!l || !r) /* deleted (or not read: then as the base) on one side */
		return l ? ML : r ? MR : -EINVAL;
	if (same_content(l, r)) { /* at most new names on both: the later ctime */
		if (l->ctime.sec != r->ctime.sec || l->ctime.nsec != r->ctime.nsec)
			return l->ctime.sec > r->ctime.sec || (l->ctime.sec == r->ctime.sec &&
							       l->ctime.nsec > r->ctime.nsec)
				   ? ML
				   : MR;
		return ment_later(st, l, ML, r, MR) ? ML : MR;
	}
	if (b && same_content(l, b))
		return MR;
	if (b && same_content(r, b))
		return ML;
	if (ment_later(st, l, ML, r, MR)) {
		*loser = MR;
		return ML;
	}
	*loser = ML;
	return MR;
}

/* The conflict copy's id: BLAKE2b-128 of the file, the losing device and the
 * losing version's segments and mtime, so both devices derive the same. */
static void copy_id(const struct mstate *st, const struct mlink *m, int loser,
		    uint8_t out[OBJECT_ID_BYTES])
{
	static const char tag[] = "sealfs merge link copy";
	const struct dirobj_entry *e = m->body[loser];
	crypto_generichash_state h;

	crypto_generichash_init(&h, NULL, 0, OBJECT_ID_BYTES);
	crypto_generichash_update(&h, (const unsigned char *)tag, sizeof(tag));
	crypto_generichash_update(&h, m->id, OBJECT_ID_BYTES);
	crypto_generichash_update(&h, st->dev[loser]->id, OBJECT_ID_BYTES);
	for (size_t i = 0; i < e->nsegments; i++)
		crypto_generichash_update(&h, e->segments[i].store_key, OBJECT_ID_BYTES);
	crypto_generichash_update(&h, (const unsigned char *)&e->mtime.sec, sizeof(e->mtime.sec));
	crypto_generichash_final(&h, out, OBJECT_ID_BYTES);
}

/* The losing version as an ordinary file next to the first name (named as a
 * conflict copy of it by merge_out.c). */
static int make_copy(struct mstate *st, struct mlink *m, int loser, struct mnode *first)
{
	uint8_t id[OBJECT_ID_BYTES];
	struct mnode *c;

	if (!m->file && !(m->file = mstate_find(st, m->id)) && !(m->file = mstate_add(st, m->id)))
		return -ENOMEM;
	copy_id(st, m, loser, id);
	c = mstate_find(st, id);
	if (!c && !(c = mstate_add(st, id)))
		return -ENOMEM;
	if (c->e[MB] || c->e[ML] || c->e[MR] || m->file->e[MB] || m->file->e[ML] || m->file->e[MR])
		return -EINVAL; /* a real entry with that id: never in practice */
	c->is_copy = true;
	c->source = m->file;
	c->keep = true;
	c->tentative = false;
	c->body = c->ref = m->body[loser];
	c->nm = first ? first->nm : &st->lk->nameless;
	c->side = loser;
	c->parent = first ? first->parent : st->root;
	return 0;
}

/* Reads one more level of the directories the walk left unread (held alike
 * by every side that holds them), to find a name of a file both sides
 * edited: its copy goes next to it. Returns 1 when it read something (the
 * rules run again), 0 when nothing is left unread. */
static int read_deeper(struct mstate *st)
{
	size_t n = st->nall;
	int rc = 0;

	for (size_t i = 0; i < n; i++) {
		struct mnode *d = st->all[i];

		if (d->is_copy || !d->keep || !mnode_is_dir(d))
			continue;
		for (int s = 0; s < MSIDES; s++)
			if (d->e[s] && !d->loaded[s]) {
				int r = mstate_load_side(st, d, s);

				if (r)
					return r;
				rc = 1;
			}
	}
	return rc;
}

int merge_links_decide(struct mstate *st)
{
	struct mnode **first;
	int rc = 0;

	if (!st->lk)
		return 0;
	first = calloc(st->lk->n ? st->lk->n : 1, sizeof(*first));
	if (!first)
		return -ENOMEM;
	for (size_t i = 0; i < st->lk->n; i++)
		st->lk->a[i].count = 0;
	for (size_t i = 0; i < st->nall; i++) {
		struct mnode *n = st->all[i];
		size_t k;

		if (!n->link || !n->keep || n->is_copy)
			continue;
		k = (size_t)(n->link - st->lk->a);
		n->link->count++;
		if (!first[k] || name_before(n, first[k]))
			first[k] = n;
	}
	for (size_t i = 0; rc == 0 && i < st->lk->n; i++) {
		struct mlink *m = &st->lk->a[i];
		uint32_t u;
		int w, loser;

		m->win = NULL;
		rc = unseen(m, &u);
		if (rc || (m->count += u) == 0)
			continue; /* no name left: no record */
		w = pick_body(st, m, &loser);
		if (w < 0) {
			rc = w;
			break;
		}
		m->win = m->body[w];
		if (loser >= 0 && !first[i] && (rc = read_deeper(st)) != 0)
			break; /* a name of it may be one level down */
		if (loser >= 0)
			rc = make_copy(st, m, loser, first[i]);
	}
	free(first);
	return rc;
}

int merge_links_emit(struct mstate *st, struct merge_result *out)
{
	if (!st->lk)
		return 0;
	out->links = true;
	out->records = calloc(st->lk->n ? st->lk->n : 1, sizeof(*out->records));
	if (!out->records)
		return -ENOMEM;
	for (size_t i = 0; i < st->lk->n; i++) {
		struct mlink *m = &st->lk->a[i];
		struct itable_record *r = &out->records[out->nrecords];
		int rc;

		if (!m->win)
			continue;
		rc = ment_copy(&r->e, m->win);
		if (rc)
			return rc;
		memcpy(r->e.id, m->id, OBJECT_ID_BYTES); /* its type: the version's */
		r->nlink = m->count;
		out->nrecords++;
	}
	return 0;
}
