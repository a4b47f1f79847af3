/* tree_perm.c - the tree's side of the daemon's permission checks
 * (tree_perm.h): reading owners and modes, and listing the names a change
 * of a directory's mode makes stale. It must never change the tree, never
 * take a kernel reference and never log a name. */
#include "tree_perm.h"

#include <errno.h>
#include <stdlib.h>

#include "tree_int.h"

void tree_owner_of(const struct inode *ino, struct tree_owner *out)
{
	tree_inode_lock(ino);
	out->mode = ino->mode;
	out->uid = ino->uid;
	out->gid = ino->gid;
	out->mtime = ino->mtime;
	tree_inode_unlock(ino);
}

int tree_owner_at(struct tree *t, struct inode *dir, const char *name, struct tree_owner *out)
{
	struct inode *c;
	size_t len;
	int r = tree_check_name(name, &len);

	if (r)
		return r == -EINVAL ? -ENOENT : r;
	r = tree_lock_loaded(t, dir);
	if (r)
		return r;
	c = tree_link_file(tree_child(t, dir, name, len));
	if (c)
		tree_owner_of(c, out); /* tree_lock -> inode lock: the documented order */
	pthread_mutex_unlock(&t->lock);
	return c ? 0 : -ENOENT;
}

/* Appends parent's entry name to v (room for it is already there). */
static int names_add(struct tree_inval *v, size_t *n, struct inode *parent, const char *name,
		     size_t len)
{
	char *copy = malloc(len + 1);

	if (!copy)
		return -ENOMEM;
	memcpy(copy, name, len + 1);
	v[*n] = (struct tree_inval){.parent = parent, .name = copy, .name_len = len};
	(*n)++;
	return 0;
}

int tree_names_under(struct tree *t, struct inode *dir, struct tree_inval **out, size_t *n)
{
	struct tree_inval *v;
	size_t k = 0;
	int r = 0;

	*out = NULL;
	*n = 0;
	pthread_mutex_lock(&t->lock);
	v = calloc(dir->ds->nchildren + 1, sizeof(*v));
	if (!v)
		r = -ENOMEM;
	if (v && dir->parent)
		r = names_add(v, &k, dir->parent, tree_name(dir), dir->name_len);
	if (v && dir->ds->table) {
		TREE_FOR_CHILDREN (dir, c) {
			if (r == 0 && k <= dir->ds->nchildren)
				r = names_add(v, &k, dir, tree_name(c), c->name_len);
		}
	}
	pthread_mutex_unlock(&t->lock);
	if (r) {
		tree_inval_free(v, k);
		return r;
	}
	*out = v;
	*n = k;
	return 0;
}
