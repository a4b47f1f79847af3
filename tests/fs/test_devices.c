/* test_devices.c - two devices on one format-2 vault, through the engine a
 * mount opens (two caches over one local store): the second device's head
 * is refused by the compare-and-swap, and its uploader merges its commits
 * onto the store's head (fs/vault/merge_store.c) instead of stopping. A third
 * device then sees both devices' files; a file both changed gives a conflict
 * copy whose content (re-sealed under its new id) reads back; a delete on one
 * side and an edit on the other keep the edit; later commits of the merging
 * device merge again and keep the other device's files. A poll on the
 * first device then shows all of it in its mounted tree, in place (an inode
 * the first device holds keeps its address), and its next commit goes in
 * without a merge; a file open there that the other device rewrites keeps
 * the version it opened. */
#include "fs_test.h"
#include "poll_head.h"

static int open_dev(struct fmount *m, struct fenv *e, const char *name)
{
	return fmount_open_device(m, e, name, name);
}

static int put(struct fmount *m, const char *name, const char *text)
{
	return fwrite_file(m->tree, m->tree->root, name, text, strlen(text), NULL);
}

/* The content of path in m (NUL-terminated into buf), or "" when missing. */
static const char *get(struct fmount *m, const char *path, char *buf, size_t size)
{
	struct inode *ino;
	ssize_t n;

	buf[0] = '\0';
	if (fpath(m->tree, path, &ino) != 0 || tree_open_file(m->tree, ino, false) != 0)
		return buf;
	n = tree_read(m->tree, ino, buf, size - 1, 0);
	buf[n > 0 ? n : 0] = '\0';
	tree_release_file(m->tree, ino);
	return buf;
}

/* The name in the root that starts with prefix, or NULL (malloc'ed). */
static char *find_prefix(struct fmount *m, const char *prefix)
{
	struct tree_dirlist l;
	char *found = NULL;

	if (tree_dirlist(m->tree, m->tree->root, &l) != 0)
		return NULL;
	for (size_t i = 0; i < l.n; i++)
		if (strncmp(l.ents[i].name, prefix, strlen(prefix)) == 0 && !found)
			found = strdup(l.ents[i].name);
	tree_dirlist_free(&l);
	return found;
}

int main(void)
{
	struct fenv e;
	struct fmount a, b, c;
	struct upload_stats st;
	char buf[256], *copy;

	if (fenv_init(&e) != 0)
		return 1;
	CHECK_RC(e.cfg->format, VAULT_FORMAT_VERSION);
	CHECK_RC(open_dev(&a, &e, "laptop"), 0);
	CHECK_RC(put(&a, "shared", "base"), 0);
	CHECK_RC(put(&a, "gone", "base"), 0);
	CHECK_RC(fcommit(&a), 0);
	CHECK_RC(open_dev(&b, &e, "desktop"), 0);
	CHECK(strcmp(get(&b, "shared", buf, sizeof(buf)), "base") == 0);

	/* Both write; A first, so B's head is refused and B merges. */
	CHECK_RC(put(&a, "a-file", "from a"), 0);
	CHECK_RC(put(&a, "shared", "a's edit"), 0);
	CHECK_RC(tree_remove(a.tree, a.tree->root, "gone", false), 0);
	CHECK_RC(fcommit(&a), 0);
	CHECK_RC(put(&b, "b-file", "from b"), 0);
	CHECK_RC(put(&b, "shared", "b's edit"), 0);
	CHECK_RC(put(&b, "gone", "b kept it"), 0);
	CHECK_RC(fcommit(&b), 0);
	upload_stats(&st, b.up);
	CHECK(!st.conflict);
	CHECK_RC(st.merges, 1);
	CHECK_RC(st.last_conflicts, 1);
	CHECK(st.last_merged >= 3);
	CHECK(st.last_merge_time > 0);

	/* A third device sees everything. */
	CHECK_RC(open_dev(&c, &e, "third"), 0);
	CHECK(strcmp(get(&c, "a-file", buf, sizeof(buf)), "from a") == 0);
	CHECK(strcmp(get(&c, "b-file", buf, sizeof(buf)), "from b") == 0);
	CHECK(strcmp(get(&c, "gone", buf, sizeof(buf)), "b kept it") == 0);
	CHECK(strcmp(get(&c, "shared", buf, sizeof(buf)), "b's edit") == 0);
	copy = find_prefix(&c, "shared (conflict from laptop ");
	CHECKF(copy != NULL, "no conflict copy of shared");
	if (copy)
		CHECKF(strcmp(get(&c, copy, buf, sizeof(buf)), "a's edit") == 0, "copy holds %s",
		       buf);
	free(copy);
	fmount_close(&c);

	/* B keeps merging: its next commit keeps A's files. */
	CHECK_RC(put(&b, "b-later", "later"), 0);
	CHECK_RC(fcommit(&b), 0);
	upload_stats(&st, b.up);
	CHECK_RC(st.merges, 2);
	CHECK_RC(open_dev(&c, &e, "third"), 0);
	CHECK(strcmp(get(&c, "a-file", buf, sizeof(buf)), "from a") == 0);
	CHECK(strcmp(get(&c, "b-later", buf, sizeof(buf)), "later") == 0);
	fmount_close(&c);

	/* B's own poll shows what its merges brought in: A's files. */
	struct poll_deps pdb0 = fmount_poll_deps(&e, &b);
	struct poll *plb0 = poll_new(&pdb0);
	CHECK(strcmp(get(&b, "a-file", buf, sizeof(buf)), "") == 0);
	CHECK_RC(plb0 ? poll_once(plb0) : -1, 1);
	CHECK(strcmp(get(&b, "a-file", buf, sizeof(buf)), "from a") == 0);
	CHECK_RC(plb0 ? poll_once(plb0) : -1, 0);
	poll_free(plb0);

	/* A polls: its tree now shows B's changes and the merge. */
	struct inode *held;
	CHECK_RC(fpath(a.tree, "a-file", &held), 0); /* B did not change it */
	struct poll_deps pd = fmount_poll_deps(&e, &a);
	struct poll *pl = poll_new(&pd);
	struct poll_stats ps;
	struct inode *again;
	CHECK(pl != NULL);
	CHECK(strcmp(get(&a, "b-file", buf, sizeof(buf)), "") == 0);
	CHECK_RC(pl ? poll_once(pl) : -1, 1);
	CHECK(strcmp(get(&a, "b-file", buf, sizeof(buf)), "from b") == 0);
	CHECK(strcmp(get(&a, "b-later", buf, sizeof(buf)), "later") == 0);
	CHECK(strcmp(get(&a, "gone", buf, sizeof(buf)), "b kept it") == 0);
	CHECK(strcmp(get(&a, "shared", buf, sizeof(buf)), "b's edit") == 0);
	CHECK_RC(fpath(a.tree, "a-file", &again), 0);
	CHECK(again == held); /* the node id the kernel holds */
	copy = find_prefix(&a, "shared (conflict from laptop ");
	CHECK(copy != NULL);
	free(copy);
	CHECK_RC(pl ? poll_once(pl) : -1, 0); /* nothing new */
	if (pl)
		poll_stats(pl, &ps);
	CHECK_RC(pl ? ps.refreshes : 0, 1);
	/* A's next commit builds on what it shows: no merge. */
	CHECK_RC(put(&a, "a-after", "after"), 0);
	CHECK_RC(fcommit(&a), 0);
	upload_stats(&st, a.up);
	CHECK_RC(st.merges, 0);
	CHECK_RC(open_dev(&c, &e, "third"), 0);
	CHECK(strcmp(get(&c, "a-after", buf, sizeof(buf)), "after") == 0);
	CHECK(strcmp(get(&c, "b-later", buf, sizeof(buf)), "later") == 0);
	CHECK(strcmp(get(&c, "a-file", buf, sizeof(buf)), "from a") == 0);
	fmount_close(&c);

	/* A file open on A that B rewrites: A's handle keeps the version it
	 * opened (as after a rename over it), the name shows B's. */
	struct poll_deps pdb = pd;
	pdb.tree = b.tree;
	pdb.commit = b.commit;
	pdb.up = b.up;
	struct poll *plb = poll_new(&pdb);
	struct inode *open_ino;
	CHECK_RC(plb ? poll_once(plb) : -1, 1);
	CHECK(strcmp(get(&b, "a-after", buf, sizeof(buf)), "after") == 0);
	CHECK_RC(fpath(a.tree, "a-after", &open_ino), 0);
	CHECK_RC(tree_open_file(a.tree, open_ino, false), 0);
	CHECK_RC(tree_read(a.tree, open_ino, buf, sizeof(buf) - 1, 0), 5); /* in memory now */
	CHECK_RC(put(&b, "a-after", "rewritten by b"), 0);
	CHECK_RC(fcommit(&b), 0);
	upload_stats(&st, b.up);
	CHECK_RC(st.merges, 2); /* B was shown A's head: no merge this time */
	CHECK_RC(poll_once(pl), 1);
	memset(buf, 0, sizeof(buf));
	CHECK_RC(tree_read(a.tree, open_ino, buf, sizeof(buf) - 1, 0), 5);
	CHECK(strcmp(buf, "after") == 0);
	tree_release_file(a.tree, open_ino);
	CHECK(strcmp(get(&a, "a-after", buf, sizeof(buf)), "rewritten by b") == 0);
	poll_free(plb);
	poll_free(pl);

	fmount_close(&b);
	fmount_close(&a);
	fenv_free(&e);
	return check_done("devices");
}
