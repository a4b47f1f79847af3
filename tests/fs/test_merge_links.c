/* test_merge_links.c - the three-way merge of files with several names
 * (fs/vault/merge.h, merge_links.c): one case per rule of issue #12 for hard
 * links, each merged both ways round by the harness (merge_test.h), which
 * also checks that every record's nl is its names on the merged tree and
 * that no record is left without a name. */
#include "merge_test.h"

/* A link made on one side only: both names, the record with nl 2; an edit
 * of a linked file on one side: that side's record. */
static void test_link_one_side(void)
{
	struct tcase t;

	tc_start(&t);
	tn_new(t.base, "f", 'f', 10);
	tn_new(t.base, "sub", 'd', 10);
	tn_new(t.base, "other", 'f', 10);
	tc_fork(&t);
	op_link(t.l, &t.tl, "f", "sub", "g", 20);
	op_write(t.r, "other", 30);
	CHECK_RC(tc_merge(&t), 0);
	CHECK(has_content(&t.f, "/f", tn_find(t.base, "f")));
	CHECK(has_content(&t.f, "/sub/g", tn_find(t.base, "f")));
	CHECK(has_content(&t.f, "/other", tn_find(t.r, "other")));
	CHECK_RC(t.res.nrecords, 1);
	CHECK(t.res.nrecords == 1 && t.res.records[0].nlink == 2);
	CHECK(t.res.nrecords == 1 &&
	      memcmp(t.res.records[0].e.id, tn_find(t.base, "f")->id, 16) == 0);
	CHECK(!t.f.bad);
	CHECK_RC(t.f.n, 4);
	tc_end(&t);

	/* Linked in the base; edited on one side. */
	tc_start(&t);
	tn_new(t.base, "f", 'f', 10);
	op_link(t.base, &t.tb, "f", "", "g", 10);
	tc_fork(&t);
	const struct trec *w = op_lwrite(t.r, &t.tr, "f", 40);
	tn_new(t.l, "new", 'f', 40);
	CHECK_RC(tc_merge(&t), 0);
	CHECK(has_seg(&t.f, "/f", w->seg));
	CHECK(has_seg(&t.f, "/g", w->seg));
	CHECK(t.res.nrecords == 1 && t.res.records[0].nlink == 2);
	CHECK_RC(t.res.ncopies, 0);
	CHECK_RC(t.f.n, 3);
	tc_end(&t);
}

/* Both sides edited the linked file: the later keeps the inode and its
 * names; the other is an ordinary file named as conflict copies are, next to
 * the first name, its content re-sealed from the file's. */
static void test_link_both_edit(void)
{
	struct tcase t;
	const struct trec *wl, *wr;

	tc_start(&t);
	tn_new(t.base, "a.txt", 'f', 10);
	op_link(t.base, &t.tb, "a.txt", "", "b.txt", 10);
	tc_fork(&t);
	wl = op_lwrite(t.l, &t.tl, "a.txt", 1700000000);
	wr = op_lwrite(t.r, &t.tr, "b.txt", 1700000100);
	CHECK_RC(tc_merge(&t), 0);
	CHECK(has_seg(&t.f, "/a.txt", wr->seg));
	CHECK(has_seg(&t.f, "/b.txt", wr->seg));
	CHECK(t.res.nrecords == 1 && t.res.records[0].nlink == 2);
	CHECKF(has_seg(&t.f, "/a (conflict from laptop 2023-11-14 221320).txt", wl->seg),
	       "copy missing");
	const char *l = flat_get(&t.f, "/a (conflict from laptop 2023-11-14 221320).txt");
	CHECK(l && strstr(l, "\tf ")); /* an ordinary file */
	CHECK_RC(t.res.ncopies, 1);
	CHECK_RC(t.res.conflicts, 1);
	if (t.res.ncopies == 1) {
		CHECK(memcmp(t.res.copies[0].source_id, tn_find(t.base, "a.txt")->id, 16) == 0);
		CHECK(memcmp(t.res.copies[0].dir_id, t.base->id, 16) == 0);
	}
	CHECK_RC(t.f.n, 3);
	if (t.f.n != 3)
		dump(&t);
	tc_end(&t);
}

/* Links added on both sides are unioned: no copy (only the ctime differs). */
static void test_link_union(void)
{
	struct tcase t;

	tc_start(&t);
	tn_new(t.base, "f", 'f', 10);
	tn_new(t.base, "d", 'd', 10);
	tc_fork(&t);
	op_link(t.l, &t.tl, "f", "", "a", 20);
	op_link(t.r, &t.tr, "f", "d", "b", 30);
	op_link(t.r, &t.tr, "f", "", "a", 30); /* the same new name on both */
	CHECK_RC(tc_merge(&t), 0);
	CHECK(flat_get(&t.f, "/f") && flat_get(&t.f, "/a") && flat_get(&t.f, "/d/b"));
	CHECK(t.res.nrecords == 1 && t.res.records[0].nlink == 3);
	CHECK_RC(t.res.ncopies, 0);
	CHECK_RC(t.res.conflicts, 0);
	CHECK_RC(t.f.n, 4);
	tc_end(&t);

	/* A name one side adds that is another file's name on the other: the
	 * clash rule, and the counts stay right. */
	tc_start(&t);
	tn_new(t.base, "f", 'f', 10);
	tc_fork(&t);
	op_link(t.l, &t.tl, "f", "", "x", 20);
	tn_new(t.r, "x", 'f', 30);
	CHECK_RC(tc_merge(&t), 0);
	CHECK(has_content(&t.f, "/x", tn_find(t.r, "x")));
	CHECKF(
	    has_content(&t.f, "/x (conflict from laptop 1970-01-01 000010)", tn_find(t.base, "f")),
	    "the name's conflict name shows its file's mtime");
	CHECK(t.res.nrecords == 1 && t.res.records[0].nlink == 2);
	CHECK_RC(t.res.conflicts, 1);
	CHECK_RC(t.f.n, 3);
	tc_end(&t);
}

/* A name deleted on one side and the file edited on the other: the edit and
 * that name stay; every name deleted: all of them stay. Untouched: gone. */
static void test_link_delete_edit(void)
{
	struct tcase t;
	const struct trec *w;

	tc_start(&t);
	tn_new(t.base, "f", 'f', 10);
	op_link(t.base, &t.tb, "f", "", "g", 10);
	op_link(t.base, &t.tb, "f", "", "h", 10);
	tc_fork(&t);
	op_rm(t.l, "g");
	w = op_lwrite(t.r, &t.tr, "f", 50);
	CHECK_RC(tc_merge(&t), 0);
	CHECK(has_seg(&t.f, "/g", w->seg) && has_seg(&t.f, "/f", w->seg));
	CHECK(t.res.nrecords == 1 && t.res.records[0].nlink == 3);
	CHECK_RC(t.f.n, 3);
	tc_end(&t);

	tc_start(&t);
	tn_new(t.base, "f", 'f', 10);
	op_link(t.base, &t.tb, "f", "", "g", 10);
	tc_fork(&t);
	op_rm(t.l, "g");
	op_rm(t.l, "f");
	w = op_lwrite(t.r, &t.tr, "g", 50);
	CHECK_RC(tc_merge(&t), 0);
	CHECK(has_seg(&t.f, "/f", w->seg) && has_seg(&t.f, "/g", w->seg));
	CHECK(t.res.nrecords == 1 && t.res.records[0].nlink == 2);
	tc_end(&t);

	/* Not edited on the other side: the name goes, nl follows. */
	tc_start(&t);
	tn_new(t.base, "f", 'f', 10);
	op_link(t.base, &t.tb, "f", "", "g", 10);
	op_link(t.base, &t.tb, "f", "", "h", 10);
	tc_fork(&t);
	op_rm(t.l, "g");
	tn_new(t.r, "n", 'f', 20);
	CHECK_RC(tc_merge(&t), 0);
	CHECK(flat_get(&t.f, "/g") == NULL);
	CHECK(t.res.nrecords == 1 && t.res.records[0].nlink == 2);
	CHECK_RC(t.f.n, 3);
	tc_end(&t);
}

/* A name renamed on one side while the other edited the file: the old name
 * stays as well (a name is a file, a directory and a name), nothing is lost. */
static void test_link_rename_edit(void)
{
	struct tcase t;
	const struct trec *w;

	tc_start(&t);
	tn_new(t.base, "f", 'f', 10);
	op_link(t.base, &t.tb, "f", "", "g", 10);
	tn_new(t.base, "d", 'd', 10);
	tc_fork(&t);
	op_mv(t.l, "g", "d", "g2");
	w = op_lwrite(t.r, &t.tr, "f", 50);
	CHECK_RC(tc_merge(&t), 0);
	CHECK(has_seg(&t.f, "/d/g2", w->seg) && has_seg(&t.f, "/g", w->seg));
	CHECK(t.res.nrecords == 1 && t.res.records[0].nlink == 3);
	tc_end(&t);

	/* Untouched on the other side: a plain rename. */
	tc_start(&t);
	tn_new(t.base, "f", 'f', 10);
	op_link(t.base, &t.tb, "f", "", "g", 10);
	tc_fork(&t);
	op_mv(t.l, "g", "", "g2");
	tn_new(t.r, "n", 'f', 20);
	CHECK_RC(tc_merge(&t), 0);
	CHECK(flat_get(&t.f, "/g") == NULL && flat_get(&t.f, "/g2") != NULL);
	CHECK(t.res.nrecords == 1 && t.res.records[0].nlink == 2);
	tc_end(&t);
}

/* Each side deleted a different name, nothing else: no name is left, so no
 * record (its segments become garbage for the caller). */
static void test_link_dropped(void)
{
	struct tcase t;

	tc_start(&t);
	tn_new(t.base, "f", 'f', 10);
	op_link(t.base, &t.tb, "f", "", "g", 10);
	tn_new(t.base, "keep", 'f', 10);
	tc_fork(&t);
	op_rm(t.l, "f");
	op_rm(t.r, "g");
	CHECK_RC(tc_merge(&t), 0);
	CHECK_RC(t.res.nrecords, 0);
	CHECK(t.res.links);
	CHECK_RC(t.f.n, 1);
	tc_end(&t);
}

/* Names in directories the merge does not read still count; a directory
 * deleted on one side takes its names with it. */
static void test_link_unread(void)
{
	struct tcase t;

	tc_start(&t);
	tn_new(t.base, "f", 'f', 10);
	tn_new(t.base, "quiet", 'd', 10);
	tn_new(t.base, "gone", 'd', 10);
	tn_new(tn_find(t.base, "gone"), "deep", 'd', 10);
	op_link(t.base, &t.tb, "f", "quiet", "q", 10);
	op_link(t.base, &t.tb, "f", "gone/deep", "z", 10);
	tc_fork(&t);
	op_rm(t.l, "gone");
	op_link(t.r, &t.tr, "f", "", "new", 20);
	CHECK_RC(tc_merge(&t), 0);
	CHECK(flat_get(&t.f, "/quiet/q") && flat_get(&t.f, "/new") && flat_get(&t.f, "/f"));
	CHECK(flat_get(&t.f, "/gone") == NULL);
	CHECK(t.res.nrecords == 1 && t.res.records[0].nlink == 3);
	CHECK(!t.f.bad);
	tc_end(&t);

	/* The directory deleted on one side, the file edited on the other: the
	 * directory comes back with the name (and only that). */
	tc_start(&t);
	tn_new(t.base, "f", 'f', 10);
	tn_new(t.base, "D", 'd', 10);
	tn_new(tn_find(t.base, "D"), "other", 'f', 10);
	op_link(t.base, &t.tb, "f", "D", "n", 10);
	tc_fork(&t);
	op_rm(t.l, "D");
	const struct trec *w = op_lwrite(t.r, &t.tr, "f", 60);
	CHECK_RC(tc_merge(&t), 0);
	CHECK(has_seg(&t.f, "/D/n", w->seg) && has_seg(&t.f, "/f", w->seg));
	CHECK(flat_get(&t.f, "/D/other") == NULL);
	CHECK(t.res.nrecords == 1 && t.res.records[0].nlink == 2);
	CHECK_RC(t.f.n, 3);
	tc_end(&t);
}

/* Inconsistent inputs are refused, never merged: a name with no record. */
static void test_link_refused(void)
{
	struct tcase t;

	tc_start(&t);
	tn_new(t.base, "f", 'f', 10);
	tc_fork(&t);
	op_link(t.l, &t.tl, "f", "", "g", 20);
	tn_new(t.r, "x", 'f', 20);
	t.tl.n = 0; /* the local table lost its record */
	CHECK_RC(tc_merge(&t), -EINVAL);
	tc_end(&t);
}

/* Format 3: a symlink and a FIFO with several names merge as files do, and
 * keep their type and target (their records carry them); a linked symlink
 * both sides retargeted: the later keeps the names, the other is a conflict
 * copy, a symlink with its own target (no content to re-seal: no copy in
 * ncopies). */
static void test_link_special(void)
{
	struct tcase t;

	tc_start(&t);
	tn_symlink(t.base, "s", "t1", 10);
	tn_new(t.base, "p", 'p', 10);
	tn_new(t.base, "d", 'd', 10);
	tc_fork(&t);
	op_link(t.l, &t.tl, "s", "d", "s2", 20);
	op_link(t.r, &t.tr, "p", "", "p2", 30);
	tn_new(t.r, "x", 'f', 30);
	CHECK_RC(tc_merge(&t), 0);
	CHECKF(flat_is(&t.f, "/s", "h l:t1") && flat_is(&t.f, "/d/s2", "h l:t1"), "symlink");
	CHECKF(flat_is(&t.f, "/p", "h p:") && flat_is(&t.f, "/p2", "h p:"), "fifo");
	CHECK_RC(t.res.nrecords, 2);
	for (size_t i = 0; i < t.res.nrecords; i++) {
		const struct dirobj_entry *e = &t.res.records[i].e;

		CHECK_RC(t.res.records[i].nlink, 2);
		CHECK(e->type == DIROBJ_SYMLINK || e->type == DIROBJ_FIFO);
		CHECK(e->type != DIROBJ_SYMLINK ||
		      (e->target_len == 2 && memcmp(e->target, "t1", 2) == 0));
		CHECK(e->nsegments == 0);
	}
	CHECK_RC(t.res.conflicts, 0);
	CHECK_RC(t.f.n, 6);
	if (t.f.n != 6)
		dump(&t);
	tc_end(&t);

	/* Linked in the base; one side unlinks a name of each, the other links
	 * the FIFO once more: counts follow, types stay. */
	tc_start(&t);
	tn_symlink(t.base, "s", "t1", 10);
	tn_new(t.base, "p", 'p', 10);
	op_link(t.base, &t.tb, "s", "", "s2", 10);
	op_link(t.base, &t.tb, "p", "", "p2", 10);
	tc_fork(&t);
	op_rm(t.l, "s2");
	op_rm(t.l, "p2");
	op_link(t.r, &t.tr, "p", "", "p3", 20);
	CHECK_RC(tc_merge(&t), 0);
	CHECK(flat_get(&t.f, "/s2") == NULL && flat_get(&t.f, "/p2") == NULL);
	CHECK(flat_is(&t.f, "/s", "h l:t1"));
	CHECK(flat_is(&t.f, "/p", "h p:") && flat_is(&t.f, "/p3", "h p:"));
	CHECK_RC(t.res.nrecords, 2);
	CHECK_RC(t.f.n, 3);
	tc_end(&t);

	/* Both sides retargeted the linked symlink. */
	tc_start(&t);
	tn_symlink(t.base, "a.lnk", "t1", 10);
	op_link(t.base, &t.tb, "a.lnk", "", "b.lnk", 10);
	tc_fork(&t);
	op_lretarget(t.l, &t.tl, "a.lnk", "left", 1700000000);
	op_lretarget(t.r, &t.tr, "b.lnk", "right", 1700000100);
	CHECK_RC(tc_merge(&t), 0);
	CHECK(flat_is(&t.f, "/a.lnk", "h l:right") && flat_is(&t.f, "/b.lnk", "h l:right"));
	CHECKF(flat_is(&t.f, "/a (conflict from laptop 2023-11-14 221320).lnk", "l l:left"),
	       "the copy: a symlink with the loser's target");
	CHECK(t.res.nrecords == 1 && t.res.records[0].nlink == 2);
	CHECK_RC(t.res.ncopies, 0);
	CHECK_RC(t.res.conflicts, 1);
	CHECK_RC(t.f.n, 3);
	if (t.f.n != 3)
		dump(&t);
	tc_end(&t);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	randombytes_buf(dev_a.id, 16);
	randombytes_buf(dev_b.id, 16);
	test_link_one_side();
	test_link_both_edit();
	test_link_union();
	test_link_delete_edit();
	test_link_rename_edit();
	test_link_dropped();
	test_link_unread();
	test_link_refused();
	test_link_special();
	return check_done("merge_links");
}
