/* test_cache_lru.c - --cache-size: the object index (accounting, LRU order,
 * pins, a few hundred thousand keys), eviction of real cache files, the
 * rescan at open, the size of dirty segments written in place, and writers
 * waiting for room (ENOSPC after the bound, woken by an unpin). */
#include "content_test.h"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>

#include "cache_lru.h"
#include "fdio.h"

#define BLK CACHE_LRU_BLOCK_BYTES

static void key_of(uint8_t key[CACHE_LRU_KEY_BYTES], unsigned i)
{
	memset(key, 0, CACHE_LRU_KEY_BYTES);
	key[0] = (uint8_t)(i * 37);
	memcpy(key + 4, &i, sizeof(i));
}

static struct cache_lru *lru_with_limit(uint64_t bytes, unsigned wait_ms)
{
	struct cache_lru_limit lim = {.bytes = bytes, .wait_ms = wait_ms};
	struct cache_lru *l = NULL;

	if (cache_lru_new(&l) != 0)
		return NULL;
	cache_lru_set_limit(l, &lim);
	return l;
}

static void test_accounting_rounds_and_follows_changes(void)
{
	struct cache_lru *l = lru_with_limit(0, 0);
	struct cache_lru_usage u;
	uint8_t k[3][CACHE_LRU_KEY_BYTES];

	if (!l) {
		CHECK(0);
		return;
	}
	for (unsigned i = 0; i < 3; i++)
		key_of(k[i], i);
	CHECK_RC(cache_lru_put(l, k[0], 1, false), 0);
	CHECK_RC(cache_lru_put(l, k[1], BLK, true), 0);
	CHECK_RC(cache_lru_put(l, k[2], BLK + 1, false), 0);
	cache_lru_usage(l, &u);
	CHECK_RC(u.bytes, 4 * BLK);
	CHECK_RC(u.pinned_bytes, BLK);
	CHECK_RC(u.objects, 3);
	CHECK_RC(u.pinned, 1);
	cache_lru_resize(l, k[1], 3 * BLK);
	cache_lru_put(l, k[0], 0, false); /* the same key again: updated, not added */
	cache_lru_usage(l, &u);
	CHECK_RC(u.bytes, 5 * BLK);
	CHECK_RC(u.pinned_bytes, 3 * BLK);
	CHECK_RC(u.objects, 3);
	cache_lru_remove(l, k[1]);
	cache_lru_remove(l, k[1]);
	cache_lru_usage(l, &u);
	CHECK_RC(u.bytes, 2 * BLK);
	CHECK_RC(u.pinned_bytes, 0);
	CHECK_RC(u.pinned, 0);
	CHECK(!cache_lru_lookup(l, k[1], NULL));
	cache_lru_free(l);
}

static void test_evicts_least_recently_used_first(void)
{
	struct cache_lru *l = lru_with_limit(10 * BLK, 0);
	uint8_t k[12][CACHE_LRU_KEY_BYTES], v[CACHE_LRU_KEY_BYTES];
	struct cache_lru_usage u;

	if (!l) {
		CHECK(0);
		return;
	}
	for (unsigned i = 0; i < 12; i++) {
		key_of(k[i], i);
		CHECK_RC(cache_lru_put(l, k[i], BLK, false), 0);
	}
	cache_lru_touch(l, k[0]); /* k0 is now the most recent */
	/* 12 blocks > 10: down to the low-water mark, 9 blocks: k1, k2, k3 go. */
	for (unsigned i = 1; i <= 3; i++) {
		CHECK(cache_lru_victim(l, v));
		CHECK(memcmp(v, k[i], sizeof(v)) == 0);
		CHECK(!cache_lru_lookup(l, k[i], NULL));
	}
	CHECK(!cache_lru_victim(l, v));
	cache_lru_usage(l, &u);
	CHECK_RC(u.bytes, 9 * BLK);
	CHECK(cache_lru_lookup(l, k[0], NULL));
	/* Under the limit again: one more object does not start eviction. */
	CHECK_RC(cache_lru_put(l, k[1], BLK, false), 0);
	CHECK(!cache_lru_victim(l, v));
	cache_lru_free(l);
}

static void test_pinned_is_never_evicted(void)
{
	struct cache_lru *l = lru_with_limit(2 * BLK, 0);
	uint8_t k[6][CACHE_LRU_KEY_BYTES], v[CACHE_LRU_KEY_BYTES];
	bool pinned = false;

	if (!l) {
		CHECK(0);
		return;
	}
	for (unsigned i = 0; i < 6; i++) {
		key_of(k[i], i);
		CHECK_RC(cache_lru_put(l, k[i], BLK, i < 5), 0);
	}
	CHECK(cache_lru_victim(l, v)); /* only the clean k5 may go */
	CHECK(memcmp(v, k[5], sizeof(v)) == 0);
	CHECK(!cache_lru_victim(l, v));
	CHECK(cache_lru_lookup(l, k[2], &pinned) && pinned);
	cache_lru_unpin(l, k[2]);
	CHECK(cache_lru_lookup(l, k[2], &pinned) && !pinned);
	CHECK(cache_lru_victim(l, v));
	CHECK(memcmp(v, k[2], sizeof(v)) == 0);
	CHECK(!cache_lru_victim(l, v));
	cache_lru_pin(l, k[2]); /* gone: nothing happens */
	CHECK(!cache_lru_lookup(l, k[2], NULL));
	cache_lru_free(l);
}

static void test_many_keys(void)
{
	enum { N = 300000 };
	struct cache_lru *l = lru_with_limit(0, 0);
	uint8_t(*keys)[CACHE_LRU_KEY_BYTES] = malloc((size_t)N * CACHE_LRU_KEY_BYTES);
	struct cache_lru_usage u;
	double t0 = test_now();
	size_t found = 0;

	if (!l || !keys) {
		CHECK(0);
		goto out;
	}
	randombytes_buf(keys, (size_t)N * CACHE_LRU_KEY_BYTES);
	for (size_t i = 0; i < N; i++)
		CHECK_RC(cache_lru_put(l, keys[i], 1024 * 1024 + 64, false), 0);
	for (size_t i = 0; i < N; i++)
		found += cache_lru_lookup(l, keys[i], NULL);
	CHECK_RC(found, N);
	cache_lru_usage(l, &u);
	CHECK_RC(u.objects, N);
	CHECK_RC(u.bytes, (uint64_t)N * cache_lru_round(1024 * 1024 + 64));
	for (size_t i = 0; i < N; i += 2)
		cache_lru_remove(l, keys[i]);
	cache_lru_usage(l, &u);
	CHECK_RC(u.objects, N / 2);
	/* A hash table: well under a second natively (a linear scan per access
	 * would take minutes); generous for sanitizer builds. */
	CHECK(test_now() - t0 < 20.0);
out:
	free(keys);
	cache_lru_free(l);
}

static void test_parse_key(void)
{
	uint8_t k[CACHE_LRU_KEY_BYTES], want[CACHE_LRU_KEY_BYTES];
	char text[OBJECT_KEY_TEXT_BYTES];

	randombytes_buf(want, sizeof(want));
	object_key_text(text, want);
	CHECK(cache_lru_parse_key(k, text));
	CHECK(memcmp(k, want, sizeof(k)) == 0);
	CHECK(!cache_lru_parse_key(k, "head"));
	CHECK(!cache_lru_parse_key(k, "o/ab/00112233445566778899aabbccddeeff")); /* wrong dir */
	CHECK(!cache_lru_parse_key(k, "o/00/00112233445566778899aabbccddeeF0"));
	CHECK(!cache_lru_parse_key(k, "o/00/00112233445566778899aabbccddeeff0"));
}

/* ---- writers waiting for room ---- */

struct kicks {
	_Atomic int n;
};

static void count_kick(void *arg) { ((struct kicks *)arg)->n++; }

static void test_reserve_fails_with_enospc_after_the_bound(void)
{
	struct kicks kicks = {0};
	struct cache_lru_limit lim = {
	    .bytes = 64 * BLK, .wait_ms = 300, .full = count_kick, .arg = &kicks};
	struct cache_lru *l = lru_with_limit(0, 0);
	uint8_t k[CACHE_LRU_KEY_BYTES];
	double t0, dt;

	if (!l) {
		CHECK(0);
		return;
	}
	CHECK_RC(cache_lru_reserve(l, 1 << 30), 0); /* no limit: never waits */
	cache_lru_release(l, 1 << 30);
	cache_lru_set_limit(l, &lim);
	key_of(k, 1);
	CHECK_RC(cache_lru_put(l, k, 60 * BLK, true), 0);
	CHECK_RC(cache_lru_reserve(l, 4 * BLK), 0); /* 64 blocks: fits exactly */
	cache_lru_release(l, 4 * BLK);
	t0 = test_now();
	CHECK_RC(cache_lru_reserve(l, 5 * BLK), -ENOSPC);
	dt = test_now() - t0;
	CHECK(dt >= 0.29 && dt < 3.0);
	CHECK(kicks.n >= 1);
	cache_lru_free(l);
}

struct unpinner {
	struct cache_lru *l;
	uint8_t key[CACHE_LRU_KEY_BYTES];
};

static void *unpin_later(void *arg)
{
	struct unpinner *u = arg;

	usleep(200 * 1000);
	cache_lru_unpin(u->l, u->key);
	return NULL;
}

static void test_reserve_wakes_when_unpinned(void)
{
	struct kicks kicks = {0};
	struct cache_lru_limit lim = {
	    .bytes = 64 * BLK, .wait_ms = 20000, .full = count_kick, .arg = &kicks};
	struct unpinner u = {.l = lru_with_limit(0, 0)};
	struct cache_lru_usage us;
	pthread_t th;
	double t0, dt;

	if (!u.l) {
		CHECK(0);
		return;
	}
	cache_lru_set_limit(u.l, &lim);
	key_of(u.key, 7);
	CHECK_RC(cache_lru_put(u.l, u.key, 64 * BLK, true), 0);
	t0 = test_now();
	CHECK_RC(pthread_create(&th, NULL, unpin_later, &u), 0);
	CHECK_RC(cache_lru_reserve(u.l, 8 * BLK), 0);
	dt = test_now() - t0;
	pthread_join(th, NULL);
	CHECK(dt >= 0.15 && dt < 5.0);
	CHECK(kicks.n >= 1);
	cache_lru_usage(u.l, &us);
	CHECK_RC(us.reserved, 8 * BLK);
	cache_lru_release(u.l, 8 * BLK);
	cache_lru_usage(u.l, &us);
	CHECK_RC(us.reserved, 0);
	cache_lru_free(u.l);
}

/* ---- the cache's files ---- */

/* Sum of the cache's o/ files (rounded like the index) and their count. */
static uint64_t o_bytes(const char *cache_dir, size_t *count)
{
	char path[CACHE_PATH_MAX];
	uint64_t total = 0;
	*count = 0;
	for (unsigned hh = 0; hh < 256; hh++) {
		struct dirent *de;
		DIR *d;

		snprintf(path, sizeof(path), "%s/o/%02x", cache_dir, hh);
		d = opendir(path);
		while (d && (de = readdir(d)) != NULL) {
			char f[CACHE_PATH_MAX + 300];
			struct stat st;

			snprintf(f, sizeof(f), "%s/%s", path, de->d_name);
			if (de->d_name[0] != '.' && stat(f, &st) == 0) {
				total += cache_lru_round((uint64_t)st.st_size);
				(*count)++;
			}
		}
		if (d)
			closedir(d);
	}
	return total;
}

/* Puts object i (size bytes of pattern i) into the store; key text out. */
static int store_object(struct tenv *env, unsigned i, size_t size, char text[OBJECT_KEY_TEXT_BYTES])
{
	uint8_t key[CACHE_LRU_KEY_BYTES];
	unsigned char *buf = malloc(size);
	int rc;

	if (!buf)
		return -ENOMEM;
	memset(buf, (int)i, size);
	randombytes_buf(key, sizeof(key));
	object_key_text(text, key);
	rc = backend_put(env->store, text, buf, size);
	free(buf);
	return rc;
}

static bool cached(struct tenv *env, const char *text)
{
	char path[CACHE_PATH_MAX];

	cache_path(env->cache, text, path);
	return access(path, F_OK) == 0;
}

static void test_cache_evicts_clean_files_keeps_pinned(struct tenv *env)
{
	struct cache_limit lim = {.bytes = 20 * BLK, .wait_ms = 100};
	char clean[40][OBJECT_KEY_TEXT_BYTES], dirty[30][OBJECT_KEY_TEXT_BYTES];
	unsigned char data[4000];
	struct cache_usage u;
	size_t n;
	int fd;

	CHECK_RC(tenv_fresh_cache(env), 0);
	CHECK_RC(cache_track(env->cache), 0);
	cache_set_limit(env->cache, &lim);
	for (unsigned i = 0; i < 40; i++) {
		CHECK_RC(store_object(env, i, 4000, clean[i]), 0);
		fd = cache_open_object(env->cache, clean[i], BACKEND_NO_MAX);
		CHECK(fd >= 0);
		if (fd >= 0) /* the fd reads even if its file is evicted meanwhile */
			CHECK_RC(fdio_pread_all(fd, data, sizeof(data), 0, NULL), 0);
		if (fd >= 0)
			close(fd);
		CHECK(data[0] == i && data[3999] == i);
		CHECK(o_bytes(env->cache_dir, &n) <= 20 * BLK);
	}
	CHECK(cached(env, clean[39]));
	CHECK(!cached(env, clean[0]));
	/* Pinned (written by the fs layer) objects stay, even far over. */
	memset(data, 0xa5, sizeof(data));
	for (unsigned i = 0; i < 30; i++) {
		uint8_t key[CACHE_LRU_KEY_BYTES];

		randombytes_buf(key, sizeof(key));
		object_key_text(dirty[i], key);
		CHECK_RC(cache_write_object(env->cache, dirty[i], data, sizeof(data)), 0);
	}
	cache_usage(env->cache, &u);
	CHECK_RC(u.pinned, 30);
	CHECK_RC(u.objects, 30); /* every clean one went */
	for (unsigned i = 0; i < 30; i++)
		CHECK(cached(env, dirty[i]));
	CHECK_RC(o_bytes(env->cache_dir, &n), u.bytes);
	/* An evicted object comes back from the store. */
	fd = cache_open_object(env->cache, clean[0], BACKEND_NO_MAX);
	CHECK(fd >= 0);
	if (fd >= 0)
		close(fd);
	/* Unpinned, dropped: accounting follows. */
	for (uint8_t i = 0; i < 25; i++) {
		uint8_t key[CACHE_LRU_KEY_BYTES];

		CHECK(cache_lru_parse_key(key, dirty[i]));
		cache_unpin(env->cache, key);
	}
	CHECK_RC(cache_drop_object(env->cache, dirty[29]), 0);
	cache_usage(env->cache, &u);
	CHECK_RC(u.pinned, 4);
	CHECK(u.bytes <= 20 * BLK);
	CHECK_RC(o_bytes(env->cache_dir, &n), u.bytes);
	CHECK_RC(n, u.objects);
}

static void test_rescan_gives_same_totals(struct tenv *env)
{
	char text[OBJECT_KEY_TEXT_BYTES], err[256], junk[CACHE_PATH_MAX];
	struct cache_usage before, after;
	unsigned char data[10000];
	size_t n;
	int fd;

	CHECK_RC(tenv_fresh_cache(env), 0);
	CHECK_RC(cache_track(env->cache), 0);
	memset(data, 1, sizeof(data));
	for (unsigned i = 0; i < 50; i++) {
		uint8_t key[CACHE_LRU_KEY_BYTES];

		randombytes_buf(key, sizeof(key));
		object_key_text(text, key);
		CHECK_RC(cache_write_object(env->cache, text, data, 100 * i + 1), 0);
		CHECK_RC(store_object(env, i, 5000 + i, text), 0);
		fd = cache_open_object(env->cache, text, BACKEND_NO_MAX);
		CHECK(fd >= 0);
		if (fd >= 0)
			close(fd);
	}
	snprintf(junk, sizeof(junk), "%s/o/00/not-an-object", env->cache_dir);
	fd = open(junk, O_CREAT | O_WRONLY, 0600);
	if (fd >= 0)
		close(fd);
	cache_usage(env->cache, &before);
	CHECK_RC(before.objects, 100);
	CHECK_RC(before.pinned, 50);
	cache_close(env->cache);
	env->cache = NULL;
	CHECK_RC(cache_open(&env->cache, env->cache_dir, env->store, err, sizeof(err)), 0);
	env->ctx.cache = env->cache;
	CHECK_RC(cache_track(env->cache), 0);
	cache_usage(env->cache, &after);
	CHECK_RC(after.objects, before.objects);
	CHECK_RC(after.bytes, before.bytes);
	CHECK_RC(after.pinned, 0); /* pins come from the journal, replayed by the mount */
	CHECK_RC(o_bytes(env->cache_dir, &n), after.bytes + 0 /* junk is empty */);
}

static void test_dirty_segment_growth_is_accounted(struct tenv *env)
{
	struct content_file f;
	unsigned char buf[64 * 1024];
	struct cache_usage u;
	size_t n;

	CHECK_RC(tenv_fresh_cache(env), 0);
	CHECK_RC(cache_track(env->cache), 0);
	CHECK_RC(content_new(&f), 0);
	memset(buf, 7, sizeof(buf));
	for (unsigned i = 0; i < 40; i++) /* 2.5 MiB: two full segments, one growing */
		CHECK_RC(content_write(&env->ctx, &f, buf, sizeof(buf), (uint64_t)i * sizeof(buf)),
			 (long long)sizeof(buf));
	cache_usage(env->cache, &u);
	CHECK_RC(u.objects, 3);
	CHECK_RC(u.pinned, 3);
	CHECK_RC(u.pinned_bytes, o_bytes(env->cache_dir, &n));
	CHECK(u.pinned_bytes > 2 * 1024 * 1024 + 512 * 1024);
	content_forget(&env->ctx, &f); /* dirty segments are dropped */
	cache_usage(env->cache, &u);
	CHECK_RC(u.objects, 0);
	CHECK_RC(u.pinned_bytes, 0);
	free(f.garbage);
	content_release(&f);
}

int main(void)
{
	struct tenv env;

	if (tenv_open(&env, SUITE_XCHACHA20POLY1305) < 0) {
		fprintf(stderr, "FAIL tenv_open\n");
		return 1;
	}
	test_accounting_rounds_and_follows_changes();
	test_evicts_least_recently_used_first();
	test_pinned_is_never_evicted();
	test_many_keys();
	test_parse_key();
	test_reserve_fails_with_enospc_after_the_bound();
	test_reserve_wakes_when_unpinned();
	test_cache_evicts_clean_files_keeps_pinned(&env);
	test_rescan_gives_same_totals(&env);
	test_dirty_segment_growth_is_accounted(&env);
	tenv_close(&env);
	return check_done("test_cache_lru");
}
