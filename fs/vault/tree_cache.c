/* tree_cache.c - unloading idle parts of the in-memory tree: busy counts, the
 * LRU list of droppable directories and its trim (rules in tree_cache.h).
 * Must never free an inode the kernel or a handle still uses, nor the
 * children of a dirty directory; never logs. */
#include "tree_cache.h"
#include "tree_int.h"

#include <stdlib.h>

bool tree_cache_busy(const struct inode *ino)
{
	return ino->nlookup > 0 || ino->nopen > 0 || (ino->type == DIROBJ_DIR && ino->ds->loaded);
}

static bool tree_cache_droppable(const struct inode *d)
{
	return d->type == DIROBJ_DIR && d->ds->loaded && !d->ds->dirty && !d->unlinked &&
	       d->ds->busy_kids == 0;
}

static void tree_cache_unlink(struct tree *t, struct inode *d)
{
	if (!d->ds->in_lru)
		return;
	if (d->ds->lru_prev)
		d->ds->lru_prev->ds->lru_next = d->ds->lru_next;
	else
		t->lru_head = d->ds->lru_next;
	if (d->ds->lru_next)
		d->ds->lru_next->ds->lru_prev = d->ds->lru_prev;
	else
		t->lru_tail = d->ds->lru_prev;
	d->ds->lru_prev = d->ds->lru_next = NULL;
	d->ds->in_lru = false;
	t->lru_dirs--;
	t->lru_inodes -= d->ds->lru_n;
}

static void tree_cache_push_front(struct tree *t, struct inode *d)
{
	d->ds->lru_prev = NULL;
	d->ds->lru_next = t->lru_head;
	if (t->lru_head)
		t->lru_head->ds->lru_prev = d;
	else
		t->lru_tail = d;
	t->lru_head = d;
	d->ds->in_lru = true;
	/* Counted as it is now: a droppable directory's children do not
	 * change (a change makes it dirty, which takes it out first). */
	d->ds->lru_n = d->ds->nchildren;
	t->lru_dirs++;
	t->lru_inodes += d->ds->lru_n;
}

/* Puts dir in the list or takes it out; stamps its use for the inode cap
 * (tree_cap.c) only when used: a child going idle is no use of the directory
 * (else every unload would make its parent the most recently used). */
static void tree_cache_place(struct tree *t, struct inode *dir, bool used)
{
	if (dir->type != DIROBJ_DIR)
		return;
	if (used)
		dir->ds->used = ++t->use_clock;
	tree_cache_unlink(t, dir);
	if (tree_cache_droppable(dir))
		tree_cache_push_front(t, dir);
}

void tree_cache_touch_locked(struct tree *t, struct inode *dir) { tree_cache_place(t, dir, true); }

void tree_cache_changed_locked(struct tree *t, struct inode *ino, bool was_busy)
{
	struct inode *p = ino->parent;
	bool busy = tree_cache_busy(ino);

	if (!p || busy == was_busy)
		return;
	if (busy)
		p->ds->busy_kids++;
	else
		p->ds->busy_kids--;
	tree_cache_place(t, p, false);
}

/* Frees d's children (all idle: d is droppable) and marks d not loaded. */
static void tree_cache_evict(struct tree *t, struct inode *d)
{
	tree_cache_unlink(t, d);
	TREE_FOR_CHILDREN (d, c)
		tree_inode_free(c);
	t->ninodes -= d->ds->nchildren;
	t->unloaded += d->ds->nchildren;
	free(d->ds->table);
	d->ds->table = NULL;
	d->ds->table_size = 0;
	d->ds->nchildren = 0;
	d->ds->loaded = false;
	/* d itself may now be idle, which may make its parent droppable. */
	tree_cache_changed_locked(t, d, true);
}

bool tree_cache_readable_locked(struct tree *t, struct inode *d)
{
	char key[OBJECT_KEY_TEXT_BYTES];

	if (!d->ds->obj_pending)
		return true;
	object_key_text(key, d->ds->ref.store_key);
	/* A paged one's pages are stored in parallel with it: all of them. */
	d->ds->obj_pending =
	    !cache_has_object(t->cctx.cache, key) || !tree_pages_cached_locked(t, d);
	return !d->ds->obj_pending;
}

void tree_cache_trim_locked(struct tree *t)
{
	size_t skips = 0;

	while ((t->lru_dirs > t->cache_dirs_max || t->lru_inodes > t->cache_inodes_max ||
		(t->inode_cap && t->ninodes > t->inode_cap)) &&
	       t->lru_tail && t->lru_tail != t->lru_head && skips < t->lru_dirs) {
		struct inode *d = t->lru_tail;

		if (tree_cache_readable_locked(t, d)) {
			tree_cache_evict(t, d);
			continue;
		}
		/* Not yet uploaded: keep it, try the next one (a later trim
		 * drops it). */
		tree_cache_unlink(t, d);
		tree_cache_push_front(t, d);
		skips++;
	}
}
