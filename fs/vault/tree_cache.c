/* tree_cache.c - unloading idle parts of the in-memory tree: busy counts, the
 * LRU list of droppable directories and its trim (rules in tree_cache.h).
 * Must never free an inode the kernel or a handle still uses, nor the
 * children of a dirty directory; never logs. */
#include "tree_cache.h"
#include "tree_int.h"

#include <stdlib.h>

bool tree_cache_busy(const struct inode *ino)
{
	return ino->nlookup > 0 || ino->nopen > 0 || (ino->type == DIROBJ_DIR && ino->loaded);
}

static bool tree_cache_droppable(const struct inode *d)
{
	return d->type == DIROBJ_DIR && d->loaded && !d->dirty && !d->unlinked && d->busy_kids == 0;
}

static void tree_cache_unlink(struct tree *t, struct inode *d)
{
	if (!d->in_lru)
		return;
	if (d->lru_prev)
		d->lru_prev->lru_next = d->lru_next;
	else
		t->lru_head = d->lru_next;
	if (d->lru_next)
		d->lru_next->lru_prev = d->lru_prev;
	else
		t->lru_tail = d->lru_prev;
	d->lru_prev = d->lru_next = NULL;
	d->in_lru = false;
	t->lru_dirs--;
	t->lru_inodes -= d->lru_n;
}

static void tree_cache_push_front(struct tree *t, struct inode *d)
{
	d->lru_prev = NULL;
	d->lru_next = t->lru_head;
	if (t->lru_head)
		t->lru_head->lru_prev = d;
	else
		t->lru_tail = d;
	t->lru_head = d;
	d->in_lru = true;
	/* Counted as it is now: a droppable directory's children do not
	 * change (a change makes it dirty, which takes it out first). */
	d->lru_n = d->nchildren;
	t->lru_dirs++;
	t->lru_inodes += d->lru_n;
}

void tree_cache_touch_locked(struct tree *t, struct inode *dir)
{
	if (dir->type != DIROBJ_DIR)
		return;
	tree_cache_unlink(t, dir);
	if (tree_cache_droppable(dir))
		tree_cache_push_front(t, dir);
}

void tree_cache_changed_locked(struct tree *t, struct inode *ino, bool was_busy)
{
	struct inode *p = ino->parent;
	bool busy = tree_cache_busy(ino);

	if (!p || busy == was_busy)
		return;
	if (busy)
		p->busy_kids++;
	else
		p->busy_kids--;
	tree_cache_touch_locked(t, p);
}

/* Frees d's children (all idle: d is droppable) and marks d not loaded. */
static void tree_cache_evict(struct tree *t, struct inode *d)
{
	tree_cache_unlink(t, d);
	for (size_t i = 0; d->table && i < d->table_size; i++) {
		struct inode *c = d->table[i], *next;
		for (; c; c = next) {
			next = c->hash_next;
			tree_inode_free(c);
		}
	}
	t->ninodes -= d->nchildren;
	free(d->table);
	d->table = NULL;
	d->table_size = 0;
	d->nchildren = 0;
	d->loaded = false;
	/* d itself may now be idle, which may make its parent droppable. */
	tree_cache_changed_locked(t, d, true);
}

/* d's sealed object can be read back (from the cache, or from the store
 * where it came from). One written by a commit of this mount is in the
 * journal until the uploader has stored it and put it in the cache. */
static bool tree_cache_readable(struct tree *t, struct inode *d)
{
	char key[OBJECT_KEY_TEXT_BYTES];

	if (!d->obj_pending)
		return true;
	object_key_text(key, d->ref.store_key);
	d->obj_pending = !cache_has_object(t->cctx.cache, key);
	return !d->obj_pending;
}

void tree_cache_trim_locked(struct tree *t)
{
	size_t skips = 0;

	while ((t->lru_dirs > t->cache_dirs_max || t->lru_inodes > t->cache_inodes_max) &&
	       t->lru_tail && t->lru_tail != t->lru_head && skips < t->lru_dirs) {
		struct inode *d = t->lru_tail;

		if (tree_cache_readable(t, d)) {
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
