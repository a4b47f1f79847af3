/* mount_cap.h - the mount's inode cap thread (fs/vault/tree_cap.h): while
 * the tree holds more inodes than its cap, asks the kernel to forget idle
 * names so that their FORGETs let the tree unload them. It must never call
 * the kernel from a FUSE request or holding a lock (libfuse: a notification
 * may wait on a request in progress), and never loop on a kernel that keeps
 * the names (an open file, a working directory): a round that freed nothing
 * doubles the wait before the next, up to MOUNT_CAP_BACKOFF_MAX_MS. */
#ifndef SEALFS_MOUNT_CAP_H
#define SEALFS_MOUNT_CAP_H

#include "ops.h"
#include "tree.h"

/* How often the thread looks at the tree's inode count. */
#define MOUNT_CAP_TICK_MS 200u
#define MOUNT_CAP_BACKOFF_MAX_MS 60000u

struct mount_cap;

/* Sets t->inode_cap (TREE_INODE_CAP, or SEALFS_INODE_CAP from the
 * environment: a count, 0 for no cap; a bad value is logged and the default
 * kept) and, when it is not 0, starts the thread on se and t (both borrowed:
 * they outlive mount_cap_stop). Returns NULL without a cap or when the
 * thread could not start (logged: the mount runs without one). */
struct mount_cap *mount_cap_start(struct fuse_session *se, struct tree *t);

/* Stops and joins the thread and frees c; NULL is fine. Call before the
 * session and the tree go. */
void mount_cap_stop(struct mount_cap *c);

#endif
