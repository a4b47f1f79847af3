/* test_cache_pool.c - the pool of empty cache files made in advance for new
 * objects (fs/cache/cache_pool.c) and cache_new_object over it: takes never
 * hand out a key twice, the filler refills in the background, the list file
 * names every ready file, cache_close removes what was not taken, and what
 * a process that ended without cache_close left (a crash) is removed by the
 * next cache_open, never a file someone wrote to. Real files, real threads. */
#include "content_test.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/wait.h>

#include "cache_pool.h"

/* ---- the bare pool, over files in a directory ---- */

struct pdir {
	char dir[400];
	int made, dropped;
};

static void pdir_path(const struct pdir *d, const uint8_t key[16], char out[512])
{
	char hex[33];

	sodium_bin2hex(hex, sizeof(hex), key, 16);
	snprintf(out, 512, "%s/%s", d->dir, hex);
}

static int pdir_make(void *arg, const uint8_t key[16])
{
	struct pdir *d = arg;
	char path[512];
	int fd;

	pdir_path(d, key, path);
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd >= 0)
		__atomic_add_fetch(&d->made, 1, __ATOMIC_SEQ_CST);
	return fd < 0 ? -errno : fd;
}

static void pdir_drop(void *arg, const uint8_t key[16])
{
	struct pdir *d = arg;
	char path[512];
	struct stat st;

	pdir_path(d, key, path);
	if (stat(path, &st) == 0 && st.st_size == 0 && unlink(path) == 0)
		d->dropped++;
}

static int count_files(const char *dir, bool empty_only)
{
	struct dirent *de;
	struct stat st;
	char path[1024];
	DIR *d = opendir(dir);
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)) != NULL) {
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (de->d_name[0] != '.' && stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
		    (!empty_only || st.st_size == 0))
			n++;
	}
	closedir(d);
	return n;
}

/* Takes until a take succeeds (the filler runs), at most 10 s. */
static int take_wait(struct cache_pool *p, uint8_t key[16])
{
	for (int i = 0; i < 10000; i++) {
		int fd = cache_pool_take(p, key);

		if (fd != -EAGAIN)
			return fd;
		usleep(1000);
	}
	return -EAGAIN;
}

static void test_pool_fills_and_hands_out_distinct_files(struct tenv *env)
{
	struct pdir d = {0};
	struct cache_pool_ops ops = {.make = pdir_make, .drop = pdir_drop, .arg = &d};
	uint8_t keys[3 * CACHE_POOL_CAP][16];
	struct cache_pool *p = NULL;
	char list[512], path[512];
	struct stat st;
	int lfd, fd;

	snprintf(d.dir, sizeof(d.dir), "%s/pool1", env->root);
	CHECK(mkdir(d.dir, 0700) == 0);
	snprintf(list, sizeof(list), "%s/list", env->root);
	lfd = open(list, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	CHECK_RC(cache_pool_new(&p, &ops, lfd), 0);
	CHECK(d.made == 0); /* no thread, no file before the first take */
	/* More takes than the pool holds: the filler refills behind them. */
	for (size_t i = 0; i < 3 * CACHE_POOL_CAP; i++) {
		fd = take_wait(p, keys[i]);
		CHECKF(fd >= 0, "take %zu: %d", i, fd);
		if (fd < 0)
			break;
		CHECK(fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 0);
		pdir_path(&d, keys[i], path);
		CHECK(access(path, F_OK) == 0);
		CHECK(write(fd, "x", 1) == 1); /* the taker's: never dropped */
		close(fd);
		for (size_t j = 0; j < i; j++)
			CHECKF(memcmp(keys[i], keys[j], 16) != 0, "key %zu handed out twice", i);
	}
	/* The filler keeps more than CACHE_POOL_LOW ready; the list names a
	 * whole pool (the ready files and the batch being made). */
	for (int i = 0; i < 5000 && count_files(d.dir, true) <= CACHE_POOL_LOW; i++)
		usleep(1000);
	CHECK(count_files(d.dir, true) > CACHE_POOL_LOW);
	CHECK(stat(list, &st) == 0 && st.st_size == CACHE_POOL_CAP * 16);
	cache_pool_free(p);
	/* Freed: every file not taken removed, the taken ones kept, the list empty. */
	CHECK(count_files(d.dir, true) == 0);
	CHECK(count_files(d.dir, false) == 3 * CACHE_POOL_CAP);
	CHECKF(d.dropped == d.made - 3 * CACHE_POOL_CAP, "made %d dropped %d", d.made, d.dropped);
	CHECK(stat(list, &st) == 0 && st.st_size == 0);
	test_rm_rf(d.dir);
	unlink(list);
}

static void test_pool_drops_what_an_earlier_list_names(struct tenv *env)
{
	struct pdir d = {0};
	struct cache_pool_ops ops = {.make = pdir_make, .drop = pdir_drop, .arg = &d};
	uint8_t keys[3][16];
	struct cache_pool *p = NULL;
	char list[512], path[512];
	struct stat st;
	int lfd, fd;

	snprintf(d.dir, sizeof(d.dir), "%s/pool2", env->root);
	CHECK(mkdir(d.dir, 0700) == 0);
	/* Two empty files and one written to, all three listed. */
	for (int i = 0; i < 3; i++) {
		randombytes_buf(keys[i], 16);
		fd = pdir_make(&d, keys[i]);
		CHECK(fd >= 0);
		if (i == 2)
			CHECK(write(fd, "data", 4) == 4);
		close(fd);
	}
	snprintf(list, sizeof(list), "%s/list2", env->root);
	lfd = open(list, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	CHECK(write(lfd, keys, sizeof(keys)) == (ssize_t)sizeof(keys));
	CHECK_RC(cache_pool_new(&p, &ops, lfd), 0);
	CHECK(d.dropped == 2);
	for (int i = 0; i < 3; i++) {
		pdir_path(&d, keys[i], path);
		CHECKF((access(path, F_OK) == 0) == (i == 2), "listed file %d", i);
	}
	CHECK(stat(list, &st) == 0 && st.st_size == 0);
	cache_pool_free(p);
	test_rm_rf(d.dir);
	unlink(list);
}

/* ---- through the cache ---- */

static int count_objects(const char *cache_dir, bool empty_only)
{
	char o[512], sub[800];
	struct dirent *de;
	DIR *d;
	int n = 0;

	snprintf(o, sizeof(o), "%s/o", cache_dir);
	d = opendir(o);
	if (!d)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", o, de->d_name);
		n += count_files(sub, empty_only);
	}
	closedir(d);
	return n;
}

static void test_new_objects_and_close(struct tenv *env)
{
	uint8_t key[16], first[16];
	char path[CACHE_PATH_MAX], text[OBJECT_KEY_TEXT_BYTES], want[CACHE_PATH_MAX];
	int fd;

	CHECK_RC(tenv_fresh_cache(env), 0);
	for (int i = 0; i < 200; i++) {
		fd = cache_new_object(env->cache, key, path);
		CHECKF(fd >= 0, "cache_new_object %d: %d", i, fd);
		if (fd < 0)
			break;
		object_key_text(text, key);
		cache_path(env->cache, text, want);
		CHECK(strcmp(path, want) == 0);
		CHECK(i == 0 || memcmp(key, first, 16) != 0);
		if (i == 0)
			memcpy(first, key, 16);
		CHECK(write(fd, "sealed", 6) == 6);
		close(fd);
		if (i % 50 == 49)
			usleep(20000); /* let the filler run */
	}
	cache_close(env->cache);
	env->cache = NULL;
	/* Every file handed out is there with its bytes; no empty file is left. */
	CHECK(count_objects(env->cache_dir, false) == 200);
	CHECK(count_objects(env->cache_dir, true) == 0);
	CHECK_RC(tenv_fresh_cache(env), 0);
}

/* A process that ends without cache_close (killed) leaves the pool's files;
 * the next cache_open removes every empty one and keeps the written. */
static void test_crash_leftovers_removed_at_open(struct tenv *env)
{
	char err[256], path[CACHE_PATH_MAX];
	struct cache *c = NULL;
	uint8_t key[16];
	pid_t pid;
	int status = -1;

	CHECK_RC(tenv_fresh_cache(env), 0);
	cache_close(env->cache);
	env->cache = NULL;
	pid = fork();
	if (pid == 0) {
		int fd;

		if (cache_open(&c, env->cache_dir, env->store, err, sizeof(err)) != 0)
			_exit(2);
		for (int i = 0; i < 3; i++) {
			fd = cache_new_object(c, key, path);
			if (fd < 0 || write(fd, "sealed", 6) != 6)
				_exit(3);
			/* The filler fills the pool (up to 10 s). */
			for (int k = 0;
			     k < 1000 && count_objects(env->cache_dir, true) < CACHE_POOL_CAP - i;
			     k++)
				usleep(10000);
		}
		_exit(0); /* no cache_close: as if killed */
	}
	CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
	CHECKF(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d", status);
	CHECKF(count_objects(env->cache_dir, true) >= CACHE_POOL_CAP - 3, "%d empty left",
	       count_objects(env->cache_dir, true));
	CHECK_RC(cache_open(&c, env->cache_dir, env->store, err, sizeof(err)), 0);
	CHECK(count_objects(env->cache_dir, true) == 0);
	CHECK(count_objects(env->cache_dir, false) == 3);
	cache_close(c);
	CHECK_RC(tenv_fresh_cache(env), 0);
}

int main(void)
{
	struct tenv env;

	if (tenv_open(&env, SUITE_XCHACHA20POLY1305) < 0) {
		fprintf(stderr, "FAIL tenv_open\n");
		return 1;
	}
	test_pool_fills_and_hands_out_distinct_files(&env);
	test_pool_drops_what_an_earlier_list_names(&env);
	test_new_objects_and_close(&env);
	test_crash_leftovers_removed_at_open(&env);
	tenv_close(&env);
	return check_done("test_cache_pool");
}
