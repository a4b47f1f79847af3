/* tree_attr.c - an inode's attributes: stat, setattr (a size change goes
 * through tree_io.c), readlink and the user.* extended attributes. Changes
 * mark the parent directory dirty under tree_lock, then the inode's lock.
 * Must never log a name or an attribute value. */
#include "tree_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>

/* 512-byte blocks a file's content takes (ino's lock held): each present
 * segment its plaintext bytes rounded up to 4 KiB, holes (absent segments)
 * nothing, so a sparse file shows what it stores. O(segments). */
static uint64_t tree_file_blocks_locked(const struct inode *ino)
{
	uint64_t size = tree_file_size_locked(ino), bytes = 0;
	size_t n = ino->content ? ino->content->nsegs : content_cold_nsegs(&ino->cold);

	for (size_t s = 0; s < n; s++) {
		uint64_t start = (uint64_t)s * SEGMENT_PLAIN_BYTES, len;
		bool present = ino->content ? ino->content->segs[s].present
					    : content_cold_key(&ino->cold, s) != NULL;
		if (!present || start >= size)
			continue;
		len = size - start < SEGMENT_PLAIN_BYTES ? size - start : SEGMENT_PLAIN_BYTES;
		bytes += (len + 4095) / 4096 * 4096;
	}
	return bytes / 512;
}

/* st_nlink of a directory (tree_lock held): 2 + its subdirectories once its
 * children were known in this mount (the count outlives an unload: a
 * droppable directory does not change), else 1, the Linux convention for
 * "not counted" (btrfs, find -noleaf): counting would load every directory
 * an `ls -l` stats. 0 once removed. */
static nlink_t tree_dir_nlink_locked(const struct inode *dir)
{
	if (dir->unlinked)
		return 0;
	return dir->ds->sub_known ? (nlink_t)(2 + dir->ds->nsubdirs) : 1;
}

void tree_getattr(struct tree *t, struct inode *ino, struct stat *st)
{
	uint64_t size = 0, blocks = 0;
	bool linked;

	memset(st, 0, sizeof(*st));
	if (ino->type == DIROBJ_DIR) {
		pthread_mutex_lock(&t->lock);
		st->st_nlink = tree_dir_nlink_locked(ino);
		pthread_mutex_unlock(&t->lock);
	}
	tree_inode_lock(ino);
	st->st_mode = ino->mode;
	st->st_uid = ino->uid;
	st->st_gid = ino->gid;
	if (ino->type != DIROBJ_DIR)
		st->st_nlink = ino->unlinked ? 0 : 1;
	st->st_atim.tv_sec = ino->atime.sec;
	st->st_atim.tv_nsec = ino->atime.nsec;
	st->st_mtim.tv_sec = ino->mtime.sec;
	st->st_mtim.tv_nsec = ino->mtime.nsec;
	st->st_ctim.tv_sec = ino->ctime.sec;
	st->st_ctim.tv_nsec = ino->ctime.nsec;
	if (ino->type == DIROBJ_FILE) {
		size = tree_file_size_locked(ino);
		blocks = tree_file_blocks_locked(ino);
	} else if (ino->type == DIROBJ_SYMLINK) {
		size = ino->target_len;
		blocks = (size + 4095) / 4096 * 8;
	}
	if (tree_type_special(ino->type))
		st->st_rdev = (dev_t)ino->rdev;
	linked = ino->linked;
	tree_inode_unlock(ino);
	if (linked) { /* several names: the count is in the inode table */
		pthread_mutex_lock(&t->lock);
		if (ino->linked)
			st->st_nlink = tree_link_nlink_locked(t, ino);
		pthread_mutex_unlock(&t->lock);
	}
	st->st_ino = (ino_t)tree_ino(ino);
	st->st_size = (off_t)size;
	st->st_blksize = 4096;
	st->st_blocks = (blkcnt_t)blocks;
}

static void tree_set_time(struct dirobj_time *out, const struct timespec *ts, bool now)
{
	if (now) {
		tree_now(out);
		return;
	}
	out->sec = ts->tv_sec;
	out->nsec = (uint32_t)ts->tv_nsec;
}

/* Applies the non-size fields (ino's lock held). */
static void tree_apply_attrs(struct inode *ino, const struct tree_setattr *sa)
{
	unsigned v = sa->valid;

	if (v & TREE_SET_MODE)
		ino->mode = (ino->mode & S_IFMT) | (sa->mode & 07777);
	if (v & TREE_SET_UID)
		ino->uid = sa->uid;
	if (v & TREE_SET_GID)
		ino->gid = sa->gid;
	if (v & (TREE_SET_ATIME | TREE_SET_ATIME_NOW))
		tree_set_time(&ino->atime, &sa->atime, v & TREE_SET_ATIME_NOW);
	if (v & (TREE_SET_MTIME | TREE_SET_MTIME_NOW))
		tree_set_time(&ino->mtime, &sa->mtime, v & TREE_SET_MTIME_NOW);
	else if (v & TREE_SET_SIZE)
		tree_now(&ino->mtime);
	tree_set_time(&ino->ctime, &sa->ctime, !(v & TREE_SET_CTIME));
}

int tree_setattr(struct tree *t, struct inode *ino, const struct tree_setattr *sa)
{
	int r = 0;

	if (sa->valid & TREE_SET_SIZE) {
		if (ino->type != DIROBJ_FILE)
			return ino->type == DIROBJ_DIR ? -EISDIR : -EINVAL;
		if (sa->size > INT64_MAX)
			return -EFBIG;
		tree_inode_lock(ino);
		r = tree_truncate_locked(t, ino, sa->size);
		tree_inode_unlock(ino);
		if (r)
			return r;
	}
	pthread_mutex_lock(&t->lock);
	tree_inode_lock(ino);
	tree_apply_attrs(ino, sa);
	tree_inode_unlock(ino);
	tree_attr_changed_locked(t, ino);
	pthread_mutex_unlock(&t->lock);
	return 0;
}

int tree_readlink(struct tree *t, struct inode *ino, const char **target)
{
	(void)t;
	*target = NULL;
	if (ino->type != DIROBJ_SYMLINK)
		return -EINVAL;
	*target = ino->target;
	return 0;
}

/* ---- extended attributes (user.* only) ---- */

static int tree_xattr_name_check(const char *name)
{
	size_t len = strlen(name), plen = strlen(TREE_XATTR_PREFIX);

	if (len < plen || memcmp(name, TREE_XATTR_PREFIX, plen) != 0)
		return -EOPNOTSUPP;
	if (len > DIROBJ_XATTR_NAME_MAX)
		return -ERANGE;
	if (len == plen || !dirobj_check_utf8(name, len))
		return -EINVAL;
	return 0;
}

/* Index of name in ino's xattrs, or -1 (ino's lock or tree_lock held). */
static ssize_t tree_xattr_find(const struct inode *ino, const char *name)
{
	for (size_t i = 0; i < ino->nxattrs; i++)
		if (strcmp(ino->xattrs[i].name, name) == 0)
			return (ssize_t)i;
	return -1;
}

ssize_t tree_getxattr(struct tree *t, struct inode *ino, const char *name, void *buf, size_t size)
{
	ssize_t i, r = tree_xattr_name_check(name);

	(void)t;
	if (r)
		return r == -EINVAL ? -ENODATA : r;
	tree_inode_lock(ino);
	i = tree_xattr_find(ino, name);
	if (i < 0) {
		r = -ENODATA;
	} else {
		const struct dirobj_xattr *x = &ino->xattrs[i];
		r = (ssize_t)x->len;
		if (size > 0 && size < x->len)
			r = -ERANGE;
		else if (size > 0 && x->len > 0)
			memcpy(buf, x->value, x->len);
	}
	tree_inode_unlock(ino);
	return r;
}

ssize_t tree_listxattr(struct tree *t, struct inode *ino, char *buf, size_t size)
{
	size_t total = 0;

	(void)t;
	tree_inode_lock(ino);
	for (size_t i = 0; i < ino->nxattrs; i++)
		total += strlen(ino->xattrs[i].name) + 1;
	if (size > 0 && size < total) {
		tree_inode_unlock(ino);
		return -ERANGE;
	}
	for (size_t i = 0, off = 0; size > 0 && i < ino->nxattrs; i++) {
		size_t n = strlen(ino->xattrs[i].name) + 1;
		memcpy(buf + off, ino->xattrs[i].name, n);
		off += n;
	}
	tree_inode_unlock(ino);
	return (ssize_t)total;
}

/* Bytes ino's xattrs take, skipping index skip (locks held). */
static size_t tree_xattr_total(const struct inode *ino, ssize_t skip)
{
	size_t total = 0;

	for (size_t i = 0; i < ino->nxattrs; i++)
		if ((ssize_t)i != skip)
			total += strlen(ino->xattrs[i].name) + ino->xattrs[i].len;
	return total;
}

/* Stores x (taking its allocations) into ino (tree_lock and ino's lock held). */
static int tree_xattr_put(struct inode *ino, struct dirobj_xattr *x, int flags)
{
	ssize_t i = tree_xattr_find(ino, x->name);
	struct dirobj_xattr *na;

	if (i >= 0 && (flags & XATTR_CREATE))
		return -EEXIST;
	if (i < 0 && (flags & XATTR_REPLACE))
		return -ENODATA;
	if (tree_xattr_total(ino, i) + strlen(x->name) + x->len > TREE_XATTR_TOTAL_MAX)
		return -ENOSPC;
	if (i >= 0) {
		free(ino->xattrs[i].name);
		free(ino->xattrs[i].value);
		ino->xattrs[i] = *x;
		return 0;
	}
	na = realloc(ino->xattrs, (ino->nxattrs + 1) * sizeof(*na));
	if (!na)
		return -ENOMEM;
	na[ino->nxattrs++] = *x;
	ino->xattrs = na;
	return 0;
}

int tree_setxattr(struct tree *t, struct inode *ino, const char *name, const void *value,
		  size_t size, int flags)
{
	struct dirobj_xattr x = {0};
	int r = tree_xattr_name_check(name);

	if (r)
		return r;
	if (size > DIROBJ_XATTR_VALUE_MAX)
		return -E2BIG;
	if (flags & ~(XATTR_CREATE | XATTR_REPLACE))
		return -EINVAL;
	x.name = strdup(name);
	x.value = malloc(size ? size : 1);
	x.len = size;
	if (!x.name || !x.value) {
		r = -ENOMEM;
		goto out;
	}
	memcpy(x.value, value, size);
	pthread_mutex_lock(&t->lock);
	tree_inode_lock(ino);
	r = tree_xattr_put(ino, &x, flags);
	if (r == 0)
		tree_now(&ino->ctime);
	tree_inode_unlock(ino);
	if (r == 0)
		tree_attr_changed_locked(t, ino);
	pthread_mutex_unlock(&t->lock);
out:
	if (r) {
		free(x.name);
		free(x.value);
	}
	return r;
}

int tree_removexattr(struct tree *t, struct inode *ino, const char *name)
{
	ssize_t i;
	int r = tree_xattr_name_check(name);

	if (r)
		return r == -EINVAL ? -ENODATA : r;
	pthread_mutex_lock(&t->lock);
	tree_inode_lock(ino);
	i = tree_xattr_find(ino, name);
	if (i < 0) {
		r = -ENODATA;
	} else {
		free(ino->xattrs[i].name);
		free(ino->xattrs[i].value);
		ino->xattrs[i] = ino->xattrs[--ino->nxattrs];
		tree_now(&ino->ctime);
	}
	tree_inode_unlock(ino);
	if (r == 0)
		tree_attr_changed_locked(t, ino);
	pthread_mutex_unlock(&t->lock);
	return r;
}
