/* test_lost_merge.c - the objects of a merge attempt whose head never went
 * in (fs/cache/upload_attempt.c, fs/vault/lost_merge.c): device B's upload
 * finds device A's head, merges, stores the merge's objects and ends before
 * its head goes in (SEALFS_FAULT die=merge-objs, a fault-injection build;
 * skipped otherwise). Those objects are orphans then; CACHE/merge-attempt
 * names them, and B's next mount deletes them before it merges again:
 * `fsck --all-heads` then finds no orphan and nothing missing, and a third
 * device sees both devices' files. Two caches over one local store, through
 * the engine a mount opens. */
#include <sys/wait.h>

#include "fault.h"
#include "fs_test.h"
#include "fsck.h"

static int put(struct fmount *m, const char *name, const char *text)
{
	return fwrite_file(m->tree, m->tree->root, name, text, strlen(text), NULL);
}

static void report_cb(void *arg, const struct fsck_problem *p)
{
	(void)arg;
	(void)p;
}

/* fsck --all-heads: the orphans, after checking nothing is missing. */
static uint64_t orphans(struct fenv *e)
{
	struct fsck_opts o = {.all_heads = true, .report = report_cb};
	struct fsck_result res;
	char err[256];

	memset(&res, 0, sizeof(res));
	CHECK_RC(fsck_run(e->store, e->cfg, e->keys, &o, &res, err, sizeof(err)), 0);
	CHECKF(res.n.damaged == 0 && res.n.missing == 0, "%llu damaged, %llu missing",
	       (unsigned long long)res.n.damaged, (unsigned long long)res.n.missing);
	return res.n.orphans;
}

/* In a child: A stores a head, B's upload merges onto it and the process
 * ends once the merge's objects are stored, before its head. */
static void crash_merge(struct fenv *e)
{
	struct fmount a, b;

	setenv("SEALFS_FAULT", "die=merge-objs", 1);
	fault_setup();
	if (fmount_open_device(&b, e, "desktop", "desktop") != 0 ||
	    fmount_open_device(&a, e, "laptop", "laptop") != 0)
		_exit(1);
	if (put(&a, "a-file", "from a") != 0 || fcommit(&a) != 0)
		_exit(1);
	if (put(&b, "b-file", "from b") != 0 || commit_run(b.commit) != 0)
		_exit(1);
	(void)upload_flush(b.up, TEST_FLUSH_MS);
	_exit(2); /* the die point was not reached */
}

int main(void)
{
	struct fenv e;
	struct fmount b, c;
	struct inode *ino;
	char record[400];
	pid_t pid;
	int status = 0;

	if (!FAULT_INJECTION) {
		fprintf(stderr, "lost_merge: needs -Dfault_injection=true: skipped\n");
		return 77;
	}
	if (fenv_init(&e) != 0)
		return 1;
	pid = fork();
	if (pid == 0)
		crash_merge(&e);
	CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
	CHECK_RC(WIFEXITED(status) ? WEXITSTATUS(status) : -1, 137);
	snprintf(record, sizeof(record), "%s/desktop/" UPLOAD_ATTEMPT_FILE, e.root);
	CHECKF(access(record, F_OK) == 0, "no %s", record);
	CHECKF(orphans(&e) > 0, "the lost merge left no object behind");
	CHECK_RC(fmount_open_device(&b, &e, "desktop", "desktop"), 0); /* deletes them */
	CHECKF(access(record, F_OK) != 0, "%s is still there", record);
	CHECK_RC(upload_flush(b.up, TEST_FLUSH_MS), 0); /* merges again */
	fmount_close(&b);
	CHECK_RC(orphans(&e), 0);
	CHECK_RC(fmount_open_device(&c, &e, "third", "third"), 0);
	CHECK_RC(fpath(c.tree, "a-file", &ino), 0);
	CHECK_RC(fpath(c.tree, "b-file", &ino), 0);
	fmount_close(&c);
	fenv_free(&e);
	return check_done("lost_merge");
}
