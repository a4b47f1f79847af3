/* content_cold.c - a closed, clean file's content in few bytes (content.h,
 * struct content_cold): its size and segment keys, and the two ways between
 * that and a content_file (thaw for a read or change, freeze after the last
 * close or a commit). A referenced inode of a big vault costs what this
 * keeps. Must never freeze a file with anything a commit or a revert still
 * needs (dirty segments, a snapshot, garbage), and logs nothing. */
#include "content_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define COLD_HOLE ((uint64_t)1 << 63)

uint64_t content_cold_size(const struct content_cold *c) { return c->size_bits & ~COLD_HOLE; }

size_t content_cold_nsegs(const struct content_cold *c)
{
	return content_nsegs_for(content_cold_size(c));
}

const uint8_t *content_cold_key(const struct content_cold *c, size_t s)
{
	size_t n = content_cold_nsegs(c);

	if (n == 1)
		return (c->size_bits & COLD_HOLE) ? NULL : c->key;
	if (!((c->keys + n * OBJECT_ID_BYTES)[s / 8] & (1u << (s % 8))))
		return NULL;
	return c->keys + s * OBJECT_ID_BYTES;
}

void content_cold_free(struct content_cold *c)
{
	if (content_cold_nsegs(c) > 1)
		free(c->keys);
	memset(c, 0, sizeof(*c));
}

/* Fills c (empty) with size and n segments from present[i] / key(i). */
static int cold_fill(struct content_cold *c, uint64_t size, size_t n,
		     bool (*get)(const void *, size_t, uint8_t[OBJECT_ID_BYTES]), const void *src)
{
	uint8_t key[OBJECT_ID_BYTES];

	memset(c, 0, sizeof(*c));
	c->size_bits = size;
	if (n == 1) {
		if (get(src, 0, c->key))
			return 0;
		c->size_bits |= COLD_HOLE;
		memset(c->key, 0, OBJECT_ID_BYTES);
		return 0;
	}
	if (n == 0)
		return 0;
	c->keys = calloc(1, n * OBJECT_ID_BYTES + (n + 7) / 8);
	if (!c->keys)
		return -ENOMEM;
	for (size_t s = 0; s < n; s++) {
		if (!get(src, s, key))
			continue;
		memcpy(c->keys + s * OBJECT_ID_BYTES, key, OBJECT_ID_BYTES);
		(c->keys + n * OBJECT_ID_BYTES)[s / 8] |= (uint8_t)(1u << (s % 8));
	}
	return 0;
}

static bool entry_seg(const void *src, size_t s, uint8_t key[OBJECT_ID_BYTES])
{
	const struct dirobj_entry *e = src;

	memcpy(key, e->segments[s].store_key, OBJECT_ID_BYTES);
	return e->segments[s].present;
}

int content_cold_load(struct content_cold *c, const struct dirobj_entry *e)
{
	memset(c, 0, sizeof(*c));
	if (e->type != DIROBJ_FILE || e->size > CONTENT_SIZE_MAX ||
	    e->nsegments != content_nsegs_for(e->size))
		return -EINVAL;
	return cold_fill(c, e->size, e->nsegments, entry_seg, e);
}

int content_cold_store(const struct content_cold *c, struct dirobj_entry *e)
{
	size_t n = content_cold_nsegs(c);
	struct dirobj_segment *segs = NULL;

	if (n > 0) {
		segs = calloc(n, sizeof(*segs));
		if (!segs)
			return -ENOMEM;
	}
	for (size_t s = 0; s < n; s++) {
		const uint8_t *key = content_cold_key(c, s);

		segs[s].present = key != NULL;
		if (key)
			memcpy(segs[s].store_key, key, OBJECT_ID_BYTES);
	}
	e->size = content_cold_size(c);
	e->segments = segs;
	e->nsegments = n;
	return 0;
}

int content_thaw(struct content_file **out, const uint8_t file_id[OBJECT_ID_BYTES],
		 struct content_cold *c)
{
	struct content_file *f = calloc(1, sizeof(*f));
	size_t n = content_cold_nsegs(c);

	*out = NULL;
	if (!f || segs_resize(f, n) < 0) {
		free(f);
		return -ENOMEM;
	}
	memcpy(f->file_id, file_id, OBJECT_ID_BYTES);
	for (size_t s = 0; s < n; s++) {
		const uint8_t *key = content_cold_key(c, s);

		f->segs[s].present = key != NULL;
		if (key)
			memcpy(f->segs[s].key, key, OBJECT_ID_BYTES);
	}
	f->size = content_cold_size(c);
	content_cold_free(c);
	*out = f;
	return 0;
}

static bool file_seg(const void *src, size_t s, uint8_t key[OBJECT_ID_BYTES])
{
	const struct content_file *f = src;

	memcpy(key, f->segs[s].key, OBJECT_ID_BYTES);
	return f->segs[s].present;
}

/* Nothing a commit or a revert still needs, and no store failure held. */
static bool file_clean(const struct content_file *f)
{
	if (f->snap_valid || f->ngarbage > 0 || content_now_ms() < f->unreachable_until_ms)
		return false;
	for (size_t s = 0; s < f->nsegs; s++)
		if (f->segs[s].dirty)
			return false;
	return true;
}

bool content_freeze(struct content_file **pf, struct content_cold *c)
{
	struct content_file *f = *pf;

	content_idle(f);
	if (!file_clean(f) || cold_fill(c, f->size, f->nsegs, file_seg, f) < 0)
		return false;
	content_release(f);
	free(f->garbage);
	free(f);
	*pf = NULL;
	return true;
}
