/* test_merge.c - the three-way merge (fs/vault/merge.h): one case per rule
 * of the design, the conflict names, a refused cycle, a two-way merge, the
 * loader's errors, and 300 random pairs of edits on both sides (no edit may be
 * lost; either order gives the same tree). The harness is merge_test.h. */
#include "merge_test.h"

/* ---- the rules ---- */

/* A change on one side only: that side's, for edits, adds, deletes, renames. */
static void test_one_side(void)
{
	struct tcase t;

	tc_start(&t);
	tn_new(t.base, "a.txt", 'f', 10);
	tn_new(t.base, "c", 'f', 10);
	tn_new(t.base, "d", 'f', 10);
	tn_new(tn_new(t.base, "keep", 'd', 10), "deep", 'f', 10);
	tc_fork(&t);
	op_write(t.l, "a.txt", 20);
	tn_new(t.r, "b", 'f', 20);
	op_rm(t.r, "c");
	op_mv(t.l, "d", "", "d2");
	loads = 0;
	CHECK_RC(tc_merge(&t), 0);
	CHECK(has_content(&t.f, "/a.txt", tn_find(t.l, "a.txt")));
	CHECK(flat_get(&t.f, "/b") != NULL);
	CHECK(flat_get(&t.f, "/c") == NULL);
	CHECK(flat_get(&t.f, "/d") == NULL);
	CHECK(has_content(&t.f, "/d2", tn_find(t.base, "d")));
	CHECK(flat_get(&t.f, "/keep/deep") != NULL);
	CHECK_RC(t.f.n, 5);
	CHECK_RC(t.res.conflicts, 0);
	CHECK_RC(t.res.ncopies, 0);
	CHECK_RC(t.res.merged, 2); /* a.txt edited, d renamed by the local side */
	/* Only the roots were read (three, twice): "keep" is the same on all. */
	CHECK_RC(loads, 6);
	tc_end(&t);
}

/* Both changed one file: the later keeps the name, the other is a copy. */
static void test_both_edit(void)
{
	struct tcase t;

	tc_start(&t);
	tn_new(t.base, "f.txt", 'f', 10);
	tc_fork(&t);
	op_write(t.l, "f.txt", 1700000000);
	op_write(t.r, "f.txt", 1700000100);
	CHECK_RC(tc_merge(&t), 0);
	CHECK(has_content(&t.f, "/f.txt", tn_find(t.r, "f.txt")));
	CHECKF(has_content(&t.f, "/f (conflict from laptop 2023-11-14 221320).txt",
			   tn_find(t.l, "f.txt")),
	       "copy missing");
	CHECK_RC(t.f.n, 2);
	CHECK_RC(t.res.conflicts, 1);
	CHECK_RC(t.res.ncopies, 1);
	if (t.res.ncopies == 1) {
		CHECK(memcmp(t.res.copies[0].source_id, tn_find(t.base, "f.txt")->id, 16) == 0);
		CHECK(memcmp(t.res.copies[0].id, t.res.copies[0].source_id, 16) != 0);
		CHECK(memcmp(t.res.copies[0].dir_id, t.base->id, 16) == 0);
	}
	if (t.f.n != 2)
		dump(&t);
	tc_end(&t);

	/* The same mtime: the device id decides (the same either way round). */
	tc_start(&t);
	tn_new(t.base, "g", 'f', 10);
	tc_fork(&t);
	op_write(t.l, "g", 50);
	op_write(t.r, "g", 50);
	CHECK_RC(tc_merge(&t), 0);
	CHECK(
	    has_content(&t.f, "/g", tn_find(memcmp(dev_a.id, dev_b.id, 16) > 0 ? t.l : t.r, "g")));
	CHECK_RC(t.f.n, 2);

	tc_end(&t);

	/* The same change on both sides is no conflict. */
	tc_start(&t);
	tn_new(t.base, "h", 'f', 10);
	tc_fork(&t);
	op_write(t.l, "h", 50);
	memcpy(tn_find(t.r, "h")->seg, tn_find(t.l, "h")->seg, 16);
	op_write(t.r, "h", 50);
	memcpy(tn_find(t.r, "h")->seg, tn_find(t.l, "h")->seg, 16);
	CHECK_RC(tc_merge(&t), 0);
	CHECK_RC(t.f.n, 1);
	CHECK_RC(t.res.conflicts, 0);
	tc_end(&t);
}

/* Two new entries of one name: directories become one (recursively), files
 * are the conflict rule. */
static void test_same_name(void)
{
	struct tcase t;
	struct tn *dl, *dr;

	tc_start(&t);
	tc_fork(&t);
	dl = tn_new(t.l, "new", 'd', 30);
	dr = tn_new(t.r, "new", 'd', 40);
	tn_new(dl, "x", 'f', 30);
	tn_new(dr, "y", 'f', 40);
	tn_new(tn_new(dl, "sub", 'd', 30), "p", 'f', 30);
	tn_new(tn_new(dr, "sub", 'd', 40), "q", 'f', 40);
	tn_new(t.l, "n.c", 'f', 100);
	tn_new(t.r, "n.c", 'f', 200);
	CHECK_RC(tc_merge(&t), 0);
	CHECK(flat_get(&t.f, "/new/x") && flat_get(&t.f, "/new/y"));
	CHECK(flat_get(&t.f, "/new/sub/p") && flat_get(&t.f, "/new/sub/q"));
	CHECK(has_content(&t.f, "/n.c", tn_find(t.r, "n.c")));
	CHECK(has_content(&t.f, "/n (conflict from laptop 1970-01-01 000140).c",
			  tn_find(t.l, "n.c")));
	CHECK_RC(t.f.n, 8);
	CHECK_RC(t.res.ncopies, 0); /* a renamed file keeps its id and content */
	CHECK_RC(t.res.conflicts, 1);
	if (t.f.n != 8)
		dump(&t);
	tc_end(&t);
}

/* Deleted on one side, edited on the other: the edit stays. */
static void test_delete_edit(void)
{
	struct tcase t;

	tc_start(&t);
	tn_new(t.base, "f", 'f', 10);
	tn_new(t.base, "g", 'f', 10);
	tn_new(tn_new(t.base, "d", 'd', 10), "e", 'f', 10);
	tc_fork(&t);
	op_rm(t.l, "f");
	op_write(t.r, "f", 20);
	op_rm(t.l, "g"); /* untouched on the other side: gone */
	op_rm(t.r, "d");
	op_write(t.l, "d/e", 30); /* deep in a directory the other deleted */
	CHECK_RC(tc_merge(&t), 0);
	CHECK(has_content(&t.f, "/f", tn_find(t.r, "f")));
	CHECK(flat_get(&t.f, "/g") == NULL);
	CHECK(has_content(&t.f, "/d/e", tn_find(t.l, "d/e")));
	CHECK_RC(t.f.n, 3);
	tc_end(&t);
}

/* Renamed (or moved into another directory) on one side, edited on the
 * other: the edit follows the file, and its id is in one place only. */
static void test_rename_edit(void)
{
	struct tcase t;

	tc_start(&t);
	tn_new(t.base, "f", 'f', 10);
	tn_new(t.base, "m", 'f', 10);
	tn_new(t.base, "sub", 'd', 10);
	tc_fork(&t);
	op_mv(t.l, "f", "", "g");
	op_write(t.r, "f", 20);
	op_mv(t.l, "m", "sub", "m2");
	op_write(t.r, "m", 20);
	tn_new(t.r, "sub/other", 'f', 20);
	CHECK_RC(tc_merge(&t), 0);
	CHECK(flat_get(&t.f, "/f") == NULL);
	CHECK(has_content(&t.f, "/g", tn_find(t.r, "f")));
	CHECK(flat_get(&t.f, "/m") == NULL);
	CHECK(has_content(&t.f, "/sub/m2", tn_find(t.r, "m")));
	CHECK(flat_get(&t.f, "/sub/other") != NULL);
	CHECK_RC(t.f.n, 4);
	CHECK_RC(t.res.conflicts, 0);
	if (t.f.n != 4)
		dump(&t);
	tc_end(&t);

	/* Moved on one side into a directory the other side never touched. */
	tc_start(&t);
	tn_new(t.base, "f", 'f', 10);
	tn_new(t.base, "quiet", 'd', 10);
	tc_fork(&t);
	op_mv(t.l, "f", "quiet", "f");
	op_write(t.r, "f", 20);
	CHECK_RC(tc_merge(&t), 0);
	CHECK(flat_get(&t.f, "/f") == NULL);
	CHECK(has_content(&t.f, "/quiet/f", tn_find(t.r, "f")));
	CHECK_RC(t.f.n, 2);
	tc_end(&t);
}

/* A directory deleted on one side that gained entries on the other stays
 * with the added entries only; untouched, it goes. */
static void test_deleted_dir(void)
{
	struct tcase t;

	tc_start(&t);
	tn_new(t.base, "D", 'd', 10);
	tn_new(tn_find(t.base, "D"), "old1", 'f', 10);
	tn_new(tn_find(t.base, "D"), "old2", 'f', 10);
	tn_new(t.base, "E", 'd', 10);
	tn_new(tn_find(t.base, "E"), "old", 'f', 10);
	tn_new(t.base, "F", 'd', 10);
	tn_new(tn_find(t.base, "F"), "old", 'f', 10);
	tc_fork(&t);
	op_rm(t.l, "D");
	tn_new(tn_find(t.r, "D"), "new", 'f', 20);
	op_rm(t.r, "E");
	op_rm(t.l, "F"); /* renamed on the other side, nothing added: gone */
	op_mv(t.r, "F", "", "F2");
	CHECK_RC(tc_merge(&t), 0);
	CHECK(flat_get(&t.f, "/D/new") != NULL);
	CHECK(flat_get(&t.f, "/D/old1") == NULL && flat_get(&t.f, "/D/old2") == NULL);
	CHECK(flat_get(&t.f, "/E") == NULL);
	CHECK(flat_get(&t.f, "/F") == NULL && flat_get(&t.f, "/F2") == NULL);
	CHECK_RC(t.f.n, 2);
	if (t.f.n != 2)
		dump(&t);
	tc_end(&t);
}

/* Moves on both sides that would make a cycle refuse the merge. */
static void test_cycle(void)
{
	struct tcase t;

	tc_start(&t);
	tn_new(t.base, "A", 'd', 10);
	tn_new(t.base, "B", 'd', 10);
	tc_fork(&t);
	op_mv(t.l, "A", "B", "A");
	op_mv(t.r, "B", "A", "B");
	CHECK_RC(tc_merge(&t), -ELOOP);
	tc_end(&t);
}

/* No base (offline past the retention): a union; entries both hold
 * differently become conflict copies, equal ones stay once. */
static void test_two_way(void)
{
	struct tcase t;
	struct merge_result r;
	struct flat f;

	tc_start(&t);
	tn_new(t.base, "same", 'f', 10);
	tn_new(t.base, "diff", 'f', 10);
	tc_fork(&t);
	op_write(t.l, "diff", 20);
	tn_new(t.r, "only", 'f', 20);
	tn_commit(t.l);
	tn_commit(t.r);
	tn_entry(&t.el, t.l);
	tn_entry(&t.er, t.r);
	struct merge_input in = {.local = &t.el,
				 .remote = &t.er,
				 .local_dev = dev_a,
				 .remote_dev = dev_b,
				 .load = loader};
	CHECK_RC(merge_tree(&r, &in), 0);
	flat_of(&f, &r);
	CHECK(!f.bad);
	CHECK_RC(f.n, 4);
	CHECK(flat_get(&f, "/same") && flat_get(&f, "/only"));
	CHECK_RC(r.ncopies, 1);
	merge_result_release(&r);
	tc_end(&t);
}

/* The loader's error is the merge's, and nothing leaks. */
static void test_load_error(void)
{
	struct tcase t;

	tc_start(&t);
	tn_new(tn_new(t.base, "d", 'd', 10), "x", 'f', 10);
	tc_fork(&t);
	op_write(t.l, "d/x", 20);
	tn_new(tn_find(t.r, "d"), "y", 'f', 20);
	tn_commit(t.l);
	load_fail = tn_find(t.l, "d");
	CHECK_RC(tc_merge(&t), -EIO);
	load_fail = NULL;
	tc_end(&t);
}

/* ---- random edits on both sides: never an edit lost, always one tree ---- */

static int collect(struct tn *n, struct tn **out, int max, int k)
{
	for (int i = 0; i < n->nkids && k < max; i++) {
		out[k++] = n->kids[i];
		k = collect(n->kids[i], out, max, k);
	}
	return k;
}

static bool has_name(const struct tn *d, const char *name)
{
	for (int i = 0; i < d->nkids; i++)
		if (strcmp(d->kids[i]->name, name) == 0)
			return true;
	return false;
}

static bool inside(const struct tn *n, const struct tn *anc)
{
	for (; n; n = n->parent)
		if (n == anc)
			return true;
	return false;
}

/* One random change on a side: edits, adds, deletes, moves, and with a
 * table (tb) links of files, unlinks (a delete of a name) and edits of
 * linked files. */
static void random_op(struct tn *root, struct ttab *tb)
{
	static const char *names[] = {"a", "b", "c.txt", "d"};
	struct tn *all[64], *d, *n;
	int cnt = collect(root, all, 64, 0), dirs = 0;
	struct tn *dl[64];
	const char *nm = names[randombytes_uniform(4)];
	int64_t t = 100 + randombytes_uniform(3);

	dl[dirs++] = root;
	for (int i = 0; i < cnt; i++)
		if (all[i]->type == 'd')
			dl[dirs++] = all[i];
	d = dl[randombytes_uniform((uint32_t)dirs)];
	n = cnt ? all[randombytes_uniform((uint32_t)cnt)] : NULL;
	switch (randombytes_uniform(tb ? 7 : 5)) {
	case 0:
		if (n && n->type == 'f') {
			randombytes_buf(n->seg, 16);
			n->mtime = t;
			touch_up(n);
		}
		break;
	case 5:
	case 6:
		if (n && n->type == 'h' && randombytes_uniform(2)) {
			struct trec *rec = tt_find(tb, n->id);

			randombytes_buf(rec->seg, 16);
			rec->mtime = rec->ctime = t;
		} else if (n && (n->type == 'f' || n->type == 'h') && d->nkids < KIDS_MAX &&
			   !has_name(d, nm) && tb->n < RECS_MAX) {
			struct tn *h = tn_new(d, nm, 'h', 0);
			struct trec *rec = tt_find(tb, n->id);

			memcpy(h->id, n->id, 16);
			if (!rec) {
				rec = &tb->r[tb->n++];
				memcpy(rec->id, n->id, 16);
				memcpy(rec->seg, n->seg, 16);
				rec->mtime = n->mtime;
				n->type = 'h';
				touch_up(n);
			}
			rec->ctime = t;
		}
		break;
	case 1:
	case 2:
		if (d->nkids < KIDS_MAX && !has_name(d, nm))
			tn_new(d, nm, randombytes_uniform(3) ? 'f' : 'd', t);
		break;
	case 3:
		if (n) {
			tn_detach(n);
			tn_free(n);
		}
		break;
	default:
		if (n && !inside(d, n) && d->nkids < KIDS_MAX && !has_name(d, nm)) {
			tn_detach(n);
			snprintf(n->name, sizeof(n->name), "%s", nm);
			n->parent = d;
			d->kids[d->nkids++] = n;
			touch_up(n);
		}
	}
}

/* Every content of a linked file on side s that the base did not have is
 * in the result (a file that lost every name there is deleted there). */
static void check_kept_links(const struct flat *f, const struct ttab *side, struct tn *sroot,
			     const struct ttab *base, struct tn *broot)
{
	struct tn *ball[64];
	int nb = collect(broot, ball, 64, 0);

	for (int i = 0; i < side->n; i++) {
		char hex[33];
		bool old = false, found = false;

		for (int j = 0; j < base->n; j++)
			old |= memcmp(base->r[j].seg, side->r[i].seg, 16) == 0;
		for (int j = 0; j < nb; j++) /* the base's content of a file linked since */
			old |=
			    ball[j]->type == 'f' && memcmp(ball[j]->seg, side->r[i].seg, 16) == 0;
		if (old || tt_names(sroot, side->r[i].id) == 0)
			continue;
		sodium_bin2hex(hex, sizeof(hex), side->r[i].seg, 16);
		hex[12] = '\0';
		for (int j = 0; j < f->n; j++)
			found |= strstr(f->lines[j], hex) != NULL;
		CHECKF(found, "linked content %s lost", hex);
	}
}

/* Every content on side s that the base did not have is in the result. */
static void check_kept(const struct flat *f, struct tn *side, struct tn *base)
{
	struct tn *all[64], *ball[64];
	int n = collect(side, all, 64, 0), nb = collect(base, ball, 64, 0);

	for (int i = 0; i < n; i++) {
		char hex[33];
		bool old = false, found = false;

		if (all[i]->type != 'f')
			continue;
		for (int j = 0; j < nb; j++)
			old |= memcmp(ball[j]->seg, all[i]->seg, 16) == 0;
		if (old)
			continue;
		sodium_bin2hex(hex, sizeof(hex), all[i]->seg, 16);
		hex[12] = '\0';
		for (int j = 0; j < f->n; j++)
			found |= strstr(f->lines[j], hex) != NULL;
		CHECKF(found, "content %s of %s lost", hex, all[i]->name);
	}
}

/* 300 random pairs of edits; with links, 300 more where both sides also
 * link, unlink and edit linked files. */
static void test_random(bool links)
{
	int loops = 0;

	for (int iter = 0; iter < 300; iter++) {
		struct tcase t;

		tc_start(&t);
		for (int i = 0; i < 8; i++)
			random_op(t.base, links ? &t.tb : NULL);
		tc_fork(&t);
		for (int i = 0; i < 4; i++) {
			random_op(t.l, links ? &t.tl : NULL);
			random_op(t.r, links ? &t.tr : NULL);
		}
		if (tc_merge(&t) == 0) {
			check_kept(&t.f, t.l, t.base);
			check_kept(&t.f, t.r, t.base);
			check_kept_links(&t.f, &t.tl, t.l, &t.tb, t.base);
			check_kept_links(&t.f, &t.tr, t.r, &t.tb, t.base);
			CHECK(!t.f.bad);
		} else {
			CHECKF(t.rc == -ELOOP, "links %d: %d", links, t.rc);
			loops++;
		}
		tc_end(&t);
	}
	CHECKF(loops < 30, "%d of 300 merges refused", loops);
}

static void test_conflict_name(void)
{
	char *s, longname[256];
	size_t len;

	CHECK_RC(merge_conflict_name(&s, &len, "a.tar.gz", 8, false, "pc", 0, 1), 0);
	CHECK(strcmp(s, "a.tar (conflict from pc 1970-01-01 000000).gz") == 0);
	free(s);
	CHECK_RC(merge_conflict_name(&s, &len, ".bashrc", 7, false, "pc", 86399, 2), 0);
	CHECK(strcmp(s, ".bashrc (conflict from pc 1970-01-01 235959 2)") == 0);
	free(s);
	CHECK_RC(merge_conflict_name(&s, &len, "dir.d", 5, true, "a/b", 0, 1), 0);
	CHECK(strcmp(s, "dir.d (conflict from a_b 1970-01-01 000000)") == 0);
	free(s);
	/* 253 bytes of two-byte letters and "x": cut on a letter boundary. */
	for (int i = 0; i < 252; i += 2)
		memcpy(longname + i, "\xc3\xa9", 2);
	strcpy(longname + 252, ".x");
	CHECK_RC(merge_conflict_name(&s, &len, longname, 254, false, "pc", 0, 1), 0);
	CHECK(len <= DIROBJ_NAME_MAX && len == strlen(s));
	CHECK(dirobj_check_utf8(s, len));
	CHECK(strcmp(s + len - 2, ".x") == 0);
	free(s);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	randombytes_buf(dev_a.id, 16);
	randombytes_buf(dev_b.id, 16);
	test_one_side();
	test_both_edit();
	test_same_name();
	test_delete_edit();
	test_rename_edit();
	test_deleted_dir();
	test_cycle();
	test_two_way();
	test_load_error();
	test_conflict_name();
	test_random(false);
	test_random(true);
	return check_done("merge");
}
