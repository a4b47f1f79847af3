/* test_commit_inline.c - which new segments a commit copies into its journal
 * record (docs/INTERNALS.md, "Commit"; "Memory while draining (session 7)" in
 * docs/PERFORMANCE.md). Small segments are inlined while fewer than
 * COMMIT_SYNCFS_MIN others are left to be flushed as files; from that many
 * on one syncfs flushes every cache file anyway, so the record carries no
 * segment bytes at all (a tree extracted at once: the record and the
 * uploader's reading of it stay small). The store is a full tmpfs, so the
 * records stay in the journal to be read; then it gets room and every file
 * reads back. Needs root for the tmpfs: skipped (77) otherwise. */
#include "fs_test.h"

#include "journal.h"

#define BIG_LEN (140u * 1024u) /* one segment above COMMIT_INLINE_SEG_MAX */
#define NSMALL 5

static unsigned char big[BIG_LEN];

/* Writes nbig files of BIG_LEN and NSMALL of 4 bytes into a new directory
 * and commits; *segs, *objs: the record's segment keys and objects. */
static void commit_files(struct fmount *m, const char *dname, int nbig, size_t *segs, size_t *objs)
{
	struct journal_record rec;
	struct inode *d;
	char name[32];

	CHECK_RC(tree_create(m->tree, m->tree->root, dname, DIROBJ_DIR, 0755, 0, 0, NULL, &d), 0);
	for (int i = 0; i < nbig; i++) {
		snprintf(name, sizeof(name), "big%d", i);
		big[0] = (unsigned char)i;
		CHECK_RC(fwrite_file(m->tree, d, name, big, sizeof(big), NULL), 0);
	}
	for (int i = 0; i < NSMALL; i++) {
		snprintf(name, sizeof(name), "s%d", i);
		CHECK_RC(fwrite_file(m->tree, d, name, "tiny", 4, NULL), 0);
	}
	CHECK_RC(commit_run(m->commit), 0);
	CHECK_RC(fjournal_newest(m, &rec), 0);
	*segs = rec.nsegs;
	*objs = rec.nobjs;
	journal_record_release(&rec);
}

static void check_reads(struct fenv *e, const char *cache, const char *dname, int nbig)
{
	static unsigned char back[BIG_LEN];
	struct fmount f;
	struct inode *ino;
	char path[64];

	CHECK_RC(fmount_open(&f, e, cache), 0);
	for (int i = 0; i < nbig + NSMALL; i++) {
		bool b = i < nbig;
		size_t len = b ? sizeof(big) : 4;
		snprintf(path, sizeof(path), b ? "%s/big%d" : "%s/s%d", dname, b ? i : i - nbig);
		CHECK_RC(fpath(f.tree, path, &ino), 0);
		CHECK_RC(tree_read(f.tree, ino, back, len, 0), (ssize_t)len);
		big[0] = (unsigned char)i;
		CHECK(memcmp(back, b ? big : (const unsigned char *)"tiny", len) == 0);
	}
	fmount_close(&f);
}

static void test_inline_or_not(void)
{
	struct fenv e;
	struct fmount m;
	size_t segs, objs;
	int r = fenv_init_tmpfs_or_skip(&e, "size=256k,mode=0700");

	CHECK_RC(r, 0);
	randombytes_buf(big, sizeof(big));
	CHECK_RC(fmount_open(&m, &e, "c1"), 0);
	/* 63 segments left to flush: the small ones go into the record. */
	commit_files(&m, "a", 63, &segs, &objs);
	CHECK_RC(segs, 63);
	CHECK(objs >= NSMALL + 2); /* the small segments, root and a (and history) */
	/* 64: one syncfs flushes them all; the record inlines none. */
	commit_files(&m, "b", 64, &segs, &objs);
	CHECK_RC(segs, 64 + NSMALL);
	/* Room in the store: the uploader stores both; everything reads back. */
	CHECK_RC(mount("tmpfs", e.store_dir, "tmpfs", MS_REMOUNT, "size=64m,mode=0700"), 0);
	CHECK_RC(upload_flush(m.up, TEST_FLUSH_MS), 0);
	fmount_close(&m);
	check_reads(&e, "c2", "a", 63);
	check_reads(&e, "c3", "b", 64);
	fenv_free(&e);
}

int main(void)
{
	test_inline_or_not();
	return check_done("test_commit_inline");
}
