/* test_tree_cap.c - the inode cap's choice (fs/vault/tree_cap.h) on a real
 * vault: with every inode referenced (as after a walk the kernel keeps) and
 * the tree over its cap, the names picked are idle ones of clean, unopened
 * directories, never an open file, a changed file, a dirty directory's child
 * nor a child of the most recently used directory; once "the kernel" (this
 * test, through tree_forget) forgets what was picked, round after round, the
 * tree falls under its cap but for what must stay, and everything reads back
 * what was written. Without a cap, or under it, nothing is picked. */
#include "fs_test.h"
#include "tree_cap.h"

#define NDIRS 10
#define NFILES 40
#define CAP 60

static struct inode *dirs[NDIRS], *files[NDIRS][NFILES];

static void build(struct tree *t)
{
	char name[32];

	for (int d = 0; d < NDIRS; d++) {
		snprintf(name, sizeof(name), "d%d", d);
		CHECK_RC(tree_create(t, t->root, name, DIROBJ_DIR, 0755, 0, 0, NULL, &dirs[d]), 0);
		for (int f = 0; f < NFILES; f++) {
			snprintf(name, sizeof(name), "f%d-%d", d, f);
			CHECK_RC(fwrite_file(t, dirs[d], name, name, strlen(name), &files[d][f]),
				 0);
		}
	}
}

/* The inode v names (a child of v->parent), or NULL. */
static struct inode *named(const struct tree_inval *v)
{
	for (int d = 0; d < NDIRS; d++) {
		if (dirs[d] == v->parent) {
			for (int f = 0; f < NFILES; f++)
				if (strcmp(tree_name(files[d][f]), v->name) == 0)
					return files[d][f];
			return NULL;
		}
		if (v->parent->parent == NULL && strcmp(tree_name(dirs[d]), v->name) == 0)
			return dirs[d];
	}
	return NULL;
}

static size_t pick(struct tree *t, struct tree_inval **v)
{
	size_t n;

	pthread_mutex_lock(&t->lock);
	CHECK_RC(tree_cap_pick_locked(t, v, &n), 0);
	pthread_mutex_unlock(&t->lock);
	return n;
}

static void test_cap_picks_only_idle_names(void)
{
	struct inode *open_f, *changed, *recent, *x;
	struct tree_inval *v;
	struct fenv e;
	struct fmount m;
	char buf[32];
	size_t n, rounds = 0, unloaded = 0, forgotten[NDIRS] = {0};

	CHECK_RC(fenv_init(&e), 0);
	CHECK_RC(fmount_open(&m, &e, "c1"), 0);
	build(m.tree);
	CHECK_RC(fcommit(&m), 0);
	CHECK_RC(pick(m.tree, &v), 0); /* no cap: nothing */
	m.tree->inode_cap = CAP;
	open_f = files[2][3];
	CHECK_RC(tree_open_file(m.tree, open_f, false), 0);
	changed = files[4][0]; /* dirty: d4 (and the root) stay loaded */
	CHECK_RC(tree_open_file(m.tree, changed, false), 0);
	CHECK_RC(tree_write(m.tree, changed, "new", 3, 0), 3);
	tree_release_file(m.tree, changed);
	CHECK_RC(fcommit(&m), 0); /* d4 clean again, but changed's name is kept below */
	CHECK_RC(tree_open_file(m.tree, changed, false), 0);
	CHECK_RC(tree_write(m.tree, changed, "NEW", 3, 0), 3);
	tree_release_file(m.tree, changed); /* uncommitted: d4 dirty */
	recent = dirs[9];
	CHECK_RC(tree_lookup(m.tree, recent, "f9-1", &x), 0); /* d9: the last used */
	tree_forget(m.tree, x, 1);

	/* Rounds: forget every picked name, as the kernel would. */
	while ((n = pick(m.tree, &v)) > 0 && rounds++ < 20) {
		for (size_t i = 0; i < n; i++) {
			x = named(&v[i]);
			CHECK(x != NULL);
			if (!x)
				continue;
			CHECK(x != open_f && x != changed && v[i].parent != recent);
			CHECK(v[i].parent != dirs[4]); /* dirty */
			CHECK(v[i].ino == NULL && v[i].name_len == strlen(v[i].name));
			for (int d = 0; d < NDIRS; d++)
				forgotten[d] += v[i].parent == dirs[d];
			tree_forget(m.tree, x, 1);
		}
		tree_inval_free(v, n);
	}
	CHECK(rounds > 0 && rounds < 20);
	CHECK_RC(forgotten[0], NFILES); /* the oldest directory went first, whole */
	/* Left: the root, the 10 directories and the children of d2 (one is
	 * open: the directory stays loaded, its other names were picked), d4
	 * (dirty) and d9 (the most recent), and the droppable directory used
	 * last (tree_cache.h keeps it): over the cap, nothing more to pick. */
	CHECK_RC(forgotten[2], NFILES - 1);
	CHECK(m.tree->ninodes <= 1 + NDIRS + 4 * NFILES);
	for (int d = 0; d < NDIRS; d++)
		unloaded += !dirs[d]->ds->loaded;
	CHECK(unloaded >= NDIRS - 4);
	CHECK(dirs[2]->ds->loaded && dirs[4]->ds->loaded && dirs[9]->ds->loaded);

	/* The open file, the changed one and an unloaded one read right. */
	CHECK_RC(tree_read(m.tree, open_f, buf, sizeof(buf), 0), 4);
	CHECK(memcmp(buf, "f2-3", 4) == 0);
	tree_release_file(m.tree, open_f);
	CHECK_RC(fcommit(&m), 0);
	CHECK_RC(fpath(m.tree, "d4/f4-0", &x), 0);
	CHECK(x == changed);
	CHECK_RC(tree_open_file(m.tree, x, false), 0);
	CHECK_RC(tree_read(m.tree, x, buf, sizeof(buf), 0), 4);
	CHECK(memcmp(buf, "NEW0", 4) == 0);
	tree_release_file(m.tree, x);
	CHECK_RC(fpath(m.tree, "d0/f0-7", &x), 0);
	CHECK(x != NULL);
	CHECK_RC(tree_open_file(m.tree, x, false), 0);
	CHECK_RC(tree_read(m.tree, x, buf, sizeof(buf), 0), 4);
	CHECK(memcmp(buf, "f0-7", 4) == 0);
	tree_release_file(m.tree, x);
	fmount_close(&m);
	fenv_free(&e);
}

int main(void)
{
	test_cap_picks_only_idle_names();
	return check_done("test_tree_cap");
}
