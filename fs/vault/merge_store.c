/* merge_store.c - the uploader's merge hook (merge_store.h): three sealed
 * heads in, the merged head and the objects it needs out. Directory objects
 * are read through the cache (which fetches from the store); conflict copies
 * get their content re-sealed under their new id (a file's chunk key and AD
 * bind its id); new directory objects get fresh random keys, version and
 * "kc" = the merged head's seq, which the committer reserves so no record of
 * this device ever has it. Never writes the store or the tree, never logs a
 * name; plaintext of a copy lives only in a wiped buffer. */
#include "merge_store.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "chunk.h"
#include "commit.h"
#include "dirio.h"
#include "log.h"
#include "merge.h"
#include "merge_gc.h"
#include "merge_hist.h"
#include "merge_itable.h"
#include "meta.h"
#include "seal.h"
#include "tree.h"

struct ms_heads {
	struct dirobj_head b, l, r;
	bool has_base;
	struct merge_itable_side tb, tl, tr; /* their inode tables (merge_itable.h) */
};

/* dirio_fetch_fn: a directory's object or page through the cache. */
static int ms_fetch(void *ctx, const uint8_t key[OBJECT_ID_BYTES], unsigned char **sealed,
		    size_t *len)
{
	struct merge_store *m = ctx;
	char text[OBJECT_KEY_TEXT_BYTES];

	object_key_text(text, key);
	return cache_read_object(m->cache, text, META_MAX_SEALED_BYTES, sealed, len);
}

/* A directory's entries, paged or not (out->pages: its pages, which
 * merge_gc counts with the directory's object). */
static int ms_load(void *ctx, const struct dirobj_entry *e, struct dirobj *out)
{
	struct merge_store *m = ctx;
	const struct dirio_keys k = {m->vault_id, m->meta_key, m->format};
	unsigned char *sealed;
	size_t len;
	int r;

	memset(out, 0, sizeof(*out));
	r = ms_fetch(m, e->ref.store_key, &sealed, &len);
	if (r)
		return r;
	r = dirio_open(out, NULL, &k, sealed, len, e->id, &e->ref, ms_fetch, m);
	free(sealed);
	return r;
}

static int ms_add(void *ctx, const uint8_t key[OBJECT_ID_BYTES], unsigned char *data, size_t len)
{
	struct upload_merge_out *out = ctx;
	struct upload_merge_obj *o = realloc(out->objs, (out->nobjs + 1) * sizeof(*o));

	if (!o) {
		free(data);
		return -ENOMEM;
	}
	out->objs = o;
	o += out->nobjs++;
	memcpy(o->key, key, OBJECT_ID_BYTES);
	o->data = data;
	o->len = len;
	return 0;
}

/* ---- conflict copies: the loser's segments under the copy's id ---- */

struct ms_reseal {
	struct merge_store *m;
	unsigned char *plain; /* one chunk, sodium_malloc'ed */
	size_t sz;	      /* sealed bytes of a chunk */
};

/* The key a segment version is sealed under: the per-segment key when it was
 * made by a format-2 commit (created != 0), else the file's (FORMAT.md). */
static struct chunk_key *ms_key(struct merge_store *m, const uint8_t file[OBJECT_ID_BYTES],
				const uint8_t seg[OBJECT_ID_BYTES], uint64_t created)
{
	if (created)
		return chunk_key_new_segment(m->keys, m->suite, m->content_key, file, seg);
	return chunk_key_new(m->keys, m->suite, m->content_key, file);
}

static int ms_reseal_chunks(struct ms_reseal *rs, const unsigned char *old, unsigned char *fresh,
			    size_t len, struct chunk_ad *from, struct chunk_ad *to, uint64_t first,
			    uint64_t nchunks, uint64_t created, uint64_t seq)
{
	struct chunk_key *kf = ms_key(rs->m, from->file_id, from->segment_key, created);
	struct chunk_key *kt = ms_key(rs->m, to->file_id, to->segment_key, seq);
	int r = kf && kt ? 0 : -ENOMEM;

	for (size_t i = 0; r == 0 && i < len / rs->sz; i++) {
		from->index = to->index = first + i;
		from->last = to->last = from->index + 1 == nchunks;
		r = chunk_open(rs->plain, old + i * rs->sz, from, kf);
		if (r == 0)
			r = chunk_seal(fresh + i * rs->sz, rs->plain, CHUNK_PLAIN_BYTES, to, kt);
	}
	sodium_memzero(rs->plain, CHUNK_PLAIN_BYTES);
	chunk_key_free(kf);
	chunk_key_free(kt);
	return r;
}

static int ms_reseal_seg(struct ms_reseal *rs, struct dirobj_entry *e,
			 const uint8_t source[OBJECT_ID_BYTES], size_t s, uint64_t seq,
			 struct upload_merge_out *out)
{
	struct dirobj_segment *seg = &e->segments[s];
	uint64_t want = chunk_segment_stored_bytes(rs->m->suite, e->size, s);
	char text[OBJECT_KEY_TEXT_BYTES];
	struct chunk_ad from = {0}, to = {0};
	unsigned char *old, *fresh;
	size_t len;
	int r;

	object_key_text(text, seg->store_key);
	r = cache_read_object(rs->m->cache, text, want, &old, &len);
	if (r)
		return r;
	fresh = malloc(len ? len : 1);
	if (!fresh || len != want) {
		free(old);
		free(fresh);
		return fresh ? -EBADMSG : -ENOMEM;
	}
	memcpy(from.vault_id, rs->m->vault_id, OBJECT_ID_BYTES);
	memcpy(from.file_id, source, OBJECT_ID_BYTES);
	memcpy(from.segment_key, seg->store_key, OBJECT_ID_BYTES);
	to = from;
	memcpy(to.file_id, e->id, OBJECT_ID_BYTES);
	randombytes_buf(to.segment_key, OBJECT_ID_BYTES);
	r = ms_reseal_chunks(rs, old, fresh, len, &from, &to, (uint64_t)s * SEGMENT_CHUNKS,
			     chunk_file_chunks(e->size), seg->created,
			     rs->m->format >= 2 ? seq : 0);
	free(old);
	if (r) {
		free(fresh);
		return r;
	}
	memcpy(seg->store_key, to.segment_key, OBJECT_ID_BYTES);
	seg->created = rs->m->format >= 2 ? seq : 0;
	return ms_add(out, seg->store_key, fresh, len);
}

static int ms_reseal(struct merge_store *m, struct dirobj_entry *e,
		     const uint8_t source[OBJECT_ID_BYTES], uint64_t seq,
		     struct upload_merge_out *out)
{
	struct ms_reseal rs = {.m = m, .sz = chunk_sealed_bytes(m->suite)};
	int r = 0;

	rs.plain = sodium_malloc(CHUNK_PLAIN_BYTES);
	if (!rs.plain)
		r = -ENOMEM;
	for (size_t s = 0; r == 0 && s < e->nsegments; s++)
		if (e->segments[s].present)
			r = ms_reseal_seg(&rs, e, source, s, seq, out);
	sodium_free(rs.plain);
	return r;
}

static struct dirobj_entry *ms_find_entry(struct merge_result *res, const struct merge_copy *c)
{
	for (size_t i = 0; i < res->ndirs; i++) {
		struct dirobj *d = &res->dirs[i].dir;

		if (memcmp(d->dir_id, c->dir_id, OBJECT_ID_BYTES) != 0)
			continue;
		for (size_t j = 0; j < d->nentries; j++)
			if (memcmp(d->entries[j].id, c->id, OBJECT_ID_BYTES) == 0)
				return &d->entries[j];
	}
	return NULL;
}

/* ---- sealing the new listings and the head ---- */

/* dirio_sink: a page of a new listing (format 3) goes with the objects. */
static int ms_page(void *arg, const uint8_t key[OBJECT_ID_BYTES], unsigned char *data, size_t len)
{
	return ms_add(arg, key, data, len);
}

static int ms_no_garbage(void *arg, const uint8_t key[OBJECT_ID_BYTES], uint64_t created)
{
	(void)arg, (void)key, (void)created;
	return 0; /* a new listing replaces no paged state: merge_gc lists what R loses */
}

static int ms_seal_dirs(struct merge_store *m, struct merge_result *res, uint64_t seq,
			struct dirobj_ref *refs, struct upload_merge_out *out)
{
	const struct dirio_keys keys = {m->vault_id, m->meta_key, m->format};
	const struct dirio_sink sink = {out, ms_page, ms_no_garbage};

	for (size_t i = 0; i < res->ndirs; i++) {
		struct merge_dir *d = &res->dirs[i];
		struct dirio_pages *pages = NULL;
		unsigned char *sealed;
		size_t len;
		int r;

		for (size_t j = 0; j < d->dir.nentries; j++) {
			size_t k = 0;

			while (d->pending[j] && k < i &&
			       memcmp(res->dirs[k].dir.dir_id, d->dir.entries[j].id,
				      OBJECT_ID_BYTES) != 0)
				k++;
			if (d->pending[j] && k == i)
				return -EINVAL; /* merge.h promises children first */
			if (d->pending[j])
				d->dir.entries[j].ref = refs[k];
		}
		refs[i].version = seq;
		refs[i].created = m->format >= 2 ? seq : 0;
		randombytes_buf(refs[i].store_key, OBJECT_ID_BYTES);
		/* In format 3 a big listing is paged, all pages new (dirio.h). */
		r = dirio_seal(&sealed, &len, &pages, &d->dir, NULL, seq, refs[i].store_key,
			       refs[i].created, &keys, &sink);
		dirio_pages_free(pages);
		if (r == 0)
			r = ms_add(out, refs[i].store_key, sealed, len);
		if (r)
			return r;
	}
	return 0;
}

/* Floor division, as history_thin.c's slots. */
static int64_t ms_slot_of(int64_t t, int64_t g) { return t >= 0 ? t / g : -((-t + g - 1) / g); }

/* M supersedes R as a commit supersedes its own previous head: R is the
 * merged head this mount stored last and both fall in one slot (retain's
 * rule, docs/FORMAT.md "Head records"). */
static bool ms_supersedes(struct merge_store *m, const struct ms_heads *h,
			  const struct upload_merge_req *req, const struct dirobj_head *head)
{
	uint32_t slot = commit_head_slot(m->commit);

	return req->remote_own && slot > 0 && head->time.sec >= h->r.time.sec &&
	       ms_slot_of(head->time.sec, slot) == ms_slot_of(h->r.time.sec, slot);
}

/* The keys of set s into a new array for the uploader. */
static int ms_dead_keys(const struct merge_gc_set *s, uint8_t (**out)[OBJECT_ID_BYTES], size_t *n)
{
	*out = malloc((s->n ? s->n : 1) * OBJECT_ID_BYTES);
	if (!*out)
		return -ENOMEM;
	for (size_t i = 0; i < s->n; i++)
		memcpy((*out)[i], s->a[i].key, OBJECT_ID_BYTES);
	*n = s->n;
	return 0;
}

/* M's garbage and history (merge_gc.c, merge_hist.c), added to out. */
static int ms_seal_hist(struct merge_store *m, const struct ms_heads *h,
			const struct merge_result *res, const struct dirobj_ref *refs,
			const struct upload_merge_req *req, struct dirobj_head *head,
			const struct merge_gc_set *m_table, struct upload_merge_out *out)
{
	struct merge_gc_new fresh = {.dirs = res->dirs, .refs = refs, .n = res->ndirs};
	struct merge_gc_set gone = {0}, seen = {0}, local = {0}, lseen = {0};
	struct merge_hist_dead dead = {0};
	struct history_out ho = {0};
	struct history_io io;
	int r = merge_gc_diff(&h->r.root, &head->root, &fresh, ms_load, m, &gone, &seen);

	if (r == 0) /* the inode tables' pages and records' segments */
		r = merge_itable_gc(&gone, &seen, &h->tr.objs, m_table);
	/* What the local head reaches and M does not: this device's tree still
	 * shows it (and the next merge reads it as its base), so it is listed
	 * for thinning but never deleted at once. */
	if (r == 0)
		r = merge_gc_diff(&h->l.root, &head->root, &fresh, ms_load, m, &local, &lseen);
	if (r == 0)
		r = merge_itable_gc(&local, &lseen, &h->tl.objs, m_table);

	history_io_cache(&io, m->cache, m->vault_id, m->meta_key);
	if (r == 0) {
		struct merge_hist_in in = {.remote = &h->r,
					   .supersede = ms_supersedes(m, h, req, head),
					   .slot = commit_head_slot(m->commit),
					   .seq = head->seq,
					   .gone = &gone,
					   .m_seen = &seen,
					   .local = &local,
					   .fresh = req->fresh,
					   .nfresh = req->nfresh,
					   .io = &io};
		r = merge_hist_seal(head, &in, &ho, &dead);
	}
	if (r == 0)
		r = ms_dead_keys(&dead.now, &out->dead_now, &out->ndead_now);
	merge_gc_set_free(&dead.now);
	for (size_t i = 0; r == 0 && i < ho.nobjs; i++) {
		r = ms_add(out, ho.objs[i].key, ho.objs[i].data, ho.objs[i].len);
		ho.objs[i].data = NULL; /* ms_add owns it now, or freed it */
	}
	history_out_free(&ho);
	merge_gc_set_free(&gone);
	merge_gc_set_free(&seen);
	merge_gc_set_free(&local);
	merge_gc_set_free(&lseen);
	return r;
}

/* The merged head: written by this device on the store's head R, whose
 * history and window it continues (never the local records'), with the
 * merged inode table (R's pages where they did not change). */
static int ms_seal_head(struct merge_store *m, const struct ms_heads *h, struct merge_result *res,
			const struct dirobj_ref *refs, const struct upload_merge_req *req,
			uint64_t seq, struct upload_merge_out *out)
{
	struct dirobj_head head = {0};
	struct merge_gc_set m_table = {0};
	int r = 0;

	seal_head_carry(&head, &h->l); /* this device writes it */
	seal_head_hash(head.parent, req->remote, req->remote_len);
	head.seq = seq;
	head.root = res->root;
	head.has_inodes = h->r.has_inodes; /* no table anywhere: none */
	head.inodes = h->r.inodes;
	tree_now(&head.time);
	out->seq = seq;
	if (res->links)
		r = merge_itable_seal(m, res, &h->tr, seq, &head, ms_add, out, &m_table);
	if (r == 0)
		r = ms_seal_hist(m, h, res, refs, req, &head, &m_table, out);
	merge_gc_set_free(&m_table);
	return r ? r
		 : seal_head(&out->head, &out->head_len, &head, m->vault_id, m->meta_key,
			     m->format);
}

/* ---- the hook ---- */

static int ms_open_heads(struct merge_store *m, const struct upload_merge_req *req,
			 struct ms_heads *h)
{
	int r =
	    seal_open_head(&h->l, req->local, req->local_len, m->vault_id, m->meta_key, m->format);

	if (r == 0)
		r = seal_open_head(&h->r, req->remote, req->remote_len, m->vault_id, m->meta_key,
				   m->format);
	if (r == 0 && req->base) {
		r = seal_open_head(&h->b, req->base, req->base_len, m->vault_id, m->meta_key,
				   m->format);
		h->has_base = r == 0;
	}
	/* Files with several names: the merge reads the three whole tables. */
	if (r == 0)
		r = merge_itable_read(m, &h->l, &h->tl);
	if (r == 0)
		r = merge_itable_read(m, &h->r, &h->tr);
	if (r == 0 && h->has_base && (r = merge_itable_read(m, &h->b, &h->tb)) == -ENOENT) {
		log_msg(LOG_WARNING, "merge: the base's inode table is gone: merging two-way");
		h->has_base = false; /* as for its directory objects (ms_run) */
		r = 0;
	}
	return r;
}

static int ms_merge(struct merge_store *m, struct ms_heads *h, struct merge_result *res)
{
	struct merge_input in = {.base = h->has_base ? &h->b.root : NULL,
				 .local = &h->l.root,
				 .remote = &h->r.root,
				 .local_dev = {.name = h->l.device_name},
				 .remote_dev = {.name = h->r.device_name},
				 .load = ms_load,
				 .ctx = m,
				 .local_it = merge_itable_view(&h->tl),
				 .remote_it = merge_itable_view(&h->tr)};

	if (h->has_base)
		in.base_it = merge_itable_view(&h->tb);
	memcpy(in.local_dev.id, h->l.device, OBJECT_ID_BYTES);
	memcpy(in.remote_dev.id, h->r.device, OBJECT_ID_BYTES);
	return merge_tree(res, &in);
}

static int ms_run(struct merge_store *m, struct commit *c, const struct upload_merge_req *req,
		  struct upload_merge_out *out)
{
	struct ms_heads h = {0};
	struct merge_result res = {0};
	struct dirobj_ref *refs = NULL;
	uint64_t seq = 0;
	int r;

	r = ms_open_heads(m, req, &h);
	if (r == 0)
		r = ms_merge(m, &h, &res);
	if (r == -ENOENT && h.has_base) {
		/* The base's objects are gone from the store and the cache (an
		 * outage longer than the other device kept them): two-way. */
		log_msg(LOG_WARNING,
			"merge: the base's directory objects are gone: merging "
			"two-way (entries both sides hold differently are kept twice)");
		h.has_base = false;
		r = ms_merge(m, &h, &res);
	}
	if (r == 0)
		r = commit_reserve_seq(c, h.r.seq, req->newest, &seq);
	for (size_t i = 0; r == 0 && i < res.ncopies; i++) {
		struct dirobj_entry *e = ms_find_entry(&res, &res.copies[i]);

		r = e ? ms_reseal(m, e, res.copies[i].source_id, seq, out) : -EINVAL;
	}
	if (r == 0 && !(refs = calloc(res.ndirs + 1, sizeof(*refs))))
		r = -ENOMEM;
	if (r == 0)
		r = ms_seal_dirs(m, &res, seq, refs, out);
	if (r == 0 && res.root_pending)
		res.root.ref = refs[res.ndirs - 1];
	if (r == 0)
		r = ms_seal_head(m, &h, &res, refs, req, seq, out);
	out->merged = res.merged;
	out->conflicts = res.conflicts;
	free(refs);
	merge_result_release(&res);
	dirobj_head_release(&h.l);
	dirobj_head_release(&h.r);
	dirobj_head_release(&h.b);
	merge_itable_side_free(&h.tl);
	merge_itable_side_free(&h.tr);
	merge_itable_side_free(&h.tb);
	if (r)
		upload_merge_out_release(out);
	return r;
}

int merge_store_run(void *ctx, const struct upload_merge_req *req, struct upload_merge_out *out)
{
	struct merge_store *m = ctx;
	int r = -EAGAIN;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&m->lock);
	if (m->commit && !m->off)
		r = ms_run(m, m->commit, req, out);
	pthread_mutex_unlock(&m->lock);
	return r;
}

struct merge_store *merge_store_new(const struct merge_store *tmpl)
{
	struct merge_store *m = malloc(sizeof(*m));

	if (!m)
		return NULL;
	*m = *tmpl;
	pthread_mutex_init(&m->lock, NULL);
	m->commit = NULL;
	m->off = false;
	return m;
}

void merge_store_set(struct merge_store *m, struct commit *c)
{
	pthread_mutex_lock(&m->lock);
	m->commit = c;
	pthread_mutex_unlock(&m->lock);
}

void merge_store_off(struct merge_store *m)
{
	if (!m)
		return;
	pthread_mutex_lock(&m->lock);
	m->off = true;
	m->commit = NULL;
	pthread_mutex_unlock(&m->lock);
}

void merge_store_free(struct merge_store *m)
{
	if (!m)
		return;
	pthread_mutex_destroy(&m->lock);
	free(m);
}
