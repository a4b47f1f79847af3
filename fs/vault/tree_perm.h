/* tree_perm.h - what the daemon's own permission checks (fs/daemon/perm.h)
 * read from the tree: the owner, group and mode of an inode or of a name in
 * a directory, and the names the kernel may have cached under a directory
 * whose mode or owner changed. It decides nothing: the rules are perm.c's.
 * Thread-safe; it never logs a name. */
#ifndef SEALFS_TREE_PERM_H
#define SEALFS_TREE_PERM_H

#include <stdint.h>

#include "tree.h"
#include "tree_refresh.h"

/* What a permission check needs of one inode. */
struct tree_owner {
	uint32_t mode; /* with the type bits */
	uint32_t uid, gid;
	struct dirobj_time mtime;
};

/* ino's owner, group and mode (takes ino's lock). */
void tree_owner_of(const struct inode *ino, struct tree_owner *out);

/* The owner of dir's child name (its file for a hard link), loading dir
 * when it is not loaded. 0; -ENOENT (no such name, or a name that is not a
 * valid one); -ENAMETOOLONG; a load's error. Takes no reference. */
int tree_owner_at(struct tree *t, struct inode *dir, const char *name, struct tree_owner *out);

/* Directory dir's entry in its parent (none for the root or an unlinked
 * directory) followed by each child the tree holds (the kernel can only
 * hold entries for those: a directory drops its children only once the
 * kernel holds none of them), as invalidations (tree_refresh.h): *out, n
 * entries, free with tree_inval_free. 0 or -ENOMEM (nothing returned). */
int tree_names_under(struct tree *t, struct inode *dir, struct tree_inval **out, size_t *n);

#endif
