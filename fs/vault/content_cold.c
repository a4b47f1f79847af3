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

/* What every closed file the kernel references costs: created seqs must
 * not grow it (docs/INTERNALS.md, "In memory"). */
_Static_assert(sizeof(struct content_cold) == 24, "content_cold stays 24 bytes");
_Static_assert(CONTENT_SIZE_MAX < ((uint64_t)1 << 45), "the size fits bits 0..44");

#define COLD_HOLE ((uint64_t)1 << 63)
#define COLD_SIZE_MASK (((uint64_t)1 << 45) - 1)
#define COLD_C_SHIFT 45
#define COLD_C_MASK ((uint64_t)0x3ffff) /* 18 bits */
/* The 18-bit field's value that says: keys is malloc'ed and holds the
 * created seqs (one segment whose created does not fit, or several of which
 * one is not 0). Several segments with the field 0: no created array. */
#define COLD_C_FULL COLD_C_MASK

static uint64_t cold_field(const struct content_cold *c)
{
	return (c->size_bits >> COLD_C_SHIFT) & COLD_C_MASK;
}

uint64_t content_cold_size(const struct content_cold *c) { return c->size_bits & COLD_SIZE_MASK; }

size_t content_cold_nsegs(const struct content_cold *c)
{
	return content_nsegs_for(content_cold_size(c));
}

/* keys is malloc'ed (not the inline key). */
static bool cold_out_of_line(const struct content_cold *c, size_t n)
{
	return n > 1 || (n == 1 && cold_field(c) == COLD_C_FULL);
}

static const uint8_t *cold_bits(const struct content_cold *c, size_t n)
{
	return c->keys + n * OBJECT_ID_BYTES + (cold_field(c) == COLD_C_FULL ? n * 8 : 0);
}

const uint8_t *content_cold_key(const struct content_cold *c, size_t s)
{
	size_t n = content_cold_nsegs(c);

	if (!cold_out_of_line(c, n))
		return (c->size_bits & COLD_HOLE) ? NULL : c->key;
	if (!(cold_bits(c, n)[s / 8] & (1u << (s % 8))))
		return NULL;
	return c->keys + s * OBJECT_ID_BYTES;
}

uint64_t content_cold_created(const struct content_cold *c, size_t s)
{
	size_t n = content_cold_nsegs(c);
	uint64_t v;

	if (!cold_out_of_line(c, n))
		return cold_field(c);
	if (cold_field(c) != COLD_C_FULL)
		return 0;
	memcpy(&v, c->keys + n * OBJECT_ID_BYTES + s * 8, sizeof(v));
	return v;
}

void content_cold_free(struct content_cold *c)
{
	if (cold_out_of_line(c, content_cold_nsegs(c)))
		free(c->keys);
	memset(c, 0, sizeof(*c));
}

/* Reads segment s of a source: true and its key and created when present. */
typedef bool (*cold_get_fn)(const void *src, size_t s, uint8_t key[OBJECT_ID_BYTES],
			    uint64_t *created);

/* Whether n segments need the created array (or, one, the escape). */
static bool cold_needs_full(size_t n, cold_get_fn get, const void *src)
{
	uint8_t key[OBJECT_ID_BYTES];
	uint64_t created;

	for (size_t s = 0; s < n; s++) {
		if (!get(src, s, key, &created) || created == 0)
			continue;
		if (n > 1 || created >= COLD_C_FULL)
			return true;
	}
	return false;
}

static int cold_fill_keys(struct content_cold *c, size_t n, bool full, cold_get_fn get,
			  const void *src)
{
	uint8_t key[OBJECT_ID_BYTES], *bits;
	uint64_t created;

	c->keys = calloc(1, n * OBJECT_ID_BYTES + (full ? n * 8 : 0) + (n + 7) / 8);
	if (!c->keys)
		return -ENOMEM;
	if (full)
		c->size_bits |= COLD_C_FULL << COLD_C_SHIFT;
	bits = (uint8_t *)cold_bits(c, n);
	for (size_t s = 0; s < n; s++) {
		if (!get(src, s, key, &created))
			continue;
		memcpy(c->keys + s * OBJECT_ID_BYTES, key, OBJECT_ID_BYTES);
		if (full)
			memcpy(c->keys + n * OBJECT_ID_BYTES + s * 8, &created, 8);
		bits[s / 8] |= (uint8_t)(1u << (s % 8));
	}
	return 0;
}

/* Fills c (empty) with size and n segments from get. */
static int cold_fill(struct content_cold *c, uint64_t size, size_t n, cold_get_fn get,
		     const void *src)
{
	bool full = cold_needs_full(n, get, src);
	uint64_t created = 0;

	memset(c, 0, sizeof(*c));
	c->size_bits = size;
	if (n == 0)
		return 0;
	if (n > 1 || full)
		return cold_fill_keys(c, n, full, get, src);
	if (!get(src, 0, c->key, &created)) {
		c->size_bits |= COLD_HOLE;
		memset(c->key, 0, OBJECT_ID_BYTES);
		return 0;
	}
	c->size_bits |= created << COLD_C_SHIFT; /* below COLD_C_FULL: fits */
	return 0;
}

static bool entry_seg(const void *src, size_t s, uint8_t key[OBJECT_ID_BYTES], uint64_t *created)
{
	const struct dirobj_entry *e = src;

	memcpy(key, e->segments[s].store_key, OBJECT_ID_BYTES);
	*created = e->segments[s].created;
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
		if (key) {
			memcpy(segs[s].store_key, key, OBJECT_ID_BYTES);
			segs[s].created = content_cold_created(c, s);
		}
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
		if (key) {
			memcpy(f->segs[s].key, key, OBJECT_ID_BYTES);
			f->segs[s].created = content_cold_created(c, s);
		}
	}
	f->size = content_cold_size(c);
	content_cold_free(c);
	*out = f;
	return 0;
}

static bool file_seg(const void *src, size_t s, uint8_t key[OBJECT_ID_BYTES], uint64_t *created)
{
	const struct content_file *f = src;

	memcpy(key, f->segs[s].key, OBJECT_ID_BYTES);
	*created = f->segs[s].created;
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
