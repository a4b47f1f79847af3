/* test_commit_patch.c - segments a commit journals as patches
 * (docs/INTERNALS.md, "Commit"): a few chunks rewritten in a large file's
 * committed segments go into the record (version 3) as the base's key and
 * those chunks, and the new cache files are not flushed. A crash may lose
 * them: here they are destroyed (one zeroed, one removed, a second version
 * of the same segment zeroed too) before the cache is mounted again, and the
 * replay rebuilds each from its base, in record order. Every byte reads back,
 * from that cache and, once stored, from a fresh one. The store is a full
 * tmpfs, so the records stay in the journal; needs root for it (77
 * otherwise). */
#include "fs_test.h"

#include "journal.h"

#define FILE_LEN (3u * 1024u * 1024u + 5000u) /* four segments, the last short */

static unsigned char want[FILE_LEN];

/* Writes len bytes of want at off into the open file (want changed first). */
static void rewrite(struct fmount *m, struct inode *ino, uint64_t off, size_t len)
{
	randombytes_buf(want + off, len);
	CHECK_RC(tree_write(m->tree, ino, want + off, len, off), (ssize_t)len);
}

/* The newest record carries npatched patches; their new keys into keys. */
static void check_patched(struct fmount *m, size_t npatched, uint8_t keys[][OBJECT_ID_BYTES])
{
	struct journal_record rec;

	CHECK_RC(fjournal_newest(m, &rec), 0);
	CHECK_RC(rec.npatched, npatched);
	CHECK(rec.patches != NULL && rec.patches_len > 0);
	CHECK(rec.buf && rec.buf[8] == 3); /* the record's version */
	for (size_t i = 0; i < rec.npatched && i < npatched; i++)
		memcpy(keys[i], rec.patched + i * JOURNAL_PATCHED_BYTES, OBJECT_ID_BYTES);
	journal_record_release(&rec);
}

static void cache_file(struct fmount *m, const uint8_t key[OBJECT_ID_BYTES], char *path)
{
	char text[OBJECT_KEY_TEXT_BYTES];

	object_key_text(text, key);
	cache_path(m->cache, text, path);
}

/* Overwrites path with zeros of the same length (a torn or lost write). */
static void zero_file(const char *path)
{
	static unsigned char zeros[2 << 20]; /* past a sealed segment (256 x 4,136 bytes at most) */
	struct stat st;
	int fd = open(path, O_WRONLY);

	CHECK(fd >= 0 && fstat(fd, &st) == 0 && st.st_size > 0);
	if (fd >= 0)
		CHECK(pwrite(fd, zeros, (size_t)st.st_size, 0) == st.st_size);
	if (fd >= 0)
		close(fd);
}

static void check_file(struct fenv *e, const char *cache)
{
	static unsigned char back[FILE_LEN];
	struct fmount f;
	struct inode *ino;

	CHECK_RC(fmount_open(&f, e, cache), 0);
	CHECK_RC(fpath(f.tree, "db", &ino), 0);
	CHECK_RC(tree_read(f.tree, ino, back, sizeof(back), 0), (ssize_t)sizeof(back));
	CHECK(memcmp(back, want, sizeof(want)) == 0);
	fmount_close(&f);
}

static void test_patches_rebuilt(void)
{
	char p1[CACHE_PATH_MAX], p2[CACHE_PATH_MAX], p3[CACHE_PATH_MAX];
	uint8_t keys[2][OBJECT_ID_BYTES], again[1][OBJECT_ID_BYTES];
	struct fenv e;
	struct fmount m;
	struct inode *ino = NULL;
	int r = fenv_init_tmpfs_or_skip(&e, "size=256k,mode=0700");

	CHECK_RC(r, 0);
	randombytes_buf(want, sizeof(want));
	CHECK_RC(fmount_open(&m, &e, "c1"), 0);
	CHECK_RC(fwrite_file(m.tree, m.tree->root, "db", want, sizeof(want), &ino), 0);
	CHECK_RC(commit_run(m.commit), 0);
	/* A page in segment 1 and one across segments 2 and 3: two patches
	 * (segment 3 is short and small enough to be carried whole). The file
	 * stays open, as a database's does through its fsyncs: a commit reads
	 * a patch's chunks through the fd the file holds. */
	CHECK_RC(tree_open_file(m.tree, ino, false), 0);
	rewrite(&m, ino, (1u << 20) + 8192, 100);
	rewrite(&m, ino, 3u * (1u << 20) - 50, 100);
	CHECK_RC(commit_run(m.commit), 0);
	check_patched(&m, 2, keys);
	/* The same segment 1 again: a patch whose base is the first patch. */
	rewrite(&m, ino, (1u << 20) + 300000, 5000);
	CHECK_RC(commit_run(m.commit), 0);
	check_patched(&m, 1, again);
	tree_release_file(m.tree, ino);
	fmount_close(&m);

	/* The crash: the unflushed versions are lost or torn. */
	CHECK_RC(fmount_open(&m, &e, "c1"), 0);
	cache_file(&m, keys[0], p1);
	cache_file(&m, keys[1], p2);
	cache_file(&m, again[0], p3);
	fmount_close(&m);
	zero_file(p1);
	CHECK_RC(unlink(p2), 0);
	zero_file(p3);
	check_file(&e, "c1");

	/* Room in the store: stored as rebuilt; a fresh cache reads it back. */
	CHECK_RC(mount("tmpfs", e.store_dir, "tmpfs", MS_REMOUNT, "size=64m,mode=0700"), 0);
	CHECK_RC(fmount_open(&m, &e, "c1"), 0);
	CHECK_RC(upload_flush(m.up, TEST_FLUSH_MS), 0);
	CHECK_RC(fjournal_records(&m), 0);
	fmount_close(&m);
	check_file(&e, "c2");
	fenv_free(&e);
}

int main(void)
{
	test_patches_rebuilt();
	return check_done("test_commit_patch");
}
