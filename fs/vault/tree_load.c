/* tree_load.c - loading a directory: reading its sealed object (and in
 * format 3 its pages) through the cache (a miss fetches it from the store
 * with no lock held), opening it, and turning its entries into child inodes
 * installed under tree_lock unless another thread won the race; and a
 * directory's paged state (dirio.h), kept for its next commit. Must never
 * hold tree_lock while reading, nor log a name: only object ids. */
#include "tree_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dirio.h"
#include "log.h"
#include "meta.h"
#include "seal.h"
#include "tree_cache.h"

/* Makes an inode from a decoded entry, stealing its target and xattrs (the
 * name is copied into the inode). */
int tree_inode_from_entry(struct inode **out, struct dirobj_entry *e)
{
	struct inode *ino = tree_inode_alloc(e->type, e->name, e->name_len);
	int r = 0;

	*out = NULL;
	if (!ino)
		return -ENOMEM;
	memcpy(ino->id, e->id, OBJECT_ID_BYTES);
	ino->mode = e->mode;
	ino->uid = e->uid;
	ino->gid = e->gid;
	ino->atime = e->atime;
	ino->mtime = e->mtime;
	ino->ctime = e->ctime;
	if (e->type == DIROBJ_DIR)
		ino->ds->ref = e->ref;
	if (tree_type_special(e->type))
		ino->rdev = e->rdev;
	if (e->type == DIROBJ_FILE)
		r = content_cold_load(&ino->cold, e);
	if (r) {
		tree_inode_free(ino);
		return r;
	}
	if (e->type == DIROBJ_SYMLINK) {
		ino->target = e->target;
		ino->target_len = e->target_len;
		e->target = NULL;
	}
	ino->xattrs = e->xattrs;
	ino->nxattrs = e->nxattrs;
	e->xattrs = NULL;
	e->nxattrs = 0;
	*out = ino;
	return 0;
}

/* dirio_fetch_fn: a page through the cache. */
static int tree_fetch_page(void *arg, const uint8_t key[OBJECT_ID_BYTES], unsigned char **sealed,
			   size_t *len)
{
	struct tree *t = arg;
	char name[OBJECT_KEY_TEXT_BYTES], hex[33];
	int r;

	object_key_text(name, key);
	r = cache_read_object(t->cctx.cache, name, META_MAX_SEALED_BYTES, sealed, len);
	if (r)
		log_msg(LOG_ERR, "directory page %s: reading it failed (errno %d)",
			log_id(hex, key), -r);
	return r == -ENOENT || r == -EFBIG ? -EIO : r; /* EFBIG: larger than any */
}

/* The same without a log line, for a decode ahead (tree_early.c): only a
 * page already cached is read; the request that needs it reports failures. */
static int tree_fetch_page_quiet(void *arg, const uint8_t key[OBJECT_ID_BYTES],
				 unsigned char **sealed, size_t *len)
{
	struct tree *t = arg;
	char name[OBJECT_KEY_TEXT_BYTES];

	object_key_text(name, key);
	if (!cache_has_object(t->cctx.cache, name))
		return -EAGAIN;
	return cache_read_object(t->cctx.cache, name, META_MAX_SEALED_BYTES, sealed, len) ? -EIO
											  : 0;
}

/* Reads, opens and decodes directory object ref of directory id; quiet: a
 * decode ahead, which reads only what is cached, logs nothing and leaves a
 * damaged object in the cache for the request that needs it to report. */
static int tree_read_dir(struct tree *t, const uint8_t id[OBJECT_ID_BYTES],
			 const struct dirobj_ref *ref, struct dirobj *obj,
			 struct dirio_pages **pages, bool quiet)
{
	const struct dirio_keys k = {t->vault_id, t->meta_key, t->cctx.format};
	char key[OBJECT_KEY_TEXT_BYTES], hex[33];
	unsigned char *sealed = NULL;
	size_t sealed_len;
	int r;

	if (pages)
		*pages = NULL;
	memset(obj, 0, sizeof(*obj));
	object_key_text(key, ref->store_key);
	if (quiet && !cache_has_object(t->cctx.cache, key))
		return -EAGAIN;
	r = cache_read_object(t->cctx.cache, key, META_MAX_SEALED_BYTES, &sealed, &sealed_len);
	if (r && quiet)
		return -EIO;
	if (r) {
		log_msg(LOG_ERR, "directory %s: reading its object failed (errno %d)",
			log_id(hex, id), -r);
		return r == -ENOENT || r == -EFBIG ? -EIO : r; /* EFBIG: larger than any */
	}
	r = dirio_open(obj, pages, &k, sealed, sealed_len, id, ref,
		       quiet ? tree_fetch_page_quiet : tree_fetch_page, t);
	free(sealed);
	if (r == -EBADMSG && !quiet) {
		/* The object or one of its pages: each is fetched again next time
		 * only once dropped; a page's key is not known here, so the
		 * object goes and a damaged page stays an error (fsck names it). */
		log_msg(LOG_ERR, "directory %s: object failed to authenticate", log_id(hex, id));
		cache_drop_object(t->cctx.cache, key);
	}
	return r;
}

int tree_read_dir_pages(struct tree *t, const uint8_t id[OBJECT_ID_BYTES],
			const struct dirobj_ref *ref, struct dirobj *obj,
			struct dirio_pages **pages)
{
	return tree_read_dir(t, id, ref, obj, pages, false);
}

int tree_read_dirobj(struct tree *t, const uint8_t id[OBJECT_ID_BYTES],
		     const struct dirobj_ref *ref, struct dirobj *obj)
{
	return tree_read_dir_pages(t, id, ref, obj, NULL);
}

void tree_pages_set_locked(struct inode *dir, struct dirio_pages *pages)
{
	dirio_pages_free(dir->ds->pages);
	dir->ds->pages = pages;
}

static bool tree_same_ref(const struct dirobj_ref *a, const struct dirobj_ref *b)
{
	return a->version == b->version && memcmp(a->store_key, b->store_key, OBJECT_ID_BYTES) == 0;
}

const struct dirio_pages *tree_pages_of_locked(const struct inode *dir)
{
	const struct dirio_pages *p = dir->ds->pages;

	return p && tree_same_ref(&p->ref, &dir->ds->ref) ? p : NULL;
}

bool tree_pages_cached_locked(struct tree *t, const struct inode *dir)
{
	const struct dirio_pages *p = tree_pages_of_locked(dir);
	char key[OBJECT_KEY_TEXT_BYTES];

	for (size_t s = 0; p && s < p->nslots; s++) {
		if (!p->slots[s].present)
			continue;
		object_key_text(key, p->slots[s].ref.store_key);
		if (!cache_has_object(t->cctx.cache, key))
			return false;
	}
	return true;
}

void tree_pages_garbage_locked(struct tree *t, struct inode *dir)
{
	const struct dirio_pages *p = tree_pages_of_locked(dir);

	for (size_t s = 0; p && s < p->nslots; s++)
		if (p->slots[s].present)
			tree_add_garbage_locked(t, p->slots[s].ref.store_key,
						p->slots[s].ref.created);
}

/* Turns every entry of obj into an inode; *kids is new. */
static int tree_build_children(struct dirobj *obj, struct inode ***kids)
{
	struct inode **k = calloc(obj->nentries ? obj->nentries : 1, sizeof(*k));
	int r = 0;

	*kids = NULL;
	if (!k)
		return -ENOMEM;
	for (size_t i = 0; i < obj->nentries && r == 0; i++)
		r = tree_inode_from_entry(&k[i], &obj->entries[i]);
	if (r) {
		for (size_t i = 0; i < obj->nentries; i++)
			if (k[i])
				tree_inode_free(k[i]);
		free(k);
		return r;
	}
	*kids = k;
	return 0;
}

/* Puts loaded children into dir unless another thread did first; *pages
 * (dir's paged state) is taken when they go in. */
static int tree_install_children(struct tree *t, struct inode *dir, struct inode **kids, size_t n,
				 struct dirio_pages **pages)
{
	bool won;
	int r = 0;

	pthread_mutex_lock(&t->lock);
	won = !dir->ds->loaded;
	if (won && n > 0)
		r = tree_table_reserve(t, dir, n); /* then no insert fails */
	if (won && r == 0)
		r = tree_links_resolve_locked(t, kids, n);
	if (won && r == 0) {
		bool was_busy = tree_cache_busy(dir);
		dir->ds->nsubdirs = 0; /* counted again, by the inserts */
		for (size_t i = 0; i < n; i++)
			tree_table_insert(t, dir, kids[i]);
		dir->ds->loaded = true;
		dir->ds->sub_known = true;
		tree_pages_set_locked(dir, *pages);
		*pages = NULL;
		t->ninodes += n;
		tree_cache_changed_locked(t, dir, was_busy);
		tree_cache_touch_locked(t, dir);
		tree_cache_trim_locked(t);
	}
	pthread_mutex_unlock(&t->lock);
	if (!won || r)
		for (size_t i = 0; i < n; i++)
			tree_inode_free(kids[i]);
	return r;
}

int tree_decode_dir(struct tree *t, const uint8_t id[OBJECT_ID_BYTES], const struct dirobj_ref *ref,
		    bool quiet, struct tree_decoded *out)
{
	struct dirobj obj;
	int r;

	memset(out, 0, sizeof(*out));
	r = tree_read_dir(t, id, ref, &obj, &out->pages, quiet);
	if (r)
		return r;
	r = tree_build_children(&obj, &out->kids);
	out->n = r == 0 ? obj.nentries : 0;
	dirobj_release(&obj);
	if (r) {
		dirio_pages_free(out->pages);
		out->pages = NULL;
	}
	return r;
}

void tree_decoded_free(struct tree_decoded *d)
{
	for (size_t i = 0; d->kids && i < d->n; i++)
		if (d->kids[i])
			tree_inode_free(d->kids[i]);
	free(d->kids);
	dirio_pages_free(d->pages);
	memset(d, 0, sizeof(*d));
}

int tree_load_dir(struct tree *t, struct inode *dir)
{
	struct tree_decoded d;
	struct dirobj_ref ref;
	bool loaded;
	int r;

	if (dir->type != DIROBJ_DIR)
		return -ENOTDIR;
	pthread_mutex_lock(&t->lock);
	loaded = dir->ds->loaded;
	ref = dir->ds->ref;
	pthread_mutex_unlock(&t->lock);
	if (loaded)
		return 0;
	/* Decoded ahead from the very same object (tree_early.c), or here. */
	r = tree_early_take(t->early, dir->id, &ref, &d)
		? 0
		: tree_decode_dir(t, dir->id, &ref, false, &d);
	if (r == 0) {
		r = tree_install_children(t, dir, d.kids, d.n, &d.pages);
		free(d.kids); /* the inodes are installed or were freed */
		d.kids = NULL;
		tree_decoded_free(&d);
	}
	if (r) {
		/* Another thread may have loaded (and changed) it meanwhile. */
		pthread_mutex_lock(&t->lock);
		loaded = dir->ds->loaded;
		pthread_mutex_unlock(&t->lock);
		if (loaded)
			r = 0;
	}
	return r;
}
