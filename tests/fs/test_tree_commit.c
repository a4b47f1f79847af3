/* test_tree_commit.c - the tree and the commit without FUSE: namespace
 * operations through tree.h, commits into the journal that the real uploader
 * stores in a real local store (fcommit), and a second tree loaded from the
 * store through a fresh cache must equal the first; garbage leaves the store;
 * rolled-back objects and heads are refused. */
#include "fs_test.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/xattr.h>

/* ---- comparing two trees ---- */

static int cmp_dirent(const void *a, const void *b)
{
	return strcmp(((const struct tree_dirent *)a)->name, ((const struct tree_dirent *)b)->name);
}

static void compare_content(struct tree *t1, struct inode *a, struct tree *t2, struct inode *b,
			    uint64_t size)
{
	static unsigned char x[1 << 16], y[1 << 16];

	for (uint64_t off = 0; off < size; off += sizeof(x)) {
		ssize_t n1 = tree_read(t1, a, x, sizeof(x), off);
		ssize_t n2 = tree_read(t2, b, y, sizeof(y), off);
		if (!CHECKF(n1 == n2 && n1 > 0 && memcmp(x, y, (size_t)n1) == 0,
			    "content differs at %llu (reads %zd, %zd)", (unsigned long long)off, n1,
			    n2))
			return;
	}
}

static void compare_xattrs(struct tree *t1, struct inode *a, struct tree *t2, struct inode *b)
{
	static char v1[DIROBJ_XATTR_VALUE_MAX], v2[DIROBJ_XATTR_VALUE_MAX];
	char l1[4096], l2[4096];
	ssize_t n1 = tree_listxattr(t1, a, l1, sizeof(l1));
	ssize_t n2 = tree_listxattr(t2, b, l2, sizeof(l2));

	CHECK_RC(n1, n2);
	for (ssize_t off = 0; n1 == n2 && off < n1; off += (ssize_t)strlen(l1 + off) + 1) {
		ssize_t s1 = tree_getxattr(t1, a, l1 + off, v1, sizeof(v1));
		ssize_t s2 = tree_getxattr(t2, b, l1 + off, v2, sizeof(v2));
		CHECK(s1 == s2 && s1 >= 0 && memcmp(v1, v2, (size_t)s1) == 0);
	}
}

static void compare_dirs(struct tree *t1, struct inode *d1, struct tree *t2, struct inode *d2);

static void compare_inodes(struct tree *t1, struct inode *a, struct tree *t2, struct inode *b)
{
	struct stat s1, s2;
	const char *l1, *l2;

	tree_getattr(t1, a, &s1);
	tree_getattr(t2, b, &s2);
	CHECK_RC(s1.st_mode, s2.st_mode);
	CHECK_RC(s1.st_ino, s2.st_ino);
	CHECK_RC(s1.st_uid, s2.st_uid);
	CHECK_RC(s1.st_gid, s2.st_gid);
	CHECK_RC(s1.st_size, s2.st_size);
	CHECK(s1.st_mtim.tv_sec == s2.st_mtim.tv_sec && s1.st_mtim.tv_nsec == s2.st_mtim.tv_nsec);
	CHECK(s1.st_ctim.tv_sec == s2.st_ctim.tv_sec && s1.st_ctim.tv_nsec == s2.st_ctim.tv_nsec);
	CHECK(s1.st_atim.tv_sec == s2.st_atim.tv_sec && s1.st_atim.tv_nsec == s2.st_atim.tv_nsec);
	compare_xattrs(t1, a, t2, b);
	if (S_ISREG(s1.st_mode))
		compare_content(t1, a, t2, b, (uint64_t)s1.st_size);
	if (S_ISLNK(s1.st_mode)) {
		CHECK_RC(tree_readlink(t1, a, &l1), 0);
		CHECK_RC(tree_readlink(t2, b, &l2), 0);
		CHECK(strcmp(l1, l2) == 0);
	}
	if (S_ISDIR(s1.st_mode))
		compare_dirs(t1, a, t2, b);
}

static void compare_dirs(struct tree *t1, struct inode *d1, struct tree *t2, struct inode *d2)
{
	struct tree_dirlist l1, l2;

	CHECK_RC(tree_dirlist(t1, d1, &l1), 0);
	CHECK_RC(tree_dirlist(t2, d2, &l2), 0);
	CHECK_RC(l1.n, l2.n);
	qsort(l1.ents, l1.n, sizeof(*l1.ents), cmp_dirent);
	qsort(l2.ents, l2.n, sizeof(*l2.ents), cmp_dirent);
	for (size_t i = 0; l1.n == l2.n && i < l1.n; i++) {
		struct inode *a, *b;
		CHECK(strcmp(l1.ents[i].name, l2.ents[i].name) == 0);
		CHECK_RC(l1.ents[i].st_ino, l2.ents[i].st_ino);
		if (strcmp(l1.ents[i].name, ".") == 0 || strcmp(l1.ents[i].name, "..") == 0)
			continue;
		CHECK_RC(tree_lookup(t1, d1, l1.ents[i].name, &a), 0);
		CHECK_RC(tree_lookup(t2, d2, l1.ents[i].name, &b), 0);
		if (a && b)
			compare_inodes(t1, a, t2, b);
	}
	tree_dirlist_free(&l1);
	tree_dirlist_free(&l2);
}

/* Reloads the vault through a fresh cache and compares it with m. */
static void check_reload(struct fenv *e, struct fmount *m, const char *cache_name)
{
	struct fmount f;

	CHECK_RC(fmount_open(&f, e, cache_name), 0);
	if (f.tree)
		compare_inodes(m->tree, m->tree->root, f.tree, f.tree->root);
	fmount_close(&f);
}

/* Objects a tree reaches: one per directory plus each present segment. */
static size_t reachable(struct tree *t, struct inode *dir)
{
	struct tree_dirlist l;
	size_t n = 1;

	CHECK_RC(tree_dirlist(t, dir, &l), 0);
	for (size_t i = 2; i < l.n; i++) {
		struct inode *c;
		if (tree_lookup(t, dir, l.ents[i].name, &c) != 0)
			continue;
		if (c->type == DIROBJ_DIR)
			n += reachable(t, c);
		for (size_t s = 0; c->type == DIROBJ_FILE && c->content && s < c->content->nsegs;
		     s++)
			n += c->content->segs[s].present; /* open or changed */
		for (size_t s = 0;
		     c->type == DIROBJ_FILE && !c->content && s < content_cold_nsegs(&c->cold); s++)
			n += content_cold_key(&c->cold, s) != NULL; /* cold */
	}
	tree_dirlist_free(&l);
	return n;
}

static void check_no_garbage(struct fenv *e, const char *cache_name)
{
	struct fmount f;

	CHECK_RC(fmount_open(&f, e, cache_name), 0);
	if (f.tree)
		CHECK_RC(fstore_objects(e), reachable(f.tree, f.tree->root));
	fmount_close(&f);
}

/* ---- tests ---- */

static unsigned char big[3 << 20];

static void build_sample(struct tree *t)
{
	struct inode *a, *b, *f, *l, *g;
	struct tree_setattr sa = {.valid = TREE_SET_MODE | TREE_SET_MTIME | TREE_SET_ATIME,
				  .mode = 0600,
				  .mtime = {1234567890, 123456789},
				  .atime = {1000000000, 999999999}};

	randombytes_buf(big, sizeof(big));
	CHECK_RC(tree_create(t, t->root, "a", DIROBJ_DIR, 0755, 1000, 1000, NULL, &a), 0);
	CHECK_RC(tree_create(t, a, "b", DIROBJ_DIR, 0700, 1000, 1000, NULL, &b), 0);
	CHECK_RC(fwrite_file(t, b, "big", big, sizeof(big), &f), 0);
	CHECK_RC(fwrite_file(t, a, "small", "hello\n", 6, NULL), 0);
	CHECK_RC(fwrite_file(t, t->root, "empty", NULL, 0, NULL), 0);
	CHECK_RC(tree_setattr(t, f, &sa), 0);
	CHECK_RC(tree_create(t, a, "link", DIROBJ_SYMLINK, 0, 1000, 1000, "b/big", &l), 0);
	CHECK_RC(tree_setxattr(t, f, "user.k", "v1", 2, 0), 0);
	CHECK_RC(tree_setxattr(t, a, "user.dir", "", 0, 0), 0);
	CHECK_RC(tree_setxattr(t, t->root, "user.root", "r", 1, 0), 0);
	/* A sparse file: one segment written at 5 MiB, holes before. */
	CHECK_RC(fwrite_file(t, t->root, "sparse", NULL, 0, &g), 0);
	CHECK_RC(tree_write(t, g, "x", 1, 5u << 20), 1);
	CHECK_RC(tree_create(t, t->root, "\xff\xfe-not-utf8", DIROBJ_FILE, 0644, 0, 0, NULL, &g),
		 0);
}

static void test_commit_then_fresh_cache_gives_back_everything(void)
{
	struct fenv e;
	struct fmount m;

	CHECK_RC(fenv_init(&e), 0);
	CHECK_RC(fmount_open(&m, &e, "c1"), 0);
	build_sample(m.tree);
	CHECK_RC(fcommit(&m), 0);
	CHECK_RC(commit_seq(m.commit), 2);
	check_reload(&e, &m, "c2");
	check_no_garbage(&e, "c3");
	fmount_close(&m);
	fenv_free(&e);
}

static void test_changes_after_commit_and_garbage_leaves_the_store(void)
{
	struct inode *a, *b, *f, *x;
	struct fenv e;
	struct fmount m;

	CHECK_RC(fenv_init(&e), 0);
	CHECK_RC(fmount_open(&m, &e, "c1"), 0);
	build_sample(m.tree);
	CHECK_RC(fcommit(&m), 0);
	CHECK_RC(fpath(m.tree, "a", &a), 0);
	CHECK_RC(fpath(m.tree, "a/b", &b), 0);
	CHECK_RC(fpath(m.tree, "a/b/big", &f), 0);
	/* Overwrite inside a committed segment (copy on write), shrink, grow. */
	CHECK_RC(tree_write(m.tree, f, "changed", 7, 1500000), 7);
	CHECK_RC(tree_setattr(m.tree, f,
			      &(struct tree_setattr){.valid = TREE_SET_SIZE, .size = 1100000}),
		 0);
	CHECK_RC(tree_remove(m.tree, a, "small", false), 0);
	CHECK_RC(tree_create(m.tree, a, "gone", DIROBJ_DIR, 0755, 0, 0, NULL, &x), 0);
	CHECK_RC(fcommit(&m), 0);
	CHECK_RC(tree_remove(m.tree, a, "gone", true), 0);
	CHECK_RC(tree_rename(m.tree, b, "big", m.tree->root, "empty", 0), 0);
	tree_drop_orphans(m.tree); /* as at unmount: "small" is still referenced */
	CHECK_RC(fcommit(&m), 0);
	check_reload(&e, &m, "c2");
	check_no_garbage(&e, "c3");
	fmount_close(&m);
	fenv_free(&e);
}

static void test_idle_commit_writes_nothing(void)
{
	unsigned char *h1 = NULL, *h2 = NULL;
	size_t n1 = 0, n2 = 0;
	struct fenv e;
	struct fmount m;

	CHECK_RC(fenv_init(&e), 0);
	CHECK_RC(fmount_open(&m, &e, "c1"), 0);
	build_sample(m.tree);
	CHECK_RC(fcommit(&m), 0);
	CHECK(!m.tree->dirty);
	CHECK_RC(backend_get(e.store, "head", 0, 0, &h1, &n1), 0);
	CHECK_RC(fcommit(&m), 0);
	CHECK_RC(backend_get(e.store, "head", 0, 0, &h2, &n2), 0);
	CHECK(n1 == n2 && h1 && h2 && memcmp(h1, h2, n1) == 0);
	CHECK_RC(commit_seq(m.commit), 2);
	free(h1);
	free(h2);
	fmount_close(&m);
	fenv_free(&e);
}

static void test_unlinked_open_file_works_until_released(void)
{
	char buf[16] = {0};
	struct inode *f;
	size_t before;
	struct fenv e;
	struct fmount m;

	CHECK_RC(fenv_init(&e), 0);
	CHECK_RC(fmount_open(&m, &e, "c1"), 0);
	before = fstore_objects(&e);
	CHECK_RC(fwrite_file(m.tree, m.tree->root, "f", "payload", 7, &f), 0);
	CHECK_RC(fcommit(&m), 0);
	CHECK_RC(fstore_objects(&e), before + 1);
	CHECK_RC(tree_open_file(m.tree, f, false), 0);
	CHECK_RC(tree_remove(m.tree, m.tree->root, "f", false), 0);
	CHECK_RC(fcommit(&m), 0);
	CHECK_RC(tree_read(m.tree, f, buf, sizeof(buf), 0), 7);
	CHECK(memcmp(buf, "payload", 7) == 0);
	CHECK_RC(tree_write(m.tree, f, "more", 4, 7), 4);
	struct stat st;
	tree_getattr(m.tree, f, &st);
	CHECK_RC(st.st_nlink, 0);
	CHECK_RC(st.st_size, 11);
	CHECK_RC(fcommit(&m), 0);
	tree_release_file(m.tree, f);
	tree_forget(m.tree, f, 2); /* the create's and fpath's references */
	CHECK_RC(fcommit(&m), 0);
	CHECK_RC(fstore_objects(&e), before);
	fmount_close(&m);
	fenv_free(&e);
}

static void test_rename_rules(void)
{
	struct inode *d, *sub, *x, *ro;
	struct tree *t;
	struct fenv e;
	struct fmount m;

	CHECK_RC(fenv_init(&e), 0);
	CHECK_RC(fmount_open(&m, &e, "c1"), 0);
	t = m.tree;
	ro = t->root;
	CHECK_RC(tree_create(t, ro, "d", DIROBJ_DIR, 0755, 0, 0, NULL, &d), 0);
	CHECK_RC(tree_create(t, d, "sub", DIROBJ_DIR, 0755, 0, 0, NULL, &sub), 0);
	CHECK_RC(tree_create(t, sub, "x", DIROBJ_FILE, 0644, 0, 0, NULL, &x), 0);
	CHECK_RC(fwrite_file(t, ro, "f", "1", 1, NULL), 0);
	CHECK_RC(fwrite_file(t, ro, "g", "2", 1, NULL), 0);
	CHECK_RC(tree_create(t, ro, "e", DIROBJ_DIR, 0755, 0, 0, NULL, &x), 0);
	CHECK_RC(tree_rename(t, ro, "d", sub, "d2", 0), -EINVAL);
	CHECK_RC(tree_rename(t, ro, "d", d, "d2", 0), -EINVAL);
	CHECK_RC(tree_rename(t, ro, "f", ro, "g", TREE_RENAME_NOREPLACE), -EEXIST);
	CHECK_RC(tree_rename(t, ro, "f", ro, "d", 0), -EISDIR);
	CHECK_RC(tree_rename(t, ro, "d", ro, "f", 0), -ENOTDIR);
	CHECK_RC(tree_rename(t, ro, "e", ro, "d", 0), -ENOTEMPTY);
	CHECK_RC(tree_rename(t, ro, "nope", ro, "x", 0), -ENOENT);
	CHECK_RC(tree_rename(t, ro, "f", ro, "nope", TREE_RENAME_EXCHANGE), -ENOENT);
	CHECK_RC(tree_rename(t, ro, "d", sub, "x", TREE_RENAME_EXCHANGE), -EINVAL);
	CHECK_RC(tree_rename(t, ro, "f", ro, "f", 0), 0);
	CHECK_RC(tree_rename(t, ro, "d", ro, "e", 3), -EINVAL);
	CHECK_RC(tree_rename(t, ro, "f", sub, "x", TREE_RENAME_EXCHANGE), 0);
	CHECK_RC(tree_rename(t, ro, "d", ro, "e", 0), 0); /* replaces the empty dir */
	CHECK_RC(tree_rename(t, ro, "g", ro, "x", 0), 0);
	CHECK_RC(tree_remove(t, ro, "e", true), -ENOTEMPTY);
	CHECK_RC(tree_remove(t, ro, "e", false), -EISDIR);
	CHECK_RC(tree_remove(t, ro, "x", true), -ENOTDIR);
	CHECK_RC(tree_create(t, ro, "x", DIROBJ_FILE, 0644, 0, 0, NULL, &x), -EEXIST);
	CHECK_RC(fcommit(&m), 0);
	CHECK_RC(fpath(t, "e/sub/x", &x), 0);
	CHECK_RC(tree_read(t, x, (char[4]){0}, 4, 0), 1);
	check_reload(&e, &m, "c2");
	check_no_garbage(&e, "c3");
	fmount_close(&m);
	fenv_free(&e);
}

static void test_xattr_rules(void)
{
	char big_value[DIROBJ_XATTR_VALUE_MAX + 1] = {0}, buf[64], name[300];
	struct inode *f;
	struct tree *t;
	struct fenv e;
	struct fmount m;

	CHECK_RC(fenv_init(&e), 0);
	CHECK_RC(fmount_open(&m, &e, "c1"), 0);
	t = m.tree;
	CHECK_RC(fwrite_file(t, t->root, "f", "1", 1, &f), 0);
	CHECK_RC(tree_setxattr(t, f, "trusted.x", "v", 1, 0), -EOPNOTSUPP);
	CHECK_RC(tree_getxattr(t, f, "security.selinux", buf, sizeof(buf)), -EOPNOTSUPP);
	CHECK_RC(tree_getxattr(t, f, "user.none", buf, sizeof(buf)), -ENODATA);
	CHECK_RC(tree_setxattr(t, f, "user.a", "value", 5, XATTR_REPLACE), -ENODATA);
	CHECK_RC(tree_setxattr(t, f, "user.a", "value", 5, XATTR_CREATE), 0);
	CHECK_RC(tree_setxattr(t, f, "user.a", "v", 1, XATTR_CREATE), -EEXIST);
	CHECK_RC(tree_getxattr(t, f, "user.a", NULL, 0), 5);
	CHECK_RC(tree_getxattr(t, f, "user.a", buf, 2), -ERANGE);
	CHECK_RC(tree_setxattr(t, f, "user.a", "vv", 2, XATTR_REPLACE), 0);
	CHECK_RC(tree_getxattr(t, f, "user.a", buf, sizeof(buf)), 2);
	CHECK_RC(tree_setxattr(t, f, "user.b", "", 0, 0), 0);
	CHECK_RC(tree_listxattr(t, f, NULL, 0), 14);
	CHECK_RC(tree_listxattr(t, f, buf, 3), -ERANGE);
	CHECK_RC(tree_setxattr(t, f, "user.big", big_value, sizeof(big_value), 0), -E2BIG);
	CHECK_RC(tree_setxattr(t, f, "user.max", big_value, DIROBJ_XATTR_VALUE_MAX, 0), 0);
	memset(name, 'n', sizeof(name) - 1);
	memcpy(name, "user.", 5);
	name[sizeof(name) - 1] = '\0';
	CHECK_RC(tree_setxattr(t, f, name, "v", 1, 0), -ERANGE);
	CHECK_RC(tree_setxattr(t, f, "user.\xff", "v", 1, 0), -EINVAL);
	/* the decoder's UTF-8 rule (dirobj_check_utf8): overlong forms and
	 * surrogates refused, any other code point kept through a reload */
	CHECK_RC(tree_setxattr(t, f, "user.\xc0\xaf", "v", 1, 0), -EINVAL);
	CHECK_RC(tree_setxattr(t, f, "user.\xed\xa0\x80", "v", 1, 0), -EINVAL);
	CHECK_RC(tree_setxattr(t, f, "user.\xf4\x90\x80\x80", "v", 1, 0), -EINVAL);
	CHECK_RC(tree_setxattr(t, f, "user.caf\xc3\xa9", "v", 1, 0), 0);
	CHECK_RC(tree_setxattr(t, f, "user.\xf0\x9f\x94\x91", "v", 1, 0), 0);
	CHECK_RC(tree_removexattr(t, f, "user.b"), 0);
	CHECK_RC(tree_removexattr(t, f, "user.b"), -ENODATA);
	CHECK_RC(fcommit(&m), 0);
	check_reload(&e, &m, "c2");
	fmount_close(&m);
	fenv_free(&e);
}

static void test_setgid_directory_passes_on_its_group(void)
{
	struct inode *d, *f, *s;
	struct stat st;
	struct tree *t;
	struct fenv e;
	struct fmount m;

	CHECK_RC(fenv_init(&e), 0);
	CHECK_RC(fmount_open(&m, &e, "c1"), 0);
	t = m.tree;
	CHECK_RC(tree_create(t, t->root, "d", DIROBJ_DIR, 02775, 1, 50, NULL, &d), 0);
	CHECK_RC(tree_create(t, d, "f", DIROBJ_FILE, 0644, 2, 60, NULL, &f), 0);
	CHECK_RC(tree_create(t, d, "s", DIROBJ_DIR, 0755, 2, 60, NULL, &s), 0);
	tree_getattr(t, f, &st);
	CHECK_RC(st.st_gid, 50);
	tree_getattr(t, s, &st);
	CHECK_RC(st.st_gid, 50);
	CHECK(st.st_mode & S_ISGID);
	fmount_close(&m);
	fenv_free(&e);
}

/* Writes data over the store file holding key (as a rolled-back store would). */
static void store_overwrite(struct fenv *e, const uint8_t key[OBJECT_ID_BYTES],
			    const unsigned char *data, size_t len)
{
	char text[OBJECT_KEY_TEXT_BYTES], path[600];
	FILE *f;

	object_key_text(text, key);
	snprintf(path, sizeof(path), "%s/%s", e->store_dir, text);
	f = fopen(path, "we");
	CHECK(f != NULL);
	if (f) {
		CHECK(fwrite(data, 1, len, f) == len);
		fclose(f);
	}
}

static void test_old_directory_object_under_current_key_is_refused(void)
{
	unsigned char *old = NULL;
	struct inode *d, *x;
	char text[OBJECT_KEY_TEXT_BYTES];
	struct fenv e;
	struct fmount m, f;
	size_t len = 0;

	CHECK_RC(fenv_init(&e), 0);
	CHECK_RC(fmount_open(&m, &e, "c1"), 0);
	CHECK_RC(tree_create(m.tree, m.tree->root, "d", DIROBJ_DIR, 0755, 0, 0, NULL, &d), 0);
	CHECK_RC(fwrite_file(m.tree, d, "one", "1", 1, NULL), 0);
	CHECK_RC(fcommit(&m), 0);
	object_key_text(text, d->ds->ref.store_key);
	CHECK_RC(backend_get(e.store, text, 0, 0, &old, &len), 0);
	CHECK_RC(tree_create(m.tree, d, "two", DIROBJ_FILE, 0644, 0, 0, NULL, &x), 0);
	CHECK_RC(fcommit(&m), 0);
	store_overwrite(&e, d->ds->ref.store_key, old, len);
	CHECK_RC(fmount_open(&f, &e, "c2"), 0);
	CHECK_RC(f.tree ? tree_lookup(f.tree, f.tree->root, "d", &x) : -1, 0);
	CHECK_RC(tree_load_dir(f.tree, x), -EBADMSG);
	CHECK_RC(tree_lookup(f.tree, x, "one", &x), -EBADMSG);
	fmount_close(&f);
	free(old);
	fmount_close(&m);
	fenv_free(&e);
}

/* fsmount_run with fresh keys; returns its result and message. */
static int try_mount(struct fenv *e, const char *cache_name, char *err, size_t size)
{
	struct mount_opts o = {.ready_fd = -1};
	char mnt[320], cache[320];
	struct vault_keys *k;
	int r = vault_unlock_passphrase(&k, e->cfg, TEST_PASS, strlen(TEST_PASS));

	if (r)
		return r;
	snprintf(mnt, sizeof(mnt), "%s/mnt", e->root);
	snprintf(cache, sizeof(cache), "%s/%s", e->root, cache_name);
	mkdir(mnt, 0755);
	o.mountpoint = mnt;
	o.cache_dir = cache;
	err[0] = '\0';
	return fsmount_run(e->store, e->cfg, k, &o, err, size);
}

static void test_rolled_back_or_missing_head_is_refused(void)
{
	unsigned char *old = NULL;
	struct inode *x;
	struct fenv e;
	struct fmount m;
	char err[256];
	size_t len = 0;

	CHECK_RC(fenv_init(&e), 0);
	CHECK_RC(fmount_open(&m, &e, "c1"), 0);
	CHECK_RC(backend_get(e.store, "head", 0, 0, &old, &len), 0);
	CHECK_RC(tree_create(m.tree, m.tree->root, "d", DIROBJ_DIR, 0755, 0, 0, NULL, &x), 0);
	CHECK_RC(fcommit(&m), 0);
	fmount_close(&m);
	CHECK_RC(backend_put(e.store, "head", old, len), 0);
	CHECK_RC(try_mount(&e, "c1", err, sizeof(err)), -ESTALE);
	CHECK(strstr(err, "store was rolled back (head seq 1 < 2 seen before)") != NULL);
	CHECK_RC(backend_del(e.store, "head"), 0);
	CHECK_RC(try_mount(&e, "c1", err, sizeof(err)), -ENOENT);
	CHECK(strstr(err, "not a sealfs vault or never initialised") != NULL);
	CHECK_RC(backend_put(e.store, "head", "garbage!", 8), 0);
	CHECK_RC(try_mount(&e, "c9", err, sizeof(err)), -EBADMSG);
	free(old);
	fenv_free(&e);
}

static void test_many_files_in_one_directory(void)
{
	char name[32];
	struct inode *d, *x;
	struct fenv e;
	struct fmount m, f;
	struct tree_dirlist l;

	CHECK_RC(fenv_init(&e), 0);
	CHECK_RC(fmount_open(&m, &e, "c1"), 0);
	CHECK_RC(tree_create(m.tree, m.tree->root, "d", DIROBJ_DIR, 0755, 0, 0, NULL, &d), 0);
	for (int i = 0; i < 3000; i++) {
		snprintf(name, sizeof(name), "file-%d", i);
		CHECK_RC(tree_create(m.tree, d, name, DIROBJ_FILE, 0644, 0, 0, NULL, &x), 0);
	}
	for (int i = 0; i < 3000; i += 2) {
		snprintf(name, sizeof(name), "file-%d", i);
		CHECK_RC(tree_remove(m.tree, d, name, false), 0);
	}
	CHECK_RC(fcommit(&m), 0);
	CHECK_RC(fmount_open(&f, &e, "c2"), 0);
	CHECK_RC(fpath(f.tree, "d", &x), 0);
	CHECK_RC(tree_dirlist(f.tree, x, &l), 0);
	CHECK_RC(l.n, 1502);
	tree_dirlist_free(&l);
	CHECK_RC(tree_lookup(f.tree, x, "file-2999", &x), 0);
	fmount_close(&f);
	fmount_close(&m);
	fenv_free(&e);
}

/* Workers change their own directories while another thread commits
 * continuously: every commit must be a consistent snapshot, and the final
 * state must reload identically with no garbage left. */
struct stress {
	struct tree *tree;
	struct commit *commit;
	atomic_bool stop;
	int id;
};

static void *stress_worker(void *arg)
{
	struct stress *s = arg;
	struct tree *t = s->tree;
	unsigned seed = (unsigned)s->id * 7919u + 1;
	char dname[16], a[16], b[16];
	static unsigned char buf[4][200000];
	struct inode *dir, *x;

	snprintf(dname, sizeof(dname), "w%d", s->id);
	CHECK_RC(tree_create(t, t->root, dname, DIROBJ_DIR, 0755, 0, 0, NULL, &dir), 0);
	while (!atomic_load(&s->stop)) {
		unsigned op = rand_r(&seed) % 10;
		snprintf(a, sizeof(a), "f%u", rand_r(&seed) % 20);
		snprintf(b, sizeof(b), "f%u", rand_r(&seed) % 20);
		if (op < 4) {
			size_t len = rand_r(&seed) % sizeof(buf[0]);
			memset(buf[s->id], 'a' + (int)(rand_r(&seed) % 26), len);
			CHECK_RC(fwrite_file(t, dir, a, buf[s->id], len, NULL), 0);
		} else if (op < 6) {
			int r = tree_remove(t, dir, a, false);
			CHECK(r == 0 || r == -ENOENT);
		} else if (op < 8) {
			int r = tree_rename(t, dir, a, dir, b, 0);
			CHECK(r == 0 || r == -ENOENT);
		} else if (op < 9) {
			int r = tree_create(t, dir, a, DIROBJ_DIR, 0755, 0, 0, NULL, &x);
			CHECK(r == 0 || r == -EEXIST);
			r = tree_remove(t, dir, a, true);
			CHECK(r == 0 || r == -ENOENT || r == -ENOTDIR);
		} else if (tree_lookup(t, dir, a, &x) == 0) {
			CHECK_RC(tree_setxattr(t, x, "user.n", a, strlen(a), 0), 0);
		}
	}
	return NULL;
}

static void *stress_committer(void *arg)
{
	struct stress *s = arg;

	while (!atomic_load(&s->stop))
		CHECK_RC(commit_run(s->commit), 0);
	return NULL;
}

static void test_concurrent_changes_and_commits(void)
{
	struct stress st[5];
	pthread_t th[5];
	struct fenv e;
	struct fmount m;

	CHECK_RC(fenv_init(&e), 0);
	CHECK_RC(fmount_open(&m, &e, "c1"), 0);
	for (int i = 0; i < 5; i++) {
		st[i] = (struct stress){.tree = m.tree, .commit = m.commit, .id = i};
		atomic_init(&st[i].stop, false);
		pthread_create(&th[i], NULL, i < 4 ? stress_worker : stress_committer, &st[i]);
	}
	usleep(1500 * 1000);
	for (int i = 0; i < 5; i++)
		atomic_store(&st[i].stop, true);
	for (int i = 0; i < 5; i++)
		pthread_join(th[i], NULL);
	tree_drop_orphans(m.tree);
	CHECK_RC(fcommit(&m), 0);
	CHECK(commit_seq(m.commit) >= 3); /* commits ran while the workers worked */
	if (getenv("FSTEST_VERBOSE"))
		fprintf(stderr, "stress: %llu commits, %zu objects\n",
			(unsigned long long)commit_seq(m.commit), fstore_objects(&e));
	check_reload(&e, &m, "c2");
	check_no_garbage(&e, "c3");
	fmount_close(&m);
	fenv_free(&e);
}

int main(void)
{
	test_commit_then_fresh_cache_gives_back_everything();
	test_changes_after_commit_and_garbage_leaves_the_store();
	test_idle_commit_writes_nothing();
	test_unlinked_open_file_works_until_released();
	test_rename_rules();
	test_xattr_rules();
	test_setgid_directory_passes_on_its_group();
	test_old_directory_object_under_current_key_is_refused();
	test_rolled_back_or_missing_head_is_refused();
	test_many_files_in_one_directory();
	test_concurrent_changes_and_commits();
	return check_done("test_tree_commit");
}
