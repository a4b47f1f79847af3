/* test_refresh_names.c - a poll's refresh (fs/vault/tree_refresh.c,
 * tree_refresh_names.c) of directories device B holds (as the kernel does
 * after a lookup) but has unloaded: the kernel may cache negative entries
 * under them, so every name device A added there (created, renamed to) must
 * be reported to the kernel, and only those when the directory is large
 * (the old object is compared); a loaded directory's new names are reported
 * as before. Real engine, store and uploader on both devices. */
#include "fs_test.h"
#include "poll_head.h"
#include "tree_cache.h"

#define NBIG 70 /* over tree_refresh_names.c's RF_NAMES_ALL_BELOW */

/* What the poll told the kernel: names with their directory, and inodes. */
struct seen {
	struct inode *parent[512];
	char names[512][32];
	int n;
	struct inode *inodes[512];
	int ninodes;
};

static void seen_inval(void *ctx, const struct tree_inval *v)
{
	struct seen *s = ctx;

	if (v->name && s->n < 512) {
		s->parent[s->n] = v->parent;
		snprintf(s->names[s->n++], sizeof(s->names[0]), "%s", v->name);
	}
	if (!v->name && s->ninodes < 512)
		s->inodes[s->ninodes++] = v->ino;
}

/* How many names were reported under dir; whether name was one. */
static int seen_count(const struct seen *s, const struct inode *dir)
{
	int n = 0;

	for (int i = 0; i < s->n; i++)
		n += s->parent[i] == dir;
	return n;
}

static bool seen_has(const struct seen *s, const struct inode *dir, const char *name)
{
	for (int i = 0; i < s->n; i++)
		if (s->parent[i] == dir && strcmp(s->names[i], name) == 0)
			return true;
	return false;
}

static bool seen_inode(const struct seen *s, const struct inode *ino)
{
	for (int i = 0; i < s->ninodes; i++)
		if (s->inodes[i] == ino)
			return true;
	return false;
}

static int poll_with(struct fenv *e, struct fmount *m, struct seen *s)
{
	struct poll_deps pd = fmount_poll_deps(e, m);
	pd.inval = seen_inval;
	pd.inval_ctx = s;
	struct poll *pl = poll_new(&pd);
	int r = pl ? poll_once(pl) : -ENOMEM;

	poll_free(pl);
	return r;
}

static bool loaded(struct tree *t, struct inode *d)
{
	pthread_mutex_lock(&t->lock);
	bool l = d->ds->loaded;
	pthread_mutex_unlock(&t->lock);
	return l;
}

/* B looks up dir (held) and a missing name in it (the kernel would cache it
 * as a negative entry), then lets the tree unload dir: a budget of no
 * droppable directory, another directory used after it, and a trim. */
static struct inode *hold_unloaded(struct fmount *b, const char *dir, const char *other)
{
	struct inode *d, *o, *x;

	CHECK_RC(fpath(b->tree, dir, &d), 0);
	CHECK_RC(tree_lookup(b->tree, d, "missing", &x), -ENOENT);
	CHECK(loaded(b->tree, d));
	b->tree->cache_dirs_max = 0;
	CHECK_RC(fpath(b->tree, other, &o), 0);
	CHECK_RC(tree_lookup(b->tree, o, "nothing", &x), -ENOENT);
	pthread_mutex_lock(&b->tree->lock);
	tree_trim_locked(b->tree);
	pthread_mutex_unlock(&b->tree->lock);
	b->tree->cache_dirs_max = TREE_CACHE_DIRS;
	CHECK(!loaded(b->tree, d));
	return d;
}

static void make_dir(struct fmount *a, const char *name, int files)
{
	struct inode *d, *f;
	char fname[32];

	CHECK_RC(tree_create(a->tree, a->tree->root, name, DIROBJ_DIR, 0755, 0, 0, NULL, &d), 0);
	for (int i = 0; i < files; i++) {
		snprintf(fname, sizeof(fname), "f%03d", i);
		CHECK_RC(fwrite_file(a->tree, d, fname, "x", 1, &f), 0);
	}
}

int main(void)
{
	struct fenv e;
	struct fmount a, b;
	struct inode *small, *big, *ld, *x;
	static struct seen s;

	if (fenv_init(&e) != 0)
		return 1;
	CHECK_RC(fmount_open_device(&a, &e, "a", "laptop"), 0);
	make_dir(&a, "small", 3);
	make_dir(&a, "big", NBIG);
	make_dir(&a, "other", 2);
	make_dir(&a, "loaded", 2);
	CHECK_RC(fcommit(&a), 0);

	CHECK_RC(fmount_open_device(&b, &e, "b", "desktop"), 0);
	small = hold_unloaded(&b, "small", "other");
	big = hold_unloaded(&b, "big", "other");
	CHECK_RC(fpath(b.tree, "loaded", &ld), 0);
	CHECK_RC(tree_lookup(b.tree, ld, "missing", &x), -ENOENT);

	/* A: a new name in each, a rename and a removal in the big one. */
	CHECK_RC(fpath(a.tree, "small", &x), 0);
	CHECK_RC(fwrite_file(a.tree, x, "missing", "new", 3, NULL), 0);
	CHECK_RC(fpath(a.tree, "loaded", &x), 0);
	CHECK_RC(fwrite_file(a.tree, x, "missing", "new", 3, NULL), 0);
	CHECK_RC(fpath(a.tree, "big", &x), 0);
	CHECK_RC(fwrite_file(a.tree, x, "missing", "new", 3, NULL), 0);
	CHECK_RC(tree_rename(a.tree, x, "f001", x, "renamed", 0), 0);
	CHECK_RC(tree_remove(a.tree, x, "f002", false), 0);
	CHECK_RC(fcommit(&a), 0);

	memset(&s, 0, sizeof(s));
	CHECK_RC(poll_with(&e, &b, &s), 1);
	/* The small unloaded directory: all its names (4); the big one only
	 * what its old object had not; the loaded one its new name. Each
	 * directory's own attributes and listing too. */
	CHECKF(seen_count(&s, small) == 4 && seen_has(&s, small, "missing") &&
		   seen_has(&s, small, "f000"),
	       "small: %d names", seen_count(&s, small));
	CHECKF(seen_count(&s, big) == 2 && seen_has(&s, big, "missing") &&
		   seen_has(&s, big, "renamed"),
	       "big: %d names", seen_count(&s, big));
	CHECK(seen_has(&s, ld, "missing"));
	CHECK(seen_inode(&s, small) && seen_inode(&s, big) && seen_inode(&s, ld));
	CHECK(!loaded(b.tree, small) && !loaded(b.tree, big));
	CHECK_RC(tree_lookup(b.tree, small, "missing", &x), 0);

	/* Again in the big one, still unloaded: its old object is now the one
	 * the first poll showed. */
	CHECK_RC(fpath(a.tree, "big", &x), 0);
	CHECK_RC(fwrite_file(a.tree, x, "later", "l", 1, NULL), 0);
	CHECK_RC(tree_rename(a.tree, x, "renamed", x, "renamed2", 0), 0);
	CHECK_RC(tree_remove(a.tree, x, "f003", false), 0);
	CHECK_RC(fcommit(&a), 0);
	memset(&s, 0, sizeof(s));
	CHECK_RC(poll_with(&e, &b, &s), 1);
	CHECKF(seen_count(&s, big) == 2 && seen_has(&s, big, "later") &&
		   seen_has(&s, big, "renamed2"),
	       "big: %d names", seen_count(&s, big));
	CHECK(!loaded(b.tree, big));
	CHECK_RC(tree_lookup(b.tree, big, "later", &x), 0);
	CHECK_RC(tree_lookup(b.tree, big, "f003", &x), -ENOENT);
	CHECK_RC(tree_lookup(b.tree, big, "renamed2", &x), 0);

	fmount_close(&b);
	fmount_close(&a);
	fenv_free(&e);
	return check_done("refresh_names");
}
