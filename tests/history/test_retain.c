/* test_retain.c - retention slots and the dead entries of a format-2 vault
 * (docs/FORMAT.md "Deferred deletion", "Cache") through the real engine,
 * uploader and local store: a database's pattern (a 4 MiB file rewritten by
 * 200 committed 4 KiB writes at random offsets) leaves a store bounded by
 * the heads the uploader stored, not by the commits; an intermediate
 * commit's objects are never uploaded and leave the cache; heads in other
 * slots stay retained, reach everything (fsck --all-heads clean) and keep
 * their versions. */
#include "fs_test.h"

#include "fsck.h"
#include "hex.h"
#include "history.h"

#define MIB (1024u * 1024u)
#define FILE_BYTES (4u * MIB)
#define REWRITES 200

struct bytes_arg {
	uint64_t bytes;
	size_t n;
};

static int bytes_cb(void *arg, const char *key, uint64_t size)
{
	struct bytes_arg *a = arg;

	(void)key;
	a->bytes += size;
	a->n++;
	return 0;
}

static struct bytes_arg store_usage(struct fenv *e)
{
	struct bytes_arg a = {0, 0};

	e->store->ops->list(e->store, "o/", bytes_cb, &a);
	return a;
}

static bool store_has(struct fenv *e, const uint8_t *key)
{
	char text[OBJECT_KEY_TEXT_BYTES];
	uint64_t size;

	object_key_text(text, key);
	return e->store->ops->head(e->store, text, &size) == 0;
}

static void count_cb(void *arg, const struct fsck_problem *p)
{
	(*(size_t *)arg)++;
	fprintf(stderr, "fsck: kind %d key %s\n", (int)p->kind, p->key ? p->key : "");
}

/* fsck --all-heads: every retained head's tree is whole, and every object
 * is reached or listed (a listed object the uploader already deleted is
 * not damage). Returns the heads walked. */
static uint64_t check_all_heads(struct fenv *e)
{
	size_t problems = 0;
	struct fsck_opts o = {.all_heads = true, .report = count_cb, .arg = &problems};
	struct fsck_result res;
	char err[256];

	CHECK_RC(fsck_run(e->store, e->cfg, e->keys, &o, &res, err, sizeof(err)), 0);
	CHECKF(problems == 0 && res.n.damaged == 0 && res.n.missing == 0 && res.n.orphans == 0,
	       "fsck --all-heads: %zu problems, %llu orphans", problems,
	       (unsigned long long)res.n.orphans);
	return res.n.heads;
}

/* One 4 KiB write at off into an open file, then a commit as fsync makes. */
static void rewrite(struct fmount *m, struct inode *f, off_t off, unsigned char fill)
{
	unsigned char buf[4096];

	memset(buf, fill, sizeof(buf));
	CHECK_RC(tree_open_file(m->tree, f, false), 0);
	CHECK(tree_write(m->tree, f, buf, sizeof(buf), off) == (ssize_t)sizeof(buf));
	tree_release_file(m->tree, f);
	CHECK_RC(commit_run(m->commit), 0);
}

/* Before: every commit archived its predecessor, each pinning a 1 MiB
 * segment version, and the uploader stored every intermediate object:
 * about 200 MiB and 1,000 objects. Now the store holds the current tree,
 * the retained heads' and what each head the uploader stored reached. */
static void test_database_pattern(void)
{
	unsigned char *data = malloc(FILE_BYTES);
	struct upload_stats s0, s1;
	struct bytes_arg use;
	uint64_t heads, bound;
	struct inode *f;
	struct fenv e;
	struct fmount m;

	memset(data, 'd', FILE_BYTES);
	CHECK_RC(fenv_init(&e), 0);
	CHECK_RC(fmount_open(&m, &e, "c1"), 0);
	CHECK_RC(fwrite_file(m.tree, m.tree->root, "db", data, FILE_BYTES, &f), 0);
	CHECK_RC(fcommit(&m), 0);
	upload_stats(&s0, m.up);
	srand(7);
	for (int i = 0; i < REWRITES; i++)
		rewrite(&m, f, (off_t)(rand() % (FILE_BYTES / 4096)) * 4096, (unsigned char)i);
	CHECK_RC(upload_flush(m.up, TEST_FLUSH_MS), 0);
	upload_stats(&s1, m.up);
	fmount_close(&m);
	use = store_usage(&e);
	heads = s1.put_heads - s0.put_heads;
	/* Each stored head added at most the file's four segments; two more
	 * trees for a minute boundary crossed and the first one. */
	bound = (heads + 2) * (FILE_BYTES + 64 * 1024) + MIB;
	printf("database pattern: %d commits, %llu heads stored, %llu objects put, %llu dropped; "
	       "store %llu bytes in %zu objects\n",
	       REWRITES, (unsigned long long)heads,
	       (unsigned long long)(s1.put_objects - s0.put_objects),
	       (unsigned long long)(s1.dropped - s0.dropped), (unsigned long long)use.bytes, use.n);
	CHECKF(use.bytes <= bound, "store %llu bytes, bound %llu for %llu stored heads",
	       (unsigned long long)use.bytes, (unsigned long long)bound, (unsigned long long)heads);
	CHECKF(s1.put_objects - s0.put_objects <= heads * 12,
	       "%llu objects put for %llu stored heads",
	       (unsigned long long)(s1.put_objects - s0.put_objects), (unsigned long long)heads);
	CHECK(heads < REWRITES); /* else nothing was superseded: not this test */
	check_all_heads(&e);
	CHECK_RC(fmount_open(&m, &e, "c1"), 0); /* and it mounts again */
	fmount_close(&m);
	fenv_free(&e);
	free(data);
}

/* Commits in one slot written faster than a round: the intermediate
 * commit's segment is neither stored nor left in the cache, and the one
 * retained head (the newest) reaches the last content. */
static void test_superseded_not_uploaded(void)
{
	uint8_t mid[OBJECT_ID_BYTES], last[OBJECT_ID_BYTES];
	char text[OBJECT_KEY_TEXT_BYTES], path[CACHE_PATH_MAX];
	struct upload_stats s0, s1;
	struct inode *f;
	struct fenv e;
	struct fmount m;

	CHECK_RC(fenv_init(&e), 0);
	CHECK_RC(fmount_open(&m, &e, "c1"), 0);
	CHECK_RC(fwrite_file(m.tree, m.tree->root, "a", "zero", 4, &f), 0);
	CHECK_RC(fcommit(&m), 0);
	upload_stats(&s0, m.up);
	CHECK_RC(fwrite_file(m.tree, m.tree->root, "a", "one", 3, NULL), 0);
	CHECK_RC(commit_run(m.commit), 0);
	memcpy(mid, content_cold_key(&f->cold, 0), OBJECT_ID_BYTES);
	CHECK_RC(fwrite_file(m.tree, m.tree->root, "a", "two", 3, NULL), 0);
	CHECK_RC(commit_run(m.commit), 0);
	memcpy(last, content_cold_key(&f->cold, 0), OBJECT_ID_BYTES);
	CHECK_RC(upload_flush(m.up, TEST_FLUSH_MS), 0);
	upload_stats(&s1, m.up);
	object_key_text(text, mid);
	cache_path(m.cache, text, path);
	if (s1.put_heads - s0.put_heads == 1) { /* both commits in one round */
		CHECKF(!store_has(&e, mid), "the superseded commit's segment was uploaded");
		CHECK(access(path, F_OK) != 0); /* and left the cache */
		CHECK(s1.dropped > s0.dropped);
		/* segment and root of the last commit, its garbage list */
		CHECKF(s1.put_objects - s0.put_objects <= 3, "%llu objects put",
		       (unsigned long long)(s1.put_objects - s0.put_objects));
	} else {
		printf("superseded: a round ran between the commits; only the invariant checked\n");
	}
	CHECK(store_has(&e, last));
	fmount_close(&m);
	check_all_heads(&e);
	fenv_free(&e);
}

/* Slots of one second here (the tree's head_slot, as a test sets it):
 * commits in one slot keep only the newest, a commit in the next slot
 * archives it; the versions of each slot stay in the store. */
static void test_slots(void)
{
	uint8_t v1[OBJECT_ID_BYTES], v2[OBJECT_ID_BYTES], v3[OBJECT_ID_BYTES];
	struct inode *f;
	struct fenv e;
	struct fmount m;
	struct timespec ts;

	CHECK_RC(fenv_init(&e), 0);
	CHECK_RC(fmount_open(&m, &e, "c1"), 0);
	m.tree->head_slot = 1;
	/* Start right after a second turns, so the two writes share a slot. */
	clock_gettime(CLOCK_REALTIME, &ts);
	usleep((useconds_t)((1000000000L - ts.tv_nsec) / 1000 + 20000));
	CHECK_RC(fwrite_file(m.tree, m.tree->root, "a", "v1", 2, &f), 0);
	CHECK_RC(fcommit(&m), 0);
	memcpy(v1, content_cold_key(&f->cold, 0), OBJECT_ID_BYTES);
	CHECK_RC(fwrite_file(m.tree, m.tree->root, "a", "v2", 2, NULL), 0);
	CHECK_RC(fcommit(&m), 0);
	memcpy(v2, content_cold_key(&f->cold, 0), OBJECT_ID_BYTES);
	usleep(1100000);
	CHECK_RC(fwrite_file(m.tree, m.tree->root, "a", "v3", 2, NULL), 0);
	CHECK_RC(fcommit(&m), 0);
	memcpy(v3, content_cold_key(&f->cold, 0), OBJECT_ID_BYTES);
	fmount_close(&m);
	/* Retained: the current head (v3), the newest of the first slot (v2)
	 * and the vault's first head (opened, never superseded). v1 was
	 * stored (fcommit), so it waits for the grace, listed as garbage. */
	CHECK(store_has(&e, v2) && store_has(&e, v3) && store_has(&e, v1));
	CHECKF(check_all_heads(&e) == 3, "retained heads");
	fenv_free(&e);
}

int main(void)
{
	test_superseded_not_uploaded();
	test_slots();
	test_database_pattern();
	return check_done("retain");
}
