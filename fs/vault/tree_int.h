/* tree_int.h - what the tree's files (tree.c, tree_load.c, tree_ns.c,
 * tree_attr.c, tree_io.c, tree_error.c, tree_cache.c) share and nobody else
 * may call: inode allocation, a directory's hash table of children, taking an
 * inode out of the namespace, and the file-error and truncate hooks. Every
 * call states the lock it needs (tree.h, "Locks"); none waits on the store. */
#ifndef SEALFS_TREE_INT_H
#define SEALFS_TREE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tree.h"

/* ---- inodes (tree.c) ---- */

/* A zeroed inode of type named name (len bytes, copied inline; len at most
 * TREE_NAME_MAX), or NULL (out of memory). */
struct inode *tree_inode_alloc(enum dirobj_type type, const char *name, size_t len);
/* Renames ino (tree_lock held) to name (len bytes + NUL, malloc'ed, taken):
 * copied inline and freed when it fits, else kept as ino's name. */
void tree_inode_set_name(struct inode *ino, char *name, size_t len);
/* Frees one inode (not its children); content is released, not forgotten. */
void tree_inode_free(struct inode *ino);

/* ---- loading (tree_load.c) ---- */

/* Makes an inode from a decoded entry, stealing its target and xattrs (the
 * name is copied into the inode). 0 or -ENOMEM. */
int tree_inode_from_entry(struct inode **out, struct dirobj_entry *e);
/* Reads (through the cache; no lock may be held), opens and decodes
 * directory object ref of directory id into *obj. */
int tree_read_dirobj(struct tree *t, const uint8_t id[OBJECT_ID_BYTES],
		     const struct dirobj_ref *ref, struct dirobj *obj);
/* The same, with the object's paged state (dirio.h) in *pages (new, or NULL
 * for one object) for tree_pages_set_locked. */
int tree_read_dir_pages(struct tree *t, const uint8_t id[OBJECT_ID_BYTES],
			const struct dirobj_ref *ref, struct dirobj *obj,
			struct dirio_pages **pages);

/* A directory's children decoded from one object, not yet in the tree: kids
 * (n inodes, each owned) and, in format 3, the object's paged state. */
struct tree_decoded {
	struct inode **kids;
	size_t n;
	struct dirio_pages *pages;
};
/* Reads directory object ref of directory id (no lock may be held) and
 * turns its entries into inodes in *out (new: tree_decoded_free, or the
 * install takes them). quiet (a decode ahead): only a cached object is
 * read (-EAGAIN else), nothing is logged and a damaged object stays in the
 * cache; otherwise failures are logged once and an object that failed to
 * authenticate is dropped from the cache. 0, -EBADMSG, -ENOMEM, -EIO. */
int tree_decode_dir(struct tree *t, const uint8_t id[OBJECT_ID_BYTES], const struct dirobj_ref *ref,
		    bool quiet, struct tree_decoded *out);
/* Frees what d still owns (NULL members are fine) and zeroes it. */
void tree_decoded_free(struct tree_decoded *d);

/* ---- decoding directories ahead (tree_early.c) ---- */

/* Queues directories ids[0..n) (object refs[i]) to be decoded on the
 * worker, ids[0] first; never blocks, drops the oldest waiting ones when
 * full. Takes only the worker's lock: call without tree_lock. e NULL:
 * nothing. */
void tree_early_add(struct tree_early *e, const uint8_t (*ids)[OBJECT_ID_BYTES],
		    const struct dirobj_ref *refs, size_t n);
/* Before a load decodes directory id at ref itself: takes it out of the
 * queue when it waits there, waits while the worker decodes it, and moves a
 * decode of exactly that object into *out (true). False: the caller decodes
 * (a failed decode ahead is never kept: the caller's own reports it). Call
 * without tree_lock. e NULL: false. */
bool tree_early_take(struct tree_early *e, const uint8_t id[OBJECT_ID_BYTES],
		     const struct dirobj_ref *ref, struct tree_decoded *out);

/* ---- a directory's children, hashed by name (tree_table.c; tree_lock held) ---- */

/* The child of dir named name (len bytes), or NULL; dir need not be loaded. */
struct inode *tree_child(const struct tree *t, const struct inode *dir, const char *name,
			 size_t len);
/* The slot of child c in dir's table, or SIZE_MAX when it is not there. */
size_t tree_table_slot(const struct tree *t, const struct inode *dir, const struct inode *c);
/* Makes room in dir's table for n more children. 0, or -ENOMEM (growing
 * failed and the table has no slot to spare for them). */
int tree_table_reserve(const struct tree *t, struct inode *dir, size_t n);
/* Inserts c (name set) into dir and makes dir its parent. -ENOMEM only when
 * the table cannot grow and is full: never after tree_table_reserve(dir, 1)
 * returned 0 under the same hold of tree_lock, nor right after a child was
 * removed from dir. */
int tree_table_insert(const struct tree *t, struct inode *dir, struct inode *c);
/* Takes c out of dir's table (its parent becomes NULL). Moves other
 * entries: never call it while walking the table. */
void tree_table_remove(const struct tree *t, struct inode *dir, struct inode *c);

/* Unlinked inodes still referenced, by address (tree_table.c; tree_lock). An
 * add that cannot allocate logs once per failure and leaves ino out (it is
 * still reaped when forgotten). */
void tree_orphan_add(struct tree *t, struct inode *ino);
void tree_orphan_remove(struct tree *t, struct inode *ino);
/* Empties the set; returns its table (size slots, NULL ones among them; the
 * caller frees it). */
struct inode **tree_orphans_take(struct tree *t, size_t *size);

/* ---- leaving the namespace (tree.c) ---- */

/* Takes c out of the namespace (tree_lock held). Returns the inode the
 * caller must tree_reap after unlocking (c, or for the last name of a linked
 * file that file), or NULL: it waits as an orphan, or (a name of a file
 * with other names) c was freed. */
struct inode *tree_detach_locked(struct tree *t, struct inode *c);
/* The same for c in no directory's table (a linked file's inode, which a
 * refresh drops): unlinked, then reapable (returned) or an orphan (NULL). */
struct inode *tree_orphan_locked(struct tree *t, struct inode *c);
/* Frees an unlinked inode nobody references; its segments become garbage.
 * Called without locks: nothing else can reach ino any more. */
void tree_reap(struct tree *t, struct inode *ino);

/* Something changed (tree_lock held): the committer has work. */
void tree_set_dirty_locked(struct tree *t);
/* Makes an inode from a decoded entry, stealing its target and xattrs (the
 * name is copied into the inode). tree_load.c. */
int tree_inode_from_entry(struct inode **out, struct dirobj_entry *e);

/* ---- tree_ns.c, for tree_link.c ---- */

/* 0, -ENAMETOOLONG or -EINVAL (empty, ".", ".."). */
int tree_check_name(const char *name, size_t *len);
/* Loads dir and returns with tree_lock held and dir loaded, or an error
 * without the lock (the caller holds a reference on dir). */
int tree_lock_loaded(struct tree *t, struct inode *dir);
/* Takes n kernel references on ino (tree_lock held). */
void tree_ref_locked(struct tree *t, struct inode *ino, uint64_t n);
/* dir's entries changed (tree_lock held): its times, dirty. */
void tree_dir_changed_locked(struct tree *t, struct inode *dir);

/* ---- files with several names (tree_link.c, tree_link_io.c; tree_lock) ---- */

/* Makes t->itable (empty). 0 or -ENOMEM. */
int tree_links_new(struct tree *t);
/* Reads the whole inode table named by ref (tree_open, before the root
 * loads; no lock needed: nobody else sees t yet). 0, -EBADMSG, store errors. */
int tree_links_load(struct tree *t, const struct dirobj_ref *ref);
/* Frees the table and every linked file inode (tree_free). */
void tree_links_free(struct tree *t);
/* Newly loaded children (tree_lock held): each name gets its file; a name
 * with no record, or a file entry whose id is in the table, is -EBADMSG. */
int tree_links_resolve_locked(struct tree *t, struct inode **kids, size_t n);
/* A linked file's attributes or content changed: its page needs sealing. */
void tree_link_changed_locked(struct tree *t, struct inode *file);
/* Name h (out of its directory's table) is gone: frees it; returns its file
 * when that was its last name (no longer linked; the caller unlinks it),
 * else NULL. */
struct inode *tree_link_unname_locked(struct tree *t, struct inode *h);
/* The file a name or file inode stands for: h->link's file for a name. */
struct inode *tree_link_file(struct inode *c);
/* st_nlink of a linked file. */
uint32_t tree_link_nlink_locked(const struct tree *t, const struct inode *file);
/* Calls fn on every linked file. */
void tree_links_foreach_locked(struct tree *t, void (*fn)(void *arg, struct inode *file),
			       void *arg);

/* A format-1 vault refused what (plural, e.g. "hard links"): logs once a
 * mount that format 2 stores them and `sealfs upgrade` converts. */
void tree_format1_refused(struct tree *t, const char *what);

/* ---- a file's failures (tree_error.c) and size (tree_io.c) ---- */

/* A change to ino's content failed with r (ino's lock held). Unless r is a
 * refusal that changed nothing (-EFBIG, -EINVAL), the content goes back to
 * its last commit (content_revert), r becomes its unreported error, further
 * changes are refused until it is reported, and one line is logged.
 * Returns r. */
int tree_change_failed_locked(struct tree *t, struct inode *ino, int r, const char *what);
/* The error a change must fail with while ino is stopped, else 0 (ino's lock held). */
int tree_stopped_locked(const struct inode *ino);
/* Truncates ino's content to size (ino's lock held; it is dropped while a
 * segment is fetched); a failure reverts the file and is remembered
 * (tree_error.c). 0 or -errno. */
int tree_truncate_locked(struct tree *t, struct inode *ino, uint64_t size);
/* A file's content as a content_file (ino's lock held): makes a cold file's
 * (content_thaw). 0 or -ENOMEM. */
int tree_file_thaw_locked(struct inode *ino);
/* A file's size (ino's lock held). */
uint64_t tree_file_size_locked(const struct inode *ino);
/* ino's attributes or content changed (tree_lock held): its directory needs
 * a new object. */
void tree_attr_changed_locked(struct tree *t, struct inode *ino);

#endif
