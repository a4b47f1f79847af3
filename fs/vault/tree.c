/* tree.c - the in-memory tree: inodes, directory tables, loading directory
 * objects through the cache, lookup, lifetime and the namespace operations
 * (locks and lifetime rules in tree.h). Must never write to the store nor
 * log a name, a content byte or a key: only object ids. */
#include "tree.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>

#include <sodium.h>

#include "log.h"
#include "meta.h"
#include "seal.h"
#include "tree_cache.h"

/* ---- small helpers ---- */

void tree_now(struct dirobj_time *out)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	out->sec = ts.tv_sec;
	out->nsec = (uint32_t)ts.tv_nsec;
}

uint64_t tree_ino(const struct inode *ino)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | ino->id[i];
	return v;
}

static uint32_t tree_type_bits(enum dirobj_type type)
{
	switch (type) {
	case DIROBJ_DIR:
		return S_IFDIR;
	case DIROBJ_SYMLINK:
		return S_IFLNK;
	case DIROBJ_FILE:
		break;
	}
	return S_IFREG;
}

static struct inode *tree_inode_alloc(enum dirobj_type type)
{
	struct inode *ino = calloc(1, sizeof(*ino));

	if (!ino)
		return NULL;
	ino->type = type;
	pthread_mutex_init(&ino->lock, NULL);
	return ino;
}

static void tree_xattrs_free(struct dirobj_xattr *x, size_t n)
{
	for (size_t i = 0; x && i < n; i++) {
		free(x[i].name);
		if (x[i].value)
			sodium_memzero(x[i].value, x[i].len);
		free(x[i].value);
	}
	free(x);
}

void tree_inode_free(struct inode *ino)
{
	switch (ino->type) {
	case DIROBJ_FILE:
		content_release(&ino->content);
		free(ino->content.garbage);
		break;
	case DIROBJ_SYMLINK:
		free(ino->target);
		break;
	case DIROBJ_DIR:
		free(ino->table);
		break;
	}
	free(ino->name);
	tree_xattrs_free(ino->xattrs, ino->nxattrs);
	pthread_mutex_destroy(&ino->lock);
	free(ino);
}

/* ---- a directory's children, hashed by name (tree_lock) ---- */

static size_t tree_hash(const struct tree *t, const char *name, size_t len, size_t size)
{
	unsigned char h[crypto_shorthash_BYTES];
	uint64_t v = 0;

	crypto_shorthash(h, (const unsigned char *)name, len, t->hash_key);
	for (int i = 0; i < 8; i++)
		v = (v << 8) | h[i];
	return (size_t)(v % size);
}

static struct inode *tree_child(const struct tree *t, const struct inode *dir, const char *name,
				size_t len)
{
	struct inode *c;

	if (!dir->table)
		return NULL;
	c = dir->table[tree_hash(t, name, len, dir->table_size)];
	for (; c; c = c->hash_next)
		if (c->name_len == len && memcmp(c->name, name, len) == 0)
			return c;
	return NULL;
}

/* Doubles the table; on allocation failure chains just get longer. */
static void tree_table_grow(const struct tree *t, struct inode *dir)
{
	size_t size = dir->table_size ? dir->table_size * 2 : 8;
	struct inode **nt = calloc(size, sizeof(*nt));

	if (!nt)
		return;
	for (size_t i = 0; i < dir->table_size; i++) {
		struct inode *c = dir->table[i], *next;
		for (; c; c = next) {
			size_t h = tree_hash(t, c->name, c->name_len, size);
			next = c->hash_next;
			c->hash_next = nt[h];
			nt[h] = c;
		}
	}
	free(dir->table);
	dir->table = nt;
	dir->table_size = size;
}

/* Inserts c (name set) into dir and makes dir its parent. Never fails once
 * the table exists; a first table that cannot be allocated returns -ENOMEM. */
static int tree_table_insert(const struct tree *t, struct inode *dir, struct inode *c)
{
	size_t h;

	if (dir->nchildren >= dir->table_size)
		tree_table_grow(t, dir);
	if (!dir->table)
		return -ENOMEM;
	h = tree_hash(t, c->name, c->name_len, dir->table_size);
	c->hash_next = dir->table[h];
	dir->table[h] = c;
	c->parent = dir;
	dir->nchildren++;
	if (tree_cache_busy(c))
		dir->busy_kids++;
	return 0;
}

static void tree_table_remove(const struct tree *t, struct inode *dir, struct inode *c)
{
	struct inode **p = &dir->table[tree_hash(t, c->name, c->name_len, dir->table_size)];

	while (*p && *p != c)
		p = &(*p)->hash_next;
	if (*p) {
		*p = c->hash_next;
		dir->nchildren--;
		if (tree_cache_busy(c))
			dir->busy_kids--;
	}
	c->hash_next = NULL;
	c->parent = NULL;
}

/* ---- dirtiness, garbage, orphans (tree_lock) ---- */

static void tree_set_dirty_locked(struct tree *t)
{
	clock_gettime(CLOCK_MONOTONIC, &t->changed_at);
	if (t->dirty)
		return;
	t->dirty = true;
	t->dirty_since = t->changed_at;
	pthread_cond_broadcast(&t->dirty_cond);
}

void tree_mark_dirty_locked(struct tree *t, struct inode *dir)
{
	for (; dir && !dir->dirty; dir = dir->parent) {
		dir->dirty = true;
		tree_cache_touch_locked(t, dir); /* a dirty directory stays loaded */
	}
	tree_set_dirty_locked(t);
}

void tree_attr_changed_locked(struct tree *t, struct inode *ino)
{
	if (ino == t->root)
		tree_mark_dirty_locked(t, ino);
	else if (ino->parent)
		tree_mark_dirty_locked(t, ino->parent);
}

int tree_add_garbage_locked(struct tree *t, const uint8_t key[OBJECT_ID_BYTES])
{
	if (t->ngarbage == t->garbage_cap) {
		size_t cap = t->garbage_cap ? t->garbage_cap * 2 : 64;
		void *g = realloc(t->garbage, cap * sizeof(*t->garbage));
		if (!g) {
			char hex[33];
			log_msg(LOG_WARNING, "object %s leaks in the store (out of memory)",
				log_id(hex, key));
			return -ENOMEM;
		}
		t->garbage = g;
		t->garbage_cap = cap;
	}
	memcpy(t->garbage[t->ngarbage++], key, OBJECT_ID_BYTES);
	tree_set_dirty_locked(t);
	return 0;
}

/* Orphans (unlinked, still referenced: few) chain through hash_next, which
 * an inode out of every table does not use otherwise. */
static void tree_orphan_add(struct tree *t, struct inode *ino)
{
	ino->hash_next = t->orphans;
	t->orphans = ino;
}

static void tree_orphan_remove(struct tree *t, struct inode *ino)
{
	struct inode **p = &t->orphans;

	while (*p && *p != ino)
		p = &(*p)->hash_next;
	if (*p)
		*p = ino->hash_next;
	ino->hash_next = NULL;
}

static bool tree_reapable(const struct inode *ino)
{
	return ino->unlinked && ino->nlookup == 0 && ino->nopen == 0;
}

/* Frees an unlinked inode nobody references; its segments become garbage.
 * Called without locks: nothing else can reach ino any more. */
static void tree_reap(struct tree *t, struct inode *ino)
{
	if (ino->type == DIROBJ_FILE)
		content_forget(&t->cctx, &ino->content);
	pthread_mutex_lock(&t->lock);
	for (size_t i = 0; ino->type == DIROBJ_FILE && i < ino->content.ngarbage; i++)
		tree_add_garbage_locked(t, ino->content.garbage[i]);
	t->ninodes--;
	pthread_mutex_unlock(&t->lock);
	tree_inode_free(ino);
}

/* Takes c out of the namespace (tree_lock held). Returns true when the
 * caller must tree_reap it after unlocking. */
static bool tree_detach_locked(struct tree *t, struct inode *c)
{
	tree_table_remove(t, c->parent, c);
	pthread_mutex_lock(&c->lock);
	c->unlinked = true;
	tree_now(&c->ctime);
	pthread_mutex_unlock(&c->lock);
	if (c->type == DIROBJ_DIR && c->ref.version > 0)
		tree_add_garbage_locked(t, c->ref.store_key);
	tree_cache_touch_locked(t, c); /* unlinked: out of the list */
	if (tree_reapable(c))
		return true;
	tree_orphan_add(t, c);
	return false;
}

void tree_drop_orphans(struct tree *t)
{
	struct inode *o;

	for (;;) {
		pthread_mutex_lock(&t->lock);
		o = t->orphans;
		if (o)
			tree_orphan_remove(t, o);
		pthread_mutex_unlock(&t->lock);
		if (!o)
			return;
		tree_reap(t, o);
	}
}

/* ---- loading directories ---- */

/* Makes an inode from a decoded entry, stealing its allocations. */
static int tree_inode_from_entry(struct inode **out, struct dirobj_entry *e)
{
	struct inode *ino = tree_inode_alloc(e->type);
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
		ino->ref = e->ref;
	if (e->type == DIROBJ_FILE)
		r = content_load(&ino->content, e);
	if (r) {
		pthread_mutex_destroy(&ino->lock);
		free(ino);
		return r;
	}
	ino->name = e->name;
	ino->name_len = (uint16_t)e->name_len;
	if (e->type == DIROBJ_SYMLINK) {
		ino->target = e->target;
		ino->target_len = e->target_len;
		e->target = NULL;
	}
	ino->xattrs = e->xattrs;
	ino->nxattrs = e->nxattrs;
	e->name = NULL;
	e->xattrs = NULL;
	e->nxattrs = 0;
	*out = ino;
	return 0;
}

/* Reads, opens and decodes directory object ref of directory id. */
static int tree_read_dirobj(struct tree *t, const uint8_t id[OBJECT_ID_BYTES],
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
	r = seal_open_dir(obj, sealed, sealed_len, id, ref, t->vault_id, t->meta_key);
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
	won = !dir->loaded;
	while (won && dir->table_size < n) {
		size_t before = dir->table_size;
		tree_table_grow(t, dir);
		if (dir->table_size == before)
			break;
	}
	if (won && n > 0 && !dir->table)
		r = -ENOMEM;
	if (won && r == 0) {
		bool was_busy = tree_cache_busy(dir);
		for (size_t i = 0; i < n; i++)
			tree_table_insert(t, dir, kids[i]);
		dir->loaded = true;
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
	loaded = dir->loaded;
	ref = dir->ref;
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
		loaded = dir->loaded;
		pthread_mutex_unlock(&t->lock);
		if (loaded)
			r = 0;
	}
	return r;
}

/* ---- open and free ---- */

static int tree_xattrs_dup(struct dirobj_xattr **out, const struct dirobj_xattr *x, size_t n)
{
	struct dirobj_xattr *d = calloc(n ? n : 1, sizeof(*d));

	*out = NULL;
	if (!d)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		d[i].name = strdup(x[i].name);
		d[i].value = malloc(x[i].len ? x[i].len : 1);
		d[i].len = x[i].len;
		if (!d[i].name || !d[i].value) {
			tree_xattrs_free(d, i + 1);
			return -ENOMEM;
		}
		memcpy(d[i].value, x[i].value, x[i].len);
	}
	*out = d;
	return 0;
}

/* The root inode from the head's root entry (borrowed, copied). */
static int tree_root_init(struct inode *root, const struct dirobj_entry *e)
{
	if (e->type != DIROBJ_DIR)
		return -EBADMSG;
	memcpy(root->id, e->id, OBJECT_ID_BYTES);
	root->mode = e->mode;
	root->uid = e->uid;
	root->gid = e->gid;
	root->atime = e->atime;
	root->mtime = e->mtime;
	root->ctime = e->ctime;
	root->ref = e->ref;
	root->name = strdup("");
	if (!root->name)
		return -ENOMEM;
	root->nxattrs = e->nxattrs;
	return tree_xattrs_dup(&root->xattrs, e->xattrs, e->nxattrs);
}

/* The key pool's only notice (secmem_refused_fn): said once per mount. */
static void tree_keys_unlocked(void *arg, int err, size_t bytes)
{
	(void)arg;
	log_msg(LOG_WARNING,
		"the kernel refused to lock %zu bytes of file-key memory (%s): keys stay in use "
		"but may be swapped out; raise the memlock limit (ulimit -l) to avoid this",
		bytes, strerror(err));
}

int tree_open(struct tree **out, const struct content_ctx *cctx, const unsigned char *meta_key,
	      const uint8_t vault_id[OBJECT_ID_BYTES], const struct dirobj_entry *root,
	      const char *cache_dir)
{
	struct tree *t = calloc(1, sizeof(*t));
	pthread_condattr_t ca;
	int r;

	*out = NULL;
	if (!t)
		return -ENOMEM;
	pthread_mutex_init(&t->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&t->dirty_cond, &ca);
	pthread_condattr_destroy(&ca);
	t->cctx = *cctx;
	t->cctx.keys = chunk_key_pool_new(tree_keys_unlocked, NULL);
	t->meta_key = meta_key;
	t->cache_dir = cache_dir;
	memcpy(t->vault_id, vault_id, OBJECT_ID_BYTES);
	randombytes_buf(t->hash_key, sizeof(t->hash_key));
	t->cache_dirs_max = TREE_CACHE_DIRS;
	t->cache_inodes_max = TREE_CACHE_INODES;
	t->root = tree_inode_alloc(DIROBJ_DIR);
	if (!t->root || !t->cctx.keys) {
		tree_free(t);
		return -ENOMEM;
	}
	r = tree_root_init(t->root, root);
	if (r == 0)
		r = tree_load_dir(t, t->root);
	if (r) {
		tree_free(t);
		return r;
	}
	t->ninodes = 1;
	*out = t;
	return 0;
}

/* Frees top and everything below it, using hash_next as a stack (the tables
 * are dropped anyway); iterative because directories may nest deeply. */
static void tree_free_subtree(struct inode *top)
{
	struct inode *stack = top;

	top->hash_next = NULL;
	while (stack) {
		struct inode *n = stack;
		stack = n->hash_next;
		for (size_t i = 0; n->type == DIROBJ_DIR && n->table && i < n->table_size; i++) {
			struct inode *c = n->table[i], *next;
			for (; c; c = next) {
				next = c->hash_next;
				c->hash_next = stack;
				stack = c;
			}
		}
		tree_inode_free(n);
	}
}

void tree_free(struct tree *t)
{
	if (!t)
		return;
	while (t->orphans) {
		struct inode *o = t->orphans;
		tree_orphan_remove(t, o);
		tree_inode_free(o);
	}
	if (t->root)
		tree_free_subtree(t->root);
	secmem_pool_free(t->cctx.keys); /* after the inodes: they hold its keys */
	free(t->garbage);
	pthread_cond_destroy(&t->dirty_cond);
	pthread_mutex_destroy(&t->lock);
	sodium_memzero(t->hash_key, sizeof(t->hash_key));
	free(t);
}

/* ---- lookup and lifetime ---- */

static int tree_check_name(const char *name, size_t *len)
{
	*len = strlen(name);
	if (*len > TREE_NAME_MAX)
		return -ENAMETOOLONG;
	if (*len == 0 || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return -EINVAL;
	return 0;
}

/* Loads dir and returns with tree_lock held and dir loaded (a trim may
 * unload it between the load and the lock: then load again), or an error
 * without the lock. The caller must hold a reference on dir. */
static int tree_lock_loaded(struct tree *t, struct inode *dir)
{
	for (;;) {
		int r = tree_load_dir(t, dir);
		if (r)
			return r;
		pthread_mutex_lock(&t->lock);
		if (dir->loaded)
			return 0;
		pthread_mutex_unlock(&t->lock);
	}
}

/* Takes n kernel references on ino (tree_lock held). */
static void tree_ref_locked(struct tree *t, struct inode *ino, uint64_t n)
{
	bool was_busy = tree_cache_busy(ino);

	ino->nlookup += n;
	tree_cache_changed_locked(t, ino, was_busy);
}

int tree_lookup(struct tree *t, struct inode *dir, const char *name, struct inode **out)
{
	struct inode *c;
	size_t len;
	int r = tree_check_name(name, &len);

	*out = NULL;
	if (r)
		return r == -EINVAL ? -ENOENT : r;
	r = tree_lock_loaded(t, dir);
	if (r)
		return r;
	c = tree_child(t, dir, name, len);
	if (c)
		tree_ref_locked(t, c, 1);
	tree_cache_touch_locked(t, dir);
	pthread_mutex_unlock(&t->lock);
	*out = c;
	return c ? 0 : -ENOENT;
}

void tree_dir_clean_locked(struct tree *t, struct inode *dir)
{
	dir->dirty = false;
	tree_cache_touch_locked(t, dir);
}

void tree_trim_locked(struct tree *t) { tree_cache_trim_locked(t); }

void tree_forget(struct tree *t, struct inode *ino, uint64_t n)
{
	bool reap, was_busy;

	if (ino == t->root)
		return;
	pthread_mutex_lock(&t->lock);
	was_busy = tree_cache_busy(ino);
	ino->nlookup -= n < ino->nlookup ? n : ino->nlookup;
	reap = tree_reapable(ino);
	if (reap) {
		tree_orphan_remove(t, ino);
	} else {
		/* ino may be freed here (its parent drops its children): it is
		 * not touched again. */
		tree_cache_changed_locked(t, ino, was_busy);
		tree_cache_trim_locked(t);
	}
	pthread_mutex_unlock(&t->lock);
	if (reap)
		tree_reap(t, ino);
}

/* ---- attributes ---- */

void tree_getattr(struct tree *t, struct inode *ino, struct stat *st)
{
	uint64_t size;

	(void)t;
	memset(st, 0, sizeof(*st));
	pthread_mutex_lock(&ino->lock);
	st->st_mode = ino->mode;
	st->st_uid = ino->uid;
	st->st_gid = ino->gid;
	st->st_nlink = ino->unlinked ? 0 : 1;
	st->st_atim.tv_sec = ino->atime.sec;
	st->st_atim.tv_nsec = ino->atime.nsec;
	st->st_mtim.tv_sec = ino->mtime.sec;
	st->st_mtim.tv_nsec = ino->mtime.nsec;
	st->st_ctim.tv_sec = ino->ctime.sec;
	st->st_ctim.tv_nsec = ino->ctime.nsec;
	size = ino->type == DIROBJ_FILE	     ? ino->content.size
	       : ino->type == DIROBJ_SYMLINK ? ino->target_len
					     : 0;
	pthread_mutex_unlock(&ino->lock);
	st->st_ino = (ino_t)tree_ino(ino);
	st->st_size = (off_t)size;
	st->st_blksize = 4096;
	st->st_blocks = (blkcnt_t)((size + 4095) / 4096 * 8);
}

static void tree_set_time(struct dirobj_time *out, const struct timespec *ts, bool now)
{
	if (now) {
		tree_now(out);
		return;
	}
	out->sec = ts->tv_sec;
	out->nsec = (uint32_t)ts->tv_nsec;
}

/* Applies the non-size fields (ino->lock held). */
static void tree_apply_attrs(struct inode *ino, const struct tree_setattr *sa)
{
	unsigned v = sa->valid;

	if (v & TREE_SET_MODE)
		ino->mode = (ino->mode & S_IFMT) | (sa->mode & 07777);
	if (v & TREE_SET_UID)
		ino->uid = sa->uid;
	if (v & TREE_SET_GID)
		ino->gid = sa->gid;
	if (v & (TREE_SET_ATIME | TREE_SET_ATIME_NOW))
		tree_set_time(&ino->atime, &sa->atime, v & TREE_SET_ATIME_NOW);
	if (v & (TREE_SET_MTIME | TREE_SET_MTIME_NOW))
		tree_set_time(&ino->mtime, &sa->mtime, v & TREE_SET_MTIME_NOW);
	else if (v & TREE_SET_SIZE)
		tree_now(&ino->mtime);
	tree_set_time(&ino->ctime, &sa->ctime, !(v & TREE_SET_CTIME));
}

int tree_setattr(struct tree *t, struct inode *ino, const struct tree_setattr *sa)
{
	int r = 0;

	if (sa->valid & TREE_SET_SIZE) {
		if (ino->type != DIROBJ_FILE)
			return ino->type == DIROBJ_DIR ? -EISDIR : -EINVAL;
		if (sa->size > INT64_MAX)
			return -EFBIG;
		pthread_mutex_lock(&ino->lock);
		r = tree_truncate_locked(t, ino, sa->size);
		pthread_mutex_unlock(&ino->lock);
		if (r)
			return r;
	}
	pthread_mutex_lock(&t->lock);
	pthread_mutex_lock(&ino->lock);
	tree_apply_attrs(ino, sa);
	pthread_mutex_unlock(&ino->lock);
	tree_attr_changed_locked(t, ino);
	pthread_mutex_unlock(&t->lock);
	return 0;
}

int tree_readlink(struct tree *t, struct inode *ino, const char **target)
{
	(void)t;
	*target = NULL;
	if (ino->type != DIROBJ_SYMLINK)
		return -EINVAL;
	*target = ino->target;
	return 0;
}

/* ---- file content ---- */

int tree_open_file(struct tree *t, struct inode *ino, bool trunc)
{
	bool was_busy;
	int r = 0;

	if (ino->type != DIROBJ_FILE)
		return ino->type == DIROBJ_DIR ? -EISDIR : -ELOOP;
	pthread_mutex_lock(&t->lock);
	was_busy = tree_cache_busy(ino);
	ino->nopen++;
	tree_cache_changed_locked(t, ino, was_busy);
	pthread_mutex_unlock(&t->lock);
	if (!trunc)
		return 0;
	pthread_mutex_lock(&ino->lock);
	r = tree_stopped_locked(ino);
	if (r == 0 && ino->content.size > 0 &&
	    (r = content_truncate(&t->cctx, &ino->content, 0)) != 0) /* needs no old bytes */
		tree_change_failed_locked(t, ino, r, "a truncating open");
	if (r == 0 && !t->writeback) {
		/* With the writeback cache the kernel owns a file's times and
		 * sends them (it may keep them unchanged within a clock tick). */
		tree_now(&ino->mtime);
		ino->ctime = ino->mtime;
	}
	pthread_mutex_unlock(&ino->lock);
	if (r) {
		tree_release_file(t, ino);
		return r;
	}
	pthread_mutex_lock(&t->lock);
	tree_attr_changed_locked(t, ino);
	pthread_mutex_unlock(&t->lock);
	return 0;
}

void tree_release_file(struct tree *t, struct inode *ino)
{
	bool reap, closed, was_busy;

	pthread_mutex_lock(&t->lock);
	was_busy = tree_cache_busy(ino);
	if (ino->nopen > 0)
		ino->nopen--;
	if (ino->nopen == 0 && ino->type == DIROBJ_FILE) {
		/* The last handle: a failure its flush did not take was reported
		 * by the kernel itself (it skips FLUSH after a writeback error). */
		pthread_mutex_lock(&ino->lock);
		ino->wb_err = 0;
		ino->wb_stop = false;
		pthread_mutex_unlock(&ino->lock);
	}
	closed = ino->nopen == 0 && ino->type == DIROBJ_FILE;
	reap = tree_reapable(ino);
	if (reap) {
		tree_orphan_remove(t, ino);
	} else if (closed) {
		/* A closed file keeps neither fds nor its key (locked memory):
		 * a walk that reads a million files must not hold a million
		 * keys. Done under tree_lock: once ino is idle a trim may free
		 * it. */
		pthread_mutex_lock(&ino->lock);
		content_idle(&ino->content);
		pthread_mutex_unlock(&ino->lock);
		tree_cache_changed_locked(t, ino, was_busy);
		tree_cache_trim_locked(t);
	}
	pthread_mutex_unlock(&t->lock);
	if (reap)
		tree_reap(t, ino);
}

/* ---- namespace ---- */

/* A new inode for tree_create, not yet in the tree. */
static int tree_new_inode(struct inode **out, enum dirobj_type type, uint32_t mode, uint32_t uid,
			  uint32_t gid, const char *name, size_t name_len, const char *target)
{
	struct inode *ino = tree_inode_alloc(type);
	int r = 0;

	*out = NULL;
	if (!ino)
		return -ENOMEM;
	ino->mode = tree_type_bits(type) | (type == DIROBJ_SYMLINK ? 0777 : (mode & 07777));
	ino->uid = uid;
	ino->gid = gid;
	tree_now(&ino->mtime);
	ino->atime = ino->ctime = ino->mtime;
	ino->name = strndup(name, name_len);
	ino->name_len = name_len;
	if (type == DIROBJ_FILE) {
		r = content_new(&ino->content);
		memcpy(ino->id, ino->content.file_id, OBJECT_ID_BYTES);
	} else {
		randombytes_buf(ino->id, OBJECT_ID_BYTES);
	}
	if (type == DIROBJ_SYMLINK) {
		ino->target_len = strlen(target);
		ino->target = strdup(target);
	}
	if (type == DIROBJ_DIR)
		ino->loaded = true;
	if (r || !ino->name || (type == DIROBJ_SYMLINK && !ino->target)) {
		tree_inode_free(ino);
		return r ? r : -ENOMEM;
	}
	*out = ino;
	return 0;
}

static void tree_dir_changed_locked(struct tree *t, struct inode *dir)
{
	pthread_mutex_lock(&dir->lock);
	tree_now(&dir->mtime);
	dir->ctime = dir->mtime;
	pthread_mutex_unlock(&dir->lock);
	tree_mark_dirty_locked(t, dir);
}

/* New entries in a set-group-ID directory take its group; subdirectories
 * inherit the bit (tree_lock held). */
static void tree_inherit_gid(struct inode *dir, struct inode *ino)
{
	pthread_mutex_lock(&dir->lock);
	if (dir->mode & S_ISGID) {
		ino->gid = dir->gid;
		if (ino->type == DIROBJ_DIR)
			ino->mode |= S_ISGID;
	}
	pthread_mutex_unlock(&dir->lock);
}

int tree_create(struct tree *t, struct inode *dir, const char *name, enum dirobj_type type,
		uint32_t mode, uint32_t uid, uint32_t gid, const char *target, struct inode **out)
{
	struct inode *ino;
	size_t len;
	int r = tree_check_name(name, &len);

	*out = NULL;
	if (r)
		return r == -EINVAL ? -EEXIST : r;
	if (type == DIROBJ_SYMLINK && (!target || !*target))
		return -ENOENT;
	if (target && strlen(target) > DIROBJ_TARGET_MAX)
		return -ENAMETOOLONG;
	if (dir->type != DIROBJ_DIR)
		return -ENOTDIR;
	r = tree_new_inode(&ino, type, mode, uid, gid, name, len, target);
	if (r)
		return r;
	ino->nlookup = 1; /* before the insert: it is busy from the start */
	r = tree_lock_loaded(t, dir);
	if (r) {
		tree_inode_free(ino);
		return r;
	}
	tree_inherit_gid(dir, ino);
	if (dir->unlinked)
		r = -ENOENT;
	else if (tree_child(t, dir, name, len))
		r = -EEXIST;
	else
		r = tree_table_insert(t, dir, ino);
	if (r == 0) {
		t->ninodes++;
		tree_dir_changed_locked(t, dir);
		if (type == DIROBJ_DIR)
			tree_mark_dirty_locked(t, ino);
	}
	pthread_mutex_unlock(&t->lock);
	if (r) {
		tree_inode_free(ino);
		return r;
	}
	*out = ino;
	return 0;
}

/* Finds the victim of unlink/rmdir (tree_lock held). 1 means: load *c, retry. */
static int tree_remove_check(struct tree *t, struct inode *dir, const char *name, size_t len,
			     bool is_dir, struct inode **c)
{
	*c = tree_child(t, dir, name, len);
	if (!*c)
		return -ENOENT;
	if (!is_dir)
		return (*c)->type == DIROBJ_DIR ? -EISDIR : 0;
	if ((*c)->type != DIROBJ_DIR)
		return -ENOTDIR;
	if (!(*c)->loaded)
		return 1;
	return (*c)->nchildren > 0 ? -ENOTEMPTY : 0;
}

int tree_remove(struct tree *t, struct inode *dir, const char *name, bool is_dir)
{
	struct inode *c;
	bool reap = false;
	size_t len;
	int r = tree_check_name(name, &len);

	if (r)
		return r == -EINVAL ? (is_dir ? -EINVAL : -EISDIR) : r;
	for (;;) {
		r = tree_lock_loaded(t, dir);
		if (r)
			return r;
		r = tree_remove_check(t, dir, name, len, is_dir, &c);
		if (r != 1)
			break;
		/* Our own reference keeps c while it loads without the lock. */
		tree_ref_locked(t, c, 1);
		pthread_mutex_unlock(&t->lock);
		r = tree_load_dir(t, c);
		tree_forget(t, c, 1);
		if (r)
			return r;
	}
	if (r == 0) {
		reap = tree_detach_locked(t, c);
		tree_dir_changed_locked(t, dir);
	}
	pthread_mutex_unlock(&t->lock);
	if (reap)
		tree_reap(t, c);
	return r;
}

/* Whether a is d or one of d's ancestors (tree_lock held). */
static bool tree_is_ancestor(const struct inode *a, const struct inode *d)
{
	for (; d; d = d->parent)
		if (d == a)
			return true;
	return false;
}

struct tree_rename_op {
	struct inode *odir, *ndir, *src, *dst;
	const char *oname, *nname;
	size_t olen, nlen;
	unsigned flags;
};

/* Checks a rename (tree_lock held). 1: load op->dst and retry. */
static int tree_rename_check(struct tree *t, struct tree_rename_op *op)
{
	op->src = tree_child(t, op->odir, op->oname, op->olen);
	op->dst = tree_child(t, op->ndir, op->nname, op->nlen);
	if (!op->src || op->ndir->unlinked)
		return -ENOENT;
	if (op->src == op->dst)
		return 0;
	if (op->flags & TREE_RENAME_EXCHANGE) {
		if (!op->dst)
			return -ENOENT;
		if ((op->src->type == DIROBJ_DIR && tree_is_ancestor(op->src, op->ndir)) ||
		    (op->dst->type == DIROBJ_DIR && tree_is_ancestor(op->dst, op->odir)))
			return -EINVAL;
		return 0;
	}
	if (op->dst && (op->flags & TREE_RENAME_NOREPLACE))
		return -EEXIST;
	if (op->src->type == DIROBJ_DIR && tree_is_ancestor(op->src, op->ndir))
		return -EINVAL;
	if (!op->dst)
		return 0;
	if (op->src->type == DIROBJ_DIR && op->dst->type != DIROBJ_DIR)
		return -ENOTDIR;
	if (op->src->type != DIROBJ_DIR && op->dst->type == DIROBJ_DIR)
		return -EISDIR;
	if (op->dst->type == DIROBJ_DIR && !op->dst->loaded)
		return 1;
	return op->dst && op->dst->type == DIROBJ_DIR && op->dst->nchildren > 0 ? -ENOTEMPTY : 0;
}

/* Moves c to dir under name (tree_lock held; name is new, owned). */
static void tree_move_locked(struct tree *t, struct inode *c, struct inode *dir, char *name,
			     size_t len)
{
	tree_table_remove(t, c->parent, c);
	free(c->name);
	c->name = name;
	c->name_len = len;
	tree_table_insert(t, dir, c); /* cannot fail: dir's table exists */
	pthread_mutex_lock(&c->lock);
	tree_now(&c->ctime);
	pthread_mutex_unlock(&c->lock);
	if (c->type == DIROBJ_DIR && c->dirty)
		tree_mark_dirty_locked(t, dir);
}

/* Applies a checked rename (tree_lock held). Returns true when op->dst must
 * be reaped after unlocking. */
static bool tree_rename_apply(struct tree *t, struct tree_rename_op *op, char *nname, char *oname)
{
	bool reap = false;

	if (op->flags & TREE_RENAME_EXCHANGE) {
		tree_table_remove(t, op->ndir, op->dst);
		tree_move_locked(t, op->src, op->ndir, nname, op->nlen);
		free(op->dst->name);
		op->dst->name = oname;
		op->dst->name_len = op->olen;
		tree_table_insert(t, op->odir, op->dst);
		pthread_mutex_lock(&op->dst->lock);
		tree_now(&op->dst->ctime);
		pthread_mutex_unlock(&op->dst->lock);
		oname = NULL;
	} else {
		if (op->dst)
			reap = tree_detach_locked(t, op->dst);
		tree_move_locked(t, op->src, op->ndir, nname, op->nlen);
	}
	free(oname);
	tree_dir_changed_locked(t, op->odir);
	if (op->ndir != op->odir)
		tree_dir_changed_locked(t, op->ndir);
	return reap;
}

static int tree_rename_prepare(struct tree_rename_op *op, char **nname, char **oname)
{
	int r = tree_check_name(op->oname, &op->olen);

	if (r == 0)
		r = tree_check_name(op->nname, &op->nlen);
	if (r)
		return r == -EINVAL ? -EBUSY : r;
	if ((op->flags & ~(unsigned)(TREE_RENAME_NOREPLACE | TREE_RENAME_EXCHANGE)) ||
	    op->flags == (TREE_RENAME_NOREPLACE | TREE_RENAME_EXCHANGE))
		return -EINVAL;
	*nname = strndup(op->nname, op->nlen);
	*oname = strndup(op->oname, op->olen);
	if (!*nname || !*oname)
		return -ENOMEM;
	return 0;
}

int tree_rename(struct tree *t, struct inode *odir, const char *oname, struct inode *ndir,
		const char *nname, unsigned flags)
{
	struct tree_rename_op op = {
	    .odir = odir, .ndir = ndir, .oname = oname, .nname = nname, .flags = flags};
	char *nn = NULL, *on = NULL;
	bool reap = false;
	int r = tree_rename_prepare(&op, &nn, &on);

	for (; r == 0;) {
		r = tree_load_dir(t, odir);
		if (r == 0)
			r = tree_load_dir(t, ndir);
		if (r)
			break;
		pthread_mutex_lock(&t->lock);
		if (!odir->loaded || !ndir->loaded) { /* unloaded meanwhile */
			pthread_mutex_unlock(&t->lock);
			continue;
		}
		r = tree_rename_check(t, &op);
		if (r == 1) /* our own reference keeps dst while it loads */
			tree_ref_locked(t, op.dst, 1);
		if (r == 0 && !ndir->table)
			tree_table_grow(t, ndir); /* moving must not fail half way */
		if (r == 0 && !ndir->table)
			r = -ENOMEM;
		if (r == 0 && op.src != op.dst) {
			reap = tree_rename_apply(t, &op, nn, on);
			nn = on = NULL;
		}
		pthread_mutex_unlock(&t->lock);
		if (r != 1)
			break;
		r = tree_load_dir(t, op.dst);
		tree_forget(t, op.dst, 1);
	}
	free(nn);
	free(on);
	if (reap)
		tree_reap(t, op.dst);
	return r;
}

/* ---- directory listings ---- */

static int tree_dirent_set(struct tree_dirent *d, const char *name, size_t len,
			   const struct inode *ino)
{
	d->name = strndup(name, len);
	d->st_ino = tree_ino(ino);
	d->mode = tree_type_bits(ino->type);
	return d->name ? 0 : -ENOMEM;
}

void tree_dirlist_free(struct tree_dirlist *l)
{
	for (size_t i = 0; l->ents && i < l->n; i++)
		free(l->ents[i].name);
	free(l->ents);
	l->ents = NULL;
	l->n = 0;
}

/* Fills l from dir's table (tree_lock held). */
static int tree_dirlist_fill(struct tree_dirlist *l, const struct inode *dir)
{
	int r = tree_dirent_set(&l->ents[l->n++], ".", 1, dir);

	if (r == 0)
		r = tree_dirent_set(&l->ents[l->n++], "..", 2, dir->parent ? dir->parent : dir);
	for (size_t i = 0; r == 0 && dir->table && i < dir->table_size; i++)
		for (const struct inode *c = dir->table[i]; c && r == 0; c = c->hash_next)
			r = tree_dirent_set(&l->ents[l->n++], c->name, c->name_len, c);
	return r;
}

int tree_dirlist(struct tree *t, struct inode *dir, struct tree_dirlist *out)
{
	int r = tree_lock_loaded(t, dir);

	memset(out, 0, sizeof(*out));
	if (r)
		return r;
	out->ents = calloc(dir->nchildren + 2, sizeof(*out->ents));
	r = out->ents ? tree_dirlist_fill(out, dir) : -ENOMEM;
	tree_cache_touch_locked(t, dir);
	pthread_mutex_unlock(&t->lock);
	if (r)
		tree_dirlist_free(out);
	return r;
}

/* ---- extended attributes (user.* only) ---- */

static int tree_xattr_name_check(const char *name)
{
	size_t len = strlen(name), plen = strlen(TREE_XATTR_PREFIX);

	if (len < plen || memcmp(name, TREE_XATTR_PREFIX, plen) != 0)
		return -EOPNOTSUPP;
	if (len > DIROBJ_XATTR_NAME_MAX)
		return -ERANGE;
	if (len == plen || !dirobj_check_utf8(name, len))
		return -EINVAL;
	return 0;
}

/* Index of name in ino's xattrs, or -1 (ino->lock or tree_lock held). */
static ssize_t tree_xattr_find(const struct inode *ino, const char *name)
{
	for (size_t i = 0; i < ino->nxattrs; i++)
		if (strcmp(ino->xattrs[i].name, name) == 0)
			return (ssize_t)i;
	return -1;
}

ssize_t tree_getxattr(struct tree *t, struct inode *ino, const char *name, void *buf, size_t size)
{
	ssize_t i, r = tree_xattr_name_check(name);

	(void)t;
	if (r)
		return r == -EINVAL ? -ENODATA : r;
	pthread_mutex_lock(&ino->lock);
	i = tree_xattr_find(ino, name);
	if (i < 0) {
		r = -ENODATA;
	} else {
		const struct dirobj_xattr *x = &ino->xattrs[i];
		r = (ssize_t)x->len;
		if (size > 0 && size < x->len)
			r = -ERANGE;
		else if (size > 0 && x->len > 0)
			memcpy(buf, x->value, x->len);
	}
	pthread_mutex_unlock(&ino->lock);
	return r;
}

ssize_t tree_listxattr(struct tree *t, struct inode *ino, char *buf, size_t size)
{
	size_t total = 0;

	(void)t;
	pthread_mutex_lock(&ino->lock);
	for (size_t i = 0; i < ino->nxattrs; i++)
		total += strlen(ino->xattrs[i].name) + 1;
	if (size > 0 && size < total) {
		pthread_mutex_unlock(&ino->lock);
		return -ERANGE;
	}
	for (size_t i = 0, off = 0; size > 0 && i < ino->nxattrs; i++) {
		size_t n = strlen(ino->xattrs[i].name) + 1;
		memcpy(buf + off, ino->xattrs[i].name, n);
		off += n;
	}
	pthread_mutex_unlock(&ino->lock);
	return (ssize_t)total;
}

/* Bytes ino's xattrs take, skipping index skip (locks held). */
static size_t tree_xattr_total(const struct inode *ino, ssize_t skip)
{
	size_t total = 0;

	for (size_t i = 0; i < ino->nxattrs; i++)
		if ((ssize_t)i != skip)
			total += strlen(ino->xattrs[i].name) + ino->xattrs[i].len;
	return total;
}

/* Stores x (taking its allocations) into ino (tree_lock and ino->lock held). */
static int tree_xattr_put(struct inode *ino, struct dirobj_xattr *x, int flags)
{
	ssize_t i = tree_xattr_find(ino, x->name);
	struct dirobj_xattr *na;

	if (i >= 0 && (flags & XATTR_CREATE))
		return -EEXIST;
	if (i < 0 && (flags & XATTR_REPLACE))
		return -ENODATA;
	if (tree_xattr_total(ino, i) + strlen(x->name) + x->len > TREE_XATTR_TOTAL_MAX)
		return -ENOSPC;
	if (i >= 0) {
		free(ino->xattrs[i].name);
		free(ino->xattrs[i].value);
		ino->xattrs[i] = *x;
		return 0;
	}
	na = realloc(ino->xattrs, (ino->nxattrs + 1) * sizeof(*na));
	if (!na)
		return -ENOMEM;
	na[ino->nxattrs++] = *x;
	ino->xattrs = na;
	return 0;
}

int tree_setxattr(struct tree *t, struct inode *ino, const char *name, const void *value,
		  size_t size, int flags)
{
	struct dirobj_xattr x = {0};
	int r = tree_xattr_name_check(name);

	if (r)
		return r;
	if (size > DIROBJ_XATTR_VALUE_MAX)
		return -E2BIG;
	if (flags & ~(XATTR_CREATE | XATTR_REPLACE))
		return -EINVAL;
	x.name = strdup(name);
	x.value = malloc(size ? size : 1);
	x.len = size;
	if (!x.name || !x.value) {
		r = -ENOMEM;
		goto out;
	}
	memcpy(x.value, value, size);
	pthread_mutex_lock(&t->lock);
	pthread_mutex_lock(&ino->lock);
	r = tree_xattr_put(ino, &x, flags);
	if (r == 0)
		tree_now(&ino->ctime);
	pthread_mutex_unlock(&ino->lock);
	if (r == 0)
		tree_attr_changed_locked(t, ino);
	pthread_mutex_unlock(&t->lock);
out:
	if (r) {
		free(x.name);
		free(x.value);
	}
	return r;
}

int tree_removexattr(struct tree *t, struct inode *ino, const char *name)
{
	ssize_t i;
	int r = tree_xattr_name_check(name);

	if (r)
		return r == -EINVAL ? -ENODATA : r;
	pthread_mutex_lock(&t->lock);
	pthread_mutex_lock(&ino->lock);
	i = tree_xattr_find(ino, name);
	if (i < 0) {
		r = -ENODATA;
	} else {
		free(ino->xattrs[i].name);
		free(ino->xattrs[i].value);
		ino->xattrs[i] = ino->xattrs[--ino->nxattrs];
		tree_now(&ino->ctime);
	}
	pthread_mutex_unlock(&ino->lock);
	if (r == 0)
		tree_attr_changed_locked(t, ino);
	pthread_mutex_unlock(&t->lock);
	return r;
}
