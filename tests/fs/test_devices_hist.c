/* test_devices_hist.c - several devices and the history of a format-2
 * vault (docs/INTERNALS.md "Merge", "History and deferred deletion"), through
 * the engine a mount opens: two caches over one local store.
 * - two devices each write three files (a commit each) over one head; the
 *   second device's upload merges: the merged head continues the store's
 *   history (the other device's heads are retained, this device's local
 *   history never reaches the store), and `fsck --all-heads` finds no orphan
 *   and nothing missing;
 * - churn on one file from both devices (merges both ways, a poll's refresh,
 *   commits on the refreshed tree): still no orphan, and the versions of the
 *   file in the retained heads come from both devices;
 * - an object this device's own history calls dead (reached only by a
 *   superseded head of its own) that the other device's head still reaches
 *   survives the merge (no grace deletion after a merged round) and, in a
 *   fault-injection build, a crash right after the merged head went in
 *   (SEALFS_FAULT die=merged-finish: the next mount finds the records at or
 *   below the stored seq and must not delete their garbage either);
 * - a merge at the next mount without CACHE/base-head (two-way) continues
 *   the history too;
 * - a device's merged heads within one slot supersede each other (no
 *   record each), a merge onto the other device's head archives it, and
 *   what the merged records stored for nothing is deleted at once. */
#include <sys/wait.h>

#include "fault.h"
#include "fs_test.h"
#include "fsck.h"
#include "history_view.h"
#include "poll_head.h"

static int open_dev(struct fmount *m, struct fenv *e, const char *name)
{
	int r = fmount_open_device(m, e, name, name);

	if (r == 0)
		m->tree->head_slot = 0; /* every commit a retained head */
	return r;
}

static int put(struct fmount *m, const char *name, const char *text)
{
	return fwrite_file(m->tree, m->tree->root, name, text, strlen(text), NULL);
}

static void report_cb(void *arg, const struct fsck_problem *p)
{
	(*(size_t *)arg)++;
	fprintf(stderr, "fsck: kind %d key %s\n", (int)p->kind, p->key ? p->key : "");
}

/* fsck --all-heads (no repair): every object in the store reached by a
 * retained head or listed in a retained head's garbage list, nothing
 * missing or damaged. */
static void check_all_heads(struct fenv *e, const char *when)
{
	size_t problems = 0;
	struct fsck_opts o = {.all_heads = true, .report = report_cb, .arg = &problems};
	struct fsck_result res;
	char err[256];

	CHECK_RC(fsck_run(e->store, e->cfg, e->keys, &o, &res, err, sizeof(err)), 0);
	CHECKF(res.n.orphans == 0, "%s: %llu orphans", when, (unsigned long long)res.n.orphans);
	CHECKF(res.n.damaged == 0 && res.n.missing == 0, "%s: %llu damaged, %llu missing", when,
	       (unsigned long long)res.n.damaged, (unsigned long long)res.n.missing);
	CHECKF(problems == 0, "%s: fsck reported %zu problems", when, problems);
	CHECKF(res.n.heads > 1, "%s: %llu heads walked", when, (unsigned long long)res.n.heads);
}

/* The devices that wrote the versions of path in the retained heads:
 * bit 0 laptop, bit 1 desktop. */
static unsigned version_devices(struct fenv *e, const char *path, size_t *nver)
{
	struct history_view *v = NULL;
	struct history_version *ver = NULL;
	unsigned bits = 0;

	*nver = 0;
	CHECK_RC(history_view_open(&v, e->store, e->cfg, e->keys), 0);
	if (v)
		CHECK_RC(history_view_versions(v, path, &ver, nver), 0);
	for (size_t i = 0; ver && i < *nver; i++) {
		if (strcmp(ver[i].device_name, "laptop") == 0)
			bits |= 1;
		if (strcmp(ver[i].device_name, "desktop") == 0)
			bits |= 2;
	}
	free(ver);
	history_view_free(v);
	return bits;
}

/* The lead's case: A and B write three files each (a commit per file) over
 * one head; B's upload merges. A's heads must stay retained. */
static void test_three_each(void)
{
	struct fenv e;
	struct fmount a, b;
	struct upload_stats st;
	char name[32];

	if (fenv_init(&e) != 0)
		return;
	CHECK_RC(open_dev(&a, &e, "laptop"), 0);
	CHECK_RC(open_dev(&b, &e, "desktop"), 0);
	for (int i = 0; i < 3; i++) {
		snprintf(name, sizeof(name), "a%d", i);
		CHECK_RC(put(&a, name, "from a"), 0);
		CHECK_RC(fcommit(&a), 0);
	}
	for (int i = 0; i < 3; i++) {
		snprintf(name, sizeof(name), "b%d", i);
		CHECK_RC(put(&b, name, "from b"), 0);
		CHECK_RC(commit_run(b.commit), 0);
	}
	CHECK_RC(upload_flush(b.up, TEST_FLUSH_MS), 0);
	upload_stats(&st, b.up);
	CHECK_RC(st.merges, 1);
	fmount_close(&b);
	fmount_close(&a);
	check_all_heads(&e, "three each");
	fenv_free(&e);
}

static struct poll *poll_of(struct fenv *e, struct fmount *m)
{
	struct poll_deps d = fmount_poll_deps(e, m);
	return poll_new(&d);
}

/* Both devices rewrite one file in turns (each round: A's commit goes in,
 * B's merges; then A, whose base is stale, merges too), a poll refreshes A,
 * A commits on what it shows. */
static void test_churn(void)
{
	struct fenv e;
	struct fmount a, b;
	struct poll *pa;
	char text[64];
	size_t nver = 0;
	unsigned bits;

	if (fenv_init(&e) != 0)
		return;
	CHECK_RC(open_dev(&a, &e, "laptop"), 0);
	CHECK_RC(put(&a, "shared", "first"), 0);
	CHECK_RC(fcommit(&a), 0);
	CHECK_RC(open_dev(&b, &e, "desktop"), 0);
	for (int i = 0; i < 4; i++) {
		snprintf(text, sizeof(text), "a's round %d", i);
		CHECK_RC(put(&a, "shared", text), 0);
		CHECK_RC(put(&a, "a-own", text), 0);
		CHECK_RC(fcommit(&a), 0);
		snprintf(text, sizeof(text), "b's round %d", i);
		CHECK_RC(put(&b, "shared", text), 0);
		CHECK_RC(put(&b, "b-own", text), 0);
		CHECK_RC(fcommit(&b), 0);
	}
	check_all_heads(&e, "churn");
	pa = poll_of(&e, &a);
	CHECK(pa != NULL);
	CHECK_RC(pa ? poll_once(pa) : -1, 1);
	CHECK_RC(put(&a, "shared", "a after the refresh"), 0);
	CHECK_RC(fcommit(&a), 0);
	CHECK_RC(put(&a, "shared", "a again"), 0);
	CHECK_RC(fcommit(&a), 0);
	poll_free(pa);
	check_all_heads(&e, "after a refresh");
	bits = version_devices(&e, "shared", &nver);
	CHECKF(bits == 3, "versions of shared from devices %#x (%zu versions)", bits, nver);
	CHECKF(nver >= 6, "%zu versions of shared", nver);
	fmount_close(&b);
	fmount_close(&a);
	check_all_heads(&e, "churn, closed");
	fenv_free(&e);
}

/* B stores f, A builds on that head and writes g, B rewrites f within one
 * slot: f's first segment is dead for B's history (its head superseded) but
 * A's head reaches it. Grace 0 on both: any deletion would be at once. */
static void dead_setup(struct fenv *e, struct fmount *a, struct fmount *b)
{
	CHECK_RC(open_dev(b, e, "desktop"), 0);
	b->tree->head_slot = 1000000; /* both of B's commits in one slot */
	b->tree->head_tmpl.grace = 0;
	CHECK_RC(put(b, "f", "b's first"), 0);
	CHECK_RC(fcommit(b), 0);
	CHECK_RC(open_dev(a, e, "laptop"), 0);
	a->tree->head_tmpl.grace = 0;
	CHECK_RC(put(a, "g", "from a"), 0);
	CHECK_RC(fcommit(a), 0);
}

static void check_a_reads_f(struct fmount *a)
{
	struct inode *ino;
	char buf[64] = {0};

	CHECK_RC(fpath(a->tree, "f", &ino), 0);
	CHECK_RC(tree_open_file(a->tree, ino, false), 0);
	CHECK_RC(tree_read(a->tree, ino, buf, sizeof(buf) - 1, 0), 9);
	CHECK(strcmp(buf, "b's first") == 0);
	tree_release_file(a->tree, ino);
}

static void test_dead_after_merge(void)
{
	struct fenv e;
	struct fmount a, b;
	struct upload_stats st;

	if (fenv_init(&e) != 0)
		return;
	dead_setup(&e, &a, &b);
	CHECK_RC(put(&b, "f", "b's second"), 0);
	CHECK_RC(fcommit(&b), 0);
	upload_stats(&st, b.up);
	CHECK_RC(st.merges, 1);
	usleep(500 * 1000); /* the uploader's idle deletions (grace 0) */
	check_all_heads(&e, "dead after a merge");
	check_a_reads_f(&a); /* A's tree still shows its own head */
	fmount_close(&b);
	fmount_close(&a);
	fenv_free(&e);
}

/* Ends the process at point (SEALFS_FAULT=die=point) from now on. */
static void die_at(const char *point)
{
	char env[64];

	snprintf(env, sizeof(env), "die=%s", point);
	setenv("SEALFS_FAULT", env, 1);
	fault_setup();
}

/* Runs fn in a child process; its exit status (137: a die point). */
static int in_child(void (*fn)(struct fenv *), struct fenv *e)
{
	pid_t pid = fork();
	int status = 0;

	if (pid == 0) {
		fn(e);
		_exit(0); /* no die point was reached */
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* B stores f, then rewrites it in the same slot (the first head
 * superseded: its segment dead for B); the process ends as the upload of
 * the second commit begins, which waits in the journal. */
static void crash_b_commit(struct fenv *e)
{
	struct fmount b;

	if (open_dev(&b, e, "desktop") != 0)
		_exit(1);
	b.tree->head_slot = 1000000;
	b.tree->head_tmpl.grace = 0;
	if (put(&b, "f", "b's first") != 0 || fcommit(&b) != 0)
		_exit(1);
	die_at("round");
	if (put(&b, "f", "b's second") != 0 || commit_run(b.commit) != 0)
		_exit(1);
	sleep(10); /* the uploader's round ends the process */
	_exit(2);
}

/* B mounts again and merges; the process ends right after the merged head
 * and the pin went in, before its records are removed. */
static void crash_b_merge(struct fenv *e)
{
	struct fmount b;

	die_at("merged-finish");
	if (open_dev(&b, e, "desktop") != 0)
		_exit(1);
	(void)upload_flush(b.up, TEST_FLUSH_MS);
	_exit(2);
}

/* As test_dead_after_merge across crashes: B's second commit waits in its
 * journal while A builds on B's first head; B's next mount merges and ends
 * right after; its third mount finishes the round (records at or below the
 * stored seq): their garbage must not be deleted. */
static void test_dead_after_crash(void)
{
	struct fenv e;
	struct fmount a, b;

	if (!FAULT_INJECTION || fenv_init(&e) != 0)
		return;
	CHECK_RC(in_child(crash_b_commit, &e), 137);
	CHECK_RC(open_dev(&a, &e, "laptop"), 0);
	a.tree->head_tmpl.grace = 0;
	CHECK_RC(put(&a, "g", "from a"), 0);
	CHECK_RC(fcommit(&a), 0);
	CHECK_RC(in_child(crash_b_merge, &e), 137);
	CHECK_RC(open_dev(&b, &e, "desktop"), 0);
	CHECK_RC(upload_flush(b.up, TEST_FLUSH_MS), 0);
	usleep(500 * 1000);
	check_all_heads(&e, "dead after a crash");
	check_a_reads_f(&a);
	fmount_close(&b);
	fmount_close(&a);
	fenv_free(&e);
}

/* The crash window at the next mount: B's commit waits in its journal, A
 * writes, and CACHE/base-head is gone, so B's next mount merges two-way:
 * the merged head still continues the store's history. */
static void test_two_way_at_mount(void)
{
	struct fenv e;
	struct fmount a, b;
	char path[sizeof(b.cache_dir) + 32];
	size_t nver = 0;

	if (!FAULT_INJECTION || fenv_init(&e) != 0)
		return;
	CHECK_RC(in_child(crash_b_commit, &e), 137);
	CHECK_RC(open_dev(&a, &e, "laptop"), 0);
	CHECK_RC(put(&a, "f", "a's edit"), 0);
	CHECK_RC(fcommit(&a), 0);
	snprintf(path, sizeof(path), "%s/desktop/base-head", e.root);
	CHECK_RC(unlink(path), 0);
	CHECK_RC(open_dev(&b, &e, "desktop"), 0);
	CHECK_RC(upload_flush(b.up, TEST_FLUSH_MS), 0);
	fmount_close(&b);
	fmount_close(&a);
	check_all_heads(&e, "two-way at mount");
	CHECK_RC(version_devices(&e, "f", &nver), 3);
	fenv_free(&e);
}

static size_t retained_heads(struct fenv *e)
{
	struct history_view *v = NULL;
	size_t n = 0;

	CHECK_RC(history_view_open(&v, e->store, e->cfg, e->keys), 0);
	if (v)
		n = history_view_count(v);
	history_view_free(v);
	return n;
}

/* A merging device's rounds within one slot: each merged head supersedes
 * the one before (this mount's own), as commits do; a merge onto the other
 * device's head archives it. */
static void test_supersede_own_merges(void)
{
	struct fenv e;
	struct fmount a, b;
	struct upload_stats st;
	size_t after_first, objs;

	if (fenv_init(&e) != 0)
		return;
	CHECK_RC(open_dev(&a, &e, "laptop"), 0);
	CHECK_RC(open_dev(&b, &e, "desktop"), 0);
	a.tree->head_slot = b.tree->head_slot = 1000000;
	CHECK_RC(put(&a, "a0", "a"), 0);
	CHECK_RC(fcommit(&a), 0);
	CHECK_RC(put(&b, "b0", "b"), 0);
	CHECK_RC(fcommit(&b), 0);
	after_first = retained_heads(&e);
	objs = fstore_objects(&e);
	for (int i = 1; i < 4; i++) {
		char name[16];
		snprintf(name, sizeof(name), "b%d", i);
		CHECK_RC(put(&b, name, "b"), 0);
		CHECK_RC(fcommit(&b), 0);
	}
	upload_stats(&st, b.up);
	CHECK_RC(st.merges, 4);
	CHECKF(retained_heads(&e) == after_first, "%zu retained heads, %zu after the first merge",
	       retained_heads(&e), after_first);
	/* Each round stores its new file's segment, the merged root, the
	 * merged garbage list and the record's root (this device's tree shows
	 * it: left to thinning); the records' history objects go at once
	 * (never reached by a stored head, nor shown). */
	CHECKF(fstore_objects(&e) <= objs + 3 * 4,
	       "store objects: %zu after the first merge, %zu after 3 more", objs,
	       fstore_objects(&e));
	check_all_heads(&e, "own merges superseded");
	{ /* B's tree (its own view, diverged) still finds its root's object */
		char text[OBJECT_KEY_TEXT_BYTES];
		uint64_t size = 0;
		object_key_text(text, b.tree->root->ds->ref.store_key);
		CHECK_RC(e.store->ops->head(e.store, text, &size), 0);
	}
	CHECK_RC(put(&a, "a1", "a"), 0);
	CHECK_RC(fcommit(&a), 0); /* A merges onto B's head: archived */
	/* ... and thinned by A's slot (all in one), as A's commit would. */
	CHECKF(retained_heads(&e) >= 2 && retained_heads(&e) <= after_first + 1,
	       "%zu retained heads after A's merge", retained_heads(&e));
	fmount_close(&b);
	fmount_close(&a);
	check_all_heads(&e, "own merges superseded, closed");
	fenv_free(&e);
}

int main(void)
{
	test_three_each();
	test_churn();
	test_dead_after_merge();
	test_dead_after_crash();
	test_two_way_at_mount();
	test_supersede_own_merges();
	return check_done("devices_hist");
}
