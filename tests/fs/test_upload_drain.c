/* test_upload_drain.c - the unmount's drain (upload_drain) gives up only
 * after the store has taken nothing new for its give-up time, not after
 * that long without a whole round that succeeded: a store that keeps taking
 * objects, though each round still fails at its end, is drained. The store
 * is a tmpfs (a real file system) too small for the commit, grown by 1 MiB
 * every GROW_MS by a second thread, so every retry stores a few more
 * segments and fails on the rest, for longer than the give-up time (needs
 * root to mount the tmpfs: skipped, 77, otherwise). And a store that takes
 * the same objects again at every retry but always fails the head is left
 * after the give-up time (no root needed). And a store that takes one new
 * object per round and refuses the objects it took before (a nearly full
 * store, where parallel puts fail in varying order) is drained: each round
 * stores fewer objects than the first, but each stores a new one. */
#include "fs_test.h"

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "head.h"

#define FILE_MIB 10u	  /* the commit: 10 segments of 1 MiB */
#define GIVE_UP_MS 2500u  /* shorter than the growth from 2 MiB to the room needed */
#define GROW_MS 400u	  /* a retry every second finds 2 MiB or more of new room */
#define DRAIN_MAX_S 20	  /* the give-up, retries and a loaded machine: far less */
#define STORE_MAX_MIB 16u /* room for everything, with margin */

static unsigned char data[FILE_MIB << 20];

struct grower {
	const char *dir;
	int rc;
};

static void *grow(void *arg)
{
	struct grower *g = arg;
	struct timespec pause = {0, (long)GROW_MS * 1000000L};
	char opts[64];

	for (unsigned mib = 3; mib <= STORE_MAX_MIB && g->rc == 0; mib++) {
		nanosleep(&pause, NULL);
		snprintf(opts, sizeof(opts), "size=%um,mode=0700", mib);
		if (mount("tmpfs", g->dir, "tmpfs", MS_REMOUNT, opts) != 0)
			g->rc = -errno;
	}
	return NULL;
}

struct drainer {
	struct upload *up;
	size_t left;
	atomic_bool done;
};

static void *drain(void *arg)
{
	struct drainer *d = arg;

	d->left = upload_drain(d->up, GIVE_UP_MS);
	atomic_store(&d->done, true);
	return NULL;
}

/* The other side: a store that takes every object again at each retry but
 * always fails the head (STORE/head.lock, the local store's put_if lock, is
 * a directory) is left after the give-up time: re-putting objects a failed
 * round already put is no progress. */
static void test_drain_gives_up_on_a_failing_head(void)
{
	struct drainer d = {0};
	struct fenv e;
	struct fmount m;
	struct inode *f;
	char lock[sizeof(e.store_dir) + 16];
	pthread_t th;
	int r;

	CHECK_RC(fenv_init(&e), 0);
	randombytes_buf(data, 3u << 20);
	CHECK_RC(fmount_open(&m, &e, "c1"), 0);
	snprintf(lock, sizeof(lock), "%s/" HEAD_STORE_KEY ".lock", e.store_dir);
	unlink(lock);
	CHECK_RC(mkdir(lock, 0700), 0);
	CHECK_RC(fwrite_file(m.tree, m.tree->root, "f", data, 3u << 20, &f), 0);
	CHECK_RC(commit_run(m.commit), 0);
	r = upload_flush(m.up, TEST_FLUSH_MS);
	CHECK(r < 0 && r != -ETIMEDOUT);
	d.up = m.up;
	CHECK_RC(pthread_create(&th, NULL, drain, &d), 0);
	for (int i = 0; i < DRAIN_MAX_S * 10 && !atomic_load(&d.done); i++)
		nanosleep(&(struct timespec){0, 100000000L}, NULL);
	CHECKF(atomic_load(&d.done), "the drain still retries after %d s: the head always fails",
	       DRAIN_MAX_S);
	if (!atomic_load(&d.done))
		upload_halt(m.up); /* ends the drain, so the test can clean up */
	pthread_join(th, NULL);
	CHECKF(d.left == 1, "%zu commits left, want 1", d.left);
	fmount_close(&m);
	rmdir(lock);
	fenv_free(&e);
}

/* A nearly full store: while it has not taken every object it was offered,
 * it refuses every put of an object it already took, and takes one new
 * object per ONE_NEW_MS (about one per drain retry, a second apart) and
 * refuses the others. So each round until the last takes one object, no
 * more than the first, though each takes a new one. */
#define ONE_NEW_MS 700
#define ONE_NEW_MIB 6u /* 6 segments and more: more rounds than GIVE_UP_MS lasts */
#define ONE_NEW_MAX 32

static struct one_new {
	const struct backend_ops *real;
	struct backend_ops ops;
	pthread_mutex_t mu;
	char key[ONE_NEW_MAX][OBJECT_KEY_TEXT_BYTES]; /* offered, in order */
	bool took[ONE_NEW_MAX];
	size_t nkey, ntook;
	struct timespec last;
} one_new = {.mu = PTHREAD_MUTEX_INITIALIZER};

/* Puts key through the real store (put: bytes, len; else put_file: path)
 * when it may be put now, remembered as taken once the store took it (a
 * local store's put_file of a key without a cache copy fails and is called
 * again once the copy is written); else -ENOSPC. */
static int one_new_do(struct backend *b, const char *key, const void *bytes, size_t len,
		      const char *path)
{
	struct timespec now;
	size_t i;
	int r = -ENOSPC;

	clock_gettime(CLOCK_MONOTONIC, &now);
	pthread_mutex_lock(&one_new.mu);
	for (i = 0; i < one_new.nkey && strcmp(one_new.key[i], key) != 0; i++)
		;
	if (i == one_new.nkey && i < ONE_NEW_MAX)
		snprintf(one_new.key[one_new.nkey++], OBJECT_KEY_TEXT_BYTES, "%s", key);
	if (i == ONE_NEW_MAX)
		r = -EFBIG; /* more objects than the test expects */
	else if (one_new.took[i] ? one_new.ntook == one_new.nkey
				 : one_new.ntook == 0 ||
				       (now.tv_sec - one_new.last.tv_sec) * 1000 +
					       (now.tv_nsec - one_new.last.tv_nsec) / 1000000 >=
					   ONE_NEW_MS)
		r = path ? one_new.real->put_file(b, key, path)
			 : one_new.real->put(b, key, bytes, len);
	if (r == 0 && !one_new.took[i]) {
		one_new.took[i] = true;
		one_new.ntook++;
		one_new.last = now;
	}
	pthread_mutex_unlock(&one_new.mu);
	return r;
}

static int one_new_put(struct backend *b, const char *key, const void *d, size_t len)
{
	return one_new_do(b, key, d, len, NULL);
}

static int one_new_put_file(struct backend *b, const char *key, const char *path)
{
	return one_new_do(b, key, NULL, 0, path);
}

static void test_drain_of_a_store_taking_one_new_object_per_round(void)
{
	struct drainer d = {0};
	struct fenv e;
	struct fmount m;
	struct inode *f;
	pthread_t th;

	CHECK_RC(fenv_init(&e), 0);
	randombytes_buf(data, ONE_NEW_MIB << 20);
	CHECK_RC(fmount_open(&m, &e, "c1"), 0);
	CHECK_RC(fwrite_file(m.tree, m.tree->root, "f", data, ONE_NEW_MIB << 20, &f), 0);
	one_new.real = e.store->ops;
	one_new.ops = *e.store->ops;
	one_new.ops.put = one_new_put;
	one_new.ops.put_file = one_new_put_file;
	e.store->ops = &one_new.ops;
	CHECK_RC(commit_run(m.commit), 0);
	d.up = m.up;
	CHECK_RC(pthread_create(&th, NULL, drain, &d), 0);
	for (int i = 0; i < DRAIN_MAX_S * 10 && !atomic_load(&d.done); i++)
		nanosleep(&(struct timespec){0, 100000000L}, NULL);
	if (!atomic_load(&d.done))
		upload_halt(m.up);
	pthread_join(th, NULL);
	CHECKF(d.left == 0,
	       "the drain gave up with %zu commits left after the store took %zu objects", d.left,
	       one_new.ntook);
	fmount_close(&m);
	e.store->ops = one_new.real;
	fenv_free(&e);
}

static void test_drain_of_a_slow_store(void)
{
	static unsigned char back[sizeof(data)];
	struct grower g = {0};
	struct upload_stats st;
	struct fenv e;
	struct fmount m, m2;
	struct inode *f = NULL;
	pthread_t th;
	size_t left;
	int r = fenv_init_tmpfs_or_skip(&e, "size=2m,mode=0700");

	CHECK_RC(r, 0);
	randombytes_buf(data, sizeof(data));
	CHECK_RC(fmount_open(&m, &e, "c1"), 0);
	CHECK_RC(fwrite_file(m.tree, m.tree->root, "big", data, sizeof(data), &f), 0);
	CHECK_RC(commit_run(m.commit), 0);
	/* The store (2 MiB) cannot take 10 MiB: the round fails. */
	r = upload_flush(m.up, TEST_FLUSH_MS);
	CHECK(r < 0 && r != -ETIMEDOUT);
	upload_stats(&st, m.up);
	CHECK(st.failing);
	g.dir = e.store_dir;
	CHECK_RC(pthread_create(&th, NULL, grow, &g), 0);
	left = upload_drain(m.up, GIVE_UP_MS);
	pthread_join(th, NULL);
	CHECK_RC(g.rc, 0);
	CHECKF(left == 0, "the drain gave up with %zu commits left while the store took objects",
	       left);
	CHECK_RC(fjournal_records(&m), 0);
	fmount_close(&m);
	/* Everything is in the store: a fresh cache reads the file back. */
	CHECK_RC(fmount_open(&m2, &e, "c2"), 0);
	r = m2.tree ? fpath(m2.tree, "big", &f) : -1;
	CHECK_RC(r, 0);
	if (r == 0) {
		CHECK_RC(tree_read(m2.tree, f, back, sizeof(back), 0), (ssize_t)sizeof(back));
		CHECK(memcmp(back, data, sizeof(data)) == 0);
	}
	fmount_close(&m2);
	fenv_free(&e);
}

int main(void)
{
	test_drain_gives_up_on_a_failing_head();
	test_drain_of_a_store_taking_one_new_object_per_round();
	test_drain_of_a_slow_store(); /* last: exits 77 without root */
	return check_done("test_upload_drain");
}
