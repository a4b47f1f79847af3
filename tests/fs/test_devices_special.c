/* test_devices_special.c - two devices on one format-3 vault whose linked
 * files include a symlink, a FIFO and a character device (issues #12 and
 * #14): through the engine a mount opens, the second device's upload merges
 * the inode tables (fs/vault/merge_itable.c reads and seals their records
 * under format-3 rules), a fresh device sees every name with its type,
 * target, device number and count, and a poll shows the merged head in the
 * devices' trees in place (tree_refresh_links.c): the inodes they hold (the
 * kernel's node ids) stay, whether the poll links them or finds them linked
 * already, a symlink keeps its target. Both devices merge in turn. */
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "fs_test.h"
#include "poll_head.h"

static int put(struct fmount *m, const char *name, const char *text)
{
	return fwrite_file(m->tree, m->tree->root, name, text, strlen(text), NULL);
}

static int link_path(struct fmount *m, const char *from, const char *to)
{
	struct inode *ino, *out;
	int r = fpath(m->tree, from, &ino);

	return r ? r : tree_link(m->tree, ino, m->tree->root, to, &out);
}

/* path's stat in m (st_nlink 0 when missing). */
static struct stat stat_of(struct fmount *m, const char *path)
{
	struct stat st;
	struct inode *ino;

	memset(&st, 0, sizeof(st));
	if (fpath(m->tree, path, &ino) == 0)
		tree_getattr(m->tree, ino, &st);
	return st;
}

static bool target_is(struct fmount *m, const char *path, const char *want)
{
	struct inode *ino;
	const char *t = NULL;

	return fpath(m->tree, path, &ino) == 0 && tree_readlink(m->tree, ino, &t) == 0 && t &&
	       strcmp(t, want) == 0;
}

/* Every name of the symlink, FIFO and device in m: its type, target or
 * number, its count and one inode per file. */
static void check_names(struct fmount *m, const char *const *sl, int nsl, const char *const *ff,
			int nff, const char *const *cd, int ncd)
{
	struct stat a = stat_of(m, sl[0]), b = stat_of(m, ff[0]), c = stat_of(m, cd[0]);

	for (int i = 0; i < nsl; i++) {
		struct stat s = stat_of(m, sl[i]);

		CHECKF(S_ISLNK(s.st_mode) && s.st_nlink == (nlink_t)nsl && s.st_ino == a.st_ino,
		       "%s: mode %o nlink %lu", sl[i], s.st_mode, (unsigned long)s.st_nlink);
		CHECKF(target_is(m, sl[i], "tgt"), "%s: target", sl[i]);
	}
	for (int i = 0; i < nff; i++) {
		struct stat s = stat_of(m, ff[i]);

		CHECKF(S_ISFIFO(s.st_mode) && s.st_nlink == (nlink_t)nff && s.st_ino == b.st_ino,
		       "%s: mode %o nlink %lu", ff[i], s.st_mode, (unsigned long)s.st_nlink);
	}
	for (int i = 0; i < ncd; i++) {
		struct stat s = stat_of(m, cd[i]);

		CHECKF(S_ISCHR(s.st_mode) && s.st_rdev == makedev(1, 3) &&
			   s.st_nlink == (nlink_t)ncd && s.st_ino == c.st_ino,
		       "%s: mode %o nlink %lu", cd[i], s.st_mode, (unsigned long)s.st_nlink);
	}
}

static struct poll *poll_of(struct fenv *e, struct fmount *m)
{
	struct poll_deps pd = fmount_poll_deps(e, m);

	return poll_new(&pd);
}

int main(void)
{
	struct fenv e;
	struct fmount a, b, c;
	struct upload_stats st;
	struct inode *ino;
	struct poll *pl;

	if (fenv_init(&e) != 0)
		return 1;
	CHECK_RC(e.cfg->format, 3);
	CHECK_RC(fmount_open_device(&a, &e, "laptop", "laptop"), 0);
	CHECK_RC(tree_create(a.tree, a.tree->root, "sl", DIROBJ_SYMLINK, 0777, 0, 0, "tgt", &ino),
		 0);
	CHECK_RC(tree_mknod(a.tree, a.tree->root, "ff", DIROBJ_FIFO, 0644, 0, 0, 0, &ino), 0);
	CHECK_RC(
	    tree_mknod(a.tree, a.tree->root, "cd", DIROBJ_CHR, 0600, 0, 0, makedev(1, 3), &ino), 0);
	CHECK_RC(fcommit(&a), 0);
	CHECK_RC(fmount_open_device(&b, &e, "desktop", "desktop"), 0);
	/* B holds the three inodes (as the kernel would after a lookup). */
	struct inode *held[3], *again;
	static const char *const one[] = {"sl", "ff", "cd"};
	for (int i = 0; i < 3; i++)
		CHECK_RC(fpath(b.tree, one[i], &held[i]), 0);

	/* A links all three; B writes elsewhere: B's upload merges the tables. */
	CHECK_RC(link_path(&a, "sl", "sl2"), 0);
	CHECK_RC(link_path(&a, "ff", "ff2"), 0);
	CHECK_RC(link_path(&a, "cd", "cd2"), 0);
	CHECK_RC(fcommit(&a), 0);
	CHECK_RC(put(&b, "b-file", "from b"), 0);
	CHECK_RC(fcommit(&b), 0);
	upload_stats(&st, b.up);
	CHECK(!st.conflict);
	CHECK_RC(st.merges, 1);

	static const char *const sl2[] = {"sl", "sl2"}, *ff2[] = {"ff", "ff2"},
				 *cd2[] = {"cd", "cd2"};
	CHECK_RC(fmount_open_device(&c, &e, "third", "third"), 0);
	check_names(&c, sl2, 2, ff2, 2, cd2, 2);
	CHECK_RC(stat_of(&c, "b-file").st_nlink, 1);
	fmount_close(&c);

	/* B, shown the merged head by its poll, adds a name and drops one; A
	 * writes meanwhile: now A's upload merges, the other way round. */
	pl = poll_of(&e, &b);
	CHECK_RC(pl ? poll_once(pl) : -1, 1);
	poll_free(pl);
	check_names(&b, sl2, 2, ff2, 2, cd2, 2);
	for (int i = 0; i < 3; i++) /* each became its record's inode: the node ids stay */
		CHECKF(fpath(b.tree, one[i], &again) == 0 && again == held[i], "%s replaced",
		       one[i]);
	CHECK_RC(link_path(&b, "sl", "sl3"), 0);
	CHECK_RC(tree_remove(b.tree, b.tree->root, "ff2", false), 0);
	CHECK_RC(fcommit(&b), 0);
	CHECK_RC(put(&a, "a-file", "from a"), 0);
	CHECK_RC(fcommit(&a), 0);
	upload_stats(&st, a.up);
	CHECK(!st.conflict);
	CHECK_RC(st.merges, 1);

	/* A's poll shows it all in place: the node ids A holds stay. */
	for (int i = 0; i < 3; i++)
		CHECK_RC(fpath(a.tree, one[i], &held[i]), 0);
	static const char *const sl3[] = {"sl", "sl2", "sl3"}, *ff1[] = {"ff"};
	pl = poll_of(&e, &a);
	CHECK_RC(pl ? poll_once(pl) : -1, 1);
	poll_free(pl);
	check_names(&a, sl3, 3, ff1, 1, cd2, 2);
	CHECK_RC(stat_of(&a, "ff2").st_nlink, 0);
	for (int i = 0; i < 3; i++) /* known records, same body: in place */
		CHECKF(fpath(a.tree, one[i], &again) == 0 && again == held[i], "%s replaced",
		       one[i]);
	CHECK_RC(stat_of(&a, "b-file").st_nlink, 1);

	CHECK_RC(fmount_open_device(&c, &e, "third2", "third"), 0);
	check_names(&c, sl3, 3, ff1, 1, cd2, 2);
	CHECK_RC(stat_of(&c, "a-file").st_nlink, 1);
	CHECK_RC(stat_of(&c, "b-file").st_nlink, 1);
	fmount_close(&c);

	fmount_close(&b);
	fmount_close(&a);
	fenv_free(&e);
	return check_done("devices_special");
}
