/* tree_cache.h - unloading the in-memory tree (docs/INTERNALS.md, "In
 * memory"): which inodes something still needs ("busy"), the list of loaded
 * directories that could drop their children, least recently used first, and
 * the trim that drops them while the list is over its budget.
 *
 * An inode is busy while the kernel holds a lookup on it (nlookup > 0), a
 * handle is open on it (nopen > 0), or, for a directory, while its children
 * are loaded. A directory can drop its children ("droppable") when it is
 * loaded, clean (it and everything below it is committed: dirty implies the
 * parent is dirty), in the namespace, and none of its children is busy: then
 * the kernel names none of them, so freeing them cannot free a node id the
 * kernel still uses. The next lookup reads them again from the directory's
 * sealed object (through the cache).
 *
 * Every call needs tree_lock (tree.h). Must never free a busy inode, nor a
 * directory's children while it is dirty. */
#ifndef SEALFS_TREE_CACHE_H
#define SEALFS_TREE_CACHE_H

#include <stdbool.h>

#include "tree.h"

/* Budget of the droppable directories kept loaded: at most this many, and at
 * most this many children in them together (about 200 bytes with its
 * name each). Busy directories are not counted: the kernel decides how many inodes
 * it keeps. */
#define TREE_CACHE_DIRS 1024
#define TREE_CACHE_INODES 16384

/* d's sealed object can be read back (from the cache, or from the store
 * where it came from), so its children may be dropped. One written by a
 * commit of this mount is in the journal until the uploader has stored it and
 * put it in the cache. */
bool tree_cache_readable_locked(struct tree *t, struct inode *d);

/* Whether ino is busy (see above). */
bool tree_cache_busy(const struct inode *ino);

/* After ino's nlookup, nopen or loaded changed: updates its parent's count
 * of busy children and the parent's place in the list (a directory whose last
 * busy child went idle counts as just used). was_busy is
 * tree_cache_busy(ino) from before the change. */
void tree_cache_changed_locked(struct tree *t, struct inode *ino, bool was_busy);

/* After dir's loaded, dirty or unlinked state changed, or it was used (a
 * lookup, a listing): puts dir into the list (at the front: just used) when
 * it is droppable, takes it out when not. */
void tree_cache_touch_locked(struct tree *t, struct inode *dir);

/* Drops the children of the least recently used droppable directories while
 * the list is over budget, or the tree over its inode cap (tree_cap.h); never the most recently
 * used one (a directory just loaded for a lookup stays until that lookup has taken its reference).
 * Frees only idle inodes. */
void tree_cache_trim_locked(struct tree *t);

#endif
