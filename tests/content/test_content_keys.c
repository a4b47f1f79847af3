/* test_content_keys.c - which key a segment's chunks are sealed under
 * (docs/FORMAT.md, "Keys"): in a format-2 vault every new segment version
 * under its own key (derived from the per-file key and its store key), in
 * format 1 and for segments carried over by an upgrade (created 0) the
 * per-file key; the created seq each commit records, kept through a cold
 * (closed) file. Reads the stored bytes and opens them with crypto/ alone. */
#include "content_test.h"

static int write_all(struct tenv *env, struct content_file *f, const void *buf, size_t n,
		     uint64_t off)
{
	ssize_t r = content_write(&env->ctx, f, buf, n, off);

	return r == (ssize_t)n ? 0 : (int)r;
}

/* Opens chunk c (of a file of nchunks) of the stored segment key under k. */
static int open_stored(struct tenv *env, const struct content_file *f, const uint8_t key[16],
		       uint64_t c, uint64_t nchunks, const struct chunk_key *k,
		       unsigned char plain[CHUNK_PLAIN_BYTES])
{
	char name[OBJECT_KEY_TEXT_BYTES];
	size_t sz = chunk_sealed_bytes(env->ctx.suite), len = 0;
	unsigned char *obj = NULL;
	struct chunk_ad ad;
	int rc;

	object_key_text(name, key);
	rc = backend_get_max(env->store, name, SEGMENT_CHUNKS * sz, &obj, &len);
	if (rc < 0)
		return rc;
	memcpy(ad.vault_id, env->ctx.vault_id, 16);
	memcpy(ad.file_id, f->file_id, 16);
	memcpy(ad.segment_key, key, 16);
	ad.index = c;
	ad.last = c + 1 == nchunks;
	rc = len >= (c % SEGMENT_CHUNKS + 1) * sz
		 ? chunk_open(plain, obj + (c % SEGMENT_CHUNKS) * sz, &ad, k)
		 : -EIO;
	free(obj);
	return rc;
}

/* Chunk 0 of f's segment 0 opens under exactly one of the two keys. */
static void check_key_of(struct tenv *env, const struct content_file *f, bool per_segment,
			 const char *what)
{
	struct chunk_key *fk =
	    chunk_key_new(env->ctx.keys, env->ctx.suite, env->content_key, f->file_id);
	struct chunk_key *sk = chunk_key_new_segment(env->ctx.keys, env->ctx.suite,
						     env->content_key, f->file_id, f->segs[0].key);
	unsigned char plain[CHUNK_PLAIN_BYTES];
	uint64_t n = (f->size + CHUNK_PLAIN_BYTES - 1) / CHUNK_PLAIN_BYTES;

	CHECK(fk && sk);
	/* The wrong key first: a failed open zeroes plain. */
	CHECKF(open_stored(env, f, f->segs[0].key, 0, n, per_segment ? fk : sk, plain) == -EBADMSG,
	       "%s: opened under the wrong key", what);
	CHECKF(open_stored(env, f, f->segs[0].key, 0, n, per_segment ? sk : fk, plain) == 0,
	       "%s: not opened under its key", what);
	CHECKF(plain[0] == 'a' || plain[0] == 'b', "%s: plaintext", what);
	chunk_key_free(fk);
	chunk_key_free(sk);
}

static void test_format2_segment_key(struct tenv *env)
{
	struct content_file f;
	struct dirobj_entry e = {.type = DIROBJ_FILE};
	uint8_t v1[16];
	unsigned char plain[CHUNK_PLAIN_BYTES];
	struct chunk_key *k1;

	CHECK_RC(content_new(&f), 0);
	CHECK_RC(write_all(env, &f, "aaaa", 4, 0), 0);
	CHECK(f.segs[0].created == CONTENT_CREATED_PENDING);
	CHECK_RC(tenv_commit(env, &f), 0);
	CHECK(f.segs[0].created == env->seq && env->seq > 0);
	check_key_of(env, &f, true, "format 2, new file");
	memcpy(e.id, f.file_id, 16);
	CHECK_RC(content_store(&f, &e), 0);
	CHECK(e.nsegments == 1 && e.segments[0].created == env->seq);
	/* A new version of the segment: a new store key, so a new key; the
	 * old version's key does not open it. */
	memcpy(v1, f.segs[0].key, 16);
	k1 = chunk_key_new_segment(env->ctx.keys, env->ctx.suite, env->content_key, f.file_id, v1);
	CHECK_RC(write_all(env, &f, "b", 1, 0), 0);
	CHECK_RC(tenv_commit(env, &f), 0);
	CHECK(memcmp(v1, f.segs[0].key, 16) != 0 && f.segs[0].created == env->seq);
	check_key_of(env, &f, true, "format 2, second version");
	CHECK_RC(open_stored(env, &f, f.segs[0].key, 0, 1, k1, plain), -EBADMSG);
	chunk_key_free(k1);
	/* Read back after a reload from the entry (a fresh cache). */
	free(e.segments);
	memset(&e, 0, sizeof(e));
	e.type = DIROBJ_FILE;
	memcpy(e.id, f.file_id, 16);
	CHECK_RC(content_store(&f, &e), 0);
	content_release(&f);
	CHECK_RC(tenv_fresh_cache(env), 0);
	CHECK_RC(content_load(&f, &e), 0);
	CHECK(content_read(&env->ctx, &f, plain, 4, 0) == 4 && memcmp(plain, "baaa", 4) == 0);
	free(e.segments);
	content_release(&f);
	free(f.garbage);
}

static void test_format1_file_key(struct tenv *env)
{
	struct content_file f;
	struct dirobj_entry e = {.type = DIROBJ_FILE};
	unsigned char buf[8];

	env->ctx.format = 1;
	CHECK_RC(content_new(&f), 0);
	CHECK_RC(write_all(env, &f, "aaaa", 4, 0), 0);
	CHECK(f.segs[0].created == 0);
	CHECK_RC(tenv_commit(env, &f), 0);
	CHECK(f.segs[0].created == 0);
	check_key_of(env, &f, false, "format 1");
	memcpy(e.id, f.file_id, 16);
	CHECK_RC(content_store(&f, &e), 0);
	CHECK(e.segments && e.segments[0].created == 0);
	content_release(&f);
	/* The vault upgraded: the old segment (created 0) still opens under
	 * the file's key; its next version gets a key of its own. */
	env->ctx.format = 2;
	CHECK_RC(content_load(&f, &e), 0);
	CHECK(content_read(&env->ctx, &f, buf, 4, 0) == 4 && memcmp(buf, "aaaa", 4) == 0);
	CHECK_RC(write_all(env, &f, "b", 1, 1), 0);
	CHECK_RC(tenv_commit(env, &f), 0);
	CHECK(f.segs[0].created == env->seq);
	check_key_of(env, &f, true, "upgraded, rewritten");
	CHECK(content_read(&env->ctx, &f, buf, 4, 0) == 4 && memcmp(buf, "abaa", 4) == 0);
	free(e.segments);
	content_release(&f);
	free(f.garbage);
}

/* A cold file keeps each segment's created, small and large, one segment
 * and several, through load, store and thaw. */
static void test_cold_keeps_created(void)
{
	static const uint64_t values[] = {0, 1, 262142, 262143, 262144, (uint64_t)INT64_MAX};
	struct dirobj_segment segs[3] = {{.present = true}, {.present = false}, {.present = true}};

	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		for (size_t n = 1; n <= 3; n += 2) {
			struct dirobj_entry e = {.type = DIROBJ_FILE, .segments = segs};
			struct dirobj_entry back = {.type = DIROBJ_FILE};
			struct content_cold c;
			struct content_file *f = NULL;

			e.nsegments = n;
			e.size = (n - 1) * SEGMENT_PLAIN_BYTES + 10;
			segs[0].created = values[i];
			segs[2].created = values[(i + 1) % 6];
			memset(segs[0].store_key, 0x11, 16);
			memset(segs[2].store_key, 0x22, 16);
			CHECK_RC(content_cold_load(&c, &e), 0);
			CHECK(content_cold_size(&c) == e.size && content_cold_nsegs(&c) == n);
			CHECK_RC(content_cold_store(&c, &back), 0);
			CHECKF(back.nsegments == n && back.segments[0].created == values[i] &&
				   back.segments[0].store_key[15] == 0x11 &&
				   (n == 1 || (!back.segments[1].present &&
					       back.segments[2].created == values[(i + 1) % 6])),
			       "created %zu of %zu segments", i, n);
			free(back.segments);
			CHECK_RC(content_thaw(&f, e.segments[0].store_key, &c), 0);
			CHECK(f && f->segs[0].created == values[i] && f->size == e.size);
			if (f) {
				content_release(f);
				free(f);
			}
		}
	}
}

int main(void)
{
	enum suite_id suites[2];
	size_t n = test_suites(suites);

	for (size_t i = 0; i < n; i++) {
		struct tenv env;

		if (tenv_open_format(&env, suites[i], 2) < 0) {
			CHECK(!"tenv_open");
			continue;
		}
		test_format2_segment_key(&env);
		test_format1_file_key(&env);
		tenv_close(&env);
	}
	test_cold_keeps_created();
	return check_done("test_content_keys");
}
