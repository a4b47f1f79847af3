/* test_content_model.c - thousands of seeded random writes, reads and
 * truncates on one file, checked byte for byte against an in-memory model,
 * interleaved with commits to a real local store and with reloads from a
 * stored entry through a fresh empty cache (everything fetched back).
 * Usage: test_content_model [seed] [ops]. */
#include "content_test.h"

#include <inttypes.h>
#include <pthread.h>

#define MIB (1024u * 1024u)
#define MODEL_MAX_BYTES (20u * MIB)
#define WRITE_MAX_BYTES (3u * MIB)
#define MODEL_SNAP_MAX 32

struct model {
	unsigned char *data; /* MODEL_MAX_BYTES */
	uint64_t size;
	unsigned char *buf; /* scratch for reads and write payloads */
	uint64_t rng;
	unsigned long writes, reads, truncs, commits, reloads;
	struct {
		char key[OBJECT_KEY_TEXT_BYTES];
		unsigned char hash[32];
	} snap[MODEL_SNAP_MAX]; /* the store after the last commit */
	size_t nsnap;
};

static uint64_t rnd(struct model *m)
{
	m->rng ^= m->rng >> 12;
	m->rng ^= m->rng << 25;
	m->rng ^= m->rng >> 27;
	return m->rng * 0x2545f4914f6cdd1dull;
}

static uint64_t rnd_below(struct model *m, uint64_t n) { return n == 0 ? 0 : rnd(m) % n; }

static void rnd_fill(struct model *m, unsigned char *p, size_t len)
{
	size_t i = 0;

	for (; i + 8 <= len; i += 8) {
		uint64_t v = rnd(m);

		memcpy(p + i, &v, 8);
	}
	for (; i < len; i++)
		p[i] = (unsigned char)rnd(m);
}

/* Lengths from a byte to 3 MiB, mostly small like real I/O. */
static uint64_t pick_len(struct model *m)
{
	uint64_t r = rnd_below(m, 100);

	if (r < 35)
		return rnd_below(m, 300);
	if (r < 65)
		return 1 + rnd_below(m, 16384);
	if (r < 88)
		return 16384 + rnd_below(m, 256 * 1024);
	if (r < 97)
		return 256 * 1024 + rnd_below(m, 1280 * 1024);
	return 1536 * 1024 + rnd_below(m, WRITE_MAX_BYTES - 1536 * 1024 + 1);
}

/* Offsets near chunk and segment boundaries, inside the file, at its end, or
 * a sparse jump past it. */
static uint64_t pick_off(struct model *m)
{
	uint64_t r = rnd_below(m, 100), base;

	if (r < 25)
		return rnd_below(m, m->size + 1);
	if (r < 50) {
		base = rnd_below(m, MODEL_MAX_BYTES / MIB + 1) * MIB;
		return base + rnd_below(m, 3 * 4096) - (base >= 4096 ? 4096 : 0);
	}
	if (r < 65)
		return rnd_below(m, MODEL_MAX_BYTES / 4096) * 4096 + (rnd_below(m, 2) ? 0 : 4095);
	if (r < 85)
		return m->size;
	return m->size + rnd_below(m, 6 * MIB);
}

static void check_range(struct tenv *env, struct content_file *f, struct model *m, uint64_t off,
			uint64_t len, const char *when)
{
	ssize_t n = content_read(&env->ctx, f, m->buf, len, off);
	uint64_t want = off >= m->size ? 0 : (m->size - off < len ? m->size - off : len);

	if (!CHECKF(n >= 0 && (uint64_t)n == want,
		    "%s: read %" PRIu64 "+%" PRIu64 " = %zd, want %" PRIu64, when, off, len, n,
		    want))
		return;
	if (memcmp(m->buf, m->data + off, want) != 0) {
		size_t i = 0;

		while (m->buf[i] == m->data[off + i])
			i++;
		CHECKF(false, "%s: byte %" PRIu64 " differs", when, off + i);
	}
}

static void check_all(struct tenv *env, struct content_file *f, struct model *m, const char *when)
{
	CHECK_RC(f->size, m->size);
	CHECK_RC(f->nsegs, (m->size + MIB - 1) / MIB);
	CHECK(f->nfds <= CONTENT_FDS_MAX);
	check_range(env, f, m, 0, m->size + 10, when);
}

static void op_write(struct tenv *env, struct content_file *f, struct model *m)
{
	uint64_t len = pick_len(m), off = pick_off(m);
	ssize_t n;

	if (off + len > MODEL_MAX_BYTES)
		off = MODEL_MAX_BYTES - len;
	rnd_fill(m, m->buf, len);
	n = content_write(&env->ctx, f, m->buf, len, off);
	CHECK_RC(n, (ssize_t)len);
	if (n != (ssize_t)len)
		return;
	memcpy(m->data + off, m->buf, len);
	if (len > 0 && off + len > m->size)
		m->size = off + len;
	m->writes++;
	check_range(env, f, m, off >= 5000 ? off - 5000 : 0, len + 10000, "after write");
}

static void op_truncate(struct tenv *env, struct content_file *f, struct model *m)
{
	uint64_t r = rnd_below(m, 10), size;

	if (r == 0)
		size = 0;
	else if (r < 4)
		size = rnd_below(m, m->size + 1);
	else if (r < 6)
		size = rnd_below(m, MODEL_MAX_BYTES / MIB) * MIB + rnd_below(m, 2);
	else
		size = rnd_below(m, MODEL_MAX_BYTES + 1);
	CHECK_RC(content_truncate(&env->ctx, f, size), 0);
	if (size < m->size)
		memset(m->data + size, 0, m->size - size);
	m->size = size;
	m->truncs++;
	if (size > 0)
		check_range(env, f, m, size - (size < 9000 ? size : 9000), 20000, "after truncate");
}

/* Hash of a stored object, or all zeros when it cannot be read. */
static void object_hash(struct tenv *env, const char *key, unsigned char hash[32])
{
	unsigned char *data = NULL;
	size_t len = 0;

	memset(hash, 0, 32);
	if (backend_get(env->store, key, 0, 0, &data, &len) == 0)
		crypto_generichash(hash, 32, data, len, NULL, 0);
	free(data);
}

/* What the store held after the last commit: it must not change before the
 * next one (copy on write: a crash in between leaves the old tree whole). */
static void snapshot_take(struct tenv *env, const struct content_file *f, struct model *m)
{
	m->nsnap = 0;
	for (size_t s = 0; s < f->nsegs && m->nsnap < MODEL_SNAP_MAX; s++) {
		if (!f->segs[s].present)
			continue;
		object_key_text(m->snap[m->nsnap].key, f->segs[s].key);
		object_hash(env, m->snap[m->nsnap].key, m->snap[m->nsnap].hash);
		m->nsnap++;
	}
}

static void snapshot_check(struct tenv *env, const struct model *m)
{
	unsigned char hash[32];

	for (size_t i = 0; i < m->nsnap; i++) {
		object_hash(env, m->snap[i].key, hash);
		CHECKF(memcmp(hash, m->snap[i].hash, 32) == 0,
		       "committed object %s changed before the next commit", m->snap[i].key);
	}
}

/* Every present segment is in the store with exactly its chunks, and nothing
 * else is: no holes, no garbage. */
static void check_store(struct tenv *env, const struct content_file *f, const struct model *m)
{
	uint64_t n = (m->size + 4095) / 4096, size;
	char key[OBJECT_KEY_TEXT_BYTES];

	CHECK_RC(tenv_store_objects(env), (long)tenv_present_segments(f));
	for (size_t s = 0; s < f->nsegs; s++) {
		uint64_t chunks = n - 256 * (uint64_t)s > 256 ? 256 : n - 256 * (uint64_t)s;

		if (!f->segs[s].present)
			continue;
		object_key_text(key, f->segs[s].key);
		CHECK_RC(env->store->ops->head(env->store, key, &size), 0);
		CHECK_RC(size, chunks * chunk_sealed_bytes(env->ctx.suite));
	}
}

static void op_commit(struct tenv *env, struct content_file *f, struct model *m)
{
	snapshot_check(env, m);
	CHECK_RC(tenv_commit(env, f), 0);
	check_store(env, f, m);
	snapshot_take(env, f, m);
	m->commits++;
}

static void op_reload(struct tenv *env, struct content_file *f, struct model *m)
{
	op_commit(env, f, m);
	CHECK_RC(tenv_reload(env, f), 0);
	m->reloads++;
	check_all(env, f, m, "after reload");
}

static void run_ops(struct tenv *env, struct content_file *f, struct model *m, unsigned long ops)
{
	for (unsigned long i = 1; i <= ops && check_failures == 0; i++) {
		uint64_t r = rnd_below(m, 100);

		if (r < 55) {
			op_write(env, f, m);
		} else if (r < 80) {
			uint64_t off = pick_off(m);

			check_range(env, f, m, off, pick_len(m), "read");
			m->reads++;
		} else if (r < 92) {
			op_truncate(env, f, m);
		} else if (r < 94) {
			CHECK_RC(content_sync(&env->ctx, f), 0);
		} else {
			op_write(env, f, m);
		}
		if (i % 100 == 0)
			check_all(env, f, m, "periodic");
		if (i % 150 == 0)
			op_commit(env, f, m);
		if (i % 450 == 0)
			op_reload(env, f, m);
	}
}

struct model_run {
	enum suite_id suite;
	int format;
	uint64_t seed;
	unsigned long ops;
};

/* One file per suite and format, each in its own thread: the runs share the process
 * (per-thread buffers, the key cache) but not a store. */
static void *test_random_ops_match_model(void *arg)
{
	const struct model_run *run = arg;
	struct model *m = calloc(1, sizeof(*m));
	struct content_file f;
	struct tenv env;
	double t0 = test_now();

	if (!m || tenv_open_format(&env, run->suite, run->format) < 0) {
		CHECK(!"tenv_open");
		free(m);
		return NULL;
	}
	m->data = calloc(1, MODEL_MAX_BYTES);
	m->buf = malloc(MODEL_MAX_BYTES + 16384);
	m->rng = run->seed | 1;
	CHECK(m->data && m->buf);
	CHECK_RC(content_new(&f), 0);
	if (m->data && m->buf) {
		run_ops(&env, &f, m, run->ops);
		op_reload(&env, &f, m);
	}
	printf(
	    "suite %s, format %d: %lu writes, %lu reads, %lu truncates, %lu commits, %lu reloads "
	    "in %.2f s\n",
	    suite_name(run->suite), run->format, m->writes, m->reads, m->truncs, m->commits,
	    m->reloads, test_now() - t0);
	content_release(&f);
	free(f.garbage);
	free(m->data);
	free(m->buf);
	free(m);
	tenv_close(&env);
	return NULL;
}

int main(int argc, char **argv)
{
	uint64_t seed = argc > 1 ? strtoull(argv[1], NULL, 0) : 0;
	unsigned long ops = argc > 2 ? strtoul(argv[2], NULL, 0) : 2000;
	enum suite_id suites[2];
	struct model_run runs[4];
	pthread_t threads[4];
	size_t n;

	if (sodium_init() < 0)
		return 1;
	if (seed == 0)
		seed = ((uint64_t)randombytes_random() << 32) | randombytes_random();
	n = test_suites(suites);
	fprintf(stderr, "seed %" PRIu64 ", %lu ops (rerun: test_content_model SEED OPS)\n", seed,
		ops);
	for (size_t i = 0; i < 2 * n; i++) {
		runs[i] = (struct model_run){suites[i % n], 1 + (int)(i / n),
					     seed + i * 0x9e3779b97f4a7c15ull, ops};
		if (pthread_create(&threads[i], NULL, test_random_ops_match_model, &runs[i]) != 0)
			return 1;
	}
	for (size_t i = 0; i < 2 * n; i++)
		pthread_join(threads[i], NULL);
	if (check_failures)
		fprintf(stderr, "rerun: test_content_model %" PRIu64 " %lu\n", seed, ops);
	return check_done("test_content_model");
}
