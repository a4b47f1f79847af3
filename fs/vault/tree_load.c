/* tree_load.c - loading a directory: reading its sealed object through the
 * cache (a miss fetches it from the store with no lock held), opening it, and
 * turning its entries into child inodes installed under tree_lock unless
 * another thread won the race. Must never hold tree_lock while reading, nor
 * log a name: only object ids. */
#include "tree_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

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

/* Reads, opens and decodes directory object ref of directory id. */
int tree_read_dirobj(struct tree *t, const uint8_t id[OBJECT_ID_BYTES],
		     const struct dirobj_ref *ref, struct dirobj *obj)
{
	char key[OBJECT_KEY_TEXT_BYTES], hex[33];
	unsigned char *sealed = NULL;
	size_t sealed_len;
	int r;

	object_key_text(key, ref->store_key);
	r = cache_read_object(t->cctx.cache, key, META_MAX_SEALED_BYTES, &sealed, &sealed_len);
	if (r) {
		log_msg(LOG_ERR, "directory %s: reading its object failed (errno %d)",
			log_id(hex, id), -r);
		return r == -ENOENT || r == -EFBIG ? -EIO : r; /* EFBIG: larger than any */
	}
	r = seal_open_dir(obj, sealed, sealed_len, id, ref, t->vault_id, t->meta_key,
			  t->cctx.format);
	free(sealed);
	if (r == -EBADMSG) {
		log_msg(LOG_ERR, "directory %s: object failed to authenticate", log_id(hex, id));
		cache_drop_object(t->cctx.cache, key); /* fetch it again next time */
	}
	return r;
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

/* Puts loaded children into dir unless another thread did first. */
static int tree_install_children(struct tree *t, struct inode *dir, struct inode **kids, size_t n)
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

int tree_load_dir(struct tree *t, struct inode *dir)
{
	struct dirobj_ref ref;
	struct dirobj obj;
	struct inode **kids;
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
	r = tree_read_dirobj(t, dir->id, &ref, &obj);
	if (r == 0) {
		r = tree_build_children(&obj, &kids);
		if (r == 0)
			r = tree_install_children(t, dir, kids, obj.nentries);
		free(kids);
		dirobj_release(&obj);
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
