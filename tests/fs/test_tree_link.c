/* test_tree_link.c - hard links in the tree and the stored inode table
 * (fs/vault/tree_link*.c, docs/FORMAT.md "Inode table") through the engine a
 * mount opens, with no FUSE: the head's "it" appears with the first second
 * name and goes with the last; the index grows from one slot to several as
 * files gain names and shrinks again; every record, count and content comes
 * back from the store alone (a fresh cache); a last name becomes an "f"
 * entry again when its directory is written; a format-1 vault refuses. */
#include "fs_test.h"

#include "itable.h"
#include "meta.h"

#define NFILES 200

/* The stored head (opened). */
static int stored_head(struct fenv *e, struct dirobj_head *h)
{
	unsigned char *sealed = NULL;
	size_t len = 0;
	int r = backend_get_max(e->store, "head", META_MAX_SEALED_BYTES, &sealed, &len);

	if (r == 0)
		r = seal_open_head(h, sealed, len, e->cfg->vault_id, e->keys->meta, e->cfg->format);
	free(sealed);
	return r;
}

/* The number of slots of the stored index, 0 without "it", -1 on error. */
static long stored_slots(struct fenv *e)
{
	struct dirobj_head h;
	struct itable_index ix;
	struct meta_ad ad = {.kind = META_KIND_INODE_PAGE};
	char key[OBJECT_KEY_TEXT_BYTES], *plain = NULL;
	unsigned char *sealed = NULL;
	size_t len = 0, plen = 0;
	long n = -1;

	if (stored_head(e, &h) != 0)
		return -1;
	if (!h.has_inodes) {
		dirobj_head_release(&h);
		return 0;
	}
	ad.version = h.inodes.version;
	memcpy(ad.vault_id, e->cfg->vault_id, OBJECT_ID_BYTES);
	memcpy(ad.store_key, h.inodes.store_key, OBJECT_ID_BYTES);
	object_key_text(key, h.inodes.store_key);
	if (backend_get_max(e->store, key, META_MAX_SEALED_BYTES, &sealed, &len) == 0 &&
	    meta_open(&plain, &plen, sealed, len, &ad, e->keys->meta) == 0 &&
	    itable_index_decode(&ix, plain, plen) == 0) {
		n = (long)ix.n;
		itable_index_release(&ix);
	}
	meta_free_plain(plain, plen);
	free(sealed);
	dirobj_head_release(&h);
	return n;
}

static nlink_t nlink_of(struct tree *t, const char *path, ino_t *ino)
{
	struct inode *i;
	struct stat st = {.st_nlink = 0};

	if (fpath(t, path, &i) == 0)
		tree_getattr(t, i, &st);
	if (ino)
		*ino = st.st_ino;
	return st.st_nlink;
}

static bool content_is(struct tree *t, const char *path, const char *want)
{
	struct inode *i;
	char buf[64] = {0};
	ssize_t n;

	if (fpath(t, path, &i) != 0 || tree_open_file(t, i, false) != 0)
		return false;
	n = tree_read(t, i, buf, sizeof(buf) - 1, 0);
	tree_release_file(t, i);
	return n == (ssize_t)strlen(want) && memcmp(buf, want, (size_t)n) == 0;
}

static void test_table_grows_shrinks_and_goes(void)
{
	struct fenv e;
	struct fmount m;
	struct inode *d, *ino = NULL, *out;
	char name[32], path[64];
	ino_t i1, i2;

	CHECK_RC(fenv_init(&e), 0);
	CHECK_RC(fmount_open(&m, &e, "c1"), 0);
	CHECK_RC(tree_create(m.tree, m.tree->root, "d", DIROBJ_DIR, 0755, 0, 0, NULL, &d), 0);
	for (int i = 0; i < NFILES; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		CHECK_RC(fwrite_file(m.tree, m.tree->root, name, name, strlen(name), &ino), 0);
		snprintf(name, sizeof(name), "g%d", i);
		CHECK_RC(tree_link(m.tree, ino, d, name, &out), 0);
		CHECK(out == ino); /* the node id the kernel holds does not change */
	}
	CHECK_RC(tree_link(m.tree, ino, d, "g0", &out), -EEXIST);
	CHECK_RC(tree_link(m.tree, d, m.tree->root, "dirlink", &out), -EPERM);
	CHECK_RC(fcommit(&m), 0);
	CHECK_RC(stored_slots(&e), 4); /* 200 files: 64 a slot, a power of two */
	fmount_close(&m);

	CHECK_RC(fmount_open(&m, &e, "c2"), 0); /* a fresh cache: the store alone */
	CHECK_RC(fpath(m.tree, "d", &d), 0);
	CHECK_RC(nlink_of(m.tree, "f7", &i1), 2);
	CHECK_RC(nlink_of(m.tree, "d/g7", &i2), 2);
	CHECK(i1 == i2 && i1 != 0);
	CHECK(content_is(m.tree, "d/g123", "f123"));
	for (int i = 10; i < NFILES; i++) { /* 10 files keep two names */
		snprintf(name, sizeof(name), "g%d", i);
		CHECK_RC(tree_remove(m.tree, d, name, false), 0);
	}
	CHECK_RC(nlink_of(m.tree, "f150", NULL), 1);
	/* d's parent, the root, is written too: its names f10..f199 are entries
	 * again; 10 records left, one slot. */
	CHECK_RC(fcommit(&m), 0);
	CHECK_RC(stored_slots(&e), 1);
	fmount_close(&m);

	CHECK_RC(fmount_open(&m, &e, "c3"), 0);
	CHECK_RC(fpath(m.tree, "d", &d), 0);
	CHECK_RC(nlink_of(m.tree, "f150", NULL), 1);
	CHECK_RC(nlink_of(m.tree, "d/g3", NULL), 2);
	CHECK(content_is(m.tree, "f150", "f150"));
	for (int i = 0; i < 10; i++) {
		snprintf(path, sizeof(path), "f%d", i);
		CHECK_RC(tree_remove(m.tree, m.tree->root, path, false), 0);
	}
	CHECK_RC(fcommit(&m), 0);      /* the root written: its last names are entries again */
	CHECK_RC(stored_slots(&e), 1); /* 10 records left (d's names): one slot */
	CHECK_RC(nlink_of(m.tree, "d/g3", NULL), 1);
	CHECK_RC(fwrite_file(m.tree, d, "new", "n", 1, NULL), 0);
	CHECK_RC(fcommit(&m), 0); /* d written: no record left, no "it" */
	CHECK_RC(stored_slots(&e), 0);
	fmount_close(&m);

	CHECK_RC(fmount_open(&m, &e, "c4"), 0);
	CHECK_RC(nlink_of(m.tree, "d/g3", NULL), 1);
	CHECK(content_is(m.tree, "d/g3", "f3"));
	CHECK(content_is(m.tree, "f199", "f199"));
	fmount_close(&m);
	fenv_free(&e);
}

static void test_format1_refuses(void)
{
	struct fenv e;
	struct fmount m;
	struct inode *ino, *out;

	CHECK_RC(fenv_init_format(&e, 1), 0);
	CHECK_RC(fmount_open(&m, &e, "c1"), 0);
	CHECK_RC(fwrite_file(m.tree, m.tree->root, "a", "x", 1, &ino), 0);
	CHECK_RC(tree_link(m.tree, ino, m.tree->root, "b", &out), -EPERM);
	CHECK_RC(nlink_of(m.tree, "a", NULL), 1);
	fmount_close(&m);
	fenv_free(&e);
}

int main(void)
{
	test_table_grows_shrinks_and_goes();
	test_format1_refuses();
	return check_done("tree_link");
}
