/* test_tree_cache.c - unloading the in-memory tree (fs/tree_cache.h) on a real
 * vault: once the "kernel" (this test, through tree_lookup/tree_forget) lets
 * go of a clean subtree, its inodes leave memory down to the budget; what is
 * still referenced, open or dirty stays at the same address; everything read
 * again afterwards (names, sizes, contents) is what was written; namespace
 * operations in directories that were unloaded work. Run under ASan, a freed
 * inode that is still used shows up as an error. */
#include "fs_test.h"

#define NDIRS 20
#define NFILES 50

static void name_of(char *buf, size_t size, int d, int f)
{
	if (f < 0)
		snprintf(buf, size, "dir-%02d", d);
	else
		snprintf(buf, size, "file-%02d-%03d", d, f);
}

/* Each file holds its own name, so a mixed-up reload shows. */
static void build(struct tree *t, struct inode *dirs[NDIRS], struct inode *files[NDIRS][NFILES])
{
	char name[64];

	for (int d = 0; d < NDIRS; d++) {
		name_of(name, sizeof(name), d, -1);
		CHECK_RC(tree_create(t, t->root, name, DIROBJ_DIR, 0755, 0, 0, NULL, &dirs[d]), 0);
		for (int f = 0; f < NFILES; f++) {
			name_of(name, sizeof(name), d, f);
			CHECK_RC(fwrite_file(t, dirs[d], name, name, strlen(name), &files[d][f]),
				 0);
		}
	}
}

/* Looks up every entry again and checks its content; forgets what it took. */
static void check_all(struct tree *t)
{
	char name[64], buf[64];
	struct inode *d, *f;

	for (int i = 0; i < NDIRS; i++) {
		name_of(name, sizeof(name), i, -1);
		CHECK_RC(tree_lookup(t, t->root, name, &d), 0);
		if (!d)
			continue;
		for (int j = 0; j < NFILES; j++) {
			name_of(name, sizeof(name), i, j);
			CHECK_RC(tree_lookup(t, d, name, &f), 0);
			if (!f)
				continue;
			CHECK_RC(tree_open_file(t, f, false), 0);
			CHECK_RC(tree_read(t, f, buf, sizeof(buf), 0), (ssize_t)strlen(name));
			CHECK(memcmp(buf, name, strlen(name)) == 0);
			tree_release_file(t, f);
			tree_forget(t, f, 1);
		}
		tree_forget(t, d, 1);
	}
}

static uint64_t inodes(struct tree *t)
{
	uint64_t n;

	pthread_mutex_lock(&t->lock);
	n = t->ninodes;
	pthread_mutex_unlock(&t->lock);
	return n;
}

static void test_idle_clean_directories_leave_memory(void)
{
	static struct inode *dirs[NDIRS], *files[NDIRS][NFILES];
	struct inode *kept, *again, *fresh;
	struct tree_dirlist l;
	struct fenv e;
	struct fmount m, f;
	char buf[64];

	CHECK_RC(fenv_init(&e), 0);
	CHECK_RC(fmount_open(&m, &e, "c1"), 0);
	m.tree->cache_dirs_max = 4;
	m.tree->cache_inodes_max = 2 * NFILES;
	build(m.tree, dirs, files);
	CHECK_RC(inodes(m.tree), 1 + NDIRS + NDIRS * NFILES);
	CHECK_RC(fcommit(&m), 0);
	/* Still referenced: nothing may go. */
	CHECK_RC(inodes(m.tree), 1 + NDIRS + NDIRS * NFILES);

	/* Let go of everything but one file in dir 7 and a new, uncommitted
	 * file in dir 3 (whose directory is dirty). */
	CHECK_RC(tree_create(m.tree, dirs[3], "new-file", DIROBJ_FILE, 0644, 0, 0, NULL, &fresh),
		 0);
	tree_forget(m.tree, fresh, 1);
	kept = files[7][5];
	for (int d = 0; d < NDIRS; d++) {
		for (int i = 0; i < NFILES; i++)
			if (files[d][i] != kept)
				tree_forget(m.tree, files[d][i], 1);
		tree_forget(m.tree, dirs[d], 1);
	}
	/* Left: root, the 20 directories, dir 3 (dirty) and dir 7 (a child
	 * referenced) with their children, and at most 2 * NFILES + the most
	 * recent directory's children in the budget. */
	CHECK(inodes(m.tree) <= 1 + NDIRS + 2 * (NFILES + 1) + 3 * NFILES);
	CHECK(m.tree->lru_dirs <= 4);

	/* The referenced file keeps its address (its node id) and content. */
	CHECK_RC(tree_lookup(m.tree, m.tree->root, "dir-07", &again), 0);
	CHECK(again == dirs[7]);
	CHECK_RC(tree_lookup(m.tree, again, "file-07-005", &again), 0);
	CHECK(again == kept);
	tree_forget(m.tree, again, 1);
	tree_forget(m.tree, kept, 1);
	tree_forget(m.tree, dirs[7], 1);

	/* Everything reads back; then namespace operations in unloaded
	 * directories. */
	check_all(m.tree);
	CHECK(inodes(m.tree) <= 1 + NDIRS + 2 * (NFILES + 1) + 3 * NFILES);
	CHECK_RC(tree_lookup(m.tree, m.tree->root, "dir-11", &again), 0);
	CHECK_RC(tree_lookup(m.tree, m.tree->root, "dir-12", &kept), 0);
	CHECK_RC(tree_rename(m.tree, again, "file-11-001", kept, "moved", 0), 0);
	CHECK_RC(tree_remove(m.tree, again, "file-11-002", false), 0);
	tree_forget(m.tree, again, 1);
	tree_forget(m.tree, kept, 1);
	CHECK_RC(fcommit(&m), 0);

	CHECK_RC(fmount_open(&f, &e, "c2"), 0);
	CHECK_RC(fpath(f.tree, "dir-12/moved", &again), 0);
	CHECK_RC(tree_read(f.tree, again, buf, sizeof(buf), 0), 11);
	CHECK(memcmp(buf, "file-11-001", 11) == 0);
	CHECK_RC(fpath(f.tree, "dir-03/new-file", &again), 0);
	CHECK_RC(fpath(f.tree, "dir-11", &again), 0);
	CHECK_RC(tree_dirlist(f.tree, again, &l), 0);
	CHECK_RC(l.n, 2 + NFILES - 2);
	tree_dirlist_free(&l);
	fmount_close(&f);
	fmount_close(&m);
	fenv_free(&e);
}

/* Chains of idle directories unload from the bottom up: a directory whose
 * subdirectories were all unloaded becomes droppable in turn. */
static void test_idle_chains_unload_bottom_up(void)
{
	struct inode *chain[8][5], *leaf[8], *x;
	struct fenv e;
	struct fmount m;
	char name[16], buf[8];

	CHECK_RC(fenv_init(&e), 0);
	CHECK_RC(fmount_open(&m, &e, "c1"), 0);
	m.tree->cache_dirs_max = 2;
	m.tree->cache_inodes_max = 1000;
	for (int c = 0; c < 8; c++) {
		chain[c][0] = m.tree->root;
		for (int i = 1; i < 5; i++) {
			snprintf(name, sizeof(name), i == 1 ? "c%d" : "d", c);
			CHECK_RC(tree_create(m.tree, chain[c][i - 1], name, DIROBJ_DIR, 0755, 0, 0,
					     NULL, &chain[c][i]),
				 0);
		}
		CHECK_RC(fwrite_file(m.tree, chain[c][4], "leaf", "leaf", 4, &leaf[c]), 0);
	}
	CHECK_RC(inodes(m.tree), 1 + 8 * 5);
	CHECK_RC(fcommit(&m), 0);
	for (int c = 0; c < 8; c++) {
		tree_forget(m.tree, leaf[c], 1);
		for (int i = 4; i > 0; i--)
			tree_forget(m.tree, chain[c][i], 1);
	}
	/* At most 2 droppable directories and their ancestors stay loaded:
	 * the root's 8 children, and one child of each other loaded one. */
	CHECK(inodes(m.tree) <= 1 + 8 + 2 * 4);
	for (int c = 0; c < 8; c++) {
		snprintf(name, sizeof(name), "c%d/d/d/d/leaf", c);
		CHECK_RC(fpath(m.tree, name, &x), 0);
		CHECK_RC(tree_read(m.tree, x, buf, sizeof(buf), 0), 4);
		CHECK(memcmp(buf, "leaf", 4) == 0);
	}
	fmount_close(&m);
	fenv_free(&e);
}

/* One directory of many names (tree_table.c): after creates, removes and
 * renames within it every name is found or not as it should be, a listing
 * has each once, the table stays at most 4/5 full plus one free slot, and a
 * fresh load sizes it to its children (not to the next power of two);
 * removed names that the "kernel" still references wait as orphans and are
 * reaped when forgotten or at close (ASan: none leaks, none is freed twice). */
#define NBIG 2250 /* 1,500 stay: a power-of-two table would be 2,048 */
static void test_big_directory_table(void)
{
	static struct inode *kid[NBIG];
	struct inode *dir, *x;
	struct tree_dirlist l;
	struct fenv e;
	struct fmount m, f;
	char name[32], nn[32];
	size_t present = 0;

	CHECK_RC(fenv_init(&e), 0);
	CHECK_RC(fmount_open(&m, &e, "c1"), 0);
	CHECK_RC(tree_create(m.tree, m.tree->root, "big", DIROBJ_DIR, 0755, 0, 0, NULL, &dir), 0);
	for (int i = 0; i < NBIG; i++) {
		snprintf(name, sizeof(name), "n%d", i);
		CHECK_RC(tree_create(m.tree, dir, name, DIROBJ_FILE, 0644, 0, 0, NULL, &kid[i]), 0);
	}
	for (int i = 0; i < NBIG; i++) {
		snprintf(name, sizeof(name), "n%d", i);
		snprintf(nn, sizeof(nn), "r%d", i);
		if (i % 3 == 0) /* removed; i % 6 == 0 stays referenced: an orphan */
			CHECK_RC(tree_remove(m.tree, dir, name, false), 0);
		else if (i % 5 == 0)
			CHECK_RC(tree_rename(m.tree, dir, name, dir, nn, 0), 0);
		if (i % 3 == 0 && i % 6 != 0)
			tree_forget(m.tree, kid[i], 1);
	}
	for (int i = 0; i < NBIG; i++) {
		bool gone = i % 3 == 0, moved = !gone && i % 5 == 0;
		snprintf(name, sizeof(name), "n%d", i);
		snprintf(nn, sizeof(nn), "r%d", i);
		CHECK_RC(tree_lookup(m.tree, dir, name, &x), gone || moved ? -ENOENT : 0);
		CHECK(gone || moved || x == kid[i]);
		CHECK_RC(tree_lookup(m.tree, dir, nn, &x), moved ? 0 : -ENOENT);
		CHECK(!moved || x == kid[i]);
		if (x && !gone)
			tree_forget(m.tree, x, 1);
		present += !gone;
	}
	/* A name longer than the inode's inline room goes to the heap and
	 * back (tree_name). */
	CHECK_RC(tree_rename(m.tree, dir, "n4", dir, "a-name-much-longer-than-the-one-before", 0),
		 0);
	CHECK_RC(tree_lookup(m.tree, dir, "a-name-much-longer-than-the-one-before", &x), 0);
	CHECK(x == kid[4] && strcmp(tree_name(x), "a-name-much-longer-than-the-one-before") == 0);
	tree_forget(m.tree, x, 1);
	CHECK_RC(tree_rename(m.tree, dir, "a-name-much-longer-than-the-one-before", dir, "n4", 0),
		 0);
	CHECK(strcmp(tree_name(kid[4]), "n4") == 0);
	CHECK_RC(dir->ds->nchildren, present);
	CHECK(dir->ds->nchildren * 5 <= dir->ds->table_size * 4 + 4);
	CHECK_RC(tree_dirlist(m.tree, dir, &l), 0);
	CHECK_RC(l.n, 2 + present);
	tree_dirlist_free(&l);
	CHECK_RC(fcommit(&m), 0);
	for (int i = 0; i < NBIG; i += 12) /* half the orphans go now */
		tree_forget(m.tree, kid[i], 1);

	/* A fresh load: the table fits its children at 4/5. */
	CHECK_RC(fmount_open(&f, &e, "c2"), 0);
	CHECK_RC(fpath(f.tree, "big/r5", &x), 0);
	CHECK(x && x->parent && x->parent->ds->nchildren == present);
	CHECK(x && x->parent && x->parent->ds->table_size <= present + present / 4 + 2);
	CHECK_RC(fpath(f.tree, "big/n3", &x), -ENOENT);
	CHECK_RC(fpath(f.tree, "big/n4", &x), 0);
	fmount_close(&f);
	fmount_close(&m); /* the other orphans are freed here */
	fenv_free(&e);
}

int main(void)
{
	test_idle_clean_directories_leave_memory();
	test_idle_chains_unload_bottom_up();
	test_big_directory_table();
	return check_done("test_tree_cache");
}
