/* tree_error.c - a file's unreported failure (docs/INTERNALS.md, "Errors"):
 * a failed change to its content or a failed commit of its changes is
 * remembered on the inode until flush or fsync reports it to a program. It
 * must never let a half-done change reach a commit, never forget a failure
 * unlogged, and log object ids only. */
#include "tree_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

int tree_change_failed_locked(struct tree *t, struct inode *ino, int r, const char *what)
{
	char id[33];

	if (r == -EFBIG || r == -EINVAL)
		return r; /* refused before anything changed: the caller hears it */
	if (ino->content) /* else cold: nothing changed */
		content_revert(&t->cctx, ino->content);
	if (!ino->wb_err)
		ino->wb_err = r;
	ino->wb_stop = true;
	atomic_fetch_add(&t->failures, 1);
	log_msg(LOG_ERR,
		"file %s: %s failed (%s): its changes since the last commit are dropped; "
		"its next fsync or close fails",
		log_id(id, ino->id), what, strerror(-r));
	return r;
}

int tree_stopped_locked(const struct inode *ino)
{
	return ino->wb_stop ? (ino->wb_err ? ino->wb_err : -EIO) : 0;
}

int tree_take_error(struct tree *t, struct inode *ino)
{
	int r;

	(void)t;
	if (ino->type != DIROBJ_FILE)
		return 0;
	tree_inode_lock(ino);
	r = ino->wb_err;
	ino->wb_err = 0;
	ino->wb_stop = false;
	tree_inode_unlock(ino);
	return r;
}

struct tree_mark {
	uint64_t try;
	int r;
	size_t n;
};

/* Marks file c if attempt m->try held its changes. */
static void tree_mark_file(void *arg, struct inode *c)
{
	struct tree_mark *m = arg;

	tree_inode_lock(c);
	if (c->commit_try == (uint32_t)m->try) {
		if (!c->wb_err)
			c->wb_err = m->r;
		m->n++;
	}
	tree_inode_unlock(c);
}

/* Marks the files of dir (tree_lock held) whose changes attempt try held. */
static size_t tree_mark_dir(struct inode *dir, uint64_t try, int r)
{
	size_t n = 0;

	TREE_FOR_CHILDREN (dir, c) {
		if (c->type == DIROBJ_DIR) {
			n += tree_mark_dir(c, try, r);
			continue;
		}
		if (c->type != DIROBJ_FILE)
			continue;
		tree_inode_lock(c);
		if (c->commit_try == (uint32_t)try) {
			if (!c->wb_err)
				c->wb_err = r;
			n++;
		}
		tree_inode_unlock(c);
	}
	return n;
}

void tree_commit_failed_locked(struct tree *t, uint64_t try, int r)
{
	struct tree_mark m = {.try = try, .r = r};
	size_t n = tree_mark_dir(t->root, try, r);

	tree_links_foreach_locked(t, tree_mark_file, &m); /* files with several names */
	n += m.n;

	atomic_fetch_add(&t->failures, 1);
	log_msg(LOG_ERR,
		"commit attempt %" PRIu64 " failed (%s): it stays queued for the next one; "
		"the next fsync or close of each of the %zu files it held fails",
		try, strerror(-r), n);
}
