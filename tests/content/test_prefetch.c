/* test_prefetch.c - read-ahead from the store into the cache (fs/cache/prefetch.c)
 * over a real local store and a real cache: queued keys are fetched in the
 * background; a sequential reader of a file whose segments are not cached
 * gets the next segments fetched before it reads them, and reads everything
 * back exactly; a reader that starts in the middle of a file queues nothing;
 * a claimed key is not fetched twice. Warming (prefetch_warm) reads a cached
 * object's file into the page cache, and fetches one that is not cached
 * only when asked to. */
#include "content_test.h"

#include <fcntl.h>
#include <sys/mman.h>

#define WAIT_S 10.0

static bool cached(struct tenv *env, const uint8_t key[OBJECT_ID_BYTES])
{
	char text[OBJECT_KEY_TEXT_BYTES], path[CACHE_PATH_MAX];

	object_key_text(text, key);
	cache_path(env->cache, text, path);
	return access(path, F_OK) == 0;
}

/* Waits until key is cached or WAIT_S pass. */
static bool wait_cached(struct tenv *env, const uint8_t key[OBJECT_ID_BYTES])
{
	double until = test_now() + WAIT_S;

	while (!cached(env, key)) {
		if (test_now() > until)
			return false;
		usleep(10000);
	}
	return true;
}

static void test_queued_keys_are_fetched(struct tenv *env)
{
	uint8_t keys[20][OBJECT_ID_BYTES];
	char text[OBJECT_KEY_TEXT_BYTES];
	unsigned char data[3000];
	struct prefetch *p = NULL;

	for (size_t i = 0; i < 20; i++) {
		randombytes_buf(keys[i], sizeof(keys[i]));
		randombytes_buf(data, sizeof(data));
		object_key_text(text, keys[i]);
		CHECK_RC(backend_put(env->store, text, data, sizeof(data)), 0);
	}
	CHECK_RC(tenv_fresh_cache(env), 0);
	CHECK_RC(prefetch_start(&p, env->cache), 0);
	for (size_t i = 0; i < 20; i++) {
		object_key_text(text, keys[i]);
		prefetch_add(p, text, BACKEND_NO_MAX);
		prefetch_add(p, text, BACKEND_NO_MAX); /* queued once */
	}
	for (size_t i = 0; i < 20; i++)
		CHECK(wait_cached(env, keys[i]));
	/* a claimed key that was only queued is left to the claimer */
	uint8_t extra[OBJECT_ID_BYTES];
	randombytes_buf(extra, sizeof(extra));
	object_key_text(text, extra);
	CHECK_RC(backend_put(env->store, text, data, sizeof(data)), 0);
	prefetch_claim(p, text);
	prefetch_add(NULL, text, BACKEND_NO_MAX); /* no prefetcher: nothing */
	prefetch_stop(p);
}

/* Whether any page of the cache file of key is in the page cache; -1 when
 * it cannot be told. */
static int resident(struct tenv *env, const char *text)
{
	char path[CACHE_PATH_MAX];
	unsigned char vec[4] = {0};
	void *m;
	int fd, r;

	cache_path(env->cache, text, path);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	m = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (m == MAP_FAILED)
		return -1;
	r = mincore(m, 4096, vec) == 0 ? (vec[0] & 1) : -1;
	munmap(m, 4096);
	return r;
}

/* Drops the cache file of key from the page cache (written back first). */
static void drop_pages(struct tenv *env, const char *text)
{
	char path[CACHE_PATH_MAX];
	int fd;

	cache_path(env->cache, text, path);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	(void)fsync(fd);
	(void)posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	close(fd);
}

/* Warms text[1..n) until each is resident or WAIT_S pass (another
 * program's drop_caches may empty them again: warmed once more each round). */
static bool warm_until_resident(struct tenv *env, struct prefetch *p,
				char (*text)[OBJECT_KEY_TEXT_BYTES], const uint64_t *lens, size_t n)
{
	double until = test_now() + WAIT_S;

	for (;;) {
		size_t in = 0;

		for (size_t i = 1; i < n; i++)
			in += resident(env, text[i]) == 1;
		if (in == n - 1)
			return true;
		if (test_now() > until)
			return false;
		prefetch_warm(p, (const char(*)[OBJECT_KEY_TEXT_BYTES])text + 1, lens, n - 1, 0);
		usleep(10000);
	}
}

/* Objects 1 and 2 cached (their pages dropped), 0 only in the store: a warm
 * of all three brings 1 and 2 into the page cache and never fetches 0. */
static void test_warm(struct tenv *env)
{
	char text[3][OBJECT_KEY_TEXT_BYTES], path[CACHE_PATH_MAX];
	uint64_t lens[3] = {3000, 3000, 3000};
	unsigned char data[3000];
	struct prefetch *p = NULL;
	bool droppable = true;
	int fd;

	for (size_t i = 0; i < 3; i++) {
		uint8_t key[OBJECT_ID_BYTES];

		randombytes_buf(key, sizeof(key));
		randombytes_buf(data, sizeof(data));
		object_key_text(text[i], key);
		CHECK_RC(backend_put(env->store, text[i], data, sizeof(data)), 0);
	}
	CHECK_RC(tenv_fresh_cache(env), 0);
	for (size_t i = 1; i < 3; i++) {
		fd = cache_open_object(env->cache, text[i], BACKEND_NO_MAX);
		CHECK(fd >= 0);
		if (fd >= 0)
			close(fd);
		drop_pages(env, text[i]);
		droppable = droppable && resident(env, text[i]) == 0;
	}
	CHECK_RC(prefetch_start(&p, env->cache), 0);
	prefetch_warm(p, (const char(*)[OBJECT_KEY_TEXT_BYTES])text, lens, 3, 0);
	prefetch_warm(NULL, (const char(*)[OBJECT_KEY_TEXT_BYTES])text, lens, 3,
		      PREFETCH_FETCH); /* nothing */
	if (droppable)
		CHECK(warm_until_resident(env, p, text, lens, 3));
	else
		fprintf(stderr, "SKIP warm: %s keeps dropped pages (tmpfs?)\n", env->root);
	usleep(100000);
	prefetch_stop(p); /* joins the threads: every warm taken has ended */
	cache_path(env->cache, text[0], path);
	CHECK(access(path, F_OK) != 0); /* never fetched */

	/* with fetch (a remote store's read-ahead): fetched into the cache */
	CHECK_RC(prefetch_start(&p, env->cache), 0);
	prefetch_warm(p, (const char(*)[OBJECT_KEY_TEXT_BYTES])text, lens, 1, PREFETCH_FETCH);
	double until = test_now() + WAIT_S;
	while (access(path, F_OK) != 0 && test_now() < until)
		usleep(10000);
	CHECK(access(path, F_OK) == 0);
	prefetch_stop(p);
}

/* A 6 MiB file committed to the store, reloaded over a fresh cache. */
static void make_file(struct tenv *env, struct content_file *f, unsigned char *data, size_t len)
{
	randombytes_buf(data, len);
	CHECK_RC(content_new(f), 0);
	CHECK(content_write(&env->ctx, f, data, len, 0) == (ssize_t)len);
	CHECK_RC(tenv_commit(env, f), 0);
	CHECK_RC(tenv_reload(env, f), 0);
}

static void test_sequential_reader_gets_read_ahead(struct tenv *env)
{
	size_t len = 6 * SEGMENT_PLAIN_BYTES;
	unsigned char *data = malloc(len), *back = malloc(len);
	struct content_file f;
	struct prefetch *p = NULL;

	if (!data || !back) {
		CHECK(!"out of memory");
		free(data);
		free(back);
		return;
	}
	make_file(env, &f, data, len);
	CHECK_RC(prefetch_start(&p, env->cache), 0);
	env->ctx.prefetch = p;
	CHECK(content_read(&env->ctx, &f, back, 128 * 1024, 0) == 128 * 1024);
	for (size_t s = 1; s < f.nsegs; s++)
		CHECK(wait_cached(env, f.segs[s].key)); /* fetched before being read */
	for (size_t off = 128 * 1024; off < len; off += 128 * 1024)
		CHECK(content_read(&env->ctx, &f, back + off, 128 * 1024, off) == 128 * 1024);
	CHECK(memcmp(back, data, len) == 0);
	content_release(&f);

	/* a reader that starts in the middle is not sequential: nothing queued
	 * (the prefetcher is restarted over the new cache make_file opens) */
	env->ctx.prefetch = NULL;
	prefetch_stop(p);
	make_file(env, &f, data, len);
	CHECK_RC(prefetch_start(&p, env->cache), 0);
	env->ctx.prefetch = p;
	CHECK(content_read(&env->ctx, &f, back, 4096, 3 * SEGMENT_PLAIN_BYTES) == 4096);
	usleep(200000);
	CHECK(!cached(env, f.segs[4].key));
	CHECK(!cached(env, f.segs[5].key));
	content_release(&f);
	env->ctx.prefetch = NULL;
	prefetch_stop(p);
	free(data);
	free(back);
}

int main(void)
{
	struct tenv env;

	if (tenv_open(&env, SUITE_AES256GCM) < 0 && tenv_open(&env, SUITE_XCHACHA20POLY1305) < 0) {
		fprintf(stderr, "FAIL tenv_open\n");
		return 1;
	}
	test_queued_keys_are_fetched(&env);
	test_sequential_reader_gets_read_ahead(&env);
	test_warm(&env);
	tenv_close(&env);
	/* Warming needs a disk's page cache (tmpfs keeps dropped pages): a
	 * world under /tmp unless TMPDIR chose. */
	if (!getenv("TMPDIR") && setenv("TMPDIR", "/tmp", 1) == 0) {
		if (tenv_open(&env, SUITE_XCHACHA20POLY1305) == 0) {
			test_warm(&env);
			tenv_close(&env);
		}
		unsetenv("TMPDIR");
	}
	return check_done("test_prefetch");
}
