/* test_tree_early.c - decoding directories ahead of a walk (fs/vault/tree_early.c)
 * on a real vault reopened over its cache, as after a remount: a walk's loads
 * take the decodes the worker made after each listing and find every name
 * and content; a damaged cached object fails the load that needs it with
 * EBADMSG, as without the worker (the worker neither drops nor hides it),
 * and the next load reads the store's good copy; a walk while another thread
 * renames, creates and removes in the same directories sees no error (ASan
 * shows a use of a freed inode). */
#include "fs_test.h"

#include <pthread.h>

#define NDIRS 6
#define NSUB 3
#define NFILES 4

/* Root: d0..d5, each with s0..s2, each with f0..f3 holding their own path. */
static void build(struct tree *t)
{
	struct inode *d, *s, *f;
	char name[64], path[64];

	for (int i = 0; i < NDIRS; i++) {
		snprintf(name, sizeof(name), "d%d", i);
		CHECK_RC(tree_create(t, t->root, name, DIROBJ_DIR, 0755, 0, 0, NULL, &d), 0);
		for (int j = 0; j < NSUB; j++) {
			snprintf(name, sizeof(name), "s%d", j);
			CHECK_RC(tree_create(t, d, name, DIROBJ_DIR, 0755, 0, 0, NULL, &s), 0);
			for (int k = 0; k < NFILES; k++) {
				snprintf(name, sizeof(name), "f%d", k);
				snprintf(path, sizeof(path), "d%d/s%d/f%d", i, j, k);
				CHECK_RC(fwrite_file(t, s, name, path, strlen(path), &f), 0);
			}
		}
	}
}

/* Lists dir and every directory under it as a walk does (listing, then
 * each subdirectory); returns the files found, or -errno. */
static long walk(struct tree *t, struct inode *dir)
{
	struct tree_dirlist l;
	long n = 0;
	int r = tree_dirlist(t, dir, &l);

	if (r)
		return r;
	for (size_t i = 2; i < l.n && n >= 0; i++) {
		struct inode *c;

		r = tree_lookup(t, dir, l.ents[i].name, &c);
		if (r == -ENOENT)
			continue; /* removed meanwhile (the racing test) */
		if (r) {
			n = r;
			break;
		}
		if (S_ISDIR(l.ents[i].mode)) {
			long sub = walk(t, c);
			n = sub < 0 ? sub : n + sub;
		} else {
			n++;
		}
		tree_forget(t, c, 1);
	}
	tree_dirlist_free(&l);
	return n;
}

static void reopen(struct fmount *m, struct fenv *e)
{
	fmount_close(m);
	CHECK_RC(fmount_open(m, e, "c1"), 0);
}

static void test_walk_takes_decodes(void)
{
	struct tree_dirlist l;
	struct fenv e;
	struct fmount m;
	struct inode *f;
	char buf[64];

	CHECK_RC(fenv_init(&e), 0);
	CHECK_RC(fmount_open(&m, &e, "c1"), 0);
	build(m.tree);
	CHECK_RC(fcommit(&m), 0);
	reopen(&m, &e);
	CHECKF(m.tree->early != NULL, "the engine starts the worker");
	CHECK_RC(tree_early_used(m.tree), 0);
	/* The root's listing queues d0..d5; once the worker is through them,
	 * their loads take its decodes (deeper ones may or may not: a load
	 * that finds a directory still queued decodes it itself). */
	CHECK_RC(tree_dirlist(m.tree, m.tree->root, &l), 0);
	tree_dirlist_free(&l);
	tree_early_wait_idle(m.tree);
	CHECK_RC(walk(m.tree, m.tree->root), NDIRS * NSUB * NFILES);
	CHECKF(tree_early_used(m.tree) >= NDIRS, "%llu of %d loads took a decode",
	       (unsigned long long)tree_early_used(m.tree), NDIRS + NDIRS * NSUB);
	CHECK_RC(fpath(m.tree, "d4/s2/f3", &f), 0);
	CHECK_RC(tree_read(m.tree, f, buf, sizeof(buf), 0), 8);
	CHECK(memcmp(buf, "d4/s2/f3", 8) == 0);
	fmount_close(&m);
	fenv_free(&e);
}

/* More subdirectories than the worker keeps (32): it stops when full instead
 * of pushing out the first ones, which the walk needs first, and goes on as
 * the walk takes them. */
static void test_wide_directory(void)
{
	enum { WIDE = 40 };
	struct tree_dirlist l;
	struct inode *w, *c;
	struct fenv e;
	struct fmount m;
	char name[16];

	CHECK_RC(fenv_init(&e), 0);
	CHECK_RC(fmount_open(&m, &e, "c1"), 0);
	CHECK_RC(tree_create(m.tree, m.tree->root, "w", DIROBJ_DIR, 0755, 0, 0, NULL, &w), 0);
	for (int i = 0; i < WIDE; i++) {
		snprintf(name, sizeof(name), "s%02d", i);
		CHECK_RC(tree_create(m.tree, w, name, DIROBJ_DIR, 0755, 0, 0, NULL, &c), 0);
		CHECK_RC(fwrite_file(m.tree, c, "f", name, strlen(name), &c), 0);
	}
	CHECK_RC(fcommit(&m), 0);
	reopen(&m, &e);
	CHECK_RC(tree_lookup(m.tree, m.tree->root, "w", &w), 0);
	CHECK_RC(tree_dirlist(m.tree, w, &l), 0);
	for (size_t i = 2; i < l.n; i++) {
		tree_early_wait_idle(m.tree);
		CHECK_RC(tree_lookup(m.tree, w, l.ents[i].name, &c), 0);
		CHECK_RC(walk(m.tree, c), 1);
	}
	tree_dirlist_free(&l);
	CHECKF(tree_early_used(m.tree) == WIDE, "%llu of %d loads took a decode",
	       (unsigned long long)tree_early_used(m.tree), WIDE);
	fmount_close(&m);
	fenv_free(&e);
}

/* Replaces the cache file of d's object with a copy with one byte flipped
 * (a new file: the store's copy stays good). */
static void damage_cached(struct fmount *m, struct inode *d)
{
	char key[OBJECT_KEY_TEXT_BYTES], path[CACHE_PATH_MAX], tmp[CACHE_PATH_MAX + 8];
	unsigned char *buf = NULL;
	size_t len = 0;
	FILE *fp;

	object_key_text(key, d->ds->ref.store_key);
	cache_path(m->cache, key, path);
	CHECK_RC(cache_read_object(m->cache, key, 1u << 20, &buf, &len), 0);
	CHECK(len > 40);
	if (!buf || len <= 40)
		return;
	buf[len / 2] ^= 0x20;
	snprintf(tmp, sizeof(tmp), "%s.bad", path);
	fp = fopen(tmp, "wb");
	CHECK(fp != NULL);
	if (fp) {
		CHECK(fwrite(buf, 1, len, fp) == len);
		fclose(fp);
		CHECK_RC(rename(tmp, path), 0);
	}
	free(buf);
}

static void test_damaged_object_fails_at_its_load(void)
{
	struct tree_dirlist l;
	struct fenv e;
	struct fmount m;
	struct inode *d;

	CHECK_RC(fenv_init(&e), 0);
	CHECK_RC(fmount_open(&m, &e, "c1"), 0);
	build(m.tree);
	CHECK_RC(fcommit(&m), 0);
	reopen(&m, &e);
	CHECK_RC(tree_lookup(m.tree, m.tree->root, "d3", &d), 0);
	damage_cached(&m, d);
	/* The root's listing queues d0..d5; the worker tries d3 and fails. */
	CHECK_RC(tree_dirlist(m.tree, m.tree->root, &l), 0);
	tree_dirlist_free(&l);
	tree_early_wait_idle(m.tree);
	CHECK_RC(tree_dirlist(m.tree, d, &l), -EBADMSG);
	/* That load dropped the damaged cache file; the next reads the store. */
	CHECK_RC(tree_dirlist(m.tree, d, &l), 0);
	CHECK_RC(l.n, 2 + NSUB);
	tree_dirlist_free(&l);
	CHECK_RC(walk(m.tree, m.tree->root), NDIRS * NSUB * NFILES);
	fmount_close(&m);
	fenv_free(&e);
}

struct racer {
	struct tree *t;
	int errors;
};

/* Renames each dN/s1 to dN/moved and back, creates and removes a file and a
 * directory in dN/s0, while the walk runs. */
static void *race(void *arg)
{
	struct racer *x = arg;
	struct inode *d, *n;
	char name[16];

	for (int round = 0; round < 3; round++)
		for (int i = 0; i < NDIRS; i++) {
			snprintf(name, sizeof(name), "d%d", i);
			if (tree_lookup(x->t, x->t->root, name, &d) != 0) {
				x->errors++;
				continue;
			}
			x->errors += tree_rename(x->t, d, "s1", d, "moved", 0) != 0;
			x->errors += tree_rename(x->t, d, "moved", d, "s1", 0) != 0;
			n = NULL;
			x->errors +=
			    tree_create(x->t, d, "new", DIROBJ_DIR, 0755, 0, 0, NULL, &n) != 0;
			if (n)
				tree_forget(x->t, n, 1);
			x->errors += tree_remove(x->t, d, "new", true) != 0;
			tree_forget(x->t, d, 1);
		}
	return NULL;
}

static void test_walk_while_the_tree_changes(void)
{
	struct fenv e;
	struct fmount m;
	struct racer x;
	pthread_t th;

	CHECK_RC(fenv_init(&e), 0);
	CHECK_RC(fmount_open(&m, &e, "c1"), 0);
	build(m.tree);
	CHECK_RC(fcommit(&m), 0);
	for (int round = 0; round < 3; round++) {
		reopen(&m, &e);
		x.t = m.tree;
		x.errors = 0;
		CHECK_RC(pthread_create(&th, NULL, race, &x), 0);
		/* Each s1 is gone while renamed: between 3 and 4 per dN. */
		long n = walk(m.tree, m.tree->root);
		CHECKF(n >= NDIRS * (NSUB - 1) * NFILES && n <= NDIRS * NSUB * NFILES, "walk: %ld",
		       n);
		pthread_join(th, NULL);
		CHECK_RC(x.errors, 0);
		CHECK_RC(walk(m.tree, m.tree->root), NDIRS * NSUB * NFILES);
		CHECK_RC(fcommit(&m), 0);
	}
	fmount_close(&m);
	fenv_free(&e);
}

int main(void)
{
	test_walk_takes_decodes();
	test_wide_directory();
	test_damaged_object_fails_at_its_load();
	test_walk_while_the_tree_changes();
	return check_done("test_tree_early");
}
