/* ops_file.c - the FUSE operations on a file's handle: open, create, read,
 * write (waiting, with no lock held, for cache room under --cache-size),
 * flush, release, fsync and fallocate. Dispatch only; it must never log
 * names or contents, and every failure a file met reaches its flush or
 * fsync (docs/INTERNALS.md, "Errors"). */
#include "ops_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>

#include "cache.h"
#include "chunk.h"
#include "commit.h"
#include "fuse_io.h"
#include "pagedrop.h"
#include "perm.h"

/* fi->fh of a file handle opened for writing: its flush reports the file's
 * unreported failure (a reader's close is not told of a writer's loss). */
#define OPS_FH_WRITER 1u

void ops_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct tree *t = ops_tree(req);
	struct inode *node = ops_inode(req, ino);
	int r = perm_op_open(req, node, fi->flags);

	if (r) {
		ops_reply_err(req, r);
		return;
	}
	r = tree_open_file(t, node, (fi->flags & O_TRUNC) != 0);
	if (r == 0 && (r = fuse_io_kill_suidgid(t, node)) != 0)
		tree_release_file(t, node);
	if (r) {
		ops_reply_err(req, r);
		return;
	}
	/* Every change to the content goes through this mount's page cache,
	 * so what the kernel cached is still right. */
	fi->keep_cache = 1;
	fi->fh = (fi->flags & O_ACCMODE) != O_RDONLY ? OPS_FH_WRITER : 0;
	/* Before the reply, while this open holds the inode: queues the next
	 * files' warming (no I/O here). */
	if (!fi->fh)
		tree_ahead_open(t, node);
	else
		pagedrop_open(t, ino);
	/* The reply frees req: t and node were taken before it. */
	if (fuse_reply_open(req, fi) == -ENOENT) {
		if (fi->fh)
			pagedrop_release(t, ino);
		tree_release_file(t, node);
	}
}

void ops_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		struct fuse_file_info *fi)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct tree *t = ops_tree(req);
	struct fuse_entry_param e;
	struct inode *ino = NULL;
	int r = perm_op_create(req, ops_inode(req, parent));

	if (r == 0)
		r = tree_create(t, ops_inode(req, parent), name, DIROBJ_FILE,
				(uint32_t)(mode & ~ctx->umask), ctx->uid, ctx->gid, NULL, &ino);

	if (r == 0)
		r = tree_open_file(t, ino, false);
	if (r == 0 && (r = fuse_io_kill_suidgid(t, ino)) != 0) {
		tree_release_file(t, ino);
		tree_forget(t, ino, 1);
	}
	if (r) {
		ops_reply_err(req, r);
		return;
	}
	ops_entry(t, ino, &e);
	fi->keep_cache = 1;
	fi->fh = OPS_FH_WRITER;
	pagedrop_open(t, e.ino);
	if (fuse_reply_create(req, &e, fi) == -ENOENT) {
		pagedrop_release(t, e.ino);
		tree_release_file(t, ino);
		tree_forget(t, ino, 1);
	}
}

void ops_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	char *buf = malloc(size ? size : 1);
	ssize_t n;

	(void)fi;
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	n = tree_read(ops_tree(req), ops_inode(req, ino), buf, size, (uint64_t)off);
	if (n < 0)
		ops_reply_err(req, (int)n);
	else
		fuse_reply_buf(req, buf, (size_t)n);
	free(buf);
}

/* Cache room a write may fill with new dirty segments (--cache-size): each
 * segment it touches, plus the one holding the old end of file, resealed
 * whole. */
static uint64_t ops_write_room(const struct tree *t, size_t size, off_t off)
{
	uint64_t first = (uint64_t)off / SEGMENT_PLAIN_BYTES;
	uint64_t last = ((uint64_t)off + (size ? size - 1 : 0)) / SEGMENT_PLAIN_BYTES;

	/* + 4 KiB: the cache counts sizes rounded up to 4 KiB blocks */
	return (last - first + 2) * (SEGMENT_CHUNKS * chunk_sealed_bytes(t->cctx.suite) + 4096);
}

void ops_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
	       struct fuse_file_info *fi)
{
	struct tree *t = ops_tree(req);
	uint64_t room;
	ssize_t n;

	(void)fi;
	if (off < 0) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	/* Waits (no lock held) while dirty data fills the cache. */
	room = ops_write_room(t, size, off);
	if (cache_room_wait(t->cctx.cache, room) != 0) {
		fuse_reply_err(req, ENOSPC);
		return;
	}
	/* Before the bytes, as the kernel's own file_remove_privs does. */
	n = fuse_io_kill_suidgid(t, ops_inode(req, ino));
	if (n == 0)
		n = tree_write(t, ops_inode(req, ino), buf, size, (uint64_t)off);
	cache_room_release(t->cctx.cache, room);
	if (n < 0) {
		ops_reply_err(req, (int)n);
		return;
	}
	pagedrop_write(t, ino, (uint64_t)off, (size_t)n);
	fuse_reply_write(req, (size_t)n);
}

/* A failure to report as close's or fsync's errno: a full cache stays
 * ENOSPC, memory ENOMEM, everything else EIO. */
static int ops_failure_errno(int r)
{
	if (r == -ENOSPC || r == -EDQUOT)
		return ENOSPC;
	return r == -ENOMEM ? ENOMEM : EIO;
}

/* close(2) of a handle (each close of each descriptor). Written data is
 * already in the cache and durability is fsync's job, but a failure this
 * file met since its last flush or fsync (a write the writeback cache sent
 * after write(2) returned, a background commit) is reported here, once. */
void ops_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	int r = 0;

	if (fi->fh & OPS_FH_WRITER)
		r = tree_take_error(ops_tree(req), ops_inode(req, ino));
	fuse_reply_err(req, r ? ops_failure_errno(r) : 0);
}

/* The last writable handle's release may queue the drop of the file's
 * pages (pagedrop.h); the kernel has written them back before it sends
 * RELEASE. */
void ops_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if (fi->fh & OPS_FH_WRITER)
		pagedrop_release(ops_tree(req), ino);
	tree_release_file(ops_tree(req), ops_inode(req, ino));
	fuse_reply_err(req, 0);
}

/* fsync, fdatasync and fsyncdir: commit the whole vault durably into the
 * cache's journal (and, with --fsync-store, wait until it is in the store). */
void ops_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	struct tree *t = ops_tree(req);
	int r, e;

	(void)datasync;
	(void)fi;
	r = commit_sync(t->commit);
	/* After the commit: a failure of this very commit is reported once,
	 * here, not again at close. */
	e = tree_take_error(t, ops_inode(req, ino));
	if (e)
		fuse_reply_err(req, ops_failure_errno(e));
	else
		ops_reply_err(req, r);
}

void ops_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off, off_t len,
		   struct fuse_file_info *fi)
{
	(void)fi;
	if (mode != 0) {
		fuse_reply_err(req, EOPNOTSUPP);
		return;
	}
	if (off < 0 || len <= 0) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	ops_reply_err(
	    req, tree_allocate(ops_tree(req), ops_inode(req, ino), (uint64_t)off, (uint64_t)len));
}
