/* test_prefetch.c - read-ahead from the store into the cache (fs/cache/prefetch.c)
 * over a real local store and a real cache: queued keys are fetched in the
 * background; a sequential reader of a file whose segments are not cached
 * gets the next segments fetched before it reads them, and reads everything
 * back exactly; a reader that starts in the middle of a file queues nothing;
 * a claimed key is not fetched twice. */
#include "content_test.h"

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
	tenv_close(&env);
	return check_done("test_prefetch");
}
