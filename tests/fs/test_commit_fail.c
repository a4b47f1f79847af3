/* test_commit_fail.c - a commit that the store refuses loses nothing: the
 * store is a small tmpfs (a real filesystem running out of space). The
 * commit is durable in the cache's journal; the uploader's round fails, the
 * error is visible (upload_flush, upload_stats) and the store keeps the last
 * good vault; the record stays, survives closing and reopening the cache,
 * and once the store has room the uploader retries it, stores everything
 * and leaves no garbage. Needs root to mount the tmpfs: skipped (77)
 * otherwise. */
#include "fs_test.h"

static unsigned char data[6 << 20];

static size_t count_objects(struct fenv *e) { return fstore_objects(e); }

static int read_back(struct fenv *e, const char *cache, const char *path, unsigned char *buf,
		     size_t len)
{
	struct fmount f;
	struct inode *ino;
	int r = fmount_open(&f, e, cache);

	if (r == 0)
		r = fpath(f.tree, path, &ino);
	if (r == 0 && tree_read(f.tree, ino, buf, len, 0) != (ssize_t)len)
		r = -EIO;
	fmount_close(&f);
	return r;
}

/* The store refused the last round: the flush and the stats say so. */
static void check_failing(struct fmount *m)
{
	struct upload_stats st;
	int r = upload_flush(m->up, TEST_FLUSH_MS);

	CHECK(r < 0 && r != -ETIMEDOUT);
	upload_stats(&st, m->up);
	CHECK(st.failing);
	CHECK_RC(st.last_err, r);
	CHECK_RC(st.stored_seq, 2);
}

static void test_full_store_fails_then_recovers(void)
{
	static unsigned char back[sizeof(data)];
	struct fenv e;
	struct fmount m;
	struct inode *d, *f;
	size_t before;
	int r = fenv_init_tmpfs_or_skip(&e, "size=2m,mode=0700");

	CHECK_RC(r, 0);
	randombytes_buf(data, sizeof(data));
	CHECK_RC(fmount_open(&m, &e, "c1"), 0);
	CHECK_RC(tree_create(m.tree, m.tree->root, "d", DIROBJ_DIR, 0755, 0, 0, NULL, &d), 0);
	CHECK_RC(fwrite_file(m.tree, d, "small", "kept", 4, NULL), 0);
	CHECK_RC(fcommit(&m), 0);
	before = count_objects(&e);
	CHECK_RC(fwrite_file(m.tree, d, "big", data, sizeof(data), &f), 0);
	/* Durable in the journal; the store (2 MiB) cannot take 6 MiB. */
	CHECK_RC(commit_run(m.commit), 0);
	CHECK(!m.tree->dirty);
	CHECK_RC(commit_seq(m.commit), 3);
	check_failing(&m);
	CHECK_RC(fjournal_records(&m), 1);
	/* The store still holds the last good vault. */
	CHECK_RC(read_back(&e, "c2", "d/small", back, 4), 0);
	CHECK(memcmp(back, "kept", 4) == 0);
	CHECK_RC(read_back(&e, "c3", "d/big", back, 1), -ENOENT);
	/* A change made while the store is full is kept as well. */
	CHECK_RC(tree_write(m.tree, f, "X", 1, 0), 1);
	CHECK_RC(commit_run(m.commit), 0);
	check_failing(&m);
	CHECK_RC(fjournal_records(&m), 2);
	/* Closed and reopened on the same cache: the journal is the root. */
	fmount_close(&m);
	CHECK_RC(fmount_open(&m, &e, "c1"), 0);
	CHECK_RC(m.tree ? fpath(m.tree, "d/big", &f) : -1, 0);
	CHECK_RC(m.tree ? tree_read(m.tree, f, back, 1, 0) : -1, 1);
	CHECK(back[0] == 'X');
	CHECK_RC(commit_seq(m.commit), 4);
	/* Room again: the uploader retries and stores both commits. */
	CHECK_RC(mount("tmpfs", e.store_dir, "tmpfs", MS_REMOUNT, "size=64m,mode=0700"), 0);
	CHECK_RC(upload_flush(m.up, TEST_FLUSH_MS), 0);
	CHECK_RC(fjournal_records(&m), 0);
	data[0] = 'X';
	CHECK_RC(read_back(&e, "c4", "d/big", back, sizeof(back)), 0);
	CHECK(memcmp(back, data, sizeof(data)) == 0);
	/* Exactly the reachable objects: root, d, small (1), big (6). */
	CHECK_RC(count_objects(&e), before + 6);
	fmount_close(&m);
	fenv_free(&e);
}

int main(void)
{
	test_full_store_fails_then_recovers();
	return check_done("test_commit_fail");
}
