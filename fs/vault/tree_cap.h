/* tree_cap.h - the inode cap (docs/INTERNALS.md, "In memory"): the tree's
 * inodes stay near a budget whatever the kernel keeps. The daemon unloads a
 * directory's children only once the kernel has forgotten them (FORGET),
 * which the kernel does only under memory pressure; so when the tree holds
 * more than its cap, the mount asks the kernel to drop the names of idle
 * inodes (fuse_lowlevel_notify_inval_entry, fs/daemon/mount_cap.c), least
 * recently used directories first, and the FORGETs that follow let
 * tree_cache.c unload them. Dropping a kernel name never loses a change: the
 * tree frees only what tree_cache.h allows (clean, committed, readable back).
 *
 * Every call needs tree_lock (tree.h). Never logs. */
#ifndef SEALFS_TREE_CAP_H
#define SEALFS_TREE_CAP_H

#include <stddef.h>

#include "tree.h"
#include "tree_refresh.h"

/* The default cap: 131,072 inodes, about 22 MiB of tree (170 bytes each):
 * a create of 1,000,000 files peaked at 152 MiB with 262,144, at 120 MiB
 * with this (docs/PERFORMANCE.md, "Scale"). SEALFS_INODE_CAP in the
 * daemon's environment overrides it (0: no cap). */
#define TREE_INODE_CAP 131072u
/* A round asks for at most this many names. */
#define TREE_CAP_ROUND_MAX 65536u

/* When t->ninodes is over t->inode_cap: the names whose kernel entries
 * should go to bring it to three quarters of the cap (hysteresis: the next
 * round is not due at once), at most TREE_CAP_ROUND_MAX: the idle
 * non-directories (never a directory: it may be a working directory) of the loaded clean
 * directories that are not open, least recently used first, never of the
 * most recently used one (a walk is in it). Idle: the kernel holds a lookup
 * (not pinned), no handle is open, a file's content is cold (closed and
 * clean). Each *out entry has parent and a malloc'ed name (ino NULL: a name,
 * not an inode); free with tree_inval_free. parent is a node id for the
 * kernel, not a pointer to use: it may be freed once tree_lock is dropped.
 * *n = 0 and *out NULL when nothing is over or nothing is idle.
 * Returns 0 or -ENOMEM. */
int tree_cap_pick_locked(struct tree *t, struct tree_inval **out, size_t *n);

#endif
