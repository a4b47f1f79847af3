/* crypto_bench.c - throughput of the crypto core on one core: chunk_seal and
 * chunk_open of one 4 KiB chunk for each available suite, meta_seal /
 * meta_open of a 64 KiB metadata object, and dirobj_encode / dirobj_decode of
 * a 10,000-entry directory. Prints a markdown table; MB/s is 10^6 bytes of
 * plaintext (JSON for dirobj) per second. Never touches the disk. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "chunk.h"
#include "dirobj.h"
#include "meta.h"

#define BENCH_SECONDS 1.0
#define BENCH_META_BYTES (64u << 10)
#define BENCH_DIR_ENTRIES 10000

static double bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef int (*bench_fn)(void *arg);

/* Runs fn for about BENCH_SECONDS; returns calls per second, or -1 on error. */
static double bench_run(bench_fn fn, void *arg)
{
	double start = bench_now(), elapsed;
	unsigned long calls = 0;

	do {
		for (int i = 0; i < 64; i++, calls++)
			if (fn(arg) != 0)
				return -1;
		elapsed = bench_now() - start;
	} while (elapsed < BENCH_SECONDS);
	return (double)calls / elapsed;
}

struct bench_chunk {
	struct chunk_key *key;
	struct chunk_ad ad;
	unsigned char plain[CHUNK_PLAIN_BYTES];
	unsigned char sealed[CHUNK_PLAIN_BYTES + 64];
};

static int bench_chunk_seal(void *arg)
{
	struct bench_chunk *b = arg;

	return chunk_seal(b->sealed, b->plain, sizeof(b->plain), &b->ad, b->key);
}

static int bench_chunk_open(void *arg)
{
	struct bench_chunk *b = arg;

	return chunk_open(b->plain, b->sealed, &b->ad, b->key);
}

struct bench_meta {
	unsigned char key[32];
	struct meta_ad ad;
	unsigned char *plain;
	unsigned char *sealed;
	size_t sealed_len;
};

static int bench_meta_seal(void *arg)
{
	struct bench_meta *b = arg;
	unsigned char *out;
	size_t n;
	int r = meta_seal(&out, &n, b->plain, BENCH_META_BYTES, &b->ad, b->key);

	free(out);
	return r;
}

static int bench_meta_open(void *arg)
{
	struct bench_meta *b = arg;
	char *out;
	size_t n;
	int r = meta_open(&out, &n, b->sealed, b->sealed_len, &b->ad, b->key);

	meta_free_plain(out, n);
	return r;
}

static void bench_row(const char *op, const char *cipher, size_t bytes, double per_s)
{
	if (per_s < 0) {
		printf("| %-10s | %-17s | %8s | %8s |\n", op, cipher, "error", "error");
		return;
	}
	printf("| %-10s | %-17s | %8.0f | %8.2f |\n", op, cipher, per_s * (double)bytes / 1e6,
	       1e6 / per_s);
}

static int bench_chunks(enum suite_id suite)
{
	struct bench_chunk *b = calloc(1, sizeof(*b));
	struct secmem_pool *pool;
	unsigned char ck[32];

	if (!b)
		return -ENOMEM;
	randombytes_buf(ck, sizeof(ck));
	randombytes_buf(b->plain, sizeof(b->plain));
	randombytes_buf(&b->ad, sizeof(b->ad));
	b->ad.last = false;
	pool = chunk_key_pool_new(NULL, NULL);
	b->key = pool ? chunk_key_new(pool, suite, ck, b->ad.file_id) : NULL;
	if (!b->key || bench_chunk_seal(b) != 0) {
		chunk_key_free(b->key);
		secmem_pool_free(pool);
		free(b);
		return -EINVAL;
	}
	bench_row("chunk_seal", suite_name(suite), CHUNK_PLAIN_BYTES,
		  bench_run(bench_chunk_seal, b));
	bench_row("chunk_open", suite_name(suite), CHUNK_PLAIN_BYTES,
		  bench_run(bench_chunk_open, b));
	chunk_key_free(b->key);
	secmem_pool_free(pool);
	free(b);
	return 0;
}

static int bench_meta(void)
{
	struct bench_meta b = {.ad = {.kind = META_KIND_DIR, .version = 1}};

	randombytes_buf(b.key, sizeof(b.key));
	b.plain = malloc(BENCH_META_BYTES);
	if (!b.plain)
		return -ENOMEM;
	randombytes_buf(b.plain, BENCH_META_BYTES);
	if (meta_seal(&b.sealed, &b.sealed_len, b.plain, BENCH_META_BYTES, &b.ad, b.key) != 0) {
		free(b.plain);
		return -ENOMEM;
	}
	bench_row("meta_seal", "xchacha20poly1305", BENCH_META_BYTES,
		  bench_run(bench_meta_seal, &b));
	bench_row("meta_open", "xchacha20poly1305", BENCH_META_BYTES,
		  bench_run(bench_meta_open, &b));
	free(b.sealed);
	free(b.plain);
	return 0;
}

struct bench_dir {
	struct dirobj dir;
	char *json;
	size_t len;
};

static int bench_dir_encode(void *arg)
{
	struct bench_dir *b = arg;
	char *out;
	size_t n;
	int r = dirobj_encode(&out, &n, &b->dir, DIROBJ_FORMAT_MAX);

	free(out);
	return r;
}

static int bench_dir_decode(void *arg)
{
	struct bench_dir *b = arg;
	struct dirobj d;
	int r = dirobj_decode(&d, b->json, b->len, DIROBJ_FORMAT_MAX);

	dirobj_release(&d);
	return r;
}

/* A directory of small files named like "file-000042.txt", one segment each. */
static int bench_dir_fill(struct dirobj *d)
{
	d->entries = calloc(BENCH_DIR_ENTRIES, sizeof(*d->entries));
	if (!d->entries)
		return -ENOMEM;
	for (size_t i = 0; i < BENCH_DIR_ENTRIES; i++) {
		struct dirobj_entry *e = &d->entries[d->nentries++];
		e->name = malloc(32);
		e->segments = calloc(1, sizeof(*e->segments));
		if (!e->name || !e->segments)
			return -ENOMEM;
		e->name_len = (size_t)snprintf(e->name, 32, "file-%06zu.txt", i);
		e->type = DIROBJ_FILE;
		e->mode = 0100644;
		e->size = 1000 + i;
		e->nsegments = 1;
		e->segments[0].present = true;
		randombytes_buf(e->id, sizeof(e->id));
		randombytes_buf(e->segments[0].store_key, sizeof(e->segments[0].store_key));
		e->atime = e->mtime = e->ctime = (struct dirobj_time){1735689600, (uint32_t)i};
	}
	return 0;
}

static int bench_dirobj(void)
{
	struct bench_dir b = {{.nentries = 0}, NULL, 0};
	int r = bench_dir_fill(&b.dir);

	if (r == 0)
		r = dirobj_encode(&b.json, &b.len, &b.dir, DIROBJ_FORMAT_MAX);
	if (r == 0) {
		bench_row("dir_encode", "(json, 10k ent.)", b.len, bench_run(bench_dir_encode, &b));
		bench_row("dir_decode", "(json, 10k ent.)", b.len, bench_run(bench_dir_decode, &b));
	}
	free(b.json);
	dirobj_release(&b.dir);
	return r;
}

int main(void)
{
	static const enum suite_id suites[] = {SUITE_AES256GCM, SUITE_XCHACHA20POLY1305};

	if (sodium_init() < 0)
		return 1;
	printf("| operation  | cipher            |     MB/s |  us/call |\n");
	printf("|------------|-------------------|---------:|---------:|\n");
	for (size_t i = 0; i < sizeof(suites) / sizeof(suites[0]); i++) {
		if (!suite_available(suites[i])) {
			printf("| (skipped)  | %-17s | unavailable on this cpu |\n",
			       suite_name(suites[i]));
			continue;
		}
		if (bench_chunks(suites[i]) != 0)
			return 1;
	}
	if (bench_meta() != 0 || bench_dirobj() != 0)
		return 1;
	printf("\nchunk: one %u-byte chunk per call; meta: one %u-byte object per call;\n"
	       "dir: one directory object of %d entries per call.\n",
	       CHUNK_PLAIN_BYTES, BENCH_META_BYTES, BENCH_DIR_ENTRIES);
	return 0;
}
