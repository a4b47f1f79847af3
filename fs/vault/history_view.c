/* history_view.c - the retained heads of a format-2 vault read from its
 * store, and paths followed by name in them (history_view.h). Directory
 * objects along a path are kept one per depth: consecutive heads mostly
 * share their ancestors (copy on write changes only the changed path), so a
 * walk over many heads reads each shared directory object once. Must never
 * write to the store, log a name, or return an entry it did not open and
 * authenticate. */
#include "history_view.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "dirio.h"
#include "history.h"
#include "history_view_int.h"
#include "seal.h"

#define HISTORY_VIEW_PAGES_MAX (1u << 24) /* longer than any history: a loop */

/* Appends a copy of head (moved: *head is zeroed) to v->heads. */
static int history_view_add(struct history_view *v, struct dirobj_head *head)
{
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 16;
		struct dirobj_head *nh = realloc(v->heads, cap * sizeof(*nh));
		if (!nh)
			return -ENOMEM;
		v->heads = nh;
		v->cap = cap;
	}
	v->heads[v->n++] = *head;
	memset(head, 0, sizeof(*head));
	return 0;
}

/* Every head record one page lists, in its order (newest first). */
static int history_view_page(struct history_view *v, const struct histobj_page *p)
{
	int r = 0;

	for (size_t i = 0; r == 0 && i < p->n; i++) {
		struct dirobj_head rec;
		r = history_read_record(&rec, &p->entries[i].rec, p->entries[i].size, &v->io);
		if (r == 0 && rec.seq != p->entries[i].seq)
			r = -EBADMSG; /* a record under another seq than its entry says */
		if (r == 0)
			r = history_view_add(v, &rec);
		dirobj_head_release(&rec);
	}
	return r;
}

static int history_view_load(struct history_view *v)
{
	struct dirobj_ref ref = v->heads[0].history;
	bool more = v->heads[0].has_history;
	uint64_t pages = 0;
	int r = 0;

	while (r == 0 && more) {
		struct histobj_page p;
		if (++pages > HISTORY_VIEW_PAGES_MAX)
			return -EBADMSG;
		r = history_read_page(&p, &ref, &v->io);
		if (r == 0) {
			r = history_view_page(v, &p);
			more = p.has_next;
			ref = p.next;
			histobj_page_release(&p);
		}
	}
	return r;
}

int history_view_open(struct history_view **out, struct backend *store,
		      const struct vault_config *cfg, const struct vault_keys *keys)
{
	struct history_view *v;
	struct dirobj_head head;
	int r;

	*out = NULL;
	if (cfg->format < 2)
		return -EPERM;
	v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	v->store = store;
	v->cfg = cfg;
	v->keys = keys;
	history_io_store(&v->io, store, cfg->vault_id, keys->meta);
	r = seal_read_head(&head, store, cfg->vault_id, keys->meta, cfg->format);
	if (r == 0) {
		r = history_view_add(v, &head);
		if (r)
			dirobj_head_release(&head);
	}
	if (r == 0)
		r = history_view_load(v);
	if (r) {
		history_view_free(v);
		return r;
	}
	*out = v;
	return 0;
}

void history_view_free(struct history_view *v)
{
	if (!v)
		return;
	for (size_t i = 0; i < v->n; i++)
		dirobj_head_release(&v->heads[i]);
	for (size_t i = 0; i < v->nlevels; i++)
		if (v->levels[i].used)
			dirobj_release(&v->levels[i].obj);
	free(v->heads);
	free(v->levels);
	history_view_link_free(v);
	secmem_pool_free(v->pool);
	free(v);
}

size_t history_view_count(const struct history_view *v) { return v->n; }

const struct dirobj_head *history_view_head(const struct history_view *v, size_t i)
{
	return i < v->n ? &v->heads[i] : NULL;
}

int history_view_open_dir(struct history_view *v, const struct dirobj_entry *dir,
			  struct dirobj *obj)
{
	const struct dirio_keys k = {v->cfg->vault_id, v->keys->meta, v->cfg->format};

	memset(obj, 0, sizeof(*obj));
	if (dir->type != DIROBJ_DIR)
		return -ENOTDIR;
	return dirio_read_store(obj, NULL, &k, v->store, dir->id, &dir->ref); /* pages too */
}

/* The object of directory entry dir at depth d, from the per-depth cache or
 * the store. */
static int history_view_level(struct history_view *v, size_t d, const struct dirobj_entry *dir,
			      const struct dirobj **obj)
{
	struct history_view_level *l;
	int r;

	if (d >= v->nlevels) {
		struct history_view_level *nl = realloc(v->levels, (d + 1) * sizeof(*nl));
		if (!nl)
			return -ENOMEM;
		memset(nl + v->nlevels, 0, (d + 1 - v->nlevels) * sizeof(*nl));
		v->levels = nl;
		v->nlevels = d + 1;
	}
	l = &v->levels[d];
	if (!l->used || memcmp(l->key, dir->ref.store_key, OBJECT_ID_BYTES) != 0 ||
	    l->version != dir->ref.version) {
		if (l->used)
			dirobj_release(&l->obj);
		l->used = false;
		r = history_view_open_dir(v, dir, &l->obj);
		if (r)
			return r;
		l->used = true;
		memcpy(l->key, dir->ref.store_key, OBJECT_ID_BYTES);
		l->version = dir->ref.version;
	}
	*obj = &l->obj;
	return 0;
}

static const struct dirobj_entry *history_view_find(const struct dirobj *obj, const char *name,
						    size_t len)
{
	for (size_t i = 0; i < obj->nentries; i++)
		if (obj->entries[i].name_len == len && memcmp(obj->entries[i].name, name, len) == 0)
			return &obj->entries[i];
	return NULL;
}

int history_view_lookup(struct history_view *v, size_t i, const char *path,
			const struct dirobj_entry **e)
{
	const struct dirobj_entry *cur;
	size_t depth = 0;

	*e = NULL;
	if (i >= v->n)
		return -EINVAL;
	cur = &v->heads[i].root;
	while (*path) {
		size_t len = strcspn(path, "/");
		const struct dirobj *obj;
		int r;

		if (len == 0) {
			path++;
			continue;
		}
		if (cur->type != DIROBJ_DIR)
			return 0;
		r = history_view_level(v, depth++, cur, &obj);
		if (r)
			return r;
		cur = history_view_find(obj, path, len);
		if (!cur)
			return 0;
		path += len;
	}
	if (cur->type == DIROBJ_HARDLINK) { /* its file's record, as in the tree */
		int r = history_view_resolve(v, i, cur, &cur);
		if (r)
			return r;
	}
	*e = cur;
	return 1;
}

void history_view_sig(uint8_t out[32], const struct dirobj_entry *e)
{
	crypto_generichash_state st;
	uint64_t nums[6] = {(uint64_t)e->type,	     e->mode, e->size, (uint64_t)e->mtime.sec,
			    (uint64_t)e->mtime.nsec, e->rdev};

	crypto_generichash_init(&st, NULL, 0, 32);
	crypto_generichash_update(&st, (const unsigned char *)nums, sizeof(nums));
	if (e->type == DIROBJ_DIR)
		crypto_generichash_update(&st, e->ref.store_key, OBJECT_ID_BYTES);
	for (size_t s = 0; e->type == DIROBJ_FILE && s < e->nsegments; s++) {
		unsigned char present = e->segments[s].present;
		crypto_generichash_update(&st, &present, 1);
		if (present)
			crypto_generichash_update(&st, e->segments[s].store_key, OBJECT_ID_BYTES);
	}
	if (e->type == DIROBJ_SYMLINK && e->target)
		crypto_generichash_update(&st, (const unsigned char *)e->target, e->target_len);
	crypto_generichash_final(&st, out, 32);
}

/* Starts a version (or moves the run's start back to head i). */
static void history_view_note(struct history_version *ver, const struct dirobj_head *h, size_t i,
			      const struct dirobj_entry *e)
{
	ver->head = i;
	ver->seq = h->seq;
	ver->time = h->time;
	memcpy(ver->device_name, h->device_name, sizeof(ver->device_name));
	ver->type = e->type;
	ver->mode = e->mode;
	ver->size = e->size;
	ver->mtime = e->mtime;
}

int history_view_versions(struct history_view *v, const char *path, struct history_version **out,
			  size_t *n)
{
	struct history_version *vers = NULL;
	uint8_t sig[32], prev[32];
	bool prev_found = false;
	size_t nv = 0;
	int r = 0;

	*out = NULL;
	*n = 0;
	for (size_t i = 0; i < v->n; i++) {
		const struct dirobj_entry *e;
		r = history_view_lookup(v, i, path, &e);
		if (r < 0)
			break;
		if (r == 0) {
			prev_found = false;
			continue;
		}
		history_view_sig(sig, e);
		if (!prev_found || memcmp(sig, prev, sizeof(sig)) != 0) {
			struct history_version *nv2 = realloc(vers, (nv + 1) * sizeof(*vers));
			if (!nv2) {
				r = -ENOMEM;
				break;
			}
			vers = nv2;
			memset(&vers[nv], 0, sizeof(vers[nv]));
			vers[nv++].newest = i;
		}
		history_view_note(&vers[nv - 1], &v->heads[i], i, e);
		memcpy(prev, sig, sizeof(prev));
		prev_found = true;
		r = 0;
	}
	if (r < 0) {
		free(vers);
		return r;
	}
	*out = vers;
	*n = nv;
	return 0;
}
