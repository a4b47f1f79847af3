/* commit_journal.c - phase 1's second half: making a sealed commit durable
 * in the cache as one journal record with as few flushes as possible
 * (docs/INTERNALS.md, "Commit"): the queue of new segments (small ones read
 * while content_commit holds them open), small new segments copied into the record,
 * larger ones fdatasync'ed (or one syncfs for many), then the record written
 * into a free slot and fdatasync'ed. It must never write a record that lists
 * an object not yet durable in the cache, and never log a name or a key. */
#include "commit_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fault.h"
#include "fdio.h"
#include "hex.h"
#include "journal.h"
#include "log.h"
#include "seal.h"
#include "upload.h"

/* ---- the queue of new segments ---- */

void commit_upload_free(struct commit *c, struct commit_upload *u)
{
	free(u->path);
	free(u->data);
	free(u->patch);
	c->ups_data -= u->data ? u->len : 0;
	c->ups_patch -= u->patch ? u->patch_len : 0;
	*u = (struct commit_upload){.path = NULL};
}

/* Frees the bytes read ahead for u (it stays queued, to be flushed as a file). */
static void commit_drop_data(struct commit *c, struct commit_upload *u)
{
	if (!u->data)
		return;
	free(u->data);
	u->data = NULL;
	c->ups_data -= u->len;
}

/* Whether inlining small segments would save nothing: the queued segments
 * that the record could not take (larger than COMMIT_INLINE_SEG_MAX, or past
 * COMMIT_INLINE_BUDGET in queue order, by their expected sizes) are
 * COMMIT_SYNCFS_MIN or more, so one syncfs flushes every cache file anyway
 * (a tree extracted at once). The record then carries no segment bytes: no
 * copy of up to COMMIT_INLINE_BUDGET held while the record is written and
 * again while the uploader reads it ("Memory while draining (session 7)"). */
static bool commit_inline_pointless(const struct commit *c)
{
	size_t budget = COMMIT_INLINE_BUDGET, left_out = 0;

	if (c->nups < COMMIT_SYNCFS_MIN)
		return false;
	for (size_t i = 0; i < c->nups && left_out < COMMIT_SYNCFS_MIN; i++) {
		size_t len = c->ups[i].len;
		if (len <= COMMIT_INLINE_SEG_MAX && len <= budget)
			budget -= len;
		else
			left_out++;
	}
	return left_out >= COMMIT_SYNCFS_MIN;
}

/* Reads a small segment's bytes from the fd content_commit holds open, for
 * the journal record (docs/INTERNALS.md, "Commit"): one pread instead of
 * open, fstat, pread, close later. Leaves u->data NULL (the record reads
 * the file by its path) when the segment is too big for the record's
 * budget, or its file is not open or not of the expected size. */
static void commit_read_small(struct commit *c, struct commit_upload *u, int fd, uint64_t len)
{
	unsigned char *data;
	ssize_t got;

	if (fd < 0 || len > COMMIT_INLINE_SEG_MAX || c->ups_data + len > COMMIT_INLINE_BUDGET)
		return;
	data = fault_fire(FAULT_ALLOC) ? NULL : malloc((size_t)len + 1);
	if (!data)
		return;
	/* One byte more than expected: a longer file is left to the path. */
	got = pread(fd, data, (size_t)len + 1, 0);
	if (got != (ssize_t)len) {
		free(data);
		return;
	}
	u->data = data;
	u->len = (size_t)len;
	c->ups_data += (size_t)len;
}

/* Whether key is queued in this commit (not yet in any record). */
static bool commit_queued(const struct commit *c, const uint8_t key[OBJECT_ID_BYTES])
{
	for (size_t i = 0; i < c->nups; i++)
		if (memcmp(c->ups[i].key, key, OBJECT_ID_BYTES) == 0)
			return true;
	return false;
}

/* The chunks of a segment copied on write that a patch would carry (those
 * of the new version marked touched), or 0 when it cannot be one: a chunk
 * left untouched that its base does not have. */
static uint32_t commit_patch_count(const struct content_patch_info *pi, uint64_t *m1)
{
	const struct content_patch *p = pi->p;
	uint64_t a = pi->seg * SEGMENT_CHUNKS;
	uint64_t m0 = p->n0 > a ? p->n0 - a : 0;
	uint32_t n = 0;

	*m1 = pi->n1 > a ? pi->n1 - a : 0;
	*m1 = *m1 < SEGMENT_CHUNKS ? *m1 : SEGMENT_CHUNKS;
	for (uint64_t j = 0; j < *m1; j++) {
		if (p->touched[j / 8] & (1u << (j % 8)))
			n++;
		else if (j >= m0)
			return 0;
	}
	return n;
}

/* Turns u into a patch (docs/INTERNALS.md, "Commit"): when few of its
 * chunks changed since it was copied from a durable base, the record carries
 * the base's key and those chunks, read from the open fd, and the cache file
 * is not flushed (a mount after a crash rebuilds it). Leaves u->patch NULL
 * (the file is flushed as before) otherwise, or on any failure. */
static void commit_read_patch(struct commit *c, struct commit_upload *u, int fd,
			      const struct content_patch_info *pi)
{
	size_t l = chunk_sealed_bytes(c->tree->cctx.suite), len;
	struct journal_patch jp = {.seg = pi->seg, .n1 = pi->n1, .chunk_bytes = (uint32_t)l};
	unsigned char *e, *w;
	uint64_t m1;

	if (fd < 0 || c->no_inline || u->len <= COMMIT_INLINE_SEG_MAX ||
	    commit_queued(c, pi->p->base))
		return;
	jp.nchunks = commit_patch_count(pi, &m1);
	len = JOURNAL_PATCH_HEAD_BYTES + (size_t)jp.nchunks * (4 + l);
	if (jp.nchunks == 0 || jp.nchunks > COMMIT_PATCH_CHUNKS_MAX ||
	    c->ups_patch + len > COMMIT_PATCH_BUDGET)
		return;
	e = fault_fire(FAULT_ALLOC) ? NULL : malloc(len);
	if (!e)
		return;
	memcpy(jp.key, u->key, OBJECT_ID_BYTES);
	memcpy(jp.base, pi->p->base, OBJECT_ID_BYTES);
	memcpy(jp.file_id, pi->file_id, OBJECT_ID_BYTES);
	jp.n0 = pi->p->n0;
	jp.base_created = pi->p->base_created;
	journal_patch_put_head(e, &jp);
	w = e + JOURNAL_PATCH_HEAD_BYTES;
	for (uint32_t j = 0; j < m1; j++) {
		if (!(pi->p->touched[j / 8] & (1u << (j % 8))))
			continue;
		for (int k = 0; k < 4; k++)
			w[k] = (unsigned char)(j >> (8 * k));
		if (fdio_pread_all(fd, w + 4, l, (uint64_t)j * l, NULL) != 0) {
			free(e);
			return;
		}
		w += 4 + l;
	}
	memcpy(u->base, pi->p->base, OBJECT_ID_BYTES);
	u->patch = e;
	u->patch_len = len;
	c->ups_patch += len;
}

int commit_queue_upload(void *arg, const char *key_text, const char *cache_path, int fd,
			uint64_t len, const struct content_patch_info *patch)
{
	struct commit *c = arg;
	struct commit_upload *u;
	size_t klen = strlen(key_text);

	if (klen < 2 * OBJECT_ID_BYTES)
		return -EINVAL;
	if (commit_reserve((void **)&c->ups, &c->ups_cap, c->nups + 1, sizeof(*c->ups)))
		return -ENOMEM;
	u = &c->ups[c->nups];
	*u = (struct commit_upload){.data = NULL};
	if (hex_decode(u->key, OBJECT_ID_BYTES, key_text + klen - 2 * OBJECT_ID_BYTES,
		       2 * OBJECT_ID_BYTES) != 0)
		return -EINVAL;
	u->path = fault_fire(FAULT_ALLOC) ? NULL : strdup(cache_path);
	if (!u->path)
		return -ENOMEM;
	u->len = len > SIZE_MAX ? SIZE_MAX : (size_t)len; /* expected; the bytes decide */
	if (!c->no_inline)
		commit_read_small(c, u, fd, len);
	if (patch && c->tree->cctx.format >= 2)
		commit_read_patch(c, u, fd, patch);
	c->nups++;
	/* commit_inline_pointless's count, kept as the queue grows */
	if (u->len <= COMMIT_INLINE_SEG_MAX && u->len <= COMMIT_INLINE_BUDGET - c->plan_used)
		c->plan_used += u->len;
	else if (++c->plan_out >= COMMIT_SYNCFS_MIN && !c->no_inline) {
		c->no_inline = true; /* from here the segments are flushed as files */
		for (size_t i = 0; i < c->nups; i++) {
			commit_drop_data(c, &c->ups[i]);
			c->ups_patch -= c->ups[i].patch ? c->ups[i].patch_len : 0;
			free(c->ups[i].patch);
			c->ups[i].patch = NULL;
		}
	}
	return 0;
}

/* ---- write-back: the journal record ---- */

/* syncfs() of the file system holding the cache: every file's data and
 * every name on it, in one call. */
static int commit_syncfs(const char *cache_dir)
{
	int fd = open(cache_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), r = 0;

	if (fd < 0)
		return -errno;
	if (syncfs(fd) != 0)
		r = -errno;
	close(fd);
	return r;
}

/* Makes the new segments' cache files durable: data, then names; for many
 * segments (a large file written at once) one syncfs instead of a flush per
 * file and per directory. */
static int commit_sync_segments(struct commit *c)
{
	char text[OBJECT_KEY_TEXT_BYTES];
	uint8_t synced[256 / 8] = {0}; /* CACHE/o/<hh> fsync'ed, by first key byte */

	if (fault_fire(FAULT_CACHE))
		return -EIO;
	if (c->nups >= COMMIT_SYNCFS_MIN)
		return commit_syncfs(c->cache_dir);
	for (size_t i = 0; i < c->nups; i++) {
		const uint8_t *key = c->ups[i].key;
		int fd, r = 0;
		if (c->ups[i].patch)
			continue; /* the record carries it */
		fd = open(c->ups[i].path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return -errno;
		if (fdatasync(fd) != 0)
			r = -errno;
		close(fd);
		if (r == 0 && !(synced[key[0] / 8] & (1u << (key[0] % 8)))) {
			synced[key[0] / 8] |= (uint8_t)(1u << (key[0] % 8));
			object_key_text(text, key);
			r = cache_sync_parent(c->tree->cctx.cache, text);
		}
		if (r)
			return r;
	}
	return 0;
}

/* Reads a segment's cache file into a new buffer when it is at most max
 * bytes: 0 (*data set), 1 (too big: leave it a file), or -errno. */
static int commit_slurp(unsigned char **data, size_t *len, const char *path, size_t max)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC), r = 1;

	*data = NULL;
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) != 0)
		r = -errno;
	else if ((uint64_t)st.st_size <= max) {
		*len = (size_t)st.st_size;
		*data = fault_fire(FAULT_ALLOC) ? NULL : malloc(*len ? *len : 1);
		r = !*data ? -ENOMEM : fdio_pread_all(fd, *data, *len, 0, NULL);
		if (r == -ENODATA)
			r = -EIO; /* shrank under us: never happens to a committed segment */
		if (r < 0) {
			free(*data);
			*data = NULL;
		}
	}
	close(fd);
	return r;
}

/* Moves small new segments into the record itself (docs/INTERNALS.md,
 * "Commit"): their bytes then become durable with the record's one
 * fdatasync, instead of an fdatasync of each file and an fsync of its
 * directory. Up to COMMIT_INLINE_BUDGET bytes per record, segments of at most
 * COMMIT_INLINE_SEG_MAX bytes. A segment's bytes never change after
 * content_commit handed it out, so the copy is exact. */
static int commit_inline_segments(struct commit *c)
{
	size_t budget = COMMIT_INLINE_BUDGET, k = 0;
	int r = 0;

	if (c->no_inline || commit_inline_pointless(c)) {
		for (size_t i = 0; i < c->nups; i++)
			commit_drop_data(c, &c->ups[i]);
		return 0;
	}
	for (size_t i = 0; i < c->nups; i++) {
		struct commit_upload *u = &c->ups[i];
		unsigned char *data = NULL;
		size_t len = 0;
		int s = 1;

		if (u->data && u->len <= budget) { /* read while the file was open */
			data = u->data;
			len = u->len;
			s = 0;
		} else if (r == 0 && budget > 0) {
			s = commit_slurp(&data, &len, u->path,
					 budget < COMMIT_INLINE_SEG_MAX ? budget
									: COMMIT_INLINE_SEG_MAX);
		}
		if (s == 0 && commit_reserve((void **)&c->objs, &c->objs_cap, c->nobjs + 1,
					     sizeof(*c->objs)) != 0) {
			if (data != u->data)
				free(data);
			s = -ENOMEM;
		}
		if (s != 0) {
			if (s < 0)
				r = s;
			c->ups[k++] = *u;
			continue;
		}
		c->objs[c->nobjs++] = (struct commit_object){.data = data, .len = len};
		memcpy(c->objs[c->nobjs - 1].key, u->key, OBJECT_ID_BYTES);
		if (data == u->data) { /* now the object's */
			c->ups_data -= u->len;
			u->data = NULL;
		}
		commit_upload_free(c, u);
		budget -= len;
	}
	c->nups = k;
	return r;
}

static void commit_clear_queues(struct commit *c)
{
	for (size_t i = 0; i < c->nups; i++)
		commit_upload_free(c, &c->ups[i]);
	for (size_t i = 0; i < c->nobjs; i++)
		free(c->objs[i].data);
	c->nups = c->nobjs = c->ngarbage = 0;
}

/* The record's garbage: what the uploader deletes once the head is stored.
 * Format 1: everything the commit stopped referencing; format 2: only what
 * thinning freed (the rest is in the head's garbage list). */
static int commit_write_record(struct commit *c)
{
	const struct history_out *h = &c->hout;
	struct journal_record rec = {
	    .seq = c->seq,
	    .head = c->head,
	    .head_len = c->head_len,
	    .nobjs = c->nobjs + h->nobjs,
	    .nsegs = c->nups,
	    .garbage = (const uint8_t(*)[OBJECT_ID_BYTES])(c->hist ? h->deletes : c->garbage),
	    .ngarbage = c->hist ? h->ndeletes : c->ngarbage};
	uint8_t(*segs)[OBJECT_ID_BYTES] =
	    fault_fire(FAULT_ALLOC) ? NULL : malloc((c->nups ? c->nups : 1) * OBJECT_ID_BYTES);
	unsigned char *dead = malloc((h->ndead ? h->ndead : 1) * JOURNAL_DEAD_BYTES);
	unsigned char *patched = NULL, *patches = NULL;
	int r = -ENOMEM;

	for (size_t i = 0; i < c->nups; i++)
		rec.npatched += c->ups[i].patch != NULL;
	if (rec.npatched) { /* version 3: the patches, in queue order */
		patched = malloc(rec.npatched * JOURNAL_PATCHED_BYTES);
		patches = malloc(c->ups_patch);
		if (!patched || !patches) { /* -ENOMEM below */
			free(segs);
			segs = NULL;
		}
		for (size_t i = 0, k = 0; patched && patches && i < c->nups; i++) {
			const struct commit_upload *u = &c->ups[i];
			if (!u->patch)
				continue;
			memcpy(patched + k * JOURNAL_PATCHED_BYTES, u->key, OBJECT_ID_BYTES);
			memcpy(patched + k++ * JOURNAL_PATCHED_BYTES + OBJECT_ID_BYTES, u->base,
			       OBJECT_ID_BYTES);
			memcpy(patches + rec.patches_len, u->patch, u->patch_len);
			rec.patches_len += u->patch_len;
		}
		rec.patched = patched;
		rec.patches = patches;
	}

	rec.objs = calloc(rec.nobjs ? rec.nobjs : 1, sizeof(*rec.objs));
	if (segs && rec.objs && dead) {
		for (size_t i = 0; i < h->ndead; i++)
			journal_dead_put(dead + i * JOURNAL_DEAD_BYTES, h->dead[i].key,
					 h->dead[i].created);
		rec.dead = dead;
		rec.ndead = h->ndead;
		for (size_t i = 0; i < c->nups; i++)
			memcpy(segs[i], c->ups[i].key, OBJECT_ID_BYTES);
		for (size_t i = 0; i < c->nobjs; i++) {
			memcpy(rec.objs[i].key, c->objs[i].key, OBJECT_ID_BYTES);
			rec.objs[i].data = c->objs[i].data;
			rec.objs[i].len = c->objs[i].len;
		}
		for (size_t i = 0; i < h->nobjs; i++) {
			memcpy(rec.objs[c->nobjs + i].key, h->objs[i].key, OBJECT_ID_BYTES);
			rec.objs[c->nobjs + i].data = h->objs[i].data;
			rec.objs[c->nobjs + i].len = h->objs[i].len;
		}
		rec.segs = (const uint8_t(*)[OBJECT_ID_BYTES])segs;
		r = journal_write(c->journal, &rec);
	}
	free(dead);
	free(segs);
	free(rec.objs);
	free(patched);
	free(patches);
	return r;
}

/* Phase 1's durable half: segments fdatasync'ed, then one journal record;
 * the uploader takes it from there. On failure the queues stay (the next
 * commit's record carries them) and the unwritten head is dropped. */
int commit_journal(struct commit *c)
{
	bool many;
	int r;

	commit_prune(c);
	if (!c->head)
		return 0; /* nothing sealed since the last record */
	r = commit_inline_segments(c);
	if (r == 0)
		r = commit_sync_segments(c);
	if (r == 0)
		r = commit_write_record(c);
	if (r == 0 && c->tree->cctx.format >= 2) /* the next head's parent */
		seal_head_hash(c->tree->head_tmpl.parent, c->head, c->head_len);
	if (c->hist) /* the history follows the record, or forgets this try */
		history_done(c->hist, r == 0);
	history_out_free(&c->hout);
	free(c->head);
	c->head = NULL;
	if (r) {
		log_msg(LOG_ERR, "commit: writing journal record %016" PRIx64 " failed (errno %d)",
			c->seq, -r);
		return -EIO;
	}
	/* A commit of COMMIT_SYNCFS_MIN segments or more (a large file, a tree)
	 * gains nothing from waiting for more records: its round starts at once,
	 * beside what the writer does next (an unmount waits for that round). */
	many = c->nups >= COMMIT_SYNCFS_MIN;
	commit_clear_queues(c);
	c->no_inline = false;
	c->plan_used = c->plan_out = 0;
	if (many)
		upload_kick_now(c->up);
	else
		upload_kick(c->up);
	return 0;
}
