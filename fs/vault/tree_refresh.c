/* tree_refresh.c - brings a clean mounted tree to a newer head of the store
 * (another device's, or a merge with it; fs/vault/poll_head.c): every loaded
 * directory whose object changed is read (no lock held), then, under
 * tree_lock, its children are matched by id with the new listing: renamed,
 * updated, added, or taken out (as orphans while the kernel holds them).
 * A directory the kernel holds whose children are unloaded gets its new
 * names reported (tree_refresh_names.c: the kernel may cache negative
 * entries under it). Inodes keep their addresses, so node ids the kernel
 * holds stay valid; the names and inodes that changed are reported for the
 * kernel's caches.
 * Must never run on a tree with uncommitted changes (the caller holds
 * commit_lock and the journal is empty), never make another device's objects
 * this mount's garbage. A file whose content changed gets a new inode under
 * its name (handles open on the old one keep the version they opened, as
 * after a rename over it); other changes are made in place. */
#include "tree_refresh_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dirio.h"
#include "tree_cache.h"
#include "tree_int.h"

static int id_cmp_entry(const void *a, const void *b)
{
	return memcmp(((const struct dirobj_entry *)a)->id, ((const struct dirobj_entry *)b)->id,
		      OBJECT_ID_BYTES);
}

static int id_cmp_dir(const void *a, const void *b)
{
	return memcmp(((const struct rf_dir *)a)->id, ((const struct rf_dir *)b)->id,
		      OBJECT_ID_BYTES);
}

/* rf->dirs is sorted by id once the snapshot is taken. */
static struct rf_dir *rf_find(struct rf *rf, const uint8_t id[OBJECT_ID_BYTES])
{
	struct rf_dir key;

	memcpy(key.id, id, OBJECT_ID_BYTES);
	return rf->ndirs ? bsearch(&key, rf->dirs, rf->ndirs, sizeof(key), id_cmp_dir) : NULL;
}

/* Whether the kernel may hold entries under directory c (its own entry pins
 * it: nlookup > 0). */
static bool rf_held(const struct inode *c) { return c->nlookup > 0 || c->nopen > 0; }

/* Under tree_lock: every loaded directory in the namespace, with its ref,
 * and every unloaded one the kernel holds (a child of a loaded one). */
static int rf_snapshot(struct rf *rf, struct inode *dir)
{
	if (rf->ndirs == rf->cap) {
		size_t cap = rf->cap ? rf->cap * 2 : 32;
		struct rf_dir *d = realloc(rf->dirs, cap * sizeof(*d));

		if (!d)
			return -ENOMEM;
		rf->dirs = d;
		rf->cap = cap;
	}
	memset(&rf->dirs[rf->ndirs], 0, sizeof(rf->dirs[0]));
	memcpy(rf->dirs[rf->ndirs].id, dir->id, OBJECT_ID_BYTES);
	rf->dirs[rf->ndirs].unloaded = !dir->ds->loaded;
	rf->dirs[rf->ndirs++].old_ref = dir->ds->ref;
	if (!dir->ds->loaded)
		return 0;
	TREE_FOR_CHILDREN (dir, c)
		if (c->type == DIROBJ_DIR && (c->ds->loaded || rf_held(c))) {
			int r = rf_snapshot(rf, c);

			if (r)
				return r;
		}
	return 0;
}

static bool same_ref(const struct dirobj_ref *a, const struct dirobj_ref *b)
{
	return a->version == b->version && memcmp(a->store_key, b->store_key, OBJECT_ID_BYTES) == 0;
}

/* No lock: reads the new objects of the loaded directories that changed,
 * from the root down through the new tree. */
static int rf_read(struct rf *rf, const struct dirobj_entry *e)
{
	struct rf_dir *d = rf_find(rf, e->id);
	int r;

	if (!d || d->have || same_ref(&d->old_ref, &e->ref))
		return 0;
	d->new_ref = e->ref;
	if (d->unloaded)
		return rf_names_read(rf, d);
	r = tree_read_dir_pages(rf->t, e->id, &e->ref, &d->obj, &d->pages);
	if (r)
		return r;
	d->have = true;
	qsort(d->obj.entries, d->obj.nentries, sizeof(*d->obj.entries), id_cmp_entry);
	for (size_t i = 0; i < d->obj.nentries; i++)
		if (d->obj.entries[i].type == DIROBJ_DIR && (r = rf_read(rf, &d->obj.entries[i])))
			return r;
	return 0;
}

int rf_note(struct rf *rf, struct inode *parent, const char *name, size_t len, struct inode *ino)
{
	struct tree_inval *v;

	if (rf->ninval == rf->icap) {
		size_t cap = rf->icap ? rf->icap * 2 : 32;

		v = realloc(rf->inval, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		rf->inval = v;
		rf->icap = cap;
	}
	v = &rf->inval[rf->ninval];
	memset(v, 0, sizeof(*v));
	v->parent = parent;
	v->ino = ino;
	if (name) {
		v->name = malloc(len + 1);
		if (!v->name)
			return -ENOMEM;
		memcpy(v->name, name, len);
		v->name[len] = '\0';
		v->name_len = len;
	}
	rf->ninval++;
	return 0;
}

static struct dirobj_entry *rf_entry(struct rf_dir *d, const uint8_t id[OBJECT_ID_BYTES])
{
	struct dirobj_entry key;

	memcpy(key.id, id, OBJECT_ID_BYTES);
	return bsearch(&key, d->obj.entries, d->obj.nentries, sizeof(key), id_cmp_entry);
}

/* Whether a thawed file's content differs from entry e's (c's lock held);
 * true when it cannot tell (out of memory). */
static bool rf_thawed_differs(struct inode *c, const struct dirobj_entry *e)
{
	struct dirobj_entry mine = {0};
	bool differs = content_store(c->content, &mine) != 0 || mine.size != e->size ||
		       mine.nsegments != e->nsegments;

	for (size_t s = 0; !differs && s < e->nsegments; s++)
		differs = mine.segments[s].present != e->segments[s].present ||
			  (e->segments[s].present &&
			   memcmp(mine.segments[s].store_key, e->segments[s].store_key,
				  OBJECT_ID_BYTES) != 0);
	free(mine.segments);
	return differs;
}

/* Whether file c's content differs from entry e's (size or segment keys). */
bool rf_content_differs(struct inode *c, const struct dirobj_entry *e)
{
	size_t n;

	if (c->content)
		return rf_thawed_differs(c, e);
	n = content_cold_nsegs(&c->cold);

	if (content_cold_size(&c->cold) != e->size || n != e->nsegments)
		return true;
	for (size_t s = 0; s < n; s++) {
		const uint8_t *k = content_cold_key(&c->cold, s);

		if ((k != NULL) != e->segments[s].present ||
		    (k && memcmp(k, e->segments[s].store_key, OBJECT_ID_BYTES) != 0))
			return true;
	}
	return false;
}

/* Whether file c's mtime differs from entry e's (c's lock held). */
static bool rf_mtime_differs(const struct inode *c, const struct dirobj_entry *e)
{
	return c->mtime.sec != e->mtime.sec || c->mtime.nsec != e->mtime.nsec;
}

/* Children of a directory, in an array (the table changes under us). */
struct inode **rf_kids(struct inode *dir, size_t *n)
{
	struct inode **k = calloc(dir->ds->nchildren + 1, sizeof(*k));

	*n = 0;
	if (k)
		TREE_FOR_CHILDREN (dir, c)
			k[(*n)++] = c;
	return k;
}

/* Whether subdirectory c of a directory whose new entry for it is e (NULL:
 * unchanged or gone) was loaded or looked up since the snapshot in a way
 * the refresh would get wrong: loaded from its old object (its listing
 * would not be brought to the new one), or newly held by the kernel while
 * its object changed (a negative entry under it would not be reported).
 * One unloaded since is fine: rf_unloaded_note reports all its names. */
static bool rf_moved_on(struct rf *rf, struct inode *c, const struct dirobj_entry *e)
{
	struct rf_dir *cd = rf_find(rf, c->id);

	if (!cd)
		return (c->ds->loaded || rf_held(c)) && e && !same_ref(&e->ref, &c->ds->ref);
	return cd->have && cd->unloaded && c->ds->loaded;
}

/* Under tree_lock, before anything changes: no loaded directory changed
 * since the snapshot, none was loaded or unloaded in a way that matters
 * (rf_moved_on), and no id changed its type. */
static int rf_check(struct rf *rf, struct inode *dir)
{
	struct rf_dir *d = rf_find(rf, dir->id);
	size_t n;
	struct inode **k;
	int r = 0;

	if (d && d->have && !same_ref(&d->old_ref, &dir->ds->ref))
		return -EAGAIN; /* changed since the snapshot */
	if (d && d->have && d->unloaded && dir->ds->loaded)
		return -EAGAIN; /* the root, loaded since */
	k = rf_kids(dir, &n);
	if (!k)
		return -ENOMEM;
	for (size_t i = 0; r == 0 && i < n; i++) {
		struct dirobj_entry *e = d && d->have ? rf_entry(d, k[i]->id) : NULL;

		if (e && e->type != k[i]->type && !rf_links_type_ok(k[i]->type, e->type))
			r = -EINVAL;
		if (r == 0 && k[i]->type == DIROBJ_DIR && rf_moved_on(rf, k[i], e))
			r = -EAGAIN;
		if (r == 0 && k[i]->type == DIROBJ_DIR && k[i]->ds->loaded)
			r = rf_check(rf, k[i]);
	}
	free(k);
	return r;
}

static int rf_remove(struct rf *rf, struct inode *dir, struct inode *c);

/* An unloaded directory c (the kernel holds it) whose object changed: its
 * new names, for the negative entries the kernel may hold under it; all of
 * the new object's when c was loaded at the snapshot and unloaded since. */
static int rf_unloaded_note(struct rf *rf, struct inode *c)
{
	struct rf_dir *d = c->type == DIROBJ_DIR ? rf_find(rf, c->id) : NULL;
	int r = 0;

	if (!d || !d->have || c->ds->loaded)
		return 0;
	if (d->unloaded)
		return rf_names_note(rf, c, d);
	for (size_t i = 0; r == 0 && i < d->obj.nentries; i++)
		r = rf_note(rf, c, d->obj.entries[i].name, d->obj.entries[i].name_len, NULL);
	return r;
}

/* Takes a loaded directory's children out with it. */
static int rf_remove_kids(struct rf *rf, struct inode *dir)
{
	size_t n;
	struct inode **k = rf_kids(dir, &n);
	int r = 0;

	if (!k)
		return -ENOMEM;
	for (size_t i = 0; r == 0 && i < n; i++)
		r = rf_remove(rf, dir, k[i]);
	free(k);
	return r;
}

static int rf_remove(struct rf *rf, struct inode *dir, struct inode *c)
{
	int r = rf_note(rf, dir, tree_name(c), c->name_len, NULL);

	if (r == 0 && c->type == DIROBJ_DIR && c->ds->loaded)
		r = rf_remove_kids(rf, c);
	if (r)
		return r;
	tree_inode_lock(c);
	c->foreign = true;
	tree_inode_unlock(c);
	return rf_reap_later(rf, tree_detach_locked(rf->t, c));
}

int rf_reap_later(struct rf *rf, struct inode *c)
{
	if (!c)
		return 0;
	if (rf->nreap == rf->rcap) {
		size_t cap = rf->rcap ? rf->rcap * 2 : 16;
		struct inode **p = realloc(rf->reap, cap * sizeof(*p));

		if (!p)
			return -ENOMEM; /* it stays detached, unfreed: a leak, not a loss */
		rf->reap = p;
		rf->rcap = cap;
	}
	rf->reap[rf->nreap++] = c;
	return 0;
}

static void rf_free_xattrs(struct inode *c)
{
	for (size_t i = 0; i < c->nxattrs; i++) {
		free(c->xattrs[i].name);
		free(c->xattrs[i].value);
	}
	free(c->xattrs);
	c->xattrs = NULL;
	c->nxattrs = 0;
}

/* c's attributes and xattrs from e, whose xattrs it takes (a file's content
 * is the same: rf_child replaces a file whose content changed). */
int rf_update(struct rf *rf, struct inode *c, struct dirobj_entry *e)
{
	int r = 0;

	tree_inode_lock(c);
	c->mode = e->mode;
	c->uid = e->uid;
	c->gid = e->gid;
	c->atime = e->atime;
	c->mtime = e->mtime;
	c->ctime = e->ctime;
	rf_free_xattrs(c);
	c->xattrs = e->xattrs;
	c->nxattrs = (uint32_t)e->nxattrs;
	e->xattrs = NULL;
	e->nxattrs = 0;
	if (c->type == DIROBJ_DIR)
		c->ds->ref = e->ref;
	tree_inode_unlock(c);
	return r ? r : rf_note(rf, NULL, NULL, 0, c);
}

static int rf_rename(struct rf *rf, struct inode *dir, struct inode *c,
		     const struct dirobj_entry *e)
{
	char *name = malloc(e->name_len + 1);
	int r = rf_note(rf, dir, tree_name(c), c->name_len, NULL);

	if (!name || r) {
		free(name);
		return r ? r : -ENOMEM;
	}
	memcpy(name, e->name, e->name_len + 1);
	tree_table_remove(rf->t, dir, c);
	tree_inode_set_name(c, name, e->name_len);
	r = tree_table_insert(rf->t, dir, c);
	return r ? r : rf_note(rf, dir, tree_name(c), c->name_len, NULL);
}

static int rf_add(struct rf *rf, struct inode *dir, struct dirobj_entry *e)
{
	struct inode *ino;
	bool done = false;
	int r = rf_links_add(rf, dir, e, &done);

	if (r || done)
		return r;
	r = tree_inode_from_entry(&ino, e);
	if (r)
		return r;
	r = tree_table_insert(rf->t, dir, ino);
	if (r) {
		tree_inode_free(ino);
		return r;
	}
	rf->t->ninodes++;
	return rf_note(rf, dir, tree_name(ino), ino->name_len, NULL);
}

/* One existing child against the new listing: gone, renamed, updated. */
static int rf_child(struct rf *rf, struct inode *dir, struct rf_dir *d, struct inode *c,
		    bool *matched)
{
	struct dirobj_entry *e;
	bool done = false;
	int r = rf_links_child(rf, dir, d, c, matched, &done);

	if (r || done)
		return r;
	e = rf_entry(d, c->id);
	if (!e)
		return rf_remove(rf, dir, c);
	if (c->type == DIROBJ_SYMLINK &&
	    (c->target_len != e->target_len || memcmp(c->target, e->target, e->target_len) != 0))
		return rf_remove(rf, dir, c); /* targets are immutable: a new inode */
	if (c->type == DIROBJ_FILE) {
		bool replaced;

		tree_inode_lock(c);
		replaced = rf_content_differs(c, e) || (rf->t->writeback && rf_mtime_differs(c, e));
		tree_inode_unlock(c);
		/* Other content: the name gets a new inode; handles open on the
		 * old one keep the version they opened (an orphan). In place,
		 * the kernel would keep the old size: with the write-back cache
		 * it never takes a cached regular file's size, mtime or ctime
		 * from us (another mtime alone, from a touch: a new inode too,
		 * else the kernel would show the old one until it evicts it). */
		if (replaced)
			return rf_remove(rf, dir, c);
	}
	matched[e - d->obj.entries] = true;
	if (c->name_len != e->name_len || memcmp(tree_name(c), e->name, e->name_len) != 0)
		r = rf_rename(rf, dir, c, e);
	if (r == 0)
		r = rf_update(rf, c, e);
	return r ? r : rf_unloaded_note(rf, c);
}

static int rf_apply(struct rf *rf, struct inode *dir)
{
	struct rf_dir *d = rf_find(rf, dir->id);
	struct inode **k;
	bool *matched = NULL;
	size_t n;
	int r = 0;

	if (d && d->have && !dir->ds->loaded) {
		/* The root, unloaded: its next load reads the new object (its
		 * names are noted by rf_unloaded_note; another directory's ref
		 * is set by rf_update). */
		dir->ds->ref = d->new_ref;
	} else if (d && d->have && !d->unloaded) {
		k = rf_kids(dir, &n);
		matched = calloc(d->obj.nentries + 1, sizeof(*matched));
		if (!k || !matched)
			r = -ENOMEM;
		for (size_t i = 0; r == 0 && i < n; i++)
			r = rf_child(rf, dir, d, k[i], matched);
		for (size_t i = 0; r == 0 && i < d->obj.nentries; i++)
			if (!matched[i])
				r = rf_add(rf, dir, &d->obj.entries[i]);
		free(k);
		free(matched);
		if (r)
			return r;
		dir->ds->ref = d->new_ref;
		tree_pages_set_locked(dir, d->pages);
		d->pages = NULL;
		tree_cache_touch_locked(rf->t, dir);
	}
	k = rf_kids(dir, &n);
	if (!k)
		return -ENOMEM;
	for (size_t i = 0; r == 0 && i < n; i++)
		if (k[i]->type == DIROBJ_DIR && k[i]->ds->loaded)
			r = rf_apply(rf, k[i]);
	free(k);
	return r;
}

void tree_inval_free(struct tree_inval *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i].name);
	free(v);
}

static void rf_release(struct rf *rf)
{
	for (size_t i = 0; i < rf->ndirs; i++) {
		dirobj_release(&rf->dirs[i].obj);
		dirio_pages_free(rf->dirs[i].pages);
		rf_names_free(&rf->dirs[i]);
	}
	free(rf->dirs);
	free(rf->reap);
	rf_links_free(rf);
}

/* The root's own attributes from the new head's root entry. */
static void rf_root(struct rf *rf, const struct dirobj_entry *root)
{
	struct inode *c = rf->t->root;

	tree_inode_lock(c);
	c->mode = root->mode;
	c->uid = root->uid;
	c->gid = root->gid;
	c->atime = root->atime;
	c->mtime = root->mtime;
	c->ctime = root->ctime;
	tree_inode_unlock(c);
}

int tree_refresh(struct tree *t, const struct dirobj_entry *root, const struct dirobj_ref *inodes,
		 struct tree_inval **out, size_t *nout)
{
	struct rf rf = {.t = t};
	bool links = tree_has_links(t);
	int r;

	*out = NULL;
	*nout = 0;
	pthread_mutex_lock(&t->lock);
	r = t->dirty ? -EAGAIN : rf_snapshot(&rf, t->root);
	pthread_mutex_unlock(&t->lock);
	if (r == 0 && rf.ndirs)
		qsort(rf.dirs, rf.ndirs, sizeof(*rf.dirs), id_cmp_dir);
	if (r == 0)
		r = rf_read(&rf, root);
	if (r == 0)
		r = rf_links_read(&rf, links, inodes);
	if (r == 0) {
		pthread_mutex_lock(&t->lock);
		r = t->dirty ? -EAGAIN : rf_check(&rf, t->root);
		if (r == 0)
			r = rf_links_pre(&rf);
		if (r == 0)
			r = rf_apply(&rf, t->root);
		if (r == 0)
			r = rf_links_post(&rf);
		if (r == 0) {
			rf_root(&rf, root);
			r = rf_note(&rf, NULL, NULL, 0, t->root);
		}
		if (r == 0)
			r = rf_unloaded_note(&rf, t->root);
		pthread_mutex_unlock(&t->lock);
	}
	for (size_t i = 0; i < rf.nreap; i++)
		tree_reap(t, rf.reap[i]);
	rf_release(&rf);
	if (r) {
		tree_inval_free(rf.inval, rf.ninval);
		return r;
	}
	*out = rf.inval;
	*nout = rf.ninval;
	return 0;
}
