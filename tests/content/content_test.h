/* content_test.h - checks and a real environment (temporary local store,
 * ciphertext cache, random keys) shared by the content and cache tests.
 * Included by one .c per test program; no mocks: every part is the real one.
 * Checks are tests/include/check.h's. */
#ifndef SEALFS_CONTENT_TEST_H
#define SEALFS_CONTENT_TEST_H

#include <errno.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "backend.h"
#include "cache.h"
#include "check.h"
#include "content.h"
#include "hex.h"
#include "testdir.h"

/* A temporary vault-less world: store, cache, content context. */
struct tenv {
	char root[256];
	char store_dir[320];
	char cache_dir[320];
	int cache_gen;
	struct backend *store;
	struct cache *cache;
	unsigned char *content_key; /* sodium_malloc'ed */
	struct content_ctx ctx;
	uint64_t seq; /* of the last tenv_commit: the created of what it recorded */
};

static inline double test_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Opens a new empty cache directory (root/cache<N>), closing the old one. */
static inline int tenv_fresh_cache(struct tenv *env)
{
	char err[256];
	int rc;

	cache_close(env->cache);
	env->cache = NULL;
	if (env->cache_gen > 0)
		test_rm_rf(env->cache_dir);
	snprintf(env->cache_dir, sizeof(env->cache_dir), "%s/cache%d", env->root, env->cache_gen++);
	rc = cache_open(&env->cache, env->cache_dir, env->store, err, sizeof(err));
	if (rc < 0)
		fprintf(stderr, "cache_open: %s\n", err);
	env->ctx.cache = env->cache;
	return rc;
}

/* A world of the given vault format (1 or 2: content keys per file or per
 * segment version). */
static inline int tenv_open_format(struct tenv *env, enum suite_id suite, int format)
{
	struct backend_opts opts = {.create = 1};
	char err[256];
	int rc;

	memset(env, 0, sizeof(*env));
	if (sodium_init() < 0)
		return -1;
	snprintf(env->root, sizeof(env->root), "%s/sealfs-content-XXXXXX", test_tmpdir_pick(true));
	if (!mkdtemp(env->root))
		return -errno;
	snprintf(env->store_dir, sizeof(env->store_dir), "%s/store", env->root);
	rc = backend_open(&env->store, env->store_dir, &opts, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "backend_open: %s\n", err);
		return rc;
	}
	env->content_key = sodium_malloc(32);
	if (!env->content_key)
		return -ENOMEM;
	randombytes_buf(env->content_key, 32);
	env->ctx.suite = suite;
	env->ctx.format = format;
	env->ctx.content_key = env->content_key;
	env->ctx.keys = chunk_key_pool_new(NULL, NULL);
	if (!env->ctx.keys)
		return -ENOMEM;
	randombytes_buf(env->ctx.vault_id, sizeof(env->ctx.vault_id));
	return tenv_fresh_cache(env);
}

/* The format sealfs init makes. */
static inline int tenv_open(struct tenv *env, enum suite_id suite)
{
	return tenv_open_format(env, suite, VAULT_FORMAT_VERSION);
}

static inline void tenv_close(struct tenv *env)
{
	cache_close(env->cache);
	backend_destroy(env->store);
	sodium_free(env->content_key);
	secmem_pool_free(env->ctx.keys); /* every file was released before */
	if (env->root[0])
		test_rm_rf(env->root);
	memset(env, 0, sizeof(*env));
}

/* content_upload_cb: stores the segment; its open fd, when handed, is the
 * cache file of len bytes (what a commit copies into its journal record). */
/* A patch's claim (content.h, struct content_patch), checked on every
 * commit of every content test: each chunk of the new version not marked
 * touched holds the plaintext of the base's chunk of the same index. -EPROTO
 * when one does not (a commit would journal too few chunks). */
static inline int tenv_check_patch(struct tenv *env, const char *key_text, const char *cache_path,
				   const struct content_patch_info *pi)
{
	const size_t l = chunk_sealed_bytes(env->ctx.suite);
	const uint64_t a = pi->seg * SEGMENT_CHUNKS;
	char btext[OBJECT_KEY_TEXT_BYTES];
	uint8_t key[OBJECT_ID_BYTES];
	unsigned char *base = NULL, *cur = NULL, p0[CHUNK_PLAIN_BYTES], p1[CHUNK_PLAIN_BYTES];
	size_t blen = 0, clen = 0;
	struct chunk_key *k0, *k1;
	struct chunk_ad ad0 = {.index = 0}, ad1;
	int rc;

	hex_decode(key, sizeof(key), key_text + strlen(key_text) - 32, 32);
	object_key_text(btext, pi->p->base);
	memcpy(ad0.vault_id, env->ctx.vault_id, OBJECT_ID_BYTES);
	memcpy(ad0.file_id, pi->file_id, OBJECT_ID_BYTES);
	ad1 = ad0;
	memcpy(ad0.segment_key, pi->p->base, OBJECT_ID_BYTES);
	memcpy(ad1.segment_key, key, OBJECT_ID_BYTES);
	k0 = pi->p->base_created
		 ? chunk_key_new_segment(env->ctx.keys, env->ctx.suite, env->content_key,
					 pi->file_id, pi->p->base)
		 : chunk_key_new(env->ctx.keys, env->ctx.suite, env->content_key, pi->file_id);
	k1 = chunk_key_new_segment(env->ctx.keys, env->ctx.suite, env->content_key, pi->file_id,
				   key);
	rc = k0 && k1 ? cache_read_object(env->cache, btext, SEGMENT_CHUNKS * l, &base, &blen)
		      : -ENOMEM;
	if (rc == 0) {
		FILE *fp = fopen(cache_path, "rb");
		cur = malloc(SEGMENT_CHUNKS * l);
		clen = fp && cur ? fread(cur, 1, SEGMENT_CHUNKS * l, fp) : 0;
		if (fp)
			fclose(fp);
	}
	for (uint64_t j = 0; rc == 0 && j < clen / l; j++) {
		if (pi->p->touched[j / 8] & (1u << (j % 8)))
			continue;
		ad0.index = ad1.index = a + j;
		ad0.last = a + j == pi->p->n0 - 1;
		ad1.last = a + j == pi->n1 - 1;
		if ((j + 1) * l > blen || chunk_open(p0, base + j * l, &ad0, k0) != 0 ||
		    chunk_open(p1, cur + j * l, &ad1, k1) != 0 || memcmp(p0, p1, sizeof(p0)) != 0)
			rc = -EPROTO;
	}
	chunk_key_free(k0);
	chunk_key_free(k1);
	free(base);
	free(cur);
	return rc;
}

static inline int tenv_upload(void *arg, const char *key_text, const char *cache_path, int fd,
			      uint64_t len, const struct content_patch_info *patch)
{
	struct tenv *env = arg;
	struct stat st, pst;
	int rc;

	if (fd >= 0 && (fstat(fd, &st) != 0 || stat(cache_path, &pst) != 0 ||
			st.st_ino != pst.st_ino || (uint64_t)st.st_size != len))
		return -EPROTO; /* the commit would copy other bytes than it uploads */
	if (patch && (rc = tenv_check_patch(env, key_text, cache_path, patch)) != 0) {
		fprintf(stderr, "tenv_upload: a patch claims a chunk it does not hold\n");
		return rc;
	}
	return env->store->ops->put_file(env->store, key_text, cache_path);
}

/* A whole commit for one file: upload dirty segments, sync, delete garbage
 * from the store and the cache, sync. */
static inline int tenv_commit(struct tenv *env, struct content_file *f)
{
	struct content_garbage *garbage = NULL;
	char key[OBJECT_KEY_TEXT_BYTES];
	size_t ngarbage = 0;
	int rc;

	rc = content_commit(&env->ctx, f, ++env->seq, tenv_upload, env, &garbage, &ngarbage);
	if (rc == 0)
		rc = backend_sync(env->store);
	for (size_t i = 0; rc == 0 && i < ngarbage; i++) {
		object_key_text(key, garbage[i].key);
		rc = backend_del(env->store, key);
		if (rc == 0)
			rc = cache_drop_object(env->cache, key);
	}
	if (rc == 0)
		rc = backend_sync(env->store);
	free(garbage);
	return rc;
}

/* Reloads f as a mount would after a restart: from a stored entry, with a
 * fresh empty cache, so every segment is fetched from the store. */
static inline int tenv_reload(struct tenv *env, struct content_file *f)
{
	struct dirobj_entry e;
	int rc;

	memset(&e, 0, sizeof(e));
	e.type = DIROBJ_FILE;
	memcpy(e.id, f->file_id, sizeof(e.id));
	rc = content_store(f, &e);
	if (rc < 0)
		return rc;
	content_release(f);
	rc = tenv_fresh_cache(env);
	if (rc == 0)
		rc = content_load(f, &e);
	free(e.segments);
	return rc;
}

static inline int tenv_count_cb(void *arg, const char *key, uint64_t size)
{
	(void)key;
	(void)size;
	(*(size_t *)arg)++;
	return 0;
}

/* Number of objects under "o/" in the store, or a negative errno. */
static inline long tenv_store_objects(struct tenv *env)
{
	size_t n = 0;
	int rc = env->store->ops->list(env->store, "o/", tenv_count_cb, &n);

	return rc < 0 ? rc : (long)n;
}

static inline size_t tenv_present_segments(const struct content_file *f)
{
	size_t n = 0;

	for (size_t s = 0; s < f->nsegs; s++)
		n += f->segs[s].present;
	return n;
}

/* The suites this machine can run: AES-GCM only with AES-NI. */
static inline size_t test_suites(enum suite_id out[2])
{
	size_t n = 0;

	out[n++] = SUITE_XCHACHA20POLY1305;
	if (suite_available(SUITE_AES256GCM))
		out[n++] = SUITE_AES256GCM;
	return n;
}

#endif
