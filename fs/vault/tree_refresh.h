/* tree_refresh.h - bringing a clean mounted tree to a newer head of the store
 * (another device's changes, or a merge with them; fs/vault/poll_head.c), in
 * place: inodes keep their addresses (node ids), children are matched by id.
 * What changed is reported so the daemon can tell the kernel. */
#ifndef SEALFS_TREE_REFRESH_H
#define SEALFS_TREE_REFRESH_H

#include <stddef.h>

#include "dirobj.h"
#include "tree.h"

/* One thing the kernel must forget: the entry `name` of directory `parent`
 * (name set), or the attributes and cached pages of `ino` (name NULL). The
 * pointers are node ids only (they may be freed by the time they are used:
 * the kernel answers ENOENT for an id it does not know). */
struct tree_inval {
	struct inode *parent;
	char *name; /* malloc'ed, NUL-terminated */
	size_t name_len;
	struct inode *ino;
};

/* Makes t show the tree of root (the new head's root entry; borrowed) and
 * the inode table inodes (the new head's "it", NULL: none; format 2): files
 * with several names keep their inodes (node ids) while their content is the
 * same, and a file that gains or loses names keeps its inode too;
 * every loaded directory whose object changed is read (no lock held), then
 * applied under tree_lock. The caller holds commit_lock and has made sure
 * no commit is pending (journal empty). *out (n entries) is new:
 * tree_inval_free. A file whose content changed gets a new inode (handles
 * open on the old one keep the old version: an orphan). -EAGAIN: the tree
 * has uncommitted changes, a loaded directory changed meanwhile, or a
 * directory whose object changed was loaded or looked up meanwhile (nothing
 * was changed; try again later); -EINVAL: an id changed
 * type; -EBADMSG, store errors (nothing changed); -ENOMEM (possibly half
 * applied: logged by the caller). Thread-safe. */
int tree_refresh(struct tree *t, const struct dirobj_entry *root, const struct dirobj_ref *inodes,
		 struct tree_inval **out, size_t *n);
void tree_inval_free(struct tree_inval *v, size_t n);

#endif
