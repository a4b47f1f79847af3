/* ops.h - the FUSE low-level operations table: dispatch from kernel requests
 * to the vault engine (fs/vault). The only place besides mount.c that knows
 * FUSE; it must never hold a lock of its own across a reply. */
#ifndef SEALFS_OPS_H
#define SEALFS_OPS_H

#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>

/* The operations table; its userdata is a struct tree (borrowed). */
const struct fuse_lowlevel_ops *ops_table(void);

#endif
