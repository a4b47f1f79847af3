/* tree_cap.c - the inode cap's choice of names for the kernel to forget
 * (tree_cap.h). Only chooses: it must never free or change an inode, and
 * never pick one with an open handle, a changed content, or a loaded
 * directory; never logs. */
#include "tree_cap.h"
#include "tree_cache.h"
#include "tree_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct cap_dir {
	uint64_t used;
	struct inode *d;
};

struct cap_out {
	struct tree_inval *v;
	size_t n, cap, want;
};

static int cap_dir_cmp(const void *a, const void *b)
{
	const struct cap_dir *x = a, *y = b;

	return x->used < y->used ? -1 : x->used > y->used;
}

static int cap_push_dir(struct cap_dir **v, size_t *n, size_t *cap, struct inode *d)
{
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 64;
		struct cap_dir *nv = realloc(*v, nc * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		*v = nv;
		*cap = nc;
	}
	(*v)[(*n)++] = (struct cap_dir){.used = d->ds->used, .d = d};
	return 0;
}

/* Every loaded directory of the tree, breadth first from the root (the
 * array is its own queue). */
static int cap_loaded_dirs(struct tree *t, struct cap_dir **v, size_t *n)
{
	size_t cap = 0;
	int r = cap_push_dir(v, n, &cap, t->root);

	for (size_t i = 0; r == 0 && i < *n; i++) {
		struct inode *d = (*v)[i].d;

		TREE_FOR_CHILDREN (d, c)
			if (r == 0 && c->type == DIROBJ_DIR && c->ds->loaded)
				r = cap_push_dir(v, n, &cap, c);
	}
	return r;
}

/* A directory whose children's kernel names may go: clean, in the
 * namespace, not open, its object readable back (else the FORGETs would
 * not let it unload), with children the kernel holds. */
static bool cap_parent_ok(struct tree *t, struct inode *d)
{
	return !d->ds->dirty && !d->unlinked && d->nopen == 0 && d->ds->busy_kids > 0 &&
	       tree_cache_readable_locked(t, d);
}

/* An idle non-directory. Never a directory: one may be a process's working
 * directory, which the daemon cannot see, and the kernel would unhash its
 * dentry (getcwd there would fail); a directory costs one inode once its
 * children are gone, and the children are what the cap is for. */
static bool cap_child_ok(const struct inode *c)
{
	if (c->nlookup == 0 || c->nlookup == TREE_NLOOKUP_PINNED || c->nopen > 0)
		return false;
	if (c->type == DIROBJ_FILE)
		return c->content == NULL && !c->linked;
	return c->type != DIROBJ_DIR && c->type != DIROBJ_HARDLINK;
}

static int cap_add(struct cap_out *o, struct inode *d, struct inode *c)
{
	if (o->n == o->cap) {
		size_t nc = o->cap ? o->cap * 2 : 256;
		struct tree_inval *nv = realloc(o->v, nc * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		o->v = nv;
		o->cap = nc;
	}
	char *name = malloc((size_t)c->name_len + 1);

	if (!name)
		return -ENOMEM;
	memcpy(name, tree_name(c), (size_t)c->name_len + 1);
	o->v[o->n++] = (struct tree_inval){.parent = d, .name = name, .name_len = c->name_len};
	return 0;
}

/* Adds the idle children of dirs[0..n) (oldest first). */
static int cap_pass(struct tree *t, const struct cap_dir *dirs, size_t n, struct cap_out *o)
{
	int r = 0;

	for (size_t i = 0; r == 0 && i < n && o->n < o->want; i++) {
		struct inode *d = dirs[i].d;

		if (!cap_parent_ok(t, d))
			continue;
		TREE_FOR_CHILDREN (d, c)
			if (r == 0 && o->n < o->want && cap_child_ok(c))
				r = cap_add(o, d, c);
	}
	return r;
}

int tree_cap_pick_locked(struct tree *t, struct tree_inval **out, size_t *n)
{
	struct cap_dir *dirs = NULL;
	size_t ndirs = 0;
	uint64_t target = t->inode_cap - t->inode_cap / 4;
	struct cap_out o = {0};
	int r;

	*out = NULL;
	*n = 0;
	if (!t->inode_cap || t->ninodes <= t->inode_cap)
		return 0;
	o.want = t->ninodes - target < TREE_CAP_ROUND_MAX ? (size_t)(t->ninodes - target)
							  : TREE_CAP_ROUND_MAX;
	r = cap_loaded_dirs(t, &dirs, &ndirs);
	if (r == 0 && ndirs > 1) {
		qsort(dirs, ndirs, sizeof(*dirs), cap_dir_cmp);
		/* Not the most recently used one: the last after the sort. */
		r = cap_pass(t, dirs, ndirs - 1, &o);
	}
	free(dirs);
	if (r) {
		tree_inval_free(o.v, o.n);
		return r;
	}
	*out = o.v;
	*n = o.n;
	return 0;
}
