/* tree_refresh_links.c - a poll's refresh (tree_refresh.c) of the files with
 * several names (format 2; from format 3 of any type but a directory, each
 * record read under the vault's format; docs/INTERNALS.md "Hard links"): the
 * new head's inode table is read whole (no lock), then under tree_lock every
 * record goes into the tree's hash (a file whose content, a symlink whose
 * target or a device whose number changed gets a new inode,
 * as tree_refresh.c does for other files; a new one gets an inode), names
 * (`h` entries) are matched by id and name, a file that became linked or
 * went back to one name keeps its inode (the kernel's node id), and a file
 * whose last name went is dropped; then the table's sealed pages and the
 * head template become the new head's, so the next commit writes on them.
 * Must never mark the tree dirty (no commit follows a refresh by itself),
 * never make another device's objects this mount's garbage (dropped inodes
 * are foreign), never free a link a name still points to. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "itable.h"
#include "meta.h"
#include "tree_int.h"
#include "tree_itable.h"
#include "tree_refresh_int.h"

/* One record of the new head's table. */
struct rf_rec {
	struct itable_record *r; /* in a leaf */
	struct tree_link *l;	 /* its link in the hash, after rf_links_pre */
	bool fresh;		 /* l's inode was made by pre: the kernel never saw it */
	bool replaced;		 /* l's file got a new inode (content changed) */
};

/* A link of the tree whose file the new table does not hold. */
struct rf_gone {
	struct tree_link *l;
	bool taken; /* its file became a directory's entry again */
};

struct rf_links {
	bool has; /* the new head has a table */
	struct dirobj_ref root;
	struct itable_index ix;
	struct itable_leaf *leaves; /* nleaves long (ix.n when read: adopt_pages
				     * then takes ix's slots and zeroes ix.n) */
	size_t nleaves;
	bool *same;	     /* ix.n long: the tree's leaf of that slot, not read */
	struct rf_rec *recs; /* sorted by id: the records of the leaves read */
	size_t n;
	struct rf_gone *gone;
	size_t ngone, gcap;
	bool applied; /* post finished: no name points to a gone link any more */
};

static int rec_cmp(const void *a, const void *b)
{
	return memcmp(((const struct rf_rec *)a)->r->e.id, ((const struct rf_rec *)b)->r->e.id,
		      OBJECT_ID_BYTES);
}

static struct rf_rec *rec_find(struct rf_links *lk, const uint8_t id[OBJECT_ID_BYTES])
{
	struct itable_record key_rec;
	struct rf_rec key = {.r = &key_rec};

	memcpy(key_rec.e.id, id, OBJECT_ID_BYTES);
	return lk->n ? bsearch(&key, lk->recs, lk->n, sizeof(key), rec_cmp) : NULL;
}

/* ---- reading (no lock) ---- */

static int read_page(struct rf *rf, const struct dirobj_ref *ref, size_t slot, size_t nslots,
		     struct itable_leaf *leaf, struct itable_index *ix)
{
	char *plain = NULL;
	size_t len = 0;
	int r = tree_itable_read(rf->t, ref, &plain, &len);

	if (r)
		return r;
	r = leaf ? itable_leaf_decode_fmt(leaf, plain, len, slot, nslots, rf->t->cctx.format)
		 : itable_index_decode(ix, plain, len);
	meta_free_plain(plain, len);
	return r;
}

/* Which slots hold the very leaf the tree has (same partition, same key):
 * their records are the tree's already (it is clean), so they are not read
 * and their files not touched. commit_lock is held: the pages do not change. */
static int same_leaves(struct rf *rf, struct rf_links *lk)
{
	struct tree_itable *it = rf->t->itable;

	lk->same = calloc(lk->ix.n ? lk->ix.n : 1, sizeof(*lk->same));
	if (!lk->same)
		return -ENOMEM;
	pthread_mutex_lock(&rf->t->lock);
	for (size_t i = 0; it->nslots == lk->ix.n && i < lk->ix.n; i++)
		lk->same[i] = it->slots[i].present && lk->ix.slots[i].present &&
			      memcmp(it->slots[i].ref.store_key, lk->ix.slots[i].ref.store_key,
				     OBJECT_ID_BYTES) == 0;
	pthread_mutex_unlock(&rf->t->lock);
	return 0;
}

static int read_leaves(struct rf *rf, struct rf_links *lk)
{
	size_t total = 0, k = 0;
	int r = same_leaves(rf, lk);

	lk->leaves = r ? NULL : calloc(lk->ix.n, sizeof(*lk->leaves));
	if (!lk->leaves)
		return -ENOMEM;
	lk->nleaves = lk->ix.n;
	for (size_t i = 0; r == 0 && i < lk->ix.n; i++)
		if (lk->ix.slots[i].present && !lk->same[i]) {
			r = read_page(rf, &lk->ix.slots[i].ref, i, lk->ix.n, &lk->leaves[i], NULL);
			total += lk->leaves[i].n;
		}
	if (r == 0 && !(lk->recs = calloc(total ? total : 1, sizeof(*lk->recs))))
		r = -ENOMEM;
	for (size_t i = 0; r == 0 && i < lk->ix.n; i++)
		for (size_t j = 0; j < lk->leaves[i].n; j++)
			lk->recs[k++].r = &lk->leaves[i].recs[j];
	lk->n = k;
	if (r == 0 && k > 1)
		qsort(lk->recs, k, sizeof(*lk->recs), rec_cmp);
	for (size_t i = 1; r == 0 && i < k; i++)
		if (rec_cmp(&lk->recs[i - 1], &lk->recs[i]) == 0)
			r = -EBADMSG; /* one file in two leaves */
	return r;
}

int rf_links_read(struct rf *rf, bool links, const struct dirobj_ref *inodes)
{
	struct rf_links *lk;
	int r;

	if (!links && !inodes)
		return 0;
	lk = calloc(1, sizeof(*lk));
	if (!lk)
		return -ENOMEM;
	rf->lk = lk;
	if (!inodes)
		return 0; /* every file lost its second name */
	lk->has = true;
	lk->root = *inodes;
	r = read_page(rf, inodes, 0, 0, NULL, &lk->ix);
	return r ? r : read_leaves(rf, lk);
}

void rf_links_free(struct rf *rf)
{
	struct rf_links *lk = rf->lk;

	if (!lk)
		return;
	for (size_t i = 0; lk->leaves && i < lk->nleaves; i++)
		itable_leaf_release(&lk->leaves[i]);
	free(lk->leaves);
	free(lk->same);
	free(lk->recs);
	itable_index_release(&lk->ix);
	/* Out of the hash (rf_links_post); after a failure a name may still
	 * point to one: kept (a leak on an error that is logged, never a use
	 * after free). */
	for (size_t i = 0; lk->applied && i < lk->ngone; i++)
		free(lk->gone[i].l);
	free(lk->gone);
	free(lk);
	rf->lk = NULL;
}

/* ---- before the directories (tree_lock held) ---- */

/* Whether a linked file may be any type but a directory or a name (format 3
 * links symlinks, FIFOs, sockets and devices too; their records carry it). */
static bool rf_linkable(enum dirobj_type type)
{
	return type != DIROBJ_DIR && type != DIROBJ_HARDLINK;
}

/* Whether inode c (lock held) cannot stand for entry e: another type, a
 * regular file's other content, a symlink's other target, a device's other
 * number (all immutable but a file's content: a new inode). Never reads the
 * union member of another type. */
static bool rf_body_differs(struct inode *c, const struct dirobj_entry *e)
{
	if (c->type != e->type)
		return true;
	switch (c->type) {
	case DIROBJ_FILE:
		return rf_content_differs(c, e);
	case DIROBJ_SYMLINK:
		return c->target_len != e->target_len ||
		       (e->target_len && memcmp(c->target, e->target, e->target_len) != 0);
	case DIROBJ_CHR:
	case DIROBJ_BLK:
		return c->rdev != e->rdev;
	default:
		return false; /* FIFOs and sockets: attributes only */
	}
}

/* Drops c, in no directory's table: an orphan while the kernel holds it,
 * whose objects are the other device's business (foreign). */
static int rf_drop_file(struct rf *rf, struct inode *c)
{
	tree_inode_lock(c);
	c->foreign = true;
	c->linked = false;
	tree_inode_unlock(c);
	return rf_reap_later(rf, tree_orphan_locked(rf->t, c));
}

static int gone_cmp(const void *a, const void *b)
{
	return memcmp(((const struct rf_gone *)a)->l->file->id,
		      ((const struct rf_gone *)b)->l->file->id, OBJECT_ID_BYTES);
}

struct gone_scan {
	struct rf *rf;
	int r;
};

static void gone_one(void *arg, struct inode *file)
{
	struct gone_scan *g = arg;
	struct rf_links *lk = g->rf->lk;

	if (g->r || (lk->has && lk->same[itable_slot_of(file->id, lk->ix.n)]) ||
	    rec_find(lk, file->id))
		return; /* in the new table */
	if (lk->ngone == lk->gcap) {
		size_t cap = lk->gcap ? lk->gcap * 2 : 16;
		struct rf_gone *p = realloc(lk->gone, cap * sizeof(*p));

		if (!p) {
			g->r = -ENOMEM;
			return;
		}
		lk->gone = p;
		lk->gcap = cap;
	}
	lk->gone[lk->ngone++] = (struct rf_gone){.l = tree_link_find_locked(g->rf->t, file->id)};
}

/* A file the tree did not have linked: a new inode from its record (a file
 * that had one name in a loaded directory swaps its own in, rf_links_child). */
static int pre_new(struct rf *rf, struct rf_rec *rc)
{
	struct tree_link *l = calloc(1, sizeof(*l));
	struct inode *ino = NULL;
	int r = l ? tree_links_reserve_locked(rf->t) : -ENOMEM;

	if (r == 0)
		r = tree_inode_from_entry(&ino, &rc->r->e);
	if (r) {
		free(l);
		return r;
	}
	ino->linked = true;
	l->file = ino;
	l->nlink = rc->r->nlink;
	tree_link_insert_locked(rf->t, l);
	rf->t->ninodes++;
	rc->l = l;
	rc->fresh = true;
	return 0;
}

/* A file the tree has linked: its count, and its attributes in place or,
 * for other content, a new inode (handles open on the old one keep the
 * version they opened). */
static int pre_known(struct rf *rf, struct rf_rec *rc, struct tree_link *l)
{
	struct inode *old = l->file, *ino;
	bool differs;
	int r;

	rc->l = l;
	l->nlink = rc->r->nlink;
	tree_inode_lock(old);
	differs = rf_body_differs(old, &rc->r->e);
	tree_inode_unlock(old);
	if (!differs)
		return rf_update(rf, old, &rc->r->e);
	r = tree_inode_from_entry(&ino, &rc->r->e);
	if (r)
		return r;
	ino->linked = true;
	l->file = ino;
	rf->t->ninodes++;
	rc->replaced = true;
	r = rf_note(rf, NULL, NULL, 0, old);
	return r ? r : rf_drop_file(rf, old);
}

int rf_links_pre(struct rf *rf)
{
	struct rf_links *lk = rf->lk;
	struct gone_scan g = {.rf = rf};

	if (!lk)
		return 0;
	tree_links_foreach_locked(rf->t, gone_one, &g);
	if (lk->ngone > 1)
		qsort(lk->gone, lk->ngone, sizeof(*lk->gone), gone_cmp);
	for (size_t i = 0; g.r == 0 && i < lk->n; i++) {
		struct tree_link *l = tree_link_find_locked(rf->t, lk->recs[i].r->e.id);

		g.r = l ? pre_known(rf, &lk->recs[i], l) : pre_new(rf, &lk->recs[i]);
	}
	return g.r;
}

bool rf_links_type_ok(enum dirobj_type was, enum dirobj_type now)
{
	return (rf_linkable(was) && now == DIROBJ_HARDLINK) ||
	       (was == DIROBJ_HARDLINK && rf_linkable(now));
}

/* ---- the directories (tree_lock held) ---- */

static int entry_id_cmp(const void *key, const void *e)
{
	return memcmp(key, ((const struct dirobj_entry *)e)->id, OBJECT_ID_BYTES);
}

/* The new listing's name of c's file called c's name: the entries are sorted
 * by id (tree_refresh.c), so the names of one file are side by side. */
static struct dirobj_entry *name_entry(struct rf_dir *d, const struct inode *c)
{
	struct dirobj_entry *all = d->obj.entries, *e;
	size_t n = d->obj.nentries, i;

	e = n ? bsearch(c->id, all, n, sizeof(*all), entry_id_cmp) : NULL;
	if (!e)
		return NULL;
	for (i = (size_t)(e - all); i > 0 && entry_id_cmp(c->id, &all[i - 1]) == 0; i--)
		;
	for (; i < n && entry_id_cmp(c->id, &all[i]) == 0; i++)
		if (all[i].type == DIROBJ_HARDLINK && all[i].name_len == c->name_len &&
		    memcmp(all[i].name, tree_name(c), c->name_len) == 0)
			return &all[i];
	return NULL;
}

/* c's attributes and xattrs from the inode made for its record. */
static void take_attrs(struct inode *c, struct inode *from)
{
	struct dirobj_xattr *x;
	uint32_t nx;

	tree_inode_lock(c);
	c->mode = from->mode;
	c->uid = from->uid;
	c->gid = from->gid;
	c->atime = from->atime;
	c->mtime = from->mtime;
	c->ctime = from->ctime;
	x = c->xattrs;
	nx = c->nxattrs;
	c->xattrs = from->xattrs;
	c->nxattrs = from->nxattrs;
	from->xattrs = x; /* freed with it */
	from->nxattrs = nx;
	c->linked = true;
	tree_inode_unlock(c);
}

/* File c (one name here) is linked in the new head: it leaves the table and
 * becomes its record's inode when its content is the record's. */
static int child_becomes_linked(struct rf *rf, struct inode *dir, struct inode *c,
				struct rf_rec *rc)
{
	int r = rf_note(rf, dir, tree_name(c), c->name_len, NULL);
	struct dirobj_entry rec;
	bool differs;

	tree_table_remove(rf->t, dir, c);
	if (r)
		return r;
	if (!rc->fresh)
		return rf_drop_file(rf, c);
	/* The record as it was: pre_new's inode took its target. */
	rec = rc->r->e;
	rec.target = rc->l->file->type == DIROBJ_SYMLINK ? rc->l->file->target : NULL;
	rec.target_len = rec.target ? rc->l->file->target_len : 0;
	tree_inode_lock(c);
	differs = rf_body_differs(c, &rec);
	tree_inode_unlock(c);
	if (differs)
		return rf_drop_file(rf, c);
	take_attrs(c, rc->l->file);
	tree_inode_free(rc->l->file); /* never seen by the kernel */
	rf->t->ninodes--;
	rc->l->file = c; /* the hash is by the file's id: the same */
	rc->fresh = false;
	return rf_note(rf, NULL, NULL, 0, c);
}

int rf_links_child(struct rf *rf, struct inode *dir, struct rf_dir *d, struct inode *c,
		   bool *matched, bool *done)
{
	struct rf_links *lk = rf->lk;
	struct dirobj_entry *e;
	struct rf_rec *rc;
	int r;

	if (!lk)
		return 0;
	if (rf_linkable(c->type) && (rc = rec_find(lk, c->id)) != NULL) {
		*done = true;
		return child_becomes_linked(rf, dir, c, rc);
	}
	if (c->type != DIROBJ_HARDLINK)
		return 0;
	*done = true;
	e = name_entry(d, c);
	if (e) {
		matched[e - d->obj.entries] = true;
		return 0; /* the same name of a file still linked */
	}
	r = rf_note(rf, dir, tree_name(c), c->name_len, NULL);
	tree_table_remove(rf->t, dir, c);
	tree_inode_free(c); /* its link stays until post: other names point to it */
	rf->t->ninodes--;
	return r;
}

static int gone_key_cmp(const void *key, const void *g)
{
	return memcmp(key, ((const struct rf_gone *)g)->l->file->id, OBJECT_ID_BYTES);
}

/* A gone link of file id not taken yet (lk->gone sorted by rf_links_pre). */
static struct rf_gone *gone_find(struct rf_links *lk, const uint8_t id[OBJECT_ID_BYTES])
{
	struct rf_gone *g =
	    lk->ngone ? bsearch(id, lk->gone, lk->ngone, sizeof(*lk->gone), gone_key_cmp) : NULL;

	return g && !g->taken ? g : NULL;
}

/* The one name left of a file the tree has linked: its inode comes back
 * into the directory when its content is the entry's. */
static int add_single(struct rf *rf, struct inode *dir, struct dirobj_entry *e, struct rf_gone *g,
		      bool *done)
{
	struct inode *file = g->l->file;
	char *name = malloc(e->name_len + 1);
	bool differs;
	int r;

	if (!name)
		return -ENOMEM;
	g->taken = true;
	tree_link_remove_locked(rf->t, g->l);
	tree_inode_lock(file);
	differs = rf_body_differs(file, e);
	tree_inode_unlock(file);
	if (differs) {
		free(name);
		return rf_drop_file(rf, file); /* the caller adds a new inode */
	}
	*done = true;
	memcpy(name, e->name, e->name_len + 1);
	tree_inode_set_name(file, name, e->name_len);
	tree_inode_lock(file);
	file->linked = false;
	tree_inode_unlock(file);
	r = tree_table_insert(rf->t, dir, file);
	if (r) {
		rf_drop_file(rf, file); /* no table for it: out of memory */
		return r;
	}
	r = rf_note(rf, dir, tree_name(file), file->name_len, NULL);
	return r ? r : rf_update(rf, file, e);
}

int rf_links_add(struct rf *rf, struct inode *dir, struct dirobj_entry *e, bool *done)
{
	struct rf_links *lk = rf->lk;
	struct tree_link *l;
	struct rf_gone *g;
	struct inode *h;
	int r;

	if (!lk)
		return 0;
	if (rf_linkable(e->type) && (g = gone_find(lk, e->id)) != NULL)
		return add_single(rf, dir, e, g, done);
	if (e->type != DIROBJ_HARDLINK)
		return 0;
	*done = true;
	l = tree_link_find_locked(rf->t, e->id); /* every record is in the hash */
	if (!l)
		return -EBADMSG; /* a name with no record */
	h = tree_inode_alloc(DIROBJ_HARDLINK, e->name, e->name_len);
	if (!h)
		return -ENOMEM;
	memcpy(h->id, e->id, OBJECT_ID_BYTES);
	h->link = l;
	r = tree_table_insert(rf->t, dir, h);
	if (r) {
		tree_inode_free(h);
		return r;
	}
	rf->t->ninodes++;
	return rf_note(rf, dir, tree_name(h), h->name_len, NULL);
}

/* ---- after the directories (tree_lock held) ---- */

/* Names (in loaded directories) of files that got a new inode: the
 * kernel's entries point at the old one. */
static int note_replaced(struct rf *rf, struct inode *dir)
{
	size_t n;
	struct inode **k = rf_kids(dir, &n);
	int r = k ? 0 : -ENOMEM;

	for (size_t i = 0; r == 0 && i < n; i++) {
		struct rf_rec *rc;

		if (k[i]->type == DIROBJ_DIR && k[i]->ds->loaded)
			r = note_replaced(rf, k[i]);
		else if (k[i]->type == DIROBJ_HARDLINK &&
			 (rc = rec_find(rf->lk, k[i]->id)) != NULL && rc->replaced)
			r = rf_note(rf, dir, tree_name(k[i]), k[i]->name_len, NULL);
	}
	free(k);
	return r;
}

/* The table's pages and the head template: the new head's. */
static int adopt_pages(struct rf *rf)
{
	struct tree_itable *it = rf->t->itable;
	struct rf_links *lk = rf->lk;
	bool *dirty = calloc(lk->ix.n ? lk->ix.n : 1, sizeof(*dirty));

	if (!dirty)
		return -ENOMEM;
	free(it->slots);
	free(it->dirty);
	it->slots = lk->ix.slots;
	it->nslots = lk->ix.n;
	it->dirty = dirty;
	lk->ix.slots = NULL;
	lk->ix.n = 0;
	it->has_root = lk->has;
	memset(&it->root, 0, sizeof(it->root));
	if (lk->has)
		it->root = lk->root;
	it->changed = false;
	rf->t->head_tmpl.has_inodes = it->has_root;
	rf->t->head_tmpl.inodes = it->root;
	return 0;
}

int rf_links_post(struct rf *rf)
{
	struct rf_links *lk = rf->lk;
	int r = 0;

	if (!lk)
		return 0;
	for (size_t i = 0; r == 0 && i < lk->ngone; i++) {
		if (lk->gone[i].taken)
			continue;
		/* Every name gone, or its one name in a directory not loaded
		 * (which makes an inode from its entry when it loads). */
		tree_link_remove_locked(rf->t, lk->gone[i].l);
		lk->gone[i].taken = true;
		r = rf_note(rf, NULL, NULL, 0, lk->gone[i].l->file);
		if (r == 0)
			r = rf_drop_file(rf, lk->gone[i].l->file);
	}
	if (r == 0)
		r = note_replaced(rf, rf->t->root);
	if (r == 0)
		r = adopt_pages(rf);
	lk->applied = r == 0;
	return r;
}
