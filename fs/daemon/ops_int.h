/* ops_int.h - what the FUSE operations files (ops.c, ops_file.c) share and
 * nobody else may call: reaching the tree and an inode from a request,
 * replying with an error or an entry, and the file handlers the table in
 * ops.c names. Dispatch only: it must never hold a lock across a reply nor
 * log names or contents. */
#ifndef SEALFS_OPS_INT_H
#define SEALFS_OPS_INT_H

#include "ops.h"
#include "tree.h"

/* The tree of req (borrowed); notes the time for --idle-lock. */
struct tree *ops_tree(fuse_req_t req);
/* The inode of node id ino (borrowed: the kernel holds a lookup on it). */
struct inode *ops_inode(fuse_req_t req, fuse_ino_t ino);
/* Replies with r (0 or a negative errno, mapped to the kernel's). */
void ops_reply_err(fuse_req_t req, int r);
/* Fills e for ino (node id, timeouts, attributes). */
void ops_entry(struct tree *t, struct inode *ino, struct fuse_entry_param *e);

/* ---- files (ops_file.c) ---- */

void ops_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void ops_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		struct fuse_file_info *fi);
void ops_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi);
void ops_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
	       struct fuse_file_info *fi);
void ops_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void ops_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
/* fsync, fdatasync and fsyncdir. */
void ops_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi);
void ops_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off, off_t len,
		   struct fuse_file_info *fi);

#endif
