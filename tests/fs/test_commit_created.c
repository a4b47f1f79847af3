/* test_commit_created.c - what commits record in a format-2 vault
 * (docs/FORMAT.md, "Directory object", "Head"): every new directory object
 * and segment version carries the seq of the commit that wrote it, what a
 * commit does not rewrite keeps its value (through a cold file and a reload
 * from a fresh cache), and each head names its parent (the hash of the head
 * it replaced), its time and device. A format-1 vault records none of it. */
#include "fs_test.h"

#include "meta.h"
#include "seal.h"

/* Segment s's created as the tree holds it (cold or open). */
static uint64_t seg_created(struct inode *ino, size_t s)
{
	uint64_t c;

	tree_inode_lock(ino);
	c = ino->content ? ino->content->segs[s].created : content_cold_created(&ino->cold, s);
	tree_inode_unlock(ino);
	return c;
}

static uint64_t dir_created(struct tree *t, struct inode *dir)
{
	uint64_t c;

	pthread_mutex_lock(&t->lock);
	c = dir->ds->ref.created;
	pthread_mutex_unlock(&t->lock);
	return c;
}

/* The sealed head in the store, and opened. */
static int stored_head(struct fenv *e, struct dirobj_head *h, uint8_t hash[32])
{
	unsigned char *sealed = NULL;
	size_t len = 0;
	int r = backend_get_max(e->store, "head", META_MAX_SEALED_BYTES, &sealed, &len);

	if (r == 0)
		r = seal_open_head(h, sealed, len, e->cfg->vault_id, e->keys->meta, e->cfg->format);
	if (r == 0)
		seal_head_hash(hash, sealed, len);
	free(sealed);
	return r;
}

static void test_format2_records_created(void)
{
	static char data[SEGMENT_PLAIN_BYTES + 5000];
	struct inode *a, *f, *g;
	struct dirobj_head h1, h2;
	uint8_t hash1[32], hash2[32], zeros[32] = {0};
	struct fenv e;
	struct fmount m;

	CHECK_RC(fenv_init(&e), 0);
	CHECK(e.cfg->format == VAULT_FORMAT_VERSION);
	CHECK_RC(fmount_open(&m, &e, "c1"), 0);
	CHECK_RC(tree_create(m.tree, m.tree->root, "a", DIROBJ_DIR, 0755, 0, 0, NULL, &a), 0);
	CHECK_RC(fwrite_file(m.tree, a, "f", data, sizeof(data), &f), 0); /* two segments */
	CHECK_RC(fwrite_file(m.tree, m.tree->root, "g", "g", 1, &g), 0);
	CHECK_RC(fcommit(&m), 0);
	CHECK_RC(commit_seq(m.commit), 2);
	CHECK(dir_created(m.tree, m.tree->root) == 2 && dir_created(m.tree, a) == 2);
	CHECK(seg_created(f, 0) == 2 && seg_created(f, 1) == 2 && seg_created(g, 0) == 2);
	CHECK_RC(stored_head(&e, &h1, hash1), 0);
	CHECK(h1.seq == 2 && h1.root.ref.created == 2 && h1.device_name[0] != '\0' && h1.keep > 0 &&
	      h1.grace > 0 && h1.time.sec > 1700000000);
	CHECK(memcmp(h1.parent, zeros, 32) != 0); /* the init's head came before */
	/* Change g only: a, f keep what they had; root and g are new. */
	CHECK_RC(fwrite_file(m.tree, m.tree->root, "g", "h", 1, NULL), 0);
	CHECK_RC(fcommit(&m), 0);
	CHECK(dir_created(m.tree, m.tree->root) == 3 && dir_created(m.tree, a) == 2);
	CHECK(seg_created(f, 0) == 2 && seg_created(g, 0) == 3);
	CHECK_RC(stored_head(&e, &h2, hash2), 0);
	CHECK(h2.seq == 3 && h2.root.ref.created == 3 && memcmp(h2.parent, hash1, 32) == 0);
	CHECK(memcmp(h2.device, h1.device, 16) == 0 && strcmp(h2.device_name, h1.device_name) == 0);
	dirobj_head_release(&h1);
	dirobj_head_release(&h2);
	fmount_close(&m);
	/* A fresh cache loads the same values from the stored objects, and
	 * its next commit's parent is the stored head. */
	CHECK_RC(fmount_open(&m, &e, "c2"), 0);
	CHECK_RC(fpath(m.tree, "a/f", &f), 0);
	CHECK_RC(fpath(m.tree, "a", &a), 0);
	CHECK(seg_created(f, 0) == 2 && seg_created(f, 1) == 2 && dir_created(m.tree, a) == 2);
	CHECK_RC(fwrite_file(m.tree, a, "n", "n", 1, NULL), 0);
	CHECK_RC(fcommit(&m), 0);
	CHECK(dir_created(m.tree, a) == 4 && seg_created(f, 1) == 2);
	CHECK_RC(stored_head(&e, &h1, hash1), 0);
	CHECK(h1.seq == 4 && memcmp(h1.parent, hash2, 32) == 0);
	dirobj_head_release(&h1);
	fmount_close(&m);
	fenv_free(&e);
}

/* The same commits in a format-1 vault store no created and no head member
 * beyond seq and root (what a format-1 reader accepts). */
static void test_format1_records_nothing(void)
{
	struct inode *f;
	struct dirobj_head h;
	uint8_t hash[32];
	struct fenv e;
	struct fmount m;

	CHECK_RC(fenv_init_format(&e, 1), 0);
	CHECK_RC(fmount_open(&m, &e, "c1"), 0);
	CHECK_RC(fwrite_file(m.tree, m.tree->root, "f", "x", 1, &f), 0);
	CHECK_RC(fcommit(&m), 0);
	CHECK(dir_created(m.tree, m.tree->root) == 0 && seg_created(f, 0) == 0);
	CHECK_RC(stored_head(&e, &h, hash), 0);
	CHECK(h.seq == 2 && h.device_name[0] == '\0' && h.keep == 0);
	dirobj_head_release(&h);
	fmount_close(&m);
	fenv_free(&e);
}

int main(void)
{
	test_format2_records_created();
	test_format1_records_nothing();
	return check_done("test_commit_created");
}
