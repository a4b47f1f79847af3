/* fsck_seg.c - checking content segments for the vault checker: a batch of
 * segments is fetched and opened by a few threads at once (the store calls
 * and the chunk opens are thread-safe), then reported in order from the
 * calling thread. A segment is damaged when its size is not the one its
 * file's size implies or a chunk fails to authenticate; missing when the
 * store has no object. Must never report a store error as damage, and never
 * keep plaintext beyond the one chunk buffer each thread wipes. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cache.h"
#include "errbuf.h"
#include "fsck_int.h"

#define FSCK_BATCH_ITEMS 256u /* segments per batch (a thread holds one at a time) */

enum fsck_seg_status {
	FSCK_SEG_OK,
	FSCK_SEG_MISSING,
	FSCK_SEG_SIZE, /* got bytes, not the expected size */
	FSCK_SEG_AUTH, /* chunk bad_chunk failed to authenticate */
	FSCK_SEG_ERR,  /* a store error (err): stops the check */
};

struct fsck_seg_file {
	char *path; /* owned */
	size_t path_len;
	uint8_t id[OBJECT_ID_BYTES];
	uint64_t size;
	uint64_t serial;
};

struct fsck_seg_item {
	size_t file; /* index into the batch's files */
	uint64_t seg;
	uint8_t key[OBJECT_ID_BYTES];
	bool own_key; /* format 2, created != 0: sealed under its own key */
	uint64_t expected;
	/* results */
	enum fsck_seg_status status;
	uint64_t got;
	uint64_t bad_chunk;
	int err;
};

struct fsck_batch {
	struct fsck_seg_file *files;
	size_t nfiles;
	struct fsck_seg_item items[FSCK_BATCH_ITEMS];
	size_t n;
	/* while running */
	struct fsck *f;
	atomic_size_t next;
};

struct fsck_batch *fsck_batch_new(void)
{
	struct fsck_batch *b = calloc(1, sizeof(*b));

	if (b)
		b->files = calloc(FSCK_BATCH_ITEMS, sizeof(*b->files));
	if (b && !b->files) {
		free(b);
		b = NULL;
	}
	return b;
}

static void fsck_batch_drop_files(struct fsck_batch *b, size_t keep_last)
{
	size_t last = b->nfiles - 1;

	for (size_t i = 0; i + keep_last < b->nfiles; i++)
		free(b->files[i].path);
	if (keep_last && last > 0)
		b->files[0] = b->files[last];
	b->nfiles = keep_last;
}

void fsck_batch_free(struct fsck_batch *b)
{
	if (!b)
		return;
	fsck_batch_drop_files(b, 0);
	free(b->files);
	free(b);
}

/* ---- checking one segment (any thread) ---- */

static void fsck_seg_open(struct fsck *f, const struct fsck_seg_file *file,
			  struct fsck_seg_item *it, const unsigned char *data)
{
	unsigned char plain[CHUNK_PLAIN_BYTES];
	uint64_t chunks = chunk_file_chunks(file->size);
	struct chunk_ad ad = {.index = 0};
	struct chunk_key *key =
	    it->own_key
		? chunk_key_new_segment(f->pool, f->cfg->suite, f->keys->content, file->id, it->key)
		: chunk_key_new(f->pool, f->cfg->suite, f->keys->content, file->id);

	if (!key) {
		it->status = FSCK_SEG_ERR;
		it->err = ENOMEM;
		return;
	}
	memcpy(ad.vault_id, f->cfg->vault_id, OBJECT_ID_BYTES);
	memcpy(ad.file_id, file->id, OBJECT_ID_BYTES);
	memcpy(ad.segment_key, it->key, OBJECT_ID_BYTES);
	for (uint64_t j = 0; j * f->chunk_len < it->got; j++) {
		ad.index = it->seg * SEGMENT_CHUNKS + j;
		ad.last = ad.index + 1 == chunks;
		if (chunk_open(plain, data + j * f->chunk_len, &ad, key) != 0) {
			it->status = FSCK_SEG_AUTH;
			it->bad_chunk = ad.index;
			break;
		}
	}
	sodium_memzero(plain, sizeof(plain));
	chunk_key_free(key);
}

static void fsck_seg_check(struct fsck *f, const struct fsck_seg_file *file,
			   struct fsck_seg_item *it)
{
	char name[OBJECT_KEY_TEXT_BYTES];
	unsigned char *data = NULL;
	size_t len = 0;
	int r;

	object_key_text(name, it->key);
	it->status = FSCK_SEG_OK;
	if (f->o->quick) {
		r = f->store->ops->head(f->store, name, &it->got);
	} else {
		r = backend_get(f->store, name, 0, 0, &data, &len);
		it->got = len;
	}
	if (r == -ENOENT) {
		it->status = FSCK_SEG_MISSING;
	} else if (r) {
		it->status = FSCK_SEG_ERR;
		it->err = -r;
	} else if (it->got != it->expected) {
		it->status = FSCK_SEG_SIZE;
	} else if (data) {
		fsck_seg_open(f, file, it, data);
	}
	free(data);
}

static void *fsck_seg_worker(void *arg)
{
	struct fsck_batch *b = arg;
	size_t i;

	while ((i = atomic_fetch_add(&b->next, 1)) < b->n)
		fsck_seg_check(b->f, &b->files[b->items[i].file], &b->items[i]);
	return NULL;
}

/* Runs every item on this thread and up to threads - 1 others. */
static void fsck_batch_run(struct fsck *f, struct fsck_batch *b)
{
	unsigned want = f->o->threads ? f->o->threads : FSCK_THREADS_DEFAULT, started = 0;
	pthread_t tid[FSCK_THREADS_MAX];

	if (want > FSCK_THREADS_MAX)
		want = FSCK_THREADS_MAX;
	b->f = f;
	atomic_store(&b->next, 0);
	while (started + 1 < want && started + 1 < b->n &&
	       pthread_create(&tid[started], NULL, fsck_seg_worker, b) == 0)
		started++;
	fsck_seg_worker(b); /* without threads, this thread does it all */
	for (unsigned i = 0; i < started; i++)
		pthread_join(tid[i], NULL);
}

/* ---- reporting, in order, on the calling thread ---- */

static int fsck_seg_report(struct fsck *f, const struct fsck_seg_file *file,
			   const struct fsck_seg_item *it)
{
	char name[OBJECT_KEY_TEXT_BYTES], what[48], why[96] = "";

	object_key_text(name, it->key);
	if (it->status == FSCK_SEG_ERR)
		return errbuf_fail(f->err, f->err_size, -it->err, "reading %s: %s", name,
				   strerror(it->err));
	f->res->n.segments++;
	f->res->n.stored_bytes += it->status == FSCK_SEG_MISSING ? 0 : it->got;
	if (it->status == FSCK_SEG_OK)
		return 0;
	snprintf(what, sizeof(what), "segment %" PRIu64, it->seg);
	if (it->status == FSCK_SEG_SIZE)
		snprintf(why, sizeof(why), "%" PRIu64 " bytes, expected %" PRIu64, it->got,
			 it->expected);
	else if (it->status == FSCK_SEG_AUTH)
		snprintf(why, sizeof(why), "failed to authenticate at chunk %" PRIu64,
			 it->bad_chunk);
	fsck_report(f, it->status == FSCK_SEG_MISSING ? FSCK_MISSING : FSCK_DAMAGED, file->path,
		    file->path_len, what, why, name);
	if (f->old_head)
		return 0; /* a retained head's damage: reported, not for repair */
	return fsck_damage_note(f, file->path, file->path_len, false, file->serial, it->seg);
}

static int fsck_batch_finish(struct fsck *f, struct fsck_batch *b, size_t keep_last)
{
	int r = 0;

	if (b->n)
		fsck_batch_run(f, b);
	for (size_t i = 0; r == 0 && i < b->n; i++)
		r = fsck_seg_report(f, &b->files[b->items[i].file], &b->items[i]);
	b->n = 0;
	fsck_batch_drop_files(b, b->nfiles ? keep_last : 0);
	fsck_tick(f, false);
	return r;
}

int fsck_batch_flush(struct fsck *f, struct fsck_batch *b) { return fsck_batch_finish(f, b, 0); }

int fsck_batch_add_file(struct fsck *f, struct fsck_batch *b, const char *path, size_t path_len,
			const struct dirobj_entry *e)
{
	struct fsck_seg_file *file;
	int r = 0;

	if (b->nfiles == FSCK_BATCH_ITEMS && (r = fsck_batch_flush(f, b)) != 0)
		return r;
	file = &b->files[b->nfiles];
	file->path = malloc(path_len + 1);
	if (!file->path)
		return -ENOMEM;
	memcpy(file->path, path, path_len + 1);
	file->path_len = path_len;
	memcpy(file->id, e->id, OBJECT_ID_BYTES);
	file->size = e->size;
	file->serial = ++f->serial;
	b->nfiles++;
	for (size_t s = 0; r == 0 && s < e->nsegments; s++) {
		struct fsck_seg_item *it;

		if (!e->segments[s].present)
			continue;
		if (f->old_head && fsck_keyset_has(&f->reach, e->segments[s].store_key))
			continue; /* checked with a newer head */
		if (fsck_keyset_add(&f->reach, e->segments[s].store_key))
			return -ENOMEM;
		if (b->n == FSCK_BATCH_ITEMS && (r = fsck_batch_finish(f, b, 1)) != 0)
			return r;
		it = &b->items[b->n++];
		memset(it, 0, sizeof(*it));
		it->file = b->nfiles - 1;
		it->seg = s;
		memcpy(it->key, e->segments[s].store_key, OBJECT_ID_BYTES);
		it->own_key = e->segments[s].created != 0; /* docs/FORMAT.md, "Keys" */
		it->expected = chunk_segment_stored_bytes(f->cfg->suite, e->size, s);
	}
	return r;
}
