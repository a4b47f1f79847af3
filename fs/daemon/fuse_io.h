/* fuse_io.h - the session's own reads and writes of /dev/fuse, which accept
 * FUSE_HANDLE_KILLPRIV_V2 (fuse_io.c says why), and the one rule for
 * clearing set-user-ID and set-group-ID that it obliges us to apply. Must
 * never change a request. */
#ifndef SEALFS_FUSE_IO_H
#define SEALFS_FUSE_IO_H

#include <stdbool.h>
#include <sys/types.h>

#include "ops.h"
#include "tree.h"

/* Makes se read and write /dev/fuse through this file's hooks; call after
 * fuse_session_mount, before the loop. 0 or a negative errno. */
int fuse_io_install(struct fuse_session *se);

/* When the request this thread is handling carries the kernel's "kill
 * suid/sgid" flag (WRITE, SETATTR, OPEN, CREATE), clears them on ino as
 * fuse_io_killed_mode says; else does nothing. Call once per request, from
 * the thread that handles it. 0 or a negative errno of tree_setattr. */
int fuse_io_kill_suidgid(struct tree *t, struct inode *ino);

/* mode without S_ISUID, and without S_ISGID when group-execute is set (the
 * kernel's rule; set-group-ID without group-execute marks mandatory
 * locking and stays). Pure. */
mode_t fuse_io_killed_mode(mode_t mode);

#endif
