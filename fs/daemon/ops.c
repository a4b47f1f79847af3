/* ops.c - the FUSE low-level operations: decode the request, call tree.c or
 * commit.c, encode the reply. Dispatch only: no filesystem logic lives here.
 * The session, attributes, namespace, directories and xattrs are here, a
 * file's open/read/write/flush/fsync in ops_file.c; the table names both.
 * Node ids are struct inode addresses (the root is FUSE_ROOT_ID); all state
 * is reached through fuse_req_userdata (a struct tree), never a global.
 * It must never log names or contents. */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "fuse_io.h"
#include "ops_int.h"
#include "perm.h"
#include "tree.h"

#define OPS_MAX_WRITE (1u << 20)

/* The tree, without counting as activity: for getattr and statfs, which file
 * managers and shells poll (they must not keep --idle-lock from locking). */
static struct tree *ops_tree_quiet(fuse_req_t req) { return fuse_req_userdata(req); }

/* Almost every request passes here: it notes the time for --idle-lock. */
struct tree *ops_tree(fuse_req_t req)
{
	struct tree *t = ops_tree_quiet(req);
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	atomic_store_explicit(&t->last_request_s, (int64_t)now.tv_sec, memory_order_relaxed);
	return t;
}

struct inode *ops_inode(fuse_req_t req, fuse_ino_t ino)
{
	return ino == FUSE_ROOT_ID ? ops_tree_quiet(req)->root : (struct inode *)(uintptr_t)ino;
}

/* How long the kernel may cache entries, negative entries and attributes
 * (--entry-timeout, mount.h). Every change reaches the kernel through its own
 * request, or as an invalidation: another device's (tree_refresh.h, also of
 * the names under directories the daemon unloaded) and the inode cap's. */
static double ops_timeout(const struct tree *t) { return (double)t->entry_timeout_s; }

/* A regular file's attributes keep 1 s (at most --entry-timeout): its block
 * count changes as the kernel writes its pages back, a WRITE reply carries
 * no attributes, and the write-back cache does not make the kernel ask
 * again after a write, so only the timeout brings st_blocks up to date. */
#define OPS_FILE_ATTR_TIMEOUT_S 1.0

static double ops_attr_timeout(const struct tree *t, mode_t mode)
{
	double all = ops_timeout(t);

	return S_ISREG(mode) && all > OPS_FILE_ATTR_TIMEOUT_S ? OPS_FILE_ATTR_TIMEOUT_S : all;
}

static fuse_ino_t ops_nodeid(const struct tree *t, const struct inode *ino)
{
	return ino == t->root ? FUSE_ROOT_ID : (fuse_ino_t)(uintptr_t)ino;
}

/* Our errors to the kernel's: a failed authentication, and a store that
 * cannot be reached for an object not in the cache, are I/O errors. */
static int ops_errno(int r)
{
	if (r == -EBADMSG || r == -EPROTO || r == -ECONNREFUSED || r == -ETIMEDOUT ||
	    r == -EHOSTUNREACH || r == -ENETUNREACH || r == -ECONNRESET)
		return EIO;
	return r < 0 ? -r : EIO;
}

void ops_reply_err(fuse_req_t req, int r) { fuse_reply_err(req, r ? ops_errno(r) : 0); }

void ops_entry(struct tree *t, struct inode *ino, struct fuse_entry_param *e)
{
	memset(e, 0, sizeof(*e));
	e->ino = ops_nodeid(t, ino);
	e->entry_timeout = ops_timeout(t);
	tree_getattr(t, ino, &e->attr);
	e->attr_timeout = ops_attr_timeout(t, e->attr.st_mode);
}

/* Replies with a new entry (a kernel reference already taken) or the error. */
static void ops_reply_entry(fuse_req_t req, int r, struct inode *ino)
{
	struct tree *t = ops_tree(req);
	struct fuse_entry_param e;

	if (r) {
		ops_reply_err(req, r);
		return;
	}
	ops_entry(t, ino, &e);
	if (fuse_reply_entry(req, &e) == -ENOENT)
		tree_forget(t, ino, 1); /* the request was interrupted */
}

/* ---- session ---- */

static void ops_init(void *userdata, struct fuse_conn_info *conn)
{
	struct tree *t = userdata;
	unsigned want = FUSE_CAP_WRITEBACK_CACHE | FUSE_CAP_READDIRPLUS |
			FUSE_CAP_READDIRPLUS_AUTO | FUSE_CAP_ASYNC_READ | FUSE_CAP_PARALLEL_DIROPS |
			FUSE_CAP_ATOMIC_O_TRUNC | FUSE_CAP_CACHE_SYMLINKS;

	conn->want |= want & conn->capable;
	/* Not the old HANDLE_KILLPRIV: the kernel keeps clearing set-user-ID
	 * bits, except where KILLPRIV_V2 (fuse_io.c, past libfuse) hands it
	 * to us. No export, no remote locks (the kernel's local locks are
	 * right for one mount). */
	conn->want &= ~(unsigned)(FUSE_CAP_HANDLE_KILLPRIV | FUSE_CAP_EXPORT_SUPPORT |
				  FUSE_CAP_POSIX_LOCKS | FUSE_CAP_FLOCK_LOCKS);
	conn->max_write = OPS_MAX_WRITE;
	conn->time_gran = 1;
	t->writeback = (conn->want & FUSE_CAP_WRITEBACK_CACHE) != 0;
}

static void ops_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct tree *t = ops_tree(req);
	struct inode *ino = NULL;
	int r = perm_op_lookup(req, ops_inode(req, parent));

	if (r == 0)
		r = tree_lookup(t, ops_inode(req, parent), name, &ino);

	if (r == -ENOENT) {
		/* A negative entry the kernel may cache: we see every create,
		 * and a poll invalidates the names other devices add. */
		struct fuse_entry_param e = {.ino = 0, .entry_timeout = ops_timeout(t)};
		fuse_reply_entry(req, &e);
		return;
	}
	ops_reply_entry(req, r, ino);
}

static void ops_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	tree_forget(ops_tree(req), ops_inode(req, ino), nlookup);
	fuse_reply_none(req);
}

static void ops_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	for (size_t i = 0; i < count; i++)
		tree_forget(ops_tree(req), ops_inode(req, forgets[i].ino), forgets[i].nlookup);
	fuse_reply_none(req);
}

/* ---- attributes ---- */

static void ops_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct stat st;

	(void)fi;
	tree_getattr(ops_tree_quiet(req), ops_inode(req, ino), &st);
	fuse_reply_attr(req, &st, ops_attr_timeout(ops_tree_quiet(req), st.st_mode));
}

static void ops_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
			struct fuse_file_info *fi)
{
	static const struct {
		int fuse;
		unsigned tree;
	} map[] = {
	    {FUSE_SET_ATTR_MODE, TREE_SET_MODE},
	    {FUSE_SET_ATTR_UID, TREE_SET_UID},
	    {FUSE_SET_ATTR_GID, TREE_SET_GID},
	    {FUSE_SET_ATTR_SIZE, TREE_SET_SIZE},
	    {FUSE_SET_ATTR_ATIME, TREE_SET_ATIME},
	    {FUSE_SET_ATTR_MTIME, TREE_SET_MTIME},
	    {FUSE_SET_ATTR_CTIME, TREE_SET_CTIME},
	    {FUSE_SET_ATTR_ATIME_NOW, TREE_SET_ATIME_NOW},
	    {FUSE_SET_ATTR_MTIME_NOW, TREE_SET_MTIME_NOW},
	};
	struct tree *t = ops_tree(req);
	struct inode *node = ops_inode(req, ino);
	struct tree_setattr sa = {.mode = attr->st_mode,
				  .uid = attr->st_uid,
				  .gid = attr->st_gid,
				  .size = (uint64_t)attr->st_size,
				  .atime = attr->st_atim,
				  .mtime = attr->st_mtim,
				  .ctime = attr->st_ctim};
	int r;

	struct perm_setattr ps = {
	    .mode = sa.mode, .uid = sa.uid, .gid = sa.gid, .mtime = sa.mtime, .fh = fi != NULL};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (to_set & map[i].fuse)
			sa.valid |= map[i].tree;
	if ((sa.valid & TREE_SET_SIZE) && attr->st_size < 0) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	ps.valid = sa.valid;
	r = perm_op_setattr(req, node, &ps);
	sa.mode = ps.mode; /* without S_ISGID for a non-member */
	if (r == 0)
		r = tree_setattr(t, node, &sa);
	if (r == 0)
		perm_op_setattr_done(req, node, &ps);
	if (r == 0) /* a truncate, chown or the kernel's kill asks us to clear suid/sgid */
		r = fuse_io_kill_suidgid(t, node);
	if (r) {
		ops_reply_err(req, r);
		return;
	}
	ops_getattr(req, ino, NULL);
}

static void ops_readlink(fuse_req_t req, fuse_ino_t ino)
{
	const char *target;
	int r = tree_readlink(ops_tree(req), ops_inode(req, ino), &target);

	if (r)
		ops_reply_err(req, r);
	else
		fuse_reply_readlink(req, target);
}

static void ops_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct tree *t = ops_tree_quiet(req);
	struct statvfs sv, out = {.f_bsize = 4096, .f_frsize = 4096, .f_namemax = TREE_NAME_MAX};
	uint64_t n;

	(void)ino;
	if (statvfs(t->cache_dir, &sv) != 0) {
		fuse_reply_err(req, errno);
		return;
	}
	out.f_blocks = (fsblkcnt_t)((uint64_t)sv.f_blocks * sv.f_frsize / 4096);
	out.f_bfree = (fsblkcnt_t)((uint64_t)sv.f_bfree * sv.f_frsize / 4096);
	out.f_bavail = (fsblkcnt_t)((uint64_t)sv.f_bavail * sv.f_frsize / 4096);
	pthread_mutex_lock(&t->lock);
	n = t->ninodes;
	pthread_mutex_unlock(&t->lock);
	out.f_files = (fsfilcnt_t)1 << 32;
	out.f_ffree = out.f_favail = out.f_files - (n < out.f_files ? n : 0);
	fuse_reply_statfs(req, &out);
}

/* ---- namespace ---- */

static void ops_make(fuse_req_t req, fuse_ino_t parent, const char *name, enum dirobj_type type,
		     mode_t mode, const char *target)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct inode *ino = NULL;
	int r = perm_op_create(req, ops_inode(req, parent));

	if (r == 0)
		r = tree_create(ops_tree(req), ops_inode(req, parent), name, type,
				(uint32_t)(mode & ~ctx->umask), ctx->uid, ctx->gid, target, &ino);

	ops_reply_entry(req, r, ino);
}

/* The entry type of a mknod mode, or 0 for a type no vault stores. */
static enum dirobj_type ops_mknod_type(mode_t mode)
{
	switch (mode & S_IFMT) {
	case 0:
	case S_IFREG:
		return DIROBJ_FILE;
	case S_IFIFO:
		return DIROBJ_FIFO;
	case S_IFSOCK:
		return DIROBJ_SOCK;
	case S_IFCHR:
		return DIROBJ_CHR;
	case S_IFBLK:
		return DIROBJ_BLK;
	}
	return 0;
}

/* Regular files, FIFOs, sockets (bind) and device nodes. The kernel checks
 * CAP_MKNOD for devices before it sends MKNOD (vfs_mknod); it does their
 * I/O itself and never sends OPEN for them. */
static void ops_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	enum dirobj_type type = ops_mknod_type(mode);
	struct inode *ino = NULL;
	int r;

	if (type == DIROBJ_FILE) {
		ops_make(req, parent, name, DIROBJ_FILE, mode, NULL);
		return;
	}
	r = type ? perm_op_create(req, ops_inode(req, parent)) : -EINVAL;
	r = r == 0 ? tree_mknod(ops_tree(req), ops_inode(req, parent), name, type,
				(uint32_t)(mode & ~ctx->umask), ctx->uid, ctx->gid, (uint64_t)rdev,
				&ino)
		   : r;
	ops_reply_entry(req, r, ino);
}

static void ops_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	ops_make(req, parent, name, DIROBJ_DIR, mode, NULL);
}

static void ops_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	ops_make(req, parent, name, DIROBJ_SYMLINK, 0777, link);
}

static void ops_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	int r = perm_op_remove(req, ops_inode(req, parent), name);

	ops_reply_err(req, r ? r : tree_remove(ops_tree(req), ops_inode(req, parent), name, false));
}

static void ops_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	int r = perm_op_remove(req, ops_inode(req, parent), name);

	ops_reply_err(req, r ? r : tree_remove(ops_tree(req), ops_inode(req, parent), name, true));
}

static void ops_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		       const char *newname, unsigned int flags)
{
	unsigned tf = 0;
	int r;

	if (flags & ~(unsigned)(RENAME_NOREPLACE | RENAME_EXCHANGE)) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	r = perm_op_rename(req, ops_inode(req, parent), name, ops_inode(req, newparent), newname,
			   flags);
	if (r) {
		ops_reply_err(req, r);
		return;
	}
	if (flags & RENAME_NOREPLACE)
		tf |= TREE_RENAME_NOREPLACE;
	if (flags & RENAME_EXCHANGE)
		tf |= TREE_RENAME_EXCHANGE;
	ops_reply_err(req, tree_rename(ops_tree(req), ops_inode(req, parent), name,
				       ops_inode(req, newparent), newname, tf));
}

static void ops_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	struct inode *out = NULL;
	int r = perm_op_link(req, ops_inode(req, ino), ops_inode(req, newparent));

	if (r == 0)
		r = tree_link(ops_tree(req), ops_inode(req, ino), ops_inode(req, newparent),
			      newname, &out);

	ops_reply_entry(req, r, out);
}

/* ---- directories ---- */

static void ops_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct tree_dirlist *l = malloc(sizeof(*l));
	int r = l ? perm_op_opendir(req, ops_inode(req, ino)) : -ENOMEM;

	if (r == 0)
		r = tree_dirlist(ops_tree(req), ops_inode(req, ino), l);

	if (r) {
		free(l);
		ops_reply_err(req, r);
		return;
	}
	fi->fh = (uint64_t)(uintptr_t)l;
	if (fuse_reply_open(req, fi) == -ENOENT) {
		tree_dirlist_free(l);
		free(l);
	}
}

/* Adds entry i to buf; 0 when it does not fit. With plus and entries, takes
 * a kernel reference on the entry (dropped again when it does not fit);
 * without entries, a plus entry carries no node (the kernel caches none). */
static size_t ops_dirent(fuse_req_t req, struct inode *dir, const struct tree_dirent *d, char *buf,
			 size_t rem, off_t next, bool plus, bool entries)
{
	struct tree *t = ops_tree(req);
	struct fuse_entry_param e = {.attr.st_ino = (ino_t)d->st_ino, .attr.st_mode = d->mode};
	struct inode *ino = NULL;
	size_t n;

	if (!plus)
		return fuse_add_direntry(req, buf, rem, d->name, &e.attr, next);
	if (entries && strcmp(d->name, ".") != 0 && strcmp(d->name, "..") != 0) {
		if (tree_lookup(t, dir, d->name, &ino) != 0)
			return SIZE_MAX; /* gone since opendir: skip it */
		ops_entry(t, ino, &e);
	}
	n = fuse_add_direntry_plus(req, buf, rem, d->name, &e, next);
	if (n > rem && ino)
		tree_forget(t, ino, 1);
	return n;
}

static void ops_readdir_common(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			       struct fuse_file_info *fi, bool plus)
{
	struct tree_dirlist *l = (struct tree_dirlist *)(uintptr_t)fi->fh;
	struct inode *dir = ops_inode(req, ino);
	char *buf = malloc(size ? size : 1);
	size_t used = 0;

	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	/* Without X on dir its entries must not reach the kernel's cache:
	 * it would walk through them without a LOOKUP (perm.h). */
	bool entries = plus && perm_op_plus(req, dir);

	for (size_t i = off < 0 ? 0 : (size_t)off; i < l->n; i++) {
		size_t n = ops_dirent(req, dir, &l->ents[i], buf + used, size - used,
				      (off_t)(i + 1), plus, entries);
		if (n == SIZE_MAX)
			continue;
		if (n > size - used)
			break;
		used += n;
	}
	fuse_reply_buf(req, buf, used);
	free(buf);
}

static void ops_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			struct fuse_file_info *fi)
{
	ops_readdir_common(req, ino, size, off, fi, false);
}

static void ops_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			    struct fuse_file_info *fi)
{
	ops_readdir_common(req, ino, size, off, fi, true);
}

static void ops_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct tree_dirlist *l = (struct tree_dirlist *)(uintptr_t)fi->fh;

	(void)ino;
	tree_dirlist_free(l);
	free(l);
	fuse_reply_err(req, 0);
}

/* access(2) and chdir: sent only without default_permissions (perm.h). */
static void ops_access(fuse_req_t req, fuse_ino_t ino, int mask)
{
	ops_reply_err(req, perm_op_access(req, ops_inode(req, ino), mask));
}

/* ---- extended attributes ---- */

static void ops_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
			 size_t size, int flags)
{
	int r = perm_op_xattr(req, ops_inode(req, ino), name, true);

	ops_reply_err(
	    req,
	    r ? r : tree_setxattr(ops_tree(req), ops_inode(req, ino), name, value, size, flags));
}

/* Replies to getxattr/listxattr: the size for a size-0 query, else the bytes. */
static void ops_reply_xattr(fuse_req_t req, ssize_t n, const char *buf, size_t size)
{
	if (n < 0)
		ops_reply_err(req, (int)n);
	else if (size == 0)
		fuse_reply_xattr(req, (size_t)n);
	else
		fuse_reply_buf(req, buf, (size_t)n);
}

static void ops_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	char *buf = size ? malloc(size) : NULL;
	ssize_t n;

	if (size && !buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	n = perm_op_xattr(req, ops_inode(req, ino), name, false);
	if (n == 0)
		n = tree_getxattr(ops_tree(req), ops_inode(req, ino), name, buf, size);
	ops_reply_xattr(req, n, buf, size);
	free(buf);
}

static void ops_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	char *buf = size ? malloc(size) : NULL;
	ssize_t n;

	if (size && !buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	n = tree_listxattr(ops_tree(req), ops_inode(req, ino), buf, size);
	ops_reply_xattr(req, n, buf, size);
	free(buf);
}

static void ops_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	int r = perm_op_xattr(req, ops_inode(req, ino), name, true);

	ops_reply_err(req, r ? r : tree_removexattr(ops_tree(req), ops_inode(req, ino), name));
}

/* No getlk/setlk/flock: the kernel then provides local POSIX and BSD locks,
 * which is right for a filesystem only this mount can change. */
static const struct fuse_lowlevel_ops ops_lowlevel = {
    .init = ops_init,
    .lookup = ops_lookup,
    .forget = ops_forget,
    .forget_multi = ops_forget_multi,
    .getattr = ops_getattr,
    .setattr = ops_setattr,
    .readlink = ops_readlink,
    .mknod = ops_mknod,
    .mkdir = ops_mkdir,
    .unlink = ops_unlink,
    .rmdir = ops_rmdir,
    .symlink = ops_symlink,
    .rename = ops_rename,
    .link = ops_link,
    .open = ops_open,
    .create = ops_create,
    .read = ops_read,
    .write = ops_write,
    .flush = ops_flush,
    .release = ops_release,
    .fsync = ops_fsync,
    .fallocate = ops_fallocate,
    .opendir = ops_opendir,
    .readdir = ops_readdir,
    .readdirplus = ops_readdirplus,
    .releasedir = ops_releasedir,
    .fsyncdir = ops_fsync,
    .statfs = ops_statfs,
    .access = ops_access,
    .setxattr = ops_setxattr,
    .getxattr = ops_getxattr,
    .listxattr = ops_listxattr,
    .removexattr = ops_removexattr,
};

const struct fuse_lowlevel_ops *ops_table(void) { return &ops_lowlevel; }
