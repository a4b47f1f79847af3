/* upload_put.c - putting one object of a journal record into the store
 * (upload_int.h), for the uploader's threads: from the bytes in memory, or
 * from the record's slot file when the round read the record without its
 * objects' bytes (journal_read_lean), and counting what the store took. It
 * must never store bytes other than the record's, and never log names or
 * contents (store keys are random and may be logged). */
#include "upload_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "journal.h"
#include "log.h"

/* upload_put_object once a local store found no cache copy to link: the
 * copy is written, then linked (or, when it cannot be written, the bytes
 * put as they are). */
static int upload_put_uncached(struct upload *u, const char *text, const char *path,
			       const unsigned char *data, size_t len)
{
	struct backend *s = u->store;

	if (cache_write_object(u->cache, text, data, len) == 0)
		return s->ops->put_file(s, text, path);
	return backend_put(s, text, data, len);
}

/* Commits do not write the cache copies of their objects themselves: an
 * object that a later pending commit replaced is never written anywhere. A
 * local store links the cache copy (which may exist already: an inlined
 * segment, or the replay at mount) instead of writing a second file. */
int upload_put_object(struct upload *u, const char *text, const char *path,
		      const unsigned char *data, size_t len)
{
	struct backend *s = u->store;
	int r;

	if (s->ops->caps & BACKEND_CAP_LOCAL_FS) {
		r = s->ops->put_file(s, text, path);
		return r != -ENOENT ? r : upload_put_uncached(u, text, path, data, len);
	}
	r = backend_put(s, text, data, len);
	if (r == 0 && access(path, F_OK) != 0 && cache_write_object(u->cache, text, data, len) != 0)
		log_msg(LOG_WARNING, "upload: caching %s failed", text);
	return r;
}

int upload_put_lean(struct upload *u, const char *text, const char *path, uint64_t seq,
		    uint64_t off, size_t len)
{
	struct backend *s = u->store;
	bool local = s->ops->caps & BACKEND_CAP_LOCAL_FS;
	unsigned char *data;
	int r;

	/* A local store links the cache copy when there is one (an inlined
	 * segment's); else the bytes are read now, one object per upload
	 * thread at a time. */
	if (local) {
		r = s->ops->put_file(s, text, path);
		if (r != -ENOENT)
			return r;
	}
	r = journal_read_object(u->journal, seq, off, len, &data);
	if (r == 0)
		r = local ? upload_put_uncached(u, text, path, data, len)
			  : upload_put_object(u, text, path, data, len);
	free(data);
	return r;
}

/* Counts bytes the store took, for upload_stats. Takes the lock. */
void upload_count(struct upload *u, uint64_t bytes)
{
	int64_t now = upload_now_s(CLOCK_MONOTONIC);
	size_t slot = (size_t)(now % UPLOAD_RATE_WINDOW_S);

	pthread_mutex_lock(&u->lock);
	if (u->rate_sec[slot] != now) {
		u->rate_sec[slot] = now;
		u->rate_bytes[slot] = 0;
	}
	u->rate_bytes[slot] += bytes;
	u->sent_bytes += bytes;
	pthread_mutex_unlock(&u->lock);
}

/* Adds key to t (room for it is there); whether it was not in t yet. */
static bool upload_taken_insert(struct upload_taken *t, const uint8_t key[OBJECT_ID_BYTES])
{
	size_t mask = t->cap - 1, i;
	uint64_t h;

	memcpy(&h, key, sizeof(h));
	for (i = (size_t)h & mask; t->slot[i].used; i = (i + 1) & mask)
		if (memcmp(t->slot[i].key, key, OBJECT_ID_BYTES) == 0)
			return false;
	memcpy(t->slot[i].key, key, OBJECT_ID_BYTES);
	t->slot[i].used = true;
	t->n++;
	return true;
}

/* Whether the store took key for the first time since the last good round:
 * adds it to u->taken (lock held), an open-addressed table at most half
 * full (keys are random: their first bytes are the hash). Without memory
 * to grow it, every object counts as new: the drain then keeps retrying
 * rather than give up on a store that may still take objects. */
static bool upload_taken_add(struct upload *u, const uint8_t key[OBJECT_ID_BYTES])
{
	struct upload_taken *t = &u->taken;

	if (2 * (t->n + 1) > t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 256;
		struct upload_taken g = {.slot = calloc(cap, sizeof(*g.slot)), .cap = cap};

		if (!g.slot)
			return true;
		for (size_t i = 0; i < t->cap; i++)
			if (t->slot[i].used)
				upload_taken_insert(&g, t->slot[i].key);
		free(t->slot);
		*t = g;
	}
	return upload_taken_insert(t, key);
}

void upload_taken_clear(struct upload *u)
{
	free(u->taken.slot);
	u->taken = (struct upload_taken){0};
}

/* Counts an object the store took. It is progress (upload_drain) when the
 * store had not taken it since the last good round: a retry puts the same
 * objects again, and a store that takes them but fails the head would
 * otherwise never count as failing; parallel puts into a nearly full store
 * fail in varying order, so a failed round may store fewer objects than
 * the one before and still store new ones. */
void upload_count_object(struct upload *u, const uint8_t key[OBJECT_ID_BYTES])
{
	pthread_mutex_lock(&u->lock);
	u->put_objects++;
	if (upload_taken_add(u, key))
		clock_gettime(CLOCK_MONOTONIC, &u->progress);
	pthread_mutex_unlock(&u->lock);
}
