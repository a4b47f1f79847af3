/* tree_io.c - reading and changing a file's bytes through the tree: the
 * file's lock, the error rules of tree_error.c, and fetching from the store
 * with no lock held (docs/INTERNALS.md, "Locks"). It must never wait on the
 * store while holding a lock, nor log names. */
#include "tree_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>

/* How often a content call may come back for a segment to fetch before the
 * next try fetches under the lock (a file rewritten faster than its segments
 * can be fetched; never in practice). */
#define TREE_FETCH_TRIES 16

int tree_file_thaw_locked(struct inode *ino)
{
	return ino->content ? 0 : content_thaw(&ino->content, ino->id, &ino->cold);
}

void tree_file_idle_locked(struct inode *ino)
{
	if (ino->content)
		content_freeze(&ino->content, &ino->cold);
}

uint64_t tree_file_size_locked(const struct inode *ino)
{
	return ino->content ? ino->content->size : content_cold_size(&ino->cold);
}

typedef ssize_t (*tree_content_fn)(struct tree *t, struct inode *ino, void *arg);

/* Calls fn (ino's lock held, as on entry and on return). A clean segment fn
 * needs that is not in the cache is fetched with the lock dropped, then fn is
 * called again: no request waits on the store holding a lock that a commit
 * (and through its tree_lock, every other request) may need. Between the
 * tries anything may change, so fn checks what it relies on each time. */
static ssize_t tree_content_locked(struct tree *t, struct inode *ino, tree_content_fn fn, void *arg)
{
	struct content_file *f;
	struct content_want w;
	ssize_t n;
	int rc;

	for (int tries = 0;; tries++) {
		/* A file with no handle may have gone cold while the lock was
		 * dropped (a late writeback write, a truncate by path). */
		rc = tree_file_thaw_locked(ino);
		if (rc < 0)
			return rc;
		f = ino->content;
		f->nofetch = tries < TREE_FETCH_TRIES;
		n = fn(t, ino, arg);
		f->nofetch = false;
		if (n != -EWOULDBLOCK)
			return n;
		w = f->want;
		tree_inode_unlock(ino);
		rc = content_fetch(&t->cctx, &w);
		tree_inode_lock(ino);
		if (rc < 0 && tree_file_thaw_locked(ino) < 0)
			return -ENOMEM;
		if (rc < 0 && (rc = content_fetch_failed(ino->content, &w, rc)) != -EAGAIN)
			return rc;
	}
}

struct tree_io {
	void *buf;
	size_t len;
	uint64_t off;
};

static ssize_t tree_read_fn(struct tree *t, struct inode *ino, void *arg)
{
	struct tree_io *io = arg;

	return content_read(&t->cctx, ino->content, io->buf, io->len, io->off);
}

static ssize_t tree_write_fn(struct tree *t, struct inode *ino, void *arg)
{
	struct tree_io *io = arg;
	ssize_t n = tree_stopped_locked(ino);

	return n ? n : content_write(&t->cctx, ino->content, io->buf, io->len, io->off);
}

/* Truncates to *(uint64_t *)arg. */
static ssize_t tree_truncate_fn(struct tree *t, struct inode *ino, void *arg)
{
	ssize_t n = tree_stopped_locked(ino);

	return n ? n : content_truncate(&t->cctx, ino->content, *(const uint64_t *)arg);
}

/* Grows to at least *(uint64_t *)arg. */
static ssize_t tree_grow_fn(struct tree *t, struct inode *ino, void *arg)
{
	uint64_t size = *(const uint64_t *)arg;
	ssize_t n = tree_stopped_locked(ino);

	if (n || size <= ino->content->size)
		return n;
	return content_truncate(&t->cctx, ino->content, size);
}

int tree_truncate_locked(struct tree *t, struct inode *ino, uint64_t size)
{
	int r = (int)tree_content_locked(t, ino, tree_truncate_fn, &size);

	if (r != 0 && r != tree_stopped_locked(ino))
		tree_change_failed_locked(t, ino, r, "a size change");
	return r;
}

ssize_t tree_read(struct tree *t, struct inode *ino, void *buf, size_t len, uint64_t off)
{
	ssize_t n;

	if (ino->type != DIROBJ_FILE)
		return ino->type == DIROBJ_DIR ? -EISDIR : -EINVAL;
	tree_inode_lock(ino);
	n = tree_content_locked(t, ino, tree_read_fn, &(struct tree_io){buf, len, off});
	tree_inode_unlock(ino);
	return n;
}

ssize_t tree_write(struct tree *t, struct inode *ino, const void *buf, size_t len, uint64_t off)
{
	ssize_t n;

	if (ino->type != DIROBJ_FILE)
		return ino->type == DIROBJ_DIR ? -EISDIR : -EINVAL;
	if (off > INT64_MAX || len > INT64_MAX - off)
		return -EFBIG;
	tree_inode_lock(ino);
	n = tree_content_locked(t, ino, tree_write_fn, &(struct tree_io){(void *)buf, len, off});
	if (n < 0 && n != tree_stopped_locked(ino))
		tree_change_failed_locked(t, ino, (int)n, "a write");
	if (n > 0 && !t->writeback) {
		/* With the writeback cache the kernel sends the times itself. */
		tree_now(&ino->mtime);
		ino->ctime = ino->mtime;
	}
	tree_inode_unlock(ino);
	if (n > 0) {
		pthread_mutex_lock(&t->lock);
		tree_attr_changed_locked(t, ino);
		pthread_mutex_unlock(&t->lock);
	}
	return n;
}

int tree_allocate(struct tree *t, struct inode *ino, uint64_t off, uint64_t len)
{
	int r = 0;

	if (ino->type != DIROBJ_FILE)
		return ino->type == DIROBJ_DIR ? -EISDIR : -ENODEV;
	if (off > INT64_MAX || len > INT64_MAX - off)
		return -EFBIG;
	tree_inode_lock(ino);
	r = tree_stopped_locked(ino);
	if (r == 0 && off + len > tree_file_size_locked(ino)) {
		r = (int)tree_content_locked(t, ino, tree_grow_fn, &(uint64_t){off + len});
		if (r != 0 && r != tree_stopped_locked(ino))
			tree_change_failed_locked(t, ino, r, "an allocation");
		if (r == 0 && !t->writeback) {
			tree_now(&ino->mtime);
			ino->ctime = ino->mtime;
		}
	}
	tree_inode_unlock(ino);
	if (r == 0) {
		pthread_mutex_lock(&t->lock);
		tree_attr_changed_locked(t, ino);
		pthread_mutex_unlock(&t->lock);
	}
	return r;
}
