/* test_thin_merged.c - a merged head thins the history it continues, as an
 * ordinary commit does (fs/vault/merge_thin.c; docs/FORMAT.md "Head
 * records", "Deferred deletion"): device A keeps every commit a retained
 * head (slot 0) and stores six within a minute; device B, on the default
 * one-minute slot, merges onto A's head: its merged head keeps the newest
 * head of that minute, not all six, and `fsck --all-heads` finds every
 * object reached or listed (the dropped heads' objects are carried into the
 * merged head's garbage list: their grace has not passed), nothing missing.
 * The two devices over one local store, through the engine a mount opens. */
#include "fs_test.h"
#include "fsck.h"
#include "history_view.h"

#include <time.h>

static int put(struct fmount *m, const char *name, const char *text)
{
	return fwrite_file(m->tree, m->tree->root, name, text, strlen(text), NULL);
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

static void report_cb(void *arg, const struct fsck_problem *p)
{
	(*(size_t *)arg)++;
	fprintf(stderr, "fsck: kind %d key %s\n", (int)p->kind, p->key ? p->key : "");
}

static void check_all_heads(struct fenv *e)
{
	size_t problems = 0;
	struct fsck_opts o = {.all_heads = true, .report = report_cb, .arg = &problems};
	struct fsck_result res;
	char err[256];

	CHECK_RC(fsck_run(e->store, e->cfg, e->keys, &o, &res, err, sizeof(err)), 0);
	CHECKF(res.n.orphans == 0 && res.n.damaged == 0 && res.n.missing == 0,
	       "%llu orphans, %llu damaged, %llu missing", (unsigned long long)res.n.orphans,
	       (unsigned long long)res.n.damaged, (unsigned long long)res.n.missing);
	CHECK_RC(problems, 0);
}

int main(void)
{
	struct fenv e;
	struct fmount a, b;
	struct upload_stats st;
	size_t before, after, most;
	char name[16];
	time_t start = time(NULL);

	if (fenv_init(&e) != 0)
		return 1;
	CHECK_RC(fmount_open_device(&a, &e, "laptop", "laptop"), 0);
	CHECK_RC(fmount_open_device(&b, &e, "desktop", "desktop"), 0);
	a.tree->head_slot = 0; /* every commit of A a retained head */
	for (int i = 0; i < 6; i++) {
		snprintf(name, sizeof(name), "a%d", i);
		CHECK_RC(put(&a, name, "a"), 0);
		CHECK_RC(fcommit(&a), 0);
	}
	before = retained_heads(&e);
	CHECKF(before >= 6, "%zu retained heads before the merge", before);
	CHECK_RC(put(&b, "b0", "b"), 0);
	CHECK_RC(fcommit(&b), 0);
	upload_stats(&st, b.up);
	CHECK_RC(st.merges, 1);
	/* Three heads when the run stays within one minute (what it keeps
	 * then), and one more for each minute the run crossed: the newest head
	 * of each minute is kept. */
	after = retained_heads(&e);
	most = 3 + (size_t)(time(NULL) / 60 - start / 60);
	CHECKF(after <= most, "%zu retained heads after the merge (%zu before, at most %zu)", after,
	       before, most);
	fprintf(stderr, "retained heads: %zu before the merge, %zu after\n", before, after);
	check_all_heads(&e);
	fmount_close(&b);
	fmount_close(&a);
	CHECK_RC(fmount_open_device(&a, &e, "third", "third"), 0);
	CHECK_RC(fpath(a.tree, "a5", &(struct inode *){NULL}), 0);
	CHECK_RC(fpath(a.tree, "b0", &(struct inode *){NULL}), 0);
	fmount_close(&a);
	fenv_free(&e);
	return check_done("thin_merged");
}
